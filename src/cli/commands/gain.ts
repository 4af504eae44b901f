/**
 * `sbc-audio gain STREAM [DB] [--mute | --unmute]`: a stream's gain and mute, as `amixer sset`
 * is for a mixer element: a shortcut to the `<board>.<stream>.gain` and `.mute` controls of the
 * control channel (docs/CONTROL.md), which set them as the stream's SET_GAIN does.
 */
import type { ControlClient } from '../../control/client.ts';
import { ControlRequestError, servedControlBoards } from '../../control/client.ts';
import type { ControlInfo } from '../../control/types.ts';
import { formatControlValue } from '../../control/values.ts';
import { type CliIO, type Command, EXIT_FAILURE, EXIT_OK, UsageError } from '../command.ts';
import { CONTROL_OPTIONS, controlRuntimeDir, parseWithNegativeValues, withControlClient } from './ctl.ts';

const USAGE = `usage: sbc-audio gain STREAM [DB] [--mute | --unmute] [--board NAME] [--runtime-dir DIR] [--json]

Reads or sets a served stream's gain and mute through the control channel (docs/CONTROL.md):
the controls <board>.<stream>.gain and <board>.<stream>.mute. Without DB and flags, prints them.

  STREAM              <board>.<stream> (e.g. sim.speaker), or <stream> on the only board served
                      (or the one --board names)
  DB                  dB ("-20", "-20.5"), a step from the gain in force ("+3dB", "-3dB") or a
                      percentage of the control's percent mapping ("50%"); a value starting
                      with "-" is a value, not an option
  --mute, --unmute    mute or unmute the stream (with DB: the gain first)
  --board NAME        the board (default: the one STREAM names, else the only one served)
  --runtime-dir DIR   where the service runs (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio)
  --json              {"stream", "gain": the gain control, "mute": the mute control} as the service answers

Prints "<board>.<stream>: <gain> dB", with "(muted)" when muted.
exit codes: 0 done, 1 the service refused or failed (its message on stderr), 2 usage error, 3 no
service (no control channel, the board not served, nothing answering)`;

/** The board and stream STREAM names: `<board>.<stream>` for a board served (or --board), else `<stream>`. */
function splitStream(stream: string, board: string | undefined, served: readonly string[]): { board: string | undefined; stream: string } {
  if (board !== undefined) return { board, stream: stream.startsWith(`${board}.`) ? stream.slice(board.length + 1) : stream };
  // The longest served board name that prefixes it (board names may hold dots).
  const hit = served.filter((b) => stream.startsWith(`${b}.`)).sort((a, b) => b.length - a.length)[0];
  if (hit) return { board: hit, stream: stream.slice(hit.length + 1) };
  // "<board>.<stream>" of a board not served: named so, the channel's lookup says which are.
  const dot = stream.indexOf('.');
  return dot > 0 ? { board: stream.slice(0, dot), stream: stream.slice(dot + 1) } : { board: undefined, stream };
}

async function readMute(c: ControlClient, id: string): Promise<ControlInfo | undefined> {
  try {
    return await c.get(id);
  } catch (e) {
    if (e instanceof ControlRequestError) return undefined; // a stream whose volume cannot mute has no mute control
    throw e;
  }
}

function line(name: string, gain: ControlInfo, mute: ControlInfo | undefined): string {
  return `${name}: ${formatControlValue(gain, gain.value)}${mute?.value === true ? ' (muted)' : ''}`;
}

export const gainCommand: Command = {
  name: 'gain',
  usage: USAGE,
  async run(argv, io: CliIO) {
    const { values, positionals } = parseWithNegativeValues(argv, { ...CONTROL_OPTIONS, mute: { type: 'boolean' }, unmute: { type: 'boolean' } });
    if (positionals.length < 1 || positionals.length > 2) {
      throw new UsageError(`give a stream and optionally a gain, e.g. 'sbc-audio gain sim.speaker -20'; got ${positionals.length ? positionals.join(' ') : 'nothing'}`);
    }
    if (values.mute && values.unmute) throw new UsageError('--mute and --unmute exclude each other');
    const [streamArg, db] = positionals as [string, string | undefined];
    const named = splitStream(streamArg, values.board, values.board === undefined ? servedControlBoards(controlRuntimeDir(values)) : []);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(named.stream)) throw new UsageError(`STREAM: "${streamArg}" is not <board>.<stream> or <stream> (e.g. sim.speaker)`);
    return withControlClient(io, 'gain', { ...values, board: named.board }, async (c) => {
      // The board as the channel knows it (when STREAM did not name one: the only one served).
      const boardId = named.board ?? (await c.list()).board.id;
      const name = `${boardId}.${named.stream}`;
      const gainId = `${name}.gain`;
      const muteId = `${name}.mute`;
      let gain: ControlInfo;
      try {
        gain = db === undefined ? await c.get(gainId) : await c.set(gainId, db);
      } catch (e) {
        if (!(e instanceof ControlRequestError) || db !== undefined) throw e;
        const streams = (await c.list()).controls.filter((x) => x.owner.kind === 'stream' && x.id.endsWith('.gain')).map((x) => x.id.slice(0, -'.gain'.length));
        io.err(`sbc-audio gain: board ${boardId} has no stream "${named.stream}" with a gain (${streams.length ? `streams with a gain: ${streams.join(', ')}` : 'no stream of it has a gain'})`);
        return EXIT_FAILURE;
      }
      let mute: ControlInfo | undefined;
      if (values.mute || values.unmute) mute = await c.set(muteId, values.mute ? 'on' : 'off');
      else mute = await readMute(c, muteId);
      if (values.json) io.out(JSON.stringify({ stream: name, gain, ...(mute ? { mute } : {}) }, null, 2));
      else io.out(line(name, gain, mute));
      return EXIT_OK;
    });
  },
};
