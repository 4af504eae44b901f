/** The `sbc-audio` command line: a registry of commands, help, and exit codes. */
import { BoardFileError } from '../board/schema.ts';
import { type CliIO, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './command.ts';
import { COMMANDS } from './commands/index.ts';

function topHelp(commands: readonly Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'sbc-audio — I2S audio codecs on Raspberry Pi-class boards as real, controllable audio devices',
    '',
    'usage: sbc-audio <command> [options]     (sbc-audio <command> --help for its options)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'exit codes: 0 success, 1 failure, 2 usage error; play, record and run: 130 / 143 when SIGINT / SIGTERM stopped them before the end',
  ].join('\n');
}

export const processIO: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  isTTY: Boolean(process.stdout.isTTY),
};

export async function main(argv: string[], io: CliIO = processIO, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(topHelp(commands));
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  // Multi-word commands ('codec check') are registered under their first word and parse the rest.
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.err(`sbc-audio: unknown command "${name}"\n\n${topHelp(commands)}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(cmd.usage);
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sbc-audio ${cmd.name}: ${e.message}\n\n${cmd.usage}`);
      return EXIT_USAGE;
    }
    if (e instanceof BoardFileError) {
      io.err(`sbc-audio ${cmd.name}: invalid board file: ${e.message}`);
      return EXIT_FAILURE;
    }
    io.err(`sbc-audio ${cmd.name}: ${(e as Error).message ?? e}`);
    if (process.env.SBC_AUDIO_DEBUG) io.err(String((e as Error).stack));
    return EXIT_FAILURE;
  }
}
