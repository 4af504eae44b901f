/**
 * Worker of tests/unit/dssi.test.ts: plays the engine's part (a worker_thread that instantiates,
 * activates, runs and cleans up a DSSI instance) so that the main thread can make the control-class
 * calls on the same instance through attachDssiControl.
 *
 * workerData: { library, label, mode, flags } where flags is an Int32Array over a SharedArrayBuffer:
 * [0] the main thread sets 1 to say "go on", [1] the worker counts its run_synth calls.
 *   mode 'run':      after 'ready' (handle, tid), run_synth 64-frame blocks (a note on, then off)
 *                    until flags[0] is 1; then deactivate, cleanup.
 *   mode 'overlap':  after 'ready', wait for flags[0], wait 50 ms, then deactivate and clean up:
 *                    the main thread is meanwhile inside a slow configure (the negative control:
 *                    an instantiation-class call beside a control-class one, which the RFC forbids).
 *   mode 'alloc':    no main-thread part: count scavenges over `calls` blocks of clear + two events
 *                    + runSynth(64) in a 1 MB young generation; `allocate` adds 64 bytes a call.
 * Posts { kind: 'ready', handle, tid } then { kind: 'done', runs, … }.
 */
import { performance, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { DssiEventBuffer, openDssiPlugin } from '../../src/dsp/dssi.ts';
import { allocPortMemory } from '../../src/dsp/ladspa.ts';
import { testDssiThreadId } from '../support/dssi-fixtures.ts';

const { dir, library, label, mode, flags, calls, allocate } = workerData as {
  dir: string; library: string; label: string; mode: 'run' | 'overlap' | 'alloc'; flags: Int32Array; calls?: number; allocate?: boolean;
};
const FRAMES = 64;

const instance = openDssiPlugin(library, label).instantiate(48000);
// sbc_test_synth's ports: 0 Output, 1 Level, 2 Program Value.
const output = allocPortMemory(FRAMES);
const level = allocPortMemory(1);
const programValue = allocPortMemory(1);
level[0] = 1;
instance.connect(0, output);
instance.connect(1, level);
instance.connect(2, programValue);
instance.activate();
const events = new DssiEventBuffer(8);
const sink: { last: Float64Array | undefined } = { last: undefined };

function block(i: number): void {
  events.clear();
  events.noteOn(3, 0, 60, 100);
  events.noteOff(40 + (i & 7), 0, 60);
  instance.runSynth(FRAMES, events);
  if (allocate) sink.last = new Float64Array(8);
}

if (mode === 'alloc') {
  for (let i = 0; i < 50000; i++) block(i); // warm-up, until V8 has optimised the loop
  const minor: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) minor.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  // Open the window on an empty young generation (as tests/unit/ladspa-worker-child.ts does).
  for (let i = 0; i < 20000; i++) sink.last = new Float64Array(8);
  sink.last = undefined;
  await new Promise((resolve) => setImmediate(resolve));
  const start = performance.now();
  for (let i = 0; i < calls!; i++) block(i);
  const end = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  instance.cleanup();
  parentPort!.postMessage({ kind: 'done', scavenges: minor.filter((t) => t >= start && t <= end).length, output: Array.from(output.subarray(0, 4)) });
} else {
  parentPort!.postMessage({ kind: 'ready', handle: instance.handleAddress, tid: testDssiThreadId(dir) });
  if (mode === 'run') {
    let runs = 0;
    while (Atomics.load(flags, 0) === 0) {
      block(runs++);
      Atomics.store(flags, 1, runs);
    }
    instance.deactivate();
    instance.cleanup();
    parentPort!.postMessage({ kind: 'done', runs });
  } else {
    Atomics.wait(flags, 0, 0, 10000);
    Atomics.wait(flags, 2, 0, 50); // 50 ms, inside the main thread's slow configure
    instance.deactivate();
    instance.cleanup();
    parentPort!.postMessage({ kind: 'done', runs: 0 });
  }
}
