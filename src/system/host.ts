/**
 * The host's filesystem as `doctor`, `setup` and `serve`'s start checks see it: every path is
 * taken under a root ('/' on a running system; a fake tree in tests, `--root DIR` or
 * `$SBC_AUDIO_HOST_ROOT`), so that each failing case can be built from files.
 */
import path from 'node:path';

export interface HostRoot {
  /** The root all paths are taken under ('/' normally). */
  readonly root: string;
  /** `<root>/<p>` for an absolute host path p ('/sys/bus/i2c/devices'). */
  at(p: string): string;
}

export function hostRoot(root = '/'): HostRoot {
  const r = path.resolve(root);
  return { root: r, at: (p) => path.join(r, p) };
}

/** `--root DIR` where given, else `$SBC_AUDIO_HOST_ROOT`, else '/'. */
export function hostRootFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): HostRoot {
  const r = option ?? env.SBC_AUDIO_HOST_ROOT;
  return hostRoot(r && r.length > 0 ? r : '/');
}

/** ALSA cards listed in <root>/proc/asound/cards: number and id (the word in brackets). */
export function parseAsoundCards(text: string): { index: number; id: string; name: string }[] {
  const out: { index: number; id: string; name: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+\[([^\]\s]+)\s*\]:\s*(.*)$/.exec(line);
    if (m) out.push({ index: Number(m[1]), id: m[2]!, name: m[3]!.trim() });
  }
  return out;
}

export interface ProcessLimits {
  /** Max locked memory, soft limit in bytes (Infinity = unlimited); undefined when not readable. */
  memlockSoft?: number;
  /** Max realtime priority, soft limit. */
  rtprioSoft?: number;
}

/** Parses a /proc/PID/limits file. */
export function parseLimits(text: string): ProcessLimits {
  const value = (label: string): number | undefined => {
    const m = new RegExp(`^${label}\\s+(\\S+)`, 'm').exec(text);
    if (!m) return undefined;
    if (m[1] === 'unlimited') return Infinity;
    const n = Number(m[1]);
    return Number.isFinite(n) ? n : undefined;
  };
  return { memlockSoft: value('Max locked memory'), rtprioSoft: value('Max realtime priority') };
}
