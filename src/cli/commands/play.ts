import { readFileSync } from 'node:fs';
import { StreamClient } from '../../stream/client.ts';
import { clientRuntimeDir, listEndpoints } from '../../stream/discovery.ts';
import { SessionAborted, meterLine, playSamples, toneSamples } from '../../stream/player.ts';
import { parseWav } from '../../stream/wav.ts';
import { STATUS, statusName } from '../../stream/wire.ts';
import { type Command, EXIT_OK, UsageError, parseOptions, signalExitCode, stopOnSignals } from '../command.ts';

/** The endpoint path for --stream (an endpoint name) in a direction, or the first one there. */
export function pickEndpoint(runtimeDir: string, direction: 'output' | 'input', name: string | undefined): string {
  const all = listEndpoints(runtimeDir).filter((e) => e.direction === direction);
  if (all.length === 0) throw new UsageError(`no ${direction} streams under ${runtimeDir} (is 'sbc-audio serve' running?)`);
  // By default a board's own stream, not a simulated output's monitor (<board>.<stream>.monitor).
  if (!name) return (all.find((x) => !x.name.endsWith('.monitor')) ?? all[0]!).path;
  const e = all.find((x) => x.name === name);
  if (!e) throw new UsageError(`no ${direction} stream "${name}" (there are: ${all.map((x) => x.name).join(', ')})`);
  return e.path;
}

/** `--volume`: dB, optionally with a "dB" suffix ("-6", "-6dB", "+3"). */
export function parseVolume(v: string): number {
  const m = /^([+-]?\d+(?:\.\d+)?)\s*(?:dB)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`--volume must be a gain in dB (e.g. -6), got "${v}"`);
  return Number(m[1]);
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

export const playCommand: Command = {
  name: 'play',
  summary: 'play a WAV file or a tone through a served output stream (a stream protocol client)',
  usage: `usage: sbc-audio play FILE.wav | --tone [--freq HZ] [--seconds S] [--level DBFS] [--volume DB] [--stream NAME] [--runtime-dir DIR]

Plays through an endpoint of 'sbc-audio serve' as any client would: SET_FORMAT (16-bit), the
ring-buffer channel, a shared buffer it writes ahead of the position. On a terminal a live level
meter and the ring-buffer position are shown; otherwise it prints one line at the end.

  FILE.wav            16-bit PCM WAVE file (its rate and channels are asked for)
  --tone              a sine instead of a file (48 kHz stereo)
  --freq HZ           tone frequency (default 440)
  --seconds S         tone length (default 2)
  --level DBFS        tone level (default -12)
  --volume DB         the stream's gain while it plays (e.g. -6): set as the stream's owner
                      (SET_GAIN, unmuted) before START; a value outside the stream's range is a
                      usage error naming the range (default: the gain in force is kept)
  --stream NAME       endpoint name, e.g. sim.headphone (default: the first output stream)
  --runtime-dir DIR   where the endpoints are (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams)

SIGINT or SIGTERM stops playing (STOP, then the channels close); a second one, or the service
not letting go within 3 s, exits at once.
exit codes: 0 played to the end, 1 failed (no service, a refused request, the service's device
failed or the service went away: the reason is printed), 2 usage error, 130 / 143 stopped by
SIGINT / SIGTERM before the end`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      tone: { type: 'boolean' }, freq: { type: 'string' }, seconds: { type: 'string' }, level: { type: 'string' },
      stream: { type: 'string' }, 'runtime-dir': { type: 'string' }, volume: { type: 'string' },
    }, true);
    const volume = values.volume === undefined ? undefined : parseVolume(values.volume);
    if (!values.tone && positionals.length !== 1) throw new UsageError('give one FILE.wav or --tone');
    if (values.tone && positionals.length > 0) throw new UsageError('give either FILE.wav or --tone, not both');
    const num = (v: string | undefined, d: number, what: string) => {
      if (v === undefined) return d;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new UsageError(`${what} must be a number, got ${v}`);
      return n;
    };
    let rate = 48000;
    let channels = 2;
    let samples: Int16Array;
    let what: string;
    if (values.tone) {
      const freq = num(values.freq, 440, '--freq');
      samples = toneSamples(freq, num(values.seconds, 2, '--seconds'), rate, channels, num(values.level, -12, '--level'));
      what = `a ${freq} Hz tone`;
    } else {
      const w = parseWav(readFileSync(positionals[0]!));
      ({ rate, channels, samples } = w);
      what = positionals[0]!;
    }
    const endpoint = pickEndpoint(values['runtime-dir'] ?? clientRuntimeDir(), 'output', values.stream);
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
