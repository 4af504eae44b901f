/** The pcm5122 part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Pcm5122Driver } from './driver.ts';
import { Pcm5122Model } from './model.ts';

export const part: CodecPart = {
  id: 'pcm5122',
  description,
  createDriver: (ctx) => new Pcm5122Driver(ctx),
  createModel: () => new Pcm5122Model(),
};
