/**
 * DSSI plugins in a stream's chain, through the service (issue 30): hexter (Debian's DX7 synth) and
 * the instrumented test plugin (tests/fixtures/dssi/sbc_test_dssi.c, built here) on the `sim`
 * board's speaker, on a virtual clock, listened to at the speaker's simulated analog output at 0 dB
 * (tests/fixtures/chain-service.ts: × 32768 gives the sample that reached the DAC).
 *
 * Expected values are the test plugin's documented behaviour (its header comment: programs 0/0
 * "zero", 0/1 "half", 1/5 "five"; select_program writes Level 0.25 / 0.5 / 0.75 and Program Value
 * bank × 100 + program; a note plays Level × velocity / 127 from its frame, a note-off 0) and
 * hexter's own answers through an instance of its own made here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fromBuffer } from 'osc-min';
import { openDssiPlugin } from '../../src/dsp/dssi.ts';
import { DSSI_FIELD, dssiFieldsAt } from '../../src/dsp/chain.ts';
import type { SimHal } from '../../src/hal/sim/index.ts';
import type { MidiEvent } from '../../src/hal/midi.ts';
import { programCommand } from '../../src/cli/commands/program.ts';
import { NS, PERIOD, type ChainRig, playLoop } from '../fixtures/chain-service.ts';
import { buildTestDssi, readTestDssiReport, resetTestDssi, testDssiThreadId } from '../support/dssi-fixtures.ts';

const HEXTER = '/usr/lib/dssi/hexter.so';

function cli(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  return programCommand.run(args, { out: (s: string) => out.push(s), err: (s: string) => out.push(s), isTTY: false }).then((code) => ({ code, out: out.join('\n') }));
}

/** An OSC receiver standing in for a plugin UI: every message it gets, decoded. */
async function testUi(): Promise<{ port: number; got: { address: string; args: unknown[] }[]; send(address: string, args: { type: string; value: unknown }[], to: number): void; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const got: { address: string; args: unknown[] }[] = [];
  sock.on('message', (buf) => {
    const m = fromBuffer(buf) as { address: string; args: { value: unknown }[] };
    got.push({ address: m.address, args: m.args.map((a) => a.value) });
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const { toBuffer } = await import('osc-min');
  return {
    port: sock.address().port, got,
    send(address, args, to) {
      const dv = toBuffer({ address, args } as never);
      sock.send(Buffer.from(dv.buffer, dv.byteOffset, dv.byteLength), to, '127.0.0.1');
    },
    close: () => sock.close(),
  };
}

async function waitFor(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const silence = (frames: number) => new Int16Array(frames * 2);

describe('DSSI plugins in the chain, through the service (sim board, virtual clock)', function () {
  this.timeout(60000);
  let dssiDir: string;
  before(() => {
    dssiDir = buildTestDssi();
  });

  it('hexter loads; `program list` shows its programs and the test plugin\'s; a UI registered with /update hears /program and the rewritten controls after dssi_osc_send -p', async () => {
    const rig = await playLoop(silence(4800), {
      dssiPath: [dssiDir, '/usr/lib/dssi'],
      osc: { bind: '127.0.0.1:0' },
      plugins: { speaker: [
        { library: 'hexter.so', label: 'hexter', allowNonRealtime: true },
        { library: 'sbc_test_dssi.so', label: 'sbc_test_synth' },
      ] },
    });
    const ui = await testUi();
    const other = await testUi();
    try {
      // hexter's programs as hexter itself lists them (an instance of its own, here).
      const own = openDssiPlugin(HEXTER, 'hexter').instantiate(48000);
      const hexterPrograms = own.programs();
      own.cleanup();
      assert.ok(hexterPrograms.length > 0);
      const list = await cli(['list', '--runtime-dir', rig.runtimeDir]);
      assert.equal(list.code, 0, list.out);
      assert.match(list.out, /speaker\.fx1: hexter \(\/usr\/lib\/dssi\/hexter\.so\)/);
      assert.match(list.out, /speaker\.fx2: sbc_test_synth/);
      for (const p of hexterPrograms) assert.ok(list.out.includes(p.name.trim()), `program ${p.bank}/${p.program} "${p.name}" listed`);
      const json = JSON.parse((await cli(['list', '--json', '--runtime-dir', rig.runtimeDir])).out) as { plugins: { owner: string; programs: { bank: number; program: number; name: string }[] }[] };
      assert.deepEqual(json.plugins.find((p) => p.owner === 'speaker.fx1')!.programs, hexterPrograms);
      assert.deepEqual(json.plugins.find((p) => p.owner === 'speaker.fx2')!.programs, [
        { bank: 0, program: 0, name: 'zero' }, { bank: 0, program: 1, name: 'half' }, { bank: 1, program: 5, name: 'five' },
      ]);

      const osc = rig.service.osc!.port;
      const base = '/sbc-audio/sim/speaker.fx2';
      ui.send(`${base}/update`, [{ type: 'string', value: `osc.udp://127.0.0.1:${ui.port}/ui` }], osc);
      other.send('/sbc-audio/sim/speaker.fx1/update', [{ type: 'string', value: `osc.udp://127.0.0.1:${other.port}/hx` }], osc);
      // The state first: the controls by LADSPA port number (1 Level at its default 1, 2 Program Value 0).
      await waitFor('the state after /update', () => ui.got.some((m) => m.address === '/ui/control' && m.args[0] === 2));
      assert.deepEqual(ui.got.filter((m) => m.address === '/ui/control').map((m) => m.args), [[1, 1], [2, 0]]);
      ui.got.length = 0;
      // A peer we did not write selects bank 1 program 5.
      await new Promise<void>((resolve, reject) => execFile('dssi_osc_send', ['-p', `osc.udp://127.0.0.1:${osc}${base}`, '1', '5'], (e) => (e ? reject(e) : resolve())));
      await waitFor('/program and the two rewritten controls', () => ui.got.some((m) => m.address === '/ui/program') && ui.got.filter((m) => m.address === '/ui/control').length >= 2);
      assert.deepEqual(ui.got.find((m) => m.address === '/ui/program')!.args, [1, 5]);
      const controls = ui.got.filter((m) => m.address === '/ui/control').map((m) => m.args as number[]);
      assert.deepEqual(controls.find((a) => a[0] === 1)![1], 0.75, 'Level as "five" wrote it');
      assert.deepEqual(controls.find((a) => a[0] === 2)![1], 105, 'Program Value = bank × 100 + program');
      assert.equal(ui.got.filter((m) => m.address === '/ui/program').length, 1, 'the program is sent once');
      // The model holds what the plugin wrote; the program control says which.
      assert.equal((await rig.service.controls.get('sim.speaker.fx2-level')).value, 0.75);
      assert.equal((await rig.service.controls.get('sim.speaker.fx2-program')).value, '1/5');
      // Negative control: hexter's UI heard nothing of another stage's program.
      assert.equal(other.got.filter((m) => m.address === '/hx/program').length, 0);
      // A program hexter does not have is refused, naming it.
      const bad = await cli(['load', 'speaker.fx1', '7', '300', '--runtime-dir', rig.runtimeDir]);
      assert.equal(bad.code, 1);
      assert.match(bad.out, /no program 7\/300/);
      const good = await cli(['load', 'speaker.fx1', '0', '2', '--runtime-dir', rig.runtimeDir]);
      assert.equal(good.code, 0, good.out);
      assert.match(good.out, new RegExp(`0/2 "${hexterPrograms[2]!.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
      await waitFor('/hx/program 0 2', () => other.got.some((m) => m.address === '/hx/program' && m.args[0] === 0 && m.args[1] === 2));
    } finally {
      ui.close();
      other.close();
      await rig.close();
    }
  });

  it('a note from the sequencer sounds from its frame (the frame of its arrival + FIFO + one period) and stops at its note-off\'s; another MIDI channel is not heard', async () => {
    const rig = await playLoop(silence(4800), {
      dssiPath: [dssiDir], midi: true,
      plugins: { speaker: [{ library: 'sbc_test_dssi.so', label: 'sbc_test_synth', midiChannel: 0 }] },
    });
    try {
      const keyboard = (rig.rt.hal as SimHal).simMidi().addSource('test keyboard', 'test keyboard port');
      await rig.service.knobs.connect('test keyboard');
      const arrivals: MidiEvent[] = [];
      rig.service.knobs.onMidi((ev) => arrivals.push(ev));
      const applied: { packed: number; frame: number }[] = [];
      rig.service.plugins!.onMidiApplied = (_o, packed, frame) => applied.push({ packed, frame });
      await rig.until(4800);
      keyboard.noteOn(0, 60, 64);
      keyboard.noteOn(5, 61, 127); // channel 5: not this synth's
      await waitFor('the note-on applied', () => applied.length >= 1);
      const on = arrivals.find((e) => e.type === 'note-on' && e.channel === 0)!;
      await rig.until(rig.position() + 2400);
      keyboard.noteOff(0, 60, 0);
      await waitFor('the note-off applied', () => applied.length >= 2);
      const off = arrivals.find((e) => e.type === 'note-off')!;
      const lead = (rig.fifoFrames + PERIOD); // frames
      const frameOf = (ns: number) => Math.round((ns - rig.startNs) / NS);
      const F = frameOf(on.receivedNs) + lead;
      const G = frameOf(off.receivedNs) + lead;
      assert.deepEqual(applied.map((a) => a.frame), [F, G], 'each landed on its arrival frame + the lead');
      await rig.until(G + 4800);
      // 64 / 127 of full scale (the plugin's Level 1 × velocity / 127), in both channels (a mono synth into a stereo stream).
      const level = Math.round((64 / 127) * 32768);
      const before = rig.output(F - 1, 1);
      const at = rig.output(F, 1);
      assert.deepEqual([...before], [0, 0], 'silent one frame before the note-on\'s frame');
      assert.deepEqual([...at], [level, level], 'sounding from the note-on\'s frame');
      const held = rig.output(F, G - F);
      assert.ok(held.every((x) => x === level), 'held until the note-off');
      assert.deepEqual([...rig.output(G, 4800)].filter((x) => x !== 0).length, 0, 'silent from the note-off\'s frame');
      // The channel-5 note reached nobody: one MIDI message per note (on, off) applied in all.
      assert.equal(applied.length, 2);
      assert.equal(rig.xruns(), 0);
    } finally {
      await rig.close();
    }
  });

  it('call classes under a storm of configure, program and control changes, START/STOP and a chain swap: no forbidden overlap, each class on its thread, 0 xruns; without the lock the overlap shows', async () => {
    const storm = async (lock: boolean, realClock: boolean, sleepUs = 3000) => {
      // On the system's clock the engine thread runs its periods (and its START's activate calls)
      // beside the main thread's configure calls, as on a board; on a virtual clock the two take
      // turns (the engine's periods wait for the virtual time the main thread moves on), which
      // makes its xrun count the code's alone, not a busy machine's.
      const rig = await playLoop(silence(4800), {
        dssiPath: [dssiDir], realClock,
        plugins: { speaker: [{ library: 'sbc_test_dssi.so', label: 'sbc_test_synth' }, { library: 'sbc_test_dssi.so', label: 'sbc_test_fx' }] },
      });
      try {
        const plugins = rig.service.plugins!;
        plugins.callClassLock = lock;
        await rig.until(4800);
        resetTestDssi(dssiDir);
        // Every configure call now sleeps 3 ms inside the plugin (a wide window for an overlap).
        await plugins.configure('speaker.fx1', 'sleep-us', String(sleepUs));
        const ops: Promise<unknown>[] = [];
        for (let k = 0; k < 40; k++) {
          ops.push(plugins.configure(`speaker.fx${(k % 2) + 1}`, `key${k % 5}`, String(k)));
          ops.push(plugins.selectProgram('speaker.fx1', k % 3 === 2 ? 1 : 0, k % 3 === 2 ? 5 : k % 2));
          ops.push(rig.service.dispatcher.set('sim.speaker.fx2-gain', (k % 10) / 10));
          if (k % 4 === 3) {
            // STOP and START again: every START deactivates and activates the instances (instantiation class, engine thread).
            ops.push(rig.rb.stop().then(() => rig.rb.start()));
          }
          if (k === 20) ops.push(rig.service.controls.set('sim.speaker.chain', JSON.stringify([{ library: 'sbc_test_dssi.so', label: 'sbc_test_synth' }, { library: 'sbc_test_dssi.so', label: 'sbc_test_fx' }])));
          await new Promise((r) => setImmediate(r));
        }
        await Promise.allSettled(ops);
        await rig.until(rig.position() + 4800);
        return { report: readTestDssiReport(dssiDir), xruns: rig.xruns(), mainTid: testDssiThreadId(dssiDir) };
      } finally {
        await rig.close();
      }
    };
    const check = (r: Awaited<ReturnType<typeof storm>>, what: string) => {
      const e = r.report.entries;
      assert.equal(r.report.violations, 0, `${what}: no forbidden overlap (first: ${r.report.firstViolation})`);
      assert.ok(e.configure!.calls >= 40 && e.select_program!.calls >= 40 && e.activate!.calls >= 6, `${what}: ${JSON.stringify(e)}`);
      // The control class on the main thread (where this test runs), or on the engine thread while
      // it builds an instance (the session's configure keys, before activate); the audio class never on the main thread.
      for (const t of e.configure!.threads) assert.ok(t === r.mainTid || e.activate!.threads.includes(t), `${what}: configure on thread ${t}`);
      assert.ok(!e.run_synth!.threads.includes(r.mainTid), `${what}: run_synth never on the main thread`);
      assert.ok(!e.select_program!.threads.includes(r.mainTid), `${what}: select_program (audio class) never on the main thread`);
      assert.ok(!e.activate!.threads.includes(r.mainTid) || e.instantiate!.threads.includes(r.mainTid), `${what}: activate on the main thread only for an instance made there`);
    };
    // Virtual clock: the classes and threads, and 0 xruns (the engine never waits for the lock on its audio path).
    const virtual = await storm(true, false);
    check(virtual, 'virtual clock');
    assert.equal(virtual.xruns, 0, 'virtual clock: 0 xruns');
    // The system's clock, the two threads side by side: no overlap with the lock.
    const real = await storm(true, true);
    check(real, 'system clock');
    console.log(`      (storms: ${virtual.report.entries.configure!.calls} + ${real.report.entries.configure!.calls} configure calls of 3 ms, ${real.report.entries.activate!.calls} activate calls on the system clock; xruns there: ${real.xruns}, which a busy machine can cause and the virtual clock's run rules out for the code)`);
    // The negative control: the same storm on the system's clock without the lock, and the plugin
    // sees an instantiation call beside a configure.
    // Calls of 15 ms there: wider windows, so that the overlap the lock prevents shows on a busy machine too.
    let unlocked = await storm(false, true, 15000);
    // An overlap needs the engine's START to fall inside one of the 3 ms calls: nearly every run has
    // several; a run on a starved machine may have none, so up to four more runs.
    for (let k = 0; k < 4 && unlocked.report.violations === 0; k++) unlocked = await storm(false, true, 15000);
    assert.ok(unlocked.report.violations > 0, `without the lock the overlap shows (${unlocked.report.violations} violations)`);
    console.log(`      (without the lock: ${unlocked.report.violations} violations, the first: ${unlocked.report.firstViolation})`);
  });

  it('a configure set before a restart is replayed at start-up, before the first program selection (the plugin\'s log of calls)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-dssi-state-'));
    const stateFile = path.join(dir, 'state.json');
    const chain = { speaker: [{ library: 'sbc_test_dssi.so', label: 'sbc_test_synth' }] };
    try {
      let rig: ChainRig = await playLoop(silence(4800), { dssiPath: [dssiDir], stateFile, plugins: chain });
      await rig.service.controls.set('sim.speaker.fx1-configure', JSON.stringify({ colour: 'blue' }));
      await rig.service.controls.set('sim.speaker.fx1-program', '0/1');
      await rig.until(rig.position() + 4800);
      await rig.close();
      resetTestDssi(dssiDir);
      rig = await playLoop(silence(4800), { dssiPath: [dssiDir], stateFile, plugins: chain });
      await rig.until(4800);
      const log = readTestDssiReport(dssiDir).log;
      const configured = log.findIndex((l) => l === 'configure colour=blue');
      const selected = log.findIndex((l) => l.startsWith('select_program'));
      assert.ok(configured >= 0, `configure colour=blue replayed (log: ${log.slice(0, 20).join(' | ')})`);
      assert.ok(selected > configured, `before the first select_program (${selected} > ${configured}): ${log.slice(0, 20).join(' | ')}`);
      assert.equal(log[selected], 'select_program 0 1');
      // The program's Level ("half": 0.5) in the model and in the engine's instance after the restart.
      const engineLevel = () => {
        const e = [...rig.service.ringBuffers].find((x) => x.stream.id === 'speaker' && !x.isClosed)!;
        return e.pluginStats()![dssiFieldsAt(0) + DSSI_FIELD.PORTS + 1];
      };
      assert.equal((await rig.service.controls.get('sim.speaker.fx1-level')).value, 0.5);
      assert.equal(engineLevel(), 0.5);
      // A change after the program wins over it at the next start (the program is selected first, then the values in force).
      await rig.service.controls.set('sim.speaker.fx1-level', 0.8);
      await rig.until(rig.position() + 4800);
      await rig.close();
      rig = await playLoop(silence(4800), { dssiPath: [dssiDir], stateFile, plugins: chain });
      await rig.until(4800);
      assert.equal((await rig.service.controls.get('sim.speaker.fx1-level')).value, 0.8);
      assert.ok(Math.abs(engineLevel()! - 0.8) < 1e-6, `the engine's Level ${engineLevel()}`);
      await rig.close();
      // Negative control: a state file written with the program first (by hand) still restores configure first.
      const doc = JSON.parse(readFileSync(stateFile, 'utf8')) as { boards: { sim: { controls: Record<string, unknown> } } };
      // No Level in it: the program selected while no engine runs writes it ("five": 0.75), learnt
      // on an instance made for it, and the engine starts with it.
      const { 'sim.speaker.fx1-program': _p, 'sim.speaker.fx1-configure': _c, 'sim.speaker.fx1-level': _l, ...rest } = doc.boards.sim.controls;
      doc.boards.sim.controls = { 'sim.speaker.fx1-program': '1/5', ...rest, 'sim.speaker.fx1-configure': JSON.stringify({ colour: 'red' }) };
      writeFileSync(stateFile, JSON.stringify(doc));
      resetTestDssi(dssiDir);
      rig = await playLoop(silence(4800), { dssiPath: [dssiDir], stateFile, plugins: chain });
      await rig.until(4800);
      const log2 = readTestDssiReport(dssiDir).log;
      assert.equal((await rig.service.controls.get('sim.speaker.fx1-level')).value, 0.75);
      assert.equal(engineLevel(), 0.75);
      await rig.close();
      assert.ok(log2.indexOf('configure colour=red') >= 0 && log2.indexOf('configure colour=red') < log2.findIndex((l) => l.startsWith('select_program')), log2.slice(0, 20).join(' | '));
      // And without the state file nothing of the session is replayed.
      resetTestDssi(dssiDir);
      rig = await playLoop(silence(4800), { dssiPath: [dssiDir], plugins: chain });
      await rig.until(4800);
      const log3 = readTestDssiReport(dssiDir).log;
      await rig.close();
      assert.ok(!log3.some((l) => l.startsWith('configure colour')) && !log3.some((l) => l.startsWith('select_program')), log3.slice(0, 20).join(' | '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
