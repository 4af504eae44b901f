/**
 * SGTL5000 driver: the description (./description.ts) plus the hooks the chip needs: VAG cleared
 * (with its 500 ms) only where it reads on, and the power and reference sub-sequences of the
 * supplies the board names (codec.options.vddd, codec.options.vdda).
 *
 * The rule "no I2C access before MCLK runs" is the register-map layer's bus gate
 * (description.clocks.mclkBeforeBus): until the host calls setMclkRunning(true) every register
 * access fails at once, naming the rule, and nothing is sent. A board whose own oscillator feeds
 * MCLK says so in its file (codec.mclk { "from": "oscillator" }), and opening the board
 * (src/board/runtime.ts) opens the gate.
 */
import type { CodecDescription } from '../../src/codec/description.ts';
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description, VDDA_SUPPLIES, VDDD_SUPPLIES } from './description.ts';

export class Sgtl5000Driver extends DescribedCodec {
  readonly vddd: (typeof VDDD_SUPPLIES)[number] | undefined;
  readonly vdda: (typeof VDDA_SUPPLIES)[number] | undefined;

  /** `desc`: the part's description; tests pass deliberately broken copies of it. */
  constructor(ctx: CodecContext, desc: CodecDescription = description) {
    super(desc, ctx);
    this.vddd = ctx.options.vddd === undefined ? undefined : this.option('vddd', VDDD_SUPPLIES, VDDD_SUPPLIES[0]);
    this.vdda = ctx.options.vdda === undefined ? undefined : this.option('vdda', VDDA_SUPPLIES, VDDA_SUPPLIES[0]);
    this.hooks.set('vag-off', async () => {
      if ((await this.map.readField('ANA_POWER', 'VAG')) === 1) await this.runSubSequence('vag-off');
    });
    this.hooks.set('supplies', async () => {
      const missing = [['vddd', this.vddd, VDDD_SUPPLIES], ['vdda', this.vdda, VDDA_SUPPLIES]].filter(([, v]) => v === undefined);
      if (missing.length) {
        throw new CodecError(this.part, `the board file must name its supplies: ${missing.map(([k, , allowed]) => `codec.options.${k as string} (${(allowed as readonly string[]).map((x) => `"${x}"`).join(' or ')})`).join(', ')}; ` +
          'the analog power and the reference depend on them (codecs/sgtl5000/FACTS.md#bring-up, steps 4-5)');
      }
      await this.runSubSequence(`analog-power:${this.vddd}`);
      await this.runSubSequence(`reference:${this.vdda}`);
    });
  }

  protected override async applyFormat(): Promise<void> {
    await this.runSubSequence('format');
  }
}
