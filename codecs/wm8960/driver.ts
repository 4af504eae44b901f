/**
 * WM8960 driver: the description (./description.ts) plus its one hook, the PLL lock wait.
 *
 * The chip cannot be read over I2C, so the layer serves every read from its cache (the register
 * map says `readable: false`) and there is no identity to probe: a missing chip shows as no
 * acknowledge on init's first write.
 */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

const PLL_LOCK_SOURCE = 'codecs/wm8960/FACTS.md: PLL lock 250 ms';

export class Wm8960Driver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
    this.usesPll(); // a bad option fails when the board opens, not at power-up
    this.hooks.set('pll', async () => {
      if (!this.usesPll()) return;
      await this.runStep('powerUp', { op: 'unknown', what: 'configure and enable the PLL', why: 'the PLL registers are not among the collected facts (codecs/wm8960/FACTS.md)' });
      await this.runStep('powerUp', { op: 'delay', ms: 250, source: PLL_LOCK_SOURCE, why: 'PLL lock' });
    });
  }

  /** codec.options.pll: the board clocks the codec from its PLL. */
  usesPll(): boolean {
    const v = this.ctx.options.pll;
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw new CodecError(this.part, `board option codec.options.pll must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
}
