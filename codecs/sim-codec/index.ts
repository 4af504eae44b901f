/** The sim-codec part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { SimCodecDriver } from './driver.ts';
import { SimCodecModel } from './model.ts';

export const part: CodecPart = {
  id: 'sim-codec',
  description,
  createDriver: (ctx) => new SimCodecDriver(ctx),
  createModel: () => new SimCodecModel(),
};
