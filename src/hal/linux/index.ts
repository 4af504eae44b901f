/**
 * The Linux HAL: real kernel interfaces through koffi. I2C buses on /dev/i2c-N, GPIO chips on
 * /dev/gpiochipN (uAPI v2), PCM and the MIDI sequencer through libasound, time from CLOCK_MONOTONIC.
 *
 * The libasound binding (./alsa/) is reached only through this module: the rest of the tree opens
 * ALSA PCMs with `createLinuxPcmBackend()` (or `LinuxHal.pcm`) and the ALSA sequencer with
 * `LinuxHal.midi()`; only the binding's own tests and
 * benches import ./alsa/ directly (the dependency walls in eslint.config.js enforce it).
 */
import type { Hal } from '../index.ts';
import type { GpioChip } from '../gpio.ts';
import type { I2cBus } from '../i2c.ts';
import type { LoopbackBackend } from '../loopback.ts';
import type { MidiSequencer } from '../midi.ts';
import type { PcmBackend, PcmRequest, PcmStream } from '../pcm.ts';
// Static on purpose: libasound.so.2 itself is loaded on the first midi() call (asound() is lazy), and
// a dynamic import() here would give callers loaded through a CommonJS hook (mocha with tsx) a
// second instance of src/hal/midi.ts and ../fd-ready.ts: `instanceof MidiError` would fail.
import { AlsaSequencer } from './alsa/seq.ts';
import { monotonicClock } from './clock.ts';
import { LinuxGpioChip, openLinuxGpioChip } from './gpio.ts';
import { LinuxI2cBus } from './i2c.ts';

export { LinuxGpioChip, LinuxGpioLineRequest, openLinuxGpioChip } from './gpio.ts';
export { LinuxI2cBus, openLinuxI2cBus } from './i2c.ts';
export { MonotonicClock, monotonicClock } from './clock.ts';

/**
 * libasound is loaded on first use only, so that I2C/GPIO-only programs (and boards without
 * alsa-lib) never load it.
 */
class LazyAlsaPcmBackend implements PcmBackend {
  readonly kind = 'alsa';
  private backend: Promise<PcmBackend> | undefined;

  open(device: string, request: PcmRequest): Promise<PcmStream> {
    this.backend ??= import('./alsa/pcm-backend.ts').then((m) => new m.AlsaPcmBackend());
    return this.backend.then((b) => b.open(device, request));
  }
}

/** The PCM backend on libasound (AlsaPcmBackend, src/hal/linux/alsa/), loaded on the first open. */
export function createLinuxPcmBackend(): PcmBackend {
  return new LazyAlsaPcmBackend();
}

/** The loopback card's controls (snd-aloop, src/hal/loopback.ts) through libasound, loaded on first use. */
export async function createLinuxLoopbackBackend(): Promise<LoopbackBackend> {
  const m = await import('./alsa/loopback-card.ts');
  return new m.AlsaLoopbackBackend();
}

export class LinuxHal implements Hal {
  readonly kind = 'linux' as const;
  readonly clock = monotonicClock();
  readonly pcm: PcmBackend = createLinuxPcmBackend();
  private readonly buses = new Map<number, LinuxI2cBus>();
  private readonly chips = new Set<GpioChip>();
  private sequencer: AlsaSequencer | undefined;

  async i2cBus(bus: number): Promise<I2cBus> {
    let b = this.buses.get(bus);
    if (!b) {
      b = new LinuxI2cBus(bus);
      this.buses.set(bus, b);
    }
    return b;
  }

  async gpioChip(chip: string): Promise<GpioChip> {
    const c: LinuxGpioChip = openLinuxGpioChip(chip);
    this.chips.add(c);
    return c;
  }

  /**
   * The ALSA sequencer, one object per LinuxHal (a new one after it was closed). libasound is
   * loaded here, not before. MidiError "no ALSA sequencer (/dev/snd/seq): modprobe snd-seq" when
   * it cannot be opened; a later call tries again.
   */
  async midi(): Promise<MidiSequencer> {
    if (!this.sequencer || this.sequencer.closed) {
      const clock = this.clock;
      this.sequencer = AlsaSequencer.open(() => clock.nowNs());
    }
    return this.sequencer;
  }

  async close(): Promise<void> {
    const seq = this.sequencer;
    this.sequencer = undefined;
    if (seq) await seq.close();
    for (const b of this.buses.values()) await b.close();
    this.buses.clear();
    for (const c of this.chips) await c.close();
    this.chips.clear();
  }
}

export function createLinuxHal(): Hal {
  return new LinuxHal();
}
