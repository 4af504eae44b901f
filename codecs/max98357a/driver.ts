/** MAX98357A driver: the description is the whole driver (SD_MODE sequences); only the gain-pin check is code. */
import { CodecError, DescribedCodec } from '../../src/codec/driver.ts';
import type { CodecContext } from '../../src/codec/types.ts';
import { description } from './description.ts';

const GAIN_PIN_DB = [3, 6, 9, 12, 15]; // codecs/max98357a/FACTS.md: gain pin-set 3/6/9/12/15 dB

export class Max98357aDriver extends DescribedCodec {
  constructor(ctx: CodecContext) {
    super(description, ctx);
    const g = ctx.options.gainDb;
    if (g !== undefined && !GAIN_PIN_DB.includes(g as number)) {
      throw new CodecError(this.part, `board option codec.options.gainDb must be one of ${GAIN_PIN_DB.join(', ')} dB (the GAIN pin settings), got ${JSON.stringify(g)}`);
    }
  }
}
