/** `sbc-audio run`: runs a host module on the driver-owned engine (src/engine). */
import type { BoardRuntime } from '../../board/runtime.ts';
import { EngineDriver, type EngineDevice, type HostSampleFormat } from '../../engine/index.ts';
import { type Command, EXIT_OK, type SignalStop, UsageError, numberOption, parseOptions, signalExitCode, stopOnSignals } from '../command.ts';
import { engineForBoard } from '../wiring.ts';

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
  --option K=V        host option (repeatable; numbers are parsed), e.g. --option freq=440
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
device, the host module), 2 usage error, 130 / 143 stopped by SIGINT / SIGTERM before the work
was done`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run a host module on the real-time engine (the driver pulls its process() every period)',
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, device: { type: 'string' }, list: { type: 'boolean' }, playback: { type: 'string' }, capture: { type: 'string' },
      host: { type: 'string' }, export: { type: 'string' }, option: { type: 'string', multiple: true }, seconds: { type: 'string' },
      rate: { type: 'string' }, period: { type: 'string' }, periods: { type: 'string' }, inputs: { type: 'string' }, outputs: { type: 'string' },
      format: { type: 'string' }, interleaved: { type: 'boolean' }, 'sim-clock': { type: 'string' }, 'no-realtime': { type: 'boolean' }, json: { type: 'boolean' },
    });
    if (!values.board && !values.playback && !values.capture) throw new UsageError('--board (or --playback / --capture for ALSA PCMs) is required');
    if (values.board && (values.playback || values.capture)) throw new UsageError('--board and --playback/--capture are alternatives');
    const simClock = values['sim-clock'];
    if (simClock !== undefined && simClock !== 'virtual' && simClock !== 'monotonic') throw new UsageError('--sim-clock must be virtual or monotonic');
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
      if (values.board) ({ driver, runtime } = await engineForBoard(values.board, simClock ? { simClock: simClock as 'virtual' | 'monotonic' } : {}));
      else driver = EngineDriver.forAlsa();
      if (values.list) {
        for (const d of driver.listDevices()) io.out(`${d.name}  ${d.description}`);
        return EXIT_OK;
      }
      if (!values.host) throw new UsageError('--host is required');
      let dev: EngineDevice;
      if (values.board) dev = await driver.open(values.device ?? driver.listDevices()[0]!.name);
      else dev = await driver.open({ playback: values.playback, capture: values.capture });

      const dflt = dev.defaultConfig();
      const format = (values.format ?? 'f32') as HostSampleFormat;
      if (!['f32', 'i16', 'i32'].includes(format)) throw new UsageError('--format must be f32, i16 or i32');
      const config = await dev.negotiate({
        rate: numberOption(values.rate, 'rate', dflt.rate, 8000, 384000),
        bufferFrames: numberOption(values.period, 'period', dflt.bufferFrames, 16, 8192),
        periods: numberOption(values.periods, 'periods', dflt.periods ?? 2, 2, 16),
        inputChannels: numberOption(values.inputs, 'inputs', dflt.inputChannels, 0, 8),
        outputChannels: numberOption(values.outputs, 'outputs', dflt.outputChannels, 0, 8),
        format,
        interleaved: values.interleaved ?? false,
      });
      const options: Record<string, string | number> = {};
      for (const kv of values.option ?? []) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--option wants KEY=VALUE, got "${kv}"`);
        const v = kv.slice(eq + 1);
        options[kv.slice(0, eq)] = v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
      }
      const seconds = values.seconds === undefined ? undefined : numberOption(values.seconds, 'seconds', 1, 0.001, 1e6);
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
