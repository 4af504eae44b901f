/**
 * The stream protocol suite, written from the client side: it knows the service only through its
 * endpoints (docs/PROTOCOL.md) and what the target tells it. Every test names the rule ids it
 * covers; the last test fails if a rule of docs/PROTOCOL.md has no test.
 *
 * Runs against the sim board in-process (tests/unit/stream-protocol.test.ts) and inside the QEMU
 * guest against an i2c-stub PCM5122 with a gpio-sim jack line (tests/hil/guest/stream-protocol.hil.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { MappedRingBuffer, StreamClient } from '../../src/stream/client.ts';
import { findAlignment, paddedTestSignal, pseudoRandomS16, s16ToBytes, verifyBitExact, withFlippedSample } from '../hil/lib/bitexact.ts';
import { type EndpointEvent, watchEndpoints } from '../../src/stream/discovery.ts';
import { walkFormats } from '../../src/stream/format-walk.ts';
import { RawConn, f32At, f32Bytes, i32At, i64At, le32, req, u32At } from './raw.ts';
import { checkRuleCoverage, coveredRuleIds, covers, definedRuleIds } from './rules.ts';
import type { ProtocolTarget } from './target.ts';
import { exitingSeenAt } from '../../src/stream/conformance/checks.ts';

// Wire facts (docs/facts/stream-protocol.md), as literals.
const GET_FORMATS = 0x1000, SET_FORMAT = 0x1001, GET_GAIN = 0x1002, SET_GAIN = 0x1003, PLUG_DETECT = 0x1004;
const GET_UNIQUE_ID = 0x1005, GET_STRING = 0x1006, GET_CLOCK_DOMAIN = 0x1007, PLUG_DETECT_NOTIFY = 0x2000;
const RB_GET_FIFO_DEPTH = 0x3000, RB_GET_BUFFER = 0x3001, RB_START = 0x3002, RB_STOP = 0x3003;
const EXT_GET_EXTERNAL_DELAY = 0xe000, EXT_GAIN_NOTIFY = 0xe001, EXT_GAIN_CHANGED = 0xe002;
const NO_ACK = 0x80000000;
const OK = 0, NO_MEMORY = -4, INVALID_ARGS = -10, BAD_STATE = -20, NOT_FOUND = -25, ACCESS_DENIED = -30, IO = -40;
const KILL_CLIENT = fileURLToPath(new URL('./kill-client.ts', import.meta.url));
const MUTE_VALID = 0x1, AGC_VALID = 0x2, GAIN_VALID = 0x4, MUTE = 0x40000000, AGC = 0x80000000;
const ENABLE = 0x40000000, DISABLE = 0x80000000;
const HARDWIRED = 0x1, CAN_NOTIFY = 0x2, PLUGGED = 0x80000000;
const MANUFACTURER = 0x80000000;
const BIT16 = 1 << 2, BIT32_FLOAT = 1 << 9;

export function defineProtocolSuite(makeTarget: () => Promise<ProtocolTarget>): void {
  let t: ProtocolTarget;
  const open: { close(): Promise<void> }[] = [];

  const ep = (name: string) => {
    const dir = t.endpoints.input.includes(name) ? 'audio-input' : 'audio-output';
    return path.join(t.runtimeDir, dir, name);
  };
  const client = async (name: string) => {
    // 20 s: a ring-buffer channel's engine thread starts in well under a second natively, but in
    // seconds under TCG (the guest), and a new one first waits for the previous one to let go.
    const c = await StreamClient.connect(ep(name), { timeoutMs: 20000 });
    open.push(c);
    return c;
  };
  const raw = async (name: string) => {
    const c = await RawConn.connect(ep(name));
    open.push(c);
    return c;
  };
  /** A client that has sent its first request, so that it takes part in ownership. */
  const owner = async (name: string) => {
    const c = await client(name);
    await c.getClockDomain();
    return c;
  };
  /** Proves nothing else is queued on a channel: the next frame is the answer to a fresh GET_GAIN. */
  const nothingPending = async (c: RawConn, txid: number) => {
    const f = await c.call(req(txid, GET_GAIN));
    assert.equal(u32At(f, 0), txid, `expected the GET_GAIN answer (txid ${txid}) and nothing before it, got txid ${u32At(f, 0)} cmd 0x${u32At(f, 4).toString(16)}`);
    assert.equal(u32At(f, 4), GET_GAIN);
  };
  const timing = (line: string) => {
    if (t.printTimings || process.env.SBC_TIMING) console.log(`      ${t.name}: ${line}`);
  };
  const waitFor = <T>(emitter: StreamClient, event: string, ms = 5000): Promise<T> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${ms} ms`)), ms);
    emitter.once(event, (v: T) => { clearTimeout(timer); resolve(v); });
  });

  before(async () => {
    t = await makeTarget();
  });
  after(async () => {
    await t?.close();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close().catch(() => {});
  });

  describe('discovery', () => {
    it(`${covers('R-DISC-1', 'R-DISC-2')}one Unix socket per stream, mode 0660, in audio-output/ and audio-input/ named <board>.<stream>`, () => {
      for (const dir of ['output', 'input'] as const) {
        for (const name of t.endpoints[dir]) {
          const st = lstatSync(path.join(t.runtimeDir, `audio-${dir}`, name));
          assert.ok(st.isSocket(), `${name} is a socket`);
          assert.equal(st.mode & 0o777, 0o660, `${name} has mode 0660`);
          assert.match(name, /^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$/);
        }
      }
    });

    it(`${covers('R-DISC-3', 'R-DISC-4')}a watcher sees every endpoint disappear when the service stops and reappear, connectable, when it starts`, async () => {
      const events: EndpointEvent[] = [];
      let onEvent = () => {};
      const w = watchEndpoints(t.runtimeDir, (e) => { events.push(e); onEvent(); }, 50);
      const all = [...t.endpoints.output, ...t.endpoints.input];
      const waitUntil = (pred: () => boolean) => new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`watch events so far: ${JSON.stringify(events.map((e) => [e.type, e.endpoint.name]))}`)), 10000);
        onEvent = () => { if (pred()) { clearTimeout(timer); resolve(); } };
        onEvent();
      });
      try {
        await waitUntil(() => all.every((n) => events.some((e) => e.type === 'added' && e.endpoint.name === n)));
        const before = events.length;
        await t.restart();
        await waitUntil(() => all.every((n) => events.slice(before).some((e) => e.type === 'removed' && e.endpoint.name === n))
          && all.every((n) => events.slice(before).some((e) => e.type === 'added' && e.endpoint.name === n)));
        assert.ok(events.every((e) => !e.endpoint.name.startsWith('.')), 'hidden set-up names are never reported');
        // Present means accepting (the socket is renamed into place only after listen).
        const c = await client(t.jackStream);
        assert.equal(await c.getClockDomain(), t.clockDomain);
      } finally {
        w.close();
      }
    });
  });

  describe('framing', () => {
    it(`${covers('R-FRAME-1')}a frame is a u32 LE length and exactly that message; requests split byte by byte or packed together are read as frames`, async () => {
      const c = await raw(t.jackStream);
      const one = [...le32(8), ...req(0x0a0b0c0d, GET_GAIN)];
      for (const b of one) c.write(new Uint8Array([b])); // one byte per write
      const f = await c.frameAt(0);
      assert.equal(c.lengths[0], 32);
      assert.equal(f.byteLength, 32);
      c.write(new Uint8Array([...le32(8), ...req(2, GET_CLOCK_DOMAIN), ...le32(8), ...req(3, GET_UNIQUE_ID)]));
      assert.equal((await c.frameAt(1)).byteLength, 12);
      assert.equal((await c.frameAt(2)).byteLength, 24);
    });

    for (const [what, len] of [['0', 0], ['4 (shorter than a header)', 4], ['5000 (longer than any message)', 5000]] as const) {
      it(`${covers('R-FRAME-2')}a frame length of ${what} closes that connection only`, async () => {
        const bystander = await raw(t.jackStream);
        await bystander.call(req(1, GET_CLOCK_DOMAIN));
        const c = await raw(t.jackStream);
        c.write(new Uint8Array(le32(len)));
        assert.ok(await c.closesWithin(), 'closed');
        assert.equal(c.frames.length, 0);
        await nothingPending(bystander, 2);
      });
    }

    it(`${covers('R-FRAME-3')}only a successful SET_FORMAT frame is longer than its message (24 + 16-byte token); a failed one is 24`, async () => {
      const c = await raw(t.jackStream);
      const body = (fps: number) => [...le32(fps), ...le32(t.format.sampleFormat), t.format.channels & 0xff, t.format.channels >> 8, 0, 0, 0, 0, 0, 0, ...le32(0), ...le32(0)];
      const good = await c.call(req(1, SET_FORMAT, body(t.format.fps)));
      assert.equal(c.lengths[0], 40);
      assert.equal(i32At(good, 8), OK);
      const bad = await c.call(req(2, SET_FORMAT, body(t.rateNotOffered)));
      assert.equal(c.lengths[1], 24);
      assert.equal(i32At(bad, 8), INVALID_ARGS);
    });
  });

  describe('transactions', () => {
    it(`${covers('R-TXN-1')}responses echo the transaction id and the command`, async () => {
      const c = await raw(t.jackStream);
      for (const [txid, cmd] of [[0xdeadbeef, GET_GAIN], [0x7fffffff, GET_CLOCK_DOMAIN], [1, GET_UNIQUE_ID], [0xffffffff, GET_FORMATS]] as const) {
        const f = await c.call(req(txid, cmd));
        assert.equal(u32At(f, 0), txid);
        assert.equal(u32At(f, 4), cmd);
      }
    });

    it(`${covers('R-TXN-2', 'R-TXN-3')}pipelined requests are answered in order; notifications carry transaction id 0`, async () => {
      const c = await raw(t.jackStream);
      await c.call(req(1, PLUG_DETECT, le32(ENABLE)));
      const cmds = [GET_GAIN, GET_CLOCK_DOMAIN, GET_UNIQUE_ID, GET_FORMATS, GET_GAIN, GET_STRING];
      c.write(new Uint8Array(cmds.flatMap((cmd, i) => [...le32(cmd === GET_STRING ? 12 : 8), ...req(100 + i, cmd, cmd === GET_STRING ? le32(MANUFACTURER) : [])])));
      const start = c.frames.length;
      const got: number[] = [];
      for (let i = 0; got.length < cmds.length; i++) {
        const f = await c.frameAt(start + i);
        if (u32At(f, 0) === 0) continue;
        got.push(u32At(f, 0));
        if (u32At(f, 4) === GET_FORMATS && t.formatCount > 15) i += Math.ceil(t.formatCount / 15) - 1;
      }
      assert.deepEqual(got, [100, 101, 102, 103, 104, 105]);
      const { drivenAtNs: _d } = await t.setJack(true);
      const n0 = c.frames.length;
      let f: Uint8Array;
      for (let i = n0; ; i++) { f = await c.frameAt(i); if (u32At(f, 4) === PLUG_DETECT_NOTIFY) break; }
      assert.equal(u32At(f, 0), 0);
      await t.setJack(false);
    });

    it(`${covers('R-TXN-4')}NO_ACK SET_GAIN takes effect with no response, success or failure`, async () => {
      const c = await raw(t.jackStream);
      const g = t.gain;
      const target = g.minGain + 2 * g.gainStep;
      c.send(req(1, SET_GAIN | NO_ACK, [...le32(GAIN_VALID), ...f32Bytes(target)]));
      c.send(req(2, SET_GAIN | NO_ACK, [...le32(GAIN_VALID), ...f32Bytes(g.maxGain + 10)])); // INVALID_ARGS, silently
      const f = await c.call(req(3, GET_GAIN));
      assert.equal(u32At(f, 0), 3, 'the first frame after the NO_ACK requests is the GET_GAIN answer');
      assert.equal(c.frames.length, 1);
      assert.equal(f32At(f, 12), target);
    });

    it(`${covers('R-TXN-4', 'R-PLUG-3')}NO_ACK PLUG_DETECT enables notifications without a response`, async () => {
      const c = await raw(t.jackStream);
      c.send(req(1, PLUG_DETECT | NO_ACK, le32(ENABLE)));
      await nothingPending(c, 2);
      await t.setJack(true);
      const f = await c.frameAt(1);
      assert.equal(u32At(f, 4), PLUG_DETECT_NOTIFY);
      await t.setJack(false);
      await c.frameAt(2);
    });
  });

  describe('validation: violations close that channel only', () => {
    const violations: [string[], string, Uint8Array][] = [
      [['R-VAL-1'], 'transaction id 0', req(0, GET_GAIN)],
      [['R-VAL-2'], 'an unknown command (0x1008)', req(5, 0x1008)],
      [['R-VAL-2'], 'a notification code (0x2000)', req(5, PLUG_DETECT_NOTIFY)],
      [['R-VAL-2'], 'a ring-buffer command on the stream channel', req(5, RB_GET_FIFO_DEPTH)],
      [['R-VAL-3'], 'GET_GAIN with 4 extra bytes', req(5, GET_GAIN, [0, 0, 0, 0])],
      [['R-VAL-3'], 'SET_GAIN 4 bytes short', req(5, SET_GAIN, le32(GAIN_VALID))],
      [['R-VAL-3'], 'SET_FORMAT 8 bytes short', req(5, SET_FORMAT, [...le32(48000), ...le32(BIT16), 2, 0, 0, 0, 0, 0, 0, 0])],
      [['R-VAL-4'], 'NO_ACK on GET_FORMATS', req(5, GET_FORMATS | NO_ACK)],
      [['R-VAL-4'], 'NO_ACK on SET_FORMAT', req(5, SET_FORMAT | NO_ACK, [...le32(48000), ...le32(BIT16), 2, 0, 0, 0, 0, 0, 0, 0, ...le32(0), ...le32(0)])],
    ];
    for (const [ids, what, bad] of violations) {
      it(`${covers(...ids, 'R-VAL-5')}${what}: no answer, the channel closes, a second client is still answered`, async () => {
        const other = await raw(t.jackStream);
        await other.call(req(1, GET_CLOCK_DOMAIN));
        const c = await raw(t.jackStream);
        c.send(bad);
        c.send(req(6, GET_GAIN)); // after the violation: never answered
        assert.ok(await c.closesWithin(), 'the violating channel is closed');
        assert.equal(c.frames.length, 0, 'no response to the violation or to anything after it');
        await nothingPending(other, 2);
      });
    }

    it(`${covers('R-VAL-5', 'R-OWN-2')}two clients at once: the violator loses only its channel; the owner keeps its ownership and its gain`, async () => {
      const a = await owner(t.jackStream);
      const set = await a.setGain({ gain: t.gain.minGain + 4 * t.gain.gainStep });
      assert.equal(set.result, OK);
      const b = await raw(t.jackStream);
      // A stream of requests from A while B breaks the rules.
      const answered = Promise.all(Array.from({ length: 50 }, () => a.getGain()));
      b.send(req(1, GET_GAIN));
      b.send(req(0, GET_GAIN));
      assert.ok(await b.closesWithin());
      const gains = await answered;
      assert.ok(gains.every((g) => g.curGain === t.gain.minGain + 4 * t.gain.gainStep));
      assert.equal((await a.setGain({ gain: t.gain.minGain })).result, OK, 'A still owns the stream');
    });

    it(`${covers('R-VAL-6', 'R-RB-3')}a violation on the stream channel closes its ring-buffer channel too`, async () => {
      const a = await owner(t.jackStream);
      const f = await a.setFormat(t.format);
      const rb = await a.openRingBuffer(f.token!);
      assert.equal((await rb.getFifoDepth()).result, OK);
      a.sendRaw(req(0, GET_GAIN));
      await a.closed;
      await rb.closed;
    });

    it(`${covers('R-VAL-6', 'R-RB-4')}a violation on the ring-buffer channel closes only that channel`, async () => {
      const a = await owner(t.jackStream);
      const f = await a.setFormat(t.format);
      const rb = await a.openRingBuffer(f.token!);
      assert.equal((await rb.getFifoDepth()).result, OK);
      rb.sendRaw(req(7, RB_START | NO_ACK)); // NO_ACK is allowed on no ring-buffer command
      await rb.closed;
      assert.equal((await a.getGain()).canMute, t.gain.canMute, 'the stream channel is still answered');
      assert.equal(a.isClosed, false);
    });

    it(`${covers('R-VAL-7', 'R-VAL-5')}1000 refused requests on one connection: the 1000th is answered, then the channel closes; 999 leave it open; others are still answered`, async () => {
      const BUDGET = 1000; // docs/PROTOCOL.md R-VAL-7
      const UNKNOWN_STRING = 0x12345; // neither MANUFACTURER nor PRODUCT: NOT_FOUND (R-INFO-2)
      const other = await raw(t.jackStream);
      await other.call(req(1, GET_CLOCK_DOMAIN));
      const c = await raw(t.jackStream);
      // 999 refused requests, a good request in the middle (it does not reset the count), one at the end.
      const refused = (txid: number) => [...le32(12), ...req(txid, GET_STRING, le32(UNKNOWN_STRING))];
      const bytes: number[] = [];
      for (let i = 1; i <= BUDGET - 1; i++) {
        bytes.push(...refused(i));
        if (i === 500) bytes.push(...le32(8), ...req(5000, GET_CLOCK_DOMAIN));
      }
      bytes.push(...le32(8), ...req(5001, GET_GAIN));
      c.write(new Uint8Array(bytes));
      const last = await c.answer(5001, GET_GAIN, 0, 60000);
      assert.equal(c.isClosed, false, 'negative control: 999 refused requests leave the channel open');
      const answers = c.frames.filter((f) => u32At(f, 4) === GET_STRING);
      assert.equal(answers.length, BUDGET - 1);
      assert.ok(answers.every((f) => i32At(f, 8) === NOT_FOUND), 'each was refused NOT_FOUND');
      assert.ok(last.byteLength > 0);
      const before = c.frames.length;
      c.send(req(6000, GET_STRING, le32(UNKNOWN_STRING))); // the 1000th: answered, then the channel closes
      c.send(req(6001, GET_GAIN)); // never answered
      assert.ok(await c.closesWithin(60000), 'the channel is closed after its 1000th refused request');
      const after = c.frames.slice(before);
      assert.equal(after.length, 1, `one frame after the 999th: the 1000th refused answer (got ${after.length})`);
      assert.equal(u32At(after[0]!, 0), 6000);
      assert.equal(i32At(after[0]!, 8), NOT_FOUND);
      await nothingPending(other, 2);
    });
  });

  describe('ownership', () => {
    it(`${covers('R-OWN-1', 'R-OWN-2')}the first channel to send owns the stream; another is refused SET_FORMAT and SET_GAIN but may query`, async () => {
      const late = await client(t.jackStream); // connects first, speaks later
      const first = await owner(t.jackStream);
      const before = await first.getGain();
      const denied = await late.setGain({ gain: t.gain.maxGain });
      assert.equal(denied.result, ACCESS_DENIED);
      assert.equal(denied.curGain, before.curGain, 'the answer carries the unchanged state');
      const fmt = await late.setFormat(t.format);
      assert.equal(fmt.result, ACCESS_DENIED);
      assert.equal(fmt.externalDelayNs, 0);
      assert.equal(fmt.token, undefined);
      assert.equal((await first.getGain()).curGain, before.curGain);
      assert.equal((await late.getFormats()).length, t.formatCount);
      assert.equal((await late.plugDetect('enable')).canNotify, true);
      assert.equal((await first.setGain({ gain: t.gain.maxGain })).result, OK);
    });

    it(`${covers('R-OWN-3')}when the owner's channel closes, the next oldest channel owns the stream`, async () => {
      const a = await owner(t.jackStream);
      const b = await owner(t.jackStream);
      const c = await owner(t.jackStream);
      assert.equal((await b.setGain({ gain: t.gain.minGain })).result, ACCESS_DENIED);
      await a.close();
      assert.equal((await c.setGain({ gain: t.gain.minGain })).result, ACCESS_DENIED);
      assert.equal((await b.setGain({ gain: t.gain.minGain })).result, OK);
      b.sendRaw(req(0, GET_GAIN)); // B loses its channel by a violation
      await b.closed;
      assert.equal((await c.setGain({ gain: t.gain.minGain })).result, OK);
    });
  });

  describe('formats', () => {
    it(`${covers('R-FMT-1')}GET_FORMATS on ${'the jack stream'}: ⌈n/15⌉ messages, ascending, same total, cut after the last range`, async () => {
      const c = await raw(t.jackStream);
      c.send(req(9, GET_FORMATS));
      const pages = Math.max(1, Math.ceil(t.formatCount / 15));
      for (let i = 0; i < pages; i++) {
        const f = await c.frameAt(i);
        const inPage = Math.min(15, t.formatCount - 15 * i);
        assert.equal(u32At(f, 0), 9);
        assert.equal(f.byteLength, 16 + 16 * inPage);
        assert.equal(f[12]! | (f[13]! << 8), t.formatCount);
        assert.equal(f[14]! | (f[15]! << 8), 15 * i);
      }
      await nothingPending(c, 10);
    });

    it(`${covers('R-FMT-1')}more than 15 ranges: three messages at 0, 15, 30, each with the total`, async function () {
      if (!t.manyFormats) this.skip(); // reason: this target has no stream with more than 15 format ranges (the sim board runs it)
      const m = t.manyFormats!;
      const c = await raw(m.stream);
      c.send(req(77, GET_FORMATS));
      const sizes: number[] = [];
      for (let i = 0; i < Math.ceil(m.count / 15); i++) {
        const f = await c.frameAt(i);
        assert.equal(u32At(f, 0), 77);
        assert.equal(u32At(f, 4), GET_FORMATS);
        assert.equal(f[12]! | (f[13]! << 8), m.count);
        assert.equal(f[14]! | (f[15]! << 8), i * 15);
        sizes.push(f.byteLength);
      }
      assert.deepEqual(sizes, [256, 256, 16 + 16 * (m.count - 30)]);
      const ranges = await (await client(m.stream)).getFormats();
      assert.equal(ranges.length, m.count);
    });

    it(`${covers('R-FMT-2')}SET_FORMAT succeeds inside a range and fails outside (rate, family, channels, format bits)`, async () => {
      const a = await owner(t.jackStream);
      const ranges = await a.getFormats();
      for (const r of ranges) {
        const fmt = r.sampleFormats & -r.sampleFormats & 0x3ff;
        assert.equal((await a.setFormat({ fps: r.minFps, sampleFormat: fmt, channels: r.minChannels })).result, OK, `min of ${JSON.stringify(r)}`);
        assert.equal((await a.setFormat({ fps: r.maxFps, sampleFormat: fmt, channels: r.maxChannels })).result, OK, `max of ${JSON.stringify(r)}`);
      }
      const inNone = (f: { fps: number; sampleFormat: number; channels: number }) => a.setFormat(f).then((x) => x.result);
      assert.equal(await inNone({ ...t.format, fps: t.rateNotOffered }), INVALID_ARGS);
      const maxCh = Math.max(...ranges.map((r) => r.maxChannels));
      assert.equal(await inNone({ ...t.format, channels: maxCh + 1 }), INVALID_ARGS);
      assert.equal(await inNone({ ...t.format, channels: 0 }), INVALID_ARGS);
      if (!ranges.some((r) => r.sampleFormats & BIT32_FLOAT)) assert.equal(await inNone({ ...t.format, sampleFormat: BIT32_FLOAT }), INVALID_ARGS);
      assert.equal(await inNone({ ...t.format, sampleFormat: t.format.sampleFormat | (t.format.sampleFormat << 1) }), INVALID_ARGS, 'two format bits');
    });

    it(`${covers('R-FMT-6')}every corner of every offered range goes SET_FORMAT → GET_FIFO_DEPTH → GET_BUFFER → START → a position → STOP`, async function () {
      if (!t.formatWalk) this.skip(); // reason: the target's PCMs do not take every rate its codec offers (see target.formatWalk)
      this.timeout(120000);
      const r = await walkFormats(ep(t.jackStream));
      assert.ok(r.cases.length >= t.formatCount * 2, `${r.cases.length} corners`);
      assert.deepEqual(r.failures, []);
    });

    it(`${covers('R-FMT-3')}a failed SET_FORMAT keeps the stream channel and the existing ring-buffer channel`, async () => {
      const a = await owner(t.jackStream);
      const ok = await a.setFormat(t.format);
      const rb = await a.openRingBuffer(ok.token!);
      await rb.getFifoDepth();
      const bad = await a.setFormat({ ...t.format, fps: t.rateNotOffered });
      assert.equal(bad.result, INVALID_ARGS);
      assert.equal(bad.externalDelayNs, 0);
      assert.equal((await rb.getFifoDepth()).result, OK, 'ring-buffer channel still answered');
      assert.equal(a.isClosed, false);
    });

    it(`${covers('R-FMT-4')}success reports the external delay (codec + board analog path) and a 16-byte token starting with four zeros`, async () => {
      const c = await raw(t.jackStream);
      const f = await c.call(req(1, SET_FORMAT, [...le32(t.format.fps), ...le32(t.format.sampleFormat), t.format.channels, 0, 0, 0, 0, 0, 0, 0, ...le32(0), ...le32(0)]));
      assert.equal(i32At(f, 8), OK);
      assert.equal(Number(i64At(f, 16)), t.format.externalDelayNs);
      assert.equal(f.byteLength, 40);
      assert.deepEqual([...f.subarray(24, 28)], [0, 0, 0, 0]);
      assert.notDeepEqual([...f.subarray(28, 40)], new Array(12).fill(0));
    });

    it(`${covers('R-FMT-5')}channels_to_use_bitmask: 0 and bits below channels are accepted, a bit at or above channels is not`, async () => {
      const a = await owner(t.jackStream);
      const ch = t.format.channels;
      assert.equal((await a.setFormat({ ...t.format, channelsToUse: 0n })).result, OK);
      assert.equal((await a.setFormat({ ...t.format, channelsToUse: 1n })).result, OK);
      assert.equal((await a.setFormat({ ...t.format, channelsToUse: 1n << BigInt(ch) })).result, INVALID_ARGS);
      assert.equal((await a.setFormat({ ...t.format, channelsToUse: 1n << 63n })).result, INVALID_ARGS);
    });
  });

  describe('ring-buffer channel', () => {
    it(`${covers('R-RB-1')}the token opens the ring-buffer channel once; a reused or made-up token gets the connection closed`, async () => {
      const a = await owner(t.jackStream);
      const f = await a.setFormat(t.format);
      const rb = await a.openRingBuffer(f.token!);
      assert.equal((await rb.getFifoDepth()).result, OK);
      const again = await raw(t.jackStream);
      again.send(f.token!);
      assert.ok(await again.closesWithin(), 'a used token is refused');
      assert.equal(again.frames.length, 0);
      const madeUp = await raw(t.jackStream);
      madeUp.send(new Uint8Array([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
      assert.ok(await madeUp.closesWithin());
      assert.equal(rb.isClosed, false);
    });

    it(`${covers('R-RB-2')}a new SET_FORMAT closes the previous ring-buffer channel and voids an unused token`, async () => {
      const a = await owner(t.jackStream);
      const f1 = await a.setFormat(t.format);
      const rb1 = await a.openRingBuffer(f1.token!);
      await rb1.getFifoDepth();
      const f2 = await a.setFormat(t.format);
      await rb1.closed;
      const f3 = await a.setFormat(t.format);
      const stale = await raw(t.jackStream);
      stale.send(f2.token!);
      assert.ok(await stale.closesWithin(), 'the token of a replaced format is void');
      const rb3 = await a.openRingBuffer(f3.token!);
      assert.equal((await rb3.getFifoDepth()).result, OK);
    });

    it(`${covers('R-RB-3')}closing the stream channel closes its ring-buffer channel`, async () => {
      const a = await owner(t.jackStream);
      const rb = await a.openRingBuffer((await a.setFormat(t.format)).token!);
      await rb.getFifoDepth();
      await a.close();
      await rb.closed;
    });

    it(`${covers('R-RB-4')}requests in their layouts (before a buffer: START and STOP BAD_STATE); wrong sizes are violations`, async () => {
      const a = await owner(t.rb.stream);
      const token = (await a.setFormat(t.format)).token!;
      const rb = await raw(t.rb.stream);
      rb.send(token);
      const expect: [number, number[], number, number][] = [[RB_GET_FIFO_DEPTH, [], 16, OK], [RB_START, [], 24, BAD_STATE], [RB_STOP, [], 12, BAD_STATE], [RB_GET_BUFFER, [...le32(4800), ...le32(0x7fffffff)], 16, INVALID_ARGS]];
      for (const [i, [cmd, body, size, status]] of expect.entries()) {
        // The first ring-buffer answer waits for the engine thread to start (seconds under emulation).
        rb.send(req(40 + i, cmd, body));
        const f = await rb.frameAt(i, 20000);
        assert.equal(u32At(f, 0), 40 + i);
        assert.equal(u32At(f, 4), cmd);
        assert.equal(f.byteLength, size);
        assert.equal(i32At(f, 8), status, `0x${cmd.toString(16)}`);
      }
      rb.send(req(50, RB_GET_BUFFER, le32(4800))); // 12 bytes, GET_BUFFER is 16
      assert.ok(await rb.closesWithin());
      assert.equal(rb.frames.length, 4);
      const rb2 = await a.openRingBuffer((await a.setFormat(t.format)).token!);
      rb2.sendRaw(req(51, GET_GAIN)); // a stream command on the ring-buffer channel
      await rb2.closed;
      const rb3 = await raw(t.rb.stream);
      rb3.send((await a.setFormat(t.format)).token!);
      rb3.send(req(52, RB_START | NO_ACK));
      assert.ok(await rb3.closesWithin(), 'NO_ACK on START is a violation');
      assert.equal((await a.getClockDomain()), t.clockDomain);
    });

    /** A ring-buffer channel on `stream` at t.format. */
    const ringBuffer = async (stream = t.rb.stream) => {
      const a = await owner(stream);
      const f = await a.setFormat(t.format);
      assert.equal(f.result, OK);
      const rb = await a.openRingBuffer(f.token!);
      open.push(rb);
      return { a, rb };
    };

    it(`${covers('R-RB-5')}GET_FIFO_DEPTH: how far the engine reads ahead, in bytes, the same all along the channel`, async () => {
      const { rb } = await ringBuffer();
      const first = await rb.getFifoDepth();
      assert.deepEqual(first, { result: OK, fifoDepth: t.rb.fifoBytes });
      assert.equal(first.fifoDepth % 4, 0, 'whole frames');
      await rb.getBuffer(9600, 0);
      assert.equal((await rb.getFifoDepth()).fifoDepth, t.rb.fifoBytes);
      await rb.start();
      assert.equal((await rb.getFifoDepth()).fifoDepth, t.rb.fifoBytes);
      await rb.stop();
      assert.equal((await rb.getFifoDepth()).fifoDepth, t.rb.fifoBytes);
    });

    it(`${covers('R-RB-6')}GET_BUFFER: at least the request and FIFO + a period, whole frames; only while stopped; N > frames is INVALID_ARGS`, async () => {
      const { rb } = await ringBuffer();
      const exact = await rb.getBuffer(4801, 3);
      assert.deepEqual([exact.result, exact.frames], [OK, 4801]);
      const tiny = await rb.getBuffer(1, 0);
      assert.equal(tiny.result, OK);
      assert.equal(tiny.frames, t.rb.fifoBytes / 4 + t.rb.periodFrames);
      const big = await rb.getBuffer(4800, 4801);
      assert.equal(big.result, INVALID_ARGS);
      assert.equal(big.bufferPath, undefined);
      assert.ok(existsSync(tiny.bufferPath!), 'a failed GET_BUFFER keeps the previous buffer');
      const huge = await rb.getBuffer(0x7fffffff, 0);
      assert.equal(huge.result, NO_MEMORY);
      await rb.getBuffer(4800, 0);
      await rb.start();
      const during = await rb.getBuffer(4800, 0);
      assert.deepEqual([during.result, during.frames, during.bufferPath], [BAD_STATE, 0, undefined]);
      await rb.stop();
      assert.equal((await rb.getBuffer(4800, 0)).result, OK);
    });

    it(`${covers('R-RB-7')}the shared buffer: a 0600 file under /dev/shm of exactly frames × frame size zero bytes; replaced and closed buffers are unlinked`, async () => {
      const { a, rb } = await ringBuffer();
      const r = await rb.getBuffer(4800, 4);
      assert.ok(r.bufferPath!.startsWith('/dev/shm/sbc-audio-'), r.bufferPath);
      const st = statSync(r.bufferPath!);
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.size, 4800 * 4);
      assert.equal(st.uid, process.getuid!());
      const bytes = readFileSync(r.bufferPath!);
      assert.ok(bytes.every((b) => b === 0), 'audio only, and silence to begin with');
      const m = MappedRingBuffer.open(r.bufferPath!, r.frames, 4);
      m.close();
      const r2 = await rb.getBuffer(9600, 4);
      assert.notEqual(r2.bufferPath, r.bufferPath);
      assert.equal(existsSync(r.bufferPath!), false, 'the replaced buffer is unlinked');
      assert.equal(statSync(r2.bufferPath!).size, 9600 * 4);
      await a.close();
      await rb.closed;
      for (let i = 0; i < 100 && existsSync(r2.bufferPath!); i++) await new Promise((res) => setTimeout(res, 10));
      assert.equal(existsSync(r2.bufferPath!), false, 'closing the channel unlinks the buffer');
    });

    it(`${covers('R-RB-8')}START: BAD_STATE without a buffer or when started; start_time on CLOCK_MONOTONIC`, async () => {
      const { rb } = await ringBuffer();
      const raw0 = await rb.start();
      assert.deepEqual(raw0, { result: BAD_STATE, startTimeNs: 0 });
      await rb.getBuffer(4800, 0);
      const before = t.nowNs();
      const s = await rb.start();
      const after = t.nowNs();
      assert.equal(s.result, OK);
      // Output: frame 0 leaves the PCM (periods − 1) periods after the boundary where the engine started.
      assert.ok(s.startTimeNs > before, `start_time ${s.startTimeNs} after the request (${before})`);
      assert.ok(s.startTimeNs < after + 1e9, `start_time ${s.startTimeNs} is near (${after})`);
      assert.equal((await rb.start()).result, BAD_STATE);
      await rb.stop();
      const again = await rb.start();
      assert.equal(again.result, OK);
      assert.ok(again.startTimeNs > s.startTimeNs);
    });

    it(`${covers('R-RB-9')}STOP: BAD_STATE before GET_BUFFER, OK when stopped with a buffer; no position notification after its response`, async () => {
      const { rb } = await ringBuffer();
      assert.equal((await rb.stop()).result, BAD_STATE, 'no shared buffer yet: cannot be stopped');
      assert.equal((await rb.start()).result, BAD_STATE, 'nor started');
      await rb.getBuffer(4800, 48); // a notification every 2 ms
      assert.equal((await rb.stop()).result, OK, 'stopped with a buffer: OK');
      const seen: number[] = [];
      let stopped = false;
      let late = 0;
      rb.on('position', () => { seen.push(t.nowNs()); if (stopped) late++; });
      await rb.start();
      await t.sleepNs(30e6);
      assert.equal((await rb.stop()).result, OK);
      stopped = true;
      await t.sleepNs(30e6);
      assert.ok(seen.length > 3, `${seen.length} notifications while started`);
      assert.equal(late, 0, 'none after the STOP response');
      assert.equal((await rb.stop()).result, OK);
    });

    it(`${covers('R-RB-8')}input: start_time is never before the client sent START (CLOCK_MONOTONIC read just before), on every input stream`, async function () {
      const inputs = readdirSync(path.join(t.runtimeDir, 'audio-input')).filter((n) => !n.startsWith('.'));
      if (inputs.length === 0) this.skip(); // reason: this target serves no input stream
      const seen: string[] = [];
      for (const name of inputs) {
        const a = await StreamClient.connect(path.join(t.runtimeDir, 'audio-input', name), { timeoutMs: 20000 });
        open.push(a);
        await a.getClockDomain();
        const ranges = await a.getFormats();
        const r = ranges.find((x) => x.sampleFormats & BIT16) ?? ranges[0]!;
        const fmt = r.sampleFormats & -r.sampleFormats & 0x3ff;
        const rate = [48000, 44100, 8000].find((x) => r.minFps <= x && x <= r.maxFps) ?? r.minFps;
        const f = await a.setFormat({ fps: rate, sampleFormat: fmt, channels: r.maxChannels });
        assert.equal(f.result, OK, `${name}: SET_FORMAT`);
        const rb = await a.openRingBuffer(f.token!);
        open.push(rb);
        assert.equal((await rb.getBuffer(4800, 0)).result, OK);
        for (let k = 0; k < 3; k++) {
          // The service's timeline held still from the reading until START is sent (virtual
          // clocks; a no-op on real time), so the reading is exactly "just before".
          t.holdClock();
          const sentAt = t.nowNs(); // just before START goes out
          const started = rb.start();
          await new Promise((r) => setTimeout(r, 20)); // the request reaches the service while the clock stands
          t.releaseClock();
          const s = await started;
          const answeredAt = t.nowNs();
          assert.equal(s.result, OK);
          assert.ok(s.startTimeNs >= sentAt, `${name}: start_time ${s.startTimeNs} is ${((sentAt - s.startTimeNs) / 1e6).toFixed(3)} ms before START was sent (${sentAt})`);
          assert.ok(s.startTimeNs <= answeredAt + 1e9, `${name}: start_time ${s.startTimeNs} within a second of the answer (${answeredAt})`);
          await rb.stop();
        }
        seen.push(name);
        await a.close();
      }
      timing(`input start_time checked on ${seen.join(', ')}`);
    });

    for (const [rate, perRing, frames, count] of [[8000, 32, 8000, 40], [48000, 2, 9600, 6]] as const) {
      it(`${covers('R-RB-10')}position notifications at ${rate} Hz, ${perRing} per ring: in the seed's window, positions and times as documented`, async function () {
        this.timeout(180000);
        // On real time a window is measured again (up to three times) when only the late edge was
        // missed: a loaded machine delays the service or this process by more than two
        // notification periods now and then, which is the machine's doing; every other check
        // (never early, positions, times) holds on every attempt, and one attempt must be on time.
        const attempts = t.exactPlugTimes ? 1 : 3;
        const late: string[] = [];
        for (let attempt = 1; ; attempt++) {
          const a = await owner(t.rb.timingStream);
          const f = await a.setFormat({ ...t.format, fps: rate });
          assert.equal(f.result, OK);
          const rb = await a.openRingBuffer(f.token!);
          open.push(rb);
          const b = await rb.getBuffer(frames, perRing);
          assert.deepEqual([b.result, b.frames], [OK, frames]);
          const got: { time: number; pos: number; at: number }[] = [];
          let early = 0;
          let startSeen = false;
          rb.on('position', (p: { monotonicTimeNs: number; ringBufferPos: number }) => {
            if (!startSeen) early++;
            got.push({ time: p.monotonicTimeNs, pos: p.ringBufferPos, at: t.nowNs() });
          });
          const s = await rb.start();
          startSeen = true;
          const ns = (1e9 * frames) / (rate * perRing);
          const deadline = Date.now() + 20000;
          while (got.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          await rb.stop();
          await a.close();
          // The margins first (printed even when a check below fails): how far each arrival was from
          // the window's edges, the smallest over the notifications received (negative = outside).
          let minEarly = Infinity;
          let minLate = Infinity;
          for (let k = 1; k <= Math.min(count, got.length); k++) {
            const since = got[k - 1]!.at - s.startTimeNs;
            minEarly = Math.min(minEarly, since - ns * (k - 1));
            minLate = Math.min(minLate, ns * (k + 2) - since);
          }
          timing(`${rate} Hz ${perRing}/ring: ns ${(ns / 1e6).toFixed(2)} ms, ${Math.min(count, got.length)} notifications, min margin after ns·(k−1) ${(minEarly / 1e6).toFixed(2)} ms, before ns·(k+2) ${(minLate / 1e6).toFixed(2)} ms`);
          assert.equal(early, 0, 'nothing before the START response');
          assert.ok(got.length >= count, `${got.length} notifications, expected ${count}`);
          let lateAt = '';
          for (let k = 1; k <= count; k++) {
            const n = got[k - 1]!;
            const since = n.at - s.startTimeNs;
            assert.ok(since >= ns * (k - 1), `notification ${k} arrived ${since} ns after start_time, before ns·(k−1) = ${ns * (k - 1)}`);
            if (!(since < ns * (k + 2)) && !lateAt) lateAt = `notification ${k} arrived ${since} ns after start_time, not before ns·(k+2) = ${ns * (k + 2)}`;
            assert.ok(n.time >= s.startTimeNs, 'monotonic_time ≥ start_time');
            if (k > 1) assert.ok(n.time > got[k - 2]!.time, 'monotonic_time strictly increasing');
            assert.equal(n.pos, (Math.floor((k * frames) / perRing) % frames) * 4, `notification ${k}'s position`);
            assert.ok(n.pos < frames * 4, 'positions wrap at the buffer size');
          }
          if (!lateAt) break;
          late.push(lateAt);
          timing(`attempt ${attempt}: ${lateAt}`);
          assert.ok(attempt < attempts, late.join('; '));
        }
      });
    }

    it(`${covers('R-RB-10')}notifications_per_ring 0: none`, async () => {
      const { rb } = await ringBuffer(t.rb.timingStream);
      await rb.getBuffer(4800, 0);
      let n = 0;
      rb.on('position', () => n++);
      await rb.start();
      await t.sleepNs(300e6);
      await rb.stop();
      assert.equal(n, 0);
    });

    it(`${covers('R-RB-11')}what the client writes is what the PCM plays, bit-exact (correlation-aligned; a flipped sample fails)`, async function () {
      this.timeout(540000); // a hang guard: an engine thread takes tens of seconds to start on an emulated CPU beside other work
      const signal = paddedTestSignal(24000, 9600, 2, 0x5eed);
      const total = signal.samples.length / 2;
      // A run in which the engine reported an underrun (R-EXT-5: a host too busy to run it in time,
      // as an emulated CPU beside other work can be) proves nothing either way: up to two more are
      // made. A run without one must be bit-exact, and so must the run that passes.
      let captured: Int16Array;
      let v: ReturnType<typeof verifyBitExact>;
      let s: { startTimeNs: number };
      const xrunRuns: string[] = [];
      for (let attempt = 1; ; attempt++) {
        const cap = await t.captureOutput(t.rb.stream);
        const { a, rb } = await ringBuffer();
        // The extension where the target has it (NOT_SUPPORTED elsewhere: then no run is excused).
        const told = (await rb.extNotifications(true)) === OK;
        let xruns = 0;
        rb.on('rb-error', () => { xruns++; });
        const r = await rb.getBuffer(total, 0);
        const m = MappedRingBuffer.open(r.bufferPath!, r.frames, 4);
        m.write(0, s16ToBytes(signal.samples));
        s = await rb.start();
        await t.sleepNs((total / 48000) * 1e9 + 50e6);
        await rb.stop();
        m.close();
        await a.close();
        captured = await cap.stop();
        v = verifyBitExact(signal, captured, signal.signalFrames);
        if (v.ok) break;
        assert.ok(told && xruns > 0, v.reason);
        xrunRuns.push(`run ${attempt}: ${xruns} underrun notification(s), ${v.reason}`);
        timing(`R-RB-11 run ${attempt}: ${xruns} underrun notification(s) on a loaded host; again`);
        assert.ok(attempt < 3, `every run had underruns: ${xrunRuns.join('; ')}`);
      }
      assert.ok(v.alignment!.score > 0.999 && v.alignment!.runnerUp < 0.2, `alignment ${JSON.stringify(v.alignment)}`);
      const control = verifyBitExact({ ...signal, samples: withFlippedSample(signal.samples, (signal.signalStart + 12345) * 2) }, captured, signal.signalFrames);
      assert.equal(control.ok, false, 'the flipped-sample control must fail');
      assert.ok(s.startTimeNs > 0);
    });

    it(`${covers('R-RB-12')}a client killed with SIGKILL: audio before, exact zeros from kill + FIFO + one period, no repeated ring segment`, async function () {
      this.timeout(180000); // a hang guard, as R-RB-11's
      const cap = await t.captureOutput(t.rb.stream);
      const frames = t.rb.killMode === 'prefill' ? 48000 * 6 : 48000;
      const child = spawn(process.execPath, ['--import', 'tsx', KILL_CLIENT, ep(t.rb.stream), String(frames), t.rb.killMode], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let buf = '';
          child.stdout!.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) resolve(buf.split('\n')[0]!); });
          child.once('exit', () => reject(new Error('the client exited before starting')));
        });
        const info = JSON.parse(line) as { startTimeNs: number; fifoBytes: number; frames: number; result: number };
        assert.equal(info.result, OK);
        await t.sleepNs(1.5e9); // 1.5 s of audio
        t.holdClock();
        let killNs = t.nowNs();
        child.kill('SIGKILL');
        // On real time the death is timed where the service sees it: the kernel marks the process
        // exiting (PF_EXITING) only once the signal is delivered, which a loaded host delays by
        // milliseconds. On a virtual clock (held) the kill is the death.
        if (!t.exactPlugTimes) killNs = Number(exitingSeenAt(child.pid!));
        await exited;
        for (let i = 0; i < 500 && t.ringBufferChannels(t.rb.stream) > 0; i++) await new Promise((r) => setTimeout(r, 5));
        t.releaseClock();
        await t.sleepNs(600e6);
        const captured = await cap.stop();
        // Where the signal is in the capture: frame n of the signal is played at start_time + n / rate.
        // The lag is measured just before the kill, where it is used, on the last two whole blocks
        // before it: a gap earlier in the capture or the stream (an xrun under emulation, which
        // skips frames) does not move it.
        const BLOCK = 4800;
        const block = (k: number) => pseudoRandomS16(BLOCK, 2, 0x1000 + k); // block k of the signal (kill-client.ts)
        // The kill falls inside a frame: frames from the one that starts at or after kill + FIFO +
        // one period must be zeros, so the bound is that instant rounded up to a frame (rounding the
        // kill down made the bound one frame early: seen once in CI, a non-zero at exactly the bound).
        const killPosition = ((killNs - info.startTimeNs) * 48000) / 1e9;
        const killFrame = Math.floor(killPosition);
        const bound = Math.ceil(killPosition + info.fifoBytes / 4 + t.rb.periodFrames);
        const alignBlock = Math.max(0, Math.floor(killFrame / BLOCK) - 2);
        const reference = new Int16Array(BLOCK * 2 * 2);
        reference.set(block(alignBlock), 0);
        reference.set(block(alignBlock + 1), BLOCK * 2);
        const align = findAlignment(reference, captured, 2, 0, 512);
        assert.ok(align && align.score > 0.999, `signal blocks ${alignBlock}–${alignBlock + 1} found in the capture (${JSON.stringify(align)})`);
        const lag = align!.lagFrames - alignBlock * BLOCK;
        const capFrames = captured.length / 2;
        if (lag >= 0) {
          // Not checked here (R-RB-11 is): whether the signal's start is at the same lag, for the log.
          const first = block(0);
          let same = 0;
          for (let f = 0; f < 512; f++) if (captured[(f + lag) * 2] === first[f * 2] && captured[(f + lag) * 2 + 1] === first[f * 2 + 1]) same++;
          if (same < 512) timing(`SIGKILL: the signal's first 512 frames are not all at the kill's lag (${same} are): the capture or the stream has a gap before the kill`);
        }
        assert.ok(capFrames > bound + lag + 4800, `the capture goes on ${capFrames - bound - lag} frames after the bound`);
        // Printed before the checks, so a failing run shows it too.
        let lastNonZero = -1;
        for (let f = capFrames - lag - 1; f >= killFrame; f--) {
          if (captured[(f + lag) * 2] !== 0 || captured[(f + lag) * 2 + 1] !== 0) { lastNonZero = f; break; }
        }
        timing(`SIGKILL: kill at signal frame ${killFrame} (${killNs} ns), zeros required from ${bound} (+${((bound - killFrame) / 48).toFixed(2)} ms), last non-zero frame ${lastNonZero} (${lastNonZero < 0 ? 'none after the kill' : `+${((lastNonZero - killFrame) / 48).toFixed(2)} ms`})`);
        // Before the kill: the signal (non-silent). Most of the last 100 ms, not all of it: an
        // underrun on a loaded host drops a few periods there (seen beside stress-ng under TCG:
        // 4597 of 4800), which is the machine's; silence, what this guards against, gives 0.
        let loud = 0;
        for (let f = killFrame - 4800; f < killFrame; f++) if (captured[(f + lag) * 2] !== 0) loud++;
        assert.ok(loud > 4000, `audio before the kill (${loud} of 4800 frames non-zero)`);
        // From the bound on: exact zeros.
        let firstNonZero = -1;
        for (let f = bound + lag; f < capFrames; f++) {
          if (captured[f * 2] !== 0 || captured[f * 2 + 1] !== 0) { firstNonZero = f - lag; break; }
        }
        assert.equal(firstNonZero, -1, `non-zero at signal frame ${firstNonZero}, bound ${bound} (kill at ${killPosition.toFixed(2)}, last non-zero ${lastNonZero})`);
        // Between kill and bound: the signal itself or zeros, never an old part of the ring.
        for (let f = killFrame; f < bound; f++) {
          const l = captured[(f + lag) * 2]!;
          const rgt = captured[(f + lag) * 2 + 1]!;
          if (l === 0 && rgt === 0) continue;
          const k = Math.floor(f / BLOCK);
          const want = block(k);
          const i = (f - k * BLOCK) * 2;
          assert.deepEqual([l, rgt], [want[i], want[i + 1]], `frame ${f} after the kill is the signal`);
        }
      } finally {
        t.releaseClock();
        child.kill('SIGKILL');
      }
    });
  });

  describe('gain', () => {
    it(`${covers('R-GAIN-1')}GET_GAIN reports the codec's main volume: lowest audible step, top, step, can_mute`, async () => {
      const g = await (await client(t.jackStream)).getGain();
      assert.equal(g.minGain, t.gain.minGain);
      assert.equal(g.maxGain, t.gain.maxGain);
      assert.equal(g.gainStep, t.gain.gainStep);
      assert.equal(g.canMute, t.gain.canMute);
      assert.equal(g.canAgc, false);
      assert.equal(g.curAgc, false);
    });

    it(`${covers('R-GAIN-1', 'R-GAIN-4')}a stream without a main volume is fixed: 0/0/0, no mute; MUTE is refused, unmute is fine`, async function () {
      if (!t.fixedGainStream) this.skip(); // reason: this target has no fixed-gain stream (the sim board's mic is one)
      const c = await owner(t.fixedGainStream!);
      const g = await c.getGain();
      assert.deepEqual([g.minGain, g.maxGain, g.gainStep, g.curGain, g.canMute], [0, 0, 0, 0, false]);
      assert.equal((await c.setGain({ mute: true })).result, INVALID_ARGS);
      assert.equal((await c.setGain({ mute: false })).result, OK);
      assert.equal((await c.setGain({ gain: 0 })).result, OK);
      assert.equal((await c.setGain({ gain: 0.5 })).result, INVALID_ARGS);
    });

    it(`${covers('R-GAIN-2')}out of range or NaN: INVALID_ARGS and nothing changes, not even the mute of the same request`, async () => {
      const c = await raw(t.jackStream);
      const g = t.gain;
      const start = await c.call(req(1, SET_GAIN, [...le32(GAIN_VALID | MUTE_VALID), ...f32Bytes(g.minGain + g.gainStep)]));
      assert.equal(i32At(start, 8), OK);
      for (const bad of [g.maxGain + g.gainStep, g.minGain - g.gainStep, Number.NaN]) {
        const r = await c.call(req(2, SET_GAIN, [...le32(GAIN_VALID | MUTE_VALID | MUTE), ...f32Bytes(bad)]));
        assert.equal(i32At(r, 8), INVALID_ARGS, `gain ${bad}`);
        assert.equal(r[12], 0, 'the answer says: still unmuted');
        assert.equal(f32At(r, 16), g.minGain + g.gainStep, 'the answer carries the unchanged gain');
      }
      const after = await c.call(req(3, GET_GAIN));
      assert.equal(f32At(after, 12), g.minGain + g.gainStep);
      assert.equal(after[8], 0, 'still unmuted');
      for (const edge of [g.maxGain, g.minGain]) {
        assert.equal(i32At(await c.call(req(4, SET_GAIN, [...le32(GAIN_VALID), ...f32Bytes(edge)])), 8), OK, `${edge} itself is in range`);
      }
    });

    it(`${covers('R-GAIN-3')}a gain is set to the nearest step from min; exactly halfway takes the lower step`, async () => {
      const c = await owner(t.jackStream);
      const { minGain: min, gainStep: step } = t.gain;
      const cases: [number, number][] = [
        [min + 10 * step + step / 2, min + 10 * step], // tie: lower
        [min + 10 * step + step / 4, min + 10 * step],
        [min + 10 * step + (3 * step) / 4, min + 11 * step],
        [min + step / 2, min], // tie at the bottom
      ];
      for (const [ask, want] of cases) {
        const r = await c.setGain({ gain: ask });
        assert.equal(r.result, OK);
        assert.equal(r.curGain, want, `asked ${ask}`);
        assert.equal((await c.getGain()).curGain, want);
      }
    });

    it(`${covers('R-GAIN-4')}AGC on a stream without can_agc is INVALID_ARGS; AGC_VALID without AGC is fine`, async () => {
      const c = await raw(t.jackStream);
      assert.equal(i32At(await c.call(req(1, SET_GAIN, [...le32(AGC_VALID | AGC), ...f32Bytes(0)])), 8), INVALID_ARGS);
      assert.equal(i32At(await c.call(req(2, SET_GAIN, [...le32(AGC_VALID), ...f32Bytes(0)])), 8), OK);
      if (!t.gain.canMute) assert.equal(i32At(await c.call(req(3, SET_GAIN, [...le32(MUTE_VALID | MUTE), ...f32Bytes(0)])), 8), INVALID_ARGS);
    });

    it(`${covers('R-GAIN-5')}the response reports the state after; parts without VALID are left alone`, async () => {
      const c = await owner(t.jackStream);
      const g = t.gain;
      let r = await c.setGain({ gain: g.minGain + 3 * g.gainStep, mute: false });
      assert.deepEqual([r.result, r.curGain, r.curMute], [OK, g.minGain + 3 * g.gainStep, false]);
      if (g.canMute) {
        r = await c.setGain({ mute: true });
        assert.deepEqual([r.result, r.curGain, r.curMute], [OK, g.minGain + 3 * g.gainStep, true], 'mute leaves the gain');
        r = await c.setGain({ gain: g.minGain + 5 * g.gainStep });
        assert.deepEqual([r.result, r.curGain, r.curMute], [OK, g.minGain + 5 * g.gainStep, true], 'gain leaves the mute');
        r = await c.setGain({ mute: false });
      }
      const none = await c.setGain({});
      assert.deepEqual([none.result, none.curGain], [OK, r.curGain]);
      if (t.sharedGainStream) {
        const other = await client(t.sharedGainStream);
        assert.equal((await other.getGain()).curGain, r.curGain, 'streams of one direction share the main volume');
      }
    });
  });

  describe('plug detection', () => {
    it(`${covers('R-PLUG-1')}a hardwired stream is PLUGGED | HARDWIRED, never CAN_NOTIFY, and sends no notifications`, async function () {
      if (!t.hardwiredStream) this.skip(); // reason: this target has no hardwired stream
      const c = await raw(t.hardwiredStream!);
      const f = await c.call(req(1, PLUG_DETECT, le32(ENABLE)));
      assert.equal(u32At(f, 8), (HARDWIRED | PLUGGED) >>> 0);
      const time = Number(i64At(f, 16));
      assert.ok(time > 0 && time <= t.nowNs(), `plug_state_time ${time} is a past monotonic time`);
      const watcher = await client(t.jackStream);
      await watcher.plugDetect('enable');
      const heard = waitFor(watcher, 'plug');
      await t.setJack(true);
      await heard;
      await nothingPending(c, 2);
      await t.setJack(false);
      await waitFor(watcher, 'plug');
    });

    it(`${covers('R-PLUG-2')}a jack stream reports CAN_NOTIFY and PLUGGED as the line says`, async () => {
      const c = await client(t.jackStream);
      await c.plugDetect('enable');
      const plugged = waitFor<{ plugged: boolean }>(c, 'plug');
      await t.setJack(true);
      await plugged;
      const p = await c.plugDetect('none');
      assert.equal(p.flags, (CAN_NOTIFY | PLUGGED) >>> 0);
      const unplugged = waitFor(c, 'plug');
      await t.setJack(false);
      await unplugged;
      assert.equal((await c.plugDetect('none')).flags, CAN_NOTIFY);
    });

    it(`${covers('R-PLUG-3')}notifications go to channels that enabled them; DISABLE, both flags, or never enabling means none`, async () => {
      const on = await raw(t.jackStream);
      const off = await raw(t.jackStream);
      const both = await raw(t.jackStream);
      const never = await raw(t.jackStream);
      await on.call(req(1, PLUG_DETECT, le32(ENABLE)));
      await off.call(req(1, PLUG_DETECT, le32(ENABLE)));
      await off.call(req(2, PLUG_DETECT, le32(DISABLE)));
      await both.call(req(1, PLUG_DETECT, le32(ENABLE | DISABLE)));
      await never.call(req(1, GET_CLOCK_DOMAIN));
      await t.setJack(true);
      const n = await on.frameAt(1);
      assert.equal(u32At(n, 4), PLUG_DETECT_NOTIFY);
      assert.equal(u32At(n, 8), (CAN_NOTIFY | PLUGGED) >>> 0);
      await nothingPending(off, 3);
      await nothingPending(both, 3);
      await nothingPending(never, 3);
      await t.setJack(false);
      assert.equal(u32At(await on.frameAt(2), 8), CAN_NOTIFY);
    });

    it(`${covers('R-PLUG-4')}the notification's plug_state_time is the GPIO event's time (after debounce), not the time it was read`, async () => {
      const c = await client(t.jackStream);
      await c.plugDetect('enable');
      const heard = waitFor<{ plugStateTimeNs: number }>(c, 'plug');
      const { drivenAtNs } = await t.setJack(true);
      const n = await heard;
      const receivedNs = t.nowNs();
      if (t.exactPlugTimes) {
        assert.equal(n.plugStateTimeNs, drivenAtNs + t.jackDebounceNs);
      } else {
        assert.ok(n.plugStateTimeNs >= drivenAtNs + t.jackDebounceNs && n.plugStateTimeNs <= receivedNs,
          `plug_state_time ${n.plugStateTimeNs} within [${drivenAtNs + t.jackDebounceNs}, ${receivedNs}]`);
      }
      assert.equal((await c.plugDetect('none')).plugStateTimeNs, n.plugStateTimeNs, 'PLUG_DETECT reports the same time');
      const back = waitFor(c, 'plug');
      await t.setJack(false);
      await back;
    });
  });

  describe('identity', () => {
    it(`${covers('R-INFO-1')}GET_UNIQUE_ID: the documented 16 bytes, the same after a restart, different per stream`, async () => {
      const ids = new Map<string, string>();
      for (const name of [...t.endpoints.output, ...t.endpoints.input]) {
        const id = Buffer.from(await (await client(name)).getUniqueId()).toString('hex');
        if (t.uniqueIds[name]) assert.equal(id, t.uniqueIds[name], name);
        ids.set(name, id);
      }
      assert.equal(new Set(ids.values()).size, ids.size, 'distinct per stream');
      for (const c of open.splice(0)) await c.close();
      await t.restart();
      for (const [name, id] of ids) assert.equal(Buffer.from(await (await client(name)).getUniqueId()).toString('hex'), id, `${name} after restart`);
    });

    it(`${covers('R-INFO-2')}GET_STRING: manufacturer and product, id echoed, strlen in bytes; other ids NOT_FOUND`, async () => {
      const c = await raw(t.jackStream);
      const m = await c.call(req(1, GET_STRING, le32(MANUFACTURER)));
      assert.equal(m.byteLength, 256);
      assert.equal(i32At(m, 8), OK);
      assert.equal(u32At(m, 12), MANUFACTURER);
      const len = u32At(m, 16);
      assert.equal(Buffer.from(m.subarray(20, 20 + len)).toString('utf8'), t.manufacturer);
      assert.ok(m.subarray(20 + len).every((b) => b === 0), 'zero after the text');
      for (const name of Object.keys(t.products)) {
        assert.equal(await (await client(name)).product(), t.products[name], name);
      }
      const x = await c.call(req(2, GET_STRING, le32(0x80000002)));
      assert.deepEqual([i32At(x, 8), u32At(x, 12), u32At(x, 16)], [NOT_FOUND, 0x80000002, 0]);
    });

    it(`${covers('R-INFO-3')}GET_CLOCK_DOMAIN`, async () => {
      const c = await raw(t.jackStream);
      const f = await c.call(req(1, GET_CLOCK_DOMAIN));
      assert.equal(f.byteLength, 12);
      assert.equal(i32At(f, 8), t.clockDomain);
    });
  });

  describe('extensions', () => {
    it(`${covers('R-EXT-1')}EXT_GET_EXTERNAL_DELAY answers what SET_FORMAT would, for anyone, changing nothing`, async () => {
      const a = await owner(t.jackStream);
      const b = await raw(t.jackStream);
      const f = await b.call(req(1, EXT_GET_EXTERNAL_DELAY, le32(t.format.fps)));
      assert.equal(f.byteLength, 24);
      assert.equal(i32At(f, 8), OK);
      assert.equal(Number(i64At(f, 16)), t.format.externalDelayNs);
      const no = await b.call(req(2, EXT_GET_EXTERNAL_DELAY, le32(t.rateNotOffered)));
      assert.deepEqual([i32At(no, 8), Number(i64At(no, 16))], [INVALID_ARGS, 0]);
      assert.equal((await a.setGain({})).result, OK, 'A still owns');
    });

    it(`${covers('R-EXT-2')}EXT_GAIN_NOTIFY: changes through any stream sharing the control are announced; off means none`, async () => {
      const a = await owner(t.jackStream);
      const w = await raw(t.sharedGainStream ?? t.jackStream);
      const first = await w.call(req(1, EXT_GAIN_NOTIFY, le32(ENABLE)));
      assert.equal(first.byteLength, 32);
      assert.equal(u32At(first, 4), EXT_GAIN_NOTIFY);
      const want = t.gain.minGain + 7 * t.gain.gainStep;
      await a.setGain({ gain: t.gain.minGain + 6 * t.gain.gainStep });
      await a.setGain({ gain: want });
      let n: Uint8Array;
      for (let i = 1; ; i++) { n = await w.frameAt(i); if (f32At(n, 12) === want) break; }
      assert.deepEqual([u32At(n, 0), u32At(n, 4)], [0, EXT_GAIN_CHANGED]);
      const k = w.frames.length;
      await w.call(req(2, EXT_GAIN_NOTIFY, le32(DISABLE)));
      await a.setGain({ gain: t.gain.minGain });
      await nothingPending(w, 3);
      assert.equal(w.frames.length, k + 2);
    });

    it(`${covers('R-EXT-4')}EXT_GET_PURPOSE: the board file's purpose, as a code and a name`, async () => {
      const c = await client(t.jackStream);
      assert.deepEqual(await c.getPurpose(), { result: OK, purpose: 2, name: 'headphone' });
      const raw0 = await raw(t.jackStream);
      const f = await raw0.call(req(1, 0xe004));
      assert.equal(f.byteLength, 48);
    });

    it(`${covers('R-EXT-5')}EXT_RB_NOTIFY: an xrun is told as EXT_RB_ERROR; audio goes on from the position`, async function () {
      if (!t.stallEngine) this.skip(); // reason: an engine stall can only be made on a virtual clock
      const a = await owner(t.rb.stream);
      const rb = await a.openRingBuffer((await a.setFormat(t.format)).token!);
      open.push(rb);
      assert.equal(await rb.extNotifications(true), OK);
      await rb.getBuffer(9600, 4);
      const errors: { kind: number; status: number; count: number; total: number; monotonicTimeNs: number }[] = [];
      rb.on('rb-error', (e) => errors.push(e));
      const positions: number[] = [];
      rb.on('position', (p: { monotonicTimeNs: number }) => positions.push(p.monotonicTimeNs));
      const s = await rb.start();
      await t.sleepNs(50e6);
      await t.stallEngine!(t.rb.stream, 20e6);
      await t.sleepNs(200e6);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.deepEqual([errors[0]!.kind, errors[0]!.status, errors[0]!.count, errors[0]!.total], [1, -42, 1, 1]);
      assert.ok(errors[0]!.monotonicTimeNs > s.startTimeNs);
      const n = positions.length;
      await t.sleepNs(100e6);
      assert.ok(positions.length > n, 'positions go on after the xrun');
      assert.equal(await rb.extNotifications(false), OK);
      await t.stallEngine!(t.rb.stream, 20e6);
      await t.sleepNs(100e6);
      assert.equal(errors.length, 1, 'no error notification once off');
    });

    it(`${covers('R-EXT-5', 'R-EXT-8')}a failed audio device: EXT_RB_ERROR bus failure where enabled, nothing unasked; then every command answers IO`, async () => {
      for (const enabled of [false, true]) {
        const a = await owner(t.rb.stream);
        const rb = await a.openRingBuffer((await a.setFormat(t.format)).token!);
        open.push(rb);
        if (enabled) assert.equal(await rb.extNotifications(true), OK);
        await rb.getBuffer(4800, 0);
        await rb.start();
        const frames: number[] = [];
        rb.on('frame', (f: Uint8Array) => frames.push(u32At(f, 4)));
        // An xrun (kind 1) may be told before the failure on a loaded host; the bus failure (kind 3)
        // is what this rule is about, and it comes exactly once.
        const errors: { kind: number; status: number }[] = [];
        const busFailure = new Promise<{ kind: number; status: number }>((resolve) => rb.on('rb-error', (e: { kind: number; status: number }) => { errors.push(e); if (e.kind === 3) resolve(e); }));
        await t.failEngine(t.rb.stream);
        if (enabled) {
          const e = await busFailure;
          assert.deepEqual([e.kind, e.status], [3, IO]);
        }
        assert.equal((await rb.getFifoDepth()).result, IO);
        assert.equal((await rb.start()).result, IO);
        const ext = frames.filter((c) => c >= 0xe000);
        if (enabled) {
          assert.deepEqual(errors.filter((e) => e.kind !== 1).map((e) => [e.kind, e.status]), [[3, IO]], `one bus failure, nothing else but xruns: ${JSON.stringify(errors)}`);
          assert.deepEqual(ext, errors.map(() => 0xe101), 'every extension message is an EXT_RB_ERROR');
        } else {
          assert.deepEqual(ext, [], 'no extension message on a channel that never enabled one');
        }
        assert.equal((await a.getClockDomain()), t.clockDomain, 'the stream channel is fine');
        await a.close();
      }
    });

    it(`${covers('R-EXT-7')}EXT_GET_DELAY_INFO: the known part equals external_delay_nsec; what has no figure is counted and named`, async () => {
      const c = await client(t.jackStream);
      const d = await c.getDelayInfo(t.format.fps);
      assert.deepEqual(d, { result: OK, knownDelayNs: t.format.externalDelayNs, unknownCount: 0, unknown: '' });
      const raw0 = await raw(t.jackStream);
      const f = await raw0.call(req(1, 0xe005, le32(t.format.fps)));
      assert.equal(f.byteLength, 256);
      const no = await c.getDelayInfo(t.rateNotOffered);
      assert.deepEqual([no.result, no.knownDelayNs, no.unknownCount], [INVALID_ARGS, 0, 0]);
      if (t.unknownDelay) {
        const u = t.unknownDelay;
        const x = await (await client(u.stream)).getDelayInfo(u.fps);
        assert.equal(x.result, OK);
        assert.equal(x.knownDelayNs, u.knownNs);
        assert.equal(x.unknownCount, u.unknownCount);
        assert.match(x.unknown, u.unknownMatches);
        assert.equal((await (await client(u.stream)).setFormat({ fps: u.fps, sampleFormat: BIT16, channels: 2 })).externalDelayNs, u.knownNs, 'SET_FORMAT carries the known part');
      }
    });

    it(`${covers('R-EXT-6')}EXT_RB_CLOCK: the device rate measured against CLOCK_MONOTONIC about once per second`, async function () {
      this.timeout(30000);
      const a = await owner(t.rb.stream);
      const rb = await a.openRingBuffer((await a.setFormat(t.format)).token!);
      open.push(rb);
      const clocks: { ratePpb: number; windowFrames: number; measuredFps: number; monotonicTimeNs: number }[] = [];
      rb.on('clock', (c) => clocks.push(c));
      assert.equal(await rb.extNotifications(true), OK);
      const deadline = Date.now() + 20000;
      while (clocks.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(clocks.length >= 2, `${clocks.length} clock notifications`);
      const last = clocks[clocks.length - 1]!;
      assert.ok(last.windowFrames >= 48000, `window ${last.windowFrames} frames`);
      assert.ok(Math.abs(last.ratePpb) <= t.rb.clockPpbTolerance, `rate ${last.ratePpb} ppb`);
      assert.ok(Math.abs(last.measuredFps - 48000 * (1 + last.ratePpb / 1e9)) < 0.01);
      assert.ok(clocks[1]!.monotonicTimeNs > clocks[0]!.monotonicTimeNs);
      // Enabling again answers with the latest measurement at once.
      const n = clocks.length;
      await rb.extNotifications(true);
      assert.ok(clocks.length > n);
    });

    it(`${covers('R-EXT-3')}EXT_OBSERVE: an observer never owns; an owner that observes hands the stream on`, async () => {
      const watcher = await client(t.jackStream);
      assert.equal(await watcher.observe(), OK);
      const app = await owner(t.jackStream);
      assert.equal((await app.setGain({})).result, OK);
      assert.equal((await watcher.setGain({})).result, ACCESS_DENIED);
      const next = await owner(t.jackStream);
      assert.equal(await app.observe(), OK);
      assert.equal((await next.setGain({})).result, OK);
      assert.equal((await app.setGain({})).result, ACCESS_DENIED);
    });
  });

  describe('flow control', () => {
    it(`${covers('R-FLOW-1')}a client that does not read is disconnected once 1 MiB waits; others are unaffected`, async () => {
      const other = await raw(t.jackStream);
      await other.call(req(1, GET_CLOCK_DOMAIN));
      const c = await raw(t.jackStream);
      c.socket.pause(); // read nothing
      const one = new Uint8Array([...le32(12), ...req(1, GET_STRING, le32(MANUFACTURER))]);
      const batch = new Uint8Array(one.byteLength * 1000);
      for (let i = 0; i < 1000; i++) batch.set(one, i * one.byteLength);
      let sent = 0;
      // 256-byte answers: 1 MiB of them plus what the kernel's socket buffers hold.
      while (sent < 40000 && !c.isClosed) {
        c.write(batch);
        sent += 1000;
        await new Promise((r) => setImmediate(r));
        if (c.socket.writableLength > 1 << 20) await new Promise((r) => setTimeout(r, 5));
      }
      c.socket.resume();
      assert.ok(await c.closesWithin(10000), 'disconnected');
      assert.ok(c.frames.length < sent, `${c.frames.length} of ${sent} answered before the disconnect`);
      await nothingPending(other, 2);
    });
  });

  describe('rule coverage', () => {
    it('every rule id in docs/PROTOCOL.md has a test, and every id a test names is defined there', () => {
      const defined = definedRuleIds();
      assert.ok(defined.length >= 30, `found ${defined.length} rule ids in docs/PROTOCOL.md`);
      const r = checkRuleCoverage(defined, coveredRuleIds());
      assert.deepEqual(r, { untested: [], unknown: [], duplicates: [] });
    });
  });
}
