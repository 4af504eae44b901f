/** Unix groups by name and number, from an /etc/group file (no NSS: the local file only). */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function readGroups(file = '/etc/group'): GroupEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

export function groupByName(name: string, file?: string): GroupEntry | undefined {
  return readGroups(file).find((g) => g.name === name);
}

export function groupById(gid: number, file?: string): GroupEntry | undefined {
  return readGroups(file).find((g) => g.gid === gid);
}

/**
 * The message for EACCES on a path of the service (an endpoint, or the runtime directory): the
 * group to join is the path's own group, else (the path itself cannot be looked at) that of the
 * nearest directory above it that can. `permission denied: /run/sbc-audio (join group audio)`.
 */
export function permissionDeniedMessage(p: string, groupFile?: string): string {
  let group: string | undefined;
  for (let q = p; ; q = path.dirname(q)) {
    try {
      const gid = statSync(q).gid;
      group = groupById(gid, groupFile)?.name ?? `gid ${gid}`;
      break;
    } catch {
      if (path.dirname(q) === q) break;
    }
  }
  return `permission denied: ${p}${group ? ` (join group ${group})` : ''}`;
}
