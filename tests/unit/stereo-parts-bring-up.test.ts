/**
 * The bring-ups of the TLV320AIC3104 (as clock master on the ReSpeaker 2-Mic v2's twin), the
 * SGTL5000 and the CS4271 (on their fixture boards, board/sim-sgtl5000.json and
 * board/sim-cs4271.json), issue "Real chips, part 3":
 *  - the register maps' reset defaults and volatile registers against the facts' lists;
 *  - the registers the chip models hold while a stream plays, read over the simulated bus as
 *    `sbc-audio sim regs` reads them (SimControl.regs, in-process), through the stream service in
 *    real time, as `sbc-audio serve` runs;
 *  - the order and the waits on the virtual clock (the models' write logs): the AIC3104's clocks
 *    set up before the host's PCM starts, 50 ms from its power-up to the unmute; the SGTL5000's
 *    CHIP_ID read first, its VAG cleared with 500 ms where it is on, no access before MCLK runs;
 *    the CS4271's MODE2 0x03 then 0x02, 85 µs, then MODE1 and ADCCTL.
 *
 * Every expected value is a literal from the parts' FACTS.md (codecs/tlv320aic3104/FACTS.md#bring-up-on-the-respeaker-2-mic-v2,
 * codecs/sgtl5000/FACTS.md#bring-up, codecs/cs4271/FACTS.md#bring-up and their reset defaults),
 * never read from a description or a driver; each check has its negative control.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { description as aic3104 } from '../../codecs/tlv320aic3104/description.ts';
import type { Tlv320aic3104Model } from '../../codecs/tlv320aic3104/model.ts';
import { description as sgtl5000 } from '../../codecs/sgtl5000/description.ts';
import type { Sgtl5000Model } from '../../codecs/sgtl5000/model.ts';
import { description as cs4271 } from '../../codecs/cs4271/description.ts';
import type { Cs4271Model } from '../../codecs/cs4271/model.ts';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { serveBoard, type ServedBoard } from '../../src/cli/wiring.ts';
import type { CodecDescription, SequenceStep } from '../../src/codec/description.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { StreamClient } from '../../src/stream/client.ts';
import type { RegsAnswer } from '../../src/stream/sim-control.ts';
import { STATUS } from '../../src/stream/wire.ts';
import { playThroughPart } from '../fixtures/codecs/stereo-rig.ts';

const facts = (part: string) => readFileSync(new URL(`../../codecs/${part}/FACTS.md`, import.meta.url), 'utf8');
const section = (text: string, heading: string) => {
  const at = text.indexOf(`## ${heading}`);
  assert.ok(at >= 0, `section "${heading}"`);
  const next = text.indexOf('\n## ', at + 3);
  return text.slice(at, next < 0 ? undefined : next).replace(/\s+/g, ' ');
};

// ---------------------------------------------------------------------------------------------
// The register maps against the facts' reset defaults and volatile registers.

describe('register maps: the reset defaults and volatile registers are the facts\' lists', () => {
  it('TLV320AIC3104: 3 = 0x10, 4 = 0x04, 11 = 0x01, 15/16 = 0x80, 17/18 = 0xFF, 19–24 = 0x78, 43/44 = 0x80, 51/58/65/72 = 0x04, 102 = 0x02, all others 0; none volatile', () => {
    const text = section(facts('tlv320aic3104'), 'Reset defaults');
    assert.match(text, /3 = 0x10, 4 = 0x04, 11 = 0x01, 15\/16 = 0x80, 17\/18 = 0xFF, 19–24 = 0x78, 43\/44 = 0x80, 51\/58\/65\/72 = 0x04, 102 = 0x02, all others 0\./);
    const listed = new Map<number, number>([[3, 0x10], [4, 0x04], [11, 0x01], [15, 0x80], [16, 0x80], [17, 0xff], [18, 0xff],
      [19, 0x78], [20, 0x78], [21, 0x78], [22, 0x78], [23, 0x78], [24, 0x78], [43, 0x80], [44, 0x80], [51, 0x04], [58, 0x04], [65, 0x04], [72, 0x04], [102, 0x02]]);
    const regs = aic3104.regmap!.registers;
    for (const r of regs) {
      assert.equal(Math.floor(r.addr / 0x100), 0, `${r.name}: a page 0 register`);
      assert.equal(r.reset, listed.get(r.addr) ?? 0, `${r.name} (reg ${r.addr})`);
      assert.ok(!r.volatile, `${r.name}: no volatile register among the facts`);
    }
    for (const addr of [3, 15, 16, 19, 22, 43, 44, 51, 65, 102]) assert.ok(regs.some((r) => r.addr === addr), `reg ${addr} declared`);
    // Negative control: the PGA's mute bit resets set (0x80), not 0.
    assert.notEqual(regs.find((r) => r.addr === 15)!.reset, 0);
  });

  it('SGTL5000: the ten defaults the facts list, every other register unknown; volatile 0x0000, 0x000E, 0x0036 only', () => {
    const text = section(facts('sgtl5000'), 'Reset defaults');
    assert.match(text, /Defaults: 0x0002 = 0, 0x0006 = 0x0010, 0x000A = 0x0010, 0x000E = 0x020C, 0x0010 = 0x3C3C, 0x0014 = 0x015F, 0x0022 = 0x1818, 0x0024 = 0x0111, 0x002E = 0x0404, 0x0032 = 0x5000\./);
    assert.match(text, /Volatile: 0x0000, 0x000E, 0x0036\./);
    const listed = new Map<number, number>([[0x0002, 0], [0x0006, 0x0010], [0x000a, 0x0010], [0x000e, 0x020c], [0x0010, 0x3c3c], [0x0014, 0x015f],
      [0x0022, 0x1818], [0x0024, 0x0111], [0x002e, 0x0404], [0x0032, 0x5000]]);
    const regs = sgtl5000.regmap!.registers;
    for (const [addr, v] of listed) assert.equal(regs.find((r) => r.addr === addr)?.reset, v, `0x${addr.toString(16)}`);
    for (const r of regs.filter((x) => !listed.has(x.addr))) assert.equal(r.reset, 'unknown', `${r.name}: not among the facts' defaults`);
    assert.deepEqual(regs.filter((r) => r.volatile).map((r) => r.addr).sort((a, b) => a - b), [0x0000, 0x000e, 0x0036]);
    assert.notEqual(regs.find((r) => r.addr === 0x0030)!.reset, 0, 'negative control: ANA_POWER\'s default is not among the facts');
  });

  it('CS4271: MODE1 (0x01), VOLA/VOLB (0x04/0x05), ADCCTL (0x06), MODE2 (0x07) reset 0; DACCTL/DACVOL\'s addresses unknown; volatile 0x08 only', () => {
    const text = section(facts('cs4271'), 'Reset defaults');
    assert.match(text, /MODE1 0, DACCTL 0x80, DACVOL 0x29, VOLA\/VOLB 0, ADCCTL 0, MODE2 0\. Volatile: 0x08\./);
    const regs = cs4271.regmap!.registers;
    const at = (a: number) => regs.find((r) => r.addr === a)!;
    assert.deepEqual([0x01, 0x04, 0x05, 0x06, 0x07].map((a) => [at(a).name, at(a).reset]), [['MODE1', 0], ['VOLA', 0], ['VOLB', 0], ['ADCCTL', 0], ['MODE2', 0]]);
    assert.deepEqual([0x02, 0x03, 0x08].map((a) => at(a).reset), ['unknown', 'unknown', 'unknown'], 'no address among the facts for 0x80 / 0x29');
    assert.deepEqual(regs.filter((r) => r.volatile).map((r) => r.addr), [0x08]);
    assert.ok(!regs.some((r) => r.reset === 0x80 || r.reset === 0x29), 'negative control: DACCTL/DACVOL\'s defaults placed nowhere');
  });
});

// ---------------------------------------------------------------------------------------------
// Through the stream service (real time): the registers while a stream plays.

/** The value the chip model holds at `addr` (page * 0x100 + reg on paged parts) in a `sim regs` answer. */
function reg(r: RegsAnswer, addr: number): number {
  const x = r.registers.find((y) => y.addr === addr);
  assert.ok(x, `register 0x${addr.toString(16)} in sim regs`);
  assert.equal(x.error, null, `0x${addr.toString(16)}: ${x.error}`);
  return x.read!;
}

/** Waits (real time) until no engine holds a PCM: the service lets go of it after a linger of silence. */
async function pcmGone(served: ServedBoard): Promise<void> {
  const deadline = Date.now() + 5000;
  while (served.service.ringBuffers.size > 0) {
    assert.ok(Date.now() < deadline, `${served.runtime.board.name}: a PCM still held 5 s after the stream closed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function poweredDown(served: ServedBoard): Promise<void> {
  const deadline = Date.now() + 5000;
  while (served.runtime.power.state !== 'off') {
    assert.ok(Date.now() < deadline, `${served.runtime.board.name}: still ${served.runtime.power.state} 5 s after the stream closed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Plays a stream (`id`) at 48 kHz, `bits`; hands `check` the registers and the analog state while it plays. */
async function whilePlaying(served: ServedBoard, id: string, bits: 16 | 32, check: (regs: RegsAnswer) => void | Promise<void>): Promise<void> {
  const board = served.runtime.board;
  const ep = served.service.endpoints.find((e) => e.name === `${board.name}.${id}`)!;
  const stream = await StreamClient.connect(ep.path);
  try {
    const f = await stream.setFormat({ fps: 48000, sampleFormat: bits === 16 ? SAMPLE_FORMAT.BIT16 : SAMPLE_FORMAT.BIT32, channels: 2 });
    assert.equal(f.result, STATUS.OK, `${board.name}: SET_FORMAT 48 kHz ${bits}-bit`);
    const rb = await stream.openRingBuffer(f.token!);
    assert.equal((await rb.getFifoDepth()).result, STATUS.OK);
    assert.equal((await rb.getBuffer(12000, 4)).result, STATUS.OK);
    assert.equal((await rb.start()).result, STATUS.OK);
    await new Promise((r) => setTimeout(r, 200));
    const regs = await served.service.simControl!.regs();
    const st = served.runtime.analog!.state();
    assert.equal(st.outputs[0]!.clockError, undefined, `${board.name} ${bits}-bit: the chip plays the link`);
    assert.equal(st.outputs[0]!.path?.silentBecause, undefined, `${board.name}: the output passes signal`);
    await check(regs);
    await rb.stop();
  } finally {
    await stream.close();
  }
}

describe('stereo parts through the stream service: the chip\'s registers while a stream plays (sim regs)', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sbc-stereo-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('respeaker-2mic-v2-sim at 48 kHz 16-bit then 32-bit: reg 8 = 0xC0, reg 9 [5:4] = 0 / 3, reg 3 = 0x20, reg 101 = 0x01, reg 7 = 0x0A, reg 37 ⊇ 0xC0, regs 51/65 = 0x09, regs 43/44 bit 7 clear; the clocks written before the PCM ran', async () => {
    const served = await serveBoard('respeaker-2mic-v2-sim', { runtimeDir: dir });
    try {
      const model = served.runtime.chipModel as Tlv320aic3104Model;
      for (const [bits, wl] of [[16, 0], [32, 3]] as const) {
        await whilePlaying(served, 'headphone', bits, (r) => {
          assert.equal(r.values, 'chip');
          assert.equal(reg(r, 8), 0xc0, 'the codec drives BCLK and WCLK');
          assert.equal((reg(r, 9) >> 4) & 3, wl, `${bits}-bit word length`);
          assert.equal(reg(r, 9) >> 6, 0, 'I2S');
          assert.equal(reg(r, 10), 0x00, 'no data offset');
          assert.equal(reg(r, 3), 0x20, 'PLL off, Q = 4');
          assert.equal(reg(r, 101), 0x01, 'CODEC_CLK from the clock divider');
          assert.equal(reg(r, 102) & 0xf0, 0x00, 'clock divider and PLL input = MCLK');
          assert.equal(reg(r, 7), 0x0a, 'fsref 48 kHz, left ← left, right ← right');
          assert.equal(reg(r, 2), 0x00, 'fsref ÷ 1');
          assert.equal(reg(r, 37) & 0xc0, 0xc0, 'left and right DAC power');
          assert.equal(reg(r, 47), 0x80, 'DAC_L1 → HPLOUT at 0 dB');
          assert.equal(reg(r, 64), 0x80, 'DAC_R1 → HPROUT at 0 dB');
          assert.equal(reg(r, 51), 0x09, 'HPLOUT powered and unmuted');
          assert.equal(reg(r, 65), 0x09, 'HPROUT powered and unmuted');
          assert.equal(reg(r, 43) & 0x80, 0, 'left DAC unmuted while playing');
          assert.equal(reg(r, 44) & 0x80, 0, 'right DAC unmuted while playing');
          assert.equal(reg(r, 19), 0x04, 'LINE1L into the ADC at 0 dB, ADC powered');
          assert.equal(reg(r, 22), 0x04, 'LINE1R into the ADC at 0 dB, ADC powered');
          assert.equal(reg(r, 15), 0x20, 'left PGA 0x20, unmuted');
          assert.equal(reg(r, 16), 0x20, 'right PGA 0x20, unmuted');
          assert.equal(reg(r, 25), 0x80, 'MICBIAS 2.5 V');
          assert.equal(served.runtime.analog!.state().inputs[0]!.path?.silentBecause, undefined, 'the microphones\' path passes signal');
        });
        // Negative control: after the stream the codec is powered down: muted, drivers off.
        await poweredDown(served);
        await pcmGone(served); // the next stream's format is set once this one's PCM let go
        assert.equal(model.peek(0, 43) & 0x80, 0x80, `R43 muted after the ${bits}-bit stream`);
        assert.equal(model.peek(0, 51) & 0x01, 0x00, `HPLOUT off after the ${bits}-bit stream`);
      }
      // The clocks (regs 102, 3, 101, 7, 2, 8) and the word length (reg 9) were written while no PCM ran; the power-up (reg 37) while one did.
      const clockWrites = model.writes.filter((w) => w.page === 0 && [102, 3, 101, 7, 2, 8, 9].includes(w.reg));
      assert.ok(clockWrites.filter((w) => w.reg === 9).length >= 2, 'reg 9 written for each stream');
      assert.ok(clockWrites.some((w) => w.reg === 8 && w.value === 0xc0), 'reg 8 = 0xC0 written');
      assert.deepEqual(clockWrites.filter((w) => w.link), [], 'no clock or interface write while the host\'s PCM ran');
      const powerUps = model.writes.filter((w) => w.page === 0 && w.reg === 37 && (w.value & 0xc0) === 0xc0);
      assert.equal(powerUps.length, 2, 'one power-up per stream');
      assert.ok(powerUps.every((w) => w.link), 'each power-up while the PCM ran (after START)');
      assert.deepEqual(served.runtime.analog!.events.filter((e) => e.what === 'transient' || (e.what === 'clock-error' && e.detail !== 'cleared')), []);
    } finally {
      await served.close();
    }
  });

  it('sim-sgtl5000 at 48 kHz 16-bit: CHIP_ID read first, the defaults written, CLK_CTRL = 0x0008, I2S_CTRL = 0x0130 (0x0080 clear: slave), the power and routing of the facts', async () => {
    const served = await serveBoard('sim-sgtl5000', { runtimeDir: dir });
    try {
      const model = served.runtime.chipModel as Sgtl5000Model;
      assert.deepEqual(model.accesses[0] && [model.accesses[0].kind, model.accesses[0].reg], ['read', 0x0000], 'CHIP_ID read first');
      // No reset: the facts' defaults written first (Reset defaults), in the facts' order.
      assert.deepEqual(model.writes.slice(0, 10).map((w) => [w.reg, w.value]), [
        [0x0002, 0], [0x0006, 0x0010], [0x000a, 0x0010], [0x000e, 0x020c], [0x0010, 0x3c3c], [0x0014, 0x015f], [0x0022, 0x1818], [0x0024, 0x0111], [0x002e, 0x0404], [0x0032, 0x5000],
      ]);
      await whilePlaying(served, 'headphone', 16, (r) => {
        assert.equal(reg(r, 0x0000) >> 8, 0xa0, 'CHIP_ID [15:8]');
        assert.equal(reg(r, 0x0004), 0x0008, 'CLK_CTRL: 48 kHz from 12.288 MHz');
        assert.equal(reg(r, 0x0006), 0x0130, 'I2S_CTRL: 16-bit');
        assert.equal(reg(r, 0x0006) & 0x0080, 0, 'slave');
        assert.equal(reg(r, 0x0030) & 0x7060, 0x7060, 'ANA_POWER 0x7060 (steps 4-5)');
        assert.equal(reg(r, 0x0030) & 0x009a, 0x009a, 'ANA_POWER DAC 0x0008, HP 0x0010, VAG 0x0080, ADC 0x0002');
        assert.equal(reg(r, 0x0002), 0x0063, 'DIG_POWER 0x0060 | I2S in | I2S out');
        assert.equal(reg(r, 0x0024) & 0x0050, 0, 'ANA_CTRL: headphone from the DAC, unmuted');
        assert.equal(reg(r, 0x0028) & 0x01f1, 0x01f1, 'REF_CTRL: VAG code 31 (VDDA 3.3 V), small-pop');
        assert.equal(reg(r, 0x003c), 0x0000, 'SHORT_CTRL = 0');
        assert.equal(reg(r, 0x000e), 0x0200, 'ADCDAC_CTRL 0x020C then 0x0200');
        assert.equal(reg(r, 0x0010), 0x3c3c, 'DAC volume 0 dB');
      });
      await poweredDown(served);
      assert.equal(model.peek(0x0030) & 0x0098, 0, 'negative control: DAC, HP and VAG off after the stream');
      assert.equal(model.refusedWhileStopped, 0, 'the board\'s oscillator ran before every access');
      assert.deepEqual(served.runtime.analog!.events.filter((e) => e.what === 'transient'), []);
    } finally {
      await served.close();
    }
  });

  it('sim-cs4271 at 48 kHz 16-bit then 32-bit: MODE2 = 0x02, MODE1 = 0x01, ADCCTL = 0x10, VOLA/VOLB = 0x00 while playing; MODE2 = 0x03 after', async () => {
    const served = await serveBoard('sim-cs4271', { runtimeDir: dir });
    try {
      const model = served.runtime.chipModel as Cs4271Model;
      for (const bits of [16, 32] as const) {
        await whilePlaying(served, 'line-out', bits, (r) => {
          assert.equal(reg(r, 0x07), 0x02, 'MODE2: control port enabled, out of power down');
          assert.equal(reg(r, 0x01), 0x01, 'MODE1: single speed, slave, I2S');
          assert.equal(reg(r, 0x06), 0x10, 'ADCCTL: ADC I2S');
          assert.equal(reg(r, 0x04), 0x00, 'VOLA: 0 dB, unmuted');
          assert.equal(reg(r, 0x05), 0x00, 'VOLB: 0 dB, unmuted');
        });
        await poweredDown(served);
        assert.equal(model.peek(0x07), 0x03, `negative control: power down after the ${bits}-bit stream`);
      }
    } finally {
      await served.close();
    }
  });

  it('sbc-audio info: respeaker-2mic-v2(-sim) master-mclk-24m576, the codec the clock master', async () => {
    for (const board of ['respeaker-2mic-v2', 'respeaker-2mic-v2-sim']) {
      const out: string[] = [];
      const io: CliIO = { out: (t) => out.push(t), err: () => {}, isTTY: false };
      assert.equal(await main(['info', '--board', board, '--json'], io), 0);
      const json = JSON.parse(out.join('\n')) as { clocking: { mode: string; clockMaster: string } | null };
      assert.deepEqual(json.clocking && [json.clocking.mode, json.clocking.clockMaster], ['master-mclk-24m576', 'codec'], board);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Order and waits on the virtual clock.

/** A copy of `d` without the steps `drop` picks from a sequence or a sub-sequence (which must have one). */
function cut(d: CodecDescription, where: keyof CodecDescription['sequences'] | `sub:${string}`, drop: (s: SequenceStep) => boolean): CodecDescription {
  if (where.startsWith('sub:')) {
    const name = where.slice(4);
    assert.ok(d.subSequences![name]!.some(drop), `${name} has the step to drop`);
    return { ...d, subSequences: { ...d.subSequences, [name]: d.subSequences![name]!.filter((s) => !drop(s)) } };
  }
  const seq = where as keyof CodecDescription['sequences'];
  assert.ok(d.sequences[seq].some(drop), `${seq} has the step to drop`);
  return { ...d, sequences: { ...d.sequences, [seq]: d.sequences[seq].filter((s) => !drop(s)) } };
}

describe('TLV320AIC3104 order on the virtual clock: the clocks before the PCM, 50 ms from power-up to unmute', () => {
  // Reg 102 resets to 0x02, [7:4] already 0 (MCLK): its update writes nothing, and it must not change later.
  const CLOCK_REGS = [3, 101, 7, 2, 8];

  for (const bits of [16, 32] as const) {
    it(`${bits}-bit: regs 3, 101, 7, 2, 8 written (102 kept at its reset [7:4] = 0: MCLK) before the PCM started (no link yet); ≥ 50 ms from the headphone drivers' power-up to the DAC unmute`, async () => {
      const r = await playThroughPart('tlv320aic3104', { bits });
      const w = r.model.writes.filter((x) => x.page === 0);
      for (const a of CLOCK_REGS) {
        const at = w.filter((x) => x.reg === a);
        assert.ok(at.length > 0, `reg ${a} written`);
        assert.ok(at.every((x) => x.atNs < r.pcmStartNs && !x.link), `reg ${a}: before the PCM started`);
      }
      assert.equal(w.find((x) => x.reg === 8)!.value, 0xc0);
      assert.ok(w.filter((x) => x.reg === 102).every((x) => x.atNs < r.pcmStartNs && (x.value & 0xf0) === 0), 'reg 102 [7:4] = 0 (MCLK), never changed after');
      assert.equal(r.model.peek(0, 102) & 0xf0, 0);
      assert.equal((w.filter((x) => x.reg === 9).at(-1)!.value >> 4) & 3, bits === 16 ? 0 : 3);
      // The power-up: HPLOUT/HPROUT powered (bit 0), then at least 50 ms, then both DAC mute bits clear.
      const hpOn = w.filter((x) => (x.reg === 51 || x.reg === 65) && x.value & 0x01 && x.atNs >= r.upStartNs);
      const unmute = w.filter((x) => (x.reg === 43 || x.reg === 44) && !(x.value & 0x80) && x.atNs >= r.upStartNs);
      assert.equal(hpOn.length, 2);
      assert.equal(unmute.length, 2);
      assert.ok(hpOn.every((x) => x.link), 'the drivers powered while the PCM ran');
      const gap = Math.min(...unmute.map((x) => x.atNs)) - Math.max(...hpOn.map((x) => x.atNs));
      assert.ok(gap >= 50e6, `${(gap / 1e6).toFixed(1)} ms from power-up to unmute`);
      assert.deepEqual(r.events.filter((e) => e.what === 'clock-error' || e.what === 'transient'), []);
    });
  }

  it('negative (order): a copy that sets the clocks up at power-up, after the PCM started → clock writes with the link running, and "no clocks" meanwhile', async () => {
    const clockSteps = aic3104.subSequences!.format!.filter((s) => s.op !== 'hook' && !(s.op === 'write' && s.reg === 'IFACE_C'));
    const late: CodecDescription = {
      ...aic3104,
      subSequences: { ...aic3104.subSequences, format: aic3104.subSequences!.format!.filter((s) => !clockSteps.includes(s)) },
      sequences: { ...aic3104.sequences, powerUp: [...clockSteps, ...aic3104.sequences.powerUp] },
    };
    const r = await playThroughPart('tlv320aic3104', { description: late });
    const w8 = r.model.writes.find((x) => x.page === 0 && x.reg === 8)!;
    assert.ok(w8.atNs > r.pcmStartNs && w8.link, 'reg 8 written after the PCM started');
    assert.ok(r.events.some((e) => e.what === 'clock-error' && /no clocks/.test(e.detail)), JSON.stringify(r.events.filter((e) => e.what === 'clock-error')));
  });

  it('negative (wait): a copy without the 50 ms → the gap is 0 ms (and the model pops)', async () => {
    const r = await playThroughPart('tlv320aic3104', { description: cut(aic3104, 'powerUp', (s) => s.op === 'delay') });
    const w = r.model.writes.filter((x) => x.page === 0 && x.atNs >= r.upStartNs);
    const gap = Math.min(...w.filter((x) => (x.reg === 43 || x.reg === 44) && !(x.value & 0x80)).map((x) => x.atNs)) -
      Math.max(...w.filter((x) => (x.reg === 51 || x.reg === 65) && x.value & 0x01).map((x) => x.atNs));
    assert.ok(gap < 50e6, `${gap} ns`);
    assert.equal(r.events.filter((e) => e.what === 'transient').length, 2);
  });
});

describe('SGTL5000 fixture: no access before MCLK, CHIP_ID first, VAG cleared with its 500 ms (virtual clock)', () => {
  const open = (mclk = true) => {
    const b = loadBoard('sim-sgtl5000');
    const { mclk: _m, ...codec } = b.codec;
    return openBoard(mclk ? b : { ...b, codec }, { clock: new VirtualClock(1e9, true) });
  };

  it('with the board\'s oscillator (codec.mclk) the chip answers: CHIP_ID is the first access', async () => {
    const rt = await open();
    try {
      await rt.codec.probe();
      const model = rt.chipModel as Sgtl5000Model;
      assert.deepEqual(model.accesses.map((a) => [a.kind, a.reg]), [['read', 0x0000]]);
      assert.equal(model.refusedWhileStopped, 0);
    } finally {
      await rt.close();
    }
  });

  it('without MCLK: the driver sends nothing (its bus gate), and the model refuses every address phase when the gate is forced open', async () => {
    const rt = await open(false);
    try {
      const model = rt.chipModel as Sgtl5000Model;
      await assert.rejects(rt.codec.probe(), /its master clock \(MCLK\) is not running/);
      await assert.rejects(rt.codec.init(), /its master clock \(MCLK\) is not running/);
      assert.deepEqual(model.accesses, [], 'nothing reached the chip');
      assert.equal(model.refusedWhileStopped, 0);
      // The driver told (wrongly) that the clock runs: the model itself refuses.
      await rt.codec.setMclkRunning!(true);
      await assert.rejects(rt.codec.probe(), /no acknowledge/);
      assert.ok(model.refusedWhileStopped > 0, 'the model refused its address');
      assert.deepEqual(model.accesses, [], 'and took no access');
    } finally {
      await rt.close();
    }
  });

  it('VAG already on (ANA_POWER bit 7): init clears it and waits 500 ms before the next power write; negative control: VAG off → no clear, no wait', async () => {
    for (const vagOn of [true, false]) {
      const rt = await open();
      try {
        const model = rt.chipModel as Sgtl5000Model;
        if (vagOn) model.write(Uint8Array.of(0x00, 0x30, 0x00, 0x80)); // the chip left with VAG on
        const from = model.accesses.length;
        await rt.codec.probe();
        await rt.codec.init();
        const ana = model.accesses.slice(from).filter((a) => a.reg === 0x0030 && a.kind === 'write');
        const values = model.writes.filter((w) => w.reg === 0x0030).slice(vagOn ? 1 : 0).map((w) => w.value);
        if (vagOn) {
          assert.deepEqual(values.slice(0, 2), [0x0000, 0x7060], 'VAG cleared, then the analog power');
          assert.ok(ana[1]!.atNs - ana[0]!.atNs >= 500e6, `${((ana[1]!.atNs - ana[0]!.atNs) / 1e6).toFixed(1)} ms after VAG cleared`);
        } else {
          assert.deepEqual(values.slice(0, 1), [0x7060], 'no clear: the analog power first');
        }
        assert.deepEqual(rt.analog!.events.filter((e) => e.what === 'transient'), []);
      } finally {
        await rt.close();
      }
    }
  });
});

describe('CS4271 fixture: MODE2 0x03 then 0x02, 85 µs, then MODE1 = 0x01 and ADCCTL = 0x10 (virtual clock)', () => {
  const bringUp = (m: Cs4271Model, from = 0) => {
    const w = m.writes.slice(from);
    const i03 = w.findIndex((x) => x.reg === 0x07 && x.value === 0x03);
    const i02 = w.findIndex((x, i) => i > i03 && x.reg === 0x07 && x.value === 0x02);
    const iM1 = w.findIndex((x, i) => i > i02 && x.reg === 0x01 && x.value === 0x01);
    const iAdc = w.findIndex((x, i) => i > iM1 && x.reg === 0x06 && x.value === 0x10);
    return { w, i03, i02, iM1, iAdc };
  };

  it('on the fixture board: in that order, MODE1 ≥ 85 µs after MODE2 = 0x02', async () => {
    const rt = await openBoard(loadBoard('sim-cs4271'), { clock: new VirtualClock(1e9, true) });
    try {
      await rt.codec.probe();
      await rt.codec.init();
      const { w, i03, i02, iM1, iAdc } = bringUp(rt.chipModel as Cs4271Model);
      assert.ok(i03 === 0 && i02 > i03 && iM1 > i02 && iAdc > iM1, JSON.stringify(w));
      assert.ok(w[iM1]!.atNs - w[i02]!.atNs >= 85e3, `${w[iM1]!.atNs - w[i02]!.atNs} ns`);
    } finally {
      await rt.close();
    }
  });

  it('negative control: a copy without the wait writes MODE1 less than 85 µs after MODE2 = 0x02', async () => {
    const r = await playThroughPart('cs4271', { description: cut(cs4271, 'init', (s) => s.op === 'delay') });
    const { w, i02, iM1 } = bringUp(r.model);
    assert.ok(w[iM1]!.atNs - w[i02]!.atNs < 85e3);
  });
});
