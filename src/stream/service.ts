/**
 * The stream service: every stream of an open board published as an endpoint under the runtime
 * directory (docs/PROTOCOL.md). `sbc-audio serve` runs it; tests and demos run it in-process:
 *
 *   const rt = await openBoard(loadBoard('sim'));
 *   const service = await startStreamService(rt, { runtimeDir: '/tmp/sbc' });
 *   ...
 *   await service.close(); await rt.close();
 */
import path from 'node:path';
import type { BoardPower } from '../board/power.ts';
import type { Clock } from '../hal/clock.ts';
import type { HandoffResult } from './gain-handoff.ts';
import type { EngineWorkerPool } from '../engine/driver.ts';
import type { BoardRuntime } from '../board/runtime.ts';
import { type BoardDevicesOptions, createBoardDevices } from './board-device.ts';
import { StreamCore } from './core.ts';
import { monitorDevices } from './monitor.ts';
import { type RingBufferEngine, statusForError } from './device.ts';
import { STATUS } from './wire.ts';
import { DEFAULT_RAMP_MS, type EngineRingBuffer, type EngineRingBufferOptions, engineRingBuffers } from './engine-ring-buffer.ts';
import { DIRECTION_DIRS, type StreamEndpoint, defaultRuntimeDir } from './discovery.ts';
import { type EndpointServer, ensureRuntimeDir, serveEndpoint } from './transport.ts';
import { ClientLogLimiter } from './log-limit.ts';
import { SimControl, type SimControlServer, serveSimControl, simControlPath } from './sim-control.ts';
import type { JsonLinesServer } from './json-lines.ts';
import { ControlModel, type EngineControls, controlDescriptors } from '../control/model.ts';
import { controlChannelPath, serveControlChannel } from '../control/channel.ts';
import { Programs, defaultPresetDir } from '../control/programs.ts';
import { Configurator, engineRampHooks } from '../control/configure.ts';
import { ControlDispatcher, InstantiationLock } from '../control/dispatch.ts';
import { OscBindError, type OscServer, oscFor } from '../osc/server.ts';
import { type StateStore, openStateStore } from '../control/state-file.ts';
import { Knobs } from '../control/knobs.ts';
import { ServiceAppliance } from './appliance.ts';
import { type WebServer, startWebServer } from '../web/server.ts';
import { type HomeAssistantBridge, startHomeAssistant } from '../mqtt/home-assistant.ts';
import type { MidiSequencer } from '../hal/midi.ts';
import type { PluginsConfig } from '../dsp/chain-spec.ts';
import { ladspaSearchPath } from '../dsp/ladspa.ts';
import { dssiSearchPath } from '../dsp/dssi.ts';
import { StreamPlugins } from './plugin-controls.ts';

export interface StreamServiceOptions extends BoardDevicesOptions {
  /** LADSPA plugin chains of output streams (the configuration's `plugins`; src/dsp/chain-spec.ts). */
  plugins?: PluginsConfig;
  /** Where `plugins` came from, for errors (a file name). */
  pluginsSource?: string;
  /** The plugin directories (default: LADSPA_PATH, else the usual ones; src/dsp/ladspa.ts). */
  ladspaPath?: readonly string[];
  /** DSSI plugin directories from the config file (before DSSI_PATH, LADSPA_PATH and the usual ones). */
  dssiPath?: readonly string[];
  /** Default `$XDG_RUNTIME_DIR/sbc-audio`, else `/run/sbc-audio`. */
  runtimeDir?: string;
  /** Probe and initialise the codec before publishing (default true: the service is the board's driver). */
  initCodec?: boolean;
  /** One line per noteworthy event (violations, slow clients). */
  log?: (line: string) => void;
  /** See EndpointServerOptions.maxQueuedBytes. */
  maxQueuedBytes?: number;
  /** The group that may connect (`serve --group`): sockets 0660 with this group, shared buffers 0660 too. */
  group?: { name: string; gid: number };
  /**
   * The ring-buffer channels' engine (src/stream/engine-ring-buffer.ts) and its settings; false
   * answers every ring-buffer command NOT_SUPPORTED (a service without audio). Ignored when
   * `createRingBuffer` is given.
   */
  ringBuffer?: EngineRingBufferOptions | false;
  /** Every output stream's ramp time, ms (overrides the board file's `rampMs`; 0: no ramps). */
  rampMs?: number;
  /** Where user presets are kept (default: beside the state file, `presets/`). */
  presetDir?: string;
  /**
   * The OSC server (docs/OSC.md); absent: none (tests start many services in one process: only
   * `serve` turns it on by default). `ifFree`: the default address — taken by another process
   * (another `serve`), the service runs without OSC and says so, rather than not at all.
   */
  osc?: { bind: string; adminToken?: string; onQuit?: () => void; ifFree?: boolean };
  /**
   * The state file (docs/CONTROL.md): control values restored from it at start and saved to it on
   * change. Absent: nothing is read or written (the board's defaults apply at every start).
   */
  stateFile?: string;
  /**
   * The MIDI input (docs/CONTROL.md, "Knobs"): true opens the ALSA sequencer (the HAL's) for
   * every board, false for none; absent: only for a board whose file has a midi section. A
   * sequencer that cannot be opened is said in the log and the service runs without MIDI.
   */
  midi?: boolean;
  /**
   * The HTTP + WebSocket API and page (docs/REMOTE.md); absent: none (tests start many services
   * in one process: `serve` turns it on). `ifFree`: the default address taken (another serve), the
   * service runs without it and says so.
   */
  http?: { bind: { address: string; port: number }; token?: string; ifFree?: boolean };
  /**
   * Home Assistant over MQTT (docs/REMOTE.md): the broker. Started in the background (the service
   * does not wait for a broker); a broker not reachable is retried every minute, said in the log.
   */
  mqtt?: { url: string; username?: string; password?: string; discoveryPrefix?: string };
}

/**
 * How long start-up waits for the spare engine thread's modules before publishing anyway: about
 * 0.3 s on the development machine through tsx; seconds under emulation (the HIL guest).
 */
const SPARE_WAIT_GUARD_MS = 10_000;

/** How long the service waits before trying a broker that could not be reached again. */
const MQTT_RETRY_MS = 60_000;

export interface StreamService {
  readonly runtimeDir: string;
  readonly endpoints: readonly StreamEndpoint[];
  /** The protocol core of each endpoint, by endpoint name (tests look inside). */
  readonly cores: ReadonlyMap<string, StreamCore>;
  /** The live ring-buffer engines (tests and demos look inside). */
  readonly ringBuffers: ReadonlySet<EngineRingBuffer>;
  /**
   * The engine thread started ahead of use, taken by the next ring-buffer channel's engine (issue
   * 26; src/engine/driver.ts, EngineWorkerPool). Undefined without the service's own engines or
   * unless `ringBuffer: { prestart: true }` (what `sbc-audio serve` asks for). Tests and the bench read it.
   */
  readonly enginePool?: EngineWorkerPool;
  /**
   * Simulated boards: the simulation's commands, also served at `simControlPath`
   * (`<runtimeDir>/sim/<board>.sock`, src/stream/sim-control.ts). Undefined on real boards.
   */
  readonly simControl?: SimControl;
  readonly simControlPath?: string;
  /** The board's controls (docs/CONTROL.md), also served at `controlPath`. */
  readonly controls: ControlModel;
  /** Programs: the parts' built-in ones and the user presets (docs/CONTROL.md, "Programs and configure"). */
  readonly programs: Programs;
  /** configure(key, value): board and part options, in the instantiation class. */
  readonly configure: Configurator;
  /** The control class: bounded, coalescing changes (src/control/dispatch.ts). */
  readonly dispatcher: ControlDispatcher;
  /** The instantiation class's lock: open, close, configure (src/control/dispatch.ts). */
  readonly instantiation: InstantiationLock;
  /** The OSC server, where one runs (docs/OSC.md). */
  readonly osc?: OscServer;
  /** The board's MIDI input and rotary encoder (docs/CONTROL.md, "Knobs"). */
  readonly knobs: Knobs;
  /** The output streams' plugin chains (LADSPA and DSSI stages: src/stream/plugin-controls.ts), where engines run them. */
  readonly plugins?: StreamPlugins;
  /** The service as the remote faces see it (docs/REMOTE.md): controls, streams, levels, events. */
  readonly appliance: ServiceAppliance;
  /** The HTTP + WebSocket server, where one runs (docs/REMOTE.md). */
  readonly web?: WebServer;
  /** The Home Assistant bridge once it is connected (docs/REMOTE.md). */
  homeAssistant(): HomeAssistantBridge | undefined;
  readonly controlPath: string;
  /** With a state file: how many times it was written (tests). */
  readonly stateWrites?: () => number;
  /** Removes the endpoints and closes every channel. The board runtime stays open (the caller's). */
  close(): Promise<void>;
}

export async function startStreamService(runtime: BoardRuntime, opts: StreamServiceOptions = {}): Promise<StreamService> {
  const runtimeDir = path.resolve(opts.runtimeDir ?? defaultRuntimeDir());
  const log = opts.log ?? (() => {});
  // Before the codec is touched: a runtime directory another user could tamper with is refused
  // (a symbolic link, a world-writable parent without the sticky bit, another user's directory).
  const gid = opts.group?.gid;
  ensureRuntimeDir(runtimeDir, { gid });
  for (const d of Object.values(DIRECTION_DIRS)) ensureRuntimeDir(path.join(runtimeDir, d), { gid });
  if (opts.initCodec ?? true) {
    await runtime.codec.probe();
    await runtime.codec.init();
  }

  // The engine trim of each output stream (dB): kept here, given to each new engine of the stream.
  const trims = new Map<string, number>();
  // The streams' plugin chains: opened and checked now (a missing plugin is an error before
  // anything is published). Every output stream on the engine has one (maybe empty), settable.
  const withEngines = !opts.createRingBuffer && opts.ringBuffer !== false;
  // The instantiation class (src/control/dispatch.ts): set format, configure and chain swaps, one at a time.
  const instantiation = new InstantiationLock();
  const plugins = withEngines && runtime.board.streams.some((s) => s.direction === 'output')
    ? new StreamPlugins(runtime.board, opts.plugins ?? {}, ladspaSearchPath(process.env, opts.ladspaPath), opts.pluginsSource ?? 'plugins', log, {
      run: (what, fn) => instantiation.run(what, fn),
    }, {
      searchPath: dssiSearchPath(process.env, opts.dssiPath),
      // DSSI:PROJECT_DIRECTORY (dssi.h): a directory per stage beside the state file.
      ...(opts.stateFile ? { projectDir: path.join(path.dirname(opts.stateFile), 'dssi') } : {}),
    })
    : undefined;
  // configure's ramp-ms per stream (future engines and the running ones).
  const ramp = engineRampHooks(runtime, { engines: () => engines?.engines ?? [], ...(opts.rampMs !== undefined ? { rampMs: opts.rampMs } : {}), defaultRampMs: DEFAULT_RAMP_MS });
  const engines = !opts.createRingBuffer && opts.ringBuffer !== false ? engineRingBuffers(runtime, {
    log, trimOf: (id) => trims.get(id) ?? 0, rampOf: (id) => ramp.rampOf(id),
    ...(plugins ? {
      pluginsOf: (id: string, ch: number) => plugins.chainOptions(id, ch), onPluginBypassed: (id: string, st: number, n: number, us: number) => plugins.engineBypassed(id, st, n, us),
      dssiLock: plugins.dssiLock, onPluginProgram: (id: string, st: number, b: number, p: number, ports: Float64Array) => plugins.engineProgram(id, st, b, p, ports),
    } : {}), ...(opts.group ? { bufferGid: opts.group.gid } : {}), ...(opts.rampMs !== undefined ? { rampMs: opts.rampMs } : {}), ...(opts.ringBuffer || {}),
    onXrun: (stream, direction, n) => {
      appliance?.xrun(stream, direction, n);
      if (opts.ringBuffer && opts.ringBuffer.onXrun) opts.ringBuffer.onXrun(stream, direction, n);
    },
  }) : undefined;
  const create = opts.createRingBuffer ?? engines;
  let controls: ControlModel | undefined;
  let appliance: ServiceAppliance | undefined;
  const activity = (stream: string, active: boolean) => {
    controls?.streamActivity(stream, active);
    appliance?.activity(stream);
  };
  // A gain change on a running stream is a ramp carried by the engines' fades (./gain-handoff.ts).
  const fadeTargets = (direction: 'output' | 'input') => engines ? [...engines.engines].filter((e) => e.stream.direction === direction && !e.isClosed) : [];
  // Each handoff's timing: the control model answers with it; a register write that missed its
  // frame (a late timer or a slow bus on a real clock) is logged, as it was heard as a brief step.
  const handoffs = new Map<'output' | 'input', HandoffResult>();
  // At most one such line per HANDOFF_LOG_NS (a knob turned fast makes dozens of handoffs a
  // second), the next one saying how many were not logged.
  const HANDOFF_LOG_NS = 10e9;
  let handoffLoggedNs = Number.NEGATIVE_INFINITY;
  let handoffsUnlogged = 0;
  const onHandoff = (streamId: string, r: HandoffResult) => {
    const dir = runtime.board.streams.find((x) => x.id === streamId)?.direction ?? 'output';
    handoffs.set(dir, r);
    if ((r.misalignedFrames ?? 0) < 1) return;
    const now = runtime.hal.clock.nowNs();
    if (now - handoffLoggedNs < HANDOFF_LOG_NS) {
      handoffsUnlogged++;
      return;
    }
    const more = handoffsUnlogged ? ` (and ${handoffsUnlogged} more off their frames in the last ${Math.round((now - handoffLoggedNs) / 1e9)} s, not logged)` : '';
    handoffLoggedNs = now;
    handoffsUnlogged = 0;
    log(`${streamId}: the gain's register write landed ${r.misalignedFrames} frame(s) off its frame (due ${r.scheduledNs} ns, at ${r.landedNs} ns): a brief step at the output${more}`);
  };
  const board = createBoardDevices(runtime, {
    instantiation,
    fadeTargets, onHandoff, ...(plugins ? { addedDelayNs: (id: string, fps: number) => plugins.latencyNs(id, fps) } : {}), ...opts, createRingBuffer: create && poweredRingBuffers(runtime.hal.clock, runtime.power, create, log, activity),
  });
  // The controls (the board's defaults, then the state file's values), then the endpoints and the
  // simulation's socket. A failure on the way takes down what was made, in reverse.
  let store: StateStore | undefined;
  let channel: JsonLinesServer | undefined;
  let control: SimControlServer | undefined;
  const servers: EndpointServer[] = [];
  const endpoints: StreamEndpoint[] = [];
  const cores = new Map<string, StreamCore>();
  const controlPath = controlChannelPath(runtimeDir, runtime.board.name);
  // One rate limit of client-caused log lines for the whole service: a client is its process,
  // whichever endpoints it connects to.
  const logLimiter = new ClientLogLimiter(log);
  // A simulated board is also driven from other processes (`sbc-audio sim`): its control socket.
  const ringBuffers: ReadonlySet<EngineRingBuffer> = engines?.engines ?? new Set();
  const simPath = runtime.sim ? simControlPath(runtimeDir, runtime.board) : undefined;
  // The simulated knobs reach the service's MIDI port and answer once their changes are applied.
  const simControl = simPath ? new SimControl(runtime, {
    ringBuffers, midiAddress: () => knobs?.info().midi?.address, settled: () => dispatcher?.idle() ?? Promise.resolve(),
  }) : undefined;
  let programs: Programs | undefined;
  let configure: Configurator | undefined;
  let dispatcher: ControlDispatcher | undefined;
  let osc: OscServer | undefined;
  let knobs: Knobs | undefined;
  let web: WebServer | undefined;
  try {
    const engine: EngineControls | undefined = engines && {
      trimDb: (id) => trims.get(id) ?? 0,
      async setTrim(id, db, when, rampMs) {
        trims.set(id, db);
        const running = [...engines.engines].filter((e) => e.stream.id === id && !e.isClosed);
        const rate = (e: EngineRingBuffer) => e.fmt.fps;
        const applied = await Promise.all(running.map((e) => e.setTrim(10 ** (db / 20), when ?? {}, rampMs === undefined ? undefined : Math.round((rampMs * rate(e)) / 1000))));
        const a = applied.find((x) => x.frame >= 0) ?? applied[0];
        return a ? { ...(a.frame >= 0 ? { frame: a.frame } : {}), timeNs: a.timeNs } : undefined;
      },
      ...(plugins ? { extra: plugins.controls(() => engines.engines) } : {}),
    };
    controls = new ControlModel(runtime, {
      devices: board.devices, codecLock: board.codecLock, log, lastHandoff: (dir) => handoffs.get(dir), ...(engine ? { engine } : {}),
    });
    if (plugins) {
      const model = controls;
      plugins.attach(model);
      plugins.onEngineBypass = (id) => model.changed(id);
    }
    store = opts.stateFile ? openStateStore(opts.stateFile, { clock: runtime.hal.clock, log }) : undefined;
    await controls.restore(store?.load(runtime.board.name) ?? {}, `state file ${opts.stateFile}`);
    await controls.readAll();
    const model = controls;
    if (store) {
      const s = store;
      model.onChange((c) => { if (c.persistent) s.update(runtime.board.name, model.persistentValues()); });
    }
    programs = new Programs(controls, runtime, {
      presetDir: opts.presetDir ?? (opts.stateFile ? path.join(path.dirname(opts.stateFile), 'presets') : defaultPresetDir()), log,
    });
    configure = new Configurator(runtime, {
      instantiation, model: controls, codecLock: board.codecLock, log,
      // Any open ring-buffer channel, started or not: a client that set a format must not have the codec re-initialised under it.
      ...(engines ? { ramp, playing: () => [...engines.engines].filter((e) => !e.isClosed).map((e) => e.stream.id) } : {}),
    });
    // The bound on the board's clock (a virtual one on virtual-clock boards); the descriptors as described (no bus reads).
    const descriptors = controlDescriptors(runtime, engine !== undefined);
    dispatcher = new ControlDispatcher(controls, { instantiation, clock: runtime.hal.clock, descriptors, log });
    // The knobs: the encoder of the board file, and MIDI where asked for (see `midi`).
    let sequencer: MidiSequencer | undefined;
    if (opts.midi ?? runtime.board.midi !== undefined) {
      sequencer = await runtime.hal.midi().catch((e: unknown) => {
        log(`MIDI: ${(e as Error).message}: running without MIDI input`);
        return undefined;
      });
    }
    const d = dispatcher;
    knobs = await Knobs.start({
      runtime, descriptors, log, set: (id, value, o) => d.set(id, value, o),
      ...(sequencer ? { sequencer } : {}),
      ...(opts.stateFile ? { learnedFile: path.join(path.dirname(opts.stateFile), 'midi', `${runtime.board.name}.json`) } : {}),
    });
    // MIDI notes for the synths in the streams' chains (issue 30).
    if (plugins) {
      const p = plugins;
      knobs.onMidi((ev) => p.midi(ev));
    }
    channel = await serveControlChannel(controls, controlPath, { ...(gid !== undefined ? { gid } : {}), log, programs, configure, knobs, ...(plugins ? { plugins } : {}) });
    appliance = new ServiceAppliance({ runtime, model: controls, dispatcher, programs, descriptors, devices: board.devices, engines: engines?.engines ?? new Set() });
    await appliance.init();
    if (opts.http) {
      try {
        web = await startWebServer(appliance, { bind: opts.http.bind, ...(opts.http.token ? { token: opts.http.token } : {}), log, clock: runtime.hal.clock });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (!opts.http.ifFree || (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL')) throw e;
        log(`HTTP: ${opts.http.bind.address}:${opts.http.bind.port} ${code === 'EADDRINUSE' ? 'is in use (another sbc-audio serve?)' : 'cannot be bound'}: running without the web page (serve --http-bind ADDR:PORT chooses another)`);
      }
    }
    if (opts.osc) {
      try {
        osc = await oscFor({ runtime, service: { controls, ringBuffers }, dispatcher, programs, configure, osc: opts.osc, log, ...(plugins ? { plugins: plugins.pluginOwners() } : {}) });
      } catch (e) {
        // The default address only: taken (another serve) or missing (no loopback interface).
        if (!opts.osc.ifFree || !(e instanceof OscBindError)) throw e;
        const inUse = /\bEADDRINUSE\b/.test(e.message);
        log(`OSC: ${opts.osc.bind} ${inUse ? 'is in use (another sbc-audio serve?)' : `cannot be bound (${e.message})`}: running without OSC (serve --osc-bind ADDR:PORT chooses another)`);
      }
    }
    // The spare engine thread has loaded before the endpoints appear (issue 26): the first client's
    // SET_FORMAT then configures a thread that is there, as every later one's does. It loaded
    // beside the start-up above; a guard, not a bound, keeps a thread that never says so from
    // holding the service back (the start that takes it then waits for it instead).
    if (engines?.pool) {
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([engines.pool.warm(), new Promise<void>((r) => { guard = setTimeout(r, SPARE_WAIT_GUARD_MS); })]);
      clearTimeout(guard);
    }
    for (const device of [...board.devices, ...monitorDevices(runtime, log, gid)]) {
      const core = new StreamCore(device, { log, logLimiter });
      const name = device.info.endpointName;
      const p = path.join(runtimeDir, DIRECTION_DIRS[device.info.direction], name);
      servers.push(await serveEndpoint(core, p, { log, maxQueuedBytes: opts.maxQueuedBytes, gid: opts.group?.gid }));
      cores.set(name, core);
      endpoints.push({ direction: device.info.direction, name, path: p });
    }
    if (simPath && simControl) control = await serveSimControl(simControl, simPath, { log });
  } catch (e) {
    await osc?.close();
    await web?.close();
    appliance?.close();
    await knobs?.close();
    for (const s of servers) await s.close();
    await channel?.close();
    dispatcher?.close();
    programs?.close();
    controls?.close();
    await store?.close();
    board.close();
    await engines?.closeAll();
    throw e;
  }

  const model = controls;
  // Home Assistant: in the background, retried while the broker cannot be reached.
  let ha: HomeAssistantBridge | undefined;
  let haStopped = false;
  let haRetry: NodeJS.Timeout | undefined;
  const mqtt = opts.mqtt;
  const startHa = () => {
    if (!mqtt || haStopped) return;
    startHomeAssistant(appliance!, { ...mqtt, log }).then((b) => {
      if (haStopped) void b.close();
      else {
        ha = b;
        log(`MQTT: connected to ${mqtt.url}; Home Assistant discovery published`);
      }
    }, (e: unknown) => {
      if (haStopped) return;
      log(`MQTT: ${(e as Error).message}; trying again in ${MQTT_RETRY_MS / 1000} s`);
      haRetry = setTimeout(startHa, MQTT_RETRY_MS);
      haRetry.unref();
    });
  };
  startHa();
  let closed: Promise<void> | undefined;
  return {
    runtimeDir,
    endpoints,
    cores,
    ringBuffers,
    ...(engines?.pool ? { enginePool: engines.pool } : {}),
    ...(simControl ? { simControl, simControlPath: simPath } : {}),
    controls: model,
    programs: programs!,
    configure: configure!,
    dispatcher: dispatcher!,
    instantiation,
    ...(osc ? { osc } : {}),
    knobs: knobs!,
    ...(plugins ? { plugins } : {}),
    appliance: appliance!,
    homeAssistant: () => ha,
    ...(web ? { web } : {}),
    controlPath,
    ...(store ? { stateWrites: () => store!.writes } : {}),
    close() {
      closed ??= (async () => {
        await osc?.close(); // first: no change or timed change comes in after this
        await knobs!.close(); // nor a knob's
        await web?.close(); // nor a remote's
        haStopped = true;
        if (haRetry) clearTimeout(haRetry);
        await ha?.close().catch((e: unknown) => log(`MQTT: ${(e as Error).message}`));
        appliance!.close();
        await control?.close();
        await channel.close();
        dispatcher!.close();
        programs!.close();
        model.close();
        // The last change is on disk before the service is gone (the write interval does not hold it back).
        await store?.close().catch((e: unknown) => log(`state file: ${(e as Error).message}`));
        for (const s of servers) await s.close();
        logLimiter.flush();
        board.close();
        await runtime.power.powerDown().catch((e) => log(`codec power-down failed: ${(e as Error).message}`));
        await engines?.closeAll();
      })();
      return closed;
    },
  };
}

/**
 * Ring-buffer engines with the board's power around them (src/board/power.ts): the codec powers
 * up (with the path of the stream's purpose) before START is answered (so start_time comes after
 * its waits), idles muted after the last STOP, and powers down before the last channel's PCM lets
 * go of the clocks.
 */
function poweredRingBuffers(
  clock: Clock, power: BoardPower, create: NonNullable<BoardDevicesOptions['createRingBuffer']>, log: (line: string) => void,
  activity: (stream: string, active: boolean) => void,
): NonNullable<BoardDevicesOptions['createRingBuffer']> {
  let open = 0;
  return (stream, fmt, events, channel) => {
    const inner = create(stream, fmt, events, channel);
    // The codec powers the path of the stream's purpose (src/board/power.ts).
    const path = { direction: stream.direction, purpose: stream.purpose };
    open++;
    let started = false;
    let closed = false;
    const stopped = async () => {
      if (!started) return;
      started = false;
      activity(stream.id, false);
      await power.streamStopped(path).catch((e) => log(`codec idle failed: ${(e as Error).message}`));
    };
    const engine: RingBufferEngine = {
      getFifoDepth: () => inner.getFifoDepth(),
      getBuffer: (minFrames, notify) => inner.getBuffer(minFrames, notify),
      async start() {
        // START without a buffer (or while started) is BAD_STATE (R-RB-8): answered without powering up.
        if (!started && inner.canStart?.() !== false) {
          try {
            await power.streamStarting(path);
          } catch (e) {
            log(`${stream.id}: codec power-up failed: ${(e as Error).message}`);
            return { result: statusForError(e), value: { startTimeNs: 0 } };
          }
        }
        const r = await inner.start();
        if (r.result === STATUS.OK) {
          started = true;
          activity(stream.id, true);
        }
        else if (!started) await power.streamStopped(path).catch(() => undefined);
        return r;
      },
      async stop() {
        const r = await inner.stop();
        // The amplifier goes off and the codec mutes once the fade has left the DAC, not while
        // the end of it is still in the FIFO (that would cut it: a click).
        const silent = inner.outputSilentFromNs?.();
        if (silent !== undefined && silent > clock.nowNs()) await clock.sleepUntilNs(silent);
        await stopped();
        return r;
      },
      async close() {
        if (closed) return;
        closed = true;
        // Silence first (the engine plays zeros from its next period and lingers before it lets
        // go of the PCM); the codec idles or powers down while the clocks still run.
        await inner.close();
        await stopped();
        if (--open === 0) await power.clocksStopping().catch((e) => log(`codec power-down failed: ${(e as Error).message}`));
      },
    };
    if (inner.lastClock) engine.lastClock = () => inner.lastClock!();
    return Object.assign(Object.create(inner) as RingBufferEngine, engine);
  };
}
