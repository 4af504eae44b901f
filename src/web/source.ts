/**
 * What the appliance's remote faces (the HTTP/WebSocket API and page, src/web/; Home Assistant
 * over MQTT, src/mqtt/) read and change: one interface, provided by the stream service
 * (src/stream/service.ts wires it), so both faces mean the same thing by a stream's gain, its
 * plug state or its xruns, and neither reaches into the service's internals.
 */
import type { LatencyBreakdown } from '../board/latency.ts';
import type { Program } from '../control/programs.ts';
import type { ControlInfo, ControlListing } from '../control/types.ts';

/** Peak and RMS per channel, dBFS (−Infinity: digital silence), over the frames since the last reading. */
export interface LevelReading {
  stream: string;
  /** Board clock (ns) of the reading. */
  atNs: number;
  peakDb: number[];
  rmsDb: number[];
  /** Frames the reading covers (0: nothing played since the last one; the levels then are the floor). */
  frames: number;
}

export interface StreamStatus {
  /** Stream id ("speaker"); the endpoint is `<board>.<id>`. */
  id: string;
  endpoint: string;
  direction: 'output' | 'input';
  purpose: string;
  /** 'running' while a client's ring buffer is started, else 'idle'. */
  state: 'idle' | 'running';
  /** The format in force while a client holds one. */
  format?: { rate: number; channels: number; bits: number };
  /** The stream's gain control (absent on a fixed-gain stream). */
  gain?: { id: string; db: number | null; min: number; max: number; step: number; mutedId?: string; muted: boolean | null };
  /** Plug state: undefined for a hardwired stream. */
  plugged?: boolean;
  /** Counted since the service started. */
  xruns: { underruns: number; overruns: number };
  /** The latency breakdown at the format's rate (or 48 kHz): FIFO and the analog path, each with its source. */
  latency: LatencyBreakdown & { fifoNs?: number };
  /**
   * The engine's period-lateness histogram since it started: `edges` are the bins' lower edges
   * as fractions of the period (the last bin open above), `counts` the periods in each. Null
   * while no engine runs on the stream (src/engine/stream-control.ts, LATENESS_EDGES).
   */
  lateness: { edges: number[]; counts: number[] } | null;
}

/** What changed (pushed to subscribers). */
export type ApplianceEvent =
  | { type: 'control'; control: ControlInfo }
  | { type: 'stream'; stream: StreamStatus };

export interface ApplianceSource {
  readonly board: string;
  listControls(): Promise<ControlListing>;
  getControl(id: string): Promise<ControlInfo>;
  /**
   * Sets a control as the control class does (checked, coalesced, bounded): the answer's status
   * (`applied`, `coalesced`, `queued`, `refused` with `error`). Never throws for a bad value.
   */
  setControl(id: string, value: unknown): Promise<{ status: 'applied' | 'coalesced' | 'queued' | 'refused'; error?: string; control?: ControlInfo }>;
  programs(): { list: Program[]; current: { bank: number; program: number } | null } | undefined;
  loadProgram(bank: number, program: number): Promise<Program>;
  streams(): StreamStatus[];
  /** The newest level reading of a stream (undefined: no such stream, or it is not metered). */
  levels(stream: string): LevelReading | undefined;
  /** Control changes and stream state changes; returns the unsubscribe function. */
  onEvent(listener: (e: ApplianceEvent) => void): () => void;
}
