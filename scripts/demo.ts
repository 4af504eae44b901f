/**
 * The README's main job, end to end on the sim board (no hardware):
 *
 *   1. start the stream service on the sim board (in this process, real time);
 *   2. play a tone through it as a protocol client (SET_FORMAT, ring-buffer channel, shared buffer);
 *   3. change the gain (SET_GAIN) while it plays;
 *   4. insert the simulated headphone jack (the service's own board runtime: BoardRuntime.setSimJack);
 *   5. show the notifications the client received and the latency breakdown;
 *   6. stop.
 *
 *   node --import tsx scripts/demo.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { latencyBreakdown } from '../src/board/latency.ts';
import { serveBoard } from '../src/cli/wiring.ts';
import type { RingBufferClient } from '../src/stream/client.ts';
import { StreamClient } from '../src/stream/client.ts';
import { playSamples, toneSamples } from '../src/stream/player.ts';

const t0 = Number(process.hrtime.bigint());
const ms = (ns: number) => ((ns - t0) / 1e6).toFixed(1).padStart(7);
const say = (line: string) => console.log(`${ms(Number(process.hrtime.bigint()))} ms  ${line}`);

const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-demo-'));
const served = await serveBoard('sim', { runtimeDir, log: (l) => say(`service: ${l}`) });
const { runtime: rt, service } = served;
const board = rt.board;
say(`1. service: ${service.endpoints.map((e) => e.name).join(', ')} under ${runtimeDir}`);

const endpoint = path.join(runtimeDir, 'audio-output', 'sim.headphone');
// A second client watches plug and gain notifications (an observer never takes the stream).
const watcher = await StreamClient.connect(endpoint);
await watcher.observe();
const plug0 = await watcher.plugDetect('enable');
await watcher.gainNotify(true);
say(`   headphone jack: ${plug0.plugged ? 'plugged' : 'unplugged'} (can notify: ${plug0.canNotify})`);
const notifications: string[] = [];
let plugSentNs = 0;
let plugLatencyNs = NaN;
watcher.on('plug', (p: { plugged: boolean; plugStateTimeNs: number }) => {
  const now = Number(process.hrtime.bigint());
  plugLatencyNs = now - plugSentNs;
  notifications.push(`PLUG_DETECT_NOTIFY ${p.plugged ? 'plugged' : 'unplugged'} at ${(p.plugStateTimeNs / 1e9).toFixed(6)} s (edge → notification ${(plugLatencyNs / 1e6).toFixed(2)} ms incl. the 20 ms debounce)`);
});
watcher.on('gain', (g: { curGain: number; curMute: boolean }) => notifications.push(`EXT_GAIN_CHANGED ${g.curGain} dB${g.curMute ? ' (muted)' : ''}`));

let positions = 0;
let firstPosition = '';
const tone = toneSamples(440, 3, 48000, 2, -12);
say('2. playing a 3 s 440 Hz tone through sim.headphone as a client');
const played = playSamples({
  endpoint, rate: 48000, channels: 2,
  onOpen: ({ stream, ringBuffer, fifoBytes, startTimeNs, frames }) => {
    // 16-bit stereo: 4 bytes a frame; 48 frames a millisecond at 48 kHz.
    say(`   ring buffer: ${frames} frames, FIFO ${fifoBytes} bytes = ${fifoBytes / 4} frames (${(fifoBytes / 4 / 48).toFixed(2)} ms), start_time ${(startTimeNs / 1e9).toFixed(6)} s`);
    (ringBuffer as RingBufferClient).on('position', (p: { ringBufferPos: number; monotonicTimeNs: number }) => {
      positions++;
      if (!firstPosition) firstPosition = `POSITION_NOTIFY ring position ${p.ringBufferPos} bytes (${p.ringBufferPos / 4} frames) at ${((p.monotonicTimeNs - startTimeNs) / 1e6).toFixed(2)} ms after start_time`;
    });
    void (async () => {
      await new Promise((r) => setTimeout(r, 800));
      const g0 = Number(process.hrtime.bigint());
      const before = await stream.getGain();
      const rtt = Number(process.hrtime.bigint()) - g0;
      say(`3. GET_GAIN: ${before.curGain} dB (round trip ${(rtt / 1e3).toFixed(0)} µs); SET_GAIN -20 dB, unmuted`);
      const r = await stream.setGain({ gain: -20, mute: false });
      say(`   SET_GAIN → ${r.curGain} dB, muted ${r.curMute}`);
      await new Promise((res) => setTimeout(res, 700));
      say('4. inserting the simulated headphone jack');
      plugSentNs = Number(process.hrtime.bigint());
      rt.setSimJack(true);
    })();
  },
}, tone);
const r = await played;
say(`   played ${(r.frames / 48000).toFixed(2)} s`);

say('5. notifications the clients received:');
if (firstPosition) console.log(`            ${firstPosition} (and ${positions - 1} more, 4 per ring)`);
for (const n of notifications) console.log(`            ${n}`);
const lat = latencyBreakdown(board, rt.codec, 'output', 48000);
console.log('            latency breakdown (output, 48 kHz):');
// One column for the names, as wide as the longest, so the figures line up whatever an item says.
const latRows: [string, string][] = [
  ['engine FIFO (2 periods of 128 frames)', `${(256 / 48).toFixed(3)} ms`],
  ...lat.items.map((item): [string, string] => [item.what, item.ns === null ? 'unknown' : `${(item.ns / 1e6).toFixed(3)} ms`]),
  ['external delay (SET_FORMAT reports)', `${(lat.totalNs / 1e6).toFixed(3)} ms`],
];
const nameW = Math.max(...latRows.map(([n]) => n.length));
const valueW = Math.max(...latRows.map(([, v]) => v.length));
for (const [n, v] of latRows) console.log(`              ${n.padEnd(nameW)}  ${v.padStart(valueW)}`);

say('6. stopping');
await watcher.close();
await served.close();
rmSync(runtimeDir, { recursive: true, force: true });
