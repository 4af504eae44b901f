/**
 * A codec description: everything about a part that is data, in codecs/<part>/description.ts as
 * `export const description: CodecDescription`. The driver is a few hooks around it
 * (see ./driver.ts); `sbc-audio codec check codecs/<part>` validates it with `checkDescription`.
 *
 * Every figure carries its source. A figure without a published source is written as
 * `{ unknown: 'why' }` and stays unknown: a board file or a measurement may supply it.
 */
import { audibleCodes, checkControls, type ControlDef } from './controls.ts';
import { checkRegmap, type DescriptionProblem, type RegmapDef } from './regmap.ts';
import { type FormatRange, RANGE_FLAG_KNOWN_BITS, SAMPLE_FORMAT_KNOWN_BITS } from '../audio/formats.ts';

export type { DescriptionProblem } from './regmap.ts';

export interface CodecMeta {
  /** Part id: the folder name under codecs/. */
  id: string;
  name: string;
  vendor: string;
  /** The datasheet the description is written from (title and document number or URL). */
  datasheet: string;
}

/** A figure with its source, or explicitly unknown. */
export type Figure<T> = { value: T; source: string } | { unknown: string };

export function known<T>(f: Figure<T> | undefined): f is { value: T; source: string } {
  return f !== undefined && 'value' in f;
}

export interface FormatDef {
  direction: 'output' | 'input';
  /** With `sampleFormatsUnknown`, `range.sampleFormats` is 0: the board supplies the widths. */
  range: FormatRange;
  source: string;
  /**
   * The part's rates are known but its sample widths are not among the facts: why. The range is
   * offered only with widths a board file supplies as codec.options.sampleBits
   * ({ "bits": [16, ...], "source": "..." }); without them the range is not offered.
   */
  sampleFormatsUnknown?: string;
}

export interface ClockRequirements {
  /** Whether the part needs a master clock (MCLK) from the host. */
  mclk: Figure<'required' | 'not-used' | 'optional'>;
  /** The master clock must run before the control bus answers (e.g. SGTL5000). */
  mclkBeforeBus?: Figure<boolean>;
  /** Other clock facts (PLL, ratios), as text with sources. */
  notes?: readonly { text: string; source: string }[];
}

/** A delay figure: frames at the stream rate (N/fs) or fixed ns. */
export type DelayFigure = { frames: number; source: string } | { ns: number; source: string } | { unknown: string };

export interface LatencyPath {
  /** What the delay is, e.g. 'DAC interpolation filter group delay'. */
  what: string;
  /** Board option (codec.options key) that picks the mode, e.g. 'filter'. */
  modeOption?: string;
  defaultMode: string;
  modes: Readonly<Record<string, DelayFigure>>;
}

/**
 * One step of a power or mute sequence. GPIO values are logical (the board file's activeLow
 * decides the level); `optional` steps are skipped on boards that do not wire that role.
 */
export type SequenceStep =
  | { op: 'write'; reg: string; value: number; why?: string }
  | { op: 'update'; reg: string; fields: Readonly<Record<string, number | string>>; why?: string }
  | {
    op: 'poll'; reg: string; field: string; equals: number; timeoutMs: number; intervalMs: number;
    /** 'fail' throws on timeout; 'continue' goes on (the sequence still completes). */
    onTimeout: 'fail' | 'continue'; source: string; why?: string;
  }
  | { op: 'delay'; ms: number; source: string; why?: string }
  /** A delay a board option supplies (e.g. MAX98357A's optional SD_MODE delay); 0 when absent. */
  | { op: 'delay-option'; option: string; why?: string }
  | { op: 'gpio'; role: string; value: 0 | 1; optional?: boolean; why?: string }
  /** Driver code at this point (e.g. applying the filter chosen in the board file). */
  | { op: 'hook'; name: string; why?: string }
  /**
   * Holds a control muted (its mute code or mute bit) whatever the stream's gain says, or
   * releases the hold and writes the stream's gain and mute back. While held, setGain/setMute
   * are remembered and written on release. For parts whose only mute is the volume itself.
   */
  | { op: 'mute-control'; control: string; muted: boolean; why?: string }
  /** Sets the stream gain of a control (written at once unless the control is muted or held). */
  | { op: 'set-gain'; control: string; db: number; why?: string }
  /**
   * A step the part needs here whose register figures are not among the facts (e.g. a power bit
   * whose position no source gives): recorded, never run. It keeps the sequence's order visible
   * and says what a datasheet figure would fill in.
   */
  | { op: 'unknown'; what: string; why: string }
  /**
   * Parts with `paths`: here the paths in use come up ('up': the shared blocks they need first,
   * in the description's order) or every path that is up goes down ('down': in reverse order).
   * Between the two, a change of the paths in use (`setPathsInUse`) is applied at once.
   */
  | { op: 'paths'; action: 'up' | 'down'; why?: string };

/**
 * One analog path of a part (a DAPM route in ASoC's terms, as a list): the steps that power and
 * route it, and those that take it down again. A path with a `direction` is named after the
 * board stream purpose that uses it ('headphone', 'speaker', 'microphone'); one without is a
 * block shared by several paths (the DAC and the output mixers), up while any path that `needs`
 * it is. A path `needs` only entries declared before it, so declaration order is power-up order.
 */
export interface PathDef {
  /** The stream direction of the purpose this path serves; absent: a shared block. */
  direction?: 'output' | 'input';
  /** Shared blocks (declared earlier) that must be up while this path is. */
  needs?: readonly string[];
  up: readonly SequenceStep[];
  down: readonly SequenceStep[];
  doc?: string;
}

export interface Sequences {
  /** From reset to a known, muted state. */
  init: readonly SequenceStep[];
  /** Pop-free: the codec becomes ready first, the amplifier last. */
  powerUp: readonly SequenceStep[];
  /** Pop-free: the amplifier first, mute settles before clocks stop. */
  powerDown: readonly SequenceStep[];
}

/**
 * How to tell the chip answers as this part: read `reg` from the chip (then each of `alsoReads`,
 * e.g. a register on another page to prove page selection works) and, where the part has an
 * identity register, compare it under `mask` with `id`. Parts whose registers cannot be read
 * (write-only chips) say `{ none: 'why' }`: a missing chip then shows on init's first write.
 */
export type ProbeDef =
  | { reg: string; alsoReads?: readonly string[]; id?: { value: number; mask?: number; source: string }; why?: string }
  | { none: string };

export interface CodecDescription {
  meta: CodecMeta;
  /** Absent for parts without a control bus (pins only). */
  regmap?: RegmapDef;
  /** Parts with a control bus: how probe() recognises the chip. */
  probe?: ProbeDef;
  controls: readonly ControlDef[];
  formats: readonly FormatDef[];
  clocks: ClockRequirements;
  sequences: Sequences;
  latency: { output?: LatencyPath; input?: LatencyPath };
  /** No format range is among the facts (rates and widths unknown): why. `formats` is then empty. */
  formatsUnknown?: string;
  /** GPIO roles the part can use when a board wires them (role → what it does). */
  gpioRoles?: Readonly<Record<string, string>>;
  /** Board options the part understands (key → meaning). */
  options?: Readonly<Record<string, string>>;
  /**
   * Named step lists that a hook runs where which steps apply depends on a board option or on the
   * stream format (the PCM5122's clocking modes, its dividers per word length): data like the
   * sequences, with the same steps, checked the same way. A hook runs one with
   * `runSubSequence(name)` (src/codec/driver.ts).
   */
  subSequences?: Readonly<Record<string, readonly SequenceStep[]>>;
  /**
   * The part's analog paths, powered only while a board stream of that purpose runs (the codec
   * API's `setPathsInUse`; the board's power passes the purposes of the running streams). The
   * sequences say where they come up and go down (`{ op: 'paths' }`).
   */
  paths?: Readonly<Record<string, PathDef>>;
}

function checkFigure(f: Figure<unknown> | DelayFigure | undefined, where: string, out: DescriptionProblem[]): void {
  if (f === undefined) return;
  if ('unknown' in f) {
    if (!f.unknown?.trim()) out.push({ where, message: 'an unknown figure must say why it is unknown' });
    return;
  }
  if (!('source' in f) || !f.source?.trim()) out.push({ where, message: 'figure without a source (give the datasheet section, or mark it { unknown })' });
}

/** The paths: names, directions, what they need; the power sequences bring them up and down. */
function checkPaths(d: CodecDescription, p: (where: string, message: string) => void): void {
  if (!d.paths) return;
  const names = Object.keys(d.paths);
  const needed = new Set<string>();
  names.forEach((n, i) => {
    const path = d.paths![n]!;
    const w = `paths.${n}`;
    if (!/^[a-z0-9][a-z0-9-]*$/.test(n)) p(w, `path name "${n}" must be lowercase letters, digits and dashes (a stream purpose, or a shared block's name)`);
    if (path.direction !== undefined && path.direction !== 'output' && path.direction !== 'input') p(w, `direction must be "output" or "input", got ${JSON.stringify(path.direction)}`);
    if (!Array.isArray(path.up) || !Array.isArray(path.down)) p(w, 'a path needs its up and down steps (lists)');
    for (const x of path.needs ?? []) {
      const at = names.indexOf(x);
      if (at < 0) p(w, `needs unknown path "${x}"`);
      else if (at >= i) p(w, `needs "${x}", which is declared after it (declare what a path needs first)`);
      else if (d.paths![x]!.direction !== undefined) p(w, `needs "${x}", a stream's path: a path can need only shared blocks (no direction)`);
      needed.add(x);
    }
  });
  for (const n of names) if (d.paths[n]!.direction === undefined && !needed.has(n)) p(`paths.${n}`, 'a shared block (no direction) that no path needs: it would never come up');
  const has = (seq: readonly SequenceStep[] | undefined, action: 'up' | 'down') => (seq ?? []).some((s) => s.op === 'paths' && s.action === action);
  if (!has(d.sequences?.powerUp, 'up')) p('sequences.powerUp', 'a part with paths must bring them up in powerUp ({ op: "paths", action: "up" })');
  if (!has(d.sequences?.powerDown, 'down')) p('sequences.powerDown', 'a part with paths must take them down in powerDown ({ op: "paths", action: "down" })');
}

/** Everything wrong with a description, each with where and what. */
export function checkDescription(d: CodecDescription): DescriptionProblem[] {
  const out: DescriptionProblem[] = [];
  const p = (where: string, message: string) => out.push({ where, message });
  for (const k of ['id', 'name', 'vendor', 'datasheet'] as const) {
    if (typeof d.meta?.[k] !== 'string' || !d.meta[k].trim()) p(`meta.${k}`, `missing ${k}`);
  }
  if (d.meta?.id && !/^[a-z0-9-]+$/.test(d.meta.id)) p('meta.id', `part id "${d.meta.id}" must be lowercase letters, digits and dashes (the folder name)`);
  if (d.regmap) out.push(...checkRegmap(d.regmap));
  if (d.regmap && !d.probe) p('probe', 'a part with a control bus must say how to probe it ({ reg, id? } or { none: why })');
  if (d.probe && !d.regmap) p('probe', 'a part without a control bus has nothing to probe');
  if (d.probe && 'none' in d.probe && !d.probe.none?.trim()) p('probe', 'must say why the part cannot be probed');
  if (d.probe && 'reg' in d.probe) {
    for (const r of [d.probe.reg, ...(d.probe.alsoReads ?? [])]) {
      const def = d.regmap?.registers.find((x) => x.name === r);
      if (!def) p('probe', `names unknown register "${r}"`);
      else if (def.access === 'wo' || d.regmap?.readable === false) p('probe', `register ${r} cannot be read from the chip`);
    }
    if (d.probe.id && !d.probe.id.source?.trim()) p('probe.id', 'identity value without a source');
  }
  out.push(...checkControls(d.controls, d.regmap));
  d.formats.forEach((f, i) => {
    const w = `formats[${i}]`;
    const r = f.range;
    if (!f.source?.trim()) p(w, 'format range without a source');
    if (f.sampleFormatsUnknown !== undefined) {
      if (!f.sampleFormatsUnknown.trim()) p(w, 'sampleFormatsUnknown must say why the widths are unknown');
      if (r.sampleFormats !== 0) p(w, 'sample formats must be 0 when they are unknown (the board supplies them)');
    } else if (!r.sampleFormats || (r.sampleFormats & ~SAMPLE_FORMAT_KNOWN_BITS) !== 0) p(w, `sample formats 0x${(r.sampleFormats >>> 0).toString(16)} are empty or not stream-protocol format bits`);
    if (!(r.minFps > 0 && r.minFps <= r.maxFps)) p(w, `rates ${r.minFps}..${r.maxFps} are not a range`);
    if (!(r.minChannels >= 1 && r.minChannels <= r.maxChannels && r.maxChannels <= 255)) p(w, `channels ${r.minChannels}..${r.maxChannels} are not a range`);
    if (!r.flags || (r.flags & ~RANGE_FLAG_KNOWN_BITS) !== 0) p(w, `flags ${r.flags} must be FPS_CONTINUOUS (1), FPS_48000_FAMILY (2) and/or FPS_44100_FAMILY (4)`);
  });
  if (d.formatsUnknown !== undefined) {
    if (!d.formatsUnknown.trim()) p('formatsUnknown', 'must say why the formats are unknown');
    if (d.formats.length) p('formatsUnknown', 'given together with format ranges');
  }
  checkFigure(d.clocks?.mclk, 'clocks.mclk', out);
  checkFigure(d.clocks?.mclkBeforeBus, 'clocks.mclkBeforeBus', out);
  (d.clocks?.notes ?? []).forEach((n, i) => { if (!n.source?.trim()) p(`clocks.notes[${i}]`, 'clock note without a source'); });
  for (const dir of ['output', 'input'] as const) {
    const l = d.latency[dir];
    if (!l) continue;
    if (!(l.defaultMode in l.modes)) p(`latency.${dir}.defaultMode`, `default mode "${l.defaultMode}" is not one of the modes (${Object.keys(l.modes).join(', ')})`);
    for (const [mode, fig] of Object.entries(l.modes)) {
      checkFigure(fig, `latency.${dir}.modes.${mode}`, out);
      if ('frames' in fig && !(fig.frames >= 0)) p(`latency.${dir}.modes.${mode}`, `frames ${fig.frames} must be a non-negative number`);
      if ('ns' in fig && !(fig.ns >= 0)) p(`latency.${dir}.modes.${mode}`, `ns ${fig.ns} must be a non-negative number`);
    }
  }
  const lists = [
    ...(Object.entries(d.sequences ?? {}) as [string, readonly SequenceStep[]][]).map(([n, steps]) => [`sequences.${n}`, steps] as const),
    ...Object.entries(d.subSequences ?? {}).map(([n, steps]) => [`subSequences.${n}`, steps] as const),
    ...Object.entries(d.paths ?? {}).flatMap(([n, path]) => [[`paths.${n}.up`, path.up] as const, [`paths.${n}.down`, path.down] as const]),
  ];
  checkPaths(d, p);
  for (const [name, steps] of lists) {
    if (!Array.isArray(steps)) {
      p(name, 'must be a list of steps');
      continue;
    }
    steps.forEach((s, i) => {
      const w = `${name}[${i}]`;
      if (s.op === 'write' || s.op === 'update' || s.op === 'poll') {
        const r = d.regmap?.registers.find((x) => x.name === s.reg);
        if (!d.regmap) p(w, `step names register ${s.reg} but the part has no register map`);
        else if (!r) p(w, `names unknown register "${s.reg}"`);
        else {
          const fields = s.op === 'update' ? Object.keys(s.fields) : s.op === 'poll' ? [s.field] : [];
          for (const f of fields) if (!r.fields?.some((x) => x.name === f)) p(w, `names unknown field "${f}" of register ${s.reg}`);
        }
      }
      if ((s.op === 'poll' || s.op === 'delay') && !s.source?.trim()) p(w, `${s.op} step without a source for its timing`);
      if (s.op === 'gpio' && !(s.role in (d.gpioRoles ?? {}))) {
        p(w, `GPIO role "${s.role}" is not one of the part's own pins (gpioRoles); a board amplifier's lines belong to the board's power (src/board/power.ts)`);
      }
      if (s.op === 'mute-control' || s.op === 'set-gain') {
        const c = d.controls.find((x) => x.name === s.control);
        if (!c || c.kind !== 'volume') p(w, `names unknown volume control "${s.control}"`);
        else if (s.op === 'mute-control' && !((c.muteCodes?.length ?? 0) > 0 || c.muteField)) p(w, `control "${s.control}" cannot mute (no mute code or mute bit)`);
        else if (s.op === 'set-gain' && !audibleCodes(c).some((x) => Math.abs(x.db - s.db) < 1e-9)) p(w, `${s.db} dB is not a gain of control "${s.control}"`);
      }
      if (s.op === 'unknown' && (!s.what?.trim() || !s.why?.trim())) p(w, 'an unknown step must say what it would do and why it is unknown');
      if (s.op === 'paths') {
        if (!d.paths) p(w, 'a paths step in a part that declares no paths');
        else if (!name.startsWith('sequences.')) p(w, 'a paths step belongs in the power sequences (powerUp, powerDown), not in a path or sub-sequence');
        if (s.action !== 'up' && s.action !== 'down') p(w, `paths action must be "up" or "down", got ${JSON.stringify(s.action)}`);
      }
    });
  }
  return out;
}
