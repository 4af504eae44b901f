/**
 * The engine's per-period check that a ring-buffer client is still there (R-RB-12): a live peer is
 * present, a peer process that is killed is seen exiting, and a live peer that hangs up is seen
 * hanging up. (Timing is the guest test's business; this checks what the check answers.)
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CLIENT, ClientWatch } from '../../src/engine/client-watch.ts';
import { closeClientWatch, openClientWatch } from '../../src/stream/client-watch.ts';

/** A peer process connected to our server; resolves with our end of the connection. */
async function connectedPeer(script: string): Promise<{ child: ChildProcess; socket: net.Socket; dir: string; server: net.Server }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbc-watch-'));
  const sockPath = path.join(dir, 's');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(sockPath, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const child = spawn(process.execPath, ['-e', `const s=require('net').connect(${JSON.stringify(sockPath)}); ${script}`], { stdio: 'ignore' });
  return { child, socket: await accepted, dir, server };
}

async function until(check: () => number, ms: number): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== CLIENT.PRESENT || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('stream service: watching a ring-buffer client from the engine', function () {
  this.timeout(20000);

  it('sees a live peer as present, with its pid, and a SIGKILLed peer as exiting', async () => {
    const p = await connectedPeer('setInterval(() => {}, 1000);');
    const fds = openClientWatch(p.socket, () => undefined)!;
    try {
      assert.ok(fds, 'descriptors for a connected Unix socket');
      assert.equal(fds.pid, p.child.pid);
      assert.ok(fds.statFd >= 0);
      const watch = new ClientWatch(fds.socketFd, fds.statFd);
      assert.equal(watch.check(), CLIENT.PRESENT);
      p.child.kill('SIGKILL');
      assert.equal(await until(() => watch.check(), 5000), CLIENT.EXITING);
    } finally {
      closeClientWatch(fds);
      p.socket.destroy();
      p.server.close();
      rmSync(p.dir, { recursive: true, force: true });
    }
  });

  it('sees a live peer that closes its end as hung up', async () => {
    const p = await connectedPeer('s.on("connect", () => setTimeout(() => s.destroy(), 200)); setInterval(() => {}, 1000);');
    const fds = openClientWatch(p.socket, () => undefined)!;
    try {
      const watch = new ClientWatch(fds.socketFd, fds.statFd);
      assert.equal(watch.check(), CLIENT.PRESENT);
      assert.equal(await until(() => watch.check(), 5000), CLIENT.HUNG_UP);
    } finally {
      closeClientWatch(fds);
      p.child.kill('SIGKILL');
      p.socket.destroy();
      p.server.close();
      rmSync(p.dir, { recursive: true, force: true });
    }
  });
});
