/**
 * The board's power (src/board/power.ts) on a virtual clock: the codec powers up before the
 * amplifier comes on, idles muted with the amplifier off after the last stream stops, and powers
 * down only after the idle delay (ASoC's pmdown_time: 5000 ms by default), or at once when the
 * clocks are about to stop. Through the service, START is answered only after the power-up waits.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BoardPower } from '../../src/board/power.ts';
import { serveBoard } from '../../src/cli/wiring.ts';
import type { CodecDriver } from '../../src/codec/types.ts';
import type { GpioLineRequest, GpioValue } from '../../src/hal/gpio.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { playSamples, toneSamples } from '../../src/stream/player.ts';

function fakeBoard() {
  const log: string[] = [];
  const codec = {
    powerUp: async () => { log.push('codec up'); },
    powerDown: async () => { log.push('codec down'); },
    holdOutputMuted: async (held: boolean) => { log.push(held ? 'codec held muted' : 'codec released'); },
  } as unknown as CodecDriver;
  const line = (name: string): GpioLineRequest => ({
    offsets: [0], getValue: () => 0, setValue: (_o: number, v: GpioValue) => { log.push(`${name}=${v}`); },
    onEdge: () => () => {}, release: async () => {},
  }) as unknown as GpioLineRequest;
  return { log, codec, enable: { request: line('amp-enable'), offset: 0 }, mute: { request: line('mute'), offset: 0 } };
}

describe('board power: amplifier around the codec, idle power-down', () => {
  it('up: codec first, amplifier last; last stop: amplifier off, codec held muted; down only after the idle delay', async () => {
    const clock = new VirtualClock();
    const b = fakeBoard();
    const power = new BoardPower(b.codec, clock, { enable: b.enable, mute: b.mute });
    assert.equal(power.idleMs, 5000);
    await power.streamStarting();
    assert.deepEqual(b.log, ['codec up', 'mute=0', 'amp-enable=1']);
    await power.streamStarting(); // a second stream: nothing more
    await power.streamStopped();
    assert.equal(power.state, 'on', 'one stream still runs');
    b.log.length = 0;
    await power.streamStopped();
    assert.deepEqual(b.log, ['amp-enable=0', 'mute=1', 'codec held muted']);
    assert.equal(power.state, 'idle');
    await clock.runUntil(clock.nowNs() + 4999e6);
    assert.equal(power.state, 'idle', 'not before the idle delay');
    await clock.runUntil(clock.nowNs() + 2e6);
    assert.equal(power.state, 'off');
    assert.equal(b.log[b.log.length - 1], 'codec down');
  });

  it('a stream starting while idle releases the mute without powering up again', async () => {
    const clock = new VirtualClock();
    const b = fakeBoard();
    const power = new BoardPower(b.codec, clock, { enable: b.enable }, { idleMs: 100 });
    await power.streamStarting();
    await power.streamStopped();
    b.log.length = 0;
    await power.streamStarting();
    assert.deepEqual(b.log, ['codec released', 'amp-enable=1']);
    await clock.runUntil(clock.nowNs() + 1e9);
    assert.equal(power.state, 'on', 'the idle timer was cancelled');
  });

  it('paths: the codec is told the running streams\' purposes, before its power-up, as streams join and leave, and after the amplifier on the last stop', async () => {
    const clock = new VirtualClock();
    const b = fakeBoard();
    const codec = Object.assign(b.codec, {
      setPathsInUse: async (p: { output: readonly string[]; input: readonly string[] }) => { b.log.push(`paths ${p.output.join('+') || '-'} / ${p.input.join('+') || '-'}`); },
    });
    const hp = { direction: 'output', purpose: 'headphone' } as const;
    const mic = { direction: 'input', purpose: 'microphone' } as const;
    const power = new BoardPower(codec, clock, { enable: b.enable }, { paths: [hp, { direction: 'output', purpose: 'speaker' }, mic] });
    await power.streamStarting(hp);
    assert.deepEqual(b.log, ['paths headphone / -', 'codec up', 'amp-enable=1']);
    b.log.length = 0;
    await power.streamStarting(mic);
    await power.streamStarting(hp); // a second headphone stream: the same path
    assert.deepEqual(b.log, ['paths headphone / microphone', 'paths headphone / microphone']);
    b.log.length = 0;
    await power.streamStopped(hp);
    assert.deepEqual(b.log, ['paths headphone / microphone'], 'one headphone stream still runs');
    await power.streamStopped(hp);
    await power.streamStopped(mic);
    assert.deepEqual(b.log, ['paths headphone / microphone', 'paths - / microphone', 'amp-enable=0', 'codec held muted', 'paths - / -']);
    assert.deepEqual(power.pathsInUse(), { output: [], input: [] });
    // Commands that own the run: every stream of the board by default, or the ones they name.
    b.log.length = 0;
    await power.powerDown();
    await power.powerUp();
    assert.deepEqual(b.log.filter((l) => l.startsWith('paths')), ['paths - / -', 'paths headphone+speaker / microphone']);
    await power.powerUp([hp]);
    assert.deepEqual(power.pathsInUse(), { output: ['headphone'], input: [] });
    await power.powerDown();
    assert.deepEqual(power.pathsInUse(), { output: [], input: [] });
  });

  it('clocks stopping with no stream running: power down at once', async () => {
    const clock = new VirtualClock();
    const b = fakeBoard();
    const power = new BoardPower(b.codec, clock, { enable: b.enable });
    await power.streamStarting();
    await power.streamStopped();
    await power.clocksStopping();
    assert.equal(power.state, 'off');
    assert.equal(b.log[b.log.length - 1], 'codec down');
  });

  it('through the service: START is answered after the WM8960\'s power-up waits (VMID 100 ms + VREF 100 ms)', async function () {
    this.timeout(30000);
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-power-'));
    const served = await serveBoard('waveshare-wm8960-hat-sim', { runtimeDir: dir });
    try {
      let startTimeNs = 0;
      const out = served.runtime.board.streams.find((s) => s.direction === 'output')!;
      const t0 = Number(process.hrtime.bigint());
      await playSamples({ endpoint: path.join(dir, 'audio-output', `${served.runtime.board.name}.${out.id}`), rate: 48000, channels: 2, onOpen: (o) => { startTimeNs = o.startTimeNs; } }, toneSamples(1000, 0.05, 48000, 2, -20));
      const on = served.runtime.power.history.find((h) => h.state === 'on')!;
      assert.ok(on, 'the codec powered up');
      assert.ok(startTimeNs >= on.atNs, `start_time ${startTimeNs} before the power-up finished at ${on.atNs}`);
      assert.ok(startTimeNs - t0 >= 200e6, `start_time only ${((startTimeNs - t0) / 1e6).toFixed(1)} ms after the client began`);
    } finally {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
