/**
 * Guest only: the stream protocol suite (tests/protocol/suite.ts) against the service on real
 * kernel interfaces — a board made of an i2c-stub PCM5122 (0x4c, banked by page) and a gpio-sim
 * jack line (line 2, 5 ms debounce). Toggling the line's pull is the headphone plug going in and
 * out; the notifications must carry the kernel's event time (R-PLUG-4).
 *
 * Expected values are literals from the PCM5122 description (codecs/pcm5122: -103..+24 dB in
 * 0.5 dB steps with a mute code; 20 frames of group delay with the normal filter) and from the
 * board file written below.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../../src/board/runtime.ts';
import type { EngineReport } from '../../../src/engine/types.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { type StreamService, startStreamService } from '../../../src/stream/service.ts';
import { defineProtocolSuite } from '../../protocol/suite.ts';
import type { ProtocolTarget } from '../../protocol/target.ts';
import { hilEnv } from '../env.ts';
import { bytesToS16 } from '../lib/bitexact.ts';
import { GpioSimPeer, run } from '../peers.ts';
import { runPeer, waitForRunning } from './alsa-peers.ts';

const env = hilEnv();
const ADDR = 0x4c;
const JACK_LINE = 2;
const BOARD = 'guest-pcm5122';

async function guestTarget(): Promise<ProtocolTarget> {
  const i2c = env.i2c!;
  const gpio = env.gpio!;
  const peer = new GpioSimPeer(gpio.simDir!);
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-guest-proto-'));
  const runtimeDir = path.join(dir, 'run');
  const boardFile = path.join(dir, `${BOARD}.json`);
  writeFileSync(boardFile, JSON.stringify({
    name: BOARD,
    description: 'HIL guest: PCM5122 on i2c-stub, headphone jack on a gpio-sim line',
    manufacturer: 'sbc-audio HIL guest',
    hal: 'linux',
    codec: { part: 'pcm5122', bus: i2c.bus, address: `0x${ADDR.toString(16)}`, options: { filter: 'normal' } },
    gpio: { 'jack-detect': { chip: gpio.chip, line: JACK_LINE, activeLow: false, bias: 'as-is', debounceUs: 5000 } },
    streams: [
      { id: 'headphone', direction: 'output', purpose: 'headphone', pcm: 'hw:Loopback,0,0', plug: 'jack-detect' },
      { id: 'line-out', direction: 'output', purpose: 'line-out', pcm: 'hw:Dummy', plug: 'hardwired' },
    ],
  }));
  const clock = monotonicClock();
  const i2cset = (reg: number, value: number) => run('i2cset', ['-y', String(i2c.bus), `0x${ADDR.toString(16)}`, `0x${reg.toString(16)}`, `0x${value.toString(16)}`]);
  let running: { rt: BoardRuntime; svc: StreamService } | undefined;
  // Which path silenced a vanished client (R-RB-12), for the HIL log: the service's own line.
  const showClientGone = (line: string) => {
    if (/client is gone/.test(line)) console.log(`      service: ${line}`);
  };
  // An engine's xruns skip frames (R-EXT-5): shown, since they move the audio in a capture.
  const showXruns = (endpoint: string, r: EngineReport) => {
    if (r.underruns + r.overruns > 0) console.log(`      service: ${endpoint}: the engine had ${r.underruns} underruns, ${r.overruns} overruns`);
  };

  const start = async () => {
    // i2c-stub models no chip: page 0, and the registers init touches, from zero (analog mute detect 0 = settled).
    await i2cset(0x00, 0x00);
    for (const reg of [0x02, 0x03, 0x2b, 0x3d, 0x3e, 0x6c]) await i2cset(reg, 0x00);
    const rt = await openBoard(loadBoard(boardFile));
    running = { rt, svc: await startStreamService(rt, { runtimeDir, log: showClientGone, ringBuffer: { periodUs: 10000, periods: 3, onReport: showXruns } }) };
  };
  const stop = async () => {
    if (!running) return;
    await running.svc.close();
    await running.rt.close();
    running = undefined;
  };
  // The shared buffers live in /dev/shm; the guest's busybox /init mounts devtmpfs at /dev but no
  // tmpfs at /dev/shm (tests/hil/guest-init.sh: see the report to the lead).
  if (!existsSync('/dev/shm')) mkdirSync('/dev/shm', { mode: 0o1777 });
  if (!readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/dev/shm')) await run('mount', ['-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', '/dev/shm']);
  await peer.drive(JACK_LINE, 0); // unplugged before the service starts
  await start();

  return {
    name: 'guest: i2c-stub PCM5122 + gpio-sim jack',
    runtimeDir,
    endpoints: { output: [`${BOARD}.headphone`, `${BOARD}.line-out`], input: [] },
    jackStream: `${BOARD}.headphone`,
    hardwiredStream: `${BOARD}.line-out`,
    sharedGainStream: `${BOARD}.line-out`,
    gain: { minGain: -103, maxGain: 24, gainStep: 0.5, canMute: true },
    formatCount: 2,
    // 20 frames of interpolation filter delay at 48 kHz = 416 666.7 ns; the board file adds no analog delay.
    format: { fps: 48000, sampleFormat: 1 << 2, channels: 2, externalDelayNs: 416667 },
    rateNotOffered: 47999,
    printTimings: true,
    manufacturer: 'sbc-audio HIL guest',
    products: {
      [`${BOARD}.headphone`]: `${BOARD} headphone (headphone, PCM5122 stereo DAC)`,
      [`${BOARD}.line-out`]: `${BOARD} line-out (line-out, PCM5122 stereo DAC)`,
    },
    uniqueIds: {},
    clockDomain: 1,
    rb: {
      stream: `${BOARD}.headphone`,
      timingStream: `${BOARD}.line-out`,
      // 3 periods of 480 frames (10 ms at 48 kHz) × 4 bytes (S16 stereo).
      fifoBytes: 5760,
      periodFrames: 480,
      // hw:Dummy and snd-aloop are paced by kernel timers on CLOCK_MONOTONIC's timeline; TCG jitter only.
      clockPpbTolerance: 5_000_000,
      killMode: 'ahead',
    },
    sleepNs: (ns) => new Promise((resolve) => setTimeout(resolve, ns / 1e6)),
    async captureOutput() {
      const file = path.join(dir, `capture-${Date.now()}.raw`);
      const rec = runPeer('arecord', ['-D', 'hw:Loopback,1,0', '-f', 'S16_LE', '-c', '2', '-r', '48000', '-t', 'raw', file], 120000);
      await waitForRunning('Loopback', 1, 'c', 0);
      return {
        async stop() {
          await new Promise((r) => setTimeout(r, 200));
          rec.child.kill('SIGINT');
          await rec.done;
          // arecord reports lost frames ("overrun!!!") on stderr: show them, they explain a gap.
          if (/overrun/i.test(rec.stderr())) console.log(`      arecord: ${rec.stderr().trim().replace(/\s*\n\s*/g, '; ')}`);
          return bytesToS16(new Uint8Array(readFileSync(file)));
        },
      };
    },
    holdClock() {},
    releaseClock() {},
    ringBufferChannels(stream) {
      return running?.svc.cores.get(stream)?.ringBufferChannel() ? 1 : 0;
    },
    async failEngine(stream) {
      for (const e of running!.svc.ringBuffers) if (e.endpoint === stream && !e.isClosed) return e.simulateFailure();
      throw new Error(`no live engine on ${stream}`);
    },
    jackDebounceNs: 5_000_000,
    exactPlugTimes: false,
    nowNs: () => clock.nowNs(),
    async setJack(plugged) {
      const drivenAtNs = clock.nowNs();
      await peer.drive(JACK_LINE, plugged ? 1 : 0); // the sysfs write raises the edge synchronously
      return { drivenAtNs };
    },
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await peer.drive(JACK_LINE, 0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('stream protocol suite: guest (i2c-stub PCM5122 + gpio-sim jack)', function () {
  this.timeout(60000);
  const ready = env.tier === 'guest' && env.i2c?.pcm5122Addrs.includes(ADDR) && env.gpio?.simDir !== undefined && env.alsa.loopbackPlayback && env.alsa.dummy;
  if (!ready) {
    it('needs the QEMU guest (tests/hil/run-vm.sh)', function () { this.skip(); }); // reason: outside the guest there is no i2c-stub/gpio-sim board to serve
    return;
  }
  defineProtocolSuite(guestTarget);
});
