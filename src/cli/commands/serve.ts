import path from 'node:path';
import { DEFAULT_IDLE_POWER_DOWN_MS } from '../../board/power.ts';
import { defaultRuntimeDir } from '../../stream/discovery.ts';
import { defaultStatePath } from '../../control/state-file.ts';
import { loadBoard } from '../../board/load.ts';
import { boundStreams, configFile, loadConfig } from '../../system/config.ts';
import { hostRootFrom } from '../../system/host.ts';
import { groupByName } from '../../util/groups.ts';
import { type Command, EXIT_OK, UsageError, numberOption, parseOptions } from '../command.ts';
import { serveBoard } from '../wiring.ts';
import { DEFAULT_RAMP_MS } from '../../stream/engine-ring-buffer.ts';
import { MAX_RAMP_MS } from '../../board/schema.ts';

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
  usage: `usage: sbc-audio serve [--board NAME] [--group NAME] [--runtime-dir DIR] [--idle-power-down MS] [--quiet]

Opens the board, brings its codec to a known state (probe, init: muted) and publishes each of
its streams as a Unix socket endpoint: DIR/audio-output/<board>.<stream> and
DIR/audio-input/<board>.<stream>, mode 0660. Any program can find the endpoints there (and
watch them appear and disappear) and speak the stream protocol to them: docs/PROTOCOL.md.
The codec powers up when a client STARTs a ring buffer (before the START is answered), idles
muted after the last STOP and powers down after --idle-power-down ms without a stream, or at
once when the last ring-buffer channel closes. On a simulated board each output also gets a
monitor endpoint (audio-input/<board>.<stream>.monitor: what the simulated analog output
carries) and a simulation control socket (DIR/sim/<board>.sock: 'sbc-audio sim').
Every control of the board (stream gains and mutes, the codec's controls, lines, policies) is
served on the control channel DIR/control/<board>.sock ('sbc-audio ctl', 'sbc-audio gain';
docs/CONTROL.md). Their values start at the board's defaults, are restored from the state file
and saved to it on change (at most once a second), as alsactl store / restore do.
Runs until SIGINT or SIGTERM, then removes its endpoints.
A real board's hardware is checked first (its ALSA card, I2C bus, codec, GPIO chips): where a part
is missing, serve exits with status 1 before publishing anything, naming it ('sbc-audio doctor'
says how to fix it). Options not given come from ${configFile()} where it exists
(board, group, runtimeDir, idlePowerDownMs); its "binds" (stream ids) limit the config's board to
those streams — the others get no endpoint and their PCMs stay closed. The system service
(systemd/sbc-audio.service) runs serve with that file.

  --board NAME        board name from 'sbc-audio boards', or a board file path (required unless the config names one)
  --group NAME        the group whose members may connect: sockets 0660 with that group, shared
                      buffers 0660 with that group (default: this process's group, owner-only buffers)
  --runtime-dir DIR   where the endpoints go (default: ${defaultRuntimeDir()})
  --idle-power-down MS  how long the codec idles muted after the last stream stops (default ${DEFAULT_IDLE_POWER_DOWN_MS}, as ASoC's pmdown_time)
  --state-file PATH   where control values are kept (default: ${defaultStatePath()}:
                      $STATE_DIRECTORY/state.json under systemd, /var/lib/sbc-audio/state.json for
                      root, else $XDG_STATE_HOME/sbc-audio/state.json)
  --no-state          neither restore nor save control values (the board's defaults at every start)
  --ramp-ms MS        every output stream's ramp time: the fade at START and STOP and across gain
                      changes (default: the board file's streams[].rampMs, else ${DEFAULT_RAMP_MS}; 0 = no ramps)
  --quiet             do not log protocol violations and dropped clients to stderr`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, group: { type: 'string' }, 'runtime-dir': { type: 'string' }, 'idle-power-down': { type: 'string' }, quiet: { type: 'boolean' },
      'state-file': { type: 'string' }, 'no-state': { type: 'boolean' }, 'ramp-ms': { type: 'string' },
    });
    if (values['state-file'] !== undefined && values['no-state']) throw new UsageError('--state-file and --no-state: give one');
    const stateFile = values['no-state'] ? undefined : path.resolve(values['state-file'] ?? defaultStatePath());
    const root = hostRootFrom(undefined);
    const config = loadConfig(root);
    const boardName = values.board ?? config?.board;
    if (!boardName) throw new UsageError(`--board is required (${configFile(root)} names no board)`);
    const idleMs = numberOption(values['idle-power-down'], 'idle-power-down', config?.idlePowerDownMs ?? DEFAULT_IDLE_POWER_DOWN_MS, 0, 3_600_000);
    const rampMs = values['ramp-ms'] === undefined ? undefined : numberOption(values['ramp-ms'], 'ramp-ms', DEFAULT_RAMP_MS, 0, MAX_RAMP_MS);
    const groupName = values.group ?? config?.group;
    let group: { name: string; gid: number } | undefined;
    if (groupName !== undefined) {
      const g = groupByName(groupName, root.at('/etc/group'));
      if (!g) throw new UsageError(`--group ${groupName}: no such group in /etc/group`);
      group = { name: g.name, gid: g.gid };
    }
    // binds: the config's streams of the config's board (another --board publishes all of its own).
    const binds = config?.binds && (values.board === undefined || values.board === config.board) ? boundStreams(loadBoard(boardName), config) : undefined;
    const signal = untilSignal(); // listening before anything is published, so a signal never kills us half-way
    const served = await serveBoard(boardName, {
      runtimeDir: values['runtime-dir'] ?? config?.runtimeDir,
      hostRoot: root,
      ...(group ? { group } : {}),
      ...(binds ? { streams: binds } : {}),
      log: values.quiet ? undefined : (line) => io.err(`sbc-audio serve: ${line}`),
      board: { idlePowerDownMs: idleMs },
      ...(stateFile ? { stateFile } : {}),
      ...(rampMs !== undefined ? { rampMs } : {}),
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
