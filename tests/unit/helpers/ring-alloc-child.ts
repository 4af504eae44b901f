/**
 * Runs FrameRing write/read in a steady loop and prints how many minor GCs (scavenges) happened
 * after warm-up. Run with a small young generation so that any per-call allocation shows.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { FrameRing } from '../../../src/ringbuffer/ring.ts';

const allocate = process.argv[2] === 'allocate'; // the control: allocates 64 bytes per period
const ring = FrameRing.createShared(1024, 8);
const src = new Uint8Array(64 * 8).fill(3);
const dst = new Uint8Array(64 * 8);
let sink = 0;
function period(): void {
  ring.write(src, 64);
  ring.read(dst, 64);
  if (allocate) sink += new Uint8Array(64).length;
}
for (let i = 0; i < 200_000; i++) period(); // warm-up: let V8 optimise the loop
let scavenges = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as unknown as { detail: { kind: number } }).detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
});
obs.observe({ entryTypes: ['gc'] });
for (let i = 0; i < 1_000_000; i++) period();
setTimeout(() => { // GC entries are delivered asynchronously
  obs.disconnect();
  process.stdout.write(JSON.stringify({ scavenges, sink }) + '\n');
}, 100);
