/**
 * The DSSI binding: DSSI plugins (LADSPA plugins with MIDI events, programs and configure, DSSI 1.0)
 * through koffi, on top of ladspa.ts. The facts it rests on (the descriptor's field order, the
 * configure, program and event rules, the ALSA sequencer event layout, the search path, the RFC's
 * call classes) are in docs/facts/dssi.md, each with its source.
 *
 * The LADSPA part of a DSSI plugin is a LadspaPlugin/LadspaInstance made from the descriptor the
 * DSSI_Descriptor points to (ladspaPluginFromDescriptor); DssiInstance wraps one and adds the DSSI
 * calls over the same handle.
 *
 * Real-time use: as in ladspa.ts, everything that allocates happens at open/instantiate time. An
 * event buffer is native memory made once; writing events into it and runSynth make no JavaScript
 * objects (tests/unit/dssi.test.ts counts scavenges).
 *
 * Threads: like ladspa.ts, per-thread state only. The DSSI RFC lets one control-class call
 * (configure, get_program, get_midi_controller_for_port) run beside one audio-class call (run*,
 * select_program, connect_port) on the same instance, but never beside an instantiation-class call
 * (instantiate, activate, deactivate, cleanup). attachDssiControl gives another thread of the
 * process the control-class calls on an instance made elsewhere; keeping instantiation-class calls
 * apart from them is the caller's job (the engine's worker must not clean up an instance while the
 * service's main thread is inside configure).
 */
import { endianness } from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import {
  findLibrary,
  ladspaInfoFromDescriptor,
  ladspaPluginFromDescriptor,
  openDescriptorLibrary,
  LadspaError,
  type LadspaInstance,
  type LadspaPlugin,
  type LadspaPluginInfo,
} from './ladspa.ts';

export interface DssiPluginInfo {
  ladspa: LadspaPluginInfo;
  /** DSSI_API_Version (dssi.h: every plugin sets 1). */
  apiVersion: number;
  /** Which of the optional DSSI functions the descriptor has (non-NULL). */
  configure: boolean;
  getProgram: boolean;
  selectProgram: boolean;
  getMidiControllerForPort: boolean;
  runSynth: boolean;
  runSynthAdding: boolean;
  runMultipleSynths: boolean;
  runMultipleSynthsAdding: boolean;
}

export interface DssiProgram {
  bank: number;
  program: number;
  name: string;
}

/** What get_midi_controller_for_port asks for: a MIDI CC number (0–127) and/or an NRPN (0–16383). */
export interface DssiMidiController {
  cc?: number;
  nrpn?: number;
}

// dssi.h (DSSI 1.0): the bits get_midi_controller_for_port's result carries (DSSI_CC / DSSI_NRPN).
const DSSI_NONE = -1;
const DSSI_CC_BITS = 0x20000000;
const DSSI_NRPN_BITS = 0x40000000;

/** Programs are counted by asking from index 0 until NULL (dssi.h); this bounds a broken plugin. */
const MAX_PROGRAMS = 16384;
const MAX_PLUGINS_PER_LIBRARY = 100000;

/**
 * The koffi types, made once per process (see ladspa.ts: koffi's names are process-wide).
 * DSSI_Descriptor as dssi.h lays it out: the API version (int), the LADSPA descriptor pointer,
 * then the eight function pointers in the order configure, get_program, select_program,
 * get_midi_controller_for_port, run_synth, run_synth_adding, run_multiple_synths,
 * run_multiple_synths_adding. DSSI_Program_Descriptor: Bank and Program (unsigned long), Name.
 */
function makeTypes() {
  const descriptor = koffi.struct('sbc_DSSI_Descriptor', {
    DSSI_API_Version: 'int',
    LADSPA_Plugin: 'void *',
    configure: 'void *',
    get_program: 'void *',
    select_program: 'void *',
    get_midi_controller_for_port: 'void *',
    run_synth: 'void *',
    run_synth_adding: 'void *',
    run_multiple_synths: 'void *',
    run_multiple_synths_adding: 'void *',
  });
  const program = koffi.struct('sbc_DSSI_Program_Descriptor', { Bank: 'unsigned long', Program: 'unsigned long', Name: 'const char *' });
  // configure's result is taken as an address, not a string: the host must free it (dssi.h).
  const configureFn = koffi.proto('void *sbc_dssi_configure(void *instance, const char *key, const char *value)');
  const getProgramFn = koffi.proto('void *sbc_dssi_get_program(void *instance, unsigned long index)');
  const selectProgramFn = koffi.proto('void sbc_dssi_select_program(void *instance, unsigned long bank, unsigned long program)');
  const midiControllerFn = koffi.proto('int sbc_dssi_get_midi_controller_for_port(void *instance, unsigned long port)');
  const runSynthFn = koffi.proto('void sbc_dssi_run_synth(void *instance, unsigned long frames, void *events, unsigned long count)');
  return { descriptor, program, configureFn, getProgramFn, selectProgramFn, midiControllerFn, runSynthFn };
}
const TYPES_KEY = Symbol.for('sbc-audio.dssi.koffi-types');
const types = ((globalThis as Record<symbol, unknown>)[TYPES_KEY] ??= makeTypes()) as ReturnType<typeof makeTypes>;

type Pointer = bigint | null;

interface RawDssiDescriptor {
  DSSI_API_Version: number;
  LADSPA_Plugin: Pointer;
  configure: Pointer;
  get_program: Pointer;
  select_program: Pointer;
  get_midi_controller_for_port: Pointer;
  run_synth: Pointer;
  run_synth_adding: Pointer;
  run_multiple_synths: Pointer;
  run_multiple_synths_adding: Pointer;
}

type DescriptorFunction = (index: number) => Pointer;

/**
 * DSSI libraries loaded in this thread, by absolute path; never unloaded (as in ladspa.ts). A
 * second koffi.load of one file in one process is the same dlopen'd library, so a descriptor
 * address found here is the one another thread found.
 */
const loaded = new Map<string, DescriptorFunction>();

function loadDssiLibrary(libraryPath: string): DescriptorFunction {
  const known = loaded.get(libraryPath);
  if (known) return known;
  const { descriptorFunction } = openDescriptorLibrary(libraryPath, 'DSSI', 'dssi_descriptor');
  loaded.set(libraryPath, descriptorFunction);
  return descriptorFunction;
}

function eachDssiDescriptor(libraryPath: string, fn: (index: number, d: RawDssiDescriptor, ladspa: bigint) => boolean | void): void {
  const dssiDescriptor = loadDssiLibrary(libraryPath);
  for (let i = 0; i < MAX_PLUGINS_PER_LIBRARY; i++) {
    const p = dssiDescriptor(i);
    if (p === null || p === 0n) return;
    const d = koffi.decode(p, types.descriptor) as RawDssiDescriptor;
    if (d.LADSPA_Plugin === null || d.LADSPA_Plugin === 0n) {
      throw new LadspaError('no-descriptor', `DSSI library ${libraryPath} plugin #${i}: LADSPA_Plugin is NULL`);
    }
    if (fn(i, d, d.LADSPA_Plugin) === true) return;
  }
}

function dssiInfo(ladspa: LadspaPluginInfo, d: RawDssiDescriptor): DssiPluginInfo {
  return {
    ladspa,
    apiVersion: d.DSSI_API_Version,
    configure: d.configure !== null,
    getProgram: d.get_program !== null,
    selectProgram: d.select_program !== null,
    getMidiControllerForPort: d.get_midi_controller_for_port !== null,
    runSynth: d.run_synth !== null,
    runSynthAdding: d.run_synth_adding !== null,
    runMultipleSynths: d.run_multiple_synths !== null,
    runMultipleSynthsAdding: d.run_multiple_synths_adding !== null,
  };
}

// Search path and listing ----------------------------------------------------------------------

/**
 * The DSSI search path. dssi.h: hosts may search DSSI_PATH and LADSPA_PATH (colon-separated, in
 * order), DSSI_PATH first. Here the configured directories (the config file) come before both.
 * When none of the three gives a directory: /usr/local/lib/dssi then /usr/lib/dssi, the default
 * dssi-utils' dssi_list_plugins reports (and where Debian's hexter and whysynth install).
 * Relative entries are dropped, as in ladspaSearchPath.
 */
export function dssiSearchPath(env: NodeJS.ProcessEnv = process.env, configured?: readonly string[]): string[] {
  const split = (v: string | undefined) => v?.split(':').filter((d) => d !== '') ?? [];
  let dirs = [...(configured ?? []), ...split(env.DSSI_PATH), ...split(env.LADSPA_PATH)];
  if (!dirs.length) dirs = ['/usr/local/lib/dssi', '/usr/lib/dssi'];
  const clean = (d: string) => path.normalize(d).replace(/(?<=.)\/+$/, '');
  return [...new Set(dirs.filter((d) => path.isAbsolute(d)).map(clean))];
}

/** A DSSI library by file name ("hexter.so" or "hexter") in the search path → its absolute path; '/' and '..' refused. */
export function findDssiLibrary(name: string, searchPath: readonly string[]): string {
  try {
    return findLibrary(name, searchPath);
  } catch (e) {
    if (e instanceof LadspaError) throw new LadspaError(e.code, e.message.replace(/^LADSPA library/, 'DSSI library'));
    throw e;
  }
}

/** Whether the file loads and exports dssi_descriptor (false for a plain LADSPA library or a file that does not load). */
export function hasDssiDescriptor(libraryPath: string): boolean {
  if (!path.isAbsolute(libraryPath)) throw new LadspaError('invalid-argument', `DSSI library path ${JSON.stringify(libraryPath)} is not absolute`);
  try {
    loadDssiLibrary(libraryPath);
    return true;
  } catch (e) {
    if (e instanceof LadspaError && e.code !== 'invalid-argument') return false;
    throw e;
  }
}

/** Every plugin of one DSSI library (dssi_descriptor(0), (1)… until NULL). */
export function listDssiLibrary(libraryPath: string): DssiPluginInfo[] {
  const plugins: DssiPluginInfo[] = [];
  eachDssiDescriptor(libraryPath, (i, d, ladspa) => {
    plugins.push(dssiInfo(ladspaInfoFromDescriptor(libraryPath, i, ladspa), d));
  });
  return plugins;
}

/** Plugins found by library and label in this thread (descriptors are static: each control call would walk the library again). */
const foundPlugins = new Map<string, { index: number; d: RawDssiDescriptor; ladspa: bigint }>();

function findPlugin(libraryPath: string, label: string): { index: number; d: RawDssiDescriptor; ladspa: bigint } {
  const key = `${libraryPath}\0${label}`;
  const known = foundPlugins.get(key);
  if (known) return known;
  let found: { index: number; d: RawDssiDescriptor; ladspa: bigint } | undefined;
  const labels: string[] = [];
  eachDssiDescriptor(libraryPath, (index, d, ladspa) => {
    const info = ladspaInfoFromDescriptor(libraryPath, index, ladspa);
    if (info.label === label) {
      found = { index, d, ladspa };
      return true;
    }
    labels.push(info.label);
  });
  if (!found) {
    throw new LadspaError('label-not-found', `DSSI library ${libraryPath} has no plugin labelled ${JSON.stringify(label)} (it has: ${labels.length ? labels.join(', ') : 'none'})`);
  }
  foundPlugins.set(key, found);
  return found;
}

// libc's free, for configure's result (dssi.h: the host frees it). Loaded on first need.
let libcFree: ((p: bigint) => void) | undefined;
function freeCString(p: bigint): void {
  if (!libcFree) {
    // glibc's soname (Debian, Raspberry Pi OS): the project runs on Linux only.
    const libc = koffi.load('libc.so.6');
    libcFree = libc.func('void free(void *p)') as (p: bigint) => void;
  }
  libcFree(p);
}

// The control-class calls, shared by DssiInstance and attachDssiControl ----------------------

interface ControlFunctions {
  configure: ((h: bigint, key: string, value: string) => Pointer) | undefined;
  getProgram: ((h: bigint, index: number) => Pointer) | undefined;
  midiController: ((h: bigint, port: number) => number) | undefined;
}

function decodeFn<T>(p: Pointer, proto: ReturnType<typeof koffi.proto>): T | undefined {
  return p === null ? undefined : (koffi.decode(p, proto) as T);
}

function controlFunctions(d: RawDssiDescriptor): ControlFunctions {
  return {
    configure: decodeFn(d.configure, types.configureFn),
    getProgram: decodeFn(d.get_program, types.getProgramFn),
    midiController: decodeFn(d.get_midi_controller_for_port, types.midiControllerFn),
  };
}

/** The control-class calls on one handle; `handle()` gives the live handle (0n once gone). */
class ControlCalls {
  constructor(private readonly info: DssiPluginInfo, private readonly fns: ControlFunctions, private readonly handle: () => bigint) {}

  private where(): string {
    return `DSSI ${this.info.ladspa.library} ${this.info.ladspa.label}`;
  }

  private live(op: string): bigint {
    const h = this.handle();
    if (h === 0n) throw new LadspaError('invalid-argument', `${this.where()}: ${op} on an instance that was cleaned up`);
    return h;
  }

  configure(key: string, value: string): string | undefined {
    if (typeof key !== 'string' || typeof value !== 'string' || key.includes('\0') || value.includes('\0')) {
      throw new LadspaError('invalid-argument', `${this.where()}: configure key and value must be strings without NUL`);
    }
    if (!this.fns.configure) throw new LadspaError('invalid-argument', `${this.where()}: the plugin has no configure function`);
    const result = this.fns.configure(this.live('configure'), key, value);
    if (result === null || result === 0n) return undefined;
    try {
      return koffi.decode(result, 'char', -1) as string;
    } finally {
      freeCString(result);
    }
  }

  getProgram(index: number): DssiProgram | undefined {
    if (!Number.isInteger(index) || index < 0) throw new LadspaError('invalid-argument', `${this.where()}: program index must be a whole number ≥ 0, got ${index}`);
    if (!this.fns.getProgram) return undefined;
    const p = this.fns.getProgram(this.live('getProgram'), index);
    if (p === null || p === 0n) return undefined;
    // Copied at once: dssi.h keeps the pointer valid only until the next get_program, deactivate or configure.
    const raw = koffi.decode(p, types.program) as { Bank: number | bigint; Program: number | bigint; Name: string | null };
    return { bank: Number(raw.Bank), program: Number(raw.Program), name: raw.Name ?? '' };
  }

  programs(): DssiProgram[] {
    const out: DssiProgram[] = [];
    for (let i = 0; i < MAX_PROGRAMS; i++) {
      const program = this.getProgram(i);
      if (!program) break;
      out.push(program);
    }
    return out;
  }

  midiControllerForPort(port: number): DssiMidiController | undefined {
    const p = this.info.ladspa.ports[port];
    if (!Number.isInteger(port) || !p || p.direction !== 'input' || p.type !== 'control') {
      // dssi.h leaves the call undefined for anything but an input control port.
      throw new LadspaError('invalid-argument', `${this.where()}: port ${port} is not an input control port`);
    }
    if (!this.fns.midiController) return undefined;
    const n = this.fns.midiController(this.live('midiControllerForPort'), port);
    if (n === DSSI_NONE) return undefined;
    const out: DssiMidiController = {};
    if (n & DSSI_CC_BITS) out.cc = n & 0x7f;
    if (n & DSSI_NRPN_BITS) out.nrpn = (n >> 7) & 0x3fff;
    return out.cc === undefined && out.nrpn === undefined ? undefined : out;
  }
}

// Plugins and instances --------------------------------------------------------------------

/** One DSSI plugin by library + label. */
export function openDssiPlugin(libraryPath: string, label: string): DssiPlugin {
  const { index, d, ladspa } = findPlugin(libraryPath, label);
  const ladspaPlugin = ladspaPluginFromDescriptor(libraryPath, index, ladspa);
  return new DssiPlugin(dssiInfo(ladspaPlugin.info, d), ladspaPlugin, d);
}

interface AudioFunctions {
  selectProgram: ((h: bigint, bank: number, program: number) => void) | undefined;
  runSynth: ((h: bigint, frames: number, events: bigint, count: number) => void) | undefined;
}

export class DssiPlugin {
  private readonly control: ControlFunctions;
  private readonly audio: AudioFunctions;

  /** @internal openDssiPlugin makes these. */
  constructor(readonly info: DssiPluginInfo, private readonly ladspa: LadspaPlugin, d: RawDssiDescriptor) {
    this.control = controlFunctions(d);
    this.audio = {
      selectProgram: decodeFn(d.select_program, types.selectProgramFn),
      runSynth: decodeFn(d.run_synth, types.runSynthFn),
    };
  }

  instantiate(sampleRate: number): DssiInstance {
    return new DssiInstance(this.info, this.ladspa.instantiate(sampleRate), this.control, this.audio);
  }
}

/**
 * A DSSI plugin instance: the LADSPA instance (connect, activate, run, deactivate, cleanup, with
 * its checks) plus run_synth, select_program and the control-class calls over the same handle.
 */
export class DssiInstance {
  private readonly controlCalls: ControlCalls;

  /** @internal DssiPlugin.instantiate makes these. */
  constructor(readonly info: DssiPluginInfo, readonly ladspa: LadspaInstance, control: ControlFunctions, private readonly audio: AudioFunctions) {
    this.controlCalls = new ControlCalls(info, control, () => ladspa.handleAddress);
  }

  /** The LADSPA_Handle's address (for attachDssiControl on another thread); 0n after cleanup. */
  get handleAddress(): bigint {
    return this.ladspa.handleAddress;
  }

  private where(): string {
    return `DSSI ${this.info.ladspa.library} ${this.info.ladspa.label}`;
  }

  connect(port: number, buffer: Float32Array): void {
    this.ladspa.connect(port, buffer);
  }

  activate(): void {
    this.ladspa.activate();
  }

  run(frames: number): void {
    this.ladspa.run(frames);
  }

  deactivate(): void {
    this.ladspa.deactivate();
  }

  cleanup(): void {
    this.ladspa.cleanup();
  }

  /**
   * Runs `frames` frames with the events in `events` (their ticks are frame offsets in this
   * block, dssi.h). A plugin without run_synth is run() when there are no events. Allocation-free:
   * one native call with the handle, two small integers and the buffer's fixed address.
   */
  runSynth(frames: number, events: DssiEventBuffer): void {
    const count = events.count;
    if (count > 0 && events.lastTick >= frames) {
      throw new LadspaError('invalid-argument', `${this.where()}: an event at frame ${events.lastTick} is past the block of ${frames} frames`);
    }
    const runSynth = this.audio.runSynth;
    if (!runSynth) {
      if (count > 0) throw new LadspaError('invalid-argument', `${this.where()}: the plugin has no run_synth, so it cannot take ${count} events`);
      this.ladspa.run(frames);
      return;
    }
    this.ladspa.checkRunnable('runSynth');
    runSynth(this.ladspa.handleAddress, frames, events.address, count);
  }

  /**
   * Selects a program; it takes effect at the start of the next run_synth (dssi.h), and the plugin
   * may rewrite its input control ports: read them again after this call.
   */
  selectProgram(bank: number, program: number): void {
    const h = this.ladspa.handleAddress;
    if (h === 0n) throw new LadspaError('invalid-argument', `${this.where()}: selectProgram after cleanup`);
    if (!Number.isInteger(bank) || !Number.isInteger(program) || bank < 0 || program < 0) {
      throw new LadspaError('invalid-argument', `${this.where()}: bank and program must be whole numbers ≥ 0, got ${bank}, ${program}`);
    }
    if (!this.audio.selectProgram) throw new LadspaError('invalid-argument', `${this.where()}: the plugin has no select_program function`);
    this.audio.selectProgram(h, bank, program);
  }

  /** configure(key, value): the plugin's error text, or undefined for success (NULL). */
  configure(key: string, value: string): string | undefined {
    return this.controlCalls.configure(key, value);
  }

  /** The program at list position `index` (not a program number), or undefined past the end. */
  getProgram(index: number): DssiProgram | undefined {
    return this.controlCalls.getProgram(index);
  }

  /** Every program, from index 0 until the plugin returns NULL (at most 16384). */
  programs(): DssiProgram[] {
    return this.controlCalls.programs();
  }

  /** The MIDI CC and/or NRPN the plugin wants mapped to an input control port; undefined for none. */
  midiControllerForPort(port: number): DssiMidiController | undefined {
    return this.controlCalls.midiControllerForPort(port);
  }
}

/** The control-class calls on an instance another thread of this process made. */
export interface DssiControlAccess {
  readonly info: DssiPluginInfo;
  readonly handleAddress: bigint;
  configure(key: string, value: string): string | undefined;
  getProgram(index: number): DssiProgram | undefined;
  programs(): DssiProgram[];
  midiControllerForPort(port: number): DssiMidiController | undefined;
}

/**
 * Control-class access (configure, get_program, get_midi_controller_for_port) to an instance that
 * another thread of this process made, by its handle address. The library is loaded here too
 * (the same dlopen'd library) and the plugin found by label; nothing here can run, activate or
 * clean up the instance. The caller must know the instance still exists: the DSSI RFC forbids a
 * control call beside any instantiation-class call (cleanup included), so the thread that owns
 * the instance has to keep those apart from the calls made through this object.
 */
export function attachDssiControl(libraryPath: string, label: string, handleAddress: bigint): DssiControlAccess {
  if (typeof handleAddress !== 'bigint' || handleAddress <= 0n) {
    throw new LadspaError('invalid-argument', `DSSI ${libraryPath} ${label}: attachDssiControl needs a live instance's handle address, got ${String(handleAddress)}`);
  }
  const { index, d, ladspa } = findPlugin(libraryPath, label);
  const info = dssiInfo(ladspaInfoFromDescriptor(libraryPath, index, ladspa), d);
  const calls = new ControlCalls(info, controlFunctions(d), () => handleAddress);
  return {
    info,
    handleAddress,
    configure: (key, value) => calls.configure(key, value),
    getProgram: (i) => calls.getProgram(i),
    programs: () => calls.programs(),
    midiControllerForPort: (port) => calls.midiControllerForPort(port),
  };
}

// Events ---------------------------------------------------------------------------------------

/**
 * snd_seq_event_t as /usr/include/alsa/seq_event.h (alsa-lib 1.2.8) lays it out on Linux (checked
 * against the header by a C program in tests/unit/dssi.test.ts): type (u8) at 0, flags (u8) at 1,
 * tag (u8) at 2, queue (u8) at 3, time (union of tick u32 / real time 2×u32) at 4, source
 * (client, port: u8 each) at 12, dest at 14, data (12-byte union, 4-byte aligned) at 16; 28 bytes.
 * In data: a note is channel, note, velocity, off_velocity (u8) then duration (u32 at +4); a
 * control is channel (u8), 3 unused, param (u32 at +4), value (s32 at +8).
 */
export const SEQ_EVENT_LAYOUT = {
  size: 28,
  type: 0,
  flags: 1,
  tag: 2,
  queue: 3,
  time: 4,
  source: 12,
  dest: 14,
  data: 16,
  noteChannel: 16,
  noteNote: 17,
  noteVelocity: 18,
  noteOffVelocity: 19,
  noteDuration: 20,
  controlChannel: 16,
  controlParam: 20,
  controlValue: 24,
} as const;

/** Event types (enum snd_seq_event_type, /usr/include/alsa/seq_event.h). */
export const SEQ_EVENT_TYPE = {
  NOTE: 5,
  NOTEON: 6,
  NOTEOFF: 7,
  KEYPRESS: 8,
  CONTROLLER: 10,
  PGMCHANGE: 11,
  CHANPRESS: 12,
  PITCHBEND: 13,
} as const;

// seq_event.h: SND_SEQ_TIME_STAMP_TICK (0) | SND_SEQ_TIME_MODE_REL (1<<1): a tick timestamp,
// relative; dssi.h uses the tick field as the frame offset in the block.
const EVENT_FLAGS = 0 | (1 << 1);
const MAX_TICK = 0xffffffff;

if (endianness() !== 'LE') throw new Error('dssi.ts: the event buffer is written little-endian; this machine is big-endian');

const eventMemoryFree = new FinalizationRegistry<bigint>((address) => koffi.free(address));

/**
 * A fixed-size native array of snd_seq_event_t for runSynth. Events are kept in tick order (a
 * write earlier than the last moves the later ones up, as dssi.h wants events ordered); a full
 * buffer refuses the event (the method returns false) and never grows. Writes allocate nothing.
 * Not thread-safe: one thread writes and runs.
 */
export class DssiEventBuffer {
  readonly capacity: number;
  /** The array's native address (passed to run_synth). */
  readonly address: bigint;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private used = 0;
  private last = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
      throw new LadspaError('invalid-argument', `DssiEventBuffer: capacity must be a whole number from 1 to ${1 << 20}, got ${capacity}`);
    }
    this.capacity = capacity;
    const size = capacity * SEQ_EVENT_LAYOUT.size;
    this.address = koffi.alloc('uint8_t', size) as bigint;
    const buffer = koffi.view(this.address, size);
    this.bytes = new Uint8Array(buffer);
    this.bytes.fill(0);
    this.view = new DataView(buffer);
    eventMemoryFree.register(this, this.address);
  }

  /** Events written since the last clear. */
  get count(): number {
    return this.used;
  }

  /** The largest tick in the buffer (0 when empty). */
  get lastTick(): number {
    return this.last;
  }

  clear(): void {
    this.used = 0;
    this.last = 0;
  }

  /** A NOTE_ON; velocity 0 is written as a NOTE_OFF (dssi.h: hosts send no zero-velocity NOTE_ON). */
  noteOn(tick: number, channel: number, note: number, velocity: number): boolean {
    this.check('noteOn', tick, channel, note, 0, 127);
    this.check('noteOn', tick, channel, velocity, 0, 127);
    const at = this.slot(tick);
    if (at < 0) return false;
    this.writeNote(at, velocity === 0 ? SEQ_EVENT_TYPE.NOTEOFF : SEQ_EVENT_TYPE.NOTEON, tick, channel, note, velocity);
    return true;
  }

  noteOff(tick: number, channel: number, note: number, velocity = 0): boolean {
    this.check('noteOff', tick, channel, note, 0, 127);
    this.check('noteOff', tick, channel, velocity, 0, 127);
    const at = this.slot(tick);
    if (at < 0) return false;
    this.writeNote(at, SEQ_EVENT_TYPE.NOTEOFF, tick, channel, note, velocity);
    return true;
  }

  /** A MIDI CC. Bank select (CC 0 and 32) is refused: dssi.h maps banks to selectProgram, never run_synth. */
  controller(tick: number, channel: number, param: number, value: number): boolean {
    this.check('controller', tick, channel, param, 0, 127);
    if (param === 0 || param === 32) {
      throw new LadspaError('invalid-argument', `DssiEventBuffer.controller: CC ${param} is bank select, which goes through selectProgram (dssi.h), not run_synth`);
    }
    this.check('controller', tick, channel, value, 0, 127);
    return this.control(SEQ_EVENT_TYPE.CONTROLLER, tick, channel, param, value);
  }

  /** value: −8192…8191 (seq_event.h), 0 is centre. */
  pitchBend(tick: number, channel: number, value: number): boolean {
    this.check('pitchBend', tick, channel, value, -8192, 8191);
    return this.control(SEQ_EVENT_TYPE.PITCHBEND, tick, channel, 0, value);
  }

  /** value: 0…127. */
  channelPressure(tick: number, channel: number, value: number): boolean {
    this.check('channelPressure', tick, channel, value, 0, 127);
    return this.control(SEQ_EVENT_TYPE.CHANPRESS, tick, channel, 0, value);
  }

  /** Throws for a bad argument (a caller's bug; only this path allocates). */
  private check(op: string, tick: number, channel: number, value: number, min: number, max: number): void {
    if (!Number.isInteger(tick) || tick < 0 || tick > MAX_TICK) {
      throw new LadspaError('invalid-argument', `DssiEventBuffer.${op}: tick must be a whole number of frames from 0 to ${MAX_TICK}, got ${tick}`);
    }
    if (!Number.isInteger(channel) || channel < 0 || channel > 15) {
      throw new LadspaError('invalid-argument', `DssiEventBuffer.${op}: channel must be 0 to 15, got ${channel}`);
    }
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new LadspaError('invalid-argument', `DssiEventBuffer.${op}: value must be a whole number from ${min} to ${max}, got ${value}`);
    }
  }

  private control(type: number, tick: number, channel: number, param: number, value: number): boolean {
    const at = this.slot(tick);
    if (at < 0) return false;
    const L = SEQ_EVENT_LAYOUT;
    this.header(at, type, tick);
    this.view.setUint8(at + L.controlChannel, channel);
    this.view.setUint32(at + L.controlParam, param, true);
    this.view.setInt32(at + L.controlValue, value, true);
    return true;
  }

  private writeNote(at: number, type: number, tick: number, channel: number, note: number, velocity: number): void {
    const L = SEQ_EVENT_LAYOUT;
    this.header(at, type, tick);
    this.view.setUint8(at + L.noteChannel, channel);
    this.view.setUint8(at + L.noteNote, note);
    this.view.setUint8(at + L.noteVelocity, velocity);
  }

  private header(at: number, type: number, tick: number): void {
    const L = SEQ_EVENT_LAYOUT;
    this.bytes.fill(0, at, at + L.size);
    this.view.setUint8(at + L.type, type);
    this.view.setUint8(at + L.flags, EVENT_FLAGS);
    this.view.setUint32(at + L.time, tick, true);
  }

  /**
   * The byte offset for a new event at `tick` (after every event with a tick ≤ it, moving later
   * ones up), or −1 when the buffer is full.
   */
  private slot(tick: number): number {
    if (this.used >= this.capacity) return -1;
    const size = SEQ_EVENT_LAYOUT.size;
    let index = this.used;
    if (tick < this.last) {
      // Insertion: find the first event with a later tick (a stable order for equal ticks).
      index = 0;
      while (index < this.used && this.view.getUint32(index * size + SEQ_EVENT_LAYOUT.time, true) <= tick) index++;
      this.bytes.copyWithin((index + 1) * size, index * size, this.used * size);
    } else {
      this.last = tick;
    }
    this.used++;
    return index * size;
  }
}
