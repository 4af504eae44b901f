/**
 * What each HAL contract suite needs from the backend under test. The same suites run against
 * the simulated backends (tests/contract/*.test.ts), against the Linux backends inside the QEMU
 * guest (tests/hil), and on a real board.
 */
import type { Clock } from '../../src/hal/clock.ts';
import type { GpioChip, GpioValue } from '../../src/hal/gpio.ts';
import type { I2cBus } from '../../src/hal/i2c.ts';
import type { PcmBackend } from '../../src/hal/pcm.ts';

export interface I2cFixture {
  bus: I2cBus;
  /** A device that behaves as a plain register file: 256 8-bit registers that read back what was written. */
  deviceAddr: number;
  /** An address where nothing answers. */
  emptyAddr: number;
  close(): Promise<void>;
}

export interface GpioFixture {
  chip: GpioChip;
  clock: Clock;
  /** A line the outside world drives (by `drive`) and the backend requests as an input. */
  inputOffset: number;
  /** A line the backend drives and the outside world reads (by `sense`). */
  outputOffset: number;
  /** The outside world sets the electrical level on an input line. */
  drive(offset: number, level: GpioValue): Promise<void>;
  /** The outside world reads the electrical level of an output line. */
  sense(offset: number): Promise<GpioValue>;
  /**
   * Lets at least `minNs` of the fixture's clock pass (0: none) and then waits until edge events
   * caused by earlier `drive` calls have been delivered.
   */
  settle(minNs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface PcmFixture {
  backend: PcmBackend;
  playbackDevice: string;
  /** A capture device, where the backend has one. */
  captureDevice?: string;
  /** True when the device consumes frames in real time at the nominal rate (ALSA 'null' is not paced). */
  paced: boolean;
  clock: Clock;
  close(): Promise<void>;
}
