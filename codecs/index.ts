/**
 * The codec parts this project knows: part id (the folder name) → a lazy import of the part's
 * `index.ts`, which exports `part` (src/codec/part.ts). A part folder holds description.ts (the
 * data), driver.ts (the hooks), model.ts (the chip written from its datasheet, never from the
 * driver's tables) and FACTS.md (the facts all three cite).
 */
import type { CodecPart } from '../src/codec/part.ts';

export type { CodecPart } from '../src/codec/part.ts';

export const CODEC_PARTS: Readonly<Record<string, () => Promise<CodecPart>>> = {
  'sim-codec': async () => (await import('./sim-codec/index.ts')).part,
  pcm5122: async () => (await import('./pcm5122/index.ts')).part,
  pcm5102a: async () => (await import('./pcm5102a/index.ts')).part,
  wm8960: async () => (await import('./wm8960/index.ts')).part,
  tlv320aic3104: async () => (await import('./tlv320aic3104/index.ts')).part,
  sgtl5000: async () => (await import('./sgtl5000/index.ts')).part,
  cs4271: async () => (await import('./cs4271/index.ts')).part,
  max98357a: async () => (await import('./max98357a/index.ts')).part,
};

/** Codec parts loaded in this process (a board opens its part once: tests count it). */
export const partLoads = { count: 0 };

export async function loadCodecPart(part: string): Promise<CodecPart> {
  const load = Object.hasOwn(CODEC_PARTS, part) ? CODEC_PARTS[part] : undefined;
  if (!load) throw new Error(`unknown codec part "${part}" (known: ${Object.keys(CODEC_PARTS).join(', ')})`);
  partLoads.count++;
  return load();
}
