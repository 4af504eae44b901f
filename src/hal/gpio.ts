/**
 * GPIO lines: the HAL contract every GPIO backend (Linux character device uAPI v2, simulated
 * chip) meets. Values are logical: with activeLow, an electrically low line reads 1, as in the
 * kernel's uAPI.
 */

export type GpioEdge = 'none' | 'rising' | 'falling' | 'both';
export type GpioBias = 'as-is' | 'disabled' | 'pull-up' | 'pull-down';
export type GpioDrive = 'push-pull' | 'open-drain' | 'open-source';
export type GpioValue = 0 | 1;

export interface GpioInputConfig {
  readonly direction: 'input';
  /** Which edges produce events (logical edges: active-low swaps rising and falling). */
  readonly edge?: GpioEdge;
  readonly activeLow?: boolean;
  readonly bias?: GpioBias;
  /** Debounce period in µs (0 or absent: none). Events are stamped when the period ends. */
  readonly debounceUs?: number;
}

export interface GpioOutputConfig {
  readonly direction: 'output';
  /** Logical initial value. */
  readonly initial?: GpioValue;
  readonly activeLow?: boolean;
  readonly drive?: GpioDrive;
}

export type GpioLineConfig = GpioInputConfig | GpioOutputConfig;

export interface GpioEdgeEvent {
  /** Line offset on its chip. */
  offset: number;
  /** Logical edge. */
  edge: 'rising' | 'falling';
  /** CLOCK_MONOTONIC ns when the edge was seen (after debounce: when the debounce period ended). */
  timestampNs: number;
  /** Sequence number of this event among all lines of the request, from 1. */
  seqno: number;
  /** Sequence number of this event on its line, from 1. */
  lineSeqno: number;
}

export interface GpioLineInfo {
  offset: number;
  name: string;
  /** Who holds the line ('' when free). */
  consumer: string;
  used: boolean;
  direction: 'input' | 'output';
  activeLow: boolean;
}

export interface GpioChipInfo {
  /** Device name, e.g. 'gpiochip0'. */
  name: string;
  /** Driver label, e.g. 'pinctrl-bcm2711' or 'gpio-sim.0-node0'. */
  label: string;
  lines: number;
}

export interface GpioLineRequest {
  readonly offsets: readonly number[];
  getValue(offset: number): GpioValue;
  /** Sets an output line's logical value. Throws for an input line. */
  setValue(offset: number, value: GpioValue): void;
  /** Subscribes to edge events; returns the unsubscribe function. */
  onEdge(listener: (ev: GpioEdgeEvent) => void): () => void;
  /** Releases the lines; further calls throw. */
  release(): Promise<void>;
}

export interface GpioChip {
  info(): GpioChipInfo;
  lineInfo(offset: number): GpioLineInfo;
  /** Offset of the line with this name, or undefined. */
  findLine(name: string): number | undefined;
  requestLines(offsets: readonly number[], config: GpioLineConfig, consumer: string): Promise<GpioLineRequest>;
  close(): Promise<void>;
}

export class GpioError extends Error {
  constructor(readonly chip: string, readonly offset: number | undefined, message: string, readonly errno?: number) {
    super(`GPIO ${chip}${offset !== undefined ? ` line ${offset}` : ''}: ${message}`);
    this.name = 'GpioError';
  }
}
