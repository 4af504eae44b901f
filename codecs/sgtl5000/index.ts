/** The sgtl5000 part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Sgtl5000Driver } from './driver.ts';
import { Sgtl5000Model } from './model.ts';

export const part: CodecPart = {
  id: 'sgtl5000',
  description,
  createDriver: (ctx) => new Sgtl5000Driver(ctx),
  createModel: () => new Sgtl5000Model(),
};
