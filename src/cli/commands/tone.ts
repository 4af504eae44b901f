import { loadBoard } from '../../board/load.ts';
import type { Board } from '../../board/schema.ts';
import { openBoard } from '../../board/runtime.ts';
import { SineGenerator, amplitudeToDb, dbToAmplitude, peak } from '../../audio/samples.ts';
import { SAMPLE_BYTES } from '../../hal/pcm.ts';
import {
  type Command, EXIT_FAILURE, EXIT_OK, UsageError, boardOption, freqOption, levelOption, num, parseOptions, pickStreamName, rateOption, secondsOption,
} from '../command.ts';

/**
 * The output stream --stream names (its id, `speaker`, or its endpoint name, `sim.speaker`), or by
 * default the board's first output that is hardwired or plugged in (a simulated board's jack as its
 * board file starts it; a real board's jack is not read here, so a jack-detect output comes after
 * a hardwired one), else its first output.
 */
export function pickBoardOutput(board: Board, given: string | undefined): Board['streams'][number] {
  const outputs = board.streams.filter((s) => s.direction === 'output');
  if (outputs.length === 0) throw new UsageError(`board ${board.name} has no output stream`);
  if (given !== undefined) {
    const picked = pickStreamName(outputs.map((s) => `${board.name}.${s.id}`), given, 'output');
    return outputs.find((s) => `${board.name}.${s.id}` === picked)!;
  }
  const plugged = (s: Board['streams'][number]) => s.plug === 'hardwired' || (board.hal === 'sim' && board.sim.jackPlugged);
  return outputs.find(plugged) ?? outputs[0]!;
}

export interface ToneResult {
  board: string;
  stream: string;
  pcm: string;
  rate: number;
  channels: number;
  framesWritten: number;
  /** Sim boards only: frames of the tone the simulated device played (the silence around it not counted), and their peak in dBFS. */
  framesPlayed: number | null;
  peakDbfs: number | null;
  xruns: number;
}

export const toneCommand: Command = {
  name: 'tone',
  usage: `usage: sbc-audio tone --board NAME [--freq HZ] [--seconds S] [--level DBFS] [--stream ID] [--rate HZ] [--json]

Brings the codec up (probe, init, format, pop-free power-up), unmutes its main volume, plays a
sine tone of the given peak level on every channel, then mutes and powers down.
On a simulated board it reports the frames the simulated device played and their peak level.

  --board NAME    board name or board file path (required)
  --freq HZ       tone frequency, 1 Hz to half the rate (default 1000)
  --seconds S     duration, a number of seconds above 0 (default 2)
  --level DBFS    peak level in dB full scale, -120 to 0 (default -6)
  --stream ID     output stream: its id (speaker) or endpoint name (sim.speaker); default: the
                  board's first output that is hardwired or plugged in
  --rate HZ       sample rate, 8000 to 384000 Hz (default 48000)
  --json          machine-readable result`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, freq: { type: 'string' }, seconds: { type: 'string' }, level: { type: 'string' },
      stream: { type: 'string' }, rate: { type: 'string' }, json: { type: 'boolean' },
    });
    const boardName = (await boardOption(values.board))!;
    const rate = rateOption(values.rate, 48000);
    const freq = freqOption(values.freq, 1000, rate);
    const seconds = secondsOption(values.seconds, 2);
    const level = levelOption(values.level, -6);
    const board = loadBoard(boardName);
    const stream = pickBoardOutput(board, values.stream);
    const result = await playTone({ boardName, board, streamId: stream.id, rate, freq, seconds, level });
    if (values.json) io.out(JSON.stringify(result));
    else {
      io.out(`played ${result.framesWritten} frames (${num(seconds, 3)} s at ${rate} Hz, ${result.channels} ch) of ${num(freq)} Hz at ${num(level)} dBFS on ${board.name}.${result.stream} (${result.pcm})`);
      if (result.framesPlayed !== null) io.out(`simulated device played ${result.framesPlayed} frames, peak ${num(result.peakDbfs!)} dBFS, ${result.xruns} underruns`);
    }
    return result.xruns > 0 ? EXIT_FAILURE : EXIT_OK;
  },
};

export interface ToneOptions {
  boardName: string;
  /** The board file, when the caller has read it already (a board is read once). */
  board?: Board;
  streamId: string;
  rate: number;
  freq: number;
  seconds: number;
  level: number;
}

/**
 * Plays a tone the way the hardware needs it: the codec comes out of reset muted and set up for
 * the format; the PCM starts with a period of silence (so the I2S clocks run) before the codec
 * leaves standby and the amplifier comes on; after the tone a buffer of silence keeps the clocks
 * running while the amplifier goes off and the codec mutes and powers down (more silence for as
 * long as its waits take); then the PCM drains.
 */
export async function playTone(o: ToneOptions): Promise<ToneResult> {
  const board = o.board ?? loadBoard(o.boardName);
  const spec = board.streams.find((s) => s.id === o.streamId)!;
  const rt = await openBoard(board);
  try {
    const { codec, hal } = rt;
    const format = 'S16_LE' as const;
    const channels = 2;
    await codec.probe();
    await codec.init();
    await codec.setFormat({ rate: o.rate, channels, bits: 16 });
    const main = codec.gainControls().find((c) => c.main && c.direction === 'output');
    if (main) {
      await codec.setGain(main.name, Math.min(0, main.maxDb));
      if (main.canMute) await codec.setMute(main.name, false);
    }
    const pcm = await hal.pcm.open(spec.pcm, { direction: 'playback', rate: o.rate, channels, format, periodFrames: 1024, bufferFrames: 4096 });
    const fb = pcm.config.frameBytes;
    const period = pcm.config.periodFrames;
    const chunk = new Uint8Array(period * fb);
    const writeAll = async (frames: number, fill: (n: number) => void) => {
      let done = 0;
      while (done < frames) {
        const n = Math.min(period, frames - done);
        fill(n);
        let off = 0;
        while (off < n) {
          const k = pcm.write(chunk.subarray(off * fb), n - off);
          off += k;
          if (off < n) await pcm.wait(1000);
        }
        done += n;
      }
    };
    const silence = (n: number) => chunk.fill(0, 0, n * fb);
    let tailFrames = pcm.config.bufferFrames;
    let leadFrames = period;
    await writeAll(period, silence);
    pcm.start(); // the bit clock runs from here
    // Silence keeps the clocks running for as long as the codec's power-up waits take.
    let up = false;
    const powering = rt.power.powerUp([{ direction: spec.direction, purpose: spec.purpose }]).finally(() => { up = true; }); // the played stream's path only
    while (!up) {
      await writeAll(period, silence);
      leadFrames += period;
    }
    await powering;
    const total = Math.round(o.seconds * o.rate);
    const sb = SAMPLE_BYTES[format];
    const gen = new SineGenerator(o.freq, o.rate, dbToAmplitude(o.level));
    await writeAll(total, (n) => gen.fill(chunk, n, channels, format, sb));
    await writeAll(tailFrames, silence);
    // Until the tone's last frame has left the device, then power down while the tail keeps the clocks
    // running, with more silence for as long as the codec's power-down waits take (WM8960: 600 ms).
    const toneLeft = Math.max(0, pcm.delay() - tailFrames);
    await hal.clock.sleepUntilNs(hal.clock.nowNs() + (toneLeft * 1e9) / o.rate);
    let down = false;
    const poweringDown = rt.power.powerDown().finally(() => { down = true; });
    while (!down) {
      await writeAll(period, silence);
      tailFrames += period;
    }
    await poweringDown;
    await pcm.drain();
    const status = pcm.status();
    pcm.close();
    const record = rt.sim?.pcm.records.get(spec.pcm);
    return {
      board: board.name, stream: spec.id, pcm: spec.pcm, rate: o.rate, channels, framesWritten: total,
      framesPlayed: record ? record.frames - leadFrames - tailFrames : null,
      peakDbfs: record ? amplitudeToDb(peak(record.bytes(), format, sb)) : null,
      xruns: status.xruns,
    };
  } finally {
    await rt.close();
  }
}
