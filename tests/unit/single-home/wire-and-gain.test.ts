/**
 * Two things that each have one home, and tests that notice a second one.
 *
 * Gain rounding: src/codec/controls.ts rounds a requested dB to a control's step; the stream core
 * asks it. A scan of src/ fails if something else divides a gain by a step and rounds it again.
 *
 * Wire layouts: src/stream/wire.ts declares each message once, as a field table, and derives
 * encode, decode and the sizes from it. Every table round-trips (decode, then encode, gives back
 * the same bytes) and every derived size is the size the documents give, written here as literals.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { roundDbToStep } from '../../../src/codec/controls.ts';
import { roundGainToStep } from '../../../src/stream/core.ts';
import { INDEPENDENT_DIRS } from './scan.ts';
import {
  CMD, type CmdName, GET_FORMATS_RESP_MAX, GET_FORMATS_RESP_MIN, REQUEST_BYTES, STATUS, type Table, WIRE_MESSAGES, type WireMessage,
  decodeRingBufferRequest, decodeServiceMessage, decodeStreamRequest, encodeRequest, encodeServiceMessage, hex,
} from '../../../src/stream/wire.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const GAIN_HOME = 'src/codec/controls.ts';

// ---------------------------------------------------------------------------------------------
// Gain rounding

const ROUNDING_CALL = /Math\.(?:round|floor|ceil|trunc)\(/g;
/** A division by something named like a step: `/ step`, `/ caps.gainStep`, `/ (stepDb`. */
const DIVIDED_BY_A_STEP = /\/\s*\(?\s*[\w.]*step\w*/i;
/** A name that says gain or dB (`gain`, `minGain`, `db`, `stepDb`), not `feedback`: a time or frame step is not a gain step. */
const GAIN_TERM = /gain|db(?![a-z])|(?<![a-z])db/i;

/** The text of the call's arguments, from just after its '(' to the matching ')'. */
function argumentsAt(code: string, from: number): string {
  let depth = 1;
  for (let i = from; i < code.length; i++) {
    if (code[i] === '(') depth++;
    else if (code[i] === ')' && --depth === 0) return code.slice(from, i);
  }
  return code.slice(from);
}

/**
 * Where `source` rounds a gain divided by a step: `Math.round((gain - min) / step)`, or a name
 * assigned such a quotient and then rounded (`const x = (db - min) / step; … Math.round(x)`).
 * "Gain" is read off the names (the house style is names that say what things are): the rounded
 * expression or the quotient's definition names a gain or a dB value. Comment lines and trailing
 * `// …` comments are blanked first, so prose about rounding is not code that rounds. Returns
 * 1-based line numbers with their text.
 */
function stepRoundings(source: string): { line: number; text: string }[] {
  const lines = source.split('\n').map((l) => (/^\s*(\*|\/\*|\/\/)/.test(l) ? '' : l.replace(/\s\/\/\s.*$/, '')));
  const code = lines.join('\n');
  const quotients = [...code.matchAll(/\b(?:const|let|var)\s+(\w+)\s*=\s*([^;\n]*)/g)]
    .filter((m) => DIVIDED_BY_A_STEP.test(m[2]!) && GAIN_TERM.test(m[2]!))
    .map((m) => new RegExp(`\\b${m[1]}\\b`));
  const hits = new Map<number, string>();
  for (const m of code.matchAll(ROUNDING_CALL)) {
    const args = argumentsAt(code, m.index + m[0].length);
    if ((DIVIDED_BY_A_STEP.test(args) && GAIN_TERM.test(args)) || quotients.some((q) => q.test(args))) {
      const line = code.slice(0, m.index).split('\n').length;
      hits.set(line, lines[line - 1]!.trim());
    }
  }
  return [...hits].map(([line, text]) => ({ line, text }));
}

function sourceFiles(dir: string): string[] {
  return (readdirSync(path.join(repoRoot, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f).split(path.sep).join('/'));
}

describe('single home: gain rounding lives in src/codec/controls.ts', () => {
  it('nothing else in src/ rounds a gain divided by a step', () => {
    const elsewhere = sourceFiles('src')
      .filter((f) => f !== GAIN_HOME && !INDEPENDENT_DIRS.some((d) => f.startsWith(`${d}/`)))
      .flatMap((f) => stepRoundings(readFileSync(path.join(repoRoot, f), 'utf8')).map((h) => `${f}:${h.line}: ${h.text}`));
    assert.deepEqual(elsewhere, [], `a second gain rounding; call roundDbToStep or dbToCode in ${GAIN_HOME} instead`);
  });

  it('the scan recognises the rounding in its home (so an empty scan above means something)', () => {
    const home = stepRoundings(readFileSync(path.join(repoRoot, GAIN_HOME), 'utf8'));
    assert.ok(home.length > 0, `the scan no longer sees ${GAIN_HOME}'s rounding: update stepRoundings() to the new shape`);
  });

  it('negative control: a planted second rounding is flagged, ordinary rounding is not', () => {
    // What src/stream/core.ts did before it asked the controls (a name holding the quotient).
    const twoStep = [
      'export function roundGainToStep(gain: number, caps: GainCaps): number {',
      '  const { minGain: min, maxGain: max, gainStep: step } = caps;',
      '  const x = (gain - min) / step;',
      '  const below = Math.floor(x);',
      '  let k = Math.abs(x - below - 0.5) < 1e-6 ? below : Math.round(x);',
      '  return min + k * step;',
      '}',
    ].join('\n');
    assert.deepEqual(stepRoundings(twoStep).map((h) => h.line), [4, 5]);
    // The same in one expression.
    const inline = 'const db = caps.minGain + Math.round((want - caps.minGain) / caps.gainStep) * caps.gainStep;';
    assert.equal(stepRoundings(inline).length, 1);
    // Rounding that is not of a gain to a step, and prose that mentions it, stay quiet.
    const ordinary = [
      'const frames = Math.round(seconds * rate);',
      'const bar = Math.round((db + 60) / 3);',
      'const first = Math.ceil((t - fromNs) / stepNs);',
      'const periods = Math.ceil(req.periodFrames / PERIOD_STEP);',
      '// never Math.round(gain / step) here',
      ' * Math.round((x - min) / step) in a doc comment',
    ].join('\n');
    assert.deepEqual(stepRoundings(ordinary), []);
  });

  it('the stream core answers with the home\'s rounding: -10.25 dB → -10.5, -33.3 dB → -33.5 on 0.5 dB steps', () => {
    const sim = { minGain: -127, maxGain: 0, gainStep: 0.5 };
    const pcm5122 = { minGain: -103.5, maxGain: 24, gainStep: 0.5 };
    assert.equal(roundGainToStep(-10.25, sim), -10.5); // halfway: the lower step (R-GAIN-3)
    assert.equal(roundGainToStep(-33.3, pcm5122), -33.5);
    for (const [gain, caps] of [[-10.25, sim], [-10.2, sim], [-33.3, pcm5122], [23.75, pcm5122], [-9.95, { minGain: -10, maxGain: 0, gainStep: 0.1 }]] as const) {
      assert.equal(roundGainToStep(gain, caps), roundDbToStep(gain, { minDb: caps.minGain, maxDb: caps.maxGain, stepDb: caps.gainStep }));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Wire tables

/**
 * Payload sizes, header included, as the documents state them (not read from wire.ts). Requests:
 * docs/PROTOCOL.md R-VAL-3 (header only 8, SET_FORMAT 32, SET_GAIN 16, PLUG_DETECT and GET_STRING
 * 12, GET_BUFFER 16), R-RB-4 (GET_FIFO_DEPTH, START, STOP 8; EXT_RB_NOTIFY 12) and the table of
 * section 10. What the service sends: R-RB-4 (GET_FIFO_DEPTH 16, GET_BUFFER 16, START 24, STOP 12),
 * R-FRAME-3 (SET_FORMAT 24), R-FMT-1 (GET_FORMATS 16 + 16·k, full 256), section 10, and for the
 * rest the size column of the wire facts' "Payload layouts" (docs/facts/stream-protocol.md), the
 * frames of section 12 agreeing (GET_GAIN 0x20, SET_GAIN 0x14, PLUG_DETECT_NOTIFY 0x18).
 */
const DOCUMENTED_BYTES: Record<'client' | 'service', Partial<Record<CmdName, number>>> = {
  client: {
    GET_FORMATS: 8, SET_FORMAT: 32, GET_GAIN: 8, SET_GAIN: 16, PLUG_DETECT: 12, GET_UNIQUE_ID: 8, GET_STRING: 12,
    GET_CLOCK_DOMAIN: 8, RB_GET_FIFO_DEPTH: 8, RB_GET_BUFFER: 16, RB_START: 8, RB_STOP: 8,
    EXT_GET_EXTERNAL_DELAY: 12, EXT_GAIN_NOTIFY: 12, EXT_OBSERVE: 8, EXT_GET_PURPOSE: 8, EXT_GET_DELAY_INFO: 12, EXT_RB_NOTIFY: 12,
  },
  service: {
    GET_FORMATS: 256, SET_FORMAT: 24, GET_GAIN: 32, SET_GAIN: 20, PLUG_DETECT: 24, GET_UNIQUE_ID: 24, GET_STRING: 256,
    GET_CLOCK_DOMAIN: 12, PLUG_DETECT_NOTIFY: 24, RB_GET_FIFO_DEPTH: 16, RB_GET_BUFFER: 16, RB_START: 24, RB_STOP: 12,
    RB_POSITION_NOTIFY: 24, EXT_GET_EXTERNAL_DELAY: 24, EXT_GAIN_NOTIFY: 32, EXT_GAIN_CHANGED: 32, EXT_OBSERVE: 12,
    EXT_GET_PURPOSE: 48, EXT_GET_DELAY_INFO: 256, EXT_RB_NOTIFY: 12, EXT_RB_ERROR: 32, EXT_RB_CLOCK: 32,
  },
};

const NAME_OF = new Map<number, CmdName>(Object.entries(CMD).map(([k, v]) => [v, k as CmdName]));

/** A deterministic byte source (any bit pattern is a valid integer). */
function byteSource(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) & 0xff;
  };
}

/**
 * Writes a valid value for each field of `t` at `at`, working only from the table's rows (wire
 * type, width, order): integers get arbitrary bytes, floats a number, bool8 0 or 1, pads zeros,
 * utf8[N] a short ASCII text with its strlen, an array `count` elements. Returns the end offset
 * and where each property went, so a test can set the few values a message's rules constrain.
 */
function writeSample(view: DataView, at: number, t: Table, next: () => number, count: number): { end: number; offsets: Map<string, number> } {
  const offsets = new Map<string, number>();
  for (const f of t) {
    if (f.key) offsets.set(f.key, at); // pads have none
    if ('of' in f) {
      for (let i = 0; i < count; i++) at = writeSample(view, at, f.of, next, count).end;
      continue;
    }
    const sized = /^(\w+)\[(\d+)\]$/.exec(f.type);
    if (f.type === 'f32') view.setFloat32(at, -10.5 - (next() % 8), true);
    else if (f.type === 'f64') view.setFloat64(at, 47999.987 + next(), true);
    else if (f.type === 'bool8') view.setUint8(at, next() & 1);
    else if (sized?.[1] === 'pad') { /* zero */ }
    else if (sized?.[1] === 'utf8') {
      const text = new TextEncoder().encode(`text ${next()} in ${Number(sized[2])} bytes`);
      view.setUint32(at, text.byteLength, true);
      new Uint8Array(view.buffer, at + 4, text.byteLength).set(text);
    } else if (sized?.[1] === 'bytes' || /^[ui](8|16|32|64)$/.test(f.type)) {
      for (let i = 0; i < f.bytes; i++) view.setUint8(at + i, next());
    } else assert.fail(`a wire type this test does not know: ${f.type} (${f.wire})`);
    at += f.bytes;
  }
  return { end: at, offsets };
}

/** Sample frames of a message: the header, its fields, and each variant its rules allow. */
function samples(m: WireMessage): { what: string; frame: Uint8Array }[] {
  const make = (seed: number, opts: { noAck?: boolean; result?: number; trailer?: Uint8Array } = {}) => {
    const buf = new Uint8Array(m.bytes + (opts.trailer?.byteLength ?? 0));
    const view = new DataView(buf.buffer);
    const txid = m.from === 'client' ? 0x01020300 + seed : seed;
    view.setUint32(0, txid, true);
    view.setUint32(4, (m.cmd | (opts.noAck ? 0x80000000 : 0)) >>> 0, true);
    const ranges = 2; // GET_FORMATS: a page cut after two ranges
    const { end, offsets } = writeSample(view, 8, m.fields, byteSource(m.cmd * 31 + seed), ranges);
    if (offsets.has('total')) {
      view.setUint16(offsets.get('first')!, 15, true);
      view.setUint16(offsets.get('total')!, 15 + ranges, true); // every range carried is valid
    }
    if (opts.result !== undefined) view.setInt32(offsets.get('result')!, opts.result, true);
    if (opts.trailer) buf.set(opts.trailer, end);
    return buf.slice(0, end + (opts.trailer?.byteLength ?? 0));
  };
  if (m.trailer === 'token') {
    return [
      { what: 'OK with the token', frame: make(1, { result: STATUS.OK, trailer: new Uint8Array([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) }) },
      { what: 'failed, no token', frame: make(2, { result: STATUS.INVALID_ARGS }) },
    ];
  }
  if (m.trailer === 'path') {
    return [
      { what: 'OK with the path', frame: make(1, { result: STATUS.OK, trailer: new TextEncoder().encode('/dev/shm/sbc-audio-x') }) },
      { what: 'no path', frame: make(2, { result: STATUS.NOT_SUPPORTED }) },
    ];
  }
  const plain = [{ what: 'sample', frame: make(1) }];
  return m.noAck ? [...plain, { what: 'with NO_ACK', frame: make(2, { noAck: true }) }] : plain;
}

function roundTrip(m: WireMessage, frame: Uint8Array): Uint8Array {
  if (m.from === 'service') {
    const d = decodeServiceMessage(frame);
    if (!d.ok) assert.fail(`${m.name}: ${JSON.stringify(d.violation)}`);
    return encodeServiceMessage(d.value);
  }
  const d = m.channel === 'ring-buffer' ? decodeRingBufferRequest(frame) : decodeStreamRequest(frame);
  if (!d.ok) assert.fail(`${m.name}: ${JSON.stringify(d.violation)}`);
  return encodeRequest(d.value);
}

describe('single home: the wire field tables', () => {
  it('every message in the tables has a documented size (and every documented message a table)', () => {
    for (const from of ['client', 'service'] as const) {
      const tabled = WIRE_MESSAGES.filter((m) => m.from === from).map((m) => NAME_OF.get(m.cmd)).sort();
      assert.deepEqual(tabled, Object.keys(DOCUMENTED_BYTES[from]).sort(), `${from} messages`);
    }
  });

  for (const m of WIRE_MESSAGES) {
    const documented = DOCUMENTED_BYTES[m.from][NAME_OF.get(m.cmd)!];

    it(`${m.name}: the size derived from its table is the documented ${documented} bytes`, () => {
      assert.equal(m.bytes, documented);
      if (m.from === 'client') assert.equal(REQUEST_BYTES.get(m.cmd), documented, 'REQUEST_BYTES');
    });

    for (const { what, frame } of samples(m)) {
      it(`${m.name}: encode(decode(x)) == x (${what}, ${frame.byteLength} bytes)`, () => {
        assert.equal(hex(roundTrip(m, frame)), hex(frame));
      });
    }
  }

  it('GET_FORMATS: a page is 16 bytes before its ranges and 256 when full (R-FMT-1)', () => {
    assert.equal(GET_FORMATS_RESP_MIN, 16);
    assert.equal(GET_FORMATS_RESP_MAX, 256);
  });

  it('a round trip notices a byte out of place (the check above is not vacuous)', () => {
    const m = WIRE_MESSAGES.find((x) => x.from === 'service' && x.cmd === CMD.GET_GAIN)!;
    const frame = samples(m)[0]!.frame;
    frame[10] = 0x5a; // a pad byte: the decoder ignores it, the encoder writes zero
    assert.notEqual(hex(roundTrip(m, frame)), hex(frame));
  });
});
