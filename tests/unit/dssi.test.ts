/**
 * Issue 30 (part): the DSSI binding (src/dsp/dssi.ts), against Debian's hexter (/usr/lib/dssi) and
 * the instrumented test library (tests/fixtures/dssi/sbc_test_dssi.c, built by
 * tests/support/dssi-fixtures.ts).
 *
 * Expected values come from: dssi.h (DSSI 1.0, dssi-dev) and its RFC.txt; /usr/include/alsa/seq_event.h
 * (alsa-lib 1.2.8) through a C program compiled here that prints sizeof/offsetof; hexter's README
 * (configure keys, programs 0–127) and its source's built-in patch bank (src/dx7_voice_patches.c:
 * the first patch's name bytes spell "Elec Piano"); the test plugin's documented behaviour.
 *
 * Debian packages: dssi-dev, libasound2-dev, ladspa-sdk, hexter, gcc.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import {
  DssiEventBuffer, type DssiInstance, SEQ_EVENT_LAYOUT, SEQ_EVENT_TYPE, attachDssiControl, dssiSearchPath, findDssiLibrary, hasDssiDescriptor, listDssiLibrary, openDssiPlugin,
} from '../../src/dsp/dssi.ts';
import { LadspaError, allocPortMemory } from '../../src/dsp/ladspa.ts';
import { tsWorker } from '../../src/util/worker.ts';
import { TEST_DSSI_FILE, buildTestDssi, compileError, readTestDssiReport, resetTestDssi, testDssiThreadId } from '../support/dssi-fixtures.ts';

const HEXTER = '/usr/lib/dssi/hexter.so';
const RATE = 48000;

function expectLadspaError(fn: () => unknown, code: LadspaError['code'], ...mentions: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LadspaError, `a LadspaError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.match(e.message, typeof m === 'string' ? new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : m);
    return true;
  });
}

describe('DSSI binding (issue 30)', function () {
  this.timeout(60000);
  let dir: string;
  let library: string;

  before(() => {
    dir = buildTestDssi();
    library = path.join(dir, TEST_DSSI_FILE);
  });

  describe('search path and discovery', () => {
    it('DSSI_PATH before LADSPA_PATH, the configured directories before both; the default only when none is set', () => {
      assert.deepEqual(dssiSearchPath({ DSSI_PATH: '/a:/b', LADSPA_PATH: '/c' }, ['/cfg']), ['/cfg', '/a', '/b', '/c']);
      assert.deepEqual(dssiSearchPath({ LADSPA_PATH: '/c' }), ['/c']);
      // dssi_list_plugins (dssi-utils) prints this default when neither variable is set.
      assert.deepEqual(dssiSearchPath({}), ['/usr/local/lib/dssi', '/usr/lib/dssi']);
      const listed = spawnSync('dssi_list_plugins', [], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
      assert.match(listed.stderr, /defaulting to '\/usr\/local\/lib\/dssi:\/usr\/lib\/dssi'/);
      // Relative entries dropped, duplicates once.
      assert.deepEqual(dssiSearchPath({ DSSI_PATH: 'rel:/a:/a/' }), ['/a']);
    });

    it('finds a library by file name only; refuses / and ..', () => {
      assert.equal(findDssiLibrary('hexter', ['/usr/lib/dssi']), HEXTER);
      assert.equal(findDssiLibrary('hexter.so', ['/nowhere', '/usr/lib/dssi']), HEXTER);
      expectLadspaError(() => findDssiLibrary('../dssi/hexter.so', ['/usr/lib/dssi']), 'invalid-argument', 'DSSI library');
      expectLadspaError(() => findDssiLibrary('/usr/lib/dssi/hexter.so', ['/usr/lib/dssi']), 'invalid-argument');
      expectLadspaError(() => findDssiLibrary('hexter', ['/usr/lib/ladspa']), 'not-found', 'DSSI library hexter');
    });

    it('tells DSSI libraries from LADSPA ones', () => {
      assert.equal(hasDssiDescriptor(HEXTER), true);
      assert.equal(hasDssiDescriptor(library), true);
      // Negative control: cmt is LADSPA only (no dssi_descriptor).
      assert.equal(hasDssiDescriptor('/usr/lib/ladspa/cmt.so'), false);
      assert.equal(hasDssiDescriptor('/nonexistent/x.so'), false);
    });

    it('lists the test library: both plugins, their LADSPA parts and which DSSI functions exist', () => {
      const list = listDssiLibrary(library);
      assert.deepEqual(list.map((p) => p.ladspa.label), ['sbc_test_synth', 'sbc_test_fx']);
      const [synth, fx] = list;
      assert.deepEqual({ ...synth, ladspa: undefined }, {
        ladspa: undefined, apiVersion: 1, configure: true, getProgram: true, selectProgram: true, getMidiControllerForPort: true,
        runSynth: true, runSynthAdding: false, runMultipleSynths: false, runMultipleSynthsAdding: false,
      });
      assert.deepEqual(synth!.ladspa.ports.map((p) => [p.index, p.name, p.direction, p.type, p.defaultHint, p.lower, p.upper]), [
        [0, 'Output', 'output', 'audio', 'none', undefined, undefined],
        [1, 'Level', 'input', 'control', '1', 0, 1],
        [2, 'Program Value', 'input', 'control', '0', 0, 1000],
      ]);
      assert.equal(synth!.ladspa.hardRtCapable, true);
      assert.equal(synth!.ladspa.index, 0);
      assert.deepEqual([fx!.configure, fx!.getProgram, fx!.selectProgram, fx!.runSynth, fx!.ladspa.index], [true, false, false, false, 1]);
    });

    it('a missing label names the library and lists the labels it has', () => {
      expectLadspaError(() => openDssiPlugin(library, 'nope'), 'label-not-found', library, '"nope"', 'sbc_test_synth, sbc_test_fx');
      expectLadspaError(() => openDssiPlugin('/usr/lib/ladspa/cmt.so', 'amp_mono'), 'no-descriptor', 'dssi_descriptor');
      expectLadspaError(() => openDssiPlugin('relative.so', 'x'), 'invalid-argument', 'not absolute');
    });
  });

  describe('the event buffer and snd_seq_event_t (alsa/seq_event.h on this machine)', () => {
    let probe: Record<string, number>;
    before(() => {
      const tmp = mkdtempSync(path.join(tmpdir(), 'sbc-seq-layout-'));
      try {
        const src = path.join(tmp, 'layout.c');
        writeFileSync(src, [
          '#include <stddef.h>',
          '#include <stdio.h>',
          '#include <alsa/asoundlib.h>',
          '#define F(name, expr) printf("%s\\"%s\\":%ld", first ? "" : ",", name, (long)(expr)), first = 0',
          'int main(void) { int first = 1; printf("{");',
          '  F("size", sizeof(snd_seq_event_t)); F("type", offsetof(snd_seq_event_t, type)); F("flags", offsetof(snd_seq_event_t, flags));',
          '  F("tag", offsetof(snd_seq_event_t, tag)); F("queue", offsetof(snd_seq_event_t, queue)); F("time", offsetof(snd_seq_event_t, time));',
          '  F("tick", offsetof(snd_seq_event_t, time.tick)); F("timeSize", sizeof(snd_seq_timestamp_t));',
          '  F("source", offsetof(snd_seq_event_t, source)); F("dest", offsetof(snd_seq_event_t, dest)); F("data", offsetof(snd_seq_event_t, data));',
          '  F("dataSize", sizeof(((snd_seq_event_t *)0)->data));',
          '  F("noteChannel", offsetof(snd_seq_event_t, data.note.channel)); F("noteNote", offsetof(snd_seq_event_t, data.note.note));',
          '  F("noteVelocity", offsetof(snd_seq_event_t, data.note.velocity)); F("noteOffVelocity", offsetof(snd_seq_event_t, data.note.off_velocity));',
          '  F("noteDuration", offsetof(snd_seq_event_t, data.note.duration)); F("controlChannel", offsetof(snd_seq_event_t, data.control.channel));',
          '  F("controlParam", offsetof(snd_seq_event_t, data.control.param)); F("controlValue", offsetof(snd_seq_event_t, data.control.value));',
          '  F("NOTE", SND_SEQ_EVENT_NOTE); F("NOTEON", SND_SEQ_EVENT_NOTEON); F("NOTEOFF", SND_SEQ_EVENT_NOTEOFF); F("KEYPRESS", SND_SEQ_EVENT_KEYPRESS);',
          '  F("CONTROLLER", SND_SEQ_EVENT_CONTROLLER); F("PGMCHANGE", SND_SEQ_EVENT_PGMCHANGE); F("CHANPRESS", SND_SEQ_EVENT_CHANPRESS);',
          '  F("PITCHBEND", SND_SEQ_EVENT_PITCHBEND); F("tickRelFlags", SND_SEQ_TIME_STAMP_TICK | SND_SEQ_TIME_MODE_REL);',
          '  printf("}\\n"); return 0; }',
        ].join('\n'));
        const exe = path.join(tmp, 'layout');
        try {
          execFileSync('cc', ['-o', exe, src], { stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (e) {
          throw compileError('seq_event layout probe', src, e);
        }
        probe = JSON.parse(execFileSync(exe, { encoding: 'utf8' })) as Record<string, number>;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    /** The fields of `layout` that differ from the C header's answer. */
    function layoutDiffers(layout: Record<string, number>): string[] {
      return Object.entries(layout).filter(([k, v]) => probe[k] !== v).map(([k, v]) => `${k}: ours ${v}, header ${probe[k]}`);
    }

    it('the TS layout constants are the header\'s sizeof/offsetof, the event types its enum', () => {
      assert.deepEqual(layoutDiffers(SEQ_EVENT_LAYOUT), []);
      assert.deepEqual(Object.entries(SEQ_EVENT_TYPE).filter(([k, v]) => probe[k] !== v), []);
      assert.equal(probe.tick, SEQ_EVENT_LAYOUT.time);
      assert.equal(probe.dataSize, 12);
      // Negative control: one offset moved is caught.
      assert.deepEqual(layoutDiffers({ ...SEQ_EVENT_LAYOUT, controlValue: 20 }), ['controlValue: ours 20, header 24']);
    });

    it('writes events as the header lays them out: type, tick-relative flags, tick, note/velocity, param/value', () => {
      const buf = new DssiEventBuffer(4);
      const bytes = new DataView(koffiView(buf.address, 4 * SEQ_EVENT_LAYOUT.size));
      assert.equal(buf.noteOn(17, 3, 60, 100), true);
      assert.equal(buf.controller(20, 1, 7, 99), true);
      assert.equal(buf.pitchBend(21, 2, -8192), true);
      assert.equal(buf.count, 3);
      const at = (i: number, off: number) => i * probe.size! + off;
      assert.equal(bytes.getUint8(at(0, probe.type!)), probe.NOTEON);
      assert.equal(bytes.getUint8(at(0, probe.flags!)), probe.tickRelFlags);
      assert.equal(bytes.getUint32(at(0, probe.tick!), true), 17);
      assert.deepEqual([bytes.getUint8(at(0, probe.noteChannel!)), bytes.getUint8(at(0, probe.noteNote!)), bytes.getUint8(at(0, probe.noteVelocity!))], [3, 60, 100]);
      assert.equal(bytes.getUint8(at(1, probe.type!)), probe.CONTROLLER);
      assert.deepEqual([bytes.getUint8(at(1, probe.controlChannel!)), bytes.getUint32(at(1, probe.controlParam!), true), bytes.getInt32(at(1, probe.controlValue!), true)], [1, 7, 99]);
      assert.equal(bytes.getUint8(at(2, probe.type!)), probe.PITCHBEND);
      assert.equal(bytes.getInt32(at(2, probe.controlValue!), true), -8192);
    });

    it('a full buffer refuses (false) and does not grow; events stay in tick order; velocity 0 becomes NOTE_OFF', () => {
      const buf = new DssiEventBuffer(3);
      const bytes = new DataView(koffiView(buf.address, 3 * SEQ_EVENT_LAYOUT.size));
      assert.equal(buf.noteOn(10, 0, 60, 90), true);
      assert.equal(buf.noteOn(30, 0, 62, 90), true);
      assert.equal(buf.noteOn(20, 0, 61, 0), true); // written between the two, as a NOTE_OFF
      assert.equal(buf.noteOn(5, 0, 63, 90), false);
      assert.equal(buf.channelPressure(40, 0, 1), false);
      assert.equal(buf.count, 3);
      assert.equal(buf.capacity, 3);
      const tick = (i: number) => bytes.getUint32(i * SEQ_EVENT_LAYOUT.size + SEQ_EVENT_LAYOUT.time, true);
      const type = (i: number) => bytes.getUint8(i * SEQ_EVENT_LAYOUT.size + SEQ_EVENT_LAYOUT.type);
      assert.deepEqual([tick(0), tick(1), tick(2)], [10, 20, 30]);
      assert.deepEqual([type(0), type(1), type(2)], [probe.NOTEON, probe.NOTEOFF, probe.NOTEON]);
      buf.clear();
      assert.equal(buf.count, 0);
      assert.equal(buf.noteOn(5, 0, 63, 90), true);
      // Bad arguments throw (a caller's bug); bank select is selectProgram's (dssi.h).
      expectLadspaError(() => buf.noteOn(0, 16, 60, 1), 'invalid-argument', 'channel');
      expectLadspaError(() => buf.noteOn(0, 0, 128, 1), 'invalid-argument', 'noteOn');
      expectLadspaError(() => buf.controller(0, 0, 0, 1), 'invalid-argument', 'bank select');
      expectLadspaError(() => buf.pitchBend(0, 0, 8192), 'invalid-argument', 'pitchBend');
    });
  });

  describe('the instrumented synth (sbc_test_synth)', () => {
    let synth: DssiInstance;
    let out: Float32Array;
    let level: Float32Array;
    let programValue: Float32Array;
    const FRAMES = 64;

    beforeEach(() => {
      resetTestDssi(dir);
      synth = openDssiPlugin(library, 'sbc_test_synth').instantiate(RATE);
      out = allocPortMemory(FRAMES);
      level = allocPortMemory(1);
      programValue = allocPortMemory(1);
      level[0] = 1;
      synth.connect(0, out);
      synth.connect(1, level);
      synth.connect(2, programValue);
      synth.activate();
    });
    afterEach(() => synth.cleanup());

    it('lists exactly its three programs', () => {
      assert.deepEqual(synth.programs(), [
        { bank: 0, program: 0, name: 'zero' },
        { bank: 0, program: 1, name: 'half' },
        { bank: 1, program: 5, name: 'five' },
      ]);
      assert.deepEqual(synth.getProgram(2), { bank: 1, program: 5, name: 'five' });
      assert.equal(synth.getProgram(3), undefined);
    });

    it('selectProgram rewrites the input ports; an unknown program changes nothing (dssi.h)', () => {
      synth.selectProgram(0, 1);
      assert.deepEqual([level[0], programValue[0]], [0.5, 1]);
      synth.selectProgram(1, 5);
      assert.deepEqual([level[0], programValue[0]], [0.75, 105]);
      // Negative control: bank 1 program 1 does not exist; the ports keep the last program's values.
      synth.selectProgram(1, 1);
      assert.deepEqual([level[0], programValue[0]], [0.75, 105]);
    });

    it('configure: NULL is undefined, the plugin\'s error text is returned (and freed); the log keeps configure/select order', () => {
      assert.equal(synth.configure('colour', 'blue'), undefined);
      synth.selectProgram(0, 1);
      assert.equal(synth.configure('fail', 'x y'), "sbc_test_dssi: configure fail refused value 'x y'");
      const log = readTestDssiReport(dir).log;
      const tail = log.slice(log.indexOf('configure colour=blue'));
      assert.deepEqual(tail, ['configure colour=blue', 'select_program 0 1', 'configure fail=x y']);
    });

    it('an event at tick k changes the output at frame k exactly (k−1 still the old value)', () => {
      const events = new DssiEventBuffer(8);
      for (const k of [1, 17, 63]) {
        events.clear();
        events.noteOff(0, 0, 60);
        events.noteOn(k, 0, 60, 127);
        synth.runSynth(FRAMES, events);
        assert.equal(out[k - 1], 0, `k=${k}: frame k−1`);
        assert.equal(out[k], 1, `k=${k}: frame k`);
        assert.equal(out[FRAMES - 1], 1);
      }
      // Held across blocks without events; then a NOTE_OFF at 9 silences from 9 on.
      events.clear();
      synth.runSynth(FRAMES, events);
      assert.deepEqual([out[0], out[FRAMES - 1]], [1, 1]);
      events.noteOff(9, 0, 60);
      synth.runSynth(FRAMES, events);
      assert.deepEqual([out[8], out[9], out[FRAMES - 1]], [1, 0, 0]);
      // Level × velocity / 127, with the Level a program wrote.
      events.clear();
      synth.selectProgram(0, 0);
      events.noteOn(0, 0, 60, 100);
      synth.runSynth(FRAMES, events);
      assert.equal(out[0], Math.fround(0.25 * Math.fround(100 / 127)));
      // An event past the block is refused.
      events.clear();
      events.noteOn(FRAMES, 0, 60, 1);
      expectLadspaError(() => synth.runSynth(FRAMES, events), 'invalid-argument', 'past the block');
      const report = readTestDssiReport(dir);
      assert.equal(report.violations, 0, report.firstViolation ?? '');
      assert.equal(report.events, 3 * 2 + 1 + 1);
    });

    it('the MIDI controller a port asks for (DSSI_CC / DSSI_NRPN decoded)', () => {
      assert.deepEqual(synth.midiControllerForPort(1), { cc: 7 });
      assert.equal(synth.midiControllerForPort(2), undefined); // DSSI_NONE
      expectLadspaError(() => synth.midiControllerForPort(0), 'invalid-argument', 'not an input control port');
      const fx = openDssiPlugin(library, 'sbc_test_fx').instantiate(RATE);
      try {
        assert.deepEqual(fx.midiControllerForPort(2), { cc: 11, nrpn: 1069 });
      } finally {
        fx.cleanup();
      }
    });

    it('after cleanup every call is refused and handleAddress is 0n', () => {
      const other = openDssiPlugin(library, 'sbc_test_synth').instantiate(RATE);
      assert.ok(other.handleAddress > 0n);
      other.cleanup();
      assert.equal(other.handleAddress, 0n);
      expectLadspaError(() => other.configure('a', 'b'), 'invalid-argument', 'cleaned up');
      expectLadspaError(() => other.selectProgram(0, 0), 'invalid-argument', 'after cleanup');
      expectLadspaError(() => other.runSynth(64, new DssiEventBuffer(1)), 'invalid-argument', 'after cleanup');
    });
  });

  describe('the instrumented effect (sbc_test_fx): no run_synth', () => {
    it('runSynth without events is run(); with events it is refused', () => {
      const fx = openDssiPlugin(library, 'sbc_test_fx').instantiate(RATE);
      const buf = allocPortMemory(8);
      const gain = allocPortMemory(1);
      gain[0] = 0.5;
      buf.set([1, 2, 3, 4, 5, 6, 7, 8]);
      fx.connect(0, buf);
      fx.connect(1, buf); // in place: the plugin does not set INPLACE_BROKEN
      fx.connect(2, gain);
      fx.activate();
      const events = new DssiEventBuffer(2);
      fx.runSynth(8, events);
      assert.deepEqual(Array.from(buf), [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
      events.noteOn(0, 0, 60, 1);
      expectLadspaError(() => fx.runSynth(8, events), 'invalid-argument', 'no run_synth');
      assert.equal(fx.configure('k', 'v'), undefined);
      fx.cleanup();
    });
  });

  describe('threads: control calls from the main thread on an instance a worker made', () => {
    function startWorker(mode: 'run' | 'overlap', flags: Int32Array): { w: Worker; ready: Promise<{ handle: bigint; tid: number }>; done: Promise<{ runs: number }> } {
      const w = tsWorker(new URL('./dssi-worker-child.ts', import.meta.url), { workerData: { dir, library, label: 'sbc_test_synth', mode, flags } });
      let readyResolve!: (v: { handle: bigint; tid: number }) => void;
      let doneResolve!: (v: { runs: number }) => void;
      let fail!: (e: Error) => void;
      const ready = new Promise<{ handle: bigint; tid: number }>((res, rej) => { readyResolve = res; fail = rej; });
      const done = new Promise<{ runs: number }>((res, rej) => {
        doneResolve = res;
        const prior = fail;
        fail = (e) => { prior(e); rej(e); };
      });
      done.catch(() => undefined);
      w.on('message', (m: { kind: string; handle?: bigint; tid?: number; runs?: number }) => {
        if (m.kind === 'ready') readyResolve({ handle: m.handle!, tid: m.tid! });
        else if (m.kind === 'done') doneResolve({ runs: m.runs! });
      });
      w.once('error', (e) => fail(e));
      w.once('exit', (code) => fail(new Error(`worker exited (${code}) before reporting`)));
      return { w, ready, done };
    }

    it('attachDssiControl works beside the worker\'s run_synth; the report has both threads and no violation', async () => {
      resetTestDssi(dir);
      const flags = new Int32Array(new SharedArrayBuffer(16));
      const { ready, done } = startWorker('run', flags);
      const { handle, tid: workerTid } = await ready;
      const mainTid = testDssiThreadId(dir);
      assert.notEqual(mainTid, workerTid);
      const control = attachDssiControl(library, 'sbc_test_synth', handle);
      assert.equal(control.handleAddress, handle);
      // Wait until the worker is running, then overlap: 2 ms configure calls while it runs (RFC: allowed).
      while (Atomics.load(flags, 1) < 100) await new Promise((r) => setTimeout(r, 1));
      const runsBefore = Atomics.load(flags, 1);
      assert.equal(control.configure('sleep-us', '2000'), undefined);
      for (let i = 0; i < 10; i++) assert.equal(control.configure('storm', String(i)), undefined);
      assert.equal(control.configure('fail', 'main'), "sbc_test_dssi: configure fail refused value 'main'");
      assert.deepEqual(control.programs().map((p) => p.name), ['zero', 'half', 'five']);
      assert.deepEqual(control.midiControllerForPort(1), { cc: 7 });
      const runsDuring = Atomics.load(flags, 1) - runsBefore;
      Atomics.store(flags, 0, 1);
      const { runs } = await done;
      const report = readTestDssiReport(dir);
      assert.equal(report.violations, 0, report.firstViolation ?? '');
      assert.ok(runsDuring > 0, 'the worker ran while the main thread configured');
      for (const ep of ['instantiate', 'activate', 'connect_port', 'run_synth', 'deactivate', 'cleanup']) assert.deepEqual(report.entries[ep]!.threads, [workerTid], ep);
      for (const ep of ['configure', 'get_program', 'get_midi_controller_for_port']) assert.deepEqual(report.entries[ep]!.threads, [mainTid], ep);
      assert.equal(report.entries.run_synth!.calls, runs);
      assert.equal(report.entries.configure!.calls, 12);
      // Run calls are logged for the first few only: the log keeps the configure order.
      assert.ok(report.log.filter((l) => l.startsWith('run_synth')).length <= 3, JSON.stringify(report.log));
      assert.deepEqual(report.log.filter((l) => l.startsWith('configure')).slice(0, 3), ['configure sleep-us=2000', 'configure storm=0', 'configure storm=1']);
      // attachDssiControl cannot run or clean up: it has no such methods.
      assert.deepEqual(Object.keys(control).sort(), ['configure', 'getProgram', 'handleAddress', 'info', 'midiControllerForPort', 'programs']);
      expectLadspaError(() => attachDssiControl(library, 'sbc_test_synth', 0n), 'invalid-argument', 'handle address');
    });

    it('negative control: deactivate in the worker during a slow configure on the main thread is recorded as a violation', async () => {
      resetTestDssi(dir);
      const flags = new Int32Array(new SharedArrayBuffer(16));
      const { ready, done } = startWorker('overlap', flags);
      const { handle } = await ready;
      const control = attachDssiControl(library, 'sbc_test_synth', handle);
      control.configure('sleep-us', '400000');
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
      control.configure('slow', '1'); // 400 ms inside; the worker deactivates after 50 ms
      await done;
      const report = readTestDssiReport(dir);
      assert.ok(report.violations >= 1, JSON.stringify(report));
      assert.equal(report.firstViolation, 'deactivate entered while configure was running');
    });

    it('runSynth with events allocates nothing: no scavenge in 200,000 blocks (negative control: 64 bytes a block are seen)', async function () {
      this.timeout(120000);
      const measure = (allocate: boolean) => new Promise<{ scavenges: number; output: number[] }>((resolve, reject) => {
        const w = tsWorker(new URL('./dssi-worker-child.ts', import.meta.url), {
          workerData: { dir, library, label: 'sbc_test_synth', mode: 'alloc', flags: new Int32Array(new SharedArrayBuffer(16)), calls: 200000, allocate },
          resourceLimits: { maxYoungGenerationSizeMb: 1 },
        });
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited (${code}) before reporting`)));
      });
      const clean = await measure(false);
      // Note on at 3 (level 1, velocity 100): frames 0–2 silent, 3 on.
      assert.deepEqual(clean.output, [0, 0, 0, Math.fround(100 / 127)]);
      assert.equal(clean.scavenges, 0, JSON.stringify(clean));
      const dirty = await measure(true);
      assert.ok(dirty.scavenges > 0, JSON.stringify(dirty));
    });
  });

  describe('hexter (Debian hexter, /usr/lib/dssi)', () => {
    let hexter: DssiInstance;
    let out: Float32Array;
    const BLOCK = 256;

    beforeEach(() => {
      hexter = openDssiPlugin(HEXTER, 'hexter').instantiate(RATE);
      out = allocPortMemory(BLOCK);
      const tuning = allocPortMemory(1);
      const volume = allocPortMemory(1);
      tuning[0] = 440;
      volume[0] = 0;
      hexter.connect(0, out);
      hexter.connect(1, tuning);
      hexter.connect(2, volume);
    });
    afterEach(() => hexter.cleanup());

    it('loads: one plugin, a synth with 1 audio out and ports Tuning and Volume, not hard-RT capable', () => {
      const [info, ...rest] = listDssiLibrary(HEXTER);
      assert.equal(rest.length, 0);
      assert.equal(info!.ladspa.label, 'hexter');
      assert.deepEqual(info!.ladspa.ports.map((p) => [p.name, p.direction, p.type]), [['Output', 'output', 'audio'], ['Tuning', 'input', 'control'], ['Volume', 'input', 'control']]);
      assert.equal(info!.ladspa.hardRtCapable, false);
      assert.deepEqual([info!.runSynth, info!.configure, info!.getProgram, info!.selectProgram], [true, true, true, true]);
    });

    it('lists its 128 built-in programs; the first is "Elec Piano"', () => {
      const programs = hexter.programs();
      // README: programs 0 to 127; src/dx7_voice_patches.c: the first patch's name is "Elec Piano".
      assert.equal(programs.length, 128);
      assert.deepEqual(programs[0], { bank: 0, program: 0, name: 'Elec Piano' });
      for (const p of programs) assert.ok(typeof p.name === 'string' && p.name.length > 0, JSON.stringify(p));
    });

    it('configure of its documented keys returns no error (negative control: an unknown key does)', () => {
      assert.equal(hexter.configure('polyphony', '8'), undefined);
      assert.equal(hexter.configure('monophonic', 'off'), undefined);
      const err = hexter.configure('no-such-key', '1');
      assert.ok(typeof err === 'string' && err.length > 0, String(err));
    });

    /** Peak |sample| of each block of `blocks`, with `events` in the first. */
    function play(blocks: number, events: DssiEventBuffer): number[] {
      const peaks: number[] = [];
      for (let b = 0; b < blocks; b++) {
        hexter.runSynth(BLOCK, events);
        events.clear();
        let peak = 0;
        for (let i = 0; i < BLOCK; i++) peak = Math.max(peak, Math.abs(out[i]!));
        peaks.push(peak);
      }
      return peaks;
    }

    it('note 60 velocity 100 sounds; after the note-off it is silent within 1.5 s (negative control: held, it still sounds then)', () => {
      hexter.activate();
      hexter.selectProgram(0, 0);
      const events = new DssiEventBuffer(4);
      events.noteOn(0, 0, 60, 100);
      const onPeaks = play(40, events); // 0.21 s
      assert.ok(Math.max(...onPeaks) > 0.01, `peak ${Math.max(...onPeaks)}`);
      // Release: hexter ends a voice when its envelopes finish (output exactly 0 after that). The
      // first patch's operators release at DX7 rates 50–78 of 0–99 (R4 in its packed bytes in
      // hexter's src/dx7_voice_patches.c), mid-range to fast; measured here the voice ends 0.6 s
      // after the note-off. Rendering counts samples, not wall time, so machine load cannot move
      // it; 1.5 s (282 blocks) is 2.5× that, room for another hexter build's envelope tables.
      const afterBlocks = Math.ceil((1.5 * RATE) / BLOCK);
      events.noteOff(0, 0, 60);
      const offPeaks = play(afterBlocks + 10, events);
      assert.ok(offPeaks.slice(afterBlocks).every((p) => p === 0), `still ${Math.max(...offPeaks.slice(afterBlocks))} 1.5 s after the note-off`);
      // Negative control: the same note held on a fresh instance still sounds at the same time point.
      hexter.cleanup();
      hexter = openDssiPlugin(HEXTER, 'hexter').instantiate(RATE);
      const tuning = allocPortMemory(1);
      const volume = allocPortMemory(1);
      tuning[0] = 440;
      hexter.connect(0, out);
      hexter.connect(1, tuning);
      hexter.connect(2, volume);
      hexter.activate();
      hexter.selectProgram(0, 0);
      events.noteOn(0, 0, 60, 100);
      const held = play(40 + afterBlocks + 10, events);
      assert.ok(held.slice(40 + afterBlocks).every((p) => p > 1e-3), `held: ${held.slice(40 + afterBlocks).join(' ')}`);
    });
  });
});

/** A view of native memory (for reading what the event buffer wrote). */
function koffiView(address: bigint, bytes: number): ArrayBuffer {
  return koffi.view(address, bytes);
}
