/**
 * Input start_time is never earlier than the START request (docs/PROTOCOL.md R-RB-8), on real
 * time: the sim boards on CLOCK_MONOTONIC, every input stream (the microphone and each monitor
 * endpoint), the client reading CLOCK_MONOTONIC (process.hrtime) just before it sends START. The
 * service used to put frame 0 one period before the boundary at which it started, about 2 ms
 * before the request: this fails on that.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { monotonicClock } from '../../src/hal/linux/clock.ts';
import { StreamClient } from '../../src/stream/client.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { SAMPLE_FORMAT, STATUS } from '../../src/stream/wire.ts';

describe('input start_time ≥ the moment START was sent (R-RB-8), real time', function () {
  this.timeout(120000);
  let dir: string;
  const running: { rt: BoardRuntime; svc: StreamService }[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-start-time-'));
    for (const name of ['sim', 'respeaker-2mic-v2-sim']) {
      const rt = await openBoard(loadBoard(name), { clock: monotonicClock() });
      running.push({ rt, svc: await startStreamService(rt, { runtimeDir: dir }) });
    }
  });

  after(async () => {
    for (const { rt, svc } of running) {
      await svc.close();
      await rt.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every input stream, monitors included: start_time ≥ the client\'s CLOCK_MONOTONIC just before START, 8 STARTs each', async () => {
    const inputs = running.flatMap(({ svc }) => svc.endpoints.filter((e) => e.direction === 'input'));
    assert.ok(inputs.some((e) => e.name.endsWith('.monitor')) && inputs.some((e) => !e.name.endsWith('.monitor')), inputs.map((e) => e.name).join(', '));
    const lines: string[] = [];
    for (const e of inputs) {
      const a = await StreamClient.connect(e.path, { timeoutMs: 20000 });
      try {
        await a.getClockDomain();
        const r = (await a.getFormats())[0]!;
        const f = await a.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: r.maxChannels });
        assert.equal(f.result, STATUS.OK, e.name);
        const rb = await a.openRingBuffer(f.token!);
        assert.equal((await rb.getBuffer(4800, 0)).result, STATUS.OK);
        let minAhead = Infinity;
        for (let k = 0; k < 8; k++) {
          const sentAt = Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, just before START
          const s = await rb.start();
          const answeredAt = Number(process.hrtime.bigint());
          assert.equal(s.result, STATUS.OK);
          minAhead = Math.min(minAhead, s.startTimeNs - sentAt);
          assert.ok(s.startTimeNs >= sentAt, `${e.name}: start_time ${s.startTimeNs} is ${((sentAt - s.startTimeNs) / 1e6).toFixed(3)} ms before START was sent`);
          assert.ok(s.startTimeNs <= answeredAt + 100e6, `${e.name}: start_time ${((s.startTimeNs - answeredAt) / 1e6).toFixed(3)} ms after the answer`);
          assert.equal((await rb.stop()).result, STATUS.OK);
          await new Promise((r) => setTimeout(r, 3 + k)); // START at different phases of the period
        }
        lines.push(`${e.name} +${(minAhead / 1e6).toFixed(3)} ms`);
        await rb.close();
      } finally {
        await a.close();
      }
    }
    console.log(`      smallest start_time − send time: ${lines.join(', ')}`);
  });
});
