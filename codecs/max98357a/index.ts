/** The max98357a part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Max98357aDriver } from './driver.ts';
import { Max98357aModel } from './model.ts';

export const part: CodecPart = {
  id: 'max98357a',
  description,
  createDriver: (ctx) => new Max98357aDriver(ctx),
  createModel: () => new Max98357aModel(),
};
