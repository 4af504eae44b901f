/**
 * The codec parts this project knows: part id (the folder name) → driver factory and, for the
 * simulated bus, the part's behavioural model. Loaded lazily so a board pulls in only its part.
 */
import type { CodecFactory } from '../src/codec/types.ts';
import type { SimI2cDevice } from '../src/hal/sim/i2c-device.ts';

export interface CodecPart {
  id: string;
  createDriver: CodecFactory;
  /** A behavioural model for the simulated I2C bus (parts with a control bus). */
  createModel?: () => SimI2cDevice;
}

export const CODEC_PARTS: Record<string, () => Promise<CodecPart>> = {
  'sim-codec': async () => {
    const [{ SimCodecDriver }, { SimCodecModel }] = await Promise.all([import('./sim-codec/driver.ts'), import('./sim-codec/model.ts')]);
    return { id: 'sim-codec', createDriver: (ctx) => new SimCodecDriver(ctx), createModel: () => new SimCodecModel() };
  },
};

export async function loadCodecPart(part: string): Promise<CodecPart> {
  const load = CODEC_PARTS[part];
  if (!load) throw new Error(`unknown codec part "${part}" (known: ${Object.keys(CODEC_PARTS).join(', ')})`);
  return load();
}
