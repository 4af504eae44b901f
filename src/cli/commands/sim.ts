/**
 * `sbc-audio sim …`: drives a simulated board that `sbc-audio serve` (or a test, or the demo)
 * serves, from another process, through its simulation control socket
 * (`<runtime-dir>/sim/<board>.sock`, docs/PROTOCOL.md "Simulation control"). The commands run in
 * the serving process (src/stream/sim-control.ts); this file only sends them and prints answers.
 */
import net from 'node:net';
import path from 'node:path';
import { servedSocketNames } from '../../control/client.ts';
import { defaultRuntimeDir } from '../../stream/discovery.ts';
import {
  DEFAULT_STALL_PERIODS, DEFAULT_STATE_EVENTS, type EncoderAnswer, FAULT_KINDS, type FaultAnswer, MAX_EVENTS, MAX_STALL_PERIODS, MAX_TURN_DETENTS,
  type MidiAnswer, type RegsAnswer, SIM_CONTROL_DIR, type SimResponse, type StallAnswer, type StateAnswer,
} from '../../stream/sim-control.ts';
import { type CliIO, type Command, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE, UsageError, numberOption, parseOptions, runtimeDirOption } from '../command.ts';
import { parseWithNegativeValues } from './ctl.ts';
import { registerTable } from './regs.ts';

const USAGE = `usage: sbc-audio sim <command> [--board NAME] [--runtime-dir DIR] [options]

Drives a simulated board that 'sbc-audio serve --board <sim board>' is serving, from this
(another) process, through the board's simulation control socket DIR/sim/<board>.sock
(docs/PROTOCOL.md, "Simulation control"). Real boards have no such socket.

commands:
  jack <stream> in|out              insert or remove the simulated headphone plug of a jack-detect
                                    stream (<board>.<stream> or <stream>); clients that enabled
                                    plug notifications get PLUG_DETECT_NOTIFY
  i2c-fault --kind nack|timeout --probability P
                                    every operation on the codec's simulated I2C bus fails with
                                    probability P (0..1): with 1, the next SET_GAIN answers
                                    IO_REFUSED (nack) or TIMED_OUT (timeout)
  i2c-fault --kind nack|timeout --register NAME --count N
                                    the next N operations on that register fail (NAME from the
                                    part's description, or the register byte the bus sees, 0..255);
                                    the driver retries 3 times, so N ≤ 3 is recovered unseen
  i2c-fault --clear                 no more injected faults
  stall [--periods N]               the engine thread of every running output stream stalls for N
                                    periods (default ${DEFAULT_STALL_PERIODS}): the PCM underruns; clients that enabled
                                    EXT_RB_NOTIFY get EXT_RB_ERROR (underrun)
  regs [--part P]                   the chip model's registers (read over the simulated bus, not the
                                    driver's cache; write-only parts: what the model was written),
                                    decoded with the part's description
  state [--events N]                the analog simulation (chip power, mute, gain codes, each output's
                                    path or why it is silent, clock errors, amplifier), the board's
                                    power and its history, GPIO lines, the last N analog events
                                    (default ${DEFAULT_STATE_EVENTS})
  encoder N [--spacing-ms MS] [--bounce-us US]
                                    turn the board's rotary encoder N detents (negative: the other
                                    way; -${MAX_TURN_DETENTS}..${MAX_TURN_DETENTS}), one transition every MS ms (default twice
                                    the lines' debounce), each with US µs of contact bounce;
                                    answered once the last edge passed the debounce
  encoder --press                   push the encoder's switch once (with N: after the turn)
  midi cc CHANNEL CC VALUE          a controller change (channel 1..16, controller and value
                                    0..127) from the simulated controller "sbc-audio sim:knob",
                                    connected to the service's MIDI input on first use
  midi program CHANNEL N            a program change (channel 1..16, program 0..127)

options:
  --board NAME        the simulated board (default: the only one served under DIR)
  --runtime-dir DIR   where the service runs (default: ${defaultRuntimeDir()})
  --json              print the service's answer as JSON (for scripts)

exit codes: 0 done, 1 the command failed, 2 usage error, 3 no such simulated board served under
DIR (or nothing answering on its socket)`;

const COMMON = { board: { type: 'string' }, 'runtime-dir': { type: 'string' }, json: { type: 'boolean' } } as const;

/** A board name as the runtime directory spells it (no path separators). */
export function checkBoardName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new UsageError(`--board: "${name}" is not a board name`);
  return name;
}

/** The simulated boards served under a runtime directory (names of DIR/sim/*.sock, sockets only). */
export function servedSimBoards(runtimeDir: string): string[] {
  return servedSocketNames(path.join(runtimeDir, SIM_CONTROL_DIR));
}

class SimCliError extends Error {
  /** unreachable: nothing to talk to (no simulated board served, no socket, nothing answering): exit 3. */
  constructor(message: string, readonly unreachable = false) {
    super(message);
  }
}

/** The control socket of the board asked for (or of the only one served). */
function resolveSocket(runtimeDir: string, board: string | undefined): { board: string; socket: string } {
  if (board === undefined) {
    const served = servedSimBoards(runtimeDir);
    if (served.length === 0) throw new SimCliError(`no simulated board is served under ${runtimeDir} (is 'sbc-audio serve --board <sim board>' running there?)`, true);
    if (served.length > 1) throw new UsageError(`several simulated boards are served under ${runtimeDir} (${served.join(', ')}): choose one with --board`);
    board = served[0]!;
  }
  return { board, socket: path.join(runtimeDir, SIM_CONTROL_DIR, `${board}.sock`) };
}

/** Sends one request on the control socket and returns its answer. */
export function simRequest(socketPath: string, board: string, request: Record<string, unknown>, timeoutMs = 30_000): Promise<SimResponse> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let buf = '';
    let done = false;
    const finish = (e: Error | undefined, r?: SimResponse) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(new SimCliError(`board ${board}: no answer on ${socketPath} within ${timeoutMs / 1000} s`)), timeoutMs);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(`${JSON.stringify({ id: 1, ...request })}\n`));
    s.on('data', (chunk: string) => {
      buf += chunk;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      try {
        finish(undefined, JSON.parse(buf.slice(0, i)) as SimResponse);
      } catch (e) {
        finish(new SimCliError(`board ${board}: the control socket answered something that is not JSON (${(e as Error).message})`));
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') finish(new SimCliError(`board ${board} is not simulated: it has no simulation control socket (${socketPath} does not exist)`, true));
      else if (e.code === 'ECONNREFUSED') finish(new SimCliError(`board ${board}: nothing answers on its simulation control socket ${socketPath} (the service is gone?)`, true));
      else finish(new SimCliError(`board ${board}: cannot use ${socketPath}: ${e.message}`));
    });
    s.on('close', () => finish(new SimCliError(`board ${board}: the control socket closed without answering`)));
  });
}

function secs(ns: number): string {
  return `${(ns / 1e9).toFixed(6)} s`;
}

function hexByte(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

function describeFault(a: FaultAnswer): string {
  const r = a.rule;
  if (!r) return `${a.board}: no injected faults on ${a.bus}`;
  const on = `${a.board}: ${a.bus}`;
  if (r.reg !== undefined) {
    const reg = a.register ? `${a.register} (${hexByte(r.reg)})` : hexByte(r.reg);
    const n = r.count ?? 1;
    return `${on}: the next ${n} operation${n === 1 ? '' : 's'} on register ${reg}${r.addr !== undefined ? ` of the device at ${hexByte(r.addr)}` : ''} fail with ${r.fault}${a.note ? `\n  (${a.note})` : ''}`;
  }
  return `${on}: every operation fails with ${r.fault} with probability ${r.probability}`;
}

function printState(io: CliIO, s: StateAnswer): void {
  io.out(`${s.board} (${s.part}) at ${secs(s.atNs)} on the ${s.clock} clock`);
  const last = s.power.history[s.power.history.length - 1];
  io.out(`power: ${s.power.state}${last ? ` (since ${secs(last.atNs)}: ${last.why})` : ''}; idles ${s.power.idleMs} ms before powering down`);
  if (s.analog) {
    const c = s.analog.chip;
    io.out(`chip: ${c.power}, ${c.muted ? 'muted' : 'not muted'}, gain codes ${JSON.stringify(c.gainCodes)}`);
    for (const o of s.analog.outputs) {
      const p = o.path;
      const what = !p ? `the chip has no output "${o.chipOutput}"` : p.silentBecause ? `silent: ${p.silentBecause}` : `passes signal, gains ${p.gains.map((g) => g.toPrecision(4)).join('/')}${p.monoMix ? ' (mono mix)' : ''}`;
      const extras = [o.amplifier !== undefined ? `amplifier ${o.amplifier ? 'on' : 'off'}` : '', o.clockError ? `clock error: ${o.clockError}` : ''].filter(Boolean);
      io.out(`  ${o.stream} (chip ${o.chipOutput}): ${what}${extras.length ? `; ${extras.join('; ')}` : ''}`);
    }
    for (const [name, p] of Object.entries(c.inputs ?? {})) io.out(`  input ${name}: ${p.silentBecause ? `silent: ${p.silentBecause}` : `gains ${p.gains.map((g) => g.toPrecision(4)).join('/')}`}`);
  } else {
    io.out('chip: its model has no analog side');
  }
  io.out(`lines: ${s.lines.length ? s.lines.map((l) => `${l.role}=${l.value} (${l.owner})`).join('  ') : 'none'}`);
  io.out(`i2c fault: ${s.i2cFault ? JSON.stringify(s.i2cFault) : 'none'}`);
  if (s.power.history.length) {
    io.out('power history:');
    for (const h of s.power.history) io.out(`  ${secs(h.atNs)}  ${h.state.padEnd(4)}  ${h.why}`);
  }
  if (s.events.length) {
    io.out(`last ${s.events.length} analog event${s.events.length === 1 ? '' : 's'}:`);
    for (const e of s.events) io.out(`  ${secs(e.atNs)}  ${e.what.padEnd(11)}  ${e.stream ? `${e.stream}: ` : ''}${e.detail}`);
  }
}

type Parsed = { request: Record<string, unknown>; print: (io: CliIO, answer: Record<string, unknown>) => void; timeoutMs?: number };

const SUBCOMMANDS = 'jack, i2c-fault, stall, regs, state, encoder, midi';

/** The request of a sub-command and how its answer is printed as text. */
function parseSub(sub: string, rest: string[]): { values: { board?: string; 'runtime-dir'?: string; json?: boolean } } & Parsed {
  switch (sub) {
    case 'jack': {
      const { values, positionals } = parseOptions(rest, COMMON, true);
      if (positionals.length !== 2) throw new UsageError(`jack takes a stream and in|out, e.g. 'sbc-audio sim jack sim.headphone in'; got ${positionals.length ? positionals.join(' ') : 'nothing'}`);
      const [stream, where] = positionals as [string, string];
      if (where !== 'in' && where !== 'out') throw new UsageError(`jack: expected in or out after the stream, got "${where}"`);
      return {
        values, request: { cmd: 'jack', stream, plugged: where === 'in' },
        print: (io, a) => io.out(`${a.stream}: ${a.plugged ? 'plugged in' : 'unplugged'}`),
      };
    }
    case 'i2c-fault': {
      const { values } = parseOptions(rest, { ...COMMON, kind: { type: 'string' }, probability: { type: 'string' }, register: { type: 'string' }, count: { type: 'string' }, clear: { type: 'boolean' } });
      const print = (io: CliIO, a: Record<string, unknown>) => io.out(describeFault(a as unknown as FaultAnswer));
      if (values.clear) {
        for (const k of ['kind', 'probability', 'register', 'count'] as const) if (values[k] !== undefined) throw new UsageError(`--clear takes no --${k}`);
        return { values, request: { cmd: 'i2c-fault', clear: true }, print };
      }
      if (!values.kind) throw new UsageError(`--kind (${FAULT_KINDS.join(' or ')}) is required, or --clear`);
      if (!(FAULT_KINDS as readonly string[]).includes(values.kind)) throw new UsageError(`--kind must be ${FAULT_KINDS.join(' or ')}, got "${values.kind}"`);
      const hasP = values.probability !== undefined;
      const hasR = values.register !== undefined;
      if (hasP === hasR) throw new UsageError(hasP ? '--probability and --register exclude each other' : 'give --probability P or --register NAME --count N');
      if (hasP) {
        if (values.count !== undefined) throw new UsageError('--count goes with --register');
        return { values, request: { cmd: 'i2c-fault', kind: values.kind, probability: numberOption(values.probability, 'probability', 1, 0, 1) }, print };
      }
      const count = numberOption(values.count, 'count', 1, 1);
      if (!Number.isInteger(count)) throw new UsageError(`--count must be a whole number, got "${values.count}"`);
      const reg = values.register!;
      const register = /^(0x[0-9a-f]+|\d+)$/i.test(reg) ? Number(reg) : reg;
      return { values, request: { cmd: 'i2c-fault', kind: values.kind, register, count }, print };
    }
    case 'stall': {
      const { values } = parseOptions(rest, { ...COMMON, periods: { type: 'string' } });
      const periods = numberOption(values.periods, 'periods', DEFAULT_STALL_PERIODS, 1, MAX_STALL_PERIODS);
      if (!Number.isInteger(periods)) throw new UsageError(`--periods must be a whole number, got "${values.periods}"`);
      return {
        values, request: { cmd: 'stall', periods },
        print: (io, a) => {
          const s = a as unknown as StallAnswer;
          for (const x of s.stalled) io.out(`${x.endpoint}: the engine thread stalled for ${s.periods} period${s.periods === 1 ? '' : 's'} (${(x.ns / 1e6).toFixed(2)} ms)`);
        },
      };
    }
    case 'regs': {
      const { values } = parseOptions(rest, { ...COMMON, part: { type: 'string' } });
      return {
        values, request: { cmd: 'regs', ...(values.part !== undefined ? { part: values.part } : {}) },
        print: (io, a) => {
          const r = a as unknown as RegsAnswer;
          const from = r.values === 'chip' ? 'read from the chip model over the simulated bus' : 'what the chip model was written (the part cannot be read)';
          io.out(`${r.board}: ${r.name} (${r.part}) at ${hexByte(r.address)} on ${r.bus}; CHIP = ${from}`);
          io.out(registerTable(r.registers, r.valueBits, 'CHIP'));
        },
      };
    }
    case 'state': {
      const { values } = parseOptions(rest, { ...COMMON, events: { type: 'string' } });
      const events = numberOption(values.events, 'events', DEFAULT_STATE_EVENTS, 0, MAX_EVENTS);
      if (!Number.isInteger(events)) throw new UsageError(`--events must be a whole number, got "${values.events}"`);
      return { values, request: { cmd: 'state', events }, print: (io, a) => printState(io, a as unknown as StateAnswer) };
    }
    case 'encoder': {
      // `sim encoder -3`: a negative count is the count, not an option.
      const { values, positionals } = parseWithNegativeValues(rest, { ...COMMON, 'spacing-ms': { type: 'string' }, 'bounce-us': { type: 'string' }, press: { type: 'boolean' } });
      if (positionals.length > 1) throw new UsageError(`encoder takes one count of detents, e.g. 'sbc-audio sim encoder 3'; got ${positionals.join(' ')}`);
      const n = positionals[0];
      if (n === undefined && !values.press) throw new UsageError('encoder: give a count of detents (e.g. 3, or -3 the other way) or --press');
      const detents = n === undefined ? 0 : Number(n);
      if (n !== undefined && (!/^-?\d+$/.test(n) || detents === 0 || Math.abs(detents) > MAX_TURN_DETENTS)) {
        throw new UsageError(`encoder: the count must be a whole number of detents from -${MAX_TURN_DETENTS} to ${MAX_TURN_DETENTS}, not 0; got "${n}"`);
      }
      const spacingMs = values['spacing-ms'] === undefined ? undefined : numberOption(values['spacing-ms'], 'spacing-ms', 0, 0.001, 60_000);
      const bounceUs = values['bounce-us'] === undefined ? undefined : numberOption(values['bounce-us'], 'bounce-us', 0, 0, 60_000_000);
      if (detents === 0 && (spacingMs !== undefined || bounceUs !== undefined)) throw new UsageError('--spacing-ms and --bounce-us go with a count of detents');
      return {
        values,
        request: { cmd: 'encoder', detents, ...(values.press ? { press: true } : {}), ...(spacingMs !== undefined ? { spacingMs } : {}), ...(bounceUs !== undefined ? { bounceUs } : {}) },
        // A long turn takes its time on the service's side: the answer comes after it.
        timeoutMs: 30_000 + 2 * 60_000,
        print: (io, a) => {
          const e = a as unknown as EncoderAnswer;
          if (e.detents !== 0) {
            io.out(`${e.board}: encoder turned ${e.detents} detent${Math.abs(e.detents) === 1 ? '' : 's'} (${e.transitions} transitions, ${e.spacingMs} ms apart${e.bounceUs ? `, ${e.bounceUs} µs bounce each` : ''}): ${e.control}`);
          }
          if (e.pressed) io.out(`${e.board}: encoder switch pressed: ${e.push}`);
        },
      };
    }
    case 'midi': {
      const { values, positionals } = parseOptions(rest, COMMON, true);
      const [kind, ...nums] = positionals;
      const int = (s: string | undefined, what: string, min: number, max: number): number => {
        if (s === undefined || !/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new UsageError(`midi ${kind}: ${what} must be a whole number from ${min} to ${max}, got ${s === undefined ? 'nothing' : `"${s}"`}`);
        return Number(s);
      };
      const print = (io: CliIO, a: Record<string, unknown>) => {
        const m = a as unknown as MidiAnswer;
        const what = m.program !== undefined ? `program change ${m.program}` : `controller ${m.cc} = ${m.value}`;
        io.out(`${m.board}: MIDI channel ${m.channel} ${what} sent from ${m.source} to ${m.port}`);
      };
      if (kind === 'cc') {
        if (nums.length !== 3) throw new UsageError(`midi cc takes CHANNEL CC VALUE, e.g. 'sbc-audio sim midi cc 1 7 100'; got ${nums.length ? nums.join(' ') : 'nothing'}`);
        return { values, request: { cmd: 'midi', channel: int(nums[0], 'CHANNEL', 1, 16), cc: int(nums[1], 'CC', 0, 127), value: int(nums[2], 'VALUE', 0, 127) }, print };
      }
      if (kind === 'program') {
        if (nums.length !== 2) throw new UsageError(`midi program takes CHANNEL N, e.g. 'sbc-audio sim midi program 1 5'; got ${nums.length ? nums.join(' ') : 'nothing'}`);
        return { values, request: { cmd: 'midi', channel: int(nums[0], 'CHANNEL', 1, 16), program: int(nums[1], 'N', 0, 127) }, print };
      }
      throw new UsageError(`midi: expected cc CHANNEL CC VALUE or program CHANNEL N, got ${kind === undefined ? 'nothing' : `"${kind}"`}`);
    }
    default:
      throw new UsageError(`unknown sim command "${sub}" (commands: ${SUBCOMMANDS})`);
  }
}

export const simCommand: Command = {
  name: 'sim',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError(`a sim command is required (${SUBCOMMANDS})`);
    const { values, request, print, timeoutMs } = parseSub(sub, rest);
    const runtimeDir = runtimeDirOption(values['runtime-dir']) ?? path.resolve(defaultRuntimeDir());
    let answer: SimResponse;
    let board: string;
    try {
      const target = resolveSocket(runtimeDir, values.board === undefined ? undefined : checkBoardName(values.board));
      board = target.board;
      answer = await simRequest(target.socket, board, request, timeoutMs);
    } catch (e) {
      if (e instanceof SimCliError) {
        io.err(`sbc-audio sim ${sub}: ${e.message}`);
        return e.unreachable ? EXIT_UNREACHABLE : EXIT_FAILURE;
      }
      throw e;
    }
    if (!answer.ok) {
      io.err(`sbc-audio sim ${sub}: board ${board}: ${answer.error}`);
      return EXIT_FAILURE;
    }
    const { id: _id, ok: _ok, ...result } = answer;
    if (values.json) io.out(JSON.stringify(result, null, 2));
    else print(io, result);
    return EXIT_OK;
  },
};
