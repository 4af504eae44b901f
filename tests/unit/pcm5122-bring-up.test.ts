/**
 * The PCM5122's bring-up on its simulated twins (issue "Real chips, part 1: the PCM5122"): the
 * registers the chip model holds while a stream plays, read over the simulated bus as `sbc-audio
 * sim regs` shows them (SimControl.regs, in-process), against the facts' literal values
 * (codecs/pcm5122/FACTS.md#bring-up-as-clock-slave, codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro);
 * the register map's reset defaults against the facts' list (codecs/pcm5122/FACTS.md#reset-defaults);
 * the DAC+ Pro detection; `sbc-audio info`'s clocking mode.
 *
 * Every expected value is a literal from FACTS.md, never read from the description or the driver.
 * The services run in real time (CLOCK_MONOTONIC), as `sbc-audio serve` does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { description } from '../../codecs/pcm5122/description.ts';
import type { Pcm5122Driver } from '../../codecs/pcm5122/driver.ts';
import type { Pcm5122Model } from '../../codecs/pcm5122/model.ts';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { serveBoard, type ServedBoard } from '../../src/cli/wiring.ts';
import { StreamClient } from '../../src/stream/client.ts';
import type { RegsAnswer } from '../../src/stream/sim-control.ts';
import { STATUS } from '../../src/stream/wire.ts';

/** FACTS.md, "Reset defaults" (K pcm512x_reg_defaults), as the facts write it: [page, register(s), value]. */
const FACTS_RESET_DEFAULTS: [number, number | [number, number], number][] = [
  [0, 1, 0x00], [0, 2, 0x00], [0, 3, 0x00], [0, 7, 0x00], [0, 9, 0x00], [0, 13, 0x00], [0, 14, 0x00], [0, 16, 0x00], [0, 18, 0x00],
  [0, 12, 0x7c], [0, 19, 0x10], [0, [20, 24], 0x00], [0, [27, 30], 0x00], [0, [32, 34], 0x00], [0, 35, 0x01], [0, 36, 0x00],
  [0, 37, 0x00], [0, 40, 0x02], [0, 41, 0x00], [0, 42, 0x11], [0, 43, 0x01], [0, 44, 0x00], [0, 59, 0x00], [0, 60, 0x00],
  [0, 61, 0x30], [0, 62, 0x30], [0, 63, 0x22], [0, 64, 0x00], [0, 65, 0x07],
  [1, 1, 0x00], [1, 2, 0x00], [1, 5, 0x00], [1, 6, 0x00], [1, 7, 0x00], [1, 8, 0x00], [1, 9, 0x01],
];
/** FACTS.md, "Reset defaults": volatile registers [page, register]. */
const FACTS_VOLATILE: [number, number][] = [[0, 4], [0, 90], [0, 91], [0, 92], [0, 93], [0, 94], [0, 95], [0, 108], [0, 119], [0, 120], [44, 1]];

const expand = (at: number | [number, number]) => (typeof at === 'number' ? [at] : Array.from({ length: at[1] - at[0] + 1 }, (_, i) => at[0] + i));

describe('PCM5122 register map: the reset defaults and volatile registers are the facts\' lists', () => {
  it('the literal lists of this test are the ones FACTS.md writes (checked against its text)', () => {
    const facts = readFileSync(new URL('../../codecs/pcm5122/FACTS.md', import.meta.url), 'utf8');
    const section = facts.slice(facts.indexOf('## Reset defaults'), facts.indexOf('## Clock master'));
    const bullet = (page: string) => section.slice(section.indexOf(`- ${page}:`)).split('\n- ')[0]!.replace(/\s+/g, ' ');
    // "regs 1, 2, 3 = 0x00; 12 = 0x7C; 20–24 = 0x00; ..." → [page, reg, value]
    const parsed: [number, number, number][] = [];
    for (const [page, text] of [[0, bullet('Page 0')], [1, bullet('Page 1')]] as const) {
      for (const clause of text.replace(/^- Page \d: (regs )?/, '').split(';')) {
        const m = /^(.*)=\s*(0x[0-9A-F]+)/i.exec(clause.trim());
        if (!m) continue;
        for (const part of m[1]!.replace(/^regs /, '').split(',')) {
          const r = /(\d+)(?:\s*[–-]\s*(\d+))?/.exec(part)!;
          for (const reg of expand(r[2] ? [Number(r[1]), Number(r[2])] : Number(r[1]))) parsed.push([page, reg, Number(m[2])]);
        }
      }
    }
    const literal = FACTS_RESET_DEFAULTS.flatMap(([page, at, v]) => expand(at).map((reg) => [page, reg, v] as [number, number, number]));
    const key = (x: [number, number, number]) => `${x[0]}/${x[1]}=${x[2]}`;
    assert.deepEqual(parsed.map(key).sort(), literal.map(key).sort());
    assert.match(section, /Volatile: page 0 regs 4, 90–95, 108, 119, 120; page 44 reg 1\./);
  });

  it('every register the facts list has that reset default in the description; every other one is unknown', () => {
    const regs = description.regmap!.registers;
    const expected = new Map<number, number>();
    for (const [page, at, v] of FACTS_RESET_DEFAULTS) for (const reg of expand(at)) expected.set(page * 0x100 + reg, v);
    for (const [addr, v] of expected) {
      const r = regs.find((x) => x.addr === addr);
      assert.ok(r, `page ${addr >> 8} reg ${addr & 0xff} is declared`);
      assert.equal(r.reset, v, `${r.name} (page ${addr >> 8} reg ${addr & 0xff})`);
    }
    for (const r of regs.filter((x) => !expected.has(x.addr))) assert.equal(r.reset, 'unknown', `${r.name}: not among the facts' defaults`);
    // Negative control: the comparison sees a wrong default.
    assert.notEqual(regs.find((x) => x.addr === 40)!.reset, 0x00, 'reg 40 resets to 24-bit (0x02), not 16-bit');
  });

  it('the volatile registers are the facts\' list, and only those', () => {
    const vol = description.regmap!.registers.filter((r) => r.volatile).map((r) => r.addr).sort((a, b) => a - b);
    assert.deepEqual(vol, FACTS_VOLATILE.map(([p, r]) => p * 0x100 + r).sort((a, b) => a - b));
  });
});

/** The value the chip model holds at page 0 `reg` in a `sim regs` answer (read over the simulated bus). */
function reg(r: RegsAnswer, page: number, addr: number): number {
  const x = r.registers.find((y) => y.addr === page * 0x100 + addr);
  assert.ok(x, `page ${page} reg ${addr} in sim regs`);
  assert.equal(x.error, null, `page ${page} reg ${addr}: ${x.error}`);
  return x.read!;
}

/** Waits (real time) until the board's power is off: the service lets go of the PCM a little after the client closes. */
async function poweredDown(served: ServedBoard): Promise<void> {
  const deadline = Date.now() + 5000;
  while (served.runtime.power.state !== 'off') {
    assert.ok(Date.now() < deadline, `${served.runtime.board.name}: still ${served.runtime.power.state} 5 s after the stream closed`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a stream at `rate` and `bits`, lets it play, hands `check` the chip's registers and analog state while it plays, closes it. */
async function whilePlaying(served: ServedBoard, rate: number, bits: 16 | 32, check: (regs: RegsAnswer) => void | Promise<void>): Promise<void> {
  const board = served.runtime.board;
  const ep = served.service.endpoints.find((e) => e.name === `${board.name}.line-out`)!;
  const stream = await StreamClient.connect(ep.path);
  try {
    const f = await stream.setFormat({ fps: rate, sampleFormat: bits === 16 ? SAMPLE_FORMAT.BIT16 : SAMPLE_FORMAT.BIT32, channels: 2 });
    assert.equal(f.result, STATUS.OK, `${board.name}: SET_FORMAT ${rate} Hz ${bits}-bit`);
    const rb = await stream.openRingBuffer(f.token!);
    assert.equal((await rb.getFifoDepth()).result, STATUS.OK);
    assert.equal((await rb.getBuffer(Math.round(rate / 4), 4)).result, STATUS.OK);
    assert.equal((await rb.start()).result, STATUS.OK);
    await new Promise((r) => setTimeout(r, 200));
    const regs = await served.service.simControl!.regs();
    const st = served.runtime.analog!.state();
    assert.equal(st.outputs[0]!.clockError, undefined, `${board.name} ${rate} Hz ${bits}-bit: the chip plays the link`);
    assert.equal(st.outputs[0]!.path?.silentBecause, undefined, `${board.name}: line-out passes signal`);
    await check(regs);
    await rb.stop();
  } finally {
    await stream.close();
  }
}

describe('PCM5122 twins: the chip\'s registers while a stream plays (sim regs)', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sbc-pcm5122-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const name of ['hifiberry-dacplus-sim', 'iqaudio-dacplus-sim']) {
    it(`${name} (clock slave, PLL from BCK): 48 kHz 16-bit then 32-bit: reg 13 = 0x10, reg 37 bit 3, reg 40 [1:0] = 0 / 3, reg 9 bits 5, 4, 0 clear, reg 2 = 0x00`, async () => {
      const served = await serveBoard(name, { runtimeDir: dir });
      try {
        const model = served.runtime.chipModel as Pcm5122Model;
        for (const [bits, wordLength] of [[16, 0], [32, 3]] as const) {
          await whilePlaying(served, 48000, bits, (r) => {
            assert.equal(r.values, 'chip');
            assert.equal(reg(r, 0, 13), 0x10, 'PLL reference = BCK');
            assert.equal(reg(r, 0, 37) & 0x08, 0x08, 'ignore missing SCK');
            assert.equal(reg(r, 0, 37) & 0x02, 0x00, 'automatic dividers');
            assert.equal(reg(r, 0, 40) & 0x03, wordLength, `${bits}-bit word length`);
            assert.equal(reg(r, 0, 40) & 0x30, 0x00, 'I2S');
            assert.equal(reg(r, 0, 41), 0x00, 'no data offset');
            assert.equal(reg(r, 0, 9) & 0x31, 0x00, 'BCK/LRCK inputs, normal polarity');
            assert.equal(reg(r, 0, 12) & 0x03, 0x00, 'master dividers held in reset');
            assert.equal(reg(r, 0, 2), 0x00, 'out of standby while playing');
            assert.equal(reg(r, 0, 3), 0x00, 'unmuted');
          });
          // Negative control: between the streams the chip is back in standby (the PCM let go of the clocks).
          await poweredDown(served);
          assert.equal(model.peek(0, 2), 0x10, `${name}: standby after the ${bits}-bit stream`);
        }
        // Standby was left only with the bit clock running (the service starts the PCM before power-up).
        const left = model.writes.filter((w, i) => w.page === 0 && w.reg === 2 && w.value === 0x00 && i > 0);
        assert.ok(left.length >= 2, 'left standby for each stream');
        assert.ok(left.every((w) => w.bitClock), JSON.stringify(left));
        assert.deepEqual(served.runtime.analog!.events.filter((e) => e.what === 'transient'), []);
      } finally {
        await served.close();
      }
    });
  }

  it('hifiberry-dacplus-pro-sim (clock master): the oscillator per rate family, reg 9 / 12 / 37, no PLL, the dividers per word length', async () => {
    const served = await serveBoard('hifiberry-dacplus-pro-sim', { runtimeDir: dir });
    try {
      const model = served.runtime.chipModel as Pcm5122Model;
      const cases = [[48000, 16, 0x04, 15, 31, 0], [48000, 32, 0x04, 7, 63, 3], [44100, 16, 0x20, 15, 31, 0]] as const;
      for (const [rate, bits, osc, bckDiv, lrckDiv, wordLength] of cases) {
        await whilePlaying(served, rate, bits, (r) => {
          const what = `${rate} Hz ${bits}-bit`;
          assert.equal(reg(r, 0, 8) & 0x24, 0x24, 'GPIO3 and GPIO6 outputs');
          assert.equal(reg(r, 0, 82) & 0x0f, 0x02, 'GPIO3 from a register');
          assert.equal(reg(r, 0, 85) & 0x0f, 0x02, 'GPIO6 from a register');
          assert.equal(reg(r, 0, 86) & 0x24, osc, `${what}: oscillator ${osc === 0x04 ? '24.576' : '22.5792'} MHz`);
          assert.equal(reg(r, 0, 9) & 0x31, 0x11, 'BCK and LRCK outputs');
          assert.equal(reg(r, 0, 12) & 0x03, 0x03, 'master dividers running');
          assert.equal(reg(r, 0, 37), 0x7b, 'ignore clock errors, manual dividers');
          assert.equal(reg(r, 0, 4) & 0x01, 0x00, 'PLL off');
          assert.equal(reg(r, 0, 14), 0x30, 'DAC clock from SCK');
          assert.deepEqual([27, 28, 29, 30, 32, 33, 34, 35, 36].map((a) => reg(r, 0, a)), [0, 3, 3, 7, bckDiv, lrckDiv, 0, 0x02, 0x00], `${what}: dividers`);
          assert.equal(reg(r, 0, 19) & 0x01, 0x00, 'clocks resumed');
          assert.equal(reg(r, 0, 40) & 0x03, wordLength, `${what}: word length`);
          assert.equal(reg(r, 0, 2), 0x00, 'out of standby while playing');
          assert.equal(reg(r, 0, 94) & 0x40, 0x00, 'SCK present');
          assert.equal(reg(r, 0, 8) & 0x08, 0x08, 'GPIO4 (LED) an output');
          assert.equal(reg(r, 0, 83), 0x02, 'GPIO4 from a register');
          assert.equal(reg(r, 0, 86) & 0x08, 0x08, 'LED on while playing');
          assert.equal(model.led, true);
        });
        await poweredDown(served);
        assert.equal(model.peek(0, 2), 0x10, 'standby between streams');
        assert.equal(model.led, false, 'LED off after power-down');
      }
      assert.deepEqual(served.runtime.analog!.events.filter((e) => e.what === 'transient'), []);
    } finally {
      await served.close();
    }
  });

  it('hifiberry-dacplus-pro-sim refuses the formats it has no dividers for (24-bit, 96 kHz)', async () => {
    const served = await serveBoard('hifiberry-dacplus-pro-sim', { runtimeDir: dir });
    try {
      const ep = served.service.endpoints.find((e) => e.name === 'hifiberry-dacplus-pro-sim.line-out')!;
      const stream = await StreamClient.connect(ep.path);
      try {
        assert.notEqual((await stream.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT24_IN32, channels: 2 })).result, STATUS.OK);
        assert.notEqual((await stream.setFormat({ fps: 96000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 })).result, STATUS.OK);
        assert.equal((await stream.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 })).result, STATUS.OK, 'control');
      } finally {
        await stream.close();
      }
    } finally {
      await served.close();
    }
  });
});

describe('DAC+ Pro detection (page 0 reg 94 bit 6)', () => {
  const open = async (name: string, oscillatorsHz?: number[]) => {
    const b = loadBoard(name);
    return openBoard(oscillatorsHz ? { ...b, sim: { ...b.sim, oscillatorsHz } } : b);
  };

  it('the Pro twin (both oscillators fitted) detects as "pro"; with none fitted, "standard", and its init refuses master mode', async () => {
    const pro = await open('hifiberry-dacplus-pro-sim');
    try {
      await pro.codec.probe();
      assert.equal(await (pro.codec as Pcm5122Driver).detectPro(), 'pro');
    } finally {
      await pro.close();
    }
    const bare = await open('hifiberry-dacplus-pro-sim', []);
    try {
      await bare.codec.probe();
      assert.equal(await (bare.codec as Pcm5122Driver).detectPro(), 'standard');
      await assert.rejects(bare.codec.init(), /clocking is "master-oscillators", but no oscillator answers .* this is no DAC\+ Pro; use "slave-bck-pll"/);
    } finally {
      await bare.close();
    }
  });

  it('the DAC+ standard twin (no oscillators) detects as "standard"', async () => {
    const std = await open('hifiberry-dacplus-sim');
    try {
      await std.codec.init();
      assert.equal(await (std.codec as Pcm5122Driver).detectPro(), 'standard');
    } finally {
      await std.close();
    }
  });
});

describe('sbc-audio info: the clocking mode of each PCM5122 board', () => {
  async function info(board: string) {
    const out: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: () => {}, isTTY: false };
    assert.equal(await main(['info', '--board', board, '--json'], io), 0);
    const text: string[] = [];
    assert.equal(await main(['info', '--board', board], { ...io, out: (t) => text.push(t) }), 0);
    return { json: JSON.parse(out.join('\n')) as { clocking: { mode: string; clockMaster: string } | null }, text: text.join('\n') };
  }

  for (const [board, mode, master] of [
    ['hifiberry-dacplus', 'slave-bck-pll', 'host'], ['iqaudio-dacplus', 'slave-bck-pll', 'host'], ['hifiberry-dacplus-pro', 'master-oscillators', 'codec'],
    ['hifiberry-dacplus-sim', 'slave-bck-pll', 'host'], ['hifiberry-dacplus-pro-sim', 'master-oscillators', 'codec'],
  ] as const) {
    it(`${board}: ${mode}`, async () => {
      const r = await info(board);
      assert.equal(r.json.clocking?.mode, mode);
      assert.equal(r.json.clocking?.clockMaster, master);
      assert.match(r.text, new RegExp(`^Clocking: ${mode} \\(clock master: the ${master}\\)`, 'm'));
    });
  }

  it('a part whose driver sets up no clocking mode says so (sim)', async () => {
    const r = await info('sim');
    assert.equal(r.json.clocking, null);
    assert.match(r.text, /^Clocking: not set up by the sim-codec driver/m);
  });
});
