/** `sbc-audio run`: runs a host module on the driver-owned engine (src/engine). */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BoardRuntime } from '../../board/runtime.ts';
import type { EngineDevice, EngineDriver, HostSampleFormat } from '../../engine/index.ts';
import {
  type CliIO, type Command, EXIT_OK, type SignalStop, UsageError, boardOption, didYouMean, integerOption, parseOptions, rateOption, secondsOption, signalExitCode,
  stopOnSignals,
} from '../command.ts';

/**
 * --option KEY=VALUE pairs: numbers parsed, keys checked against the host module's `hostOptions`
 * (an object whose keys are the options it reads, e.g. examples/tone.ts) where it declares them:
 * an option it does not read is refused, naming it. A module that declares none gets its options
 * unchecked, with a note; a module that cannot be loaded here is left to the engine to report.
 */
export async function hostOptions(pairs: readonly string[], host: string, io: CliIO): Promise<Record<string, string | number>> {
  const options: Record<string, string | number> = {};
  for (const kv of pairs) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--option wants KEY=VALUE, got "${kv}"`);
    const key = kv.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) throw new UsageError(`--option ${kv}: "${key}" is not an option name`);
    const v = kv.slice(eq + 1);
    options[key] = v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  if (pairs.length === 0) return options;
  let declared: Record<string, unknown> | undefined;
  try {
    const mod = (await import(pathToFileURL(path.resolve(host)).href)) as { hostOptions?: Record<string, unknown> };
    declared = mod.hostOptions;
  } catch {
    return options; // the engine loads it again and says why it cannot
  }
  if (!declared || typeof declared !== 'object') {
    io.err(`sbc-audio run: ${host} declares no hostOptions: --option ${Object.keys(options).join(', ')} passed unchecked`);
    return options;
  }
  const known = Object.keys(declared);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const guess = didYouMean(key, known);
      throw new UsageError(`--option ${key}: ${host} has no option "${key}"${guess ? ` (did you mean ${guess}?)` : ''} (its options: ${known.length ? known.join(', ') : 'none'})`);
    }
  }
  return options;
}

/** After the first signal: longer than EngineDevice.stop()'s own 5 s before it terminates a stuck thread, so the codec is powered down first. */
const RUN_GRACE_MS = 8000;

const USAGE = `usage: sbc-audio run --board NAME --host PATH [--seconds S] [options]
       sbc-audio run --playback PCM [--capture PCM] --host PATH [--seconds S] [options]

Starts the engine's audio thread on a board device (or on ALSA PCMs named directly), loads the
host module into it and calls its process() every period until --seconds of audio have played,
the host returns false, or Ctrl-C.

  --board NAME        board name or board file path
  --device NAME       the board's device (default: its first; see the list with --list)
  --list              list the board's devices and exit
  --playback PCM      ALSA playback PCM (no board), e.g. hw:Dummy
  --capture PCM       ALSA capture PCM (no board), e.g. hw:Loopback,1,0
  --host PATH         host module (e.g. examples/tone.ts)
  --export NAME       the module's factory export (default createHost)
  --option K=V        host option (repeatable; numbers are parsed), e.g. --option freq=440; a
                      host that exports hostOptions (its option names) has the keys checked
  --seconds S         stop after S seconds of audio (default: run until Ctrl-C)
  --rate HZ           sample rate (default 48000)
  --period N          frames per period (default: the device's default)
  --periods N         periods in the device buffer (default 2)
  --inputs N          capture channels (default: 2 if the device captures, else 0)
  --outputs N         playback channels (default: 2 if the device plays, else 0)
  --format F          host sample format: f32, i16 or i32 (default f32)
  --interleaved       interleaved host buffers (default planar)
  --sim-clock C       sim boards: virtual (as fast as the CPU goes) or monotonic (real time)
  --no-realtime       do not ask for SCHED_FIFO / mlockall
  --json              machine-readable report

SIGINT or SIGTERM stops the engine after its current period (the report is printed); a second
one, or the engine not stopping within 8 s, exits at once. A device that takes every write at
once and never fills (ALSA's "null" PCM: no clock paces it) is refused with that reason.
exit codes: 0 the work is done (--seconds of audio, or the host returned false), 1 failed (the
device, the host module), 2 usage error (an --option the host does not take too), 130 / 143
stopped by SIGINT / SIGTERM before the work was done`;

export const runCommand: Command = {
  name: 'run',
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, device: { type: 'string' }, list: { type: 'boolean' }, playback: { type: 'string' }, capture: { type: 'string' },
      host: { type: 'string' }, export: { type: 'string' }, option: { type: 'string', multiple: true }, seconds: { type: 'string' },
      rate: { type: 'string' }, period: { type: 'string' }, periods: { type: 'string' }, inputs: { type: 'string' }, outputs: { type: 'string' },
      format: { type: 'string' }, interleaved: { type: 'boolean' }, 'sim-clock': { type: 'string' }, 'no-realtime': { type: 'boolean' }, json: { type: 'boolean' },
    });
    if (!values.board && !values.playback && !values.capture) throw new UsageError('--board (or --playback / --capture for ALSA PCMs) is required');
    await boardOption(values.board, false);
    const seconds = secondsOption(values.seconds);
    if (values.host === undefined && !values.list) throw new UsageError('--host is required');
    const options = values.host === undefined ? {} : await hostOptions(values.option ?? [], values.host, io);
    if (values.board && (values.playback || values.capture)) throw new UsageError('--board and --playback/--capture are alternatives');
    const simClock = values['sim-clock'];
    if (simClock !== undefined && simClock !== 'virtual' && simClock !== 'monotonic') throw new UsageError('--sim-clock must be virtual or monotonic');
    const format = (values.format ?? 'f32') as HostSampleFormat;
    if (!['f32', 'i16', 'i32'].includes(format)) throw new UsageError(`--format must be f32, i16 or i32, got "${format}"`);
    let runtime: BoardRuntime | undefined;
    let stop: SignalStop | undefined;
    try {
      return await runOn();
    } finally {
      stop?.dispose();
      await runtime?.close();
    }

    async function runOn(): Promise<number> {
      let driver: EngineDriver;
      // The engine (and, for ALSA PCMs, koffi) is loaded only now, past the checks of the command line.
      if (values.board) {
        const { engineForBoard } = await import('../wiring.ts');
        ({ driver, runtime } = await engineForBoard(values.board, simClock ? { simClock: simClock as 'virtual' | 'monotonic' } : {}));
      } else driver = (await import('../../engine/index.ts')).EngineDriver.forAlsa();
      if (values.list) {
        for (const d of driver.listDevices()) io.out(`${d.name}  ${d.description}`);
        return EXIT_OK;
      }
      if (!values.host) throw new UsageError('--host is required');
      let dev: EngineDevice;
      if (values.board) dev = await driver.open(values.device ?? driver.listDevices()[0]!.name);
      else dev = await driver.open({ playback: values.playback, capture: values.capture });

      const dflt = dev.defaultConfig();
      const config = await dev.negotiate({
        rate: rateOption(values.rate, dflt.rate),
        bufferFrames: integerOption(values.period, 'period', dflt.bufferFrames, 16, 8192, 'frames'),
        periods: integerOption(values.periods, 'periods', dflt.periods ?? 2, 2, 16),
        inputChannels: integerOption(values.inputs, 'inputs', dflt.inputChannels, 0, 8),
        outputChannels: integerOption(values.outputs, 'outputs', dflt.outputChannels, 0, 8),
        format,
        interleaved: values.interleaved ?? false,
      });
      dev.on('warning', (w: string) => io.err(w));
      dev.on('message', (m: unknown) => io.err(`host: ${typeof m === 'string' ? m : JSON.stringify(m)}`));
      const lat = dev.latency();
      // Listening before the line that says it runs and before the thread starts: a signal never
      // kills us half-way (the codec powered, the thread running).
      const signals = stopOnSignals(io, 'run', RUN_GRACE_MS);
      stop = signals;
      signals.signal.addEventListener('abort', () => void dev.stop().catch(() => {}), { once: true });
      if (!values.json) {
        io.out(`running ${values.host} on ${dev.name} (${dev.info.description}): ${config.rate} Hz, ${config.bufferFrames}-frame periods × ${config.periods}, ` +
          `${config.inputChannels} in / ${config.outputChannels} out, ${config.format} ${config.interleaved ? 'interleaved' : 'planar'}; ` +
          `latency in ${lat.inputFrames} / out ${lat.outputFrames} frames`);
      }
      // The codec comes out of reset muted; it powers up once the PCM runs (the I2S clocks with it).
      if (runtime) {
        await runtime.codec.probe();
        await runtime.codec.init();
        // The codec set up for what the PCM carries (word length, rate), as the stream service does.
        const pcm = config.pcmFormat.output ?? config.pcmFormat.input;
        const bits = pcm === 'S16_LE' ? 16 : pcm === 'S24_LE' || pcm === 'S24_3LE' ? 24 : 32;
        const channels = Math.max(config.outputChannels, config.inputChannels);
        try {
          await runtime.codec.setFormat({ rate: config.rate, channels, bits });
        } catch (e) {
          io.err(`sbc-audio run: the codec was not set up for ${config.rate} Hz, ${bits}-bit, ${channels} ch: ${(e as Error).message}`);
        }
      }
      await dev.start(config, { path: values.host, exportName: values.export, options }, { seconds, realtime: !values['no-realtime'] });
      if (signals.signal.aborted) void dev.stop().catch(() => {});
      let report;
      try {
        await runtime?.power.powerUp();
        report = await dev.finished;
      } finally {
        await runtime?.power.powerDown();
      }
      const { record: _r, lateness: _l, ...plain } = report;
      if (values.json) io.out(JSON.stringify({ device: dev.name, config, ...plain }));
      else {
        io.out(`stopped (${report.reason}): ${report.periods} periods, ${report.frames} frames, ${report.underruns} underruns, ${report.overruns} overruns, ` +
          `${report.resets} restarts; SCHED_FIFO ${report.realtime.fifo}, mlockall ${report.realtime.mlock}`);
      }
      // Stopped by a signal (reason 'stop', or 'terminated' when the thread had to be ended) before its work was done.
      if (signals.received !== undefined && report.reason !== 'host' && report.reason !== 'frames') return signalExitCode(signals.received);
      return EXIT_OK;
    }
  },
};
