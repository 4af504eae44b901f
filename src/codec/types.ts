/**
 * What the rest of the system (board loader, CLI, stream service, engine) needs from a codec
 * driver. The register-map layer and the per-part descriptions in codecs/<part>/ build on this.
 */
import type { FormatRange } from '../audio/formats.ts';
import type { Clock } from '../hal/clock.ts';
import type { GpioLineRequest } from '../hal/gpio.ts';
import type { I2cBus } from '../hal/i2c.ts';
import type { CodecDescription } from './description.ts';
import type { Regmap } from './regmap.ts';

/** Where a figure came from: a datasheet section, a Linux source file, a measurement. */
export type Source = string;

/** A figure with its source, or explicitly unknown (no published figure was found). */
export type Sourced<T> = { value: T; source: Source } | { value: null; unknown: string };

/** A format range in the stream protocol's terms (declared with the format bits in src/audio/formats.ts). */
export type { FormatRange } from '../audio/formats.ts';

export interface GainControlInfo {
  /** Control name, e.g. 'Digital Playback Volume'. */
  name: string;
  direction: 'output' | 'input';
  minDb: number;
  maxDb: number;
  stepDb: number;
  /** The chip has a dedicated mute (a mute code or bit). */
  canMute: boolean;
  /** The stream gain of its direction (the codec's main digital volume). */
  main: boolean;
  source: Source;
}

/** A switch or enum of the part's description (`sbc-audio ctl`): its values and where it lives. */
export interface SettingControlInfo {
  /** Control name, e.g. 'DSP Program'. */
  name: string;
  kind: 'switch' | 'enum';
  direction: 'output' | 'input';
  /** Value name → register code; a switch's are exactly `off` and `on`. */
  values: Readonly<Record<string, number>>;
  /** The code after reset, or 'unknown'. */
  default: number | 'unknown';
  source: Source;
  /** One entry per channel: the register and, where the control is part of it, the field. */
  channels: readonly { reg: string; field?: string }[];
}

export interface GainState {
  db: number;
  muted: boolean;
}

export interface LatencyItem {
  /** What contributes the delay, e.g. 'DAC interpolation filter group delay (normal filter)'. */
  what: string;
  /** Delay in ns at the given rate, or null if unknown. */
  ns: number | null;
  /** Delay in frames at the given rate, or null if unknown. */
  frames: number | null;
  source: Source;
}

export interface StreamFormat {
  rate: number;
  channels: number;
  /** Sample width on the I2S bus in bits (16, 20, 24, 32). */
  bits: number;
}

/** A board's GPIO line as a codec driver sees it (mute, amp-enable, reset, filter pins...). */
export interface CodecGpioLine {
  readonly role: string;
  readonly request: GpioLineRequest;
  readonly offset: number;
}

export interface CodecContext {
  clock: Clock;
  /** The control bus and address, for parts that have one. */
  bus?: I2cBus;
  addr?: number;
  /** The board's GPIO lines by role ('mute', 'amp-enable', 'reset', 'xsmt', 'sd-mode', ...). */
  gpio: ReadonlyMap<string, CodecGpioLine>;
  /** Part-specific options from the board file (e.g. { filter: 'low-latency' }). */
  options: Readonly<Record<string, unknown>>;
  /** Sleeps on the board's clock (virtual on simulated boards). */
  sleepMs(ms: number): Promise<void>;
  /**
   * Simulated boards only: format ranges the simulated part accepts besides its description's
   * (the board file's `sim.extraFormatRanges`, in both directions), so that every range the
   * stream service offers is one the part takes (docs/PROTOCOL.md section 5).
   */
  extraFormatRanges?: readonly FormatRange[];
}

/** How the I2S clocks run on a board, as the part's driver sets them up (`sbc-audio info`). */
export interface ClockingInfo {
  /** The mode's name, e.g. the board option codec.options.clocking ('slave-bck-pll'). */
  mode: string;
  /** Who drives BCK and LRCK: the host (the Pi's I2S) or the codec. */
  clockMaster: 'host' | 'codec';
  /** Where the codec's clocks come from, in words, with the facts' section. */
  detail: string;
}

export interface CodecDriver {
  readonly part: string;
  readonly name: string;
  readonly vendor: string;
  /** Checks the chip answers as this part. */
  probe(): Promise<void>;
  /** Brings the chip from reset to a known state (muted, ready for setFormat). */
  init(): Promise<void>;
  setFormat(fmt: StreamFormat): Promise<void>;
  /** Pop-free power up: the amplifier is enabled only after the codec is ready. */
  powerUp(): Promise<void>;
  /** Pop-free power down: the amplifier is disabled first, mute settles before clocks stop. */
  powerDown(): Promise<void>;
  gainControls(): GainControlInfo[];
  /** Sets a gain control; returns the applied (step-rounded) state. */
  setGain(control: string, db: number): Promise<GainState>;
  setMute(control: string, muted: boolean): Promise<GainState>;
  getGain(control: string): Promise<GainState>;
  /**
   * The gain state getGain would answer without asking the chip, when the driver already holds it
   * (set or read since init); undefined otherwise. Synchronous: a GET_GAIN answered from it costs no
   * lock round trip (bench/control-rtt.ts). Only valid while no codec operation is in flight.
   */
  cachedGain?(control: string): GainState | undefined;
  /** The part's switches and enums (description controls of kind 'switch' / 'enum'). */
  settingControls?(): SettingControlInfo[];
  /**
   * The code of a switch or enum in force (or kept, to be written when the chip can take it):
   * what was set, else what the register holds (first channel), else the reset default.
   */
  getSetting?(name: string): Promise<number>;
  /**
   * Sets a switch or enum to one of its values' codes on every channel; returns the code. The
   * setting is remembered and survives the driver's own sequences (init's reset, power-up, paths).
   * While the chip's bus cannot be used (SGTL5000 before MCLK runs) it is kept and written at the
   * next init or power-up; any other write error is thrown and the previous setting stays.
   */
  setSetting?(name: string, code: number): Promise<number>;
  formats(direction: 'output' | 'input'): FormatRange[];
  /** The codec's own contribution to the external delay (filter group delay etc.). */
  latency(direction: 'output' | 'input', rate: number): LatencyItem[];
  /**
   * Parts whose control bus works only while their master clock runs (SGTL5000): tell the
   * driver when MCLK starts and before it stops. Until then every register access is refused
   * without touching the bus. Other parts ignore it.
   */
  setMclkRunning?(running: boolean): Promise<void>;
  /**
   * Holds the main output muted whatever the stream's gain says (the board idles between
   * streams), or releases the hold and puts the stream's gain and mute back. A gain set while
   * held is remembered and applied on release. Parts without a mutable main output ignore it.
   */
  holdOutputMuted?(held: boolean): Promise<void>;
  /**
   * The analog paths the board's running streams use, by direction: their purposes ('headphone',
   * 'speaker', 'microphone'). Parts that power each path on its own (the WM8960: description
   * `paths`) power only those, at once while powered up, else at the next power-up; other parts
   * ignore it. The board's power (src/board/power.ts) calls it as streams start and stop.
   */
  setPathsInUse?(paths: { output: readonly string[]; input: readonly string[] }): Promise<void>;
  /** Parts whose driver sets up a clocking mode (the PCM5122: codec.options.clocking): which one. */
  clocking?(): ClockingInfo;
  /** Drivers built from a description (src/codec/driver.ts): the part's data. */
  readonly description?: CodecDescription;
  /** Parts with a control bus: the register map (cache, fields) for `sbc-audio regs`. */
  readonly regmap?: Regmap;
}

export type CodecFactory = (ctx: CodecContext) => CodecDriver;
