/**
 * CS4271: expected values are the figures of codecs/cs4271/FACTS.md, as literals.
 * VOLA = 0x04, VOLB = 0x05: [6:0] 0 .. -127 dB in 1 dB steps, bit 7 mute.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { Cs4271Driver } from '../../codecs/cs4271/driver.ts';
import { Cs4271Model } from '../../codecs/cs4271/model.ts';
import { boardPower, indexOf, isGpio, isWrite, makeHarness } from '../fixtures/codecs/harness.ts';

const ADDR = 0x10;
const VOL = 'Digital Playback Volume';

function setup(opts: { boardRoles?: string[]; options?: Record<string, unknown>; smbusOnly?: boolean } = {}) {
  const model = new Cs4271Model();
  const h = makeHarness({ addr: ADDR, model, boardRoles: opts.boardRoles, options: opts.options, smbusOnly: opts.smbusOnly });
  return { ...h, model, driver: new Cs4271Driver(h.ctx) };
}

describe('cs4271 model (written from codecs/cs4271/FACTS.md, not from the driver)', () => {
  it('does not import the driver or its description', () => {
    const src = readFileSync(new URL('../../codecs/cs4271/model.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(src, /from '\.\/(driver|description)(\.ts)?'/);
  });

  it('holds registers 0x01..0x08 only, and reads the volume coding', () => {
    const m = new Cs4271Model();
    m.write(Uint8Array.of(0x04, 0xff));
    m.write(Uint8Array.of(0x05, 0x00));
    assert.deepEqual(m.volume(), { a: { muted: true, db: -127 }, b: { muted: false, db: 0 } });
    m.write(Uint8Array.of(0x09, 0x12));
    assert.equal(m.outsideMap, 1);
  });
});

describe('cs4271 driver', () => {
  it('probes the chip, and names the address when nothing answers', async () => {
    await setup().driver.probe();
    const h = makeHarness({ addr: 0x11, model: new Cs4271Model() });
    await assert.rejects(new Cs4271Driver({ ...h.ctx, addr: 0x10 }).probe(), /cs4271: no CS4271 answering at 0x10 on sim-i2c-1: .*no acknowledge/);
  });

  it('reports its volume in stream terms: 0 .. -127 dB in 1 dB steps with a mute bit', () => {
    assert.deepEqual(setup().driver.gainControls().map(({ source: _s, ...x }) => x), [
      { name: VOL, direction: 'output', minDb: -127, maxDb: 0, stepDb: 1, canMute: true, main: true },
    ]);
  });

  it('writes code 0 = 0 dB and 127 = -127 dB to VOLA and VOLB; mutes with bit 7 keeping the code', async () => {
    const { driver, model, log } = setup();
    await driver.init();
    assert.deepEqual(model.volume(), { a: { muted: true, db: 0 }, b: { muted: true, db: 0 } }, 'muted at init');
    await driver.powerUp();
    assert.equal(model.peek(0x04), 0x00);
    log.length = 0;
    await driver.setGain(VOL, -127);
    assert.deepEqual(log.filter((e) => e.kind === 'i2c-write').map((e) => e.bytes), [[0x04, 0x7f], [0x05, 0x7f]]);
    await driver.setGain(VOL, -1);
    assert.equal(model.peek(0x04), 0x01);
    await driver.setGain(VOL, -1.5); // halfway: the lower gain
    assert.equal(model.peek(0x05), 0x02);
    await driver.setMute(VOL, true);
    assert.equal(model.peek(0x04), 0x82);
    assert.equal(model.peek(0x05), 0x82);
    await driver.setMute(VOL, false);
    assert.deepEqual(model.volume(), { a: { muted: false, db: -2 }, b: { muted: false, db: -2 } });
    await assert.rejects(driver.setGain(VOL, -128), /outside its range -127 .. 0 dB/);
    assert.equal(model.outsideMap, 0);
  });

  it('powers up: mute bits clear, then the amplifier; powers down: the amplifier first, then the mute bits', async () => {
    const h = setup({ boardRoles: ['mute', 'amp-enable'] });
    const { driver, log, model } = h;
    const power = boardPower(h, driver); // the board's amplifier lines, around the codec's sequences
    await driver.init();
    log.length = 0;
    await power.powerUp();
    const unmuteB = indexOf(log, isWrite([0x05, 0x00]));
    assert.ok(unmuteB > indexOf(log, isWrite([0x04, 0x00])));
    assert.ok(indexOf(log, isGpio('mute', 0)) > unmuteB && indexOf(log, isGpio('amp-enable', 1)) > unmuteB);
    await driver.setGain(VOL, -6);
    log.length = 0;
    await power.powerDown();
    const muteA = indexOf(log, isWrite([0x04, 0x86]));
    assert.ok(indexOf(log, isGpio('amp-enable', 0)) < muteA && indexOf(log, isGpio('mute', 1)) < muteA);
    assert.ok(indexOf(log, isWrite([0x05, 0x86])) > muteA);
    assert.deepEqual(model.timeline.at(-1), { a: { muted: true, db: -6 }, b: { muted: true, db: -6 } });
  });

  it('offers 8-192 kHz stereo output with widths only from the board; latency unknown', async () => {
    assert.deepEqual(setup().driver.formats('output'), []);
    const { driver } = setup({ options: { sampleBits: { bits: [24], source: 'test' } } });
    assert.deepEqual(driver.formats('output').map((r) => [r.minFps, r.maxFps]), [[8000, 192000], [11025, 176400]]);
    await driver.setFormat({ rate: 192000, channels: 2, bits: 24 });
    await assert.rejects(driver.setFormat({ rate: 192000, channels: 2, bits: 16 }), /not among/);
    assert.equal(driver.latency('output', 48000)[0]!.ns, null);
    assert.match(driver.latency('output', 48000)[0]!.source, /CS4271 latency unverified/);
  });

  it('works over an SMBus-only adapter', async () => {
    const { driver, model } = setup({ smbusOnly: true });
    await driver.init();
    await driver.powerUp();
    await driver.setGain(VOL, -127);
    assert.equal(model.peek(0x05), 0x7f);
  });
});
