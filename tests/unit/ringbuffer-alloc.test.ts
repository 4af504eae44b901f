import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const CHILD = path.join(path.dirname(new URL(import.meta.url).pathname), 'helpers/ring-alloc-child.ts');

function scavenges(mode: string): number {
  // --no-concurrent-recompilation: hot code is optimised at once on this thread, not on a
  // background thread a busy machine may starve past the measurement (see alsa-alloc.test.ts).
  const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--no-concurrent-recompilation', '--import', 'tsx', CHILD, mode], { encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).scavenges;
}

describe('ring buffer on the audio path', function () {
  this.timeout(120000);
  it('allocates nothing per write/read: zero scavenges over a million periods; a control that allocates 64 B per period is caught', () => {
    assert.equal(scavenges('steady'), 0);
    assert.ok(scavenges('allocate') > 0, 'the allocating control must produce scavenges, or the measurement is blind');
  });
});
