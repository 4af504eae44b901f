/**
 * Issue 19: a SET_GAIN is one bus write per register of a stereo pair; a fault on one of them must
 * not leave the service reporting a gain the chip does not hold. For every part with a stereo
 * main volume, a fault is injected on each register of the pair (the simulated I2C bus's fault
 * rule, src/hal/sim/i2c.ts) and the chip model's registers (its `gainCodes`, read from the model,
 * never from the driver) are checked against GET_GAIN, with the dB of each code computed from the
 * datasheet literals quoted in codecs/<part>/FACTS.md, not from the driver's tables.
 *
 * Old behaviour (before issue 19) fails: a fault that outlasts the regmap's retries on the second
 * register left the first register at the new gain while GET_GAIN reported the old one, and the
 * SET_GAIN was not retried.
 */
import assert from 'node:assert/strict';
import type { BoardRuntime } from '../../src/board/runtime.ts';
import type { ChipAnalogState } from '../../src/hal/sim/chip.ts';
import type { SimI2cBus } from '../../src/hal/sim/i2c.ts';
import type { StreamDevice } from '../../src/stream/device.ts';

/**
 * The modules under test, imported as ES modules: mocha may load this file through require(),
 * while a board's codec part is always a dynamic import() (codecs/index.ts); imported one way
 * only, the simulated bus's I2cError and the regmap's are the same class (as in `sbc-audio`).
 */
const esm = async () => ({
  ...(await import('../../src/board/load.ts')),
  ...(await import('../../src/board/runtime.ts')),
  ...(await import('../../src/stream/board-device.ts')),
  ...(await import('../../src/stream/device.ts')),
  ...(await import('../../src/stream/wire.ts')),
});
let statusForError: (e: unknown) => number;
let STATUS: { IO: number };

/** The regmap's own retries (src/codec/regmap.ts DEFAULT_RETRY: 3 more after the first). */
const ATTEMPTS_PER_WRITE = 4;

interface PartCase {
  part: string;
  board: string;
  /** The pair's registers as datasheet addresses, left then right (one address: both in one register). */
  regs: readonly number[];
  /** Which register a write message names, from its bytes (the part's wire format). */
  regOf(data: Uint8Array): number;
  /** The model's gainCodes keys, left then right. */
  keys: readonly [string, string];
  /** dB of a left/right code per the FACTS literal; 'mute' for a mute code. */
  db(code: number): number | 'mute';
  /**
   * The chip applies a pair only when the last register is written (an update latch): a left
   * register written alone does not take effect.
   */
  latched?: boolean;
  /** Two gains of the control's grid (dB), g0 quieter than g1. */
  g0: number;
  g1: number;
}

const CASES: PartCase[] = [
  // codecs/sim-codec/FACTS.md: "0x01 VOL_L | 0x00 = 0 dB ... 0.5 dB steps ... 0xFE = −127 dB, 0xFF = mute", 0x02 VOL_R.
  { part: 'sim-codec', board: 'sim', regs: [0x01, 0x02], regOf: (d) => d[0]!, keys: ['VOL_L', 'VOL_R'],
    db: (c) => (c === 0xff ? 'mute' : -0.5 * c), g0: -20, g1: -6 },
  // codecs/pcm5122/FACTS.md: "page 0 reg 61 (left) / reg 62 (right). 0x00 = +24 dB, 0x30 = 0 dB, 0xFE = −103 dB, 0xFF = mute; 0.5 dB steps".
  { part: 'pcm5122', board: 'hifiberry-dacplus-sim', regs: [61, 62], regOf: (d) => d[0]!, keys: ['DIGITAL_VOLUME_L', 'DIGITAL_VOLUME_R'],
    db: (c) => (c === 0xff ? 'mute' : 24 - 0.5 * c), g0: -20, g1: -6 },
  // codecs/cs4271/FACTS.md: "VOLA 0x04 / VOLB 0x05 [6:0]: 0 .. −127 dB, 1 dB steps; bit 7 = mute".
  { part: 'cs4271', board: 'sim-cs4271', regs: [0x04, 0x05], regOf: (d) => d[0]! & 0x7f, keys: ['VOLA', 'VOLB'],
    db: (c) => (c & 0x80 ? 'mute' : -(c & 0x7f)), g0: -20, g1: -6 },
  // codecs/tlv320aic3104/FACTS.md: "R43 (left) / R44 (right) [6:0], inverted: 0 .. −63.5 dB in 0.5 dB steps; bit 7 = mute".
  { part: 'tlv320aic3104', board: 'respeaker-2mic-v2-sim', regs: [43, 44], regOf: (d) => d[0]!, keys: ['R43', 'R44'],
    db: (c) => (c & 0x80 ? 'mute' : -0.5 * (c & 0x7f)), g0: -20, g1: -6 },
  // codecs/wm8960/FACTS.md: "R10/R11 (0x0A/0x0B) [7:0]: 0 = mute, 0x01 = −127 dB, 0xFF = 0 dB, 0.5 dB steps";
  // the 7+9-bit wire: register address in the first byte's upper seven bits.
  { part: 'wm8960', board: 'waveshare-wm8960-hat-sim', regs: [10, 11], regOf: (d) => d[0]! >> 1, keys: ['R10', 'R11'],
    db: (c) => ((c & 0xff) === 0 ? 'mute' : -127 + 0.5 * ((c & 0xff) - 1)), g0: -20, g1: -6,
    // codecs/wm8960/FACTS.md: "Volume registers: bit 8 = update latch (left and right take effect together)".
    latched: true },
  // codecs/sgtl5000/FACTS.md: "Reg 0x0010: left [7:0], right [15:8]. 0x3C = 0 dB .. 0xF0 = −90 dB in 0.5 dB steps; ≥ 0xFC = mute";
  // a 16-bit register address, big-endian on the wire. Both channels in one register: one write.
  { part: 'sgtl5000', board: 'sim-sgtl5000', regs: [0x0010], regOf: (d) => (d.length >= 2 ? (d[0]! << 8) | d[1]! : -1), keys: ['DAC_VOL_L', 'DAC_VOL_R'],
    db: (c) => (c >= 0xfc ? 'mute' : -0.5 * (c - 0x3c)), g0: -20, g1: -6 },
];

describe('SET_GAIN on a stereo pair: a fault on either register leaves the chip and GET_GAIN agreeing (issue 19)', function () {
  this.timeout(60000);

  for (const pc of CASES) {
    describe(`${pc.part} (${pc.board})`, () => {
      let rt: BoardRuntime;
      let bus: SimI2cBus;
      let dev: StreamDevice;
      let close: () => void;

      before(async () => {
        const m = await esm();
        statusForError = m.statusForError;
        STATUS = m.STATUS;
        const { loadBoard, openBoard, createBoardDevices } = m;
        const board = loadBoard(pc.board);
        assert.equal(board.codec.part, pc.part);
        rt = await openBoard(board);
        await rt.codec.probe();
        await rt.codec.init();
        bus = rt.sim!.buses.get(board.codec.bus!)!;
        assert.ok(bus, `the simulated bus ${board.codec.bus}`);
        const devices = createBoardDevices(rt);
        close = devices.close;
        dev = devices.devices.find((d) => d.info.direction === 'output')!;
        // A playing stream: the codec powered and its output no longer held muted (src/board/power.ts).
        await rt.power.streamStarting({ direction: 'output', purpose: dev.info.purpose! });
        if ((await dev.getGain()).muted) await dev.setGain({ muted: false });
      });
      after(async () => {
        close?.();
        await rt?.close();
      });
      afterEach(() => bus?.clearFaults());

      /** Left and right as the chip holds them, in dB by the datasheet. */
      const chip = (): [number | 'mute', number | 'mute'] => {
        const codes = (rt.chipModel as { analogState(): ChipAnalogState }).analogState().gainCodes;
        return [pc.db(codes[pc.keys[0]]!), pc.db(codes[pc.keys[1]]!)];
      };
      const louder = (a: number | 'mute', b: number | 'mute') => (a === 'mute' ? b : b === 'mute' ? a : Math.max(a, b));
      /** GET_GAIN equals what the registers hold (the louder channel where they differ). */
      const assertTruthful = async (what: string) => {
        const g = await dev.getGain();
        const [l, r] = chip();
        assert.equal(g.gainDb, louder(l, r), `${what}: GET_GAIN ${g.gainDb} dB, the chip holds left ${l}, right ${r}`);
        return { l, r };
      };
      const settle = async (db: number) => {
        bus.clearFaults();
        await dev.setGain({ gainDb: db });
        assert.deepEqual(chip(), [db, db], `set ${db} dB without faults`);
      };
      /** Every write of register `reg`; `failWhile(n)` decides from the count of its writes so far. */
      const faultOn = (reg: number, failWhile: (n: number) => boolean) => {
        const hits = { writes: 0, failed: 0 };
        bus.injectFaults({
          fault: 'bus-error', addr: rt.board.codec.address,
          when: (op) => {
            if (op.kind !== 'write' || !op.data || op.data.length < 2 || pc.regOf(op.data) !== reg) return false;
            const fail = failWhile(hits.writes++);
            if (fail) hits.failed++;
            return fail;
          },
        });
        return hits;
      };

      for (const [i, reg] of pc.regs.entries()) {
        const which = pc.regs.length === 1 ? 'the register of both channels' : i === 0 ? 'the left register' : 'the right register';

        it(`a lasting fault on ${which}: SET_GAIN answers IO, the chip keeps the previous pair, GET_GAIN reports it`, async () => {
          await settle(pc.g0);
          const hits = faultOn(reg, () => true);
          const e = await dev.setGain({ gainDb: pc.g1 }).then(() => undefined, (x: unknown) => x);
          assert.ok(e, 'SET_GAIN fails');
          assert.equal(statusForError(e), STATUS.IO, String(e));
          assert.ok(hits.failed >= 2 * ATTEMPTS_PER_WRITE, `the write and its retry both met the fault (${hits.failed} failed writes)`);
          bus.clearFaults();
          const { l, r } = await assertTruthful('after the fault');
          assert.deepEqual([l, r], [pc.g0, pc.g0], 'the previous pair is back');
        });

        it(`a fault on ${which} that outlasts the regmap's retries once: the driver's retry of the pair succeeds`, async () => {
          await settle(pc.g0);
          const hits = faultOn(reg, (n) => n < ATTEMPTS_PER_WRITE);
          const s = await dev.setGain({ gainDb: pc.g1 });
          assert.equal(hits.failed, ATTEMPTS_PER_WRITE, 'negative control: the fault did outlast the regmap\'s own retries');
          assert.equal(s.gainDb, pc.g1);
          const { l, r } = await assertTruthful('after the retry');
          assert.deepEqual([l, r], [pc.g1, pc.g1]);
        });
      }

      if (pc.regs.length === 2) {
        for (const [from, to] of [[pc.g0, pc.g1], [pc.g1, pc.g0]] as const) {
          it(`the pair cannot be made equal (${from} → ${to} dB; right always fails, left only after its first write): GET_GAIN reports the louder channel`, async () => {
            await settle(from);
            const [left, right] = pc.regs as [number, number];
            let leftWrites = 0;
            bus.injectFaults({
              fault: 'bus-error', addr: rt.board.codec.address,
              when: (op) => {
                if (op.kind !== 'write' || !op.data || op.data.length < 2) return false;
                const reg = pc.regOf(op.data);
                if (reg === right) return true;
                return reg === left && leftWrites++ > 0;
              },
            });
            const e = await dev.setGain({ gainDb: to }).then(() => undefined, (x: unknown) => x);
            assert.equal(statusForError(e), STATUS.IO, String(e));
            assert.match(String(e), pc.latched ? /left as it was \(its update latch was never written\)/ : /now hold/, 'the error says what the chip holds');
            bus.clearFaults();
            const { l, r } = await assertTruthful('after a failed restore');
            if (pc.latched) {
              // The left register was written, but without the latch nothing took effect: the old pair.
              assert.deepEqual([l, r], [from, from], 'the old pair is in effect');
              assert.equal((await dev.getGain()).gainDb, from);
            } else {
              assert.deepEqual([l, r], [to, from], 'negative control: left took the new gain, right kept the old one');
              assert.equal((await dev.getGain()).gainDb, Math.max(from, to));
            }
            await settle(pc.g0); // a later SET_GAIN without faults makes them equal again
            await assertTruthful('after a clean SET_GAIN');
          });
        }
      }
    });
  }
});
