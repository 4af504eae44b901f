/**
 * DSSI plugin stages as OSC owners of their own (issue 30; src/osc/server.ts, docs/OSC.md,
 * "DSSI plugin stages"). The server runs against fakes: a control model holding the speaker
 * stream's controls (its gain and the controls of two plugin stages), a dispatcher that sets
 * through that model, and a PluginOwnersLike with three stages. A UI is a UDP socket of the test's
 * own that decodes what it gets; requests come from dssi-utils' `dssi_osc_send` (a peer we did
 * not write) or from datagrams built here.
 *
 * Expected values come from the DSSI RFC (/usr/share/doc/dssi-dev/RFC.txt.gz, "Discovery and
 * Startup" and "Paths and Methods": /update answers with sample-rate, configure, program and
 * control calls in that order; `/control` takes the LADSPA port number) and dssi.h (the GLOBAL:
 * configure prefix reaches every plugin of the instance group and their UIs). The fakes' port
 * numbers are chosen so that the stream owner's numbering (0 gain, 1 fx1-volume, 2 fx1-tuning,
 * 3 fx2-volume: the listing order) and the LADSPA numbering (fx1: 2 volume, 5 tuning) disagree:
 * port 2 is a different control in each, which is each numbering's negative control.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { fromBuffer, toBuffer } from 'osc-min';
import type { ChangeTime, ControlInfo, ControlValue } from '../../src/control/types.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import {
  type DispatcherLike, type OscServer, type OscServerOptions, type PluginOwner, type PluginOwnersLike, type SetOutcome, startOscServer,
} from '../../src/osc/server.ts';

const run = promisify(execFile);
const sleepReal = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** CLOCK_REALTIME at board time 0 (2026-11-30T00:00:00Z), as tests/unit/osc.test.ts locks it. */
const EPOCH_NS = 1_795_996_800_000_000_000n;

async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleepReal(5);
  }
}

function datagram(packet: Parameters<typeof toBuffer>[0]): Buffer {
  const dv = toBuffer(packet);
  return Buffer.from(dv.buffer, dv.byteOffset, dv.byteLength);
}

// ---- the control model and the dispatcher, as fakes

function control(id: string, name: string, range: { min: number; max: number }, value: number): ControlInfo {
  const stream = id.split('.')[1]!;
  return {
    id, name, kind: 'number', owner: { kind: 'stream', id: stream }, range: { ...range, step: 0 }, unit: 'none', default: value,
    realtimeSafe: true, writable: true, source: 'test', persistent: false, value, state: 'active',
  };
}

function fakeModel() {
  const controls = [
    control('sim.speaker.gain', 'Stream gain', { min: -127, max: 0 }, 0),
    control('sim.speaker.fx1-volume', 'Volume', { min: 0, max: 1 }, 0.25),
    control('sim.speaker.fx1-tuning', 'Tuning', { min: -1, max: 1 }, -0.5),
    control('sim.speaker.fx2-volume', 'Volume', { min: 0, max: 1 }, 0.75),
    control('sim.headphone.fx1-gain', 'Gain', { min: 0, max: 2 }, 1),
  ];
  const listeners = new Set<(c: ControlInfo) => void>();
  const byId = new Map(controls.map((c) => [c.id, c]));
  return {
    byId,
    list: async () => ({ board: {} as never, parts: [], controls: controls.map((c) => ({ ...c })) }),
    onChange(fn: (c: ControlInfo) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** A change made anywhere: the model's change event. */
    change(id: string, value: ControlValue) {
      const c = byId.get(id)!;
      c.value = value;
      for (const fn of listeners) fn({ ...c });
      return { ...c };
    },
  };
}
type Model = ReturnType<typeof fakeModel>;

function fakeDispatcher(model: Model) {
  const calls: { id: string; value: unknown; at?: ChangeTime }[] = [];
  const dispatcher: DispatcherLike = {
    async set(id, value, opts = {}): Promise<SetOutcome> {
      calls.push({ id, value, ...(opts.at ? { at: opts.at } : {}) });
      const c = model.byId.get(id);
      if (!c || typeof value !== 'number') return { status: 'refused', error: `${id}: not a number` };
      if (value < c.range!.min || value > c.range!.max) return { status: 'refused', error: `${id}: ${value} is outside ${c.range!.min} .. ${c.range!.max}` };
      return { status: 'applied', control: model.change(id, value) };
    },
  };
  return { dispatcher, calls };
}

// ---- the plugin stages, as fakes: each records its calls and fires the events a real stage fires

class FakeStage implements PluginOwner {
  selected: [number, number][] = [];
  configured: [string, string][] = [];
  current: { bank: number; program: number } | undefined;
  keys: { key: string; value: string }[];
  constructor(private readonly stages: FakeStages, readonly id: string, readonly group: string, readonly ports: ReadonlyMap<number, string>, init: { program?: { bank: number; program: number }; keys?: { key: string; value: string }[] } = {}) {
    this.current = init.program;
    this.keys = init.keys ?? [];
  }
  async programs() {
    return [{ bank: 0, program: 3, name: 'E.PIANO 1' }, { bank: 0, program: 7, name: 'BRASS 1' }];
  }
  currentProgram() {
    return this.current;
  }
  async selectProgram(bank: number, program: number) {
    this.selected.push([bank, program]);
    if (bank !== 0 || (program !== 3 && program !== 7)) throw new Error(`${this.group}: no program ${bank} ${program}`);
    this.current = { bank, program };
    this.stages.program(this.id, bank, program);
    return { name: program === 3 ? 'E.PIANO 1' : 'BRASS 1' };
  }
  configureList() {
    return this.keys;
  }
  async configure(key: string, value: string) {
    this.configured.push([key, value]);
    this.keys = [...this.keys.filter((k) => k.key !== key), { key, value }];
    this.stages.configured(this.id, key, value);
    return { reply: `${this.id} took ${key}` };
  }
}

class FakeStages implements PluginOwnersLike {
  owners: FakeStage[] = [];
  private changed = new Set<() => void>();
  private programs = new Set<(owner: string, bank: number, program: number) => void>();
  private configures = new Set<(owner: string, key: string, value: string) => void>();
  list() {
    return this.owners;
  }
  onChanged(fn: () => void) {
    this.changed.add(fn);
    return () => void this.changed.delete(fn);
  }
  onProgram(fn: (owner: string, bank: number, program: number) => void) {
    this.programs.add(fn);
    return () => void this.programs.delete(fn);
  }
  onConfigure(fn: (owner: string, key: string, value: string) => void) {
    this.configures.add(fn);
    return () => void this.configures.delete(fn);
  }
  swap(owners: FakeStage[]) {
    this.owners = owners;
    for (const fn of this.changed) fn();
  }
  program(owner: string, bank: number, program: number) {
    for (const fn of this.programs) fn(owner, bank, program);
  }
  configured(owner: string, key: string, value: string) {
    for (const fn of this.configures) fn(owner, key, value);
  }
  get listeners() {
    return this.changed.size + this.programs.size + this.configures.size;
  }
}

const HEXTER = 'hexter.so hexter';

function stagesFor(): { stages: FakeStages; fx1: FakeStage; fx2: FakeStage; hp: FakeStage } {
  const stages = new FakeStages();
  const fx1 = new FakeStage(stages, 'speaker.fx1', HEXTER, new Map([[2, 'sim.speaker.fx1-volume'], [5, 'sim.speaker.fx1-tuning']]), {
    program: { bank: 0, program: 3 }, keys: [{ key: 'polyphony', value: '8' }],
  });
  const fx2 = new FakeStage(stages, 'speaker.fx2', HEXTER, new Map([[2, 'sim.speaker.fx2-volume']]));
  const hp = new FakeStage(stages, 'headphone.fx1', 'amp.so amp', new Map([[0, 'sim.headphone.fx1-gain']]));
  stages.owners = [fx1, fx2, hp];
  return { stages, fx1, fx2, hp };
}

// ---- a UI: a UDP socket that decodes each message as "path tags args…"

interface Ui {
  port: number;
  url(path: string): string;
  messages: string[];
  /** Messages under `prefix`, with the prefix cut off. */
  under(prefix: string): string[];
  close(): void;
}

async function ui(): Promise<Ui> {
  const s = dgram.createSocket('udp4');
  const messages: string[] = [];
  s.on('message', (buf) => {
    const m = fromBuffer(buf);
    if (m.oscType !== 'message') return;
    const args = m.args.map((a) => (a.type === 'string' ? JSON.stringify(a.value) : a.type === 'float' ? Number(a.value).toFixed(6) : String((a as { value: unknown }).value)));
    messages.push([m.address, m.args.map((a) => (a.type === 'string' ? 's' : a.type === 'float' ? 'f' : a.type === 'integer' ? 'i' : '?')).join(''), ...args].join(' ').trim());
  });
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  const port = s.address().port;
  return {
    port, messages,
    url: (path) => `osc.udp://127.0.0.1:${port}${path}`,
    under: (prefix) => messages.filter((m) => m.startsWith(prefix)).map((m) => m.slice(prefix.length)),
    close: () => s.close(),
  };
}

describe('DSSI plugin stages as OSC owners (issue 30): `<stream>.fx<N>`, LADSPA port numbers, dssi_osc_send', function () {
  this.timeout(30000);
  let model: Model;
  let d: ReturnType<typeof fakeDispatcher>;
  let st: ReturnType<typeof stagesFor>;
  let osc: OscServer;
  let logs: string[];
  let uis: Ui[];
  let sender: dgram.Socket;
  const clock = new VirtualClock(5e9);

  const options = (): OscServerOptions => ({
    bind: { address: '127.0.0.1', port: 0 },
    boardName: 'sim',
    model,
    dispatcher: d.dispatcher,
    programs: { current: () => ({ bank: 1, program: 1 }), load: async () => ({ name: 'board program' }) },
    configure: { list: () => [], set: async () => ({ reply: 'board configure' }) },
    plugins: st.stages,
    clock,
    // The speaker's rate only: a plugin owner reporting 48000 proves that its stream's rate was asked for.
    sampleRate: (owner) => (owner === 'speaker' ? 48000 : undefined),
    realtime: { nowNs: () => EPOCH_NS + BigInt(Math.round(clock.nowNs())) },
    log: (l) => logs.push(l),
  });
  const base = () => `osc.udp://127.0.0.1:${osc.port}/sbc-audio/sim`;
  const send = (address: string, args: { type: string; value: unknown }[]) => new Promise<void>((res, rej) => {
    sender.send(datagram({ address, args: args as never }), osc.port, '127.0.0.1', (e) => (e ? rej(e) : res()));
  });
  /** Registers a UI at `/update` and waits for its `count` state messages. */
  async function register(u: Ui, owner: string, path: string, count: number) {
    await send(`/sbc-audio/sim/${owner}/update`, [{ type: 'string', value: u.url(path) }]);
    await waitFor(`${owner}'s state at ${path}`, () => u.under(`${path}/`).length >= count);
  }

  beforeEach(async () => {
    model = fakeModel();
    d = fakeDispatcher(model);
    st = stagesFor();
    logs = [];
    uis = [];
    osc = await startOscServer(options());
    sender = dgram.createSocket('udp4');
    await new Promise<void>((res) => sender.bind(0, '127.0.0.1', () => res()));
  });
  afterEach(async () => {
    await osc.close();
    sender.close();
    for (const u of uis) u.close();
  });
  const newUi = async () => {
    const u = await ui();
    uis.push(u);
    return u;
  };

  it('/update: sample rate (the stream\'s), configure keys, the program, then each control by its LADSPA port number, in that order', async () => {
    const u = await newUi();
    await register(u, 'speaker.fx1', '/ui/fx1', 5);
    await sleepReal(50);
    assert.deepEqual(u.under('/ui/fx1/'), [
      'sample-rate i 48000',
      'configure ss "polyphony" "8"',
      'program ii 0 3',
      'control if 2 0.250000',
      'control if 5 -0.500000',
    ]);
    // The stream owner numbers the same controls by its listing order (the other numbering, unchanged).
    const s = await newUi();
    await register(s, 'speaker', '/ui/speaker', 4);
    await sleepReal(50);
    assert.deepEqual(s.under('/ui/speaker/control '), ['if 0 0.000000', 'if 1 0.250000', 'if 2 -0.500000', 'if 3 0.750000']);
    assert.equal(osc.stats().updateUrls, 2);
    assert.equal(osc.stats().methods.update, 2);
  });

  it('`dssi_osc_send -p URL 0 7` selects the program; the UI gets `/program 0 7` once, another owner\'s UI nothing; a selection made elsewhere reaches the UI too', async () => {
    const u = await newUi();
    const other = await newUi();
    await register(u, 'speaker.fx1', '/ui/fx1', 5);
    await register(other, 'speaker.fx2', '/ui/fx2', 2);
    await run('dssi_osc_send', ['-p', `${base()}/speaker.fx1`, '0', '7']);
    await waitFor('the program message', () => u.under('/ui/fx1/program').length === 2);
    await sleepReal(200);
    assert.deepEqual(st.fx1.selected, [[0, 7]]);
    assert.deepEqual(st.fx2.selected, [], 'the other stage was not asked');
    assert.deepEqual(u.under('/ui/fx1/program '), ['ii 0 3', 'ii 0 7'], 'the /update one, then the selection: once');
    assert.deepEqual(other.under('/ui/fx2/program'), [], 'the UI of another owner gets no /program');
    assert.ok(logs.some((l) => /program selected: speaker\.fx1 0 7 \(BRASS 1\)/.test(l)), logs.join('\n'));
    // Elsewhere: a MIDI program change, say (the stage's event).
    st.stages.program('speaker.fx1', 0, 3);
    await waitFor('the program from elsewhere', () => u.under('/ui/fx1/program ').length === 3);
    // A program the stage refuses: counted, logged with the plugin, no /program sent.
    await run('dssi_osc_send', ['-p', `${base()}/speaker.fx1`, '0', '99']);
    await waitFor('the failure', () => osc.stats().failed.program === 1);
    assert.ok(logs.some((l) => /speaker\.fx1\/program 0 99 \(hexter\.so hexter\): hexter\.so hexter: no program 0 99/.test(l)), logs.join('\n'));
    await sleepReal(100);
    assert.equal(u.under('/ui/fx1/program ').length, 3);
    assert.equal(osc.stats().methods.program, 2);
  });

  it('`dssi_osc_send -c URL 2 0.5` sets the control at LADSPA port 2; the plain form and `/control s f` too; the stream owner keeps its own numbering', async () => {
    const u = await newUi();
    await register(u, 'speaker.fx1', '/ui/fx1', 5);
    await run('dssi_osc_send', ['-c', `${base()}/speaker.fx1`, '2', '0.5']);
    await waitFor('the set', () => d.calls.length === 1);
    assert.deepEqual(d.calls[0], { id: 'sim.speaker.fx1-volume', value: 0.5 });
    await waitFor('/control 2 0.5 to the UI', () => u.under('/ui/fx1/control ').includes('if 2 0.500000'));
    // dssi_osc_send's plain form: `if` to the owner's path itself.
    await run('dssi_osc_send', [`${base()}/speaker.fx1`, '5', '0.125']);
    await waitFor('the second set', () => d.calls.length === 2);
    assert.deepEqual(d.calls[1], { id: 'sim.speaker.fx1-tuning', value: 0.125 });
    await send('/sbc-audio/sim/speaker.fx1/control', [{ type: 'string', value: 'volume' }, { type: 'float', value: 0.75 }]);
    await waitFor('the set by name', () => d.calls.length === 3);
    assert.deepEqual(d.calls[2], { id: 'sim.speaker.fx1-volume', value: 0.75 });
    // The stream owner: port 2 is its third control in listing order, fx1-tuning (as before issue 30).
    await run('dssi_osc_send', ['-c', `${base()}/speaker`, '2', '0.25']);
    await waitFor('the stream owner\'s set', () => d.calls.length === 4);
    assert.deepEqual(d.calls[3], { id: 'sim.speaker.fx1-tuning', value: 0.25 });
    await waitFor('/control 5 0.25 to the plugin UI', () => u.under('/ui/fx1/control ').includes('if 5 0.250000'));
    const s = osc.stats();
    assert.equal(s.methods.control, 4);
    assert.equal(s.dispatched, 4);
    assert.equal(s.outcomes.applied, 4);
  });

  it('a control port the stage does not have is refused with its list of ports; nothing is set', async () => {
    await run('dssi_osc_send', ['-c', `${base()}/speaker.fx1`, '3', '0.5']);
    await send('/sbc-audio/sim/speaker.fx1/control', [{ type: 'string', value: 'gain' }, { type: 'float', value: 0.5 }]);
    await waitFor('two refusals', () => osc.stats().bad['unknown-control'] === 2);
    assert.equal(d.calls.length, 0);
    assert.equal(osc.stats().dispatched, 0);
    assert.ok(logs.some((l) => /unknown-control: .*speaker\.fx1 \(hexter\.so hexter\) has no control input port 3 \(ports: 2 volume, 5 tuning\)/.test(l)), logs.join('\n'));
    assert.ok(logs.some((l) => /has no control input port "gain"/.test(l)), logs.join('\n'));
    // A value the control refuses (out of range) is counted once the dispatcher answers.
    await run('dssi_osc_send', ['-c', `${base()}/speaker.fx1`, '2', '1.5']);
    await waitFor('the dispatcher\'s refusal', () => osc.stats().outcomes.refused === 1);
    assert.equal(model.byId.get('sim.speaker.fx1-volume')!.value, 0.25);
  });

  it('a model change event reaches the owner\'s UI as `/control <LADSPA port> <value>`; the other stage\'s UI gets nothing', async () => {
    const u = await newUi();
    const other = await newUi();
    await register(u, 'speaker.fx1', '/ui/fx1', 5);
    await register(other, 'speaker.fx2', '/ui/fx2', 2);
    model.change('sim.speaker.fx1-tuning', 0.375);
    await waitFor('the change', () => u.under('/ui/fx1/control ').includes('if 5 0.375000'));
    await sleepReal(100);
    assert.deepEqual(other.under('/ui/fx2/control '), ['if 2 0.750000'], 'fx2\'s UI has its /update state only');
    // The negative control: a change of fx2's control reaches fx2's UI at its port 2, and not fx1's.
    model.change('sim.speaker.fx2-volume', 0.5);
    await waitFor('fx2\'s change', () => other.under('/ui/fx2/control ').includes('if 2 0.500000'));
    await sleepReal(100);
    assert.ok(!u.under('/ui/fx1/control ').includes('if 2 0.500000'), u.messages.join('\n'));
  });

  it('`/configure GLOBAL:…` goes to every stage of the instance group and their UIs; a plain key to the one stage; another group is not touched', async () => {
    const [u1, u2, uh] = [await newUi(), await newUi(), await newUi()];
    await register(u1, 'speaker.fx1', '/ui/fx1', 5);
    await register(u2, 'speaker.fx2', '/ui/fx2', 2);
    await register(uh, 'headphone.fx1', '/ui/hp', 1);
    await run('dssi_osc_send', ['-C', `${base()}/speaker.fx1`, 'GLOBAL:tuning', '442']);
    await waitFor('both UIs told', () => u1.under('/ui/fx1/configure ').includes('ss "GLOBAL:tuning" "442"') && u2.under('/ui/fx2/configure ').includes('ss "GLOBAL:tuning" "442"'));
    assert.deepEqual(st.fx1.configured, [['GLOBAL:tuning', '442']]);
    assert.deepEqual(st.fx2.configured, [['GLOBAL:tuning', '442']], 'the key keeps its GLOBAL: prefix (dssi.h)');
    assert.deepEqual(st.hp.configured, [], 'another group');
    await run('dssi_osc_send', ['-C', `${base()}/speaker.fx1`, 'polyphony', '16']);
    await waitFor('fx1 configured', () => st.fx1.configured.length === 2);
    await sleepReal(150);
    assert.deepEqual(st.fx2.configured, [['GLOBAL:tuning', '442']], 'a plain key stays with its stage');
    assert.deepEqual(u1.under('/ui/fx1/configure '), ['ss "polyphony" "8"', 'ss "GLOBAL:tuning" "442"', 'ss "polyphony" "16"']);
    assert.deepEqual(u2.under('/ui/fx2/configure '), ['ss "GLOBAL:tuning" "442"']);
    assert.deepEqual(uh.under('/ui/hp/configure'), []);
    assert.ok(logs.some((l) => /configured: speaker\.fx2 GLOBAL:tuning="442": speaker\.fx2 took GLOBAL:tuning/.test(l)), logs.join('\n'));
    assert.equal(osc.stats().methods.configure, 2);
  });

  it('/show and /hide are forwarded to the owner\'s UIs; /exiting forgets them', async () => {
    const u = await newUi();
    const other = await newUi();
    await register(u, 'speaker.fx1', '/ui/fx1', 5);
    await register(other, 'speaker.fx2', '/ui/fx2', 2);
    await send('/sbc-audio/sim/speaker.fx1/show', []);
    await send('/sbc-audio/sim/speaker.fx1/hide', []);
    await waitFor('show and hide', () => u.under('/ui/fx1/').includes('hide'));
    assert.deepEqual(u.under('/ui/fx1/').slice(-2), ['show', 'hide']);
    assert.deepEqual(other.under('/ui/fx2/').filter((m) => m === 'show' || m === 'hide'), []);
    assert.equal(osc.stats().methods.show, 1);
    await run('dssi_osc_send', ['-e', `${base()}/speaker.fx1`]);
    await waitFor('/exiting', () => osc.stats().methods.exiting === 1);
    assert.equal(osc.stats().updateUrls, 1, 'fx2\'s UI stays');
    const before = u.messages.length;
    model.change('sim.speaker.fx1-volume', 1);
    await send('/sbc-audio/sim/speaker.fx1/show', []);
    await sleepReal(150);
    assert.equal(u.messages.length, before, 'nothing after /exiting');
  });

  it('a chain swap: the UI of a vanished stage gets `/quit` and is forgotten, the others stay; close() sends `/quit` to every plugin UI', async () => {
    const [u1, u2, us] = [await newUi(), await newUi(), await newUi()];
    await register(u1, 'speaker.fx1', '/ui/fx1', 5);
    await register(u2, 'speaker.fx2', '/ui/fx2', 2);
    await register(us, 'speaker', '/ui/speaker', 5);
    st.stages.swap([st.fx1, st.hp]);
    await waitFor('fx2\'s /quit', () => u2.under('/ui/fx2/').includes('quit'));
    await sleepReal(100);
    assert.ok(!u1.under('/ui/fx1/').includes('quit'), 'fx1 is still there');
    assert.equal(osc.stats().updateUrls, 2);
    await send('/sbc-audio/sim/speaker.fx2/program', [{ type: 'integer', value: 0 }, { type: 'integer', value: 7 }]);
    await waitFor('the refusal', () => osc.stats().bad['unknown-path'] === 1);
    assert.deepEqual(st.fx2.selected, []);
    model.change('sim.speaker.fx2-volume', 0.125);
    await sleepReal(100);
    assert.ok(!u2.under('/ui/fx2/control ').includes('if 2 0.125000'), 'the vanished stage\'s UI hears nothing more');
    // The same id holding another plugin (another group) is a different plugin: its old UI is told to quit too.
    const other = new FakeStage(st.stages, 'speaker.fx1', 'amp.so amp', new Map([[0, 'sim.speaker.fx1-volume']]));
    st.stages.swap([other, st.hp]);
    await waitFor('fx1\'s /quit', () => u1.under('/ui/fx1/').includes('quit'));
    assert.equal(osc.stats().updateUrls, 1);
    const u3 = await newUi();
    await register(u3, 'speaker.fx1', '/ui/fx1b', 2);
    assert.equal(st.stages.listeners, 3, 'onChanged, onProgram, onConfigure');
    await osc.close();
    await waitFor('close()\'s /quit', () => u3.under('/ui/fx1b/').includes('quit'));
    assert.ok(!us.under('/ui/speaker/').includes('quit'), 'a stream owner\'s UI gets no /quit');
    assert.equal(st.stages.listeners, 0, 'close() unsubscribed');
  });

  it('a bundle time-tagged 100 ms ahead sets a plugin control stamped with the mapped board time', async () => {
    const T = clock.nowNs() + 100e6;
    const ns = EPOCH_NS + BigInt(T);
    const tag: [number, number] = [Number(ns / 1_000_000_000n + 2_208_988_800n), Number(((ns % 1_000_000_000n) * 4_294_967_296n + 500_000_000n) / 1_000_000_000n)];
    await new Promise<void>((res) => sender.send(datagram({
      timetag: tag, elements: [{ address: '/sbc-audio/sim/speaker.fx1/control', args: [{ type: 'integer', value: 2 }, { type: 'float', value: 0.5 }] }],
    }), osc.port, '127.0.0.1', () => res()));
    await waitFor('the set', () => d.calls.length === 1);
    assert.deepEqual(d.calls[0], { id: 'sim.speaker.fx1-volume', value: 0.5, at: { ns: T } });
  });
});
