/**
 * PCM5122 driver: the description (./description.ts) plus the hooks the chip needs: which
 * clocking sub-sequence a board asks for (codec.options.clocking), the word length of a stream,
 * the oscillator and dividers of a stream as clock master, the DAC+ Pro detection, the LED.
 *
 * The filter: the board option codec.options.filter is the default; a run-time setting of the
 * 'DSP Program' enum (setSetting) wins over it, in the init hook that writes DSP_PROGRAM and in the
 * output latency (the group delay is the filter's in force).
 */
import type { CodecDescription } from '../../src/codec/description.ts';
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { ClockingInfo, CodecContext, FormatRange, StreamFormat } from '../../src/codec/types.ts';
import { CLOCKING_MODES, type ClockingMode, MASTER, description } from './description.ts';

const FILTERS = ['normal', 'low-latency', 'high-attenuation', 'fixed-flow', 'asymmetric'] as const;
const DSP_PROGRAM = { normal: 1, 'low-latency': 2, 'high-attenuation': 3, 'fixed-flow': 5, asymmetric: 7 } as const;

export class Pcm5122Driver extends DescribedCodec {
  private readonly clockingMode: ClockingMode;
  private readonly led: boolean;

  /** `desc`: the part's description; tests pass deliberately broken copies of it. */
  constructor(ctx: CodecContext, desc: CodecDescription = description) {
    super(desc, ctx);
    this.clockingMode = this.option('clocking', CLOCKING_MODES, CLOCKING_MODES[0]);
    const led = ctx.options.led ?? false;
    if (typeof led !== 'boolean') throw new CodecError(this.part, `board option codec.options.led must be true or false, got ${JSON.stringify(led)}`);
    this.led = led;
    this.hooks.set('filter', async () => {
      await this.map.write('DSP_PROGRAM', DSP_PROGRAM[this.filter()]);
    });
    // Reg 1 = 0x11 then 0x00 put every register back to its reset default: so does the cache.
    this.hooks.set('registers-reset', async () => this.map.resetCache());
    this.hooks.set('clocking', () => this.runSubSequence(`clocking:${this.clockingMode}`));
    this.hooks.set('detect-pro', async () => {
      if ((await this.detectPro()) === 'standard') {
        throw new CodecError(this.part, 'codec.options.clocking is "master-oscillators", but no oscillator answers on the PCM5122\'s GPIO3 ' +
          '(page 0 reg 94 bit 6 still reads 1, SCK missing, with the 24.576 MHz one selected): this is no DAC+ Pro; use "slave-bck-pll" ' +
          '(codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro)');
      }
    });
    this.hooks.set('word-length', async () => {
      const bits = this.format?.bits;
      if (bits === undefined) throw new CodecError(this.part, 'word-length: no stream format set');
      await this.map.update('I2S_FORMAT', { ALEN: String(bits) });
    });
    for (const [hook, sub] of [['led-setup', 'led:setup'], ['led-on', 'led:on'], ['led-off', 'led:off']] as const) {
      this.hooks.set(hook, async () => { if (this.led) await this.runSubSequence(sub); });
    }
  }

  /** The filter in force: the 'DSP Program' setting where one was made, else the board option (default normal). */
  filter(): (typeof FILTERS)[number] {
    const set = this.settingSet('DSP Program');
    if (set === undefined) return this.option('filter', FILTERS, 'normal');
    const name = FILTERS.find((f) => DSP_PROGRAM[f] === set);
    if (!name) {
      throw new CodecError(this.part, `DSP Program code ${set} is none of the filters the driver knows (${FILTERS.map((f) => `${f} (${DSP_PROGRAM[f]})`).join(', ')})`);
    }
    return name;
  }

  /** The output's latency mode is the filter in force (description latency.output.modes are named as the filters). */
  override latencyMode(direction: 'output' | 'input'): string | undefined {
    return direction === 'output' && this.description.latency.output ? this.filter() : super.latencyMode(direction);
  }

  clocking(): ClockingInfo {
    return this.clockingMode === 'master-oscillators'
      ? {
        mode: this.clockingMode, clockMaster: 'codec',
        detail: 'the PCM5122 drives BCK/LRCK from the 24.576 MHz (48 kHz) or 22.5792 MHz (44.1 kHz) oscillator it selects through its GPIO3/GPIO6 ' +
          '(codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro)',
      }
      : {
        mode: this.clockingMode, clockMaster: 'host',
        detail: 'the Pi drives BCK/LRCK; the PCM5122\'s PLL runs from BCK, no SCK (codecs/pcm5122/FACTS.md#bring-up-as-clock-slave)',
      };
  }

  /**
   * Whether the board is a DAC+ Pro: with GPIO3/GPIO6 driven from reg 86, page 0 reg 94 bit 6
   * (SCK missing) reads 1 with no oscillator selected and 0 once the 24.576 MHz one is. Leaves no
   * oscillator selected. (codecs/pcm5122/FACTS.md#clock-master-hifiberry-dac-pro)
   */
  async detectPro(): Promise<'pro' | 'standard'> {
    await this.runSubSequence('oscillator-gpios');
    await this.runSubSequence('oscillator:none');
    const without = await this.map.readField('CLOCK_STATUS', 'SCK_MISSING');
    await this.runSubSequence('oscillator:24.576MHz');
    const withOne = await this.map.readField('CLOCK_STATUS', 'SCK_MISSING');
    await this.runSubSequence('oscillator:none');
    return without === 1 && withOne === 0 ? 'pro' : 'standard';
  }

  /** As clock master only the rates and widths the facts give dividers for. */
  override formats(direction: 'output' | 'input'): FormatRange[] {
    if (this.clockingMode !== 'master-oscillators') return super.formats(direction);
    return direction === 'output' ? MASTER.formats.map((r) => ({ ...r })) : [];
  }

  protected override async applyFormat(fmt: StreamFormat): Promise<void> {
    await this.runSubSequence('format');
    if (this.clockingMode !== 'master-oscillators') return; // as slave the chip sets its own dividers
    const osc = MASTER.oscillatorForRate[fmt.rate];
    const div = MASTER.dividersForBits[fmt.bits];
    if (!osc || !div) throw new CodecError(this.part, `as clock master: no dividers for ${fmt.rate} Hz, ${fmt.bits}-bit among the facts (${MASTER.source})`);
    await this.runSubSequence(osc);
    await this.runSubSequence(div);
  }
}
