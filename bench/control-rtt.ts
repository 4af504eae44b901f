/**
 * A control request's round trip against the floor of Node on a Unix socket (issue 26's
 * required target: a GET_GAIN round trip ≤ 1.5 × a raw length-prefixed Unix-socket echo in
 * Node, as a ratio in the same run). Not part of `make test`.
 *
 *   node --import tsx bench/control-rtt.ts [--n N (round trips of each kind a round, default 2000)]
 *       [--rounds R (default 7)] [--warmup W (default 3000)] [--pin same|split|none (default same)] [--no-fail]
 *
 * Topology, the same for both measurements: ONE child process (this file with `--serve DIR`)
 * serves both the stream service on the `sim` board (startStreamService, as `sbc-audio serve`
 * runs it, without HTTP / OSC / MIDI / state file) and the raw echo server; this process runs
 * both clients. Both sockets are Unix stream sockets in the same directory, so the two paths
 * differ only in the code that handles a message on each side.
 *
 * - Baseline, the raw echo: the client writes one 12-byte frame (u32 LE length 8, then 8 bytes:
 *   the size of a GET_GAIN request) and waits for it to come back; the server splits the byte
 *   stream on the length prefix and writes each frame back whole. A Promise per round trip on
 *   the client, as any awaiting Node client has.
 * - GET_GAIN: `StreamClient.getGain()` (src/stream/client.ts) against the `sim.speaker`
 *   endpoint: the project's framing, encoding, the core's dispatch and the device's gain read.
 *
 * Where the two processes run (`--pin`, with taskset from util-linux) decides what a round trip
 * costs, far more than the code does, so it is fixed, not left to the scheduler:
 * - `same` (the default): both on one CPU. A round trip is then the CPU time of both sides plus
 *   two context switches, so every microsecond of code on the path shows: the strict case. On
 *   an idle 2-CPU machine the scheduler mostly does this by itself (the echo's ~11 µs unpinned
 *   is its ~11 µs pinned).
 * - `split`: client on CPU 0, service on CPU 1. Each message then wakes an idle CPU, which on a
 *   virtual machine costs tens of microseconds (an inter-processor interrupt to a halted vCPU),
 *   and that wake-up swamps the code: the ratio is near 1 whatever the code does.
 * - `none`: whatever the scheduler does, which flips between the two from run to run.
 *
 * Both are one round trip at a time. Each round runs N of each, interleaved in blocks of
 * BLOCK so both kinds see the same machine conditions; a round's figure is the ratio of the
 * medians. Printed: each round's medians and p99s (µs), and the median over rounds of the
 * ratio. Exit 1 when that ratio is above 1.5 (unless --no-fail), 2 on a usage error.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const TARGET = 1.5;
const BLOCK = 100;
const ECHO_NAME = 'echo.sock';
const ENDPOINT = 'sim.speaker';

const args = process.argv.slice(2);
function num(name: string, dflt: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) {
    console.error(`control-rtt: ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(args[i + 1])}`);
    process.exit(2);
  }
  return v;
}

/** The raw echo server: length-prefixed frames, each written back whole as it completes. */
function serveEcho(socketPath: string): Promise<net.Server> {
  const server = net.createServer((s) => {
    let pending: Buffer | undefined;
    s.on('data', (chunk: Buffer) => {
      let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      while (buf.length >= 4) {
        const len = buf.readUInt32LE(0);
        if (buf.length < 4 + len) break;
        s.write(buf.subarray(0, 4 + len));
        buf = buf.subarray(4 + len);
      }
      pending = buf.length ? buf : undefined;
    });
    s.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

/** Child: the stream service on `sim` and the echo server, until stdin closes. */
async function child(dir: string): Promise<void> {
  const { loadBoard } = await import('../src/board/load.ts');
  const { openBoard } = await import('../src/board/runtime.ts');
  const { startStreamService } = await import('../src/stream/service.ts');
  const rt = await openBoard(loadBoard('sim'));
  const service = await startStreamService(rt, { runtimeDir: dir, log: (l) => process.stderr.write(`service: ${l}\n`) });
  const echo = await serveEcho(path.join(dir, ECHO_NAME));
  const endpoint = service.endpoints.find((e) => e.name === ENDPOINT);
  if (!endpoint) throw new Error(`no ${ENDPOINT} endpoint`);
  process.stdout.write(`${JSON.stringify({ endpoint: endpoint.path, echo: path.join(dir, ECHO_NAME) })}\n`);
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
  echo.close();
  await service.close();
  await rt.close();
  process.exit(0);
}

/**
 * The raw client: one fixed frame out, then waits for `answerBytes` bytes back, one at a time.
 * Against the echo server the frame comes back; against the stream endpoint (the breakdown row)
 * the frame is a GET_GAIN request, always with the same transaction id (the service keeps no
 * record of them: it answers each request with its id, R-TXN-1), and the answer is GET_GAIN's
 * 4 + 32 bytes (the length prefix and the 32-byte payload: docs/facts/stream-protocol.md).
 */
class RawClient {
  private resolve: (() => void) | undefined;
  private have = 0;

  constructor(private readonly s: net.Socket, private readonly frame: Buffer, private readonly answerBytes: number) {
    s.on('data', (chunk: Buffer) => {
      this.have += chunk.length;
      if (this.have >= this.answerBytes) {
        this.have -= this.answerBytes;
        const r = this.resolve;
        this.resolve = undefined;
        r?.();
      }
    });
  }

  static connect(p: string, frame: Buffer, answerBytes: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(p, () => resolve(new RawClient(s, frame, answerBytes)));
      s.once('error', reject);
    });
  }

  roundTrip(): Promise<void> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.s.write(this.frame);
    });
  }

  close(): void {
    this.s.destroy();
  }
}

interface Stats { p50: number; p99: number }
function stats(v: Float64Array): Stats {
  const s = Float64Array.from(v).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))]!;
  return { p50: at(0.5), p99: at(0.99) };
}
function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const us = (ms: number) => `${(ms * 1000).toFixed(1).padStart(6)} µs`;

/** taskset's CPU lists for (this process, the child), or undefined for no pinning. */
function pinning(mode: string): [string, string] | undefined {
  const last = String(availableParallelism() - 1);
  if (mode === 'none') return undefined;
  if (mode === 'same') return [last, last];
  if (mode === 'split' && availableParallelism() >= 2) return ['0', '1'];
  if (mode === 'split') {
    console.error('control-rtt: --pin split needs two CPUs');
    process.exit(2);
  }
  console.error(`control-rtt: --pin must be same, split or none, got ${JSON.stringify(mode)}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const N = num('--n', 2000, BLOCK, 1_000_000);
  const ROUNDS = num('--rounds', 7, 1, 99);
  const WARMUP = num('--warmup', 3000, 0, 1_000_000);
  const noFail = args.includes('--no-fail');
  const pinAt = args.indexOf('--pin');
  const pinMode = pinAt >= 0 ? args[pinAt + 1] ?? '' : 'same';
  const pin = pinning(pinMode);
  if (pin) {
    // Every thread of this process (-a), before the child exists; the child starts under taskset.
    const r = spawnSync('taskset', ['-a', '-p', '-c', pin[0], String(process.pid)], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.error(`control-rtt: taskset failed (${r.error?.message ?? r.stderr.trim()}); install util-linux, or run with --pin none`);
      process.exit(2);
    }
  }
  const { StreamClient } = await import('../src/stream/client.ts');

  const dir = mkdtempSync(path.join(tmpdir(), 'sbc-rtt-'));
  const self = fileURLToPath(import.meta.url);
  const nodeArgs = [...process.execArgv, self, '--serve', dir];
  const proc = pin
    ? spawn('taskset', ['-c', pin[1], process.execPath, ...nodeArgs], { stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn(process.execPath, nodeArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
  let exitCode = 0;
  try {
    const ready = await new Promise<{ endpoint: string; echo: string }>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
      });
      proc.once('exit', (code) => reject(new Error(`the serving child exited (${code}) before it was ready`)));
    });
    // 8-byte payloads: the size of a GET_GAIN request (transaction id 1, cmd GET_GAIN 0x1002).
    const request = Buffer.from([8, 0, 0, 0, 1, 0, 0, 0, 0x02, 0x10, 0, 0]);
    const echo = await RawClient.connect(ready.echo, request, request.length);
    const gain = await StreamClient.connect(ready.endpoint);
    const rawGain = await RawClient.connect(ready.endpoint, request, 4 + 32);

    // Every path runs often enough before the rounds for V8 to optimise it on both sides.
    for (let i = 0; i < WARMUP; i++) {
      await echo.roundTrip();
      await gain.getGain();
      await rawGain.roundTrip();
    }
    const g0 = await gain.getGain();

    console.log(`control-rtt: GET_GAIN on ${ENDPOINT} (sim board) vs a raw length-prefixed echo, both served by one child process over Unix sockets`);
    console.log(`  CPUs (--pin ${pinMode}): ${pin ? `client on ${pin[0]}, service on ${pin[1]}` : 'as the scheduler places them'}`);
    console.log(`  ${N} round trips of each a round, one at a time, interleaved in blocks of ${BLOCK}; ${ROUNDS} rounds after ${WARMUP} warm-up round trips of each`);
    console.log('  (breakdown: "raw GET_GAIN" is the echo\'s client sending GET_GAIN\'s bytes to the stream endpoint: the service\'s share without the project\'s client)');
    console.log('  round   echo p50    echo p99   GET_GAIN p50 GET_GAIN p99   ratio (p50)   raw GET_GAIN p50  ratio');
    const ratios: number[] = [];
    const rawRatios: number[] = [];
    const times = { echo: new Float64Array(N), gain: new Float64Array(N), raw: new Float64Array(N) };
    const orders = [['echo', 'gain', 'raw'], ['gain', 'raw', 'echo'], ['raw', 'echo', 'gain']] as const;
    for (let r = 0; r < ROUNDS; r++) {
      for (let b = 0; b < N; b += BLOCK) {
        const end = Math.min(N, b + BLOCK);
        // Which kind goes first rotates, so none always follows another.
        for (const kind of orders[(b / BLOCK + r) % orders.length]!) {
          const t = times[kind];
          for (let i = b; i < end; i++) {
            const t0 = performance.now();
            if (kind === 'echo') await echo.roundTrip();
            else if (kind === 'gain') await gain.getGain();
            else await rawGain.roundTrip();
            t[i] = performance.now() - t0;
          }
        }
      }
      const e = stats(times.echo);
      const g = stats(times.gain);
      const w = stats(times.raw);
      ratios.push(g.p50 / e.p50);
      rawRatios.push(w.p50 / e.p50);
      console.log(`  ${String(r + 1).padStart(5)}  ${us(e.p50)}  ${us(e.p99)}  ${us(g.p50)}  ${us(g.p99)}   ${(g.p50 / e.p50).toFixed(3).padStart(11)}   ${us(w.p50).padStart(16)}  ${(w.p50 / e.p50).toFixed(3)}`);
    }
    const g1 = await gain.getGain();
    if (g1.curGain !== g0.curGain) throw new Error(`the gain changed during the run (${g0.curGain} → ${g1.curGain} dB): not a like-for-like series`);
    const ratio = median(ratios);
    const pass = ratio <= TARGET;
    console.log(`  GET_GAIN / echo, median over ${ROUNDS} rounds: ${ratio.toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}); target ≤ ${TARGET}: ${pass ? 'PASS' : 'FAIL'}`);
    console.log(`  raw GET_GAIN / echo (the service's share), median over ${ROUNDS} rounds: ${median(rawRatios).toFixed(3)}`);
    echo.close();
    rawGain.close();
    await gain.close();
    if (!pass && !noFail) exitCode = 1;
  } finally {
    proc.stdin!.end();
    await new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      proc.once('exit', () => { clearTimeout(t); resolve(); });
    });
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

const serveAt = args.indexOf('--serve');
if (serveAt >= 0) await child(args[serveAt + 1]!);
else await main();
