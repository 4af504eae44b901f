import { writeFileSync } from 'node:fs';
import { clientRuntimeDir } from '../../stream/discovery.ts';
import { meterLine, recordSamples } from '../../stream/player.ts';
import { encodeWav } from '../../stream/wav.ts';
import { type Command, EXIT_OK, UsageError, parseOptions } from '../command.ts';
import { pickEndpoint } from './play.ts';
import { untilSignal } from './serve.ts';

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
  --runtime-dir DIR   where the endpoints are (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams)`,
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
    const abort = new AbortController();
    void untilSignal().then(() => abort.abort());
    let last = '';
    const samples = await recordSamples({
      endpoint, rate, channels, signal: abort.signal,
      onProgress: io.isTTY ? (p) => { last = meterLine(p, rate); process.stdout.write(`\r${last}`); } : undefined,
    }, Math.round(seconds * rate));
    if (io.isTTY && last) process.stdout.write('\n');
    writeFileSync(positionals[0]!, encodeWav({ rate, channels, samples }));
    io.out(`recorded ${(samples.length / channels / rate).toFixed(2)} s at ${rate} Hz, ${channels} ch from ${endpoint} into ${positionals[0]}`);
    return EXIT_OK;
  },
};
