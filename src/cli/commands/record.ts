import { writeFileSync } from 'node:fs';
import { clientRuntimeDir } from '../../stream/discovery.ts';
import { SessionAborted, meterLine, recordSamples } from '../../stream/player.ts';
import { encodeWav } from '../../stream/wav.ts';
import { type Command, EXIT_OK, UsageError, parseOptions, signalExitCode, stopOnSignals } from '../command.ts';
import { pickEndpoint } from './play.ts';

export const recordCommand: Command = {
  name: 'record',
  summary: 'record a served input stream into a WAV file (a stream protocol client)',
  usage: `usage: sbc-audio record FILE.wav [--seconds S] [--rate HZ] [--channels N] [--stream NAME] [--runtime-dir DIR]

Records from an endpoint of 'sbc-audio serve' as any client would (16-bit), reading behind the
ring-buffer position, until S seconds or SIGINT. On a terminal a live level meter and the
position are shown; otherwise it prints one line at the end.

  --seconds S         how long (default 5)
  --rate HZ           frame rate (default 48000)
  --channels N        channels (default 2)
  --stream NAME       endpoint name, e.g. sim.mic (default: the first input stream)
  --runtime-dir DIR   where the endpoints are (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams)

SIGINT or SIGTERM stops recording: what was recorded is written; a second signal, or the service
not letting go within 3 s, exits at once (nothing written).
exit codes: 0 recorded S seconds, 1 failed (no service, a refused request, the service's device
failed or the service went away: the reason is printed, nothing written), 2 usage error,
130 / 143 stopped by SIGINT / SIGTERM before S seconds (the file holds what was recorded)`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, {
      seconds: { type: 'string' }, rate: { type: 'string' }, channels: { type: 'string' }, stream: { type: 'string' }, 'runtime-dir': { type: 'string' },
    }, true);
    if (positionals.length !== 1) throw new UsageError('give one FILE.wav to write');
    const seconds = Number(values.seconds ?? 5);
    const rate = Number(values.rate ?? 48000);
    const channels = Number(values.channels ?? 2);
    if (!(seconds > 0) || !Number.isInteger(rate) || !Number.isInteger(channels) || channels < 1) throw new UsageError('--seconds, --rate and --channels must be positive numbers');
    const endpoint = pickEndpoint(values['runtime-dir'] ?? clientRuntimeDir(), 'input', values.stream);
    const stop = stopOnSignals(io, 'record');
    let last = '';
    try {
      const samples = await recordSamples({
        endpoint, rate, channels, signal: stop.signal,
        onProgress: io.isTTY ? (p) => { last = meterLine(p, rate); process.stdout.write(`\r${last}`); } : undefined,
      }, Math.round(seconds * rate));
      if (io.isTTY && last) process.stdout.write('\n');
      writeFileSync(positionals[0]!, encodeWav({ rate, channels, samples }));
      const line = `recorded ${(samples.length / channels / rate).toFixed(2)} s at ${rate} Hz, ${channels} ch from ${endpoint} into ${positionals[0]}`;
      if (samples.aborted) {
        io.out(`stopped by ${stop.received}: ${line}`);
        return signalExitCode(stop.received);
      }
      io.out(line);
      return EXIT_OK;
    } catch (e) {
      if (io.isTTY && last) process.stdout.write('\n');
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
