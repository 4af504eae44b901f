/**
 * Opening a board, once per process: builds its HAL (real or simulated), requests the board's
 * GPIO lines by role, loads the codec part and its driver, and wires the board's power (the
 * amplifier lines around the codec's sequences, ./power.ts). On simulated boards the chip model
 * goes on the simulated bus and the analog simulation listens to it (src/hal/sim/analog.ts).
 *
 * GPIO roles the part declares as its own pins (description.gpioRoles: a DAC's XSMT, an
 * amplifier chip's SD_MODE) go to the codec driver; the board amplifier roles it does not claim
 * (`amp-enable`, `mute`) belong to the board's power.
 */
import { loadCodecPart } from '../../codecs/index.ts';
import type { CodecDriver, CodecGpioLine } from '../codec/types.ts';
import { AnalogSimulation, type GatedInput, type MonitoredOutput } from '../hal/sim/analog.ts';
import { isSimChip } from '../hal/sim/chip.ts';
import type { Clock } from '../hal/clock.ts';
import type { GpioLineConfig, GpioLineRequest, GpioValue } from '../hal/gpio.ts';
import type { Hal } from '../hal/index.ts';
import type { SimI2cDevice } from '../hal/sim/i2c-device.ts';
import { type SimHal, VirtualClock, createSimHal } from '../hal/sim/index.ts';
import { type FormatRange, RANGE_FLAG, SAMPLE_FORMAT } from '../audio/formats.ts';
import { externalDelay } from './latency.ts';
import { type AmplifierLine, BoardPower } from './power.ts';
import { type Board, BoardFileError, type GpioLineSpec, type GpioRole, INPUT_GPIO_ROLES } from './schema.ts';

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
  /** Milliseconds the codec idles muted after the last stream before it powers down (./power.ts). */
  idlePowerDownMs?: number;
  log?: (line: string) => void;
}

export interface BoardRuntime {
  readonly board: Board;
  readonly hal: Hal;
  readonly codec: CodecDriver;
  readonly lines: ReadonlyMap<GpioRole, BoardLine>;
  /** The simulated HAL, on sim boards (for the simulated jack and records). */
  readonly sim?: SimHal;
  /** Sim boards whose chip model has an analog side: what the outputs carry. */
  readonly analog?: AnalogSimulation;
  /** The chip model on a simulated board. */
  readonly chipModel?: unknown;
  /** The codec's power with the board's amplifier lines around it. */
  readonly power: BoardPower;
  /** The external delay (codec filter + the board's analog path) of a direction at a rate, ns. */
  externalDelayNs(direction: 'input' | 'output', rate: number): number;
  /** Sim boards: the I2S link a playback PCM writes (the engine's worker gets it with the device). */
  i2sLink(pcm: string): SharedArrayBuffer | undefined;
  /** Sim boards: the ADC gate a capture PCM applies (the chip's input path). */
  adcGate(pcm: string): SharedArrayBuffer | undefined;
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
    // The monotonic clock reads CLOCK_MONOTONIC through koffi: loaded only when a board runs on it,
    // so that `sbc-audio info` (which brings its own HAL) does not load koffi at start-up.
    const clock = opts.clock ?? (board.sim.virtualClock ? new VirtualClock(1e9, true) : (await import('../hal/linux/clock.ts')).monotonicClock());
    sim = createSimHal({ clock });
    hal = sim;
  } else {
    // A variable specifier: the Linux HAL (koffi, kernel devices) loads only on real boards.
    const linuxHal = '../hal/linux/index.ts';
    const { createLinuxHal } = (await import(linuxHal)) as { createLinuxHal: () => Promise<Hal> };
    hal = await createLinuxHal();
  }

  const part = await loadCodecPart(board.codec.part);

  let chipModel: ReturnType<NonNullable<typeof part.createModel>> | undefined;
  if (sim && part.createModel) {
    const bus = board.codec.bus !== undefined ? sim.simBus(board.codec.bus) : undefined;
    const existing = bus && board.codec.address !== undefined ? bus.device(board.codec.address) : undefined;
    chipModel = existing ?? part.createModel();
    if (bus && !existing && board.codec.address !== undefined && chipModel.write && chipModel.read) {
      bus.attach(board.codec.address, chipModel as SimI2cDevice);
    }
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
    const offsetOf = async (role: GpioRole, spec: GpioLineSpec): Promise<number> => {
      const chip = await hal.gpioChip(spec.chip);
      const offset = typeof spec.line === 'number' ? spec.line : chip.findLine(spec.line);
      if (offset === undefined) {
        throw new BoardFileError(board.file, `gpio.${role}.line`, `a line name that chip "${spec.chip}" has`, spec.line);
      }
      return offset;
    };
    const inputConfig = (spec: GpioLineSpec): GpioLineConfig => ({ direction: 'input', edge: 'both', activeLow: spec.activeLow, bias: spec.bias, debounceUs: spec.debounceUs });
    for (const [role, spec] of Object.entries(board.gpio) as [GpioRole, GpioLineSpec][]) {
      if (role === 'encoder-b') continue; // requested with encoder-a
      const offset = await offsetOf(role, spec);
      const encoderB = role === 'encoder-a' ? board.gpio['encoder-b'] : undefined;
      if (encoderB) {
        // A and B in one request: their edges come through one queue in the kernel's order, which
        // the quadrature decoder needs (two requests are two queues, read in whatever order).
        // One request has one configuration: the schema asks that both lines say the same.
        const offsetB = await offsetOf('encoder-b', encoderB);
        const request = await hal.gpioChip(spec.chip).then((c) => c.requestLines([offset, offsetB], inputConfig(spec), opts.consumer ?? 'sbc-audio encoder'));
        requests.push(request);
        lines.set('encoder-a', { role: 'encoder-a', spec, chip: spec.chip, request, offset });
        lines.set('encoder-b', { role: 'encoder-b', spec: encoderB, chip: spec.chip, request, offset: offsetB });
        continue;
      }
      const config: GpioLineConfig = INPUT_GPIO_ROLES.includes(role)
        ? inputConfig(spec)
        : { direction: 'output', activeLow: spec.activeLow, initial: OUTPUT_INITIAL[role] ?? 0 };
      const request = await hal.gpioChip(spec.chip).then((c) => c.requestLines([offset], config, opts.consumer ?? `sbc-audio ${role}`));
      requests.push(request);
      lines.set(role, { role, spec, chip: spec.chip, request, offset });
    }
  } catch (e) {
    for (const r of requests) await r.release();
    throw e;
  }

  // The part's own pins go to its driver; on a simulated board every change of a line is news to the chip.
  let analog: AnalogSimulation | undefined;
  const ownPins = part.description.gpioRoles ?? {};
  const codecLines = new Map<string, BoardLine>();
  for (const [role, line] of lines) {
    if (!(role in ownPins)) continue;
    codecLines.set(role, sim ? { ...line, request: notifyingRequest(line.request, () => analog?.changed()) } : line);
  }
  const amplifier = (role: GpioRole): AmplifierLine | undefined => (role in ownPins ? undefined : lines.get(role));
  const amp = { enable: amplifier('amp-enable'), mute: amplifier('mute') };

  const bus = board.codec.bus !== undefined ? await hal.i2cBus(board.codec.bus) : undefined;
  const codec = part.createDriver({
    clock: hal.clock,
    bus,
    addr: board.codec.address,
    gpio: codecLines,
    options: board.codec.options,
    sleepMs: (ms) => hal.clock.sleepUntilNs(hal.clock.nowNs() + ms * 1e6),
    ...(sim && board.sim.extraFormatRanges > 0 ? { extraFormatRanges: extraFormatRanges(board.sim.extraFormatRanges) } : {}),
  });
  // The board's own oscillator runs whenever the board is powered: the codec's master clock runs
  // before any access (a part that takes none before it, the SGTL5000, is told so here).
  if (board.codec.mclk?.from === 'oscillator') await codec.setMclkRunning?.(true);
  // A part that powers its paths one by one (description.paths) has one for each stream's purpose.
  const partPaths = part.description.paths;
  if (partPaths) {
    board.streams.forEach((s, i) => {
      if (!Object.hasOwn(partPaths, s.purpose) || partPaths[s.purpose]!.direction !== s.direction) {
        const offered = Object.entries(partPaths).filter(([, d]) => d.direction === s.direction).map(([k]) => `"${k}"`);
        throw new BoardFileError(board.file, `streams[${i}].purpose`, `a ${s.direction} path of the ${board.codec.part} (${offered.join(', ') || 'none'})`, s.purpose);
      }
    });
  }
  const power = new BoardPower(codec, hal.clock, amp, {
    idleMs: opts.idlePowerDownMs, log: opts.log, onLineChange: () => analog?.changed(),
    paths: board.streams.map((s) => ({ direction: s.direction, purpose: s.purpose })),
  });

  if (sim && chipModel && isSimChip(chipModel)) {
    const chip = chipModel;
    const outputsOfChip = Object.keys(chip.analogState().outputs);
    const ampOn = () => (amp.enable ? amp.enable.request.getValue(amp.enable.offset) === 1 : true) &&
      (amp.mute ? amp.mute.request.getValue(amp.mute.offset) !== 1 : true);
    const hasAmp = amp.enable !== undefined || amp.mute !== undefined;
    const outputs: MonitoredOutput[] = board.streams.filter((s) => s.direction === 'output').map((s) => ({
      stream: s.id,
      chipOutput: outputsOfChip.includes(s.purpose) ? s.purpose : outputsOfChip[0] ?? s.purpose,
      link: sim!.i2sLink(s.pcm),
      // The board's amplifier drives the speaker; headphone and line outputs come off the chip.
      ...(hasAmp && s.purpose === 'speaker' ? { gate: ampOn } : {}),
    }));
    const inputsOfChip = Object.keys(chip.analogState().inputs ?? {});
    const inputs: GatedInput[] = inputsOfChip.length === 0 ? [] : board.streams.filter((s) => s.direction === 'input').map((s) => ({
      stream: s.id,
      chipInput: inputsOfChip.includes(s.purpose) ? s.purpose : inputsOfChip[0]!,
      gate: sim!.adcGate(s.pcm),
    }));
    const mclk = board.codec.mclk?.hz;
    analog = new AnalogSimulation({
      clock: hal.clock, chip, outputs, inputs,
      pin: (role) => {
        const l = codecLines.get(role);
        return l ? l.request.getValue(l.offset) : undefined;
      },
      mclkHz: () => mclk,
      oscillatorsHz: board.sim.oscillatorsHz,
      hostClockConsumer: board.sim.hostClock === 'consumer',
    });
    if (board.codec.bus !== undefined && board.codec.address !== undefined) {
      const addr = board.codec.address;
      sim.simBus(board.codec.bus).afterWrite.add((a) => { if (a === addr) analog!.changed(); });
    }
  }

  return {
    board, hal, codec, lines, sim, analog, chipModel, power,
    externalDelayNs: (direction, rate) => externalDelay(board, codec, direction, rate).totalNs,
    i2sLink: (pcm) => (sim && analog?.outputs.some((o) => o.link === sim.i2sLinks.get(pcm)) ? sim.i2sLinks.get(pcm) : undefined),
    adcGate: (pcm) => (sim && analog?.inputs.some((i) => i.gate === sim.adcGates.get(pcm)) ? sim.adcGates.get(pcm) : undefined),
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
      power.dispose();
      for (const r of requests) await r.release();
      await hal.close();
    },
  };
}

/** A line request that tells `onChange` after each value it drives (the simulated chip hears its pins). */
function notifyingRequest(r: GpioLineRequest, onChange: () => void): GpioLineRequest {
  return Object.assign(Object.create(r) as GpioLineRequest, {
    setValue(offset: number, value: GpioValue) {
      r.setValue(offset, value);
      onChange();
    },
  });
}

/**
 * The test ranges of a simulated board (`sim.extraFormatRanges` n): one each at 8000 + 100·i Hz
 * (i = 1…n), 16-bit, 1–2 channels, FPS_CONTINUOUS. The simulated part accepts them
 * (CodecContext.extraFormatRanges), so the stream service offers only what works end to end.
 */
export function extraFormatRanges(n: number): FormatRange[] {
  return Array.from({ length: n }, (_, i) => {
    const fps = 8000 + 100 * (i + 1);
    return { sampleFormats: SAMPLE_FORMAT.BIT16, minFps: fps, maxFps: fps, minChannels: 1, maxChannels: 2, flags: RANGE_FLAG.FPS_CONTINUOUS };
  });
}
