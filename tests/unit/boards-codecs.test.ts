import { strict as assert } from 'node:assert';
import { listBoardNames, loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import { playTone } from '../../src/cli/commands/tone.ts';
import { externalDelay } from '../../src/board/latency.ts';
import { VirtualClock } from '../../src/hal/sim/clock.ts';

const BOARDS: [string, string, number | undefined][] = [
  ['hifiberry-dacplus', 'pcm5122', 0x4d],
  ['hifiberry-dacplus-pro', 'pcm5122', 0x4d],
  ['iqaudio-dacplus', 'pcm5122', 0x4c],
  ['pimoroni-phat-dac', 'pcm5102a', undefined],
  ['adafruit-max98357', 'max98357a', undefined],
];

describe('boards: codec HATs and their simulated twins', () => {
  for (const [name, part, address] of BOARDS) {
    it(`${name}: ${part}${address ? ` at 0x${address.toString(16)}` : ''}, with a simulated twin`, () => {
      const real = loadBoard(name);
      assert.equal(real.hal, 'linux');
      assert.equal(real.codec.part, part);
      assert.equal(real.codec.address, address);
      const twin = loadBoard(`${name}-sim`);
      assert.equal(twin.hal, 'sim');
      assert.equal(twin.twinOf, name);
      assert.equal(twin.codec.part, part);
      assert.equal(twin.codec.address, address);
      assert.deepEqual(twin.gpio, real.gpio);
    });
  }

  it('IQaudio DAC+ mutes its amplifier on GPIO22; the Adafruit board has SD_MODE on GPIO4', () => {
    assert.equal(loadBoard('iqaudio-dacplus').gpio.mute?.line, 22);
    assert.equal(loadBoard('adafruit-max98357').gpio['amp-enable']?.line, 4);
  });

  // Every simulated board in board/ (the sim board, every twin): the whole stack end to end.
  for (const name of listBoardNames().filter((n) => loadBoard(n).hal === 'sim')) {
    it(`tone runs end to end on ${name}`, async () => {
      const board = loadBoard(name);
      const stream = board.streams.find((s) => s.direction === 'output')!;
      const r = await playTone({ boardName: name, streamId: stream.id, rate: 48000, freq: 1000, seconds: 0.05, level: -6 });
      assert.equal(r.framesWritten, 2400);
      assert.equal(r.framesPlayed, 2400);
      assert.equal(r.xruns, 0);
      assert.ok(Math.abs(r.peakDbfs! - -6) < 0.1, `peak ${r.peakDbfs}`);
    });
  }

  it('iqaudio-dacplus-sim: the amplifier is unmuted after power-up and muted after power-down (GPIO22, electrically)', async () => {
    const rt = await openBoard(loadBoard('iqaudio-dacplus-sim'), { clock: new VirtualClock(1e9, true) });
    try {
      const chip = rt.sim!.simChip('gpiochip0');
      await rt.codec.probe();
      await rt.codec.init();
      assert.equal(chip.sense(22), 0, 'muted (active-low) at init');
      // The amplifier's mute is the board's line (the PCM5122 does not claim it): the board's power drives it.
      await rt.power.powerUp();
      assert.equal(chip.sense(22), 1);
      await rt.power.powerDown();
      assert.equal(chip.sense(22), 0);
    } finally {
      await rt.close();
    }
  });

  it('adafruit-max98357-sim: SD_MODE high only between power-up and power-down', async () => {
    const rt = await openBoard(loadBoard('adafruit-max98357-sim'), { clock: new VirtualClock(1e9, true) });
    try {
      const chip = rt.sim!.simChip('gpiochip0');
      await rt.codec.init();
      assert.equal(chip.sense(4), 0);
      await rt.codec.powerUp();
      assert.equal(chip.sense(4), 1);
      await rt.codec.powerDown();
      assert.equal(chip.sense(4), 0);
    } finally {
      await rt.close();
    }
  });
});

describe('external delay (info)', () => {
  async function delay(name: string, rate: number) {
    const board = loadBoard(name);
    const rt = await openBoard(board, { clock: new VirtualClock(1e9, true) });
    try {
      return externalDelay(board, rt.codec, 'output', rate);
    } finally {
      await rt.close();
    }
  }

  it('hifiberry-dacplus: 20 frames of PCM5122 normal-filter group delay, 416,667 ns at 48 kHz', async () => {
    const d = await delay('hifiberry-dacplus-sim', 48000);
    assert.equal(d.items.length, 1);
    assert.equal(d.items[0]!.frames, 20);
    assert.equal(Math.round(d.totalNs), 416667);
    assert.equal(d.totalFrames, 20);
    assert.deepEqual(d.unknown, []);
    assert.match(d.items[0]!.source, /TI-5122/);
  });

  it('pimoroni-phat-dac and adafruit-max98357: unknown, and said so', async () => {
    for (const name of ['pimoroni-phat-dac-sim', 'adafruit-max98357-sim']) {
      const d = await delay(name, 48000);
      assert.equal(d.totalNs, 0);
      assert.equal(d.unknown.length, 1);
      assert.equal(d.items[0]!.ns, null);
    }
  });

  it('sim: codec filter plus the board analog delay', async () => {
    const d = await delay('sim', 48000);
    assert.deepEqual(d.items.map((i) => Math.round(i.ns!)), [166667, 2000]);
  });
});
