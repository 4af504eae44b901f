/**
 * Rooms in sync (issue 28, docs/multi-room.md), on two QEMU guests joined by a point-to-point
 * `-netdev dgram` link (tests/hil/run-rooms.sh). This file runs in room a; each room runs
 * tests/hil/rooms/room-agent.ts, which does what a user does on an appliance.
 *
 *   the host (10.0.2.2 to each guest, QEMU's user network): snapserver, on its 127.0.0.1
 *   room a (10.77.0.1): chronyd (the group's reference), snapclient ─▶ "sbc-audio" ─▶ serve ─▶ DAC (SimDac)
 *   room b (10.77.0.2): chronyd (following room a), snapclient ─▶ "sbc-audio" ─▶ serve ─▶ DAC (SimDac)
 *
 * Each room states a different delay after its DAC (its board file's analogDelays: 5 ms and 25 ms,
 * an amplifier with DSP, say). A train of distinct pulses goes through snapserver; each room
 * captures what its DAC put out with CLOCK_REALTIME timestamps (disciplined by chrony); a pulse
 * reaches the ear at the DAC's time plus the stated delay (tests/hil/lib/room-sync.ts).
 *   - latency reporting off: snapcast aligns what the snapclients write, so the ears are apart by
 *     the difference of the stated delays: −20 ms (±2);
 *   - on (`serve --snapcast`): each serve tells snapserver its output latency (Client.SetLatency),
 *     snapclient plays that much earlier, and the ears agree to ≤ 2 ms.
 * Under TCG the measurement's own limit is the guests' software clocks: chrony's offset estimate and
 * snd-aloop's 4 ms jiffy steps (averaged out by the lower envelope of many reads); both printed.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { parseChronyTracking } from '../../../src/system/clock-sync.ts';
import { offsetOf } from '../lib/room-sync.ts';

const ROOMS = { a: { ip: '10.77.0.1', id: 'room-a', afterDacMs: 5 }, b: { ip: '10.77.0.2', id: 'room-b', afterDacMs: 25 } } as const;
type RoomKey = keyof typeof ROOMS;
const AGENT_PORT = 7070;
// snapserver runs on the rig's host (tests/hil/run-rooms.sh), which the guests reach as 10.0.2.2.
const SNAP_SERVER = process.env.SBC_HIL_SNAP_HOST ?? '10.0.2.2';
const SNAP_CONTROL_PORT = Number(process.env.SBC_HIL_SNAP_CONTROL_PORT ?? 1705);
/**
 * The settle: audio (silence) flows this long before the pulses, so that snapclient has opened its PCM,
 * serve's bridge has its session and the latency its figure, and snapclient has converged. The issue
 * allows up to 60 s. At least SETTLE_AFTER_LATENCY_S of it come after snapserver holds the rooms'
 * latencies (snapclient resyncs when its latency changes).
 */
const SETTLE_S = 45;
const SETTLE_AFTER_LATENCY_S = 25;

function call<T = Record<string, unknown>>(r: RoomKey, route: string, body: object = {}, timeoutMs = 240000): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ host: ROOMS[r].ip, port: AGENT_PORT, path: route, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }, timeout: timeoutMs }, (res) => {
      let out = '';
      res.on('data', (d: Buffer) => (out += d.toString()));
      res.on('end', () => {
        try {
          const v = JSON.parse(out) as T & { error?: string };
          if (res.statusCode !== 200) reject(new Error(`room ${r} ${route}: ${v.error ?? out}`));
          else resolve(v);
        } catch (e) {
          reject(new Error(`room ${r} ${route}: ${(e as Error).message}: ${out.slice(0, 500)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`room ${r} ${route}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** One JSON-RPC call to snapserver's control port (a line of JSON each way). */
function snapRpc(method: string, params: object = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(SNAP_CONTROL_PORT, SNAP_SERVER);
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`snapserver ${method}: no answer`)); }, 20000);
    s.on('connect', () => s.write(`${JSON.stringify({ id: 1, jsonrpc: '2.0', method, params })}\r\n`));
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i; (i = buf.indexOf('\n')) >= 0;) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (!line) continue;
        const m = JSON.parse(line) as Record<string, unknown>;
        if (m.id === 1) { clearTimeout(t); s.end(); if (m.error) reject(new Error(`snapserver ${method}: ${JSON.stringify(m.error)}`)); else resolve(m.result as Record<string, unknown>); }
      }
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** The latency snapserver holds for each client (ms), by client id. */
async function snapLatencies(): Promise<Record<string, number>> {
  const st = await snapRpc('Server.GetStatus');
  const out: Record<string, number> = {};
  const server = st.server as { groups: { clients: { id: string; config: { latency: number } }[] }[] };
  for (const g of server.groups) for (const c of g.clients) out[c.id] = c.config.latency;
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, guardMs: number): Promise<T> {
  const end = Date.now() + guardMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}


describe('rooms in sync through Snapcast: two appliances (QEMU guests) aligned at their outputs', function () {
  this.timeout(900000);
  let seed = 0x51;

  before(async function () {
    if (!process.env.SBC_HIL_ROOMS) this.skip(); // only in the two-guest rig (tests/hil/run-rooms.sh)
    for (const r of ['a', 'b'] as const) await until(`room ${r}'s agent`, () => call(r, '/ping', {}, 5000), 180000);
    // The group's time server is the rig's host (a chronyd -x there: tests/hil/run-rooms.sh).
    const ntp = { server: process.env.SBC_HIL_NTP_HOST ?? '10.0.2.2', port: Number(process.env.SBC_HIL_NTP_PORT ?? 123) };
    await Promise.all((['a', 'b'] as const).map((r) => call(r, '/chrony', ntp)));
    for (const r of ['a', 'b'] as const) {
      let last = '';
      const t = await until(`room ${r}'s clock to follow the time server (chronyc tracking: leap status Normal, the server its source, within 1 ms)`, async () => {
        last = (await call<{ out: string }>(r, '/tracking')).out;
        const tr = parseChronyTracking(last);
        // Locked, and the step or slew after the first measurements done (the clock within 1 ms of the server's).
        return tr.leap === 'Normal' && tr.referenceName === ntp.server && Math.abs(tr.systemTimeS) < 1e-3 ? tr : undefined;
      }, 180000).catch((e: Error) => { throw new Error(`${e.message}; chronyc -n -c tracking said: ${last.trim()}`); });
      console.log(`      room ${r}'s clock follows the time server (chronyc): ${(t.systemTimeS * 1e6).toFixed(0)} µs still to slew, last offset ${(t.lastOffsetS * 1e6).toFixed(0)} µs, RMS ${(t.rmsOffsetS * 1e6).toFixed(0)} µs`);
    }
  });

  after(async () => {
    if (!process.env.SBC_HIL_ROOMS) return;
    await call('b', '/poweroff', {}, 5000).catch(() => undefined);
  });

  /** One measurement: both rooms serve (reporting or not), snapclients connect, settle, the pulses, the offset. */
  /** The rooms in parallel, as appliances are (and serve takes a minute to start on one vCPU under TCG). */
  const both = (f: (r: RoomKey) => Promise<unknown>) => Promise.all((['a', 'b'] as const).map(f));

  /** Both rooms serve (reporting or not), snapclients connect, audio (silence) flows; resolves with what snapserver holds once it holds it. */
  async function startRooms(reporting: boolean): Promise<{ playing: number; lat: { a: number; b: number } }> {
    await both((r) => call(r, '/serve', { analogDelayMs: ROOMS[r].afterDacMs, ...(reporting ? { snapcast: { server: `${SNAP_SERVER}:${SNAP_CONTROL_PORT}`, client: ROOMS[r].id } } : {}) }));
    await both((r) => call(r, '/snapclient', { hostId: ROOMS[r].id }));
    // Reporting off: no latency for either client, as with a serve that never reported (snapserver keeps
    // what an earlier test's serve set: put back to 0 as a user would in Snapweb).
    if (!reporting) for (const r of ['a', 'b'] as const) await snapRpc('Client.SetLatency', { id: ROOMS[r].id, latency: 0 });
    await call('a', '/feed/start');
    const playing = Date.now();
    // serve reports once the first player's session has told it the stream's FIFO (within seconds of the audio).
    const lat = await until(`snapserver to hold ${reporting ? 'the latencies the rooms reported' : 'no latency for either room'}`, async () => {
      const l = await snapLatencies();
      const a = l[ROOMS.a.id], b = l[ROOMS.b.id];
      if (a === undefined || b === undefined) return undefined;
      return (reporting ? a > 0 && b > 0 : a === 0 && b === 0) ? { a, b } : undefined;
    }, 60000);
    console.log(`      snapserver holds latencies: room a ${lat.a} ms, room b ${lat.b} ms (${((Date.now() - playing) / 1000).toFixed(1)} s after the audio began)`);
    if (reporting) {
      // The reports differ by the difference of the stated delays (each reports its whole output latency).
      assert.equal(lat.b - lat.a, ROOMS.b.afterDacMs - ROOMS.a.afterDacMs, 'the rooms\' reported latencies differ by their stated delays');
    }
    return { playing, lat };
  }

  async function measure(reporting: boolean): Promise<{ medianMs: number; pulses: number; missed: number; spreadMs: number }> {
    const train = { rate: 48000, count: 40, spacingFrames: 12000, pulseFrames: 960, leadFrames: 48000, tailFrames: 2 * 48000, seed: seed++ };
    await both((r) => call(r, '/capture/start'));
    const { playing } = await startRooms(reporting);
    const latencyKnown = Date.now();
    await sleep(Math.max(playing + SETTLE_S * 1000, latencyKnown + SETTLE_AFTER_LATENCY_S * 1000) - Date.now());
    console.log(`      the pulses go in ${((Date.now() - playing) / 1000).toFixed(1)} s after the audio began`);
    await call('a', '/feed/train', { train });
    // The train, what the feed's socket held before it (≤ 2 s), snapserver's buffer (1 s), then a margin.
    await sleep(((train.leadFrames + train.count * train.spacingFrames + train.tailFrames) / 48000) * 1000 + 6000);
    const res = {} as Record<RoomKey, { earTimesNs: (number | null)[]; frames: number; stamps: number; xruns: number; peak: number }>;
    for (const r of ['a', 'b'] as const) res[r] = await call(r, '/capture/stop', { train, afterDacNs: ROOMS[r].afterDacMs * 1e6 });
    for (const r of ['a', 'b'] as const) {
      const x = res[r];
      console.log(`      room ${r}: captured ${(x.frames / 48000).toFixed(1)} s, ${x.stamps} status reads, ${x.xruns} overruns, peak ${x.peak}, ${x.earTimesNs.filter((t) => t !== null).length}/${train.count} pulses found`);
      assert.equal(x.xruns, 0, `room ${r}'s capture overran (its frame count lost its tie to time)`);
    }
    const out = offsetOf(res.a.earTimesNs, res.b.earTimesNs);
    const paired = out.perPulseMs.filter((x): x is number => x !== undefined);
    console.log(`      reporting ${reporting ? 'on' : 'off'}: room a − room b at the ear: median ${out.medianMs.toFixed(2)} ms over ${out.pulses} pulses (${out.missed} missed), spread ${out.spreadMs.toFixed(2)} ms; per pulse ${paired.map((x) => x.toFixed(1)).join(' ')}`);
    assert.ok(out.pulses >= train.count / 2, `at least half the pulses found in both rooms (${out.pulses} of ${train.count})`);
    return out;
  }

  it('each room reports its output latency (serve --snapcast): snapserver holds both, apart by the difference of the stated delays (20 ms), and snapclient takes it', async () => {
    const { lat } = await startRooms(true);
    // Each room's figure: what serve logged it set (bridge, FIFO, external) is the number snapserver holds and snapclient applies.
    for (const r of ['a', 'b'] as const) {
      const logs = await call<Record<string, string>>(r, '/logs');
      assert.match(logs.serve ?? '', new RegExp(`snapcast: latency of client ${ROOMS[r].id} set to ${lat[r]} ms \\(bridge`), `room ${r}'s serve said what it set`);
      await until(`room ${r}'s snapclient to take ${lat[r]} ms`, async () => new RegExp(`ServerSettings - buffer: \\d+, latency: ${lat[r]},`).test((await call<Record<string, string>>(r, '/logs')).snapclient ?? ''), 60000);
    }
  });

  it('doctor reports the clock sync state in room b; with chronyd stopped it warns', async () => {
    const check = async () => {
      const d = await call<{ status: number; out: string; err: string }>('b', '/doctor');
      const j = JSON.parse(d.out) as { checks: { id: string; status: string; detail: string }[] };
      const c = j.checks.find((x) => x.id === 'clock-sync');
      assert.ok(c, `doctor --json has a clock-sync check: ${d.out}${d.err}`);
      return c;
    };
    // Synchronised within 1 ms (doctor's bound) once chrony has settled: polled, with a guard.
    const synced = await until('doctor to pass clock-sync in room b', async () => { const c = await check(); return c.status === 'pass' ? c : undefined; }, 120000);
    console.log(`      doctor (chronyd running): ${synced.status}: ${synced.detail}`);
    await call('b', '/chrony/stop');
    const stopped = await check();
    console.log(`      doctor (chronyd stopped): ${stopped.status}: ${stopped.detail}`);
    assert.equal(stopped.status, 'warn');
    await call('b', '/chrony', { server: process.env.SBC_HIL_NTP_HOST ?? '10.0.2.2', port: Number(process.env.SBC_HIL_NTP_PORT ?? 123) });
  });

  // The offset at the ears. Issue 28 is blocked on these two: under TCG the measured offset missed the 2 ms
  // bound (the figures, and why: docs/multi-room.md, "What was measured"). They run with
  // SBC_HIL_ROOMS_MEASURE=1 (`make hil-rooms-measure`), not in `make test`: a known failure there would hide new ones.
  const measuring = () => process.env.SBC_HIL_ROOMS_MEASURE === '1';

  it('latency reporting off (the negative control): the rooms are apart by the difference of their stated delays, −20 ms ± 2', async function () {
    if (!measuring()) this.skip(); // reason: above (issue 28 blocked on this bound under TCG)
    const m = await measure(false);
    const expected = ROOMS.a.afterDacMs - ROOMS.b.afterDacMs;
    assert.ok(Math.abs(m.medianMs - expected) <= 2, `median offset ${m.medianMs.toFixed(2)} ms, expected ${expected} ± 2 ms`);
  });

  it('latency reporting on (serve --snapcast): each room reports its output latency and the rooms agree to ≤ 2 ms', async function () {
    if (!measuring()) this.skip(); // reason: above (issue 28 blocked on this bound under TCG)
    const m = await measure(true);
    assert.ok(Math.abs(m.medianMs) <= 2, `median offset ${m.medianMs.toFixed(2)} ms, expected |offset| ≤ 2 ms`);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const r of ['a', 'b'] as const) {
      const logs = await call<Record<string, string>>(r, '/logs', {}, 10000).catch((e: Error) => ({ error: e.message }));
      for (const [k, v] of Object.entries(logs)) console.log(`      room ${r} ${k} said:\n${String(v).split('\n').slice(-40).map((l) => `        ${l}`).join('\n')}`);
    }
  });
});
