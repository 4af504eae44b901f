/**
 * The control storm (issue 22's acceptance; docs/CONTROL.md, "Call classes"): control-class work
 * never stalls the audio. Not part of `make test` (`make storm`).
 *
 *   node --import tsx bench/control-storm.ts [--seconds S (storm, default 60)] [--baseline-seconds B (default S)]
 *       [--rate N (sets per second, default 10000)] [--bus-delay-ms D (default 50)]
 *       [--via osc|pipe (default: osc where src/osc/server.ts loads, else pipe)] [--no-fail]
 *
 * The rig, all in this process but the storm's source: the sim board on CLOCK_MONOTONIC (the sim
 * PCM paced by the real clock), the stream service on it with its engines (one worker thread per
 * stream), a protocol client playing a tone through sim.speaker's engine, and the control
 * dispatcher (src/control/dispatch.ts: the service's own where it has one, else one made here)
 * in front of the service's control model. The simulated I2C bus takes D ms per transfer from
 * the warm-up on.
 *
 * 1. Warm-up: one change of each storm control, a one-second burst of sets at the storm's rate
 *    from this process, then 2 s of play; then the **baseline** window: B seconds of play, nothing else.
 * 2. The **storm** window: a separate process (this file with --generator, started before the
 *    warm-up, waiting for its go) sends N control messages a second for S seconds, spread over
 *    three register controls (sim.speaker.gain, sim.sim-codec.dac-filter,
 *    sim.sim-codec.dac-playback-switch) and the engine trim (sim.speaker.trim): as OSC datagrams
 *    (`/sbc-audio/sim/<owner>/control <name> <value>`) to the OSC server (src/osc/server.ts) on a
 *    loopback port, or, with --via pipe (or without the server), one JSON line each on a pipe,
 *    parsed here. Either way this process's main thread dispatches them — never the engine's
 *    thread. From 40 % to 60 % of the storm a configure-like job holds the instantiation lock
 *    (two register reads over the slow bus, then a wait).
 * 3. After the storm: the dispatcher settles, and the chip model's registers must hold each
 *    control's last value (the last one received: a datagram the kernel dropped never arrived).
 *
 * Figures, each window from the same run: xruns (the engine's underruns + overruns: must be 0),
 * the engine's per-period lateness (its own trace: how far beyond one period the device's avail
 * was when the audio thread woke, as a fraction of the period) p50 / p99 / max, and the ratio of
 * the storm's p99 to the baseline's (must be ≤ 1.2); the dispatcher's counts (applied, coalesced,
 * queued, refused, dropped with reasons), the OSC server's (and the datagrams the kernel
 * dropped), and how long the dispatcher's answers took; after the storm, each register's writes
 * and when the last landed. Bound: no register is written more than twice per storm control on
 * it after the storm ended (the write in progress, then the last value: nothing stale is
 * written), and every last value is on the chip. Exit 1 when a bound fails (unless --no-fail),
 * 2 on a usage error.
 *
 * The engine's lateness trace is not an option of the service's ring-buffer engines; this bench
 * asks each engine the service starts for one by wrapping EngineDevice.prototype.start (the trace
 * is the engine's own, src/engine/loop.ts; nothing else of the run changes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../src/board/load.ts';
import { openBoard } from '../src/board/runtime.ts';
import { ControlDispatcher, DEFAULT_BOUND_MS, InstantiationLock } from '../src/control/dispatch.ts';
import { controlDescriptors } from '../src/control/model.ts';
import type { EngineReport } from '../src/engine/types.ts';
import type { SimI2cBus } from '../src/hal/sim/i2c.ts';
import { startStreamService } from '../src/stream/service.ts';
import { fmt, percentiles, traceEngineStarts } from './engine-lib.ts';
import { type Mark, playSpeakerTone, stealText } from './speaker-tone.ts';

const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
function num(name: string, dflt: number, min: number, max: number): number {
  const s = opt(name);
  if (s === undefined) return dflt;
  const v = Number(s);
  if (!Number.isFinite(v) || v < min || v > max) {
    console.error(`control-storm: ${name} must be a number from ${min} to ${max}, got ${JSON.stringify(s)}`);
    process.exit(2);
  }
  return v;
}

const STORM_S = num('--seconds', 60, 1, 3600);
const BASELINE_S = num('--baseline-seconds', STORM_S, 1, 3600);
const RATE = num('--rate', 10000, 1, 100000);
const BUS_DELAY_MS = num('--bus-delay-ms', 50, 0, 1000);
const NO_FAIL = args.includes('--no-fail');
const VIA = opt('--via') ?? 'auto';
if (!['auto', 'osc', 'pipe'].includes(VIA)) {
  console.error(`control-storm: --via must be osc, pipe or auto (the default: osc where src/osc/server.ts exists), got ${JSON.stringify(VIA)}`);
  process.exit(2);
}


/** What this bench uses of the OSC server (src/osc/server.ts), loaded at run time: the bench runs without it too. */
interface OscLike {
  readonly port: number;
  stats(): { packets: number; outcomes: Record<string, number>; bad: Record<string, number> };
  close(): Promise<void>;
}
async function loadOscServer(): Promise<{ startOscServer(o: Record<string, unknown>): Promise<OscLike> } | undefined> {
  const where = new URL('../src/osc/server.ts', import.meta.url).href;
  try {
    return (await import(where)) as { startOscServer(o: Record<string, unknown>): Promise<OscLike> };
  } catch {
    return undefined;
  }
}

/** The controls of the storm: three register controls and the engine trim, with their values. */
const STORM = [
  { id: 'sim.speaker.gain', share: 0.3, values: Array.from({ length: 101 }, (_, i) => -60 + i * 0.5) }, // −60 … −10 dB
  { id: 'sim.sim-codec.dac-filter', share: 0.2, values: ['sharp', 'slow', 'low-latency'] },
  { id: 'sim.sim-codec.dac-playback-switch', share: 0.2, values: [true, false] },
  { id: 'sim.speaker.trim', share: 0.3, values: Array.from({ length: 41 }, (_, i) => -20 + i * 0.5) }, // −20 … 0 dB
] as const;

if (args.includes('--generator')) {
  await generate();
  process.exit(0);
}

/**
 * The storm's source (its own process): RATE messages a second for STORM_S seconds, then
 * "END n {last values}" on stdout. With --osc-port P, each message is one OSC datagram to
 * 127.0.0.1:P (`<base>/control <name> <value>`, as oscsend sends them); without it, one JSON line
 * on stdout.
 */
async function generate(): Promise<void> {
  const oscPort = opt('--osc-port');
  let sendOsc: ((c: (typeof STORM)[number], v: number | string | boolean) => void) | undefined;
  let sock: import('node:dgram').Socket | undefined;
  if (oscPort !== undefined) {
    const { toBuffer } = await import('osc-min');
    const dgram = await import('node:dgram');
    const udp = dgram.createSocket('udp4');
    sock = udp;
    const port = Number(oscPort);
    sendOsc = (c, v) => {
      const [, owner, name] = c.id.split('.') as [string, string, string];
      const arg = typeof v === 'number' ? { type: 'float', value: v } : typeof v === 'string' ? { type: 'string', value: v } : { type: v ? 'true' : 'false' };
      const dv = toBuffer({ address: `/sbc-audio/sim/${owner}/control`, args: [{ type: 'string', value: name }, arg] as never });
      udp.send(new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength), port, '127.0.0.1');
    };
  }
  // Started before the run's windows (a process started in the middle of one would weigh on it):
  // the storm begins when the bench writes a line to stdin.
  process.stdout.write('READY\n');
  await new Promise<void>((r) => process.stdin.once('data', () => r()));
  let s = 0x2222 >>> 0;
  const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
  const last: Record<string, unknown> = {};
  const t0 = performance.now();
  let sent = 0;
  const total = Math.round(RATE * STORM_S);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
    let chunk = '';
    for (; sent < due; sent++) {
      let x = rnd();
      let c: (typeof STORM)[number] = STORM[0];
      for (const k of STORM) {
        c = k;
        if (x < k.share) break;
        x -= k.share;
      }
      const v = c.values[Math.floor(rnd() * c.values.length)]!;
      last[c.id] = v;
      if (sendOsc) sendOsc(c, v);
      else chunk += `${JSON.stringify({ id: c.id, v })}\n`;
    }
    if (chunk && !process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
    await new Promise((r) => setTimeout(r, 5));
  }
  sock?.close();
  await new Promise<void>((r) => process.stdout.write(`END ${sent} ${JSON.stringify(last)}\n`, () => r()));
}

// ---- the register codes, from the sim-codec's "datasheet" (the header of codecs/sim-codec/model.ts) ----
const VOL_L = 0x01;
const VOL_R = 0x02;
const DAC_CTRL = 0x06;
/** VOL_x: 0x00 = 0 dB, −0.5 dB per code. */
const volCode = (db: number) => Math.round(-db / 0.5);
/** DAC_CTRL.FILTER, bits [2:1]: 0 sharp, 1 slow, 2 low-latency. */
const FILTER_CODE: Record<string, number> = { sharp: 0, slow: 1, 'low-latency': 2 };
/** DAC_CTRL.SOFT_MUTE, bit 0: 1 = muted (the "DAC Playback Switch" off). */

// ---- the run ----

const TRACE_PERIODS = Math.ceil(((2 + BASELINE_S + STORM_S + 30) * 48000) / 128) + 1024;
const { devices, restore: restoreEngineStart } = traceEngineStarts(TRACE_PERIODS);

const dir = mkdtempSync(path.join(tmpdir(), 'sbc-storm-'));
const logLines: string[] = [];
const reports = new Map<string, EngineReport>();
const rt = await openBoard(loadBoard('sim'));
let generator: ChildProcess | undefined;
let failed = false;
try {
  if (rt.hal.clock.kind !== 'monotonic') throw new Error('the sim board is expected on CLOCK_MONOTONIC (board/sim.json: no sim.virtualClock)');
  const service = await startStreamService(rt, {
    runtimeDir: dir, log: (l) => logLines.push(l),
    ringBuffer: { onReport: (ep, r) => reports.set(ep, r) },
  });
  const clock = rt.hal.clock;
  const bus = rt.sim!.simBus(rt.board.codec.bus!) as SimI2cBus;
  bus.logLimit = 1_000_000;
  const regs = (rt.chipModel as { regs: Uint8Array }).regs;
  // The service's own dispatcher and instantiation lock where it has them (as `serve` wires
  // them), else ones made here in front of its control model.
  const own = service as { dispatcher?: ControlDispatcher; instantiation?: InstantiationLock };
  const lock = own.instantiation ?? new InstantiationLock();
  const dispatcher = own.dispatcher ?? new ControlDispatcher(service.controls, {
    instantiation: lock, clock, descriptors: controlDescriptors(rt, true), log: (l) => logLines.push(l),
  });
  const wiring = own.dispatcher ? 'the service\'s dispatcher' : 'a dispatcher made by the bench';
  // The storm's way in: the OSC server (src/osc/server.ts) on a loopback port where it exists,
  // else a pipe. Every set goes through `timed`, which notes when the storm began and how long
  // each answer took.
  const answerMs: number[] = [];
  let beyondBound = 0;
  let received = 0;
  /** Each control's last value the dispatcher got (a datagram the kernel dropped never reaches it). */
  const lastReceived = new Map<string, unknown>();
  let s0: Mark | undefined;
  let markNow: () => Mark = () => { throw new Error('no engine yet'); };
  const timed = {
    set(id: string, v: unknown, o: { source?: string } = {}) {
      s0 ??= markNow();
      received++;
      lastReceived.set(id, v);
      const t = clock.nowNs();
      const p = dispatcher.set(id, v, o);
      void p.then(() => {
        const ms = (clock.nowNs() - t) / 1e6;
        answerMs.push(ms);
        if (ms > DEFAULT_BOUND_MS) beyondBound++;
      });
      return p;
    },
  };
  let osc: OscLike | undefined;
  if (VIA !== 'pipe') {
    const server = await loadOscServer();
    if (server) {
      const pieces = service as { programs?: unknown; configure?: unknown };
      osc = await server.startOscServer({
        bind: { address: '127.0.0.1', port: 0 }, boardName: rt.board.name, model: service.controls, dispatcher: timed,
        programs: pieces.programs ?? { current: () => undefined, load: () => Promise.reject(new Error('no programs in this bench')) },
        configure: pieces.configure ?? { list: () => [], set: () => Promise.reject(new Error('no configure in this bench')) },
        clock, sampleRate: () => 48000, log: (l: string) => logLines.push(l),
      });
    } else if (VIA === 'osc') throw new Error('--via osc: src/osc/server.ts cannot be loaded');
  }
  const via = osc ? `OSC datagrams to 127.0.0.1:${osc.port} (src/osc/server.ts)` : 'a pipe (one JSON line per message; src/osc/server.ts not used)';
  bus.setDelayNs(BUS_DELAY_MS * 1e6);

  // The storm's process, started now and waiting for its go.
  generator = spawn(process.execPath, [
    '--import', 'tsx', SELF, '--generator', '--seconds', String(STORM_S), '--rate', String(RATE), ...(osc ? ['--osc-port', String(osc.port)] : []),
  ], { stdio: ['pipe', 'pipe', 'inherit'] });
  generator.stdout!.setEncoding('utf8');
  let genReady!: () => void;
  const generatorReady = new Promise<void>((r) => { genReady = r; });
  let buf = '';
  let onLine: (line: string) => void = (line) => { if (line === 'READY') genReady(); };
  generator.stdout!.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
    }
  });
  const generatorExit = new Promise<number | null>((resolve, reject) => {
    generator!.on('exit', (code) => resolve(code));
    generator!.on('error', reject);
  });
  await Promise.race([generatorReady, generatorExit.then((c) => { throw new Error(`the storm generator exited (${c}) before it was ready`); })]);

  // The client: a tone on sim.speaker for the whole run (bench/speaker-tone.ts).
  const tone = await playSpeakerTone(dir, 2 + BASELINE_S + STORM_S + 30, devices, clock);
  const engine = tone.engine;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const mark = (): Mark => tone.mark();

  // When each xrun happened (the engine's counters, looked at every 20 ms): which phase it fell in.
  const xrunTimes: number[] = [];
  let xrunsSeen = 0;
  const xrunWatch = setInterval(() => {
    const s = engine.stats();
    const n = s.underruns + s.overruns;
    for (; xrunsSeen < n; xrunsSeen++) xrunTimes.push(clock.nowNs());
  }, 20);
  // Warm-up: V8 optimises the engine's loop. The control paths the storm takes run here once
  // each (a trim ramp, a gain handoff, the DAC settings), so that their first run, which makes V8
  // drop and redo the engine's optimised code, falls before the windows, as in a service that has
  // been running a while.
  for (const [id, v] of [['sim.speaker.trim', -1], ['sim.speaker.gain', -21], ['sim.sim-codec.dac-filter', 'slow'], ['sim.sim-codec.dac-playback-switch', true]] as const) {
    await dispatcher.set(id, v);
    await dispatcher.idle();
  }
  for (const [id, v] of [['sim.speaker.trim', 0], ['sim.speaker.gain', -20], ['sim.sim-codec.dac-filter', 'sharp']] as const) await dispatcher.set(id, v);
  await dispatcher.idle();
  // And a one-second burst at the storm's rate from this process (no configure): the main
  // thread's heap grows to what the storm needs here, not in the storm's first period (growing
  // it maps memory, which the engine thread's page faults wait for: src/engine/worker.ts).
  for (let t = 0, n = 0; t < 200; t++) {
    for (const end = Math.round(((t + 1) * RATE) / 200); n < end; n++) {
      const c = STORM[n % STORM.length]!;
      void dispatcher.set(c.id, JSON.parse(JSON.stringify(c.values[(n * 7) % c.values.length])));
    }
    await sleep(5);
  }
  await dispatcher.idle();
  await sleep(2000);
  const b0 = mark();
  await sleep(BASELINE_S * 1000);
  const b1 = mark();

  // The storm.
  const last = new Map<string, unknown>();
  let endLine = '';
  let configure: Promise<void> | undefined;
  markNow = mark;
  onLine = (line) => {
    if (line.startsWith('END ')) {
      endLine = line;
      const sp = line.indexOf(' ', 4);
      for (const [id, v] of Object.entries(JSON.parse(line.slice(sp + 1)) as Record<string, unknown>)) last.set(id, v);
      return;
    }
    const m = JSON.parse(line) as { id: string; v: unknown };
    void timed.set(m.id, m.v, { source: 'storm' });
  };
  const before = dispatcher.stats(); // the warm-up's sets are not the storm's
  generator.stdin!.write('go\n');
  const stormDone = generatorExit.then((code) => { if (code !== 0) throw new Error(`the storm generator exited with ${code}`); });
  // The configure-like job, in the middle of the storm.
  const configureTimer = setTimeout(() => {
    configure = lock.run('configure (bench: two register reads, then a hold)', async () => {
      await rt.codec.getSetting!('DAC Filter');
      await rt.codec.getSetting!('DAC Playback Switch');
      await sleep(STORM_S * 200);
    });
  }, STORM_S * 400);
  await stormDone;
  clearTimeout(configureTimer);
  await configure;
  const s1 = mark();
  const endNs = s1.ns;
  const logMark = bus.log.length;

  // After the storm: every control's last value on the chip (polled), and the writes it took.
  const lostLast = [...last].filter(([id, v]) => lastReceived.get(id) !== v).map(([id, v]) => `${id} ${String(v)} (received last: ${String(lastReceived.get(id))})`);
  const expected = (): [number, number, string][] => {
    const last = lastReceived;
    const out: [number, number, string][] = [];
    const g = last.get('sim.speaker.gain');
    if (g !== undefined) {
      out.push([VOL_L, volCode(g as number), `VOL_L = ${g} dB`]);
      out.push([VOL_R, volCode(g as number), `VOL_R = ${g} dB`]);
    }
    const f = last.get('sim.sim-codec.dac-filter');
    const sw = last.get('sim.sim-codec.dac-playback-switch');
    if (f !== undefined && sw !== undefined) out.push([DAC_CTRL, (FILTER_CODE[f as string]! << 1) | (sw ? 0 : 1), `DAC_CTRL = filter ${f}, playback switch ${sw ? 'on' : 'off'}`]);
    return out;
  };
  const want = expected();
  // Idle: nothing pending or being written (bounded: a dispatcher that never settles is a failure).
  const settled = await Promise.race([dispatcher.idle().then(() => true), sleep(10_000).then(() => false)]);
  const onChip = settled && want.every(([reg, code]) => regs[reg] === code);
  // The check means something only while the stream plays (stopped, the sim-codec idles muted).
  const stillPlaying = tone.playing();
  const trimNow = (await service.controls.get('sim.speaker.trim')).value;
  const writes = (reg: number) => bus.log.slice(logMark).filter((e) => e.kind === 'write' && e.data.length >= 2 && e.data[0] === reg);
  const ownAfter = [
    { reg: VOL_L, name: 'VOL_L', controls: 1 }, { reg: VOL_R, name: 'VOL_R', controls: 1 }, { reg: DAC_CTRL, name: 'DAC_CTRL', controls: 2 },
  ].map((x) => ({ ...x, writes: writes(x.reg) }));

  clearInterval(xrunWatch);
  await osc?.close();
  await tone.stop();
  await service.close();
  dispatcher.close();
  const report = reports.get('sim.speaker');
  const trace = report?.lateness;
  const window = (a: { periods: number }, b: { periods: number }) => (trace ? percentiles(trace.subarray(a.periods, Math.min(b.periods, trace.length))) : undefined);
  const base = window(b0, b1);
  const storm = s0 ? window(s0, s1) : undefined;
  const xruns = (a: Mark, b: Mark) => b.underruns - a.underruns + b.overruns - a.overruns;
  const ratio = base && storm ? storm.p99 / base.p99 : Number.NaN;
  const total = dispatcher.stats();
  const st = {
    received: total.received - before.received, applied: total.applied - before.applied, coalesced: total.coalesced - before.coalesced,
    queued: total.queued - before.queued, refused: total.refused - before.refused,
    dropped: Object.fromEntries(Object.entries(total.dropped).map(([k, v]) => [k, v - (before.dropped[k] ?? 0)]).filter(([, v]) => v !== 0)),
  };
  answerMs.sort((a, b) => a - b);
  const q = (p: number) => answerMs[Math.min(answerMs.length - 1, Math.floor(p * (answerMs.length - 1)))] ?? Number.NaN;

  const checks: [string, boolean][] = [];
  const check = (what: string, ok: boolean) => { checks.push([what, ok]); if (!ok) failed = true; };
  console.log(`control-storm: sim board on CLOCK_MONOTONIC, sim.speaker playing (engine ${report?.realtime.fifo === 'granted' ? 'SCHED_FIFO' : `SCHED_FIFO ${report?.realtime.fifo ?? '?'}`}, 128-frame periods),`);
  console.log(`  I2C bus ${BUS_DELAY_MS} ms per transfer; storm: ${RATE} sets/s for ${STORM_S} s from a separate process, as ${via}, dispatched on the main thread (${wiring}); baseline ${BASELINE_S} s, same run`);
  const sentN = Number(endLine.split(' ')[1] ?? Number.NaN);
  console.log(`  storm sent ${sentN}, dispatched ${received}; a configure held the instantiation lock from ${(0.4 * STORM_S).toFixed(1)} s to ${(0.6 * STORM_S).toFixed(1)} s of it (plus its two reads)`);
  const steal = stealText;
  console.log('window   | periods | xruns | lateness p50 / p99 / max (fraction of a period) | hypervisor steal (all CPUs)');
  console.log(`baseline | ${b1.periods - b0.periods} | ${xruns(b0, b1)} | ${fmt(base)} | ${steal(b0, b1)}`);
  console.log(`storm    | ${s0 ? s1.periods - s0.periods : 0} | ${s0 ? xruns(s0, s1) : 'n/a'} | ${fmt(storm)} | ${s0 ? steal(s0, s1) : 'n/a'}`);
  if (xrunTimes.length) {
    const at = (t: number) => (s0 && t >= s0.ns ? `storm +${((t - s0.ns) / 1e9).toFixed(2)} s` : `baseline +${((t - b0.ns) / 1e9).toFixed(2)} s`);
    console.log(`  xruns at (±20 ms): ${xrunTimes.map(at).join(', ')}`);
  }
  console.log(`lateness p99 storm / baseline: ${ratio.toFixed(2)} (bound 1.2)`);
  console.log(`dispatcher, storm only: received ${st.received}, applied ${st.applied}, coalesced ${st.coalesced}, queued ${st.queued} (answers after ${DEFAULT_BOUND_MS} ms), refused ${st.refused}, dropped ${JSON.stringify(st.dropped)}`);
  if (osc) {
    const o = osc.stats();
    const bad = Object.entries(o.bad).filter(([, n]) => n > 0);
    console.log(`  OSC server: ${o.packets} datagrams received of ${sentN} sent${sentN > o.packets ? ` (${sentN - o.packets} dropped by the kernel: the socket's receive buffer was full)` : ''}; outcomes ${JSON.stringify(o.outcomes)}; bad input ${bad.length ? JSON.stringify(Object.fromEntries(bad)) : 'none'}`);
  }
  console.log(`  answer times (ms, board clock): p50 ${q(0.5).toFixed(2)}, p99 ${q(0.99).toFixed(2)}, max ${q(1).toFixed(2)}; ${beyondBound} of ${answerMs.length} after the ${DEFAULT_BOUND_MS} ms bound (the main thread's event-loop lag; informational)`);
  console.log(`after the storm: last values ${want.map((w) => w[2]).join('; ')}; trim ${String(lastReceived.get('sim.speaker.trim'))} dB (the model: ${String(trimNow)})`);
  if (lostLast.length) console.log(`  (the last value sent of ${lostLast.join('; ')} never arrived: the values checked are the last ones received)`);
  // When the last of them landed: the last register write after the storm (none: they were there already).
  const lastWriteNs = Math.max(endNs, ...ownAfter.flatMap((o) => o.writes.map((w) => w.atNs)));
  const landedMs = (lastWriteNs - endNs) / 1e6;
  console.log(onChip
    ? `  all on the chip ${landedMs.toFixed(0)} ms (${(landedMs / BUS_DELAY_MS).toFixed(1)} transfer times) after the storm ended`
    : `  NOT on the chip${settled ? '' : ' (the dispatcher did not settle within 10 s)'}: ${want.filter(([reg, code]) => regs[reg] !== code).map(([reg, code, what]) => `${what}: register 0x${reg.toString(16)} holds 0x${regs[reg]!.toString(16)}, expected 0x${code.toString(16)}`).join('; ')}`);
  for (const o of ownAfter) {
    console.log(`  ${o.name}: ${o.writes.length} write(s) after the storm (bound ${2 * o.controls}: ${o.controls} storm control(s) on it, each at most its write in progress and its last value)` +
      (o.writes.length ? `, the last ${((o.writes.at(-1)!.atNs - endNs) / 1e6).toFixed(0)} ms after the end` : ''));
  }
  // One line per 10 s at most: each says how many before it were not logged.
  const handoffMisses = logLines.filter((l) => /landed .* frame\(s\) off its frame/.test(l))
    .reduce((n, l) => n + 1 + Number(/\(and (\d+) more off their frames/.exec(l)?.[1] ?? 0), 0);
  if (handoffMisses) console.log(`  service log: ${handoffMisses} gain register write(s) landed off their frame (the slow bus), a brief step each`);
  check('xruns 0 in the baseline', xruns(b0, b1) === 0);
  check('xruns 0 in the storm', !!s0 && xruns(s0, s1) === 0);
  check('lateness p99 storm / baseline ≤ 1.2', ratio <= 1.2);
  check('every last value on the chip', onChip);
  check('no stale write after the storm', ownAfter.every((o) => o.writes.length <= 2 * o.controls));
  check('the trim\'s last value in force', trimNow === lastReceived.get('sim.speaker.trim'));
  check('nothing refused (every storm value is valid)', st.refused === 0);
  check('the lateness trace covers the run', !!trace && s1.periods <= trace.length);
  check('the client played through the check', tone.error() === undefined && stillPlaying);
  for (const [what, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (failed) console.log(`the service's last log lines:\n  ${logLines.slice(-15).join('\n  ')}${tone.error() ? `\nthe client: ${tone.error()!.message}` : ''}`);
} catch (e) {
  failed = true;
  console.error(`control-storm: ${(e as Error).stack ?? e}`);
  if (logLines.length) console.error(logLines.slice(-20).join('\n'));
} finally {
  if (generator && generator.exitCode === null) generator.kill('SIGTERM');
  restoreEngineStart();
  await rt.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed && !NO_FAIL ? 1 : 0);
