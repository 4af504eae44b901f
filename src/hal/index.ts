/**
 * The hardware abstraction: one object per board that hands out the board's buses, GPIO chips,
 * PCM devices and clock. `createLinuxHal` (real kernel interfaces through koffi) and
 * `createSimHal` (simulations, named as such) build it.
 */
import type { Clock } from './clock.ts';
import type { GpioChip } from './gpio.ts';
import type { I2cBus } from './i2c.ts';
import type { MidiSequencer } from './midi.ts';
import type { PcmBackend } from './pcm.ts';

export * from './clock.ts';
export * from './gpio.ts';
export * from './i2c.ts';
export * from './midi.ts';
export * from './pcm.ts';

export interface Hal {
  /** 'linux' for the real backends, 'sim' for the simulated ones. */
  readonly kind: 'linux' | 'sim';
  readonly clock: Clock;
  /** Opens bus N (/dev/i2c-N on Linux). The same bus object is returned for the same N. */
  i2cBus(bus: number): Promise<I2cBus>;
  /** Opens a GPIO chip by device name ('gpiochip0'), path or label. */
  gpioChip(chip: string): Promise<GpioChip>;
  readonly pcm: PcmBackend;
  /**
   * The MIDI sequencer (the ALSA sequencer on Linux, a simulated one on the sim HAL): the same
   * object on every call until it is closed. MidiError when there is none (Linux: no /dev/snd/seq).
   */
  midi(): Promise<MidiSequencer>;
  close(): Promise<void>;
}
