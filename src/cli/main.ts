/**
 * The `sbc-audio` command line: the registry of commands, help, the version, and the mapping of
 * what a command throws to an exit code (the codes themselves are in command.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type CliIO, type CommandEntry, EXIT_CODES_TEXT, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, ServiceUnreachableError, UsageError, didYouMean,
} from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { packageRoot } from '../util/package-files.ts';

function topHelp(commands: readonly CommandEntry[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'sbc-audio - I2S audio codecs on Raspberry Pi-class boards as real, controllable audio devices',
    '',
    'usage: sbc-audio <command> [options]     (sbc-audio <command> --help, or sbc-audio help <command>, for its options)',
    '       sbc-audio --version',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    EXIT_CODES_TEXT,
  ].join('\n');
}

/** The package's version (package.json beside src/ or dist/). */
export function packageVersion(): string {
  const file = path.join(packageRoot(import.meta.url, 2), 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  isTTY: Boolean(process.stdout.isTTY),
};

/**
 * The reader of stdout went away (`sbc-audio ls | head -1`): end quietly with exit 0, as a
 * command whose output nobody reads any more has nothing left to do. A command that watches
 * stdout itself (`record -`: it stops the recording and closes the stream first) keeps its own
 * handler, and then this one leaves it alone.
 */
function quietOnEpipe(): void {
  const onError = (e: NodeJS.ErrnoException) => {
    if (process.stdout.listenerCount('error') > 1) return;
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    throw e;
  };
  process.stdout.on('error', onError);
}

/** A usage error: one line, then where the full help is (never the whole help). */
function usageError(io: CliIO, who: string, message: string, helpFor: string): number {
  io.err(`${who}: ${message.split('\n')[0]}\nsee '${helpFor}'`);
  return EXIT_USAGE;
}

/** Whether `e` is of the error class `c`, by its name (see the catch in main). */
function isError(e: unknown, c: { name: string }): boolean {
  return e instanceof Error && e.name === c.name;
}

/** The service could not be reached (exit 3): our own error, or a connection refused / socket gone. */
function unreachable(e: unknown): boolean {
  if (isError(e, ServiceUnreachableError)) return true;
  const err = e as NodeJS.ErrnoException;
  if (err?.syscall === 'connect' && (err.code === 'ECONNREFUSED' || err.code === 'ENOENT')) return true;
  // The stream client's own wording of a connect that failed (src/stream/client.ts connectSocket).
  return err?.name === 'StreamClientError' && /^cannot connect to /.test(err.message) && !/permission/i.test(err.message);
}

export async function main(argv: string[], io: CliIO = processIO, commands: readonly CommandEntry[] = COMMANDS): Promise<number> {
  if (io === processIO) quietOnEpipe();
  const [name, ...rest] = argv;
  if (name === undefined) return usageError(io, 'sbc-audio', 'a command is required', 'sbc-audio --help');
  if (name === '--help' || name === '-h') {
    io.out(topHelp(commands));
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.out(packageVersion());
    return EXIT_OK;
  }
  const find = (n: string): CommandEntry | number => {
    const c = commands.find((x) => x.name === n);
    if (c) return c;
    const guess = didYouMean(n, commands.map((x) => x.name));
    const what = n.startsWith('-') ? `unknown option ${n}` : `unknown command "${n}"`;
    return usageError(io, 'sbc-audio', `${what}${guess ? ` (did you mean ${guess}?)` : ''}`, 'sbc-audio --help');
  };
  if (name === 'help') {
    if (rest.length === 0) {
      io.out(topHelp(commands));
      return EXIT_OK;
    }
    const entry = find(rest[0]!);
    if (typeof entry === 'number') return entry;
    io.out((await entry.load()).usage);
    return EXIT_OK;
  }
  // Multi-word commands ('codec check') are registered under their first word and parse the rest.
  const entry = find(name);
  if (typeof entry === 'number') return entry;
  const cmd = await entry.load();
  // --help anywhere before '--' (after it, it is a value: `run --option x -- --help` is not help).
  const end = rest.indexOf('--');
  const options = end < 0 ? rest : rest.slice(0, end);
  if (options.includes('--help') || options.includes('-h')) {
    io.out(cmd.usage);
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    // By name, not instanceof: a command module loaded by import() may hold another instance of
    // command.ts than this module does (a test runner that loads main.ts as CommonJS).
    if (isError(e, UsageError)) return usageError(io, `sbc-audio ${cmd.name}`, (e as Error).message, `sbc-audio ${cmd.name} --help`);
    if (unreachable(e)) {
      io.err(`sbc-audio ${cmd.name}: ${(e as Error).message}`);
      return EXIT_UNREACHABLE;
    }
    // A board file that is not valid (src/board/schema.ts BoardFileError; by name, so that this
    // module does not load the schema for every command line).
    if ((e as Error)?.name === 'BoardFileError') {
      io.err(`sbc-audio ${cmd.name}: invalid board file: ${(e as Error).message}`);
      return EXIT_FAILURE;
    }
    io.err(`sbc-audio ${cmd.name}: ${(e as Error)?.message ?? e}`);
    if (process.env.SBC_AUDIO_DEBUG) io.err(String((e as Error)?.stack));
    return EXIT_FAILURE;
  }
}
