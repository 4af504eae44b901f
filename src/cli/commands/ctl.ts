/**
 * `sbc-audio ctl …`: lists, reads, sets and watches a served board's controls through its control
 * channel (docs/CONTROL.md), as amixer does for an ALSA card. Values go to the service as typed:
 * the service parses them ("-20", "50%", "+3dB", "on", an enum's name), so every client means the
 * same thing by them; this file only sends requests and prints answers.
 */
import path from 'node:path';
import {
  ControlChannelError, ControlChannelNotFound, ControlClient, ControlRequestError, findControlChannel,
} from '../../control/client.ts';
import { controlLine } from '../../control/model.ts';
import type { ControlInfo, ControlListing } from '../../control/types.ts';
import { describeRange, dbToPercent, formatControlValue } from '../../control/values.ts';
import { clientRuntimeDir } from '../../stream/discovery.ts';
import {
  type CliIO, type Command, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE, UsageError, parseOptions, runtimeDirOption, stopOnSignals, table,
} from '../command.ts';
import { checkBoardName } from './sim.ts';

/** The options every control command takes. */
export const CONTROL_OPTIONS = { board: { type: 'string' }, 'runtime-dir': { type: 'string' }, json: { type: 'boolean' } } as const;

/** `ctl`'s own: a change's time and ramp (set). */
const CTL_OPTIONS = { ...CONTROL_OPTIONS, 'at-frame': { type: 'string' }, 'at-ns': { type: 'string' }, 'ramp-ms': { type: 'string' } } as const;

type Options = Parameters<typeof parseOptions>[1];

/**
 * parseOptions, where an argument that starts with "-" and a digit ("-20", "-3dB", "-.5") is a
 * value, not an option (node's parseArgs would read "-20" as the short options -2 -0). An option
 * that takes a string still takes such a value as its own (`--level -6`); `--` ends the options
 * as usual.
 */
export function parseWithNegativeValues<O extends Options>(argv: string[], options: O) {
  const held: string[] = [];
  const args: string[] = [];
  let afterDashes = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const prev = argv[i - 1];
    const prevTakesValue = prev !== undefined && prev.startsWith('--') && !prev.includes('=') && options[prev.slice(2)]?.type === 'string';
    if (a === '--') afterDashes = true;
    if (!afterDashes && !prevTakesValue && /^-\.?\d/.test(a)) {
      // A stand-in that parseArgs takes for a positional (it cannot start with "-"), put back after.
      args.push(`\u0000${held.length}`);
      held.push(a);
    } else args.push(a);
  }
  const parsed = parseOptions(args, options, true);
  const restore = (p: string) => (/^\u0000\d+$/.test(p) ? held[Number(p.slice(1))]! : p);
  return { values: parsed.values, positionals: parsed.positionals.map(restore) };
}

/** The runtime directory a control command looks in: --runtime-dir, else where clients find the streams. */
export function controlRuntimeDir(values: { 'runtime-dir'?: string }): string {
  return runtimeDirOption(values['runtime-dir']) ?? path.resolve(clientRuntimeDir());
}

/** The runtime directory and the board a control command talks to. */
export function controlTarget(values: { board?: string; 'runtime-dir'?: string }): { runtimeDir: string; socket: string } {
  const runtimeDir = controlRuntimeDir(values);
  const board = values.board === undefined ? undefined : checkBoardName(values.board);
  try {
    return { runtimeDir, socket: findControlChannel(runtimeDir, board) };
  } catch (e) {
    // Several boards and none chosen: the command line must say which (a usage error, as `sim`).
    if (e instanceof ControlChannelNotFound && e.reason === 'several') throw new UsageError(e.message);
    throw e;
  }
}

/**
 * Runs `body` with a client of the target's channel; the errors of the channel and the service's
 * refusals become exit 1 with the message on stderr (the service's message as it is), usage errors
 * stay usage errors. No channel to connect to (no service, the board not served, nothing
 * answering) is exit 3; a channel this user may not open (EACCES) is a failure (1): the service is there.
 */
export async function withControlClient(
  io: CliIO, command: string, values: { board?: string; 'runtime-dir'?: string }, body: (c: ControlClient) => Promise<number>, timeoutMs?: number,
): Promise<number> {
  let client: ControlClient | undefined;
  try {
    try {
      client = await ControlClient.connect(controlTarget(values).socket, timeoutMs === undefined ? {} : { timeoutMs });
    } catch (e) {
      const permission = e instanceof ControlChannelError && /permission|EACCES/i.test(e.message);
      if ((e instanceof ControlChannelNotFound && e.reason !== 'several') || (e instanceof ControlChannelError && !permission)) {
        io.err(`sbc-audio ${command}: ${e.message}`);
        return EXIT_UNREACHABLE;
      }
      throw e;
    }
    return await body(client);
  } catch (e) {
    if (e instanceof ControlRequestError || e instanceof ControlChannelError || e instanceof ControlChannelNotFound) {
      io.err(`sbc-audio ${command}: ${e.message}`);
      return EXIT_FAILURE;
    }
    throw e;
  } finally {
    client?.close();
  }
}

const USAGE = `usage: sbc-audio ctl list|get|set|watch [ARGS] [--board NAME] [--runtime-dir DIR] [--json]

Lists, reads, sets and watches the controls of a board that 'sbc-audio serve' serves, through its
control channel DIR/control/<board>.sock (docs/CONTROL.md): the codec's volumes, switches and
enums, each stream's gain and mute, the board's GPIO lines and policies.

commands:
  list                  every control: ID, kind, value, range or values, IDLE/ACTIVE, flags
                        (ro: read-only, rt: may be changed from the audio path)
  get ID                one control's value and metadata: range and step, default and where it
                        comes from, percent mapping, real-time safety, registers, source, sameAs
  set ID VALUE          sets it; prints the value as applied (a volume rounded to its step).
      [--at-frame N | --at-ns T] [--ramp-ms MS]
                        at a stream frame (engine controls such as STREAM.trim: exactly at that
                        sample) or at a CLOCK_MONOTONIC time (register controls: as close as the
                        bus allows; the answer says when it landed); --ramp-ms: an engine
                        control's ramp (default the stream's ramp time, 0 = a jump)
                        VALUE: dB ("-20", "-20.5"), a percentage of the control's percent
                        mapping ("50%"), a step from the value in force ("+3dB", "-3dB"),
                        on / off for a switch, a value name for an enum. A value starting with
                        "-" is a value, not an option; '--' before ID also works
  watch [ID...]         prints one line per change (of these controls, or of all), whoever made
                        it, until SIGINT / SIGTERM

IDs are <board>.<stream, part or "board">.<name>, e.g. sim.speaker.gain, sim.sim-codec.dac-filter.

options:
  --board NAME          the board (default: the only one served under DIR)
  --runtime-dir DIR     where the service runs (default: $XDG_RUNTIME_DIR/sbc-audio, then
                        /run/sbc-audio: the first with streams)
  --json                the service's answer as JSON: list the listing (board, parts, controls),
                        get and set the control, watch one JSON object per line

exit codes: 0 done (watch: stopped by SIGINT / SIGTERM), 1 the service refused or failed (its
message on stderr), 2 usage error, 3 no service: no control channel under DIR, the board not
served, or nothing answering on its channel`;

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function flags(c: ControlInfo): string {
  return [c.writable ? '' : 'ro', c.realtimeSafe ? 'rt' : '', c.error ? 'error' : ''].filter(Boolean).join(',');
}

function printList(io: CliIO, l: ControlListing): void {
  io.out(`${l.board.id}: ${l.board.vendor}; ${l.parts.map((p) => `${p.id} (${p.name}, ${p.vendor})`).join('; ')}`);
  if (l.controls.length === 0) {
    io.out('no controls');
    return;
  }
  io.out(table(['ID', 'KIND', 'VALUE', 'RANGE/VALUES', 'STATE', 'FLAGS'],
    l.controls.map((c) => [c.id, c.kind, formatControlValue(c, c.value), describeRange(c), c.state, flags(c)])));
}

/** A control's value and every piece of its metadata, one per line. */
export function describeControl(c: ControlInfo): string[] {
  const out = [controlLine(c)];
  const add = (k: string, v: string) => out.push(`  ${`${k}:`.padEnd(16)}${v}`);
  add('name', c.name);
  add('kind', `${c.kind}${c.direction ? ` (${c.direction})` : ''}, owner ${c.owner.kind} ${c.owner.id}`);
  add('state', c.state);
  if (c.error) add('error', c.error);
  if (c.kind === 'volume' || c.kind === 'number') add('range', describeRange(c));
  else if (c.kind === 'text') add('values', 'a text (see source)');
  else add('values', (c.values ?? []).join(', '));
  const d = c.default;
  add('default', typeof d === 'object' ? `unknown (${d.unknown})` : `${formatControlValue(c, d)}${c.defaultSource ? ` (${c.defaultSource})` : ''}`);
  const p = c.display?.percent;
  if (p) {
    const now = typeof c.value === 'number' ? `; now ${dbToPercent(c.value, p).toFixed(1)} %` : '';
    add('percent', `0 % = ${p.minDb} dB, 100 % = ${p.maxDb} dB (${p.why})${now}`);
  }
  add('real-time safe', yesNo(c.realtimeSafe));
  add('writable', c.writable ? 'yes' : `no (${c.readOnlyWhy ?? 'read-only'})`);
  add('persistent', yesNo(c.persistent));
  if (c.registers?.length) add('registers', c.registers.map((r) => (r.field ? `${r.reg}.${r.field}` : r.reg)).join(', '));
  if (c.sameAs?.length) add('same as', c.sameAs.join(', '));
  add('source', c.source);
  return out;
}

/**
 * `ctl watch`: prints each change of the controls `ids` (all when empty) until `stop` resolves
 * (exit 0), or until the channel closes (exit 1). The ids are checked first: an unknown one is
 * the service's refusal (exit 1), before anything is watched.
 */
export async function watchControls(client: ControlClient, ids: readonly string[], io: CliIO, json: boolean, stop: Promise<unknown>): Promise<number> {
  for (const id of ids) await client.get(id);
  const wanted = new Set(ids);
  const onChange = (c: ControlInfo) => {
    if (wanted.size && !wanted.has(c.id)) return;
    io.out(json ? JSON.stringify(c) : `${new Date().toISOString().slice(11, 23)}  ${controlLine(c)}${c.error ? ` (${c.error})` : ''}`);
  };
  client.on('changed', onChange);
  let closed: (why: string) => void = () => {};
  const gone = new Promise<string>((resolve) => { closed = resolve; });
  client.once('close', closed);
  try {
    await client.subscribe();
    io.err(`sbc-audio ctl watch: watching ${ids.length ? ids.join(', ') : 'every control'} (SIGINT / SIGTERM stops)`);
    const end = await Promise.race([stop.then(() => undefined), gone]);
    if (end !== undefined) {
      io.err(`sbc-audio ctl watch: ${end}`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } finally {
    client.off('changed', onChange);
    client.off('close', closed);
  }
}

export const ctlCommand: Command = {
  name: 'ctl',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseWithNegativeValues(argv, CTL_OPTIONS);
    const [sub, ...args] = positionals;
    const json = Boolean(values.json);
    const argc = (n: number, what: string) => {
      if (args.length !== n) throw new UsageError(`${sub} takes ${what}; got ${args.length ? args.join(' ') : 'nothing'}`);
    };
    if (sub !== 'set' && (values['at-frame'] !== undefined || values['at-ns'] !== undefined || values['ramp-ms'] !== undefined)) {
      throw new UsageError('--at-frame, --at-ns and --ramp-ms are for set');
    }
    switch (sub) {
      case undefined:
        throw new UsageError('a ctl command is required (list, get, set, watch)');
      case 'list':
        argc(0, 'no arguments');
        return withControlClient(io, 'ctl', values, async (c) => {
          const l = await c.list();
          if (json) io.out(JSON.stringify(l, null, 2));
          else printList(io, l);
          return EXIT_OK;
        });
      case 'get':
        argc(1, "a control id, e.g. 'sbc-audio ctl get sim.speaker.gain'");
        return withControlClient(io, 'ctl', values, async (c) => {
          const info = await c.get(args[0]!);
          io.out(json ? JSON.stringify(info, null, 2) : describeControl(info).join('\n'));
          return EXIT_OK;
        });
      case 'set':
        argc(2, "a control id and a value, e.g. 'sbc-audio ctl set sim.speaker.gain -20'");
        {
          const num = (name: 'at-frame' | 'at-ns' | 'ramp-ms', integer: boolean): number | undefined => {
            const v = values[name];
            if (v === undefined) return undefined;
            const n = Number(v);
            if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (integer && !Number.isSafeInteger(n))) throw new UsageError(`--${name}: expected ${integer ? 'an integer' : 'a number'} ≥ 0, got "${v}"`);
            return n;
          };
          const atFrame = num('at-frame', true), atNs = num('at-ns', false), rampMs = num('ramp-ms', false);
          if (atFrame !== undefined && atNs !== undefined) throw new UsageError('--at-frame and --at-ns: one or the other');
          const at = atFrame !== undefined ? { frame: atFrame } : atNs !== undefined ? { ns: atNs } : undefined;
          return withControlClient(io, 'ctl', values, async (c) => {
            const info = await c.set(args[0]!, args[1]!, { ...(at ? { at } : {}), ...(rampMs !== undefined ? { rampMs } : {}) });
            const when = info.applied ? ` (${info.applied.frame !== undefined ? `at frame ${info.applied.frame}, ` : ''}${info.applied.timeNs} ns${info.applied.scheduledNs !== undefined ? `, due ${info.applied.scheduledNs} ns` : ''})` : '';
            io.out(json ? JSON.stringify(info, null, 2) : `${controlLine(info)}${when}`);
            return EXIT_OK;
          });
        }
      case 'watch':
        return withControlClient(io, 'ctl', values, async (c) => {
          const stop = stopOnSignals(io, 'ctl watch');
          try {
            const stopped = new Promise<void>((resolve) => {
              if (stop.signal.aborted) resolve();
              else stop.signal.addEventListener('abort', () => resolve(), { once: true });
            });
            return await watchControls(c, args, io, json, stopped);
          } finally {
            stop.dispose();
          }
        });
      default:
        throw new UsageError(`unknown ctl command "${sub}" (commands: list, get, set, watch)`);
    }
  },
};
