/**
 * The simulation control socket (docs/PROTOCOL.md "Simulation control", src/stream/sim-control.ts)
 * and `sbc-audio sim`, against sim boards served in-process on temporary runtime directories (real
 * time: CLOCK_MONOTONIC). "Another process" is `node bin/sbc-audio.js sim …` as a child; the other
 * cases run the CLI in-process through main(), or call SimControl directly (the same code the
 * socket dispatches to). Every effect has its negative control: without the fault SET_GAIN
 * succeeds, a hardwired stream has no jack, no running stream cannot stall, and so on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { I2cError } from '../../src/hal/i2c.ts';
import { createSimHal } from '../../src/hal/sim/index.ts';
import { type PlugInfo, type RbErrorInfo, StreamClient } from '../../src/stream/client.ts';
import { statusForError } from '../../src/stream/device.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { SimControl, simControlPath } from '../../src/stream/sim-control.ts';
import { RB_ERROR_KIND, STATUS } from '../../src/stream/wire.ts';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/sbc-audio.js');

/** `sbc-audio …` as another process. */
function runChild(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `sbc-audio …` in this process. */
async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Resolves with the first event `name` whose value passes `test`, or rejects after `ms`. */
function nextEvent<T>(emitter: NodeJS.EventEmitter, name: string, test: (v: T) => boolean, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.off(name, on); reject(new Error(`no '${name}' event within ${ms} ms`)); }, ms);
    const on = (v: T) => {
      if (!test(v)) return;
      clearTimeout(timer);
      emitter.off(name, on);
      resolve(v);
    };
    emitter.on(name, on);
  });
}

/** A raw line client of a control socket: send lines, read answers one by one. */
async function lineClient(p: string) {
  const s = net.connect(p);
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  s.setEncoding('utf8');
  let buf = '';
  const lines: string[] = [];
  let wake = () => {};
  s.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake();
  });
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  return {
    socket: s,
    closed,
    send: (line: string) => s.write(`${line}\n`),
    async next(ms = 5000): Promise<Record<string, unknown>> {
      const deadline = Date.now() + ms;
      while (lines.length === 0) {
        if (Date.now() > deadline) throw new Error('no answer line');
        await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      }
      return JSON.parse(lines.shift()!) as Record<string, unknown>;
    },
    close: () => s.destroy(),
  };
}

describe('sbc-audio sim: the simulation control socket', function () {
  this.timeout(60000);
  let dir: string;
  let rt: BoardRuntime;
  let svc: StreamService;
  let sockPath: string;
  const log: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-simctl-'));
    rt = await openBoard(loadBoard('sim'));
    svc = await startStreamService(rt, { runtimeDir: dir, log: (l) => log.push(l), ringBuffer: { lingerMs: 50 } });
    sockPath = path.join(dir, 'sim', 'sim.sock');
  });
  after(async () => {
    await svc?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => rt.sim!.simBus(1).clearFaults());

  const endpoint = (name: string) => svc.endpoints.find((e) => e.name === name)!.path;

  describe('where the socket is, and who gets one', () => {
    it('a sim board publishes <runtimeDir>/sim/<board>.sock: a socket, mode 0660, no hidden leftovers; closing removes it', async () => {
      assert.equal(svc.simControlPath, sockPath);
      assert.equal(simControlPath(dir, rt.board), sockPath);
      const st = lstatSync(sockPath);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o660);
      assert.deepEqual(readdirSync(path.join(dir, 'sim')), ['sim.sock'], 'bound under a hidden name, then renamed: nothing else is left');
      // A second service of the same board on the same directory is refused (the socket answers).
      const rt2 = await openBoard(loadBoard('sim'));
      try {
        await assert.rejects(startStreamService(rt2, { runtimeDir: dir, initCodec: false, ringBuffer: false }), /already served/);
      } finally {
        await rt2.close();
      }
      assert.ok(lstatSync(sockPath).isSocket(), 'the first service still has its socket');
    });

    it('a board that is not simulated publishes none (the decision, and the service with an injected sim HAL)', async () => {
      assert.equal(simControlPath(dir, loadBoard('hifiberry-dacplus')), undefined, 'hal "linux"');
      assert.equal(simControlPath(dir, loadBoard('hifiberry-dacplus-sim')), path.join(dir, 'sim', 'hifiberry-dacplus-sim.sock'), 'its sim twin does');
      // The real board's file, opened on a simulated HAL (no hardware here): still not a sim board.
      const other = mkdtempSync(path.join(tmpdir(), 'sbc-simctl-real-'));
      const real = await openBoard(loadBoard('hifiberry-dacplus'), { hal: createSimHal() });
      try {
        const s = await startStreamService(real, { runtimeDir: other, ringBuffer: false });
        assert.ok(s.endpoints.length > 0, 'its streams are served');
        assert.equal(s.simControl, undefined);
        assert.equal(existsSync(path.join(other, 'sim')), false, 'no sim/ folder, no socket');
        await s.close();
        assert.throws(() => new SimControl(real, s), /hifiberry-dacplus is not simulated/);
      } finally {
        await real.close();
        rmSync(other, { recursive: true, force: true });
      }
    });

    it('the CLI against a runtime directory without the socket says so and exits 3, not reachable (as a process)', async () => {
      const empty = mkdtempSync(path.join(tmpdir(), 'sbc-simctl-none-'));
      try {
        const a = await runChild(['sim', 'state', '--runtime-dir', empty]);
        assert.equal(a.code, 3);
        assert.match(a.stderr, new RegExp(`no simulated board is served under ${empty}`));
        const b = await runCli(['sim', 'jack', 'headphone', 'in', '--board', 'hifiberry-dacplus', '--runtime-dir', empty]);
        assert.equal(b.code, 3);
        assert.match(b.err, /board hifiberry-dacplus is not simulated: it has no simulation control socket/);
        // A stale socket file (left by a killed service: nothing accepts on it) is no served board either.
        mkdirSync(path.join(empty, 'sim'));
        const live = path.join(empty, 'sim', '.live.sock');
        const stale = net.createServer().listen(live);
        await new Promise((r) => stale.once('listening', r));
        renameSync(live, path.join(empty, 'sim', 'gone.sock')); // close() unlinks only the name it bound
        await new Promise((r) => stale.close(r));
        assert.ok(lstatSync(path.join(empty, 'sim', 'gone.sock')).isSocket());
        const c = await runCli(['sim', 'state', '--runtime-dir', empty]);
        assert.equal(c.code, 3);
        assert.match(c.err, /board gone: nothing answers on its simulation control socket/);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it('without --board, the only sim board is used; several are a usage error naming them (exit 2)', async () => {
      const ok = await runCli(['sim', 'state', '--json', '--runtime-dir', dir]);
      assert.equal(ok.code, 0, ok.err);
      assert.equal((JSON.parse(ok.out) as { board: string }).board, 'sim');
      const extra = net.createServer().listen(path.join(dir, 'sim', 'zz-other.sock'));
      await new Promise((r) => extra.once('listening', r));
      try {
        const r = await runCli(['sim', 'state', '--runtime-dir', dir]);
        assert.equal(r.code, 2);
        assert.match(r.err, /several simulated boards are served under .* \(sim, zz-other\): choose one with --board/);
        assert.equal((await runCli(['sim', 'state', '--board', 'sim', '--runtime-dir', dir])).code, 0);
      } finally {
        await new Promise((r) => extra.close(r));
      }
    });
  });

  describe('jack', () => {
    it('`sim jack sim.headphone in` from another process: PLUG_DETECT_NOTIFY to a client that enabled them; `out` unplugs', async () => {
      const c = await StreamClient.connect(endpoint('sim.headphone'));
      const quiet = await StreamClient.connect(endpoint('sim.headphone')); // did not enable: hears nothing
      const unasked: PlugInfo[] = [];
      quiet.on('plug', (p: PlugInfo) => unasked.push(p));
      try {
        const before = await c.plugDetect('enable');
        assert.equal(before.plugged, false, 'board/sim.json starts unplugged');
        const plugged = nextEvent<PlugInfo>(c, 'plug', (p) => p.plugged);
        const r = await runChild(['sim', 'jack', 'sim.headphone', 'in', '--runtime-dir', dir]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim(), 'sim.headphone: plugged in');
        const p = await plugged;
        assert.ok(p.canNotify && !p.hardwired);
        assert.equal((await c.plugDetect('none')).plugged, true);

        const unplugged = nextEvent<PlugInfo>(c, 'plug', (x) => !x.plugged);
        const r2 = await runCli(['sim', 'jack', 'headphone', 'out', '--json', '--runtime-dir', dir]); // the bare stream id works too
        assert.equal(r2.code, 0, r2.err);
        assert.deepEqual(JSON.parse(r2.out), { board: 'sim', stream: 'sim.headphone', plugged: false });
        await unplugged;
        assert.deepEqual(unasked, [], 'a client that did not enable notifications gets none');
      } finally {
        await c.close();
        await quiet.close();
      }
    });

    it('a hardwired stream has no jack; an unknown stream is named; neither changes the plug (negative controls)', async () => {
      const c = await StreamClient.connect(endpoint('sim.headphone'));
      try {
        await c.plugDetect('enable');
        const events: PlugInfo[] = [];
        c.on('plug', (p: PlugInfo) => events.push(p));
        const a = await runCli(['sim', 'jack', 'sim.speaker', 'in', '--runtime-dir', dir]);
        assert.equal(a.code, 1);
        assert.match(a.err, /sim\.speaker is hardwired, not on a jack-detect plug \(jack streams: sim\.headphone\)/);
        const b = await runCli(['sim', 'jack', 'sim.nope', 'in', '--runtime-dir', dir]);
        assert.equal(b.code, 1);
        assert.match(b.err, /stream: board sim has no stream "sim\.nope" \(streams: sim\.speaker, sim\.headphone, sim\.mic\)/);
        const u = await runCli(['sim', 'jack', 'sim.headphone', 'sideways', '--runtime-dir', dir]);
        assert.equal(u.code, 2);
        assert.match(u.err, /expected in or out after the stream, got "sideways"/);
        await new Promise((r) => setTimeout(r, 100)); // past the 20 ms debounce
        assert.deepEqual(events, []);
        assert.equal(rt.jackPlugged(), false);
      } finally {
        await c.close();
      }
    });
  });

  describe('i2c-fault', () => {
    let app: StreamClient;
    beforeEach(async () => {
      app = await StreamClient.connect(endpoint('sim.speaker')); // the first channel: the owner
    });
    afterEach(async () => {
      await app.close();
    });

    it('statusForError: an I2C NAK is IO_REFUSED, a timeout TIMED_OUT, other bus errors IO', () => {
      const e = (fault: 'nack' | 'timeout' | 'bus-error') => new I2cError({ bus: 'sim-i2c-1', addr: 0x1b, fault, op: 'transfer' });
      assert.equal(statusForError(e('nack')), STATUS.IO_REFUSED);
      assert.equal(statusForError(e('timeout')), STATUS.TIMED_OUT);
      assert.equal(statusForError(e('bus-error')), STATUS.IO);
      assert.deepEqual([STATUS.IO_REFUSED, STATUS.TIMED_OUT], [-41, -21]);
    });

    for (const [kind, status] of [['nack', -41], ['timeout', -21]] as const) {
      it(`--kind ${kind} --probability 1: the next SET_GAIN answers ${status}, the gain stays; --clear: it succeeds again`, async () => {
        const ok = await app.setGain({ gain: -10, mute: false });
        assert.equal(ok.result, STATUS.OK, 'without the fault SET_GAIN succeeds');
        const r = await runCli(['sim', 'i2c-fault', '--kind', kind, '--probability', '1', '--runtime-dir', dir]);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, `sim: sim-i2c-1: every operation fails with ${kind} with probability 1`);
        const failed = await app.setGain({ gain: -20 });
        assert.equal(failed.result, status);
        assert.equal(failed.curGain, -10, 'the response reports the gain as it still is');
        const cleared = await runCli(['sim', 'i2c-fault', '--clear', '--runtime-dir', dir]);
        assert.equal(cleared.code, 0, cleared.err);
        assert.equal(cleared.out, 'sim: no injected faults on sim-i2c-1');
        const again = await app.setGain({ gain: -20 });
        assert.equal(again.result, STATUS.OK);
        assert.equal(again.curGain, -20);
      });
    }

    it('--register NAME --count 1: exactly one failure (the driver retries it: SET_GAIN succeeds); --count 4 outlasts the regmap retries (the driver retries the pair: it goes through), --count 8 both', async () => {
      const stats = rt.codec.regmap!.stats;
      const bus = rt.sim!.simBus(1);
      assert.equal((await app.setGain({ gain: -6 })).result, STATUS.OK);
      let retries = stats.retries;
      assert.equal((await app.setGain({ gain: -7 })).result, STATUS.OK);
      assert.equal(stats.retries - retries, 0, 'no fault, no retry (negative control)');

      const r = await runCli(['sim', 'i2c-fault', '--kind', 'nack', '--register', 'VOL_L', '--count', '1', '--json', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), { board: 'sim', bus: 'sim-i2c-1', rule: { fault: 'nack', reg: 1, count: 1, addr: 0x1b }, register: 'VOL_L' });
      retries = stats.retries;
      const g = await app.setGain({ gain: -8 });
      assert.equal(g.result, STATUS.OK);
      assert.equal(g.curGain, -8);
      assert.equal(stats.retries - retries, 1, 'exactly one operation failed');
      assert.equal(bus.faults, undefined, 'the rule is used up');
      retries = stats.retries;
      assert.equal((await app.setGain({ gain: -9 })).result, STATUS.OK);
      assert.equal(stats.retries - retries, 0, 'and nothing fails after it');

      // More failures than the regmap's 3 retries: the driver writes the pair once more (issue 19), and that goes through.
      assert.equal((await runCli(['sim', 'i2c-fault', '--kind', 'nack', '--register', '0x01', '--count', '4', '--runtime-dir', dir])).code, 0);
      retries = stats.retries;
      assert.equal((await app.setGain({ gain: -10 })).result, STATUS.OK);
      assert.equal(stats.retries - retries, 3);
      assert.equal(bus.faults, undefined, 'the rule is used up');
      // More than both rounds of 4: the client sees the NAK, then the bus is healthy again.
      assert.equal((await runCli(['sim', 'i2c-fault', '--kind', 'nack', '--register', '0x01', '--count', '8', '--runtime-dir', dir])).code, 0);
      retries = stats.retries;
      const refused = await app.setGain({ gain: -11 });
      assert.equal(refused.result, STATUS.IO_REFUSED);
      assert.equal(refused.curGain, -10, 'the answer reports the gain the chip still holds');
      assert.equal(stats.retries - retries, 6);
      assert.equal((await app.setGain({ gain: -11 })).result, STATUS.OK);
    });

    it('bad fault requests name what is wrong (usage: exit 2; the service: exit 1) and inject nothing', async () => {
      const bus = rt.sim!.simBus(1);
      const u1 = await runCli(['sim', 'i2c-fault', '--kind', 'nack', '--runtime-dir', dir]);
      assert.equal(u1.code, 2);
      assert.match(u1.err, /give --probability P or --register NAME --count N/);
      const u2 = await runCli(['sim', 'i2c-fault', '--kind', 'nack', '--probability', '2', '--runtime-dir', dir]);
      assert.equal(u2.code, 2);
      assert.match(u2.err, /--probability must be a number from 0 to 1, got "2"/);
      const s1 = await runCli(['sim', 'i2c-fault', '--kind', 'timeout', '--register', 'NO_SUCH', '--count', '1', '--runtime-dir', dir]);
      assert.equal(s1.code, 1);
      assert.match(s1.err, /register: sim-codec has no register named "NO_SUCH" \(registers: CHIP_ID, VOL_L, VOL_R, POWER, FORMAT, RATE, DAC_CTRL\)/);
      assert.equal(bus.faults, undefined);
      assert.equal((await app.setGain({ gain: -3 })).result, STATUS.OK);
    });
  });

  describe('stall', () => {
    it('no running output stream: nothing to stall (exit 1)', async () => {
      const r = await runCli(['sim', 'stall', '--runtime-dir', dir]);
      assert.equal(r.code, 1);
      assert.match(r.err, /no output stream of board sim is running/);
    });

    it('`sim stall` on a real-time sim board: the client sees EXT_RB_ERROR (underrun), and the positions go on', async () => {
      assert.equal(rt.hal.clock.kind, 'monotonic');
      const c = await StreamClient.connect(endpoint('sim.speaker'));
      try {
        const f = await c.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
        assert.equal(f.result, STATUS.OK);
        const rb = await c.openRingBuffer(f.token!);
        assert.equal(await rb.extNotifications(true), STATUS.OK);
        const b = await rb.getBuffer(4800, 8);
        assert.equal(b.result, STATUS.OK);
        const st = await rb.start();
        assert.equal(st.result, STATUS.OK);
        await nextEvent(rb, 'position', () => true); // it runs
        const t0 = Number(process.hrtime.bigint());
        const underrun = nextEvent<RbErrorInfo>(rb, 'rb-error', (e) => e.monotonicTimeNs >= t0 && e.kind === RB_ERROR_KIND.UNDERRUN);
        const r = await runCli(['sim', 'stall', '--periods', '8', '--runtime-dir', dir]);
        const t1 = Number(process.hrtime.bigint());
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, 'sim.speaker: the engine thread stalled for 8 periods (21.33 ms)');
        assert.ok(t1 - t0 >= 21e6, `the command returns once the stall is over (${((t1 - t0) / 1e6).toFixed(1)} ms)`);
        const e = await underrun;
        assert.equal(e.status, STATUS.IO_DATA_INTEGRITY);
        assert.ok(e.count >= 1 && e.total >= 1, JSON.stringify(e));
        // Noticed in the period after the stall: within the command's window plus a few periods, not a stray xrun.
        assert.ok(e.monotonicTimeNs <= t1 + 50e6, `underrun at ${((e.monotonicTimeNs - t0) / 1e6).toFixed(1)} ms after the command began`);
        const after = await nextEvent<{ monotonicTimeNs: number }>(rb, 'position', (p) => p.monotonicTimeNs > e.monotonicTimeNs);
        assert.ok(after.monotonicTimeNs > e.monotonicTimeNs, 'the engine recovered and goes on');
        assert.equal((await rb.stop()).result, STATUS.OK);
        await rb.close();
      } finally {
        await c.close();
      }
    });
  });

  describe('state', () => {
    it('`sim state --json`: analog state, power and its history, lines, the last N events, the fault rule', async () => {
      const r = await runCli(['sim', 'state', '--json', '--events', '3', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      const s = JSON.parse(r.out) as {
        board: string; clock: string; power: { state: string; history: { state: string }[] }; lines: { role: string; value: number; owner: string }[];
        analog: { chip: { power: string; muted: boolean; gainCodes: Record<string, number> }; outputs: { stream: string; amplifier?: boolean }[] };
        events: unknown[]; i2cFault: unknown;
      };
      assert.equal(s.board, 'sim');
      assert.equal(s.clock, 'monotonic');
      assert.ok(['on', 'idle', 'off'].includes(s.power.state));
      assert.ok(s.power.history.length >= 1, 'the stream test started and stopped the codec');
      assert.deepEqual(s.lines.map((l) => [l.role, l.owner]).sort(), [['amp-enable', 'board'], ['encoder-a', 'board'], ['encoder-b', 'board'], ['encoder-push', 'board'], ['jack-detect', 'board']]);
      assert.deepEqual(s.analog.outputs.map((o) => o.stream), ['speaker', 'headphone']);
      assert.equal(typeof s.analog.outputs[0]!.amplifier, 'boolean', 'the speaker is gated by the board amplifier');
      assert.ok('VOL_L' in s.analog.chip.gainCodes || Object.keys(s.analog.chip.gainCodes).length > 0);
      assert.equal(s.events.length, 3);
      assert.equal(s.i2cFault, null);
      // The same answer through SimControl directly (the code the socket dispatches to), a moment
      // later: the codec may still be powering down after the last test's channel, so compare what
      // cannot have changed (the history only grows).
      const direct = svc.simControl!.state(3);
      assert.deepEqual([direct.board, direct.part, direct.clock, direct.events.length], ['sim', 'sim-codec', 'monotonic', 3]);
      assert.deepEqual(direct.power.history.slice(0, s.power.history.length), s.power.history);
      assert.deepEqual(direct.lines.map((l) => l.role), s.lines.map((l) => l.role));
      const text = await runCli(['sim', 'state', '--runtime-dir', dir]);
      assert.equal(text.code, 0);
      assert.match(text.out, /^sim \(sim-codec\) at \d+\.\d{6} s on the monotonic clock$/m);
      assert.match(text.out, /^ {2}speaker \(chip speaker\): /m);
      assert.match(text.out, /^lines: .*amp-enable=[01] \(board\)/m);
    });
  });

  describe('bad requests', () => {
    it('a malformed line gets an error naming the field; the connection, other clients and the audio go on', async () => {
      const a = await lineClient(sockPath);
      const b = await lineClient(sockPath);
      const app = await StreamClient.connect(endpoint('sim.speaker'));
      try {
        a.send('this is not json');
        const e1 = await a.next();
        assert.equal(e1.ok, false);
        assert.equal(e1.id, null);
        assert.match(String(e1.error), /^request: not JSON/);
        a.send('[1,2]');
        assert.match(String((await a.next()).error), /^request: expected a JSON object/);
        a.send('{"id":2,"cmd":"jack","stream":"headphone","plugged":"yes"}');
        assert.deepEqual(await a.next(), { id: 2, ok: false, error: 'jack: plugged: expected true or false, got "yes"' });
        a.send('{"id":3,"cmd":"reboot"}');
        assert.deepEqual(await a.next(), { id: 3, ok: false, error: 'cmd: expected one of jack, i2c-fault, stall, regs, state, encoder, midi, got "reboot"' });
        a.send('{"id":4,"cmd":"state","verbose":true}');
        assert.deepEqual(await a.next(), { id: 4, ok: false, error: 'state: unknown field "verbose" (fields: events)' });
        a.send('{"id":5,"cmd":"i2c-fault","kind":"nack"}');
        assert.match(String((await a.next()).error), /i2c-fault: give either probability or register/);
        a.send('{"id":6,"cmd":"stall","periods":0}');
        assert.deepEqual(await a.next(), { id: 6, ok: false, error: 'stall: periods: expected a whole number from 1 to 1000, got 0' });

        // Another client is served meanwhile, and the first connection still answers good requests.
        b.send('{"id":"b1","cmd":"state","events":0}');
        const ok = await b.next();
        assert.equal(ok.id, 'b1');
        assert.equal(ok.ok, true);
        a.send('{"id":7,"cmd":"state","events":1}');
        const ok7 = await a.next();
        assert.equal(ok7.ok, true);
        assert.equal((ok7.events as unknown[]).length, 1);
        assert.equal(rt.sim!.simBus(1).faults, undefined, 'no bad request injected anything');
        assert.equal((await app.setGain({ gain: -12 })).result, STATUS.OK, 'the stream service is unaffected');

        // A line without end: refused, that connection closed; the other one goes on.
        a.socket.write('x'.repeat(70 * 1024));
        const long = await a.next();
        assert.match(String(long.error), /line longer than 65536 bytes; closing this connection/);
        await a.closed;
        b.send('{"id":"b2","cmd":"state","events":0}');
        assert.equal((await b.next()).ok, true);
      } finally {
        a.close();
        b.close();
        await app.close();
      }
    });

    it('SimControl.handle is what the socket runs: the same answers in-process', async () => {
      const ctl = svc.simControl!;
      assert.deepEqual(await ctl.handle({ id: 9, cmd: 'jack', stream: 'sim.mic', plugged: true }),
        { id: 9, ok: false, error: 'stream: sim.mic is hardwired, not on a jack-detect plug (jack streams: sim.headphone)' });
      assert.deepEqual(await ctl.handle({ id: 10, cmd: 'i2c-fault', kind: 'timeout', probability: 0.5 }),
        { id: 10, ok: true, board: 'sim', bus: 'sim-i2c-1', rule: { fault: 'timeout', probability: 0.5 } });
      assert.deepEqual(await ctl.handle({ id: 11, cmd: 'i2c-fault', clear: true }), { id: 11, ok: true, board: 'sim', bus: 'sim-i2c-1', rule: null });
      assert.deepEqual(await ctl.handle({ id: { x: 1 }, cmd: 'state' }), { id: null, ok: false, error: 'id: expected a number or a string, got {"x":1}' });
    });
  });
});

describe('sbc-audio sim regs: the chip model\'s registers', function () {
  this.timeout(60000);
  let dir: string;
  let rt: BoardRuntime;
  let svc: StreamService;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-simregs-'));
    rt = await openBoard(loadBoard('hifiberry-dacplus-sim'));
    svc = await startStreamService(rt, { runtimeDir: dir, ringBuffer: false });
  });
  after(async () => {
    await svc?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hifiberry-dacplus-sim: SET_GAIN -33.3 dB → page 0 registers 61 and 62 hold 0x73 in the chip model', async () => {
    type Regs = { part: string; values: string; registers: { name: string; addr: number; where: string; cached: number | null; read: number | null; error: string | null }[] };
    const regsNow = async () => {
      const r = await runCli(['sim', 'regs', '--json', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out) as Regs;
    };
    const vol = (j: Regs) => j.registers.filter((x) => x.addr === 61 || x.addr === 62).map((x) => [x.where, x.name, x.read]);
    const before = await regsNow();
    assert.equal(before.part, 'pcm5122');
    assert.equal(before.values, 'chip');
    assert.deepEqual(vol(before), [['page 0 reg 0x3d', 'DIGITAL_VOLUME_L', 0x30], ['page 0 reg 0x3e', 'DIGITAL_VOLUME_R', 0x30]], 'before: 0 dB (negative control)');

    const app = await StreamClient.connect(svc.endpoints.find((e) => e.name === 'hifiberry-dacplus-sim.line-out')!.path);
    try {
      const g = await app.setGain({ gain: -33.3 });
      assert.equal(g.result, STATUS.OK);
      assert.equal(g.curGain, -33.5, 'the nearest 0.5 dB step');
    } finally {
      await app.close();
    }
    const after = await regsNow();
    assert.deepEqual(vol(after), [['page 0 reg 0x3d', 'DIGITAL_VOLUME_L', 0x73], ['page 0 reg 0x3e', 'DIGITAL_VOLUME_R', 0x73]]);
    const text = await runCli(['sim', 'regs', '--runtime-dir', dir]);
    assert.equal(text.code, 0, text.err);
    // RESET: the reset default of codecs/pcm5122/FACTS.md#reset-defaults (0x30).
    assert.match(text.out, /^page 0 reg 0x3d\s+DIGITAL_VOLUME_L\s+rw\s+0x30\s+0x73\s+0x73\s*$/m);
    assert.match(text.out, /^page 0 reg 0x3e\s+DIGITAL_VOLUME_R\s+rw\s+0x30\s+0x73\s+0x73\s*$/m);
    assert.match(text.out, /^WHERE\s+NAME\s+ACCESS\s+RESET\s+CACHED\s+CHIP\s+FIELDS$/m);

    // From the chip model, not the driver's cache: change the model behind the driver's back.
    const model = rt.chipModel as { pages: Map<number, Uint8Array> };
    model.pages.get(0)![62] = 0x50;
    try {
      const r = (await regsNow()).registers.find((x) => x.addr === 62)!;
      assert.deepEqual([r.cached, r.read], [0x73, 0x50]);
    } finally {
      model.pages.get(0)![62] = 0x73;
    }
    // A register the driver never wrote whose reset default is not among the facts (the GPIO
    // levels, reg 86, on this DAC+ standard): no cached value, the chip's all the same.
    const ctrl = after.registers.find((x) => x.name === 'GPIO_OUTPUT')!;
    assert.equal(ctrl.cached, null);
    assert.equal(typeof ctrl.read, 'number');
  });

  it('--part names the board\'s part; another part is refused (exit 1)', async () => {
    assert.equal((await runCli(['sim', 'regs', '--part', 'pcm5122', '--json', '--runtime-dir', dir])).code, 0);
    const r = await runCli(['sim', 'regs', '--part', 'wm8960', '--runtime-dir', dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /part: board hifiberry-dacplus-sim has no part "wm8960" \(its codec is pcm5122\)/);
  });

  it('a write-only part (WM8960): the model\'s own record of what was written (SimControl directly)', async () => {
    const wrt = await openBoard(loadBoard('waveshare-wm8960-hat-sim'));
    try {
      await wrt.codec.probe();
      await wrt.codec.init();
      const control = new SimControl(wrt, { ringBuffers: new Set() });
      const r = await control.regs();
      assert.equal(r.values, 'written');
      const written = (wrt.chipModel as { written: Map<number, number> }).written;
      assert.ok(written.size > 0);
      for (const x of r.registers) assert.equal(x.read, written.get(x.addr) ?? null, x.name);
      assert.ok(r.registers.some((x) => x.read !== null));
    } finally {
      await wrt.close();
    }
  });
});
