/**
 * The simulated knobs (src/board/sim-knobs.ts; `sbc-audio sim encoder|midi`, src/stream/sim-control.ts)
 * turning the sim board's controls through the service (docs/CONTROL.md, "Knobs").
 *
 * Facts used, from board/sim.json: the encoder is on GPIO5 (A) / GPIO6 (B), active-low with pull-ups,
 * debounce 1000 µs, 4 transitions per detent, 1 dB per detent on speaker.gain; its push (GPIO13,
 * debounce 5000 µs) toggles speaker.mute; speaker.gain starts at −20 dB (controlDefaults). MIDI:
 * channel 1 CC 7 → speaker.gain (curve by kind: "db", docs/CONTROL.md), CC 9 → speaker.mute
 * ("toggle": a rise through 64). The sim-codec's volumes run −127..0 dB in 0.5 dB steps
 * (codecs/sim-codec/description.ts); a volume's percent mapping is the top 60 dB of its range
 * (src/control/model.ts PERCENT_SPAN_DB, as ctl get's display.percent shows it), so the "db"
 * curve's travel is −60 dB (value 0) .. 0 dB (value 127), and 64 lands on −60 + 64/127·60 = −29.76.
 *
 * In-process tests run the board on a virtual clock (debounce timings exact); the CLI test runs
 * `sbc-audio serve` as its own process on CLOCK_MONOTONIC.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { SimKnobError, simEncoder, simMidiSource } from '../../src/board/sim-knobs.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Served {
  rt: BoardRuntime;
  service: StreamService;
  clock: VirtualClock;
  value(id: string): Promise<unknown>;
  close(): Promise<void>;
}

async function serveOnVirtualClock(board: string): Promise<Served> {
  const clock = new VirtualClock(1e9, true);
  const rt = await openBoard(loadBoard(board), { clock });
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-sim-knobs-'));
  let service: StreamService;
  try {
    service = await startStreamService(rt, { runtimeDir, ringBuffer: false });
  } catch (e) {
    await rt.close();
    rmSync(runtimeDir, { recursive: true, force: true });
    throw e;
  }
  return {
    rt, service, clock,
    // What the control class applied: the dispatcher idle first (a knob's set is queued behind the bus).
    async value(id) {
      await service.dispatcher.idle();
      return (await service.controls.get(id)).value;
    },
    async close() {
      await service.close();
      await rt.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** Lets a simulated MIDI event reach the service (delivery is a microtask) and its set be applied. */
async function delivered(s: Served): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await s.service.dispatcher.idle();
}

describe('simulated knobs on the sim board (src/board/sim-knobs.ts)', function () {
  this.timeout(60000);

  describe('the encoder, in process on a virtual clock', () => {
    let s: Served;
    beforeEach(async () => { s = await serveOnVirtualClock('sim'); });
    afterEach(async () => { await s.close(); });

    it('from −20 dB, +5 detents → −15 dB, then −3 → −18 dB, every detent counted, none invalid', async () => {
      assert.equal(await s.value('sim.speaker.gain'), -20);
      const enc = simEncoder(s.rt);
      const r = await enc.turn(5);
      assert.deepEqual([r.transitions, r.spacingMs], [20, 2], '4 transitions per detent, 2 × the 1000 µs debounce apart');
      assert.equal(await s.value('sim.speaker.gain'), -15);
      await enc.turn(-3);
      assert.equal(await s.value('sim.speaker.gain'), -18);
      const e = s.service.knobs.info().encoder!;
      assert.deepEqual([e.detents, e.invalid], [2, 0]);
    });

    it('contact bounce shorter than the debounce adds nothing: +4 with 900 µs of bounce on every edge → −16 dB', async () => {
      const enc = simEncoder(s.rt);
      await enc.turn(4, { bounceUs: 900 });
      assert.equal(await s.value('sim.speaker.gain'), -16);
      await enc.turn(-4, { bounceUs: 900 });
      assert.equal(await s.value('sim.speaker.gain'), -20);
      assert.equal(s.service.knobs.info().encoder!.invalid, 0);
    });

    it('negative control: transitions closer than half the debounce (each contact\'s pulse shorter than it) are lost', async () => {
      const enc = simEncoder(s.rt);
      // 0.25 ms apart: each contact changes every 0.5 ms, under the 1 ms debounce: the kernel reports none of it.
      await enc.turn(5, { spacingMs: 0.25 });
      assert.equal(await s.value('sim.speaker.gain'), -20, 'the fast turn moved nothing');
      assert.equal(s.service.knobs.info().encoder!.detents, 0);
      // The same turn at the default spacing does move it: the loss was the spacing's.
      await enc.turn(5);
      assert.equal(await s.value('sim.speaker.gain'), -15);
    });

    it('the push switch toggles speaker.mute: false → true → false', async () => {
      const enc = simEncoder(s.rt);
      assert.equal(await s.value('sim.speaker.mute'), false);
      const p = await enc.press();
      assert.equal(p.holdMs, 10, 'held 2 × the push line\'s 5000 µs debounce');
      assert.equal(await s.value('sim.speaker.mute'), true);
      await enc.press();
      assert.equal(await s.value('sim.speaker.mute'), false);
    });

    it('arguments out of range are refused naming the field, and nothing is driven', async () => {
      const enc = simEncoder(s.rt);
      await assert.rejects(enc.turn(1.5), (e: unknown) => e instanceof SimKnobError && /^detents: expected a whole number from -10000 to 10000 .*got 1\.5$/.test(e.message));
      await assert.rejects(enc.turn(2, { bounceUs: 2000 }), /^SimKnobError: bounceUs: expected µs of contact bounce \(over before the next transition\) from 0 to 1999, got 2000$/);
      await assert.rejects(enc.turn(2, { spacingMs: 0 }), /^SimKnobError: spacingMs: expected ms between transitions from 0\.001 to 60000, got 0$/);
      assert.equal(await s.value('sim.speaker.gain'), -20);
    });

    it('through the simulation control: encoder { detents, press } answered after the edges, refused fields named', async () => {
      const sc = s.service.simControl!;
      const a = await sc.handle({ id: 1, cmd: 'encoder', detents: 3, press: true });
      assert.equal(a.ok, true, JSON.stringify(a));
      assert.equal(await s.value('sim.speaker.gain'), -17);
      assert.equal(await s.value('sim.speaker.mute'), true);
      const bad = await sc.handle({ id: 2, cmd: 'encoder', detents: 0 });
      assert.deepEqual(bad, { id: 2, ok: false, error: 'encoder: detents: expected a whole number of detents from -10000 to 10000 other than 0 (negative: the other way), or press: true, got 0' });
      const bad2 = await sc.handle({ id: 3, cmd: 'encoder', detents: 1, spacingMs: 'fast' });
      assert.deepEqual(bad2, { id: 3, ok: false, error: 'encoder: spacingMs: expected a number from 0.001 to 60000, got "fast"' });
    });
  });

  describe('MIDI, in process', () => {
    let s: Served;
    beforeEach(async () => { s = await serveOnVirtualClock('sim'); });
    afterEach(async () => { await s.close(); });

    it('channel 1 CC 7: 127 → 0 dB, 0 → −60 dB (the bottom of the percent mapping), 64 → −30 dB (−29.76 on the 0.5 dB step)', async () => {
      const src = await simMidiSource(s.rt, s.service.knobs.info().midi!.address);
      src.controlChange(0, 7, 127);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.gain'), 0);
      src.controlChange(0, 7, 0);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.gain'), -60);
      src.controlChange(0, 7, 64);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.gain'), -30);
      // Negative control: the same controller on channel 2 is not mapped.
      src.controlChange(1, 7, 127);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.gain'), -30);
    });

    it('channel 1 CC 9 (toggle): 0 then 127 toggles mute; 127 again (no rise) does not; 0, 127 toggles back', async () => {
      const src = await simMidiSource(s.rt, s.service.knobs.info().midi!.address);
      assert.equal(await s.value('sim.speaker.mute'), false);
      src.controlChange(0, 9, 0);
      src.controlChange(0, 9, 127);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.mute'), true);
      src.controlChange(0, 9, 127);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.mute'), true, 'a value that stays up is no new press');
      src.controlChange(0, 9, 0);
      src.controlChange(0, 9, 127);
      await delivered(s);
      assert.equal(await s.value('sim.speaker.mute'), false);
    });

    it('one simulated controller per port, reused, connected to the service\'s input; a wrong port is refused by name', async () => {
      const address = s.service.knobs.info().midi!.address;
      const a = await simMidiSource(s.rt, address);
      const b = await simMidiSource(s.rt, address);
      assert.equal(a, b);
      assert.deepEqual(s.service.knobs.info().midi!.connections, [`${a.address.client}:${a.address.port}`]);
      assert.equal(a.clientName, 'sbc-audio sim');
      await assert.rejects(simMidiSource(s.rt, '150:0'), /^SimKnobError: port: expected an input port of board sim's simulated sequencer \(input ports: 128:0 "sbc-audio sim:control"\), got "150:0"$/);
      await assert.rejects(simMidiSource(s.rt, 'control'), /^SimKnobError: port: expected a sequencer address "client:port" \(e\.g\. "128:0"\), got "control"$/);
    });

    it('through the simulation control: midi { channel, cc, value } (channels as people number them), fields checked', async () => {
      const sc = s.service.simControl!;
      const a = await sc.handle({ id: 1, cmd: 'midi', channel: 1, cc: 7, value: 127 });
      assert.equal(a.ok, true, JSON.stringify(a));
      assert.equal((a as Record<string, unknown>).port, s.service.knobs.info().midi!.address);
      assert.equal(await s.value('sim.speaker.gain'), 0);
      assert.deepEqual(await sc.handle({ id: 2, cmd: 'midi', channel: 0, cc: 7, value: 1 }), { id: 2, ok: false, error: 'midi: channel: expected a whole number from 1 to 16, got 0' });
      assert.deepEqual(await sc.handle({ id: 3, cmd: 'midi', channel: 1, cc: 7, value: 128 }), { id: 3, ok: false, error: 'midi: value: expected a whole number from 0 to 127, got 128' });
      assert.deepEqual(await sc.handle({ id: 4, cmd: 'midi', channel: 1, cc: 7 }), { id: 4, ok: false, error: 'midi: value: expected a controller value from 0 to 127, got nothing' });
      const p = await sc.handle({ id: 5, cmd: 'midi', channel: 1, program: 3 });
      assert.equal(p.ok, true, JSON.stringify(p));
      assert.equal(await s.value('sim.speaker.gain'), 0, 'a program change is mapped to nothing on the sim board');
    });
  });

  describe('a sim board without knobs (board/sim-cs4271.json: no encoder, no midi section)', () => {
    let s: Served;
    before(async () => { s = await serveOnVirtualClock('sim-cs4271'); });
    after(async () => { await s.close(); });

    it('encoder and midi are refused, saying what is missing', async () => {
      assert.throws(() => simEncoder(s.rt), /^SimKnobError: encoder: expected a board with a rotary encoder \(gpio encoder-a and encoder-b, and an encoder section\), got board sim-cs4271 without one/);
      const sc = s.service.simControl!;
      const e = await sc.handle({ id: 1, cmd: 'encoder', detents: 1 });
      assert.equal(e.ok, false);
      assert.match((e as { error: string }).error, /^encoder: encoder: expected a board with a rotary encoder .*got board sim-cs4271 without one/);
      const m = await sc.handle({ id: 2, cmd: 'midi', channel: 1, cc: 7, value: 1 });
      assert.equal(m.ok, false);
      assert.match((m as { error: string }).error, /^midi: expected board sim-cs4271 served with a MIDI input .*got none \(input ports on the simulated sequencer: none\)$/);
    });
  });

  describe('from the command line, against `sbc-audio serve` in its own process', () => {
    let dir: string;
    let child: ChildProcess;
    let log = '';

    /** `sbc-audio …` in this process (the service is the child's). */
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIO = { isTTY: false, out: (t) => { out.push(t); }, err: (t) => { err.push(t); } };
      const code = await main([...args, '--runtime-dir', dir], io);
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const json = async (...args: string[]) => {
      const r = await cli(...args, '--json');
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      return JSON.parse(r.out) as Record<string, unknown>;
    };

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'sbc-sim-knobs-cli-'));
      child = spawn(process.execPath, ['--import', 'tsx', 'bin/sbc-audio.js', 'serve', '--board', 'sim', '--no-state', '--no-osc', '--runtime-dir', dir], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
      const deadline = Date.now() + 30000;
      while (!existsSync(path.join(dir, 'sim', 'sim.sock')) || !existsSync(path.join(dir, 'control', 'sim.sock'))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not publish its sockets:\n${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    after(() => {
      child?.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    });

    it('sim encoder 3 → speaker.gain −17 dB; sim encoder -3 → −20 dB; a bad count is a usage error', async () => {
      const r = await cli('sim', 'encoder', '3');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^sim: encoder turned 3 detents \(12 transitions, 2 ms apart\): sim\.speaker\.gain$/);
      assert.equal((await json('ctl', 'get', 'sim.speaker.gain')).value, -17);
      assert.equal((await cli('sim', 'encoder', '-3')).code, 0);
      assert.equal((await json('ctl', 'get', 'sim.speaker.gain')).value, -20);
      const bad = await cli('sim', 'encoder', 'three');
      assert.equal(bad.code, 2);
      assert.match(bad.err, /encoder: the count must be a whole number of detents from -10000 to 10000, not 0; got "three"/);
    });

    it('sim encoder --press toggles speaker.mute', async () => {
      assert.equal((await json('ctl', 'get', 'sim.speaker.mute')).value, false);
      const r = await cli('sim', 'encoder', '--press');
      assert.equal(r.code, 0, r.err);
      assert.equal((await json('ctl', 'get', 'sim.speaker.mute')).value, true);
      await cli('sim', 'encoder', '--press');
      assert.equal((await json('ctl', 'get', 'sim.speaker.mute')).value, false);
    });

    it('midi learn sim.headphone.gain binds channel 2 CC 21 sent by sim midi cc; 127 then puts it at the top (0 dB); midi list shows it learned', async () => {
      let learnDone = false;
      const learning = cli('midi', 'learn', 'sim.headphone.gain', '--timeout', '10', '--json').finally(() => { learnDone = true; });
      // The learn request reaches the service on its own connection: the controller moves until it has.
      for (let i = 0; i < 40 && !learnDone; i++) {
        const r = await cli('sim', 'midi', 'cc', '2', '21', '64');
        assert.equal(r.code, 0, r.err);
        await new Promise((res) => setTimeout(res, 100));
      }
      const learned = await learning;
      assert.equal(learned.code, 0, learned.err);
      const m = JSON.parse(learned.out) as Record<string, unknown>;
      assert.deepEqual([m.channel, m.cc, m.controlId, m.from], [2, 21, 'sim.headphone.gain', 'learned']);
      const r = await cli('sim', 'midi', 'cc', '2', '21', '127');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^sim: MIDI channel 2 controller 21 = 127 sent from \d+:0 to \d+:0$/);
      assert.equal((await json('ctl', 'get', 'sim.headphone.gain')).value, 0);
      const list = await json('midi', 'list');
      const maps = (list.midi as { mappings: Record<string, unknown>[] }).mappings;
      const mine = maps.find((x) => x.channel === 2 && x.cc === 21);
      assert.ok(mine, `listed: ${JSON.stringify(maps)}`);
      assert.deepEqual([mine.controlId, mine.from], ['sim.headphone.gain', 'learned']);
    });

    it('usage errors: sim midi with a channel out of range, an unknown kind', async () => {
      const r = await cli('sim', 'midi', 'cc', '17', '7', '1');
      assert.equal(r.code, 2);
      assert.match(r.err, /midi cc: CHANNEL must be a whole number from 1 to 16, got "17"/);
      const k = await cli('sim', 'midi', 'nrpn', '1', '2');
      assert.equal(k.code, 2);
      assert.match(k.err, /midi: expected cc CHANNEL CC VALUE or program CHANNEL N, got "nrpn"/);
    });
  });
});
