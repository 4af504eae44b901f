/**
 * The engine's audio thread (a worker_thread started by src/engine/driver.ts through tsWorker).
 *
 * It opens its own PCM streams (HAL objects cannot cross threads), loads the host module, asks
 * for SCHED_FIFO and, where allowed, locked memory, then runs the period loop until the control
 * block says stop, the host returns false, or the frame limit is reached. The main thread talks
 * to it only through the control block (Atomics: no message is read while the loop runs) and
 * reads its messages: ready, latency, host-message, done, failed.
 *
 * Standby (issue 26): a worker started ahead of use (EngineWorkerPool, src/engine/driver.ts) gets
 * a WorkerStandby instead of a WorkerInit. It loads its modules — its own, the PCM backend's and
 * the host module's, which is where a start's time goes (hundreds of ms run through tsx) — says
 * 'loaded', and waits for the WorkerInit as a message; from there on it runs as any other.
 *
 * Garbage-collector accounting: a PerformanceObserver counts 'gc' entries of the minor kind
 * (scavenges), and apart the others, whose start falls inside the measurement window (warm-up
 * end → loop end); when a young generation limit is set the window opens after a full
 * collection (collectGarbage, below). Entries
 * are delivered on the event loop, which the blocking loop does not run, so they are read after
 * the loop; their timestamps, not their arrival, place them in the window. The young
 * generation's used bytes at both ends give the bytes allocated when no scavenge happened.
 */
import { PerformanceObserver, constants as perfConstants, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isCompiled } from '../util/package-files.ts';
import { parentPort, workerData } from 'node:worker_threads';
import type { PcmStream, SampleFormat } from '../hal/pcm.ts';
import { buildBackend, type ResolvedDevice } from './devices.ts';
import { EngineError, asEngineError } from './errors.ts';
import { CTRL, PeriodLoop, STATE_STOPPED, STATE_STOPPING } from './loop.ts';
import { ThreadCpuClock, applyRealtime } from './realtime.ts';
import { type SimCaptureSpec, simCaptureSource } from './sim-signals.ts';
import type { EngineReport, Host, HostContext, HostFactory, HostModuleRef, LatencyInfo, NegotiatedConfig, RealtimeOutcome, StopReason } from './types.ts';

export interface WorkerRunOptions {
  stopAfterFrames?: number;
  warmupPeriods?: number;
  /** Stop by itself after this many periods past the warm-up. */
  measurePeriods?: number;
  /** Minimum wall time of the warm-up, ms. */
  warmupMs?: number;
  /** Capacity of the lateness trace (0: none). */
  latenessTrace?: number;
  /** The young generation's limit the worker was given (an allocation measurement: see collectGarbage). */
  youngGenerationMb?: number;
  realtime: { fifo: boolean; mlock: boolean; priority?: number };
  sim?: { capture?: SimCaptureSpec; recordFrames?: number };
}

export interface WorkerInit {
  device: ResolvedDevice;
  config: NegotiatedConfig;
  latency: LatencyInfo;
  /** `path` already absolute (or a file: URL). */
  host: HostModuleRef;
  control: SharedArrayBuffer;
  run: WorkerRunOptions;
}

/** The workerData of a worker started ahead of use: what to load while it waits for its WorkerInit. */
export interface WorkerStandby {
  standby: {
    /** The PCM backend whose modules to load ('sim' also loads the linked clock). */
    backend: 'sim' | 'alsa';
    /** Host modules to load (absolute paths or file: URLs), as loadHost will import them. */
    hosts: string[];
  };
}

/** What the starting thread posts to a standby worker: the start it is taken for. */
export interface WorkerStart {
  type: 'init';
  init: WorkerInit;
}

export type WorkerMessage =
  | { type: 'loaded' }
  | { type: 'ready'; realtime: RealtimeOutcome }
  | { type: 'latency'; latency: LatencyInfo }
  | { type: 'host-message'; data: unknown }
  | { type: 'done'; report: EngineReport }
  | { type: 'failed'; error: { code: EngineError['code']; message: string } };

const port = parentPort!;
let init: WorkerInit;

function post(m: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

/** A host module's namespace (a standby worker imports it ahead: the second import is the cached one). */
async function importHost(hostPath: string): Promise<Record<string, unknown>> {
  const url = hostPath.startsWith('file:') ? hostPath : pathToFileURL(hostPath).href;
  // A host written in TypeScript (`run --host my-host.ts`) loaded by the compiled package,
  // which started this worker without tsx: tsx is registered for it here, and only then.
  if (isCompiled(import.meta.url) && /\.[cm]?ts$/.test(new URL(url).pathname)) (await import('tsx/esm/api')).register();
  return (await import(url)) as Record<string, unknown>;
}

async function loadHost(ref: HostModuleRef, ctx: HostContext): Promise<Host> {
  let mod: Record<string, unknown>;
  try {
    mod = await importHost(ref.path);
  } catch (e) {
    throw new EngineError('invalid-argument', `cannot load host module ${ref.path}: ${(e as Error).message}`);
  }
  const name = ref.exportName ?? 'createHost';
  const factory = mod[name] as HostFactory | undefined;
  if (typeof factory !== 'function') {
    throw new EngineError('invalid-argument', `host module ${ref.path} exports no function "${name}" (exports: ${Object.keys(mod).join(', ') || 'none'})`);
  }
  const host = await factory(ctx);
  if (!host || typeof host.process !== 'function') throw new EngineError('invalid-argument', `host factory ${name} of ${ref.path} returned no object with a process() method`);
  return host;
}

async function openStream(backend: Awaited<ReturnType<typeof buildBackend>>['backend'], name: string, direction: 'playback' | 'capture', format: string, channels: number): Promise<PcmStream> {
  const c = init.config;
  try {
    return await backend.open(name, {
      direction, rate: c.rate, channels, format: format as SampleFormat, periodFrames: c.bufferFrames,
      bufferFrames: c.bufferFrames * c.periods, startThreshold: Infinity, availMin: c.bufferFrames,
    });
  } catch (e) {
    throw asEngineError(e, 'device', `open ${direction} ${name}`);
  }
}

async function main(): Promise<void> {
  const { device, config, run } = init;
  const streams: { capture?: PcmStream; playback?: PcmStream } = {};
  let host: Host | undefined;
  let loop: PeriodLoop | undefined;
  let realtime: RealtimeOutcome = { fifo: 'not-requested', mlock: 'not-requested' };
  let minorGcStarts: number[] = [];
  let otherGcStarts: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) minorGcStarts.push(e.startTime);
      else otherGcStarts.push(e.startTime);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const { backend, clock } = await buildBackend(device, run.sim?.recordFrames ?? 0);
    if (device.backend === 'sim' && run.sim?.capture && device.capture) {
      const source = simCaptureSource(run.sim.capture);
      if (source) (backend as import('../hal/sim/pcm.ts').SimPcmBackend).setCaptureSourceInPlace(device.capture, source);
    }
    if (config.inputChannels > 0) {
      if (!device.capture) throw new EngineError('unsupported', `device ${device.name} has no capture stream`);
      streams.capture = await openStream(backend, device.capture, 'capture', config.pcmFormat.input!, config.inputChannels);
    }
    if (config.outputChannels > 0) {
      if (!device.playback) throw new EngineError('unsupported', `device ${device.name} has no playback stream`);
      streams.playback = await openStream(backend, device.playback, 'playback', config.pcmFormat.output!, config.outputChannels);
    }

    let resetHook = () => {};
    const ctx: HostContext = {
      config, latency: init.latency, options: init.host.options,
      requestReset: () => resetHook(),
      post: (data) => post({ type: 'host-message', data }),
    };
    host = await loadHost(init.host, ctx);

    // Measurement window marks, written without allocating: [start wall, end wall, start thread cpu, end thread cpu].
    const wall = new (await import('../hal/linux/clock.ts')).MonotonicClock();
    const threadCpu = await ThreadCpuClock.create();
    const marks = new Float64Array(4).fill(Number.NaN);
    let cpuStart: NodeJS.CpuUsage | undefined;
    let youngStart = 0;
    const perfOffsetNs = wall.nowNs() - performance.now() * 1e6;
    let latenessTrace: Float64Array | undefined;
    if (run.latenessTrace && run.latenessTrace > 0) latenessTrace = new Float64Array(run.latenessTrace);

    loop = new PeriodLoop(streams, config, host, ctrl, clock, init.latency, {
      stopAfterFrames: run.stopAfterFrames,
      latenessTrace,
      onLatency: (latency) => post({ type: 'latency', latency }),
    });
    const l = loop;
    resetHook = () => l.requestReset();

    const rtWanted = device.backend === 'alsa' || device.simClock !== 'virtual';
    realtime = await applyRealtime({ fifo: rtWanted && run.realtime.fifo, mlock: rtWanted && run.realtime.mlock, priority: run.realtime.priority });
    post({ type: 'ready', realtime });
    loop.start();
    let reason: StopReason | 'phase' = 'phase';
    let windowPeriods = 0;
    let windowXruns = 0;
    try {
      // Warm-up, then a settling phase: the loop is entered afresh after the warm-up, and this
      // lets V8 compile it as a whole function (not only on-stack) before the window opens.
      // On a virtual clock periods cost no wall time, so the warm-up also lasts `warmupMs` of
      // wall time: V8 compiles the loop on a background thread, and that takes real time.
      const warmup = run.warmupPeriods ?? 0;
      const warmupEndNs = wall.nowNs() + (run.warmupMs ?? 0) * 1e6;
      if (warmup > 0) reason = loop.run(warmup);
      while (reason === 'phase' && warmup > 0 && wall.nowNs() < warmupEndNs) reason = loop.run(loop.periods + Math.ceil(warmup / 4));
      if (reason === 'phase' && warmup > 0) reason = loop.run(loop.periods + Math.ceil(warmup / 4));
      loop.clearTrace();
      // Measuring allocation (a young generation limit was asked for): the window opens on an
      // empty young generation and a fresh old one. Otherwise garbage the warm-up left (its
      // unoptimised periods make a heap number each) fills the young generation nearly, and a
      // few bytes allocated once in the window — not per period — tip it into a scavenge the
      // check counts (seen once in a CI run: 1 scavenge, the young generation 697 kB lower at the
      // end than at the start); and a major collection the warm-up's promotions started may end
      // in the window, emptying the young generation (seen: 0 scavenges, 994 kB lower). A full
      // collection, not a scavenge: a scavenge keeps what is alive in the young generation.
      if (run.youngGenerationMb) collectGarbage();
      cpuStart = process.cpuUsage();
      youngStart = youngUsed();
      if (threadCpu) marks[2] = threadCpu.nowNs();
      marks[0] = wall.nowNs();
      windowPeriods = -loop.periods;
      windowXruns = -(loop.underruns + loop.overruns);
      if (reason === 'phase') {
        reason = run.measurePeriods ? loop.run(loop.periods + run.measurePeriods) : loop.run();
        if (reason === 'phase') reason = 'frames';
      }
      windowPeriods += loop.periods;
      windowXruns += loop.underruns + loop.overruns;
    } finally {
      marks[1] = wall.nowNs();
      if (threadCpu) marks[3] = threadCpu.nowNs();
    }
    const youngEnd = youngUsed();
    const cpu = cpuStart ? process.cpuUsage(cpuStart) : undefined;
    Atomics.store(ctrl, CTRL.STATE, STATE_STOPPING);
    if (reason === 'host' || reason === 'frames') await loop.drain();
    else loop.dropAll();

    // Let the observer deliver the entries of the window.
    await new Promise((r) => setTimeout(r, 20));
    observer.disconnect();
    const windowStartMs = (marks[0]! - perfOffsetNs) / 1e6;
    const windowEndMs = (marks[1]! - perfOffsetNs) / 1e6;
    const scavenges = Number.isNaN(marks[0]!) ? Number.NaN : minorGcStarts.filter((t) => t >= windowStartMs && t <= windowEndMs).length;
    const otherGcs = Number.isNaN(marks[0]!) ? Number.NaN : otherGcStarts.filter((t) => t >= windowStartMs && t <= windowEndMs).length;
    minorGcStarts = [];
    otherGcStarts = [];

    let record: Uint8Array | undefined;
    if (device.backend === 'sim' && device.playback && (run.sim?.recordFrames ?? 0) > 0) {
      const rec = (backend as import('../hal/sim/pcm.ts').SimPcmBackend).records.get(device.playback);
      if (rec) record = rec.bytes().slice();
    }
    const report: EngineReport = {
      reason: reason as StopReason, periods: loop.periods, frames: loop.frames, underruns: loop.underruns, overruns: loop.overruns, resets: loop.resets,
      timeouts: loop.timeouts, realtime, scavenges, otherGcs, youngBytes: youngEnd - youngStart, measuredPeriods: windowPeriods, windowXruns,
      cpuMicros: cpu ? cpu.user + cpu.system : Number.NaN,
      threadCpuNs: marks[3]! - marks[2]!,
      wallNs: marks[1]! - marks[0]!,
      latency: loop.currentLatency(),
    };
    const lateness = loop.latenessSamples();
    if (lateness) report.lateness = lateness;
    if (record) report.record = record;
    closeAll(streams, host);
    Atomics.store(ctrl, CTRL.STATE, STATE_STOPPED);
    const transfer: ArrayBuffer[] = [];
    if (record) transfer.push(record.buffer as ArrayBuffer);
    if (lateness) transfer.push(lateness.buffer as ArrayBuffer);
    post({ type: 'done', report }, transfer);
  } catch (e) {
    observer.disconnect();
    loop?.dropAll();
    closeAll(streams, host);
    Atomics.store(ctrl, CTRL.STATE, STATE_STOPPED);
    const err = asEngineError(e, e instanceof Error && /PCM|ALSA|alsa/.test(e.message) ? 'backend' : 'generic', 'engine');
    post({ type: 'failed', error: err.toWire() });
  }
}

/**
 * A full collection now, through V8's `gc` function: exposed by flag after start-up (the flag is
 * process-wide and only adds a `gc` global to contexts created later), taken from a new context.
 * Used only where an allocation measurement was asked for (run.youngGenerationMb).
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as ((options?: { type: 'minor' | 'major' }) => void) | undefined;
  if (typeof gc !== 'function') throw new EngineError('generic', 'engine: V8 gave no gc function for the allocation measurement (--expose-gc)');
  gc({ type: 'major' });
}

function youngUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? Number.NaN;
}

function closeAll(streams: { capture?: PcmStream; playback?: PcmStream }, host: Host | undefined): void {
  for (const s of [streams.capture, streams.playback]) {
    try {
      s?.close();
    } catch {
      // Closing is best effort: the worker is ending.
    }
  }
  try {
    host?.dispose?.();
  } catch {
    // A host that fails to clean up must not hide the report.
  }
}

/**
 * A standby worker's loading: the modules a start imports on demand (buildBackend's backend and
 * clocks, realtime.ts's and ThreadCpuClock's libc binding, the host), so that they are cached
 * when the start comes. Best effort: a module that fails to load here fails again, with its
 * message, in the start that needs it.
 */
async function preload(s: WorkerStandby['standby']): Promise<void> {
  const tries: (() => Promise<unknown>)[] = [
    () => import('../hal/linux/clock.ts'),
    () => import('../hal/linux/libc.ts'),
    ...(s.backend === 'sim' ? [() => import('../hal/sim/index.ts'), () => import('./linked-clock.ts')] : [() => import('../hal/linux/index.ts')]),
    ...s.hosts.map((h) => () => importHost(h)),
  ];
  for (const t of tries) await t().catch(() => undefined);
}

const data = workerData as WorkerInit | WorkerStandby;
if ('standby' in data) {
  // Listening before loading: a start taken while the modules still load is queued, not lost.
  const start = new Promise<WorkerInit>((resolve) => port.once('message', (m: WorkerStart) => resolve(m.init)));
  await preload(data.standby);
  post({ type: 'loaded' });
  init = await start;
} else {
  init = data;
}
const ctrl = new Int32Array(init.control);
await main();
