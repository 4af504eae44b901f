/**
 * Level readings of a stream (issue 24): the engine's meter block (src/engine/meters.ts) turned
 * into peak and RMS dBFS per channel over the frames since the previous reading (LevelReading,
 * src/web/source.ts).
 *
 *   peak dBFS = 20·log10(max |sample|)        full scale 1.0 in every sample format
 *   RMS dBFS  = 10·log10(Σ sample² / frames)  so a full-scale sine reads −3.01 dBFS (no +3 dB
 *                                             "sine = 0 dBFS" correction, as in AES17's option)
 *   digital zero → −Infinity; no frame since the last reading → frames 0, every level −Infinity
 *
 * Options:
 * - `minIntervalNs`, the rate cap: a reading asked for sooner than that after the last one taken is
 *   that reading again, and the engine's block is left to go on summing. Several consumers (50
 *   WebSocket clients at 20 Hz) then share readings instead of splitting the frames between them,
 *   and the main thread reads the block at most 1/minInterval times a second.
 * - `ballistics`: peak hold with instant attack and a release in dB/s (default 20 dB/s: a fall of
 *   the order of PPM-like meters', chosen for the page, not quoted from a meter standard). Off by
 *   default: the peak is the window's. RMS always is the window's.
 * - `floorDb`: levels below it read −Infinity (default −Infinity: only digital zero does).
 */
import type { LevelReading } from '../web/source.ts';
import { METER, METER_CHANNELS, type MeterViews, takeMeters } from '../engine/meters.ts';

/** Release of the peak ballistics when asked for without a rate (dB per second). */
export const DEFAULT_RELEASE_DB_PER_S = 20;
/** Default rate cap: at most 50 readings a second are taken from the engine. */
export const DEFAULT_MIN_INTERVAL_NS = 20e6;

export interface LevelMeterOptions {
  /** Peak hold: `true` (release DEFAULT_RELEASE_DB_PER_S) or a release in dB/s (> 0). Default off. */
  ballistics?: boolean | { releaseDbPerS?: number };
  /** Levels below this read −Infinity (dBFS; default −Infinity). */
  floorDb?: number;
  /** Readings sooner than this after the last one taken repeat it (ns, ≥ 0; default DEFAULT_MIN_INTERVAL_NS). */
  minIntervalNs?: number;
}

export const dbOfAmplitude = (x: number): number => (x > 0 ? 20 * Math.log10(x) : Number.NEGATIVE_INFINITY);
export const dbOfPower = (p: number): number => (p > 0 ? 10 * Math.log10(p) : Number.NEGATIVE_INFINITY);

/**
 * Peak ballistics: instant attack, linear release in dB. `held` is the previous displayed peak,
 * `measured` the new window's, `dtS` the seconds between them: the larger of `measured` and
 * `held − releaseDbPerS · dtS`.
 */
export function releasePeak(heldDb: number, measuredDb: number, dtS: number, releaseDbPerS: number): number {
  const fallen = heldDb - releaseDbPerS * Math.max(0, dtS);
  return measuredDb >= fallen ? measuredDb : fallen;
}

/** Per-channel peak hold over successive readings (one per consumer that wants its own). */
export class PeakBallistics {
  readonly releaseDbPerS: number;
  private held: number[] = [];
  private atNs = Number.NaN;

  constructor(releaseDbPerS = DEFAULT_RELEASE_DB_PER_S, private readonly floorDb = Number.NEGATIVE_INFINITY) {
    if (!(releaseDbPerS > 0 && releaseDbPerS < Infinity)) throw new RangeError(`ballistics: releaseDbPerS is ${releaseDbPerS}; it must be a number of dB/s > 0`);
    this.releaseDbPerS = releaseDbPerS;
  }

  /** The reading with its peaks held (a new object; `r` is not changed). */
  apply(r: LevelReading): LevelReading {
    const dtS = Number.isNaN(this.atNs) ? 0 : (r.atNs - this.atNs) / 1e9;
    this.atNs = r.atNs;
    const peakDb = r.peakDb.map((m, c) => {
      const h = this.held[c];
      let v = h === undefined ? m : releasePeak(h, m, dtS, this.releaseDbPerS);
      if (v < this.floorDb) v = Number.NEGATIVE_INFINITY;
      return v;
    });
    this.held = peakDb;
    return { ...r, peakDb };
  }
}

/** A reading of no frames: every level at the floor. */
export function floorReading(stream: string, channels: number, atNs: number): LevelReading {
  return {
    stream, atNs, frames: 0,
    peakDb: new Array<number>(channels).fill(Number.NEGATIVE_INFINITY),
    rmsDb: new Array<number>(channels).fill(Number.NEGATIVE_INFINITY),
  };
}

/** The single reader of one engine's meter block. */
export class LevelMeter {
  private readonly snap = new Float64Array(METER.SIZE);
  private readonly ballistics: PeakBallistics | undefined;
  private readonly floorDb: number;
  private readonly minIntervalNs: number;
  private last: LevelReading | undefined;
  /** Tries the last take needed (tests, diagnostics). */
  lastAttempts = 0;

  constructor(
    readonly stream: string,
    /** The stream's channels (the format in force): the block's first ones are read. */
    readonly channels: number,
    private readonly block: MeterViews,
    private readonly clock: { nowNs(): number },
    opts: LevelMeterOptions = {},
  ) {
    if (!(Number.isInteger(channels) && channels >= 1 && channels <= METER_CHANNELS)) throw new RangeError(`LevelMeter: channels is ${channels}; it must be an integer from 1 to ${METER_CHANNELS}`);
    this.floorDb = opts.floorDb ?? Number.NEGATIVE_INFINITY;
    if (Number.isNaN(this.floorDb)) throw new RangeError('LevelMeter: floorDb is NaN; it must be a level in dBFS or -Infinity');
    this.minIntervalNs = opts.minIntervalNs ?? DEFAULT_MIN_INTERVAL_NS;
    if (!(this.minIntervalNs >= 0 && this.minIntervalNs < Infinity)) throw new RangeError(`LevelMeter: minIntervalNs is ${opts.minIntervalNs}; it must be a number of ns ≥ 0`);
    const b = opts.ballistics;
    if (b === true) this.ballistics = new PeakBallistics(DEFAULT_RELEASE_DB_PER_S, this.floorDb);
    else if (b && typeof b === 'object') this.ballistics = new PeakBallistics(b.releaseDbPerS ?? DEFAULT_RELEASE_DB_PER_S, this.floorDb);
  }

  /**
   * The levels over the frames since the previous reading taken (frames 0: none played). Within
   * the rate cap of the previous one, that reading again. A writer that stayed inside its update
   * for every try (it was descheduled there) gives the previous reading too; its frames come
   * with the next.
   */
  read(): LevelReading {
    const now = this.clock.nowNs();
    if (this.last && now - this.last.atNs < this.minIntervalNs) return this.last;
    const t = takeMeters(this.block, this.snap);
    this.lastAttempts = t.attempts;
    if (t.state === 'busy' && this.last) return this.last;
    const s = this.snap;
    const channels = this.channels;
    let r: LevelReading;
    if (t.state !== 'taken' || !(s[METER.FRAMES]! > 0)) {
      r = floorReading(this.stream, channels, now);
    } else {
      const frames = s[METER.FRAMES]!;
      const floor = (db: number) => (db < this.floorDb ? Number.NEGATIVE_INFINITY : db);
      const peakDb: number[] = [];
      const rmsDb: number[] = [];
      for (let c = 0; c < channels; c++) {
        peakDb.push(floor(dbOfAmplitude(s[METER.PEAK + c]!)));
        rmsDb.push(floor(dbOfPower(s[METER.SUMSQ + c]! / frames)));
      }
      r = { stream: this.stream, atNs: now, peakDb, rmsDb, frames };
    }
    if (this.ballistics) r = this.ballistics.apply(r);
    this.last = r;
    return r;
  }
}
