/**
 * The format walk: every corner of every range a stream offers, through the whole ring-buffer
 * sequence (docs/PROTOCOL.md R-FMT-6): SET_FORMAT → GET_FIFO_DEPTH → GET_BUFFER → START → a
 * POSITION_NOTIFY → STOP. A client, knowing the service only through its endpoint; the unit tests
 * and `sbc-audio conformance` run it.
 *
 * Corners of a range: its lowest and highest rate (for a family range, the lowest and highest
 * rate of the family inside min..max), its minimum and maximum channel count, each of its sample
 * format bits; for an FPS_CONTINUOUS range also the interior rates 8100 and 12000 Hz (outside both
 * rate families) where they fall inside it.
 */
import { FPS_44100_FAMILY, FPS_48000_FAMILY, type FormatRange, RANGE_FLAG, SAMPLE_FORMAT_FLAGS, bytesPerSample, rangeHasRate } from '../audio/formats.ts';
import { type RingBufferClient, StreamClient } from './client.ts';
import { STATUS, statusName } from './wire.ts';

/** Interior rates tried in continuous ranges: in neither rate family. */
export const INTERIOR_RATES = [8100, 12000] as const;

export interface WalkCase {
  fps: number;
  sampleFormat: number;
  channels: number;
}

export interface WalkFailure extends WalkCase {
  /** The step that failed: 'SET_FORMAT', 'GET_FIFO_DEPTH', 'GET_BUFFER', 'START', 'POSITION_NOTIFY', 'STOP'. */
  step: string;
  why: string;
}

export interface WalkResult {
  endpoint: string;
  cases: WalkCase[];
  failures: WalkFailure[];
}

/** The corners of one range (see the file comment), without duplicates. */
export function rangeCorners(r: FormatRange): WalkCase[] {
  const rates = new Set<number>();
  const familyRates = [...((r.flags & RANGE_FLAG.FPS_48000_FAMILY) ? FPS_48000_FAMILY : []), ...((r.flags & RANGE_FLAG.FPS_44100_FAMILY) ? FPS_44100_FAMILY : [])];
  if (r.flags & RANGE_FLAG.FPS_CONTINUOUS) {
    rates.add(r.minFps);
    rates.add(r.maxFps);
    for (const x of INTERIOR_RATES) if (x > r.minFps && x < r.maxFps) rates.add(x);
  } else {
    const inside = familyRates.filter((x) => rangeHasRate(r, x)).sort((a, b) => a - b);
    if (inside.length) {
      rates.add(inside[0]!);
      rates.add(inside[inside.length - 1]!);
    }
  }
  const formats: number[] = [];
  for (let bit = 0; bit < 30; bit++) if (r.sampleFormats & (1 << bit)) formats.push((1 << bit) | (r.sampleFormats & SAMPLE_FORMAT_FLAGS));
  const out: WalkCase[] = [];
  for (const fps of rates) for (const sampleFormat of formats) for (const channels of new Set([r.minChannels, r.maxChannels])) out.push({ fps, sampleFormat: sampleFormat >>> 0, channels });
  return out;
}

/** The corners of every range, each (rate, format, channels) once. */
export function walkCases(ranges: readonly FormatRange[]): WalkCase[] {
  const seen = new Set<string>();
  const out: WalkCase[] = [];
  for (const r of ranges) {
    for (const c of rangeCorners(r)) {
      const k = `${c.fps}/${c.sampleFormat}/${c.channels}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(c);
    }
  }
  return out;
}

export function describeCase(c: WalkCase): string {
  return `${c.fps} Hz, sample format 0x${c.sampleFormat.toString(16)}, ${c.channels} ch`;
}

export interface WalkOptions {
  /** Per request (the first ring-buffer answer waits for the engine to start; default 20000 ms). */
  timeoutMs?: number;
  /** How long to wait for the first POSITION_NOTIFY after START, ms of wall time (default 10000). */
  positionTimeoutMs?: number;
  /** Only these cases (default: the corners of every range GET_FORMATS offers). */
  cases?: WalkCase[];
  /** Called after each case (progress). */
  onCase?: (c: WalkCase, failure: WalkFailure | undefined) => void;
}

/** Walks every corner of every offered range of one endpoint through the whole sequence. */
export async function walkFormats(endpointPath: string, opts: WalkOptions = {}): Promise<WalkResult> {
  const timeoutMs = opts.timeoutMs ?? 20000;
  const a = await StreamClient.connect(endpointPath, { timeoutMs });
  const failures: WalkFailure[] = [];
  try {
    await a.getClockDomain(); // a request first: this channel takes part in ownership (R-OWN-1)
    const cases = opts.cases ?? walkCases(await a.getFormats());
    for (const c of cases) {
      const f = await walkOne(a, endpointPath, c, timeoutMs, opts.positionTimeoutMs ?? 10000);
      if (f) failures.push(f);
      opts.onCase?.(c, f);
      if (a.isClosed) break;
    }
    return { endpoint: endpointPath, cases, failures };
  } finally {
    await a.close().catch(() => {});
  }
}

async function walkOne(a: StreamClient, endpointPath: string, c: WalkCase, timeoutMs: number, positionTimeoutMs: number): Promise<WalkFailure | undefined> {
  const fail = (step: string, why: string): WalkFailure => ({ ...c, step, why });
  const status = (s: number) => `${statusName(s)} (${s})`;
  let rb: RingBufferClient | undefined;
  try {
    const f = await a.setFormat(c);
    if (f.result !== STATUS.OK || !f.token) return fail('SET_FORMAT', `answered ${status(f.result)}`);
    rb = await a.openRingBuffer(f.token);
    const frameBytes = c.channels * bytesPerSample(c.sampleFormat);
    const fifo = await rb.getFifoDepth();
    if (fifo.result !== STATUS.OK) return fail('GET_FIFO_DEPTH', `answered ${status(fifo.result)}`);
    if (fifo.fifoDepth <= 0 || fifo.fifoDepth % frameBytes !== 0) return fail('GET_FIFO_DEPTH', `fifo_depth ${fifo.fifoDepth} is not a positive whole number of ${frameBytes}-byte frames`);
    // About 40 ms of ring, four notifications per ring: the first comes about 10 ms after start_time.
    const minFrames = Math.max(64, Math.ceil(c.fps / 25));
    const b = await rb.getBuffer(minFrames, 4);
    if (b.result !== STATUS.OK) return fail('GET_BUFFER', `answered ${status(b.result)}`);
    if (b.frames < minFrames || !b.bufferPath) return fail('GET_BUFFER', `${b.frames} frames (asked ${minFrames}), path ${b.bufferPath ?? 'none'}`);
    const position = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), positionTimeoutMs);
      rb!.once('position', () => { clearTimeout(timer); resolve(true); });
      void rb!.closed.then(() => { clearTimeout(timer); resolve(false); });
    });
    const s = await rb.start();
    if (s.result !== STATUS.OK) return fail('START', `answered ${status(s.result)}`);
    if (!(await position)) return fail('POSITION_NOTIFY', `none within ${positionTimeoutMs} ms of START`);
    const stop = await rb.stop();
    if (stop.result !== STATUS.OK) return fail('STOP', `answered ${status(stop.result)}`);
    return undefined;
  } catch (e) {
    return fail('(channel)', `${endpointPath}: ${(e as Error).message}`);
  } finally {
    await rb?.close().catch(() => {});
  }
}
