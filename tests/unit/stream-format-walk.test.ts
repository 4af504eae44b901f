/**
 * GET_FORMATS offers exactly what works end to end (docs/PROTOCOL.md R-FMT-6): on every simulated
 * board, every corner of every range of every stream (monitors included) goes SET_FORMAT →
 * GET_FIFO_DEPTH → GET_BUFFER → START → a position → STOP. Negative controls: a planted range the
 * engine cannot carry (24-in-32, which the service offered before) and one the part does not take
 * (a continuous 12 kHz range on a part without it) make the walk fail, naming the case and step.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RANGE_FLAG, SAMPLE_FORMAT } from '../../src/audio/formats.ts';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import { createBoardDevices } from '../../src/stream/board-device.ts';
import { StreamCore } from '../../src/stream/core.ts';
import { engineRingBuffers } from '../../src/stream/engine-ring-buffer.ts';
import { type WalkResult, rangeCorners, walkCases, walkFormats } from '../../src/stream/format-walk.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';
import { serveEndpoint } from '../../src/stream/transport.ts';

const BOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../board');
const simBoards = readdirSync(BOARD_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter((n) => loadBoard(n).hal === 'sim').sort();

describe('format walk: every offered corner works end to end (R-FMT-6)', function () {
  // A hang guard: every sim board's endpoints walked at once on two cores; beside other work the
  // walk once took over 240 s.
  this.timeout(600000);
  let dir: string;
  const running: { rt: BoardRuntime; svc: StreamService }[] = [];
  const results = new Map<string, WalkResult>();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-walk-'));
    const clock = new VirtualClock(1e9, true);
    for (const name of simBoards) {
      const rt = await openBoard(loadBoard(name), { clock });
      running.push({ rt, svc: await startStreamService(rt, { runtimeDir: dir }) });
    }
    // Every endpoint at once: each has its own engine.
    await Promise.all(running.flatMap(({ svc }) => svc.endpoints.map(async (e) => results.set(e.name, await walkFormats(e.path)))));
  });

  after(async () => {
    for (const { rt, svc } of running) {
      await svc.close();
      await rt.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the corners of a range: lowest/highest family rate, min/max channels, each format bit; 8100 and 12000 Hz inside continuous ranges', () => {
    const fam = rangeCorners({ sampleFormats: SAMPLE_FORMAT.BIT16 | SAMPLE_FORMAT.BIT32, minFps: 8000, maxFps: 384000, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY });
    assert.deepEqual(fam.map((c) => [c.fps, c.sampleFormat, c.channels]), [
      [8000, 4, 1], [8000, 4, 2], [8000, 256, 1], [8000, 256, 2], [384000, 4, 1], [384000, 4, 2], [384000, 256, 1], [384000, 256, 2],
    ]);
    const cont = rangeCorners({ sampleFormats: SAMPLE_FORMAT.BIT16, minFps: 8000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_CONTINUOUS });
    assert.deepEqual(cont.map((c) => c.fps), [8000, 48000, 8100, 12000]);
    const fam441 = rangeCorners({ sampleFormats: SAMPLE_FORMAT.BIT16, minFps: 11025, maxFps: 176400, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY });
    assert.deepEqual(fam441.map((c) => c.fps), [11025, 176400]);
  });

  it(`walks ${simBoards.length} simulated boards (${simBoards.join(', ')}): no failure`, () => {
    assert.ok(simBoards.length >= 8, `${simBoards.length} sim boards`);
    let cases = 0;
    for (const { svc } of running) {
      for (const e of svc.endpoints) {
        const r = results.get(e.name)!;
        assert.ok(r.cases.length > 0, `${e.name}: offers nothing`);
        cases += r.cases.length;
        assert.deepEqual(r.failures, [], `${e.name}: ${JSON.stringify(r.failures.slice(0, 5))}`);
      }
    }
    console.log(`      ${cases} (rate, format, channels) corners walked on ${results.size} endpoints`);
  });

  it('24-in-32 is no longer offered (it was, and failed at GET_FIFO_DEPTH); the sim board offers 16-bit only', () => {
    const sim = results.get('sim.headphone')!;
    assert.deepEqual([...new Set(sim.cases.map((c) => c.sampleFormat))], [SAMPLE_FORMAT.BIT16]);
    for (const r of results.values()) assert.ok(r.cases.every((c) => (c.sampleFormat & (SAMPLE_FORMAT.BIT20_IN32 | SAMPLE_FORMAT.BIT24_IN32)) === 0), r.endpoint);
  });

  it("sim-many-formats: the extra continuous ranges' rates (8100 … 12000 Hz) work, 1 and 2 channels", () => {
    const r = results.get('sim-many-formats.headphone')!;
    for (const fps of [8100, 12000]) for (const ch of [1, 2]) assert.ok(r.cases.some((c) => c.fps === fps && c.channels === ch), `${fps} Hz ${ch} ch walked`);
    assert.equal(walkCases([]).length, 0);
  });

  describe('negative controls: a planted range that does not work', () => {
    for (const [what, planted, step] of [
      ['24-in-32 (not carried by the engine)', { sampleFormats: SAMPLE_FORMAT.BIT24_IN32, minFps: 48000, maxFps: 48000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY }, 'GET_FIFO_DEPTH'],
      ['12000 Hz continuous (not taken by the part)', { sampleFormats: SAMPLE_FORMAT.BIT16, minFps: 12000, maxFps: 12000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_CONTINUOUS }, 'SET_FORMAT'],
    ] as const) {
      it(`${what}: the walk fails at ${step}, naming it`, async () => {
        const pdir = mkdtempSync(path.join(tmpdir(), 'sbc-walk-planted-'));
        const rt = await openBoard(loadBoard('sim'), { clock: new VirtualClock(1e9, true) });
        await rt.codec.probe();
        await rt.codec.init();
        const engines = engineRingBuffers(rt);
        const board = createBoardDevices(rt, { createRingBuffer: engines });
        const dev = board.devices.find((d) => d.info.endpointName === 'sim.headphone')!;
        const core = new StreamCore({ ...dev, formats: () => [...dev.formats(), planted] });
        const server = await serveEndpoint(core, path.join(pdir, 'sim.headphone'));
        try {
          const r = await walkFormats(path.join(pdir, 'sim.headphone'));
          assert.equal(r.failures.length, 1, JSON.stringify(r.failures));
          assert.deepEqual([r.failures[0]!.fps, r.failures[0]!.sampleFormat, r.failures[0]!.channels, r.failures[0]!.step], [planted.minFps, planted.sampleFormats, 2, step]);
        } finally {
          await server.close();
          await core.close();
          board.close();
          await engines.closeAll();
          await rt.close();
          rmSync(pdir, { recursive: true, force: true });
        }
      });
    }
  });
});
