/**
 * The wire encoding against hand-written hex vectors: every message of the protocol (and of this
 * project's extensions), both the encoder's bytes and the decoder's reading of those bytes.
 * The vectors were written from the layout tables of docs/facts/stream-protocol.md and
 * docs/PROTOCOL.md section 10, field by field (little-endian), not produced by the encoder.
 */
import assert from 'node:assert/strict';
import {
  CMD, STATUS, decodeRingBufferRequest, decodeServiceMessage, decodeStreamRequest, encodeEmptyRequest, encodeGainState,
  encodeGetBufferRequest, encodeGetFormatsResponse, encodeGetStringResponse, encodeI32Response, encodePlugState,
  encodePositionNotify, encodeResultU32Response, encodeResultU64Response, encodeSetFormatRequest, encodeSetFormatResponse,
  encodeSetGainRequest, encodeSetGainResponse, encodeU32Request, encodeUniqueIdResponse, utf8Truncate, WireEncodeError,
} from '../../src/stream/wire.ts';

function bytes(hexText: string): Uint8Array {
  const clean = hexText.replace(/\s+/g, '');
  assert.equal(clean.length % 2, 0, 'vector has an odd number of hex digits');
  return new Uint8Array(clean.match(/../g)!.map((x) => parseInt(x, 16)));
}
function eqBytes(actual: Uint8Array, expectedHex: string): void {
  assert.equal(Buffer.from(actual).toString('hex'), Buffer.from(bytes(expectedHex)).toString('hex'));
}
function decoded<T>(d: { ok: true; value: T } | { ok: false; violation: unknown }): T {
  if (!d.ok) assert.fail(`expected a valid message, got violation ${JSON.stringify(d.violation)}`);
  return d.value;
}

describe('stream wire encoding (hex vectors)', () => {
  describe('requests: client encodes, service decodes', () => {
    it('header-only requests: GET_FORMATS, GET_GAIN, GET_UNIQUE_ID, GET_CLOCK_DOMAIN, GET_FIFO_DEPTH, START, STOP, EXT_OBSERVE', () => {
      const cases: [number, number, string][] = [
        [0x11223344, CMD.GET_FORMATS, '44 33 22 11 00 10 00 00'],
        [1, CMD.GET_GAIN, '01 00 00 00 02 10 00 00'],
        [2, CMD.GET_UNIQUE_ID, '02 00 00 00 05 10 00 00'],
        [3, CMD.GET_CLOCK_DOMAIN, '03 00 00 00 07 10 00 00'],
        [4, CMD.RB_GET_FIFO_DEPTH, '04 00 00 00 00 30 00 00'],
        [5, CMD.RB_START, '05 00 00 00 02 30 00 00'],
        [6, CMD.RB_STOP, '06 00 00 00 03 30 00 00'],
        [7, CMD.EXT_OBSERVE, '07 00 00 00 03 e0 00 00'],
      ];
      for (const [txid, cmd, hexText] of cases) {
        eqBytes(encodeEmptyRequest(txid, cmd), hexText);
        const d = cmd >= 0x3000 && cmd < 0x4000 ? decoded(decodeRingBufferRequest(bytes(hexText))) : decoded(decodeStreamRequest(bytes(hexText)));
        assert.deepEqual(d, { cmd, txid, noAck: false });
      }
    });

    it('SET_FORMAT request: 48000 Hz, 24BIT_IN32, 2 channels, mask 0x3', () => {
      const v = '02 00 00 00 01 10 00 00  80 bb 00 00  80 00 00 00  02 00  00 00 00 00 00 00  03 00 00 00 00 00 00 00';
      eqBytes(encodeSetFormatRequest(2, { fps: 48000, sampleFormat: 0x80, channels: 2, channelsToUse: 3n }), v);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(v))), { cmd: 0x1001, txid: 2, noAck: false, fps: 48000, sampleFormat: 0x80, channels: 2, channelsToUse: 3n });
    });

    it('SET_GAIN request: MUTE | MUTE_VALID | GAIN_VALID, -6.5 dB; and GAIN_VALID 0 dB with NO_ACK', () => {
      const v = '05 00 00 00 03 10 00 00  05 00 00 40  00 00 d0 c0';
      eqBytes(encodeSetGainRequest(5, { flags: 0x40000005, gain: -6.5 }), v);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(v))), { cmd: 0x1003, txid: 5, noAck: false, flags: 0x40000005, gain: -6.5 });
      const n = '06 00 00 00 03 10 00 80  04 00 00 00  00 00 00 00';
      eqBytes(encodeSetGainRequest(6, { flags: 4, gain: 0 }, true), n);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(n))), { cmd: 0x1003, txid: 6, noAck: true, flags: 4, gain: 0 });
    });

    it('PLUG_DETECT request (ENABLE_NOTIFICATIONS), GET_STRING request (PRODUCT), EXT requests', () => {
      const p = '08 00 00 00 04 10 00 00  00 00 00 40';
      eqBytes(encodeU32Request(8, CMD.PLUG_DETECT, 0x40000000), p);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(p))), { cmd: 0x1004, txid: 8, noAck: false, flags: 0x40000000 });
      const s = '0b 00 00 00 06 10 00 00  01 00 00 80';
      eqBytes(encodeU32Request(11, CMD.GET_STRING, 0x80000001), s);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(s))), { cmd: 0x1006, txid: 11, noAck: false, id: 0x80000001 });
      const e = '11 00 00 00 00 e0 00 00  44 ac 00 00';
      eqBytes(encodeU32Request(17, CMD.EXT_GET_EXTERNAL_DELAY, 44100), e);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(e))), { cmd: 0xe000, txid: 17, noAck: false, fps: 44100 });
      const g = '12 00 00 00 01 e0 00 80  00 00 00 80';
      eqBytes(encodeU32Request(18, CMD.EXT_GAIN_NOTIFY, 0x80000000, true), g);
      assert.deepEqual(decoded(decodeStreamRequest(bytes(g))), { cmd: 0xe001, txid: 18, noAck: true, flags: 0x80000000 });
    });

    it('GET_BUFFER request: 4800 frames, 4 notifications per ring', () => {
      const v = '0e 00 00 00 01 30 00 00  c0 12 00 00  04 00 00 00';
      eqBytes(encodeGetBufferRequest(14, { minFrames: 4800, notificationsPerRing: 4 }), v);
      assert.deepEqual(decoded(decodeRingBufferRequest(bytes(v))), { cmd: 0x3001, txid: 14, noAck: false, minFrames: 4800, notificationsPerRing: 4 });
    });
  });

  describe('requests the service must refuse (violations name the message and the field)', () => {
    const cases: [string, string, string, string][] = [
      ['transaction id 0', '00 00 00 00 02 10 00 00', 'GET_GAIN (0x1002)', 'transaction_id'],
      ['unknown command', '01 00 00 00 08 10 00 00', '0x1008', 'cmd'],
      ['a notification code sent by a client', '01 00 00 00 00 20 00 00', 'PLUG_DETECT_NOTIFY (0x2000)', 'cmd'],
      ['a ring-buffer command on the stream channel', '01 00 00 00 00 30 00 00', 'RB_GET_FIFO_DEPTH (0x3000)', 'cmd'],
      ['GET_GAIN with 4 stray bytes', '01 00 00 00 02 10 00 00 00 00 00 00', 'GET_GAIN (0x1002)', 'payload size'],
      ['SET_GAIN cut to 12 bytes', '01 00 00 00 03 10 00 00 04 00 00 00', 'SET_GAIN (0x1003)', 'payload size'],
      ['NO_ACK on GET_FORMATS', '01 00 00 00 00 10 00 80', 'GET_FORMATS (0x1000)', 'cmd'],
      ['shorter than a header', '01 00 00 00 02 10', 'frame', 'length'],
    ];
    for (const [what, v, msg, field] of cases) {
      it(what, () => {
        const d = decodeStreamRequest(bytes(v));
        assert.equal(d.ok, false);
        if (!d.ok) {
          assert.equal(d.violation.msg, msg);
          assert.equal(d.violation.field, field);
        }
      });
    }
    it('a stream command on the ring-buffer channel, NO_ACK on START', () => {
      const a = decodeRingBufferRequest(bytes('01 00 00 00 02 10 00 00'));
      assert.equal(a.ok, false);
      const b = decodeRingBufferRequest(bytes('01 00 00 00 02 30 00 80'));
      assert.ok(!b.ok && b.violation.field === 'cmd');
    });
  });

  describe('responses and notifications: service encodes, client decodes', () => {
    it('GET_FORMATS page: total 17, first 15, two ranges, cut after the last one (48 bytes)', () => {
      const v = '07 00 00 00 00 10 00 00  00 00 00 00  11 00  0f 00'
        + '  84 00 00 00  40 1f 00 00  00 ee 02 00  01  02  02 00'
        + '  04 00 00 00  80 25 00 00  80 25 00 00  01  02  01 00';
      const ranges = [
        { sampleFormats: 0x84, minFps: 8000, maxFps: 192000, minChannels: 1, maxChannels: 2, flags: 2 },
        { sampleFormats: 0x04, minFps: 9600, maxFps: 9600, minChannels: 1, maxChannels: 2, flags: 1 },
      ];
      eqBytes(encodeGetFormatsResponse(7, 17, 15, ranges), v);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(v))), { cmd: 0x1000, txid: 7, total: 17, first: 15, ranges });
    });

    it('GET_FORMATS: a full 256-byte page is read up to the total (the padding ranges are ignored)', () => {
      const full = new Uint8Array(256);
      full.set(bytes('07 00 00 00 00 10 00 00 00 00 00 00 01 00 00 00  04 00 00 00 80 bb 00 00 80 bb 00 00 02 02 01 00'));
      const m = decoded(decodeServiceMessage(full));
      assert.ok(m.cmd === CMD.GET_FORMATS);
      assert.deepEqual(m.ranges, [{ sampleFormats: 4, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 1 }]);
    });

    it('SET_FORMAT response: OK, 168667 ns, with the token; INVALID_ARGS without', () => {
      const token = bytes('00 00 00 00 11 22 33 44 55 66 77 88 99 aa bb cc');
      const ok = '02 00 00 00 01 10 00 00  00 00 00 00  00 00 00 00  db 92 02 00 00 00 00 00  00 00 00 00 11 22 33 44 55 66 77 88 99 aa bb cc';
      eqBytes(encodeSetFormatResponse(2, 0, 168667n, token), ok);
      const d = decoded(decodeServiceMessage(bytes(ok)));
      assert.deepEqual(d, { cmd: 0x1001, txid: 2, result: 0, externalDelayNs: 168667n, token });
      const fail = '03 00 00 00 01 10 00 00  f6 ff ff ff  00 00 00 00  00 00 00 00 00 00 00 00';
      eqBytes(encodeSetFormatResponse(3, STATUS.INVALID_ARGS, 0n), fail);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(fail))), { cmd: 0x1001, txid: 3, result: -10, externalDelayNs: 0n, token: undefined });
    });

    it('GET_GAIN response: muted, -20 dB, can mute, -103.5..24 dB in 0.5 dB steps', () => {
      const v = '04 00 00 00 02 10 00 00  01 00 00 00  00 00 a0 c1  01 00 00 00  00 00 cf c2  00 00 c0 41  00 00 00 3f';
      const g = { curMute: true, curAgc: false, curGain: -20, canMute: true, canAgc: false, minGain: -103.5, maxGain: 24, gainStep: 0.5 };
      eqBytes(encodeGainState(4, CMD.GET_GAIN, g), v);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(v))), { cmd: 0x1002, txid: 4, ...g });
    });

    it('SET_GAIN response: ACCESS_DENIED with the current state (muted, -20 dB)', () => {
      const v = '05 00 00 00 03 10 00 00  e2 ff ff ff  01 00 00 00  00 00 a0 c1';
      eqBytes(encodeSetGainResponse(5, STATUS.ACCESS_DENIED, { curMute: true, curAgc: false, curGain: -20 }), v);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(v))), { cmd: 0x1003, txid: 5, result: -30, curMute: true, curAgc: false, curGain: -20 });
    });

    it('PLUG_DETECT response (plugged, can notify), PLUG_DETECT_NOTIFY (unplugged), hardwired', () => {
      const r = '08 00 00 00 04 10 00 00  02 00 00 80  00 00 00 00  cb 04 fb 71 1f 01 00 00';
      eqBytes(encodePlugState(8, CMD.PLUG_DETECT, 0x80000002, 1234567890123n), r);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(r))), { cmd: 0x1004, txid: 8, flags: 0x80000002, plugStateTimeNs: 1234567890123n });
      const n = '00 00 00 00 00 20 00 00  02 00 00 00  00 00 00 00  00 f2 05 2a 01 00 00 00';
      eqBytes(encodePlugState(0, CMD.PLUG_DETECT_NOTIFY, 2, 5000000000n), n);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(n))), { cmd: 0x2000, txid: 0, flags: 2, plugStateTimeNs: 5000000000n });
      eqBytes(encodePlugState(9, CMD.PLUG_DETECT, 0x80000001, 1000000000n), '09 00 00 00 04 10 00 00  01 00 00 80  00 00 00 00  00 ca 9a 3b 00 00 00 00');
    });

    it('GET_UNIQUE_ID response', () => {
      const v = '0a 00 00 00 05 10 00 00  a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af';
      const id = bytes('a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af');
      eqBytes(encodeUniqueIdResponse(10, id), v);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(v))), { cmd: 0x1005, txid: 10, id });
    });

    it('GET_STRING response: 256 bytes, strlen in UTF-8 bytes, zero after the text', () => {
      const head = '0b 00 00 00 06 10 00 00  00 00 00 00  01 00 00 80  06 00 00 00  48 c3 a9 6c 6c 6f';
      const full = new Uint8Array(256);
      full.set(bytes(head));
      const enc = encodeGetStringResponse(11, 0, 0x80000001, 'Héllo');
      assert.equal(enc.byteLength, 256);
      eqBytes(enc, Buffer.from(full).toString('hex'));
      assert.deepEqual(decoded(decodeServiceMessage(full)), { cmd: 0x1006, txid: 11, result: 0, id: 0x80000001, text: 'Héllo' });
    });

    it('GET_STRING: a text longer than 236 bytes is cut before a character that does not fit', () => {
      // 235 ASCII bytes and then 'é' (2 bytes): only the 235 fit.
      const t = utf8Truncate(`${'a'.repeat(235)}é`, 236);
      assert.equal(t.byteLength, 235);
      const enc = encodeGetStringResponse(1, 0, 0x80000000, `${'a'.repeat(235)}é`);
      assert.deepEqual([...enc.subarray(16, 20)], [235, 0, 0, 0]);
    });

    it('GET_CLOCK_DOMAIN response (domain 1), STOP response (BAD_STATE), EXT_OBSERVE response (OK)', () => {
      eqBytes(encodeI32Response(12, CMD.GET_CLOCK_DOMAIN, 1), '0c 00 00 00 07 10 00 00  01 00 00 00');
      assert.deepEqual(decoded(decodeServiceMessage(bytes('0c 00 00 00 07 10 00 00 01 00 00 00'))), { cmd: 0x1007, txid: 12, clockDomain: 1 });
      eqBytes(encodeI32Response(16, CMD.RB_STOP, STATUS.BAD_STATE), '10 00 00 00 03 30 00 00  ec ff ff ff');
      assert.deepEqual(decoded(decodeServiceMessage(bytes('10 00 00 00 03 30 00 00 ec ff ff ff'))), { cmd: 0x3003, txid: 16, result: -20 });
      eqBytes(encodeI32Response(18, CMD.EXT_OBSERVE, 0), '12 00 00 00 03 e0 00 00  00 00 00 00');
    });

    it('GET_FIFO_DEPTH response (NOT_SUPPORTED), GET_BUFFER response with its path, START response', () => {
      eqBytes(encodeResultU32Response(13, CMD.RB_GET_FIFO_DEPTH, STATUS.NOT_SUPPORTED, 0), '0d 00 00 00 00 30 00 00  fe ff ff ff  00 00 00 00');
      assert.deepEqual(decoded(decodeServiceMessage(bytes('0d 00 00 00 00 30 00 00 fe ff ff ff 00 00 00 00'))), { cmd: 0x3000, txid: 13, result: -2, fifoDepth: 0 });
      const gb = '0e 00 00 00 01 30 00 00  00 00 00 00  c0 12 00 00  2f 64 65 76 2f 73 68 6d 2f 78';
      eqBytes(encodeResultU32Response(14, CMD.RB_GET_BUFFER, 0, 4800, new TextEncoder().encode('/dev/shm/x')), gb);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(gb))), { cmd: 0x3001, txid: 14, result: 0, frames: 4800, bufferPath: '/dev/shm/x' });
      const st = '0f 00 00 00 02 30 00 00  00 00 00 00  00 00 00 00  7b 5e d0 b2 00 00 00 00';
      eqBytes(encodeResultU64Response(15, CMD.RB_START, 0, 3000000123n), st);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(st))), { cmd: 0x3002, txid: 15, result: 0, startTimeNs: 3000000123n });
    });

    it('POSITION_NOTIFY: 2.5 s, byte 19200', () => {
      const v = '00 00 00 00 00 40 00 00  00 f9 02 95 00 00 00 00  00 4b 00 00  00 00 00 00';
      eqBytes(encodePositionNotify(2500000000n, 19200), v);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(v))), { cmd: 0x4000, txid: 0, monotonicTimeNs: 2500000000n, ringBufferPos: 19200 });
    });

    it('extensions: EXT_GET_EXTERNAL_DELAY response, EXT_GAIN_CHANGED notification', () => {
      const d = '11 00 00 00 00 e0 00 00  00 00 00 00  00 00 00 00  69 cc 02 00 00 00 00 00';
      eqBytes(encodeResultU64Response(17, CMD.EXT_GET_EXTERNAL_DELAY, 0, 183401n), d);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(d))), { cmd: 0xe000, txid: 17, result: 0, externalDelayNs: 183401n });
      const g = '00 00 00 00 02 e0 00 00  00 00 00 00  00 00 28 c1  01 00 00 00  00 00 fe c2  00 00 00 00  00 00 00 3f';
      const s = { curMute: false, curAgc: false, curGain: -10.5, canMute: true, canAgc: false, minGain: -127, maxGain: 0, gainStep: 0.5 };
      eqBytes(encodeGainState(0, CMD.EXT_GAIN_CHANGED, s), g);
      assert.deepEqual(decoded(decodeServiceMessage(bytes(g))), { cmd: 0xe002, txid: 0, ...s });
    });
  });

  describe('client-side checks of what the service sends', () => {
    it('refuses a response of the wrong size, a token on a failed SET_FORMAT, and NO_ACK from the service', () => {
      assert.equal(decodeServiceMessage(bytes('01 00 00 00 02 10 00 00 00 00 00 00')).ok, false);
      const failWithToken = new Uint8Array(40);
      failWithToken.set(bytes('01 00 00 00 01 10 00 00 f6 ff ff ff'));
      assert.equal(decodeServiceMessage(failWithToken).ok, false);
      assert.equal(decodeServiceMessage(bytes('01 00 00 00 07 10 00 80 00 00 00 00')).ok, false);
    });
  });

  describe('encoder arguments', () => {
    it('names the message and field of a value the wire cannot carry', () => {
      assert.throws(() => encodeSetFormatRequest(1, { fps: 48000, sampleFormat: 4, channels: 70000 }),
        (e: unknown) => e instanceof WireEncodeError && e.message === 'SET_FORMAT.channels: expected an integer 0..65535, got 70000');
      assert.throws(() => encodeSetGainRequest(1, { flags: 4, gain: Number.NaN }), /SET_GAIN\.gain: expected a number/);
      assert.throws(() => encodeEmptyRequest(-1, CMD.GET_GAIN), /transaction_id/);
    });
  });
});
