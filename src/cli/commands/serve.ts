import { DEFAULT_IDLE_POWER_DOWN_MS } from '../../board/power.ts';
import { defaultRuntimeDir } from '../../stream/discovery.ts';
import { type Command, EXIT_OK, UsageError, numberOption, parseOptions } from '../command.ts';
import { serveBoard } from '../wiring.ts';

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
  usage: `usage: sbc-audio serve --board NAME [--runtime-dir DIR] [--idle-power-down MS] [--quiet]

Opens the board, brings its codec to a known state (probe, init: muted) and publishes each of
its streams as a Unix socket endpoint: DIR/audio-output/<board>.<stream> and
DIR/audio-input/<board>.<stream>, mode 0660. Any program can find the endpoints there (and
watch them appear and disappear) and speak the stream protocol to them: docs/PROTOCOL.md.
The codec powers up when a client STARTs a ring buffer (before the START is answered), idles
muted after the last STOP and powers down after --idle-power-down ms without a stream, or at
once when the last ring-buffer channel closes. On a simulated board each output also gets a
monitor endpoint (audio-input/<board>.<stream>.monitor: what the simulated analog output
carries) and a simulation control socket (DIR/sim/<board>.sock: 'sbc-audio sim').
Runs until SIGINT or SIGTERM, then removes its endpoints.

  --board NAME        board name from 'sbc-audio boards', or a board file path (required)
  --runtime-dir DIR   where the endpoints go (default: ${defaultRuntimeDir()})
  --idle-power-down MS  how long the codec idles muted after the last stream stops (default ${DEFAULT_IDLE_POWER_DOWN_MS}, as ASoC's pmdown_time)
  --quiet             do not log protocol violations and dropped clients to stderr`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, 'runtime-dir': { type: 'string' }, 'idle-power-down': { type: 'string' }, quiet: { type: 'boolean' },
    });
    if (!values.board) throw new UsageError('--board is required');
    const idleMs = numberOption(values['idle-power-down'], 'idle-power-down', DEFAULT_IDLE_POWER_DOWN_MS, 0, 3_600_000);
    const signal = untilSignal(); // listening before anything is published, so a signal never kills us half-way
    const served = await serveBoard(values.board, {
      runtimeDir: values['runtime-dir'],
      log: values.quiet ? undefined : (line) => io.err(`sbc-audio serve: ${line}`),
      board: { idlePowerDownMs: idleMs },
    });
    try {
      const { service, runtime } = served;
      io.out(`serving ${service.endpoints.length} stream${service.endpoints.length === 1 ? '' : 's'} of board ${runtime.board.name} under ${service.runtimeDir}`);
      for (const e of service.endpoints) io.out(`  ${e.direction.padEnd(6)}  ${e.path}`);
      const sig = await signal;
      io.err(`sbc-audio serve: ${sig}: removing the endpoints and stopping`);
    } finally {
      await served.close();
    }
    return EXIT_OK;
  },
};
