/**
 * The outside world of the HIL suite: programs the project did not write (i2c-tools, libgpiod's
 * tools, gpio-sim's sysfs files) that drive and observe what our backends do.
 */
import { type ChildProcess, type SpawnOptions, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { GpioValue } from '../../src/hal/gpio.ts';
import type { HilEnv } from './env.ts';

const execFileAsync = promisify(execFile);

/** Runs a peer program; resolves with its stdout (trimmed), rejects with its stderr on failure. */
export async function run(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, [...args], { timeout: 20_000 });
    return stdout.trim();
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** Drives input lines and senses output lines from outside our process. */
export interface GpioPeer {
  readonly description: string;
  /** Sets the electrical level seen on our input line `offset`; returns once the level is applied. */
  drive(offset: number, level: GpioValue): Promise<void>;
  /** Reads the electrical level of our output line `offset`. */
  sense(offset: number): Promise<GpioValue>;
  close(): Promise<void>;
}

/**
 * gpio-sim (guest): writing `pull-up`/`pull-down` to sim_gpioN/pull sets the level a consumer
 * sees on line N (edge interrupts included); sim_gpioN/value is what a consumer drives.
 * The write is synchronous, so clock reads around drive() bracket the kernel's edge.
 */
export class GpioSimPeer implements GpioPeer {
  readonly description: string;
  constructor(readonly simDir: string) {
    this.description = `gpio-sim at ${simDir}`;
  }
  pullPath(offset: number): string {
    return `${this.simDir}/sim_gpio${offset}/pull`;
  }
  valuePath(offset: number): string {
    return `${this.simDir}/sim_gpio${offset}/value`;
  }
  driveSync(offset: number, level: GpioValue): void {
    writeFileSync(this.pullPath(offset), level ? 'pull-up' : 'pull-down');
  }
  async drive(offset: number, level: GpioValue): Promise<void> {
    this.driveSync(offset, level);
  }
  async sense(offset: number): Promise<GpioValue> {
    return readFileSync(this.valuePath(offset), 'utf8').trim() === '1' ? 1 : 0;
  }
  async close(): Promise<void> {}
}

/**
 * A real board: each of our lines is wired to a peer line on the same chip, which libgpiod's
 * tools drive (gpioset, kept running so the level holds) and read (gpioget).
 */
export class GpiodWiredPeer implements GpioPeer {
  readonly description: string;
  private holders = new Map<number, import('node:child_process').ChildProcess>();
  private v2: boolean | undefined;

  constructor(readonly chip: string, private readonly wiring: ReadonlyMap<number, number>) {
    this.description = `libgpiod tools on ${chip}, wiring ${[...wiring].map(([a, b]) => `${a}<->${b}`).join(', ')}`;
  }

  private peerOf(offset: number): number {
    const p = this.wiring.get(offset);
    if (p === undefined) throw new Error(`line ${offset} has no peer line wired to it (see docs/hil.md)`);
    return p;
  }

  private async isV2(): Promise<boolean> {
    if (this.v2 === undefined) this.v2 = !/v1\./.test(await run('gpioset', ['--version']).catch(() => 'v1.'));
    return this.v2;
  }

  async drive(offset: number, level: GpioValue): Promise<void> {
    const peer = this.peerOf(offset);
    await this.release(peer);
    const { spawn } = await import('node:child_process');
    const args = (await this.isV2()) ? ['-c', this.chip, `${peer}=${level}`] : ['--mode=signal', this.chip, `${peer}=${level}`];
    const child = spawn('gpioset', args, { stdio: 'ignore' });
    this.holders.set(peer, child);
    // gpioset has applied the level once the line shows as used by it.
    for (let i = 0; i < 200; i++) {
      const info = await run('gpioinfo', (await this.isV2()) ? ['-c', this.chip, String(peer)] : [this.chip]);
      if (/gpioset|output/.test(info.split('\n').find((l) => new RegExp(`line\\s+${peer}:`).test(l)) ?? '')) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`gpioset did not take line ${peer}`);
  }

  private async release(peer: number): Promise<void> {
    const child = this.holders.get(peer);
    if (!child) return;
    this.holders.delete(peer);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async sense(offset: number): Promise<GpioValue> {
    const peer = this.peerOf(offset);
    const out = (await this.isV2())
      ? await run('gpioget', ['--numeric', '-c', this.chip, String(peer)])
      : await run('gpioget', [this.chip, String(peer)]);
    return out.trim().endsWith('1') ? 1 : 0;
  }

  async close(): Promise<void> {
    for (const peer of [...this.holders.keys()]) await this.release(peer);
  }
}

/** The peer this environment offers, or undefined when it offers none. */
export function gpioPeerFor(env: HilEnv): GpioPeer | undefined {
  const g = env.gpio;
  if (!g) return undefined;
  if (g.simDir) return new GpioSimPeer(g.simDir);
  const wiring = new Map<number, number>();
  if (g.peerOutput !== undefined) wiring.set(g.input, g.peerOutput);
  if (g.peerInput !== undefined) wiring.set(g.output, g.peerInput);
  return wiring.size ? new GpiodWiredPeer(g.chip, wiring) : undefined;
}

/** Parses i2cget's output ("0x5a", "0xbeef", or "0x01 0x02 …" for block reads). */
export function parseI2cget(out: string): number[] {
  return out.trim().split(/\s+/).map((t) => Number.parseInt(t, 16));
}

/** Parses `i2cdump -y BUS ADDR b` output into 256 values (undefined for XX). */
export function parseI2cdump(out: string): (number | undefined)[] {
  const regs: (number | undefined)[] = new Array(256).fill(undefined);
  let rows = 0;
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{2}):((?:\s+(?:[0-9a-f]{2}|XX)){16})/i.exec(line.trim());
    if (!m) continue;
    rows++;
    const base = parseInt(m[1]!, 16);
    m[2]!.trim().split(/\s+/).forEach((b, i) => { regs[base + i] = b === 'XX' ? undefined : parseInt(b, 16); });
  }
  if (rows !== 16) throw new Error(`i2cdump output has ${rows} rows, expected 16:\n${out}`);
  return regs;
}

/**
 * Collects a child's stdout and stderr and resolves with them and its exit code when it closes;
 * after `guardMs` (a hang guard, not a bound of what is tested) it is killed and the promise rejects.
 */
export function finishChild(child: ChildProcess, guardMs: number | null): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    // null: no guard here — a long-lived child (a service) is guarded from the moment it is told to stop.
    const guard = guardMs === null ? undefined : setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`hang guard: still running after ${guardMs} ms\n${stderr}`)); }, guardMs);
    child.on('close', (code) => { clearTimeout(guard); resolve({ code, stdout, stderr }); });
  });
}

/** Sends `signal` and waits for the child's end, killing it if it is still running `guardMs` later. */
export async function stopChild<T>(child: ChildProcess, finished: Promise<T>, signal: NodeJS.Signals, guardMs: number): Promise<T> {
  child.kill(signal);
  let guard: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`hang guard: still running ${guardMs} ms after ${signal}`)); }, guardMs);
  });
  try {
    return await Promise.race([finished, hung]);
  } finally {
    clearTimeout(guard);
  }
}

/** A program of the host's /usr as the guest runs it: its path and the environment it needs. */
export interface HostProgram {
  cmd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * A host program (mpd, mpc, snapserver, snapclient, squeezelite) in the guest: /host/usr/bin/NAME
 * (or sbin) with LD_LIBRARY_PATH naming the guest's own /usr/lib/x86_64-linux-gnu first, then the
 * host's library directories (the guest has no ld.so.cache). The guest's libasound is found first,
 * so the program reads the guest's ALSA configuration. `extraEnv` is added (e.g. HOME).
 * Undefined when this environment has no host /usr (a board runs its own programs: use the name).
 */
export function hostProgram(env: HilEnv, name: string, extraEnv: NodeJS.ProcessEnv = {}): HostProgram | undefined {
  const h = env.hostUsr;
  if (!h) return undefined;
  const cmd = [`${h.root}/bin/${name}`, `${h.root}/sbin/${name}`].find((p) => existsSync(p));
  if (!cmd) return undefined;
  return { cmd, env: { ...process.env, LD_LIBRARY_PATH: h.ldLibraryPath, ...extraEnv } };
}

/** Starts a host program (stdout and stderr piped: pair with finishChild / stopChild). */
export function spawnHost(program: HostProgram, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(program.cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options, env: { ...program.env, ...options.env } });
}

/** Runs a host program to its end, as run() does: resolves with its stdout (trimmed), rejects with its stderr. */
export async function runHost(program: HostProgram, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(program.cmd, [...args], { timeout: timeoutMs, env: program.env });
    return stdout.trim();
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${program.cmd} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}
