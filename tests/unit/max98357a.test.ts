import { strict as assert } from 'node:assert';
import { Max98357aDriver } from '../../codecs/max98357a/driver.ts';
import { makeHarness } from '../fixtures/codecs/harness.ts';

describe('max98357a driver (SD_MODE)', () => {
  it('holds SD_MODE low until power-up, raises it then, lowers it at power-down', async () => {
    const h = makeHarness({ roles: ['amp-enable'] });
    const d = new Max98357aDriver(h.ctx);
    await d.init();
    assert.equal(h.lines.get('amp-enable')!.value, 0);
    await d.powerUp();
    assert.equal(h.lines.get('amp-enable')!.value, 1);
    await d.powerDown();
    assert.equal(h.lines.get('amp-enable')!.value, 0);
  });

  it('waits the optional SD_MODE delay after raising it', async () => {
    const h = makeHarness({ roles: ['amp-enable'], options: { sdmodeDelayMs: 5 } });
    const d = new Max98357aDriver(h.ctx);
    const t0 = h.clock.nowNs();
    await d.powerUp();
    assert.equal(h.clock.nowNs() - t0, 5e6);
    const bad = new Max98357aDriver(makeHarness({ roles: ['amp-enable'], options: { sdmodeDelayMs: 'soon' } }).ctx);
    await assert.rejects(bad.powerUp(), /codec.options.sdmodeDelayMs must be a delay in ms \(0\.\.10000\), got "soon"/);
  });

  it('refuses a gain that is not one of the GAIN pin settings', () => {
    assert.throws(() => new Max98357aDriver(makeHarness({ options: { gainDb: 7 } }).ctx), /gainDb must be one of 3, 6, 9, 12, 15 dB/);
    new Max98357aDriver(makeHarness({ options: { gainDb: 9 } }).ctx);
  });

  it('has unknown latency unless the board supplies it', () => {
    const [item] = new Max98357aDriver(makeHarness().ctx).latency('output', 48000);
    assert.equal(item!.ns, null);
    const [given] = new Max98357aDriver(makeHarness({ options: { groupDelay: { ns: 1000, source: 'scope' } } }).ctx).latency('output', 48000);
    assert.equal(given!.ns, 1000);
    assert.equal(given!.frames, 0.048);
  });

  it('accepts 8..96 kHz, 16/24/32-bit', async () => {
    const d = new Max98357aDriver(makeHarness().ctx);
    await d.setFormat({ rate: 96000, channels: 2, bits: 32 });
    await d.setFormat({ rate: 8000, channels: 1, bits: 16 });
    await assert.rejects(d.setFormat({ rate: 192000, channels: 2, bits: 16 }), /not among/);
  });
});
