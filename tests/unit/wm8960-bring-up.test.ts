/**
 * The WM8960's bring-up on the Waveshare HAT's twin (issue "Real chips, part 2: the WM8960 HAT"):
 * the registers the chip model holds while streams run, as `sbc-audio sim regs` shows them
 * (SimControl.regs: for this write-only chip, the model's own record of what was written), against
 * the facts' literal values (codecs/wm8960/FACTS.md#bring-up-on-the-waveshare-hat,
 * codecs/wm8960/FACTS.md#speaker-path, codecs/wm8960/FACTS.md#capture-path); only the paths the
 * running streams name are powered; the order and waits on the virtual clock (VMID 100 ms, PLL
 * lock 250 ms, the 600 ms discharge: codecs/wm8960/FACTS.md#pop, codecs/wm8960/FACTS.md#power-off);
 * the register map's reset defaults against the facts' list (codecs/wm8960/FACTS.md#reset-defaults);
 * `sbc-audio info`'s clocking mode and streams.
 *
 * Every expected value is a literal from FACTS.md, never read from the description or the driver.
 * The services run in real time (CLOCK_MONOTONIC), as `sbc-audio serve` does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { description } from '../../codecs/wm8960/description.ts';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { serveBoard, type ServedBoard } from '../../src/cli/wiring.ts';
import { type CodecDescription, checkDescription, type SequenceStep } from '../../src/codec/description.ts';
import { StreamClient } from '../../src/stream/client.ts';
import type { RegsAnswer } from '../../src/stream/sim-control.ts';
import { STATUS } from '../../src/stream/wire.ts';
import { playThroughWm8960 } from '../fixtures/codecs/wm8960-rig.ts';

const BOARD = 'waveshare-wm8960-hat-sim';

/** FACTS.md, "Reset defaults" (WS 56–108), as the facts write it: [register(s), value]. */
const FACTS_RESET_DEFAULTS: [number | [number, number], number][] = [
  [0, 0x0a7], [1, 0x0a7], [[2, 4], 0], [5, 0x008], [6, 0], [7, 0x00a], [8, 0x1c0], [9, 0], [10, 0x0ff], [11, 0x0ff],
  [16, 0], [17, 0x07b], [18, 0x100], [19, 0x032], [20, 0], [21, 0x0c3], [22, 0x0c3], [23, 0x1c0], [[24, 29], 0],
  [32, 0x100], [33, 0x100], [34, 0x050], [37, 0x050], [[38, 41], 0], [42, 0x040], [43, 0], [44, 0], [45, 0x050], [46, 0x050],
  [47, 0], [48, 0x002], [49, 0x037], [51, 0x080], [52, 0x008], [53, 0x031], [54, 0x026], [55, 0x0e9],
];
const expand = (at: number | [number, number]) => (typeof at === 'number' ? [at] : Array.from({ length: at[1] - at[0] + 1 }, (_, i) => at[0] + i));

describe('WM8960 register map: the reset defaults are the facts\' list, every register cached', () => {
  it('the literal list of this test is the one FACTS.md writes (checked against its text)', () => {
    const facts = readFileSync(new URL('../../codecs/wm8960/FACTS.md', import.meta.url), 'utf8');
    const section = facts.slice(facts.indexOf('## Reset defaults'), facts.indexOf('## WM8731'));
    const text = section.slice(section.indexOf('- R0')).split('\n- ')[0]!.replace(/\s+/g, ' ').replace(/^- /, '');
    // "R0 = R1 = 0x0A7; R2–R4 = 0; ..." → [reg, value]
    const parsed: [number, number][] = [];
    for (const clause of text.split(';')) {
      const parts = clause.trim().replace(/\.$/, '').split('=').map((x) => x.trim());
      const value = Number(parts.pop());
      for (const p of parts) {
        const m = /^R(\d+)(?:\s*[–-]\s*R(\d+))?$/.exec(p);
        assert.ok(m, `clause "${clause}"`);
        for (const reg of expand(m[2] ? [Number(m[1]), Number(m[2])] : Number(m[1]))) parsed.push([reg, value]);
      }
    }
    const literal = FACTS_RESET_DEFAULTS.flatMap(([at, v]) => expand(at).map((reg) => [reg, v] as [number, number]));
    assert.deepEqual(parsed.sort((a, b) => a[0] - b[0]), literal.sort((a, b) => a[0] - b[0]));
    assert.match(section, /Only R15 is volatile\./);
  });

  it('every register the facts list has that default in the description; R15 (the reset) is write-only; no other register is declared', () => {
    const regs = description.regmap!.registers;
    assert.equal(description.regmap!.readable, false, 'write-only: every read served from the cache');
    const expected = new Map<number, number>();
    for (const [at, v] of FACTS_RESET_DEFAULTS) for (const reg of expand(at)) expected.set(reg, v);
    for (const [addr, v] of expected) {
      const r = regs.find((x) => x.addr === addr);
      assert.ok(r, `R${addr} is declared`);
      assert.equal(r.reset, v, `${r.name} (R${addr})`);
    }
    const others = regs.filter((x) => !expected.has(x.addr));
    assert.deepEqual(others.map((r) => [r.addr, r.reset, r.access]), [[15, 'unknown', 'wo']]);
    // Negative control: the comparison sees a wrong default (R7 resets to 24-bit I2S, 0x00A, not 0x002).
    assert.notEqual(regs.find((x) => x.addr === 7)!.reset, 0x002);
  });
});

/** The value the chip model holds at `reg` in a `sim regs` answer (the model's record of writes). */
function reg(r: RegsAnswer, addr: number): number {
  const x = r.registers.find((y) => y.addr === addr);
  assert.ok(x, `R${addr} in sim regs`);
  assert.equal(x.error, null, `R${addr}: ${x.error}`);
  assert.notEqual(x.read, null, `R${addr} was written`);
  return x.read!;
}

async function poweredDown(served: ServedBoard): Promise<void> {
  const deadline = Date.now() + 5000;
  while (served.runtime.power.state !== 'off') {
    assert.ok(Date.now() < deadline, `still ${served.runtime.power.state} 5 s after the streams closed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Opens a stream of the twin (by id), at 48 kHz and `bits`, and starts it; returns how to stop it. */
async function startStream(served: ServedBoard, id: string, bits: 16 | 32 = 16): Promise<{ stop(): Promise<void> }> {
  const ep = served.service.endpoints.find((e) => e.name === `${BOARD}.${id}`)!;
  const stream = await StreamClient.connect(ep.path);
  const f = await stream.setFormat({ fps: 48000, sampleFormat: bits === 16 ? SAMPLE_FORMAT.BIT16 : SAMPLE_FORMAT.BIT32, channels: 2 });
  assert.equal(f.result, STATUS.OK, `${id}: SET_FORMAT 48 kHz ${bits}-bit`);
  const rb = await stream.openRingBuffer(f.token!);
  assert.equal((await rb.getFifoDepth()).result, STATUS.OK);
  assert.equal((await rb.getBuffer(12000, 4)).result, STATUS.OK);
  assert.equal((await rb.start()).result, STATUS.OK, `${id}: START`);
  await new Promise((r) => setTimeout(r, 150));
  return {
    async stop() {
      await rb.stop();
      await stream.close();
    },
  };
}

describe('WM8960 HAT twin: the chip\'s registers while streams run (sim regs)', function () {
  this.timeout(60000);
  let dir: string;
  let served: ServedBoard;
  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-wm8960-'));
    served = await serveBoard(BOARD, { runtimeDir: dir });
  });
  afterEach(async () => {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('headphone at 48 kHz 16-bit then 32-bit: R7 = 0x002 / 0x00E, R26 ⊇ 0x1E0, R47 ⊇ 0x00C, R34/R37 bit 8, R5 bit 3 clear, R25 VMID 0x080 + VREF; speaker and capture power clear', async () => {
    const model = served.runtime.chipModel as { writes: { reg: number; value: number }[] };
    for (const [bits, r7] of [[16, 0x002], [32, 0x00e]] as const) {
      const s = await startStream(served, 'headphone', bits);
      try {
        const r = await served.service.simControl!.regs();
        assert.equal(r.values, 'written');
        assert.equal(reg(r, 7), r7, `${bits}-bit: R7`);
        assert.equal(reg(r, 26) & 0x1e0, 0x1e0, 'R26: DACL, DACR, LOUT1, ROUT1');
        assert.equal(reg(r, 47) & 0x00c, 0x00c, 'R47: LOMIX, ROMIX');
        assert.equal(reg(r, 34) & 0x100, 0x100, 'R34 bit 8: left DAC into the output mixer');
        assert.equal(reg(r, 37) & 0x100, 0x100, 'R37 bit 8: right DAC into the output mixer');
        assert.equal(reg(r, 5) & 0x008, 0x000, 'R5 bit 3: DAC soft mute off');
        assert.equal(reg(r, 25) & 0x180, 0x080, 'R25 [8:7]: VMID 2×50 kΩ');
        assert.equal(reg(r, 25) & 0x040, 0x040, 'R25 bit 6: VREF');
        assert.equal(reg(r, 4), 0x000, 'R4 = 0: SYSCLK = MCLK (mclk-12m288)');
        // Only the headphone's path: the speaker drivers (R26 0x018) and the capture power (R25 0x03E) stay off.
        assert.equal(reg(r, 26) & 0x018, 0, 'R26: SPKL, SPKR off');
        assert.equal(reg(r, 25) & 0x03e, 0, 'R25: AINL, AINR, ADCL, ADCR, MICB off');
        const st = served.runtime.analog!.state();
        const out = (id: string) => st.outputs.find((o) => o.stream === id)!;
        assert.equal(out('headphone').clockError, undefined, `${bits}-bit: the chip plays the link`);
        assert.equal(out('headphone').path?.silentBecause, undefined, 'the headphone passes signal');
        assert.match(out('speaker').path?.silentBecause ?? '', /SPKL not powered/, 'the speaker path is down');
      } finally {
        await s.stop();
      }
      // Negative control: after the stream the chip is powered down (R25 = 0, the last write to it).
      await poweredDown(served);
      assert.equal(model.writes.filter((w) => w.reg === 25).at(-1)!.value, 0x000, `R25 = 0 after the ${bits}-bit stream`);
    }
  });

  it('microphone: R25 ⊇ 0x03E, R47 ⊇ 0x030, R32/R33 bit 3, R0/R1 bit 7 clear; the headphone joins and the microphone leaves while powered', async () => {
    const mic = await startStream(served, 'microphone');
    let hp: { stop(): Promise<void> } | undefined;
    try {
      let r = await served.service.simControl!.regs();
      assert.equal(reg(r, 25) & 0x03e, 0x03e, 'R25: AINL, AINR, ADCL, ADCR, MICB');
      assert.equal(reg(r, 25) & 0x1c0, 0x0c0, 'R25: VMID 2×50 kΩ, VREF');
      assert.equal(reg(r, 47) & 0x030, 0x030, 'R47: LMIC, RMIC');
      assert.equal(reg(r, 32) & 0x008, 0x008, 'R32 bit 3: input boost');
      assert.equal(reg(r, 33) & 0x008, 0x008, 'R33 bit 3: input boost');
      assert.equal(reg(r, 0) & 0x080, 0, 'R0 bit 7: left PGA unmuted');
      assert.equal(reg(r, 1) & 0x080, 0, 'R1 bit 7: right PGA unmuted');
      assert.equal(reg(r, 1) & 0x100, 0x100, 'R1 bit 8: latched (left and right take effect together)');
      // Only the microphone's path: no DAC or output driver powered.
      assert.equal((served.runtime.chipModel as { peek(r: number): number | undefined }).peek(26) ?? 0, 0, 'R26: nothing on');
      assert.equal(served.runtime.analog!.state().inputs[0]!.path?.silentBecause, undefined, 'the microphone input passes signal');
      // The headphone joins while the codec is powered: its path comes up, the microphone's stays.
      hp = await startStream(served, 'headphone');
      r = await served.service.simControl!.regs();
      assert.equal(reg(r, 26) & 0x1e0, 0x1e0, 'R26: the headphone path up');
      assert.equal(reg(r, 25) & 0x03e, 0x03e, 'R25: the capture power kept');
      // The microphone leaves: its power goes, the headphone plays on.
      await mic.stop();
      await new Promise((res) => setTimeout(res, 100));
      r = await served.service.simControl!.regs();
      assert.equal(reg(r, 25) & 0x03e, 0, 'R25: the capture power off');
      assert.equal(reg(r, 0) & 0x080, 0x080, 'R0 bit 7: the PGA muted again');
      assert.equal(reg(r, 25) & 0x1c0, 0x0c0, 'R25: VMID and VREF kept');
      assert.equal(reg(r, 26) & 0x1e0, 0x1e0, 'R26: the headphone path kept');
      assert.equal(served.runtime.analog!.state().outputs.find((o) => o.stream === 'headphone')!.path?.silentBecause, undefined);
    } finally {
      await hp?.stop();
      await mic.stop().catch(() => undefined);
    }
  });

  it('speaker: R26 ⊇ 0x1D8 (DACs, SPKL, SPKR), R49 bits 7:6 set; the headphone drivers (R26 0x060) stay off', async () => {
    const s = await startStream(served, 'speaker');
    try {
      const r = await served.service.simControl!.regs();
      assert.equal(reg(r, 26) & 0x198, 0x198, 'R26: DACL, DACR, SPKL, SPKR');
      assert.equal(reg(r, 26) & 0x060, 0, 'R26: LOUT1, ROUT1 off');
      assert.equal(reg(r, 49) & 0x0c0, 0x0c0, 'R49 bits 7:6: class-D outputs enabled');
      assert.equal(reg(r, 34) & 0x100, 0x100);
      const st = served.runtime.analog!.state();
      assert.equal(st.outputs.find((o) => o.stream === 'speaker')!.path?.silentBecause, undefined, 'the speaker passes signal');
      assert.match(st.outputs.find((o) => o.stream === 'headphone')!.path?.silentBecause ?? '', /LOUT1 not powered/);
    } finally {
      await s.stop();
    }
  });

  it('the other rates are refused: only 48 kHz is clocked by the facts (SET_FORMAT 44.1 kHz and 8 kHz fail, 48 kHz 32-bit passes)', async () => {
    const ep = served.service.endpoints.find((e) => e.name === `${BOARD}.headphone`)!;
    const stream = await StreamClient.connect(ep.path);
    try {
      assert.notEqual((await stream.setFormat({ fps: 44100, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 })).result, STATUS.OK);
      assert.notEqual((await stream.setFormat({ fps: 8000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 })).result, STATUS.OK);
      // 24-in-32 is not offered (the engine carries 16, 32 and float: docs/PROTOCOL.md section 5).
      assert.equal((await stream.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT32, channels: 2 })).result, STATUS.OK, 'control');
    } finally {
      await stream.close();
    }
  });
});

/** The writes to R25/R26/R47 (the power registers) with their times. */
const powerWrites = (m: { writes: { reg: number; value: number; atNs: number }[] }) => m.writes.filter((w) => [25, 26, 47].includes(w.reg));

/** A copy of the description without the steps `drop` picks, in powerUp, powerDown or a sub-sequence. */
function without(d: CodecDescription, where: 'powerUp' | 'powerDown' | string, drop: (s: SequenceStep) => boolean): CodecDescription {
  if (where === 'powerUp' || where === 'powerDown') {
    assert.ok(d.sequences[where].some(drop), `${where} has the step to drop`);
    return { ...d, sequences: { ...d.sequences, [where]: d.sequences[where].filter((s) => !drop(s)) } };
  }
  assert.ok(d.subSequences![where]!.some(drop), `${where} has the step to drop`);
  return { ...d, subSequences: { ...d.subSequences, [where]: d.subSequences![where]!.filter((s) => !drop(s)) } };
}
const isDelay = (ms: number) => (s: SequenceStep) => s.op === 'delay' && s.ms === ms;

describe('WM8960 order and waits on the virtual clock (the chip model\'s write log)', () => {
  for (const clocking of ['mclk-12m288', 'pll-24m'] as const) {
    it(`${clocking}: ≥ 100 ms from VMID on (R25 0x080) to the next power step; R28 = 0x09C before and 0x008 after`, async () => {
      const r = await playThroughWm8960({ clocking });
      const p = powerWrites(r.model);
      const vmid = p.findIndex((w) => w.reg === 25 && (w.value & 0x180) === 0x080);
      assert.ok(vmid >= 0);
      assert.equal(p[vmid]!.value, 0x080, 'R25 = 0x080: VMID alone first');
      const next = p[vmid + 1]!;
      assert.ok(next.atNs - p[vmid]!.atNs >= 100e6, `next power write R${next.reg} ${((next.atNs - p[vmid]!.atNs) / 1e6).toFixed(1)} ms after VMID`);
      assert.deepEqual([next.reg, next.value], [25, 0x0c0], 'then VREF');
      const r28 = r.model.writes.filter((w) => w.reg === 28).map((w) => w.value);
      assert.deepEqual(r28.slice(0, 2), [0x09c, 0x008], 'anti-pop on (0x09C), then off keeping BUFIOEN (0x008)');
      assert.deepEqual(r.events.filter((e) => e.what === 'transient'), [], 'no pop');
      assert.ok(Math.abs(20 * Math.log10(r.peak.headphone) - -6) <= 0.1, `headphone ${r.peak.headphone}`);
    });
  }

  it('pll-24m: R52–R55 = 0x036/0x024/0x0DD/0x02F, PLL on (R26 bit 0), R4 = 0x049 ≥ 250 ms later; the chip plays from a 24 MHz MCLK', async () => {
    const r = await playThroughWm8960({ clocking: 'pll-24m' });
    const w = r.model.writes;
    assert.deepEqual([52, 53, 54, 55].map((reg) => w.filter((x) => x.reg === reg).at(-1)!.value), [0x036, 0x024, 0x0dd, 0x02f]);
    const pllOn = w.find((x) => x.reg === 26 && x.value & 0x001)!;
    const r4 = w.find((x) => x.reg === 4 && x.value === 0x049)!;
    assert.ok(pllOn && r4, 'PLL on and R4 = 0x049 written');
    assert.ok(w.indexOf(r4) > w.indexOf(pllOn));
    assert.ok(r4.atNs - pllOn.atNs >= 250e6, `R4 selects the PLL ${((r4.atNs - pllOn.atNs) / 1e6).toFixed(1)} ms after it came on`);
    assert.equal(r.state.outputs[0]!.clockError, undefined);
  });

  it('power-down: R5 bit 3 set, the paths down, then R28 = 0x09C, then R25 = 0, then ≥ 600 ms before it returns; nothing after', async () => {
    const r = await playThroughWm8960();
    const down = r.model.writes.slice(r.downFrom);
    assert.deepEqual([down[0]!.reg, down[0]!.value & 0x008], [5, 0x008], 'soft mute first');
    const i28 = down.findIndex((w) => w.reg === 28);
    const i25 = down.findIndex((w) => w.reg === 25);
    assert.equal(down[i28]!.value, 0x09c);
    assert.equal(down[i25]!.value, 0x000);
    assert.equal(i25, i28 + 1, 'R25 = 0 right after R28 = 0x09C');
    assert.equal(i25, down.length - 1, 'R25 = 0 is the last write');
    assert.ok(down.slice(0, i28).some((w) => w.reg === 26 && (w.value & 0x1e0) === 0), 'the output drivers and DACs off before VMID goes');
    assert.ok(r.downEndNs - down[i25]!.atNs >= 600e6, `power-down returned ${((r.downEndNs - down[i25]!.atNs) / 1e6).toFixed(1)} ms after R25 = 0`);
    assert.deepEqual(r.events.filter((e) => e.what === 'transient'), [], 'no pop on the way down');
  });

  it('negative controls: without the VMID wait, the PLL lock wait or the discharge wait the same measures fall short', async () => {
    // Both 100 ms waits after VMID gone: the next power step follows at once, and the model hears the pop.
    const noVmidWait = without(description, 'powerUp', isDelay(100));
    const a = await playThroughWm8960({ description: noVmidWait });
    const p = powerWrites(a.model);
    const vmid = p.findIndex((w) => w.reg === 25 && w.value === 0x080);
    assert.ok(p[vmid + 1]!.atNs - p[vmid]!.atNs < 100e6);
    assert.ok(a.events.some((e) => e.what === 'transient' && /after VMID came on/.test(e.detail)), 'the model\'s pop');
    const noLock = await playThroughWm8960({ clocking: 'pll-24m', description: without(description, 'clocking:pll-24m', isDelay(250)) });
    const w = noLock.model.writes;
    assert.ok(w.find((x) => x.reg === 4 && x.value === 0x049)!.atNs - w.find((x) => x.reg === 26 && x.value & 1)!.atNs < 250e6);
    const noDischarge = await playThroughWm8960({ description: without(description, 'powerDown', isDelay(600)) });
    const last = noDischarge.model.writes.at(-1)!;
    assert.deepEqual([last.reg, last.value], [25, 0]);
    assert.ok(noDischarge.downEndNs - last.atNs < 600e6);
  });
});

describe('WM8960 paths in the description: codec check', () => {
  it('the description passes; broken copies are reported (a need declared later, a block nobody needs, no paths step)', () => {
    assert.deepEqual(checkDescription(description), []);
    const paths = description.paths!;
    const reordered: CodecDescription = { ...description, paths: { headphone: paths.headphone!, playback: paths.playback!, speaker: paths.speaker!, microphone: paths.microphone! } };
    assert.deepEqual(checkDescription(reordered).map((p) => `${p.where}: ${p.message}`), ['paths.headphone: needs "playback", which is declared after it (declare what a path needs first)']);
    const orphan: CodecDescription = { ...description, paths: { ...paths, spare: { up: [], down: [] } } };
    assert.deepEqual(checkDescription(orphan).map((p) => p.where), ['paths.spare']);
    const noUp = without(description, 'powerUp', (s) => s.op === 'paths');
    assert.deepEqual(checkDescription(noUp).map((p) => p.where), ['sequences.powerUp']);
  });
});

describe('sbc-audio info: the WM8960 HAT\'s clocking mode and its three streams', () => {
  async function info(board: string) {
    const out: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: () => {}, isTTY: false };
    assert.equal(await main(['info', '--board', board, '--json'], io), 0);
    const text: string[] = [];
    assert.equal(await main(['info', '--board', board], { ...io, out: (t) => text.push(t) }), 0);
    return { json: JSON.parse(out.join('\n')) as { clocking: { mode: string; clockMaster: string } | null; streams: { id: string; direction: string; purpose: string }[] }, text: text.join('\n') };
  }

  for (const board of ['waveshare-wm8960-hat', BOARD]) {
    it(`${board}: mclk-12m288, the host the clock master; headphone, speaker, microphone`, async () => {
      const r = await info(board);
      assert.equal(r.json.clocking?.mode, 'mclk-12m288');
      assert.equal(r.json.clocking?.clockMaster, 'host');
      assert.match(r.text, /^Clocking: mclk-12m288 \(clock master: the host\): .*not verified on hardware/m);
      assert.deepEqual(r.json.streams.map((s) => [s.id, s.direction, s.purpose]), [['headphone', 'output', 'headphone'], ['speaker', 'output', 'speaker'], ['microphone', 'input', 'microphone']]);
      for (const id of ['headphone', 'speaker', 'microphone']) assert.match(r.text, new RegExp(`^${id} +(output|input) +${id} `, 'm'));
    });
  }
});
