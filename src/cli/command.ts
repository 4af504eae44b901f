/** The shape of a CLI command and the small helpers every command uses. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (live meters only then). */
  isTTY: boolean;
}

export interface Command {
  name: string;
  /** One line for `sbc-audio --help`. */
  summary: string;
  /** Full help text for `sbc-audio <name> --help`. */
  usage: string;
  /** Returns the exit code: 0 success, 1 failure, 2 usage error (play, record, run: 130 / 143 stopped by SIGINT / SIGTERM). */
  run(argv: string[], io: CliIO): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** A client command (play, record, run) stopped by a signal before its work was done: 128 + the signal's number. */
export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

/** The exit code for a command a signal stopped before its work was done. */
export function signalExitCode(sig: NodeJS.Signals | undefined): number {
  return sig === 'SIGTERM' ? EXIT_SIGTERM : EXIT_SIGINT;
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

/** A usage error: the command line was wrong (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with strict checking; unknown options and stray arguments become UsageErrors. */
export function parseOptions<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  // `--level -6`: parseArgs takes a leading dash for an option, so join negative numbers to their option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Reads a numeric option, with a usage error naming the option when it is not a number in range. */
export function numberOption(value: string | undefined, name: string, dflt: number, min = -Infinity, max = Infinity): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number${Number.isFinite(min) ? ` from ${min}` : ''}${Number.isFinite(max) ? ` to ${max}` : ''}, got "${value}"`);
  }
  return n;
}

/** Formats rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
