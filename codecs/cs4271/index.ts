/** The cs4271 part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Cs4271Driver } from './driver.ts';
import { Cs4271Model } from './model.ts';

export const part: CodecPart = {
  id: 'cs4271',
  description,
  createDriver: (ctx) => new Cs4271Driver(ctx),
  createModel: () => new Cs4271Model(),
};
