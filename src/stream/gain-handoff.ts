/**
 * How SET_GAIN and the engine's ramps combine (docs/CONTROL.md, "Ramps").
 *
 * SET_GAIN sets the codec's digital volume register: the stream gain, as the facts define it.
 * A register write is a step: heard as a click (a large change) or zipper noise (a knob's many
 * small ones). The engine of each running output stream therefore carries a "fade" gain, and
 * the change is handed over between the two so that the product register × fade is a ramp:
 *
 *   down (g → g', q = g'/g < 1): the fade ramps 1 → q over the ramp time from frame F0; at
 *        F1 = F0 + R the register goes to g' while the fade jumps back to 1 (a FADE_SCALE of 1/q);
 *   up   (q > 1): at F0 the register goes to g' while the fade jumps to 1/q (FADE_SCALE), then
 *        the fade ramps back to 1 over the ramp time;
 *   mute: the fade ramps to 0, then the register mutes (any time after: the output is silent);
 *   unmute: the fade jumps to 0 at F0 (silent: the codec is still muted), the register unmutes
 *        at F0, and one period later the fade ramps 0 → 1.
 *
 * The register write is timed to the handoff frame: frame F of a stream leaves the DAC at
 * start_time + F / rate on the board's clock, so the write is scheduled for that instant (a
 * timer on the board's clock) after the engine confirmed the frame it used (CONTROL_APPLIED).
 * On a virtual clock the two meet exactly; on a real one the write lands as close as the bus
 * and the timer allow, and `landedNs` says when it did (the error, in frames, is `misalignedFrames`).
 * Where no stream runs (nothing plays) or the ramp time is 0, the registers are written at once.
 */
import type { Clock } from '../hal/clock.ts';
import { CONTROL_KIND, WHEN } from '../engine/control-queue.ts';

/** A running output engine of the gain's direction (an EngineRingBuffer). */
export interface FadeTarget {
  /** The stream's ramp time (ms; 0: no ramps). */
  readonly rampMs: number;
  /** Frame timing: undefined while the engine does not play the client's buffer. */
  timing(): { startNs: number; rate: number; fifoFrames: number; periodFrames: number } | undefined;
  /** Posts an engine control event; resolves with the frame it took effect at and its time. */
  postControl(kind: number, whenKind: number, at: number, value: number, rampFrames: number): Promise<{ frame: number; timeNs: number }>;
}

export interface GainState {
  db: number;
  muted: boolean;
}

export interface HandoffResult {
  /** When the register writes were made (board clock, ns); undefined where none was needed. */
  landedNs?: number;
  /** When they were due (the handoff frame's time). */
  scheduledNs?: number;
  /** |landed − scheduled| in frames of the first stream (0 on a virtual clock). */
  misalignedFrames?: number;
  /** The frame at the monitor where the change began (first stream), and where it ends. */
  fromFrame?: number;
  toFrame?: number;
  ramped: boolean;
}

const dbToLinear = (db: number) => 10 ** (db / 20);

/** How early a down change's register write is scheduled on a real clock (timer lateness plus a bus transfer). */
export const REAL_CLOCK_LEAD_NS = 2e6;

/**
 * Changes a gain from `from` to `to`: `write` puts the new state into the registers (mute first
 * when muting, gain while muted when unmuting: the codec's own order), the engines' fades make
 * the change a ramp of the streams' ramp time where streams run.
 */
export async function handoffGain(opts: {
  clock: Clock;
  targets: readonly FadeTarget[];
  from: GainState;
  to: GainState;
  write: () => Promise<void>;
}): Promise<HandoffResult> {
  const { clock, from, to } = opts;
  const running = opts.targets.map((t) => ({ t, timing: t.timing() })).filter((x) => x.timing !== undefined) as { t: FadeTarget; timing: NonNullable<ReturnType<FadeTarget['timing']>> }[];
  const same = from.muted === to.muted && (to.muted || from.db === to.db);
  // Streams sharing the register share its handoff instant: the longest of their ramp times.
  const rampMs = Math.max(0, ...running.map((r) => r.t.rampMs));
  // A gain the chip holds but nobody knows in dB (NaN) cannot be ramped from: written as it is.
  const unknown = !from.muted && !to.muted && !(Number.isFinite(from.db) && Number.isFinite(to.db));
  // Engines that do not play now (stopped, or not started) hold no ramp, but their fade must match
  // the register's mute when they play again: silent while muted, unity otherwise.
  const settleIdle = () => {
    for (const t of opts.targets) if (t.timing() === undefined) void t.postControl(CONTROL_KIND.FADE_RAMP, WHEN.NOW, 0, to.muted ? 0 : 1, 0);
  };
  if (running.length === 0 || rampMs <= 0 || same || (from.muted && to.muted) || unknown) {
    await opts.write();
    settleIdle();
    // Ramps off while streams play: their fades follow the mute at once too (a jump, as asked).
    if (rampMs <= 0) for (const r of running) void r.t.postControl(CONTROL_KIND.FADE_RAMP, WHEN.NOW, 0, to.muted ? 0 : 1, 0);
    return { ramped: false };
  }
  settleIdle();
  const now = clock.nowNs();
  const first = running[0]!.timing;
  const nsPerFrame = 1e9 / first.rate;
  // The engine takes an event at a period boundary no later than one period from now and reads
  // from there on frames one FIFO ahead of the position; one period more is the margin for a
  // main thread that posts just after the engine looked. So the change starts within FIFO + one
  // period of the request and is complete one ramp time later.
  const f0 = Math.floor((now - first.startNs) / nsPerFrame) + first.fifoFrames + first.periodFrames;
  const t0 = first.startNs + f0 * nsPerFrame;
  const rampFrames = Math.max(1, Math.round((rampMs * first.rate) / 1000));
  /** The frame of each engine at (or just after) time t. */
  const frameAt = (tm: typeof first, t: number) => Math.ceil((t - tm.startNs) / (1e9 / tm.rate) - 1e-6);
  const rampOf = (tm: typeof first) => Math.max(1, Math.round((rampMs * tm.rate) / 1000));
  const post = (kind: number, t: number, value: number, ramp: (tm: typeof first) => number) =>
    Promise.all(running.map(({ t: e, timing }) => e.postControl(kind, WHEN.FRAME, frameAt(timing, t), value, ramp(timing))));
  const noRamp = () => 0;

  /**
   * The register writes for the frame leaving the DAC at `frameNs`: a timer on the board clock
   * half a frame before it — any instant after frame F − 1 left and before F does is frame F,
   * and the middle keeps clear of rounding in either time.
   */
  const writeAt = async (frameNs: number, leadNs = 0): Promise<{ landedNs: number; scheduledNs: number }> => {
    const t = frameNs - Math.max(nsPerFrame / 2, leadNs);
    if (t > clock.nowNs()) await clock.sleepUntilNs(t);
    const landedNs = clock.nowNs();
    await opts.write();
    return { landedNs, scheduledNs: t };
  };
  // Which way a miss errs. Down, a register landing late is the old, louder level back for a
  // moment (a blip); landing early, a moment of both attenuations (a dip, far less audible). Up,
  // late is the dip. A real clock's timer fires up to a millisecond or two late, so the down
  // write is scheduled that much early there; on a virtual clock the half frame suffices.
  const downLeadNs = clock.kind === 'virtual' ? 0 : REAL_CLOCK_LEAD_NS;
  const result = (w: { landedNs: number; scheduledNs: number }, fromFrame: number, toFrame: number): HandoffResult => ({
    ...w, misalignedFrames: Math.floor(Math.abs(w.landedNs - w.scheduledNs) / nsPerFrame + 0.5), fromFrame, toFrame, ramped: true,
  });

  if (to.muted) {
    // Mute: fade to silence, then the register (nothing to align: the output is silent by then).
    const applied = await post(CONTROL_KIND.FADE_RAMP, t0, 0, rampOf);
    const end = applied[0]!.timeNs + rampFrames * nsPerFrame;
    return result(await writeAt(end), applied[0]!.frame, applied[0]!.frame + rampFrames);
  }
  if (from.muted) {
    // Unmute: silent fade first, the register at that frame, the ramp up a period later.
    const applied = await post(CONTROL_KIND.FADE_RAMP, t0, 0, noRamp);
    const w = await writeAt(applied[0]!.timeNs);
    const up = applied[0]!.timeNs + first.periodFrames * nsPerFrame;
    const ramp = await post(CONTROL_KIND.FADE_RAMP, Math.max(up, clock.nowNs() + (first.fifoFrames + first.periodFrames) * nsPerFrame), 1, rampOf);
    return result(w, ramp[0]!.frame, ramp[0]!.frame + rampFrames);
  }
  const q = dbToLinear(to.db - from.db);
  if (q < 1) {
    // Down: ramp to q, then the register and the fade back to 1 at the ramp's end.
    const [ramp, scale] = await Promise.all([
      post(CONTROL_KIND.FADE_RAMP, t0, q, rampOf),
      post(CONTROL_KIND.FADE_SCALE, t0 + rampFrames * nsPerFrame, 1 / q, noRamp),
    ]);
    return result(await writeAt(scale[0]!.timeNs, downLeadNs), ramp[0]!.frame, scale[0]!.frame);
  }
  // Up: the register and the fade down to 1/q together, then the ramp back to 1.
  const [scale, ramp] = await Promise.all([
    post(CONTROL_KIND.FADE_SCALE, t0, 1 / q, noRamp),
    post(CONTROL_KIND.FADE_RAMP, t0, 1, rampOf),
  ]);
  return result(await writeAt(scale[0]!.timeNs), ramp[0]!.frame, ramp[0]!.frame + rampFrames);
}
