/**
 * The protocol core without sockets: frames in, frames and closes out, on a fake device whose
 * operations the test completes by hand (so "in progress" is a state the test controls).
 */
import assert from 'node:assert/strict';
import type { FormatRange } from '../../src/codec/types.ts';
import { I2cError } from '../../src/hal/i2c.ts';
import { StreamCore, roundGainToStep } from '../../src/stream/core.ts';
import type { DeviceGainState, PlugState, StreamDevice } from '../../src/stream/device.ts';

function hexFrame(h: string): Uint8Array {
  return new Uint8Array(h.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16)));
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

class FakeDevice implements StreamDevice {
  info = { direction: 'output' as const, endpointName: 'fake.out', uniqueId: new Uint8Array(16), manufacturer: 'M', product: 'P', clockDomain: 0 };
  ranges: FormatRange[] = [{ sampleFormats: 4, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 1 }];
  gain: DeviceGainState = { muted: false, agc: false, gainDb: -20 };
  /** Gates of getGain calls in progress (released by the test). */
  gates: (() => void)[] = [];
  gated = false;
  formatError: Error | undefined;
  plugListeners = new Set<(s: PlugState) => void>();
  plug: PlugState = { hardwired: false, canNotify: true, plugged: false, timeNs: 1e9 };
  formats() { return this.ranges; }
  async changeFormat() {
    if (this.formatError) throw this.formatError;
    return { externalDelayNs: 1000.4 };
  }
  externalDelayNs() { return 1000; }
  gainCaps() { return { canMute: true, canAgc: false, minGain: -103.5, maxGain: 24, gainStep: 0.5 }; }
  async getGain() {
    if (this.gated) await new Promise<void>((r) => this.gates.push(r));
    return { ...this.gain };
  }
  async setGain(c: { muted?: boolean; gainDb?: number }) {
    this.gain = { ...this.gain, ...(c.muted !== undefined ? { muted: c.muted } : {}), ...(c.gainDb !== undefined ? { gainDb: c.gainDb } : {}) };
    return { ...this.gain };
  }
  onGainChange() { return () => {}; }
  plugState() { return this.plug; }
  onPlugChange(l: (s: PlugState) => void) { this.plugListeners.add(l); return () => this.plugListeners.delete(l); }
  createRingBuffer(): never { throw new Error('not used'); }
}

function sink() {
  const s = { sent: [] as Uint8Array[], closed: false, send(f: Uint8Array) { s.sent.push(f); }, close() { s.closed = true; } };
  return s;
}

describe('stream protocol core (no sockets)', () => {
  it('quiesces: a GET_GAIN still in progress when a violation arrives is never answered', async () => {
    const dev = new FakeDevice();
    dev.gated = true;
    const core = new StreamCore(dev);
    const s = sink();
    const c = core.connect(s);
    c.receive(hexFrame('01 00 00 00 02 10 00 00')); // GET_GAIN, blocks in the device
    await new Promise((r) => setImmediate(r));
    assert.equal(dev.gates.length, 1);
    c.receive(hexFrame('00 00 00 00 02 10 00 00')); // transaction id 0
    assert.equal(s.closed, true);
    dev.gates[0]!();
    await c.idle();
    assert.equal(s.sent.length, 0);
  });

  it('a violation on one connection leaves another connection\'s request in progress to be answered', async () => {
    const dev = new FakeDevice();
    dev.gated = true;
    const core = new StreamCore(dev);
    const good = sink();
    const bad = sink();
    const g = core.connect(good);
    const b = core.connect(bad);
    g.receive(hexFrame('07 00 00 00 02 10 00 00'));
    await new Promise((r) => setImmediate(r));
    b.receive(hexFrame('01 00 00 00 99 99 00 00'));
    dev.gates[0]!();
    await g.idle();
    assert.equal(good.sent.length, 1);
    assert.equal(hex(good.sent[0]!.subarray(0, 8)), '0700000002100000');
    assert.equal(bad.closed, true);
  });

  it('a device failure on SET_FORMAT answers its status (an I2C NAK is IO_REFUSED) and keeps the channel', async () => {
    const dev = new FakeDevice();
    dev.formatError = new I2cError({ bus: 'sim-i2c-1', addr: 0x4d, fault: 'nack', op: 'writeByteData' });
    const core = new StreamCore(dev);
    const s = sink();
    const c = core.connect(s);
    c.receive(hexFrame('02 00 00 00 01 10 00 00 80 bb 00 00 04 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'));
    await c.idle();
    assert.equal(hex(s.sent[0]!), '0200000001100000' + 'd7ffffff' + '00000000' + '0000000000000000');
    assert.equal(s.closed, false);
  });

  it('SET_FORMAT success: delay rounded to whole ns, and the token from the token source with its first four bytes zeroed', async () => {
    const dev = new FakeDevice();
    const core = new StreamCore(dev, { randomToken: () => new Uint8Array([9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) });
    const s = sink();
    const c = core.connect(s);
    c.receive(hexFrame('02 00 00 00 01 10 00 00 80 bb 00 00 04 00 00 00 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00'));
    await c.idle();
    assert.equal(hex(s.sent[0]!), '0200000001100000' + '00000000' + '00000000' + 'e803000000000000' + '00000000' + '0102030405060708090a0b0c');
  });

  it('plug notifications carry the device\'s change time, go only to channels that enabled them', async () => {
    const dev = new FakeDevice();
    const core = new StreamCore(dev);
    const on = sink();
    const off = sink();
    const a = core.connect(on);
    const b = core.connect(off);
    a.receive(hexFrame('01 00 00 00 04 10 00 00 00 00 00 40'));
    b.receive(hexFrame('01 00 00 00 04 10 00 00 00 00 00 c0')); // ENABLE | DISABLE: disabled
    await a.idle();
    await b.idle();
    dev.plug = { hardwired: false, canNotify: true, plugged: true, timeNs: 3_020_000_000 };
    for (const l of dev.plugListeners) l(dev.plug);
    assert.equal(on.sent.length, 2);
    assert.equal(hex(on.sent[1]!), '0000000000200000' + '02000080' + '00000000' + '008b01b400000000');
    assert.equal(off.sent.length, 1);
  });

  it('rounds gains to steps from min, ties to the lower step, within the limits', () => {
    const caps = { minGain: -103.5, maxGain: 24, gainStep: 0.5 };
    assert.equal(roundGainToStep(-10.25, caps), -10.5);
    assert.equal(roundGainToStep(-10.2, caps), -10);
    assert.equal(roundGainToStep(-103.25, caps), -103.5);
    assert.equal(roundGainToStep(23.75, caps), 23.5);
    assert.equal(roundGainToStep(24, caps), 24);
    // A step that is not a power of two: 0.1 dB from -10: -9.95 is a tie between -10.0 and -9.9.
    assert.equal(roundGainToStep(-9.95, { minGain: -10, maxGain: 0, gainStep: 0.1 }), -10);
  });
});
