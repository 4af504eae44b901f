/**
 * Behavioural model of the Maxim MAX98357A's analog side, written from the chip's facts
 * (codecs/max98357a/FACTS.md), independently of the driver. The part has no control bus
 * (FACTS.md, "Control"): the model is pins and the I2S link only, a `SimChip` and no I2C device.
 *
 *  - Output 'speaker', mono: the two link channels summed as (L+R)/2 (gains [0.5, 0.5], monoMix).
 *    Which channel the chip plays is set by the SD_MODE level on the real part; that selection is
 *    not among the facts, and the model takes the (L+R)/2 mix.
 *  - SD_MODE (FACTS.md, "Control": raised at stream start, lowered on stop) is the board line of
 *    role 'amp-enable': logical 0 = shutdown, the output silent. Where a board wires no line to it,
 *    the board ties the pin: the model takes it as tied on (the only way such a board makes sound).
 *  - Gain: the pin-set 3/6/9/12/15 dB (FACTS.md, "Gain") is an analog stage: it sets how many volts
 *    the speaker gets for digital full scale, not the level relative to digital full scale, which
 *    is what the simulation's monitor renders. So it does not enter the gains (1 per path before
 *    the mono mix).
 *  - Clocks (FACTS.md, "Formats and rates"): a bit clock must run, 16/24/32-bit words, 8-96 kHz;
 *    no MCLK.
 *  - No pop is modelled: the facts warn of none for this part.
 */
import { DETACHED_ENVIRONMENT, silent } from '../../src/hal/sim/chip.ts';
import type { ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from '../../src/hal/sim/chip.ts';

const WORD_LENGTHS = [16, 24, 32];
const MIN_RATE = 8000, MAX_RATE = 96000;

function clockCheck(link: I2sFormat | undefined): string | undefined {
  if (!link) return 'no bit clock on the I2S link';
  if (!WORD_LENGTHS.includes(link.bits)) return `word length ${link.bits}-bit not supported (16, 24 or 32)`;
  if (link.rate < MIN_RATE || link.rate > MAX_RATE) return `sample rate ${link.rate} Hz outside 8-96 kHz`;
  return undefined;
}

export class Max98357aModel implements SimChip {
  private env: ChipEnvironment = DETACHED_ENVIRONMENT;

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  takeTransients(): Transient[] {
    return [];
  }

  analogState(): ChipAnalogState {
    // undefined: SD_MODE not wired to a host line, tied on by the board (see the header).
    const shutdown = this.env.pin('amp-enable') === 0;
    return {
      power: shutdown ? 'shutdown' : 'active',
      muted: false,
      gainCodes: {},
      outputs: { speaker: shutdown ? { ...silent(2, 'shutdown (SD_MODE low)'), monoMix: true } : { gains: [0.5, 0.5], monoMix: true } },
      clockCheck,
    };
  }
}
