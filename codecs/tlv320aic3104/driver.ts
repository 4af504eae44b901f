/**
 * TLV320AIC3104 driver: the description (./description.ts) plus the hooks the chip needs: the
 * register cache back to the reset defaults after the soft reset, the word length of a stream
 * (R9), the output common mode a board names (R40), and the one rate the facts' clocking makes.
 *
 * The codec is the I2S clock master on the ReSpeaker 2-Mic v2 (the Pi is the clock consumer): its
 * clocks are set up in setFormat (the description's `format` sub-sequence), which the stream
 * service, `tone` and `run` call before the host's PCM starts.
 */
import { rangeHasRate } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { ClockingInfo, CodecContext, FormatRange, StreamFormat } from '../../src/codec/types.ts';
import { CLOCKING, description, OUTPUT_COMMON_MODES } from './description.ts';

export class Tlv320aic3104Driver extends DescribedCodec {
  /** codec.options.outputCommonMode, or undefined where the board does not name it (reg 40 stays at reset). */
  readonly outputCommonMode: (typeof OUTPUT_COMMON_MODES)[number] | undefined;

  /** `desc`: the part's description; tests pass deliberately broken copies of it. */
  constructor(ctx: CodecContext, desc: CodecDescription = description) {
    super(desc, ctx);
    this.outputCommonMode = ctx.options.outputCommonMode === undefined ? undefined : this.option('outputCommonMode', OUTPUT_COMMON_MODES, OUTPUT_COMMON_MODES[0]);
    // Reg 1 = 0x80 put every register back to its reset default: so does the cache.
    this.hooks.set('registers-reset', async () => this.map.resetCache());
    this.hooks.set('word-length', async () => {
      const bits = this.format?.bits;
      if (bits === undefined) throw new CodecError(this.part, 'word-length: no stream format set');
      await this.map.update('IFACE_B', { FORMAT: 'I2S', WL: String(bits) }, true);
    });
    this.hooks.set('output-common-mode', () => this.runSubSequence(`output-common-mode:${this.outputCommonMode ?? 'unknown'}`));
  }

  clocking(): ClockingInfo {
    return {
      mode: CLOCKING.mode, clockMaster: 'codec',
      detail: 'the TLV320AIC3104 drives BCLK/WCLK (reg 8 = 0xC0) from the board\'s 24.576 MHz MCLK, PLL off, Q = 4 (reg 3 = 0x20): ' +
        `fsref ${CLOCKING.rate} Hz only (codecs/tlv320aic3104/FACTS.md#bring-up-on-the-respeaker-2-mic-v2); set up at SET_FORMAT, before the Pi's PCM starts`,
    };
  }

  /** The chip's ranges narrowed to the one rate the facts' clocking makes (CLOCKING), for playback and capture alike. */
  override formats(direction: 'output' | 'input'): FormatRange[] {
    return super.formats(direction)
      .filter((r) => rangeHasRate(r, CLOCKING.rate))
      .map((r) => ({ ...r, minFps: CLOCKING.rate, maxFps: CLOCKING.rate }));
  }

  override async setFormat(fmt: StreamFormat): Promise<void> {
    if (fmt.rate !== CLOCKING.rate) {
      throw new CodecError(this.part, `${fmt.rate} Hz: as clock master from a 24.576 MHz MCLK the TLV320AIC3104 runs at ${CLOCKING.rate} Hz only (${CLOCKING.source})`);
    }
    await super.setFormat(fmt);
  }

  protected override async applyFormat(_fmt: StreamFormat): Promise<void> {
    await this.runSubSequence('format');
  }
}
