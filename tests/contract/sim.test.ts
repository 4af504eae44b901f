/** The HAL contract suites against the simulated backends. */
import { RegisterFileDevice, SimGpioChip, SimHal, SimI2cBus, VirtualClock, flushMicrotasks } from '../../src/hal/sim/index.ts';
import { gpioContract } from './gpio.contract.ts';
import { i2cContract } from './i2c.contract.ts';
import { pcmContract } from './pcm.contract.ts';

for (const smbusOnly of [false, true]) {
  i2cContract(`simulated bus${smbusOnly ? ' (SMBus-only, like i2c-stub)' : ''}`, async () => {
    const bus = new SimI2cBus(1, new VirtualClock(), { smbusOnly });
    bus.attach(0x50, new RegisterFileDevice());
    return { bus, deviceAddr: 0x50, emptyAddr: 0x51, close: () => bus.close() };
  });
}

gpioContract('simulated chip on a virtual clock', async () => {
  const clock = new VirtualClock();
  const chip = new SimGpioChip('sim-gpio0', clock);
  return {
    chip, clock, inputOffset: 5, outputOffset: 6,
    async drive(offset, level) {
      chip.drive(offset, level);
      clock.advanceBy(1000); // a driven edge takes a little time, as on real hardware
    },
    async sense(offset) { return chip.sense(offset); },
    async settle(minNs = 0) {
      await clock.runUntil(clock.nowNs() + minNs);
      await flushMicrotasks();
    },
    close: () => chip.close(),
  };
});

pcmContract('simulated PCM on a virtual clock', async () => {
  const hal = new SimHal({ clock: new VirtualClock(1e9, true) });
  return { backend: hal.pcm, playbackDevice: 'sim:0,0', captureDevice: 'sim:0,2', paced: true, clock: hal.clock, close: () => hal.close() };
});
