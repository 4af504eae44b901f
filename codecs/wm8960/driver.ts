/**
 * WM8960 driver: the description (./description.ts) plus the hooks the chip needs: the register
 * cache back to the reset defaults after the software reset, the clocking sub-sequence the board
 * asks for (codec.options.clocking), the word length of a stream (R7), and the rate the clocking
 * makes (the formats it offers).
 *
 * The chip cannot be read over I2C, so the layer serves every read from its cache (the register
 * map says `readable: false`) and there is no identity to probe: a missing chip shows as no
 * acknowledge on init's first write. The paths (headphone, speaker, microphone) are powered as
 * the board's running streams ask (`setPathsInUse`, src/codec/driver.ts).
 */
import type { CodecDescription } from '../../src/codec/description.ts';
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { ClockingInfo, CodecContext, FormatRange, StreamFormat } from '../../src/codec/types.ts';
import { CLOCKING_MODES, CLOCKING_RATE, type ClockingMode, description } from './description.ts';

export class Wm8960Driver extends DescribedCodec {
  readonly clockingMode: ClockingMode;

  /** `desc`: the part's description; tests pass deliberately broken copies of it. */
  constructor(ctx: CodecContext, desc: CodecDescription = description) {
    super(desc, ctx);
    if (ctx.options.pll !== undefined) {
      throw new CodecError(this.part, `board option codec.options.pll is no longer read: say codec.options.clocking = "pll-24m" (a 24 MHz clock through the PLL) ` +
        `or "mclk-12m288" (a 12.288 MHz MCLK, no PLL) instead (codecs/wm8960/FACTS.md#pll-from-a-24-mhz-clock), got pll = ${JSON.stringify(ctx.options.pll)}`);
    }
    this.clockingMode = this.option('clocking', CLOCKING_MODES, CLOCKING_MODES[0]);
    // R15 put every register back to its reset default: so does the cache.
    this.hooks.set('registers-reset', async () => this.map.resetCache());
    this.hooks.set('clocking', () => this.runSubSequence(`clocking:${this.clockingMode}`));
    this.hooks.set('clocking-off', () => this.runSubSequence(`clocking-off:${this.clockingMode}`));
    this.hooks.set('word-length', async () => {
      const bits = this.format?.bits;
      if (bits === undefined) throw new CodecError(this.part, 'word-length: no stream format set');
      await this.map.update('AUDIO_IFACE', { FORMAT: 'I2S', MS: 'slave', WL: String(bits) }, true);
    });
  }

  clocking(): ClockingInfo {
    const r = CLOCKING_RATE[this.clockingMode];
    const how = this.clockingMode === 'pll-24m'
      ? 'SYSCLK from a 24 MHz clock through the WM8960\'s PLL (R52-R55, R26 bit 0, 250 ms lock, R4 = 0x049; the values derived for 48 kHz: codecs/wm8960/FACTS.md#pll-from-a-24-mhz-clock)'
      : 'SYSCLK = the 12.288 MHz MCLK, undivided (R4 = 0x000, 256fs: codecs/wm8960/FACTS.md#bring-up-on-the-waveshare-hat)';
    return {
      mode: this.clockingMode, clockMaster: 'host',
      detail: `the Pi drives BCLK/LRCLK (the WM8960 is an I2S slave, R7 bit 6 = 0); ${how}: ${r.rate} Hz only. ` +
        'Which clock the HAT has is a conflict in the facts (docs/facts/boards.md#clock-masters): not verified on hardware',
    };
  }

  /** The chip's ranges narrowed to the one rate the board's clocking makes (CLOCKING_RATE), for playback and capture alike. */
  override formats(direction: 'output' | 'input'): FormatRange[] {
    const rate = CLOCKING_RATE[this.clockingMode].rate;
    return super.formats(direction)
      .filter((r) => r.minFps <= rate && rate <= r.maxFps)
      .map((r) => ({ ...r, minFps: rate, maxFps: rate }));
  }

  override async setFormat(fmt: StreamFormat): Promise<void> {
    const r = CLOCKING_RATE[this.clockingMode];
    if (fmt.rate !== r.rate) {
      throw new CodecError(this.part, `${fmt.rate} Hz: with codec.options.clocking "${this.clockingMode}" the WM8960 runs at ${r.rate} Hz only (${r.source})`);
    }
    await super.setFormat(fmt);
  }

  protected override async applyFormat(_fmt: StreamFormat): Promise<void> {
    await this.runSubSequence('format');
  }
}
