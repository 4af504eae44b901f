/**
 * `make reliability`: the service under abuse, bounded (about 15 minutes on two shared cores), one
 * table of figures at the end. Not part of `make test`: it measures a running service for minutes.
 *
 * One `sbc-audio serve --board sim` child process (a real process, so a crash, an fd or a /dev/shm
 * leak and its memory are its own), driven only from outside: the stream protocol on its endpoints,
 * the monitor endpoint of the simulated analog output (docs/PROTOCOL.md "Monitor endpoints") and the
 * simulation control socket (section 13). Phases:
 *
 *   fuzz    ≥ 1,000,000 hostile messages (refused requests, out-of-range values, violations of every
 *           kind, garbage tokens) from a separate process while a good client plays: 0 crashes,
 *           every violating connection closed, the good client's channels never closed, 0 fd and
 *           /dev/shm leaks, RSS plateaus, log bytes written.
 *   kills   200 clients SIGKILLed while they play: each time the monitor carries the client's
 *           signal before (positive control) and silence after; 0 fd and /dev/shm leaks.
 *   i2c     1,000 SET_GAINs with 1% of I2C transfers failing, and every 20th one forced to fail on
 *           one register of the volume pair: after each, the driver's cache equals the chip and
 *           GET_GAIN equals what the chip's registers hold (the louder channel).
 *   xruns   1,000 engine stalls: each underrun counted by the service, reported to the client
 *           (EXT_RB_ERROR), and the stream goes on (positions advance after the last one).
 *   jack    10,000 jack edges in bursts: one PLUG_DETECT_NOTIFY per settled change, none for a
 *           burst that ends where it began, final state right.
 *   soak    5 minutes of playing with gain changes and jack toggles: the service's RSS floor (the
 *           lowest of a third of the 1/s samples) grows ≤ 1 MB from the first third after a
 *           1-minute warm-up to the last.
 *
 *   node --import tsx scripts/reliability.ts [--quick] [--phases fuzz,kills,i2c,xruns,jack,soak]
 *   (--quick: every count ÷ 20, soak 30 s; --phases: only those, in this order)
 *
 * Exit status 0 when every row holds, 1 otherwise. The kernel's own figures (fds under /proc,
 * files under /dev/shm, VmRSS) are read directly; the service is never asked about itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MappedRingBuffer, type RingBufferClient, StreamClient } from '../src/stream/client.ts';
import { exitingSeenAt } from '../src/stream/conformance/checks.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'sbc-audio.js');
const SELF = fileURLToPath(import.meta.url);

// Wire facts (docs/facts/stream-protocol.md), as literals: this script is a client.
const GET_FORMATS = 0x1000, SET_FORMAT = 0x1001, GET_GAIN = 0x1002, SET_GAIN = 0x1003, PLUG_DETECT = 0x1004;
const GET_UNIQUE_ID = 0x1005, GET_STRING = 0x1006, GET_CLOCK_DOMAIN = 0x1007;
const EXT_GET_EXTERNAL_DELAY = 0xe000, EXT_GAIN_NOTIFY = 0xe001, EXT_OBSERVE = 0xe003, EXT_GET_PURPOSE = 0xe004, EXT_GET_DELAY_INFO = 0xe005;
const RB_GET_FIFO_DEPTH = 0x3000, RB_START = 0x3002;
const NO_ACK = 0x80000000;
const BIT16 = 1 << 2;
/** The monitor's rendering delay (docs/PROTOCOL.md, "Monitor endpoints"). */
const MONITOR_DELAY_NS = 50e6;
const RATE = 48000;
const now = () => Number(process.hrtime.bigint());
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Child roles: `client ENDPOINT` (a player to be killed) and `fuzz ...` (the hostile process).
// ---------------------------------------------------------------------------------------------

/**
 * A player in its own process: loads everything, says "ready", waits for "go" on stdin (so a spare
 * is warm while the previous one is killed), then owns the stream, writes a pseudo-random signal
 * half a buffer ahead of the clock, starts, prints {startTimeNs} and plays until killed.
 */
async function killableClient(endpoint: string): Promise<void> {
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const c = await StreamClient.connect(endpoint, { timeoutMs: 20000 });
  const f = await c.setFormat({ fps: RATE, sampleFormat: BIT16, channels: 2 });
  if (f.result !== 0) throw new Error(`SET_FORMAT ${f.result}`);
  const rb = await c.openRingBuffer(f.token!);
  const b = await rb.getBuffer(RATE / 5, 0);
  if (b.result !== 0) throw new Error(`GET_BUFFER ${b.result}`);
  const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, 4);
  const block = new Uint8Array(b.frames * 4);
  let seed = 0x2545f491;
  for (let i = 0; i < block.length; i += 2) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = ((seed >>> 16) & 0x3fff) + 0x1000; // never near zero: silence is unmistakable
    block[i] = v & 0xff;
    block[i + 1] = (v >>> 8) & 0x7f;
  }
  ring.write(0, block); // the whole ring, a signal that never reaches zero
  const s = await rb.start();
  process.stdout.write(`${JSON.stringify({ startTimeNs: s.startTimeNs, result: s.result })}\n`);
  setInterval(() => {}, 1000);
}

/** The hostile process: `conns` connections in turn, `perConn` messages each; prints figures as JSON. */
async function fuzzProcess(runtimeDir: string, total: number, perConn: number): Promise<void> {
  const stats = { sent: 0, connections: 0, violating: 0, violatingClosed: 0, cleanClosed: 0, tokens: 0, tokensClosed: 0, answered: 0 };
  const endpoints = ['audio-output/sim.headphone', 'audio-output/sim.speaker', 'audio-input/sim.mic'].map((e) => path.join(runtimeDir, e));
  let rnd = 0x9e3779b9;
  const rand = (n: number) => {
    rnd ^= rnd << 13; rnd >>>= 0; rnd ^= rnd >>> 17; rnd ^= rnd << 5; rnd >>>= 0;
    return rnd % n;
  };
  const u32 = (b: number[], v: number) => b.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const f32 = (b: number[], v: number) => {
    const x = new Uint8Array(4);
    new DataView(x.buffer).setFloat32(0, v, true);
    b.push(...x);
  };
  /** A request the service reads and answers (or refuses with a result): never a violation. */
  const legal = (txid: number): number[] => {
    const b: number[] = [];
    const k = rand(12);
    const cmds = [GET_FORMATS, GET_GAIN, GET_UNIQUE_ID, GET_CLOCK_DOMAIN, EXT_OBSERVE, EXT_GET_PURPOSE];
    if (k < 6) { u32(b, txid); u32(b, cmds[k]!); return b; }
    if (k === 6) { // SET_FORMAT with odd values: INVALID_ARGS / NOT_SUPPORTED / ACCESS_DENIED
      u32(b, txid); u32(b, SET_FORMAT); u32(b, rand(4) === 0 ? RATE : rand(400000)); u32(b, 1 << rand(12));
      b.push(rand(9), 0, 0, 0, 0, 0, 0, 0); u32(b, rand(4)); u32(b, 0);
      return b;
    }
    if (k === 7) { // SET_GAIN, sometimes NO_ACK, values in and out of range, NaN
      const noAck = rand(3) === 0 ? NO_ACK : 0;
      u32(b, txid); u32(b, (SET_GAIN | noAck) >>> 0); u32(b, rand(8)); f32(b, rand(5) === 0 ? NaN : -rand(300) + 20);
      return b;
    }
    if (k === 8) { u32(b, txid); u32(b, PLUG_DETECT | (rand(2) ? NO_ACK : 0)); u32(b, [0, 0x40000000, 0x80000000, 0xc0000000][rand(4)]!); return b; }
    if (k === 9) { u32(b, txid); u32(b, GET_STRING); u32(b, rand(2) ? 0x80000000 + rand(3) : rand(0xffffffff)); return b; }
    if (k === 10) { u32(b, txid); u32(b, EXT_GET_EXTERNAL_DELAY); u32(b, rand(200000)); return b; }
    u32(b, txid); u32(b, rand(2) ? EXT_GET_DELAY_INFO : EXT_GAIN_NOTIFY); u32(b, rand(2) ? RATE : 0x40000000);
    return b;
  };
  /** One protocol violation of a random kind (R-VAL-1..4, R-FRAME-2); returns the whole frame. */
  const violation = (txid: number): number[] => {
    const b: number[] = [];
    switch (rand(6)) {
      case 0: u32(b, 0); u32(b, GET_GAIN); break; // transaction id 0
      case 1: u32(b, txid); u32(b, [0x2000, 0x4000, 0xe002, 0x1fff, RB_GET_FIFO_DEPTH, RB_START][rand(6)]!); break; // not a request here
      case 2: u32(b, txid); u32(b, SET_GAIN); u32(b, 0); break; // wrong size
      case 3: u32(b, txid); u32(b, (GET_FORMATS | NO_ACK) >>> 0); break; // NO_ACK not allowed
      case 4: { const f: number[] = []; u32(f, 4); u32(f, txid); return f; } // frame shorter than 8
      default: { const f: number[] = []; u32(f, 5000 + rand(100000)); u32(f, txid); u32(f, GET_GAIN); return f; } // frame too long
    }
    const f: number[] = [];
    u32(f, b.length);
    return f.concat(b);
  };
  while (stats.sent < total) {
    const ep = endpoints[rand(endpoints.length)]!;
    const willViolate = rand(3) === 0;
    const n = 1 + rand(perConn);
    const bytes: number[] = [];
    const token = rand(20) === 0;
    if (token) {
      // A ring-buffer token that was never issued: the service answers nothing and closes (R-RB-1).
      u32(bytes, 16);
      for (let i = 0; i < 16; i++) bytes.push(rand(256));
      stats.sent++;
      stats.tokens++;
    } else {
      for (let i = 0; i < n; i++) {
        const p = legal(1 + i);
        u32(bytes, p.length);
        bytes.push(...p);
      }
      stats.sent += n;
      if (willViolate) {
        bytes.push(...violation(n + 1));
        stats.sent++;
        stats.violating++;
      }
    }
    stats.connections++;
    const closedByService = await new Promise<boolean>((resolve) => {
      const s = net.createConnection(ep);
      let done = false;
      const finish = (closed: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(guard);
        s.destroy();
        resolve(closed);
      };
      // A connection that is answered and not closed stays up this long after its last answer.
      let guard = setTimeout(() => finish(false), 2000);
      s.on('data', (d) => {
        stats.answered += d.length;
        if (!willViolate && !token) { clearTimeout(guard); guard = setTimeout(() => finish(false), 50); }
      });
      s.on('close', () => finish(true));
      s.on('error', () => finish(true));
      s.on('connect', () => s.write(Uint8Array.from(bytes)));
    });
    if (token) { if (closedByService) stats.tokensClosed++; }
    else if (willViolate) { if (closedByService) stats.violatingClosed++; }
    else if (closedByService) stats.cleanClosed++;
  }
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The harness.
// ---------------------------------------------------------------------------------------------
interface Row { phase: string; figure: string; limit: string; ok: boolean }

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const ALL_PHASES = ['fuzz', 'kills', 'i2c', 'xruns', 'jack', 'soak'];
  const pi = process.argv.indexOf('--phases');
  const phases = pi > 0 ? (process.argv[pi + 1] ?? '').split(',') : ALL_PHASES;
  const unknown = phases.filter((p) => !ALL_PHASES.includes(p));
  if (unknown.length) throw new Error(`--phases: unknown ${unknown.join(', ')} (phases: ${ALL_PHASES.join(', ')})`);
  const scale = quick ? 20 : 1;
  const rows: Row[] = [];
  const row = (phase: string, figure: string, limit: string, ok: boolean) => {
    rows.push({ phase, figure, limit, ok });
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${phase}: ${figure} (${limit})`);
  };
  const t0 = now();
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-reliability-'));
  const service = new ServiceChild(runtimeDir);
  await service.ready;
  const ep = (dir: 'audio-output' | 'audio-input', name: string) => path.join(runtimeDir, dir, name);
  const control = await SimControlConn.connect(path.join(runtimeDir, 'sim', 'sim.sock'));
  // One play and one monitor recording first, so that what the service creates once (engine
  // threads' resources, the monitor's timers) is in the baseline and not counted as a leak.
  await (await GoodClient.start(ep('audio-output', 'sim.speaker'))).stop();
  await (await MonitorReader.start(ep('audio-input', 'sim.speaker.monitor'))).stop();
  await sleep(500);
  const fdBase = service.fds(), shmBase = service.shmFiles();
  console.log(`service pid ${service.pid}: ${fdBase} fds, ${shmBase} shared buffers, RSS ${kib(service.rssKiB())}`);

  // The gain at 0 dB for what follows (the kill phase listens to the monitor). Gain is the board's.
  {
    const owner = await StreamClient.connect(ep('audio-output', 'sim.speaker'));
    const g = await owner.setGain({ gain: 0, mute: false });
    if (g.result !== 0) throw new Error(`SET_GAIN 0 dB: ${g.result}`);
    await owner.close();
  }

  try {
    // --- fuzz ---------------------------------------------------------------------------------
    if (phases.includes('fuzz')) {
      const total = 1_000_000 / scale;
      const good = await GoodClient.start(ep('audio-output', 'sim.speaker'));
      const logBefore = service.stderrBytes;
      const rss: number[] = [];
      const sampler = setInterval(() => rss.push(service.rssKiB()), 1000);
      const started = now();
      const fuzz = spawn(process.execPath, ['--import', 'tsx', SELF, 'fuzz', runtimeDir, String(total), '400'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      fuzz.stdout!.on('data', (d) => { out += d; });
      const code = await new Promise<number | null>((r) => fuzz.on('exit', r));
      clearInterval(sampler);
      const seconds = (now() - started) / 1e9;
      const stats = JSON.parse(out.trim().split('\n').pop() || '{}') as { sent: number; connections: number; violating: number; violatingClosed: number; cleanClosed: number; tokens: number; tokensClosed: number };
      const goodState = await good.stop();
      const { fds, shm } = await service.settled(fdBase, shmBase);
      const q = Math.max(1, Math.floor(rss.length / 4));
      const midMax = Math.max(...rss.slice(q, 2 * q));
      const lastMax = Math.max(...rss.slice(3 * q));
      row('fuzz', `${stats.sent} messages on ${stats.connections} connections in ${seconds.toFixed(0)} s (fuzzer exit ${code})`, `≥ ${total}`, code === 0 && stats.sent >= total);
      row('fuzz', `service alive: ${service.alive}`, 'no crash', service.alive);
      row('fuzz', `${stats.violatingClosed} of ${stats.violating} violating connections closed by the service; ${stats.tokensClosed} of ${stats.tokens} with a forged token`, 'all, all', stats.violating > 0 && stats.violatingClosed === stats.violating && stats.tokensClosed === stats.tokens);
      row('fuzz', `${stats.cleanClosed} of ${stats.connections - stats.violating - stats.tokens} connections without a violation closed by the service`, '0', stats.cleanClosed === 0);
      row('fuzz', `good client: ${goodState.closed ? 'its channel was closed' : 'channels open'}, positions advanced ${goodState.advancedFrames} frames, STOP ${goodState.stopResult}`, 'never closed, playing', !goodState.closed && goodState.stopResult === 0 && goodState.advancedFrames > RATE * seconds * 0.5);
      row('fuzz', `fds ${fdBase} → ${fds}, shared buffers ${shmBase} → ${shm}`, '0 leaked', fds === fdBase && shm === shmBase);
      row('fuzz', `RSS ${kib(rss[0] ?? 0)} → max of 2nd quarter ${kib(midMax)}, of last quarter ${kib(lastMax)}`, 'plateau: last ≤ 2nd + 4 MiB', lastMax <= midMax + 4096);
      row('fuzz', `log written: ${((service.stderrBytes - logBefore) / 1024).toFixed(1)} KiB`, '≤ 1 MiB for the whole fuzz', service.stderrBytes - logBefore <= 1024 * 1024);
    }

    // --- kills --------------------------------------------------------------------------------
    if (phases.includes('kills')) {
      const kills = 200 / scale;
      const monitor = await MonitorReader.start(ep('audio-input', 'sim.speaker.monitor'));
      const spawnClient = () => {
        const c = spawn(process.execPath, ['--import', 'tsx', SELF, 'client', ep('audio-output', 'sim.speaker')], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
        const lines = lineReader(c);
        return { c, lines, ready: lines.next() };
      };
      let spare = spawnClient();
      let audibleBefore = 0, silentAfter = 0;
      const failures: string[] = [];
      for (let i = 0; i < kills; i++) {
        const cur = spare;
        await cur.ready;
        spare = spawnClient();
        cur.c.stdin!.write('go\n');
        const started = JSON.parse(await cur.lines.next()) as { startTimeNs: number; result: number };
        if (started.result !== 0) failures.push(`kill ${i}: START ${started.result}`);
        await sleep(250);
        // The client's signal, 100…200 ms after START, is on the monitor (positive control).
        const before = await monitor.window(started.startTimeNs + 100e6, started.startTimeNs + 200e6);
        if (before.nonZero > before.frames / 2) audibleBefore++;
        else failures.push(`kill ${i}: monitor carried ${before.nonZero} of ${before.frames} frames non-zero while the client played`);
        cur.c.kill('SIGKILL');
        // R-RB-12: the channel counts as closed once the process starts to exit, which on a busy
        // machine can be some time after kill(): taken from its /proc entry, as the service sees it.
        const killedAt = Number(exitingSeenAt(cur.c.pid!));
        await new Promise((r) => cur.c.on('exit', r));
        // Exact zeros from (death + FIFO + one period), about 8 ms here; 50 ms allowed, then 150 ms
        // of silence.
        const after = await monitor.window(killedAt + 50e6, killedAt + 200e6);
        if (after.frames > 0 && after.nonZero === 0) silentAfter++;
        else failures.push(`kill ${i}: ${after.nonZero} of ${after.frames} frames non-zero after the client died`);
      }
      spare.c.kill('SIGKILL');
      await new Promise((r) => spare.c.on('exit', r));
      await monitor.stop();
      const { fds, shm } = await service.settled(fdBase, shmBase);
      for (const f of failures.slice(0, 5)) console.log(`     ${f}`);
      row('kills', `${kills} clients SIGKILLed: signal on the monitor before ${audibleBefore}, silence after ${silentAfter}`, `${kills} and ${kills}`, audibleBefore === kills && silentAfter === kills);
      row('kills', `fds ${fdBase} → ${fds}, shared buffers ${shmBase} → ${shm}; service alive: ${service.alive}`, '0 leaked', fds === fdBase && shm === shmBase && service.alive);
    }

    // --- i2c faults -------------------------------------------------------------------------
    if (phases.includes('i2c')) {
      const count = 1000 / scale;
      // Played, so that the codec is powered and unmuted: an idle codec holds its volume muted.
      const player = await GoodClient.start(ep('audio-output', 'sim.headphone'));
      const owner = player.stream;
      let refused = 0, truthful = 0, cacheEqualsChip = 0, forced = 0;
      const failures: string[] = [];
      for (let i = 0; i < count; i++) {
        const forcedHere = i % 20 === 19;
        if (forcedHere) {
          forced++;
          // Failures that outlast every retry, on one register of the pair: the SET_GAIN cannot succeed.
          await control.request({ cmd: 'i2c-fault', kind: 'nack', register: i % 40 === 39 ? 'VOL_R' : 'VOL_L', count: 50 });
        } else {
          await control.request({ cmd: 'i2c-fault', kind: 'nack', probability: 0.01 });
        }
        const want = -((i * 37) % 254) / 2; // 0 … −126.5 dB in the part's 0.5 dB steps
        const r = await owner.setGain({ gain: want, mute: false });
        if (r.result !== 0) refused++;
        await control.request({ cmd: 'i2c-fault', clear: true });
        const regs = (await control.request({ cmd: 'regs' })) as { registers: { name: string; cached: number | null; read: number | null }[] };
        const vol = (n: string) => regs.registers.find((x) => x.name === n)!;
        const l = vol('VOL_L'), rr = vol('VOL_R');
        if (l.cached === l.read && rr.cached === rr.read) cacheEqualsChip++;
        else failures.push(`SET_GAIN #${i}: cache L ${l.cached} R ${rr.cached}, chip L ${l.read} R ${rr.read}`);
        // sim-codec (codecs/sim-codec/FACTS.md): 0x00 = 0 dB, 0.5 dB steps, 0xFF = mute.
        const db = (code: number | null) => (code === null || code === 0xff ? -Infinity : -code / 2);
        const louder = Math.max(db(l.read), db(rr.read));
        const g = await owner.getGain();
        if (g.curGain === louder) truthful++;
        else failures.push(`SET_GAIN #${i} (result ${r.result}): GET_GAIN ${g.curGain} dB, chip L ${l.read} R ${rr.read} → louder ${louder} dB`);
      }
      await player.stop();
      for (const f of failures.slice(0, 5)) console.log(`     ${f}`);
      row('i2c', `${count} SET_GAINs at 1% faulty transfers, ${forced} with a register forced to fail (${refused} answered an error)`, `every forced one refused`, refused >= forced);
      row('i2c', `cache equals chip after ${cacheEqualsChip} of ${count}; GET_GAIN equals the chip's louder channel after ${truthful} of ${count}`, `${count} and ${count}`, cacheEqualsChip === count && truthful === count);
    }

    // --- xruns --------------------------------------------------------------------------------
    if (phases.includes('xruns')) {
      const count = 1000 / scale;
      const good = await GoodClient.start(ep('audio-output', 'sim.speaker'), true);
      let stallsDone = 0;
      for (let i = 0; i < count; i++) {
        const a = (await control.request({ cmd: 'stall', periods: 4 })) as { stalled: unknown[] };
        if (a.stalled.length > 0) stallsDone++;
        await sleep(10);
      }
      await sleep(200);
      const posBefore = good.position;
      await sleep(300);
      const advanced = good.position - posBefore;
      const st = await good.stop();
      row('xruns', `${stallsDone} stalls induced; the service counted ${good.lastTotal} underruns, reported ${good.errorCount} in ${good.errorMessages} EXT_RB_ERROR`, `≥ ${count}, every one reported`, stallsDone === count && good.lastTotal >= count && good.errorCount === good.lastTotal);
      row('xruns', `after the last: positions advanced ${advanced} frames in 300 ms, channel ${st.closed ? 'closed' : 'open'}`, 'recovered', advanced > RATE * 0.1 && !st.closed);
    }

    // --- jack edges -------------------------------------------------------------------------
    if (phases.includes('jack')) {
      const edgesWanted = 10_000 / scale;
      const watcher = await StreamClient.connect(ep('audio-output', 'sim.headphone'));
      await watcher.observe();
      const first = await watcher.plugDetect('enable');
      let state = first.plugged;
      let notes = 0, wrong = 0, expected = 0, edges = 0;
      let waiter: (() => void) | undefined;
      let expectState = state;
      watcher.on('plug', (p: { plugged: boolean }) => {
        notes++;
        if (p.plugged !== expectState) wrong++;
        waiter?.();
      });
      let rnd = 12345;
      while (edges < edgesWanted) {
        rnd = (rnd * 1103515245 + 12345) >>> 0;
        const n = 1 + ((rnd >>> 16) % 9);
        const lines: Record<string, unknown>[] = [];
        for (let k = 0; k < n; k++) { state = !state; lines.push({ cmd: 'jack', stream: 'headphone', plugged: state }); }
        edges += n;
        const changed = n % 2 === 1;
        if (changed) { expected++; expectState = state; }
        const got = changed ? new Promise<void>((r) => { waiter = r; }) : undefined;
        await control.pipeline(lines); // one write: the edges land within microseconds of each other
        if (got) await Promise.race([got, sleep(5000)]);
        else await sleep(45); // debounce 20 ms (board/sim.json): a burst that ends where it began says nothing
        waiter = undefined;
      }
      await sleep(200);
      const final = await watcher.plugDetect('none');
      await watcher.close();
      row('jack', `${edges} edges in ${expected + 0} settled changes: ${notes} notifications, ${wrong} with the wrong state; final ${final.plugged ? 'plugged' : 'unplugged'}`, `${expected}, 0, ${state ? 'plugged' : 'unplugged'}`, notes === expected && wrong === 0 && final.plugged === state);
    }

    // --- soak ---------------------------------------------------------------------------------
    if (phases.includes('soak')) {
      const seconds = quick ? 30 : 300;
      const warmup = quick ? 10 : 60;
      const good = await GoodClient.start(ep('audio-output', 'sim.speaker'));
      const gainer = await StreamClient.connect(ep('audio-output', 'sim.headphone'));
      const samples: { t: number; rss: number }[] = [];
      const end = now() + seconds * 1e9;
      let i = 0, gainChanges = 0, toggles = 0;
      let lastSample = 0;
      while (now() < end) {
        await gainer.setGain({ gain: -((i * 7) % 120) / 2, mute: false });
        gainChanges++;
        if (i % 5 === 0) { await control.request({ cmd: 'jack', stream: 'headphone', plugged: i % 10 === 0 }); toggles++; }
        i++;
        if (now() - lastSample > 1e9) { lastSample = now(); samples.push({ t: (now() - t0) / 1e9, rss: service.rssKiB() }); }
        await sleep(100);
      }
      await gainer.close();
      const st = await good.stop();
      const warm = samples.filter((s) => s.t - samples[0]!.t >= warmup);
      // Growth is judged on the RSS floor: the lowest sample of the first and of the last third
      // after warm-up. RSS saws up and down by megabytes as V8's young generation fills and is
      // scavenged (a median of a few samples lands anywhere on the saw); what a leak does is
      // raise the floor the saw returns to.
      const third = Math.max(1, Math.floor(warm.length / 3));
      const base = Math.min(...warm.slice(0, third).map((s) => s.rss));
      const tail = Math.min(...warm.slice(-third).map((s) => s.rss));
      const swing = Math.max(...warm.map((s) => s.rss)) - Math.min(...warm.map((s) => s.rss));
      row('soak', `${seconds} s: ${gainChanges} gain changes, ${toggles} jack toggles, good client ${st.closed ? 'closed' : 'open'}; RSS floor after warm-up (${warm.length} samples, 1/s) ${kib(base)} → ${kib(tail)} (${((tail - base) / 1024).toFixed(2)} MiB; saw ${(swing / 1024).toFixed(2)} MiB)`, 'floor growth ≤ 1 MiB', tail - base <= 1024 && !st.closed);
    }
  } finally {
    await control.close();
    const code = await service.stop();
    row('end', `serve exited ${code} on SIGTERM; endpoints left: ${leftEntries(runtimeDir)}`, 'exit 0, none left', code === 0 && leftEntries(runtimeDir) === 0);
    rmSync(runtimeDir, { recursive: true, force: true });
  }

  const minutes = (now() - t0) / 60e9;
  console.log(`\nreliability (${quick ? 'quick, counts ÷ 20' : 'full'}): ${minutes.toFixed(1)} min`);
  const w = Math.max(...rows.map((r) => r.figure.length));
  console.log(`| phase | figure${' '.repeat(Math.max(0, w - 6))} | limit | |`);
  console.log(`|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.phase} | ${r.figure} | ${r.limit} | ${r.ok ? 'ok' : 'FAIL'} |`);
  const failed = rows.filter((r) => !r.ok).length;
  console.log(`\n${rows.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

function kib(k: number): string {
  return `${(k / 1024).toFixed(1)} MiB`;
}
function leftEntries(dir: string): number {
  let n = 0;
  for (const d of ['audio-output', 'audio-input', 'sim']) {
    try { n += readdirSync(path.join(dir, d)).length; } catch { /* gone */ }
  }
  return n;
}

function lineReader(c: ChildProcess): { next(): Promise<string> } {
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buf = '';
  c.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l); else lines.push(l);
    }
  });
  return {
    next: () => {
      const l = lines.shift();
      if (l !== undefined) return Promise.resolve(l);
      return new Promise((resolve, reject) => {
        waiting.push(resolve);
        c.once('exit', (code) => reject(new Error(`child exited ${code} before its line`)));
      });
    },
  };
}

/** `sbc-audio serve --board sim` as a child process, with the kernel's figures about it. */
class ServiceChild {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  stderrBytes = 0;
  alive = true;
  private exitCode: Promise<number | null>;

  constructor(runtimeDir: string) {
    this.proc = spawn(process.execPath, [CLI, 'serve', '--board', 'sim', '--runtime-dir', runtimeDir, '--state-file', path.join(runtimeDir, 'state.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderrBytes += d.length; });
    this.exitCode = new Promise((r) => this.proc.on('exit', (code) => { this.alive = false; r(code); }));
    this.ready = new Promise((resolve, reject) => {
      let out = '';
      this.proc.stdout!.on('data', (d) => {
        out += d;
        if (/^serving \d+ streams?/m.test(out) && out.includes('\n', out.search(/^serving/m))) resolve();
      });
      void this.exitCode.then((c) => reject(new Error(`serve exited ${c} before it was ready`)));
    });
  }
  get pid(): number { return this.proc.pid!; }
  fds(): number { return readdirSync(`/proc/${this.pid}/fd`).length; }
  shmFiles(): number { return readdirSync('/dev/shm').filter((f) => f.startsWith('sbc-audio-') && f.includes(`-${this.pid}-`)).length; }
  rssKiB(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  }
  /**
   * The fd and shared-buffer counts once closes have been processed: polled until back at the
   * baseline, or 5 s (a count still above it then is a leak).
   */
  async settled(fdBase: number, shmBase: number): Promise<{ fds: number; shm: number }> {
    const until = now() + 5e9;
    for (;;) {
      const fds = this.fds(), shm = this.shmFiles();
      if ((fds <= fdBase && shm <= shmBase) || now() > until) return { fds, shm };
      await sleep(100);
    }
  }
  async stop(): Promise<number | null> {
    if (this.alive) this.proc.kill('SIGTERM');
    return this.exitCode;
  }
}

/** One persistent connection to the simulation control socket (JSON lines). */
class SimControlConn {
  private buf = '';
  private readonly pending: { resolve(v: unknown): void; reject(e: Error): void }[] = [];
  private constructor(private readonly s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const p = this.pending.shift();
        const a = JSON.parse(line) as { ok: boolean; error?: string };
        if (!p) continue;
        if (a.ok) p.resolve(a); else p.reject(new Error(`sim control: ${a.error}`));
      }
    });
  }
  static connect(p: string): Promise<SimControlConn> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(p, () => resolve(new SimControlConn(s)));
      s.once('error', reject);
    });
  }
  request(r: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.s.write(`${JSON.stringify(r)}\n`);
    });
  }
  /** Several requests in one write; resolves when all are answered. */
  pipeline(rs: Record<string, unknown>[]): Promise<unknown[]> {
    const all = rs.map(() => new Promise<unknown>((resolve, reject) => this.pending.push({ resolve, reject })));
    this.s.write(rs.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return Promise.all(all);
  }
  async close(): Promise<void> { this.s.end(); }
}

/**
 * A well-behaved player: owns the stream, writes half a ring ahead of the clock, counts positions
 * and (with notifications on) EXT_RB_ERROR underruns.
 */
class GoodClient {
  position = 0;
  closed = false;
  errorMessages = 0;
  errorCount = 0;
  lastTotal = 0;
  private constructor(readonly stream: StreamClient, private readonly rb: RingBufferClient, private readonly ring: MappedRingBuffer, private readonly timer: NodeJS.Timeout, private readonly startPos: { v: number }) {}

  static async start(endpoint: string, notify = false): Promise<GoodClient> {
    const c = await StreamClient.connect(endpoint, { timeoutMs: 20000 });
    const f = await c.setFormat({ fps: RATE, sampleFormat: BIT16, channels: 2 });
    if (f.result !== 0) throw new Error(`good client: SET_FORMAT ${f.result}`);
    const rb = await c.openRingBuffer(f.token!);
    if (notify && (await rb.extNotifications(true)) !== 0) throw new Error('good client: EXT_RB_NOTIFY refused');
    const b = await rb.getBuffer(RATE / 4, 8);
    if (b.result !== 0) throw new Error(`good client: GET_BUFFER ${b.result}`);
    const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, 4);
    const tone = new Uint8Array(b.frames * 4);
    for (let i = 0; i < b.frames; i++) {
      const v = Math.round(8000 * Math.sin((2 * Math.PI * 1000 * i) / RATE)) & 0xffff;
      tone[i * 4] = tone[i * 4 + 2] = v & 0xff;
      tone[i * 4 + 1] = tone[i * 4 + 3] = v >>> 8;
    }
    ring.write(0, tone);
    const startPos = { v: 0 };
    const timer = setInterval(() => {}, 1000);
    const g = new GoodClient(c, rb, ring, timer, startPos);
    rb.on('position', (p: { ringBufferPos: number }) => { g.position += (p.ringBufferPos - startPos.v + b.frames * 4) % (b.frames * 4) / 4; startPos.v = p.ringBufferPos; });
    rb.on('rb-error', (e: { count: number; total: number }) => { g.errorMessages++; g.errorCount += e.count; g.lastTotal = e.total; });
    rb.socket.on('close', () => { g.closed = true; });
    const s = await rb.start();
    if (s.result !== 0) throw new Error(`good client: START ${s.result}`);
    return g;
  }

  async stop(): Promise<{ closed: boolean; stopResult: number; advancedFrames: number }> {
    clearInterval(this.timer);
    const wasClosed = this.closed;
    let stopResult = -1;
    if (!wasClosed) stopResult = (await this.rb.stop()).result;
    this.ring.close();
    await this.stream.close();
    return { closed: wasClosed, stopResult, advancedFrames: this.position };
  }
}

/**
 * Records a monitor endpoint (what the simulated analog output carries) into memory, and answers
 * how much of a span of CLOCK_MONOTONIC was non-silent. Frame k is what the output carried at
 * start_time − 50 ms + k / rate (docs/PROTOCOL.md, "Monitor endpoints"). It reads only as far as
 * the service's position notifications say it has written: the monitor is written by the
 * service's main thread, which a loaded machine can hold back longer than any fixed margin.
 */
class MonitorReader {
  private readonly frames: number;
  private readPos = 0;
  /** Frames the service has written, from its position notifications. */
  private written = 0;
  private lastRingPos = 0;
  /** Per captured frame (absolute index, modulo the history), 1 when either channel is non-zero. */
  private readonly history: Uint8Array;
  private startNs = 0;
  private constructor(readonly stream: StreamClient, private readonly rb: RingBufferClient, private readonly ring: MappedRingBuffer) {
    this.frames = ring.frames;
    this.history = new Uint8Array(RATE * 4);
    rb.on('position', (p: { ringBufferPos: number }) => {
      const bytes = this.frames * 4;
      this.written += ((p.ringBufferPos - this.lastRingPos + bytes) % bytes) / 4;
      this.lastRingPos = p.ringBufferPos;
      this.drain();
    });
  }

  static async start(endpoint: string): Promise<MonitorReader> {
    const c = await StreamClient.connect(endpoint, { timeoutMs: 20000 });
    const f = await c.setFormat({ fps: RATE, sampleFormat: BIT16, channels: 2 });
    if (f.result !== 0) throw new Error(`monitor: SET_FORMAT ${f.result}`);
    const rb = await c.openRingBuffer(f.token!);
    const b = await rb.getBuffer(RATE, 40); // 1 s, a notification every 25 ms
    if (b.result !== 0) throw new Error(`monitor: GET_BUFFER ${b.result}`);
    const ring = MappedRingBuffer.open(b.bufferPath!, b.frames, 4);
    const m = new MonitorReader(c, rb, ring);
    m.startNs = (await rb.start()).startTimeNs;
    return m;
  }

  private drain(): void {
    const upTo = this.written;
    while (this.readPos < upTo) {
      const n = Math.min(upTo - this.readPos, this.frames / 2);
      const bytes = this.ring.read(this.readPos, n);
      for (let i = 0; i < n; i++) {
        const o = i * 4;
        this.history[(this.readPos + i) % this.history.length] = bytes[o]! | bytes[o + 1]! | bytes[o + 2]! | bytes[o + 3]! ? 1 : 0;
      }
      this.readPos += n;
    }
  }

  /** Waits until the span [fromNs, toNs) is captured, then counts its non-silent frames. */
  async window(fromNs: number, toNs: number): Promise<{ frames: number; nonZero: number }> {
    const a = Math.max(0, Math.floor(((fromNs - this.startNs + MONITOR_DELAY_NS) * RATE) / 1e9));
    const b = Math.floor(((toNs - this.startNs + MONITOR_DELAY_NS) * RATE) / 1e9);
    while (this.readPos < b) await sleep(20);
    let nonZero = 0;
    for (let i = a; i < b; i++) nonZero += this.history[i % this.history.length]!;
    return { frames: b - a, nonZero };
  }

  async stop(): Promise<void> {
    await this.rb.stop();
    this.ring.close();
    await this.stream.close();
  }
}

// The role this process plays (at the end: the classes above are initialised by now).
const role = process.argv[2];
if (role === 'client') await killableClient(process.argv[3]!);
else if (role === 'fuzz') await fuzzProcess(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else await main();
