/**
 * WM8960: expected values are the figures of codecs/wm8960/FACTS.md, written as literals.
 * Bytes on the wire are [A6..A0 D8] [D7..D0]: R10 (0x0A) becomes 0x14 | D8, R11 (0x0B) 0x16 | D8.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Wm8960Driver } from '../../codecs/wm8960/driver.ts';
import { Wm8960Model } from '../../codecs/wm8960/model.ts';
import { boardPower, indexOf, isGpio, isWrite, makeHarness } from '../fixtures/codecs/harness.ts';

const ADDR = 0x1a;
const DAC = 'Digital Playback Volume';
const HP = 'Headphone Playback Volume';
const SPK = 'Speaker Playback Volume';
const ADC = 'ADC Capture Volume';
const PGA = 'Capture PGA Volume';

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; smbusOnly?: boolean } = {}) {
  const model = new Wm8960Model();
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options, smbusOnly: opts.smbusOnly });
  model.clock = h.clock;
  const driver = new Wm8960Driver(h.ctx);
  // The board's amplifier lines (boardRoles) around the codec's sequences, as openBoard wires rt.power.
  return { ...h, model, driver, power: boardPower(h, driver) };
}

const writes = (log: ReturnType<typeof setup>['log']) => log.filter((e) => e.kind === 'i2c-write').map((e) => e.bytes);

describe('wm8960 model (written from codecs/wm8960/FACTS.md, not from the driver)', () => {
  it('does not import the driver or its description', () => {
    const src = readFileSync(new URL('../../codecs/wm8960/model.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
  });

  it('unpacks 7-bit address + 9-bit value and applies a volume pair only on the update latch', () => {
    const m = new Wm8960Model();
    assert.deepEqual(m.dac(), { left: 0, right: 0 }, '[7:0] reset 0xFF = 0 dB');
    m.write(Uint8Array.of(0x14, 0x01)); // R10 = 0x001, no latch
    assert.equal(m.peek(10), 0x001);
    assert.deepEqual(m.dac(), { left: 0, right: 0 }, 'not yet in effect');
    m.write(Uint8Array.of(0x17, 0x01)); // R11 = 0x101: latch
    assert.deepEqual(m.dac(), { left: -127, right: -127 });
    m.write(Uint8Array.of(0x14, 0x00));
    m.write(Uint8Array.of(0x17, 0x00));
    assert.deepEqual(m.dac(), { left: 'mute', right: 'mute' });
    assert.throws(() => m.read(1), /cannot be read/);
    assert.equal(m.readAttempts, 1);
  });
});

describe('wm8960 driver', () => {
  it('never reads the chip (write-only), over full I2C and over SMBus', async () => {
    for (const smbusOnly of [false, true]) {
      const { driver, model, log } = setup({ smbusOnly });
      await driver.probe();
      await driver.init();
      await driver.setFormat({ rate: 48000, channels: 2, bits: 16 }).catch(() => undefined);
      await driver.powerUp();
      await driver.setGain(DAC, -20);
      await driver.setGain(HP, -3);
      await driver.powerDown();
      assert.equal(model.readAttempts, 0);
      assert.equal(model.badWrites, 0);
      assert.equal(log.filter((e) => e.kind === 'i2c-read').length, 0);
      assert.equal(driver.regmap!.stats.reads, 0);
    }
  });

  it('reports the DAC volume in stream terms: -127 .. 0 dB in 0.5 dB steps, mute through code 0x00', () => {
    const { driver } = setup();
    const c = driver.gainControls().map(({ source: _s, ...x }) => x);
    assert.deepEqual(c.find((x) => x.name === DAC), { name: DAC, direction: 'output', minDb: -127, maxDb: 0, stepDb: 0.5, canMute: true, main: true });
    assert.deepEqual(c.find((x) => x.name === HP), { name: HP, direction: 'output', minDb: -73, maxDb: 6, stepDb: 1, canMute: false, main: false });
    assert.deepEqual(c.find((x) => x.name === SPK), { name: SPK, direction: 'output', minDb: -73, maxDb: 6, stepDb: 1, canMute: false, main: false });
    assert.deepEqual(c.find((x) => x.name === ADC), { name: ADC, direction: 'input', minDb: -97, maxDb: 30, stepDb: 0.5, canMute: true, main: true });
    assert.deepEqual(c.find((x) => x.name === PGA), { name: PGA, direction: 'input', minDb: -17.25, maxDb: 30, stepDb: 0.75, canMute: false, main: false });
  });

  it('writes 0xFF = 0 dB, 0x01 = -127 dB, 0.5 dB steps, and sets DACVU on the second channel only', async () => {
    const { driver, model, log } = setup();
    await driver.init();
    await driver.powerUp();
    log.length = 0;
    assert.deepEqual(await driver.setGain(DAC, 0), { db: 0, muted: false });
    assert.deepEqual(writes(log), [[0x14, 0xff], [0x17, 0xff]]);
    log.length = 0;
    assert.deepEqual(await driver.setGain(DAC, -127), { db: -127, muted: false });
    assert.deepEqual(writes(log), [[0x14, 0x01], [0x17, 0x01]]);
    assert.deepEqual(model.dac(), { left: -127, right: -127 });
    await driver.setGain(DAC, -126.5);
    assert.equal(model.peek(10), 0x002);
    assert.equal(model.peek(11), 0x102);
    // Halfway between -127 and -126.5: the lower gain.
    await driver.setGain(DAC, -126.75);
    assert.equal(model.peek(10), 0x001);
    await assert.rejects(driver.setGain(DAC, 0.5), /outside its range -127 .. 0 dB/);
    await assert.rejects(driver.setGain(DAC, -127.5), /outside its range/);
  });

  it('mutes with code 0x00 (latched on the right channel) and restores the gain on unmute', async () => {
    const { driver, model, log } = setup();
    await driver.init();
    await driver.powerUp();
    await driver.setGain(DAC, -10);
    log.length = 0;
    assert.deepEqual(await driver.setMute(DAC, true), { db: -10, muted: true });
    assert.deepEqual(writes(log), [[0x14, 0x00], [0x17, 0x00]]);
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.setGain(DAC, -20); // remembered while muted
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.setMute(DAC, false);
    assert.deepEqual(model.dac(), { left: -20, right: -20 });
    assert.equal(model.peek(11), 0x100 | 0xd7); // -20 dB = 0x01 + 214 steps
  });

  it('sets the headphone and speaker volumes: 0x7F = +6 dB, 0x79 = 0 dB, latched on the right; codes below 0x30 are unknown', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(2), 0x079);
    assert.equal(model.peek(3), 0x179);
    assert.deepEqual(await driver.getGain(HP), { db: 0, muted: false });
    await driver.setGain(HP, 6);
    assert.equal(model.peek(2), 0x07f);
    assert.equal(model.peek(3), 0x17f);
    assert.equal(model.effective(3), 0x7f);
    await driver.setGain(SPK, 0);
    assert.equal(model.peek(40), 0x079);
    assert.equal(model.peek(41), 0x179);
    await driver.setGain(SPK, -73);
    assert.equal(model.peek(40), 0x030);
    await assert.rejects(driver.setGain(HP, -74), /outside its range -73 .. 6 dB/);
    await assert.rejects(driver.setMute(HP, true), /cannot mute/);
  });

  it('sets the ADC volume: 0xC3 = 0 dB, 0xFF = +30 dB, 0x00 = mute', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.peek(21), 0x000, 'muted until power-up');
    assert.equal(model.peek(22), 0x100);
    await driver.powerUp();
    assert.equal(model.peek(21), 0x0c3);
    assert.equal(model.peek(22), 0x1c3);
    await driver.setGain(ADC, 30);
    assert.equal(model.peek(22), 0x1ff);
  });

  it('sets the input PGA: 0x17 = 0 dB (-17.25 + 23 × 0.75), 0x3F = +30 dB, latched on the right; its mute bit (7) is the microphone path\'s', async () => {
    const { driver, model } = setup();
    await driver.init();
    // init: 0 dB, still muted (R0/R1 reset 0x0A7: bit 7 set).
    assert.equal(model.peek(0), 0x097);
    assert.equal(model.peek(1), 0x197);
    await driver.setGain(PGA, 30);
    assert.equal(model.peek(0), 0x0bf);
    assert.equal(model.peek(1), 0x1bf);
    await driver.setGain(PGA, -17.25);
    assert.equal(model.peek(1), 0x180);
    await assert.rejects(driver.setGain(PGA, 31), /outside its range -17.25 .. 30 dB/);
    assert.equal(model.readAttempts, 0);
  });

  it('init: software reset (R15) first, the volume latches, DAC and ADC muted (code 0x00), gains 0 dB remembered; nothing unknown', async () => {
    const { driver, model, log } = setup();
    await driver.init();
    assert.deepEqual(writes(log)[0], [0x1e, 0x00], 'R15 (0x0F << 1) = 0: the software reset');
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    assert.deepEqual(await driver.getGain(DAC), { db: 0, muted: false }, 'the stream gain: 0xFF = 0 dB (reset default)');
    assert.deepEqual(driver.events.filter((e) => e.skipped), []);
    // Step 2: bit 8 set on R0, R1, R2, R3, R10, R11, R21, R22, R40, R41 (the first write after the reset of each).
    const afterReset = model.writes.slice(1);
    for (const reg of [0, 1, 2, 3, 10, 11, 21, 22, 40, 41]) {
      assert.ok(afterReset.find((w) => w.reg === reg)!.value & 0x100, `R${reg}: update latch set`);
    }
  });

  it('powers up in order: anti-pop, VMID 100 ms, VREF 100 ms, anti-pop off, clocking, paths, volumes, soft mute off last, then the amplifier', async () => {
    const { driver, power, model, log, clock } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    log.length = 0;
    model.timeline.length = 0;
    const t0 = clock.nowNs();
    await power.powerUp([{ direction: 'output', purpose: 'headphone' }]);
    const steps = driver.events.filter((e) => e.sequence === 'powerUp').map((e) =>
      e.step.op === 'write' ? `write ${e.step.reg} ${e.step.value}` : e.step.op === 'update' ? `update ${e.step.reg}` : e.step.op === 'delay' ? `delay ${e.step.ms}` :
        e.step.op === 'mute-control' ? `${e.step.muted ? 'hold' : 'release'} ${e.step.control}` : e.step.op === 'hook' ? `hook ${e.step.name}` : e.step.op);
    // The codec's steps, then the board's amplifier lines (BoardPower), the last events of all.
    const amplifier = log.flatMap((e) => (e.kind === 'gpio' ? [`gpio ${e.role}=${e.value}`] : []));
    assert.deepEqual([...steps, ...amplifier], [
      `write ANTI_POP1 ${0x09c}`,
      'update POWER1', 'delay 100',
      'update POWER1', 'delay 100',
      `write ANTI_POP1 ${0x008}`,
      'hook clocking',
      'paths',
      `release ${DAC}`, `release ${ADC}`,
      'update DAC_CTRL1',
      'gpio mute=0', 'gpio amp-enable=1',
    ]);
    // The facts' values at the chip: VMID 0x080, then VREF (0x0C0); R5 bit 3 cleared last.
    const r25 = model.writes.filter((w) => w.reg === 25).map((w) => w.value);
    assert.deepEqual(r25, [0x080, 0x0c0]);
    assert.equal(model.writes.filter((w) => w.reg !== 15).at(-1)!.reg, 5, 'R5 is the last register written');
    assert.equal(model.peek(5)! & 0x008, 0);
    assert.deepEqual(driver.paths(), { inUse: ['headphone'], up: ['playback', 'headphone'] });
    assert.equal(model.peek(26), 0x1e0, 'DACL, DACR, LOUT1, ROUT1 (FACTS step 10)');
    const dacOn = model.timeline.find((e) => e.pair === 10)!;
    assert.deepEqual([dacOn.left, dacOn.right], [0xff, 0xff]);
    assert.ok(dacOn.atNs! - t0 >= 200e6, `the DAC is unmuted ${(dacOn.atNs! - t0) / 1e6} ms after power-up began (VMID 100 ms + VREF 100 ms)`);
    const unmuteRight = indexOf(log, isWrite([0x17, 0xff]));
    assert.ok(unmuteRight > indexOf(log, isWrite([0x14, 0xff])), 'left first, latch with the right');
    assert.ok(indexOf(log, isGpio('mute', 0)) > unmuteRight && indexOf(log, isGpio('amp-enable', 1)) > unmuteRight, 'the amplifier last');
    assert.deepEqual(log.slice(-2), [{ kind: 'gpio', role: 'mute', value: 0 }, { kind: 'gpio', role: 'amp-enable', value: 1 }], 'nothing after the amplifier');
  });

  it('waits 250 ms for the PLL to lock with clocking "pll-24m"; the old "pll" option is refused with what to say instead', async () => {
    const withPll = setup({ options: { clocking: 'pll-24m' } });
    await withPll.driver.init();
    const t0 = withPll.clock.nowNs();
    await withPll.driver.powerUp();
    assert.ok(withPll.clock.nowNs() - t0 >= 450e6, 'VMID 100 + VREF 100 + PLL 250 ms');
    assert.ok(withPll.driver.events.some((e) => e.step.op === 'delay' && e.step.ms === 250));
    assert.deepEqual([52, 53, 54, 55, 4].map((r) => withPll.model.peek(r)), [0x036, 0x024, 0x0dd, 0x02f, 0x049]);
    const without = setup();
    await without.driver.init();
    const t1 = without.clock.nowNs();
    await without.driver.powerUp();
    assert.ok(without.clock.nowNs() - t1 < 250e6);
    assert.equal(without.model.peek(4), 0x000);
    assert.equal(without.model.peek(52), undefined, 'no PLL write with mclk-12m288');
    assert.throws(() => setup({ options: { pll: true } }), /codec.options.pll is no longer read: say codec.options.clocking = "pll-24m".*or "mclk-12m288"/);
    assert.throws(() => setup({ options: { clocking: 'pll' } }), /codec.options.clocking must be one of "mclk-12m288", "pll-24m", got "pll"/);
  });

  it('powers down in order: the amplifier first, then the DAC muted with the latch on the right channel', async () => {
    const { driver, power, model, log } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    await power.powerUp();
    await driver.setGain(DAC, -6);
    log.length = 0;
    await power.powerDown();
    const ampOff = indexOf(log, isGpio('amp-enable', 0));
    const ampMute = indexOf(log, isGpio('mute', 1));
    const muteL = indexOf(log, isWrite([0x14, 0x00]));
    const muteR = indexOf(log, isWrite([0x17, 0x00]));
    assert.ok(ampOff === 0 || ampMute === 0, 'the amplifier goes first');
    assert.ok(ampOff < muteL && ampMute < muteL && muteL < muteR);
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    assert.deepEqual(await driver.getGain(DAC), { db: -6, muted: false }, 'the stream gain is kept for the next power-up');
    await driver.setGain(DAC, -3); // while powered down: remembered only
    assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
    await driver.powerUp();
    assert.deepEqual(model.dac(), { left: -3, right: -3 });
  });

  it('offers S16, S20, S24, S32 stereo at the one rate its clocking makes (48 kHz), both directions; R7 per width', async () => {
    for (const clocking of ['mclk-12m288', 'pll-24m']) {
      const { driver, model } = setup({ options: { clocking } });
      // 16 | 20-in-32 | 24-in-32 | 32 (src/audio/formats.ts: 1<<2, 1<<6, 1<<7, 1<<8), 48 kHz family.
      for (const dir of ['output', 'input'] as const) {
        assert.deepEqual(driver.formats(dir).map((r) => [r.minFps, r.maxFps, r.minChannels, r.maxChannels, r.sampleFormats, r.flags]), [[48000, 48000, 2, 2, 4 | 64 | 128 | 256, 2]]);
      }
      await driver.init();
      // FACTS step 7: 0x002 (16), 0x00A (24), 0x00E (32); 20-bit 0x006 (derived).
      for (const [bits, r7] of [[16, 0x002], [20, 0x006], [24, 0x00a], [32, 0x00e]] as const) {
        await driver.setFormat({ rate: 48000, channels: 2, bits });
        assert.equal(model.peek(7), r7, `${clocking}: ${bits}-bit`);
      }
      await assert.rejects(driver.setFormat({ rate: 8000, channels: 2, bits: 16 }), /8000 Hz: with codec.options.clocking ".*" the WM8960 runs at 48000 Hz only/);
      await assert.rejects(driver.setFormat({ rate: 44100, channels: 2, bits: 16 }), /48000 Hz only/);
      await assert.rejects(driver.setFormat({ rate: 48000, channels: 1, bits: 16 }), /not among the part's format ranges/);
    }
  });

  it('reports its latency as unknown (unverified in the facts)', () => {
    const { driver } = setup();
    const [out] = driver.latency('output', 48000);
    assert.equal(out!.ns, null);
    assert.match(out!.source, /unverified/);
    const [inp] = driver.latency('input', 48000);
    assert.equal(inp!.ns, null);
  });
});
