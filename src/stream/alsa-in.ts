/**
 * `serve`'s ALSA way in (docs/alsa-in.md): the loopback card's bridge into one output stream of the
 * board, and the volume element mpd's hardware mixer drives mirrored to that stream's gain.
 * The backends come from the caller (the Linux HAL's in `serve`; simulated ones in tests), so
 * nothing here touches libasound.
 */
import type { LoopbackBackend, UserVolume } from '../hal/loopback.ts';
import type { PcmBackend } from '../hal/pcm.ts';
import type { ControlModel } from '../control/model.ts';
import { AlsaBridge, type AlsaBridgeOptions, GainMirror } from './alsa-bridge.ts';
import type { StreamEndpoint } from './discovery.ts';

export const DEFAULT_ALSA_IN_CARD = 'Loopback';

export interface AlsaInOptions {
  loopback: LoopbackBackend;
  capture: PcmBackend;
  /** The service's endpoints and controls. */
  service: { endpoints: readonly StreamEndpoint[]; controls: ControlModel };
  /** The board's name. */
  board: string;
  /** The stream id ('speaker'); default: the board's first output stream. */
  stream?: string;
  /** The loopback card's id (default Loopback). */
  card?: string;
  /** Add the volume element and mirror it to the stream's gain (default true). */
  mixer?: boolean;
  log?: (line: string) => void;
  bridge?: Partial<Pick<AlsaBridgeOptions, 'latencyMs' | 'tickMs' | 'follow' | 'rateFollower' | 'reportEveryS' | 'nowNs'>>;
}

export interface AlsaIn {
  readonly card: string;
  readonly endpoint: StreamEndpoint;
  readonly bridge: AlsaBridge;
  /** The element mirrored to the gain, where there is one. */
  readonly volume?: UserVolume;
  close(): Promise<void>;
}

export class AlsaInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlsaInError';
  }
}

/** Starts the bridge; AlsaInError (or the backend's LoopbackError) when it cannot. */
export async function startAlsaIn(o: AlsaInOptions): Promise<AlsaIn> {
  const outputs = o.service.endpoints.filter((e) => e.direction === 'output' && !e.name.endsWith('.monitor'));
  const endpoint = o.stream === undefined ? outputs[0] : outputs.find((e) => e.name === `${o.board}.${o.stream}` || e.name === o.stream);
  if (!endpoint) {
    throw new AlsaInError(o.stream === undefined ? `board ${o.board} serves no output stream` : `board ${o.board} serves no output stream "${o.stream}" (outputs: ${outputs.map((e) => e.name.slice(o.board.length + 1)).join(', ') || 'none'})`);
  }
  const cardId = o.card ?? DEFAULT_ALSA_IN_CARD;
  const card = o.loopback.open(cardId);
  const log = o.log ?? (() => {});
  const bridge = new AlsaBridge({ card, capture: o.capture, endpointPath: endpoint.path, stream: endpoint.name, log, ...o.bridge });
  let mirror: GainMirror | undefined;
  let volume: UserVolume | undefined;
  if (o.mixer ?? true) {
    const gainId = `${endpoint.name}.gain`;
    const info = await o.service.controls.get(gainId).catch(() => undefined);
    const range = info?.range;
    if (!info || !range) {
      log(`alsa-in: ${endpoint.name} has no gain control: no mixer element for players`);
    } else {
      // The element's steps are the gain's (0.5 dB where the gain takes any value).
      const step = range.step > 0 ? range.step : 0.5;
      // The top of the element is 0 dB where the gain goes above it: a player's 100 % is the
      // signal as it is (mpd, shairport and the rest assume a volume only attenuates), never a boost.
      const top = Math.min(range.max, 0);
      const steps = Math.round((top - range.min) / step);
      try {
        volume = o.loopback.userVolume(cardId, { channels: 2, min: 0, max: steps, minCdb: Math.round(range.min * 100), stepCdb: Math.round(step * 100) });
        const v = volume;
        mirror = new GainMirror(v, {
          get: () => o.service.controls.get(gainId),
          set: (dB) => o.service.controls.set(gainId, dB),
          onChange: (fn) => o.service.controls.onChange((c) => { if (c.id === gainId && typeof c.value === 'number') fn(c.value); }),
        }, log);
      } catch (e) {
        log(`alsa-in: no mixer element on ${cardId}: ${(e as Error).message}`);
      }
    }
  }
  bridge.start();
  return {
    card: cardId, endpoint, bridge, ...(volume ? { volume } : {}),
    async close() {
      mirror?.close();
      await bridge.close();
    },
  };
}
