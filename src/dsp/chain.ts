/**
 * A chain of LADSPA plugins on one output stream, run by the engine's thread (issue 29;
 * docs/engine.md, "Plugins in the chain"). This is the worker's side: the main thread resolved
 * each stage's library and checked it (src/dsp/chain-spec.ts); here the stages are instantiated,
 * connected to port memory allocated once, activated, and run every period.
 *
 * The samples. The stream's interleaved period (i16, i32 or f32) is taken apart into one float
 * buffer per stream channel (i16 / 32768, i32 / 2^31: full scale is ±1.0, as LADSPA expects), each
 * stage reads its channels from there and writes its outputs back, and the result is put back
 * together, rounded to the nearest integer and clamped to the type's range. A 16-bit sample (and
 * a float) goes there and back unchanged, so a plugin that passes its input through leaves such a
 * stream bit-exact; a 32-bit sample keeps the float's 24 bits. A stage with k audio inputs and k audio outputs processes `channels` (stream
 * channels, in order) with channels.length / k instances: a mono plugin on a stereo stream is one
 * instance per channel, as the issue asks; a stereo plugin is one instance for both.
 *
 * Ports. The per-channel float buffers are native memory (allocPortMemory: V8 never moves it,
 * so connect_port is called once per port, at instantiation). An instance's audio inputs are
 * connected to its channels' buffers themselves, and so are its outputs — it runs in place, as
 * LADSPA allows — unless the plugin is marked INPLACE_BROKEN: then its outputs have buffers of
 * their own, copied back after run(). Control inputs are one float each, the same value in every instance of the
 * stage; control outputs one float each, read after run (a port named "latency" is the stage's
 * latency in frames, published in the stats block for the stream's external delay).
 *
 * Events land on their frame: the stream bridge cuts the period at each event's offset and calls
 * process() for the pieces between them (run(n) with n the piece's length), setting a control
 * port between two pieces (setPortFrom). LADSPA has no ramps; a control port changes at its frame.
 *
 * Time. Each stage's run calls (all its instances) are timed with CLOCK_MONOTONIC, one read
 * before the first stage and one after each stage (about 85 ns a read here; on the engine's
 * SCHED_FIFO thread, which ordinary tasks do not preempt, that is the CPU time the stage took). A
 * stage whose run calls in one period took longer than the period itself is suspected of an
 * overrun; from the next period the chain also reads the thread's own CPU clock
 * (CLOCK_THREAD_CPUTIME_ID, a system call: about 2 µs a read here, so only while a stage is
 * suspected) around its work, and an overrun counts only when the chain's CPU time in that period
 * was longer than the period too — a thread preempted inside a plugin (no SCHED_FIFO, a busy
 * machine) does not make the plugin look slow. After `maxOverruns` counted overruns in a row the
 * stage is bypassed (its input passed through as is) for good, and the stats block says so: the
 * stream plays on without it instead of underrunning every period. The stats block (a
 * SharedArrayBuffer the main thread reads) holds per stage: ns in its run calls in the last
 * period, the most in one period, the total, the periods, the counted overruns, whether it was
 * bypassed and why, and its latency.
 *
 * Nothing here allocates per period: the buffers, the views and the clock's buffer are made in
 * the constructor; process() and endPeriod() only index typed arrays and call run through koffi.
 */
import { monotonicClock, threadCpuClock } from './cpu-clock.ts';
import { type LadspaInstance, allocPortMemory, openPlugin } from './ladspa.ts';
import { DssiEventBuffer, type DssiInstance, openDssiPlugin } from './dssi.ts';
import type { HostBuffer, HostSampleFormat } from '../engine/types.ts';
import { FrameCopier } from '../util/ring-copy.ts';

/** One stage as the engine receives it (structured-cloneable: it travels in the worker's options). */
export interface ChainStageSpec {
  /** Absolute path of the library (the main thread found it in the plugin directories). */
  library: string;
  label: string;
  /** The stream channels it processes, in order (a multiple of its audio inputs). */
  channels: number[];
  /** Control input values by port index (null: not a control input). */
  values: (number | null)[];
  /** Bypassed from the start (the user's choice; the input passes through). */
  bypass: boolean;
  /** A DSSI plugin (its library has dssi_descriptor with this label): what each new instance is given. */
  dssi?: DssiStageSpec;
}

/**
 * A DSSI stage's session state (issue 30; docs/facts/dssi.md). dssi.h: the host remembers the last
 * value of each configure key and calls configure again with it when it makes the "same" instance
 * again, and a plugin selects no program by itself at activate: the host sets one. So each new
 * instance gets its configure calls first, then activate, then the program.
 */
export interface DssiStageSpec {
  /** configure(key, value) calls, in the order they were first made. */
  configure: [string, string][];
  /** [bank, program] selected once the instance is active; null: none selected yet. */
  program: [number, number] | null;
}

export interface ChainOptions {
  stages: ChainStageSpec[];
  /** The stats block (chainStatsBytes(stages.length) bytes, made by the main thread). */
  stats: SharedArrayBuffer;
  /** Periods in a row over the period's length before a stage is bypassed (default MAX_OVERRUNS_DEFAULT). */
  maxOverruns?: number;
  /**
   * The DSSI call-class lock (Int32 word 0 of a SharedArrayBuffer the service makes once): DSSI's
   * instantiation functions (instantiate, activate, deactivate, cleanup) never overlap its control
   * functions (configure, get_program), which the service's main thread calls on the engine's
   * instances. Given for a chain with DSSI stages.
   */
  dssiLock?: SharedArrayBuffer;
  /** The caller holds the DSSI lock already (a swap on the engine thread took it without waiting). */
  lockHeld?: boolean;
}

/** The DSSI call-class lock's states (word 0): free, held by a control-class call (main thread), held for instantiation (an engine thread). */
export const DSSI_LOCK = { FREE: 0, CONTROL: 1, INSTANTIATION: 2 } as const;

/** How long an engine thread waits for a control-class call to end before it gives up an instantiation step (configure and get_program are short). */
export const DSSI_LOCK_WAIT_MS = 10000;

/** Takes the lock for instantiation on an engine thread: waits (Atomics.wait, 1 ms at a time) while a control call holds it. */
export function lockForInstantiation(lock: Int32Array | undefined): void {
  if (lock === undefined) return;
  for (let waited = 0; ; waited++) {
    const was = Atomics.compareExchange(lock, 0, DSSI_LOCK.FREE, DSSI_LOCK.INSTANTIATION);
    if (was === DSSI_LOCK.FREE) return;
    if (waited >= DSSI_LOCK_WAIT_MS) throw new Error(`a DSSI control call (configure or get_program) held the call-class lock for more than ${DSSI_LOCK_WAIT_MS} ms`);
    Atomics.wait(lock, 0, was, 1);
  }
}

/** Takes the lock for instantiation without waiting (the audio thread): false while a control call holds it. */
export function tryLockForInstantiation(lock: Int32Array | undefined): boolean {
  if (lock === undefined) return true;
  return Atomics.compareExchange(lock, 0, DSSI_LOCK.FREE, DSSI_LOCK.INSTANTIATION) === DSSI_LOCK.FREE;
}

export function unlockDssi(lock: Int32Array | undefined): void {
  if (lock === undefined) return;
  Atomics.store(lock, 0, DSSI_LOCK.FREE);
  Atomics.notify(lock, 0);
}

/** Stats per stage, in doubles. */
export const STAT = {
  /** CPU ns of its run calls in the last period. */
  LAST_NS: 0,
  /** The most CPU ns in one period. */
  MAX_NS: 1,
  /** CPU ns in all. */
  TOTAL_NS: 2,
  /** Periods it ran in. */
  PERIODS: 3,
  /** Periods whose run calls took longer than the period. */
  OVERRUNS: 4,
  /** 0: running; 1: bypassed by the user; 2: bypassed by the engine after overruns. */
  BYPASSED: 5,
  /** Its "latency" output port (frames), NaN when it has none. */
  LATENCY: 6,
  /** Overruns in a row now. */
  IN_A_ROW: 7,
  SIZE: 8,
} as const;

export const BYPASS = { NONE: 0, USER: 1, OVERRUN: 2 } as const;

/** After this many periods in a row whose run calls took longer than the period, a stage is bypassed. */
export const MAX_OVERRUNS_DEFAULT = 3;

/** The most stages in one chain (the stats block has room for them all, so a swap keeps the block). */
export const MAX_STAGES = 16;

/**
 * After the stats of every stage, per stage (doubles): what a DSSI stage tells the main thread —
 * the program in force, a count of program selections, its instances' handles (the addresses of
 * their LADSPA_Handles, for the control-class calls the main thread makes; a count of 0: none),
 * and its control input ports as the plugin left them after the last selection (dssi.h: a plugin
 * may rewrite its input control ports in select_program; the host re-reads them).
 */
export const DSSI_FIELD = { BANK: 0, PROGRAM: 1, SELECTIONS: 2, HANDLE_COUNT: 3, HANDLES: 4, PORTS: 4 + 16, SIZE: 4 + 16 + 256 } as const;
/** A DSSI stage has at most this many instances (a mono effect on up to 16 channels). */
export const MAX_DSSI_INSTANCES = DSSI_FIELD.PORTS - DSSI_FIELD.HANDLES;
/** Ports beyond this index are not read back after a program selection. */
export const DSSI_READBACK_PORTS = DSSI_FIELD.SIZE - DSSI_FIELD.PORTS;
/** Where stage `stage`'s DSSI fields start in the stats block (doubles). */
export function dssiFieldsAt(stage: number): number {
  return MAX_STAGES * STAT.SIZE + stage * DSSI_FIELD.SIZE;
}
/** A program as one number (a control event's value): bank × 2^24 + program. */
export const PROGRAM_PACK = 2 ** 24;

export function chainStatsBytes(): number {
  return (MAX_STAGES * STAT.SIZE + MAX_STAGES * DSSI_FIELD.SIZE) * 8;
}

/**
 * The swap mailbox (a SharedArrayBuffer of CHAIN_MAILBOX_BYTES): Int32 word 0 the byte length of
 * the UTF-8 JSON of the new chain's ChainStageSpec[] that follows from byte 8. The main thread
 * writes it, then sends SET_CHAIN (src/engine/stream-control.ts); the engine reads it then.
 */
export const CHAIN_MAILBOX_BYTES = 64 * 1024;

export function writeChainMailbox(mailbox: SharedArrayBuffer, stages: readonly ChainStageSpec[]): void {
  const bytes = new TextEncoder().encode(JSON.stringify(stages));
  if (bytes.length > CHAIN_MAILBOX_BYTES - 8) throw new Error(`the chain's description is ${bytes.length} bytes; at most ${CHAIN_MAILBOX_BYTES - 8}`);
  new Uint8Array(mailbox, 8, bytes.length).set(bytes);
  Atomics.store(new Int32Array(mailbox, 0, 1), 0, bytes.length);
}

export function readChainMailbox(mailbox: SharedArrayBuffer): ChainStageSpec[] {
  const n = Atomics.load(new Int32Array(mailbox, 0, 1), 0);
  return JSON.parse(new TextDecoder().decode(new Uint8Array(mailbox, 8, n).slice())) as ChainStageSpec[];
}

/** What the chain calls on an instance, LADSPA's or DSSI's (a DssiInstance wraps a LadspaInstance). */
type PluginInstance = Pick<LadspaInstance, 'connect' | 'activate' | 'run' | 'deactivate' | 'cleanup'>;

interface Stage {
  instances: PluginInstance[];
  /**
   * Per instance, per audio output of an INPLACE_BROKEN plugin: its own buffer's bytes, the
   * channel buffer's bytes it is copied back to, and the copier (src/util/ring-copy.ts) between
   * them; empty for a plugin that runs in place.
   */
  outs: { from: Uint8Array; to: Uint8Array; copier: FrameCopier }[][];
  /** Per instance: control port index → its one-float cell (inputs and outputs). */
  cells: (Float32Array | undefined)[][];
  channels: Int32Array;
  audioIns: number;
  /** The "latency" control output's port index, or −1. */
  latencyPort: number;
  /** CPU ns this period. */
  periodNs: number;
  /** DSSI: the instances as DSSI instances (the same objects as `instances`), else undefined. */
  dssi: DssiInstance[] | undefined;
  /** DSSI: the sequencer events for the next run_synth (every instance gets them). */
  events: DssiEventBuffer | undefined;
  /**
   * A synth (no audio inputs): its outputs' own buffers, added into the stream channels after
   * run_synth; mixFrom[k] is the output added into channels[k].
   */
  synthOuts: Float32Array[];
  mixFrom: Int32Array;
  /** DSSI: the program in force ([bank, program], when hasProgram), selected again after a reset. */
  program: [number, number];
  hasProgram: boolean;
  /** DSSI: the plugin has select_program. */
  canSelect: boolean;
  /** DSSI: room for every instance's port values across a reset's program selection (made once). */
  saved: Float32Array;
}

/** Sequencer events one DSSI stage takes per piece of a period (more in one piece are dropped and counted). */
export const DSSI_EVENTS_PER_PIECE = 256;

export class PluginChain {
  private readonly stages: Stage[] = [];
  /** One float buffer per stream channel (the stages read and write here). */
  private readonly work: Float32Array[] = [];
  readonly stats: Float64Array;
  private readonly maxOverruns: number;
  private readonly periodNs: number;
  private readonly wall = monotonicClock();
  private readonly cpu = threadCpuClock();
  /**
   * [0, 1]: the stage timing's last two reads; [2]: the thread's CPU ns at the start of the
   * current piece; [3]: its CPU ns this period (doubles kept in an array: no boxing).
   */
  private readonly t = new Float64Array(4);
  /** A stage overran the period in the last period: this one measures the thread's CPU too. */
  private measuringCpu = false;
  /** A stage the engine bypassed (its index) not yet reported; the reader sets it back to −1. */
  bypassedNow = -1;
  /** DSSI stages whose program was selected and not yet reported: bit k for stage k; the reader clears it. */
  programsNow = 0;
  /** Sequencer events dropped: a piece with more than DSSI_EVENTS_PER_PIECE for one stage. */
  eventsDropped = 0;
  private readonly lock: Int32Array | undefined;
  /** It has DSSI stages (their instantiation calls take the call-class lock). */
  readonly hasDssi: boolean;
  /** A START's reset found the lock held: the chain passes its input through until the reset is done. */
  private resetPending = false;

  constructor(opts: ChainOptions, readonly rate: number, readonly streamChannels: number, readonly maxFrames: number, warm = true) {
    if (opts.stages.length > MAX_STAGES) throw new Error(`a chain has at most ${MAX_STAGES} stages, got ${opts.stages.length}`);
    // The stats block is written once this chain runs (takeStats): a chain made to replace
    // another must not clear the running one's figures.
    this.stats = new Float64Array(opts.stats);
    this.initialBypass = opts.stages.map((s) => s.bypass);
    this.maxOverruns = opts.maxOverruns ?? MAX_OVERRUNS_DEFAULT;
    this.periodNs = (maxFrames * 1e9) / rate;
    this.lock = opts.dssiLock ? new Int32Array(opts.dssiLock, 0, 1) : undefined;
    const work = allocPortMemory(streamChannels * maxFrames);
    for (let c = 0; c < streamChannels; c++) this.work.push(work.subarray(c * maxFrames, (c + 1) * maxFrames));
    const lock = opts.stages.some((st) => st.dssi !== undefined) && opts.lockHeld !== true;
    this.hasDssi = opts.stages.some((st) => st.dssi !== undefined);
    if (lock) lockForInstantiation(this.lock);
    try {
      for (const spec of opts.stages) this.addStage(spec, rate, maxFrames);
    } catch (e) {
      // A stage that cannot be made: the ones made before it are freed, nothing is left half-built.
      this.dispose(true);
      throw e;
    } finally {
      if (lock) unlockDssi(this.lock);
    }
    if (warm) this.warm();
  }

  private readonly initialBypass: boolean[];

  /** This chain is the one running: its stats block starts from zero, with each stage's bypass. */
  takeStats(lockHeld = false): void {
    this.stats.fill(0);
    this.initialBypass.forEach((b, si) => {
      this.stats[si * STAT.SIZE + STAT.BYPASSED] = b ? BYPASS.USER : BYPASS.NONE;
      this.stats[si * STAT.SIZE + STAT.LATENCY] = Number.NaN;
    });
    // The DSSI handles: written under the lock, so a control call on the main thread never reads
    // a handle of a chain being freed (dispose clears its own under the lock too).
    if (!lockHeld && this.hasDssi) lockForInstantiation(this.lock);
    try {
      this.stages.forEach((st, si) => this.readBack(si, st));
    } finally {
      if (!lockHeld && this.hasDssi) unlockDssi(this.lock);
    }
  }

  /** A DSSI stage's handle, program and control inputs into its fields of the stats block. */
  private readBack(si: number, st: Stage): void {
    const at = dssiFieldsAt(si);
    const stats = this.stats;
    if (st.dssi === undefined) {
      stats[at + DSSI_FIELD.HANDLE_COUNT] = 0;
      return;
    }
    for (let j = 0; j < st.dssi.length; j++) stats[at + DSSI_FIELD.HANDLES + j] = Number(st.dssi[j]!.handleAddress);
    stats[at + DSSI_FIELD.HANDLE_COUNT] = st.dssi.length;
    const cells = st.cells[0]!;
    for (let p = 0; p < cells.length && p < DSSI_READBACK_PORTS; p++) {
      const cell = cells[p];
      stats[at + DSSI_FIELD.PORTS + p] = cell === undefined ? Number.NaN : cell[0]!;
    }
  }

  /**
   * Every instance deactivated and activated again (ladspa.h allows it between runs): delay lines
   * and filter state start from silence, as at a new START (no old audio replayed).
   */
  reset(): boolean {
    if (this.stages.length === 0) return true;
    // On the audio thread: the lock without waiting. Held by a control call (configure or
    // get_program on the main thread), the reset is left for the next piece and the chain passes
    // its input through meanwhile (a synth is silent): a period or so at a stream's start.
    const dssi = this.hasDssi;
    if (dssi && !tryLockForInstantiation(this.lock)) {
      this.resetPending = true;
      return false;
    }
    this.resetPending = false;
    try {
      for (const st of this.stages) {
        for (const inst of st.instances) {
          inst.deactivate();
          inst.activate();
        }
        st.events?.clear();
        // The program again (a plugin need not keep one across activate, dssi.h), and then the
        // control inputs as they were: the program may rewrite them, the values in force win.
        const prog = st.program;
        if (st.dssi !== undefined && st.hasProgram && st.canSelect) {
          const cells = st.cells;
          const saved = st.saved;
          for (let j = 0; j < cells.length; j++) {
            const c = cells[j]!;
            for (let p = 0; p < c.length; p++) saved[j * c.length + p] = c[p] === undefined ? 0 : c[p]![0]!;
          }
          for (const d of st.dssi) d.selectProgram(prog[0], prog[1]);
          for (let j = 0; j < cells.length; j++) {
            const c = cells[j]!;
            for (let p = 0; p < c.length; p++) if (c[p] !== undefined) c[p]![0] = saved[j * c.length + p]!;
          }
        }
      }
    } finally {
      if (dssi) unlockDssi(this.lock);
    }
    return true;
  }

  /**
   * The engine underran in the period after one in which a stage overran the period (wall time):
   * that overrun counts whatever the CPU clock says (a plugin that blocks — I/O, a lock, a sleep —
   * takes little CPU and still makes the stream miss its period).
   */
  noteXrun(): void {
    if (!this.suspects) return;
    this.suspects = false;
    const stats = this.stats;
    for (let si = 0; si < this.stages.length; si++) {
      const s = si * STAT.SIZE;
      if (stats[s + STAT.BYPASSED] !== BYPASS.NONE || stats[s + STAT.LAST_NS]! <= this.periodNs) continue;
      stats[s + STAT.OVERRUNS] += 1;
      stats[s + STAT.IN_A_ROW] += 1;
      if (stats[s + STAT.IN_A_ROW]! >= this.maxOverruns) {
        stats[s + STAT.BYPASSED] = BYPASS.OVERRUN;
        this.bypassedNow = si;
      }
    }
  }

  /** Stages suspected in the last endPeriod() and not counted there (noteXrun may count them). */
  private suspects = false;

  private addStage(spec: ChainStageSpec, rate: number, maxFrames: number): void {
    const dssiPlugin = spec.dssi ? openDssiPlugin(spec.library, spec.label) : undefined;
    const ladspaPlugin = dssiPlugin ? undefined : openPlugin(spec.library, spec.label);
    const info = dssiPlugin ? dssiPlugin.info.ladspa : ladspaPlugin!.info;
    const audioIn = info.ports.filter((p) => p.type === 'audio' && p.direction === 'input').map((p) => p.index);
    const audioOut = info.ports.filter((p) => p.type === 'audio' && p.direction === 'output').map((p) => p.index);
    const controls = info.ports.filter((p) => p.type === 'control');
    const k = audioIn.length;
    // A synth (no audio inputs) is one instance whose outputs are added into the channels; an
    // effect is channels / k instances, in place.
    const synth = k === 0;
    const n = synth ? 1 : spec.channels.length / k;
    if (dssiPlugin && n > MAX_DSSI_INSTANCES) throw new Error(`${spec.library} ${spec.label}: ${n} instances; a DSSI stage has at most ${MAX_DSSI_INSTANCES}`);
    const st: Stage = {
      instances: [], outs: [], cells: [], channels: Int32Array.from(spec.channels), audioIns: k,
      latencyPort: controls.find((p) => p.direction === 'output' && p.name.trim().toLowerCase() === 'latency')?.index ?? -1, periodNs: 0,
      dssi: dssiPlugin ? [] : undefined, events: dssiPlugin?.info.runSynth ? new DssiEventBuffer(DSSI_EVENTS_PER_PIECE) : undefined,
      synthOuts: [], mixFrom: new Int32Array(synth ? spec.channels.length : 0),
      program: spec.dssi?.program ? [spec.dssi.program[0], spec.dssi.program[1]] : [0, 0], hasProgram: spec.dssi?.program != null,
      canSelect: dssiPlugin?.info.selectProgram === true,
      saved: new Float32Array(dssiPlugin ? n * info.ports.length : 0),
    };
    if (synth) {
      if (audioOut.length !== 1 && audioOut.length !== spec.channels.length) {
        throw new Error(`${spec.library} ${spec.label}: a synth with ${audioOut.length} outputs cannot be mixed into ${spec.channels.length} channel(s) (one output goes into every channel; otherwise one output per channel)`);
      }
      for (let c = 0; c < spec.channels.length; c++) st.mixFrom[c] = audioOut.length === 1 ? 0 : c;
    }
    this.stages.push(st); // before its instances: dispose() frees what was made if one fails
    for (let j = 0; j < n; j++) {
      const inst: PluginInstance = dssiPlugin ? dssiPlugin.instantiate(rate) : ladspaPlugin!.instantiate(rate);
      st.instances.push(inst);
      if (dssiPlugin) st.dssi!.push(inst as DssiInstance);
      const own = synth ? audioOut.length * maxFrames : info.inplaceBroken ? k * maxFrames : 0;
      const mem = allocPortMemory(Math.max(1, own + controls.length));
      const outs: { from: Uint8Array; to: Uint8Array; copier: FrameCopier }[] = [];
      if (synth) {
        audioOut.forEach((port, p) => {
          const o = mem.subarray(p * maxFrames, (p + 1) * maxFrames);
          inst.connect(port, o);
          st.synthOuts.push(o);
        });
      }
      for (let p = 0; p < k; p++) {
        const w = this.work[spec.channels[j * k + p]!]!;
        inst.connect(audioIn[p]!, w);
        if (own > 0) {
          const o = mem.subarray(p * maxFrames, (p + 1) * maxFrames);
          inst.connect(audioOut[p]!, o);
          outs.push({ from: new Uint8Array(o.buffer, o.byteOffset, o.byteLength), to: new Uint8Array(w.buffer, w.byteOffset, w.byteLength), copier: new FrameCopier() });
        } else inst.connect(audioOut[p]!, w);
      }
      const cells: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(info.ports.length).fill(undefined);
      controls.forEach((p, ci) => {
        const cell = mem.subarray(own + ci, own + ci + 1);
        const v = spec.values[p.index];
        cell[0] = typeof v === 'number' ? v : 0;
        inst.connect(p.index, cell);
        cells[p.index] = cell;
      });
      st.outs.push(outs);
      st.cells.push(cells);
      if (dssiPlugin) {
        // dssi.h: configure keys remembered from the session go to a new instance of the "same"
        // plugin before anything else; a program only once it is active.
        const d = inst as DssiInstance;
        for (const [key, value] of spec.dssi!.configure) {
          const err = d.configure(key, value);
          if (err !== undefined) throw new Error(`${spec.library} ${spec.label}: configure ${JSON.stringify(key)} = ${JSON.stringify(value)}: ${err}`);
        }
        inst.activate();
        if (st.hasProgram && st.canSelect) {
          d.selectProgram(st.program[0], st.program[1]);
          // The values the service holds win over what the program wrote: they are the program's
          // own (read back when it was selected) or the user's changes made after it.
          controls.forEach((p) => {
            const v = spec.values[p.index];
            if (p.direction === 'input' && typeof v === 'number') cells[p.index]![0] = v;
          });
        }
      } else inst.activate();
    }
  }

  get length(): number {
    return this.stages.length;
  }

  /** Sets control input `port` of stage `stage` in every instance (from src[i]: no boxed double). */
  setPortFrom(stage: number, port: number, src: Float64Array, i: number): void {
    const st = this.stages[stage];
    if (st === undefined) return;
    for (let j = 0; j < st.cells.length; j++) {
      const cell = st.cells[j]![port];
      if (cell !== undefined) cell[0] = src[i]!;
    }
  }

  /** Bypass on (1) or off (0) as the user asks; a stage the engine bypassed stays bypassed. */
  setBypass(stage: number, on: boolean): void {
    const s = stage * STAT.SIZE;
    if (stage < 0 || stage >= this.stages.length || this.stats[s + STAT.BYPASSED] === BYPASS.OVERRUN) return;
    this.stats[s + STAT.BYPASSED] = on ? BYPASS.USER : BYPASS.NONE;
  }

  /**
   * A MIDI message for DSSI stage `stage` (packed: status << 16 | data1 << 8 | data2), given to
   * its next run_synth at the piece's first frame (the stream bridge cuts the period at the
   * event's frame). dssi.h's rules for hosts: a note-on with velocity 0 goes as a note-off; bank
   * select and program change never go through run_synth (they are selectProgram).
   */
  queueMidi(stage: number, packed: number): void {
    const ev = this.stages[stage]?.events;
    if (ev === undefined) return;
    const status = (packed >> 16) & 0xff;
    const d1 = (packed >> 8) & 0x7f;
    const d2 = packed & 0x7f;
    const ch = status & 0x0f;
    let ok = true;
    switch (status & 0xf0) {
      case 0x90: ok = d2 > 0 ? ev.noteOn(0, ch, d1, d2) : ev.noteOff(0, ch, d1, 0); break;
      case 0x80: ok = ev.noteOff(0, ch, d1, d2); break;
      case 0xb0: if (d1 !== 0 && d1 !== 32) ok = ev.controller(0, ch, d1, d2); break;
      case 0xd0: ok = ev.channelPressure(0, ch, d1); break;
      case 0xe0: ok = ev.pitchBend(0, ch, ((d2 << 7) | d1) - 8192); break;
      default: break; // program change and the rest: not for run_synth
    }
    if (!ok) this.eventsDropped++;
  }

  /**
   * Selects a program on every instance of DSSI stage `stage` (packed: bank × PROGRAM_PACK +
   * program; select_program is in the audio class, so it is called here, between two pieces: it
   * takes effect at the next run_synth, dssi.h), then reads the control inputs back for the main
   * thread (programNow says which stage).
   */
  selectProgram(stage: number, packed: number): void {
    const st = this.stages[stage];
    if (st === undefined || st.dssi === undefined || !st.canSelect) return;
    const bank = Math.floor(packed / PROGRAM_PACK);
    const program = packed - bank * PROGRAM_PACK;
    for (let j = 0; j < st.dssi.length; j++) st.dssi[j]!.selectProgram(bank, program);
    st.program[0] = bank;
    st.program[1] = program;
    st.hasProgram = true;
    const cells = st.cells[0]!;
    // What the plugin wrote into its first instance's inputs goes to the others too (one value per stage).
    for (let j = 1; j < st.cells.length; j++) {
      const other = st.cells[j]!;
      for (let p = 0; p < cells.length; p++) {
        const from = cells[p];
        const to = other[p];
        if (from !== undefined && to !== undefined) to[0] = from[0]!;
      }
    }
    const at = dssiFieldsAt(stage);
    const stats = this.stats;
    stats[at + DSSI_FIELD.BANK] = bank;
    stats[at + DSSI_FIELD.PROGRAM] = program;
    stats[at + DSSI_FIELD.SELECTIONS] += 1;
    for (let p = 0; p < cells.length && p < DSSI_READBACK_PORTS; p++) {
      const cell = cells[p];
      stats[at + DSSI_FIELD.PORTS + p] = cell === undefined ? Number.NaN : cell[0]!;
    }
    this.programsNow |= 1 << stage;
  }

  /** Runs the chain over frames [from, to) of the interleaved period buffer, in place. */
  process(io: HostBuffer, format: HostSampleFormat, channels: number, from: number, to: number): void {
    const n = to - from;
    if (n <= 0 || this.stages.length === 0) return;
    if (this.resetPending && !this.reset()) return; // the input passes through until the instances are reset
    // One loop per sample type (each access site sees one array type: V8 keeps it fast).
    if (format === 'i16') fromInt16(io as Int16Array, this.work, channels, from, n);
    else if (format === 'i32') fromInt32(io as Int32Array, this.work, channels, from, n);
    else fromFloat32(io as Float32Array, this.work, channels, from, n);
    const stats = this.stats;
    // One clock read before the first stage and one after each stage that ran (reading the
    // thread's CPU clock is a system call: per stage, not per instance).
    if (this.measuringCpu) this.t[2] = this.cpu.nowNs();
    this.t[0] = this.wall.nowNs();
    for (let si = 0; si < this.stages.length; si++) {
      if (stats[si * STAT.SIZE + STAT.BYPASSED] !== BYPASS.NONE) {
        this.stages[si]!.events?.clear(); // a bypassed synth hears nothing (no note left hanging for later)
        continue;
      }
      const st = this.stages[si]!;
      const events = st.events;
      for (let j = 0; j < st.instances.length; j++) {
        if (events !== undefined) st.dssi![j]!.runSynth(n, events);
        else st.instances[j]!.run(n);
        // In place (the usual case): the outputs are the channels' buffers already.
        const outs = st.outs[j]!;
        for (let p = 0; p < outs.length; p++) {
          const o = outs[p]!;
          o.copier.copy(o.from, 0, o.to, 0, n * 4);
        }
      }
      if (events !== undefined) events.clear();
      // A synth's outputs are added into its channels (a chime over the music).
      const mix = st.mixFrom;
      for (let c = 0; c < mix.length; c++) {
        const from = st.synthOuts[mix[c]!]!;
        const w = this.work[st.channels[c]!]!;
        for (let f = 0; f < n; f++) w[f] = w[f]! + from[f]!;
      }
      this.t[1] = this.wall.nowNs();
      st.periodNs += this.t[1] - this.t[0];
      this.t[0] = this.t[1];
    }
    if (this.measuringCpu) this.t[3] += this.cpu.nowNs() - this.t[2];
    if (format === 'i16') toInt16(this.work, io as Int16Array, channels, from, n);
    else if (format === 'i32') toInt32(this.work, io as Int32Array, channels, from, n);
    else toFloat32(this.work, io as Float32Array, channels, from, n);
  }

  /**
   * The period is over: each stage's time goes into the stats; a stage over the period's length
   * (its time and the chain's CPU time) `maxOverruns` periods in a row is bypassed (bypassedNow
   * says which, for the report).
   */
  endPeriod(): void {
    this.suspects = false;
    const stats = this.stats;
    const cpuOver = this.measuringCpu && this.t[3]! > this.periodNs;
    this.t[3] = 0;
    this.measuringCpu = false;
    for (let si = 0; si < this.stages.length; si++) {
      const st = this.stages[si]!;
      const s = si * STAT.SIZE;
      if (st.latencyPort >= 0) stats[s + STAT.LATENCY] = st.cells[0]![st.latencyPort]![0]!;
      if (stats[s + STAT.BYPASSED] !== BYPASS.NONE) {
        st.periodNs = 0;
        continue;
      }
      const ns = st.periodNs;
      st.periodNs = 0;
      stats[s + STAT.LAST_NS] = ns;
      if (ns > stats[s + STAT.MAX_NS]!) stats[s + STAT.MAX_NS] = ns;
      stats[s + STAT.TOTAL_NS] += ns;
      stats[s + STAT.PERIODS] += 1;
      if (ns > this.periodNs) {
        // Suspected: the next period reads the thread's CPU clock too. Counted when this one did
        // and the chain's CPU time was over the period as well.
        this.measuringCpu = true;
        if (!cpuOver) this.suspects = true;
        if (cpuOver) {
          stats[s + STAT.OVERRUNS] += 1;
          stats[s + STAT.IN_A_ROW] += 1;
          if (stats[s + STAT.IN_A_ROW]! >= this.maxOverruns) {
            stats[s + STAT.BYPASSED] = BYPASS.OVERRUN;
            this.bypassedNow = si;
          }
        }
        // Over in wall time only (preempted, or blocked): neither counted nor breaking the streak
        // here; an underrun that follows counts it (noteXrun).
      } else stats[s + STAT.IN_A_ROW] = 0;
    }
  }

  /** Deactivates and frees every instance (off the audio path: the engine is ending). */
  dispose(lockHeld = false): void {
    const dssi = this.hasDssi && !lockHeld;
    if (dssi) {
      try {
        lockForInstantiation(this.lock);
      } catch {
        // A control call kept the lock past the bound: freeing the instances now could overlap it
        // (a call-class violation). They are left allocated (a leak, not a crash) and unpublished
        // by the engine's end (the main thread reads no handle of a closed engine).
        this.stages.length = 0;
        return;
      }
    }
    try {
      this.stages.forEach((st, si) => {
        // A handle this chain published is withdrawn before its instance goes.
        const at = dssiFieldsAt(si);
        if (st.dssi !== undefined && st.dssi.length > 0 && this.stats[at + DSSI_FIELD.HANDLE_COUNT]! > 0 && this.stats[at + DSSI_FIELD.HANDLES] === Number(st.dssi[0]!.handleAddress)) this.stats[at + DSSI_FIELD.HANDLE_COUNT] = 0;
        for (const inst of st.instances) {
          try {
            inst.deactivate();
            inst.cleanup();
          } catch { /* an instance that failed to clean up cannot be helped now */ }
        }
      });
    } finally {
      if (dssi) unlockDssi(this.lock);
    }
    this.stages.length = 0;
  }

  /**
   * The copy and conversion code run once on the instances' own buffers before the stream starts
   * (V8 compiles what has run; see warmRunningPath in the stream bridge), then the plugins'
   * state cleared: each instance deactivated and activated again, as LADSPA allows between runs.
   */
  private warm(): void {
    if (this.stages.length === 0) return;
    const i16 = new Int16Array(this.maxFrames * this.streamChannels);
    const f32 = new Float32Array(this.maxFrames * this.streamChannels);
    for (let i = 0; i < 50; i++) {
      this.process(i16, 'i16', this.streamChannels, 0, this.maxFrames);
      this.process(f32, 'f32', this.streamChannels, 0, this.maxFrames);
    }
    for (const st of this.stages) st.periodNs = 0;
    this.reset();
  }
}

// The period's samples to and from the channels' float buffers: full scale is ±1.0 (16-bit
// s / 32768, 32-bit s / 2^31); back, rounded to the nearest integer and clamped to the type's range
// (a NaN from a plugin is silence, never a wrapped value).
function fromInt16(io: Int16Array, work: Float32Array[], channels: number, from: number, n: number): void {
  for (let c = 0; c < channels; c++) {
    const w = work[c]!;
    for (let f = 0, i = from * channels + c; f < n; f++, i += channels) w[f] = io[i]! / 32768;
  }
}
function fromInt32(io: Int32Array, work: Float32Array[], channels: number, from: number, n: number): void {
  for (let c = 0; c < channels; c++) {
    const w = work[c]!;
    for (let f = 0, i = from * channels + c; f < n; f++, i += channels) w[f] = io[i]! / 2147483648;
  }
}
function fromFloat32(io: Float32Array, work: Float32Array[], channels: number, from: number, n: number): void {
  for (let c = 0; c < channels; c++) {
    const w = work[c]!;
    for (let f = 0, i = from * channels + c; f < n; f++, i += channels) w[f] = io[i]!;
  }
}
function toInt16(work: Float32Array[], io: Int16Array, channels: number, from: number, n: number): void {
  for (let c = 0; c < channels; c++) {
    const w = work[c]!;
    for (let f = 0, i = from * channels + c; f < n; f++, i += channels) {
      let x = Math.round(w[f]! * 32768);
      if (x > 32767) x = 32767;
      else if (x < -32768) x = -32768;
      else if (x !== x) x = 0;
      io[i] = x;
    }
  }
}
function toInt32(work: Float32Array[], io: Int32Array, channels: number, from: number, n: number): void {
  for (let c = 0; c < channels; c++) {
    const w = work[c]!;
    for (let f = 0, i = from * channels + c; f < n; f++, i += channels) {
      let x = Math.round(w[f]! * 2147483648);
      if (x > 2147483647) x = 2147483647;
      else if (x < -2147483648) x = -2147483648;
      else if (x !== x) x = 0;
      io[i] = x;
    }
  }
}
function toFloat32(work: Float32Array[], io: Float32Array, channels: number, from: number, n: number): void {
  for (let c = 0; c < channels; c++) {
    const w = work[c]!;
    for (let f = 0, i = from * channels + c; f < n; f++, i += channels) io[i] = w[f]!;
  }
}
