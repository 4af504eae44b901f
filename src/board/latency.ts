/**
 * External delay: the sound's delay outside the PCM buffer for one direction and rate, itemised
 * with sources: the codec's filter group delay for the configured filter mode (the driver's
 * `latency()`), then the board's analog delays. The stream service reports `totalNs` as
 * external_delay_nsec. It lives in the board layer because it needs the board file; the codec
 * layer never imports src/board.
 */
import type { CodecDriver, LatencyItem } from '../codec/types.ts';
import type { Board } from './schema.ts';

export interface ExternalDelay {
  direction: 'output' | 'input';
  rate: number;
  items: LatencyItem[];
  /** Sum of the known items, ns (unknown items count as 0: see `unknown`). */
  totalNs: number;
  /** Sum of the known items in frames at `rate`. */
  totalFrames: number;
  /** What is unknown (no published figure and none in the board file); empty when complete. */
  unknown: string[];
}

export function externalDelay(board: Board, driver: CodecDriver, direction: 'output' | 'input', rate: number): ExternalDelay {
  if (!(Number.isFinite(rate) && rate > 0)) throw new RangeError(`externalDelay: rate must be a positive number of Hz, got ${rate}`);
  const items: LatencyItem[] = [
    ...driver.latency(direction, rate),
    ...board.analogDelays
      .filter((d) => d.direction === direction)
      .map((d) => ({ what: d.what, ns: d.ns, frames: (d.ns * rate) / 1e9, source: `${board.file}: ${d.source}` })),
  ];
  const totalNs = items.reduce((s, i) => s + (i.ns ?? 0), 0);
  return {
    direction, rate, items, totalNs, totalFrames: (totalNs * rate) / 1e9,
    unknown: items.filter((i) => i.ns === null).map((i) => `${i.what}: ${i.source}`),
  };
}

/** The name the board layer's callers use (info, stream service, engine, demo). */
export { externalDelay as latencyBreakdown, type ExternalDelay as LatencyBreakdown };
