/**
 * The protocol suite's target on the sim board, in-process: the service runs on a virtual clock
 * that advances by itself, so plug times are exact (drive time + the board file's 20 ms debounce).
 * A second board, sim-many-formats (42 ranges), is served in the same runtime directory.
 * Expected values are literals from board/sim.json and codecs/sim-codec (its one-page "datasheet").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import type { ProtocolTarget } from './target.ts';

export async function simTarget(): Promise<ProtocolTarget> {
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-proto-'));
  const clock = new VirtualClock(1e9, true);
  const log: string[] = [];
  let running: { rt: BoardRuntime; svc: StreamService }[] = [];
  let jackPlugged = false;

  const start = async () => {
    for (const name of ['sim', 'sim-many-formats']) {
      const rt = await openBoard(loadBoard(name), { clock });
      const svc = await startStreamService(rt, { runtimeDir, log: (l) => log.push(l) });
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
    gain: { minGain: -127, maxGain: 0, gainStep: 0.5, canMute: true },
    formatCount: 2,
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
