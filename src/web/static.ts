/**
 * The status page's files (src/web/page/): only regular files inside that folder are served.
 * A path with a `..`, `.`-hidden, empty or backslash segment, a NUL or an encoded slash is refused
 * before the file system is asked; what is left is resolved through symbolic links and must still
 * lie inside the folder, so a link cannot lead out of it either.
 */
import { realpathSync } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError, SECURITY_HEADERS } from './http.ts';
import type { ServerResponse } from 'node:http';

/** Where the page lives: src/web/page/ beside this module. */
export const DEFAULT_PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));

/** A page is HTML, scripts, styles and a few images: larger files are not ours (refused, 404). */
export const MAX_STATIC_BYTES = 4 * 1024 * 1024;

/** What GET / says while src/web/page/index.html does not exist. */
export const PAGE_NOT_BUILT = 'The sbc-audio status page is not built yet (src/web/page/index.html); the JSON API is under /api/.\n';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The page's policy: its own files and its own origin's API and WebSocket only (`'self'` covers
 * ws: and wss: to the same host in CSP Level 3), no plugins, never framed.
 */
export const PAGE_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Maps a URL path (still percent-encoded, as the request line has it) to a file under `dir`, or
 * throws HttpError 404 (unknown or refused path: the answer does not say which, so it does not
 * tell what exists outside the folder). `/` is `index.html`.
 */
export async function resolvePageFile(dir: string, urlPath: string): Promise<string> {
  const notFound = () => new HttpError(404, `no such page file: ${urlPath.slice(0, 200)}`);
  const rel = urlPath === '/' ? '/index.html' : urlPath;
  const segments: string[] = [];
  for (const raw of rel.split('/').slice(1)) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new HttpError(400, `path: malformed percent-encoding in ${JSON.stringify(raw.slice(0, 100))}`);
    }
    // An encoded "/" or "\" would be a second separator the split above did not see.
    if (seg === '' || seg.startsWith('.') || /[/\\\0]/.test(seg)) throw notFound();
    segments.push(seg);
  }
  if (segments.length === 0) throw notFound();
  const root = realpathOrUndefined(dir);
  if (root === undefined) throw notFound();
  const candidate = path.join(root, ...segments);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    throw notFound();
  }
  if (!real.startsWith(root + path.sep)) throw notFound();
  return real;
}

function realpathOrUndefined(dir: string): string | undefined {
  try {
    return realpathSync(dir);
  } catch {
    return undefined;
  }
}

/** Sends a page file (GET; HEAD without the body). Not a regular file, or too large: 404. */
export async function sendPageFile(res: ServerResponse, file: string, head: boolean, urlPath: string): Promise<void> {
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) throw new HttpError(404, `no such page file: ${urlPath.slice(0, 200)}`);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_STATIC_BYTES) throw new HttpError(404, `no such page file: ${urlPath.slice(0, 200)}`);
    const body = await fh.readFile();
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      // The page changes with the package: revalidate each time rather than keep a stale copy.
      'Cache-Control': 'no-cache',
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(body.length),
      'Content-Security-Policy': PAGE_CSP,
    });
    res.end(head ? undefined : body);
  } finally {
    await fh.close();
  }
}

/** GET / while the page is not built: one line of text. */
export function sendPageNotBuilt(res: ServerResponse, head: boolean): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Cache-Control': 'no-store',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(PAGE_NOT_BUILT)),
  });
  res.end(head ? undefined : PAGE_NOT_BUILT);
}
