/**
 * The conformance checks: one per rule id of docs/PROTOCOL.md, each a client of the endpoint
 * (the socket, the shared buffer file it is given, and for R-RB-12 the stream's monitor endpoint
 * where the service offers one). A check returns a note (pass), throws CheckFailed (fail) or
 * NotApplicable (with the reason). Wire values are literals from ./facts.ts.
 *
 * A check may open connections of its own (closed when it ends) and change the stream's format
 * and gain; it puts the gain back as it found it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { walkFormats } from '../format-walk.ts';
import { type Ctx, CheckFailed, NotApplicable, ensure, equal, nowNs, parseGain, rangeHas, rangeRates, sleep, tx } from './context.ts';
import {
  ACCESS_DENIED, AGC, AGC_VALID, BAD_STATE, BIT16, BIT32_FLOAT, CAN_NOTIFY, DISABLE, ENABLE, EXT_GAIN_CHANGED, EXT_GAIN_NOTIFY,
  EXT_GET_DELAY_INFO, EXT_GET_EXTERNAL_DELAY, EXT_GET_PURPOSE, EXT_OBSERVE, EXT_RB_CLOCK, EXT_RB_NOTIFY, GAIN_VALID, GET_CLOCK_DOMAIN,
  GET_FORMATS, GET_GAIN, GET_STRING, GET_UNIQUE_ID, HARDWIRED, INVALID_ARGS, MANUFACTURER, MUTE, MUTE_VALID, NOT_FOUND, NO_ACK,
  NO_MEMORY, OK, PLUGGED, PLUG_DETECT, PLUG_DETECT_NOTIFY, PRODUCT, PURPOSES, RB_GET_BUFFER, RB_GET_FIFO_DEPTH, RB_POSITION_NOTIFY,
  RB_START, SET_FORMAT, SET_GAIN,
} from './facts.ts';

/**
 * Polls /proc/<pid>/stat until the process is exiting (PF_EXITING 0x4 in its flags, a zombie, or
 * gone) and returns CLOCK_MONOTONIC then; at most 5 s.
 */
export function exitingSeenAt(pid: number): bigint {
  const until = nowNs() + 5_000_000_000n;
  for (;;) {
    const t = nowNs();
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return t; // gone
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const flags = Number(fields[6]);
    if (state === 'Z' || state === 'X' || (flags & 0x4) !== 0 || t > until) return t;
  }
}

/** How far a measured POSITION_NOTIFY time may fall before the nominal time of its frame (R-RB-10). */
const MEASUREMENT_SLACK_NS = 1_000_000n;
import { type RawConn, f32At, f32Bytes, i32At, i64At, le32, req, u32At } from './raw.ts';

export interface Check {
  rule: string;
  /** What is checked, one line. */
  title: string;
  run(ctx: Ctx, all: string[]): Promise<string | void>;
}

const DEATH_CLIENT = fileURLToPath(new URL('./death-client.mjs', import.meta.url));

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;

/** Sends a violation and sees the channel closed with no answer, while `other` is still answered. */
async function violation(ctx: Ctx, bad: Uint8Array, what: string): Promise<void> {
  const other = await ctx.connect();
  await ctx.ask(other, GET_CLOCK_DOMAIN);
  const c = await ctx.connect();
  c.send(bad);
  c.send(req(tx(), GET_GAIN)); // after the violation: never answered
  ensure(await c.closesWithin(ctx.timeoutMs), `${what}: the channel was not closed`);
  equal(c.frames.length, 0, `${what}: frames answered on the violating channel`);
  await ctx.nothingPending(other, `${what}: another channel`);
}

async function gainOf(ctx: Ctx): Promise<{ a: RawConn; g: ReturnType<typeof parseGain> }> {
  const a = await ctx.owner();
  return { a, g: await ctx.gain(a) };
}

const fixed = (g: { minGain: number; maxGain: number; gainStep: number }) => g.minGain === 0 && g.maxGain === 0 && g.gainStep === 0;

/** Waits until a frame matching `pred` has arrived on `c` after index `from` (hang guard `ms`). */
async function waitFrame(c: RawConn, from: number, pred: (f: Uint8Array) => boolean, ms: number, what: string): Promise<Uint8Array> {
  const deadline = Date.now() + ms;
  for (let i = from; ; i++) {
    const left = deadline - Date.now();
    if (left <= 0) throw new CheckFailed(`no ${what} within ${ms} ms`);
    let f: Uint8Array;
    try {
      f = await c.frameAt(i, left);
    } catch (e) {
      throw new CheckFailed(`no ${what}: ${(e as Error).message}`);
    }
    if (pred(f)) return f;
  }
}

export const CHECKS: Check[] = [
  // ---- 1. Discovery ----
  {
    rule: 'R-DISC-1', title: 'the entry is <board>.<stream-id> in audio-output/ or audio-input/',
    async run(ctx) {
      ensure(ctx.direction, `${ctx.endpoint}: not in an audio-output/ or audio-input/ directory`);
      ensure(/^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9.-]*$/.test(ctx.name), `${ctx.name}: not <board>.<stream-id> in lowercase letters, digits and dashes`);
      return `${ctx.direction} stream ${ctx.streamId} of board ${ctx.board}`;
    },
  },
  {
    rule: 'R-DISC-2', title: 'the entry is a Unix socket with mode 0660',
    async run(ctx) {
      const s = lstatSync(ctx.endpoint);
      ensure(s.isSocket(), `${ctx.endpoint} is not a socket`);
      equal((s.mode & 0o777).toString(8), '660', `${ctx.endpoint}: mode`);
    },
  },
  {
    rule: 'R-DISC-3', title: 'an entry exists exactly while its socket accepts',
    async run(ctx) {
      ensure(!ctx.name.startsWith('.'), `${ctx.name}: a hidden name is never an endpoint`);
      await ctx.connect();
      throw new NotApplicable('the entry accepts connections; that it is published only once accepting and removed when the service stops can be seen only by stopping or restarting the service (the protocol suite\'s target does)');
    },
  },
  {
    rule: 'R-DISC-4', title: 'watching the directory',
    async run() {
      throw new NotApplicable('a rule for clients (how they watch the runtime directory), nothing the service does on the socket');
    },
  },

  // ---- 2. Framing ----
  {
    rule: 'R-FRAME-1', title: 'a request split byte by byte, and two packed in one write, are read as frames; answers are u32 length + message',
    async run(ctx) {
      const c = await ctx.connect();
      const one = [...le32(8), ...req(0x0a0b0c0d, GET_GAIN)];
      for (const b of one) {
        c.write(new Uint8Array([b]));
        await new Promise((r) => setImmediate(r));
      }
      const f = await c.frameAt(0, ctx.timeoutMs).catch((e: Error) => { throw new CheckFailed(`a GET_GAIN written one byte at a time: ${e.message}`); });
      equal(c.lengths[0], 32, 'GET_GAIN answer length prefix');
      equal(u32At(f, 0), 0x0a0b0c0d, 'GET_GAIN answer transaction id');
      c.write(new Uint8Array([...le32(8), ...req(2, GET_CLOCK_DOMAIN), ...le32(8), ...req(3, GET_UNIQUE_ID)]));
      equal((await c.frameAt(1, ctx.timeoutMs)).byteLength, 12, 'GET_CLOCK_DOMAIN answer size');
      equal((await c.frameAt(2, ctx.timeoutMs)).byteLength, 24, 'GET_UNIQUE_ID answer size');
    },
  },
  {
    rule: 'R-FRAME-2', title: 'frame lengths 0, 4 and 5000 close that connection only; the service\'s frames are 8…4096 bytes',
    async run(ctx) {
      const bystander = await ctx.connect();
      await ctx.ask(bystander, GET_CLOCK_DOMAIN);
      for (const len of [0, 4, 5000]) {
        const c = await ctx.connect();
        c.write(new Uint8Array(le32(len)));
        ensure(await c.closesWithin(ctx.timeoutMs), `a frame length of ${len}: the connection was not closed`);
        equal(c.frames.length, 0, `a frame length of ${len}: frames answered`);
      }
      await ctx.nothingPending(bystander, 'the other channel');
      await ctx.ask(bystander, GET_FORMATS);
      await ctx.ask(bystander, GET_STRING, le32(PRODUCT));
      for (const l of bystander.lengths) ensure(l >= 8 && l <= 4096, `the service sent a frame of ${l} bytes`);
    },
  },
  {
    rule: 'R-FRAME-3', title: 'a successful SET_FORMAT frame is 40 bytes (24 + token); a failed one 24',
    async run(ctx) {
      const a = await ctx.owner();
      const f = await ctx.fmt();
      const good = await ctx.setFormat(a, f);
      equal(good.result, OK, 'SET_FORMAT at an offered format');
      equal(good.length, 40, 'successful SET_FORMAT frame length');
      const bad = await ctx.setFormat(a, { ...f, fps: await ctx.rateNotOffered() });
      equal(bad.result, INVALID_ARGS, 'SET_FORMAT at a rate no range allows');
      equal(bad.length, 24, 'failed SET_FORMAT frame length');
    },
  },

  // ---- 3. Transactions ----
  {
    rule: 'R-TXN-1', title: 'answers echo the transaction id and the command (without NO_ACK)',
    async run(ctx) {
      const c = await ctx.connect();
      for (const [txid, cmd] of [[0xdeadbeef, GET_GAIN], [0x7fffffff, GET_CLOCK_DOMAIN], [1, GET_UNIQUE_ID], [0xffffffff, GET_FORMATS]] as const) {
        const f = await c.call(req(txid, cmd), ctx.timeoutMs);
        equal(u32At(f, 0), txid, `transaction id of the ${hex(cmd)} answer`);
        equal(u32At(f, 4), cmd, `cmd of the ${hex(cmd)} answer`);
        if (cmd === GET_FORMATS) {
          const total = f[12]! | (f[13]! << 8);
          for (let i = 1; i < Math.ceil(total / 15); i++) await c.frameAt(c.frames.length, ctx.timeoutMs);
        }
      }
    },
  },
  {
    rule: 'R-TXN-2', title: 'notifications (POSITION_NOTIFY) carry transaction id 0',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      const b = await ctx.getBuffer(rb, Math.ceil(f.fps / 10), 8);
      equal(b.result, OK, 'GET_BUFFER');
      const s = await ctx.start(rb);
      equal(s.result, OK, 'START');
      let from = s.index + 1;
      for (let j = 1; j <= 3; j++) {
        const n = await waitFrame(rb, from, (x) => (u32At(x, 4) & 0x7fffffff) === RB_POSITION_NOTIFY, ctx.rbTimeoutMs, `POSITION_NOTIFY ${j}`);
        equal(u32At(n, 0), 0, `POSITION_NOTIFY ${j}: transaction id`);
        from = rb.frames.indexOf(n, from) + 1;
      }
      await ctx.stop(rb);
      for (const x of rb.frames) if (u32At(x, 0) === 0) ensure(u32At(x, 4) >= 0x2000, `a frame with transaction id 0 that is a response (cmd ${hex(u32At(x, 4))})`);
    },
  },
  {
    rule: 'R-TXN-3', title: 'pipelined requests are answered in order',
    async run(ctx) {
      const c = await ctx.connect();
      const cmds = [GET_GAIN, GET_CLOCK_DOMAIN, GET_UNIQUE_ID, GET_FORMATS, GET_GAIN, GET_STRING, PLUG_DETECT];
      const body = (cmd: number) => (cmd === GET_STRING ? le32(MANUFACTURER) : cmd === PLUG_DETECT ? le32(0) : []);
      c.write(new Uint8Array(cmds.flatMap((cmd, i) => [...le32(8 + body(cmd).length), ...req(100 + i, cmd, body(cmd))])));
      const got: number[] = [];
      for (let i = 0; got.length < cmds.length; i++) {
        const f = await c.frameAt(i, ctx.timeoutMs);
        const id = u32At(f, 0);
        if (id === 0) continue;
        if (got[got.length - 1] === id && u32At(f, 4) === GET_FORMATS) continue; // further GET_FORMATS pages
        got.push(id);
      }
      equal(got.join(','), '100,101,102,103,104,105,106', 'order of the answers');
    },
  },
  {
    rule: 'R-TXN-4', title: 'NO_ACK SET_GAIN and PLUG_DETECT take effect with no response, success or failure',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      const target = fixed(g) ? 0 : (g.curGain === g.minGain ? g.minGain + g.gainStep : g.minGain);
      try {
        const n = a.frames.length;
        a.send(req(tx(), SET_GAIN | NO_ACK, [...le32(GAIN_VALID), ...f32Bytes(target)]));
        a.send(req(tx(), SET_GAIN | NO_ACK, [...le32(GAIN_VALID), ...f32Bytes(g.maxGain + 10)])); // INVALID_ARGS, silently
        a.send(req(tx(), PLUG_DETECT | NO_ACK, le32(DISABLE)));
        const id = tx();
        a.send(req(id, GET_GAIN));
        const f = await a.frameAt(n, ctx.timeoutMs);
        equal(u32At(f, 0), id, 'the first frame after three NO_ACK requests (expected the GET_GAIN answer)');
        equal(f32At(f, 12), target, 'the gain a NO_ACK SET_GAIN set');
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },

  // ---- 3. Validation ----
  {
    rule: 'R-VAL-1', title: 'transaction id 0 from a client: the channel closes unanswered; others go on',
    async run(ctx) {
      await violation(ctx, req(0, GET_GAIN), 'GET_GAIN with transaction id 0');
    },
  },
  {
    rule: 'R-VAL-2', title: 'unknown codes, notification codes and ring-buffer commands on a stream channel are violations',
    async run(ctx) {
      await violation(ctx, req(5, 0x1008), 'unknown command 0x1008');
      await violation(ctx, req(5, PLUG_DETECT_NOTIFY), 'the notification code 0x2000');
      await violation(ctx, req(5, RB_GET_FIFO_DEPTH), 'GET_FIFO_DEPTH on a stream channel');
    },
  },
  {
    rule: 'R-VAL-3', title: 'a payload of the wrong size is a violation',
    async run(ctx) {
      await violation(ctx, req(5, GET_GAIN, [0, 0, 0, 0]), 'GET_GAIN with 4 extra bytes');
      await violation(ctx, req(5, SET_GAIN, le32(GAIN_VALID)), 'SET_GAIN 4 bytes short');
      await violation(ctx, req(5, SET_FORMAT, [...le32(48000), ...le32(BIT16), 2, 0, 0, 0, 0, 0, 0, 0]), 'SET_FORMAT 8 bytes short');
    },
  },
  {
    rule: 'R-VAL-4', title: 'NO_ACK on a command that does not allow it is a violation',
    async run(ctx) {
      await violation(ctx, req(5, GET_FORMATS | NO_ACK), 'NO_ACK on GET_FORMATS');
      await violation(ctx, req(5, GET_CLOCK_DOMAIN | NO_ACK), 'NO_ACK on GET_CLOCK_DOMAIN');
    },
  },
  {
    rule: 'R-VAL-5', title: 'a violator loses only its channel: the owner keeps ownership and gain, answers go on',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      const mid = fixed(g) ? 0 : g.minGain + Math.min(4, Math.floor((g.maxGain - g.minGain) / g.gainStep)) * g.gainStep;
      try {
        equal((await ctx.setGain(a, GAIN_VALID, mid)).result, OK, 'owner SET_GAIN');
        const b = await ctx.connect();
        const answered = Promise.all(Array.from({ length: 20 }, () => ctx.gain(a)));
        b.send(req(1, GET_GAIN));
        b.send(req(0, GET_CLOCK_DOMAIN));
        ensure(await b.closesWithin(ctx.timeoutMs), 'the violating channel was not closed');
        for (const x of await answered) equal(x.curGain, mid, 'the owner\'s gain while another channel broke the rules');
        equal((await ctx.gain(a)).curGain, mid, 'the owner\'s gain after another channel\'s violation');
        equal((await ctx.setGain(a, 0, 0)).result, OK, 'the owner still owns (SET_GAIN)');
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },
  {
    rule: 'R-VAL-6', title: 'a violation on the stream channel closes its ring-buffer channel; one on the ring-buffer channel closes only that',
    async run(ctx) {
      let { a, rb } = await ctx.ringBuffer();
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH');
      a.send(req(0, GET_CLOCK_DOMAIN));
      ensure(await a.closesWithin(ctx.timeoutMs), 'the violating stream channel was not closed');
      ensure(await rb.closesWithin(ctx.timeoutMs), 'its ring-buffer channel was not closed');
      ({ a, rb } = await ctx.ringBuffer());
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH');
      rb.send(req(tx(), RB_START | NO_ACK));
      ensure(await rb.closesWithin(ctx.timeoutMs), 'NO_ACK on START did not close the ring-buffer channel');
      await ctx.ask(a, GET_CLOCK_DOMAIN).catch((e: Error) => { throw new CheckFailed(`the stream channel after its ring-buffer channel's violation: ${e.message}`); });
      ensure(!a.isClosed, 'the stream channel was closed');
    },
  },

  {
    rule: 'R-VAL-7', title: 'a connection\'s 1000th refused request is answered, then the connection closes; successes do not reset the count; others go on',
    async run(ctx) {
      const other = await ctx.connect();
      await ctx.ask(other, GET_CLOCK_DOMAIN);
      const c = await ctx.connect();
      // SET_GAIN (no flag) from a channel that does not own the stream (`other` spoke first): ACCESS_DENIED.
      const refused = (id: number) => [...le32(16), ...req(id, SET_GAIN, [...le32(0), ...le32(0)])];
      const bytes: number[] = [];
      for (let i = 1; i <= 999; i++) bytes.push(...refused(i));
      bytes.push(...le32(8), ...req(1000, GET_GAIN), ...refused(1001), ...le32(8), ...req(1002, GET_GAIN));
      c.write(new Uint8Array(bytes));
      for (let i = 0; i < 999; i++) {
        const f = await c.frameAt(i, ctx.timeoutMs).catch((e: Error) => { throw new CheckFailed(`refused request ${i + 1} of 999: ${e.message}`); });
        equal(i32At(f, 8), ACCESS_DENIED, `answer ${i + 1} (SET_GAIN of a channel that does not own the stream)`);
      }
      const ok = await c.frameAt(999, ctx.timeoutMs).catch((e: Error) => { throw new CheckFailed(`GET_GAIN after 999 refused requests: ${e.message}`); });
      equal(u32At(ok, 0), 1000, 'the GET_GAIN after 999 refused requests: transaction id');
      const last = await c.frameAt(1000, ctx.timeoutMs).catch((e: Error) => { throw new CheckFailed(`the 1000th refused request is not answered: ${e.message}`); });
      equal([u32At(last, 0), i32At(last, 8)].join(' '), [1001, ACCESS_DENIED].join(' '), 'the 1000th refused request\'s answer: transaction id, result');
      ensure(await c.closesWithin(ctx.timeoutMs), 'the connection was not closed after its 1000th refused request');
      equal(c.frames.length, 1001, 'frames on the connection (nothing after the 1000th refused answer)');
      await ctx.nothingPending(other, 'another channel');
    },
  },

  // ---- 4. Ownership ----
  {
    rule: 'R-OWN-1', title: 'the channel whose first frame came first owns the stream, not the one that connected first',
    async run(ctx) {
      const late = await ctx.connect(); // connects first, speaks later
      const first = await ctx.owner();
      equal(i32At(await ctx.ask(late, SET_GAIN, [...le32(0), ...le32(0)]), 8), ACCESS_DENIED, 'SET_GAIN of the channel that spoke second');
      equal(i32At(await ctx.ask(first, SET_GAIN, [...le32(0), ...le32(0)]), 8), OK, 'SET_GAIN of the channel that spoke first');
    },
  },
  {
    rule: 'R-OWN-2', title: 'a non-owner\'s SET_FORMAT and SET_GAIN are ACCESS_DENIED and change nothing; it may query',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      const other = await ctx.connect();
      const denied = await ctx.setGain(other, GAIN_VALID, g.maxGain === g.curGain ? g.minGain : g.maxGain);
      equal(denied.result, ACCESS_DENIED, 'SET_GAIN of a non-owner');
      equal(denied.curGain, g.curGain, 'the ACCESS_DENIED answer\'s gain (the unchanged state)');
      const fmt = await ctx.setFormat(other, await ctx.fmt());
      equal(fmt.result, ACCESS_DENIED, 'SET_FORMAT of a non-owner');
      equal(fmt.delayNs, 0, 'external_delay_nsec of the refused SET_FORMAT');
      equal(fmt.length, 24, 'refused SET_FORMAT frame length (no token)');
      equal((await ctx.gain(a)).curGain, g.curGain, 'the gain after the refused SET_GAIN');
      equal(i32At(await ctx.ask(other, GET_STRING, le32(MANUFACTURER)), 8), OK, 'GET_STRING of a non-owner');
      await ctx.ask(other, GET_FORMATS);
      await ctx.ask(other, PLUG_DETECT, le32(0));
    },
  },
  {
    rule: 'R-OWN-3', title: 'when the owner closes (or violates), the next oldest channel owns the stream',
    async run(ctx) {
      const a = await ctx.owner();
      const b = await ctx.connect();
      await ctx.ask(b, GET_CLOCK_DOMAIN);
      const c = await ctx.connect();
      await ctx.ask(c, GET_CLOCK_DOMAIN);
      equal(i32At(await ctx.ask(b, SET_GAIN, [...le32(0), ...le32(0)]), 8), ACCESS_DENIED, 'SET_GAIN of the second channel while the first is open');
      a.destroy();
      const until = async (x: RawConn, who: string) => {
        for (let i = 0; i < 250; i++) {
          const r = i32At(await ctx.ask(x, SET_GAIN, [...le32(0), ...le32(0)]), 8);
          if (r === OK) return;
          equal(r, ACCESS_DENIED, `SET_GAIN of ${who}`);
          await sleep(20);
        }
        throw new CheckFailed(`${who} never became the owner (ACCESS_DENIED for 250 tries, 20 ms apart)`);
      };
      await until(b, 'the second channel after the owner closed');
      equal(i32At(await ctx.ask(c, SET_GAIN, [...le32(0), ...le32(0)]), 8), ACCESS_DENIED, 'SET_GAIN of the third channel while the second owns');
      b.send(req(0, GET_CLOCK_DOMAIN)); // the second loses its channel by a violation
      ensure(await b.closesWithin(ctx.timeoutMs), 'a violation (transaction id 0) did not close the channel');
      await until(c, 'the third channel after the second\'s violation');
    },
  },

  // ---- 5. Formats ----
  {
    rule: 'R-FMT-1', title: 'GET_FORMATS: ⌈n/15⌉ messages at 0, 15, 30 …, each with the total, cut after the last range',
    async run(ctx) {
      const c = await ctx.connect();
      c.send(req(9, GET_FORMATS));
      const first = await c.frameAt(0, ctx.timeoutMs);
      const n = first[12]! | (first[13]! << 8);
      const pages = Math.max(1, Math.ceil(n / 15));
      for (let i = 0; i < pages; i++) {
        const f = await c.frameAt(i, ctx.timeoutMs);
        const inPage = Math.min(15, n - 15 * i);
        equal(u32At(f, 0), 9, `page ${i + 1}: transaction id`);
        equal(u32At(f, 4), GET_FORMATS, `page ${i + 1}: cmd`);
        equal(f.byteLength === 256 ? 16 + 16 * inPage : f.byteLength, 16 + 16 * inPage, `page ${i + 1}: size`);
        equal(f[12]! | (f[13]! << 8), n, `page ${i + 1}: format_range_count`);
        equal(f[14]! | (f[15]! << 8), 15 * i, `page ${i + 1}: first_format_range_ndx`);
      }
      await ctx.nothingPending(c, `after ${pages} GET_FORMATS message(s) for ${n} ranges`);
      return `${n} ranges in ${pages} message(s)`;
    },
  },
  {
    rule: 'R-FMT-2', title: 'SET_FORMAT succeeds at each range\'s corners and fails outside every range (rate, channels, format bits)',
    async run(ctx) {
      const a = await ctx.owner();
      const ranges = await ctx.ranges();
      const f = await ctx.fmt();
      for (const r of ranges) {
        const bit = r.sampleFormats & -r.sampleFormats & 0x3ff;
        const rates = rangeRates(r);
        ensure(rates.length, `range ${JSON.stringify(r)} allows no rate`);
        equal((await ctx.setFormat(a, { fps: rates[0]!, sampleFormat: bit, channels: r.minChannels })).result, OK, `SET_FORMAT at the low corner of ${JSON.stringify(r)}`);
        equal((await ctx.setFormat(a, { fps: rates[1]!, sampleFormat: bit, channels: r.maxChannels })).result, OK, `SET_FORMAT at the high corner of ${JSON.stringify(r)}`);
      }
      const outside = async (x: typeof f, what: string) => {
        if (ranges.some((r) => rangeHas(r, x.fps, x.sampleFormat, x.channels))) return;
        equal((await ctx.setFormat(a, x)).result, INVALID_ARGS, `SET_FORMAT ${what}`);
      };
      await outside({ ...f, fps: await ctx.rateNotOffered() }, 'at a rate no range allows');
      await outside({ ...f, channels: Math.max(...ranges.map((r) => r.maxChannels)) + 1 }, 'with more channels than any range');
      await outside({ ...f, channels: 0 }, 'with 0 channels');
      await outside({ ...f, sampleFormat: BIT32_FLOAT }, 'in 32-bit float');
      await outside({ ...f, sampleFormat: f.sampleFormat | (f.sampleFormat << 1) }, 'with two sample-format bits');
      return `${ranges.length} range(s)`;
    },
  },
  {
    rule: 'R-FMT-3', title: 'a failed SET_FORMAT answers INVALID_ARGS, delay 0, and keeps the stream channel and ring-buffer channel',
    async run(ctx) {
      const { a, rb, f } = await ctx.ringBuffer();
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH');
      const bad = await ctx.setFormat(a, { ...f, fps: await ctx.rateNotOffered() });
      equal(bad.result, INVALID_ARGS, 'SET_FORMAT at a rate no range allows');
      equal(bad.delayNs, 0, 'external_delay_nsec of the failed SET_FORMAT');
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH on the ring-buffer channel after the failed SET_FORMAT');
      ensure(!a.isClosed && !rb.isClosed, 'a channel was closed');
    },
  },
  {
    rule: 'R-FMT-4', title: 'success: OK, external_delay_nsec (= EXT_GET_DELAY_INFO\'s known part), a 16-byte token 00 00 00 00 + 12 random bytes',
    async run(ctx) {
      const a = await ctx.owner();
      const f = await ctx.fmt();
      const s1 = await ctx.setFormat(a, f);
      equal(s1.result, OK, 'SET_FORMAT');
      equal(s1.length, 40, 'frame length');
      equal([...s1.token!.subarray(0, 4)].join(','), '0,0,0,0', 'the token\'s first four bytes');
      ensure(s1.token!.subarray(4).some((b) => b !== 0), 'the token\'s last twelve bytes are all zero');
      const s2 = await ctx.setFormat(a, f);
      ensure(Buffer.compare(Buffer.from(s1.token!), Buffer.from(s2.token!)) !== 0, 'two SET_FORMATs gave the same token');
      const d = await ctx.ask(a, EXT_GET_DELAY_INFO, le32(f.fps));
      equal(Number(i64At(d, 16)), s1.delayNs, `external_delay_nsec vs EXT_GET_DELAY_INFO known_delay_nsec at ${f.fps} Hz`);
      return `${s1.delayNs} ns at ${f.fps} Hz${u32At(d, 12) ? ` (+ ${u32At(d, 12)} item(s) with no figure)` : ''}`;
    },
  },
  {
    rule: 'R-FMT-5', title: 'channels_to_use_bitmask: 0 and bits below channels OK; a bit at or above channels INVALID_ARGS',
    async run(ctx) {
      const a = await ctx.owner();
      const f = await ctx.fmt();
      equal((await ctx.setFormat(a, f, 0n)).result, OK, 'mask 0');
      equal((await ctx.setFormat(a, f, 1n)).result, OK, 'mask 1');
      equal((await ctx.setFormat(a, f, 1n << BigInt(f.channels))).result, INVALID_ARGS, `mask bit ${f.channels} with ${f.channels} channel(s)`);
      equal((await ctx.setFormat(a, f, 1n << 63n)).result, INVALID_ARGS, 'mask bit 63');
    },
  },
  {
    rule: 'R-FMT-6', title: 'every corner of every offered range goes SET_FORMAT → GET_FIFO_DEPTH → GET_BUFFER → START → a position → STOP',
    async run(ctx) {
      await ctx.owner().then((c) => c.destroy()); // the walk needs ownership: not applicable when another client has it
      await sleep(50);
      const r = await walkFormats(ctx.endpoint, { timeoutMs: ctx.rbTimeoutMs });
      ensure(r.failures.length === 0, `${r.failures.length} of ${r.cases.length} corners failed: ${r.failures.slice(0, 3).map((x) => `${x.fps} Hz fmt ${hex(x.sampleFormat)} ${x.channels} ch: ${x.step} ${x.why}`).join('; ')}`);
      ensure(r.cases.length > 0, 'no corner to walk');
      return `${r.cases.length} corners`;
    },
  },

  // ---- 6. Ring buffer ----
  {
    rule: 'R-RB-1', title: 'the token opens the ring-buffer channel once; a reused or made-up token closes that connection',
    async run(ctx) {
      const a = await ctx.owner();
      const s = await ctx.setFormat(a, await ctx.fmt());
      equal(s.result, OK, 'SET_FORMAT');
      const rb = await ctx.openRb(s.token!);
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH on the ring-buffer channel');
      const again = await ctx.openRb(s.token!);
      ensure(await again.closesWithin(ctx.timeoutMs), 'a used token was not refused');
      equal(again.frames.length, 0, 'frames sent on the refused connection');
      const madeUp = await ctx.openRb(new Uint8Array([0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
      ensure(await madeUp.closesWithin(ctx.timeoutMs), 'a made-up token was not refused');
      ensure(!rb.isClosed, 'the ring-buffer channel was closed');
    },
  },
  {
    rule: 'R-RB-2', title: 'a new SET_FORMAT closes the previous ring-buffer channel and voids an unused token',
    async run(ctx) {
      const a = await ctx.owner();
      const f = await ctx.fmt();
      const s1 = await ctx.setFormat(a, f);
      const rb1 = await ctx.openRb(s1.token!);
      equal((await ctx.fifo(rb1)).result, OK, 'GET_FIFO_DEPTH');
      const s2 = await ctx.setFormat(a, f);
      ensure(await rb1.closesWithin(ctx.timeoutMs), 'the previous ring-buffer channel stayed open after a new SET_FORMAT');
      const s3 = await ctx.setFormat(a, f);
      const stale = await ctx.openRb(s2.token!);
      ensure(await stale.closesWithin(ctx.timeoutMs), 'the token of a replaced format still opened a channel');
      const rb3 = await ctx.openRb(s3.token!);
      equal((await ctx.fifo(rb3)).result, OK, 'GET_FIFO_DEPTH on the newest ring-buffer channel');
    },
  },
  {
    rule: 'R-RB-3', title: 'closing the stream channel closes its ring-buffer channel',
    async run(ctx) {
      const { a, rb } = await ctx.ringBuffer();
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH');
      a.destroy();
      ensure(await rb.closesWithin(ctx.timeoutMs), 'the ring-buffer channel stayed open after its stream channel closed');
    },
  },
  {
    rule: 'R-RB-4', title: 'ring-buffer answers in their layouts whatever the status; wrong sizes and stream commands are violations',
    async run(ctx) {
      const { a, rb } = await ctx.ringBuffer();
      // Failures in their layouts (STOP's status before a buffer is R-RB-9's: only its size here).
      const expect: [number, number[], number, number | undefined][] = [[RB_GET_FIFO_DEPTH, [], 16, OK], [RB_START, [], 24, BAD_STATE], [0x3003, [], 12, undefined], [RB_GET_BUFFER, [...le32(4800), ...le32(0x7fffffff)], 16, INVALID_ARGS]];
      for (const [cmd, body, size, status] of expect) {
        const f = await ctx.rbAsk(rb, cmd, body);
        equal(f.byteLength, size, `${hex(cmd)} answer size`);
        if (status !== undefined) equal(i32At(f, 8), status, `${hex(cmd)} status`);
      }
      const n = rb.frames.length;
      rb.send(req(50, RB_GET_BUFFER, le32(4800))); // 12 bytes, GET_BUFFER is 16
      ensure(await rb.closesWithin(ctx.timeoutMs), 'a 12-byte GET_BUFFER did not close the ring-buffer channel');
      equal(rb.frames.length, n, 'answers to the violation');
      a.destroy(); // the next owner below takes over once this close is processed (R-OWN-3)
      const { rb: rb2 } = await ctx.ringBuffer();
      rb2.send(req(51, GET_GAIN));
      ensure(await rb2.closesWithin(ctx.timeoutMs), 'GET_GAIN on a ring-buffer channel did not close it');
    },
  },
  {
    rule: 'R-RB-5', title: 'GET_FIFO_DEPTH: OK, a positive whole number of frames in bytes, the same all along the channel',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      const first = await ctx.fifo(rb);
      equal(first.result, OK, 'GET_FIFO_DEPTH');
      ensure(first.bytes > 0 && first.bytes % f.frameBytes === 0, `fifo_depth ${first.bytes} is not a positive whole number of ${f.frameBytes}-byte frames`);
      equal((await ctx.getBuffer(rb, Math.ceil(f.fps / 5), 0)).result, OK, 'GET_BUFFER');
      equal((await ctx.fifo(rb)).bytes, first.bytes, 'fifo_depth after GET_BUFFER');
      equal((await ctx.start(rb)).result, OK, 'START');
      equal((await ctx.fifo(rb)).bytes, first.bytes, 'fifo_depth while started');
      equal((await ctx.stop(rb)).result, OK, 'STOP');
      equal((await ctx.fifo(rb)).bytes, first.bytes, 'fifo_depth after STOP');
      return `${first.bytes} bytes = ${first.bytes / f.frameBytes} frames`;
    },
  },
  {
    rule: 'R-RB-6', title: 'GET_BUFFER: ≥ the request and ≥ FIFO + a period, whole frames; only while stopped; N > frames INVALID_ARGS; > 64 MiB NO_MEMORY',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      const fifo = (await ctx.fifo(rb)).bytes / f.frameBytes;
      const want = Math.ceil(f.fps / 10) + 1;
      const exact = await ctx.getBuffer(rb, want, 3);
      equal(exact.result, OK, `GET_BUFFER ${want} frames`);
      ensure(exact.frames >= want, `${exact.frames} frames for a request of ${want}`);
      const tiny = await ctx.getBuffer(rb, 1, 0);
      equal(tiny.result, OK, 'GET_BUFFER 1 frame');
      ensure(tiny.frames > fifo, `${tiny.frames} frames for a request of 1: not more than the FIFO (${fifo} frames) — no room to write ahead`);
      const big = await ctx.getBuffer(rb, tiny.frames, tiny.frames + 1);
      equal(big.result, INVALID_ARGS, 'notifications_per_ring greater than the frames');
      equal(big.path, undefined, 'the failed GET_BUFFER\'s path');
      ensure(tiny.path && existsSync(tiny.path), 'a failed GET_BUFFER removed the previous buffer');
      equal((await ctx.getBuffer(rb, 0x7fffffff, 0)).result, NO_MEMORY, 'GET_BUFFER of 2^31 frames');
      equal((await ctx.getBuffer(rb, want, 0)).result, OK, 'GET_BUFFER');
      equal((await ctx.start(rb)).result, OK, 'START');
      const during = await ctx.getBuffer(rb, want, 0);
      equal(during.result, BAD_STATE, 'GET_BUFFER while started');
      equal(during.frames, 0, 'frames of the refused GET_BUFFER');
      equal((await ctx.stop(rb)).result, OK, 'STOP');
      equal((await ctx.getBuffer(rb, want, 0)).result, OK, 'GET_BUFFER after STOP');
    },
  },
  {
    rule: 'R-RB-7', title: 'the shared buffer: a new zero-filled /dev/shm/sbc-audio-<endpoint>-… file, 0600 (0660 with a group), frames × frame size; unlinked when replaced or closed',
    async run(ctx) {
      const { a, rb, f } = await ctx.ringBuffer();
      const frames = Math.ceil(f.fps / 10);
      const r = await ctx.getBuffer(rb, frames, 4);
      equal(r.result, OK, 'GET_BUFFER');
      ensure(r.path?.startsWith(`/dev/shm/sbc-audio-${ctx.name}-`), `the shared buffer's path ${r.path} is not /dev/shm/sbc-audio-${ctx.name}-…`);
      const s = statSync(r.path!);
      ensure((s.mode & 0o777) === 0o600 || (s.mode & 0o777) === 0o660, `mode ${(s.mode & 0o777).toString(8)}`);
      equal(s.size, r.frames * f.frameBytes, 'the file\'s size (frames × frame size)');
      ensure(readFileSync(r.path!).every((b) => b === 0), 'the new buffer is not all zero');
      const r2 = await ctx.getBuffer(rb, frames * 2, 4);
      ensure(r2.path && r2.path !== r.path, 'a new GET_BUFFER gave the same path');
      ensure(!existsSync(r.path!), 'the replaced buffer is still there');
      void a;
      rb.destroy();
      for (let i = 0; i < 250 && existsSync(r2.path); i++) await sleep(20);
      ensure(!existsSync(r2.path), 'the buffer of a closed channel is still there');
    },
  },
  {
    rule: 'R-RB-8', title: 'START: BAD_STATE without a buffer or when started; start_time on CLOCK_MONOTONIC, after the request (input: ≥ the time START was sent)',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      const s0 = await ctx.start(rb);
      equal(s0.result, BAD_STATE, 'START without a buffer');
      equal((await ctx.getBuffer(rb, Math.ceil(f.fps / 10), 0)).result, OK, 'GET_BUFFER');
      let last = 0n;
      for (let k = 0; k < 3; k++) {
        const sentAt = nowNs();
        const s = await ctx.start(rb);
        const answeredAt = nowNs();
        equal(s.result, OK, 'START');
        if (ctx.direction === 'input') ensure(s.startNs >= sentAt, `input start_time ${s.startNs} is ${Number(sentAt - s.startNs) / 1e6} ms before START was sent (${sentAt})`);
        else ensure(s.startNs > sentAt, `output start_time ${s.startNs} is not after START was sent (${sentAt})`);
        ensure(s.startNs <= answeredAt + 1_000_000_000n, `start_time ${s.startNs} is more than a second after the answer (${answeredAt})`);
        ensure(s.startNs > last, 'start_time did not advance between STARTs');
        last = s.startNs;
        if (k === 0) equal((await ctx.start(rb)).result, BAD_STATE, 'START while started');
        equal((await ctx.stop(rb)).result, OK, 'STOP');
      }
    },
  },
  {
    rule: 'R-RB-9', title: 'STOP: BAD_STATE before GET_BUFFER, OK with a buffer (also stopped); no POSITION_NOTIFY after its answer',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      equal((await ctx.stop(rb)).result, BAD_STATE, 'STOP before GET_BUFFER');
      equal((await ctx.getBuffer(rb, Math.ceil(f.fps / 10), 20)).result, OK, 'GET_BUFFER'); // a notification every 5 ms
      equal((await ctx.stop(rb)).result, OK, 'STOP with a buffer, stopped');
      const s = await ctx.start(rb);
      equal(s.result, OK, 'START');
      await waitFrame(rb, s.index + 1, (x) => u32At(x, 4) === RB_POSITION_NOTIFY, ctx.rbTimeoutMs, 'POSITION_NOTIFY while started');
      await sleep(20);
      const stop = await ctx.stop(rb);
      equal(stop.result, OK, 'STOP');
      await sleep(60); // twelve notification periods
      const n = rb.frames.length;
      equal((await ctx.fifo(rb)).result, OK, 'GET_FIFO_DEPTH');
      const late = rb.frames.slice(stop.index + 1, n + 1).filter((x) => u32At(x, 4) === RB_POSITION_NOTIFY).length;
      equal(late, 0, 'POSITION_NOTIFY after the STOP answer');
    },
  },
  {
    rule: 'R-RB-10', title: 'POSITION_NOTIFY: j-th at (⌊jF/N⌋ mod F) × frame size, times ≥ start_time and increasing, in the seed\'s window; none with N = 0',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      const frames = Math.ceil(f.fps / 5);
      const perRing = 2; // ns = 100 ms
      const b = await ctx.getBuffer(rb, frames, perRing);
      equal(b.result, OK, 'GET_BUFFER');
      const F = b.frames;
      const ns = (1e9 * F) / (f.fps * perRing);
      const arrivals: { at: bigint; index: number }[] = [];
      const count = 5;
      const n0 = rb.frames.length;
      const s = await ctx.start(rb);
      equal(s.result, OK, 'START');
      for (let i = n0; arrivals.length < count; i++) {
        const x = await rb.frameAt(i, ctx.rbTimeoutMs).catch((e: Error) => { throw new CheckFailed(`${arrivals.length} of ${count} notifications: ${e.message}`); });
        if (u32At(x, 4) !== RB_POSITION_NOTIFY) continue;
        ensure(i > s.index, 'a POSITION_NOTIFY before the START answer');
        arrivals.push({ at: nowNs(), index: i });
      }
      equal((await ctx.stop(rb)).result, OK, 'STOP');
      let prev = -1n;
      for (let j = 1; j <= count; j++) {
        const x = rb.frames[arrivals[j - 1]!.index]!;
        const pos = u32At(x, 16);
        const t = i64At(x, 8);
        const frame = Math.floor((j * F) / perRing) % F;
        equal(pos, frame * f.frameBytes, `notification ${j}: ring_buffer_pos`);
        ensure(t >= s.startNs && t > prev, `notification ${j}: monotonic_time ${t} not ≥ start_time ${s.startNs} and after the previous (${prev})`);
        // The time is a measurement (the engine's estimate of when its period's frames moved), so
        // it may fall a little before the nominal start_time + frame / rate: 1 ms is allowed,
        // far less than any notification interval and than a stamp for frames only written ahead.
        const passed = s.startNs + BigInt(Math.floor((Math.floor((j * F) / perRing) * 1e9) / f.fps)) - MEASUREMENT_SLACK_NS;
        ensure(t >= passed, `notification ${j}: monotonic_time ${t} is before the position reached frame ${Math.floor((j * F) / perRing)} (${passed})`);
        ensure(t <= arrivals[j - 1]!.at, `notification ${j}: monotonic_time ${t} is after it arrived (${arrivals[j - 1]!.at})`);
        const since = Number(arrivals[j - 1]!.at - s.startNs);
        ensure(since >= ns * (j - 1), `notification ${j} arrived ${since} ns after start_time, before ns·(j−1) = ${ns * (j - 1)}`);
        ensure(since < ns * (j + 2), `notification ${j} arrived ${since} ns after start_time, not before ns·(j+2) = ${ns * (j + 2)}`);
        prev = t;
      }
      // N = 0: none.
      equal((await ctx.getBuffer(rb, frames, 0)).result, OK, 'GET_BUFFER with N = 0');
      const s2 = await ctx.start(rb);
      equal(s2.result, OK, 'START');
      await sleep(250);
      const stop = await ctx.stop(rb);
      const none = rb.frames.slice(s2.index, stop.index).filter((x) => u32At(x, 4) === RB_POSITION_NOTIFY).length;
      equal(none, 0, 'POSITION_NOTIFY with notifications_per_ring 0');
      return `${count} notifications, ${ns / 1e6} ms apart`;
    },
  },
  {
    rule: 'R-RB-11', title: 'what an output client writes is what the PCM plays, bit for bit',
    async run() {
      throw new NotApplicable('needs the PCM\'s output captured bit for bit; a monitor endpoint carries the analog output, which the codec\'s filters and gain may change (the protocol suite\'s target captures the PCM itself)');
    },
  },
  {
    rule: 'R-RB-12', title: 'a client killed with SIGKILL: the output is exact zeros from kill + FIFO + one period on (seen on the monitor endpoint)',
    async run(ctx) {
      if (ctx.direction !== 'output') throw new NotApplicable('an input stream: a dead client leaves no output to fall silent');
      if (!ctx.monitor) throw new NotApplicable(`the service offers no monitor endpoint for this stream (audio-input/${ctx.name}.monitor): the output cannot be observed through a socket`);
      const f = await ctx.fmt();
      await sleep(50); // the GET_FORMATS channel's close
      if (f.sampleFormat !== BIT16) throw new NotApplicable('the stream offers no 16-bit format at 48 or 44.1 kHz (the dying client plays 16-bit)');
      // Record the monitor.
      const m = await ctx.owner(ctx.monitor);
      const mfmt = { fps: f.fps, sampleFormat: BIT16, channels: 1 };
      const ms = await ctx.setFormat(m, mfmt);
      equal(ms.result, OK, `SET_FORMAT on the monitor ${ctx.monitor}`);
      const mrb = await ctx.openRb(ms.token!, ctx.monitor);
      const mb = await ctx.getBuffer(mrb, f.fps * 30, 0);
      equal(mb.result, OK, 'GET_BUFFER on the monitor');
      const mstart = await ctx.start(mrb);
      equal(mstart.result, OK, 'START on the monitor');
      // Note the gain, to put it back.
      const probe = await ctx.connect();
      const g0 = await ctx.gain(probe);
      probe.destroy();
      await probe.closed;
      const child = spawn(process.execPath, [DEATH_CLIENT, ctx.endpoint, String(f.fps), String(f.channels)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let killAt = 0n;
      let info: { startNs: string; fifoBytes: number; minFrames: number; frames: number; gain: number };
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let buf = '';
          const guard = setTimeout(() => reject(new CheckFailed(`the playing client did not start within ${ctx.rbTimeoutMs} ms: ${err}`)), ctx.rbTimeoutMs + 10000);
          child.stdout!.on('data', (d: Buffer) => { buf += d.toString(); if (buf.includes('\n')) { clearTimeout(guard); resolve(buf.split('\n')[0]!); } });
          child.once('exit', () => { clearTimeout(guard); reject(new CheckFailed(`the playing client exited before starting: ${err.trim()}`)); });
        });
        info = JSON.parse(line) as typeof info;
        await sleep(700);
        child.kill('SIGKILL');
        // The channel counts as closed from the moment the process starts to exit (R-RB-12): on a
        // busy machine the kernel may run the killed process some time after kill(), so the bound
        // is taken from when its /proc entry first shows it exiting, as the service sees it.
        killAt = exitingSeenAt(child.pid!);
        await exited;
        await sleep(900);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      const readAt = nowNs();
      const data = readFileSync(mb.path!);
      equal((await ctx.stop(mrb)).result, OK, 'STOP on the monitor');
      const rate = f.fps;
      const frameOf = (t: bigint) => Math.floor((Number(t - mstart.startNs + BigInt(ms.delayNs)) * rate) / 1e9);
      const available = frameOf(readAt - BigInt(ms.delayNs)) - Math.ceil(rate / 50); // 20 ms short of what is in the buffer
      ensure(available < mb.frames, `the monitor's ring (${mb.frames} frames) wrapped before it was read`);
      const sample = (k: number) => data.readInt16LE((k % mb.frames) * 2);
      const startNs = BigInt(info.startNs);
      const loudFrom = Math.max(frameOf(killAt - 400_000_000n), frameOf(startNs + 50_000_000n));
      const loudTo = frameOf(killAt - 50_000_000n);
      let loud = 0;
      for (let k = loudFrom; k < loudTo; k++) if (sample(k) !== 0) loud++;
      if (loudTo - loudFrom < rate / 10 || loud < (loudTo - loudFrom) / 2) {
        throw new NotApplicable(`the monitor carried no signal while the client played (${loud} of ${loudTo - loudFrom} frames non-zero; gain ${info.gain} dB): muted, unplugged or gated, so silence after the kill would prove nothing`);
      }
      const boundNs = killAt + BigInt(Math.ceil((info.minFrames * 1e9) / rate));
      const from = frameOf(boundNs);
      ensure(available - from >= rate / 4, `only ${available - from} monitor frames after the bound were recorded`);
      for (let k = from; k < available; k++) {
        if (sample(k) !== 0) throw new CheckFailed(`the output is not silent ${((k - from) / rate * 1000).toFixed(1)} ms after kill + FIFO + one period (${info.minFrames} frames): monitor sample ${sample(k)}`);
      }
      // Put the gain back.
      const a = await ctx.owner();
      await ctx.restoreGain(a, g0);
      return `${loud} of ${loudTo - loudFrom} frames loud before the kill; ${available - from} frames of zeros from kill + ${info.minFrames} frames on`;
    },
  },

  // ---- 7. Gain ----
  {
    rule: 'R-GAIN-1', title: 'GET_GAIN: can_agc 0; min ≤ cur ≤ max on a step; fixed gain is 0/0/0 without mute',
    async run(ctx) {
      const c = await ctx.connect();
      const f = await ctx.ask(c, GET_GAIN);
      equal(f.byteLength, 32, 'GET_GAIN answer size');
      const g = parseGain(f);
      equal(g.canAgc, false, 'can_agc');
      equal(g.curAgc, false, 'cur_agc');
      if (fixed(g)) {
        equal(g.curGain, 0, 'cur_gain of a fixed-gain stream');
        equal(g.canMute, false, 'can_mute of a fixed-gain stream');
        return 'fixed gain';
      }
      ensure(g.minGain < g.maxGain && g.gainStep > 0, `min ${g.minGain}, max ${g.maxGain}, step ${g.gainStep}`);
      ensure(g.curGain >= g.minGain && g.curGain <= g.maxGain, `cur_gain ${g.curGain} outside ${g.minGain}…${g.maxGain}`);
      const k = (g.curGain - g.minGain) / g.gainStep;
      ensure(Math.abs(k - Math.round(k)) < 1e-3, `cur_gain ${g.curGain} is not on a step from ${g.minGain}`);
      return `${g.minGain}…${g.maxGain} dB step ${g.gainStep}${g.canMute ? ', can mute' : ''}`;
    },
  },
  {
    rule: 'R-GAIN-2', title: 'a gain out of range or NaN: INVALID_ARGS, nothing changes (not even the mute asked with it)',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      try {
        const base = fixed(g) ? 0 : g.minGain + g.gainStep;
        equal((await ctx.setGain(a, GAIN_VALID | (g.canMute ? MUTE_VALID : 0), base)).result, OK, `SET_GAIN ${base}`);
        const over = fixed(g) ? 1 : g.maxGain + g.gainStep;
        const under = fixed(g) ? -1 : g.minGain - g.gainStep;
        for (const bad of [over, under, Number.NaN]) {
          const r = await ctx.setGain(a, GAIN_VALID | (g.canMute ? MUTE_VALID | MUTE : 0), bad);
          equal(r.result, INVALID_ARGS, `SET_GAIN ${bad}`);
          equal(r.curMute, false, `SET_GAIN ${bad}: the answer's mute`);
          equal(r.curGain, base, `SET_GAIN ${bad}: the answer's gain`);
        }
        const after = await ctx.gain(a);
        equal(after.curGain, base, 'the gain after the refused requests');
        equal(after.curMute, false, 'the mute after the refused requests');
        for (const edge of [g.maxGain, g.minGain]) equal((await ctx.setGain(a, GAIN_VALID, edge)).result, OK, `SET_GAIN ${edge} (a range edge)`);
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },
  {
    rule: 'R-GAIN-3', title: 'a gain goes to the nearest step from min_gain; exactly halfway takes the lower',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      if (fixed(g)) throw new NotApplicable('a fixed-gain stream has no steps');
      const steps = Math.round((g.maxGain - g.minGain) / g.gainStep);
      if (steps < 2) throw new NotApplicable(`the gain has only ${steps} step(s): no halfway point between two steps inside the range`);
      const k = Math.min(10, steps - 1);
      const { minGain: min, gainStep: step } = g;
      try {
        for (const [ask, want] of [[min + k * step + step / 2, min + k * step], [min + k * step + step / 4, min + k * step], [min + k * step + (3 * step) / 4, min + (k + 1) * step], [min + step / 2, min]]) {
          const r = await ctx.setGain(a, GAIN_VALID, ask!);
          equal(r.result, OK, `SET_GAIN ${ask}`);
          equal(r.curGain, Math.fround(want!), `SET_GAIN ${ask}: cur_gain`);
          equal((await ctx.gain(a)).curGain, Math.fround(want!), `GET_GAIN after SET_GAIN ${ask}`);
        }
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },
  {
    rule: 'R-GAIN-4', title: 'AGC without can_agc, MUTE without can_mute: INVALID_ARGS; clearing them is fine',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      try {
        equal((await ctx.setGain(a, AGC_VALID | AGC, 0)).result, INVALID_ARGS, 'AGC_VALID | AGC');
        equal((await ctx.setGain(a, AGC_VALID, 0)).result, OK, 'AGC_VALID alone');
        if (!g.canMute) equal((await ctx.setGain(a, MUTE_VALID | MUTE, 0)).result, INVALID_ARGS, 'MUTE_VALID | MUTE without can_mute');
        equal((await ctx.setGain(a, MUTE_VALID, 0)).result, OK, 'MUTE_VALID alone (unmute)');
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },
  {
    rule: 'R-GAIN-5', title: 'the SET_GAIN answer reports the state after; parts without VALID are left alone',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      try {
        const at = (k: number) => (fixed(g) ? 0 : Math.fround(g.minGain + Math.min(k, Math.round((g.maxGain - g.minGain) / g.gainStep)) * g.gainStep));
        let r = await ctx.setGain(a, GAIN_VALID | MUTE_VALID, at(3));
        equal([r.result, r.curGain, r.curMute].join(' '), [OK, at(3), false].join(' '), 'gain + unmute: result, cur_gain, cur_mute');
        if (g.canMute) {
          r = await ctx.setGain(a, MUTE_VALID | MUTE, 0);
          equal([r.result, r.curGain, r.curMute].join(' '), [OK, at(3), true].join(' '), 'mute alone leaves the gain');
          r = await ctx.setGain(a, GAIN_VALID, at(5));
          equal([r.result, r.curGain, r.curMute].join(' '), [OK, at(5), true].join(' '), 'gain alone leaves the mute');
        }
        const none = await ctx.setGain(a, 0, 123);
        equal([none.result, none.curGain].join(' '), [OK, r.curGain].join(' '), 'no VALID flag: nothing changes');
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },

  // ---- 8. Plug ----
  {
    rule: 'R-PLUG-1', title: 'a hardwired stream: HARDWIRED | PLUGGED, never CAN_NOTIFY, a past plug time, no notifications',
    async run(ctx) {
      const c = await ctx.connect();
      const f = await ctx.ask(c, PLUG_DETECT, le32(ENABLE));
      const flags = u32At(f, 8);
      if (!(flags & HARDWIRED)) throw new NotApplicable(`not a hardwired stream (plug flags ${hex(flags)})`);
      equal(flags, (HARDWIRED | PLUGGED) >>> 0, 'plug flags');
      const t = i64At(f, 16);
      ensure(t > 0n && t <= nowNs(), `plug_state_time ${t} is not a past CLOCK_MONOTONIC time`);
      await ctx.nothingPending(c, 'after enabling notifications on a hardwired stream');
    },
  },
  {
    rule: 'R-PLUG-2', title: 'a jack stream: CAN_NOTIFY (PLUGGED as the line says), not HARDWIRED',
    async run(ctx) {
      const c = await ctx.connect();
      const f = await ctx.ask(c, PLUG_DETECT, le32(0));
      const flags = u32At(f, 8);
      if (flags & HARDWIRED) throw new NotApplicable('a hardwired stream (it reports HARDWIRED; R-PLUG-1 is its rule)');
      ensure(flags & CAN_NOTIFY, `plug flags ${hex(flags)}: a stream that is not hardwired follows a jack line and can notify`);
      equal(flags & ~(CAN_NOTIFY | PLUGGED), 0, 'plug flags other than CAN_NOTIFY and PLUGGED');
      ensure(i64At(f, 16) <= nowNs(), 'plug_state_time in the future');
      return `${flags & PLUGGED ? 'plugged' : 'unplugged'} (the jack cannot be moved through the socket: the line's state is taken as reported)`;
    },
  },
  {
    rule: 'R-PLUG-3', title: 'PLUG_DETECT answers the state in the notification layout; ENABLE / DISABLE / both / neither are accepted',
    async run(ctx) {
      const c = await ctx.connect();
      const states: number[] = [];
      for (const flags of [ENABLE, DISABLE, ENABLE | DISABLE, 0]) {
        const f = await ctx.ask(c, PLUG_DETECT, le32(flags >>> 0));
        equal(f.byteLength, 24, `PLUG_DETECT ${hex(flags)} answer size`);
        states.push(u32At(f, 8));
      }
      ensure(states.every((s) => s === states[0]), `the plug state changed between requests: ${states.map(hex).join(', ')}`);
      await ctx.nothingPending(c, 'after PLUG_DETECT requests');
      throw new NotApplicable('the answers are right; which channels get PLUG_DETECT_NOTIFY needs the jack moved (simulation control, or a hand on the jack)');
    },
  },
  {
    rule: 'R-PLUG-4', title: 'a notification\'s plug_state_time is the GPIO event\'s time',
    async run() {
      throw new NotApplicable('needs the jack moved at a known time (simulation control); a client cannot move it through the socket');
    },
  },

  // ---- 9. Identity ----
  {
    rule: 'R-INFO-1', title: 'GET_UNIQUE_ID: SHA-256("sbc-audio stream\\0" + board + "\\0" + stream id)[0..16], the same every time, different per stream',
    async run(ctx, all) {
      const c = await ctx.connect();
      const f = await ctx.ask(c, GET_UNIQUE_ID);
      equal(f.byteLength, 24, 'GET_UNIQUE_ID answer size');
      const id = Buffer.from(f.subarray(8, 24)).toString('hex');
      const want = createHash('sha256').update(`sbc-audio stream\0${ctx.board}\0${ctx.streamId}`, 'utf8').digest().subarray(0, 16).toString('hex');
      equal(id, want, `unique id of board "${ctx.board}" stream "${ctx.streamId}"`);
      equal(Buffer.from((await ctx.ask(c, GET_UNIQUE_ID)).subarray(8, 24)).toString('hex'), id, 'a second GET_UNIQUE_ID');
      for (const other of ctx.siblings(all)) {
        const o = await ctx.connect(other);
        const oid = Buffer.from((await ctx.ask(o, GET_UNIQUE_ID)).subarray(8, 24)).toString('hex');
        ensure(oid !== id, `${path.basename(other)} has the same unique id`);
      }
      return id;
    },
  },
  {
    rule: 'R-INFO-2', title: 'GET_STRING: MANUFACTURER and PRODUCT OK, id echoed, strlen UTF-8 bytes ≤ 236, zeros after; other ids NOT_FOUND',
    async run(ctx) {
      const c = await ctx.connect();
      const out: string[] = [];
      for (const sid of [MANUFACTURER, PRODUCT]) {
        const m = await ctx.ask(c, GET_STRING, le32(sid));
        equal(m.byteLength, 256, `GET_STRING ${hex(sid)} answer size`);
        equal(i32At(m, 8), OK, `GET_STRING ${hex(sid)}`);
        equal(u32At(m, 12), sid, `GET_STRING ${hex(sid)}: id`);
        const len = u32At(m, 16);
        ensure(len > 0 && len <= 236, `GET_STRING ${hex(sid)}: strlen ${len}`);
        const text = Buffer.from(m.subarray(20, 20 + len));
        ensure(!text.includes(0), `GET_STRING ${hex(sid)}: a NUL inside strlen`);
        ensure(Buffer.from(text.toString('utf8'), 'utf8').equals(text), `GET_STRING ${hex(sid)}: not UTF-8`);
        ensure(m.subarray(20 + len).every((b) => b === 0), `GET_STRING ${hex(sid)}: not zero after the text`);
        out.push(text.toString('utf8'));
      }
      ensure(out[1]!.startsWith(`${ctx.board} `), `PRODUCT "${out[1]}" does not start with the board name "${ctx.board}"`);
      const x = await ctx.ask(c, GET_STRING, le32(0x80000002));
      equal([i32At(x, 8), u32At(x, 12), u32At(x, 16)].join(' '), [NOT_FOUND, 0x80000002, 0].join(' '), 'GET_STRING 0x80000002: result, id, strlen');
      return `"${out[0]}", "${out[1]}"`;
    },
  },
  {
    rule: 'R-INFO-3', title: 'GET_CLOCK_DOMAIN: 0 or 1, the same on every stream of the board',
    async run(ctx, all) {
      const c = await ctx.connect();
      const f = await ctx.ask(c, GET_CLOCK_DOMAIN);
      equal(f.byteLength, 12, 'GET_CLOCK_DOMAIN answer size');
      const d = i32At(f, 8);
      ensure(d === 0 || d === 1, `clock domain ${d}`);
      for (const other of ctx.siblings(all)) {
        const o = await ctx.connect(other);
        equal(i32At(await ctx.ask(o, GET_CLOCK_DOMAIN), 8), d, `clock domain of ${path.basename(other)}`);
      }
      return `domain ${d}`;
    },
  },

  // ---- 10. Extensions ----
  {
    rule: 'R-EXT-1', title: 'EXT_GET_EXTERNAL_DELAY: what SET_FORMAT reports, for anyone; INVALID_ARGS and 0 for a rate not offered',
    async run(ctx) {
      const a = await ctx.owner();
      const f = await ctx.fmt();
      const s = await ctx.setFormat(a, f);
      equal(s.result, OK, 'SET_FORMAT');
      const b = await ctx.connect();
      const d = await ctx.ask(b, EXT_GET_EXTERNAL_DELAY, le32(f.fps));
      equal(d.byteLength, 24, 'answer size');
      equal(i32At(d, 8), OK, 'EXT_GET_EXTERNAL_DELAY of a non-owner');
      equal(Number(i64At(d, 16)), s.delayNs, `EXT_GET_EXTERNAL_DELAY vs SET_FORMAT's external_delay_nsec at ${f.fps} Hz`);
      const no = await ctx.ask(b, EXT_GET_EXTERNAL_DELAY, le32(await ctx.rateNotOffered()));
      equal([i32At(no, 8), Number(i64At(no, 16))].join(' '), [INVALID_ARGS, 0].join(' '), 'a rate not offered: result, delay');
      equal(i32At(await ctx.ask(a, SET_GAIN, [...le32(0), ...le32(0)]), 8), OK, 'the owner still owns');
    },
  },
  {
    rule: 'R-EXT-2', title: 'EXT_GAIN_NOTIFY: answers the gain; while on, every change is sent as EXT_GAIN_CHANGED; off: none',
    async run(ctx) {
      const { a, g } = await gainOf(ctx);
      const w = await ctx.connect();
      const first = await ctx.ask(w, EXT_GAIN_NOTIFY, le32(ENABLE));
      equal(first.byteLength, 32, 'EXT_GAIN_NOTIFY answer size');
      equal(f32At(first, 12), g.curGain, 'EXT_GAIN_NOTIFY answer: cur_gain');
      if (fixed(g) && !g.canMute) {
        await ctx.ask(w, EXT_GAIN_NOTIFY, le32(DISABLE));
        throw new NotApplicable('the answer is right; a fixed-gain stream without mute has no change to announce');
      }
      try {
        const want = g.canMute && fixed(g) ? g.curGain : Math.fround(g.curGain === g.minGain ? g.minGain + g.gainStep : g.minGain);
        const flags = fixed(g) ? MUTE_VALID | (g.curMute ? 0 : MUTE) : GAIN_VALID;
        const n = w.frames.length;
        equal((await ctx.setGain(a, flags, want)).result, OK, 'owner SET_GAIN');
        const ch = await waitFrame(w, n, (x) => u32At(x, 4) === EXT_GAIN_CHANGED, ctx.timeoutMs, 'EXT_GAIN_CHANGED');
        equal(u32At(ch, 0), 0, 'EXT_GAIN_CHANGED transaction id');
        equal(ch.byteLength, 32, 'EXT_GAIN_CHANGED size');
        equal(f32At(ch, 12), want, 'EXT_GAIN_CHANGED cur_gain');
        await ctx.ask(w, EXT_GAIN_NOTIFY, le32(DISABLE));
        const k = w.frames.length;
        await ctx.restoreGain(a, g);
        await ctx.nothingPending(w, 'after EXT_GAIN_NOTIFY DISABLE and a change');
        equal(w.frames.length, k + 1, 'frames after disabling');
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },
  {
    rule: 'R-EXT-3', title: 'EXT_OBSERVE: an observer never owns; an owner that observes hands the stream on at once',
    async run(ctx) {
      const watcher = await ctx.owner();
      equal(i32At(await ctx.ask(watcher, EXT_OBSERVE), 8), OK, 'EXT_OBSERVE of the owner');
      const app = await ctx.connect();
      await ctx.ask(app, GET_CLOCK_DOMAIN);
      equal(i32At(await ctx.ask(app, SET_GAIN, [...le32(0), ...le32(0)]), 8), OK, 'SET_GAIN of a new channel right after the owner observed');
      equal(i32At(await ctx.ask(watcher, SET_GAIN, [...le32(0), ...le32(0)]), 8), ACCESS_DENIED, 'SET_GAIN of the observer');
      const next = await ctx.connect();
      await ctx.ask(next, GET_CLOCK_DOMAIN);
      equal(i32At(await ctx.ask(app, EXT_OBSERVE), 8), OK, 'EXT_OBSERVE of the owner');
      equal(i32At(await ctx.ask(next, SET_GAIN, [...le32(0), ...le32(0)]), 8), OK, 'SET_GAIN of the next channel right after the owner observed');
      equal(i32At(await ctx.ask(app, SET_GAIN, [...le32(0), ...le32(0)]), 8), ACCESS_DENIED, 'SET_GAIN of the former owner');
    },
  },
  {
    rule: 'R-EXT-4', title: 'EXT_GET_PURPOSE: OK, a purpose code 1…5 and its name',
    async run(ctx) {
      const c = await ctx.connect();
      const f = await ctx.ask(c, EXT_GET_PURPOSE);
      equal(f.byteLength, 48, 'answer size');
      equal(i32At(f, 8), OK, 'result');
      const code = u32At(f, 12);
      const len = u32At(f, 16);
      const name = Buffer.from(f.subarray(20, 20 + Math.min(len, 28))).toString('utf8');
      ensure(PURPOSES[code], `purpose code ${code}`);
      equal(name, PURPOSES[code], `the name of purpose ${code}`);
      return name;
    },
  },
  {
    rule: 'R-EXT-5', title: 'EXT_RB_NOTIFY answers OK (12 bytes), on and off',
    async run(ctx) {
      const { rb } = await ctx.ringBuffer();
      for (const flags of [ENABLE, DISABLE]) {
        const f = await ctx.rbAsk(rb, EXT_RB_NOTIFY, le32(flags >>> 0));
        equal(f.byteLength, 12, `EXT_RB_NOTIFY ${hex(flags)} answer size`);
        equal(i32At(f, 8), OK, `EXT_RB_NOTIFY ${hex(flags)}`);
      }
      throw new NotApplicable('EXT_RB_NOTIFY answers right; EXT_RB_ERROR needs an xrun or a failed audio device (fault injection: the protocol suite stalls or fails the simulated engine)');
    },
  },
  {
    rule: 'R-EXT-6', title: 'EXT_RB_CLOCK: the measured rate and rate_ppb agree; enabling again answers the latest at once',
    async run(ctx) {
      const { rb, f } = await ctx.ringBuffer();
      const n = rb.frames.length;
      equal(i32At(await ctx.rbAsk(rb, EXT_RB_NOTIFY, le32(ENABLE)), 8), OK, 'EXT_RB_NOTIFY');
      // Started, so that there is audio to measure: a device may run only while its stream does
      // (an engine that keeps its PCM running measures before START too).
      equal((await ctx.getBuffer(rb, Math.ceil(f.fps / 5), 0)).result, OK, 'GET_BUFFER');
      equal((await ctx.start(rb)).result, OK, 'START');
      const c = await waitFrame(rb, n, (x) => u32At(x, 4) === EXT_RB_CLOCK, 5000 + ctx.rbTimeoutMs, 'EXT_RB_CLOCK');
      equal(u32At(c, 0), 0, 'EXT_RB_CLOCK transaction id');
      equal(c.byteLength, 32, 'EXT_RB_CLOCK size');
      const ppb = i32At(c, 16);
      const window = u32At(c, 20);
      const fps = new DataView(c.buffer, c.byteOffset).getFloat64(24, true);
      ensure(window > 0, 'window_frames 0');
      ensure(Math.abs(fps - f.fps * (1 + ppb / 1e9)) < 0.01, `measured_fps ${fps} vs rate_ppb ${ppb} at ${f.fps} Hz`);
      ensure(Math.abs(ppb) < 1e6, `rate_ppb ${ppb}: more than 0.1 % off`);
      const m = rb.frames.length;
      await ctx.rbAsk(rb, EXT_RB_NOTIFY, le32(ENABLE));
      await ctx.fifo(rb);
      ensure(rb.frames.slice(m).some((x) => u32At(x, 4) === EXT_RB_CLOCK), 'enabling again did not answer with the latest measurement at once');
      await ctx.rbAsk(rb, EXT_RB_NOTIFY, le32(DISABLE));
      equal((await ctx.stop(rb)).result, OK, 'STOP');
      return `${fps.toFixed(3)} fps (${ppb} ppb) over ${window} frames`;
    },
  },
  {
    rule: 'R-EXT-7', title: 'EXT_GET_DELAY_INFO: known = EXT_GET_EXTERNAL_DELAY; unknown_count 0 ⇔ no names; INVALID_ARGS 0 0 for a rate not offered',
    async run(ctx) {
      const c = await ctx.connect();
      const f = await ctx.fmt();
      const d = await ctx.ask(c, EXT_GET_DELAY_INFO, le32(f.fps));
      equal(d.byteLength, 256, 'answer size');
      equal(i32At(d, 8), OK, 'result');
      const count = u32At(d, 12);
      const known = Number(i64At(d, 16));
      const len = u32At(d, 24);
      const names = Buffer.from(d.subarray(28, 28 + Math.min(len, 228))).toString('utf8');
      ensure(len <= 228 && d.subarray(28 + len).every((b) => b === 0), `strlen ${len}: not zero after the names`);
      ensure((count === 0) === (len === 0), `unknown_count ${count} with names "${names}"`);
      const e = await ctx.ask(c, EXT_GET_EXTERNAL_DELAY, le32(f.fps));
      equal(known, Number(i64At(e, 16)), 'known_delay_nsec vs EXT_GET_EXTERNAL_DELAY');
      const no = await ctx.ask(c, EXT_GET_DELAY_INFO, le32(await ctx.rateNotOffered()));
      equal([i32At(no, 8), u32At(no, 12), Number(i64At(no, 16))].join(' '), [INVALID_ARGS, 0, 0].join(' '), 'a rate not offered: result, unknown_count, known');
      return count ? `${known} ns known, ${count} unknown: ${names}` : `${known} ns, complete`;
    },
  },
  {
    rule: 'R-EXT-8', title: 'a channel that never enabled an extension never receives an extension message',
    async run(ctx) {
      const { a, rb, f } = await ctx.ringBuffer();
      const g = await ctx.gain(a);
      const quiet = await ctx.connect(); // never sends an extension
      await ctx.ask(quiet, GET_GAIN);
      try {
        equal((await ctx.getBuffer(rb, Math.ceil(f.fps / 10), 10)).result, OK, 'GET_BUFFER');
        const s = await ctx.start(rb);
        equal(s.result, OK, 'START');
        await waitFrame(rb, s.index + 1, (x) => u32At(x, 4) === RB_POSITION_NOTIFY, ctx.rbTimeoutMs, 'POSITION_NOTIFY');
        if (!fixed(g)) await ctx.setGain(a, GAIN_VALID, g.curGain === g.minGain ? g.minGain + g.gainStep : g.minGain);
        await sleep(1200); // EXT_RB_CLOCK comes about once per second where enabled
        await ctx.stop(rb);
        await ctx.nothingPending(quiet, 'a channel that never enabled an extension, after a gain change');
        for (const [who, c] of [['stream channel', a], ['ring-buffer channel', rb], ['other channel', quiet]] as const) {
          const ext = c.frames.filter((x) => u32At(x, 4) >= 0xe000 && u32At(x, 4) <= 0xefff);
          equal(ext.length, 0, `extension messages on the ${who} (${ext.map((x) => hex(u32At(x, 4))).join(', ')})`);
        }
      } finally {
        await ctx.restoreGain(a, g);
      }
    },
  },

  // ---- 11. Flow control ----
  {
    rule: 'R-FLOW-1', title: 'a client that does not read is disconnected once 1 MiB waits; others are unaffected',
    async run(ctx) {
      const other = await ctx.connect();
      await ctx.ask(other, GET_CLOCK_DOMAIN);
      const c = await ctx.connect();
      c.socket.pause();
      const one = new Uint8Array([...le32(12), ...req(1, GET_STRING, le32(MANUFACTURER))]);
      const batch = new Uint8Array(one.byteLength * 1000);
      for (let i = 0; i < 1000; i++) batch.set(one, i * one.byteLength);
      let sent = 0;
      while (sent < 40000 && !c.isClosed) {
        c.write(batch);
        sent += 1000;
        await new Promise((r) => setImmediate(r));
        if (c.socket.writableLength > 1 << 20) await sleep(5);
      }
      c.socket.resume();
      ensure(await c.closesWithin(2 * ctx.timeoutMs), `not disconnected after ${sent} unread GET_STRING answers (${(sent * 256) >> 20} MiB)`);
      ensure(c.frames.length < sent, `all ${sent} answered before the disconnect`);
      await ctx.nothingPending(other, 'another channel');
      return `disconnected after ${c.frames.length} of ${sent} answers were read`;
    },
  },
];

/** The rule ids the checks cover, in document order. */
export const CHECKED_RULES: readonly string[] = CHECKS.map((c) => c.rule);
