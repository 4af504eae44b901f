/**
 * Hands on the appliance (docs/CONTROL.md, "Knobs"): the board's MIDI input and rotary encoder,
 * wired to the control class (./dispatch.ts). Both only ever call the dispatcher's set(): a knob
 * turned fast costs the event loop a parse and a table lookup per event, the register writes are
 * coalesced behind the bus, and the engine's thread never sees any of it.
 *
 * - MIDI: a sequencer client (`sbc-audio <board>`, port `control`) any source can be connected to
 *   (the board file's midi.connect, `sbc-audio midi connect`, or aconnect); its controller
 *   changes go through the mappings (./midi-map.ts): the board file's, then the learned ones,
 *   which are kept beside the state file (`<state dir>/midi/<board>.json`).
 * - Encoder: the gpio roles encoder-a / encoder-b (one line request) and encoder-push, decoded in
 *   ./encoder.ts: one relative step per detent ("+0.5dB"), which the dispatcher adds to the
 *   newest value, so no detent is lost however many arrive before a write lands.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readFileSync, renameSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { BoardRuntime } from '../board/runtime.ts';
import { MappingSpecError, type MidiMappingSpec as MidiMapSpec, parseMidiMappings } from '../board/knob-specs.ts';
import { BoardFileError } from '../board/schema.ts';
import { type MidiEvent, type MidiInputPort, type MidiSequencer, formatMidiAddress } from '../hal/midi.ts';
import { EncoderControl } from './encoder.ts';
import { type MidiCurve, type MidiMapping, MidiMapper, resolveMapping } from './midi-map.ts';
import type { ControlDescriptor } from './types.ts';

/** The learned mappings' file: `format` says what it is, `version` its layout. */
export const LEARNED_FORMAT = 'sbc-audio-midi';
export const LEARNED_VERSION = 1;
/** Larger files are refused unread (a few hundred mappings are a few tens of KiB). */
const LEARNED_MAX_BYTES = 256 * 1024;

export class KnobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnobError';
  }
}

/** A mapping as the channel shows it: the board file's form, its full control id, and where it comes from. */
export interface MappingInfo extends MidiMapSpec {
  controlId: string;
  curve: MidiCurve;
  from: 'board' | 'learned';
}

export interface KnobsInfo {
  midi: null | { client: string; port: string; address: string; connections: string[]; mappings: MappingInfo[]; learnedFile: string | null };
  encoder: null | { control: string; step: number; transitionsPerDetent: number; reverse: boolean; acceleration: { belowMs: number; factor: number }[]; push: string | null; detents: number; invalid: number };
}

export interface KnobsOptions {
  runtime: BoardRuntime;
  /** The control class's set (ControlDispatcher.set). */
  set: (id: string, value: unknown, opts: { source: string }) => Promise<unknown>;
  /** The board's controls, described (controlDescriptors of ./model.ts). */
  descriptors: readonly ControlDescriptor[];
  /** The MIDI sequencer (absent: no MIDI input). */
  sequencer?: MidiSequencer;
  /** Where learned mappings are kept (absent: learned mappings last until the service stops). */
  learnedFile?: string;
  log?: (line: string) => void;
}

/** The board's knobs, started; close() releases the sequencer port (the GPIO lines are the runtime's). */
export class Knobs {
  private readonly board: string;
  private readonly byId = new Map<string, ControlDescriptor>();
  private readonly log: (line: string) => void;
  private mapper: MidiMapper | undefined;
  private port: MidiInputPort | undefined;
  private offMidi: (() => void) | undefined;
  private encoder: EncoderControl | undefined;
  private boardMaps: MidiMapping[] = [];
  private boardSpecs: MidiMapSpec[] = [];
  private learnedSpecs: MidiMapSpec[] = [];
  /** The learned-mappings file exists but could not be read: moved aside before it is written. */
  private learnedUnreadable = false;

  private constructor(private readonly opts: KnobsOptions) {
    this.board = opts.runtime.board.name;
    this.log = opts.log ?? (() => {});
    for (const d of opts.descriptors) this.byId.set(d.id, d);
  }

  /** Checks the board's knob sections against its controls (BoardFileError naming the field), then opens them. */
  static async start(opts: KnobsOptions): Promise<Knobs> {
    const k = new Knobs(opts);
    try {
      await k.open();
    } catch (e) {
      await k.close();
      throw e;
    }
    return k;
  }

  private fullId(id: string): string {
    return `${this.board}.${id}`;
  }

  /** The descriptor of a board-relative id, or a BoardFileError naming `field`. */
  private control(id: string, field: string, kinds: readonly ControlDescriptor['kind'][], file = this.opts.runtime.board.file): ControlDescriptor {
    const d = this.byId.get(this.fullId(id)) ?? (id.startsWith(`${this.board}.`) ? this.byId.get(id) : undefined);
    const fitting = [...this.byId.values()].filter((x) => kinds.includes(x.kind) && x.writable).map((x) => `"${x.id.slice(this.board.length + 1)}"`);
    if (!d || !kinds.includes(d.kind) || !d.writable) {
      throw new BoardFileError(file, field, `a writable ${kinds.join(' or ')} control of board ${this.board} (${fitting.slice(0, 8).join(', ')}${fitting.length > 8 ? ', ...' : ''})`, id);
    }
    return d;
  }

  /** The mapping the mapper takes, from a spec: its control resolved, its curve checked against the control's kind. */
  private mapping(spec: MidiMapSpec, field: string, file = this.opts.runtime.board.file): MidiMapping {
    const d = this.control(spec.control, `${field}.control`, ['volume', 'switch', 'enum'], file);
    try {
      return resolveMapping({ ...spec, control: d.id }, d, field);
    } catch (e) {
      if (e instanceof MappingSpecError) throw new BoardFileError(file, e.field, e.expected, e.got, e.problem);
      throw e;
    }
  }

  private async open(): Promise<void> {
    const { runtime } = this.opts;
    const board = runtime.board;
    // The encoder: its control (and the push's switch) checked before any line is watched.
    if (board.encoder) {
      const spec = board.encoder;
      const d = this.control(spec.control, 'encoder.control', ['volume', 'switch', 'enum']);
      const pushD = spec.push ? this.control(spec.push.toggle, 'encoder.push.toggle', ['switch']) : undefined;
      const a = runtime.lines.get('encoder-a');
      const b = runtime.lines.get('encoder-b');
      const push = runtime.lines.get('encoder-push');
      if (!a || !b) throw new BoardFileError(board.file, 'gpio.encoder-a', 'the encoder\'s lines', undefined);
      const step = spec.step ?? (d.kind === 'volume' ? (d.range!.step > 0 ? d.range!.step : 1) : 1);
      this.encoder = new EncoderControl({
        request: a.request, a: a.offset, b: b.offset,
        ...(push ? { push: { request: push.request, offset: push.offset } } : {}),
        spec: { ...spec, step }, controlId: d.id, ...(pushD ? { pushId: pushD.id } : {}),
        descriptor: d,
        set: this.opts.set, clock: runtime.hal.clock, log: this.log,
      });
    }
    if (board.midi) {
      this.boardSpecs = board.midi.map;
      this.boardMaps = board.midi.map.map((m, i) => this.mapping(m, `midi.map[${i}]`));
    }
    const seq = this.opts.sequencer;
    if (!seq) return;
    this.learnedSpecs = this.readLearned();
    this.mapper = new MidiMapper({
      resolve: (id) => this.byId.get(id),
      set: this.opts.set,
      log: this.log,
    });
    this.applyMappings();
    const client = board.midi?.client ?? `sbc-audio ${board.name}`;
    this.port = await seq.openInput(client, board.midi?.port ?? 'control');
    const mapper = this.mapper;
    this.offMidi = this.port.onEvent((ev) => mapper.handle(ev));
    for (const src of board.midi?.connect ?? []) {
      // A source that is not there now (a USB controller unplugged) is not a reason not to serve.
      await this.port.connectFrom(src).then(
        (a) => this.log(`MIDI: ${src} (${formatMidiAddress(a)}) connected to ${formatMidiAddress(this.port!.address)}`),
        (e: unknown) => this.log(`MIDI: cannot connect ${src} (board file midi.connect): ${(e as Error).message}`),
      );
    }
  }

  /** Board mappings, with the learned ones over them on the same channel and controller. */
  private applyMappings(): void {
    const learned: MidiMapping[] = [];
    this.learnedSpecs = this.learnedSpecs.filter((m, i) => {
      try {
        learned.push(this.mapping(m, `map[${i}]`, this.opts.learnedFile));
        return true;
      } catch (e) {
        // A learned mapping whose control is gone (a board file edited since): dropped, said once.
        this.log(`MIDI: learned mapping dropped: ${(e as Error).message}`);
        return false;
      }
    });
    this.mapper?.setMappings(this.boardMaps, learned);
  }

  /**
   * The learned mappings on disk. Opened without following a symbolic link and without blocking
   * (a FIFO put there is refused, not waited on), checked as a regular file of bounded size; each
   * entry is checked on its own, so one bad entry costs only itself (said in the log). A file that
   * cannot be read at all is not overwritten: the next write moves it aside first (`.unreadable`).
   */
  private readLearned(): MidiMapSpec[] {
    const file = this.opts.learnedFile;
    if (!file) return [];
    let fd: number | undefined;
    try {
      fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      const st = fstatSync(fd);
      if (!st.isFile()) throw new KnobError('not a regular file');
      if (st.size > LEARNED_MAX_BYTES) throw new KnobError(`${st.size} bytes, more than ${LEARNED_MAX_BYTES} (refused unread)`);
      const o = JSON.parse(readFileSync(fd, 'utf8')) as Record<string, unknown>;
      if (o?.format !== LEARNED_FORMAT || o.version !== LEARNED_VERSION) throw new KnobError(`not a ${LEARNED_FORMAT} file of version ${LEARNED_VERSION}`);
      if (o.board !== this.board) throw new KnobError(`board: "${String(o.board)}", and this is board ${this.board}`);
      if (!Array.isArray(o.map)) throw new KnobError('map: expected a list of mappings');
      const out: MidiMapSpec[] = [];
      (o.map as unknown[]).forEach((entry, i) => {
        try {
          const m = parseMidiMappings([entry], 'map')[0];
          const field = `map[${i}]`;
          if (out.some((x) => x.channel === m!.channel && x.cc === m!.cc)) throw new MappingSpecError(`${field}.cc`, 'a controller not mapped already on its channel', m!.cc);
          if (out.some((x) => conflicts(x, m!))) throw new MappingSpecError(`${field}.cc`, 'a controller that is not half of a 14-bit pair mapped already (an MSB and its LSB at cc + 32)', m!.cc);
          out.push(m!);
        } catch (e) {
          this.log(`MIDI: learned mapping dropped: ${file}: ${(e as Error).message.replace(/^map\[0\]/, `map[${i}]`)}`);
        }
      });
      return out;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      this.learnedUnreadable = true;
      this.log(`MIDI: learned mappings in ${file} not used: ${(e as NodeJS.ErrnoException).code === 'ELOOP' ? 'a symbolic link (not followed)' : (e as Error).message}; it is moved aside to ${file}.unreadable before the next learn writes the file`);
      return [];
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Atomically (src/util/atomic-file.ts), 0644 in a 0755 folder, as presets. */
  private writeLearned(specs: MidiMapSpec[]): void {
    const file = this.opts.learnedFile;
    if (!file) return;
    try {
      if (this.learnedUnreadable) {
        renameSync(file, `${file}.unreadable`);
        this.log(`MIDI: ${file}, which could not be read, moved to ${file}.unreadable`);
        this.learnedUnreadable = false;
      }
      writeFileAtomic(file, `${JSON.stringify({ format: LEARNED_FORMAT, version: LEARNED_VERSION, board: this.board, map: specs }, null, 2)}\n`);
    } catch (e) {
      throw new KnobError(`cannot write ${file}: ${(e as Error).message} (nothing changed)`);
    }
  }

  private needMidi(): { mapper: MidiMapper; port: MidiInputPort } {
    if (!this.mapper || !this.port) throw new KnobError(`board ${this.board} has no MIDI input in this service (no ALSA sequencer, or serve --no-midi)`);
    return { mapper: this.mapper, port: this.port };
  }

  /**
   * Every MIDI event the service's port receives (issue 30: notes for the synths in the streams'
   * chains); returns the unsubscribe function, a no-op without MIDI input.
   */
  onMidi(listener: (ev: MidiEvent) => void): () => void {
    return this.port?.onEvent(listener) ?? (() => {});
  }

  info(): KnobsInfo {
    const e = this.encoder;
    const spec = this.opts.runtime.board.encoder;
    const mappings: MappingInfo[] = [];
    if (this.mapper) {
      for (const m of this.mapper.mappings()) {
        const specs = m.from === 'board' ? this.boardSpecs : this.learnedSpecs;
        const s = specs.find((x) => x.channel === m.channel && x.cc === m.cc);
        if (s) mappings.push({ ...s, controlId: m.control, curve: m.curve, from: m.from });
      }
    }
    return {
      midi: this.port ? {
        client: this.port.clientName, port: this.port.portName, address: formatMidiAddress(this.port.address),
        connections: this.port.connections().map(formatMidiAddress), mappings, learnedFile: this.opts.learnedFile ?? null,
      } : null,
      encoder: e && spec ? {
        control: this.fullId(spec.control), step: e.step, transitionsPerDetent: spec.transitionsPerDetent, reverse: spec.reverse,
        acceleration: spec.acceleration, push: spec.push ? this.fullId(spec.push.toggle) : null, detents: e.stats().detents, invalid: e.stats().invalid,
      } : null,
    };
  }

  /**
   * Learn mode: the next controller that moves (any channel) drives `control` (a full id or one
   * without the board's name); the mapping replaces any on that channel and controller, and is kept.
   */
  async learn(control: string, opts: { timeoutMs: number; resolution?: 7 | 14; curve?: MidiCurve; signal?: AbortSignal }): Promise<MappingInfo> {
    const { mapper } = this.needMidi();
    const rel = control.startsWith(`${this.board}.`) ? control.slice(this.board.length + 1) : control;
    let d: ControlDescriptor;
    try {
      d = this.control(rel, 'control', ['volume', 'switch', 'enum']);
    } catch (e) {
      throw new KnobError(`control: expected ${(e as BoardFileError).expected ?? 'a control of this board'}, got ${JSON.stringify(control)}`);
    }
    if (opts.curve) {
      try {
        resolveMapping({ channel: 'any', cc: 0, resolution: 7, control: d.id, curve: opts.curve, invert: false }, d, '');
      } catch (e) {
        throw new KnobError((e as Error).message.replace(/^\.curve: /, 'curve: '));
      }
    }
    // The asker gone (its connection closed), or the service stopping: the learn ends, and the
    // next knob anyone touches is not mapped to a control nobody waits for.
    const signal = opts.signal;
    if (signal?.aborted) throw new KnobError(`midi learn ${d.id}: cancelled`);
    const onAbort = () => mapper.cancelLearn();
    signal?.addEventListener('abort', onAbort, { once: true });
    let m: MidiMapping;
    try {
      m = await mapper.learn(d.id, { timeoutMs: opts.timeoutMs, ...(opts.resolution ? { resolution: opts.resolution } : {}), ...(opts.curve ? { curve: opts.curve } : {}) });
    } catch (e) {
      throw new KnobError((e as Error).message);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const spec: MidiMapSpec = {
      channel: m.channel, cc: m.cc, resolution: m.resolution, control: rel, curve: m.curve, invert: m.invert,
      ...(m.min !== undefined ? { min: m.min } : {}), ...(m.max !== undefined ? { max: m.max } : {}),
    };
    // It replaces any learned mapping of that channel and controller, and any it would make half
    // of a 14-bit pair (a 7-bit one on the LSB of a 14-bit one, or the reverse).
    const next = [...this.learnedSpecs.filter((x) => !(x.channel === spec.channel && x.cc === spec.cc) && !conflicts(x, spec)), spec];
    this.writeLearned(next); // first: a file that cannot be written changes nothing
    this.learnedSpecs = next;
    this.applyMappings();
    return { ...spec, controlId: d.id, curve: m.curve, from: 'learned' };
  }

  /** Whether a learn is waiting for a controller to move. */
  learning(): boolean {
    return this.mapper?.learning() !== undefined;
  }

  /** Removes the learned mapping on this channel and controller (a board file's mapping stays: edit the file). */
  unmap(channel: number | 'any', cc: number): boolean {
    this.needMidi();
    const next = this.learnedSpecs.filter((x) => !(x.channel === channel && x.cc === cc));
    if (next.length === this.learnedSpecs.length) {
      if (this.boardSpecs.some((x) => x.channel === channel && x.cc === cc)) throw new KnobError(`midi unmap: channel ${channel} cc ${cc} is mapped by the board file ${this.opts.runtime.board.file} (midi.map): edit the file to remove it`);
      return false;
    }
    this.writeLearned(next);
    this.learnedSpecs = next;
    this.applyMappings();
    return true;
  }

  async connect(source: string): Promise<string> {
    return formatMidiAddress(await this.needMidi().port.connectFrom(source));
  }

  async disconnect(source: string): Promise<void> {
    await this.needMidi().port.disconnectFrom(source);
  }

  async close(): Promise<void> {
    this.mapper?.cancelLearn();
    this.offMidi?.();
    this.offMidi = undefined;
    this.encoder?.close();
    this.encoder = undefined;
    const p = this.port;
    this.port = undefined;
    await p?.close();
  }
}

/** Whether two mappings would share a controller as halves of a 14-bit pair (an MSB's LSB is cc + 32) on channels that overlap. */
function conflicts(a: MidiMapSpec, b: MidiMapSpec): boolean {
  const overlap = a.channel === 'any' || b.channel === 'any' || a.channel === b.channel;
  if (!overlap) return false;
  return (a.resolution === 14 && b.cc === a.cc + 32) || (b.resolution === 14 && a.cc === b.cc + 32);
}
