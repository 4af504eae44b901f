/**
 * The simulated HAL: a simulated I2C bus per bus number, simulated GPIO chips created on demand,
 * simulated PCM devices, a simulated MIDI sequencer, on a real or virtual clock. Everything here is
 * a simulation and says so in its names ('sim-i2c-1', 'sim-gpio (…)', PCM backend kind 'sim',
 * SimMidiSequencer).
 */
import type { Clock } from '../clock.ts';
import type { Hal } from '../index.ts';
import { VirtualClock } from './clock.ts';
import { SimGpioChip } from './gpio.ts';
import { SimI2cBus, type SimI2cBusOptions } from './i2c.ts';
import { createAdcGate, createI2sLink } from './i2s-link.ts';
import { SimMidiSequencer } from './midi.ts';
import { SimPcmBackend } from './pcm.ts';

export { VirtualClock, flushMicrotasks } from './clock.ts';
export { SimGpioChip } from './gpio.ts';
export { SimI2cBus } from './i2c.ts';
export { SimMidiInputPort, SimMidiSequencer, SimMidiSource } from './midi.ts';
export { RegisterFileDevice, type SimI2cDevice } from './i2c-device.ts';
export { AnalogSimulation, type AnalogEvent, type MonitoredOutput } from './analog.ts';
export type { ChipAnalogState, ChipEnvironment, I2sFormat, SimChip, Transient } from './chip.ts';
export { SimPcmBackend, SimPcmRecord, type SimCaptureSource, type SimCaptureSourceInPlace } from './pcm.ts';

export interface SimHalOptions {
  clock?: Clock;
  i2c?: SimI2cBusOptions;
}

export class SimHal implements Hal {
  readonly kind = 'sim' as const;
  readonly clock: Clock;
  readonly pcm: SimPcmBackend;
  readonly buses = new Map<number, SimI2cBus>();
  readonly chips = new Map<string, SimGpioChip>();
  /** The I2S link of each playback PCM a simulated chip listens to (./i2s-link.ts). */
  readonly i2sLinks = new Map<string, SharedArrayBuffer>();
  /** The ADC gate of each capture PCM a simulated chip's input path feeds (./i2s-link.ts). */
  readonly adcGates = new Map<string, SharedArrayBuffer>();
  private sequencer: SimMidiSequencer | undefined;

  constructor(private readonly opts: SimHalOptions = {}) {
    this.clock = opts.clock ?? new VirtualClock(1e9, true);
    this.pcm = new SimPcmBackend(this.clock, { i2sLink: (device) => this.i2sLinks.get(device), adcGate: (device) => this.adcGates.get(device) });
  }

  simBus(n: number): SimI2cBus {
    let b = this.buses.get(n);
    if (!b) {
      b = new SimI2cBus(n, this.clock, this.opts.i2c);
      this.buses.set(n, b);
    }
    return b;
  }

  /** The I2S link of a playback PCM (created on first use): a simulated chip listens on it. */
  i2sLink(device: string): SharedArrayBuffer {
    let l = this.i2sLinks.get(device);
    if (!l) {
      l = createI2sLink();
      this.i2sLinks.set(device, l);
    }
    return l;
  }

  /** The ADC gate of a capture PCM (created on first use). */
  adcGate(device: string): SharedArrayBuffer {
    let g = this.adcGates.get(device);
    if (!g) {
      g = createAdcGate();
      this.adcGates.set(device, g);
    }
    return g;
  }

  simChip(name: string): SimGpioChip {
    let c = this.chips.get(name);
    if (!c) {
      c = new SimGpioChip(name, this.clock);
      this.chips.set(name, c);
    }
    return c;
  }

  async i2cBus(n: number) {
    return this.simBus(n);
  }

  async gpioChip(name: string) {
    return this.simChip(name);
  }

  /** The simulated MIDI sequencer (./midi.ts): one per SimHal (a new one after it was closed). */
  simMidi(): SimMidiSequencer {
    if (!this.sequencer || this.sequencer.closed) this.sequencer = new SimMidiSequencer(this.clock);
    return this.sequencer;
  }

  async midi(): Promise<SimMidiSequencer> {
    return this.simMidi();
  }

  async close(): Promise<void> {
    if (this.sequencer) await this.sequencer.close();
    for (const b of this.buses.values()) await b.close();
    for (const c of this.chips.values()) await c.close();
  }
}

export function createSimHal(opts: SimHalOptions = {}): SimHal {
  return new SimHal(opts);
}
