/** The pcm5102a part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Pcm5102aDriver } from './driver.ts';
import { Pcm5102aModel } from './model.ts';

export const part: CodecPart = {
  id: 'pcm5102a',
  description,
  createDriver: (ctx) => new Pcm5102aDriver(ctx),
  createModel: () => new Pcm5102aModel(),
};
