/**
 * The OSC server (src/osc/server.ts, docs/OSC.md) with peers we did not write — liblo-tools'
 * `oscsend` / `oscdump` and dssi-utils' `dssi_osc_send` — against the `sim` board served on a
 * virtual clock while a client plays full-scale DC through `sim.speaker`, so that the output at
 * the simulated analog side (src/hal/sim/analog.ts), divided by 32767/32768, is the gain in force
 * at each sample (as tests/unit/control-ramps.test.ts reads it).
 *
 * The dispatcher, programs and configure are small fakes here (the contract's interfaces): the
 * dispatcher sets through the real control model and records every outcome; programs and
 * configure record their calls. CLOCK_REALTIME is locked to the virtual clock
 * (realtime = EPOCH + board time), as on a machine where both clocks run together, so that the
 * board time a time tag maps to is known exactly: tag − EPOCH.
 *
 * Expected values are literals: −20 dB = 0.1, −6 dB = 0.501187; NTP's 1970 = 2 208 988 800 s
 * (RFC 5905); the sim board's speaker ports 0 gain, 1 mute, 2 trim (docs/OSC.md); 48 kHz; the
 * log limiter's 10 lines per sender, kind and minute (src/stream/log-limit.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toBuffer } from 'osc-min';
import type { ChangeTime, ControlValue } from '../../src/control/types.ts';
import {
  DEFAULT_OSC_ADDRESS, DEFAULT_OSC_PORT, type DispatcherLike, MAX_PACKET_BYTES, type OscServer, type OscServerOptions, type SetOutcome,
  isLoopbackAddress, oscOptionsFor, parseOscBind, parseUpdateUrl, startOscServer,
} from '../../src/osc/server.ts';
import {
  IMMEDIATE, type NtpTimeTag, SystemRealtime, boardNsToTimeTag, realtimeNsToTimeTag, timeTagToBoardNs, timeTagToRealtimeNs,
} from '../../src/osc/timetag.ts';
import { oscOption } from '../../src/cli/commands/serve.ts';
import { UsageError } from '../../src/cli/command.ts';
import { type DcRig, NS, PERIOD, RATE, playDc } from '../fixtures/dc-service.ts';

const run = promisify(execFile);
const RAMP_FRAMES = 2400; // the default ramp, 50 ms at 48 kHz
/** CLOCK_REALTIME at board time 0 in the rig (2026-11-30T00:00:00Z, unix 1795996800 s). */
const EPOCH_NS = 1_795_996_800_000_000_000n;

// ---- a time tag built here, not by the code under test: NTP seconds since 1900, 2^-32 s.
function tagOf(realtimeNs: bigint): NtpTimeTag {
  const s = realtimeNs / 1_000_000_000n;
  const rem = realtimeNs % 1_000_000_000n;
  return [Number(s + 2_208_988_800n), Number((rem * 4_294_967_296n + 500_000_000n) / 1_000_000_000n)];
}

function datagram(packet: Parameters<typeof toBuffer>[0]): Buffer {
  const dv = toBuffer(packet);
  return Buffer.from(dv.buffer, dv.byteOffset, dv.byteLength);
}

async function waitFor<T>(what: string, fn: () => T | undefined, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleepReal = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Rig = DcRig;

/** The contract's pieces as fakes: the dispatcher sets through the model and records each outcome. */
function fakes(r: Rig) {
  const outcomes: { id: string; value: unknown; at?: ChangeTime; source?: string; outcome: SetOutcome }[] = [];
  const dispatcher: DispatcherLike = {
    async set(id, value, opts = {}) {
      let outcome: SetOutcome;
      try {
        outcome = { status: 'applied', control: await r.service.controls.set(id, value, opts.at ? { at: opts.at } : {}) };
      } catch (e) {
        outcome = { status: 'refused', error: (e as Error).message };
      }
      outcomes.push({ id, value, ...(opts.at ? { at: opts.at } : {}), ...(opts.source ? { source: opts.source } : {}), outcome });
      return outcome;
    },
  };
  const loads: [number, number][] = [];
  const programs = {
    cur: { bank: 0, program: 3 } as { bank: number; program: number } | undefined,
    current() { return this.cur; },
    async load(bank: number, program: number) {
      loads.push([bank, program]);
      if (bank !== 0 || program > 7) throw new Error(`program: no program ${bank} ${program}`);
      this.cur = { bank, program };
      return { name: `program ${program}` };
    },
  };
  const configured: [string, string, string][] = [];
  const keys = [{ owner: 'speaker', key: 'jack-policy', value: 'auto' }, { owner: 'sim-codec', key: 'clocking', value: 'master' }];
  const configure = {
    list: (owner?: string) => keys.filter((k) => owner === undefined || k.owner === owner),
    async set(owner: string, key: string, value: string) {
      configured.push([owner, key, value]);
      return { reply: `${owner} ${key}=${value}: applied` };
    },
  };
  return { dispatcher, outcomes, programs, loads, configure, configured };
}

type Fakes = ReturnType<typeof fakes>;

function serverOptions(r: Rig, f: Fakes, extra: Partial<Omit<OscServerOptions, 'bind'>> & { bind?: string } = {}): OscServerOptions {
  const { bind, ...rest } = extra;
  return {
    ...oscOptionsFor({ runtime: r.rt, service: r.service, dispatcher: f.dispatcher, programs: f.programs, configure: f.configure, osc: { bind: bind ?? '127.0.0.1:0' } }),
    realtime: { nowNs: () => EPOCH_NS + BigInt(Math.round(r.clock.nowNs())) },
    ...rest,
  };
}

async function value(r: Rig, id: string): Promise<ControlValue | null> {
  return (await r.service.controls.get(id)).value;
}

/** One outcome for `id` after `n` of them were recorded. */
function outcomeAfter(f: Fakes, n: number, id: string) {
  return waitFor(`an outcome for ${id}`, () => f.outcomes.slice(n).find((x) => x.id === id));
}

/** A UDP socket of the test's own (for bundles and bad packets). */
async function udp(): Promise<{ send(buf: Buffer, port: number, host?: string): Promise<void>; close(): void }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  return {
    send: (buf, port, host = '127.0.0.1') => new Promise((res, rej) => s.send(buf, port, host, (e) => (e ? rej(e) : res()))),
    close: () => s.close(),
  };
}

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  const p = s.address().port;
  await new Promise<void>((res) => s.close(() => res()));
  return p;
}

/** `oscdump -L PORT`: its lines (time tag, path, types, arguments). */
async function oscdump(): Promise<{ port: number; lines: string[]; messages(prefix: string): string[]; stop(): void }> {
  const port = await freePort();
  const child: ChildProcess = spawn('oscdump', ['-L', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const probe = await udp();
  try {
    // Ready once a probe comes back out of it.
    await waitFor('oscdump to listen', () => {
      void probe.send(datagram({ address: '/probe' }), port).catch(() => undefined);
      return lines.some((l) => l.includes(' /probe'));
    });
  } finally {
    probe.close();
  }
  return {
    port, lines,
    // "eeb7401b.2393ee5e /ui/speaker/control if 0 -20.000000" → "/ui/speaker/control if 0 -20.000000"
    messages: (prefix) => lines.map((l) => l.slice(l.indexOf(' ') + 1).trim()).filter((l) => l.startsWith(prefix)),
    stop: () => child.kill(),
  };
}

describe('OSC time tags (src/osc/timetag.ts): NTP → CLOCK_REALTIME → the board clock', () => {
  it('literal tags: 1 Jan 1970, half a second, 2026-11-30, the 2036 era wrap (RFC 4330), immediate', () => {
    assert.equal(timeTagToRealtimeNs([2208988800, 0]), 0n);
    assert.equal(timeTagToRealtimeNs([2208988800, 2147483648]), 500_000_000n);
    assert.equal(timeTagToRealtimeNs([2208988801, 1]), 1_000_000_000n, 'one unit of 2^-32 s (0.23 ns) rounds to 0 ns');
    assert.equal(timeTagToRealtimeNs([2208988800, 5]), 1n, '5 · 0.2328 ns = 1.16 ns → 1 ns');
    assert.equal(timeTagToRealtimeNs([1795996800 + 2208988800, 0]), 1_795_996_800_000_000_000n);
    // Seconds with the top bit clear are era 1: [0, 0] is 2036-02-07T06:28:16Z (unix 2085978496 s).
    assert.equal(timeTagToRealtimeNs([0, 0]), 2_085_978_496_000_000_000n);
    assert.equal(timeTagToRealtimeNs([4294967295, 0]), 2_085_978_495_000_000_000n);
    assert.throws(() => timeTagToRealtimeNs(IMMEDIATE), /immediately/);
    assert.throws(() => timeTagToRealtimeNs([2 ** 32, 0]), /0 \.\. 2\^32/);
    assert.deepEqual(realtimeNsToTimeTag(0n), [2208988800, 0]);
    assert.deepEqual(realtimeNsToTimeTag(500_000_000n), [2208988800, 2147483648]);
    assert.deepEqual(realtimeNsToTimeTag(2_085_978_496_000_000_000n), [0, 0]);
    assert.deepEqual(realtimeNsToTimeTag(999_999_999n), [2208988800, 4294967292], 'round(0.999999999 · 2^32) = 4294967292: no carry into the seconds');
  });

  it('board time = board_now + (realtime(tag) − realtime_now); immediate = now; the inverse', () => {
    const now = { realtimeNs: 9_900_000_000n, boardNs: 5e9 };
    assert.equal(timeTagToBoardNs([2208988810, 0], now), 5.1e9, '10 s since 1970 is 100 ms after a realtime of 9.9 s');
    assert.equal(timeTagToBoardNs([2208988809, 0], now), 4.1e9, 'in the past: earlier on the board clock too');
    assert.equal(timeTagToBoardNs(IMMEDIATE, now), 5e9);
    assert.deepEqual(boardNsToTimeTag(5.1e9, now), [2208988810, 0]);
  });

  it('SystemRealtime: calibrated on Date.now()\'s millisecond edge; follows a stepped wall clock; close to the real one', () => {
    let mono = 1_000_000_000n;
    let off = 1_795_996_800_123_456_789n - 1_000_000_000n; // CLOCK_REALTIME − CLOCK_MONOTONIC
    const src = { monoNs: () => (mono += 100n), dateNowMs: () => Number((mono + off) / 1_000_000n) };
    const rt = new SystemRealtime(src);
    const a = rt.nowNs();
    assert.ok(a - (mono + off) <= 200n && (mono + off) - a <= 200n, `within 200 ns of the fake realtime: off by ${a - (mono + off)} ns`);
    mono += 2_000_000_000n;
    off += 5_000_000_000n; // the wall clock stepped 5 s ahead
    const b = rt.nowNs();
    assert.ok(b - (mono + off) <= 200n && (mono + off) - b <= 200n, `followed the step: off by ${b - (mono + off)} ns`);
    assert.equal(rt.calibrations, 2);
    // Against the system: Date.now() read between two estimates lies within the millisecond below
    // the true time, so e2 ≥ wall and e1 < wall + 1 ms (a preemption between the reads only widens this).
    const sys = new SystemRealtime();
    for (let i = 0; i < 1000; i++) {
      const e1 = sys.nowNs();
      const wall = BigInt(Date.now()) * 1_000_000n;
      const e2 = sys.nowNs();
      assert.ok(e2 - wall >= -100_000n, `an estimate ${wall - e2} ns below Date.now()`);
      assert.ok(e1 - wall < 1_100_000n, `an estimate ${e1 - wall - 1_000_000n} ns above Date.now()'s millisecond`);
    }
  });
});

describe('OSC addresses and URLs (src/osc/server.ts)', () => {
  it('--osc-bind: ADDR:PORT, [v6]:PORT, an address alone; errors name the flag and the range', () => {
    assert.deepEqual(parseOscBind('127.0.0.1:7770'), { address: '127.0.0.1', port: 7770 });
    assert.deepEqual(parseOscBind('[::1]:9000'), { address: '::1', port: 9000 });
    assert.deepEqual(parseOscBind('0.0.0.0'), { address: '0.0.0.0', port: 7770 });
    assert.deepEqual(parseOscBind('localhost:0'), { address: '127.0.0.1', port: 0 });
    assert.throws(() => parseOscBind('host.example:7770'), /--osc-bind .*IP address/);
    assert.throws(() => parseOscBind('127.0.0.1:70000'), /--osc-bind .*0 \.\. 65535/);
    assert.equal(DEFAULT_OSC_ADDRESS, '127.0.0.1');
    assert.equal(DEFAULT_OSC_PORT, 7770);
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['0.0.0.0', '192.0.2.2', '::', 'fd00::2']) assert.ok(!isLoopbackAddress(a), a);
  });

  it('serve\'s flags: on at 127.0.0.1:7770 by default, --osc-bind moves it, --no-osc turns it off, the token from a flag or a file', () => {
    assert.deepEqual(oscOption({}), { bind: '127.0.0.1:7770', ifFree: true });
    assert.deepEqual(oscOption({ 'osc-bind': '0.0.0.0:9000', 'osc-token': 'open-sesame' }), { bind: '0.0.0.0:9000', adminToken: 'open-sesame' });
    assert.deepEqual(oscOption({ 'osc-bind': '[::1]:9000' }), { bind: '[::1]:9000' });
    assert.equal(oscOption({ 'no-osc': true }), undefined);
    assert.throws(() => oscOption({ 'no-osc': true, 'osc-bind': '127.0.0.1:1' }), (e: Error) => e instanceof UsageError && /--no-osc/.test(e.message));
    assert.throws(() => oscOption({ 'osc-bind': 'nowhere:1' }), (e: Error) => e instanceof UsageError && /--osc-bind "nowhere:1"/.test(e.message));
    assert.throws(() => oscOption({ 'osc-token': 'short' }), (e: Error) => e instanceof UsageError && /--osc-token: .*at least 8/.test(e.message));
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-osc-token-'));
    try {
      writeFileSync(path.join(dir, 'token'), 'from-a-file-123\nsecond line ignored\n');
      assert.deepEqual(oscOption({ 'osc-token-file': path.join(dir, 'token') }), { bind: '127.0.0.1:7770', adminToken: 'from-a-file-123', ifFree: true });
      assert.throws(() => oscOption({ 'osc-token-file': path.join(dir, 'none') }), (e: Error) => e instanceof UsageError && /--osc-token-file .*none/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('update URLs: osc.udp://HOST:PORT/PATH (liblo\'s trailing slash dropped); others refused', () => {
    assert.deepEqual(parseUpdateUrl('osc.udp://127.0.0.1:9000/ui/x'), { url: 'osc.udp://127.0.0.1:9000/ui/x', host: '127.0.0.1', port: 9000, path: '/ui/x' });
    assert.deepEqual(parseUpdateUrl('osc.udp://myhost:9000/'), { url: 'osc.udp://myhost:9000/', host: 'myhost', port: 9000, path: '' });
    assert.equal(parseUpdateUrl('osc.udp://[::1]:9000/a').host, '::1');
    assert.throws(() => parseUpdateUrl('osc.tcp://127.0.0.1:9000/a'), /osc\.udp/);
    assert.throws(() => parseUpdateUrl('osc.udp://127.0.0.1:0/a'), /1 \.\. 65535/);
  });
});

describe('the OSC server on a served sim board, with oscsend, oscdump and dssi_osc_send (virtual clock, DC playing)', function () {
  this.timeout(60000);
  let r: Rig;
  let f: Fakes;
  let osc: OscServer;
  const logs: string[] = [];

  before(async () => {
    r = await playDc();
    f = fakes(r);
    osc = await startOscServer(serverOptions(r, f, { log: (l) => logs.push(l) }));
  });
  after(async () => {
    await osc?.close();
    await r?.close();
  });

  /** Gain 0 dB, trim 0 dB, unmuted, settled at the output. */
  async function reset() {
    await r.service.controls.set('sim.speaker.gain', 0);
    await r.service.controls.set('sim.speaker.trim', 0, { rampMs: 0 });
    await r.service.controls.set('sim.speaker.mute', false);
    await r.until(r.position() + 4 * RAMP_FRAMES);
  }

  it('the ports: each owner\'s controls in the model\'s listing order (sim.speaker: 0 gain, 1 mute, 2 trim, 3 chain)', () => {
    // 3: the stream's plugin chain (issue 29; empty here), after the stream's own controls.
    assert.deepEqual(osc.ports('speaker'), ['sim.speaker.gain', 'sim.speaker.mute', 'sim.speaker.trim', 'sim.speaker.chain']);
    assert.deepEqual(osc.ports('sim-codec'), ['sim.sim-codec.digital-playback-volume', 'sim.sim-codec.dac-playback-switch', 'sim.sim-codec.dac-filter']);
    assert.equal(osc.loopback, true);
  });

  it('`oscsend … /sbc-audio/sim/speaker/control sf gain -20`: the model says −20 dB and the analog output drops from 1 to 0.1', async () => {
    await reset();
    const before = r.position();
    await r.until(before + 10);
    assert.ok(Math.abs(r.gains(before, 1)[0]! - 1) < 1e-4, `the level before is 1 (${r.gains(before, 1)[0]})`);
    const n = f.outcomes.length;
    await run('oscsend', ['127.0.0.1', String(osc.port), '/sbc-audio/sim/speaker/control', 'sf', 'gain', '-20']);
    const o = await outcomeAfter(f, n, 'sim.speaker.gain');
    assert.equal(o.outcome.status, 'applied', JSON.stringify(o.outcome));
    assert.equal(await value(r, 'sim.speaker.gain'), -20);
    assert.equal(o.source, 'osc 127.0.0.1');
    // The change is heard once its ramp is over: the handoff frame + the ramp, plus margin.
    const applied = o.outcome.status === 'applied' ? o.outcome.control.applied : undefined;
    const from = (applied?.frame ?? r.position()) + RAMP_FRAMES + 4 * PERIOD;
    await r.until(from + 10);
    const g = r.gains(from, 10);
    for (const x of g) assert.ok(Math.abs(x - 0.1) < 1e-3, `the level after is 0.1 (−20 dB), got ${x}`);
  });

  it('`dssi_osc_send URL 2 -6` (its plain form: `<base> if`) and `-c URL 0 -12` reach /control; `-p` /program; `-C` /configure', async () => {
    await reset();
    const url = `osc.udp://127.0.0.1:${osc.port}/sbc-audio/sim/speaker`;
    let n = f.outcomes.length;
    await run('dssi_osc_send', [url, '2', '-6']);
    let o = await outcomeAfter(f, n, 'sim.speaker.trim');
    assert.equal(o.outcome.status, 'applied', JSON.stringify(o.outcome));
    assert.equal(await value(r, 'sim.speaker.trim'), -6, 'port 2 of sim.speaker is its trim');
    n = f.outcomes.length;
    await run('dssi_osc_send', ['-c', url, '0', '-12']);
    o = await outcomeAfter(f, n, 'sim.speaker.gain');
    assert.equal(await value(r, 'sim.speaker.gain'), -12, 'port 0 of sim.speaker is its gain');
    await run('dssi_osc_send', ['-p', url, '0', '7']);
    await waitFor('/program', () => f.loads.length > 0);
    assert.deepEqual(f.loads, [[0, 7]]);
    await run('dssi_osc_send', ['-C', url, 'jack-policy', 'manual']);
    await waitFor('/configure', () => f.configured.length > 0);
    assert.deepEqual(f.configured, [['speaker', 'jack-policy', 'manual']]);
    const s = osc.stats();
    assert.equal(s.methods.control, 3, 'oscsend once, dssi_osc_send twice');
    assert.equal(s.methods.program, 1);
    assert.equal(s.methods.configure, 1);
    assert.ok(logs.some((l) => /configured: speaker jack-policy="manual": speaker jack-policy=manual: applied/.test(l)), 'the configure reply is logged');
  });

  it('/update to an oscdump URL: sample rate, configure values, the program, every control; then each change, until /exiting', async () => {
    await reset();
    f.programs.cur = { bank: 0, program: 3 };
    const dump = await oscdump();
    try {
      await run('oscsend', ['127.0.0.1', String(osc.port), '/sbc-audio/sim/speaker/update', 's', `osc.udp://127.0.0.1:${dump.port}/ui/speaker`]);
      await waitFor('the full state', () => dump.messages('/ui/speaker/control').length >= 3);
      await sleepReal(50);
      assert.deepEqual(dump.messages('/ui/speaker/'), [
        '/ui/speaker/sample-rate i 48000',
        '/ui/speaker/configure ss "jack-policy" "auto"',
        '/ui/speaker/program ii 0 3',
        '/ui/speaker/control if 0 0.000000',
        '/ui/speaker/control if 1 0.000000',
        '/ui/speaker/control if 2 0.000000',
      ]);
      // A change made elsewhere (the control model directly) follows.
      await r.service.controls.set('sim.speaker.gain', -10);
      await waitFor('the change', () => dump.messages('/ui/speaker/control if 0 -10').length === 1);
      await run('dssi_osc_send', ['-e', `osc.udp://127.0.0.1:${osc.port}/sbc-audio/sim/speaker`]);
      await waitFor('/exiting', () => osc.stats().methods.exiting === 1);
      await r.service.controls.set('sim.speaker.gain', -11);
      await sleepReal(200);
      assert.equal(dump.messages('/ui/speaker/control if 0 -11').length, 0, 'nothing sent after /exiting');
      assert.equal(osc.stats().updateUrls, 0);
    } finally {
      dump.stop();
    }
  });

  it('a bundle time-tagged 100 ms ahead: the trim changes at the mapped frame (±0), the dac-filter is written within a period of its time', async () => {
    await reset();
    assert.equal(await value(r, 'sim.sim-codec.dac-filter'), 'sharp');
    const sock = await udp();
    try {
      const T = Math.ceil(r.clock.nowNs()) + 100e6; // the board time the tag says
      const frame = Math.round(((T - r.startNs) * RATE) / 1e9);
      const n = f.outcomes.length;
      await sock.send(datagram({
        timetag: tagOf(EPOCH_NS + BigInt(T)) as [number, number],
        elements: [
          { address: '/sbc-audio/sim/speaker/control', args: [{ type: 'string', value: 'trim' }, { type: 'float', value: -6 }] },
          { address: '/sbc-audio/sim/sim-codec/control', args: [{ type: 'string', value: 'dac-filter' }, { type: 'string', value: 'slow' }] },
        ],
      }), osc.port);
      const trim = await outcomeAfter(f, n, 'sim.speaker.trim');
      const filter = await outcomeAfter(f, n, 'sim.sim-codec.dac-filter');
      assert.equal(trim.outcome.status, 'applied', JSON.stringify(trim.outcome));
      assert.equal(filter.outcome.status, 'applied', JSON.stringify(filter.outcome));
      assert.deepEqual(trim.at, { ns: T }, 'the engine control is handed over at once, stamped with the mapped time');
      const ta = trim.outcome.status === 'applied' ? trim.outcome.control.applied : undefined;
      const fa = filter.outcome.status === 'applied' ? filter.outcome.control.applied : undefined;
      assert.equal(ta?.frame, frame, `the trim changed at frame ${ta?.frame}, the tag maps to ${frame}`);
      assert.equal(fa?.scheduledNs, T);
      assert.ok(Math.abs(fa!.timeNs - T) <= PERIOD * NS, `the filter was written ${(fa!.timeNs - T) / 1e3} µs off its time (bound: one period, ${(PERIOD * NS / 1e3).toFixed(0)} µs)`);
      assert.equal(await value(r, 'sim.sim-codec.dac-filter'), 'slow');
      // Heard: unity up to the frame before, the ramp down from it, −6 dB at its end.
      await r.until(frame + RAMP_FRAMES + 100);
      const g = r.gains(frame - 2, RAMP_FRAMES + 100);
      assert.ok(Math.abs(g[0]! - 1) < 1e-6 && Math.abs(g[1]! - 1) < 1e-6, `unity before frame ${frame}: ${g[0]}, ${g[1]}`);
      assert.ok(g[12]! < 1 - 1e-5, `falling after frame ${frame}: ${g[12]}`);
      assert.ok(Math.abs(g[RAMP_FRAMES + 90]! - 0.501187) < 1e-3, `−6 dB once the ramp is over: ${g[RAMP_FRAMES + 90]}`);
    } finally {
      sock.close();
      await r.service.controls.set('sim.sim-codec.dac-filter', 'sharp');
    }
  });
});

describe('the OSC server refuses bad input, rate-limits its log, and is loopback-only by default', function () {
  this.timeout(60000);
  let r: Rig;
  let f: Fakes;

  before(async () => {
    r = await playDc();
    f = fakes(r);
  });
  after(async () => {
    await r?.close();
  });

  it('wrong types, unknown paths and controls, refused values, oversized and undecodable packets: nothing changes, each counted and logged', async () => {
    const logs: string[] = [];
    const osc = await startOscServer(serverOptions(r, f, { log: (l) => logs.push(l) }));
    const sock = await udp();
    try {
      await r.service.controls.set('sim.speaker.gain', -30);
      const base = '/sbc-audio/sim/speaker';
      const msg = (address: string, args: unknown[]) => datagram({ address, args: args as never });
      const str = (value: string) => ({ type: 'string', value });
      const flt = (value: number) => ({ type: 'float', value });
      const int = (value: number) => ({ type: 'integer', value });
      const bad: [string, Buffer][] = [
        ['wrong-types', msg(`${base}/control`, [str('gain')])],
        ['wrong-types', msg(`${base}/control`, [flt(0), flt(-3)])],
        ['wrong-types', msg(`${base}/program`, [flt(0), flt(1)])],
        ['unknown-path', msg('/sbc-audio/sim/nosuch/control', [str('gain'), flt(-3)])],
        ['unknown-path', msg('/sbc-audio/other/speaker/control', [str('gain'), flt(-3)])],
        ['unknown-path', msg(`${base}/midi`, [int(0)])],
        ['unknown-control', msg(`${base}/control`, [str('nosuch'), flt(-3)])],
        ['unknown-control', msg(`${base}/control`, [int(4), flt(-3)])],
        ['refused', msg('/sbc-audio/sim/board/control', [str('jack-detect'), flt(1)])],
        ['refused', msg('/sbc-audio/sim/sim-codec/control', [str('dac-filter'), int(3)])],
        ['undecodable', Buffer.from('not OSC at all')],
        // A good message and a bad one in one packet: the good one is not done either.
        ['unknown-control', datagram({ timetag: IMMEDIATE as [number, number], elements: [
          { address: `${base}/control`, args: [{ type: 'string', value: 'gain' }, { type: 'float', value: -3 }] },
          { address: `${base}/control`, args: [{ type: 'string', value: 'nosuch' }, { type: 'float', value: -3 }] },
        ] })],
        // A well-formed control change of 9000 bytes (its value "-3" padded with spaces, which the
        // model's parser would take): refused before parsing.
        ['oversized', msg(`${base}/control`, [str('gain'), str(`${' '.repeat(9000)}-3`)])],
      ];
      for (const [, buf] of bad) await sock.send(buf, osc.port);
      await waitFor('every bad packet', () => osc.stats().packets === bad.length);
      const s = osc.stats();
      assert.equal(s.bad['wrong-types'], 3);
      assert.equal(s.bad['unknown-path'], 3);
      assert.equal(s.bad['unknown-control'], 3);
      assert.equal(s.bad.refused, 2);
      assert.equal(s.bad.undecodable, 1);
      assert.equal(s.bad.oversized, 1);
      assert.equal(s.packetsRefused, bad.length);
      assert.equal(s.dispatched, 0, 'nothing reached the dispatcher');
      assert.equal(await value(r, 'sim.speaker.gain'), -30, 'the gain did not change');
      assert.equal(await value(r, 'sim.sim-codec.dac-filter'), 'sharp');
      assert.ok(logs.some((l) => /osc 127\.0\.0\.1: oversized: a datagram of \d+ bytes, more than 8192/.test(l)), logs.join('\n'));
      assert.ok(logs.some((l) => /unknown-control: .*speaker has no control "nosuch" \(controls: 0 gain, 1 mute, 2 trim, 3 chain\)/.test(l)), logs.join('\n'));
      assert.ok(logs.some((l) => /refused: .*jack-detect cannot be set/.test(l)), logs.join('\n'));
      // A value the model refuses (out of range) is counted once the dispatcher answers.
      await sock.send(msg(`${base}/control`, [str('gain'), flt(12)]), osc.port);
      await waitFor('the refusal', () => osc.stats().outcomes.refused === 1);
      assert.equal(osc.stats().bad.refused, 3);
      assert.ok(logs.some((l) => /refused: .*control gain: .*12 dB is outside its range -127 \.\. 0 dB/.test(l)), logs.join('\n'));
      assert.equal(await value(r, 'sim.speaker.gain'), -30);
      // Negative controls: the same change of 1000 bytes (under the bound) is applied; so is the good message alone.
      assert.ok(MAX_PACKET_BYTES >= 1000);
      await sock.send(msg(`${base}/control`, [str('gain'), str(`${' '.repeat(960)}-3`)]), osc.port);
      await waitFor('the padded change', () => osc.stats().outcomes.applied === 1);
      assert.equal(await value(r, 'sim.speaker.gain'), -3);
    } finally {
      sock.close();
      await osc.close();
    }
  });

  it('a burst of 1000 bad packets logs at most the limiter\'s 10 lines, then one line summing up the rest', async () => {
    const logs: string[] = [];
    const osc = await startOscServer(serverOptions(r, f, { log: (l) => logs.push(l) }));
    const sock = await udp();
    try {
      const buf = datagram({ address: '/sbc-audio/sim/nosuch/control', args: [{ type: 'string', value: 'gain' }, { type: 'float', value: -3 }] });
      for (let i = 0; i < 1000; i += 50) {
        // In steps, so that the socket's receive buffer never overflows (a drop would be a lost count).
        for (let k = 0; k < 50; k++) await sock.send(buf, osc.port);
        await waitFor('the step', () => osc.stats().packets >= i + 50);
      }
      assert.equal(osc.stats().bad['unknown-path'], 1000);
      assert.equal(logs.filter((l) => l.includes('unknown-path')).length, 10);
      assert.equal(osc.stats().logLines, 10);
    } finally {
      sock.close();
      await osc.close();
    }
    assert.equal(logs.filter((l) => /osc 127\.0\.0\.1: suppressed 990 more 'unknown-path' lines \(1000 in all/.test(l)).length, 1, logs.slice(-3).join('\n'));
    assert.equal(logs.length, 11);
  });

  it('bound beyond loopback: /configure, quit and an /update to a third address need the admin token; on loopback they do not', async () => {
    const quits: string[] = [];
    const wide = await startOscServer(serverOptions(r, f, { bind: '0.0.0.0:0', adminToken: 'open-sesame', onQuit: () => quits.push('wide') }));
    const narrow = await startOscServer(serverOptions(r, f, { onQuit: () => quits.push('narrow') }));
    const sock = await udp();
    try {
      assert.equal(wide.loopback, false);
      const configure = (...extra: string[]) => datagram({ address: '/sbc-audio/sim/speaker/configure', args: ['jack-policy', 'manual', ...extra].map((value) => ({ type: 'string', value })) as never });
      const quit = (...extra: string[]) => datagram({ address: '/sbc-audio/sim/quit', args: extra.map((value) => ({ type: 'string', value })) as never });
      const update = (...extra: string[]) => datagram({ address: '/sbc-audio/sim/speaker/update', args: ['osc.udp://127.0.0.2:9/x', ...extra].map((value) => ({ type: 'string', value })) as never });
      f.configured.length = 0;
      for (const b of [configure(), configure('wrong'), quit(), quit('wrong'), update()]) await sock.send(b, wide.port);
      await waitFor('five packets', () => wide.stats().packets === 5 && wide.stats().bad['not-allowed'] === 5);
      assert.deepEqual(f.configured, [], 'no configure without the token');
      assert.deepEqual(quits, []);
      assert.equal(wide.stats().updateUrls, 0);
      for (const b of [configure('open-sesame'), quit('open-sesame'), update('open-sesame')]) await sock.send(b, wide.port);
      await waitFor('with the token', () => f.configured.length === 1 && quits.length === 1 && wide.stats().updateUrls === 1);
      assert.deepEqual(f.configured, [['speaker', 'jack-policy', 'manual']]);
      assert.deepEqual(quits, ['wide']);
      for (const b of [configure(), quit()]) await sock.send(b, narrow.port);
      await waitFor('on loopback', () => f.configured.length === 2 && quits.length === 2);
      assert.deepEqual(quits, ['wide', 'narrow']);
      assert.equal(narrow.stats().bad['not-allowed'], 0);
    } finally {
      sock.close();
      await wide.close();
      await narrow.close();
    }
  });

  it('the default bind address is loopback: not reachable on the machine\'s other address (and a wildcard bind is, the negative control)', async function () {
    const other = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!other) this.skip(); // no non-loopback IPv4 address on this machine: nothing to reach it by
    const def = parseOscBind(`${DEFAULT_OSC_ADDRESS}:0`);
    const local = await startOscServer(serverOptions(r, f, { bind: `${def.address}:${def.port}` }));
    const wide = await startOscServer(serverOptions(r, f, { bind: '0.0.0.0:0' }));
    const sock = dgram.createSocket('udp4');
    try {
      const buf = datagram({ address: '/sbc-audio/sim/speaker/show' });
      const send = (port: number, host: string) => new Promise<void>((res) => sock.send(buf, port, host, () => res()));
      await send(local.port, other!);
      await send(wide.port, other!);
      await waitFor('the wildcard server to hear it', () => wide.stats().packets === 1);
      await sleepReal(200);
      assert.equal(local.stats().packets, 0, `the loopback server heard a datagram sent to ${other}`);
      await send(local.port, '127.0.0.1');
      await waitFor('the loopback server to hear it on 127.0.0.1', () => local.stats().packets === 1);
    } finally {
      sock.close();
      await local.close();
      await wide.close();
    }
  });
});
