import { strict as assert } from 'node:assert';
import { Pcm5102aDriver } from '../../codecs/pcm5102a/driver.ts';
import { boardPower, indexOf, isGpio, makeHarness } from '../fixtures/codecs/harness.ts';

describe('pcm5102a driver (pins only)', () => {
  it('soft-mutes on XSMT at init and power-down, unmutes at power-up', async () => {
    // XSMT ('mute') is the DAC's own pin; the amplifier after it ('amp-enable') is the board's.
    const h = makeHarness({ roles: ['mute'], boardRoles: ['amp-enable'] });
    const d = new Pcm5102aDriver(h.ctx);
    const power = boardPower(h, d);
    await d.init();
    assert.equal(h.lines.get('mute')!.value, 1);
    await power.powerUp();
    assert.equal(h.lines.get('mute')!.value, 0);
    assert.ok(indexOf(h.log, isGpio('amp-enable', 1)) > indexOf(h.log, isGpio('mute', 0)), 'amplifier after the DAC');
    h.log.length = 0;
    await power.powerDown();
    assert.deepEqual(h.log, [{ kind: 'gpio', role: 'amp-enable', value: 0 }, { kind: 'gpio', role: 'mute', value: 1 }]);
  });

  it('drives FLT for the low-latency filter where the board wires it', async () => {
    const h = makeHarness({ roles: ['filter-select'], options: { filter: 'low-latency' } });
    await new Pcm5102aDriver(h.ctx).init();
    assert.equal(h.lines.get('filter-select')!.value, 1);
  });

  it('runs with no GPIO at all (pHAT DAC) and has no gain control', async () => {
    const h = makeHarness();
    const d = new Pcm5102aDriver(h.ctx);
    await d.init();
    await d.powerUp();
    await d.powerDown();
    assert.deepEqual(d.gainControls(), []);
    await assert.rejects(d.setGain('Digital Playback Volume', 0), /no gain control .* fixed gain/);
  });

  it('has unknown latency unless the board supplies a figure', () => {
    const unknown = new Pcm5102aDriver(makeHarness().ctx).latency('output', 48000);
    assert.equal(unknown.length, 1);
    assert.equal(unknown[0]!.ns, null);
    assert.equal(unknown[0]!.frames, null);
    assert.match(unknown[0]!.source, /^unknown: latency figures unverified/);
    const supplied = new Pcm5102aDriver(makeHarness({ options: { groupDelay: { frames: 12, source: 'bench measurement' } } }).ctx).latency('output', 48000);
    assert.equal(supplied[0]!.frames, 12);
    assert.equal(supplied[0]!.ns, 250000);
    assert.equal(supplied[0]!.source, 'board file: bench measurement');
  });

  it('accepts 8..192 kHz stereo 16/24/32-bit only', async () => {
    const d = new Pcm5102aDriver(makeHarness().ctx);
    await d.setFormat({ rate: 192000, channels: 2, bits: 24 });
    await assert.rejects(d.setFormat({ rate: 384000, channels: 2, bits: 24 }), /not among/);
    await assert.rejects(d.setFormat({ rate: 48000, channels: 1, bits: 16 }), /not among/);
  });
});
