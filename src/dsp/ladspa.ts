/**
 * The LADSPA binding: finds plugin libraries, reads their descriptors and runs plugin instances,
 * through koffi (no native build). The facts it rests on (the descriptor's field order, the port,
 * hint and property bits, the default rules, the order of calls) are in docs/facts/ladspa.md, each
 * from ladspa.h (LADSPA SDK 1.1).
 *
 * Real-time use: everything that allocates (loading, decoding the descriptor, turning its function
 * pointers into callable functions, the instance handle) happens at open and instantiate time.
 * `LadspaInstance.run` then passes the same BigInt handle and a number to a function decoded once:
 * no JavaScript object is made per call (tests/unit/ladspa.test.ts counts scavenges to show it).
 *
 * Threads: the module keeps per-thread state only (koffi's library handles, a cache of opened
 * libraries), so it loads and runs as well inside a worker_thread, where the engine runs plugins.
 * ladspa.h gives no rule on which thread may call what; the engine calls one instance from one
 * thread at a time.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';

export type LadspaErrorCode = 'not-found' | 'load-failed' | 'no-descriptor' | 'label-not-found' | 'invalid-argument';

export class LadspaError extends Error {
  constructor(readonly code: LadspaErrorCode, message: string) {
    super(message);
    this.name = 'LadspaError';
  }
}

export type LadspaDefaultHint = 'none' | 'minimum' | 'low' | 'middle' | 'high' | 'maximum' | '0' | '1' | '100' | '440';

export interface LadspaPortInfo {
  index: number;
  name: string;
  direction: 'input' | 'output';
  type: 'audio' | 'control';
  boundedBelow: boolean;
  boundedAbove: boolean;
  toggled: boolean;
  sampleRate: boolean;
  logarithmic: boolean;
  integer: boolean;
  defaultHint: LadspaDefaultHint;
  /** As in the descriptor (not × rate); undefined when the port is not bounded below. */
  lower: number | undefined;
  /** As in the descriptor (not × rate); undefined when the port is not bounded above. */
  upper: number | undefined;
  /**
   * The descriptor's LowerBound and UpperBound fields as stored, whatever the bounded bits say.
   * Only portDefault reads them: some plugins (cmt's compressors, grain_scatter…) give a default
   * of 'maximum' or 'middle' without setting BOUNDED_ABOVE, which ladspa.h says they must; the
   * SDK's own tools (analyseplugin) read the field anyway, and so does portDefault.
   */
  lowerField?: number;
  upperField?: number;
}

export interface LadspaPluginInfo {
  /** Absolute path of the .so. */
  library: string;
  /** Its index in ladspa_descriptor(i). */
  index: number;
  uniqueId: number;
  label: string;
  name: string;
  maker: string;
  copyright: string;
  /** The Properties bits: REALTIME (must run in real time), INPLACE_BROKEN, HARD_RT_CAPABLE. */
  realtime: boolean;
  inplaceBroken: boolean;
  hardRtCapable: boolean;
  ports: LadspaPortInfo[];
}

// ladspa.h (LADSPA SDK 1.1): the Properties bits.
const PROPERTY_REALTIME = 0x1;
const PROPERTY_INPLACE_BROKEN = 0x2;
const PROPERTY_HARD_RT_CAPABLE = 0x4;
// ladspa.h (LADSPA SDK 1.1): the port descriptor bits (input/output, control/audio).
const PORT_INPUT = 0x1;
const PORT_OUTPUT = 0x2;
const PORT_CONTROL = 0x4;
const PORT_AUDIO = 0x8;
// ladspa.h (LADSPA SDK 1.1): the range hint bits; the default is a 4-bit code under a mask.
const HINT_BOUNDED_BELOW = 0x1;
const HINT_BOUNDED_ABOVE = 0x2;
const HINT_TOGGLED = 0x4;
const HINT_SAMPLE_RATE = 0x8;
const HINT_LOGARITHMIC = 0x10;
const HINT_INTEGER = 0x20;
const HINT_DEFAULT_MASK = 0x3c0;
const DEFAULT_CODES: ReadonlyMap<number, LadspaDefaultHint> = new Map([
  [0x0, 'none'], [0x40, 'minimum'], [0x80, 'low'], [0xc0, 'middle'], [0x100, 'high'],
  [0x140, 'maximum'], [0x200, '0'], [0x240, '1'], [0x280, '100'], [0x2c0, '440'],
]);

/**
 * The koffi types. LADSPA_Descriptor as ladspa.h (LADSPA SDK 1.1) lays it out, field by field in
 * that order: the unique id (unsigned long), label, properties (int), name, maker, copyright, port
 * count (unsigned long), the three per-port arrays, the implementation data, then the nine
 * function pointers. Strings are read through 'const char *'; the arrays and functions are kept
 * as addresses.
 *
 * koffi's named types live in one registry per process: a second copy of this module (a test
 * runner loading it under another URL) would declare them again and fail ("Duplicate type name").
 * They are made once per process and kept on globalThis.
 */
function makeTypes() {
  const descriptor = koffi.struct('sbc_LADSPA_Descriptor', {
    UniqueID: 'unsigned long',
    Label: 'const char *',
    Properties: 'int',
    Name: 'const char *',
    Maker: 'const char *',
    Copyright: 'const char *',
    PortCount: 'unsigned long',
    PortDescriptors: 'void *',
    PortNames: 'void *',
    PortRangeHints: 'void *',
    ImplementationData: 'void *',
    instantiate: 'void *',
    connect_port: 'void *',
    activate: 'void *',
    run: 'void *',
    run_adding: 'void *',
    set_run_adding_gain: 'void *',
    deactivate: 'void *',
    cleanup: 'void *',
  });
  /** LADSPA_PortRangeHint (ladspa.h): the hint bits (int), then the lower and upper bound (float). */
  const rangeHint = koffi.struct('sbc_LADSPA_PortRangeHint', { HintDescriptor: 'int', LowerBound: 'float', UpperBound: 'float' });

  // The function pointer types of the descriptor (ladspa.h). The handle is an opaque pointer.
  const instantiateFn = koffi.proto('void *sbc_ladspa_instantiate(void *descriptor, unsigned long rate)');
  const connectPortFn = koffi.proto('void sbc_ladspa_connect_port(void *instance, unsigned long port, void *data)');
  const handleFn = koffi.proto('void sbc_ladspa_handle_fn(void *instance)');
  const runFn = koffi.proto('void sbc_ladspa_run(void *instance, unsigned long frames)');
  return { descriptor, rangeHint, instantiateFn, connectPortFn, handleFn, runFn };
}
const TYPES_KEY = Symbol.for('sbc-audio.ladspa.koffi-types');
const types = ((globalThis as Record<symbol, unknown>)[TYPES_KEY] ??= makeTypes()) as ReturnType<typeof makeTypes>;
const Descriptor = types.descriptor;
const RangeHint = types.rangeHint;
const InstantiateFn = types.instantiateFn;
const ConnectPortFn = types.connectPortFn;
const HandleFn = types.handleFn;
const RunFn = types.runFn;

type Pointer = bigint | null;

interface RawDescriptor {
  UniqueID: number;
  Label: string | null;
  Properties: number;
  Name: string | null;
  Maker: string | null;
  Copyright: string | null;
  PortCount: number;
  PortDescriptors: Pointer;
  PortNames: Pointer;
  PortRangeHints: Pointer;
  instantiate: Pointer;
  connect_port: Pointer;
  activate: Pointer;
  run: Pointer;
  deactivate: Pointer;
  cleanup: Pointer;
}

type DescriptorFunction = (index: number) => Pointer;

interface LoadedLibrary {
  lib: ReturnType<typeof koffi.load>;
  ladspaDescriptor: DescriptorFunction;
}

/**
 * Libraries loaded in this thread, by absolute path. They are never unloaded: a plugin's code must
 * stay mapped while any of its instances exists, and a host keeps few libraries.
 */
const loaded = new Map<string, LoadedLibrary>();

function loadLibrary(libraryPath: string): LoadedLibrary {
  const known = loaded.get(libraryPath);
  if (known) return known;
  const { lib, descriptorFunction } = openDescriptorLibrary(libraryPath, 'LADSPA', 'ladspa_descriptor');
  const entry = { lib, ladspaDescriptor: descriptorFunction };
  loaded.set(libraryPath, entry);
  return entry;
}

/**
 * Opens a plugin library by absolute path and its descriptor function `symbol` (LADSPA's
 * ladspa_descriptor, DSSI's dssi_descriptor: src/dsp/dssi.ts), each failure a LadspaError naming
 * the file and `api`. The caller keeps it (libraries are never unloaded).
 */
export function openDescriptorLibrary(libraryPath: string, api: 'LADSPA' | 'DSSI', symbol: string): { lib: ReturnType<typeof koffi.load>; descriptorFunction: (index: number) => Pointer } {
  if (!path.isAbsolute(libraryPath)) throw new LadspaError('invalid-argument', `${api} library path ${JSON.stringify(libraryPath)} is not absolute`);
  if (!existsSync(libraryPath)) throw new LadspaError('not-found', `${api} library ${libraryPath}: no such file`);
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(libraryPath);
  } catch (e) {
    // koffi's message carries dlerror()'s text ("invalid ELF header", a missing dependency…).
    throw new LadspaError('load-failed', `${api} library ${libraryPath} could not be loaded: ${(e as Error).message}`);
  }
  try {
    return { lib, descriptorFunction: lib.func(`void *${symbol}(unsigned long index)`) as (index: number) => Pointer };
  } catch (e) {
    throw new LadspaError('no-descriptor', `${libraryPath} is not a ${api} library: it has no ${symbol} function (${(e as Error).message})`);
  }
}

function decodeDescriptor(pointer: bigint): RawDescriptor {
  return koffi.decode(pointer, Descriptor) as RawDescriptor;
}

function describePlugin(libraryPath: string, index: number, d: RawDescriptor): LadspaPluginInfo {
  const count = Number(d.PortCount);
  const where = `${libraryPath} plugin #${index}`;
  if (count > 0 && (d.PortDescriptors === null || d.PortNames === null || d.PortRangeHints === null)) {
    throw new LadspaError('no-descriptor', `${where}: the descriptor has ${count} ports but a NULL port array`);
  }
  const portBits = count ? (koffi.decode(d.PortDescriptors, 'int', count) as Int32Array) : new Int32Array(0);
  const names = count ? (koffi.decode(d.PortNames, 'const char *', count) as (string | null)[]) : [];
  const hints = count ? (koffi.decode(d.PortRangeHints, RangeHint, count) as { HintDescriptor: number; LowerBound: number; UpperBound: number }[]) : [];
  const ports: LadspaPortInfo[] = [];
  for (let i = 0; i < count; i++) {
    const bits = portBits[i]!;
    const h = hints[i]!;
    const hint = h.HintDescriptor;
    // A port is one of input/output and one of control/audio (ladspa.h); a descriptor that sets
    // both or neither is broken, and a host cannot know how to connect it.
    const input = (bits & PORT_INPUT) !== 0;
    const output = (bits & PORT_OUTPUT) !== 0;
    const control = (bits & PORT_CONTROL) !== 0;
    const audio = (bits & PORT_AUDIO) !== 0;
    if (input === output || control === audio) {
      throw new LadspaError('no-descriptor', `${where} (${d.Label ?? '?'}), port ${i} (${names[i] ?? '?'}): descriptor bits 0x${bits.toString(16)} are not one of input/output and one of control/audio`);
    }
    const boundedBelow = (hint & HINT_BOUNDED_BELOW) !== 0;
    const boundedAbove = (hint & HINT_BOUNDED_ABOVE) !== 0;
    ports.push({
      index: i,
      name: names[i] ?? '',
      direction: input ? 'input' : 'output',
      type: control ? 'control' : 'audio',
      boundedBelow,
      boundedAbove,
      toggled: (hint & HINT_TOGGLED) !== 0,
      sampleRate: (hint & HINT_SAMPLE_RATE) !== 0,
      logarithmic: (hint & HINT_LOGARITHMIC) !== 0,
      integer: (hint & HINT_INTEGER) !== 0,
      // Every code under the mask is defined by ladspa.h 1.1; an unknown one (a later version)
      // is treated as no default.
      defaultHint: DEFAULT_CODES.get(hint & HINT_DEFAULT_MASK) ?? 'none',
      lower: boundedBelow ? h.LowerBound : undefined,
      upper: boundedAbove ? h.UpperBound : undefined,
      lowerField: h.LowerBound,
      upperField: h.UpperBound,
    });
  }
  const props = d.Properties;
  return {
    library: libraryPath,
    index,
    uniqueId: Number(d.UniqueID),
    label: d.Label ?? '',
    name: d.Name ?? '',
    maker: d.Maker ?? '',
    copyright: d.Copyright ?? '',
    realtime: (props & PROPERTY_REALTIME) !== 0,
    inplaceBroken: (props & PROPERTY_INPLACE_BROKEN) !== 0,
    hardRtCapable: (props & PROPERTY_HARD_RT_CAPABLE) !== 0,
    ports,
  };
}

/** Plugins are counted by asking for indices from 0 until NULL (ladspa.h); this bounds a broken library. */
const MAX_PLUGINS_PER_LIBRARY = 100000;

function eachDescriptor(libraryPath: string, fn: (index: number, pointer: bigint, d: RawDescriptor) => boolean | void): void {
  const { ladspaDescriptor } = loadLibrary(libraryPath);
  for (let i = 0; i < MAX_PLUGINS_PER_LIBRARY; i++) {
    const p = ladspaDescriptor(i);
    if (p === null || p === 0n) return;
    if (fn(i, p, decodeDescriptor(p)) === true) return;
  }
}

/**
 * The plugin search path: LADSPA_PATH (colon-separated; ladspa.h suggests hosts read it) if set and
 * non-empty, else the configured directories, else where Debian's packages install plugins
 * (/usr/lib/ladspa) after /usr/local/lib/ladspa, plus /usr/lib/<multiarch>/ladspa when it exists.
 * Relative entries are dropped (a plugin must not come from wherever the service was started).
 */
export function ladspaSearchPath(env: NodeJS.ProcessEnv = process.env, configured?: readonly string[]): string[] {
  const fromEnv = env.LADSPA_PATH?.split(':').filter((d) => d !== '') ?? [];
  let dirs: string[];
  if (fromEnv.length) dirs = fromEnv;
  else if (configured && configured.length) dirs = [...configured];
  else {
    dirs = ['/usr/local/lib/ladspa', '/usr/lib/ladspa'];
    const multiarch = multiarchTriplet();
    if (multiarch && existsSync(`/usr/lib/${multiarch}/ladspa`)) dirs.push(`/usr/lib/${multiarch}/ladspa`);
  }
  const clean = (d: string) => path.normalize(d).replace(/(?<=.)\/+$/, '');
  return [...new Set(dirs.filter((d) => path.isAbsolute(d)).map(clean))];
}

/** Debian's multiarch triplet for this machine, for the architectures the project runs on. */
function multiarchTriplet(): string | undefined {
  const byArch: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', ia32: 'i386-linux-gnu', riscv64: 'riscv64-linux-gnu' };
  return byArch[process.arch];
}

/**
 * A library named by file name ("amp_1181.so" or "amp_1181") found in the search path (first
 * directory that has it) → its absolute path. A name with '/' or '..' is refused: plugins come
 * from the plugin directories only.
 */
export function findLibrary(name: string, searchPath: readonly string[]): string {
  if (name === '' || name.includes('/') || name.includes('..') || name.includes('\0')) {
    throw new LadspaError('invalid-argument', `LADSPA library ${JSON.stringify(name)}: give a file name from the plugin directories (no '/' or '..')`);
  }
  const candidates = name.endsWith('.so') ? [name] : [`${name}.so`, name];
  for (const dir of searchPath) {
    for (const file of candidates) {
      const full = path.join(dir, file);
      try {
        if (statSync(full).isFile()) return full;
      } catch {
        // Not in this directory: try the next.
      }
    }
  }
  throw new LadspaError('not-found', `LADSPA library ${name} not found in ${searchPath.length ? searchPath.join(', ') : '(an empty search path)'}`);
}

/** Every plugin of one library (ladspa_descriptor(0), (1)… until NULL). */
export function listLibrary(libraryPath: string): LadspaPluginInfo[] {
  const plugins: LadspaPluginInfo[] = [];
  eachDescriptor(libraryPath, (i, _p, d) => {
    plugins.push(describePlugin(libraryPath, i, d));
  });
  return plugins;
}

/** Every library (*.so) in the search path, with its plugins; one that fails is listed with its error. */
export function listAll(searchPath: readonly string[]): { library: string; plugins: LadspaPluginInfo[]; error?: string }[] {
  const out: { library: string; plugins: LadspaPluginInfo[]; error?: string }[] = [];
  const seen = new Set<string>();
  for (const dir of searchPath) {
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.so')).sort();
    } catch {
      continue; // A directory of the path that does not exist holds no plugins.
    }
    for (const f of files) {
      // The first directory that has a file name wins, as findLibrary does.
      if (seen.has(f)) continue;
      seen.add(f);
      const library = path.join(dir, f);
      try {
        out.push({ library, plugins: listLibrary(library) });
      } catch (e) {
        out.push({ library, plugins: [], error: (e as Error).message });
      }
    }
  }
  return out;
}

// Port memory --------------------------------------------------------------------------------

/** The native address of each ArrayBuffer allocPortMemory made (the check in connect). */
const portMemory = new WeakMap<ArrayBufferLike, bigint>();
/**
 * Frees the native block once its ArrayBuffer is collected. An instance holds every buffer it was
 * connected to until cleanup, so a block a plugin may still touch is never freed under it.
 */
const portMemoryFree = new FinalizationRegistry<bigint>((address) => koffi.free(address));

/**
 * Native memory for port buffers: a zeroed Float32Array of `floats` over a koffi.alloc'd block, at
 * a stable address (V8 never moves it). Freed after the array (every view of its buffer) is
 * garbage-collected; instances keep what they are connected to alive until cleanup.
 */
export function allocPortMemory(floats: number): Float32Array {
  if (!Number.isInteger(floats) || floats < 1 || floats > 1 << 26) {
    throw new LadspaError('invalid-argument', `allocPortMemory: floats must be a whole number from 1 to ${1 << 26}, got ${floats}`);
  }
  const address = koffi.alloc('float', floats) as bigint;
  const buffer = koffi.view(address, floats * 4);
  const view = new Float32Array(buffer);
  view.fill(0);
  portMemory.set(buffer, address);
  portMemoryFree.register(buffer, address);
  return view;
}

// Defaults and bounds ------------------------------------------------------------------------

/** Bounds × rate when the port has the sample-rate hint. */
export function portBounds(port: LadspaPortInfo, sampleRate: number): { min: number | undefined; max: number | undefined } {
  const k = port.sampleRate ? sampleRate : 1;
  return { min: port.lower === undefined ? undefined : port.lower * k, max: port.upper === undefined ? undefined : port.upper * k };
}

/**
 * The value a port's default hint gives at this rate (ladspa.h 1.1): minimum/maximum are the
 * bounds; low/middle/high weigh lower and upper 0.75/0.25, 0.5/0.5, 0.25/0.75, geometrically
 * (on the logs) for a logarithmic port, else linearly; the bounds are × rate for a sample-rate
 * port; the result is rounded for an integer port. 0, 1, 100, 440 are those numbers. Undefined
 * when there is no default. A bound the default needs but the port does not declare is taken from
 * the descriptor's field (lowerField/upperField), as ladspa-sdk's analyseplugin does; without that
 * field (a port made by hand) the default is undefined.
 */
export function portDefault(port: LadspaPortInfo, sampleRate: number): number | undefined {
  const k = port.sampleRate ? sampleRate : 1;
  const bounds = portBounds(port, sampleRate);
  // A bound the port does not declare: the descriptor's field, as the SDK's tools read it (see lowerField).
  const min = bounds.min ?? (port.lowerField === undefined ? undefined : port.lowerField * k);
  const max = bounds.max ?? (port.upperField === undefined ? undefined : port.upperField * k);
  const between = (wLower: number): number | undefined => {
    if (min === undefined || max === undefined) return undefined;
    if (port.logarithmic && min > 0 && max > 0) return Math.exp(Math.log(min) * wLower + Math.log(max) * (1 - wLower));
    return min * wLower + max * (1 - wLower);
  };
  let v: number | undefined;
  switch (port.defaultHint) {
    case 'none': return undefined;
    case 'minimum': v = min; break;
    case 'maximum': v = max; break;
    case 'low': v = between(0.75); break;
    case 'middle': v = between(0.5); break;
    case 'high': v = between(0.25); break;
    case '0': return 0;
    case '1': return 1;
    case '100': return 100;
    case '440': return 440;
  }
  return v !== undefined && port.integer ? Math.round(v) : v;
}

// Plugins and instances ----------------------------------------------------------------------

interface PluginFunctions {
  descriptor: bigint;
  instantiate: (descriptor: bigint, rate: number) => Pointer;
  connectPort: (instance: bigint, port: number, data: bigint) => void;
  activate: ((instance: bigint) => void) | undefined;
  run: (instance: bigint, frames: number) => void;
  deactivate: ((instance: bigint) => void) | undefined;
  cleanup: ((instance: bigint) => void) | undefined;
}

/**
 * The plugin info of a LADSPA_Descriptor at `descriptorPointer` (e.g. the one a DSSI_Descriptor's
 * LADSPA_Plugin field points to), listed as plugin `index` of `libraryPath`.
 */
export function ladspaInfoFromDescriptor(libraryPath: string, index: number, descriptorPointer: bigint): LadspaPluginInfo {
  if (descriptorPointer === 0n) throw new LadspaError('no-descriptor', `${libraryPath} plugin #${index}: the LADSPA descriptor pointer is NULL`);
  return describePlugin(libraryPath, index, decodeDescriptor(descriptorPointer));
}

/**
 * A LadspaPlugin over a LADSPA_Descriptor found some other way than ladspa_descriptor() (DSSI's
 * LADSPA_Plugin field): the same decoding and checks as openPlugin. The library must stay loaded
 * (koffi never unloads what it loaded; dssi.ts loads it before asking).
 */
export function ladspaPluginFromDescriptor(libraryPath: string, index: number, descriptorPointer: bigint): LadspaPlugin {
  if (descriptorPointer === 0n) throw new LadspaError('no-descriptor', `${libraryPath} plugin #${index}: the LADSPA descriptor pointer is NULL`);
  const d = decodeDescriptor(descriptorPointer);
  return new LadspaPlugin(describePlugin(libraryPath, index, d), descriptorPointer, d);
}

/** One plugin by library + label (labels are the identifier ladspa.h says to use, with the file). */
export function openPlugin(libraryPath: string, label: string): LadspaPlugin {
  let found: { index: number; pointer: bigint; d: RawDescriptor } | undefined;
  const labels: string[] = [];
  eachDescriptor(libraryPath, (index, pointer, d) => {
    if (d.Label === label) {
      found = { index, pointer, d };
      return true;
    }
    labels.push(d.Label ?? '?');
  });
  if (!found) {
    throw new LadspaError('label-not-found', `LADSPA library ${libraryPath} has no plugin labelled ${JSON.stringify(label)} (it has: ${labels.length ? labels.join(', ') : 'none'})`);
  }
  return new LadspaPlugin(describePlugin(libraryPath, found.index, found.d), found.pointer, found.d);
}

export class LadspaPlugin {
  readonly info: LadspaPluginInfo;
  private readonly fns: PluginFunctions;

  /** @internal openPlugin makes these. */
  constructor(info: LadspaPluginInfo, descriptor: bigint, d: RawDescriptor) {
    this.info = info;
    const where = `${info.library} ${info.label}`;
    // instantiate, connect_port, run and cleanup are required (a host cannot do without them);
    // activate and deactivate may be NULL when the plugin has nothing to do there (ladspa.h).
    for (const f of ['instantiate', 'connect_port', 'run', 'cleanup'] as const) {
      if (d[f] === null) throw new LadspaError('no-descriptor', `${where}: the descriptor's ${f} function is NULL`);
    }
    const fn = <T>(p: Pointer, proto: ReturnType<typeof koffi.proto>): T | undefined => (p === null ? undefined : (koffi.decode(p, proto) as T));
    this.fns = {
      descriptor,
      instantiate: fn(d.instantiate, InstantiateFn)!,
      connectPort: fn(d.connect_port, ConnectPortFn)!,
      activate: fn(d.activate, HandleFn),
      run: fn(d.run, RunFn)!,
      deactivate: fn(d.deactivate, HandleFn),
      cleanup: fn(d.cleanup, HandleFn),
    };
  }

  /** A new instance at `sampleRate` (Hz, a positive whole number). */
  instantiate(sampleRate: number): LadspaInstance {
    if (!Number.isInteger(sampleRate) || sampleRate < 1) {
      throw new LadspaError('invalid-argument', `${this.info.library} ${this.info.label}: sample rate must be a positive whole number of Hz, got ${sampleRate}`);
    }
    const handle = this.fns.instantiate(this.fns.descriptor, sampleRate);
    if (handle === null || handle === 0n) {
      throw new LadspaError('load-failed', `${this.info.library} ${this.info.label}: instantiate at ${sampleRate} Hz returned NULL`);
    }
    return new LadspaInstance(this.info, this.fns, handle);
  }
}

/**
 * A plugin instance. The call order ladspa.h asks for is the caller's to keep: connect every port,
 * activate, run…, deactivate, cleanup; connect may come at any point before run. This class
 * refuses what would touch freed plugin state (anything after cleanup) and keeps activate and
 * deactivate paired, so cleanup always follows a deactivate when the instance was active.
 */
export class LadspaInstance {
  private handle: bigint;
  private cleaned = false;
  private active = false;
  /** The buffers connected, per port: kept reachable so that their native memory outlives the plugin's use. */
  private readonly connected: (Float32Array | undefined)[];

  /** @internal LadspaPlugin.instantiate makes these. */
  constructor(readonly info: LadspaPluginInfo, private readonly fns: PluginFunctions, handle: bigint) {
    this.handle = handle;
    this.connected = new Array<Float32Array | undefined>(info.ports.length).fill(undefined);
  }

  /** The LADSPA_Handle's address (what DSSI's functions take as their instance); 0n after cleanup. */
  get handleAddress(): bigint {
    return this.handle;
  }

  private where(): string {
    return `${this.info.library} ${this.info.label}`;
  }

  /**
   * @internal Throws what run() would for an instance that cannot run (cleaned up, a port not
   * connected); for other run functions over the same handle (DSSI's run_synth). Allocation-free
   * when it passes.
   */
  checkRunnable(op: string): void {
    if (this.cleaned) throw new LadspaError('invalid-argument', `${this.where()}: ${op} after cleanup`);
    const c = this.connected;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === undefined) throw new LadspaError('invalid-argument', `${this.where()}: ${op} with port ${i} (${this.info.ports[i]!.name}) not connected`);
    }
  }

  private alive(op: string): void {
    if (this.cleaned) throw new LadspaError('invalid-argument', `${this.where()}: ${op} after cleanup`);
  }

  /** Connects a port to a buffer from allocPortMemory (any view of one); a control port reads/writes its first float. */
  connect(port: number, buffer: Float32Array): void {
    this.alive('connect');
    const p = this.info.ports[port];
    if (!Number.isInteger(port) || !p) {
      throw new LadspaError('invalid-argument', `${this.where()}: no port ${port} (it has ${this.info.ports.length}: 0 to ${this.info.ports.length - 1})`);
    }
    const base = buffer instanceof Float32Array ? portMemory.get(buffer.buffer) : undefined;
    if (base === undefined) {
      throw new LadspaError('invalid-argument', `${this.where()}: port ${port} (${p.name}): the buffer must be a Float32Array from allocPortMemory (native memory that does not move)`);
    }
    if (buffer.length < 1) throw new LadspaError('invalid-argument', `${this.where()}: port ${port} (${p.name}): the buffer is empty`);
    this.fns.connectPort(this.handle, port, base + BigInt(buffer.byteOffset));
    this.connected[port] = buffer;
  }

  /** Calls activate (if the plugin has one) once; again only after deactivate. */
  activate(): void {
    this.alive('activate');
    if (this.active) return;
    this.fns.activate?.(this.handle);
    this.active = true;
  }

  /**
   * Runs `frames` frames. Allocation-free: one native call with the handle and a small integer.
   * Every port must be connected (checked here cheaply: a plugin would write through a wild pointer).
   */
  run(frames: number): void {
    this.checkRunnable('run');
    this.fns.run(this.handle, frames);
  }

  /** Calls deactivate (if the plugin has one) when active. */
  deactivate(): void {
    this.alive('deactivate');
    if (!this.active) return;
    this.fns.deactivate?.(this.handle);
    this.active = false;
  }

  /** Frees the instance (deactivating it first if it is active). Once; later calls do nothing. */
  cleanup(): void {
    if (this.cleaned) return;
    if (this.active) this.deactivate();
    this.fns.cleanup?.(this.handle);
    this.cleaned = true;
    this.handle = 0n;
    this.connected.fill(undefined);
  }
}
