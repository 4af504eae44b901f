/**
 * `sbc-audio midi …`: a served board's knobs (docs/CONTROL.md, "Knobs") through its control
 * channel: the MIDI port and its mappings, learn mode, the encoder. The service does the work;
 * this file sends requests and prints what comes back.
 */
import type { KnobsInfo, MappingInfo } from '../../control/knobs.ts';
import { type CliIO, type Command, EXIT_OK, UsageError, table } from '../command.ts';
import { CONTROL_OPTIONS, parseWithNegativeValues, withControlClient } from './ctl.ts';

/** learn's default wait for a controller to move (ms). */
const LEARN_TIMEOUT_MS = 30_000;

const USAGE = `usage: sbc-audio midi list | learn ID | unmap CHANNEL CC | connect SOURCE | disconnect SOURCE
                  [--board NAME] [--runtime-dir DIR] [--json]

A served board's knobs (docs/CONTROL.md, "Knobs"): its MIDI input, an ALSA sequencer client
("sbc-audio <board>", port "control") any MIDI source connects to, with its controller mappings;
and its rotary encoder.

commands:
  list                  the MIDI port (address for aconnect), its connections and every mapping:
                        CHANNEL, CC, bits, CONTROL, CURVE, range, where it comes from (board file or
                        learned); the encoder: its control, step, acceleration, push switch
  learn ID              waits for the next controller that moves (any channel) and maps it to the
                        control ID (with or without the board's name: speaker.gain); kept beside the
                        state file. The move that is learned does not change the control.
      [--timeout S]     how long to wait (default ${LEARN_TIMEOUT_MS / 1000} s)
      [--14bit]         the controller is the MSB of a 14-bit pair (its LSB is CC + 32; CC < 32)
      [--curve C]       db, cubic (volumes), switch, toggle (switches), zones (enums); default by kind
  unmap CHANNEL CC      removes a learned mapping (CHANNEL 1..16 or any)
  connect SOURCE        subscribes the port to a source, named as aconnect takes it ("20:0", a
                        client name such as "nanoKONTROL2"); the same as 'aconnect SOURCE PORT'
  disconnect SOURCE     the reverse

options:
  --board NAME          the board (default: the only one served under DIR)
  --runtime-dir DIR     where the service runs (as for 'sbc-audio ctl')
  --json                the service's answer as JSON

exit codes: 0 done, 1 the service refused or failed (its message on stderr; learn: no controller
moved in time), 2 usage error, 3 no service (no control channel, the board not served, nothing
answering)`;

const OPTIONS = { ...CONTROL_OPTIONS, timeout: { type: 'string' }, '14bit': { type: 'boolean' }, curve: { type: 'string' } } as const;

function mappingRow(m: MappingInfo): (string | number)[] {
  const range = m.min !== undefined || m.max !== undefined ? `${m.min ?? ''}..${m.max ?? ''} dB` : '';
  return [m.channel, m.cc + (m.resolution === 14 ? `/${m.cc + 32}` : ''), m.resolution, m.controlId, m.curve + (m.invert ? ' inverted' : ''), range, m.from];
}

function printKnobs(io: CliIO, k: KnobsInfo): void {
  if (!k.midi) io.out('MIDI: none (no ALSA sequencer, or serve --no-midi)');
  else {
    io.out(`MIDI: client "${k.midi.client}" port "${k.midi.port}" at ${k.midi.address}; connected from: ${k.midi.connections.join(', ') || 'nothing (sbc-audio midi connect SOURCE, or aconnect)'}`);
    if (k.midi.mappings.length === 0) io.out('  no mappings (sbc-audio midi learn ID)');
    else io.out(table(['CHANNEL', 'CC', 'BITS', 'CONTROL', 'CURVE', 'RANGE', 'FROM'], k.midi.mappings.map(mappingRow)));
    if (k.midi.learnedFile) io.out(`learned mappings: ${k.midi.learnedFile}`);
  }
  const e = k.encoder;
  if (!e) io.out('encoder: none');
  else {
    const acc = e.acceleration.length ? e.acceleration.map((a) => `×${a.factor} under ${a.belowMs} ms`).join(', ') : 'none';
    io.out(`encoder: ${e.control}, ${e.step} per detent${e.reverse ? ' (reversed)' : ''}, ${e.transitionsPerDetent} transitions per detent, acceleration ${acc}; push: ${e.push ? `toggles ${e.push}` : 'none'}; ${e.detents} detents so far${e.invalid ? `, ${e.invalid} invalid transitions` : ''}`);
  }
}

export const midiCommand: Command = {
  name: 'midi',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseWithNegativeValues(argv, OPTIONS);
    const [sub, ...args] = positionals;
    const json = Boolean(values.json);
    switch (sub) {
      case undefined:
        throw new UsageError('a midi command is required (list, learn, unmap, connect, disconnect)');
      case 'list':
        if (args.length) throw new UsageError(`list takes no arguments; got ${args.join(' ')}`);
        return withControlClient(io, 'midi', values, async (c) => {
          const k = await c.knobs();
          if (json) io.out(JSON.stringify(k, null, 2));
          else printKnobs(io, k);
          return EXIT_OK;
        });
      case 'learn': {
        if (args.length !== 1) throw new UsageError(`learn takes a control ID (e.g. speaker.gain); got ${args.length ? args.join(' ') : 'nothing'}`);
        let timeoutMs = LEARN_TIMEOUT_MS;
        if (values.timeout !== undefined) {
          const s = Number(values.timeout);
          if (!(Number.isFinite(s) && s > 0 && s <= 600)) throw new UsageError(`--timeout: seconds above 0, at most 600; got ${values.timeout}`);
          timeoutMs = Math.round(s * 1000);
        }
        const curve = values.curve;
        if (!json) io.err(`move a controller (any channel) to map it to ${args[0]} (${timeoutMs / 1000} s)...`);
        return withControlClient(io, 'midi', values, async (c) => {
          const m = await c.midiLearn(args[0]!, { timeoutMs, ...(values['14bit'] ? { resolution: 14 as const } : {}), ...(curve !== undefined ? { curve } : {}) });
          io.out(json ? JSON.stringify(m, null, 2) : `channel ${m.channel} cc ${m.cc}${m.resolution === 14 ? `/${m.cc + 32} (14-bit)` : ''} → ${m.controlId} (${m.curve})`);
          return EXIT_OK;
        }, timeoutMs + 5000);
      }
      case 'unmap': {
        const [ch, cc] = args;
        const channel = ch === 'any' ? 'any' : /^\d+$/.test(ch ?? '') ? Number(ch) : Number.NaN;
        const ccN = /^\d+$/.test(cc ?? '') ? Number(cc) : Number.NaN;
        if (args.length !== 2 || (channel !== 'any' && !(channel >= 1 && channel <= 16)) || !(ccN >= 0 && ccN <= 127)) {
          throw new UsageError(`unmap takes CHANNEL (1..16 or any) and CC (0..127); got ${args.length ? args.join(' ') : 'nothing'}`);
        }
        return withControlClient(io, 'midi', values, async (c) => {
          const removed = await c.midiUnmap(channel, ccN);
          io.out(json ? JSON.stringify({ removed }) : removed ? `unmapped channel ${channel} cc ${ccN}` : `nothing learned on channel ${channel} cc ${ccN}`);
          return EXIT_OK;
        });
      }
      case 'connect':
      case 'disconnect': {
        if (args.length !== 1) throw new UsageError(`${sub} takes a SOURCE ("20:0" or a client name); got ${args.length ? args.join(' ') : 'nothing'}`);
        return withControlClient(io, 'midi', values, async (c) => {
          if (sub === 'connect') {
            const a = await c.midiConnect(args[0]!);
            io.out(json ? JSON.stringify({ source: a }) : `connected ${args[0]} (${a})`);
          } else {
            await c.midiDisconnect(args[0]!);
            io.out(json ? JSON.stringify({ disconnected: args[0] }) : `disconnected ${args[0]}`);
          }
          return EXIT_OK;
        });
      }
      default:
        throw new UsageError(`unknown midi command "${sub}" (commands: list, learn, unmap, connect, disconnect)`);
    }
  },
};
