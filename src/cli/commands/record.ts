import { fstatSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { clientRuntimeDir } from '../../stream/discovery.ts';
import { SessionAborted, meterLine, recordPcm } from '../../stream/player.ts';
import { WAV_DATA_SIZE_AT, WAV_RIFF_SIZE_AT, wavHeader } from '../../stream/wav.ts';
import {
  type Command, EXIT_OK, UsageError, channelsOption, parseOptions, rateOption, runtimeDirOption, secondsOption, signalExitCode, stopOnSignals,
} from '../command.ts';
import { pickEndpoint } from './play.ts';

/** O_APPEND in /proc/self/fdinfo's octal flags (Linux): positioned writes append there, so no fix-up. */
const O_APPEND = 0o2000;

/**
 * Where `record -` writes: stdout, through process.stdout (so a pipe is written as its reader
 * takes it). The header goes first with 0xFFFFFFFF sizes (the streamed convention: the length
 * is not known while it is written, and a reader of a pipe cannot seek back); when stdout turns
 * out to be a regular file we wrote from its start (`record - > out.wav`), the two sizes are
 * written into it at the end, so the file equals what `record out.wav` writes.
 */
class StdoutWav {
  private failed: Error | undefined;
  readonly broken = new AbortController();
  // The reader went away (`record - | head -c 100`): stop recording, quietly.
  private readonly onError = (e: NodeJS.ErrnoException) => {
    this.failed ??= e;
    this.broken.abort(e.code ?? 'stdout error');
  };

  constructor(header: Uint8Array) {
    process.stdout.on('error', this.onError);
    this.write(header);
  }

  write(b: Uint8Array): void {
    if (!this.failed) process.stdout.write(b);
  }

  /** Waits until what was written has been handed on; fixes the sizes up where stdout is a file. */
  async end(dataBytes: number): Promise<Error | undefined> {
    if (!this.failed) await new Promise<void>((r) => process.stdout.write(new Uint8Array(0), () => r()));
    if (this.failed) return this.failed;
    process.stdout.off('error', this.onError);
    try {
      const st = fstatSync(1);
      let flags = 0;
      try { flags = parseInt(/flags:\s*([0-7]+)/.exec(readFileSync('/proc/self/fdinfo/1', 'utf8'))?.[1] ?? '0', 8); } catch { /* not Linux: assume no O_APPEND */ }
      if (st.isFile() && st.size === 44 + dataBytes && !(flags & O_APPEND)) {
        const size = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n, true); return b; };
        writeSync(1, size(36 + dataBytes), 0, 4, WAV_RIFF_SIZE_AT);
        writeSync(1, size(dataBytes), 0, 4, WAV_DATA_SIZE_AT);
      }
    } catch { /* not a file we can seek: the streamed sizes stay */ }
    return undefined;
  }
}

export const recordCommand: Command = {
  name: 'record',
  usage: `usage: sbc-audio record FILE.wav|- [--seconds S] [--rate HZ] [--channels N] [--stream NAME] [--runtime-dir DIR]

Records from an endpoint of 'sbc-audio serve' as any client would (16-bit), reading behind the
ring-buffer position, until S seconds or SIGINT, into a 16-bit PCM WAV file. On a terminal a
live level meter and the position are shown; otherwise it prints one line at the end.

  FILE.wav            the file to write (written when the recording ends)
  -                   write the WAV to stdout as it is recorded (for a pipe: record - | aplay);
                      its header carries 0xFFFFFFFF as the RIFF and data sizes (the length is not
                      known yet), fixed up at the end when stdout is a regular file; every message
                      then goes to stderr
  --seconds S         how long (a number of seconds above 0; default 5)
  --rate HZ           frame rate, 8000 to 384000 Hz (default 48000)
  --channels N        channels, 1 to 32 (default 2)
  --stream NAME       the stream: its endpoint name (sim.mic) or its id (mic); default: the board's
                      first input that is hardwired or plugged in (never a monitor)
  --runtime-dir DIR   where the endpoints are (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams)

SIGINT or SIGTERM stops recording: what was recorded is written; a second signal, or the service
not letting go within 3 s, exits at once (nothing written to a file).
exit codes: 0 recorded S seconds (or the reader of stdout went away), 1 failed (a
refused request, the service's device failed or the service went away: the reason is printed,
nothing written to a file), 2 usage error, 3 no service (no input stream under the runtime
directory, or nothing answering), 130 / 143 stopped by SIGINT / SIGTERM before S seconds (the
file holds what was recorded)`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      seconds: { type: 'string' }, rate: { type: 'string' }, channels: { type: 'string' }, stream: { type: 'string' }, 'runtime-dir': { type: 'string' },
    }, true);
    if (positionals.length !== 1) throw new UsageError('give one FILE.wav to write (or - for stdout)');
    const seconds = secondsOption(values.seconds, 5);
    const rate = rateOption(values.rate, 48000);
    const channels = channelsOption(values.channels, 2);
    const file = positionals[0]!;
    const toStdout = file === '-';
    const endpoint = await pickEndpoint(runtimeDirOption(values['runtime-dir']) ?? clientRuntimeDir(), 'input', values.stream);
    // With the WAV on stdout, stdout carries nothing else: the line and the meter go to stderr.
    const say = toStdout ? io.err : io.out;
    const meterTo = toStdout ? (process.stderr.isTTY ? process.stderr : undefined) : (io.isTTY ? process.stdout : undefined);
    const stop = stopOnSignals(io, 'record');
    let last = '';
    let out: StdoutWav | undefined;
    try {
      const signal = toStdout ? (out = new StdoutWav(wavHeader(rate, channels, 's16')), AbortSignal.any([stop.signal, out.broken.signal])) : stop.signal;
      const r = await recordPcm({
        endpoint, rate, channels, signal,
        onProgress: meterTo ? (p) => { last = meterLine(p, rate); meterTo.write(`\r${last}`); } : undefined,
      }, Math.round(seconds * rate), out ? (b) => out!.write(b) : undefined);
      if (meterTo && last) meterTo.write('\n');
      const where = toStdout ? 'stdout' : file;
      if (out) {
        const broken = await out.end(r.bytes.length);
        if (broken) {
          io.err(`sbc-audio record: stdout closed (${(broken as NodeJS.ErrnoException).code ?? broken.message}) after ${(r.frames / rate).toFixed(2)} s: stopped`);
          return stop.received ? signalExitCode(stop.received) : EXIT_OK;
        }
      } else {
        const wav = new Uint8Array(44 + r.bytes.length);
        wav.set(wavHeader(rate, channels, 's16', r.bytes.length));
        wav.set(r.bytes, 44);
        try {
          writeFileSync(file, wav);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new Error(`cannot write ${file}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`);
        }
      }
      const line = `recorded ${(r.frames / rate).toFixed(2)} s at ${rate} Hz, ${channels} ch from ${endpoint} into ${where}`;
      if (r.aborted) {
        say(`stopped by ${stop.received}: ${line}`);
        return signalExitCode(stop.received);
      }
      say(line);
      return EXIT_OK;
    } catch (e) {
      if (meterTo && last) meterTo.write('\n');
      if (e instanceof SessionAborted) {
        io.err(`sbc-audio record: stopped by ${stop.received} before recording (${endpoint}); nothing written`);
        return signalExitCode(stop.received);
      }
      throw e;
    } finally {
      stop.dispose();
    }
  },
};
