/**
 * The child of engine-prestart.test.ts: a stream service on the sim board whose spare engine
 * thread has loaded, closed, then left to exit by itself. `--keep` takes the spare first and
 * never uses it (a referenced thread, as a start's): the negative control, which must stay alive.
 * An unref'd timer tells: it fires (and says 'still-alive') only if something else keeps the
 * process alive, so no wall-time bound decides the outcome.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import { startStreamService } from '../../src/stream/service.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sbc-prestart-'));
const rt = await openBoard(loadBoard('sim'));
const service = await startStreamService(rt, { runtimeDir: dir, log: () => {}, ringBuffer: { prestart: true } });
const pool = service.enginePool!;
await pool.warm();
if (process.argv.includes('--keep')) pool.take();
await service.close();
await rt.close();
rmSync(dir, { recursive: true, force: true });
console.log(`closed: ${pool.size} idle, ${pool.counts.started} started, ${pool.counts.taken} taken`);
setTimeout(() => {
  console.log('still-alive');
  process.exit(3);
}, 2000).unref();
