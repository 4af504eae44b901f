/**
 * The analog side of a simulated chip: what a chip model tells the simulation about its outputs,
 * computed from its own registers (or pins) and the I2S link, never from a driver's tables.
 *
 * A chip model (codecs/<part>/model.ts) implements `SimChip`. The simulation (./analog.ts) asks
 * it for its state after every bus write, every change of a board GPIO line and every change of
 * the I2S link, keeps those states on a timeline, and renders each output from the I2S frames
 * the simulated PCM delivered: a frame is heard only where the state in effect at its time has a
 * gain on that output and `clockCheck` accepts the link. Silence is the default: a chip that is
 * not powered, not clocked, not routed or muted has no gain on its outputs.
 */

/** What the I2S link carries: bit and frame clocks at `rate`, `channels` slots of `bits` each. */
export interface I2sFormat {
  rate: number;
  channels: number;
  /** Word length on the link: the sample container the host sends (16, 24 or 32). */
  bits: number;
}

/** What a chip can see of its surroundings. */
export interface ChipEnvironment {
  /** The board's clock (virtual or CLOCK_MONOTONIC), ns. */
  nowNs(): number;
  /** The I2S link now: undefined while no bit clock runs (no PCM running). */
  link(): I2sFormat | undefined;
  /** Logical value of the board GPIO line wired to one of the chip's own pins (by role); undefined if not wired. */
  pin(role: string): 0 | 1 | undefined;
  /**
   * The master clock (MCLK) into the chip now, Hz, as the board supplies it (e.g. a HAT's
   * on-board oscillator); undefined, or the method absent, while none runs: a part that needs a
   * master clock then reports a clock error.
   */
  mclkHz?(): number | undefined;
  /**
   * Oscillators the board fits for the chip to select through its own GPIO pins, Hz (the
   * HiFiBerry DAC+ Pro's 24.576 and 22.5792 MHz, which the PCM5122 picks with its GPIO3/GPIO6):
   * the board file's `sim.oscillatorsHz`. Empty, or the method absent, on a board without them.
   */
  oscillatorsHz?(): readonly number[];
  /**
   * Whether the host's I2S block is a clock consumer on this board: it takes BCLK and LRCK/WCLK
   * from the codec (the ReSpeaker 2-Mic v2's overlay: docs/facts/boards.md#clock-masters), so a
   * codec that drives neither leaves the link with no clocks at all. The board file's
   * `sim.hostClock` ("consumer"); false, or the method absent, where the host drives them.
   */
  hostClockConsumer?(): boolean;
}

/** One analog path (an output, or an input into the ADC). */
export interface AnalogPath {
  /**
   * Linear gain per channel from digital full scale to this output (1 = 0 dBFS in → full scale
   * out, with the board's analog stages at their stated setting). All zeros when silent.
   */
  gains: readonly number[];
  /** Why the path carries nothing (standby, muted, not routed, ...); undefined while it passes signal. */
  silentBecause?: string;
  /**
   * The path sums the weighted link channels into one (a mono output, e.g. the MAX98357A's
   * (L+R)/2: gains [0.5, 0.5]); otherwise link channel i reaches output channel i.
   */
  monoMix?: boolean;
}

/** The chip's state as its registers and pins set it. */
export interface ChipAnalogState {
  /** Power state in the datasheet's words, e.g. 'shutdown', 'standby', 'powered'. */
  power: string;
  /** The chip's own mute (soft mute, mute code or bit, mute pin) holds its main output muted. */
  muted: boolean;
  /** Digital volume codes in effect (register or control name → code), for `sim state`. */
  gainCodes: Readonly<Record<string, number>>;
  /** Analog outputs by name ('line-out', 'headphone', 'speaker'); the first is the main one. */
  outputs: Readonly<Record<string, AnalogPath>>;
  /** ADC-side paths by name, where the chip has an ADC. */
  inputs?: Readonly<Record<string, AnalogPath>>;
  /**
   * What the chip needs of the I2S link to play: a clock-error text for a link it cannot play
   * (no bit clock, wrong word length, missing PLL reference or master clock), else undefined.
   * The simulation checks each block of frames against it and reports the error it returns.
   */
  clockCheck(link: I2sFormat | undefined): string | undefined;
}

/** A pop: a step or burst the chip puts on an output (e.g. unmuting before its bias settled). */
export interface Transient {
  atNs: number;
  output: string;
  /** Peak, linear, relative to full scale. */
  amplitude: number;
  why: string;
}

export interface SimChip {
  /** Called once when the chip is put on a simulated board. */
  attachEnvironment(env: ChipEnvironment): void;
  /** The state now, from the registers and pins now. */
  analogState(): ChipAnalogState;
  /** Transients since the last call (the model records them when a write causes one). */
  takeTransients(): Transient[];
}

/**
 * The surroundings of a chip that is on no simulated board yet (models constructed bare, e.g. as
 * plain I2C devices in a driver test): time 0, no bit clock, no pin wired.
 */
export const DETACHED_ENVIRONMENT: ChipEnvironment = {
  nowNs: () => 0,
  link: () => undefined,
  pin: () => undefined,
};

export function isSimChip(x: unknown): x is SimChip {
  return typeof x === 'object' && x !== null && typeof (x as SimChip).analogState === 'function' &&
    typeof (x as SimChip).attachEnvironment === 'function';
}

/** dB to a linear gain. */
export function dbToLinear(db: number): number {
  return 10 ** (db / 20);
}

/** A path that carries nothing, with why. */
export function silent(channels: number, why: string): AnalogPath {
  return { gains: new Array<number>(channels).fill(0), silentBecause: why };
}
