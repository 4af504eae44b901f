/** The audio path of the libasound backend allocates nothing per call (measured in a child with --expose-gc). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('alsa audio path allocation', () => {
  it('write/read/avail/delay/status/waitSync allocate no heap per call, RW and mmap', function () {
    this.timeout(60000);
    const child = fileURLToPath(new URL('./alsa-alloc-child.ts', import.meta.url));
    // --no-concurrent-recompilation: V8 optimises on this thread when a function gets hot, not on
    // a background thread that a busy machine may starve past the whole measurement (seen: 16 bytes
    // a call in all three rounds beside stress-ng, the unoptimised code boxing a number).
    const out = execFileSync(process.execPath, ['--expose-gc', '--max-semi-space-size=64', '--no-concurrent-recompilation', '--import', 'tsx', child], { encoding: 'utf8' });
    const perCall = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
    // Any real allocation is at least 16 bytes, so one every fourth call would still show as 4 bytes
    // a call; below that is JIT and bookkeeping noise (up to 2.3 bytes seen on a loaded machine).
    for (const [op, bytes] of Object.entries(perCall)) assert.ok(bytes < 4, `${op}: ${bytes} bytes a call`);
    assert.equal(Object.keys(perCall).length, 12);
  });
});
