/**
 * The control model's shapes, shared by the model (./model.ts), its channel (./channel.ts), its
 * client (./client.ts), the state file (./state-file.ts) and the CLI. Controls as the XAP seed has
 * them: each one a value with its metadata, readable and settable whether its device is IDLE or
 * ACTIVE (docs/CONTROL.md).
 */

/**
 * What a control is: a gain in dB, an on/off switch, one of named values, a number in a range
 * (a plugin's control port: a frequency, a ratio, a time; `hints` say how to draw it), or a text
 * its binding checks (a stream's plugin chain, as JSON).
 */
export type ControlKind = 'volume' | 'switch' | 'enum' | 'number' | 'text';

/** A control's value: dB for a volume, true (on) / false (off) for a switch, a value name for an enum. */
export type ControlValue = number | boolean | string;

/** What a control belongs to: `<board>.<owner id>.<name>` is its id. */
export type ControlOwner =
  /** A board stream (its gain and mute, as the stream protocol's SET_GAIN sets them). */
  | { kind: 'stream'; id: string }
  /** The board's codec part (a control of its description). */
  | { kind: 'part'; id: string }
  /** The board itself: its GPIO lines and policies. */
  | { kind: 'board'; id: 'board' };
/*
 * A plugin in a stream's chain is owned by the stream: `<board>.<stream>.fx<N>-<port>`
 * (src/stream/plugin-controls.ts).
 */

/** The 0–100 % mapping of a volume for UIs (as shairport-sync's volume_range_db): linear in dB over `minDb..maxDb`. */
export interface PercentMapping {
  minDb: number;
  maxDb: number;
  /** Why this range (e.g. "the control's top 60 dB"). */
  why: string;
}

/** A control's description: everything but its value. */
export interface ControlDescriptor {
  /** Stable across restarts: `<board>.<stream, part or "board">.<name>`, lowercase, [a-z0-9-] parts. */
  id: string;
  /** The name as its source says it (a description's control name, "Stream gain", ...). */
  name: string;
  kind: ControlKind;
  owner: ControlOwner;
  direction?: 'output' | 'input';
  /** Volumes: the range in dB and its step (0: any value in the range). Numbers: their range (step 1 for integers). */
  range?: { min: number; max: number; step: number };
  /** Numbers: how a UI draws them (LADSPA's hints: a logarithmic scale, whole numbers only). */
  hints?: { logarithmic?: boolean; integer?: boolean; sampleRate?: boolean };
  /** Enums and switches: the value names, in order (switches: off, on). */
  values?: readonly string[];
  /** 'dB' for volumes, 'none' otherwise. */
  unit: 'dB' | 'none';
  /** The value the control takes when nothing set it (board file or part), or why none is known. */
  default: ControlValue | { unknown: string };
  /** Where the default comes from (the board file's field, the part's reset value). */
  defaultSource?: string;
  /** Volumes: how UIs draw it. */
  display?: { curve: 'dB'; percent: PercentMapping };
  /**
   * Whether a change may be made from the audio path (a gain the engine applies is; a register
   * write over I2C is not: it blocks for a bus transfer).
   */
  realtimeSafe: boolean;
  /** False: a state to read and watch, set by something else (`readOnlyWhy` says what). */
  writable: boolean;
  readOnlyWhy?: string;
  /** Where on the chip, for part controls (register and field per channel). */
  registers?: readonly { reg: string; field?: string }[];
  /** Other ids that are the same control on the chip (streams of one direction share the codec's main volume). */
  sameAs?: readonly string[];
  /** Where the control, its range and its scale come from. */
  source: string;
  /** Saved in the state file and restored at the next start. */
  persistent: boolean;
}

/** IDLE: the device's stream is not running (a change is kept and applies at activation); ACTIVE: it is. */
export type Lifecycle = 'idle' | 'active';

/** A control with its value now, as `list`, `get`, `set` and change events carry it. */
export interface ControlInfo extends ControlDescriptor {
  /** The value in force (or kept for activation when IDLE); null where it cannot be known (`error` says why). */
  value: ControlValue | null;
  state: Lifecycle;
  error?: string;
  /**
   * After a timestamped or ramped set: when the change took effect — the stream frame (engine
   * controls, or the handoff frame of a stream gain) and its time on the board's clock; for a
   * register write scheduled at a time, when it was due and when it landed.
   */
  applied?: AppliedAt;
}

/** When a change took effect (docs/CONTROL.md, "Timestamped changes"). */
export interface AppliedAt {
  /** The stream frame it took effect at (frames since start_time); absent while the stream is idle. */
  frame?: number;
  /** The board-clock time (CLOCK_MONOTONIC ns, or the virtual clock's) it took effect. */
  timeNs: number;
  /** Register writes: when they were due. */
  scheduledNs?: number;
}

/** A change's time: a stream frame position, or a board-clock time (CLOCK_MONOTONIC ns). */
export interface ChangeTime {
  frame?: number;
  ns?: number;
}

/** Descriptor metadata of the board and of its parts (XAP's plugin descriptor). */
export interface ComponentDescriptor {
  id: string;
  name: string;
  vendor: string;
  /** The description's version: this package's version (the descriptions ship with it). */
  version: string;
  licence: string;
  /** Datasheet (parts) or board file (boards) the description is written from. */
  source: string;
}

/** The control channel's answer to `list`. */
export interface ControlListing {
  board: ComponentDescriptor;
  parts: ComponentDescriptor[];
  controls: ControlInfo[];
}
