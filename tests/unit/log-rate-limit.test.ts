/**
 * Issue 19: the stream core logs what a client causes rate-limited per client (its process, across
 * connections and endpoints; in-process connections are each a client) and per kind (the first
 * LOG_LINES_PER_KIND a minute, then one summary line with the count), and a connection
 * that makes REFUSED_REQUEST_BUDGET refused requests is closed as a violation (docs/PROTOCOL.md
 * R-VAL-7). Before: one log line per refused request, without limit, and no budget (a million
 * hostile messages wrote 23.5 MB of log).
 */
import assert from 'node:assert/strict';
import type { FormatRange } from '../../src/codec/types.ts';
import { I2cError } from '../../src/hal/i2c.ts';
import { LOG_LINES_PER_KIND, REFUSED_REQUEST_BUDGET, StreamCore } from '../../src/stream/core.ts';
import { ClientLogLimiter } from '../../src/stream/log-limit.ts';
import type { DeviceGainState, PlugState, StreamDevice } from '../../src/stream/device.ts';

const GET_GAIN = 0x1002, SET_FORMAT = 0x1001, SET_GAIN = 0x1003, GAIN_VALID = 0x4;
const ACCESS_DENIED = -30, INVALID_ARGS = -10;

class FakeDevice implements StreamDevice {
  info = { direction: 'output' as const, endpointName: 'fake.out', uniqueId: new Uint8Array(16), manufacturer: 'M', product: 'P', clockDomain: 0 };
  ranges: FormatRange[] = [{ sampleFormats: 4, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 1 }];
  gain: DeviceGainState = { muted: false, agc: false, gainDb: -20 };
  failGain = false;
  formats() { return this.ranges; }
  async changeFormat() { return { externalDelayNs: 0 }; }
  externalDelayNs() { return 0; }
  gainCaps() { return { canMute: true, canAgc: false, minGain: -103.5, maxGain: 24, gainStep: 0.5 }; }
  async getGain() { return { ...this.gain }; }
  async setGain(c: { gainDb?: number }) {
    if (this.failGain) throw new I2cError({ bus: 'sim-i2c-1', addr: 0x4d, fault: 'bus-error', op: 'write' });
    this.gain = { ...this.gain, ...(c.gainDb !== undefined ? { gainDb: c.gainDb } : {}) };
    return { ...this.gain };
  }
  onGainChange() { return () => {}; }
  plugState(): PlugState { return { hardwired: true, canNotify: false, plugged: true, timeNs: 0 }; }
  onPlugChange() { return () => {}; }
  createRingBuffer(): never { throw new Error('not used'); }
}

function request(txid: number, cmd: number, body: number[] = []): Uint8Array {
  const b = Buffer.alloc(8 + body.length);
  b.writeUInt32LE(txid, 0);
  b.writeUInt32LE(cmd, 4);
  Buffer.from(body).copy(b, 8);
  return new Uint8Array(b);
}
const le32 = (n: number) => [...Buffer.from(Uint32Array.of(n >>> 0).buffer)];
const f32 = (x: number) => [...Buffer.from(Float32Array.of(x).buffer)];
const setGain = (txid: number, db: number) => request(txid, SET_GAIN, [...le32(GAIN_VALID), ...f32(db)]);
/** 44.1 kHz: outside the fake's only range (48 kHz): INVALID_ARGS. */
const badFormat = (txid: number) => request(txid, SET_FORMAT, [...le32(44100), ...le32(4), 2, 0, 0, 0, 0, 0, 0, 0, ...le32(0), ...le32(0)]);

function sink() {
  const s = { sent: [] as Uint8Array[], closed: false, send(f: Uint8Array) { s.sent.push(f); }, close() { s.closed = true; } };
  return s;
}
const resultOf = (f: Uint8Array) => Buffer.from(f).readInt32LE(8);

describe('stream core: refused requests are logged rate-limited and budgeted (issue 19, R-VAL-7)', () => {
  let lines: string[];
  let core: StreamCore;
  let dev: FakeDevice;
  let limiter: ClientLogLimiter;
  beforeEach(() => {
    lines = [];
    dev = new FakeDevice();
    limiter = new ClientLogLimiter((l) => lines.push(l));
    core = new StreamCore(dev, { log: (l) => lines.push(l), logLimiter: limiter });
  });
  const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;

  it(`logs the first ${LOG_LINES_PER_KIND} of a kind per client, then one summary with the count (here at the service's stop)`, async () => {
    const owner = core.connect(sink(), 'owner');
    owner.receive(request(1, GET_GAIN));
    const s = sink();
    const c = core.connect(s, 'hostile');
    for (let i = 1; i <= 500; i++) c.receive(setGain(i, 0)); // not the owner: ACCESS_DENIED each
    await c.idle();
    assert.equal(s.sent.length, 500, 'every refused request is still answered');
    assert.ok(s.sent.every((f) => resultOf(f) === ACCESS_DENIED));
    assert.equal(count(/fake\.out hostile: SET_GAIN .*not the owner/), LOG_LINES_PER_KIND, 'negative control: the first lines are logged as before');
    assert.equal(count(/suppressed/), 0, 'no summary before the close');
    c.peerClosed();
    limiter.flush();
    assert.deepEqual(lines.filter((l) => /suppressed/.test(l)), [`fake.out hostile: suppressed ${500 - LOG_LINES_PER_KIND} more 'SET_GAIN refused' lines (500 in all since the first)`]);
    assert.equal(lines.length, LOG_LINES_PER_KIND + 1, lines.slice(-3).join('\n'));
  });

  it('counts per client (connection) and per kind', async () => {
    core.connect(sink(), 'owner').receive(request(1, GET_GAIN));
    const a = core.connect(sink(), 'a');
    const b = core.connect(sink(), 'b');
    for (let i = 1; i <= 50; i++) {
      a.receive(setGain(i, 0));
      b.receive(setGain(i, 0));
      b.receive(badFormat(1000 + i));
    }
    await a.idle();
    await b.idle();
    assert.equal(count(/fake\.out a: SET_GAIN/), LOG_LINES_PER_KIND);
    assert.equal(count(/fake\.out b: SET_GAIN/), LOG_LINES_PER_KIND, "b's lines are not taken by a's");
    assert.equal(count(/fake\.out b: SET_FORMAT/), LOG_LINES_PER_KIND, 'SET_FORMAT is a kind of its own');
    a.peerClosed();
    b.peerClosed();
    limiter.flush();
    assert.equal(count(/fake\.out a: suppressed 40 more 'SET_GAIN refused' lines \(50 in all since the first\)/), 1);
    assert.equal(count(/fake\.out b: suppressed 40 more 'SET_GAIN refused'/), 1);
    assert.equal(count(/fake\.out b: suppressed 40 more 'SET_FORMAT refused'/), 1);
  });

  it(`closes a connection at its ${REFUSED_REQUEST_BUDGET}th refused request, after answering it; ${REFUSED_REQUEST_BUDGET - 1} leave it open`, async () => {
    const s = sink();
    const c = core.connect(s, 'x');
    c.receive(request(1, GET_GAIN)); // the owner: refusals by range (INVALID_ARGS)
    for (let i = 0; i < REFUSED_REQUEST_BUDGET - 1; i++) c.receive(setGain(2 + i, 100)); // above max_gain
    await c.idle();
    assert.equal(c.open, true, 'negative control: one short of the budget');
    assert.equal(s.closed, false);
    c.receive(request(5000, GET_GAIN)); // a good request does not reset the count
    c.receive(setGain(5001, 100));
    c.receive(request(5002, GET_GAIN)); // after the close: never answered
    await c.idle();
    assert.equal(c.open, false);
    assert.equal(s.closed, true);
    const last = s.sent[s.sent.length - 1]!;
    assert.equal(Buffer.from(last).readUInt32LE(0), 5001, 'the last answer is the last refused request');
    assert.equal(resultOf(last), INVALID_ARGS);
    assert.equal(s.sent.length, 1 + REFUSED_REQUEST_BUDGET + 1);
    assert.equal(count(new RegExp(`fake\\.out x: protocol violation: ${REFUSED_REQUEST_BUDGET} refused requests on one connection \\(R-VAL-7\\); closing this channel`)), 1);
    limiter.flush();
    assert.equal(count(/suppressed 990 more 'SET_GAIN refused' lines \(1000 in all since the first\)/), 1);
    assert.ok(lines.length <= LOG_LINES_PER_KIND + 2, `${lines.length} lines for ${REFUSED_REQUEST_BUDGET} refused requests`);
  });

  it('device errors are rate-limited too but are not refusals: they never use up the budget', async () => {
    dev.failGain = true;
    const s = sink();
    const c = core.connect(s, 'y');
    for (let i = 1; i <= REFUSED_REQUEST_BUDGET + 200; i++) c.receive(setGain(i, -10));
    await c.idle();
    assert.equal(c.open, true);
    assert.equal(s.sent.length, REFUSED_REQUEST_BUDGET + 200);
    assert.equal(count(/fake\.out y: SET_GAIN .*the device failed/), LOG_LINES_PER_KIND);
    c.peerClosed();
    limiter.flush();
    assert.equal(count(/fake\.out y: suppressed 1190 more 'SET_GAIN device error' lines/), 1);
  });
});

describe('log rate limit per client process, across connections and endpoints (issue 19)', () => {
  it('violations on 60 connections from one process over two endpoints: 10 lines and one summary; the control without a limit logs all 60', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const net = await import('node:net');
    const { serveEndpoint } = await import('../../src/stream/transport.ts');
    const run = async (linesPerWindow: number) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sbc-loglimit-'));
      const lines: string[] = [];
      const log = (l: string) => lines.push(l);
      const limiter = new ClientLogLimiter(log, { linesPerWindow });
      const servers = [];
      for (const name of ['a', 'b']) {
        const d = new FakeDevice();
        d.info = { ...d.info, endpointName: `fake.${name}` };
        servers.push(await serveEndpoint(new StreamCore(d, { log, logLimiter: limiter }), path.join(dir, `fake.${name}`), { log }));
      }
      try {
        for (let i = 0; i < 60; i++) {
          const s = net.createConnection(path.join(dir, i % 2 ? 'fake.a' : 'fake.b'));
          // A request with transaction id 0 (R-VAL-1): the service closes the connection.
          const f = request(0, GET_GAIN);
          s.write(Buffer.concat([Buffer.from(le32(f.length)), Buffer.from(f)]));
          await new Promise<void>((r) => { s.on('close', () => r()); s.on('error', () => {}); });
        }
        await new Promise((r) => setTimeout(r, 50)); // the last close reaches the service
        const before = lines.filter((l) => /suppressed/.test(l)).length;
        limiter.flush(); // as the service does when it stops
        return { lines, before };
      } finally {
        for (const s of servers) await s.close();
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const limited = await run(10);
    const violations = limited.lines.filter((l) => /: protocol violation:/.test(l));
    assert.equal(violations.length, 10, limited.lines.join('\n'));
    assert.deepEqual(limited.lines.filter((l) => /suppressed/.test(l)), [`client pid ${process.pid}: suppressed 50 more 'protocol violation' lines (60 in all since the first)`]);
    assert.equal(limited.before, 0, 'the summary waits for a window after the last connection (a client that reconnects is the same client)');
    const control = await run(Infinity);
    assert.equal(control.lines.filter((l) => /: protocol violation:/.test(l)).length, 60, 'the control logs every violation');
  });

  it('a new window logs again, after one summary of the last; an idle client is summed up and dropped a window after its last close', async () => {
    const lines: string[] = [];
    let now = 0;
    const l = new ClientLogLimiter((x) => lines.push(x), { linesPerWindow: 2, windowNs: 1000, nowNs: () => now });
    l.opened('c');
    const allowed = () => [0, 1, 2, 3].map(() => l.allow('c', 'k'));
    assert.deepEqual(allowed(), [true, true, false, false]);
    now = 1000;
    assert.deepEqual(allowed(), [true, true, false, false]);
    assert.deepEqual(lines, ["c: suppressed 2 more 'k' lines (4 in all since the first)"]);
    l.closed('c');
    l.sweep();
    assert.equal(l.size, 1, 'kept for a window after its last connection closed');
    now = 2500;
    l.sweep();
    assert.equal(lines.length, 2);
    assert.equal(l.size, 0, 'dropped a window later, with its summary');
  });
});
