/**
 * Board files: which codec sits on which bus and address, which GPIO lines do what, which PCM
 * devices carry the streams, and the analog path's own delays. JSON in board/<name>.json.
 *
 * Validation is hand-written so that every error names the file, the field path and what was
 * expected (see BoardFileError); a user editing a board file should never need a stack trace.
 */

export const GPIO_ROLES = [
  'jack-detect', // input: headphone jack inserted (logical 1 = plugged)
  'mute', // output: logical 1 = muted (an amplifier's mute pin, a DAC's soft-mute pin with its polarity)
  'amp-enable', // output: logical 1 = amplifier on (e.g. MAX98357A SD_MODE)
  'reset', // output: logical 1 = held in reset
  'led', // output
  'filter-select', // output: a DAC's filter pin (PCM5102A FLT: logical 1 = low-latency)
  'format-select', // output: a DAC's format pin (PCM5102A FMT: logical 1 = left-justified)
  'deemphasis', // output: a DAC's de-emphasis pin
  'encoder-a', // input: a rotary encoder's A contact (the board file's `encoder` says what it turns)
  'encoder-b', // input: its B contact (on the same chip as A: both are one line request, so the kernel's edge order holds)
  'encoder-push', // input: its push switch (logical 1 = pressed)
] as const;
/** The roles whose lines are inputs with edge events; every other role is an output. */
export const INPUT_GPIO_ROLES: readonly GpioRole[] = ['jack-detect', 'encoder-a', 'encoder-b', 'encoder-push'];
export type GpioRole = (typeof GPIO_ROLES)[number];

export const STREAM_PURPOSES = ['speaker', 'headphone', 'line-out', 'line-in', 'microphone'] as const;
export type StreamPurpose = (typeof STREAM_PURPOSES)[number];

export interface GpioLineSpec {
  /** Chip device name ('gpiochip0') or label ('pinctrl-bcm2711'); on sim boards any name. */
  chip: string;
  /** Line offset, or the line's name (e.g. 'GPIO22'). */
  line: number | string;
  activeLow: boolean;
  bias: 'as-is' | 'disabled' | 'pull-up' | 'pull-down';
  /** Debounce for inputs, µs. */
  debounceUs: number;
}

/**
 * The codec's master clock (MCLK) as the board supplies it. `from: 'oscillator'`: an oscillator on
 * the board that runs whenever the board is powered (the ReSpeaker 2-Mic v2's 24.576 MHz): opening
 * the board tells the driver it runs (`setMclkRunning(true)`, which a part that takes no bus access
 * before its clock runs, the SGTL5000, waits for), and a simulated twin feeds the chip model `hz`.
 */
export interface MclkSpec {
  hz: number;
  from: 'oscillator';
  /** Where the figure comes from (a board fact, a schematic, the fixture's own statement). */
  source: string;
}


import { type EncoderSpec, MappingSpecError, type MidiSpec, parseEncoderSpec, parseMidiSpec } from './knob-specs.ts';

export type { EncoderSpec, MidiCurve, MidiMappingSpec, MidiSpec } from './knob-specs.ts';
export { MIDI_CURVES } from './knob-specs.ts';

export interface CodecSpec {
  /** Part id: a folder name under codecs/ (e.g. 'pcm5122'). */
  part: string;
  /** I2C bus number (/dev/i2c-N); absent for parts without a control bus. */
  bus?: number;
  /** 7-bit I2C address. */
  address?: number;
  /** Part-specific options (e.g. { "filter": "low-latency" }). */
  options: Record<string, unknown>;
  /** The master clock the board gives the codec, where the board file states it. */
  mclk?: MclkSpec;
}

export interface StreamSpec {
  /** Stable id, unique on the board (used in the unique id and endpoint names). */
  id: string;
  direction: 'output' | 'input';
  purpose: StreamPurpose;
  /** PCM device (ALSA name such as 'hw:CARD=sndrpihifiberry,DEV=0'; any name on sim boards). */
  pcm: string;
  /** 'jack-detect' follows that GPIO role; 'hardwired' is always plugged. */
  plug: 'hardwired' | 'jack-detect';
  /**
   * Output streams: the ramp time in ms — the fade at START and STOP and across gain changes
   * (docs/CONTROL.md, "Ramps"); absent: the service's default (50 ms); 0: no ramps.
   */
  rampMs?: number;
}

export interface AnalogDelay {
  direction: 'output' | 'input';
  what: string;
  ns: number;
  source: string;
}

export interface SimOptions {
  /** Adds this many extra format ranges (to exercise multi-message GET_FORMATS paging). */
  extraFormatRanges: number;
  /** Initial state of a simulated jack-detect line. */
  jackPlugged: boolean;
  /** Run on a virtual clock that advances by itself (tests, fast demos). */
  virtualClock: boolean;
  /**
   * Oscillators fitted on the board that the codec selects through its own pins, Hz: what the
   * chip model finds when it selects one (the HiFiBerry DAC+ Pro: 24576000 and 22579200, which the
   * PCM5122 picks with its GPIO3/GPIO6; docs/facts/boards.md#clock-masters). Default none.
   */
  oscillatorsHz: number[];
  /**
   * The host's side of the I2S clocks as the real board's overlay sets it: 'provider' (default: the
   * Pi drives BCLK/LRCK) or 'consumer' (the Pi takes them from the codec, the ReSpeaker 2-Mic v2's
   * codec-master overlay: docs/facts/boards.md#clock-masters). A chip model then hears nothing while
   * it drives no clocks itself (ChipEnvironment.hostClockConsumer).
   */
  hostClock: 'provider' | 'consumer';
}

/**
 * The device-tree overlay that gives a real board its ALSA card on a Raspberry Pi: an I2S-only card
 * with no codec node, so the codec's I2C address stays ours (docs/facts/boards.md#who-owns-what-on-a-pi,
 * alsa/overlays/README.md).
 */
export interface OverlaySpec {
  /** The overlay's name, as `dtoverlay=NAME` in config.txt. */
  name: string;
  /** 'firmware': one the Pi firmware ships (e.g. hifiberry-dac); 'sbc-audio': alsa/overlays/NAME.dts. */
  source: 'firmware' | 'sbc-audio';
  /** The card name the overlay gives (ALSA makes the id `alsaCard` from it). */
  card: string;
  /** The HAT's own overlays, which bind the codec: commented out of config.txt by `sbc-audio setup`. */
  replaces: string[];
}

/**
 * ALSA's card id for a card name: its letters and digits, at most 15
 * (docs/facts/boards.md#building-and-installing-an-overlay).
 */
export function alsaCardId(cardName: string): string {
  return cardName.replace(/[^A-Za-z0-9]/g, '').slice(0, 15);
}

export interface Board {
  /** Path of the file it was read from. */
  file: string;
  name: string;
  description: string;
  manufacturer: string;
  hal: 'linux' | 'sim';
  /** The real board this simulated board is a twin of. */
  twinOf?: string;
  codec: CodecSpec;
  gpio: Partial<Record<GpioRole, GpioLineSpec>>;
  /** ALSA card id (as in /proc/asound/cards and hw:CARD=…), where there is one. */
  alsaCard?: string;
  /** Real boards on a Pi: the overlay that creates `alsaCard`. */
  overlay?: OverlaySpec;
  streams: StreamSpec[];
  analogDelays: AnalogDelay[];
  /**
   * Control values in force when nothing else set them (docs/CONTROL.md, "Defaults"): control ids
   * without the board's name (`"speaker.gain": -20`), values as `ctl set` takes them. Checked
   * against the controls when the board is served; the control's reset value applies otherwise.
   */
  controlDefaults: Record<string, number | boolean | string>;
  /** The MIDI input (docs/CONTROL.md, "Knobs"), where the board has one. */
  midi?: MidiSpec;
  /** The rotary encoder (docs/CONTROL.md, "Knobs"), where the board has one. */
  encoder?: EncoderSpec;
  sim: SimOptions;
}

export class BoardFileError extends Error {
  /**
   * `file: field: expected <expected>, got <got>` (got shortened), or `file: field: <problem>`
   * where the trouble is not a value (an unreadable file, a cycle, an unknown part).
   */
  constructor(readonly file: string, readonly field: string, readonly expected: string, readonly got: unknown, problem?: string) {
    super(`${file}: ${field || '(top level)'}: ${problem ?? `expected ${expected}, got ${describe(got)}`}`);
    this.name = 'BoardFileError';
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, expected: string, got: unknown): never {
    throw new BoardFileError(this.file, path, expected, got);
  }

  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Obj;
  }

  onlyKeys(o: Obj, path: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(join(path, k), `no such field (known fields: ${allowed.join(', ')})`, o[k]);
    }
  }

  str(o: Obj, key: string, path: string, opts: { optional?: boolean; pattern?: RegExp; what?: string } = {}): string | undefined {
    const v = o[key];
    if (v === undefined && opts.optional) return undefined;
    const p = join(path, key);
    if (typeof v !== 'string' || v.length === 0) this.fail(p, opts.what ?? 'a non-empty string', v);
    if (opts.pattern && !opts.pattern.test(v)) this.fail(p, opts.what ?? `a string matching ${opts.pattern}`, v);
    return v;
  }

  oneOf<T extends string>(o: Obj, key: string, path: string, values: readonly T[], dflt?: T): T {
    const v = o[key];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || !values.includes(v as T)) this.fail(join(path, key), `one of ${values.map((x) => `"${x}"`).join(', ')}`, v);
    return v as T;
  }

  int(o: Obj, key: string, path: string, min: number, max: number, dflt?: number, what?: string): number {
    const v = o[key];
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(join(path, key), what ?? `an integer from ${min} to ${max}`, v);
    }
    return v;
  }

  bool(o: Obj, key: string, path: string, dflt: boolean): boolean {
    const v = o[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.fail(join(path, key), 'true or false', v);
    return v;
  }

  /** A 7-bit I2C address: a number or a "0x.." string. */
  i2cAddress(o: Obj, key: string, path: string): number | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    const what = 'a 7-bit I2C address from 0x03 to 0x77 (a number or a "0x4d" string)';
    let n: number;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,2}$/.test(v)) n = parseInt(v, 16);
    else this.fail(join(path, key), what, v);
    if (!Number.isInteger(n) || n < 0x03 || n > 0x77) this.fail(join(path, key), what, v);
    return n;
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** The longest ramp a board file may ask for (ms): longer is a fade, not a click guard. */
export const MAX_RAMP_MS = 1000;

const TOP_KEYS = ['$schema', 'name', 'description', 'manufacturer', 'hal', 'twinOf', 'codec', 'gpio', 'alsaCard', 'overlay', 'streams', 'analogDelays', 'controlDefaults', 'midi', 'encoder', 'sim'];
const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Validates a parsed board file. `base` is the board a twin refers to (already validated);
 * the twin's own fields override it and its hal is 'sim'.
 */
export function validateBoard(file: string, raw: unknown, base?: Board): Board {
  const r = new Reader(file);
  const o = r.obj(raw, '');
  // A board file is data: it never names code to load. Plugins (and where they are) belong to the
  // machine's configuration (src/system/config.ts "plugins"), checked against the plugin directories.
  for (const k of ['plugins', 'ladspa', 'ladspaPath', 'dssi', 'dssiPath']) {
    if (k in o) r.fail(k, 'nothing: a board file names no plugins or plugin paths (it is data only); put a chain in /etc/sbc-audio/config.json "plugins" (docs/engine.md, "Plugins in the chain")', o[k]);
  }
  r.onlyKeys(o, '', TOP_KEYS);
  const name = r.str(o, 'name', '', { pattern: /^[a-z0-9][a-z0-9-]*$/, what: 'a board name of lowercase letters, digits and dashes' })!;
  const stem = file.replace(/^.*\//, '').replace(/\.json$/, '');
  if (file.endsWith('.json') && stem !== name) r.fail('name', `"${stem}" (the file's name without .json)`, name);

  if (base) {
    // A simulated twin: everything from the real board unless the twin says otherwise.
    const twin: Obj = { ...structuredClone(baseToRaw(base)), ...o, hal: 'sim' };
    return { ...validateBoard(file, stripTwin(twin)), twinOf: base.name };
  }

  const hal = r.oneOf(o, 'hal', '', ['linux', 'sim'] as const);
  const description = r.str(o, 'description', '')!;
  const manufacturer = r.str(o, 'manufacturer', '', { optional: true }) ?? 'unknown';

  const c = r.obj(o.codec, 'codec');
  r.onlyKeys(c, 'codec', ['part', 'bus', 'address', 'options', 'mclk']);
  const codec: CodecSpec = {
    part: r.str(c, 'part', 'codec', { pattern: /^[a-z0-9-]+$/, what: 'a codec part id (a folder name under codecs/, e.g. "pcm5122")' })!,
    options: c.options === undefined ? {} : r.obj(c.options, 'codec.options'),
  };
  if (c.mclk !== undefined) {
    const m = r.obj(c.mclk, 'codec.mclk');
    r.onlyKeys(m, 'codec.mclk', ['hz', 'from', 'source']);
    codec.mclk = {
      hz: r.int(m, 'hz', 'codec.mclk', 1, 1e9, undefined, 'the master clock\'s frequency in Hz (an integer from 1 to 1000000000, e.g. 24576000)'),
      from: r.oneOf(m, 'from', 'codec.mclk', ['oscillator'] as const),
      source: r.str(m, 'source', 'codec.mclk', { what: 'where the figure comes from (a board fact, a schematic)' })!,
    };
  }
  if (c.bus !== undefined || c.address !== undefined) {
    codec.bus = r.int(c, 'bus', 'codec', 0, 255, undefined, 'an I2C bus number (N of /dev/i2c-N)');
    codec.address = r.i2cAddress(c, 'address', 'codec');
    if (codec.address === undefined) r.fail('codec.address', 'an I2C address when codec.bus is given', undefined);
  }

  const gpio: Partial<Record<GpioRole, GpioLineSpec>> = {};
  if (o.gpio !== undefined) {
    const g = r.obj(o.gpio, 'gpio');
    r.onlyKeys(g, 'gpio', GPIO_ROLES);
    for (const role of GPIO_ROLES) {
      if (g[role] === undefined) continue;
      const p = `gpio.${role}`;
      const l = r.obj(g[role], p);
      r.onlyKeys(l, p, ['chip', 'line', 'activeLow', 'bias', 'debounceUs']);
      const line = l.line;
      if (!(typeof line === 'string' && line.length > 0) && !(typeof line === 'number' && Number.isInteger(line) && line >= 0 && line < 1024)) {
        r.fail(`${p}.line`, 'a line offset (integer 0..1023) or a line name (e.g. "GPIO22")', line);
      }
      gpio[role] = {
        chip: r.str(l, 'chip', p)!,
        line: line as number | string,
        activeLow: r.bool(l, 'activeLow', p, false),
        bias: r.oneOf(l, 'bias', p, ['as-is', 'disabled', 'pull-up', 'pull-down'] as const, 'as-is'),
        debounceUs: r.int(l, 'debounceUs', p, 0, 10_000_000, 0, 'a debounce period in µs (integer 0..10000000)'),
      };
    }
  }

  const alsaCard = r.str(o, 'alsaCard', '', { optional: true });

  let overlay: OverlaySpec | undefined;
  if (o.overlay !== undefined) {
    const ov = r.obj(o.overlay, 'overlay');
    r.onlyKeys(ov, 'overlay', ['name', 'source', 'card', 'replaces']);
    const overlayName = r.str(ov, 'name', 'overlay', { pattern: NAME_PATTERN, what: 'an overlay name of lowercase letters, digits and dashes (dtoverlay=NAME)' })!;
    const source = r.oneOf(ov, 'source', 'overlay', ['firmware', 'sbc-audio'] as const);
    const card = r.str(ov, 'card', 'overlay', { what: 'the card name the overlay gives (e.g. "snd_rpi_hifiberry_dac")' })!;
    const replaces: unknown = ov.replaces ?? [];
    if (!Array.isArray(replaces) || !replaces.every((x) => typeof x === 'string' && /^[a-z0-9][a-z0-9_-]*$/.test(x))) {
      r.fail('overlay.replaces', 'a list of the HAT\'s own overlay names (e.g. ["hifiberry-dacplus"])', ov.replaces);
    }
    if ((replaces as string[]).includes(overlayName)) r.fail('overlay.replaces', `overlays other than "${overlayName}" itself`, replaces);
    const id = alsaCardId(card);
    if (alsaCard !== id) r.fail('alsaCard', `"${id}", the ALSA id of overlay.card "${card}" (its letters and digits, at most 15)`, alsaCard);
    overlay = { name: overlayName, source, card, replaces: [...(replaces as string[])] };
  }

  if (!Array.isArray(o.streams) || o.streams.length === 0) r.fail('streams', 'a non-empty array of streams', o.streams);
  const ids = new Set<string>();
  const streams: StreamSpec[] = (o.streams as unknown[]).map((s, i) => {
    const p = join('streams', i);
    const so = r.obj(s, p);
    r.onlyKeys(so, p, ['id', 'direction', 'purpose', 'pcm', 'plug', 'rampMs']);
    const id = r.str(so, 'id', p, { pattern: /^[a-z0-9][a-z0-9-]*$/, what: 'a stream id of lowercase letters, digits and dashes' })!;
    if (ids.has(id)) r.fail(`${p}.id`, 'an id not used by another stream of this board', id);
    ids.add(id);
    const plug = r.oneOf(so, 'plug', p, ['hardwired', 'jack-detect'] as const, 'hardwired');
    if (plug === 'jack-detect' && !gpio['jack-detect']) r.fail(`${p}.plug`, '"hardwired" (the board declares no gpio.jack-detect line)', plug);
    const pcm = r.str(so, 'pcm', p)!;
    const cardOfPcm = /(?:^|[:,])CARD=([^,]+)/.exec(pcm)?.[1];
    if (overlay && hal === 'linux' && cardOfPcm !== undefined && cardOfPcm !== alsaCard) {
      r.fail(`${p}.pcm`, `a PCM on card ${alsaCard} (the card overlay ${overlay.name} creates)`, pcm);
    }
    const direction = r.oneOf(so, 'direction', p, ['output', 'input'] as const);
    let rampMs: number | undefined;
    if (so.rampMs !== undefined) {
      if (typeof so.rampMs !== 'number' || !(so.rampMs >= 0 && so.rampMs <= MAX_RAMP_MS)) r.fail(`${p}.rampMs`, `a ramp time in ms from 0 to ${MAX_RAMP_MS}`, so.rampMs);
      else if (direction !== 'output') r.fail(`${p}.rampMs`, 'no ramp time on an input stream (ramps are on the output path)', so.rampMs);
      else rampMs = so.rampMs;
    }
    return {
      id,
      direction,
      purpose: r.oneOf(so, 'purpose', p, STREAM_PURPOSES),
      pcm,
      plug,
      ...(rampMs !== undefined ? { rampMs } : {}),
    };
  });

  const analogDelays: AnalogDelay[] = [];
  if (o.analogDelays !== undefined) {
    if (!Array.isArray(o.analogDelays)) r.fail('analogDelays', 'an array of { direction, what, ns, source }', o.analogDelays);
    (o.analogDelays as unknown[]).forEach((d, i) => {
      const p = join('analogDelays', i);
      const dobj = r.obj(d, p);
      r.onlyKeys(dobj, p, ['direction', 'what', 'ns', 'source']);
      analogDelays.push({
        direction: r.oneOf(dobj, 'direction', p, ['output', 'input'] as const),
        what: r.str(dobj, 'what', p)!,
        ns: r.int(dobj, 'ns', p, 0, 1e12, undefined, 'a delay in ns (a non-negative integer)'),
        source: r.str(dobj, 'source', p, { what: 'where the figure comes from (a datasheet, a schematic, a measurement)' })!,
      });
    });
  }

  const controlDefaults: Record<string, number | boolean | string> = {};
  if (o.controlDefaults !== undefined) {
    const cd = r.obj(o.controlDefaults, 'controlDefaults');
    for (const [k, v] of Object.entries(cd)) {
      const p = `controlDefaults[${JSON.stringify(k)}]`;
      if (!/^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$/.test(k)) r.fail(p, 'a control id without the board\'s name, "<stream, part or board>.<name>" (e.g. "speaker.gain")', k);
      if (!(typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))) r.fail(p, 'a value: dB (a number), true / false, or a string as `ctl set` takes it', v);
      controlDefaults[k] = v as number | boolean | string;
    }
  }

  const midi = o.midi === undefined ? undefined : knobSection(r, parseMidiSpec, o.midi, 'midi');
  const encoder = o.encoder === undefined ? undefined : knobSection(r, parseEncoderSpec, o.encoder, 'encoder');
  // The encoder's lines and its section go together.
  const [ga, gb, gp] = [gpio['encoder-a'], gpio['encoder-b'], gpio['encoder-push']];
  if ((ga === undefined) !== (gb === undefined)) r.fail(ga ? 'gpio.encoder-b' : 'gpio.encoder-a', 'both encoder-a and encoder-b (an encoder has two contacts)', undefined);
  if (ga && gb) {
    if (gb.chip !== ga.chip) r.fail('gpio.encoder-b.chip', `"${ga.chip}", the chip of encoder-a (both lines are one request)`, gb.chip);
    for (const k of ['activeLow', 'bias', 'debounceUs'] as const) {
      if (gb[k] !== ga[k]) r.fail(`gpio.encoder-b.${k}`, `${JSON.stringify(ga[k])}, as encoder-a says (both lines are one request, with one configuration)`, gb[k]);
    }
    if (!encoder) r.fail('encoder', 'an encoder section saying which control the encoder on gpio encoder-a/encoder-b turns', undefined);
  }
  if (encoder && !ga) r.fail('gpio.encoder-a', 'the encoder\'s A and B lines (gpio encoder-a and encoder-b) for the encoder section', undefined);
  if (gp && !encoder?.push) r.fail('encoder.push', 'a push section ({ "toggle": "speaker.mute" }) saying what the switch on gpio encoder-push does', encoder?.push);
  if (encoder?.push && !gp) r.fail('gpio.encoder-push', 'the push switch\'s line for encoder.push', undefined);

  const simRaw = o.sim === undefined ? {} : r.obj(o.sim, 'sim');
  r.onlyKeys(simRaw, 'sim', ['extraFormatRanges', 'jackPlugged', 'virtualClock', 'oscillatorsHz', 'hostClock']);
  const osc = simRaw.oscillatorsHz ?? [];
  if (!Array.isArray(osc) || !osc.every((f) => typeof f === 'number' && Number.isInteger(f) && f > 0 && f <= 1e9)) {
    r.fail('sim.oscillatorsHz', 'a list of oscillator frequencies in Hz (integers from 1 to 1000000000), e.g. [24576000, 22579200]', simRaw.oscillatorsHz);
  }
  const sim: SimOptions = {
    extraFormatRanges: r.int(simRaw, 'extraFormatRanges', 'sim', 0, 1000, 0),
    jackPlugged: r.bool(simRaw, 'jackPlugged', 'sim', false),
    virtualClock: r.bool(simRaw, 'virtualClock', 'sim', false),
    oscillatorsHz: [...(osc as number[])],
    hostClock: r.oneOf(simRaw, 'hostClock', 'sim', ['provider', 'consumer'] as const, 'provider'),
  };

  return { file, name, description, manufacturer, hal, codec, gpio, alsaCard, ...(overlay ? { overlay } : {}), streams, analogDelays, controlDefaults, ...(midi ? { midi } : {}), ...(encoder ? { encoder } : {}), sim };
}

function stripTwin(o: Obj): Obj {
  const { twinOf: _t, ...rest } = o;
  return rest;
}

function baseToRaw(b: Board): Obj {
  const { file: _f, twinOf: _t, ...rest } = b;
  return rest as unknown as Obj;
}

/** A knob section (./knob-specs.ts) read for this file: its MappingSpecError as a BoardFileError. */
function knobSection<T>(r: Reader, parse: (raw: unknown, where: string) => T, raw: unknown, where: string): T {
  try {
    return parse(raw, where);
  } catch (e) {
    if (e instanceof MappingSpecError) throw new BoardFileError(r.file, e.field, e.expected, e.got, e.problem);
    throw e;
  }
}
