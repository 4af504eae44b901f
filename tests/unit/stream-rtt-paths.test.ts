/**
 * The request/answer path made lean for the control round trip (issue 26, bench/control-rtt.ts):
 * what it must still guarantee.
 *
 * - The core starts a request on an idle channel at once (no microtask behind a settled chain),
 *   yet answers one channel's requests in the order they came (R-TXN-3) when one waits for the
 *   device, and a handler that fails is logged and the channel goes on.
 * - The client keeps one timer for every pending request's deadline instead of one per request:
 *   an unanswered request still fails with its timeout (docs/PROTOCOL.md, "Transactions and
 *   validation": response times), an answered one never does, and no timer keeps the process
 *   alive once nothing waits.
 * - The transport's frame reader walks chunks by offset: frames split anywhere come out whole and
 *   as copies, and a bad length is reported. The service's reader hands out views instead, which
 *   the core may not keep: it has decoded a frame when receive() returns.
 * - GET_GAIN is answered inside receive() when the device can peek its gain (peekGain), and after
 *   the device's promise otherwise; either way behind what the channel already waits for. The
 *   board's devices peek only while no codec operation is queued or running.
 * - Encoders write in one scratch buffer and copy out: every frame is its own, pads are zero
 *   whatever the scratch held before, and the bytes are those the field tables say.
 * - The client resolves a request with its answer's value directly, and a 'frame' listener gets
 *   a copy of its own of frames read as views.
 *
 * No wall-clock bound: the timeout is the client's configured one (a protocol figure), and the
 * tests wait for events, never for a time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StreamClient } from '../../src/stream/client.ts';
import { StreamCore } from '../../src/stream/core.ts';
import type { DeviceGainState, PlugState, StreamDevice } from '../../src/stream/device.ts';
import { FrameReader, frameBytes } from '../../src/stream/transport.ts';
import {
  CMD, GET_FORMATS_RESP_MIN, type GainStateWire, decodeServiceMessage, encodeDelayInfoResponse, encodeEmptyRequest, encodeGainState, encodeI32Response,
  hex, readHeader,
} from '../../src/stream/wire.ts';

class GatedDevice implements StreamDevice {
  info = { direction: 'output' as const, endpointName: 'fake.out', uniqueId: new Uint8Array(16), manufacturer: 'M', product: 'P', clockDomain: 7 };
  gain: DeviceGainState = { muted: false, agc: false, gainDb: -20 };
  gated = false;
  gates: (() => void)[] = [];
  /** What peekGain answers: the gain (a device that can tell it now) or undefined (one that cannot). */
  peeks = false;
  peekGain() { return this.peeks ? { ...this.gain } : undefined; }
  failNext: Error | undefined;
  formats() { return [{ sampleFormats: 4, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 1 }]; }
  async changeFormat() { return { externalDelayNs: 0 }; }
  externalDelayNs() { return 0; }
  gainCaps() { return { canMute: true, canAgc: false, minGain: -103.5, maxGain: 24, gainStep: 0.5 }; }
  async getGain() {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (this.gated) await new Promise<void>((r) => this.gates.push(r));
    return { ...this.gain };
  }
  async setGain() { return { ...this.gain }; }
  onGainChange() { return () => {}; }
  plugState(): PlugState { return { hardwired: true, canNotify: false, plugged: true, timeNs: 0 }; }
  onPlugChange() { return () => {}; }
  createRingBuffer(): never { throw new Error('not used'); }
}

function sink() {
  const s = { sent: [] as Uint8Array[], closed: false, send(f: Uint8Array) { s.sent.push(f); }, close() { s.closed = true; } };
  return s;
}
const txids = (frames: Uint8Array[]) => frames.map((f) => readHeader(f)!.txid);
const tick = () => new Promise((r) => setImmediate(r));

describe('control round trip: the core\'s dispatch (issue 26)', () => {
  it('an idle channel answers a request that needs no device inside receive()', () => {
    const core = new StreamCore(new GatedDevice());
    const s = sink();
    const c = core.connect(s);
    c.receive(encodeEmptyRequest(5, CMD.GET_CLOCK_DOMAIN));
    assert.deepEqual(txids(s.sent), [5]);
  });

  it('a request behind one that waits for the device is answered after it, in order (R-TXN-3)', async () => {
    const dev = new GatedDevice();
    dev.gated = true;
    const core = new StreamCore(dev);
    const s = sink();
    const c = core.connect(s);
    c.receive(encodeEmptyRequest(1, CMD.GET_GAIN)); // waits in the device
    c.receive(encodeEmptyRequest(2, CMD.GET_CLOCK_DOMAIN)); // could answer at once, but must not overtake
    c.receive(encodeEmptyRequest(3, CMD.GET_GAIN));
    await tick();
    assert.deepEqual(txids(s.sent), [], 'nothing may be answered while the first request waits');
    assert.equal(dev.gates.length, 1, 'the third request has not reached the device before the first is answered');
    dev.gates.shift()!();
    await tick();
    assert.deepEqual(txids(s.sent), [1, 2]);
    dev.gates.shift()!();
    await c.idle();
    assert.deepEqual(txids(s.sent), [1, 2, 3]);
    // The channel is idle again: the next request is answered at once.
    c.receive(encodeEmptyRequest(4, CMD.GET_CLOCK_DOMAIN));
    assert.deepEqual(txids(s.sent), [1, 2, 3, 4]);
  });

  it('negative control: on two channels the same requests do overtake (the order above is the channel\'s doing)', async () => {
    const dev = new GatedDevice();
    dev.gated = true;
    const core = new StreamCore(dev);
    const a = sink();
    const b = sink();
    core.connect(a).receive(encodeEmptyRequest(1, CMD.GET_GAIN));
    core.connect(b).receive(encodeEmptyRequest(2, CMD.GET_CLOCK_DOMAIN));
    await tick();
    assert.deepEqual([txids(a.sent), txids(b.sent)], [[], [2]]);
    dev.gates.shift()!();
    await tick();
    assert.deepEqual(txids(a.sent), [1]);
  });

  it('a handler that fails is logged as an internal error, and the channel answers the next request', async () => {
    const dev = new GatedDevice();
    const lines: string[] = [];
    const core = new StreamCore(dev, { log: (l) => lines.push(l) });
    const s = sink();
    const c = core.connect(s);
    dev.failNext = new Error('bus gone');
    c.receive(encodeEmptyRequest(1, CMD.GET_GAIN));
    await c.idle();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /internal error: Error: bus gone/);
    assert.deepEqual(txids(s.sent), []);
    c.receive(encodeEmptyRequest(2, CMD.GET_GAIN));
    await c.idle();
    assert.deepEqual(txids(s.sent), [2]);
    assert.equal(s.closed, false);
  });
});

/** A stream endpoint that answers GET_CLOCK_DOMAIN and GET_GAIN, except the transaction ids in `withhold`. */
async function fakeEndpoint(dir: string, withhold: Set<number>): Promise<{ path: string; server: net.Server }> {
  const p = path.join(dir, 'fake.sock');
  const server = net.createServer((socket) => {
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => reader.push(chunk, (f) => {
      const h = readHeader(f)!;
      if (withhold.has(h.txid)) return;
      const answer = h.cmd === CMD.GET_GAIN
        ? encodeGainState(h.txid, CMD.GET_GAIN, { curMute: false, curAgc: false, curGain: -20, canMute: true, canAgc: false, minGain: -103.5, maxGain: 24, gainStep: 0.5 })
        : encodeI32Response(h.txid, CMD.GET_CLOCK_DOMAIN, 7);
      socket.write(frameBytes(answer));
    }));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(p, resolve));
  return { path: p, server };
}

const refedTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('control round trip: GET_GAIN from a peek (issue 26)', () => {
  const gainOf = (f: Uint8Array) => {
    const d = decodeServiceMessage(f);
    assert.ok(d.ok && d.value.cmd === CMD.GET_GAIN, 'a GET_GAIN answer');
    return (d.value as GainStateWire).curGain;
  };

  it('a device that peeks is answered inside receive(), with the peeked gain', () => {
    const dev = new GatedDevice();
    dev.peeks = true;
    dev.gated = true; // getGain would wait: only the peek can answer at once
    const s = sink();
    new StreamCore(dev).connect(s).receive(encodeEmptyRequest(4, CMD.GET_GAIN));
    assert.deepEqual(txids(s.sent), [4]);
    assert.equal(gainOf(s.sent[0]!), -20);
    assert.equal(dev.gates.length, 0, 'getGain was not asked');
  });

  it('negative control: a device that cannot peek is answered after its getGain, not inside receive()', async () => {
    const dev = new GatedDevice();
    const s = sink();
    const c = new StreamCore(dev).connect(s);
    c.receive(encodeEmptyRequest(4, CMD.GET_GAIN));
    assert.deepEqual(txids(s.sent), []);
    await c.idle();
    assert.deepEqual(txids(s.sent), [4]);
  });

  it('a GET_GAIN that could be peeked still waits behind a request that waits for the device (R-TXN-3)', async () => {
    const dev = new GatedDevice();
    dev.gated = true;
    const s = sink();
    const c = new StreamCore(dev).connect(s);
    c.receive(encodeEmptyRequest(1, CMD.GET_GAIN)); // no peek yet: waits in getGain
    dev.peeks = true;
    c.receive(encodeEmptyRequest(2, CMD.GET_GAIN));
    assert.deepEqual(txids(s.sent), [], 'the second may not overtake the first');
    dev.gates.shift()!();
    await c.idle();
    assert.deepEqual(txids(s.sent), [1, 2]);
  });

  it('the core keeps no byte of a frame: wiping it after receive() changes no answer', async () => {
    const dev = new GatedDevice();
    dev.gated = true;
    const s = sink();
    const c = new StreamCore(dev).connect(s);
    const frame = encodeEmptyRequest(9, CMD.GET_GAIN);
    c.receive(frame);
    frame.fill(0); // as the transport's next chunk may overwrite the bytes of a view
    dev.gates.shift()!();
    await c.idle();
    assert.deepEqual(txids(s.sent), [9]);
    assert.equal(s.closed, false);
    // Negative control: the same wipe before receive() is a frame of transaction id 0, a violation.
    const s2 = sink();
    new StreamCore(new GatedDevice()).connect(s2).receive(new Uint8Array(8));
    assert.equal(s2.closed, true);
  });
});

describe('control round trip: encoding through the scratch buffer (issue 26)', () => {
  const g: GainStateWire = { curMute: true, curAgc: false, curGain: -20, canMute: true, canAgc: false, minGain: -103.5, maxGain: 24, gainStep: 0.5 };
  /**
   * GET_GAIN's answer written out by hand from docs/facts/stream-protocol.md's layout (cur_mute,
   * cur_agc, 2 pad, f32 cur_gain, can_mute, can_agc, 2 pad, f32 min, max, step): the bytes the
   * tables must still give.
   */
  const expected = (txid: number) => {
    const b = Buffer.alloc(32);
    b.writeUInt32LE(txid, 0);
    b.writeUInt32LE(CMD.GET_GAIN, 4);
    b[8] = 1; // cur_mute
    b.writeFloatLE(-20, 12);
    b[16] = 1; // can_mute
    b.writeFloatLE(-103.5, 20);
    b.writeFloatLE(24, 24);
    b.writeFloatLE(0.5, 28);
    return hex(b);
  };

  it('GET_GAIN\'s answer has the documented bytes, pads zero after a message that wrote there', () => {
    // A long message first, with text where GET_GAIN has its pads: the scratch then holds non-zero bytes there.
    const before = encodeDelayInfoResponse(1, -1, 3, 0xffff_ffff_ffffn, 'x'.repeat(200));
    assert.deepEqual([before[10], before[11], before[18], before[19]], [0xff, 0xff, 0xff, 0xff]);
    assert.equal(hex(encodeGainState(0x01020304, CMD.GET_GAIN, g)), expected(0x01020304));
  });

  it('every frame is its own: a later encode changes no earlier frame', () => {
    const a = encodeGainState(1, CMD.GET_GAIN, g);
    const b = encodeGainState(2, CMD.GET_GAIN, { ...g, curGain: -3 });
    assert.equal(hex(a), expected(1));
    assert.notEqual(a.buffer, b.buffer);
    assert.equal(a.byteLength, 32);
    // Negative control: what the check above sees when two frames share bytes.
    const shared = new Uint8Array(64);
    const x = shared.subarray(0, 32);
    shared.subarray(32).set(a);
    shared.set(b, 0);
    assert.notEqual(hex(x), expected(1));
  });

  it('negative control: a changed value is different bytes', () => {
    assert.notEqual(hex(encodeGainState(1, CMD.GET_GAIN, { ...g, gainStep: 0.25 })), expected(1));
  });
});

/**
 * The board's devices peek the codec driver's cached gain only while the codec lock is idle.
 * Imported as ES modules, as the board's codec part is (tests/unit/gain-fault.test.ts says why).
 */
describe('control round trip: the board device\'s peek (issue 26)', () => {
  let close: (() => void) | undefined;
  let rtClose: (() => Promise<void>) | undefined;
  let dev: StreamDevice;
  let lock: { run<T>(fn: () => Promise<T>): Promise<T> };
  before(async () => {
    const { loadBoard } = await import('../../src/board/load.ts');
    const { openBoard } = await import('../../src/board/runtime.ts');
    const { createBoardDevices } = await import('../../src/stream/board-device.ts');
    const rt = await openBoard(loadBoard('sim'));
    rtClose = () => rt.close();
    await rt.codec.probe();
    await rt.codec.init();
    const devices = createBoardDevices(rt);
    close = devices.close;
    lock = devices.codecLock;
    dev = devices.devices.find((d) => d.info.direction === 'output' && d.gainCaps().maxGain > d.gainCaps().minGain)!;
    assert.ok(dev, 'an output stream with a gain control on sim');
  });
  after(async () => {
    close?.();
    await rtClose?.();
  });

  it('peeks what getGain answers, and follows a change', async () => {
    await dev.getGain();
    assert.deepEqual(dev.peekGain!(), await dev.getGain());
    const caps = dev.gainCaps();
    const target = caps.minGain + 10 * caps.gainStep;
    await dev.setGain({ gainDb: target });
    assert.equal(dev.peekGain!()!.gainDb, target);
    assert.deepEqual(dev.peekGain!(), await dev.getGain());
  });

  it('cannot peek while a codec operation is queued or running; can again once it is done', async () => {
    let release: (() => void) | undefined;
    let running!: () => void;
    const started = new Promise<void>((r) => { running = r; });
    const held = lock.run(() => new Promise<void>((r) => { release = r; running(); }));
    assert.equal(dev.peekGain!(), undefined, 'queued');
    await started;
    assert.equal(dev.peekGain!(), undefined, 'running');
    const answer = dev.getGain(); // queues behind the held lock
    release!();
    await held;
    await answer;
    // Negative control: the same call with the lock idle answers.
    assert.notEqual(dev.peekGain!(), undefined);
  });
});

describe('control round trip: the client\'s deadlines (issue 26)', () => {
  let dir: string;
  let server: net.Server | undefined;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sbc-rtt-')); });
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('an unanswered request fails with its timeout; the ones answered around it do not', async () => {
    const ep = await fakeEndpoint(dir, new Set([2]));
    server = ep.server;
    const c = await StreamClient.connect(ep.path, { timeoutMs: 300 });
    try {
      assert.equal(await c.getClockDomain(), 7); // txid 1
      const lost = c.getGain().then(() => 'answered', (e: Error) => e.message); // txid 2: withheld
      const later = c.getGain(); // txid 3: answered while 2 waits
      assert.equal((await later).curGain, -20);
      assert.equal(await lost, `${ep.path}: no answer to GET_GAIN (0x1002) within 300 ms`);
      assert.equal(await c.getClockDomain(), 7, 'the channel goes on after a timeout');
    } finally {
      await c.close();
    }
  });

  it('a \'frame\' listener keeps its frames: later answers do not change them', async () => {
    const ep = await fakeEndpoint(dir, new Set());
    server = ep.server;
    const c = await StreamClient.connect(ep.path, { timeoutMs: 60_000 });
    try {
      const frames: Uint8Array[] = [];
      c.on('frame', (f: Uint8Array) => frames.push(f));
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) {
        assert.equal((await c.getGain()).curGain, -20);
        seen.push(hex(frames[frames.length - 1]!));
      }
      assert.deepEqual(frames.map((f) => hex(f)), seen, 'each frame as it was when it came');
      assert.deepEqual(txids(frames), [1, 2, 3, 4]);
    } finally {
      await c.close();
    }
  });

  it('no timer holds the process once every request is answered (a referenced one would be counted)', async () => {
    const ep = await fakeEndpoint(dir, new Set());
    server = ep.server;
    const c = await StreamClient.connect(ep.path, { timeoutMs: 60_000 });
    try {
      const before = refedTimers();
      for (let i = 0; i < 3; i++) await c.getGain();
      assert.equal(refedTimers(), before);
      // Negative control: a referenced timer is what this count sees.
      const t = setTimeout(() => {}, 60_000);
      assert.equal(refedTimers(), before + 1);
      clearTimeout(t);
    } finally {
      await c.close();
    }
  });
});

describe('control round trip: the frame reader (issue 26)', () => {
  const frames = [encodeEmptyRequest(1, CMD.GET_GAIN), encodeI32Response(2, CMD.GET_CLOCK_DOMAIN, 7), new Uint8Array(GET_FORMATS_RESP_MIN).fill(0xa5)];
  const stream = Buffer.concat(frames.map((f) => frameBytes(f)));
  const hexes = (fs: Uint8Array[]) => fs.map((f) => Buffer.from(f).toString('hex'));

  it('frames split at every byte come out whole, in order, and as copies of the chunks', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new FrameReader();
      const got: Uint8Array[] = [];
      const a = Buffer.from(stream.subarray(0, cut));
      const b = Buffer.from(stream.subarray(cut));
      assert.equal(r.push(a, (f) => got.push(f)), undefined);
      assert.equal(r.push(b, (f) => got.push(f)), undefined);
      a.fill(0);
      b.fill(0); // the frames are copies: wiping what was read changes none of them
      assert.deepEqual(hexes(got), hexes(frames), `cut at byte ${cut}`);
    }
  });

  it('views: frames split at every byte come out whole while onFrame runs, and share the chunk\'s bytes', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new FrameReader(undefined, undefined, 'view');
      const got: string[] = [];
      const kept: Uint8Array[] = [];
      const a = Buffer.from(stream.subarray(0, cut));
      const b = Buffer.from(stream.subarray(cut));
      const on = (f: Uint8Array) => { got.push(Buffer.from(f).toString('hex')); kept.push(f); };
      assert.equal(r.push(a, on), undefined);
      assert.equal(r.push(b, on), undefined);
      assert.deepEqual(got, hexes(frames), `cut at byte ${cut}`);
      // Cut where the last frame starts: nothing is carried over, so it is a view into the second chunk.
      if (cut === stream.length - frames[2]!.byteLength - 4) {
        b.fill(0);
        assert.notDeepEqual(hexes(kept.slice(2)), hexes(frames.slice(2)), `cut at byte ${cut}: a view sees the chunk change`);
      }
    }
  });

  it('negative control: one byte changed in the stream is a frame that differs', () => {
    const bent = Buffer.from(stream);
    bent[4 + 3] ^= 1; // inside the first frame's transaction id
    const got: Uint8Array[] = [];
    new FrameReader().push(bent, (f) => got.push(f));
    assert.notDeepEqual(hexes(got), hexes(frames));
  });

  it('a length outside the protocol\'s is reported, and again on a further chunk', () => {
    const r = new FrameReader();
    const bad = Buffer.from([3, 0, 0, 0, 1, 2, 3]);
    assert.equal(r.push(bad, () => assert.fail('no frame')), 'frame length 3: expected 8..4096 bytes');
    assert.equal(r.push(Buffer.from(frameBytes(frames[0]!)), () => assert.fail('no frame')), 'frame length 3: expected 8..4096 bytes');
  });
});
