/**
 * `sbc-audio serve` as a user starts it, in a child process (bin/sbc-audio.js: src/cli/main.ts
 * exports main() and does not run it by itself), with its runtime directory in a temp folder, and
 * the URL it prints for its HTTP server (`  http    <url>`). Also runs one-shot `sbc-audio`
 * commands against it (`sim jack …`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.join(ROOT, 'bin/sbc-audio.js');

export interface ServeChild {
  child: ChildProcess;
  /** The page's URL as serve printed it (http://127.0.0.1:PORT/). */
  url: string;
  runtimeDir: string;
  out(): string;
  err(): string;
  /** SIGTERM, then SIGKILL if it has not exited after `guardMs`; resolves once it has exited. */
  stop(guardMs?: number): Promise<void>;
}

/**
 * Spawns `serve --board BOARD --http-bind 127.0.0.1:0 --runtime-dir DIR` (no OSC, no MIDI, no
 * state file: the board's control defaults at every start) and waits for its `http` line.
 * Rejects (with both outputs) when serve exits first or the line has not come within `guardMs`.
 */
export async function startServe(board: string, runtimeDir: string, guardMs = 60_000, extra: string[] = []): Promise<ServeChild> {
  const args = ['serve', '--board', board, '--http-bind', '127.0.0.1:0', '--runtime-dir', runtimeDir, '--no-osc', '--no-midi', '--no-state', ...extra];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (stopGuardMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), stopGuardMs);
    await exited;
    clearTimeout(t);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`sbc-audio ${args.join(' ')}: no "http" line within ${guardMs} ms (a hang guard)\nstdout: ${out}\nstderr: ${err}`)), guardMs);
      const check = () => {
        const m = /^ {2}http {4}(\S+)/m.exec(out);
        if (m) {
          clearTimeout(guard);
          child.stdout!.off('data', check);
          resolve(m[1]!);
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(guard);
        reject(new Error(`sbc-audio ${args.join(' ')} exited (${code ?? signal}) before printing its http line\nstdout: ${out}\nstderr: ${err}`));
      });
    });
    return { child, url, runtimeDir, out: () => out, err: () => err, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Runs `sbc-audio ARGS` to its end; rejects with its output when it fails or outlives `guardMs`. */
export function runCli(args: string[], guardMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { err += d; });
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sbc-audio ${args.join(' ')} still running after ${guardMs} ms (a hang guard)\nstdout: ${out}\nstderr: ${err}`));
    }, guardMs);
    child.once('exit', (code, signal) => {
      clearTimeout(guard);
      if (code === 0) resolve(out);
      else reject(new Error(`sbc-audio ${args.join(' ')} exited ${code ?? signal}\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}
