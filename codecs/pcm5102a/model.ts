/**
 * Behavioural model of the TI PCM5102A's analog side, written from the chip's facts
 * (codecs/pcm5102a/FACTS.md), independently of the driver. The part has no control bus
 * (FACTS.md, "Pins"): the model is pins and the I2S link only, a `SimChip` and no I2C device.
 *
 *  - Output 'line-out' (stereo), at digital full scale: the chip has no volume of its own, so a
 *    playing channel has gain 1.
 *  - XSMT (FACTS.md, "Pins": low = soft mute) is the board line of role 'mute', logical 1 = soft
 *    mute (the board file carries the pin's polarity). Where the board wires no line to XSMT, the
 *    board ties the pin (the Pimoroni pHAT DAC wires no GPIO to its pins: FACTS.md, "Boards"); the
 *    model then takes it as tied to "play", since that is the only way such a board makes sound.
 *  - Clocks (FACTS.md, "Clocks": slave only, the host provides the bit and frame clocks; "Formats
 *    and rates": 8-192 kHz): a bit clock must run, at 8-192 kHz, with 16-, 24- or 32-bit words.
 *    The word lengths are not in FACTS.md yet: they are the Linux driver's format list
 *    (K pcm5102a.c: S16_LE, S24_LE, S32_LE), to be added there.
 *  - No pop is modelled: the facts warn of none for this part.
 * Not modelled: FMT (which level selects which format is not among the facts; the model assumes
 * the board's FMT matches the I2S link), FLT and DEMP (filter and de-emphasis, not the level).
 */
import { DETACHED_ENVIRONMENT, silent } from '../../src/hal/sim/chip.ts';
import type { ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from '../../src/hal/sim/chip.ts';

const WORD_LENGTHS = [16, 24, 32];
const MIN_RATE = 8000, MAX_RATE = 192000;

function clockCheck(link: I2sFormat | undefined): string | undefined {
  if (!link) return 'no bit clock: the host drives no BCK/LRCK (the PCM5102A is slave only)';
  if (!WORD_LENGTHS.includes(link.bits)) return `word length ${link.bits}-bit not supported (16, 24 or 32)`;
  if (link.rate < MIN_RATE || link.rate > MAX_RATE) return `sample rate ${link.rate} Hz outside 8-192 kHz`;
  return undefined;
}

export class Pcm5102aModel implements SimChip {
  private env: ChipEnvironment = DETACHED_ENVIRONMENT;

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  takeTransients(): Transient[] {
    return [];
  }

  analogState(): ChipAnalogState {
    // undefined: XSMT not wired to a host line, tied by the board to play (see the header).
    const muted = this.env.pin('mute') === 1;
    return {
      power: 'powered',
      muted,
      gainCodes: {},
      outputs: { 'line-out': muted ? silent(2, 'soft mute (XSMT low)') : { gains: [1, 1] } },
      clockCheck,
    };
  }
}
