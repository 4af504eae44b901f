/**
 * Child of bench/alsa-write.ts: our libasound write loop, as the engine's worker runs it
 * (snd_pcm_wait for a period of room, then a non-blocking write of one period from a reused buffer).
 * Prints one JSON line: CPU ms of this process during the loop, audio seconds written, wall ms,
 * underruns recovered from.
 *
 * Usage: node --import tsx bench/alsa-write-loop.ts DEVICE rw|mmap PERIOD BUFFER SECONDS
 */
import { AlsaPcmBackend } from '../src/hal/linux/alsa/pcm-backend.ts';
import { PcmXrunError } from '../src/hal/pcm.ts';

const [device = 'null', access = 'rw', period = '256', buffer = '1024', seconds = '60'] = process.argv.slice(2);
const rate = 48000;
const stream = await new AlsaPcmBackend().open(device, {
  direction: 'playback', rate, channels: 2, format: 'S16_LE', periodFrames: Number(period), bufferFrames: Number(buffer), access: access as 'rw' | 'mmap',
});
const p = stream.config.periodFrames;
const buf = new Uint8Array(p * stream.config.frameBytes);
for (let i = 0; i < buf.length; i++) buf[i] = (i * 7) & 0xff;
const totalFrames = Math.round(Number(seconds) * rate);

// The first fifth of the audio warms the JIT up and is not measured: the figure is the
// steady-state cost of a long-running loop.
const warmFrames = Math.floor(totalFrames / 5);
let cpu0 = process.cpuUsage();
let t0 = performance.now();
let written = 0;
let measuredFrom = -1;
let xruns = 0;
while (written < totalFrames) {
  if (measuredFrom < 0 && written >= warmFrames) {
    measuredFrom = written;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
  }
  // Wait for a period of room (at once when there is), then write it: one poll and one write a
  // period on a paced device, as the engine's worker does.
  stream.waitSync(1000);
  try {
    written += stream.write(buf, Math.min(p, totalFrames - written));
  } catch (e) {
    // As aplay does: note the underrun, recover, go on.
    if (!(e instanceof PcmXrunError)) throw e;
    xruns++;
    stream.recover();
  }
}
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - t0;
stream.close();
console.log(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, audioSeconds: (written - measuredFrom) / rate, wallMs, periodFrames: p, bufferFrames: stream.config.bufferFrames, xruns }));
