/**
 * The appliance's HTTP + WebSocket API (issue 24): the control model, the programs, the streams
 * and their levels, as JSON over HTTP, and pushed on change over a WebSocket (./hub.ts), all read
 * from one ApplianceSource (./source.ts). The status page's files (src/web/page/) are served from
 * `/` (./static.ts).
 *
 * Why `ws` on node:http and not fastify with @fastify/websocket: the API is a handful of routes
 * with one or two methods each, which a table of patterns routes in a screen of code; `ws` is one
 * small dependency with none of its own, where fastify brings a plugin layer, a schema compiler
 * and some dozen packages we would have to keep current on an appliance. What a framework would
 * give us besides — body limits, security headers, error bodies — we need written our way anyway
 * (./http.ts).
 *
 * Routes (answers are JSON in UTF-8; every error is `{"error": "…"}` naming the field or the id):
 *   GET  /api/board                  {"board": name}
 *   GET  /api/controls               the control listing (board, parts, controls with values)
 *   GET  /api/controls/:id           one control; 404 naming the id when there is none
 *   PUT  /api/controls/:id           body {"value": V}: 200 with the answer when applied,
 *                                    coalesced or queued; 400 with the source's reason (the control
 *                                    and its range) when refused — nothing changed
 *   GET  /api/streams                the streams' status
 *   GET  /api/streams/:id/levels     the newest level reading (peak and RMS per channel, dBFS)
 *   GET  /api/programs               {"list": [...], "current": {bank, program} | null}
 *   POST /api/programs/load          body {"bank": B, "program": P}: the program loaded
 *   GET  /api/ws                     the WebSocket (./hub.ts)
 * JSON has no −Infinity: a level of digital silence (−∞ dBFS) reads null.
 *
 * Bad input: a body that is not JSON (400, with the parser's reason), one over 16 KiB (413, not
 * read further), a body that is not `application/json` (415: a cross-site form can post text/plain
 * without the browser asking us first, JSON it cannot), an unknown route (404), a method the route
 * does not take (405 with Allow), a field missing, unknown or of the wrong type (400 naming it).
 *
 * Who may ask: bound to loopback (the default) the server answers requests addressed to a loopback
 * name (a page of another site that re-points its name at 127.0.0.1 — DNS rebinding — sends its own
 * Host, 403). Bound anywhere else it refuses to start without a token; with a token, every request
 * must carry `Authorization: Bearer <token>`, and the WebSocket upgrade that or `?token=` (a
 * browser's WebSocket cannot set headers) — compared in constant time; without it the answer is 401
 * and says nothing else. A WebSocket upgrade from a page of another origin is refused (403):
 * browsers let any page open a WebSocket anywhere, and the Origin header is how we tell.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import type { Clock } from '../hal/clock.ts';
import { monotonicClock } from '../hal/linux/clock.ts';
import type { ApplianceSource } from './source.ts';
import { HttpError, MAX_BODY_BYTES, SECURITY_HEADERS, bearerToken, checkToken, cookieToken, isLoopbackAddress, isLoopbackHost, readJsonBody, sendError, sendJson, tokenCookie, tokenMatches } from './http.ts';
import { DEFAULT_LEVELS_RATE_HZ, type HubStats, MAX_CLIENT_MESSAGE_BYTES, MAX_LEVELS_RATE_HZ, MAX_WS_CLIENTS, WsHub } from './hub.ts';
import { DEFAULT_PAGE_DIR, resolvePageFile, sendPageFile, sendPageNotBuilt } from './static.ts';

export { MAX_BODY_BYTES, MAX_CLIENT_MESSAGE_BYTES, MAX_LEVELS_RATE_HZ, DEFAULT_LEVELS_RATE_HZ };

/** A default for `serve` to take: loopback only; 7771 is only the OSC server's 7770 plus one (its IANA status not checked). */
export const DEFAULT_HTTP_ADDRESS = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 7771;

/** Control ids longer than this are refused unread (ids are `<board>.<owner>.<name>`, a few dozen characters). */
export const MAX_ID_CHARS = 256;

/**
 * Requests must arrive whole within this (ms): a client that trickles its headers or body holds a
 * socket, and Node's default (300 s) lets a few hundred such clients hold all of them.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

export interface WebServerOptions {
  /** Port 0: any free port (tests). The address must be an IP address or "localhost". */
  bind: { address: string; port: number };
  /** Required when bound beyond loopback; when set, every request needs it (see the module comment). */
  token?: string;
  log?: (line: string) => void;
  /** Drives the level pushes (default: CLOCK_MONOTONIC; tests: a VirtualClock). */
  clock?: Clock;
  /** Level pushes per second to level subscribers (default 20, at most 50). */
  levelsRateHz?: number;
  /** Where the page's files are (default src/web/page/). */
  pageDir?: string;
  /** WebSocket connections held at once (default MAX_WS_CLIENTS); more are refused 503. */
  maxWsClients?: number;
}

export interface WebServerStats {
  http: {
    /** Requests answered, by status code. */
    requests: number;
    status: Record<string, number>;
    /** WebSocket upgrades refused (wrong path, no token, foreign origin or host). */
    upgradesRefused: number;
    /** Failures of the source answered 500 (each logged). */
    sourceErrors: number;
  };
  ws: HubStats;
}

export interface WebServer {
  readonly address: string;
  readonly port: number;
  /** Whether the bind address is loopback (127.0.0.0/8, ::1). */
  readonly loopback: boolean;
  /** The page's URL: http://address:port/ */
  readonly url: string;
  stats(): WebServerStats;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void> | void;

interface Route {
  /** Over the raw (still percent-encoded) path; captures are decoded into `params`. */
  pattern: RegExp;
  methods: Partial<Record<'GET' | 'PUT' | 'POST', Handler>>;
}

/** Checks that a body is an object with exactly the named fields (all required). */
function bodyFields(body: unknown, fields: readonly string[], example: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, `body: expected a JSON object ${example}, got ${Array.isArray(body) ? 'an array' : body === null ? 'null' : typeof body}`);
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!fields.includes(k)) throw new HttpError(400, `body: ${JSON.stringify(k.slice(0, 64))} is not a field here (fields: ${fields.join(', ')}; ${example})`);
  }
  for (const f of fields) if (!(f in b)) throw new HttpError(400, `body: field "${f}" is missing (${example})`);
  return b;
}

function requireJsonContentType(req: IncomingMessage): void {
  const ct = req.headers['content-type'];
  const type = (ct ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `Content-Type: expected application/json, got ${ct === undefined ? 'none' : JSON.stringify(ct.slice(0, 100))}`);
  }
}

function decodeParam(raw: string, what: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `${what}: malformed percent-encoding in ${JSON.stringify(raw.slice(0, 100))}`);
  }
  if (s.length > MAX_ID_CHARS) throw new HttpError(400, `${what}: longer than ${MAX_ID_CHARS} characters`);
  if (/[\x00-\x1f\x7f]/.test(s)) throw new HttpError(400, `${what}: contains a control character`);
  return s;
}

/** Writes a refusal on a socket that asked to upgrade (no HTTP response object exists for it). */
function refuseUpgrade(socket: Socket, status: number, reason: string, message: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: message });
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
  ];
  // Written, then the socket goes: a client that keeps its side open holds nothing of ours.
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

const UNAUTHORIZED = 'unauthorized';

/** Path and query of a request target (the query without its `?`; '' when none). */
function splitUrl(target: string): [string, string] {
  const q = target.indexOf('?');
  return q < 0 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)];
}

/**
 * Whether the request came from this server's own page, or from no page at all (no Origin header:
 * curl, scripts). Browsers send Origin on every WebSocket upgrade and on every PUT or POST.
 */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch { /* an origin that is not a URL ("null"): foreign */ }
  return originHost !== undefined && originHost.toLowerCase() === (req.headers.host ?? '').toLowerCase();
}

/**
 * Third-party files the page loads, served from their npm packages as installed (not copied into
 * src/web/page/): uPlot (MIT; https://github.com/leeoniya/uPlot) draws the page's plots.
 */
const UPLOT_DIST = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
const VENDOR_FILES: Readonly<Record<string, string>> = {
  '/vendor/uPlot.iife.min.js': path.join(UPLOT_DIST, 'uPlot.iife.min.js'),
  '/vendor/uPlot.min.css': path.join(UPLOT_DIST, 'uPlot.min.css'),
};

export async function startWebServer(source: ApplianceSource, opts: WebServerOptions): Promise<WebServer> {
  const log = opts.log ?? (() => {});
  let address = opts.bind.address;
  if (address === 'localhost') address = '127.0.0.1';
  if (!isIP(address)) throw new Error(`HTTP bind address (--http-bind) ${JSON.stringify(opts.bind.address)}: expected an IP address (127.0.0.1, 0.0.0.0, ::1) or "localhost"`);
  const port = opts.bind.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`HTTP bind port (--http-bind) ${port}: expected an integer 0 .. 65535`);
  const loopback = isLoopbackAddress(address);
  const token = opts.token;
  if (token !== undefined) checkToken(token);
  if (!loopback && token === undefined) {
    throw new Error(`HTTP server bound to ${address}, beyond loopback, needs a token: give one with --http-token (or bind to 127.0.0.1 with --http-bind)`);
  }
  const hz = opts.levelsRateHz ?? DEFAULT_LEVELS_RATE_HZ;
  if (typeof hz !== 'number' || !(hz > 0) || hz > MAX_LEVELS_RATE_HZ) {
    throw new Error(`levelsRateHz: expected a rate above 0 and at most ${MAX_LEVELS_RATE_HZ} Hz, got ${hz}`);
  }
  const clock = opts.clock ?? monotonicClock();
  const pageDir = opts.pageDir ?? DEFAULT_PAGE_DIR;
  const maxWsClients = opts.maxWsClients ?? MAX_WS_CLIENTS;
  if (!(Number.isSafeInteger(maxWsClients) && maxWsClients >= 1)) throw new Error(`maxWsClients: expected a whole number 1 or more, got ${maxWsClients}`);
  /** Upgrades accepted whose handshake is not finished yet (counted against maxWsClients). */
  let upgrading = 0;

  const httpStats = { requests: 0, status: {} as Record<string, number>, upgradesRefused: 0, sourceErrors: 0 };
  const hub = new WsHub({ source, clock, levelsRateHz: hz, log });

  /** Whether `id` names a control (or is another name of one): tells an unknown id from a failure. */
  const isControl = async (id: string): Promise<boolean> => {
    try {
      const l = await source.listControls();
      return l.controls.some((c) => c.id === id || (c.sameAs ?? []).includes(id));
    } catch {
      return true; // cannot tell: not claimed unknown
    }
  };

  /** The source threw: a 404 when the control does not exist, else a 500 (logged). */
  const controlFailure = async (id: string, e: unknown, what: string): Promise<HttpError> => {
    const msg = (e as Error)?.message ?? String(e);
    if (!(await isControl(id))) return new HttpError(404, msg.includes(id) ? msg : `no control ${JSON.stringify(id)}: ${msg}`);
    return sourceFailure(`${what} ${id}: ${msg}`);
  };

  const sourceFailure = (msg: string): HttpError => {
    httpStats.sourceErrors++;
    log(`web: ${msg}`);
    return new HttpError(500, msg);
  };

  const routes: Route[] = [
    { pattern: /^\/api\/board$/, methods: { GET: (_q, res) => sendJson(res, 200, { board: source.board }) } },
    {
      pattern: /^\/api\/controls$/,
      methods: {
        GET: async (_q, res) => {
          let l;
          try {
            l = await source.listControls();
          } catch (e) {
            throw sourceFailure(`listing controls: ${(e as Error).message}`);
          }
          sendJson(res, 200, l);
        },
      },
    },
    {
      pattern: /^\/api\/controls\/([^/]+)$/,
      methods: {
        GET: async (_q, res, [raw]) => {
          const id = decodeParam(raw!, 'control id');
          let c;
          try {
            c = await source.getControl(id);
          } catch (e) {
            throw await controlFailure(id, e, 'reading');
          }
          sendJson(res, 200, c);
        },
        PUT: async (req, res, [raw]) => {
          const id = decodeParam(raw!, 'control id');
          requireJsonContentType(req);
          const b = bodyFields(await readJsonBody(req), ['value'], '{"value": V}');
          let r;
          try {
            r = await source.setControl(id, b.value);
          } catch (e) {
            throw await controlFailure(id, e, 'setting');
          }
          if (r.status === 'refused') {
            const why = r.error ?? 'refused (no reason given)';
            // An unknown id the source refuses (rather than throws for) is still a 404.
            if (!(await isControl(id))) throw new HttpError(404, why.includes(id) ? why : `no control ${JSON.stringify(id)}: ${why}`);
            throw new HttpError(400, why.includes(id) ? why : `${id}: ${why}`);
          }
          sendJson(res, 200, r);
        },
      },
    },
    { pattern: /^\/api\/streams$/, methods: { GET: (_q, res) => sendJson(res, 200, source.streams()) } },
    {
      pattern: /^\/api\/streams\/([^/]+)\/levels$/,
      methods: {
        GET: (_q, res, [raw]) => {
          const id = decodeParam(raw!, 'stream id');
          const r = source.levels(id);
          if (r) return sendJson(res, 200, r);
          const ids = source.streams().map((s) => s.id);
          if (!ids.includes(id)) throw new HttpError(404, `no stream ${JSON.stringify(id)} (streams: ${ids.join(', ') || 'none'})`);
          throw new HttpError(404, `stream ${JSON.stringify(id)}: no level reading (it is not metered, or nothing has run on it yet)`);
        },
      },
    },
    {
      pattern: /^\/api\/programs$/,
      methods: {
        GET: (_q, res) => {
          const p = source.programs();
          if (!p) throw new HttpError(404, 'programs: this service has none');
          sendJson(res, 200, p);
        },
      },
    },
    {
      pattern: /^\/api\/programs\/load$/,
      methods: {
        POST: async (req, res) => {
          requireJsonContentType(req);
          const b = bodyFields(await readJsonBody(req), ['bank', 'program'], '{"bank": B, "program": P}');
          for (const f of ['bank', 'program'] as const) {
            const v = b[f];
            if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
              throw new HttpError(400, `${f}: expected a whole number 0 or more, got ${JSON.stringify(v)?.slice(0, 64)}`);
            }
          }
          const bank = b.bank as number;
          const program = b.program as number;
          const p = source.programs();
          if (!p) throw new HttpError(404, 'programs: this service has none');
          if (!p.list.some((x) => x.bank === bank && x.program === program)) {
            const known = p.list.map((x) => `${x.bank}/${x.program}`);
            throw new HttpError(400, `program: no program ${bank}/${program} on board ${source.board} (programs: ${known.slice(0, 32).join(', ') || 'none'}${known.length > 32 ? ', …' : ''})`);
          }
          let loaded;
          try {
            loaded = await source.loadProgram(bank, program);
          } catch (e) {
            throw sourceFailure(`loading program ${bank}/${program}: ${(e as Error).message}`);
          }
          sendJson(res, 200, loaded);
        },
      },
    },
    {
      pattern: /^\/api\/ws$/,
      methods: {
        GET: () => {
          throw new HttpError(426, '/api/ws: a WebSocket endpoint (the request must ask to upgrade: Upgrade: websocket)', { Upgrade: 'websocket' });
        },
      },
    },
  ];

  const allowOf = (r: Route) => Object.keys(r.methods).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [rawPath, query] = splitUrl(req.url ?? '/');
    if (!rawPath.startsWith('/')) throw new HttpError(400, 'path: expected an absolute path');
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    if (token !== undefined) {
      // A browser's first visit: the token in the address (`/?token=`), kept in a cookie, and
      // the address without it (so it stays out of the history and of what is shown).
      const offered = rawPath === '/' && method === 'GET' ? new URLSearchParams(query).get('token') : null;
      if (offered !== null) {
        if (!tokenMatches(offered, token)) throw new HttpError(401, UNAUTHORIZED, { 'WWW-Authenticate': 'Bearer' });
        res.writeHead(303, { ...SECURITY_HEADERS, 'Cache-Control': 'no-store', Location: '/', 'Set-Cookie': tokenCookie(token), 'Content-Length': '0' });
        res.end();
        return;
      }
      if (!tokenMatches(bearerToken(req) ?? cookieToken(req), token)) throw new HttpError(401, UNAUTHORIZED, { 'WWW-Authenticate': 'Bearer' });
    } else if (!isLoopbackHost(req.headers.host)) {
      throw new HttpError(403, `Host: ${JSON.stringify((req.headers.host ?? '').slice(0, 100))} is not a loopback name; without a token this server answers requests to localhost, 127.0.0.1 or [::1] only`);
    }
    // A change asked by a page of another origin is refused even where the browser would send
    // the cookie (SameSite and the JSON content type already stop it: this says so plainly).
    if (method !== 'GET' && !sameOrigin(req)) {
      throw new HttpError(403, `Origin ${JSON.stringify(String(req.headers.origin).slice(0, 100))}: not this server's page; changes are taken from the page's own origin only`);
    }
    if (method === 'GET' && Object.hasOwn(VENDOR_FILES, rawPath)) {
      await sendPageFile(res, VENDOR_FILES[rawPath]!, req.method === 'HEAD', rawPath);
      return;
    }
    if (rawPath === '/api' || rawPath.startsWith('/api/')) {
      for (const r of routes) {
        const m = r.pattern.exec(rawPath);
        if (!m) continue;
        const h = r.methods[method as keyof Route['methods']];
        if (!h) throw new HttpError(405, `${req.method} ${rawPath.slice(0, 200)}: method not allowed (allowed: ${allowOf(r)})`, { Allow: allowOf(r) });
        await h(req, res, m.slice(1));
        return;
      }
      throw new HttpError(404, `no route ${rawPath.slice(0, 200)} (routes: /api/board, /api/controls[/ID], /api/streams[/ID/levels], /api/programs[/load], /api/ws)`);
    }
    // The page's files.
    if (method !== 'GET') throw new HttpError(405, `${req.method} ${rawPath.slice(0, 200)}: method not allowed (allowed: GET, HEAD)`, { Allow: 'GET, HEAD' });
    const head = req.method === 'HEAD';
    let file: string;
    try {
      file = await resolvePageFile(pageDir, rawPath);
    } catch (e) {
      if (rawPath === '/' && e instanceof HttpError && e.status === 404) return sendPageNotBuilt(res, head);
      throw e;
    }
    await sendPageFile(res, file, head, rawPath);
  }

  const server: Server = createServer((req, res) => {
    res.on('finish', () => {
      httpStats.requests++;
      httpStats.status[res.statusCode] = (httpStats.status[res.statusCode] ?? 0) + 1;
    });
    handle(req, res).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : sourceFailure(`${req.method} ${(req.url ?? '').split('?')[0]!.slice(0, 200)}: ${(e as Error)?.message ?? String(e)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body left unread (refused before reading, or too large) is not drained: the
      // connection closes after the answer.
      const headers = { ...err.headers, ...(req.complete ? {} : { Connection: 'close' }) };
      sendError(res, err.status, err.message, headers);
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false });

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    const refuse = (status: number, reason: string, message: string, extra?: Record<string, string>) => {
      httpStats.upgradesRefused++;
      refuseUpgrade(socket, status, reason, message, extra);
    };
    const url = new URL(req.url ?? '/', 'http://host.invalid');
    if (token !== undefined) {
      const presented = url.searchParams.get('token') ?? bearerToken(req) ?? cookieToken(req);
      if (!tokenMatches(presented ?? undefined, token)) return refuse(401, 'Unauthorized', UNAUTHORIZED, { 'WWW-Authenticate': 'Bearer' });
    } else if (!isLoopbackHost(req.headers.host)) {
      return refuse(403, 'Forbidden', 'Host: not a loopback name; without a token this server answers requests to localhost, 127.0.0.1 or [::1] only');
    }
    if (url.pathname !== '/api/ws') return refuse(404, 'Not Found', `no WebSocket at ${url.pathname.slice(0, 200)} (it is /api/ws)`);
    if (!sameOrigin(req)) {
      return refuse(403, 'Forbidden', `Origin ${JSON.stringify(String(req.headers.origin).slice(0, 100))}: not this server's page; a WebSocket is taken from the page's own origin only`);
    }
    if (hub.size + upgrading >= maxWsClients) {
      return refuse(503, 'Service Unavailable', `WebSocket: ${maxWsClients} connections are open, the most this server holds; try again once one closes`, { 'Retry-After': '5' });
    }
    upgrading++;
    let counted = true;
    const settle = () => {
      if (counted) upgrading--;
      counted = false;
    };
    socket.once('close', settle);
    wss.handleUpgrade(req, socket, head, (ws) => {
      settle();
      hub.add(ws, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      reject(Object.assign(new Error(`HTTP bind (--http-bind) ${address}:${port}: ${e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : e.message}`), { code: e.code }));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: address, port });
  }).catch((e) => {
    hub.close();
    throw e;
  });
  server.on('error', (e) => log(`web: server error: ${e.message}`));

  const bound = server.address();
  const actualPort = typeof bound === 'object' && bound ? bound.port : port;
  const hostInUrl = isIP(address) === 6 ? `[${address}]` : address;
  let closing: Promise<void> | undefined;

  return {
    address,
    port: actualPort,
    loopback,
    url: `http://${hostInUrl}:${actualPort}/`,
    stats: () => ({ http: { ...httpStats, status: { ...httpStats.status } }, ws: hub.stats() }),
    close: () => (closing ??= new Promise<void>((resolve) => {
      hub.close();
      wss.close();
      server.close(() => resolve());
      // Keep-alive connections would hold close() open until they time out.
      server.closeAllConnections();
    })),
  };
}
