/**
 * What a simulated board's analog outputs carry: the chip model's state (./chip.ts) on a timeline,
 * applied to the frames the simulated PCMs put on their I2S links (./i2s-link.ts).
 *
 * The state is taken after every bus write to the chip, every change of a board GPIO line and on
 * demand (`changed`), and kept with its time. Frames are drained from the links whenever anyone
 * looks (and on a timer), each block rendered with the state in effect at its time: its gain per
 * channel, silence where the chip is not powered, routed or unmuted, silence and a recorded clock
 * error where the chip cannot play what the link carries, silence where a board amplifier line
 * gating the output is off. Transients (pops) the chip reports are added on top. The result, per
 * monitored output, is a timestamped analog record that tests and the monitor endpoints read.
 *
 * This is a simulation and knows no codec or board: the board runtime says which chip, which
 * outputs, which links and which gates.
 */
import type { Clock } from '../clock.ts';
import type { AnalogPath, ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from './chip.ts';
import { type LinkChunk, I2sLinkReader, setAdcGate } from './i2s-link.ts';

/** How many analog events `events` keeps (oldest dropped): bounded, a service runs for months. */
export const MAX_EVENTS = 1000;

/** One output to monitor: a board stream, the PCM link that feeds the chip, the chip output it comes out of. */
export interface MonitoredOutput {
  /** The board stream's id, e.g. 'headphone'. */
  stream: string;
  /** The chip output name (ChipAnalogState.outputs key). */
  chipOutput: string;
  /** The link the stream's PCM writes. */
  link: SharedArrayBuffer;
  /** A board amplifier that gates this output: on (true) or off. Absent: not gated. */
  gate?: () => boolean;
}

/** One input: a board stream captured through the chip's ADC side, and the gate its capture PCM applies. */
export interface GatedInput {
  stream: string;
  /** The chip input name (ChipAnalogState.inputs key). */
  chipInput: string;
  /** The capture PCM's ADC gate (./i2s-link.ts). */
  gate: SharedArrayBuffer;
}

export interface AnalogSimulationOptions {
  clock: Clock;
  chip: SimChip;
  outputs: readonly MonitoredOutput[];
  /** Capture streams whose frames pass the chip's input path (silent unless it is powered, routed, unmuted). */
  inputs?: readonly GatedInput[];
  /** The chip's own pins wired to board GPIO lines, by role (logical value). */
  pin?: (role: string) => 0 | 1 | undefined;
  /** The board's master clock into the chip, Hz; undefined where none runs. */
  mclkHz?: () => number | undefined;
  /** Oscillators the board fits for the chip to select itself, Hz (ChipEnvironment.oscillatorsHz). */
  oscillatorsHz?: readonly number[];
  /** The host's I2S block takes its clocks from the codec (ChipEnvironment.hostClockConsumer). */
  hostClockConsumer?: boolean;
  /** How long rendered output is kept (ns, default 30 s). */
  retainNs?: number;
}

/** A state change, as `sim state` and tests see it. */
export interface AnalogEvent {
  atNs: number;
  what: 'power' | 'mute' | 'gain' | 'clock-error' | 'amplifier' | 'transient' | 'path';
  /** The output (stream) it concerns, for per-output events. */
  stream?: string;
  detail: string;
}

interface Snapshot {
  atNs: number;
  state: ChipAnalogState;
  gates: boolean[];
}

interface Segment {
  startNs: number;
  rate: number;
  frames: number;
  channels: number;
  data: Float32Array;
}

/** A rendered block: its time, its rate and its interleaved samples. */
export interface RenderedBlock { startNs: number; rate: number; channels: number; data: Float32Array }

/** Decay time constant of a modelled pop (ns). */
const TRANSIENT_TAU_NS = 1e6;
const TRANSIENT_SPAN_NS = 8 * TRANSIENT_TAU_NS;

export class AnalogSimulation {
  private readonly clock: Clock;
  private readonly chip: SimChip;
  readonly outputs: readonly MonitoredOutput[];
  readonly inputs: readonly GatedInput[];
  private readonly readers: I2sLinkReader[];
  private readonly timeline: Snapshot[] = [];
  private readonly segments: Segment[][];
  private readonly transients: Transient[] = [];
  /** State changes with their times (power, mute, gain codes, clock errors, amplifier). */
  readonly events: AnalogEvent[] = [];
  private readonly clockErrors: (string | undefined)[];
  private readonly retainNs: number;

  constructor(opts: AnalogSimulationOptions) {
    this.clock = opts.clock;
    this.chip = opts.chip;
    this.outputs = opts.outputs;
    this.inputs = opts.inputs ?? [];
    this.readers = opts.outputs.map((o) => new I2sLinkReader(o.link));
    this.segments = opts.outputs.map(() => []);
    this.clockErrors = opts.outputs.map(() => undefined);
    this.retainNs = opts.retainNs ?? 30e9;
    const oscillators: readonly number[] = opts.oscillatorsHz ?? [];
    const env: ChipEnvironment = {
      nowNs: () => this.clock.nowNs(),
      link: () => this.linkNow(),
      pin: (role) => opts.pin?.(role),
      mclkHz: () => opts.mclkHz?.(),
      oscillatorsHz: () => oscillators,
      hostClockConsumer: () => opts.hostClockConsumer ?? false,
    };
    this.chip.attachEnvironment(env);
    this.changed();
  }

  /** What the chip's link carries now: the first running link among its outputs. */
  private linkNow(): I2sFormat | undefined {
    for (const r of this.readers) {
      const l = r.now();
      if (l) return l;
    }
    return undefined;
  }

  /** Takes the chip's state now (after a bus write, a GPIO change, a link change). */
  changed(): void {
    const atNs = this.clock.nowNs();
    // Frames already on the links belong to the state before this change.
    this.drain();
    const state = this.chip.analogState();
    const gates = this.outputs.map((o) => o.gate?.() ?? true);
    const prev = this.timeline[this.timeline.length - 1];
    this.logChanges(atNs, prev, state, gates);
    for (const t of this.chip.takeTransients()) {
      this.transients.push(t);
      this.events.push({ atNs: t.atNs, what: 'transient', detail: `${t.output}: ${t.why} (peak ${t.amplitude})` });
    }
    for (const inp of this.inputs) {
      const path = state.inputs?.[inp.chipInput];
      setAdcGate(inp.gate, path?.gains.length ? path.gains : [0]);
      const why = (st: ChipAnalogState | undefined) => st?.inputs?.[inp.chipInput]?.silentBecause ?? (st?.inputs?.[inp.chipInput] ? 'passes signal' : `the chip has no input "${inp.chipInput}"`);
      if (!prev || why(prev.state) !== why(state)) this.events.push({ atNs, what: 'path', stream: inp.stream, detail: why(state) });
    }
    if (prev && prev.atNs === atNs) this.timeline.pop();
    this.timeline.push({ atNs, state, gates });
    this.prune(atNs);
  }

  private logChanges(atNs: number, prev: Snapshot | undefined, s: ChipAnalogState, gates: boolean[]): void {
    const p = prev?.state;
    if (!p || p.power !== s.power) this.events.push({ atNs, what: 'power', detail: s.power });
    if (!p || p.muted !== s.muted) this.events.push({ atNs, what: 'mute', detail: s.muted ? 'muted' : 'unmuted' });
    const codes = JSON.stringify(s.gainCodes);
    if (!p || JSON.stringify(p.gainCodes) !== codes) this.events.push({ atNs, what: 'gain', detail: codes });
    this.outputs.forEach((o, i) => {
      if (!prev || prev.gates[i] !== gates[i]) {
        if (o.gate) this.events.push({ atNs, what: 'amplifier', stream: o.stream, detail: gates[i] ? 'on' : 'off' });
      }
      const why = (st: ChipAnalogState | undefined) => st?.outputs[o.chipOutput]?.silentBecause ?? (st?.outputs[o.chipOutput] ? 'passes signal' : `the chip has no output "${o.chipOutput}"`);
      if (!p || why(p) !== why(s)) this.events.push({ atNs, what: 'path', stream: o.stream, detail: why(s) });
    });
  }

  /** The chip's state now, with the amplifier gates and the last clock error of each output. */
  state(): {
    atNs: number; chip: ChipAnalogState;
    outputs: { stream: string; chipOutput: string; amplifier?: boolean; clockError?: string; path: AnalogPath | undefined; lostChunks: number }[];
    inputs: { stream: string; chipInput: string; path: AnalogPath | undefined }[];
  } {
    this.changed();
    const snap = this.timeline[this.timeline.length - 1]!;
    return {
      atNs: snap.atNs,
      chip: snap.state,
      outputs: this.outputs.map((o, i) => ({
        stream: o.stream, chipOutput: o.chipOutput, ...(o.gate ? { amplifier: snap.gates[i] } : {}),
        ...(this.clockErrors[i] ? { clockError: this.clockErrors[i] } : {}),
        path: snap.state.outputs[o.chipOutput], lostChunks: this.readers[i]!.lost,
      })),
      inputs: this.inputs.map((inp) => ({ stream: inp.stream, chipInput: inp.chipInput, path: snap.state.inputs?.[inp.chipInput] })),
    };
  }

  /** Moves what the PCMs put on their links into the analog records. */
  drain(): void {
    this.readers.forEach((r, i) => r.drain((c) => this.renderChunk(i, c)));
  }

  private stateAt(t: number, from = 0): number {
    const tl = this.timeline;
    let k = Math.max(0, Math.min(from, tl.length - 1));
    while (k > 0 && tl[k]!.atNs > t) k--;
    while (k + 1 < tl.length && tl[k + 1]!.atNs <= t) k++;
    return k;
  }

  private renderChunk(i: number, c: LinkChunk): void {
    const o = this.outputs[i]!;
    const tl = this.timeline;
    const outCh = c.format.channels;
    const data = new Float32Array(c.frames * outCh);
    const frameNs = 1e9 / c.format.rate;
    let k = this.stateAt(c.startNs);
    let nextAt = k + 1 < tl.length ? tl[k + 1]!.atNs : Infinity;
    let gains: readonly number[] = [];
    let mono = false;
    const apply = () => {
      const snap = tl[k];
      if (!snap) { gains = []; return; }
      const err = snap.state.clockCheck(c.format);
      this.noteClockError(i, err, c.startNs);
      const path = snap.state.outputs[o.chipOutput];
      gains = err || !snap.gates[i] || !path ? [] : path.gains;
      mono = path?.monoMix ?? false;
    };
    apply();
    for (let f = 0; f < c.frames; f++) {
      const t = c.startNs + f * frameNs;
      if (t >= nextAt) {
        k = this.stateAt(t, k);
        nextAt = k + 1 < tl.length ? tl[k + 1]!.atNs : Infinity;
        apply();
      }
      if (gains.length === 0) continue;
      const base = f * outCh;
      if (mono) {
        let sum = 0;
        for (let ch = 0; ch < outCh; ch++) sum += (gains[ch] ?? 0) * c.samples[base + ch]!;
        for (let ch = 0; ch < outCh; ch++) data[base + ch] = sum;
      } else {
        for (let ch = 0; ch < outCh; ch++) data[base + ch] = (gains[ch] ?? 0) * c.samples[base + ch]!;
      }
    }
    this.segments[i]!.push({ startNs: c.startNs, rate: c.format.rate, frames: c.frames, channels: outCh, data });
  }

  private noteClockError(i: number, err: string | undefined, atNs: number): void {
    if (this.clockErrors[i] === err) return;
    this.clockErrors[i] = err;
    this.events.push({ atNs, what: 'clock-error', stream: this.outputs[i]!.stream, detail: err ?? 'cleared' });
  }

  private prune(nowNs: number): void {
    const cut = nowNs - this.retainNs;
    for (const segs of this.segments) {
      while (segs.length && segs[0]!.startNs + (segs[0]!.frames * 1e9) / segs[0]!.rate < cut) segs.shift();
    }
    // Keep one snapshot before the cut: it is the state in effect there.
    while (this.timeline.length > 2 && this.timeline[1]!.atNs < cut) this.timeline.shift();
    while (this.transients.length && this.transients[0]!.atNs + TRANSIENT_SPAN_NS < cut) this.transients.shift();
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }

  /**
   * What the output of `stream` carries from `fromNs` for `frames` frames at `rate`, as
   * `channels` interleaved channels (sample and hold from the I2S frames; silence where there
   * were none), plus transients. Drains the links first.
   */
  render(stream: string, fromNs: number, frames: number, rate: number, channels = 2, into?: Float32Array): Float32Array {
    const i = this.outputs.findIndex((o) => o.stream === stream);
    if (i < 0) throw new Error(`no monitored output "${stream}" (outputs: ${this.outputs.map((o) => o.stream).join(', ')})`);
    this.drain();
    const out = into ?? new Float32Array(frames * channels);
    out.fill(0, 0, frames * channels);
    const segs = this.segments[i]!;
    const stepNs = 1e9 / rate;
    // The first segment that ends after fromNs (segments are in time order).
    let lo = 0, hi = segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = segs[mid]!;
      if (m.startNs + (m.frames * 1e9) / m.rate <= fromNs) lo = mid + 1;
      else hi = mid;
    }
    let s = lo;
    for (let f = 0; f < frames; f++) {
      const t = fromNs + f * stepNs;
      while (s < segs.length && segs[s]!.startNs + (segs[s]!.frames * 1e9) / segs[s]!.rate <= t) s++;
      const seg = segs[s];
      if (!seg || seg.startNs > t + 1e-3) continue;
      const k = Math.floor(((t - seg.startNs) * seg.rate) / 1e9 + 1e-6);
      if (k < 0 || k >= seg.frames) continue;
      for (let ch = 0; ch < channels; ch++) out[f * channels + ch] = seg.data[k * seg.channels + Math.min(ch, seg.channels - 1)]!;
    }
    const name = this.outputs[i]!.chipOutput;
    for (const tr of this.transients) {
      if (tr.output !== name) continue;
      const endNs = fromNs + frames * stepNs;
      if (tr.atNs >= endNs || tr.atNs + TRANSIENT_SPAN_NS < fromNs) continue;
      const f0 = Math.max(0, Math.ceil((tr.atNs - fromNs) / stepNs));
      for (let f = f0; f < frames; f++) {
        const dt = fromNs + f * stepNs - tr.atNs;
        if (dt > TRANSIENT_SPAN_NS) break;
        const v = tr.amplitude * Math.exp(-dt / TRANSIENT_TAU_NS);
        for (let ch = 0; ch < channels; ch++) out[f * channels + ch] += v;
      }
    }
    return out;
  }

  /** The rendered I2S-rate blocks of an output overlapping [fromNs, toNs) (for tests). */
  blocks(stream: string, fromNs: number, toNs: number): RenderedBlock[] {
    const i = this.outputs.findIndex((o) => o.stream === stream);
    this.drain();
    return (this.segments[i] ?? [])
      .filter((s) => s.startNs < toNs && s.startNs + (s.frames * 1e9) / s.rate > fromNs)
      .map((s) => ({ startNs: s.startNs, rate: s.rate, channels: s.channels, data: s.data }));
  }

  /** Frames lost on each output's link because nobody drained it in time. */
  lostChunks(): number {
    return this.readers.reduce((n, r) => n + r.lost, 0);
  }
}
