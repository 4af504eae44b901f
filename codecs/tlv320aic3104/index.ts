/** The tlv320aic3104 part: its description (the data), its driver (the hooks) and its chip model. */
import type { CodecPart } from '../../src/codec/part.ts';
import { description } from './description.ts';
import { Tlv320aic3104Driver } from './driver.ts';
import { Tlv320aic3104Model } from './model.ts';

export const part: CodecPart = {
  id: 'tlv320aic3104',
  description,
  createDriver: (ctx) => new Tlv320aic3104Driver(ctx),
  createModel: () => new Tlv320aic3104Model(),
};
