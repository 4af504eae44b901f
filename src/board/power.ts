/**
 * The board's power: what an ASoC machine driver and DAPM do around a codec. The board's
 * amplifier lines (`amp-enable`, `mute`, where the part does not claim them as its own pins)
 * wrap the codec's power sequences: the codec powers up first and the amplifier comes on last;
 * the amplifier goes off first and the codec powers down after.
 *
 * Streams drive it: the first stream starting powers the codec up (or, when it is idling,
 * releases its mute); the last one stopping turns the amplifier off and holds the codec's
 * output muted, and only after `idleMs` without a stream (ASoC's pmdown_time) is the codec
 * powered fully down, so a chip with long power-up waits does not pay them at every start.
 * When the clocks are about to stop (the last stream's PCM goes away) the codec powers down at
 * once: a chip whose mute must settle before its clocks stop needs them still running.
 *
 * Paths, as DAPM powers only the widgets a running stream reaches: each starting or stopping
 * stream names its direction and purpose, and the codec is told the paths the running streams
 * use (`CodecDriver.setPathsInUse`; parts that do not power paths one by one ignore it). A path
 * joining while the codec plays comes up at once; the last stream's paths go down after the
 * amplifier is off and the output held muted. Commands that own the whole run (`powerUp`) name
 * the streams they use, by default every stream of the board.
 */
import type { CodecDriver } from '../codec/types.ts';
import type { Clock, TimerHandle } from '../hal/clock.ts';
import type { GpioLineRequest, GpioValue } from '../hal/gpio.ts';

/** ASoC's default pmdown_time (sound/soc/soc-core.c: 5000 ms). */
export const DEFAULT_IDLE_POWER_DOWN_MS = 5000;

/** The longest idle delay accepted (as `serve --idle-power-down`: one hour). */
export const MAX_IDLE_POWER_DOWN_MS = 3_600_000;

export interface AmplifierLine {
  request: GpioLineRequest;
  offset: number;
}

export type PowerState = 'off' | 'on' | 'idle';

/** What a stream uses of the codec: its direction and purpose (a board stream's). */
export interface StreamPath {
  direction: 'output' | 'input';
  purpose: string;
}

export interface BoardPowerOptions {
  /** Milliseconds the codec idles muted after the last stream stops before it powers down. */
  idleMs?: number;
  log?: (line: string) => void;
  /** Called after each amplifier line change (the simulation listens). */
  onLineChange?: () => void;
  /** The board's streams: the paths `powerUp()` powers when not told which. Default none. */
  paths?: readonly StreamPath[];
}

/** How many power transitions `history` keeps. */
export const HISTORY_LIMIT = 1000;

export class BoardPower {
  private stateNow: PowerState = 'off';
  private active = 0;
  private idleTimer: TimerHandle | undefined;
  /** The board holds the codec's output muted (idling). */
  private heldMuted = false;
  /** Running streams' paths ('direction:purpose' → how many streams use it). */
  private readonly running = new Map<string, { path: StreamPath; count: number }>();
  /** The paths a command that owns the run powered (`powerUp`). */
  private pinned: readonly StreamPath[] = [];
  /** Power changes run one at a time, in order. */
  private chain: Promise<unknown> = Promise.resolve();
  private idleMsNow: number;
  /** When the codec started idling (the board clock's ns), while it idles. */
  private idleSinceNs: number | undefined;
  /** The last HISTORY_LIMIT transitions with their times (tests and `sim state`): bounded, a service runs for months. */
  readonly history: { atNs: number; state: PowerState; why: string }[] = [];
  /** Told after every state change and amplifier line change (the control model listens). */
  readonly listeners = new Set<() => void>();
  /** A board policy keeps the amplifier off (e.g. while the headphone jack is in): `inhibitAmplifier`. */
  private ampInhibited = false;

  constructor(
    private readonly codec: CodecDriver,
    private readonly clock: Clock,
    private readonly amp: { enable?: AmplifierLine; mute?: AmplifierLine },
    private readonly opts: BoardPowerOptions = {},
  ) {
    this.idleMsNow = opts.idleMs ?? DEFAULT_IDLE_POWER_DOWN_MS;
    if (!(this.idleMsNow >= 0)) throw new RangeError(`idle power-down delay must be ≥ 0 ms, got ${opts.idleMs}`);
  }

  /** Milliseconds the codec idles muted after the last stream stops before it powers down. */
  get idleMs(): number {
    return this.idleMsNow;
  }

  /**
   * Changes the idle delay (configure `board idle-power-down-ms`). Checked: a number of ms from 0
   * to MAX_IDLE_POWER_DOWN_MS, else a RangeError naming the range. While the codec idles now, its
   * power-down is re-timed from when the idling began (already past: it powers down now), so the
   * new delay is the one in force, not the one the last stop happened to start with.
   */
  setIdleMs(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_IDLE_POWER_DOWN_MS) {
      throw new RangeError(`idle power-down delay: a number of ms from 0 to ${MAX_IDLE_POWER_DOWN_MS}, got ${JSON.stringify(ms)}`);
    }
    this.idleMsNow = ms;
    if (this.idleTimer && this.idleSinceNs !== undefined) {
      this.idleTimer.cancel();
      this.armIdle(this.idleSinceNs);
    }
  }

  /** The power-down `idleMs` after `sinceNs` (the last stream's stop). */
  private armIdle(sinceNs: number): void {
    this.idleSinceNs = sinceNs;
    this.idleTimer = this.clock.setTimerNs(Math.max(this.clock.nowNs(), sinceNs + this.idleMsNow * 1e6), () => {
      this.idleTimer = undefined;
      this.idleSinceNs = undefined;
      void this.serial(async () => {
        if (this.stateNow === 'idle') await this.down(`idle for ${this.idleMsNow} ms`);
      }).catch((e) => this.opts.log?.(`power-down after idle failed: ${(e as Error).message}`));
    });
  }

  get state(): PowerState {
    return this.stateNow;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private set(state: PowerState, why: string): void {
    this.stateNow = state;
    this.history.push({ atNs: this.clock.nowNs(), state, why });
    if (this.history.length > HISTORY_LIMIT) this.history.splice(0, this.history.length - HISTORY_LIMIT);
    this.tell();
  }

  private tell(): void {
    for (const fn of this.listeners) fn();
  }

  private drive(line: AmplifierLine | undefined, value: GpioValue): void {
    if (!line) return;
    line.request.setValue(line.offset, value);
    this.opts.onLineChange?.();
    this.tell();
  }

  private amplifierOn(): void {
    if (this.ampInhibited) return;
    this.drive(this.amp.mute, 0);
    this.drive(this.amp.enable, 1);
  }

  private amplifierOff(): void {
    this.drive(this.amp.enable, 0);
    this.drive(this.amp.mute, 1);
  }

  /** Whether the board has an amplifier line of its own (one the codec does not claim). */
  get hasAmplifier(): boolean {
    return this.amp.enable !== undefined || this.amp.mute !== undefined;
  }

  /**
   * A board policy holds the amplifier off (true) or lets it follow the streams again (false):
   * while held, a starting stream leaves it off; released while the codec plays, it comes on.
   */
  inhibitAmplifier(inhibited: boolean): Promise<void> {
    return this.serial(async () => {
      if (inhibited === this.ampInhibited) return;
      this.ampInhibited = inhibited;
      // The amplifier is on exactly while the board is 'on' (changes run one at a time, here too).
      if (this.stateNow !== 'on') return;
      if (inhibited) {
        this.drive(this.amp.enable, 0);
        this.drive(this.amp.mute, 1);
      } else {
        this.drive(this.amp.mute, 0);
        this.drive(this.amp.enable, 1);
      }
    });
  }

  private cancelIdle(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
    this.idleSinceNs = undefined;
  }

  /** The paths in use now: the running streams' and the pinned ones, by direction. */
  pathsInUse(): { output: string[]; input: string[] } {
    const out = { output: [] as string[], input: [] as string[] };
    for (const p of [...this.pinned, ...[...this.running.values()].map((r) => r.path)]) {
      if (!out[p.direction].includes(p.purpose)) out[p.direction].push(p.purpose);
    }
    return out;
  }

  private async tellPaths(): Promise<void> {
    await this.codec.setPathsInUse?.(this.pathsInUse());
  }

  private addPath(p: StreamPath | undefined): void {
    if (!p) return;
    const key = `${p.direction}:${p.purpose}`;
    const r = this.running.get(key);
    if (r) r.count++;
    else this.running.set(key, { path: { direction: p.direction, purpose: p.purpose }, count: 1 });
  }

  private removePath(p: StreamPath | undefined): void {
    if (!p) return;
    const key = `${p.direction}:${p.purpose}`;
    const r = this.running.get(key);
    if (r && --r.count <= 0) this.running.delete(key);
  }

  /** Codec ready (with the paths in use), then the amplifier: whatever state it was in. */
  private async up(why: string): Promise<void> {
    this.cancelIdle();
    await this.tellPaths(); // powered (idle): the paths come up now, still muted; off: at the power-up
    if (this.stateNow === 'off') await this.codec.powerUp();
    if (this.heldMuted) {
      await this.codec.holdOutputMuted?.(false); // the stream's gain back, before the amplifier
      this.heldMuted = false;
    }
    this.amplifierOn();
    this.set('on', why);
  }

  /** Amplifier off first, then the codec. */
  private async down(why: string): Promise<void> {
    this.cancelIdle();
    if (this.stateNow === 'off') return;
    this.amplifierOff();
    await this.codec.powerDown(); // an idle codec stays held muted through it: no blip on the way down
    this.set('off', why);
  }

  /**
   * A stream starts: the board plays once this resolves (its waits are in the start time).
   * `path`: the stream's direction and purpose, so that the codec powers that path.
   */
  streamStarting(path?: StreamPath): Promise<void> {
    return this.serial(async () => {
      this.active++;
      this.addPath(path);
      if (this.stateNow !== 'on') await this.up('a stream starts');
      else await this.tellPaths(); // a path joins while the codec plays
    });
  }

  /** A stream stopped (`path`: as it started); after the last one the codec idles muted, then powers down. */
  streamStopped(path?: StreamPath): Promise<void> {
    return this.serial(async () => {
      this.active = Math.max(0, this.active - 1);
      this.removePath(path);
      if (this.active > 0 || this.stateNow !== 'on') {
        await this.tellPaths(); // the stream's path goes down, the others play on
        return;
      }
      this.amplifierOff();
      await this.codec.holdOutputMuted?.(true);
      this.heldMuted = true;
      await this.tellPaths(); // the last stream's paths go down, amplifier off and output muted
      this.set('idle', 'the last stream stopped');
      this.armIdle(this.clock.nowNs());
    });
  }

  /** The clocks are about to stop (no stream's PCM stays open): power down now, while they still run. */
  clocksStopping(): Promise<void> {
    return this.serial(async () => {
      if (this.active === 0) await this.down('the clocks are stopping');
    });
  }

  /**
   * For commands that own the whole run (`tone`, `run`): power up now, with the paths of `paths`
   * (the streams the command uses; default every stream of the board).
   */
  powerUp(paths?: readonly StreamPath[]): Promise<void> {
    return this.serial(async () => {
      this.pinned = [...(paths ?? this.opts.paths ?? [])];
      await this.up('powered up');
    });
  }

  /** For commands that own the whole run, and on close: power down now. */
  powerDown(): Promise<void> {
    return this.serial(async () => {
      this.active = 0;
      this.running.clear();
      this.pinned = [];
      await this.down('powered down');
      await this.tellPaths(); // none in use (the codec's power-down took the powered ones down)
    });
  }

  /** Stops the idle timer (the board closes). */
  dispose(): void {
    this.cancelIdle();
  }
}
