/**
 * The protocol suite's target on the sim board, in-process: the service runs on a virtual clock
 * that advances by itself, so plug times are exact (drive time + the board file's 20 ms debounce).
 * A second board, sim-many-formats (42 ranges), and a third, pimoroni-phat-dac-sim (a delay with
 * no figure), are served in the same runtime directory.
 * Expected values are literals from board/sim.json and codecs/sim-codec (its one-page "datasheet").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import type { EngineReport } from '../../src/engine/types.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { bytesToS16 } from '../hil/lib/bitexact.ts';
import { PausableClock } from './pausable-clock.ts';
import type { ProtocolTarget } from './target.ts';

export async function simTarget(): Promise<ProtocolTarget> {
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-proto-'));
  const clock = new PausableClock();
  const log: string[] = [];
  const reports: { endpoint: string; report: EngineReport }[] = [];
  const reportWaiters = new Set<() => void>();
  const engineOf = (stream: string) => {
    for (const { svc } of running) for (const e of svc.ringBuffers) if (e.endpoint === stream && !e.isClosed) return e;
    throw new Error(`no live ring-buffer engine on ${stream}`);
  };
  let running: { rt: BoardRuntime; svc: StreamService }[] = [];
  let jackPlugged = false;

  const start = async () => {
    for (const name of ['sim', 'sim-many-formats', 'pimoroni-phat-dac-sim']) {
      const rt = await openBoard(loadBoard(name), { clock });
      const svc = await startStreamService(rt, {
        runtimeDir, log: (l) => log.push(l),
        ringBuffer: {
          recordFrames: 48000 * 60,
          onReport: (endpoint, report) => {
            reports.push({ endpoint, report });
            for (const w of reportWaiters) w();
          },
        },
      });
      running.push({ rt, svc });
    }
    if (jackPlugged) running[0]!.rt.setSimJack(true);
  };
  const stop = async () => {
    for (const { rt, svc } of running) {
      await svc.close();
      await rt.close();
    }
    running = [];
  };
  await start();

  return {
    name: 'sim board (in-process, virtual clock)',
    runtimeDir,
    endpoints: { output: ['sim.headphone', 'sim.speaker'], input: ['sim.mic'] },
    jackStream: 'sim.headphone',
    hardwiredStream: 'sim.speaker',
    sharedGainStream: 'sim.speaker',
    fixedGainStream: 'sim.mic',
    manyFormats: { stream: 'sim-many-formats.headphone', count: 42 },
    // The PCM5102A's filter delay has no published figure (codecs/pcm5102a/FACTS.md) and the
    // board file gives none: 0 ns known, one item unknown.
    unknownDelay: { stream: 'pimoroni-phat-dac-sim.line-out', fps: 48000, knownNs: 0, unknownCount: 1, unknownMatches: /PCM5102A/ },
    gain: { minGain: -127, maxGain: 0, gainStep: 0.5, canMute: true },
    formatCount: 2,
    formatWalk: true,
    // 8 frames of DAC filter delay at 48 kHz (166 666.7 ns) + 2000 ns analog path = 168 667 ns.
    format: { fps: 48000, sampleFormat: 1 << 2, channels: 2, externalDelayNs: 168667 },
    rateNotOffered: 47999,
    manufacturer: 'sbc-audio (simulation)',
    products: {
      'sim.headphone': 'sim headphone (headphone, Simulated stand-in codec)',
      'sim.speaker': 'sim speaker (speaker, Simulated stand-in codec)',
      'sim.mic': 'sim mic (microphone, Simulated stand-in codec)',
    },
    // First 16 bytes of SHA-256("sbc-audio stream\0sim\0<id>"), computed with sha256sum.
    uniqueIds: {
      'sim.headphone': '3adfee304df56a013a183c4b4e755b56',
      'sim.speaker': '9ef89f8f1956be3abfa239f927371456',
      'sim.mic': '5a9d48b91ccbecb9409f33e8f041699c',
    },
    clockDomain: 0,
    rb: {
      stream: 'sim.headphone',
      timingStream: 'sim.speaker',
      // 2 periods of 128 frames (2667 µs at 48 kHz) × 4 bytes (S16 stereo).
      fifoBytes: 1024,
      periodFrames: 128,
      clockPpbTolerance: 0,
      killMode: 'prefill',
    },
    sleepNs(ns) {
      const until = clock.nowNs() + ns;
      return new Promise((resolve) => {
        const poll = () => (clock.nowNs() >= until ? resolve() : setTimeout(poll, 1));
        clock.setTimerNs(until, () => {});
        poll();
      });
    },
    async captureOutput(stream) {
      const from = reports.length;
      return {
        stop: () => new Promise<Int16Array>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no engine report of ${stream} within 20 s`)), 20000);
          const check = () => {
            const r = reports.slice(from).find((x) => x.endpoint === stream);
            if (!r) return;
            reportWaiters.delete(check);
            clearTimeout(timer);
            resolve(bytesToS16(r.report.record ?? new Uint8Array(0)));
          };
          reportWaiters.add(check);
          check();
        }),
      };
    },
    holdClock: () => clock.hold(),
    releaseClock: () => clock.release(),
    ringBufferChannels(stream) {
      let n = 0;
      for (const { svc } of running) {
        const core = svc.cores.get(stream);
        if (core?.ringBufferChannel()) n++;
      }
      return n;
    },
    async stallEngine(stream, ns) {
      await engineOf(stream).simulateStall(ns);
    },
    async failEngine(stream) {
      await engineOf(stream).simulateFailure();
    },
    jackDebounceNs: 20_000_000,
    exactPlugTimes: true,
    nowNs: () => clock.nowNs(),
    async setJack(plugged) {
      jackPlugged = plugged;
      const drivenAtNs = clock.nowNs();
      running[0]!.rt.setSimJack(plugged);
      return { drivenAtNs };
    },
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}
