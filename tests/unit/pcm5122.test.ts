import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Pcm5122Driver } from '../../codecs/pcm5122/driver.ts';
import { Pcm5122Model } from '../../codecs/pcm5122/model.ts';
import { boardPower, indexOf, isGpio, isWrite, makeHarness } from '../fixtures/codecs/harness.ts';

const ADDR = 0x4d;
const VOL = 'Digital Playback Volume';

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; model?: Pcm5122Model; smbusOnly?: boolean } = {}) {
  const model = opts.model ?? new Pcm5122Model();
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options, smbusOnly: opts.smbusOnly });
  const driver = new Pcm5122Driver(h.ctx);
  // The board's amplifier lines (boardRoles) around the codec's sequences, as openBoard wires rt.power.
  return { ...h, model, driver, power: boardPower(h, driver) };
}

describe('pcm5122 model (written from codecs/pcm5122/FACTS.md, not from the driver)', () => {
  it('does not import the driver or its description', () => {
    const src = readFileSync(new URL('../../codecs/pcm5122/model.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
  });

  it('selects pages with register 0 and keeps them apart', () => {
    const m = new Pcm5122Model();
    m.write(Uint8Array.of(0x00, 0x01));
    m.write(Uint8Array.of(0x02, 0xab));
    m.write(Uint8Array.of(0x00, 0x00));
    m.write(Uint8Array.of(0x02, 0x10));
    assert.equal(m.peek(1, 0x02), 0xab);
    assert.equal(m.peek(0, 0x02), 0x10);
    m.write(Uint8Array.of(0x00));
    assert.deepEqual([...m.read(1)], [0x00]);
  });

  it('keeps the analog mute detect (page 0 reg 108) read-only and following the mute bits', () => {
    const m = new Pcm5122Model({ settleReads: 2 });
    const read108 = () => { m.write(Uint8Array.of(108)); return m.read(1)[0]; };
    m.write(Uint8Array.of(108, 0xff)); // ignored: read-only
    assert.equal(m.peek(0, 108), 0x00);
    // Out of standby, unmuted: both channels play after the ramp.
    m.write(Uint8Array.of(0x02, 0x00));
    m.write(Uint8Array.of(0x03, 0x00));
    assert.equal(read108(), 0x00);
    assert.equal(read108(), 0x03);
    // RQML | RQMR: both channels reach analog mute after the ramp.
    m.write(Uint8Array.of(0x03, 0x11));
    assert.equal(read108(), 0x03);
    assert.equal(read108(), 0x00);
  });
});

describe('pcm5122 driver', () => {
  it('probes the chip (pages 0 and 1) and names the address when nothing answers', async () => {
    const { driver } = setup();
    await driver.probe();
    const h = makeHarness({ addr: 0x4c, model: new Pcm5122Model() });
    const wrong = new Pcm5122Driver({ ...h.ctx, addr: 0x4d });
    await assert.rejects(wrong.probe(), /pcm5122: no PCM5122 answering at 0x4d on sim-i2c-1: .*no acknowledge/);
  });

  it('leaves the chip muted, in standby, normal filter, 0 dB after init (read from the model)', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.equal(model.page, 0);
    assert.equal(model.peek(0, 2), 0x10); // RQST
    assert.equal(model.peek(0, 3), 0x11); // RQML | RQMR
    assert.equal(model.peek(0, 43), 0x01); // normal filter
    assert.equal(model.peek(0, 61), 0x30); // 0 dB
    assert.equal(model.peek(0, 62), 0x30);
    assert.deepEqual(await driver.getGain(VOL), { db: 0, muted: false });
  });

  it('init: reset (reg 1 = 0x11 then 0x00), then standby (reg 2 = 0x10), then soft mute (reg 3 = 0x11) (FACTS.md, "Bring-up as clock slave")', async () => {
    const { driver, log, model } = setup();
    model.write(Uint8Array.of(40, 0x03)); // something the reset must undo
    log.length = 0;
    await driver.init();
    const reset = indexOf(log, isWrite([0x01, 0x11]));
    const release = indexOf(log, isWrite([0x01, 0x00]));
    const standby = indexOf(log, isWrite([0x02, 0x10]));
    const mute = indexOf(log, isWrite([0x03, 0x11]));
    assert.ok(reset >= 0 && reset < release && release < standby && standby < mute, `${reset} < ${release} < ${standby} < ${mute}`);
    assert.equal(model.peek(0, 40), 0x02, 'the reset put reg 40 back to 0x02');
    // As clock slave: PLL reference BCK, ignore the missing SCK, BCK/LRCK inputs.
    assert.equal(model.peek(0, 13), 0x10);
    assert.equal(model.peek(0, 37) & 0x0a, 0x08);
    assert.equal(model.peek(0, 9) & 0x31, 0x00);
  });

  it('setFormat: I2S and the word length in reg 40 (16/20/24/32-bit = 0/1/2/3), reg 41 = 0x00', async () => {
    const { driver, model } = setup();
    await driver.init();
    for (const [bits, code] of [[16, 0x00], [20, 0x01], [24, 0x02], [32, 0x03]] as const) {
      await driver.setFormat({ rate: 48000, channels: 2, bits });
      assert.equal(model.peek(0, 40), code, `${bits}-bit`);
      assert.equal(model.peek(0, 41), 0x00);
    }
  });

  it('refuses a clocking option it does not know', () => {
    assert.throws(() => setup({ options: { clocking: 'pll-from-mclk' } }), /codec.options.clocking must be one of "slave-bck-pll", "master-oscillators", got "pll-from-mclk"/);
    assert.throws(() => setup({ options: { led: 'yes' } }), /codec.options.led must be true or false/);
  });

  it('master-oscillators: the oscillator settles 3-4 ms before the dividers, which are written between reg 19 = 1 and reg 19 = 0', async () => {
    const model = new Pcm5122Model();
    const s = setup({ model, options: { clocking: 'master-oscillators' } });
    model.attachEnvironment({ nowNs: () => s.clock.nowNs(), link: () => undefined, pin: () => undefined, oscillatorsHz: () => [24_576_000, 22_579_200] });
    await s.driver.init();
    const from = model.writes.length;
    await s.driver.setFormat({ rate: 44100, channels: 2, bits: 16 });
    const w = model.writes.slice(from).filter((x) => x.reg !== 0);
    const select = w.findIndex((x) => x.reg === 86);
    assert.equal(model.peek(0, 86) & 0x24, 0x20, '22.5792 MHz for 44.1 kHz');
    const halt = w.findIndex((x) => x.reg === 19 && x.value === 0x01);
    const resume = w.findIndex((x) => x.reg === 19 && x.value === 0x00);
    assert.ok(select >= 0 && select < halt && halt < resume);
    const settledNs = w[halt]!.atNs - w[select]!.atNs;
    assert.ok(settledNs >= 3e6 && settledNs <= 4e6 + 1, `waited ${settledNs} ns`);
    assert.deepEqual(w.slice(halt + 1, resume).map((x) => x.reg).sort((a, b) => a - b), [27, 28, 29, 30, 32, 33, 34, 35, 36]);
    // As clock master only what the facts give dividers for.
    await assert.rejects(s.driver.setFormat({ rate: 96000, channels: 2, bits: 16 }), /not among the part's format ranges/);
    await assert.rejects(s.driver.setFormat({ rate: 48000, channels: 2, bits: 24 }), /not among the part's format ranges/);
  });

  it('selects the low-latency filter from the board option', async () => {
    const { driver, model } = setup({ options: { filter: 'low-latency' } });
    await driver.init();
    assert.equal(model.peek(0, 43), 0x02);
    const bad = setup({ options: { filter: 'fast' } });
    await assert.rejects(bad.driver.init(), /codec.options.filter must be one of "normal", "low-latency", "high-attenuation", "fixed-flow", "asymmetric", got "fast"/);
  });

  it('applies -33.5 dB (0x73) on both channels for a request of -33.3 dB', async () => {
    const { driver, model } = setup();
    await driver.init();
    assert.deepEqual(await driver.setGain(VOL, -33.3), { db: -33.5, muted: false });
    assert.equal(model.peek(0, 61), 0x73);
    assert.equal(model.peek(0, 62), 0x73);
  });

  it('mutes with code 0xFF and restores the gain on unmute', async () => {
    const { driver, model } = setup();
    await driver.init();
    await driver.setGain(VOL, 24);
    assert.equal(model.peek(0, 61), 0x00);
    assert.deepEqual(await driver.setMute(VOL, true), { db: 24, muted: true });
    assert.equal(model.peek(0, 61), 0xff);
    assert.equal(model.peek(0, 62), 0xff);
    await driver.setGain(VOL, -103); // while muted: remembered, not written
    assert.equal(model.peek(0, 61), 0xff);
    await driver.setMute(VOL, false);
    assert.equal(model.peek(0, 61), 0xfe);
  });

  it('reports its gain control in stream terms', () => {
    const { driver } = setup();
    assert.deepEqual(driver.gainControls().map(({ source: _s, ...c }) => c), [
      { name: VOL, direction: 'output', minDb: -103, maxDb: 24, stepDb: 0.5, canMute: true, main: true },
    ]);
    assert.rejects(driver.setGain('Master', 0), /no gain control "Master" \(it has "Digital Playback Volume"\)/);
  });

  it('powers up: codec out of standby and unmuted before the amplifier', async () => {
    const { driver, power, log } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    log.length = 0;
    await power.powerUp();
    const standbyOff = indexOf(log, isWrite([0x02, 0x00]));
    const unmute = indexOf(log, isWrite([0x03, 0x00]));
    const ampUnmute = indexOf(log, isGpio('mute', 0));
    const ampOn = indexOf(log, isGpio('amp-enable', 1));
    assert.ok(standbyOff >= 0 && unmute > standbyOff, 'standby off, then unmute');
    assert.ok(ampUnmute > unmute && ampOn > unmute, 'the amplifier only after the codec is ready');
  });

  it('powers down: amplifier first, then mute, then waits for the analog mute detect before standby', async () => {
    const { driver, power, log, model } = setup({ boardRoles: ['mute', 'amp-enable'] });
    await driver.init();
    await power.powerUp();
    // Playing: the model's ramp completes on the third read of reg 108.
    for (let i = 0; i < 3; i++) {
      model.write(Uint8Array.of(108));
      model.read(1);
    }
    assert.equal(model.peek(0, 108), 0x03);
    log.length = 0;
    await power.powerDown();
    const ampOff = indexOf(log, isGpio('amp-enable', 0));
    const ampMute = indexOf(log, isGpio('mute', 1));
    const mute = indexOf(log, isWrite([0x03, 0x11]));
    const standby = indexOf(log, isWrite([0x02, 0x10]));
    assert.ok(ampOff === 0 || ampMute === 0, 'the amplifier goes first');
    assert.ok(ampOff < mute && ampMute < mute);
    assert.ok(mute < standby);
    // Between mute and standby: reads of reg 108 (0x6c) until it reads 0.
    const between = log.slice(mute + 1, standby);
    const polls = between.filter((e) => e.kind === 'i2c-write' && e.bytes.length === 1 && e.bytes[0] === 0x6c).length;
    const lastRead = [...between].reverse().find((e) => e.kind === 'i2c-read');
    assert.equal(polls, 3); // the model settles on the third read
    assert.deepEqual(lastRead?.bytes, [0x00]);
    const poll = driver.events.find((e) => e.sequence === 'powerDown' && e.step.op === 'poll')!;
    assert.equal(poll.met, true);
  });

  it('bounds the wait at 10 ms when the analog mute detect never settles', async () => {
    const stuck = new Pcm5122Model({ stuckAnalogMute: true });
    const s = setup({ model: stuck });
    await s.driver.init();
    // Force the stuck detect to report "playing".
    (stuck as unknown as { analogActive: number }).analogActive = 3;
    const t0 = s.clock.nowNs();
    await s.driver.powerDown();
    const elapsedMs = (s.clock.nowNs() - t0) / 1e6;
    assert.ok(elapsedMs >= 10 && elapsedMs < 11, `waited ${elapsedMs} ms`);
    const poll = s.driver.events.find((e) => e.step.op === 'poll')!;
    assert.equal(poll.met, false);
    assert.equal(stuck.peek(0, 2), 0x10, 'still goes to standby');
  });

  it('checks formats against the datasheet ranges', async () => {
    const { driver } = setup();
    await driver.setFormat({ rate: 384000, channels: 2, bits: 32 });
    await driver.setFormat({ rate: 44100, channels: 2, bits: 20 });
    await assert.rejects(driver.setFormat({ rate: 352800, channels: 2, bits: 24 }), /format 352800 Hz, 24-bit, 2 channels is not among the part's format ranges/);
    await assert.rejects(driver.setFormat({ rate: 48000, channels: 2, bits: 8 }), /not among/);
  });

  it('reports latency 20/fs with the normal filter and 3.5/fs with the low-latency filter', () => {
    const normal = setup().driver.latency('output', 48000);
    assert.equal(normal.length, 1);
    assert.equal(normal[0]!.frames, 20);
    assert.equal(Math.round(normal[0]!.ns!), 416667);
    const ll = setup({ options: { filter: 'low-latency' } }).driver.latency('output', 48000);
    assert.equal(ll[0]!.frames, 3.5);
    assert.equal(Math.round(ll[0]!.ns!), 72917);
    const ha = setup({ options: { filter: 'high-attenuation' } }).driver.latency('output', 48000);
    assert.equal(ha[0]!.ns, null);
    assert.deepEqual(setup().driver.latency('input', 48000), []);
  });

  it('works over an SMBus-only adapter (as on i2c-stub)', async () => {
    const { driver, model } = setup({ smbusOnly: true });
    await driver.probe();
    await driver.init();
    await driver.setGain(VOL, -33.3);
    assert.equal(model.peek(0, 61), 0x73);
  });
});
