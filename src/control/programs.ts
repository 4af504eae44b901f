/**
 * Programs (docs/CONTROL.md, "Programs and configure"): named sets of control values, as DSSI's
 * programs are, addressed by bank and program number.
 *
 * - Bank 0, built in: one program per value of each enum setting of the board's part that picks a
 *   filter mode, a DSP program or an EQ preset (the sim-codec's "DAC Filter", the PCM5122's "DSP
 *   Program"), derived from the part's description (`codecs/<part>/description.ts`): a new value
 *   there is a new program here, with no list to keep in step.
 * - Bank 1, user presets: `<presetDir>/<name>.json` files `{ "name": …, "values": { id: value } }`,
 *   sorted by name; a file that is not one is skipped with one log line naming it and the field.
 *
 * Loading sets each value through the control model (so the channel's watchers, the state file and
 * a stream's owner hear of it as of any other change), every value checked by the model's parser
 * first: a preset with one bad value changes nothing.
 */
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.ts';
import path from 'node:path';
import type { BoardRuntime } from '../board/runtime.ts';
import { type ControlModel, ControlModelError, controlDescriptors, controlSlug } from './model.ts';
import { defaultStatePath } from './state-file.ts';
import type { ControlDescriptor, ControlValue } from './types.ts';
import { ControlValueError, parseControlValue } from './values.ts';

/** The built-in bank (from the parts' descriptions) and the user presets' bank (files). */
export const BUILTIN_BANK = 0;
export const USER_BANK = 1;

/** A preset's name: what its file is called (`<name>.json`), so a name is also a safe file name. */
export const PRESET_NAME = /^[a-z0-9-]{1,64}$/;

/** Larger preset files are refused unread: a board's controls are a few KiB of JSON. */
export const MAX_PRESET_BYTES = 256 * 1024;

/**
 * Which enum settings are programs: those whose description name says they pick a filter, a DSP
 * program or an EQ preset. The name is the description's (e.g. "DAC Filter", "DSP Program"); a
 * switch or a volume is never a program (one is a state, the other a level, not a choice of sound).
 */
export const PROGRAM_SETTING = /\b(filter|program|eq|equali[sz]er|preset)\b/i;

export interface Program {
  bank: number;
  program: number;
  name: string;
  values: Record<string, ControlValue>;
  /** Where it comes from: the description's control (bank 0), the file (bank 1). */
  source: string;
}

export class ProgramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProgramError';
  }
}

/** Where presets are kept by default: `presets/` beside the state file (docs/CONTROL.md, "The state file"). */
export function defaultPresetDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.dirname(defaultStatePath(env)), 'presets');
}

/**
 * Bank 0 of an open board: one program per value of each program setting of its part, in the
 * description's order (controls, then each control's values as the control lists them).
 */
export function builtinPrograms(rt: BoardRuntime): Program[] {
  const desc = rt.codec.description;
  if (!desc) return [];
  const part = rt.codec.part;
  const ids = new Map(controlDescriptors(rt, false).map((d) => [d.id, d]));
  const out: Program[] = [];
  for (const c of desc.controls) {
    if (c.kind !== 'enum' || !PROGRAM_SETTING.test(c.name)) continue;
    const id = `${rt.board.name}.${part}.${controlSlug(c.name)}`;
    const d = ids.get(id);
    // A driver that cannot set enums has no programs to load (the control is read-only).
    if (!d || !d.writable) continue;
    for (const v of d.values ?? []) {
      out.push({
        bank: BUILTIN_BANK, program: out.length, name: `${c.name}: ${v}`, values: { [id]: v },
        source: `codecs/${part}/description.ts controls "${c.name}" (${c.source})`,
      });
    }
  }
  return out;
}

/** What a preset file holds once checked (values not yet checked against the controls). */
interface PresetFile {
  name: string;
  values: Record<string, ControlValue>;
  file: string;
}

/**
 * Reads and checks one preset file; throws ProgramError naming the file and the field. `board`:
 * the board being served; a preset whose ids are all another board's is that board's (undefined:
 * not listed here, not an error: one preset folder serves the boards of a machine).
 */
function readPreset(file: string, board: string): PresetFile | undefined {
  const bad = (field: string, what: string) => new ProgramError(`preset ${file}: ${field}: ${what}`);
  const st = lstatSync(file);
  if (st.isSymbolicLink()) throw bad('file', 'a symbolic link (not followed: a preset is a regular file)');
  if (!st.isFile()) throw bad('file', 'not a regular file');
  if (st.size > MAX_PRESET_BYTES) throw bad('file', `${st.size} bytes, more than ${MAX_PRESET_BYTES} (refused unread)`);
  let o: unknown;
  try {
    o = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw bad('file', `not JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('file', 'expected an object { "name": …, "values": { … } }');
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (k !== 'name' && k !== 'values') throw bad(k, 'unknown field (fields: name, values)');
  const base = path.basename(file, '.json');
  if (typeof r.name !== 'string' || !PRESET_NAME.test(r.name)) throw bad('name', `expected a name of 1 to 64 of a-z, 0-9, "-", got ${JSON.stringify(r.name)}`);
  if (r.name !== base) throw bad('name', `"${r.name}", but the file is named ${base}.json (a preset's file is <name>.json)`);
  if (typeof r.values !== 'object' || r.values === null || Array.isArray(r.values)) throw bad('values', 'expected an object { "<control id>": value }');
  const values: Record<string, ControlValue> = {};
  const boards = new Set<string>();
  for (const [id, v] of Object.entries(r.values as Record<string, unknown>)) {
    if (!/^[a-z0-9-]+\.[a-z0-9-]+\.[a-z0-9-]+$/.test(id)) throw bad(`values["${id}"]`, 'not a control id <board>.<owner>.<name>');
    if (typeof v !== 'number' && typeof v !== 'boolean' && typeof v !== 'string') throw bad(`values["${id}"]`, `expected a number, true / false or a string, got ${JSON.stringify(v)}`);
    boards.add(id.split('.')[0]!);
    values[id] = v;
  }
  if (Object.keys(values).length === 0) throw bad('values', 'empty: a preset sets at least one control');
  if (boards.size > 1) throw bad('values', `controls of several boards (${[...boards].join(', ')}): a preset is one board's`);
  if (!boards.has(board)) return undefined;
  return { name: r.name, values, file };
}

export interface ProgramsOptions {
  /** Default: defaultPresetDir() (beside the state file). */
  presetDir?: string;
  log?: (line: string) => void;
}

export class Programs {
  readonly presetDir: string;
  private readonly log: (line: string) => void;
  private readonly builtin: Program[];
  /** The last loaded program and the values it set (as applied), until one of them changes. */
  private loaded: { bank: number; program: number; values: Map<string, ControlValue> } | undefined;
  /** Bad files already logged (file → message): one line per file and problem, not one per list. */
  private readonly logged = new Map<string, string>();
  private readonly off: () => void;
  /** Loads and saves run one at a time (a load's values are not interleaved with another's). */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly model: ControlModel, private readonly rt: BoardRuntime, opts: ProgramsOptions = {}) {
    this.presetDir = path.resolve(opts.presetDir ?? defaultPresetDir());
    this.log = opts.log ?? (() => {});
    this.builtin = builtinPrograms(rt);
    // The current program is forgotten once one of its controls holds another value.
    this.off = model.onChange((c) => {
      const cur = this.loaded;
      if (!cur || !cur.values.has(c.id)) return;
      if (!sameValue(cur.values.get(c.id)!, c.value)) this.loaded = undefined;
    });
  }

  /** Stops following the model's changes. */
  close(): void {
    this.off();
  }

  /** The user presets of this board, checked as files (their values are checked at load). */
  private presets(): PresetFile[] {
    let names: string[];
    try {
      names = readdirSync(this.presetDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.once(this.presetDir, `presets: cannot read ${this.presetDir}: ${(e as Error).message}`);
      return [];
    }
    const out: PresetFile[] = [];
    const seenNow = new Set<string>();
    for (const n of names.filter((x) => x.endsWith('.json') && !x.startsWith('.')).sort()) {
      const file = path.join(this.presetDir, n);
      seenNow.add(file);
      try {
        const p = readPreset(file, this.rt.board.name);
        if (p) out.push(p);
        this.logged.delete(file);
      } catch (e) {
        this.once(file, `${(e as Error).message}; skipped`);
      }
    }
    for (const f of this.logged.keys()) if (f !== this.presetDir && !seenNow.has(f)) this.logged.delete(f);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private once(key: string, line: string): void {
    if (this.logged.get(key) === line) return;
    this.logged.set(key, line);
    this.log(line);
  }

  /** Bank 0 (built in), then bank 1 (this board's presets, by name), each numbered from 0. */
  list(): Program[] {
    const user = this.presets().map((p, i): Program => ({ bank: USER_BANK, program: i, name: p.name, values: { ...p.values }, source: p.file }));
    return [...this.builtin.map((p) => ({ ...p, values: { ...p.values } })), ...user];
  }

  /** The program loaded last, while every control it set still holds its value. */
  current(): { bank: number; program: number } | undefined {
    return this.loaded ? { bank: this.loaded.bank, program: this.loaded.program } : undefined;
  }

  /** A user preset's bank and number by its name. */
  find(name: string): Program {
    const all = this.list();
    const p = all.find((x) => x.bank === USER_BANK && x.name === name);
    if (!p) {
      const names = all.filter((x) => x.bank === USER_BANK).map((x) => x.name);
      throw new ProgramError(`no preset "${name}" for board ${this.rt.board.name} in ${this.presetDir} (${names.length ? `presets: ${names.join(', ')}` : 'none saved'})`);
    }
    return p;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Sets the program's controls through the model, in its order. Every value is checked first
   * (the model's parser, against each control's range or values): one bad value and nothing is
   * set. A write that fails stops there; the error names the control, and says which were set.
   */
  load(bank: number, program: number): Promise<Program> {
    return this.serial(async () => {
      const all = this.list();
      const p = all.find((x) => x.bank === bank && x.program === program);
      if (!p) {
        const count = (b: number) => all.filter((x) => x.bank === b).length;
        const range = (b: number) => (count(b) ? `0..${count(b) - 1}` : 'none');
        throw new ProgramError(`no program ${bank}/${program} on board ${this.rt.board.name} (bank ${BUILTIN_BANK}, built in: ${range(BUILTIN_BANK)}; bank ${USER_BANK}, presets: ${range(USER_BANK)})`);
      }
      const what = `program ${p.bank}/${p.program} "${p.name}"${p.bank === USER_BANK ? ` (${p.source})` : ''}`;
      const known = new Set(this.model.ids());
      const descriptors = new Map<string, ControlDescriptor>(controlDescriptors(this.rt, true).map((d) => [d.id, d]));
      const checked: [string, ControlValue][] = [];
      for (const [id, v] of Object.entries(p.values)) {
        const d = descriptors.get(id);
        if (!d || !known.has(id)) throw new ProgramError(`${what}: ${id}: no such control on board ${this.rt.board.name}; nothing changed`);
        if (!d.writable || !d.persistent) throw new ProgramError(`${what}: ${id}: not a control a program sets (${d.writable ? 'not persistent' : d.readOnlyWhy ?? 'read-only'}); nothing changed`);
        try {
          // No value in force is given: a preset holds values, never steps ("+3dB" is refused).
          checked.push([id, parseControlValue(d, v, null)]);
        } catch (e) {
          if (e instanceof ControlValueError) throw new ProgramError(`${what}: ${e.message}; nothing changed`);
          throw e;
        }
      }
      this.loaded = undefined;
      const applied = new Map<string, ControlValue>();
      for (const [id, v] of checked) {
        try {
          const info = await this.model.set(id, v);
          applied.set(id, info.value ?? v);
        } catch (e) {
          const done = [...applied.keys()];
          const why = e instanceof ControlModelError || e instanceof ControlValueError ? e.message : `not applied: ${(e as Error).message}`;
          throw new ProgramError(`${what}: stopped at ${id}: ${why}${done.length ? ` (set before it: ${done.join(', ')})` : ' (nothing was set)'}`);
        }
      }
      this.loaded = { bank: p.bank, program: p.program, values: applied };
      return p;
    });
  }

  /**
   * Writes the writable persistent controls' values now as the preset `name` (replacing one of
   * that name): `<presetDir>/<name>.json`, atomically (a temporary file, synced, renamed over it),
   * mode 0644 in a folder made 0755 (presets are settings, not secrets: any user may read them).
   */
  save(name: string): Promise<Program> {
    return this.serial(async () => {
      if (typeof name !== 'string' || !PRESET_NAME.test(name)) {
        throw new ProgramError(`preset name: expected 1 to 64 of a-z, 0-9, "-" (it names the file <name>.json), got ${JSON.stringify(name)}`);
      }
      const listing = await this.model.list();
      const values: Record<string, ControlValue> = {};
      const covered = new Set<string>();
      for (const c of listing.controls) {
        if (!c.writable || !c.persistent || c.value === null) continue;
        // One id per control on the chip: a stream gain and the part's volume it is are one value.
        if (covered.has(c.id)) continue;
        for (const x of c.sameAs ?? []) covered.add(x);
        values[c.id] = c.value;
      }
      if (Object.keys(values).length === 0) throw new ProgramError(`preset ${name}: board ${this.rt.board.name} has no writable persistent control with a known value`);
      const file = path.join(this.presetDir, `${name}.json`);
      try {
        writeFileAtomic(file, `${JSON.stringify({ name, values }, null, 2)}\n`);
      } catch (e) {
        throw new ProgramError(`preset ${name}: cannot write ${file}: ${(e as Error).message}`);
      }
      const p = this.list().find((x) => x.bank === USER_BANK && x.name === name);
      if (!p) throw new ProgramError(`preset ${name}: written to ${file}, but it does not read back as a preset (see the log)`);
      return p;
    });
  }
}

/** A value as a program set it and as a change event carries it (volumes compared to a micro-dB). */
function sameValue(a: ControlValue, b: ControlValue | null): boolean {
  if (b === null) return false;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) < 1e-6;
  return a === b;
}
