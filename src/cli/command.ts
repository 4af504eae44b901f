/**
 * The shape of a CLI command and what every command shares: the exit codes (all of them here, in
 * one place), signal handling, option parsing with our own messages, the validation of the options
 * several commands take (--seconds, --freq, --level, --volume, --rate, --channels, --runtime-dir,
 * --board, --stream: the same ranges and words everywhere) and number formatting.
 *
 * This module is loaded for every command line, `--help` included: it imports node built-ins only,
 * so start-up stays close to `node -e 0` (issue 25). What a helper needs from the project (the board
 * list, the stream discovery) is imported inside the helper, when it is called.
 */
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (live meters only then). */
  isTTY: boolean;
}

/** A command's module: its help text and what it does (its one-line summary is in the registry, commands/index.ts). */
export interface Command {
  name: string;
  /** Full help text for `sbc-audio <name> --help` (and `sbc-audio help <name>`). */
  usage: string;
  /** Returns the exit code (EXIT_*; a signal: signalExitCode). */
  run(argv: string[], io: CliIO): Promise<number>;
}

/** A command as the registry knows it without loading it: `--help` lists these and loads nothing. */
export interface CommandEntry {
  name: string;
  /** One line for `sbc-audio --help`. */
  summary: string;
  /** Loads the command's module (a dynamic import, so only the command run is loaded). */
  load(): Promise<Command>;
}

// Exit codes, for every command (the top help and README.md list them).
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** The service cannot be reached: no endpoint or control channel, connection refused, no runtime directory with streams. */
export const EXIT_UNREACHABLE = 3;
/** 128 + the signal's number (SIGINT 2, SIGTERM 15: the numbers of Linux, as the shell reports a process a signal killed). */
export const EXIT_SIGINT = 128 + 2;
export const EXIT_SIGTERM = 128 + 15;

/** The exit codes as the top help and the README state them (one text, so the two cannot differ). */
export const EXIT_CODES_TEXT =
  'exit codes: 0 success, 1 failure, 2 usage error, 3 service not reachable (not running, no such endpoint,\n' +
  'connection refused), 128 + N a command ended by signal N before its work was done (130 SIGINT, 143 SIGTERM)';

/** The exit code for a command a signal stopped before its work was done: 128 + the signal's number. */
export function signalExitCode(sig: NodeJS.Signals | undefined): number {
  const n = sig === undefined ? undefined : (osConstants.signals as Record<string, number>)[sig];
  return 128 + (n ?? 2);
}

/** How long a command may take to wind down after the first SIGINT / SIGTERM before it is made to exit. */
export const SIGNAL_GRACE_MS = 3000;

export interface SignalStop {
  /** Aborted (reason: the signal's name) at the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Removes the handlers and the grace timer (call when the command returns). */
  dispose(): void;
}

/**
 * SIGINT and SIGTERM for a command that talks to something that may not answer (a service, a
 * device): the first aborts `signal`, so the command winds down (STOP, close) and returns its
 * exit code; a second signal, or `graceMs` without the command having returned, exits the process
 * at once with 128 + the signal's number, whatever socket, timer or worker is still pending.
 * Nothing here keeps the process alive (the grace timer is unref'd).
 */
export function stopOnSignals(io: CliIO, command: string, graceMs = SIGNAL_GRACE_MS, exit: (code: number) => void = (c) => process.exit(c)): SignalStop {
  const abort = new AbortController();
  let received: NodeJS.Signals | undefined;
  let grace: NodeJS.Timeout | undefined;
  const on = (sig: NodeJS.Signals) => {
    if (received !== undefined) {
      io.err(`sbc-audio ${command}: ${sig} again: exiting now`);
      exit(signalExitCode(received));
      return;
    }
    received = sig;
    io.err(`sbc-audio ${command}: ${sig}: stopping (a second signal exits at once)`);
    grace = setTimeout(() => {
      io.err(`sbc-audio ${command}: did not stop within ${graceMs} ms of ${sig}: exiting now`);
      exit(signalExitCode(sig));
    }, graceMs);
    grace.unref();
    abort.abort(sig);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    signal: abort.signal,
    get received() { return received; },
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      if (grace) clearTimeout(grace);
    },
  };
}

/**
 * Resolves on the first SIGINT or SIGTERM (and stops listening for them): for the commands whose
 * work is to run until stopped (serve, ls --watch), where the signal is the normal end (exit 0).
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** A usage error: the command line was wrong (exit 2). The message is one line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The service is not there: no endpoint, no control channel, nothing answering (exit 3). */
export class ServiceUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceUnreachableError';
  }
}

/** Levenshtein distance (insertions, deletions, substitutions; a swap of neighbours counts 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word`, when it is close enough to be what was meant: at most 1 edit
 * for words up to 4 letters, 2 beyond (a typo, not another word), or `word` a prefix of exactly
 * one candidate (`--sec` for `--seconds`).
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => word.length >= 2 && c.startsWith(word));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestD) { best = c; bestD = dist; }
  }
  return bestD <= (word.length <= 4 ? 1 : 2) ? best : undefined;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** A value that is a negative number ("-6", "-.5", "-6dB"), not an option. */
const NEGATIVE_VALUE = /^-\.?\d/;

/**
 * parseArgs with strict checking and our own messages (node's name the parser's internals): an
 * unknown option is named with the closest known one, a missing value, a value given to a flag
 * and a stray argument each get one line. `--level -6`: a negative number after an option that
 * takes a value is that option's value.
 */
export function parseOptions<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  const all: Options = { ...options, help: { type: 'boolean', short: 'h' } };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name && all[name]?.type === 'string' && next !== undefined && NEGATIVE_VALUE.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  checkTokens(args, all, allowPositionals);
  try {
    return parseArgs({ args, options: all as O & { help: { type: 'boolean'; short: 'h' } }, strict: true, allowPositionals });
  } catch (e) {
    // checkTokens words every case it knows; anything else parseArgs refuses, shortened to its first sentence.
    throw new UsageError(String((e as Error).message).split('. ')[0]!.replace(/'/g, ''));
  }
}

/** The checks of parseOptions, on parseArgs's tokens (non-strict, so that nothing is thrown in node's words). */
function checkTokens(args: string[], options: Options, allowPositionals: boolean): void {
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const longNames = Object.keys(options);
  const shortOf = new Map(Object.entries(options).flatMap(([n, o]) => (o.short ? [[o.short, n] as const] : [])));
  for (const t of tokens) {
    if (t.kind === 'option') {
      const known = t.rawName.startsWith('--') ? longNames.includes(t.name) : shortOf.has(t.name);
      if (!known) {
        if (!t.rawName.startsWith('--') && NEGATIVE_VALUE.test(args[t.index]!)) {
          throw new UsageError(`unexpected argument "${args[t.index]}" (a value starting with '-' goes right after its option, e.g. --level -6)`);
        }
        const guess = t.rawName.startsWith('--') ? didYouMean(t.name, longNames) : undefined;
        throw new UsageError(`unknown option ${t.rawName}${guess ? ` (did you mean --${guess}?)` : ''}`);
      }
      const name = t.rawName.startsWith('--') ? t.name : shortOf.get(t.name)!;
      const type = options[name]!.type;
      if (type === 'string') {
        // parseArgs takes the next argument whatever it is: an option after it means this one has no value.
        if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-') && !NEGATIVE_VALUE.test(t.value))) {
          throw new UsageError(`--${name} needs a value`);
        }
      } else if (t.inlineValue) {
        throw new UsageError(`--${name} takes no value (got "${t.value}")`);
      }
    } else if (t.kind === 'positional' && !allowPositionals) {
      throw new UsageError(`unexpected argument "${t.value}" (this command takes options only)`);
    }
  }
}

/** Reads a numeric option, with a usage error naming the option when it is not a number in range. */
export function numberOption(value: string | undefined, name: string, dflt: number, min = -Infinity, max = Infinity, unit = ''): number {
  if (value === undefined) return dflt;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    const u = unit ? ` ${unit}` : '';
    const range = Number.isFinite(min) && Number.isFinite(max) ? ` from ${min}${u} to ${max}${u}` : Number.isFinite(min) ? ` of at least ${min}${u}` : Number.isFinite(max) ? ` of at most ${max}${u}` : '';
    throw new UsageError(`--${name} must be a number${range}, got "${value}"`);
  }
  return n;
}

/** A whole-number option (a rate, a channel count). */
export function integerOption(value: string | undefined, name: string, dflt: number, min: number, max: number, unit = ''): number {
  const n = numberOption(value, name, dflt, min, max, unit);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number from ${min}${unit ? ` ${unit}` : ''} to ${max}${unit ? ` ${unit}` : ''}, got "${value}"`);
  return n;
}

// The options several commands share: one range and one message each, whichever command reads them.

/** Sample rates: 8 kHz (telephony) to 384 kHz (the highest rate in ALSA's standard rate list). */
export const MIN_RATE = 8000;
export const MAX_RATE = 384000;
/** Channels: 1 to 32 (the stream protocol's ranges go higher; no board here has more than 8). */
export const MAX_CHANNELS = 32;
/** Levels: 0 dBFS is full scale; 120 dB below it is under any 16/24-bit converter's noise floor. */
export const MIN_LEVEL_DBFS = -120;
/** Durations: up to a day (a mistyped value in ms would otherwise run for weeks). */
export const MAX_SECONDS = 86400;

/** --seconds: above 0, at most a day. */
export function secondsOption(value: string | undefined, dflt: number): number;
export function secondsOption(value: string | undefined, dflt?: undefined): number | undefined;
export function secondsOption(value: string | undefined, dflt?: number): number | undefined {
  if (value === undefined) return dflt;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--seconds must be a positive number of seconds, got "${value}"`);
  if (n > MAX_SECONDS) throw new UsageError(`--seconds must be at most ${MAX_SECONDS} (a day), got "${value}"`);
  return n;
}

/** --rate: a whole number of Hz from 8000 to 384000. */
export function rateOption(value: string | undefined, dflt: number): number {
  return integerOption(value, 'rate', dflt, MIN_RATE, MAX_RATE, 'Hz');
}

/** --freq: 1 Hz to half the rate (Nyquist: above it the tone folds back). */
export function freqOption(value: string | undefined, dflt: number, rate: number): number {
  return numberOption(value, 'freq', dflt, 1, rate / 2, 'Hz');
}

/** --level: a peak level in dBFS, -120 to 0 (above 0 dBFS would clip). */
export function levelOption(value: string | undefined, dflt: number): number {
  return numberOption(value, 'level', dflt, MIN_LEVEL_DBFS, 0, 'dBFS');
}

/** --channels: a whole number from 1 to 32. */
export function channelsOption(value: string | undefined, dflt: number): number {
  return integerOption(value, 'channels', dflt, 1, MAX_CHANNELS);
}

/** --volume: a gain in dB, with or without "dB" ("-6", "-6dB", "+3"); the stream's own range is checked where it is known. */
export function volumeOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:dB)?$/i.exec(value.trim());
  if (!m) throw new UsageError(`--volume must be a gain in dB (e.g. -6 or -6dB), got "${value}"`);
  return Number(m[1]);
}

/** --runtime-dir: a folder path (made absolute); undefined: the command's default. */
export function runtimeDirOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '' || value.includes('\0')) throw new UsageError(`--runtime-dir must be a folder path, got "${value}"`);
  return path.resolve(value);
}

/**
 * --board: a board file path (it has a '/' or ends in .json), or the name of a board in the folders
 * boards are looked up in; an unknown name is a usage error listing the boards there are.
 */
export async function boardOption(value: string | undefined, required: string | false = '--board is required'): Promise<string | undefined> {
  if (value === undefined) {
    if (required) throw new UsageError(required);
    return undefined;
  }
  if (value.trim() === '') throw new UsageError('--board needs a board name or a board file path');
  if (value.includes('/') || value.endsWith('.json')) return value;
  const { listBoardNames } = await import('../board/load.ts');
  const names = listBoardNames();
  if (!names.includes(value)) {
    const guess = didYouMean(value, names);
    throw new UsageError(`no board named ${value}${guess ? ` (did you mean ${guess}?)` : ''} (boards: ${names.join(', ')})`);
  }
  return value;
}

/** A stream named on the command line: its endpoint name (`sim.speaker`) or its short id (`speaker`). */
export function streamNameMatches(fullName: string, given: string): boolean {
  return fullName === given || fullName.endsWith(`.${given}`);
}

/**
 * The one stream of `names` that `given` names: the exact name first, else the only one whose name
 * ends in `.given`; none or several: a usage error naming the choices.
 */
export function pickStreamName(names: readonly string[], given: string, what: string): string {
  if (names.includes(given)) return given;
  const hits = names.filter((n) => streamNameMatches(n, given));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new UsageError(`--stream ${given} is ambiguous: ${hits.join(', ')}`);
  throw new UsageError(`--stream: no ${what} stream ${given} (there are: ${names.length ? names.join(', ') : 'none'})`);
}

/**
 * Numbers for people: at most `digits` decimals, trailing zeros dropped (5.33, 5, 0.25), with the
 * ASCII minus sign. The ASCII '-' everywhere (not U+2212 '−'): what we print can be pasted back
 * into a command line (`--level -6`), and Number() and every shell tool read it.
 */
export function num(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  const s = n.toFixed(digits);
  const t = s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
  return t === '-0' ? '0' : t;
}

/** A duration in milliseconds with its unit ("5.33 ms"). */
export function ms(value: number, digits = 2): string {
  return `${num(value, digits)} ms`;
}

/** Formats rows as an aligned text table: numbers right-aligned (so their digits line up), text left. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const right = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (right[i] ? (c ?? '').padStart(widths[i]!) : (c ?? '').padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}
