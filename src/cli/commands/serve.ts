import { loadBoard } from '../../board/load.ts';
import { openBoard } from '../../board/runtime.ts';
import { defaultRuntimeDir } from '../../stream/discovery.ts';
import { startStreamService } from '../../stream/service.ts';
import { type Command, EXIT_OK, UsageError, parseOptions } from '../command.ts';

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
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

export const serveCommand: Command = {
  name: 'serve',
  summary: "publish a board's streams to other processes (the Zircon audio stream protocol)",
  usage: `usage: sbc-audio serve --board NAME [--runtime-dir DIR] [--quiet]

Opens the board, brings its codec to a known state (probe, init: muted) and publishes each of
its streams as a Unix socket endpoint: DIR/audio-output/<board>.<stream> and
DIR/audio-input/<board>.<stream>, mode 0660. Any program can find the endpoints there (and
watch them appear and disappear) and speak the stream protocol to them: docs/PROTOCOL.md.
Runs until SIGINT or SIGTERM, then removes its endpoints.

  --board NAME        board name from 'sbc-audio boards', or a board file path (required)
  --runtime-dir DIR   where the endpoints go (default: ${defaultRuntimeDir()})
  --quiet             do not log protocol violations and dropped clients to stderr`,
  async run(argv, io) {
    const { values } = parseOptions(argv, { board: { type: 'string' }, 'runtime-dir': { type: 'string' }, quiet: { type: 'boolean' } });
    if (!values.board) throw new UsageError('--board is required');
    const board = loadBoard(values.board);
    const signal = untilSignal(); // listening before anything is published, so a signal never kills us half-way
    const rt = await openBoard(board);
    try {
      const service = await startStreamService(rt, {
        runtimeDir: values['runtime-dir'],
        log: values.quiet ? undefined : (line) => io.err(`sbc-audio serve: ${line}`),
      });
      io.out(`serving ${service.endpoints.length} stream${service.endpoints.length === 1 ? '' : 's'} of board ${board.name} under ${service.runtimeDir}`);
      for (const e of service.endpoints) io.out(`  ${e.direction.padEnd(6)}  ${e.path}`);
      const sig = await signal;
      io.err(`sbc-audio serve: ${sig}: removing the endpoints and stopping`);
      await service.close();
    } finally {
      await rt.close();
    }
    return EXIT_OK;
  },
};
