/**
 * Writes a small settings file atomically: a temporary file beside it, synced, renamed over the
 * old one, then the folder synced (best effort), so that a power cut leaves the old file or the
 * new one, never half of either (the way a preset or a learned MIDI mapping must survive an
 * appliance being unplugged). A folder it has to make is 0755, the file `mode` (the umask taken off
 * neither).
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const dir = path.dirname(file);
  let made = false;
  try {
    statSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    made = true;
  }
  if (made) chmodSync(dir, 0o755); // the umask may have taken bits off
  const tmp = `${file}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* best effort: the rename is done */ }
}
