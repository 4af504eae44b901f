/**
 * A codec part as the rest of the system loads it: `codecs/<part>/index.ts` exports `part`, and
 * `codecs/index.ts` maps each part id to a lazy import of that file, so a board pulls in only
 * its own part.
 */
import type { SimChip } from '../hal/sim/chip.ts';
import type { SimI2cDevice } from '../hal/sim/i2c-device.ts';
import type { CodecDescription } from './description.ts';
import type { CodecFactory } from './types.ts';

/** A behavioural model of the chip, written from its datasheet: an I2C device (parts with a control bus) and its analog side. */
export type ChipModel = Partial<SimI2cDevice> & Partial<SimChip>;

export interface CodecPart {
  id: string;
  description: CodecDescription;
  createDriver: CodecFactory;
  /** The chip's behavioural model for simulated boards. */
  createModel?: () => ChipModel;
}
