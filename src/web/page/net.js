/**
 * The page's talk with the service (docs/REMOTE.md): JSON requests whose refusals keep the
 * server's `{"error"}` sentence, a WebSocket that comes back after it drops, and a throttle for
 * requests a drag would otherwise fire on every pixel.
 */

/** A refused or failed request: `message` is the server's `error` sentence where it gave one. */
/** ApiError's status when the service gave no answer at all (an HTTP status is never 0). */
export const NO_ANSWER = 0;

export class ApiError extends Error {
  /** @param {string} message @param {number} status the HTTP status, or NO_ANSWER */
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/**
 * A JSON request to the page's own origin (the cookie, where the server set one, goes along:
 * same-origin requests carry it by default). Resolves with the parsed body; rejects with ApiError
 * naming the request and the server's reason.
 */
export async function api(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`${method} ${path}: no answer from the service (${e && e.message ? e.message : e})`, NO_ANSWER);
  }
  let parsed;
  const text = await res.text();
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const why = parsed && typeof parsed.error === 'string' ? parsed.error : `${res.status} ${res.statusText}`;
    throw new ApiError(`${method} ${path}: ${why}`, res.status);
  }
  return parsed;
}

/**
 * Calls `send(value)` at most once per `intervalMs`, and always with the last value given: a drag
 * that produces 60 input events a second sends 1000 / intervalMs requests, the last of them the
 * position the drag ended on.
 */
export function throttle(send, intervalMs) {
  let lastAt = -Infinity;
  let timer = undefined;
  let pending;
  const fire = () => {
    timer = undefined;
    lastAt = performance.now();
    send(pending);
  };
  return (value) => {
    pending = value;
    if (timer !== undefined) return; // the pending call takes the newest value
    const wait = lastAt + intervalMs - performance.now();
    if (wait <= 0) fire();
    else timer = setTimeout(fire, wait);
  };
}

/** Reconnect delays: from 0.5 s, doubling to 10 s (a service restarting is back within seconds). */
export const RECONNECT_FIRST_MS = 500;
export const RECONNECT_MAX_MS = 10_000;

/**
 * The WebSocket at `/api/ws` of the page's origin, subscribed to `kinds`, opened again with backoff
 * whenever it closes. `onMessage` gets each parsed message, `onState` 'connecting' | 'open' |
 * 'closed' (with the delay before the next try, ms).
 */
export function connectSocket(kinds, onMessage, onState) {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/api/ws`;
  let delay = RECONNECT_FIRST_MS;
  const open = () => {
    onState('connecting');
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      retry();
      return;
    }
    ws.addEventListener('open', () => {
      delay = RECONNECT_FIRST_MS;
      ws.send(JSON.stringify({ subscribe: kinds }));
      onState('open');
    });
    ws.addEventListener('message', (ev) => {
      let msg;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return; // the server sends JSON only; a torn frame is not ours to show
      }
      onMessage(msg);
    });
    // 'error' is always followed by 'close': the retry is scheduled there, once.
    ws.addEventListener('close', () => retry());
  };
  const retry = () => {
    // A little jitter, so that phones that lost the service together do not return in step.
    const wait = Math.round(delay * (0.8 + 0.4 * Math.random()));
    onState('closed', wait);
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    setTimeout(open, wait);
  };
  open();
}
