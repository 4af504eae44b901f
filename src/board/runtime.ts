/**
 * Opening a board: builds its HAL (real or simulated), puts the codec's behavioural model on the
 * simulated bus (sim boards), requests the board's GPIO lines by role, and loads the codec driver.
 */
import { loadCodecPart } from '../../codecs/index.ts';
import type { CodecDriver, CodecGpioLine } from '../codec/types.ts';
import type { Clock } from '../hal/clock.ts';
import type { GpioLineConfig, GpioLineRequest, GpioValue } from '../hal/gpio.ts';
import type { Hal } from '../hal/index.ts';
import { monotonicClock } from '../hal/linux/clock.ts';
import { type SimHal, VirtualClock, createSimHal } from '../hal/sim/index.ts';
import { type Board, BoardFileError, type GpioLineSpec, type GpioRole } from './schema.ts';

export interface BoardLine extends CodecGpioLine {
  readonly role: GpioRole;
  readonly spec: GpioLineSpec;
  readonly chip: string;
}

export interface OpenBoardOptions {
  /** Use this HAL instead of building one (tests inject theirs). */
  hal?: Hal;
  /** Clock for a simulated HAL: default the real monotonic clock, or a virtual one if the board asks. */
  clock?: Clock;
  /** The name GPIO lines are requested under. */
  consumer?: string;
}

export interface BoardRuntime {
  readonly board: Board;
  readonly hal: Hal;
  readonly codec: CodecDriver;
  readonly lines: ReadonlyMap<GpioRole, BoardLine>;
  /** The simulated HAL, on sim boards (for the simulated jack and records). */
  readonly sim?: SimHal;
  /** Logical state of the jack-detect line (true = plugged); undefined if the board has none. */
  jackPlugged(): boolean | undefined;
  /** Sim boards: inserts or removes the simulated headphone plug (electrically, through its line). */
  setSimJack(plugged: boolean): void;
  close(): Promise<void>;
}

/** Initial logical value of each output role: the safe state (muted, amplifier off). */
const OUTPUT_INITIAL: Partial<Record<GpioRole, GpioValue>> = { mute: 1 };

export async function openBoard(board: Board, opts: OpenBoardOptions = {}): Promise<BoardRuntime> {
  let sim: SimHal | undefined;
  let hal: Hal;
  if (opts.hal) {
    hal = opts.hal;
    if (hal.kind === 'sim') sim = hal as SimHal;
  } else if (board.hal === 'sim') {
    sim = createSimHal({ clock: opts.clock ?? (board.sim.virtualClock ? new VirtualClock(1e9, true) : monotonicClock()) });
    hal = sim;
  } else {
    // A variable specifier: the Linux HAL (koffi, kernel devices) loads only on real boards.
    const linuxHal = '../hal/linux/index.ts';
    const { createLinuxHal } = (await import(linuxHal)) as { createLinuxHal: () => Promise<Hal> };
    hal = await createLinuxHal();
  }

  const part = await loadCodecPart(board.codec.part);

  if (sim && board.codec.bus !== undefined && board.codec.address !== undefined && part.createModel) {
    const bus = sim.simBus(board.codec.bus);
    if (!bus.device(board.codec.address)) bus.attach(board.codec.address, part.createModel());
  }

  // The jack of a sim board starts as the board file says, electrically, before the line is requested.
  const jackSpec = board.gpio['jack-detect'];
  if (sim && jackSpec) {
    const chip = sim.simChip(jackSpec.chip);
    const offset = typeof jackSpec.line === 'number' ? jackSpec.line : chip.findLine(jackSpec.line);
    if (offset !== undefined) chip.drive(offset, (board.sim.jackPlugged ? 1 : 0) ^ (jackSpec.activeLow ? 1 : 0) ? 1 : 0);
  }

  const lines = new Map<GpioRole, BoardLine>();
  const requests: GpioLineRequest[] = [];
  try {
    for (const [role, spec] of Object.entries(board.gpio) as [GpioRole, GpioLineSpec][]) {
      const chip = await hal.gpioChip(spec.chip);
      const offset = typeof spec.line === 'number' ? spec.line : chip.findLine(spec.line);
      if (offset === undefined) {
        throw new BoardFileError(board.file, `gpio.${role}.line`, `a line name that chip "${spec.chip}" has`, spec.line);
      }
      const config: GpioLineConfig = role === 'jack-detect'
        ? { direction: 'input', edge: 'both', activeLow: spec.activeLow, bias: spec.bias, debounceUs: spec.debounceUs }
        : { direction: 'output', activeLow: spec.activeLow, initial: OUTPUT_INITIAL[role] ?? 0 };
      const request = await hal.gpioChip(spec.chip).then((c) => c.requestLines([offset], config, opts.consumer ?? `sbc-audio ${role}`));
      requests.push(request);
      lines.set(role, { role, spec, chip: spec.chip, request, offset });
    }
  } catch (e) {
    for (const r of requests) await r.release();
    throw e;
  }

  const bus = board.codec.bus !== undefined ? await hal.i2cBus(board.codec.bus) : undefined;
  const codec = part.createDriver({
    clock: hal.clock,
    bus,
    addr: board.codec.address,
    gpio: lines,
    options: board.codec.options,
    sleepMs: (ms) => hal.clock.sleepUntilNs(hal.clock.nowNs() + ms * 1e6),
  });

  return {
    board, hal, codec, lines, sim,
    jackPlugged() {
      const l = lines.get('jack-detect');
      return l ? l.request.getValue(l.offset) === 1 : undefined;
    },
    setSimJack(plugged: boolean) {
      const l = lines.get('jack-detect');
      if (!sim || !l) throw new Error(`board ${board.name} has no simulated jack`);
      sim.simChip(l.chip).drive(l.offset, ((plugged ? 1 : 0) ^ (l.spec.activeLow ? 1 : 0)) as GpioValue);
    },
    async close() {
      for (const r of requests) await r.release();
      await hal.close();
    },
  };
}
