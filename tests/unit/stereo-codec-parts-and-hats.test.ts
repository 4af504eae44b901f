/**
 * The stereo codec parts (WM8960, TLV320AIC3104, SGTL5000, CS4271) pass `codec check`, which also
 * rejects the malformed descriptions in tests/fixtures/codecs; the Waveshare WM8960 HAT and the
 * ReSpeaker 2-Mic v2 board files and their simulated twins: GPIO, streams, formats, the WM8960
 * HAT's DAC mute, and the external delay.
 */
import { strict as assert } from 'node:assert';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import { checkCodecDir, codecCommand } from '../../src/cli/commands/codec.ts';
import { externalDelay } from '../../src/board/latency.ts';
import { VirtualClock } from '../../src/hal/sim/clock.ts';

const PARTS = ['wm8960', 'tlv320aic3104', 'sgtl5000', 'cs4271'];

describe('sbc-audio codec check: the WM8960, TLV320AIC3104, SGTL5000 and CS4271 parts', () => {
  for (const part of PARTS) {
    it(`accepts codecs/${part}`, async () => {
      assert.deepEqual((await checkCodecDir(`codecs/${part}`)).problems, []);
    });
  }

  it('prints OK for each and exits 0', async () => {
    const out: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(`ERR ${s}`), isTTY: false };
    assert.equal(await codecCommand.run(['check', ...PARTS.map((p) => `codecs/${p}`)], io), 0);
    assert.deepEqual(out, [
      'codecs/wm8960: OK (WM8960 stereo codec: 48 registers, 5 controls, 4 format ranges)',
      'codecs/tlv320aic3104: OK (TLV320AIC3104 stereo codec: 24 registers, 3 controls, 4 format ranges)',
      'codecs/sgtl5000: OK (SGTL5000 stereo codec: 20 registers, 2 controls, 1 format ranges)',
      'codecs/cs4271: OK (CS4271 stereo codec: 8 registers, 1 controls, 2 format ranges)',
    ]);
  });
});

describe('sbc-audio codec check: rejects muting a control that cannot mute, unknowns without a why, formats of unknown widths', () => {
  const FIX = 'tests/fixtures/codecs';
  const broken: [string, string][] = [
    ['mute-control-cannot-mute', 'sequences.powerDown[0]: control "Volume" cannot mute (no mute code or mute bit)'],
    ['unknown-codes-without-why', 'controls[0] (Volume): unknownCodes[0] must say why those codes are unknown'],
    ['unknown-step-without-why', 'sequences.powerUp[0]: an unknown step must say what it would do and why it is unknown'],
    ['widths-unknown-with-formats', 'formats[0]: sample formats must be 0 when they are unknown (the board supplies them)'],
  ];
  for (const [dir, message] of broken) {
    it(`rejects ${dir} with one message`, async () => {
      assert.deepEqual((await checkCodecDir(`${FIX}/${dir}`)).problems.map((p) => `${p.where}: ${p.message}`), [message]);
    });
  }
});

describe('boards: Waveshare WM8960 HAT and ReSpeaker 2-Mic v2, with simulated twins', () => {
  const BOARDS: [string, string, number][] = [
    ['waveshare-wm8960-hat', 'wm8960', 0x1a],
    ['respeaker-2mic-v2', 'tlv320aic3104', 0x18],
  ];
  for (const [name, part, address] of BOARDS) {
    it(`${name}: ${part} at 0x${address.toString(16)} on bus 1, with a simulated twin`, () => {
      const real = loadBoard(name);
      assert.equal(real.hal, 'linux');
      assert.equal(real.codec.part, part);
      assert.equal(real.codec.bus, 1);
      assert.equal(real.codec.address, address);
      const twin = loadBoard(`${name}-sim`);
      assert.equal(twin.hal, 'sim');
      assert.equal(twin.twinOf, name);
      assert.equal(twin.codec.part, part);
      assert.equal(twin.codec.address, address);
      assert.deepEqual(twin.gpio, real.gpio);
      assert.deepEqual(twin.streams.map((s) => [s.id, s.direction, s.purpose, s.plug]), real.streams.map((s) => [s.id, s.direction, s.purpose, s.plug]));
    });
  }

  it('the WM8960 HAT has no headphone detect (not in the overlay) and no amplifier line: headphone, speaker and microphone streams, hardwired, no GPIO', () => {
    const b = loadBoard('waveshare-wm8960-hat');
    assert.deepEqual(b.gpio, {});
    assert.deepEqual(b.streams.map((s) => [s.id, s.direction, s.purpose, s.plug]), [
      ['headphone', 'output', 'headphone', 'hardwired'], ['speaker', 'output', 'speaker', 'hardwired'], ['microphone', 'input', 'microphone', 'hardwired'],
    ]);
    // One I2S link: every stream on the card's one PCM device.
    assert.deepEqual([...new Set(b.streams.map((s) => s.pcm))], ['hw:CARD=sbci2sduplex,DEV=0']);
  });

  it('the ReSpeaker 2-Mic v2 has a headphone output and the microphones, no GPIO', () => {
    const b = loadBoard('respeaker-2mic-v2');
    assert.deepEqual(b.gpio, {});
    assert.deepEqual(b.streams.map((s) => [s.id, s.direction, s.purpose]), [['headphone', 'output', 'headphone'], ['microphones', 'input', 'microphone']]);
  });

  // `tone` on the two simulated twins: tests/unit/boards-codecs.test.ts runs it on every simulated board.

  it('the WM8960 HAT and its twin offer S16, S20, S24, S32 stereo at 48 kHz both ways, with no stand-in width', async () => {
    for (const name of ['waveshare-wm8960-hat', 'waveshare-wm8960-hat-sim']) {
      const b = loadBoard(name);
      assert.equal(b.codec.options.sampleBits, undefined, `${name}: no codec.options.sampleBits`);
      const rt = await openBoard({ ...b, hal: 'sim' }, { clock: new VirtualClock(1e9, true) });
      try {
        for (const dir of ['output', 'input'] as const) {
          // src/audio/formats.ts: BIT16 1<<2, BIT20_IN32 1<<6, BIT24_IN32 1<<7, BIT32 1<<8; FPS_48000_FAMILY 2.
          assert.deepEqual(rt.codec.formats(dir), [{ sampleFormats: 4 | 64 | 128 | 256, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 2 }], `${name} ${dir}`);
        }
      } finally {
        await rt.close();
      }
    }
  });

  it('the ReSpeaker and its twin offer S16, S20_3, S24_3, S24, S32 stereo at 48 kHz both ways (the facts\' clocking: 24.576 MHz, Q = 4), with no stand-in width', async () => {
    for (const name of ['respeaker-2mic-v2', 'respeaker-2mic-v2-sim']) {
      const b = loadBoard(name);
      assert.equal(b.codec.options.sampleBits, undefined, `${name}: no codec.options.sampleBits`);
      assert.deepEqual(b.codec.mclk && { hz: b.codec.mclk.hz, from: b.codec.mclk.from }, { hz: 24576000, from: 'oscillator' }, `${name}: the board's 24.576 MHz`);
      // The real board's codec on the simulated HAL: what it offers does not depend on the bus.
      const rt = await openBoard({ ...b, hal: 'sim' }, { clock: new VirtualClock(1e9, true) });
      try {
        for (const dir of ['output', 'input'] as const) {
          // src/audio/formats.ts: BIT16 1<<2, BIT20_PACKED 1<<4, BIT24_PACKED 1<<5, BIT24_IN32 1<<7, BIT32 1<<8; FPS_48000_FAMILY 2.
          assert.deepEqual(rt.codec.formats(dir), [{ sampleFormats: 4 | 16 | 32 | 128 | 256, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: 2 }], `${name} ${dir}`);
        }
        await assert.rejects(rt.codec.setFormat({ rate: 44100, channels: 2, bits: 16 }), /48000 Hz only/);
      } finally {
        await rt.close();
      }
    }
    assert.equal(loadBoard('respeaker-2mic-v2-sim').sim.hostClock, 'consumer', 'the twin\'s host takes its clocks from the codec');
  });

  it('waveshare-wm8960-hat-sim: the DAC is muted (0x00) until power-up and after power-down, never read', async () => {
    const rt = await openBoard(loadBoard('waveshare-wm8960-hat-sim'), { clock: new VirtualClock(1e9, true) });
    try {
      const model = rt.sim!.simBus(1).device(0x1a) as unknown as { dac(): unknown; readAttempts: number };
      await rt.codec.probe();
      await rt.codec.init();
      assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
      await rt.codec.powerUp();
      assert.deepEqual(model.dac(), { left: 0, right: 0 });
      await rt.codec.powerDown();
      assert.deepEqual(model.dac(), { left: 'mute', right: 'mute' });
      assert.equal(model.readAttempts, 0);
    } finally {
      await rt.close();
    }
  });

  it('external delay: respeaker-2mic-v2 DAC 21/fs = 437,500 ns and ADC 17/fs = 354,167 ns at 48 kHz; the WM8960 HAT unknown', async () => {
    for (const [name, dir, ns, frames] of [['respeaker-2mic-v2-sim', 'output', 437500, 21], ['respeaker-2mic-v2-sim', 'input', 354167, 17]] as const) {
      const board = loadBoard(name);
      const rt = await openBoard(board, { clock: new VirtualClock(1e9, true) });
      try {
        const d = externalDelay(board, rt.codec, dir, 48000);
        assert.equal(Math.round(d.totalNs), ns);
        assert.equal(d.totalFrames, frames);
        assert.deepEqual(d.unknown, []);
      } finally {
        await rt.close();
      }
    }
    const board = loadBoard('waveshare-wm8960-hat-sim');
    const rt = await openBoard(board, { clock: new VirtualClock(1e9, true) });
    try {
      const d = externalDelay(board, rt.codec, 'output', 48000);
      assert.equal(d.totalNs, 0);
      assert.equal(d.unknown.length, 1);
    } finally {
      await rt.close();
    }
  });
});
