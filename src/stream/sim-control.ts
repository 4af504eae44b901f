/**
 * The simulation control socket (docs/PROTOCOL.md "Simulation control"): a simulated board,
 * served by the stream service, driven from another process — plug the jack, make the codec's
 * I2C bus fail, stall the engine thread, look at the chip model's registers and the analog state,
 * turn and push the board's rotary encoder, send MIDI to the service's input (docs/CONTROL.md,
 * "Knobs"; src/board/sim-knobs.ts drives them).
 *
 * `SimControl` holds the commands; the socket server only parses lines and dispatches to it, so
 * in-process tests and `sbc-audio sim` go through the same code:
 *
 *   const control = new SimControl(runtime, service);   // or service.simControl
 *   control.jack('headphone', true);
 *   await control.handleLine('{"id":1,"cmd":"jack","stream":"headphone","plugged":true}');
 *
 * Wire: one JSON object per line each way (UTF-8, '\n'-terminated). A request
 * `{"id":1,"cmd":"jack",...}` is answered `{"id":1,"ok":true,...}` or
 * `{"id":1,"ok":false,"error":"…"}`; requests on one connection are answered in order. A bad
 * request (not JSON, unknown command, a field missing or of the wrong type) gets an error naming
 * the field; it never closes the connection (except a line longer than MAX_LINE_BYTES) and never
 * touches another client or the audio.
 *
 * The socket is `<runtimeDir>/sim/<board>.sock`, mode 0660, published only for simulated boards
 * (board.hal 'sim'), bound under a hidden name and renamed into place as the stream endpoints are
 * (./transport.ts).
 *
 * The knobs' commands:
 * - `{"cmd":"encoder","detents":N[,"spacingMs":MS,"bounceUs":US,"press":true]}`: N detents (negative:
 *   the other way; 0 with press: only the press), transitions MS apart (default twice the lines'
 *   debounce), each with US of contact bounce; then the push switch pressed, if asked. Answered
 *   once the last edge has passed its debounce (and, where the service says how, the control
 *   class has applied what the knob sent).
 * - `{"cmd":"midi","channel":1..16,"cc":0..127,"value":0..127}` or
 *   `{"cmd":"midi","channel":1..16,"program":0..127}`: a controller (or program) change from the
 *   simulated controller "sbc-audio sim:knob", connected to the service's MIDI input on first use;
 *   answered once the event was delivered.
 * Both are refused, naming what is missing, on a board without an encoder (push switch) or
 * without a served MIDI input.
 */
import path from 'node:path';
import type { BoardRuntime } from '../board/runtime.ts';
import { type Board, INPUT_GPIO_ROLES } from '../board/schema.ts';
import { MAX_TURN_DETENTS, SimKnobError, simEncoder, simMidiSource } from '../board/sim-knobs.ts';
import type { RegisterState, Regmap, RegmapDef } from '../codec/regmap.ts';
import type { I2cFault } from '../hal/i2c.ts';
import { type AnalogEvent, MAX_EVENTS } from '../hal/sim/analog.ts';
import type { AnalogPath } from '../hal/sim/chip.ts';
import type { SimI2cBus, SimI2cFaultRule } from '../hal/sim/i2c.ts';
import type { SimHal } from '../hal/sim/index.ts';
import type { EngineRingBuffer } from './engine-ring-buffer.ts';
import { MAX_LINE_BYTES, serveJsonLines } from './json-lines.ts';

/** The folder of the runtime directory that holds the control sockets. */
export const SIM_CONTROL_DIR = 'sim';

export { MAX_LINE_BYTES };

export const SIM_COMMANDS = ['jack', 'i2c-fault', 'stall', 'regs', 'state', 'encoder', 'midi'] as const;
export type SimCommand = (typeof SIM_COMMANDS)[number];

export const FAULT_KINDS = ['nack', 'timeout'] as const satisfies readonly I2cFault[];
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Default `stall` length in periods, and the most a request may ask for. */
export const DEFAULT_STALL_PERIODS = 4;
export const MAX_STALL_PERIODS = 1000;
/** Default number of analog events `state` returns. */
export const DEFAULT_STATE_EVENTS = 20;
export { MAX_EVENTS, MAX_TURN_DETENTS };

/**
 * Where a board's control socket goes, or undefined for a board that is not simulated (it
 * publishes none): the service's decision.
 */
export function simControlPath(runtimeDir: string, board: Pick<Board, 'name' | 'hal'>): string | undefined {
  return board.hal === 'sim' ? path.join(runtimeDir, SIM_CONTROL_DIR, `${board.name}.sock`) : undefined;
}

/** A command that could not be done: its message goes back as the response's `error`. */
export class SimControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimControlError';
  }
}

/** One register as `regs --json` and the control's `regs` answer show it. */
export interface RegisterRecord {
  name: string;
  addr: number;
  /** `0x3d`, or `page 0 reg 0x3d` on paged parts. */
  where: string;
  access: 'rw' | 'ro' | 'wo';
  volatile: boolean;
  reset: number | 'unknown';
  /** The driver's cache. */
  cached: number | null;
  /** `regs`: read from the chip now; the control's `regs`: what the chip model holds. */
  read: number | null;
  error: string | null;
  /** Named fields decoded from `read`, else `cached`, else 0. */
  fields: Record<string, number>;
  source: string;
}

/** Register states as records, fields decoded with the map (shared by `regs --json` and `sim regs`). */
export function registerRecords(map: Regmap, states: readonly RegisterState[]): RegisterRecord[] {
  return states.map((s) => ({
    name: s.def.name, addr: s.def.addr, where: s.where, access: s.def.access ?? 'rw', volatile: s.def.volatile ?? false,
    reset: s.def.reset, cached: s.cached ?? null, read: s.read ?? null, error: s.error ?? null,
    fields: map.decode(s.def.name, s.read ?? s.cached ?? 0), source: s.def.source,
  }));
}

export type FaultRequest =
  | { kind: FaultKind; probability: number }
  | { kind: FaultKind; register: string | number; count?: number }
  | { clear: true };

export interface JackAnswer { board: string; stream: string; plugged: boolean }

export interface FaultAnswer {
  board: string;
  bus: string;
  /** The rule in force after the command (null: none). */
  rule: Readonly<SimI2cFaultRule> | null;
  /** The register the rule names, where it was given by name. */
  register?: string;
  note?: string;
}

export interface StallAnswer {
  board: string;
  periods: number;
  stalled: { endpoint: string; ns: number }[];
}

export interface RegsAnswer {
  board: string;
  part: string;
  name: string;
  bus: string;
  address: number;
  valueBits: number;
  /** Where `read` comes from: 'chip' (read over the simulated bus) or 'written' (the model's record, write-only parts). */
  values: 'chip' | 'written';
  registers: RegisterRecord[];
}

export interface StateAnswer {
  board: string;
  part: string;
  clock: 'monotonic' | 'virtual';
  atNs: number;
  power: { state: string; idleMs: number; history: { atNs: number; state: string; why: string }[] };
  /** The board's GPIO lines: logical value; `owner` 'codec' for the part's own pins, 'board' for the amplifier lines. */
  lines: { role: string; chip: string; offset: number; direction: 'input' | 'output'; value: number; owner: 'codec' | 'board' }[];
  /** The chip model's analog side (null: the part has no model of it). */
  analog: {
    chip: { power: string; muted: boolean; gainCodes: Readonly<Record<string, number>>; outputs: Readonly<Record<string, AnalogPath>>; inputs?: Readonly<Record<string, AnalogPath>> };
    outputs: { stream: string; chipOutput: string; amplifier?: boolean; clockError?: string; path: AnalogPath | undefined; lostChunks: number }[];
  } | null;
  /** The last analog events (power, mute, gain, path, clock errors, amplifier, transients), oldest first. */
  events: AnalogEvent[];
  /** The I2C fault rule in force on the codec's bus (null: none, or no bus). */
  i2cFault: Readonly<SimI2cFaultRule> | null;
}

export interface EncoderRequest {
  /** Detents to turn: positive is the code's +1 direction (00 → 01 → 11 → 10), negative the other way. */
  detents: number;
  /** Time between transitions, ms (default twice the A/B lines' debounce). */
  spacingMs?: number;
  /** Contact bounce on each transition, µs (default none). */
  bounceUs?: number;
  /** Then press the push switch once. */
  press?: boolean;
}

export interface EncoderAnswer {
  board: string;
  /** The control the board's encoder turns (full id) and the switch its push toggles (or null). */
  control: string;
  push: string | null;
  detents: number;
  transitions: number;
  spacingMs: number;
  bounceUs: number;
  pressed: boolean;
  /** Board clock when the last edge had passed its debounce. */
  atNs: number;
}

export type MidiRequest = { channel: number; cc: number; value: number } | { channel: number; program: number };

export interface MidiAnswer {
  board: string;
  /** The simulated controller's address and the service input it is connected to ("20:0", "128:0"). */
  source: string;
  port: string;
  /** 1..16 as people number channels. */
  channel: number;
  cc?: number;
  value?: number;
  program?: number;
}

export type SimResponse = { id: unknown; ok: true; [k: string]: unknown } | { id: unknown; ok: false; error: string };

/** What SimControl needs of the stream service. */
export interface SimControlService {
  readonly ringBuffers: ReadonlySet<EngineRingBuffer>;
  /**
   * The service's MIDI input port ("128:0": `knobs.info().midi.address`), undefined without one.
   * Absent: the input is looked for on the simulated sequencer by the name the service gives it
   * (the board file's midi.client / midi.port, default "sbc-audio <board>" / "control").
   */
  midiAddress?(): string | undefined;
  /** Resolves when the control class has applied everything sent to it (ControlDispatcher.idle); absent: not waited for. */
  settled?(): Promise<void>;
}

export class SimControl {
  private readonly sim: SimHal;
  readonly board: string;

  constructor(private readonly rt: BoardRuntime, private readonly service: SimControlService) {
    if (rt.board.hal !== 'sim' || !rt.sim) throw new SimControlError(`board ${rt.board.name} is not simulated: it has no simulation control`);
    this.sim = rt.sim;
    this.board = rt.board.name;
  }

  // ---- jack ----

  /** Inserts or removes the simulated plug of a jack-detect stream (`<board>.<stream>` or `<stream>`). */
  jack(stream: string, plugged: boolean): JackAnswer {
    const { board } = this.rt;
    const id = stream.startsWith(`${board.name}.`) ? stream.slice(board.name.length + 1) : stream;
    const spec = board.streams.find((s) => s.id === id);
    if (!spec) {
      throw new SimControlError(`stream: board ${board.name} has no stream "${stream}" (streams: ${board.streams.map((s) => `${board.name}.${s.id}`).join(', ')})`);
    }
    if (spec.plug !== 'jack-detect') {
      const jacks = board.streams.filter((s) => s.plug === 'jack-detect').map((s) => `${board.name}.${s.id}`);
      throw new SimControlError(`stream: ${board.name}.${id} is ${spec.plug}, not on a jack-detect plug (${jacks.length ? `jack streams: ${jacks.join(', ')}` : 'this board has no jack'})`);
    }
    this.rt.setSimJack(plugged);
    return { board: board.name, stream: `${board.name}.${id}`, plugged };
  }

  // ---- i2c-fault ----

  private codecBus(): { bus: SimI2cBus; addr: number } {
    const { bus, address, part } = this.rt.board.codec;
    if (bus === undefined || address === undefined) {
      throw new SimControlError(`board ${this.board}'s codec (${part}) has no control bus: there is no I2C to fault`);
    }
    return { bus: this.sim.simBus(bus), addr: address };
  }

  private regmapDef(): RegmapDef | undefined {
    return this.rt.codec.description?.regmap ?? this.rt.codec.regmap?.def;
  }

  /**
   * The byte the simulated bus matches a register rule on (the SMBus register, or the first byte
   * written): a name of the part's description, or that byte as a number.
   */
  resolveRegister(ref: string | number): { reg: number; name?: string; note?: string } {
    if (typeof ref === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(ref.trim())) ref = Number(ref.trim());
    if (typeof ref === 'number') {
      if (!Number.isInteger(ref) || ref < 0 || ref > 0xff) throw new SimControlError(`register: a number must be the register byte the bus sees, 0..255; got ${ref}`);
      return { reg: ref };
    }
    const def = this.regmapDef();
    const part = this.rt.codec.part;
    if (!def) throw new SimControlError(`register: ${part} has no registers (no control bus)`);
    const r = def.registers.find((x) => x.name === ref) ?? def.registers.find((x) => x.name.toLowerCase() === ref.toLowerCase());
    if (!r) throw new SimControlError(`register: ${part} has no register named "${ref}" (registers: ${def.registers.map((x) => x.name).join(', ')})`);
    if (def.addrBits !== 8) {
      const what = def.addrBits === 16 ? '16-bit register addresses (the first byte is the high byte)' : '7-bit addresses packed with bit 8 of the value';
      throw new SimControlError(`register: ${part} has ${what}, so the first byte of a transfer, which the simulated bus matches, does not name one register; give that byte as a number, or use a probability`);
    }
    const reg = r.addr & 0xff;
    const note = def.paging ? `the bus does not know pages: the rule matches offset 0x${reg.toString(16).padStart(2, '0')} of any page` : undefined;
    return { reg, name: r.name, ...(note ? { note } : {}) };
  }

  /** Injects faults on the codec's simulated I2C bus (replacing any rule in force), or clears them. */
  i2cFault(req: FaultRequest): FaultAnswer {
    const { bus, addr } = this.codecBus();
    if ('clear' in req) {
      bus.clearFaults();
      return { board: this.board, bus: bus.name, rule: null };
    }
    if ('probability' in req) {
      if (!(req.probability >= 0 && req.probability <= 1)) throw new SimControlError(`probability: expected a number from 0 to 1, got ${req.probability}`);
      bus.injectFaults({ fault: req.kind, probability: req.probability });
      return { board: this.board, bus: bus.name, rule: { ...bus.faults! } };
    }
    const count = req.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new SimControlError(`count: expected a whole number ≥ 1, got ${count}`);
    const r = this.resolveRegister(req.register);
    bus.injectFaults({ fault: req.kind, reg: r.reg, count, addr });
    return { board: this.board, bus: bus.name, rule: { ...bus.faults! }, ...(r.name ? { register: r.name } : {}), ...(r.note ? { note: r.note } : {}) };
  }

  // ---- stall ----

  /** The board's output ring buffers that are started now. */
  runningOutputs(): EngineRingBuffer[] {
    return [...this.service.ringBuffers].filter((e) => e.stream.direction === 'output' && e.isRunning);
  }

  /**
   * An xrun on demand: the engine thread of every running output ring buffer stalls for `periods`
   * of its periods (more than its device buffer holds, so the PCM underruns); a client that
   * enabled EXT_RB_NOTIFY then gets EXT_RB_ERROR (underrun). Resolves once the stalls are done.
   */
  async stall(periods = DEFAULT_STALL_PERIODS): Promise<StallAnswer> {
    if (!Number.isInteger(periods) || periods < 1 || periods > MAX_STALL_PERIODS) {
      throw new SimControlError(`periods: expected a whole number from 1 to ${MAX_STALL_PERIODS}, got ${periods}`);
    }
    const running = this.runningOutputs();
    if (running.length === 0) {
      throw new SimControlError(`no output stream of board ${this.board} is running: start one first (a client's ring buffer, e.g. 'sbc-audio play')`);
    }
    const stalled = await Promise.all(running.map(async (e) => {
      const ns = periods * (await e.periodNs());
      await e.simulateStall(ns);
      return { endpoint: e.endpoint, ns };
    }));
    return { board: this.board, periods, stalled };
  }

  // ---- regs ----

  /**
   * The chip model's registers, decoded with the part's description: read over the simulated bus
   * (the driver's register map, past its cache), or, for a part that cannot be read (WM8960),
   * from the model's own record of what was written (`written`).
   */
  async regs(part?: string): Promise<RegsAnswer> {
    const { codec } = this.rt;
    if (part !== undefined && part !== codec.part) {
      throw new SimControlError(`part: board ${this.board} has no part "${part}" (its codec is ${codec.part})`);
    }
    const map = codec.regmap;
    if (!map) throw new SimControlError(`board ${this.board}'s codec ${codec.part} has no control bus (no registers): see its state instead`);
    const states = await map.dump(false); // the registers, in order, with the cache
    const readable = map.def.readable !== false;
    const written = (this.rt.chipModel as { written?: unknown } | undefined)?.written;
    for (const s of states) {
      if (readable) {
        if (s.def.access === 'wo') {
          s.error = 'write-only register: the chip cannot be read';
          continue;
        }
        try {
          s.read = await map.readFromChip(s.def.name);
        } catch (e) {
          s.error = (e as Error).message;
        }
      } else if (written instanceof Map) {
        const v = written.get(s.def.addr) as unknown;
        if (typeof v === 'number') s.read = v;
      } else {
        s.error = 'the chip cannot be read and its model keeps no record of writes';
      }
    }
    return {
      board: this.board, part: codec.part, name: codec.name, bus: map.bus.name, address: map.addr, valueBits: map.def.valueBits,
      values: readable ? 'chip' : 'written', registers: registerRecords(map, states),
    };
  }

  // ---- state ----

  /** The analog simulation's state, the board's power and lines, the last `events` analog events. */
  state(events = DEFAULT_STATE_EVENTS): StateAnswer {
    if (!Number.isInteger(events) || events < 0) throw new SimControlError(`events: expected a whole number ≥ 0, got ${events}`);
    const { rt } = this;
    const ownPins = rt.codec.description?.gpioRoles ?? {};
    const lines = [...rt.lines.values()].map((l) => ({
      role: l.role, chip: l.chip, offset: l.offset, direction: INPUT_GPIO_ROLES.includes(l.role) ? 'input' as const : 'output' as const,
      value: l.request.getValue(l.offset), owner: l.role in ownPins ? 'codec' as const : 'board' as const,
    }));
    let analog: StateAnswer['analog'] = null;
    if (rt.analog) {
      const a = rt.analog.state();
      const { power, muted, gainCodes, outputs, inputs } = a.chip;
      analog = { chip: { power, muted, gainCodes, outputs, ...(inputs ? { inputs } : {}) }, outputs: a.outputs };
    }
    const all = rt.analog?.events ?? [];
    const bus = rt.board.codec.bus !== undefined ? this.sim.buses.get(rt.board.codec.bus) : undefined;
    return {
      board: this.board, part: rt.codec.part, clock: rt.hal.clock.kind, atNs: rt.hal.clock.nowNs(),
      power: { state: rt.power.state, idleMs: rt.power.idleMs, history: [...rt.power.history] },
      lines, analog,
      events: events === 0 ? [] : all.slice(-events),
      i2cFault: bus?.faults ? { ...bus.faults } : null,
    };
  }

  // ---- encoder ----

  /** Turns the board's simulated encoder, then presses its switch if asked (src/board/sim-knobs.ts). */
  async encoder(req: EncoderRequest): Promise<EncoderAnswer> {
    const spec = this.rt.board.encoder;
    try {
      const enc = simEncoder(this.rt);
      if (req.press && !enc.hasPush) {
        // Refused before anything is turned.
        throw new SimControlError(`encoder: press: expected an encoder with a push switch (gpio encoder-push and encoder.push), got board ${this.board}'s encoder without one (${this.rt.board.file})`);
      }
      const turned = req.detents !== 0
        ? await enc.turn(req.detents, { ...(req.spacingMs !== undefined ? { spacingMs: req.spacingMs } : {}), ...(req.bounceUs !== undefined ? { bounceUs: req.bounceUs } : {}) })
        : undefined;
      const pressed = req.press ? await enc.press() : undefined;
      await this.service.settled?.();
      return {
        board: this.board, control: `${this.board}.${spec!.control}`, push: spec!.push ? `${this.board}.${spec!.push.toggle}` : null,
        detents: req.detents, transitions: turned?.transitions ?? 0, spacingMs: turned?.spacingMs ?? 0, bounceUs: turned?.bounceUs ?? 0,
        pressed: pressed !== undefined, atNs: pressed?.endNs ?? turned?.endNs ?? this.rt.hal.clock.nowNs(),
      };
    } catch (e) {
      if (e instanceof SimKnobError) throw new SimControlError(`encoder: ${e.message}`);
      throw e;
    }
  }

  // ---- midi ----

  /** The service's MIDI input: as the service says, else found by its name on the simulated sequencer. */
  private midiPort(): string {
    const { board } = this.rt;
    const given = this.service.midiAddress?.();
    if (given) return given;
    const client = board.midi?.client ?? `sbc-audio ${board.name}`;
    const port = board.midi?.port ?? 'control';
    const inputs = this.sim.simMidi().listPorts().filter((p) => p.destination);
    const hit = this.service.midiAddress ? undefined : inputs.find((p) => p.clientName === client && p.portName === port);
    if (!hit) {
      throw new SimControlError(`midi: expected board ${board.name} served with a MIDI input (a midi section in ${board.file}, and serve without --no-midi), got none (input ports on the simulated sequencer: ${inputs.map((p) => `${p.address.client}:${p.address.port} "${p.clientName}:${p.portName}"`).join(', ') || 'none'})`);
    }
    return `${hit.address.client}:${hit.address.port}`;
  }

  /** Sends a controller or program change from the simulated controller to the service's MIDI input. */
  async midi(req: MidiRequest): Promise<MidiAnswer> {
    try {
      const port = this.midiPort();
      const source = await simMidiSource(this.rt, port);
      const ch = req.channel - 1; // on the wire 0..15
      if ('program' in req) source.programChange(ch, req.program);
      else source.controlChange(ch, req.cc, req.value);
      // Delivery is a microtask (src/hal/sim/midi.ts); then the mapping's set reaches the control class.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.service.settled?.();
      return { board: this.board, source: `${source.address.client}:${source.address.port}`, port, ...req };
    } catch (e) {
      if (e instanceof SimKnobError) throw new SimControlError(`midi: ${e.message}`);
      throw e;
    }
  }

  // ---- requests ----

  /** Answers one request line (never throws). */
  async handleLine(line: string): Promise<SimResponse> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch (e) {
      return { id: null, ok: false, error: `request: not JSON (${(e as Error).message}); send one JSON object per line` };
    }
    return this.handle(req);
  }

  /** Answers one request object (never throws). */
  async handle(req: unknown): Promise<SimResponse> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) {
      return { id: null, ok: false, error: `request: expected a JSON object like {"id":1,"cmd":"state"}, got ${describe(req)}` };
    }
    const o = req as Record<string, unknown>;
    const id = typeof o.id === 'number' || typeof o.id === 'string' ? o.id : null;
    try {
      if (o.id !== undefined && id === null) throw new SimControlError(`id: expected a number or a string, got ${describe(o.id)}`);
      const result = await this.dispatch(o);
      return { id, ok: true, ...result };
    } catch (e) {
      const msg = e instanceof SimControlError ? e.message : `the simulation failed: ${(e as Error).message ?? e}`;
      return { id, ok: false, error: msg };
    }
  }

  private async dispatch(o: Record<string, unknown>): Promise<object> {
    const cmd = o.cmd;
    if (typeof cmd !== 'string' || !(SIM_COMMANDS as readonly string[]).includes(cmd)) {
      throw new SimControlError(`cmd: expected one of ${SIM_COMMANDS.join(', ')}, got ${describe(cmd)}`);
    }
    const f = new Fields(cmd, o);
    switch (cmd as SimCommand) {
      case 'jack': {
        f.only('stream', 'plugged');
        return this.jack(f.string('stream'), f.boolean('plugged'));
      }
      case 'i2c-fault': {
        f.only('kind', 'probability', 'register', 'count', 'clear');
        if (o.clear !== undefined) {
          if (o.clear !== true) throw f.error('clear', 'true', o.clear);
          for (const k of ['kind', 'probability', 'register', 'count']) {
            if (o[k] !== undefined) throw new SimControlError(`i2c-fault: ${k}: not allowed with clear`);
          }
          return this.i2cFault({ clear: true });
        }
        const kind = f.oneOf('kind', FAULT_KINDS);
        const hasP = o.probability !== undefined;
        const hasR = o.register !== undefined;
        if (hasP === hasR) throw new SimControlError(`i2c-fault: give either probability or register (with count), ${hasP ? 'not both' : 'or clear: true'}`);
        if (hasP) {
          if (o.count !== undefined) throw new SimControlError('i2c-fault: count: only with register');
          return this.i2cFault({ kind, probability: f.number('probability', 0, 1) });
        }
        const register = o.register;
        if (typeof register !== 'string' && typeof register !== 'number') throw f.error('register', 'a register name or its byte (0..255)', register);
        return this.i2cFault({ kind, register, count: f.optInt('count', 1, 1, 0x7fffffff) });
      }
      case 'stall':
        f.only('periods');
        return this.stall(f.optInt('periods', DEFAULT_STALL_PERIODS, 1, MAX_STALL_PERIODS));
      case 'regs': {
        f.only('part');
        return this.regs(o.part === undefined ? undefined : f.string('part'));
      }
      case 'state':
        f.only('events');
        return this.state(f.optInt('events', DEFAULT_STATE_EVENTS, 0, MAX_EVENTS));
      case 'encoder': {
        f.only('detents', 'spacingMs', 'bounceUs', 'press');
        const press = o.press === undefined ? false : f.boolean('press');
        const detents = f.optInt('detents', 0, -MAX_TURN_DETENTS, MAX_TURN_DETENTS);
        if (detents === 0 && !press) throw f.error('detents', `a whole number of detents from -${MAX_TURN_DETENTS} to ${MAX_TURN_DETENTS} other than 0 (negative: the other way), or press: true`, o.detents);
        const spacingMs = f.optNumber('spacingMs', 0.001, 60_000);
        const bounceUs = f.optNumber('bounceUs', 0, 60_000_000);
        return this.encoder({ detents, press, ...(spacingMs !== undefined ? { spacingMs } : {}), ...(bounceUs !== undefined ? { bounceUs } : {}) });
      }
      case 'midi': {
        const channel = f.optInt('channel', Number.NaN, 1, 16);
        if (o.channel === undefined) throw f.error('channel', 'a MIDI channel from 1 to 16', undefined);
        if (o.program !== undefined) {
          f.only('channel', 'program');
          return this.midi({ channel, program: f.optInt('program', 0, 0, 127) });
        }
        f.only('channel', 'cc', 'value');
        if (o.cc === undefined) throw f.error('cc', 'a controller number from 0 to 127 (or program, for a program change)', undefined);
        if (o.value === undefined) throw f.error('value', 'a controller value from 0 to 127', undefined);
        return this.midi({ channel, cc: f.optInt('cc', 0, 0, 127), value: f.optInt('value', 0, 0, 127) });
      }
    }
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Field checks of one request: every message names the command and the field. */
class Fields {
  constructor(private readonly cmd: string, private readonly o: Record<string, unknown>) {}

  error(name: string, expected: string, got: unknown): SimControlError {
    return new SimControlError(`${this.cmd}: ${name}: expected ${expected}, got ${describe(got)}`);
  }

  only(...names: string[]): void {
    for (const k of Object.keys(this.o)) {
      if (k !== 'id' && k !== 'cmd' && !names.includes(k)) {
        throw new SimControlError(`${this.cmd}: unknown field "${k}" (fields: ${names.length ? names.join(', ') : 'none'})`);
      }
    }
  }

  string(name: string): string {
    const v = this.o[name];
    if (typeof v !== 'string' || v === '') throw this.error(name, 'a non-empty string', v);
    return v;
  }

  boolean(name: string): boolean {
    const v = this.o[name];
    if (typeof v !== 'boolean') throw this.error(name, 'true or false', v);
    return v;
  }

  number(name: string, min: number, max: number): number {
    const v = this.o[name];
    if (typeof v !== 'number' || !(v >= min && v <= max)) throw this.error(name, `a number from ${min} to ${max}`, v);
    return v;
  }

  optNumber(name: string, min: number, max: number): number | undefined {
    const v = this.o[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !(v >= min && v <= max)) throw this.error(name, `a number from ${min} to ${max}`, v);
    return v;
  }

  optInt(name: string, dflt: number, min: number, max: number): number {
    const v = this.o[name];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw this.error(name, `a whole number from ${min} to ${max}`, v);
    return v;
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T {
    const v = this.o[name];
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw this.error(name, `one of ${values.join(', ')}`, v);
    return v as T;
  }
}

// ---- the socket ----

export interface SimControlServer {
  readonly path: string;
  close(): Promise<void>;
}

export interface SimControlServerOptions {
  /** Socket file mode (default 0660: owner and group). */
  mode?: number;
  log?: (line: string) => void;
}

/**
 * Publishes `control` at `socketPath` (./json-lines.ts: its folder created, mode 0750, and checked
 * as the runtime directory is; bound under a hidden name, given its mode, renamed into place, so
 * the socket appears only once it accepts connections). A stale socket is replaced; a live one or
 * a non-socket file makes it fail.
 */
export async function serveSimControl(control: SimControl, socketPath: string, opts: SimControlServerOptions = {}): Promise<SimControlServer> {
  return serveJsonLines(socketPath, (line) => control.handleLine(line), {
    what: `sim control ${control.board}`, ...(opts.mode !== undefined ? { mode: opts.mode } : {}), ...(opts.log ? { log: opts.log } : {}),
  });
}
