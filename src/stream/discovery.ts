/**
 * Discovery: where the service publishes its stream endpoints and how clients find and watch
 * them (docs/PROTOCOL.md "Discovery"). As on Zircon, one directory per direction holds one
 * entry per stream; an entry exists exactly while its socket accepts connections.
 */
import { type FSWatcher, existsSync, lstatSync, readdirSync, watch } from 'node:fs';
import path from 'node:path';
import { permissionDeniedMessage } from '../util/groups.ts';

export type Direction = 'output' | 'input';
export const DIRECTION_DIRS: Readonly<Record<Direction, string>> = { output: 'audio-output', input: 'audio-input' };

/** `$XDG_RUNTIME_DIR/sbc-audio`, else `/run/sbc-audio` (R-DISC-1). */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  return xdg && path.isAbsolute(xdg) ? path.join(xdg, 'sbc-audio') : '/run/sbc-audio';
}

/** Where clients look, in order: `$XDG_RUNTIME_DIR/sbc-audio` (a user's service), then `/run/sbc-audio` (the system service). */
export function clientRuntimeDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const xdg = env.XDG_RUNTIME_DIR;
  return [...(xdg && path.isAbsolute(xdg) ? [path.join(xdg, 'sbc-audio')] : []), '/run/sbc-audio'];
}

/**
 * The runtime directory a client uses: the first of `clientRuntimeDirs` that holds an endpoint,
 * else the first that exists, else the first. A system service and a user's client so agree.
 */
export function clientRuntimeDir(env: NodeJS.ProcessEnv = process.env, dirs = clientRuntimeDirs(env)): string {
  return dirs.find((d) => listEndpoints(d).length > 0) ?? dirs.find((d) => existsSync(d)) ?? dirs[0]!;
}

export interface StreamEndpoint {
  direction: Direction;
  /** '<board>.<stream id>' */
  name: string;
  /** The Unix socket's path. */
  path: string;
}

/** Entries starting with '.' are sockets being set up or taken down, never endpoints (R-DISC-3). */
function isEndpointName(n: string): boolean {
  return !n.startsWith('.');
}

/** The endpoints present now, output first, each directory sorted by name. */
export function listEndpoints(runtimeDir: string): StreamEndpoint[] {
  const found = scan(runtimeDir).map((e) => e.endpoint);
  if (found.length === 0) refuseClosed(runtimeDir);
  return found;
}

/** A runtime directory closed to this user (a service's 0750 root:GROUP): say so, not "no streams". */
function refuseClosed(runtimeDir: string): void {
  for (const d of [runtimeDir, ...Object.values(DIRECTION_DIRS).map((x) => path.join(runtimeDir, x))]) {
    try {
      readdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new Error(permissionDeniedMessage(d));
    }
  }
}

/**
 * Endpoints with an identity for their socket file (inode and change time): an endpoint that
 * was removed and created again between two scans has a new identity, so a watcher still
 * reports both events.
 */
function scan(runtimeDir: string): { endpoint: StreamEndpoint; identity: string }[] {
  const out: { endpoint: StreamEndpoint; identity: string }[] = [];
  for (const direction of ['output', 'input'] as const) {
    const dir = path.join(runtimeDir, DIRECTION_DIRS[direction]);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.filter(isEndpointName).sort()) {
      const p = path.join(dir, name);
      try {
        const st = lstatSync(p, { bigint: true });
        if (st.isSocket()) out.push({ endpoint: { direction, name, path: p }, identity: `${st.ino}:${st.ctimeNs}` });
      } catch {
        // gone between readdir and lstat: it disappeared
      }
    }
  }
  return out;
}

export type EndpointEvent = { type: 'added' | 'removed'; endpoint: StreamEndpoint };

export interface EndpointWatcher {
  /** Resolves after the endpoints present at the start have been reported as 'added'. */
  readonly ready: Promise<void>;
  close(): void;
}

/**
 * Reports every endpoint present now as 'added', then each one that appears ('added') or
 * disappears ('removed'), from inotify (fs.watch) on both directories. Directories that do not
 * exist yet are looked for again every `retryMs`.
 */
export function watchEndpoints(runtimeDir: string, listener: (e: EndpointEvent) => void, retryMs = 250): EndpointWatcher {
  const known = new Map<string, { endpoint: StreamEndpoint; identity: string }>();
  const watchers: FSWatcher[] = [];
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const rescan = () => {
    if (closed) return;
    const now = new Map(scan(runtimeDir).map((e) => [e.endpoint.path, e]));
    for (const [p, e] of known) {
      if (now.get(p)?.identity !== e.identity) { known.delete(p); listener({ type: 'removed', endpoint: e.endpoint }); }
    }
    for (const [p, e] of now) if (!known.has(p)) { known.set(p, e); listener({ type: 'added', endpoint: e.endpoint }); }
  };

  const watching = new Set<Direction>();
  const arm = () => {
    if (closed) return;
    for (const direction of ['output', 'input'] as const) {
      if (watching.has(direction)) continue;
      const dir = path.join(runtimeDir, DIRECTION_DIRS[direction]);
      if (!existsSync(dir)) continue;
      try {
        const w = watch(dir, { persistent: true }, () => rescan());
        w.on('error', () => {
          // The directory went away: forget it and look for it again.
          watching.delete(direction);
          w.close();
          rescan();
          schedule();
        });
        watchers.push(w);
        watching.add(direction);
      } catch {
        // raced with removal; the retry finds it again
      }
    }
    rescan();
    if (watching.size < 2) schedule();
  };
  const schedule = () => {
    if (closed || retry) return;
    retry = setTimeout(() => { retry = undefined; arm(); }, retryMs);
  };

  arm();
  return {
    ready: Promise.resolve(),
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      for (const w of watchers) w.close();
    },
  };
}
