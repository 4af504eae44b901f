/**
 * configure(key, value) (src/control/configure.ts; docs/CONTROL.md, "Programs and configure") on
 * simulated boards, on virtual clocks.
 *
 * Expected values are literals from their sources, never read from the code under test:
 * - ramp time: 50 ms by default (docs/CONTROL.md, "Ramps"): 2400 frames at 48 kHz; 10 ms = 480.
 * - idle power-down: ASoC's pmdown_time, 5000 ms (sound/soc/soc-core.c).
 * - PCM5122 (codecs/pcm5122/FACTS.md): page 0 register 43 selects the filter: 1 normal,
 *   2 low-latency; page 0 register 61 is the left digital volume, 0x30 = 0 dB, 0.5 dB a code
 *   (−30 dB = 0x6c); the board options `filter` and `clocking` (slave-bck-pll, master-oscillators).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { controlChannelPath, serveControlChannel } from '../../src/control/channel.ts';
import { ConfigureError, Configurator, type InstantiationRunner, engineRampHooks } from '../../src/control/configure.ts';
import type { TimerHandle } from '../../src/hal/clock.ts';
import { AsyncMutex } from '../../src/hal/i2c.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { MappedRingBuffer, StreamClient } from '../../src/stream/client.ts';
import { DEFAULT_RAMP_MS } from '../../src/stream/engine-ring-buffer.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { STATUS } from '../../src/stream/wire.ts';

/** The instantiation class as a test needs it: runs each job at once, and records what ran. */
function trivialLock(): InstantiationRunner & { ran: string[] } {
  const ran: string[] = [];
  return { ran, run: async (what, fn) => { ran.push(what); return fn(); } };
}

interface Served {
  rt: BoardRuntime;
  clock: VirtualClock;
  service: StreamService;
  dir: string;
  close(): Promise<void>;
}

async function serve(board: string, audio = false): Promise<Served> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-configure-'));
  const clock = new VirtualClock(1e9, true);
  const rt = await openBoard(loadBoard(board), { clock });
  const service = await startStreamService(rt, { runtimeDir: path.join(dir, 'run'), ...(audio ? {} : { ringBuffer: false as const }) });
  return {
    rt, clock, service, dir,
    async close() {
      await service.close();
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const reg = (rt: BoardRuntime, r: number) => (rt.chipModel as { peek(page: number, reg: number): number }).peek(0, r);

describe('configure: keys, values and refusals', function () {
  this.timeout(60000);

  it('lists ramp-ms per output stream, the board\'s idle-power-down-ms, and the part\'s init options with their values', async () => {
    const s = await serve('sim');
    try {
      const c = new Configurator(s.rt, { instantiation: trivialLock(), model: s.service.controls, ramp: engineRampHooks(s.rt, { engines: () => [], defaultRampMs: DEFAULT_RAMP_MS }) });
      assert.deepEqual(c.list().map((k) => [k.owner, k.key, k.value, k.values ?? null, k.needs]), [
        ['speaker', 'ramp-ms', '50', null, 'instantiation'],
        ['headphone', 'ramp-ms', '50', null, 'instantiation'],
        ['board', 'idle-power-down-ms', '5000', null, 'instantiation'],
      ]);
      assert.deepEqual(c.list('board').map((k) => k.key), ['idle-power-down-ms']);
      // Negative control: without the service's ramp hooks there is no ramp-ms key.
      const bare = new Configurator(s.rt, { instantiation: trivialLock() });
      assert.deepEqual(bare.list().map((k) => `${k.owner} ${k.key}`), ['board idle-power-down-ms']);
    } finally {
      await s.close();
    }
    const h = await serve('hifiberry-dacplus-sim');
    try {
      const c = new Configurator(h.rt, { instantiation: trivialLock() });
      assert.deepEqual(c.list('pcm5122').map((k) => [k.key, k.value, k.values]), [
        ['filter', 'normal', ['normal', 'low-latency', 'high-attenuation', 'fixed-flow', 'asymmetric']],
        ['clocking', 'slave-bck-pll', ['slave-bck-pll', 'master-oscillators']],
      ]);
    } finally {
      await h.close();
    }
  });

  it('refuses unknown owners and keys listing the known ones, and bad values listing the allowed ones; nothing changes', async () => {
    const h = await serve('hifiberry-dacplus-sim');
    try {
      const lock = trivialLock();
      const c = new Configurator(h.rt, { instantiation: lock, model: h.service.controls });
      await assert.rejects(c.set('amp', 'gain', '1'), (e: Error) => e instanceof ConfigureError &&
        e.message === 'configure: no owner "amp" on board hifiberry-dacplus-sim (owners: board, pcm5122; keys: board idle-power-down-ms, pcm5122 filter, pcm5122 clocking)');
      await assert.rejects(c.set('pcm5122', 'led', 'true'), /configure: pcm5122 has no key "led" \(its keys: filter, clocking\)/);
      await assert.rejects(c.set('pcm5122', 'filter', 'steep'), /configure pcm5122 filter: "steep" is not one of its values: normal, low-latency, high-attenuation, fixed-flow, asymmetric/);
      await assert.rejects(c.set('board', 'idle-power-down-ms', 'soon'), /configure: board idle-power-down-ms: "soon" is not a number of ms \(0 to 3600000\)|board idle-power-down-ms: "soon" is not a number of ms \(0 to 3600000\)/);
      await assert.rejects(c.set('board', 'idle-power-down-ms', '3600001'), /board idle-power-down-ms: 3600001 ms is outside 0 to 3600000 ms/);
      await assert.rejects(c.set('board', 'idle-power-down-ms', '-1'), /is not a number of ms/);
      assert.deepEqual(lock.ran, [], 'a refused key or value never entered the instantiation class');
      assert.equal(h.rt.power.idleMs, 5000);
      assert.equal(reg(h.rt, 43), 1);
      // Negative control: a good value is applied, in the instantiation class.
      const r = await c.set('board', 'idle-power-down-ms', '1500');
      assert.equal(r.reply, 'board idle-power-down-ms 5000 → 1500: the codec powers down 1500 ms after the last stream stops');
      assert.deepEqual(lock.ran, ['configure board idle-power-down-ms 1500']);
      assert.equal(h.rt.power.idleMs, 1500);
    } finally {
      await h.close();
    }
  });
});

describe('configure: board idle-power-down-ms (virtual clock)', function () {
  this.timeout(60000);

  it('the codec powers down that long after the last stream stops; an idling codec is re-timed', async () => {
    const clock = new VirtualClock(1e9, false);
    const rt = await openBoard(loadBoard('sim'), { clock });
    try {
      await rt.codec.probe();
      await rt.codec.init();
      const c = new Configurator(rt, { instantiation: trivialLock() });
      const speaker = { direction: 'output' as const, purpose: 'speaker' };
      const cycle = async () => {
        await rt.power.streamStarting(speaker);
        await rt.power.streamStopped(speaker);
        assert.equal(rt.power.state, 'idle');
        return clock.nowNs();
      };
      // Negative control: the default, 5000 ms: still idling 300 ms after the stop.
      let stoppedNs = await cycle();
      await clock.runUntil(stoppedNs + 300e6);
      assert.equal(rt.power.state, 'idle');
      await clock.runUntil(stoppedNs + 5001e6);
      assert.equal(rt.power.state, 'off');

      await c.set('board', 'idle-power-down-ms', '200');
      stoppedNs = await cycle();
      await clock.runUntil(stoppedNs + 199e6);
      assert.equal(rt.power.state, 'idle', 'not before 200 ms');
      await clock.runUntil(stoppedNs + 201e6);
      assert.equal(rt.power.state, 'off', '200 ms after the last stop');

      // Changed while idling: re-timed from the stop (1000 ms → 400 ms: down at stop + 400 ms).
      await c.set('board', 'idle-power-down-ms', '1000');
      stoppedNs = await cycle();
      await clock.runUntil(stoppedNs + 300e6);
      const r = await c.set('board', 'idle-power-down-ms', '400');
      assert.match(r.reply, /\(it idles now: re-timed from its last stop\)$/);
      await clock.runUntil(stoppedNs + 399e6);
      assert.equal(rt.power.state, 'idle');
      await clock.runUntil(stoppedNs + 401e6);
      assert.equal(rt.power.state, 'off');
    } finally {
      await rt.close();
    }
  });
});

describe('configure: a codec option re-initialises the codec while no stream plays (hifiberry-dacplus-sim)', function () {
  this.timeout(60000);

  it('pcm5122 filter low-latency: register 43 becomes 2, the gain is put back, the reply says what changed', async () => {
    const h = await serve('hifiberry-dacplus-sim');
    try {
      const logs: string[] = [];
      const lock = new AsyncMutex();
      const c = new Configurator(h.rt, { instantiation: trivialLock(), model: h.service.controls, codecLock: lock, log: (l) => logs.push(l) });
      await h.service.controls.set('hifiberry-dacplus-sim.line-out.gain', -30);
      assert.equal(reg(h.rt, 61), 0x6c, '−30 dB before');
      assert.equal(reg(h.rt, 43), 1, 'normal before (negative control)');
      const r = await c.set('pcm5122', 'filter', 'low-latency');
      assert.equal(reg(h.rt, 43), 2, 'low-latency');
      assert.equal(reg(h.rt, 61), 0x6c, 'the gain put back after the init (the init writes 0 dB, 0x30)');
      assert.equal(h.rt.board.codec.options.filter, 'low-latency');
      assert.equal(r.reply, 'pcm5122 filter = "low-latency" (filter was "normal"): applied by re-initialising the codec while no stream played; ' +
        'controls changed by it: hifiberry-dacplus-sim.pcm5122.dsp-program normal → low-latency; in force until the service restarts (the board file is not changed)');
      assert.equal(c.list('pcm5122')[0]!.value, 'low-latency');
      assert.equal((await h.service.controls.get('hifiberry-dacplus-sim.line-out.gain')).value, -30);
      assert.equal(await lock.run(async () => 'free'), 'free', 'the codec lock was let go');
    } finally {
      await h.close();
    }
  });

  it('a playing stream is waited for up to the bound: applied once it stops, refused (nothing changed) if it does not', async () => {
    const h = await serve('hifiberry-dacplus-sim');
    try {
      const logs: string[] = [];
      let playingUntilNs = h.clock.nowNs() + 300e6;
      const c = new Configurator(h.rt, {
        instantiation: trivialLock(), model: h.service.controls, safePointMs: 1000, log: (l) => logs.push(l),
        playing: () => (h.clock.nowNs() < playingUntilNs ? ['line-out'] : []),
      });
      const t0 = h.clock.nowNs();
      const r = await c.set('pcm5122', 'filter', 'low-latency');
      assert.ok(h.clock.nowNs() - t0 >= 300e6, 'it waited for the stream to stop');
      assert.match(r.reply, /applied by re-initialising the codec while no stream played \(waited 0\.3\d s for the streams to stop\)/);
      assert.equal(logs[0], 'configure pcm5122 filter low-latency: waits up to 1 s for line-out to stop (the codec is re-initialised only while no stream plays)');
      assert.equal(reg(h.rt, 43), 2);

      playingUntilNs = Number.POSITIVE_INFINITY;
      await assert.rejects(c.set('pcm5122', 'filter', 'normal'), (e: Error) => e instanceof ConfigureError &&
        e.message === 'configure pcm5122 filter normal: refused: line-out still playing after 1 s (the codec is re-initialised only while no stream plays); nothing changed');
      assert.equal(reg(h.rt, 43), 2, 'unchanged');
      assert.equal(h.rt.board.codec.options.filter, 'low-latency');
    } finally {
      await h.close();
    }
  });

  it('refused, saying why, where the driver would not follow the option: a run-time DSP Program, the clocking fixed at open', async () => {
    const h = await serve('hifiberry-dacplus-sim');
    try {
      const c = new Configurator(h.rt, { instantiation: trivialLock(), model: h.service.controls });
      await h.service.controls.set('hifiberry-dacplus-sim.pcm5122.dsp-program', 'asymmetric');
      assert.equal(reg(h.rt, 43), 7);
      await assert.rejects(c.set('pcm5122', 'filter', 'low-latency'), (e: Error) => e instanceof ConfigureError &&
        e.message === 'configure pcm5122 filter low-latency: refused: the pcm5122 driver keeps filter "asymmetric": the control hifiberry-dacplus-sim.pcm5122.dsp-program ' +
        '(set at run time) takes precedence over the board option; set it instead (\'sbc-audio ctl set hifiberry-dacplus-sim.pcm5122.dsp-program low-latency\'); nothing changed');
      assert.equal(reg(h.rt, 43), 7);
      assert.equal(h.rt.board.codec.options.filter, 'normal', 'the option as board/hifiberry-dacplus.json has it');
      await assert.rejects(c.set('pcm5122', 'clocking', 'master-oscillators'),
        /refused: the pcm5122 driver keeps clocking "slave-bck-pll": it takes codec.options.clocking when the board is opened, not at init; change the board file and restart the service; nothing changed/);
      assert.equal(h.rt.codec.clocking!().mode, 'slave-bck-pll');
    } finally {
      await h.close();
    }
  });
});

describe('configure: STREAM ramp-ms changes the START fade (sim board, engine on a virtual clock)', function () {
  this.timeout(60000);

  it('the first START fades in over 50 ms (2400 frames); after ramp-ms 10 the next START over 480', async () => {
    const RATE = 48000;
    const NS = 1e9 / RATE;
    const s = await serve('sim', true);
    let drainTimer: TimerHandle | undefined;
    try {
      const { rt, clock, service } = s;
      const analog = rt.analog!;
      const drain = () => {
        analog.drain();
        drainTimer = clock.nextTimerNs() === undefined ? undefined : clock.setTimerNs(clock.nowNs() + 50e6, drain);
      };
      const hooks = engineRampHooks(rt, { engines: () => service.ringBuffers, defaultRampMs: DEFAULT_RAMP_MS });
      const c = new Configurator(rt, { instantiation: trivialLock(), ramp: hooks });
      await service.controls.set('sim.speaker.gain', 0);
      await service.controls.set('sim.speaker.mute', false);
      const client = await StreamClient.connect(service.endpoints.find((e) => e.name === 'sim.speaker')!.path);
      const f = await client.setFormat({ fps: RATE, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
      const rb = await client.openRingBuffer(f.token!);
      const b = await rb.getBuffer(RATE, 0);
      assert.equal(b.result, STATUS.OK);
      const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, 4);
      ring.write(0, new Uint8Array(new Int16Array(b.frames * 2).fill(32767).buffer)); // DC at full scale: the output is the gain
      ring.close();
      /** START, play 100 ms, read the per-sample gain of frames 0..2999, STOP: the first frame at unity. */
      const fadeFrames = async (): Promise<number> => {
        const st = await rb.start();
        assert.equal(st.result, STATUS.OK);
        drain();
        await clock.sleepUntilNs(st.startTimeNs + 3300 * NS);
        analog.drain();
        const x = analog.render('speaker', st.startTimeNs, 3000, RATE, 2);
        assert.equal((await rb.stop()).result, STATUS.OK);
        drainTimer?.cancel();
        drainTimer = undefined;
        let first = -1;
        for (let i = 0; i < 3000; i++) if (Math.abs(x[i * 2]! / (32767 / 32768) - 1) < 1e-4) { first = i; break; }
        assert.ok(x[2]! > 0 && x[2]! < 0.01, `the fade starts from silence: ${x[2]}`);
        return first;
      };
      // Negative control: the default ramp, 50 ms.
      const before = await fadeFrames();
      assert.ok(Math.abs(before - 2400) <= 1, `default fade ${before} frames, expected 2400 (50 ms)`);
      const r = await c.set('speaker', 'ramp-ms', '10');
      assert.equal(r.reply, 'speaker ramp-ms 50 → 10: the next START\'s fade-in, STOP\'s fade-out and gain ramps of speaker; 1 running engine took it from its next period');
      assert.equal(hooks.get('speaker'), 10);
      assert.equal(hooks.rampOf('speaker'), 10, 'what the stream\'s next engine is to take');
      assert.equal(hooks.rampOf('headphone'), undefined, 'the other stream keeps its own');
      const after = await fadeFrames();
      assert.ok(Math.abs(after - 480) <= 1, `fade after ramp-ms 10: ${after} frames, expected 480 (10 ms)`);
      await assert.rejects(c.set('speaker', 'ramp-ms', '1001'), /speaker ramp-ms: 1001 ms is outside 0 to 1000 ms/);
      await rb.close();
      await client.close();
    } finally {
      drainTimer?.cancel();
      await s.close();
    }
  });
});

describe('configure through the control channel and `sbc-audio configure`', function () {
  this.timeout(60000);

  it('lists without arguments, sets with OWNER KEY VALUE; refusals exit 1 with the service\'s message, usage errors 2', async () => {
    const h = await serve('hifiberry-dacplus-sim');
    const run = path.join(h.dir, 'run2');
    mkdirSync(path.join(run, 'control'), { recursive: true, mode: 0o700 });
    const configure = new Configurator(h.rt, { instantiation: trivialLock(), model: h.service.controls });
    const channel = await serveControlChannel(h.service.controls, controlChannelPath(run, 'hifiberry-dacplus-sim'), { configure });
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIO = { isTTY: false, out: (t) => out.push(t), err: (t) => err.push(t) };
      const code = await main([...args, '--runtime-dir', run], io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    try {
      const list = await cli(['configure', '--json']);
      assert.equal(list.code, 0, list.err);
      assert.deepEqual((JSON.parse(list.out) as { owner: string; key: string }[]).map((k) => `${k.owner} ${k.key}`), ['board idle-power-down-ms', 'pcm5122 filter', 'pcm5122 clocking']);
      const set = await cli(['configure', 'pcm5122', 'filter', 'low-latency']);
      assert.equal(set.code, 0, set.err);
      assert.match(set.out, /^pcm5122 filter = "low-latency" \(filter was "normal"\): applied/);
      assert.equal(reg(h.rt, 43), 2);
      const bad = await cli(['configure', 'pcm5122', 'filter', 'steep']);
      assert.equal(bad.code, 1);
      assert.equal(bad.err, 'sbc-audio configure: configure pcm5122 filter: "steep" is not one of its values: normal, low-latency, high-attenuation, fixed-flow, asymmetric');
      assert.equal(reg(h.rt, 43), 2);
      const usage = await cli(['configure', 'pcm5122', 'filter']);
      assert.equal(usage.code, 2);
      const text = await cli(['configure']);
      assert.match(text.out, /^pcm5122\s+filter\s+low-latency\s+normal, low-latency, high-attenuation, fixed-flow, asymmetric$/m);
    } finally {
      await channel.close();
      await h.close();
    }
  });
});
