/**
 * The status page (src/web/page/) in headless Chromium (Debian's /usr/bin/chromium, driven by
 * puppeteer-core), against the real `sbc-audio serve` on the sim board, started as a user starts
 * it (a child process; tests/unit/helpers/serve-child.ts), at a phone's 390×844 viewport.
 *
 * - The page shows board/sim.json's three streams (speaker and headphone out, mic in), in one
 *   column with nothing wider than the screen; on a 1280-wide desktop the cards sit side by side.
 * - The speaker's meter reads the floor ("-inf") before START; while a protocol client plays a
 *   1 kHz tone at −6 dBFS through the speaker it reads −6 ± 2 dBFS peak (the meter measures what
 *   goes to the DAC after the engine's trim, 0 dB by default: docs/REMOTE.md, "Levels"); after STOP
 *   the floor again. A screenshot is kept while the tone plays.
 * - Dragging the gain slider from −20 dB (board/sim.json's controlDefaults) to −30 dB sends at most
 *   a few throttled PUTs, the last −30, and the speaker's monitor endpoint (what the simulated
 *   analog output carries) falls by 10 ± 1 dB: the analog truth, not the page's own word.
 * - The simulated jack (`sbc-audio sim jack headphone in`) updates the plug element; the delay from
 *   the service's push (seen by a WebSocket client of the test) to the page's `data-updated-at` is
 *   printed and bounded only by a 2 s hang guard.
 * - A refused value (the service's 400 `{"error"}`) is shown on the page's status line.
 * - Negative control: the same page with the WebSocket's "levels" subscription taken out of app.js
 *   (served in its place by request interception: serve has no flag for another page folder) keeps
 *   its meter at the floor while the tone plays, so the meter check fails on it — while the real
 *   page passes the same check at the same moment.
 *
 * Timing: the machine is shared and slow; every wait is on a condition with a hang guard, and no
 * wall-time bound is asserted besides the guards.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type HTTPRequest, type Page } from 'puppeteer-core';
import WebSocket from 'ws';
import { playSamples, recordSamples, toneSamples } from '../../src/stream/player.ts';
import { ROOT, type ServeChild, runCli, startServe } from './helpers/serve-child.ts';
import { dB } from './helpers/levels.ts';

const CHROMIUM = '/usr/bin/chromium';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
/** Hang guards only (a condition not met by then is a failure, never a bound on how fast). */
const GUARD_MS = 30_000;
const RATE = 48000;
const CHANNELS = 2;
/** The tone: 1 kHz at −6 dBFS (toneSamples' level argument). */
const TONE_DB = -6;
/** The meter's tolerance around the tone's level: "within a couple of dB". */
const METER_TOL_DB = 2;
/** board/sim.json: "controlDefaults": { "speaker.gain": -20 }. */
const SPEAKER_GAIN_DEFAULT_DB = -20;
/** Where the test drags the slider to, and so the change the monitor must show: −10 ± 1 dB. */
const SPEAKER_GAIN_MOVED_DB = -30;

const resultsDir = () => path.resolve(ROOT, process.env.SBC_TEST_RESULTS ?? 'test-results');
const monoNs = () => Number(process.hrtime.bigint());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds; throws naming `what` after the hang guard. */
async function until<T>(what: string, cond: () => Promise<T | undefined> | T | undefined, guardMs = GUARD_MS): Promise<T> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${guardMs} ms (a hang guard)`);
    await sleep(50);
  }
}

/** The speaker card's meter attributes, one [peak, rms] per channel. */
function meters(page: Page, stream: string): Promise<[string, string][]> {
  return page.$$eval(`[data-stream="${stream}"] [data-peak-db]`, (els) => els.map((e) => [e.getAttribute('data-peak-db')!, e.getAttribute('data-rms-db')!] as [string, string]));
}

/**
 * The meter check: waits until every channel of `stream`'s meter reads `want` — 'floor' (peak and
 * RMS "-inf") or a peak within `tol` dB of a number. Resolves with the values; rejects after the guard.
 */
async function meterReads(page: Page, stream: string, want: 'floor' | number, guardMs = GUARD_MS, tol = METER_TOL_DB): Promise<[string, string][]> {
  await page.waitForFunction((s: string, w: 'floor' | number, t: number) => {
    const els = [...document.querySelectorAll(`[data-stream="${s}"] [data-peak-db]`)];
    if (els.length === 0) return false;
    return els.every((e) => {
      const p = e.getAttribute('data-peak-db')!;
      if (w === 'floor') return p === '-inf' && e.getAttribute('data-rms-db') === '-inf';
      return p !== '-inf' && Math.abs(Number(p) - w) <= t;
    });
  }, { timeout: guardMs, polling: 50 }, stream, want, tol);
  return meters(page, stream);
}

async function attr(page: Page, selector: string, name: string): Promise<string | null> {
  return page.$eval(selector, (e, n) => e.getAttribute(n), name);
}

/** Median of the 10 ms block peaks of channel 0 over frames [from, to) (dBFS): a dropout or an edge in the window does not bend it. */
function medianBlockPeakDb(s: Int16Array, from: number, to: number): number {
  const block = RATE / 100;
  const peaks: number[] = [];
  for (let f = Math.max(0, from); f + block <= Math.min(to, s.length / CHANNELS); f += block) {
    let p = 0;
    for (let k = f; k < f + block; k++) p = Math.max(p, Math.abs(s[k * CHANNELS]!) / 32768);
    peaks.push(p);
  }
  assert.ok(peaks.length >= 20, `only ${peaks.length} blocks of 10 ms in the window [${from}, ${to}) of the monitor recording`);
  peaks.sort((a, b) => a - b);
  return dB(peaks[Math.floor(peaks.length / 2)]!);
}

interface Tone {
  /** START's start_time (CLOCK_MONOTONIC ns). */
  startedNs: Promise<number>;
  /** Stops the tone (STOP) and resolves when the session has ended. */
  stop(): Promise<void>;
  done: Promise<unknown>;
}

/** A client plays 1 kHz at TONE_DB through `endpoint` for up to 60 s, until stop(). */
function playTone(endpoint: string): Tone {
  const ac = new AbortController();
  let started!: (ns: number) => void;
  const startedNs = new Promise<number>((r) => { started = r; });
  const done = playSamples({ endpoint, rate: RATE, channels: CHANNELS, signal: ac.signal, onOpen: ({ startTimeNs }) => started(startTimeNs) }, toneSamples(1000, 60, RATE, CHANNELS, TONE_DB));
  // A failure before START must not leave startedNs waiting: the test awaits both.
  done.catch(() => {});
  return {
    startedNs: Promise.race([startedNs, done.then(() => { throw new Error(`${endpoint}: the tone ended before START was answered`); })]),
    done,
    async stop() {
      ac.abort('test done');
      await done;
    },
  };
}

describe('the status page in headless Chromium (serve on the sim board, 390×844)', function () {
  this.timeout(240_000);
  let dir: string;
  let serve: ServeChild | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  /** Console errors of the page (a resource that failed to load, a refused request). */
  const consoleErrors: string[] = [];
  const puts: { url: string; body: string | undefined }[] = [];
  let speakerEndpoint: string;
  let speakerMonitor: string;

  before(async function () {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: 'make host-tools' installs Debian's chromium`);
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-web-page-'));
    const runtimeDir = path.join(dir, 'run');
    serve = await startServe('sim', runtimeDir);
    speakerEndpoint = path.join(runtimeDir, 'audio-output', 'sim.speaker');
    speakerMonitor = path.join(runtimeDir, 'audio-input', 'sim.speaker.monitor');
    browser = await puppeteer.launch({
      executablePath: CHROMIUM, headless: true,
      // Root in a container: Chromium's sandbox needs user namespaces we do not have.
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      protocolTimeout: GUARD_MS * 2,
    });
    page = await browser.newPage();
    await page.setViewport(PHONE);
    page.on('pageerror', (e) => pageErrors.push(String((e as Error)?.message ?? e)));
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${m.text()} (${m.location().url ?? ''})`); });
    page.on('request', (r: HTTPRequest) => { if (r.method() === 'PUT') puts.push({ url: r.url(), body: r.postData() }); });
    await page.goto(serve.url, { waitUntil: 'load', timeout: GUARD_MS });
    await page.waitForSelector('[data-stream="mic"]', { timeout: GUARD_MS });
    await page.waitForSelector('#conn[data-conn="open"]', { timeout: GUARD_MS });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await serve?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows board/sim.json\'s three streams, one column on a phone with nothing cut off, side by side on a desktop', async () => {
    const cards = await page.$$eval('[data-stream]', (els) => els.map((e) => ({
      id: e.getAttribute('data-stream'), state: e.getAttribute('data-state'), dir: e.querySelector('.dir')?.textContent,
      left: e.getBoundingClientRect().left, right: e.getBoundingClientRect().right,
    })));
    assert.deepEqual(cards.map((c) => [c.id, c.state, c.dir]), [
      ['speaker', 'idle', 'output · speaker'], ['headphone', 'idle', 'output · headphone'], ['mic', 'idle', 'input · microphone'],
    ]);
    // The headphone is on the jack (unplugged at start); the speaker and the mic are hardwired: no plug element.
    assert.equal(await attr(page, '[data-stream="headphone"] [data-plugged]', 'data-plugged'), 'false');
    assert.equal(await page.$('[data-stream="speaker"] [data-plugged]'), null);
    assert.equal(await page.$('[data-stream="mic"] [data-plugged]'), null);
    // The gain slider takes the control's range: -127 .. 0 dB in 0.5 dB steps, at the default -20.
    const slider = await page.$eval('[data-stream="speaker"] [data-gain-slider]', (e) => {
      const i = e as HTMLInputElement;
      return [i.min, i.max, i.step, i.value];
    });
    assert.deepEqual(slider, ['-127', '0', '0.5', String(SPEAKER_GAIN_DEFAULT_DB)]);
    assert.equal(await page.$('[data-stream="mic"] [data-gain-slider]'), null, 'the mic has no gain control');
    // Every latency item with its source.
    const latency = await page.$$eval('[data-stream="speaker"] [data-latency] li', (els) => els.map((e) => [e.querySelector('.ns')?.textContent, e.querySelector('.source')?.textContent]));
    assert.ok(latency.length >= 1 && latency.every(([ns, src]) => ns && src), `latency items: ${JSON.stringify(latency)}`);
    // No engine has run yet: the lateness histogram says so; uPlot loaded and drew the xrun plots.
    assert.equal((await page.$$('[data-lateness] [data-no-engine]')).length, 3);
    assert.equal((await page.$$('[data-xrun-plot] canvas')).length, 3, 'an xrun plot (uPlot canvas) per stream');
    // Phone: one column (same left edge), nothing beyond the 390 px viewport, no sideways scrolling.
    assert.equal(new Set(cards.map((c) => Math.round(c.left))).size, 1, `card left edges: ${cards.map((c) => c.left)}`);
    assert.ok(cards.every((c) => c.left >= 0 && c.right <= PHONE.width), `cards: ${JSON.stringify(cards)}`);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scrollWidth <= PHONE.width, `the page is ${scrollWidth} px wide on a ${PHONE.width} px screen`);
    // Desktop: more than one column.
    await page.setViewport(DESKTOP);
    try {
      const lefts = await until('the cards side by side at 1280 px', async () => {
        const l = await page.$$eval('[data-stream]', (els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
        return new Set(l).size > 1 ? l : undefined;
      }, 5000);
      assert.ok(lefts.length === 3);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= DESKTOP.width);
    } finally {
      await page.setViewport(PHONE);
    }
  });

  it('meters: the floor before START, the tone\'s level while it plays, the floor after STOP; the gain slider moves the monitor by the dB moved', async () => {
    // Before START: the floor (and the page does get level pushes: the idle speaker reads the floor at 20 Hz).
    await meterReads(page, 'speaker', 'floor');

    let monitorStartNs = 0;
    const monitorAc = new AbortController();
    const recording = recordSamples({ endpoint: speakerMonitor, rate: RATE, channels: CHANNELS, signal: monitorAc.signal, onOpen: ({ startTimeNs }) => { monitorStartNs = startTimeNs; } }, RATE * 90);
    recording.catch(() => {});
    await until('the monitor recording started', () => monitorStartNs > 0 || undefined);
    const tone = playTone(speakerEndpoint);
    let stopNs = 0;
    try {
      const startNs = await tone.startedNs;
      await page.waitForSelector('[data-stream="speaker"][data-state="running"]', { timeout: GUARD_MS });
      const playing = await meterReads(page, 'speaker', TONE_DB);
      console.log(`      speaker meter while the tone plays: ${playing.map(([p, r]) => `${p} / ${r}`).join(', ')} dBFS (peak / RMS)`);
      // The engine's period-lateness histogram: docs/REMOTE.md's 10 bins (edges 0 .. 2 periods, the last open), filling.
      const bins = await until('the speaker\'s lateness histogram with periods counted', async () => {
        const b = await page.$$eval('[data-stream="speaker"] [data-lateness] .bin', (els) => els.map((e) => [Number(e.getAttribute('data-count')), e.querySelector('.bin-label')?.textContent ?? '']));
        return b.length > 0 && b.some(([n]) => (n as number) > 0) ? b : undefined;
      });
      assert.equal(bins.length, 10);
      assert.deepEqual([bins[0]![1], bins[9]![1]], ['0', '≥2']);
      mkdirSync(resultsDir(), { recursive: true });
      const shot = path.join(resultsDir(), 'web-page.png');
      await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
      console.log(`      screenshot: ${path.relative(ROOT, shot)}`);

      // At least 0.8 s of the tone at the default gain before the slider moves (the window below).
      await until('0.8 s of the tone', () => monoNs() > startNs + 0.8e9 || undefined);
      const puts0 = puts.length;
      const moveNs = monoNs();
      // A drag from −20 to −30 dB: 20 input events at once, then change (as a release).
      const inputs = await page.evaluate((from: number, to: number) => {
        const s = document.querySelector('[data-stream="speaker"] [data-gain-slider]') as HTMLInputElement;
        let n = 0;
        for (let v = from - 0.5; v >= to; v -= 0.5) {
          s.value = String(v);
          s.dispatchEvent(new Event('input', { bubbles: true }));
          n++;
        }
        s.dispatchEvent(new Event('change', { bubbles: true }));
        return n;
      }, SPEAKER_GAIN_DEFAULT_DB, SPEAKER_GAIN_MOVED_DB);
      assert.equal(inputs, 20);
      await until(`sim.speaker.gain at ${SPEAKER_GAIN_MOVED_DB} dB on the service`, async () => {
        const c = await (await fetch(`${serve!.url}api/controls/sim.speaker.gain`)).json() as { value: number };
        return c.value === SPEAKER_GAIN_MOVED_DB || undefined;
      });
      const settledNs = monoNs();
      const sent = puts.slice(puts0);
      assert.ok(sent.length >= 1 && sent.length < inputs, `${sent.length} PUTs for ${inputs} input events (throttled: fewer)`);
      assert.ok(sent.every((p) => p.url.endsWith('/api/controls/sim.speaker.gain')), JSON.stringify(sent));
      assert.deepEqual(JSON.parse(sent.at(-1)!.body!), { value: SPEAKER_GAIN_MOVED_DB }, 'the last PUT carries the position the drag ended on');

      // 1.2 s of the tone at the new gain, then STOP.
      await sleep(1200);
      stopNs = monoNs();
      await tone.stop();
      await meterReads(page, 'speaker', 'floor');
      await page.waitForSelector('[data-stream="speaker"][data-state="idle"]', { timeout: GUARD_MS });

      // The analog truth. Monitor frame k is the output at its start_time − 50 ms + k / rate
      // (docs/PROTOCOL.md, "Monitor endpoints"); margins of 0.3 s after START and after the
      // change settled (ramps, and the monitor's own capture running late on a busy machine).
      monitorAc.abort('test done');
      const rec = await recording;
      const frameAt = (ns: number) => Math.round(((ns - monitorStartNs + 50e6) * RATE) / 1e9);
      const before = medianBlockPeakDb(rec, frameAt(startNs + 0.3e9), frameAt(moveNs - 0.05e9));
      const after = medianBlockPeakDb(rec, frameAt(settledNs + 0.3e9), frameAt(stopNs - 0.1e9));
      const moved = SPEAKER_GAIN_MOVED_DB - SPEAKER_GAIN_DEFAULT_DB; // −10 dB
      console.log(`      monitor: ${before.toFixed(2)} dBFS at ${SPEAKER_GAIN_DEFAULT_DB} dB, ${after.toFixed(2)} dBFS after the slider moved to ${SPEAKER_GAIN_MOVED_DB} dB`);
      assert.ok(Math.abs(after - before - moved) <= 1, `the monitor moved ${(after - before).toFixed(2)} dB, expected ${moved} ± 1`);
    } finally {
      monitorAc.abort('test done');
      if (!stopNs) await tone.stop().catch(() => {});
      await recording.catch(() => {});
    }
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
    // Every file loaded (page, uPlot from /vendor/, icon), every request answered 2xx so far.
    assert.deepEqual(consoleErrors, [], 'no console errors in the page');
  });

  it('the simulated jack updates the plug element (the delay from the service\'s push to the page is printed)', async () => {
    const ws = new WebSocket(`${serve!.url.replace(/^http/, 'ws')}api/ws`);
    try {
      let pushAt = 0;
      let subscribed = false;
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; stream?: { id: string; plugged?: boolean } };
        if (m.type === 'subscribed') subscribed = true;
        if (m.type === 'stream' && m.stream?.id === 'headphone' && m.stream.plugged === true && pushAt === 0) pushAt = Date.now();
      });
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      ws.send(JSON.stringify({ subscribe: ['streams'] }));
      await until('the test\'s WebSocket subscribed', () => subscribed || undefined);
      assert.equal(await attr(page, '[data-stream="headphone"] [data-plugged]', 'data-plugged'), 'false');

      await runCli(['sim', 'jack', 'headphone', 'in', '--board', 'sim', '--runtime-dir', serve!.runtimeDir]);
      await page.waitForSelector('[data-stream="headphone"] [data-plugged="true"]', { timeout: GUARD_MS });
      await until('the service\'s push seen by the test\'s client', () => pushAt || undefined);
      const updatedAt = Number(await attr(page, '[data-stream="headphone"] [data-plugged]', 'data-updated-at'));
      const delay = updatedAt - pushAt;
      console.log(`jack→page delay: ${delay} ms`);
      assert.ok(delay <= 2000, `jack→page delay ${delay} ms: over the 2 s hang guard`);

      // And out again: the page follows.
      await runCli(['sim', 'jack', 'headphone', 'out', '--board', 'sim', '--runtime-dir', serve!.runtimeDir]);
      await page.waitForSelector('[data-stream="headphone"] [data-plugged="false"]', { timeout: GUARD_MS });
    } finally {
      ws.terminate();
    }
  });

  it('a value the service refuses (400 {"error"}) is shown on the status line, and the slider returns to the value in force', async () => {
    const status = () => page.$eval('#status', (e) => ({ text: e.textContent ?? '', kind: e.getAttribute('data-status'), hidden: (e as HTMLElement).hidden }));
    assert.equal((await status()).kind, '', 'no error shown before');
    // A slider pushed past its range (as a page out of step with the service could send): 12 dB.
    await page.evaluate(() => {
      const s = document.querySelector('[data-stream="speaker"] [data-gain-slider]') as HTMLInputElement;
      s.max = '12';
      s.value = '12';
      s.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await page.waitForSelector('#status[data-status="error"]', { timeout: GUARD_MS });
    const s = await status();
    assert.equal(s.hidden, false);
    assert.match(s.text, /sim\.speaker\.gain: 12 dB is outside its range -127 \.\. 0 dB/);
    const c = await (await fetch(`${serve!.url}api/controls/sim.speaker.gain`)).json() as { value: number };
    assert.equal(c.value, SPEAKER_GAIN_MOVED_DB, 'the refused value changed nothing');
    assert.equal(await page.$eval('[data-stream="speaker"] [data-gain-slider]', (e) => (e as HTMLInputElement).value), String(SPEAKER_GAIN_MOVED_DB));
  });

  it('the mute button sets the stream\'s mute control and shows the state the service pushes back', async () => {
    const mute = '[data-stream="speaker"] [data-mute]';
    const muted = async () => (await (await fetch(`${serve!.url}api/controls/sim.speaker.mute`)).json() as { value: boolean }).value;
    // board/sim.json: "speaker.mute": false.
    assert.equal(await muted(), false);
    assert.equal(await attr(page, mute, 'aria-pressed'), 'false');
    await page.click(mute);
    await until('sim.speaker.mute true on the service', async () => (await muted()) === true || undefined);
    await page.waitForSelector(`${mute}[aria-pressed="true"]`, { timeout: GUARD_MS });
    await page.click(mute);
    await until('sim.speaker.mute false on the service', async () => (await muted()) === false || undefined);
    await page.waitForSelector(`${mute}[aria-pressed="false"]`, { timeout: GUARD_MS });
  });

  it('negative control: without the levels subscription the meter check fails while the real page passes it', async () => {
    const source = readFileSync(path.join(ROOT, 'src/web/page/app.js'), 'utf8');
    const broken = source.replace("connectSocket(['streams', 'controls', 'levels']", "connectSocket(['streams', 'controls']");
    assert.notEqual(broken, source, 'app.js no longer subscribes as this control expects: update the control');
    const other = await browser!.newPage();
    try {
      await other.setViewport(PHONE);
      await other.setRequestInterception(true);
      other.on('request', (r: HTTPRequest) => {
        if (new URL(r.url()).pathname === '/app.js') void r.respond({ status: 200, contentType: 'text/javascript; charset=utf-8', body: broken });
        else void r.continue();
      });
      await other.goto(serve!.url, { waitUntil: 'load', timeout: GUARD_MS });
      await other.waitForSelector('#conn[data-conn="open"]', { timeout: GUARD_MS });
      const tone = playTone(speakerEndpoint);
      try {
        await tone.startedNs;
        // The broken page is live otherwise: it sees the stream start.
        await other.waitForSelector('[data-stream="speaker"][data-state="running"]', { timeout: GUARD_MS });
        await meterReads(page, 'speaker', TONE_DB);
        // The same check, given 3 s while the tone plays and the real page reads it.
        let failed: Error | undefined;
        try {
          await meterReads(other, 'speaker', TONE_DB, 3000);
        } catch (e) {
          failed = e as Error;
        }
        assert.ok(failed, 'the meter check passed on a page that does not subscribe to levels');
        assert.match(failed.name + failed.message, /Timeout/i);
        assert.deepEqual(await meters(other, 'speaker'), [['-inf', '-inf'], ['-inf', '-inf']]);
      } finally {
        await tone.stop().catch(() => {});
      }
    } finally {
      await other.close();
    }
  });
});
