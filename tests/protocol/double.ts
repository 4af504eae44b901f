/**
 * A test double of the stream service: a small, independent implementation of docs/PROTOCOL.md
 * (one output endpoint, `<dir>/audio-output/dbl.out`, hardwired, on CLOCK_MONOTONIC, no codec and
 * no engine) that passes `sbc-audio conformance`, with a switch per rule: `{ break: 'R-RB-9' }`
 * makes it misbehave in one narrow way against that rule, as a real implementation's bug would.
 * It is the conformance checks' negative control (tests/unit/conformance.test.ts): with each
 * switch the report must name exactly that rule as failed.
 *
 * Wire values are literals from docs/facts/stream-protocol.md (never src/stream/wire.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, ftruncateSync, mkdirSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Every switch, with the bug it plants. */
export const BREAKS: Record<string, string> = {
  'R-DISC-1': 'the endpoint is named with capitals (Dbl.out)',
  'R-DISC-2': 'the socket has mode 0666',
  'R-FRAME-1': 'each read is parsed on its own: a frame split across reads is dropped',
  'R-FRAME-2': 'a frame longer than 4096 bytes is read (waited for) instead of closing the connection',
  'R-FRAME-3': 'a SET_FORMAT refused with INVALID_ARGS is padded to 40 bytes',
  'R-TXN-1': 'a transaction id with the top bit set is echoed without it',
  'R-TXN-2': 'POSITION_NOTIFY after the first carries the START request\'s transaction id',
  'R-TXN-3': 'three or more answers due from one read go out in reverse order',
  'R-TXN-4': 'a NO_ACK SET_GAIN that fails is answered',
  'R-VAL-1': 'a GET_GAIN with transaction id 0 is answered',
  'R-VAL-2': 'unknown command codes are ignored (no close)',
  'R-VAL-3': 'extra bytes after a GET_GAIN are ignored',
  'R-VAL-4': 'NO_ACK on GET_FORMATS and GET_CLOCK_DOMAIN is accepted',
  'R-VAL-5': 'a violation resets the stream\'s gain to its default',
  'R-VAL-6': 'a violation on the ring-buffer channel also closes its stream channel',
  'R-VAL-7': 'refused requests are never counted (no limit)',
  'R-OWN-1': 'the owner is the channel that connected first, not the one that spoke first',
  'R-OWN-2': 'a refused SET_FORMAT reports the external delay',
  'R-OWN-3': 'when the owner closes, ownership passes to the newest channel',
  'R-FMT-1': 'GET_FORMATS is one range longer than its ranges (a zero range appended)',
  'R-FMT-2': 'SET_FORMAT accepts 0 channels',
  'R-FMT-3': 'a failed SET_FORMAT closes the ring-buffer channel',
  'R-FMT-4': 'the token\'s first four bytes are random',
  'R-FMT-5': 'channels_to_use_bitmask is not checked',
  'R-FMT-6': 'GET_FIFO_DEPTH at 8000 Hz answers NOT_SUPPORTED',
  'R-RB-1': 'a token can be used again',
  'R-RB-2': 'a new SET_FORMAT leaves the previous ring-buffer channel open',
  'R-RB-3': 'closing the stream channel leaves its ring-buffer channel open',
  'R-RB-4': 'a refused START is answered in 12 bytes',
  'R-RB-5': 'GET_FIFO_DEPTH answers a different depth while started',
  'R-RB-6': 'GET_BUFFER with notifications_per_ring one above the frames is accepted (off by one)',
  'R-RB-7': 'the shared buffer has mode 0644',
  'R-RB-8': 'start_time is 5 ms before the START request',
  'R-RB-9': 'STOP before GET_BUFFER answers OK',
  'R-RB-10': 'POSITION_NOTIFY positions are one frame late',
  'R-GAIN-1': 'GET_GAIN reports can_agc',
  'R-GAIN-2': 'a SET_GAIN with an out-of-range gain still applies its mute',
  'R-GAIN-3': 'a gain halfway between steps takes the upper step',
  'R-GAIN-4': 'AGC is accepted on a stream without can_agc',
  'R-GAIN-5': 'a SET_GAIN with GAIN_VALID alone unmutes',
  'R-PLUG-1': 'the hardwired plug reports plug_state_time 0',
  'R-PLUG-2': 'the plug reports neither HARDWIRED nor CAN_NOTIFY',
  'R-PLUG-3': 'PLUG_DETECT with DISABLE is answered in 16 bytes',
  'R-INFO-1': 'the unique id is hashed without the "\\0" separators',
  'R-INFO-2': 'an unknown GET_STRING id is answered OK with an empty string',
  'R-INFO-3': 'GET_CLOCK_DOMAIN answers 2',
  'R-EXT-1': 'EXT_GET_EXTERNAL_DELAY answers OK at a rate no range allows',
  'R-EXT-2': 'EXT_GAIN_NOTIFY DISABLE leaves gain notifications on',
  'R-EXT-3': 'EXT_OBSERVE answers OK and changes nothing',
  'R-EXT-4': 'EXT_GET_PURPOSE names purpose 3 "lineout"',
  'R-EXT-5': 'EXT_RB_NOTIFY DISABLE answers INVALID_ARGS',
  'R-EXT-6': 'EXT_RB_CLOCK\'s measured_fps is 1 fps above what rate_ppb says',
  'R-EXT-7': 'EXT_GET_DELAY_INFO reports one unknown item without naming it',
  'R-EXT-8': 'EXT_RB_CLOCK is sent on ring-buffer channels that never enabled it',
  'R-FLOW-1': 'a client that does not read is never disconnected',
};

const OK = 0, NOT_SUPPORTED = -2, NO_MEMORY = -4, INVALID_ARGS = -10, BAD_STATE = -20, NOT_FOUND = -25, ACCESS_DENIED = -30;
const NO_ACK = 0x80000000;
const FAM48 = [8000, 16000, 32000, 48000, 96000, 192000, 384000, 768000];
const FAM44 = [11025, 22050, 44100, 88200, 176400];
/** Offered: 16-bit, 1–2 ch, 8–48 kHz (48 kHz family); 16-bit stereo at 44.1 kHz. */
const RANGES = [
  { formats: 1 << 2, min: 8000, max: 48000, minCh: 1, maxCh: 2, flags: 1 << 1 },
  { formats: 1 << 2, min: 44100, max: 44100, minCh: 2, maxCh: 2, flags: 1 << 2 },
];
const PERIOD = 128;
const DELAY_NS = 1000n;
const GAIN = { min: -60, max: 0, step: 0.5, dflt: -20 };
const STREAM_CMDS = new Set([0x1000, 0x1001, 0x1002, 0x1003, 0x1004, 0x1005, 0x1006, 0x1007, 0xe000, 0xe001, 0xe003, 0xe004, 0xe005]);
const STREAM_SIZE: Record<number, number> = { 0x1000: 8, 0x1001: 32, 0x1002: 8, 0x1003: 16, 0x1004: 12, 0x1005: 8, 0x1006: 12, 0x1007: 8, 0xe000: 12, 0xe001: 12, 0xe003: 8, 0xe004: 8, 0xe005: 12 };
const RB_SIZE: Record<number, number> = { 0x3000: 8, 0x3001: 16, 0x3002: 8, 0x3003: 8, 0xe100: 12 };
const NO_ACK_OK = new Set([0x1003, 0x1004, 0xe001, 0xe100]);

const now = () => process.hrtime.bigint();

interface Conn {
  sock: net.Socket;
  seq: number;
  connectSeq: number;
  kind: 'new' | 'stream' | 'rb';
  observer: boolean;
  gainNotify: boolean;
  rb?: Rb;
  /** Stream channel: ring-buffer channels it opened. */
  rbs: Set<Conn>;
  dead: boolean;
  /** Refused requests so far (R-VAL-7). */
  refused: number;
}

interface Rb {
  owner: Conn;
  fps: number;
  frameBytes: number;
  file?: { path: string; frames: number; notify: number };
  started: boolean;
  startNs: bigint;
  startTx: number;
  j: number;
  timer?: NodeJS.Timeout;
  notify: boolean;
  clockTimer?: NodeJS.Timeout;
  openedNs: bigint;
  lastClock?: Buffer;
}

export interface Double {
  endpoint: string;
  close(): Promise<void>;
}

export async function startDouble(dir: string, opts: { break?: string } = {}): Promise<Double> {
  const br = opts.break;
  if (br && !BREAKS[br]) throw new Error(`double: no switch for ${br}`);
  const name = br === 'R-DISC-1' ? 'Dbl.out' : 'dbl.out';
  const [board, streamId] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
  mkdirSync(path.join(dir, 'audio-output'), { recursive: true });
  const endpoint = path.join(dir, 'audio-output', name);
  const startedNs = now();
  let seq = 0;
  let connectSeq = 0;
  let files = 0;
  const conns = new Set<Conn>();
  const tokens = new Map<string, Conn>();
  const gain = { cur: GAIN.dflt, mute: false };
  const fps0 = { fmt: undefined as undefined | { fps: number; frameBytes: number } };

  const frame = (payload: Buffer) => {
    const b = Buffer.alloc(4 + payload.length);
    b.writeUInt32LE(payload.length, 0);
    payload.copy(b, 4);
    return b;
  };
  const send = (c: Conn, payload: Buffer) => {
    if (c.dead) return;
    c.sock.write(frame(payload));
    if (br !== 'R-FLOW-1' && c.sock.writableLength > 1 << 20) kill(c, false, true);
  };
  const msg = (size: number, txid: number, cmd: number) => {
    const b = Buffer.alloc(size);
    b.writeUInt32LE(txid >>> 0, 0);
    b.writeUInt32LE(cmd >>> 0, 4);
    return b;
  };
  const owner = (): Conn | undefined => {
    const streams = [...conns].filter((c) => c.kind === 'stream' && !c.observer && !c.dead);
    if (streams.length === 0) return undefined;
    const key = (c: Conn) => (br === 'R-OWN-1' ? c.connectSeq : c.seq);
    return streams.reduce((a, b) => (key(b) < key(a) ? b : a));
  };
  let ownerOverride: Conn | undefined; // R-OWN-3 switch: the newest channel after a close
  const currentOwner = () => (ownerOverride && !ownerOverride.dead && !ownerOverride.observer ? ownerOverride : owner());

  const stopRb = (r: Rb) => {
    r.started = false;
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
  };
  const releaseFile = (r: Rb) => {
    if (r.file) rmSync(r.file.path, { force: true });
    r.file = undefined;
  };
  /** Closes a channel; what was already sent still goes out, unless `drop` (a client that does not read). */
  function kill(c: Conn, violation = false, drop = false): void {
    if (c.dead) return;
    const wasOwner = currentOwner() === c;
    c.dead = true;
    conns.delete(c);
    if (drop) c.sock.destroy();
    else c.sock.end();
    if (c.rb) {
      stopRb(c.rb);
      if (c.rb.clockTimer) clearInterval(c.rb.clockTimer);
      releaseFile(c.rb);
      c.rb.owner.rbs.delete(c);
    }
    if (c.kind === 'stream') {
      for (const [k, v] of tokens) if (v === c) tokens.delete(k);
      if (!(br === 'R-RB-3' && !violation)) for (const r of [...c.rbs]) kill(r);
      if (wasOwner && br === 'R-OWN-3') {
        const streams = [...conns].filter((x) => x.kind === 'stream' && !x.observer);
        ownerOverride = streams.reduce<Conn | undefined>((a, b) => (!a || b.seq > a.seq ? b : a), undefined);
      }
    }
    if (violation && br === 'R-VAL-5') { gain.cur = GAIN.dflt; gain.mute = false; }
  }
  const violate = (c: Conn) => {
    if (br === 'R-VAL-6' && c.kind === 'rb' && c.rb) kill(c.rb.owner, true);
    kill(c, true);
  };

  const gainMsg = (txid: number, cmd: number) => {
    const b = msg(32, txid, cmd);
    b[8] = gain.mute ? 1 : 0;
    b.writeFloatLE(gain.cur, 12);
    b[16] = 1;
    b[17] = br === 'R-GAIN-1' ? 1 : 0;
    b.writeFloatLE(GAIN.min, 20);
    b.writeFloatLE(GAIN.max, 24);
    b.writeFloatLE(GAIN.step, 28);
    return b;
  };
  const announceGain = () => {
    for (const c of conns) if (c.gainNotify && c.kind === 'stream') send(c, gainMsg(0, 0xe002));
  };
  const rangeHas = (fps: number, fmt: number, ch: number) => RANGES.some((r) => (r.formats & fmt) !== 0 && (fmt & (fmt - 1)) === 0 && (fmt & ~0x3ff) === 0
    && (br === 'R-FMT-2' ? ch >= 0 : ch >= r.minCh) && ch <= r.maxCh && fps >= r.min && fps <= r.max
    && (((r.flags & 2) && FAM48.includes(fps)) || ((r.flags & 4) && FAM44.includes(fps))));
  const offeredRate = (fps: number) => RANGES.some((r) => fps >= r.min && fps <= r.max && (((r.flags & 2) && FAM48.includes(fps)) || ((r.flags & 4) && FAM44.includes(fps))));
  const plugFlags = () => (br === 'R-PLUG-2' ? 0x80000000 : 0x80000001) >>> 0;
  const uniqueId = () => createHash('sha256').update(br === 'R-INFO-1' ? `sbc-audio stream${board}${streamId}` : `sbc-audio stream\0${board}\0${streamId}`, 'utf8').digest().subarray(0, 16);

  const schedulePosition = (c: Conn, r: Rb) => {
    const f = r.file!;
    const j = r.j + 1;
    const frameIdx = Math.floor((j * f.frames) / f.notify);
    const at = r.startNs + BigInt(Math.ceil((frameIdx * 1e9) / r.fps));
    const wait = Math.max(0, Math.ceil(Number(at - now()) / 1e6) + 1);
    r.timer = setTimeout(() => {
      if (!r.started || c.dead) return;
      r.j = j;
      const b = msg(24, br === 'R-TXN-2' && j >= 2 ? r.startTx : 0, 0x4000);
      b.writeBigInt64LE(at, 8);
      b.writeUInt32LE(((frameIdx + (br === 'R-RB-10' ? 1 : 0)) % f.frames) * r.frameBytes, 16);
      send(c, b);
      schedulePosition(c, r);
    }, wait);
  };
  const clockMsg = (r: Rb) => {
    const b = msg(32, 0, 0xe102);
    const t = now();
    b.writeBigInt64LE(t, 8);
    b.writeInt32LE(0, 16);
    b.writeUInt32LE(Math.max(1, Math.floor((Number(t - r.openedNs) * r.fps) / 1e9)), 20);
    b.writeDoubleLE(r.fps + (br === 'R-EXT-6' ? 1 : 0), 24);
    return b;
  };

  function handleRb(c: Conn, txid: number, cmd: number, body: Buffer, answers: Buffer[]): void {
    const r = c.rb!;
    const noAck = (cmd & NO_ACK) !== 0;
    const base = cmd & 0x7fffffff;
    if (txid === 0 || !(base in RB_SIZE) || body.length + 8 !== RB_SIZE[base] || (noAck && !NO_ACK_OK.has(base))) return violate(c);
    switch (base) {
      case 0x3000: {
        const b = msg(16, txid, base);
        if (br === 'R-FMT-6' && r.fps === 8000) { b.writeInt32LE(NOT_SUPPORTED, 8); answers.push(b); return; }
        b.writeUInt32LE(2 * PERIOD * r.frameBytes + (br === 'R-RB-5' && r.started ? r.frameBytes : 0), 12);
        answers.push(b);
        return;
      }
      case 0x3001: {
        const min = body.readUInt32LE(0);
        const notify = body.readUInt32LE(4);
        const b = msg(16, txid, base);
        const frames = Math.max(min, 3 * PERIOD);
        if (r.started) { b.writeInt32LE(BAD_STATE, 8); answers.push(b); return; }
        if (frames * r.frameBytes > 64 << 20) { b.writeInt32LE(NO_MEMORY, 8); answers.push(b); return; }
        if (notify > frames + (br === 'R-RB-6' ? 1 : 0)) { b.writeInt32LE(INVALID_ARGS, 8); answers.push(b); return; }
        releaseFile(r);
        const p = `/dev/shm/sbc-audio-${name}-${process.pid}-${++files}-${randomBytes(4).toString('hex')}`;
        const fd = openSync(p, 'wx', 0o600);
        ftruncateSync(fd, frames * r.frameBytes);
        closeSync(fd);
        if (br === 'R-RB-7') chmodSync(p, 0o644);
        r.file = { path: p, frames, notify: Math.min(notify, frames) };
        b.writeUInt32LE(frames, 12);
        answers.push(Buffer.concat([b, Buffer.from(p, 'utf8')]));
        return;
      }
      case 0x3002: {
        if (r.started || !r.file) {
          const b = msg(br === 'R-RB-4' ? 12 : 24, txid, base);
          b.writeInt32LE(BAD_STATE, 8);
          answers.push(b);
          return;
        }
        r.started = true;
        r.startNs = br === 'R-RB-8' ? now() - 5_000_000n : now() + 2_000_000n;
        r.startTx = txid;
        r.j = 0;
        const b = msg(24, txid, base);
        b.writeBigInt64LE(r.startNs, 16);
        answers.push(b);
        if (r.file.notify > 0) schedulePosition(c, r);
        return;
      }
      case 0x3003: {
        const b = msg(12, txid, base);
        if (!r.file && br !== 'R-RB-9') b.writeInt32LE(BAD_STATE, 8);
        else stopRb(r);
        answers.push(b);
        return;
      }
      case 0xe100: {
        const flags = body.readUInt32LE(0);
        const b = msg(12, txid, base);
        if (br === 'R-EXT-5' && flags & 0x80000000) b.writeInt32LE(INVALID_ARGS, 8);
        if (flags & 0x80000000) r.notify = false;
        else if (flags & 0x40000000) r.notify = true;
        if (!noAck) answers.push(b);
        if (r.notify && r.lastClock) answers.push(clockMsg(r));
        return;
      }
    }
  }

  function handleStream(c: Conn, txid: number, cmd: number, body: Buffer, answers: Buffer[]): void {
    const noAck = (cmd & NO_ACK) !== 0;
    const base = cmd & 0x7fffffff;
    if (txid === 0 && !(br === 'R-VAL-1' && base === 0x1002)) return violate(c);
    if (!STREAM_CMDS.has(base)) {
      if (br === 'R-VAL-2' && !(base >= 0x2000 && base < 0x5000)) return;
      return violate(c);
    }
    const size = body.length + 8;
    if (size !== STREAM_SIZE[base] && !(br === 'R-VAL-3' && base === 0x1002 && size > 8)) return violate(c);
    if (noAck && !NO_ACK_OK.has(base) && !(br === 'R-VAL-4' && (base === 0x1000 || base === 0x1007))) return violate(c);
    const reply = (b: Buffer) => { if (!noAck) answers.push(b); };
    const echo = br === 'R-TXN-1' && txid >= 0x80000000 ? txid & 0x7fffffff : txid;
    const isOwner = currentOwner() === c;
    switch (base) {
      case 0x1000: {
        const b = msg(16 + 16 * RANGES.length + (br === 'R-FMT-1' ? 16 : 0), echo, base);
        b.writeUInt16LE(RANGES.length, 12);
        RANGES.forEach((r, i) => {
          const o = 16 + 16 * i;
          b.writeUInt32LE(r.formats, o); b.writeUInt32LE(r.min, o + 4); b.writeUInt32LE(r.max, o + 8);
          b[o + 12] = r.minCh; b[o + 13] = r.maxCh; b.writeUInt16LE(r.flags, o + 14);
        });
        return reply(b);
      }
      case 0x1001: {
        const fps = body.readUInt32LE(0);
        const fmt = body.readUInt32LE(4);
        const ch = body.readUInt16LE(8);
        const mask = body.readBigUInt64LE(16);
        const b = msg(24, echo, base);
        if (!isOwner) {
          b.writeInt32LE(ACCESS_DENIED, 8);
          if (br === 'R-OWN-2') b.writeBigUInt64LE(DELAY_NS, 16);
          return reply(b);
        }
        if (!rangeHas(fps, fmt, ch) || (br !== 'R-FMT-5' && mask !== 0n && mask >> BigInt(ch) !== 0n)) {
          b.writeInt32LE(INVALID_ARGS, 8);
          if (br === 'R-FMT-3') for (const r of [...c.rbs]) kill(r);
          return reply(br === 'R-FRAME-3' ? Buffer.concat([b, Buffer.alloc(16)]) : b);
        }
        if (br !== 'R-RB-2') for (const r of [...conns]) if (r.kind === 'rb') kill(r);
        for (const [k, v] of tokens) if (v === c || br !== 'R-RB-2') tokens.delete(k);
        const token = Buffer.concat([br === 'R-FMT-4' ? randomBytes(4) : Buffer.alloc(4), randomBytes(12)]);
        if (br === 'R-FMT-4' && token.readUInt32LE(0) === 0) token[0] = 1;
        tokens.set(token.toString('hex'), c);
        fps0.fmt = { fps, frameBytes: ch * 2 };
        b.writeBigUInt64LE(DELAY_NS, 16);
        return reply(Buffer.concat([b, token]));
      }
      case 0x1002: return reply(gainMsg(echo, base));
      case 0x1003: {
        const flags = body.readUInt32LE(0);
        const want = body.readFloatLE(4);
        let result = OK;
        if (!isOwner) result = ACCESS_DENIED;
        else if ((flags & 0x4) && !(want >= GAIN.min && want <= GAIN.max)) {
          result = INVALID_ARGS;
          if (br === 'R-GAIN-2' && (flags & 0x1)) gain.mute = (flags & 0x40000000) !== 0;
        } else if ((flags & 0x2) && (flags & 0x80000000) && br !== 'R-GAIN-4') result = INVALID_ARGS;
        else {
          const before = `${gain.cur}/${gain.mute}`;
          if (flags & 0x4) {
            const k = (want - GAIN.min) / GAIN.step;
            const frac = k - Math.floor(k);
            const steps = frac > 0.5 || (br === 'R-GAIN-3' && frac === 0.5) ? Math.ceil(k) : Math.floor(k);
            gain.cur = GAIN.min + steps * GAIN.step;
            if (br === 'R-GAIN-5' && !(flags & 0x1)) gain.mute = false;
          }
          if (flags & 0x1) gain.mute = (flags & 0x40000000) !== 0;
          if (`${gain.cur}/${gain.mute}` !== before) announceGain();
        }
        const b = msg(20, echo, base);
        b.writeInt32LE(result, 8);
        b[12] = gain.mute ? 1 : 0;
        b.writeFloatLE(gain.cur, 16);
        if (noAck && br === 'R-TXN-4' && result !== OK) answers.push(b);
        if (noAck && result !== OK) refusals.push(result);
        return reply(b);
      }
      case 0x1004: {
        const flags = body.readUInt32LE(0);
        const b = msg(br === 'R-PLUG-3' && flags === 0x80000000 ? 16 : 24, echo, base);
        b.writeUInt32LE(plugFlags(), 8);
        if (b.length >= 24) b.writeBigInt64LE(br === 'R-PLUG-1' ? 0n : startedNs, 16);
        return reply(b);
      }
      case 0x1005: {
        const b = msg(24, echo, base);
        uniqueId().copy(b, 8);
        return reply(b);
      }
      case 0x1006: {
        const id = body.readUInt32LE(0);
        const b = msg(256, echo, base);
        b.writeUInt32LE(id, 12);
        const text = id === 0x80000000 ? 'sbc-audio test double' : id === 0x80000001 ? `${board} ${streamId} (line-out, test double)` : br === 'R-INFO-2' ? '' : undefined;
        if (text === undefined) b.writeInt32LE(NOT_FOUND, 8);
        else { b.writeUInt32LE(Buffer.byteLength(text), 16); b.write(text, 20, 'utf8'); }
        return reply(b);
      }
      case 0x1007: {
        const b = msg(12, echo, base);
        b.writeInt32LE(br === 'R-INFO-3' ? 2 : 0, 8);
        return reply(b);
      }
      case 0xe000: {
        const b = msg(24, echo, base);
        const fps = body.readUInt32LE(0);
        if (offeredRate(fps) || br === 'R-EXT-1') b.writeBigUInt64LE(DELAY_NS, 16);
        else b.writeInt32LE(INVALID_ARGS, 8);
        return reply(b);
      }
      case 0xe001: {
        const flags = body.readUInt32LE(0);
        if (flags & 0x80000000) c.gainNotify = br === 'R-EXT-2' ? c.gainNotify : false;
        else if (flags & 0x40000000) c.gainNotify = true;
        return reply(gainMsg(echo, base));
      }
      case 0xe003: {
        if (br !== 'R-EXT-3') {
          c.observer = true;
          if (ownerOverride === c) ownerOverride = undefined;
        }
        return reply(msg(12, echo, base));
      }
      case 0xe004: {
        const b = msg(48, echo, base);
        const n = br === 'R-EXT-4' ? 'lineout' : 'line-out';
        b.writeUInt32LE(3, 12);
        b.writeUInt32LE(n.length, 16);
        b.write(n, 20, 'utf8');
        return reply(b);
      }
      case 0xe005: {
        const b = msg(256, echo, base);
        const fps = body.readUInt32LE(0);
        if (!offeredRate(fps)) b.writeInt32LE(INVALID_ARGS, 8);
        else {
          b.writeUInt32LE(br === 'R-EXT-7' ? 1 : 0, 12);
          b.writeBigUInt64LE(DELAY_NS, 16);
        }
        return reply(b);
      }
    }
  }

  /** Refusals of NO_ACK requests (no answer to look at). */
  const refusals: number[] = [];
  const isRefusal = (c: Conn, a: Buffer) => {
    if (a.length < 12 || a.readUInt32LE(0) === 0) return false;
    const r = a.readInt32LE(8);
    const cmd = a.readUInt32LE(4);
    if (c.kind === 'rb') return r === INVALID_ARGS || r === BAD_STATE;
    return [0x1001, 0x1003, 0x1006, 0xe000, 0xe005].includes(cmd) && (r === ACCESS_DENIED || r === INVALID_ARGS || r === NOT_FOUND);
  };

  const server = net.createServer((sock) => {
    const c: Conn = { sock, seq: 0, connectSeq: ++connectSeq, kind: 'new', observer: false, gainNotify: false, rbs: new Set(), dead: false, refused: 0 };
    conns.add(c);
    let buf: Buffer = Buffer.alloc(0);
    sock.on('error', () => {});
    sock.on('close', () => kill(c));
    sock.on('end', () => kill(c));
    sock.on('data', (chunk: Buffer) => {
      if (c.dead) return;
      buf = br === 'R-FRAME-1' ? chunk : Buffer.concat([buf, chunk]);
      const answers: Buffer[] = [];
      while (buf.length >= 4 && !c.dead) {
        const len = buf.readUInt32LE(0);
        if ((len < 8 || len > 4096) && !(br === 'R-FRAME-2' && len > 4096)) return kill(c, true);
        if (buf.length < 4 + len) break;
        const p = buf.subarray(4, 4 + len);
        buf = buf.subarray(4 + len);
        if (c.kind === 'new') {
          const owner = len === 16 ? tokens.get(p.toString('hex')) : undefined;
          if (owner && !owner.dead) {
            if (br !== 'R-RB-1') tokens.delete(p.toString('hex'));
            c.kind = 'rb';
            const fmt = fps0.fmt!;
            c.rb = { owner, fps: fmt.fps, frameBytes: fmt.frameBytes, started: false, startNs: 0n, startTx: 0, j: 0, notify: false, openedNs: now() };
            owner.rbs.add(c);
            const r = c.rb;
            r.clockTimer = setInterval(() => {
              r.lastClock = clockMsg(r);
              if (r.notify || br === 'R-EXT-8') send(c, r.lastClock);
            }, 200);
            continue;
          }
          c.kind = 'stream';
          c.seq = ++seq;
        }
        const txid = p.readUInt32LE(0);
        const cmd = p.readUInt32LE(4);
        const body = p.subarray(8);
        const n = answers.length;
        const before = refusals.length;
        if (c.kind === 'rb') handleRb(c, txid, cmd, body, answers);
        else handleStream(c, txid, cmd, body, answers);
        // R-VAL-7: a refused request counts (answered or NO_ACK); the 1000th is answered, then the connection closes.
        if (refusals.length > before || (answers.length > n && isRefusal(c, answers[answers.length - 1]!))) {
          refusals.length = before;
          if (br !== 'R-VAL-7' && ++c.refused >= 1000) {
            for (const a of answers) send(c, a);
            answers.length = 0;
            return violate(c);
          }
        }
      }
      if (br === 'R-FRAME-1') buf = Buffer.alloc(0);
      if (br === 'R-TXN-3' && answers.length >= 3) answers.reverse();
      for (const a of answers) send(c, a);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint, () => resolve());
  });
  chmodSync(endpoint, br === 'R-DISC-2' ? 0o666 : 0o660);
  return {
    endpoint,
    async close() {
      for (const c of [...conns]) kill(c);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(endpoint, { force: true });
    },
  };
}
