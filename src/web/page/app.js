/**
 * The status page (issue 24; the API is docs/REMOTE.md's): a card per stream with its state,
 * format, plug, level meters, gain and mute, latency breakdown, xrun history and period-lateness
 * histogram.
 *
 * Where each value comes from:
 * - GET /api/streams at load, again whenever the WebSocket (re)subscribes (events missed while it
 *   was away are not replayed), and every POLL_MS for the lateness histogram — which has no push —
 *   and for everything else only while the WebSocket is down (a poll answer may be older than a
 *   push that overtook it on the other connection, so it does not overwrite pushed state);
 * - WebSocket `stream` pushes: state, format, plug, gain, mute, xruns (a point on the xrun plot);
 * - `control` pushes: a gain or mute changed by someone else (a knob, MQTT, another phone);
 * - `levels` pushes (20 Hz): the meters.
 *
 * Stable attributes for tests and scripts: each card `data-stream` (id) and `data-state`
 * (idle / running); each meter `data-peak-db` / `data-rms-db` (a number, or "-inf"); the plug
 * element `data-plugged` ("true" / "false") and `data-updated-at` (Date.now() when the page applied
 * the last plug change); the gain slider `data-gain-slider`; the mute button `data-mute`; the
 * status line `#status`, the socket state `#conn[data-conn]`.
 *
 * API refusals (4xx `{"error"}`) and failures are shown on the status line, never dropped.
 */
import { ApiError, NO_ANSWER, api, connectSocket, throttle } from './net.js';

/** Lateness histogram poll (ms): the histogram is not pushed. */
const POLL_MS = 2000;
/** Gain requests while dragging: at most one per 50 ms (20 a second), the last position always sent. */
const GAIN_SEND_INTERVAL_MS = 50;
/** After the user last moved a slider, pushes do not move it under their finger for this long (ms). */
const SLIDER_HOLD_MS = 1500;
/** The xrun history kept and plotted (s). */
const XRUN_HISTORY_S = 5 * 60;
/** The meter bar's scale: METER_FLOOR_DB at the left edge, 0 dBFS at the right. */
const METER_FLOOR_DB = -60;

const $ = (sel, root = document) => root.querySelector(sel);

/** An element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

/** dB for people: one decimal, a real minus sign, −∞ for digital silence (null or −Infinity). */
function fmtDb(v) {
  if (v === null || v === undefined || v === -Infinity) return '−∞';
  return v.toFixed(1).replace('-', '−');
}

/** dB for the data attributes: a plain number, or "-inf". */
function attrDb(v) {
  if (v === null || v === undefined || v === -Infinity) return '-inf';
  return String(Math.round(v * 100) / 100);
}

function fmtNs(ns) {
  if (ns === null || ns === undefined) return 'unknown';
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(3)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
}

// ---- the status line ----

const statusLine = () => $('#status');

/** Shows a message on the status line (kind: 'error' or 'info'); errors stay until the next message. */
function showStatus(message, kind = 'error') {
  const s = statusLine();
  s.hidden = false;
  s.dataset.status = kind;
  s.textContent = `${new Date().toLocaleTimeString()}: ${message}`;
  if (kind === 'error') console.warn(message);
}

/** Whether the status line shows a lost connection (status 0), which the socket's return answers. */
let statusIsNetwork = false;

function showError(e) {
  showStatus(e instanceof ApiError ? e.message : `unexpected: ${e && e.message ? e.message : e}`, 'error');
  statusIsNetwork = e instanceof ApiError && e.status === NO_ANSWER;
}

// ---- the cards ----

/** id → { status, root, parts…, xrun: {t, u, o}, plot } */
const cards = new Map();
let socketOpen = false;

function makeCard(s) {
  const root = el('section', { class: 'card', 'data-stream': s.id, 'data-state': s.state, 'aria-label': `stream ${s.id}` });
  const state = el('span', { class: 'state', 'data-field': 'state' });
  root.append(el('header', { class: 'card-head' },
    el('h2', { text: s.id }),
    el('span', { class: 'dir', text: `${s.direction} · ${s.purpose}` }),
    state));

  const format = el('dd', { 'data-field': 'format' });
  const facts = el('dl', { class: 'facts' }, el('dt', { text: 'format' }), format);
  let plug;
  if (s.plugged !== undefined) {
    plug = el('span', { class: 'plug', 'data-plugged': String(s.plugged), 'data-updated-at': String(Date.now()) });
    facts.append(el('dt', { text: 'plug' }), el('dd', {}, plug));
  }
  const xrunText = el('dd', { 'data-field': 'xruns' });
  facts.append(el('dt', { text: 'xruns' }), xrunText);
  root.append(facts);

  const meters = el('div', { class: 'meters', 'data-meters': '' });
  root.append(el('h3', { text: 'level (dBFS peak / RMS)' }), meters);

  let slider, gainValue, mute;
  if (s.gain) {
    gainValue = el('output', { class: 'gain-value' });
    slider = el('input', {
      type: 'range', 'data-gain-slider': '', min: s.gain.min, max: s.gain.max, step: s.gain.step,
      'aria-label': `${s.id} gain (dB)`,
    });
    const row = el('div', { class: 'gain' }, el('label', { class: 'gain-label' }, 'gain ', gainValue), slider);
    if (s.gain.mutedId) {
      mute = el('button', { type: 'button', class: 'mute', 'data-mute': '', 'aria-pressed': 'false' });
      row.append(mute);
    }
    root.append(row);
  }

  const latency = el('ul', { class: 'latency', 'data-latency': '' });
  const latencyTotal = el('span', { class: 'latency-total' });
  root.append(el('h3', {}, 'latency ', latencyTotal), latency);

  const xrunPlot = el('div', { class: 'plot', 'data-xrun-plot': '' });
  root.append(el('h3', { text: 'xruns, last 5 minutes' }), xrunPlot);

  const lateness = el('div', { class: 'lateness', 'data-lateness': '' });
  root.append(el('h3', { text: 'period lateness (in periods)' }), lateness);

  const card = {
    id: s.id, status: s, root, state, format, plug, xrunText, meters, slider, gainValue, mute,
    latency, latencyTotal, xrunPlot, lateness, plot: undefined,
    xrun: { t: [], u: [], o: [] }, lastInputAt: -Infinity, channels: 0,
  };

  if (slider) {
    const send = throttle((value) => setGain(card, value), GAIN_SEND_INTERVAL_MS);
    let resync;
    const onMove = () => {
      card.lastInputAt = performance.now();
      const v = Number(slider.value);
      gainValue.textContent = `${fmtDb(v)} dB`;
      send(v);
      // Once the hold is over, the slider shows what the service has in force (pushes that came
      // during the hold were not applied to it).
      clearTimeout(resync);
      resync = setTimeout(() => applyGain(card, card.status), SLIDER_HOLD_MS + 50);
    };
    slider.addEventListener('input', onMove);
    slider.addEventListener('change', onMove);
  }
  if (mute) mute.addEventListener('click', () => toggleMute(card));
  return card;
}

async function setGain(card, value) {
  const g = card.status.gain;
  try {
    await api('PUT', `/api/controls/${encodeURIComponent(g.id)}`, { value });
  } catch (e) {
    showError(e);
    // Refused: nothing changed on the service, so the slider goes back to what is in force.
    card.lastInputAt = -Infinity;
    applyGain(card, card.status);
  }
}

async function toggleMute(card) {
  const g = card.status.gain;
  if (!g || !g.mutedId) return;
  try {
    await api('PUT', `/api/controls/${encodeURIComponent(g.mutedId)}`, { value: !(g.muted === true) });
  } catch (e) {
    showError(e);
  }
}

function applyGain(card, s) {
  if (!card.slider || !s.gain) return;
  const g = s.gain;
  if (performance.now() - card.lastInputAt > SLIDER_HOLD_MS) {
    if (g.db !== null) card.slider.value = String(g.db);
    card.gainValue.textContent = g.db === null ? 'unknown' : `${fmtDb(g.db)} dB`;
  }
  if (card.mute) {
    card.mute.setAttribute('aria-pressed', String(g.muted === true));
    card.mute.textContent = g.muted === null ? 'mute ?' : g.muted ? 'muted' : 'mute';
  }
}

/** Applies a stream's status (from GET /api/streams or a `stream` push). */
function applyStatus(card, s) {
  const plugChanged = card.status.plugged !== s.plugged;
  card.status = s;
  card.root.dataset.state = s.state;
  card.state.textContent = s.state;
  card.format.textContent = s.format ? `${s.format.rate} Hz · ${s.format.channels} ch · ${s.format.bits}-bit` : '— (no client format)';
  if (card.plug && s.plugged !== undefined) {
    card.plug.dataset.plugged = String(s.plugged);
    card.plug.textContent = s.plugged ? 'plugged in' : 'unplugged';
    if (plugChanged) card.plug.dataset.updatedAt = String(Date.now());
  }
  card.xrunText.textContent = `${s.xruns.underruns} underruns · ${s.xruns.overruns} overruns`;
  applyGain(card, s);
  applyLatency(card, s.latency);
  addXrunPoint(card, s.xruns);
  // Pushes carry the histogram as it stood then: a stream that starts shows its engine at once.
  if ('lateness' in s) applyLateness(card, s.lateness);
}

function applyLatency(card, l) {
  const items = l.items.map((i) => el('li', {},
    el('span', { class: 'what', text: i.what }), ' ',
    el('span', { class: 'ns', text: fmtNs(i.ns) }),
    el('span', { class: 'source', text: i.source })));
  if (l.fifoNs !== undefined) {
    items.unshift(el('li', {},
      el('span', { class: 'what', text: 'engine FIFO (while running)' }), ' ',
      el('span', { class: 'ns', text: fmtNs(l.fifoNs) }),
      el('span', { class: 'source', text: 'the service: the engine’s PCM FIFO depth at the stream’s rate' })));
  }
  card.latency.replaceChildren(...items);
  const total = l.totalNs + (l.fifoNs ?? 0);
  card.latencyTotal.textContent = `${fmtNs(total)}${l.unknown.length ? ` + ${l.unknown.length} unknown` : ''}`;
}

// ---- meters ----

function applyLevels(card, r) {
  const n = r.peakDb.length;
  if (card.channels !== n) {
    card.channels = n;
    const rows = [];
    for (let c = 0; c < n; c++) {
      const name = n === 2 ? (c === 0 ? 'L' : 'R') : String(c + 1);
      rows.push(el('div', { class: 'meter', 'data-channel': c, 'data-peak-db': '-inf', 'data-rms-db': '-inf' },
        el('span', { class: 'ch', text: name }),
        el('div', { class: 'bar' }, el('div', { class: 'rms' }), el('div', { class: 'peak' })),
        el('span', { class: 'val', text: '−∞ / −∞' })));
    }
    card.meters.replaceChildren(...rows);
  }
  const rows = card.meters.children;
  for (let c = 0; c < n; c++) {
    const row = rows[c];
    const p = r.peakDb[c], q = r.rmsDb[c];
    row.dataset.peakDb = attrDb(p);
    row.dataset.rmsDb = attrDb(q);
    row.querySelector('.peak').style.left = `${meterPercent(p)}%`;
    row.querySelector('.rms').style.width = `${meterPercent(q)}%`;
    row.querySelector('.val').textContent = `${fmtDb(p)} / ${fmtDb(q)}`;
  }
}

function meterPercent(db) {
  if (db === null || db === undefined || db === -Infinity) return 0;
  return Math.max(0, Math.min(100, ((db - METER_FLOOR_DB) / -METER_FLOOR_DB) * 100));
}

// ---- xrun history ----

function addXrunPoint(card, x) {
  const h = card.xrun;
  const t = Date.now() / 1000;
  h.t.push(t); h.u.push(x.underruns); h.o.push(x.overruns);
  while (h.t.length > 0 && h.t[0] < t - XRUN_HISTORY_S) {
    h.t.shift(); h.u.shift(); h.o.shift();
  }
  drawXruns(card);
}

function plotWidth(container) {
  return Math.max(200, Math.floor(container.clientWidth || 300));
}

/** uPlot's stepped path builder where this uPlot has one (1.6 does), else its default lines. */
function stepped() {
  const U = globalThis.uPlot;
  return U && U.paths && U.paths.stepped ? U.paths.stepped({ align: 1 }) : undefined;
}

function drawXruns(card) {
  const U = globalThis.uPlot;
  if (typeof U !== 'function') {
    if (!card.xrunPlot.dataset.unavailable) {
      card.xrunPlot.dataset.unavailable = 'true';
      card.xrunPlot.textContent = 'plot unavailable (uPlot did not load); the counts are above';
    }
    return;
  }
  const data = [card.xrun.t, card.xrun.u, card.xrun.o];
  if (!card.plot) {
    card.plot = new U({
      width: plotWidth(card.xrunPlot), height: 120,
      scales: {
        // Always the last XRUN_HISTORY_S up to now, however few points there are yet.
        x: { time: true, range: () => { const now = Date.now() / 1000; return [now - XRUN_HISTORY_S, now]; } },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
      // Counts since the service started: a step up is an xrun.
      series: [{}, { label: 'underruns', stroke: '#c0392b', paths: stepped() }, { label: 'overruns', stroke: '#2c6fbb', paths: stepped() }],
      axes: [{}, { size: 40 }],
      legend: { live: false },
    }, data, card.xrunPlot);
    new ResizeObserver(() => card.plot.setSize({ width: plotWidth(card.xrunPlot), height: 120 })).observe(card.xrunPlot);
  } else {
    card.plot.setData(data);
  }
}

// ---- period lateness ----

/** A bin edge in periods, as short as it goes (0.05, 1.5, 2): the labels share a phone's width ten ways. */
function periods(x) {
  return String(Math.round(x * 1000) / 1000);
}

function applyLateness(card, lateness) {
  const box = card.lateness;
  if (lateness === undefined) {
    box.replaceChildren(el('p', { class: 'muted', text: 'not reported by this service' }));
    return;
  }
  if (lateness === null) {
    box.replaceChildren(el('p', { class: 'muted', 'data-no-engine': '', text: 'no engine yet' }));
    return;
  }
  const { edges, counts } = lateness;
  const total = counts.reduce((a, b) => a + b, 0);
  // Log scale: the late periods are a few among many thousands on time, and must still show.
  const top = Math.log10(1 + Math.max(1, ...counts));
  const labelEvery = edges.length > 12 ? 2 : 1;
  const bins = counts.map((n, i) => {
    const range = i + 1 < edges.length ? `${periods(edges[i])}–${periods(edges[i + 1])}` : `${periods(edges[i])} or more`;
    const bar = el('div', { class: 'bin-bar' });
    bar.style.height = `${(Math.log10(1 + n) / top) * 100}%`;
    return el('div', { class: 'bin', title: `late by ${range} periods: ${n} periods`, 'data-count': n },
      el('div', { class: 'bin-area' }, bar),
      el('span', { class: 'bin-label', text: i % labelEvery === 0 ? (i + 1 < edges.length ? periods(edges[i]) : `≥${periods(edges[i])}`) : '' }));
  });
  const grid = el('div', { class: 'bins' }, ...bins);
  grid.style.gridTemplateColumns = `repeat(${Math.max(1, counts.length)}, minmax(0, 1fr))`;
  box.replaceChildren(grid, el('p', { class: 'muted', text: `${total} periods since the engine started (bar heights: log scale)` }));
}

// ---- loading and polling ----

function render(list) {
  const main = $('#streams');
  main.querySelector('.loading')?.remove();
  const seen = new Set();
  list.forEach((s, i) => {
    seen.add(s.id);
    let card = cards.get(s.id);
    if (!card) {
      card = makeCard(s);
      cards.set(s.id, card);
    }
    // In the API's order; a card already in place is not moved (that would take a slider from
    // under the finger dragging it).
    if (main.children[i] !== card.root) main.insertBefore(card.root, main.children[i] ?? null);
    applyStatus(card, s);
    if (!('lateness' in s)) applyLateness(card, undefined);
    if (card.channels === 0) applyLevels(card, { peakDb: [null, null], rmsDb: [null, null] });
  });
  for (const [id, card] of cards) {
    if (!seen.has(id)) {
      card.root.remove();
      cards.delete(id);
    }
  }
  main.setAttribute('aria-busy', 'false');
}

async function refresh() {
  try {
    render(await api('GET', '/api/streams'));
  } catch (e) {
    showError(e);
  }
}

async function poll() {
  try {
    const list = await api('GET', '/api/streams');
    if (!socketOpen) {
      render(list);
      return;
    }
    for (const s of list) {
      const card = cards.get(s.id);
      if (!card) continue;
      applyLateness(card, s.lateness);
      addXrunPoint(card, card.status.xruns); // the plot's time axis moves on without events
    }
  } catch (e) {
    showError(e);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case 'subscribed':
      // Whatever changed while the socket was away was not pushed: read it all once.
      void refresh();
      break;
    case 'stream': {
      const card = cards.get(msg.stream.id);
      if (card) applyStatus(card, msg.stream);
      else void refresh();
      break;
    }
    case 'control': {
      const c = msg.control;
      const ids = [c.id, ...(c.sameAs ?? [])];
      for (const card of cards.values()) {
        const g = card.status.gain;
        if (!g) continue;
        if (ids.includes(g.id) && typeof c.value === 'number') g.db = c.value;
        else if (g.mutedId && ids.includes(g.mutedId) && typeof c.value === 'boolean') g.muted = c.value;
        else continue;
        applyGain(card, card.status);
      }
      break;
    }
    case 'levels':
      for (const r of msg.streams) {
        const card = cards.get(r.stream);
        if (card) applyLevels(card, r);
      }
      break;
    case 'error':
      showStatus(`the service refused a WebSocket message: ${msg.error}`);
      break;
    default:
      break;
  }
}

function onSocketState(state, retryMs) {
  socketOpen = state === 'open';
  // A refusal stays on the line; a lost connection is answered once the service is back.
  if (socketOpen && statusIsNetwork) {
    statusIsNetwork = false;
    showStatus('connected to the service again', 'info');
  }
  const conn = $('#conn');
  conn.dataset.conn = state;
  conn.textContent = state === 'open' ? 'live' : state === 'connecting' ? 'connecting…' : `disconnected: retrying in ${(retryMs / 1000).toFixed(1)} s`;
}

async function start() {
  try {
    const b = await api('GET', '/api/board');
    $('#board').textContent = b.board;
    document.title = `sbc-audio · ${b.board}`;
  } catch (e) {
    showError(e);
  }
  await refresh();
  connectSocket(['streams', 'controls', 'levels'], onMessage, onSocketState);
  setTimeout(poll, POLL_MS);
}

void start();
