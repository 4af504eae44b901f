/**
 * The HTTP plumbing of the appliance's API server (./server.ts): JSON answers and errors with the
 * security headers every answer carries, the bounded reading of a request body, the bearer-token
 * check, and which bind and Host addresses are loopback.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Request bodies longer than this are refused (413) and not read further: the largest body the
 * API takes is `{"value": …}` or `{"bank": …, "program": …}`, a few dozen bytes.
 */
export const MAX_BODY_BYTES = 16 * 1024;
/** The shortest token (under 16 a token is guessable by trying: see checkToken's comment). */
export const MIN_HTTP_TOKEN_CHARS = 16;

/**
 * Headers on every answer. API answers are state of the moment: a cache (the browser's or a
 * proxy's) must not keep them (`no-store`). `nosniff`: a browser takes the Content-Type we say,
 * never guesses script or HTML from a JSON body. Framing is refused (`frame-ancestors`,
 * X-Frame-Options for older browsers), so no other site can overlay our controls (clickjacking),
 * and no Referer leaks the page's URL (which may carry a token) to anything it links to.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** An error answer: the status and the sentence for `{"error": …}`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A JSON answer (UTF-8), not to be cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // JSON has no −Infinity (a level of digital silence): JSON.stringify writes null for it, which
  // the module comment of ./server.ts documents as the API's spelling of −∞.
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: message }, headers);
}

/**
 * Reads a request body of at most MAX_BODY_BYTES as UTF-8 JSON. A declared or actual length over
 * the bound is a 413 (reading stops there); bytes that are not UTF-8 or text that is not JSON are
 * a 400 naming the parse error.
 */
export function readJsonBody(req: IncomingMessage, what = 'body'): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, `${what}: larger than ${MAX_BODY_BYTES} bytes (the API's bodies are a few dozen)`, { Connection: 'close' });
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    let done = false;
    const finish = (err: Error | undefined, value?: unknown) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY_BYTES) {
        // Stop reading: nothing more of this body is buffered; the answer closes the connection.
        req.pause();
        finish(tooLarge());
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      const bytes = Buffer.concat(chunks);
      if (bytes.length === 0) {
        finish(new HttpError(400, `${what}: empty; a JSON object is expected`));
        return;
      }
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        finish(new HttpError(400, `${what}: not valid UTF-8`));
        return;
      }
      try {
        finish(undefined, JSON.parse(text));
      } catch (e) {
        finish(new HttpError(400, `${what}: malformed JSON: ${(e as Error).message}`));
      }
    };
    const onError = (e: Error) => finish(new HttpError(400, `${what}: ${e.message}`));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Whether a presented token is the configured one, in time that depends on neither's content nor
 * length: both are hashed first (SHA-256), so the comparison is always of 32 bytes.
 */
export function tokenMatches(presented: string | undefined, token: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(token, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750), or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(h);
  return m ? m[1] : undefined;
}

/**
 * The cookie a browser keeps the token in: a page cannot set an Authorization header on its own
 * navigation, so `GET /?token=TOKEN` sets this cookie (./server.ts) and the page's requests carry it.
 */
export const TOKEN_COOKIE = 'sbc-audio-token';

/** The token of the TOKEN_COOKIE cookie (percent-decoded), or undefined. */
export function cookieToken(req: IncomingMessage): string | undefined {
  const h = req.headers.cookie;
  if (typeof h !== 'string') return undefined;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== TOKEN_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The cookie that carries `token` (no Secure: the server speaks plain HTTP; see docs/REMOTE.md). */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
}

/** 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  return /^127\./.test(a) || a === '::1' || /^::ffff:127\./.test(a);
}

/**
 * Whether a Host header names this machine's loopback (`localhost`, 127.x.x.x, [::1], with or
 * without a port). Without a token the server answers only such requests: a web page of another
 * site whose name it re-points at 127.0.0.1 (DNS rebinding) reaches us with its own name as Host.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(h);
  if (v6) return isLoopbackAddress(v6[1]!);
  const name = h.replace(/:\d+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return isIP(name) === 4 && isLoopbackAddress(name);
}

/**
 * A token must travel in an HTTP header and a URL query: 16 to 256 printable ASCII characters,
 * none of them a space. Under 16 a token is guessable by trying; what it may contain is what a
 * header carries unchanged.
 */
export function checkToken(token: string): void {
  if (token.length < MIN_HTTP_TOKEN_CHARS || token.length > 256 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(`HTTP token (--http-token): expected 16 to 256 printable ASCII characters without spaces, got ${token.length} characters${/^[\x21-\x7e]*$/.test(token) ? '' : ' with a space or a character outside printable ASCII'}`);
  }
}
