/**
 * `sbc-audio program …` and `sbc-audio configure …`: a served board's programs (built-in ones from
 * its part, and user presets) and its configure keys, through the control channel
 * (docs/CONTROL.md, "Programs and configure"). The service does the work and words the answers;
 * this file sends requests and prints what comes back.
 */
import type { ConfigureKey } from '../../control/configure.ts';
import type { Program } from '../../control/programs.ts';
import type { ControlValue } from '../../control/types.ts';
import type { PluginStagePrograms } from '../../control/client.ts';
import { type CliIO, type Command, EXIT_OK, UsageError, table } from '../command.ts';
import { CONTROL_OPTIONS, parseWithNegativeValues, withControlClient } from './ctl.ts';

/**
 * How long a configure request may take: a codec option waits for the streams to stop (the
 * service's bound, 10 s by default) and then re-initialises the codec.
 */
export const CONFIGURE_TIMEOUT_MS = 30000;

function valuesText(v: Record<string, ControlValue>): string {
  return Object.entries(v).map(([id, x]) => `${id}=${typeof x === 'string' ? x : JSON.stringify(x)}`).join(', ');
}

const PROGRAM_USAGE = `usage: sbc-audio program list | load BANK PROGRAM | load NAME | load STAGE BANK PROGRAM | save NAME
                         [--board NAME] [--runtime-dir DIR] [--json]

A served board's programs, through its control channel (docs/CONTROL.md, "Programs and configure"):
bank 0 is built in (one program per value of the part's filter, DSP-program or EQ setting, from its
description), bank 1 is the user presets (files <presets>/<name>.json, by name). A DSSI plugin in a
stream's chain has programs of its own (its get_program), listed under its stage STREAM.fxN.

commands:
  list                  every program: BANK, PROGRAM, NAME, the values it sets; * marks the current
                        one (the last loaded, while its controls still hold its values)
  load BANK PROGRAM     sets the program's controls (every value checked first: one bad value and
                        nothing changes)
  load NAME             the same for a user preset by its name
  load STAGE BANK PROGRAM   a DSSI plugin stage's program (e.g. speaker.fx1 0 7): select_program on
                        the engine thread; the ports it rewrites are read back into the controls
  save NAME             the writable persistent controls' values now, as the preset NAME (1 to 64 of
                        a-z, 0-9, "-"; an existing one is replaced)

options:
  --board NAME          the board (default: the only one served under DIR)
  --runtime-dir DIR     where the service runs (as for 'sbc-audio ctl')
  --json                the service's answer as JSON

exit codes: 0 done, 1 the service refused or failed (its message on stderr), 2 usage error, 3 no
service (no control channel, the board not served, nothing answering)`;

function printPrograms(io: CliIO, a: { programs: Program[]; current: { bank: number; program: number } | null; presetDir: string; plugins: PluginStagePrograms[] }): void {
  const cur = a.current;
  if (a.programs.length === 0) io.out('no programs');
  else {
    io.out(table(['', 'BANK', 'PROGRAM', 'NAME', 'VALUES'], a.programs.map((p) => [
      cur && cur.bank === p.bank && cur.program === p.program ? '*' : '', p.bank, p.program, p.name, valuesText(p.values),
    ])));
  }
  io.out(`presets: ${a.presetDir}`);
  // The DSSI plugin stages' own programs (get_program), one table per stage.
  for (const st of a.plugins) {
    io.out('');
    io.out(`${st.owner}: ${st.label} (${st.library})${st.error ? `: cannot list its programs: ${st.error}` : st.programs.length === 0 ? ': no programs' : ''}`);
    if (st.programs.length === 0) continue;
    const cur = st.current;
    io.out(table(['', 'BANK', 'PROGRAM', 'NAME'], st.programs.map((p) => [cur && cur.bank === p.bank && cur.program === p.program ? '*' : '', p.bank, p.program, p.name])));
  }
}

export const programCommand: Command = {
  name: 'program',
  usage: PROGRAM_USAGE,
  async run(argv, io) {
    const { values, positionals } = parseWithNegativeValues(argv, CONTROL_OPTIONS);
    const [sub, ...args] = positionals;
    const json = Boolean(values.json);
    const show = (p: Program, verb: string) => io.out(json ? JSON.stringify(p, null, 2) : `${verb} program ${p.bank}/${p.program} "${p.name}": ${valuesText(p.values)}`);
    switch (sub) {
      case undefined:
        throw new UsageError('a program command is required (list, load, save)');
      case 'list':
        if (args.length) throw new UsageError(`list takes no arguments; got ${args.join(' ')}`);
        return withControlClient(io, 'program', values, async (c) => {
          const a = await c.programs();
          if (json) io.out(JSON.stringify(a, null, 2));
          else printPrograms(io, a);
          return EXIT_OK;
        });
      case 'load': {
        let which: { bank: number; program: number; owner?: string } | { name: string };
        if (args.length === 3 && /^[a-z0-9][a-z0-9-]*\.fx\d+$/.test(args[0]!)) {
          // A DSSI plugin stage's program: OWNER BANK PROGRAM.
          const [b, p] = args.slice(1).map((x) => (/^\d+$/.test(x!) ? Number(x) : Number.NaN));
          if (!Number.isSafeInteger(b) || !Number.isSafeInteger(p)) throw new UsageError(`load OWNER BANK PROGRAM: two integers ≥ 0 after the stage, e.g. 'sbc-audio program load speaker.fx1 0 7'; got ${args.join(' ')}`);
          which = { owner: args[0]!, bank: b!, program: p! };
        } else if (args.length === 2) {
          const [b, p] = args.map((x) => (/^\d+$/.test(x!) ? Number(x) : Number.NaN));
          if (!Number.isSafeInteger(b) || !Number.isSafeInteger(p)) throw new UsageError(`load BANK PROGRAM: two integers ≥ 0, e.g. 'sbc-audio program load 0 1'; got ${args.join(' ')}`);
          which = { bank: b!, program: p! };
        } else if (args.length === 1) {
          which = { name: args[0]! };
        } else throw new UsageError(`load takes BANK PROGRAM or a preset's NAME; got ${args.length ? args.join(' ') : 'nothing'}`);
        return withControlClient(io, 'program', values, async (c) => {
          show(await c.loadProgram(which), 'loaded');
          return EXIT_OK;
        });
      }
      case 'save':
        if (args.length !== 1) throw new UsageError(`save takes a preset NAME (1 to 64 of a-z, 0-9, "-"); got ${args.length ? args.join(' ') : 'nothing'}`);
        return withControlClient(io, 'program', values, async (c) => {
          show(await c.saveProgram(args[0]!), 'saved');
          return EXIT_OK;
        });
      default:
        throw new UsageError(`unknown program command "${sub}" (commands: list, load, save)`);
    }
  },
};

const CONFIGURE_USAGE = `usage: sbc-audio configure [OWNER KEY VALUE] [--board NAME] [--runtime-dir DIR] [--json]

A served board's configure keys (docs/CONTROL.md, "Programs and configure"): options of the board
and its part that are not controls. Without arguments, lists them with their values; with OWNER KEY
VALUE, sets one and prints the service's reply (what changed, or why nothing did). OWNER is a
stream id, the part id or "board", as in control ids.

keys (the list says which this board has):
  STREAM ramp-ms MS          an output stream's ramp time (START fade-in, STOP fade-out, gain ramps)
  board idle-power-down-ms MS    how long the codec idles after the last stream before powering down
  PART OPTION VALUE          a board option its driver applies when the codec is initialised
                             (e.g. pcm5122 filter): the codec is re-initialised while no stream
                             plays; a playing stream is waited for (10 s), then it is refused

options:
  --board NAME          the board (default: the only one served under DIR)
  --runtime-dir DIR     where the service runs (as for 'sbc-audio ctl')
  --json                the service's answer as JSON

exit codes: 0 done, 1 the service refused or failed (its message on stderr), 2 usage error, 3 no
service (no control channel, the board not served, nothing answering)`;

export const configureCommand: Command = {
  name: 'configure',
  usage: CONFIGURE_USAGE,
  async run(argv, io) {
    const { values, positionals } = parseWithNegativeValues(argv, CONTROL_OPTIONS);
    const json = Boolean(values.json);
    if (positionals.length === 0) {
      return withControlClient(io, 'configure', values, async (c) => {
        const keys: ConfigureKey[] = await c.configureList();
        if (json) io.out(JSON.stringify(keys, null, 2));
        else io.out(table(['OWNER', 'KEY', 'VALUE', 'VALUES'], keys.map((k) => [k.owner, k.key, k.value, k.values?.join(', ') ?? ''])));
        return EXIT_OK;
      });
    }
    if (positionals.length !== 3) {
      throw new UsageError(`configure takes no arguments (list) or OWNER KEY VALUE, e.g. 'sbc-audio configure board idle-power-down-ms 2000'; got ${positionals.join(' ')}`);
    }
    const [owner, key, value] = positionals as [string, string, string];
    return withControlClient(io, 'configure', values, async (c) => {
      const r = await c.configure(owner, key, value);
      io.out(json ? JSON.stringify(r, null, 2) : r.reply);
      return EXIT_OK;
    }, CONFIGURE_TIMEOUT_MS);
  },
};
