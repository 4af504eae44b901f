/**
 * Behavioural model of the stand-in "sim-codec" (a made-up part for the sim board, not a real
 * chip). Register map, as its one-page "datasheet" (this comment) defines it:
 *   0x00 CHIP_ID   read-only, reads 0x5A
 *   0x01 VOL_L     0x00 = 0 dB ... 0.5 dB steps ... 0xFE = -127 dB, 0xFF = mute (reset 0xFF)
 *   0x02 VOL_R     as VOL_L
 *   0x03 POWER     bit0 = DAC on, bit1 = ADC on (reset 0)
 *   0x04 FORMAT    bits[1:0] word length: 0 = 16, 1 = 20, 2 = 24, 3 = 32 bits (reset 0)
 *   0x05 RATE      sample rate / 1000, rounded (reset 48)
 *   0x06 DAC_CTRL  bit0 SOFT_MUTE: 1 = both DAC channels muted; bits[2:1] FILTER: the DAC's
 *                  interpolation filter, 0 = sharp, 1 = slow, 2 = low-latency, 3 = reserved
 *                  (reset 0x00: unmuted, sharp)
 *   0x07           no register (reads 0, writes ignored)
 * Register pointer: 3 bits, auto-increments and wraps from 0x07 to 0x00.
 * Analog side:
 *   Outputs        'speaker' and 'headphone', both fed by the DAC at the same gain (VOL_L on the
 *                  left channel, VOL_R on the right); no analog gain stage of their own.
 *   Input          'mic', into the ADC at 0 dB (no capture gain); it carries with POWER.ADC = 1.
 *   DAC plays      only with POWER.DAC = 1, a bit clock on the I2S link, FORMAT.WLEN matching the
 *                  link's word length (mismatch = clock error "word length ...") and RATE equal to
 *                  the link rate / 1000, rounded (mismatch = clock error "sample rate ...").
 *                  The ADC needs the same link.
 *   Volume         per channel: VOL_x = 0xFF mutes that channel only.
 *   Soft mute      DAC_CTRL.SOFT_MUTE = 1: both outputs carry silence, whatever VOL_L / VOL_R say.
 *   Filter         DAC_CTRL.FILTER changes the response's shape only: the level at the outputs is
 *                  the same with each filter (this model carries levels, not filter shapes).
 *   Pop            setting POWER.DAC 0 -> 1 while no bit clock runs puts a pop of amplitude 0.5
 *                  (of full scale) on both outputs: power the DAC once the bit clock runs.
 * (Also in codecs/sim-codec/FACTS.md, "Analog side"; this comment is the definition.)
 */
import { DETACHED_ENVIRONMENT, dbToLinear, silent } from '../../src/hal/sim/chip.ts';
import type { AnalogPath, ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from '../../src/hal/sim/chip.ts';
import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';

const VOL_L = 0x01, VOL_R = 0x02, POWER = 0x03, FORMAT = 0x04, RATE = 0x05, DAC_CTRL = 0x06;
/** Header: 0x07 is no register. */
const NO_REGISTER = 0x07;
const POWER_DAC = 1 << 0, POWER_ADC = 1 << 1;
const DAC_CTRL_SOFT_MUTE = 1 << 0;
const MUTE_CODE = 0xff;
/** FORMAT.WLEN code → word length (header: 0 = 16, 1 = 20, 2 = 24, 3 = 32). */
const WLEN_BITS = [16, 20, 24, 32] as const;
const OUTPUTS = ['speaker', 'headphone'] as const;
const POP_AMPLITUDE = 0.5;

/** Linear gain of a volume code (header: 0x00 = 0 dB, -0.5 dB per step, 0xFF = mute). */
function volumeGain(code: number): number {
  return code === MUTE_CODE ? 0 : dbToLinear(-0.5 * code);
}

export class SimCodecModel extends PointerRegisterDevice implements SimChip {
  /** 0x00..0x07: the 3-bit register pointer's range (0x07 is no register). */
  readonly regs = new Uint8Array(8);
  private env: ChipEnvironment = DETACHED_ENVIRONMENT;
  private transients: Transient[] = [];

  constructor() {
    super(0x07);
    this.reset();
  }

  reset(): void {
    // CHIP_ID, VOL_L, VOL_R, POWER, FORMAT, RATE, DAC_CTRL, (no register)
    this.regs.set([0x5a, 0xff, 0xff, 0x00, 0x00, 48, 0x00, 0]);
  }

  protected store(reg: number, value: number): void {
    if (reg === 0x00 || reg === NO_REGISTER) return; // CHIP_ID is read-only; 0x07 is no register
    if (reg === POWER && !(this.regs[POWER]! & POWER_DAC) && value & POWER_DAC && this.env.link() === undefined) {
      const atNs = this.env.nowNs();
      for (const output of OUTPUTS) {
        this.transients.push({ atNs, output, amplitude: POP_AMPLITUDE, why: 'DAC powered up before the bit clock ran (POWER.DAC 0 -> 1 with no bit clock)' });
      }
    }
    this.regs[reg] = value;
  }

  protected load(reg: number): number {
    return this.regs[reg]!;
  }

  attachEnvironment(env: ChipEnvironment): void {
    this.env = env;
  }

  takeTransients(): Transient[] {
    const t = this.transients;
    this.transients = [];
    return t;
  }

  analogState(): ChipAnalogState {
    const power = this.regs[POWER]!, volL = this.regs[VOL_L]!, volR = this.regs[VOL_R]!;
    const wlen = this.regs[FORMAT]! & 0x03, rateK = this.regs[RATE]!;
    const dacOn = (power & POWER_DAC) !== 0, adcOn = (power & POWER_ADC) !== 0;
    const softMuted = (this.regs[DAC_CTRL]! & DAC_CTRL_SOFT_MUTE) !== 0;
    const muted = softMuted || (volL === MUTE_CODE && volR === MUTE_CODE);

    let dac: AnalogPath;
    if (!dacOn) dac = silent(2, 'DAC powered down (POWER.DAC = 0)');
    else if (softMuted) dac = silent(2, 'soft-muted (DAC_CTRL.SOFT_MUTE = 1)');
    else if (muted) dac = silent(2, 'muted (VOL_L = VOL_R = 0xFF)');
    else dac = { gains: [volumeGain(volL), volumeGain(volR)] };
    const mic: AnalogPath = adcOn ? { gains: [1, 1] } : silent(2, 'ADC powered down (POWER.ADC = 0)');

    const powerText = dacOn && adcOn ? 'DAC and ADC on' : dacOn ? 'DAC on' : adcOn ? 'ADC on' : 'powered down';
    const bits = WLEN_BITS[wlen]!;
    return {
      power: powerText,
      muted,
      gainCodes: { VOL_L: volL, VOL_R: volR },
      outputs: { speaker: dac, headphone: dac },
      inputs: { mic },
      // The registers as they are now, not when the simulation asks.
      clockCheck: (link: I2sFormat | undefined) => {
        if (!link) return 'no bit clock on the I2S link';
        if (link.bits !== bits) return `word length: FORMAT.WLEN = ${wlen} (${bits}-bit) but the link carries ${link.bits}-bit words`;
        if (Math.round(link.rate / 1000) !== rateK) return `sample rate: RATE = ${rateK} but the link runs at ${link.rate} Hz (RATE ${Math.round(link.rate / 1000)})`;
        return undefined;
      },
    };
  }
}
