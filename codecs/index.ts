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
  wm8960: async () => {
    const [{ Wm8960Driver }, { Wm8960Model }, { description }] = await Promise.all([
      import('./wm8960/driver.ts'), import('./wm8960/model.ts'), import('./wm8960/description.ts')]);
    return { id: 'wm8960', description, createDriver: (ctx) => new Wm8960Driver(ctx), createModel: () => new Wm8960Model() };
  },
  tlv320aic3104: async () => {
    const [{ Tlv320aic3104Driver }, { Tlv320aic3104Model }, { description }] = await Promise.all([
      import('./tlv320aic3104/driver.ts'), import('./tlv320aic3104/model.ts'), import('./tlv320aic3104/description.ts')]);
    return { id: 'tlv320aic3104', description, createDriver: (ctx) => new Tlv320aic3104Driver(ctx), createModel: () => new Tlv320aic3104Model() };
  },
  sgtl5000: async () => {
    const [{ Sgtl5000Driver }, { Sgtl5000Model }, { description }] = await Promise.all([
      import('./sgtl5000/driver.ts'), import('./sgtl5000/model.ts'), import('./sgtl5000/description.ts')]);
    return { id: 'sgtl5000', description, createDriver: (ctx) => new Sgtl5000Driver(ctx), createModel: () => new Sgtl5000Model() };
  },
  cs4271: async () => {
    const [{ Cs4271Driver }, { Cs4271Model }, { description }] = await Promise.all([
      import('./cs4271/driver.ts'), import('./cs4271/model.ts'), import('./cs4271/description.ts')]);
    return { id: 'cs4271', description, createDriver: (ctx) => new Cs4271Driver(ctx), createModel: () => new Cs4271Model() };
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
