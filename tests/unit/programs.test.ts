/**
 * Programs (src/control/programs.ts; docs/CONTROL.md, "Programs and configure"), on simulated boards
 * served in-process (no ring buffers: only the controls are needed), and through the control
 * channel and `sbc-audio program`.
 *
 * Expected values are literals from the parts' descriptions and datasheets, never read from the
 * code under test:
 * - sim-codec (codecs/sim-codec/model.ts header, its stand-in datasheet): "DAC Filter" is DAC_CTRL
 *   (register 0x06) bits [2:1]: 0 sharp, 1 slow, 2 low-latency; bit 0 is SOFT_MUTE.
 * - PCM5122 (codecs/pcm5122/FACTS.md "filters"): page 0 register 43 selects the filter: 1 normal,
 *   2 low-latency, 3 high-attenuation, 5 fixed flow, 7 asymmetric.
 * - The sim board file (board/sim.json): streams speaker, headphone (output) and mic; the
 *   speaker's gain starts at −20 dB (controlDefaults).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { controlChannelPath, serveControlChannel } from '../../src/control/channel.ts';
import { ControlClient, ControlRequestError } from '../../src/control/client.ts';
import { Programs, ProgramError } from '../../src/control/programs.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

interface Rig {
  rt: BoardRuntime;
  service: StreamService;
  programs: Programs;
  presetDir: string;
  logs: string[];
  dir: string;
  close(): Promise<void>;
}

async function rig(board: string, opts: { presetDir?: string } = {}): Promise<Rig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-programs-'));
  const rt = await openBoard(loadBoard(board), { clock: new VirtualClock(1e9, true) });
  const service = await startStreamService(rt, { runtimeDir: path.join(dir, 'run'), ringBuffer: false });
  const logs: string[] = [];
  const presetDir = opts.presetDir ?? path.join(dir, 'state', 'presets');
  const programs = new Programs(service.controls, rt, { presetDir, log: (l) => logs.push(l) });
  return {
    rt, service, programs, presetDir, logs, dir,
    async close() {
      programs.close();
      await service.close();
      await rt.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The sim-codec's DAC_CTRL register (0x06) as its model holds it. */
const dacCtrl = (rt: BoardRuntime) => (rt.chipModel as { regs: Uint8Array }).regs[0x06]!;
/** DAC_CTRL bits [2:1]: the filter code. */
const filterCode = (rt: BoardRuntime) => (dacCtrl(rt) >> 1) & 3;
/** The PCM5122 model's page 0 register 43 (DSP program / filter select). */
const reg43 = (rt: BoardRuntime) => (rt.chipModel as { peek(page: number, reg: number): number }).peek(0, 43);

function writePreset(dir: string, file: string, content: unknown): string {
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, file);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

describe('programs: bank 0 from the parts, bank 1 from preset files', function () {
  this.timeout(60000);

  it('sim: bank 0 is one program per value of the sim-codec\'s DAC Filter (sharp, slow, low-latency), nothing else', async () => {
    const r = await rig('sim');
    try {
      const bank0 = r.programs.list().filter((p) => p.bank === 0).map(({ bank, program, name, values }) => ({ bank, program, name, values }));
      assert.deepEqual(bank0, [
        { bank: 0, program: 0, name: 'DAC Filter: sharp', values: { 'sim.sim-codec.dac-filter': 'sharp' } },
        { bank: 0, program: 1, name: 'DAC Filter: slow', values: { 'sim.sim-codec.dac-filter': 'slow' } },
        { bank: 0, program: 2, name: 'DAC Filter: low-latency', values: { 'sim.sim-codec.dac-filter': 'low-latency' } },
      ]);
      // Negative control: the sim-codec's other setting, the switch "DAC Playback Switch", is not a program.
      assert.ok(!r.programs.list().some((p) => 'sim.sim-codec.dac-playback-switch' in p.values));
      assert.match(r.programs.list()[0]!.source, /codecs\/sim-codec\/description\.ts controls "DAC Filter"/);
    } finally {
      await r.close();
    }
  });

  it('hifiberry-dacplus-sim: bank 0 is the PCM5122\'s DSP Program values in order; a part without such a setting has none', async () => {
    const r = await rig('hifiberry-dacplus-sim');
    try {
      const id = 'hifiberry-dacplus-sim.pcm5122.dsp-program';
      assert.deepEqual(r.programs.list().filter((p) => p.bank === 0).map((p) => [p.program, p.name, p.values[id]]), [
        [0, 'DSP Program: normal', 'normal'],
        [1, 'DSP Program: low-latency', 'low-latency'],
        [2, 'DSP Program: high-attenuation', 'high-attenuation'],
        [3, 'DSP Program: fixed-flow', 'fixed-flow'],
        [4, 'DSP Program: asymmetric', 'asymmetric'],
      ]);
    } finally {
      await r.close();
    }
    // Negative control: the WM8960's description has no enum setting (no filter, program or EQ): no built-in program.
    const w = await rig('waveshare-wm8960-hat-sim');
    try {
      assert.deepEqual(w.programs.list(), []);
    } finally {
      await w.close();
    }
  });

  it('load sets the register: sim DAC_CTRL bits [2:1], PCM5122 page 0 reg 43; current() follows, and is forgotten when its control changes', async () => {
    const r = await rig('sim');
    try {
      assert.equal(filterCode(r.rt), 0, 'before: sharp (reset code 0)');
      assert.equal(r.programs.current(), undefined);
      const p = await r.programs.load(0, 1);
      assert.equal(p.name, 'DAC Filter: slow');
      assert.equal(filterCode(r.rt), 1, 'slow is code 1 in DAC_CTRL [2:1]');
      assert.deepEqual(r.programs.current(), { bank: 0, program: 1 });
      await r.programs.load(0, 2);
      assert.equal(filterCode(r.rt), 2, 'low-latency is code 2');
      assert.deepEqual(r.programs.current(), { bank: 0, program: 2 });
      // Negative control: a change of a control the program does not set keeps it current.
      await r.service.controls.set('sim.speaker.gain', -30);
      assert.deepEqual(r.programs.current(), { bank: 0, program: 2 });
      // Its own control to another value: forgotten.
      await r.service.controls.set('sim.sim-codec.dac-filter', 'sharp');
      assert.equal(r.programs.current(), undefined);
      assert.equal(filterCode(r.rt), 0);
      await assert.rejects(r.programs.load(0, 3), (e: Error) => e instanceof ProgramError && /no program 0\/3 on board sim \(bank 0, built in: 0\.\.2; bank 1, presets: none\)/.test(e.message));
      await assert.rejects(r.programs.load(2, 0), /no program 2\/0/);
    } finally {
      await r.close();
    }
    const h = await rig('hifiberry-dacplus-sim');
    try {
      assert.equal(reg43(h.rt), 1, 'before: normal (1)');
      await h.programs.load(0, 1);
      assert.equal(reg43(h.rt), 2, 'low-latency is 2');
      await h.programs.load(0, 4);
      assert.equal(reg43(h.rt), 7, 'asymmetric is 7');
    } finally {
      await h.close();
    }
  });

  it('save then load: the file (0644 in a 0755 folder) holds the values; loading it by name puts them back, on the chip too', async () => {
    const r = await rig('sim');
    try {
      await r.service.controls.set('sim.speaker.gain', -30);
      await r.service.controls.set('sim.sim-codec.dac-filter', 'low-latency');
      const saved = await r.programs.save('evening');
      assert.deepEqual([saved.bank, saved.program, saved.name], [1, 0, 'evening']);
      const file = path.join(r.presetDir, 'evening.json');
      assert.equal(saved.source, file);
      assert.equal(statSync(file).mode & 0o777, 0o644);
      assert.equal(statSync(r.presetDir).mode & 0o777, 0o755);
      const json = JSON.parse(readFileSync(file, 'utf8')) as { name: string; values: Record<string, unknown> };
      assert.equal(json.name, 'evening');
      assert.equal(json.values['sim.speaker.gain'], -30);
      assert.equal(json.values['sim.sim-codec.dac-filter'], 'low-latency');
      // One id per control on the chip: the part's main volume is the speaker gain (sameAs), saved once.
      assert.ok(!('sim.sim-codec.digital-playback-volume' in json.values));
      // Read-only lines are not saved.
      assert.ok(!('sim.board.amp-enable' in json.values));

      await r.service.controls.set('sim.speaker.gain', -10);
      await r.service.controls.set('sim.sim-codec.dac-filter', 'sharp');
      assert.equal(filterCode(r.rt), 0);
      const named = r.programs.find('evening');
      const loaded = await r.programs.load(named.bank, named.program);
      assert.equal(loaded.name, 'evening');
      assert.equal((await r.service.controls.get('sim.speaker.gain')).value, -30);
      assert.equal(filterCode(r.rt), 2, 'low-latency back on the chip');
      // −30 dB on the sim-codec: 0.5 dB a code from 0x00 = 0 dB, so code 60 (0x3c) in VOL_L (0x01).
      assert.equal((r.rt.chipModel as { regs: Uint8Array }).regs[0x01], 0x3c);
      assert.deepEqual(r.programs.current(), { bank: 1, program: 0 });

      // A name that is not one: refused, nothing written.
      for (const bad of ['Evening', 'a b', '../x', '', 'x'.repeat(65)]) {
        await assert.rejects(r.programs.save(bad), (e: Error) => e instanceof ProgramError && /preset name: expected 1 to 64 of a-z, 0-9, "-"/.test(e.message), bad);
      }
      await r.programs.save('x'.repeat(64)); // the longest name: accepted (negative control)
      assert.throws(() => r.programs.find('morning'), /no preset "morning" for board sim .*presets: evening, x{64}/);
    } finally {
      await r.close();
    }
  });

  it('a bad preset file is skipped with one log line naming the file and the field; the good ones are listed, by name', async () => {
    const r = await rig('sim');
    try {
      const good = writePreset(r.presetDir, 'quiet.json', { name: 'quiet', values: { 'sim.speaker.gain': -40 } });
      writePreset(r.presetDir, 'alpha.json', { name: 'alpha', values: { 'sim.sim-codec.dac-filter': 'slow' } });
      const wrongType = writePreset(r.presetDir, 'broken.json', { name: 'broken', values: { 'sim.speaker.gain': [1] } });
      const notJson = writePreset(r.presetDir, 'garbled.json', '{ "name": "garbled", ');
      const misnamed = writePreset(r.presetDir, 'other.json', { name: 'another', values: { 'sim.speaker.gain': -3 } });
      const extra = writePreset(r.presetDir, 'extra.json', { name: 'extra', values: { 'sim.speaker.gain': -3 }, colour: 'red' });
      // Another board's preset in the shared folder: not this board's, not an error.
      writePreset(r.presetDir, 'dacplus.json', { name: 'dacplus', values: { 'hifiberry-dacplus-sim.pcm5122.dsp-program': 'normal' } });
      symlinkSync(good, path.join(r.presetDir, 'linked.json'));
      const user = r.programs.list().filter((p) => p.bank === 1);
      assert.deepEqual(user.map((p) => [p.program, p.name]), [[0, 'alpha'], [1, 'quiet']]);
      const expect: [string, RegExp][] = [
        [wrongType, /values\["sim\.speaker\.gain"\]: expected a number, true \/ false or a string, got \[1\]/],
        [notJson, /file: not JSON/],
        [misnamed, /name: "another", but the file is named other\.json/],
        [extra, /colour: unknown field \(fields: name, values\)/],
        [path.join(r.presetDir, 'linked.json'), /file: a symbolic link/],
      ];
      for (const [file, re] of expect) {
        const lines = r.logs.filter((l) => l.startsWith(`preset ${file}: `));
        assert.equal(lines.length, 1, `one line for ${file}: ${JSON.stringify(r.logs)}`);
        assert.match(lines[0]!, re);
        assert.match(lines[0]!, /; skipped$/);
      }
      assert.equal(r.logs.length, expect.length, `only the bad files are logged: ${JSON.stringify(r.logs)}`);
      // Listed again: not logged again.
      r.programs.list();
      assert.equal(r.logs.length, expect.length);
    } finally {
      await r.close();
    }
  });

  it('a preset with one bad value changes nothing, and says which control and why; the same preset made good applies', async () => {
    const r = await rig('sim');
    try {
      writePreset(r.presetDir, 'mixed.json', { name: 'mixed', values: { 'sim.speaker.gain': -10, 'sim.sim-codec.dac-filter': 'bogus' } });
      writePreset(r.presetDir, 'loud.json', { name: 'loud', values: { 'sim.speaker.gain': 12 } });
      writePreset(r.presetDir, 'step.json', { name: 'step', values: { 'sim.speaker.gain': '+3dB' } });
      writePreset(r.presetDir, 'readonly.json', { name: 'readonly', values: { 'sim.board.amp-enable': true } });
      const before = (await r.service.controls.get('sim.speaker.gain')).value;
      assert.equal(before, -20, 'the board file\'s controlDefaults');
      const bank1 = r.programs.list().filter((p) => p.bank === 1).map((p) => p.name);
      assert.deepEqual(bank1, ['loud', 'mixed', 'readonly', 'step']);
      await assert.rejects(r.programs.load(1, 1), (e: Error) => e instanceof ProgramError &&
        /program 1\/1 "mixed" .*sim\.sim-codec\.dac-filter: "bogus" is not one of its values: sharp, slow, low-latency; nothing changed/.test(e.message));
      assert.equal((await r.service.controls.get('sim.speaker.gain')).value, -20, 'the gain (checked first, valid) was not set');
      assert.equal(filterCode(r.rt), 0);
      await assert.rejects(r.programs.load(1, 0), /sim\.speaker\.gain: 12 dB is outside its range -127 \.\. 0 dB \(step 0\.5\); nothing changed/);
      await assert.rejects(r.programs.load(1, 3), /sim\.speaker\.gain: "\+3dB" is relative/);
      await assert.rejects(r.programs.load(1, 2), /sim\.board\.amp-enable: not a control a program sets/);
      assert.equal((await r.service.controls.get('sim.speaker.gain')).value, -20);
      assert.equal(r.programs.current(), undefined);
      // Negative control: the same preset with a good value applies both.
      writePreset(r.presetDir, 'mixed.json', { name: 'mixed', values: { 'sim.speaker.gain': -10, 'sim.sim-codec.dac-filter': 'slow' } });
      await r.programs.load(1, 1);
      assert.equal((await r.service.controls.get('sim.speaker.gain')).value, -10);
      assert.equal(filterCode(r.rt), 1);
    } finally {
      await r.close();
    }
  });
});

describe('programs through the control channel and `sbc-audio program`', function () {
  this.timeout(60000);

  /** `sbc-audio …` in this process. */
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { isTTY: false, out: (t) => out.push(t), err: (t) => err.push(t) };
    const code = await main(args, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('list, load BANK PROGRAM, save NAME, load NAME; refusals exit 1 with the service\'s message, usage errors 2', async () => {
    const r = await rig('sim');
    // The channel with programs, published under a runtime directory of its own (the service's
    // own channel is served without them until the service wires them).
    const run = path.join(r.dir, 'run2');
    mkdirSync(path.join(run, 'control'), { recursive: true, mode: 0o700 });
    const channel = await serveControlChannel(r.service.controls, controlChannelPath(run, 'sim'), { programs: r.programs });
    try {
      const list = await cli(['program', 'list', '--runtime-dir', run, '--json']);
      assert.equal(list.code, 0, list.err);
      const a = JSON.parse(list.out) as { programs: { bank: number; program: number; name: string }[]; current: unknown; presetDir: string };
      assert.deepEqual(a.programs.map((p) => p.name), ['DAC Filter: sharp', 'DAC Filter: slow', 'DAC Filter: low-latency']);
      assert.equal(a.current, null);
      assert.equal(a.presetDir, r.presetDir);

      const load = await cli(['program', 'load', '0', '1', '--runtime-dir', run]);
      assert.equal(load.code, 0, load.err);
      assert.equal(load.out, 'loaded program 0/1 "DAC Filter: slow": sim.sim-codec.dac-filter=slow');
      assert.equal(filterCode(r.rt), 1);
      const text = await cli(['program', 'list', '--runtime-dir', run]);
      assert.match(text.out, /^\*\s+0\s+1\s+DAC Filter: slow\s+sim\.sim-codec\.dac-filter=slow$/m, text.out);

      const save = await cli(['program', 'save', 'night', '--runtime-dir', run]);
      assert.equal(save.code, 0, save.err);
      assert.match(save.out, /^saved program 1\/0 "night": sim\.speaker\.gain=-20, /);
      await r.service.controls.set('sim.sim-codec.dac-filter', 'sharp');
      const byName = await cli(['program', 'load', 'night', '--runtime-dir', run]);
      assert.equal(byName.code, 0, byName.err);
      assert.equal(filterCode(r.rt), 1, 'night saved slow');

      const missing = await cli(['program', 'load', '0', '9', '--runtime-dir', run]);
      assert.equal(missing.code, 1);
      assert.match(missing.err, /^sbc-audio program: program-load: no program 0\/9 on board sim \(bank 0, built in: 0\.\.2; bank 1, presets: 0\.\.0\)$/);
      const badName = await cli(['program', 'save', 'No Good', '--runtime-dir', run]);
      assert.equal(badName.code, 1);
      assert.match(badName.err, /preset name: expected 1 to 64 of a-z/);
      for (const argv of [['program'], ['program', 'load'], ['program', 'load', '0', 'x'], ['program', 'save'], ['program', 'frob']]) {
        const u = await cli([...argv, '--runtime-dir', run]);
        assert.equal(u.code, 2, `${argv.join(' ')}: ${u.err}`);
      }

      // The channel: a malformed request names the field; a service without programs says so.
      const c = await ControlClient.connect(controlChannelPath(run, 'sim'));
      try {
        await assert.rejects(c.loadProgram({ bank: -1, program: 0 }), (e: Error) => e instanceof ControlRequestError && e.message === 'program-load: bank: expected an integer ≥ 0, got -1');
      } finally {
        c.close();
      }
      // A channel served without programs (the service's own has them: the negative control is a bare one).
      const bareDir = path.join(r.dir, 'run3');
      const bare = await serveControlChannel(r.service.controls, controlChannelPath(bareDir, 'sim'));
      try {
        const none = await cli(['program', 'list', '--runtime-dir', bareDir]);
        assert.equal(none.code, 1);
        assert.match(none.err, /programs: this service has no programs/);
        const served = await cli(['program', 'list', '--runtime-dir', r.service.runtimeDir]);
        assert.equal(served.code, 0, served.err);
        assert.match(served.out, /DAC Filter: slow/);
      } finally {
        await bare.close();
      }
    } finally {
      await channel.close();
      await r.close();
    }
  });
});
