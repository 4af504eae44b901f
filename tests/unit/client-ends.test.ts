/**
 * Client commands always end (issue 19): `sbc-audio play`, `record` and `run` as real child
 * processes. A device that fails, a service that goes away or refuses, SIGINT / SIGTERM in each
 * state of a session (connecting, negotiated, playing): each ends the child with the documented
 * exit code and the reason. The service runs in this process (so the test can fail its engine or
 * hang a request at a chosen point); the ALSA "null" PCM is refused by `run` with the reason.
 *
 * No timing bound: the children are waited for with a generous hang guard (HANG_GUARD_MS) that
 * only stops a hang; every signal is sent once the session is known to be in the state asked for.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { SharedMapping } from '../../src/ringbuffer/shm.ts';
import type { RingBufferEngine } from '../../src/stream/device.ts';
import type { EngineRingBuffer } from '../../src/stream/engine-ring-buffer.ts';
import { type StreamService, type StreamServiceOptions, startStreamService } from '../../src/stream/service.ts';
import { STATUS } from '../../src/stream/wire.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
/** Only stops a hang: a child that has not exited by then is a failure (never a bound on how fast it ends). */
const HANG_GUARD_MS = 30000;

interface Child {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves with the exit code (or the signal that killed it); rejects after the hang guard. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stdout or stderr has a match. */
  waitFor(re: RegExp): Promise<void>;
}

function cli(args: string[]): Child {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d) => { out += d; for (const w of waiters) w(); });
  child.stderr!.on('data', (d) => { err += d; for (const w of waiters) w(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sbc-audio ${args.join(' ')} was still running ${HANG_GUARD_MS} ms later (a hang)\nstdout: ${out}\nstderr: ${err}`));
    }, HANG_GUARD_MS);
    child.once('exit', (code, signal) => { clearTimeout(guard); resolve({ code, signal }); });
  });
  return {
    child, exited, out: () => out, err: () => err,
    waitFor(re) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(out) || re.test(err)) { waiters.delete(check); resolve(); }
          else if (child.exitCode !== null) { waiters.delete(check); reject(new Error(`exited (${child.exitCode}) without ${re}\nstdout: ${out}\nstderr: ${err}`)); }
        };
        waiters.add(check);
        child.once('exit', check);
        check();
      });
    },
  };
}

/** Polls a condition (a state of the in-process service) with the hang guard. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + HANG_GUARD_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${HANG_GUARD_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A deferred signal from inside a fake engine: resolves when the engine got there. */
function mark(): { reached: Promise<void>; hit(): void } {
  let hit!: () => void;
  const reached = new Promise<void>((r) => { hit = r; });
  return { reached, hit };
}

const never = <T>() => new Promise<T>(() => {});

let shmN = 0;
/** A ring-buffer engine that answers the way the test says (a real shared buffer, so a client can map it). */
function fakeEngine(o: { fifo?: () => Promise<{ result: number; value: { fifoDepth: number } }>; stop?: () => Promise<{ result: number; value: Record<string, never> }>; started?: () => void }): RingBufferEngine {
  let name: string | undefined;
  return {
    getFifoDepth: o.fifo ?? (async () => ({ result: STATUS.OK, value: { fifoDepth: 256 * 4 } })),
    async getBuffer(minFrames: number) {
      name = `/sbc-client-ends-${process.pid}-${++shmN}`;
      SharedMapping.create(name, minFrames * 4, 0o600).close();
      return { result: STATUS.OK, value: { frames: minFrames, bufferPath: `/dev/shm${name}` } };
    },
    async start() {
      o.started?.();
      return { result: STATUS.OK, value: { startTimeNs: Number(process.hrtime.bigint()) } };
    },
    stop: o.stop ?? (async () => ({ result: STATUS.OK, value: {} })),
    async close() {
      if (name) rmSync(`/dev/shm${name}`, { force: true });
    },
  } as RingBufferEngine;
}

describe('client commands always end (play, record, run as processes)', function () {
  this.timeout(HANG_GUARD_MS * 2);
  let dir: string;
  let rt: BoardRuntime | undefined;
  let svc: StreamService | undefined;

  async function serve(opts: StreamServiceOptions = {}): Promise<StreamService> {
    rt = await openBoard(loadBoard('sim'));
    svc = await startStreamService(rt, { runtimeDir: dir, ...opts });
    return svc;
  }
  const running = (s: StreamService): EngineRingBuffer | undefined => [...s.ringBuffers].find((e) => e.isRunning);
  const play = (...extra: string[]) => cli(['play', '--tone', '--seconds', '60', '--stream', 'sim.speaker', '--runtime-dir', dir, ...extra]);

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-ends-'));
  });
  afterEach(async () => {
    await svc?.close();
    await rt?.close();
    svc = undefined;
    rt = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the device fails while playing: play exits 1 with the service\'s reason (bus failure, IO)', async () => {
    const s = await serve();
    const c = play();
    await until('the engine runs the client\'s buffer', () => running(s) !== undefined);
    await running(s)!.simulateFailure();
    const r = await c.exited;
    assert.equal(r.code, 1, c.err());
    assert.match(c.err(), /sbc-audio play: .*sim\.speaker: the service's device failed \(EXT_RB_ERROR: bus failure, IO\)/);
    assert.doesNotMatch(c.out(), /^played/m);
  });

  it('the same for record: the device fails while recording, exit 1 with the reason, nothing written', async () => {
    const s = await serve();
    const file = path.join(dir, 'x.wav');
    const c = cli(['record', file, '--seconds', '60', '--stream', 'sim.mic', '--runtime-dir', dir]);
    await until('the engine runs the client\'s buffer', () => running(s) !== undefined);
    await running(s)!.simulateFailure();
    const r = await c.exited;
    assert.equal(r.code, 1, c.err());
    assert.match(c.err(), /the service's device failed \(EXT_RB_ERROR: bus failure, IO\)/);
  });

  it('the service refuses GET_FIFO_DEPTH (no device): play exits 1 naming it (it used to stay alive)', async () => {
    await serve({ ringBuffer: false }); // every ring-buffer command: NOT_SUPPORTED
    const c = play();
    const r = await c.exited;
    assert.equal(r.code, 1);
    assert.match(c.err(), /GET_FIFO_DEPTH: NOT_SUPPORTED/);
  });

  it('the service goes away while playing: play exits 1 saying the service closed the channel', async () => {
    const s = await serve();
    const c = play();
    await until('the engine runs the client\'s buffer', () => running(s) !== undefined);
    await s.close();
    const r = await c.exited;
    assert.equal(r.code, 1, c.err());
    assert.match(c.err(), /the service closed the (ring-buffer|stream) channel/);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const code = sig === 'SIGTERM' ? 143 : 130;

    it(`${sig} while playing: play stops (STOP, close) and exits ${code}`, async () => {
      const s = await serve();
      const c = play();
      await until('the engine runs the client\'s buffer', () => running(s) !== undefined);
      c.child.kill(sig);
      const r = await c.exited;
      assert.equal(r.code, code, c.err());
      assert.match(c.out(), new RegExp(`^stopped by ${sig}: played a 440 Hz tone for`, 'm'));
      await until('the service sees the ring buffer stopped', () => running(s) === undefined);
    });

    it(`${sig} while connecting (a service that accepts and never answers): play exits ${code}`, async () => {
      mkdirSync(path.join(dir, 'audio-output'), { recursive: true });
      const accepted = mark();
      const sockets: net.Socket[] = [];
      const server = net.createServer((sock) => { sockets.push(sock); accepted.hit(); });
      await new Promise<void>((r) => server.listen(path.join(dir, 'audio-output', 'mute.out'), r));
      try {
        const c = cli(['play', '--tone', '--stream', 'mute.out', '--runtime-dir', dir]);
        await accepted.reached; // connected; SET_FORMAT is waiting for an answer that never comes
        c.child.kill(sig);
        const r = await c.exited;
        assert.equal(r.code, code, c.err());
        assert.match(c.err(), new RegExp(`stopped by ${sig} before playing`));
      } finally {
        for (const x of sockets) x.destroy();
        server.close();
      }
    });

    it(`${sig} once negotiated (GET_FIFO_DEPTH never answered): play exits ${code}`, async () => {
      const asked = mark();
      await serve({ createRingBuffer: () => fakeEngine({ fifo: () => { asked.hit(); return never(); } }) });
      const c = play();
      await asked.reached;
      c.child.kill(sig);
      const r = await c.exited;
      assert.equal(r.code, code, c.err());
      assert.match(c.err(), new RegExp(`stopped by ${sig} before playing`));
    });
  }

  it('a second signal exits at once while STOP goes unanswered (exit 143, said so)', async () => {
    const started = mark();
    const stopping = mark();
    await serve({ createRingBuffer: () => fakeEngine({ started: () => started.hit(), stop: () => { stopping.hit(); return never(); } }) });
    const c = play();
    await started.reached;
    c.child.kill('SIGTERM');
    await stopping.reached; // the client sent STOP, which will never be answered
    c.child.kill('SIGTERM');
    const r = await c.exited;
    assert.equal(r.code, 143, c.err());
    assert.match(c.err(), /SIGTERM again: exiting now/);
  });

  it('the negative control: a play that is left alone plays to the end and exits 0', async () => {
    await serve();
    const c = cli(['play', '--tone', '--seconds', '0.2', '--stream', 'sim.speaker', '--runtime-dir', dir]);
    const r = await c.exited;
    assert.equal(r.code, 0, c.err());
    assert.match(c.out(), /^played a 440 Hz tone: 0\.20 s/m);
  });

  it('run stopped by SIGINT before its work is done exits 130 (it used to exit 0), with the report', async () => {
    const c = cli(['run', '--board', 'sim', '--host', 'examples/tone.ts', '--sim-clock', 'monotonic', '--no-realtime']);
    await c.waitFor(/^running examples\/tone\.ts/m);
    c.child.kill('SIGINT');
    const r = await c.exited;
    assert.equal(r.code, 130, c.err());
    assert.match(c.out(), /^stopped \((stop|terminated)\): \d+ periods/m);
  });

  it('run that finishes its work (--seconds) exits 0: the negative control', async () => {
    const c = cli(['run', '--board', 'sim', '--host', 'examples/tone.ts', '--seconds', '0.1', '--no-realtime']);
    const r = await c.exited;
    assert.equal(r.code, 0, c.err());
    assert.match(c.out(), /^stopped \(frames\)/m);
  });

  it('run --playback null is refused with the reason (it used to hang with no output)', async () => {
    const c = cli(['run', '--playback', 'null', '--host', 'examples/tone.ts', '--seconds', '1', '--no-realtime']);
    const r = await c.exited;
    assert.equal(r.code, 1, c.err());
    assert.match(c.err(), /sbc-audio run: null: the device took \d+ frames of silence, a whole buffer, and still has room: .*no clock paces the periods/);
  });
});
