/**
 * The board is opened once per process: one `serve` of a board reads its board file once and
 * loads its codec part once, however many streams START (the engine gets its external delay and
 * its PCM backends from the open board, not by opening the board again).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { partLoads } from '../../codecs/index.ts';
import { boardReads } from '../../src/board/load.ts';
import { serveBoard } from '../../src/cli/wiring.ts';
import { playSamples, toneSamples } from '../../src/stream/player.ts';

describe('the board wired once', function () {
  this.timeout(30000);

  it('one serve of a board, two streams started: one board-file read, one codec-part load', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-once-'));
    const reads0 = boardReads.count, loads0 = partLoads.count;
    const served = await serveBoard('hifiberry-dacplus-sim', { runtimeDir: dir });
    try {
      const endpoint = path.join(dir, 'audio-output', 'hifiberry-dacplus-sim.line-out');
      for (let i = 0; i < 2; i++) await playSamples({ endpoint, rate: 48000, channels: 2 }, toneSamples(1000, 0.05, 48000, 2, -20));
      assert.equal(boardReads.count - reads0, 1, 'board-file reads');
      assert.equal(partLoads.count - loads0, 1, 'codec-part loads');
    } finally {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('control: a second open of the board is counted (the counters see what they count)', async () => {
    const reads0 = boardReads.count, loads0 = partLoads.count;
    const a = await serveBoard('sim', { runtimeDir: mkdtempSync(path.join(tmpdir(), 'sbc-once-')) });
    const b = await serveBoard('sim', { runtimeDir: mkdtempSync(path.join(tmpdir(), 'sbc-once-')) });
    await a.close();
    await b.close();
    assert.equal(boardReads.count - reads0, 2);
    assert.equal(partLoads.count - loads0, 2);
  });
});
