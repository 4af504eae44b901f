/** The wm8960 part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Wm8960Driver } from './driver.ts';
import { Wm8960Model } from './model.ts';

export const part: CodecPart = {
  id: 'wm8960',
  description,
  createDriver: (ctx) => new Wm8960Driver(ctx),
  createModel: () => new Wm8960Model(),
};
