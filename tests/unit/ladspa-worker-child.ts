/**
 * Worker of tests/unit/ladspa.test.ts: loads the LADSPA binding inside a worker_thread (as the
 * engine does), opens cmt's amp_mono, runs it, and counts the garbage collections while it calls
 * run(64) `calls` times. The worker is started with a 1 MB young generation, so garbage at 64
 * bytes a call (12.8 MB over 200,000 calls) forces scavenges; `allocate` adds exactly that (the
 * negative control). Posts { scavenges, otherGcs, youngBytes, output } back.
 */
import { performance, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { allocPortMemory, openPlugin } from '../../src/dsp/ladspa.ts';

const { calls, allocate } = workerData as { calls: number; allocate: boolean };
const FRAMES = 64;
const sink: { last: Float64Array | undefined } = { last: undefined };

const plugin = openPlugin('/usr/lib/ladspa/cmt.so', 'amp_mono');
const instance = plugin.instantiate(48000);
// amp_mono's ports (analyseplugin /usr/lib/ladspa/cmt.so amp_mono): 0 "Gain", 1 "Input", 2 "Output".
const gain = allocPortMemory(1);
const input = allocPortMemory(FRAMES);
const output = allocPortMemory(FRAMES);
gain[0] = 0.5;
for (let i = 0; i < FRAMES; i++) input[i] = i / FRAMES;
instance.connect(0, gain);
instance.connect(1, input);
instance.connect(2, output);
instance.activate();

function loop(n: number): void {
  for (let i = 0; i < n; i++) {
    instance.run(FRAMES);
    if (allocate) sink.last = new Float64Array(8); // 64 bytes per call (plus the array's header)
  }
}

const youngUsed = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? Number.NaN;

// Warm-up: until V8 has optimised the loop, the interpreter may box numbers.
loop(50000);
const minorStarts: number[] = [];
const otherStarts: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR ? minorStarts : otherStarts).push(e.startTime);
  }
});
observer.observe({ entryTypes: ['gc'] });
// Open the window on an empty young generation (a scavenge now), so that leftovers of the warm-up
// cannot tip it into one inside the window.
for (let i = 0; i < 20000; i++) sink.last = new Float64Array(8);
sink.last = undefined;
await new Promise((resolve) => setImmediate(resolve));
const start = performance.now();
const youngStart = youngUsed();
loop(calls);
const youngEnd = youngUsed();
const end = performance.now();
// GC entries are delivered asynchronously: let them arrive before counting.
await new Promise((resolve) => setTimeout(resolve, 50));
observer.disconnect();
const inWindow = (t: number) => t >= start && t <= end;
instance.deactivate();
instance.cleanup();
parentPort!.postMessage({
  scavenges: minorStarts.filter(inWindow).length,
  otherGcs: otherStarts.filter(inWindow).length,
  youngBytes: youngEnd - youngStart,
  output: Array.from(output.subarray(0, 4)),
});
