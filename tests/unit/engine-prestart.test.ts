/**
 * Engine threads started ahead of use (issue 26; src/engine/driver.ts, EngineWorkerPool): the
 * service's spare thread is the one the first SET_FORMAT's engine runs on, another loads after
 * it, and an idle spare neither outlives the service's close nor keeps the process alive. Each
 * check through the pool's counters and the device's threadSource, never wall time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { EngineDriver, EngineWorkerPool } from '../../src/engine/driver.ts';
import { StreamClient } from '../../src/stream/client.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { STATUS } from '../../src/stream/wire.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

/**
 * SET_FORMAT, the ring-buffer channel, GET_BUFFER on sim.speaker; `during` runs while the channel
 * (and its engine) is open; the channels closed after.
 */
async function session(runtimeDir: string, during: () => void = () => {}): Promise<number> {
  const c = await StreamClient.connect(path.join(runtimeDir, 'audio-output', 'sim.speaker'));
  try {
    const sf = await c.setFormat({ fps: 48000, sampleFormat: SAMPLE_FORMAT.BIT16, channels: 2 });
    assert.equal(sf.result, STATUS.OK);
    const rb = await c.openRingBuffer(sf.token!);
    const gb = await rb.getBuffer(4800, 0);
    during();
    await rb.close();
    return gb.result;
  } finally {
    await c.close();
  }
}

/** Until `cond` holds (a hang guard of the test's timeout; the pool's refill follows the engine's stop). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('engine threads started ahead of use (issue 26)', function () {
  this.timeout(60000);
  let dir: string;
  let rt: BoardRuntime | undefined;
  let service: StreamService | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-prestart-'));
  });
  afterEach(async () => {
    await service?.close();
    await rt?.close();
    service = undefined;
    rt = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the service publishes with a loaded spare; the first SET_FORMAT\'s engine runs on it, and the next spare loads once that engine stopped', async () => {
    rt = await openBoard(loadBoard('sim'));
    service = await startStreamService(rt, { runtimeDir: dir, log: () => {}, ringBuffer: { prestart: true } });
    const pool = service.enginePool!;
    assert.ok(pool, 'the service has a spare thread');
    assert.deepEqual(pool.counts, { started: 1, taken: 0 }, 'one spare, started with the service, none taken before a client');
    assert.equal(pool.size, 1);
    assert.equal(await session(dir, () => {
      assert.equal(pool.counts.taken, 1, 'the channel\'s engine took the spare');
      // Not while that engine runs: loading a thread would take the cores its first periods need.
      assert.deepEqual(pool.counts, { started: 1, taken: 1 }, 'no refill while the engine runs');
    }), STATUS.OK);
    await until(() => pool.counts.started === 2); // the engine stopped with the channel: the refill starts
    await pool.warm();
    assert.deepEqual(pool.counts, { started: 2, taken: 1 });
    assert.equal(pool.size, 1);
    assert.equal(await session(dir), STATUS.OK);
    assert.equal(pool.counts.taken, 2, 'the second session took the refill');
  });

  it('negative control: with prestart off (the library\'s default) there is no spare, and the engine starts its own thread', async () => {
    rt = await openBoard(loadBoard('sim'));
    service = await startStreamService(rt, { runtimeDir: dir, log: () => {}, ringBuffer: { prestart: false } });
    assert.equal(service.enginePool, undefined);
    assert.equal(await session(dir), STATUS.OK);
    await service.close();
    service = await startStreamService(rt, { runtimeDir: dir, log: () => {} });
    assert.equal(service.enginePool, undefined, 'off unless asked for');
  });

  it('EngineDevice.start takes a pool\'s spare (threadSource "spare"); without a pool, or with the pool closed, a new thread', async () => {
    rt = await openBoard(loadBoard('sim'));
    const driver = EngineDriver.forBoard(rt, { simClock: 'virtual' });
    const pool = new EngineWorkerPool({ backend: 'sim', hosts: [path.join(ROOT, 'examples/tone.ts')] });
    try {
      const run = async (p: EngineWorkerPool | undefined) => {
        const dev = await driver.open('speaker');
        const config = await dev.negotiate({ bufferFrames: 64 });
        await dev.start(config, { path: path.join(ROOT, 'examples/tone.ts') }, { seconds: 0.05, warmupPeriods: 0, ...(p ? { pool: p } : {}) });
        const report = await dev.finished;
        assert.equal(report.reason, 'frames');
        return dev.threadSource;
      };
      assert.equal(await run(pool), 'spare');
      assert.equal(pool.counts.taken, 1);
      assert.equal(await run(undefined), 'new'); // negative control: no pool
      await pool.close();
      assert.equal(pool.size, 0, 'close terminates the idle spare');
      assert.equal(await run(pool), 'new'); // negative control: a closed pool has none
      assert.equal(pool.counts.taken, 1);
    } finally {
      await pool.close();
    }
  });

  it('the process exits by itself after the service closes with its spare idle; negative control: a taken (referenced) spare keeps it alive', () => {
    const child = (extra: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(HERE, 'engine-prestart-child.ts'), ...extra], {
      cwd: ROOT, encoding: 'utf8', timeout: 50_000, // a hang guard, not a figure
    });
    const ok = child([]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /closed: 0 idle, 1 started, 0 taken/);
    assert.doesNotMatch(ok.stdout, /still-alive/);
    const kept = child(['--keep']);
    assert.match(kept.stdout, /still-alive/, kept.stderr);
    assert.equal(kept.status, 3);
  });
});
