/**
 * The codec parts this project knows: part id (the folder name) → driver factory and, for the
 * simulated bus, the part's behavioural model. Loaded lazily so a board pulls in only its part.
 * A part folder holds description.ts (the data), driver.ts (the hooks) and, for parts with a
 * control bus, model.ts (written from the datasheet, never from the driver's tables).
 */
import type { CodecDescription } from '../src/codec/description.ts';
import type { CodecFactory } from '../src/codec/types.ts';
import type { SimI2cDevice } from '../src/hal/sim/i2c-device.ts';

export interface CodecPart {
  id: string;
  description: CodecDescription;
  createDriver: CodecFactory;
  /** A behavioural model for the simulated I2C bus (parts with a control bus). */
  createModel?: () => SimI2cDevice;
}

export const CODEC_PARTS: Record<string, () => Promise<CodecPart>> = {
  'sim-codec': async () => {
    const [{ SimCodecDriver }, { SimCodecModel }, { description }] = await Promise.all([
      import('./sim-codec/driver.ts'), import('./sim-codec/model.ts'), import('./sim-codec/description.ts')]);
    return { id: 'sim-codec', description, createDriver: (ctx) => new SimCodecDriver(ctx), createModel: () => new SimCodecModel() };
  },
  pcm5122: async () => {
    const [{ Pcm5122Driver }, { Pcm5122Model }, { description }] = await Promise.all([
      import('./pcm5122/driver.ts'), import('./pcm5122/model.ts'), import('./pcm5122/description.ts')]);
    return { id: 'pcm5122', description, createDriver: (ctx) => new Pcm5122Driver(ctx), createModel: () => new Pcm5122Model() };
  },
  pcm5102a: async () => {
    const [{ Pcm5102aDriver }, { description }] = await Promise.all([import('./pcm5102a/driver.ts'), import('./pcm5102a/description.ts')]);
    return { id: 'pcm5102a', description, createDriver: (ctx) => new Pcm5102aDriver(ctx) };
  },
  max98357a: async () => {
    const [{ Max98357aDriver }, { description }] = await Promise.all([import('./max98357a/driver.ts'), import('./max98357a/description.ts')]);
    return { id: 'max98357a', description, createDriver: (ctx) => new Max98357aDriver(ctx) };
  },
};

export async function loadCodecPart(part: string): Promise<CodecPart> {
  const load = CODEC_PARTS[part];
  if (!load) throw new Error(`unknown codec part "${part}" (known: ${Object.keys(CODEC_PARTS).join(', ')})`);
  return load();
}
