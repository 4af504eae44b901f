import { readFileSync } from 'node:fs';
import { type FormatRange, SAMPLE_FORMAT, rangeAccepts } from '../../audio/formats.ts';
import { StreamClient, StreamClientError } from '../../stream/client.ts';
import { clientRuntimeDir, listEndpoints } from '../../stream/discovery.ts';
import { GrowingSource, type PcmSource, SessionAborted, completeSource, meterLine, playPcm, playSamples, toneSamples } from '../../stream/player.ts';
import {
  type StreamEncoding, type WavHeader, conversionNote, convertSamples, decodeWav, encodingName, preferredStreamEncodings,
  readWavHeader, shortDataWarning,
} from '../../stream/wav.ts';
import { STATUS, statusName } from '../../stream/wire.ts';
import { listBoardNames, loadBoard } from '../../board/load.ts';
import {
  type CliIO, type Command, EXIT_OK, ServiceUnreachableError, UsageError, freqOption, levelOption, parseOptions, pickStreamName, runtimeDirOption,
  secondsOption, signalExitCode, stopOnSignals, volumeOption,
} from '../command.ts';
import { describeRange } from './ls.ts';

/**
 * The endpoint path for --stream in a direction: its endpoint name (`sim.speaker`) or its short id
 * (`speaker`). Without --stream: the first stream, in the board file's order where the board file
 * is found (else by name), that is hardwired or has something plugged in (an unplugged headphone
 * plays to nobody); a simulated output's monitor (<board>.<stream>.monitor) never. Nothing served
 * there: the service is not reachable (exit 3).
 */
export async function pickEndpoint(runtimeDir: string, direction: 'output' | 'input', name: string | undefined): Promise<string> {
  const all = listEndpoints(runtimeDir).filter((e) => e.direction === direction);
  if (all.length === 0) throw new ServiceUnreachableError(`no ${direction} streams under ${runtimeDir} (is 'sbc-audio serve' running?)`);
  if (name) {
    const picked = pickStreamName(all.map((e) => e.name), name, direction);
    return all.find((e) => e.name === picked)!.path;
  }
  const own = all.filter((x) => !x.name.endsWith('.monitor'));
  if (own.length === 0) return all[0]!.path;
  const ordered = [...own].sort((a, b) => boardOrder(a.name) - boardOrder(b.name));
  for (const e of ordered) {
    let c: StreamClient | undefined;
    try {
      c = await StreamClient.connect(e.path);
      await c.observe();
      const p = await c.plugDetect('none');
      if (p.hardwired || p.plugged) return e.path;
    } catch {
      // Not answering: not a stream to pick by default (naming it with --stream says why).
    } finally {
      await c?.close().catch(() => {});
    }
  }
  return ordered[0]!.path;
}

/** Where `<board>.<stream>` comes in its board file's streams (boards found by name); unknown: after the known ones. */
function boardOrder(endpointName: string): number {
  const dot = endpointName.indexOf('.');
  try {
    const i = boardStreams(endpointName.slice(0, dot)).indexOf(endpointName.slice(dot + 1));
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

const streamOrders = new Map<string, string[]>();
function boardStreams(board: string): string[] {
  let ids = streamOrders.get(board);
  if (!ids) {
    ids = listBoardNames().includes(board) ? loadBoard(board).streams.map((x) => x.id) : [];
    streamOrders.set(board, ids);
  }
  return ids;
}

/** `--volume`: dB, optionally with a "dB" suffix ("-6", "-6dB", "+3"); the shared rule (command.ts). */
export function parseVolume(v: string): number {
  return volumeOption(v)!;
}

/**
 * Sets the stream's gain to `db` and unmutes it, as the playing session's own channel (it owns the
 * stream: SET_GAIN, docs/PROTOCOL.md) before its START, so the first frame plays at that gain:
 * GET_GAIN gives the range (a value outside it is a usage error naming it).
 */
export async function setStreamVolume(c: StreamClient, endpoint: string, db: number): Promise<{ gainDb: number }> {
  const g = await c.getGain();
  const fixed = g.gainStep === 0 && g.minGain === g.maxGain;
  if (fixed && db !== g.minGain) throw new UsageError(`--volume: ${endpoint} has a fixed gain (${g.minGain} dB); ${db} dB cannot be set`);
  if (db < g.minGain || db > g.maxGain) {
    throw new UsageError(`--volume ${db} dB is outside the range of ${endpoint}: ${g.minGain} .. ${g.maxGain} dB${g.gainStep > 0 ? ` (step ${g.gainStep})` : ''}`);
  }
  const r = await c.setGain({ gain: db, ...(g.canMute ? { mute: false } : {}) });
  if (r.result !== STATUS.OK) throw new Error(`--volume: SET_GAIN ${db} dB on ${endpoint}: ${statusName(r.result)}`);
  return { gainDb: r.curGain };
}

/** `--seconds`: a positive number of seconds (the shared rule, command.ts). */
export function parseSeconds(v: string): number {
  return secondsOption(v)!;
}

const STREAM_FORMAT: Record<StreamEncoding, number> = { s16: SAMPLE_FORMAT.BIT16, s32: SAMPLE_FORMAT.BIT32, f32: SAMPLE_FORMAT.BIT32_FLOAT };
const STREAM_NAME: Record<StreamEncoding, string> = { s16: '16-bit', s32: '32-bit', f32: 'float' };

/**
 * The stream encoding a file of `header`'s kind plays in: the first of its preferred ones
 * (preferredStreamEncodings) that some GET_FORMATS range takes at the file's rate and channel
 * count. None: an error naming what the stream takes (no resampling, no downmix).
 */
export function pickStreamEncoding(ranges: readonly FormatRange[], header: Pick<WavHeader, 'rate' | 'channels' | 'encoding'>, endpoint: string, name: string): StreamEncoding {
  const e = preferredStreamEncodings(header.encoding).find((x) => ranges.some((r) => rangeAccepts(r, header.rate, STREAM_FORMAT[x], header.channels)));
  if (e) return e;
  const takes = ranges.length ? ranges.map(describeRange).join('; ') : 'no format at all';
  throw new StreamClientError(`${name}: ${header.channels} ch at ${header.rate} Hz is not taken by ${endpoint}, which takes ${takes} (no resampling or channel mixing is done: convert the file, e.g. with sox)`);
}

/** A WAV to play: its header, what it holds (a file) or a pipe to read on (stdin). */
interface WavInput {
  name: string;
  header: WavHeader;
  /** The source in a stream encoding, at most `maxFrames` frames; warnings go to `warn`. */
  source(to: StreamEncoding, maxFrames: number, warn: (m: string) => void): PcmSource;
}

/** Reads a whole WAV file (missing, unreadable: a one-line error naming the file). */
function fileInput(file: string): WavInput {
  let buf: Uint8Array;
  try {
    buf = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new Error(`cannot open ${file}: ${why}`);
  }
  const d = decodeWav(buf, file);
  return {
    name: file,
    header: d.header,
    source(to, maxFrames, warn) {
      const w = shortDataWarning(file, d.frames, d.declaredFrames, d.partialBytes, d.header.frameBytes);
      if (w) warn(w);
      const frames = Math.min(d.frames, maxFrames);
      const out = convertSamples(d.data.subarray(0, frames * d.header.frameBytes), d.header.encoding, to);
      return completeSource(out, d.header.channels * (to === 's16' ? 2 : 4));
    },
  };
}

/**
 * Reads a WAV from a pipe (stdin): the header first (before the session is opened, so a file the
 * stream cannot take fails at once), then the data as it comes, converted frame by frame into a
 * growing source; at `maxFrames` (--seconds) reading stops.
 */
async function pipeInput(input: NodeJS.ReadableStream & { destroy?(): void }, name: string): Promise<WavInput> {
  let buf = new Uint8Array(0);
  const header = await new Promise<WavHeader>((resolve, reject) => {
    const done = () => { input.off('data', onData); input.off('end', onEnd); input.off('error', onError); input.pause(); };
    const attempt = (atEnd: boolean) => {
      try {
        const h = readWavHeader(buf, atEnd, name);
        if (h) { done(); resolve(h); }
      } catch (e) {
        done();
        reject(e);
      }
    };
    const onData = (c: Buffer) => {
      const b = new Uint8Array(buf.length + c.length);
      b.set(buf);
      b.set(c, buf.length);
      buf = b;
      attempt(false);
    };
    const onEnd = () => attempt(true);
    const onError = (e: Error) => { done(); reject(new Error(`cannot read ${name}: ${e.message}`)); };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
  });
  return {
    name, header,
    source(to, maxFrames, warn) {
      const fb = header.frameBytes;
      const src = new GrowingSource(header.channels * (to === 's16' ? 2 : 4));
      let pending = buf.subarray(header.dataOffset);
      let seen = 0; // data bytes taken (whole frames)
      const limit = Math.min(maxFrames * fb, header.dataBytes ?? Infinity);
      const finish = (ended: boolean) => {
        input.off('data', onData);
        input.off('end', onEnd);
        input.off('error', onError);
        input.pause();
        if (ended) {
          const declared = header.dataBytes === undefined ? undefined : Math.floor(header.dataBytes / fb);
          const w = shortDataWarning(name, seen / fb, declared, pending.length, fb);
          if (w) warn(w);
        } else {
          input.destroy?.(); // --seconds reached, or the data chunk ended: the rest is not read
        }
        src.end();
      };
      const take = () => {
        const whole = Math.min(Math.floor(pending.length / fb) * fb, limit - seen);
        if (whole > 0) {
          src.push(convertSamples(pending.subarray(0, whole), header.encoding, to));
          seen += whole;
          pending = pending.subarray(whole);
        }
        if (seen >= limit) { pending = new Uint8Array(0); finish(false); }
      };
      const onData = (c: Buffer) => {
        const b = new Uint8Array(pending.length + c.length);
        b.set(pending);
        b.set(c, pending.length);
        pending = b;
        take();
      };
      const onEnd = () => finish(true);
      const onError = (e: Error) => { warn(`${name}: read error: ${e.message}: playing what was read`); finish(false); };
      take();
      if (!src.ended && (input as { readableEnded?: boolean }).readableEnded) finish(true);
      if (!src.ended) {
        input.on('data', onData);
        input.once('end', onEnd);
        input.once('error', onError);
        input.resume();
      }
      return src;
    },
  };
}

/** The WAV named on the command line: `-` is stdin. */
export async function openWavInput(file: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<WavInput> {
  return file === '-' ? pipeInput(stdin, 'stdin') : fileInput(file);
}

async function playFile(file: string, o: { endpoint: string; seconds: number | undefined; volume: number | undefined }, io: CliIO, stdin?: NodeJS.ReadableStream): Promise<number> {
  const input = await openWavInput(file, stdin);
  const { header, name } = input;
  const { rate, channels } = header;
  const maxFrames = o.seconds === undefined ? Infinity : Math.round(o.seconds * rate);
  let chosen: StreamEncoding | undefined;
  const stop = stopOnSignals(io, 'play');
  let last = '';
  try {
    const r = await playPcm({
      endpoint: o.endpoint, rate, channels, signal: stop.signal,
      sampleFormat: (ranges) => {
        chosen = pickStreamEncoding(ranges, header, o.endpoint, name);
        return STREAM_FORMAT[chosen];
      },
      ...(o.volume !== undefined ? { beforeStart: async (c: StreamClient) => { await setStreamVolume(c, o.endpoint, o.volume!); } } : {}),
      onProgress: io.isTTY ? (p) => { last = meterLine(p, rate); process.stdout.write(`\r${last}`); } : undefined,
    }, (sampleFormat) => {
      const to = (Object.keys(STREAM_FORMAT) as StreamEncoding[]).find((k) => STREAM_FORMAT[k] === sampleFormat)!;
      const note = conversionNote(header.encoding, to);
      if (note) io.err(`sbc-audio play: ${name}: ${note}`);
      return input.source(to, maxFrames, (m) => io.err(`sbc-audio play: ${m}`));
    });
    if (io.isTTY && last) process.stdout.write('\n');
    const kind = `${encodingName(header.encoding)} sent as ${STREAM_NAME[chosen!]}`;
    const what = `${name}: ${(r.frames / rate).toFixed(2)} s at ${rate} Hz, ${channels} ch, ${kind}, to ${o.endpoint}`;
    if (r.lateFrames > 0) io.err(`sbc-audio play: ${name} came too slowly: ${(r.lateFrames / rate).toFixed(3)} s of silence played in its place`);
    if (r.aborted) {
      io.out(`stopped by ${stop.received}: played ${what}`);
      return signalExitCode(stop.received);
    }
    io.out(`played ${what}`);
    return EXIT_OK;
  } catch (e) {
    if (io.isTTY && last) process.stdout.write('\n');
    if (e instanceof SessionAborted) {
      io.err(`sbc-audio play: stopped by ${stop.received} before playing (${o.endpoint})`);
      return signalExitCode(stop.received);
    }
    throw e;
  } finally {
    stop.dispose();
  }
}

export const playCommand: Command = {
  name: 'play',
  usage: `usage: sbc-audio play FILE.wav|- | --tone [--freq HZ] [--level DBFS] [--seconds S] [--volume DB] [--stream NAME] [--runtime-dir DIR]

Plays through an endpoint of 'sbc-audio serve' as any client would: GET_FORMATS, SET_FORMAT, the
ring-buffer channel, a shared buffer it writes ahead of the position. On a terminal a live level
meter and the ring-buffer position are shown; otherwise it prints one line at the end.

  FILE.wav            a WAV file: integer PCM of 8, 16, 24 or 32 bits, or 32/64-bit float, plain or
                      WAVE_FORMAT_EXTENSIBLE, any channel count and rate the stream takes (no
                      resampling or channel mixing: otherwise an error says what the stream takes).
                      Played in the stream's format that holds it best: 8/16-bit as 16-bit (8-bit
                      exactly: (x-128)<<8), 24/32-bit as 32-bit where offered, else truncated to
                      16 bits (a note says so), float as float, else rounded and clipped.
                      A file shorter than its header says, or ending mid-frame, is played as far
                      as it goes with a warning on stderr (as aplay does); a damaged header or a
                      file that is not a WAV is an error naming what was found.
  -                   the WAV from stdin, played while it arrives (a streamed header with an
                      unknown size, as sox or arecord write to a pipe, plays to the end of input)
  --tone              a sine instead of a file (48 kHz stereo, 16-bit)
  --freq HZ           tone frequency, 1 Hz to half the rate (default 440)
  --level DBFS        tone peak level in dBFS, -120 to 0 (default -12)
  --seconds S         the tone's length (default 2); for a file or stdin, play at most S seconds
                      (a positive number)
  --volume DB         the stream's gain while it plays (e.g. -6; 0 plays the samples as they are):
                      set as the stream's owner (SET_GAIN, unmuted) before START; a value outside the
                      stream's range is a usage error naming the range (default: the gain in force is kept)
  --stream NAME       the stream: its endpoint name (sim.headphone) or its id (headphone); default:
                      the board's first output that is hardwired or plugged in (never a monitor)
  --runtime-dir DIR   where the endpoints are (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams)

SIGINT or SIGTERM stops playing (STOP, then the channels close); a second one, or the service
not letting go within 3 s, exits at once.
exit codes: 0 played to the end, 1 failed (a refused request, a file that cannot be played, the
service's device failed or the service went away: the reason is printed), 2 usage error, 3 no
service (no output stream under the runtime directory, or nothing answering), 130 / 143 stopped
by SIGINT / SIGTERM before the end`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      tone: { type: 'boolean' }, freq: { type: 'string' }, seconds: { type: 'string' }, level: { type: 'string' },
      stream: { type: 'string' }, 'runtime-dir': { type: 'string' }, volume: { type: 'string' },
    }, true);
    const volume = volumeOption(values.volume);
    if (!values.tone && positionals.length !== 1) throw new UsageError(positionals.length ? `give one FILE.wav (or - for stdin), got ${positionals.length}: ${positionals.join(' ')}` : 'give one FILE.wav (or - for stdin) or --tone');
    if (values.tone && positionals.length > 0) throw new UsageError('give either FILE.wav or --tone, not both');
    const seconds = secondsOption(values.seconds);
    const runtimeDir = runtimeDirOption(values['runtime-dir']) ?? clientRuntimeDir();
    if (!values.tone) {
      for (const k of ['freq', 'level'] as const) if (values[k] !== undefined) throw new UsageError(`--${k} is for --tone only`);
      const endpoint = await pickEndpoint(runtimeDir, 'output', values.stream);
      return await playFile(positionals[0]!, { endpoint, seconds, volume }, io);
    }
    const rate = 48000;
    const channels = 2;
    const freq = freqOption(values.freq, 440, rate);
    const level = levelOption(values.level, -12);
    const samples = toneSamples(freq, seconds ?? 2, rate, channels, level);
    const what = `a ${freq} Hz tone`;
    const endpoint = await pickEndpoint(runtimeDir, 'output', values.stream);
    const stop = stopOnSignals(io, 'play');
    let last = '';
    try {
      const r = await playSamples({
        endpoint, rate, channels, signal: stop.signal,
        ...(volume !== undefined ? { beforeStart: async (c: StreamClient) => { await setStreamVolume(c, endpoint, volume); } } : {}),
        onProgress: io.isTTY ? (p) => { last = meterLine(p, rate); process.stdout.write(`\r${last}`); } : undefined,
      }, samples);
      if (io.isTTY && last) process.stdout.write('\n');
      if (r.aborted) {
        io.out(`stopped by ${stop.received}: played ${what} for ${(r.frames / rate).toFixed(2)} s at ${rate} Hz, ${channels} ch, to ${endpoint}`);
        return signalExitCode(stop.received);
      }
      io.out(`played ${what}: ${(r.frames / rate).toFixed(2)} s at ${rate} Hz, ${channels} ch, to ${endpoint}`);
      return EXIT_OK;
    } catch (e) {
      if (io.isTTY && last) process.stdout.write('\n');
      if (e instanceof SessionAborted) {
        io.err(`sbc-audio play: stopped by ${stop.received} before playing (${endpoint})`);
        return signalExitCode(stop.received);
      }
      throw e;
    } finally {
      stop.dispose();
    }
  },
};
