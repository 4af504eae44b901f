/**
 * The service's knobs (src/control/knobs.ts; docs/CONTROL.md, "Knobs") on the sim board: the board
 * file's knob sections checked against the board's controls when the service starts (errors name
 * the file and the field), learned MIDI mappings kept beside the state file and restored at the
 * next start, a bad learned-mappings file ignored with a line saying why, and the channel's knob
 * commands. MIDI comes from the simulated sequencer (src/hal/sim/midi.ts); the real one is in
 * tests/hil/guest/knobs.hil.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { BoardFileError } from '../../src/board/schema.ts';
import { handleControlRequest } from '../../src/control/channel.ts';
import type { SimHal } from '../../src/hal/sim/index.ts';
import { flushMicrotasks } from '../../src/hal/sim/index.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('knobs in the stream service (sim board)', function () {
  this.timeout(30000);
  let tmp: string;
  const open: { rt: BoardRuntime; service?: StreamService }[] = [];

  beforeEach(() => { tmp = mkdtempSync(path.join(tmpdir(), 'sbc-knobs-')); });
  afterEach(async () => {
    for (const o of open.splice(0)) {
      await o.service?.close();
      await o.rt.close();
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A copy of board/sim.json with `patch` applied, as tmp/<name>.json. */
  const boardFile = (name: string, patch: (b: Record<string, unknown>) => void): string => {
    const b = JSON.parse(readFileSync(path.join(ROOT, 'board/sim.json'), 'utf8')) as Record<string, unknown>;
    b.name = name;
    patch(b);
    const file = path.join(tmp, `${name}.json`);
    writeFileSync(file, JSON.stringify(b));
    return file;
  };
  const serve = async (file: string, opts: { stateFile?: string; log?: (l: string) => void } = {}) => {
    const rt = await openBoard(loadBoard(file));
    const o: { rt: BoardRuntime; service?: StreamService } = { rt };
    open.push(o);
    o.service = await startStreamService(rt, { runtimeDir: path.join(tmp, 'run'), ringBuffer: false, ...opts });
    return o as { rt: BoardRuntime; service: StreamService };
  };
  const request = (s: StreamService, req: Record<string, unknown>) => handleControlRequest(s.controls, JSON.stringify(req), undefined, { knobs: s.knobs });

  it('refuses a mapping or an encoder naming a control the board does not have, naming the file and the field', async () => {
    const badMap = boardFile('knobs-bad-map', (b) => { b.midi = { map: [{ channel: 1, cc: 7, control: 'speaker.volume' }] }; });
    await assert.rejects(serve(badMap), (e: unknown) => e instanceof BoardFileError && e.field === 'midi.map[0].control' &&
      e.message.includes('knobs-bad-map.json: midi.map[0].control: expected a writable volume or switch or enum control of board knobs-bad-map ("speaker.gain"') && /got "speaker\.volume"/.test(e.message));
    const badCurve = boardFile('knobs-bad-curve', (b) => { b.midi = { map: [{ channel: 1, cc: 7, control: 'speaker.mute', curve: 'db' }] }; });
    await assert.rejects(serve(badCurve), (e: unknown) => e instanceof BoardFileError && e.field === 'midi.map[0].curve' && /a switch: "switch" or "toggle"/.test(e.message));
    const badPush = boardFile('knobs-bad-push', (b) => { (b.encoder as Record<string, unknown>).push = { toggle: 'speaker.gain' }; });
    await assert.rejects(serve(badPush), (e: unknown) => e instanceof BoardFileError && e.field === 'encoder.push.toggle' && /expected a writable switch control/.test(e.message));
    const readOnly = boardFile('knobs-read-only', (b) => { (b.encoder as Record<string, unknown>).control = 'board.jack-detect'; });
    await assert.rejects(serve(readOnly), (e: unknown) => e instanceof BoardFileError && e.field === 'encoder.control');
    // The control: the sim board itself starts.
    const ok = await serve(boardFile('knobs-ok', () => {}));
    assert.equal(ok.service.knobs.info().encoder?.control, 'knobs-ok.speaker.gain');
  });

  it('a learned mapping is kept beside the state file and restored at the next start; unmap removes it; a board file mapping cannot be unmapped', async () => {
    const file = boardFile('knobs-learn', () => {});
    const stateFile = path.join(tmp, 'state', 'state.json');
    const learnedFile = path.join(tmp, 'state', 'midi', 'knobs-learn.json');
    let o = await serve(file, { stateFile });
    const seq = (o.rt.hal as SimHal).simMidi();
    const src = seq.addSource('test keyboard', 'out');
    const port = o.service.knobs.info().midi!.address;
    assert.equal(await request(o.service, { cmd: 'midi-connect', source: 'test keyboard' }).then((r) => r.ok && r.source), '20:0');
    assert.deepEqual(o.service.knobs.info().midi!.connections, ['20:0'], `connected to ${port}`);
    const learning = request(o.service, { cmd: 'midi-learn', control: 'headphone.mute', timeoutMs: 5000 });
    await flushMicrotasks();
    src.controlChange(4, 30, 0); // channel 5, CC 30
    const answer = await learning;
    assert.ok(answer.ok, JSON.stringify(answer));
    assert.deepEqual((answer as unknown as { mapping: unknown }).mapping, {
      channel: 5, cc: 30, resolution: 7, control: 'headphone.mute', curve: 'switch', invert: false, controlId: 'knobs-learn.headphone.mute', from: 'learned',
    });
    const onDisk = JSON.parse(readFileSync(learnedFile, 'utf8')) as { format: string; version: number; board: string; map: unknown[] };
    assert.deepEqual([onDisk.format, onDisk.version, onDisk.board, onDisk.map.length], ['sbc-audio-midi', 1, 'knobs-learn', 1]);
    await o.service.close();
    await o.rt.close();
    open.splice(0);

    // The next start: the mapping is back, and drives its control.
    o = await serve(file, { stateFile });
    const m = o.service.knobs.info().midi!.mappings.find((x) => x.channel === 5 && x.cc === 30);
    assert.equal(m?.from, 'learned');
    const src2 = (o.rt.hal as SimHal).simMidi().addSource('test keyboard', 'out');
    await o.service.knobs.connect('test keyboard');
    src2.controlChange(4, 30, 127);
    for (let i = 0; i < 50 && (await o.service.controls.get('knobs-learn.headphone.mute')).value !== true; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await o.service.controls.get('knobs-learn.headphone.mute')).value, true);
    // Unmap: the learned one goes (and from the file); the board file's CC 7 is refused, saying where it comes from.
    assert.deepEqual(await request(o.service, { cmd: 'midi-unmap', channel: 5, cc: 30 }), { id: null, ok: true, removed: true });
    assert.deepEqual((JSON.parse(readFileSync(learnedFile, 'utf8')) as { map: unknown[] }).map, []);
    const refused = await request(o.service, { cmd: 'midi-unmap', channel: 1, cc: 7 });
    assert.equal(refused.ok, false);
    assert.match((refused as { error: string }).error, /midi unmap: channel 1 cc 7 is mapped by the board file .*knobs-learn\.json \(midi\.map\): edit the file to remove it/);
    // Negative control: nothing learned there.
    assert.deepEqual(await request(o.service, { cmd: 'midi-unmap', channel: 5, cc: 31 }), { id: null, ok: true, removed: false });
  });

  it('a learned-mappings file that is not ours, or names a control the board lacks, is not used, and the log says why', async () => {
    const file = boardFile('knobs-badfile', () => {});
    const stateFile = path.join(tmp, 'state.json');
    const learnedFile = path.join(tmp, 'midi', 'knobs-badfile.json');
    const lines: string[] = [];
    rmSync(path.dirname(learnedFile), { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.dirname(learnedFile), { recursive: true });
    writeFileSync(learnedFile, JSON.stringify({ format: 'sbc-audio-midi', version: 1, board: 'knobs-badfile', map: [{ channel: 1, cc: 200, control: 'speaker.gain' }] }));
    let o = await serve(file, { stateFile, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes(learnedFile) && /map\[0\]\.cc: expected a controller number 0\.\.127, got 200/.test(l)), lines.join('\n'));
    assert.equal(o.service.knobs.info().midi!.mappings.filter((m) => m.from === 'learned').length, 0);
    await o.service.close();
    await o.rt.close();
    open.splice(0);
    lines.length = 0;
    writeFileSync(learnedFile, JSON.stringify({ format: 'sbc-audio-midi', version: 1, board: 'knobs-badfile', map: [{ channel: 1, cc: 40, control: 'speaker.bass' }, { channel: 1, cc: 41, control: 'speaker.mute' }] }));
    o = await serve(file, { stateFile, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /learned mapping dropped: .*map\[0\]\.control: expected a writable volume or switch or enum control .*got "speaker\.bass"/.test(l)), lines.join('\n'));
    // The good one stays.
    assert.deepEqual(o.service.knobs.info().midi!.mappings.filter((m) => m.from === 'learned').map((m) => m.cc), [41]);
  });

  it('the channel\'s knob commands refuse bad fields, naming them; without MIDI they say so', async () => {
    const o = await serve(boardFile('knobs-cmds', () => {}));
    const bad = async (req: Record<string, unknown>, re: RegExp) => {
      const r = await request(o.service, req);
      assert.equal(r.ok, false, JSON.stringify(req));
      assert.match((r as { error: string }).error, re);
    };
    await bad({ cmd: 'midi-learn', control: 'speaker.gain', timeoutMs: 0 }, /midi-learn: timeoutMs: expected an integer from 1 to 600000, got 0/);
    await bad({ cmd: 'midi-learn', control: 'speaker.gain', curve: 'log' }, /midi-learn: curve: expected one of db, cubic, switch, toggle, zones, got "log"/);
    await bad({ cmd: 'midi-learn', control: 'speaker.nothing' }, /^midi-learn: control: expected a writable volume or switch or enum control of board knobs-cmds .*got "speaker\.nothing"$/);
    await bad({ cmd: 'midi-learn', control: 'speaker.mute', curve: 'db' }, /^midi-learn: curve: expected a curve for knobs-cmds\.speaker\.mute, a switch: "switch" or "toggle"/);
    await bad({ cmd: 'midi-unmap', channel: 0, cc: 7 }, /midi-unmap: channel: expected 1\.\.16 or "any", got 0/);
    await bad({ cmd: 'midi-connect', source: 'no such keyboard' }, /no such keyboard/);
    await bad({ cmd: 'knobs', extra: 1 }, /knobs: unknown field "extra"/);
    // A learn that times out says so.
    await bad({ cmd: 'midi-learn', control: 'speaker.gain', timeoutMs: 50 }, /^midi-learn: midi learn knobs-cmds\.speaker\.gain: no controller moved within 50 ms$/);
    // Without MIDI (midi: false): the encoder still works, MIDI commands say why they cannot.
    const none = await serve(boardFile('knobs-nomidi', () => {}), {});
    await none.service.close();
    open.pop();
    const rt = await openBoard(loadBoard(boardFile('knobs-nomidi2', () => {})));
    const s = await startStreamService(rt, { runtimeDir: path.join(tmp, 'run2'), ringBuffer: false, midi: false });
    open.push({ rt, service: s });
    assert.equal(s.knobs.info().midi, null);
    assert.notEqual(s.knobs.info().encoder, null);
    const r = await handleControlRequest(s.controls, JSON.stringify({ cmd: 'midi-learn', control: 'speaker.gain' }), undefined, { knobs: s.knobs });
    assert.match((r as { error: string }).error, /has no MIDI input in this service/);
  });

  it('a learn ends when its connection closes or the service stops: a knob touched later is not mapped', async () => {
    const o = await serve(boardFile('knobs-cancel', () => {}));
    const src = (o.rt.hal as SimHal).simMidi().addSource('test keyboard', 'out');
    await o.service.knobs.connect('test keyboard');
    // The asker's connection closes (its signal aborts): the learn is cancelled.
    const gone = new AbortController();
    const learning = o.service.knobs.learn('speaker.gain', { timeoutMs: 60_000, signal: gone.signal });
    assert.equal(o.service.knobs.learning(), true);
    gone.abort();
    await assert.rejects(learning, /midi learn knobs-cancel\.speaker\.gain: cancelled/);
    assert.equal(o.service.knobs.learning(), false);
    src.controlChange(0, 50, 10);
    await flushMicrotasks();
    assert.equal(o.service.knobs.info().midi!.mappings.some((m) => m.cc === 50), false, 'nothing learned from the later touch');
    // Negative control: a learn still waiting takes that touch.
    const taken = o.service.knobs.learn('speaker.gain', { timeoutMs: 60_000 });
    src.controlChange(0, 50, 11);
    assert.equal((await taken).cc, 50);
    // The service stopping ends a waiting learn too (and its timer does not hold the process).
    const pending = o.service.knobs.learn('speaker.mute', { timeoutMs: 600_000 });
    await o.service.close();
    await assert.rejects(pending, /cancelled/);
  });

  it('a learn replaces the learned mapping it would make half of a 14-bit pair; an unreadable file is moved aside, a symbolic link not followed', async () => {
    const file = boardFile('knobs-pair', () => {});
    const stateFile = path.join(tmp, 'state.json');
    const learnedFile = path.join(tmp, 'midi', 'knobs-pair.json');
    const o = await serve(file, { stateFile });
    const src = (o.rt.hal as SimHal).simMidi().addSource('test keyboard', 'out');
    await o.service.knobs.connect('test keyboard');
    const learn = async (control: string, cc: number, resolution?: 14) => {
      const p = o.service.knobs.learn(control, { timeoutMs: 5000, ...(resolution ? { resolution } : {}) });
      src.controlChange(0, cc, 1);
      return p;
    };
    await learn('speaker.gain', 0, 14); // CC 0 + CC 32
    await learn('speaker.mute', 32); // CC 32 alone: the pair's LSB
    const learned = () => (JSON.parse(readFileSync(learnedFile, 'utf8')) as { map: { cc: number; resolution: number }[] }).map.map((m) => [m.cc, m.resolution]);
    assert.deepEqual(learned(), [[32, 7]], 'the 14-bit pair it would have split is gone');
    await learn('speaker.gain', 0, 14);
    assert.deepEqual(learned(), [[0, 14]], 'and the other way round');
    await o.service.close();
    await o.rt.close();
    open.splice(0);

    // A file that is not JSON: not used, and moved aside (not overwritten) at the next write.
    writeFileSync(learnedFile, '{ not json');
    const lines: string[] = [];
    const o2 = await serve(file, { stateFile, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes(`learned mappings in ${learnedFile} not used`) && l.includes('moved aside')), lines.join('\n'));
    const src2 = (o2.rt.hal as SimHal).simMidi().addSource('test keyboard', 'out');
    await o2.service.knobs.connect('test keyboard');
    const p = o2.service.knobs.learn('speaker.gain', { timeoutMs: 5000 });
    src2.controlChange(0, 7, 1);
    await p;
    assert.equal(readFileSync(`${learnedFile}.unreadable`, 'utf8'), '{ not json');
    assert.deepEqual(learned(), [[7, 7]]);
    await o2.service.close();
    await o2.rt.close();
    open.splice(0);

    // A symbolic link in its place: not followed (the target is left alone).
    const target = path.join(tmp, 'elsewhere.json');
    writeFileSync(target, readFileSync(learnedFile));
    rmSync(learnedFile);
    symlinkSync(target, learnedFile);
    lines.length = 0;
    const o3 = await serve(file, { stateFile, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /a symbolic link \(not followed\)/.test(l)), lines.join('\n'));
    assert.equal(o3.service.knobs.info().midi!.mappings.filter((m) => m.from === 'learned').length, 0);
  });
});
