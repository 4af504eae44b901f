/**
 * `sbc-audio ARGS --runtime-dir DIR` as a child process, asynchronously (the caller's event loop goes
 * on: spawnSync would stall a capture's reads for seconds under TCG). Resolves with its stdout and
 * stderr; rejects with them on a non-zero exit. The guest tests of serve share it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');

export function sbcCli(args: string[], runtimeDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args, '--runtime-dir', runtimeDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`sbc-audio ${args.join(' ')}: exit ${code}: ${out}`))));
  });
}
