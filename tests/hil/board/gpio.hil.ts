/**
 * Board-agnostic GPIO checks: the HAL contract on the real character-device backend, with the
 * outside world played by gpio-sim (guest) or by libgpiod's tools on wired-back lines (board),
 * and libgpiod's gpioinfo seeing our requests.
 */
import assert from 'node:assert/strict';
import { gpioContract } from '../../contract/gpio.contract.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { LinuxGpioChip, openLinuxGpioChip } from '../../../src/hal/linux/gpio.ts';
import { hilEnv } from '../env.ts';
import { gpioPeerFor, run } from '../peers.ts';

const env = hilEnv();
const gpio = env.gpio;
// Edges travel kernel -> event thread -> event loop; under QEMU's emulation that takes a few ms.
const SETTLE_NS = 100e6;

if (gpio && gpioPeerFor(env)) {
  gpioContract(`Linux GPIO uAPI v2 /dev/${gpio.chip} against ${gpioPeerFor(env)!.description}`, async () => {
    const chip = new LinuxGpioChip(`/dev/${gpio.chip}`);
    const peer = gpioPeerFor(env)!;
    const clock = monotonicClock();
    return {
      chip, clock, inputOffset: gpio.input, outputOffset: gpio.output,
      drive: (offset, level) => peer.drive(offset, level),
      sense: (offset) => peer.sense(offset),
      settle: (minNs = 0) => clock.sleepUntilNs(clock.nowNs() + Math.max(minNs, SETTLE_NS)),
      async close() { await peer.close(); await chip.close(); },
    };
  });
}

describe('GPIO chip lookup and libgpiod agreeing with our backend', function () {
  before(function () { if (!gpio) this.skip(); }); // reason: the environment names no GPIO lines to test

  it('opens the chip by device name, by path and by label, with the same info', async function () {
    const byName = openLinuxGpioChip(gpio!.chip);
    const byPath = openLinuxGpioChip(`/dev/${gpio!.chip}`);
    try {
      assert.equal(byName.info().name, gpio!.chip);
      assert.deepEqual(byPath.info(), byName.info());
      if (gpio!.lines !== undefined) assert.equal(byName.info().lines, gpio!.lines);
      const label = gpio!.label ?? byName.info().label;
      const byLabel = openLinuxGpioChip(label);
      assert.equal(byLabel.info().name, gpio!.chip);
      await byLabel.close();
    } finally {
      await byName.close();
      await byPath.close();
    }
  });

  it('finds the named lines at their offsets', async function () {
    if (gpio!.names.size === 0) this.skip(); // reason: no named lines on this chip
    const chip = openLinuxGpioChip(gpio!.chip);
    try {
      for (const [name, offset] of gpio!.names) assert.equal(chip.findLine(name), offset, name);
    } finally {
      await chip.close();
    }
  });

  it('shows our consumer name and direction to gpioinfo while we hold a line', async function () {
    const chip = openLinuxGpioChip(gpio!.chip);
    const req = await chip.requestLines([gpio!.output], { direction: 'output', initial: 0 }, 'sbc-hil-probe');
    try {
      const info = await run('gpioinfo', [gpio!.chip]);
      const line = info.split('\n').find((l) => new RegExp(`line\\s+${gpio!.output}:`).test(l));
      assert.ok(line, info);
      assert.match(line, /"sbc-hil-probe"/);
      assert.match(line, /output/);
    } finally {
      await req.release();
      await chip.close();
    }
    const again = openLinuxGpioChip(gpio!.chip);
    assert.equal(again.lineInfo(gpio!.output).used, false);
    await again.close();
  });
});
