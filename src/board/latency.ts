/**
 * The external delay of a stream: what happens to the sound outside the PCM buffer (codec
 * filter group delay plus the board's analog path), itemised with sources. This is the figure
 * the stream service reports as external_delay_nsec.
 */
import type { CodecDriver, LatencyItem } from '../codec/types.ts';
import type { Board } from './schema.ts';

export interface LatencyBreakdown {
  direction: 'output' | 'input';
  rate: number;
  items: LatencyItem[];
  /** Sum of the known items, ns. */
  totalNs: number;
  /** Items whose figure is unknown (no published source and none in the board file). */
  unknown: string[];
}

export function latencyBreakdown(board: Board, codec: CodecDriver, direction: 'output' | 'input', rate: number): LatencyBreakdown {
  const items: LatencyItem[] = [
    ...codec.latency(direction, rate),
    ...board.analogDelays
      .filter((d) => d.direction === direction)
      .map((d) => ({ what: d.what, ns: d.ns, frames: (d.ns * rate) / 1e9, source: `${board.file}: ${d.source}` })),
  ];
  const totalNs = items.reduce((s, i) => s + (i.ns ?? 0), 0);
  return { direction, rate, items, totalNs, unknown: items.filter((i) => i.ns === null).map((i) => i.what) };
}
