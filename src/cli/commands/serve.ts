import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_IDLE_POWER_DOWN_MS } from '../../board/power.ts';
import { defaultRuntimeDir } from '../../stream/discovery.ts';
import { defaultStatePath } from '../../control/state-file.ts';
import { loadBoard } from '../../board/load.ts';
import { boundStreams, configFile, loadConfig } from '../../system/config.ts';
import { hostRootFrom } from '../../system/host.ts';
import { groupByName } from '../../util/groups.ts';
import { type Command, EXIT_OK, UsageError, boardOption, numberOption, parseOptions, runtimeDirOption, untilSignal } from '../command.ts';
import { serveBoard } from '../wiring.ts';
import { type AlsaIn, DEFAULT_ALSA_IN_CARD, startAlsaIn } from '../../stream/alsa-in.ts';
import { createLinuxLoopbackBackend, createLinuxPcmBackend } from '../../hal/linux/index.ts';
import { DEFAULT_RAMP_MS } from '../../stream/engine-ring-buffer.ts';
import { MAX_RAMP_MS } from '../../board/schema.ts';
import { DEFAULT_OSC_ADDRESS, DEFAULT_OSC_PORT, OscBindError, parseOscBind } from '../../osc/server.ts';
import { DEFAULT_HTTP_ADDRESS, DEFAULT_HTTP_PORT } from '../../web/server.ts';
import { MIN_HTTP_TOKEN_CHARS } from '../../web/http.ts';
import { type MdnsAdvert, advertisePage, defaultInstanceName } from '../../web/mdns.ts';
import { DEFAULT_SNAPCAST_CONTROL_PORT, SnapcastLatencyReporter, parseSnapcastAddress } from '../../stream/snapcast-latency.ts';
import { hostname } from 'node:os';

/**
 * The admin token's shortest length: OSC over UDP has no lockout, so a short token could be found
 * by trying (8 characters of letters and digits are 2.2e14 tries).
 */
export const MIN_OSC_TOKEN_CHARS = 8;

/** How this process was started, for the fix a real-time warning names: systemd sets INVOCATION_ID for a unit's processes. */
export function startedBy(env: NodeJS.ProcessEnv = process.env): 'systemd' | 'shell' {
  return env.INVOCATION_ID ? 'systemd' : 'shell';
}

/**
 * The engine's real-time warning (src/engine/realtime.ts: SCHED_FIFO refused, memory not locked)
 * comes with every engine start, one per stream START; serve says it once per start of the
 * service, with the fix for how it was started: the unit's LimitMEMLOCK= / LimitRTPRIO= under
 * systemd, `ulimit` or prlimit from a shell. Returns the log line to print, or undefined: said already.
 */
export function realtimeWarningOnce(how: 'systemd' | 'shell'): (line: string) => string | undefined {
  let said = false;
  return (line) => {
    const m = /^(?:\S+: )?sbc-audio engine: (.*)$/s.exec(line);
    if (!m) return line;
    if (said) return undefined;
    said = true;
    const fix = how === 'systemd'
      ? 'fix: LimitMEMLOCK=infinity (and LimitRTPRIO=95) in the [Service] section of the unit (systemctl edit sbc-audio), then restart it'
      : 'fix: start serve from a shell where `ulimit -l unlimited` (and `ulimit -r 95`) succeeded, as root, or raise the running process\'s limits with `prlimit --memlock=unlimited:unlimited --rtprio=95 --pid PID`';
    const text = m[1]!.replace(/; run with LimitMEMLOCK=infinity to lock/, '');
    return `real-time: ${text} (said once; ${fix})`;
  };
}

export const serveCommand: Command = {
  name: 'serve',
  usage: `usage: sbc-audio serve [--board NAME] [--group NAME] [--runtime-dir DIR] [--idle-power-down MS] [--quiet]
                       [--osc-bind ADDR:PORT | --no-osc] [--osc-token TOKEN | --osc-token-file FILE] [--no-midi]
                       [--http-bind ADDR:PORT | --no-http] [--http-token TOKEN | --http-token-file FILE] [--mdns]
                       [--alsa-in STREAM] [--alsa-in-card CARD] [--alsa-in-latency MS] [--no-alsa-in]
                       [--snapcast HOST[:PORT] [--snapcast-client ID]]

Opens the board, brings its codec to a known state (probe, init: muted) and publishes each of
its streams as a Unix socket endpoint: DIR/audio-output/<board>.<stream> and
DIR/audio-input/<board>.<stream>, mode 0660. Any program can find the endpoints there (and
watch them appear and disappear) and speak the stream protocol to them: docs/PROTOCOL.md.
The codec powers up when a client STARTs a ring buffer (before the START is answered), idles
muted after the last STOP and powers down after --idle-power-down ms without a stream, or at
once when the last ring-buffer channel closes. On a simulated board each output also gets a
monitor endpoint (audio-input/<board>.<stream>.monitor: what the simulated analog output
carries) and a simulation control socket (DIR/sim/<board>.sock: 'sbc-audio sim').
Every control of the board (stream gains and mutes, the codec's controls, lines, policies) is
served on the control channel DIR/control/<board>.sock ('sbc-audio ctl', 'sbc-audio gain';
docs/CONTROL.md). Their values start at the board's defaults, are restored from the state file
and saved to it on change (at most once a second), as alsactl store / restore do.
The same controls, the programs and the configure keys are served over OSC/UDP with DSSI's
methods (/sbc-audio/<board>/<owner>/control, /program, /configure, /update, …; docs/OSC.md), on
${DEFAULT_OSC_ADDRESS}:${DEFAULT_OSC_PORT} by default: reachable from this machine only.
Knobs (docs/CONTROL.md, "Knobs"): a MIDI input, the ALSA sequencer client "sbc-audio <board>" with
the port "control" that any MIDI source connects to (the board file's midi.connect, 'sbc-audio midi
connect', aconnect), its controllers mapped by the board file and by 'sbc-audio midi learn'; and the
board file's rotary encoder and its push switch.
Runs until SIGINT or SIGTERM (or an OSC quit), then removes its endpoints.
A real board's hardware is checked first (its ALSA card, I2C bus, codec, GPIO chips): where a part
is missing, serve exits with status 1 before publishing anything, naming it ('sbc-audio doctor'
says how to fix it). Options not given come from ${configFile()} where it exists
(board, group, runtimeDir, idlePowerDownMs); its "binds" (stream ids) limit the config's board to
those streams — the others get no endpoint and their PCMs stay closed. The system service
(systemd/sbc-audio.service) runs serve with that file.

  --board NAME        board name from 'sbc-audio boards', or a board file path (required unless the config names one)
  --group NAME        the group whose members may connect: sockets 0660 with that group, shared
                      buffers 0660 with that group (default: this process's group, owner-only buffers)
  --runtime-dir DIR   where the endpoints go (default: ${defaultRuntimeDir()})
  --idle-power-down MS  how long the codec idles muted after the last stream stops (default ${DEFAULT_IDLE_POWER_DOWN_MS}, as ASoC's pmdown_time)
  --state-file PATH   where control values are kept (default: ${defaultStatePath()}:
                      $STATE_DIRECTORY/state.json under systemd, /var/lib/sbc-audio/state.json for
                      root, else $XDG_STATE_HOME/sbc-audio/state.json)
  --no-state          neither restore nor save control values (the board's defaults at every start)
  --ramp-ms MS        every output stream's ramp time: the fade at START and STOP and across gain
                      changes (default: the board file's streams[].rampMs, else ${DEFAULT_RAMP_MS}; 0 = no ramps)
  --osc-bind ADDR:PORT  where the OSC server listens (default ${DEFAULT_OSC_ADDRESS}:${DEFAULT_OSC_PORT}; [::1]:PORT for IPv6;
                      port 0: any free port). Beyond loopback (e.g. 0.0.0.0:${DEFAULT_OSC_PORT}: every network this
                      machine is on), /configure and quit are refused unless they end with the admin token
  --no-osc            no OSC server
  --osc-token TOKEN   the admin token (at least ${MIN_OSC_TOKEN_CHARS} characters). A command line is readable by every
                      user of the machine (/proc/PID/cmdline): --osc-token-file keeps it out of it
  --osc-token-file FILE  the admin token: the file's first line
  --no-midi           no MIDI input (default: the ALSA sequencer client, where /dev/snd/seq exists)
  --http-bind ADDR:PORT  where the HTTP + WebSocket API and page listen (default ${DEFAULT_HTTP_ADDRESS}:${DEFAULT_HTTP_PORT}:
                      this machine only; docs/REMOTE.md). Beyond loopback a token is required
  --no-http           no web server
  --http-token TOKEN  the token every request must carry (Authorization: Bearer TOKEN; ${MIN_HTTP_TOKEN_CHARS} to 256
                      characters without spaces); --http-token-file FILE keeps it out of the command line
  --http-token-file FILE  the token: the file's first line
  --mdns              advertise the page on the network by mDNS / DNS-SD (_http._tcp, "sbc-audio BOARD on HOST";
                      off by default; needs --http-bind beyond loopback: docs/REMOTE.md, "mDNS")
  --alsa-in STREAM    the output stream ALSA players play through (default: the board's first output).
                      Players write to the ALSA PCM "sbc-audio" ('sbc-audio setup' installs it: snd-aloop
                      and alsa/50-sbc-audio.conf); the service captures the loopback card and plays it
                      through STREAM at the player's rate, with the stream's gain, ramps and monitor;
                      mpd's hardware mixer moves the stream's gain (docs/alsa-in.md). On by default
                      where the loopback card exists
  --alsa-in-card CARD the loopback card's id (default ${DEFAULT_ALSA_IN_CARD})
  --alsa-in-latency MS  what the bridge holds ahead of the DAC above the stream's FIFO (default 40; more
                      for a busy machine, less for lip sync)
  --no-alsa-in        no ALSA way in
  --snapcast HOST[:PORT]  report this appliance's output latency to snapserver's JSON-RPC control port
                      (default port ${DEFAULT_SNAPCAST_CONTROL_PORT}) as the latency of our snapclient (Client.SetLatency), and keep it
                      current: from the loopback cable to the analog output (the bridge's hold and capture
                      period, the stream's FIFO, the codec filter and the board's analog delay), pushed when
                      its rounded ms change (rate, filter mode, board), when the client reconnects and when
                      something else changes it. Needs the ALSA way in; run snapclient there as
                      \`snapclient --player alsa -s sbc-audio --hostID $(hostname)\` (docs/alsa-in.md)
  --snapcast-client ID  snapclient's --hostID (with #N for --instance N > 1; default: this machine's
                      hostname, ${JSON.stringify(hostname())})
  --period-us US      the engines' period (default 2667: 128 frames at 48 kHz); longer periods cost latency and
                      spare a slow or busy machine dropouts (aplay's --period-time)
  --quiet             do not log protocol violations and dropped clients to stderr`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, group: { type: 'string' }, 'runtime-dir': { type: 'string' }, 'idle-power-down': { type: 'string' }, quiet: { type: 'boolean' },
      'state-file': { type: 'string' }, 'no-state': { type: 'boolean' }, 'ramp-ms': { type: 'string' },
      'osc-bind': { type: 'string' }, 'no-osc': { type: 'boolean' }, 'osc-token': { type: 'string' }, 'osc-token-file': { type: 'string' },
      'no-midi': { type: 'boolean' },
      'http-bind': { type: 'string' }, 'no-http': { type: 'boolean' }, 'http-token': { type: 'string' }, 'http-token-file': { type: 'string' },
      mdns: { type: 'boolean' },
      'period-us': { type: 'string' },
      'alsa-in': { type: 'string' }, 'alsa-in-card': { type: 'string' }, 'alsa-in-latency': { type: 'string' }, 'no-alsa-in': { type: 'boolean' },
      snapcast: { type: 'string' }, 'snapcast-client': { type: 'string' },
    });
    // The latency reported is the ALSA way in's (a player writes into the loopback): without it there is none.
    if (values['no-alsa-in'] && values.snapcast !== undefined) throw new UsageError('--snapcast reports the ALSA way in\'s latency: it does not go with --no-alsa-in');
    if (values['snapcast-client'] !== undefined && values.snapcast === undefined) throw new UsageError('--snapcast-client goes with --snapcast HOST[:PORT]');
    let snapcast: { host: string; port: number; clientId: string } | undefined;
    if (values.snapcast !== undefined) {
      try {
        snapcast = { ...parseSnapcastAddress(values.snapcast), clientId: values['snapcast-client'] ?? hostname() };
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (!/^\S+$/.test(snapcast.clientId)) throw new UsageError(`--snapcast-client ${JSON.stringify(snapcast.clientId)}: a client id without spaces (snapclient's --hostID)`);
      // Names many machines share (Raspberry Pi OS's default host name, or a loopback name): two
      // appliances reporting under one client id overwrite each other's latency (the reporter stops
      // putting its own back after a few rounds, ./stream/snapcast-latency.ts).
      if (['raspberrypi', 'localhost'].includes(snapcast.clientId.replace(/#\d+$/, '').toLowerCase())) {
        io.err(`sbc-audio serve: snapcast: the client id "${snapcast.clientId}" is the default name of many machines: give each appliance its own --snapcast-client (and snapclient the same --hostID)`);
      }
    }
    if (values['no-alsa-in'] && (values['alsa-in'] !== undefined || values['alsa-in-card'] !== undefined || values['alsa-in-latency'] !== undefined)) {
      throw new UsageError('--no-alsa-in turns the ALSA way in off: --alsa-in, --alsa-in-card and --alsa-in-latency go with it on');
    }
    const periodUs = values['period-us'] === undefined ? undefined : numberOption(values['period-us'], 'period-us', 2667, 333, 100000);
    const alsaInLatency = values['alsa-in-latency'] === undefined ? undefined : numberOption(values['alsa-in-latency'], 'alsa-in-latency', 40, 5, 1000);
    if (values.mdns && values['no-http']) throw new UsageError('--mdns advertises the HTTP page: it cannot go with --no-http');
    const osc = oscOption(values);
    const http = httpOption(values);
    // Home Assistant over MQTT: the broker from the config file (docs/REMOTE.md), its password from a file of its own.
    const mqttConfig = loadConfig(hostRootFrom(undefined))?.mqtt;
    let mqtt: { url: string; username?: string; password?: string; discoveryPrefix?: string } | undefined;
    if (mqttConfig) {
      let password: string | undefined;
      if (mqttConfig.passwordFile) {
        try {
          password = readFileSync(mqttConfig.passwordFile, 'utf8').split('\n')[0]!.trim();
        } catch (e) {
          throw new UsageError(`${configFile(hostRootFrom(undefined))}: mqtt.passwordFile ${mqttConfig.passwordFile}: ${(e as Error).message}`);
        }
      }
      mqtt = { url: mqttConfig.url, ...(mqttConfig.username ? { username: mqttConfig.username } : {}), ...(password !== undefined ? { password } : {}), ...(mqttConfig.discoveryPrefix ? { discoveryPrefix: mqttConfig.discoveryPrefix } : {}) };
    }
    if (values['state-file'] !== undefined && values['no-state']) throw new UsageError('--state-file and --no-state: give one');
    const stateFile = values['no-state'] ? undefined : path.resolve(values['state-file'] ?? defaultStatePath());
    const root = hostRootFrom(undefined);
    const config = loadConfig(root);
    const boardName = (await boardOption(values.board, false)) ?? config?.board;
    if (!boardName) throw new UsageError(`--board is required (${configFile(root)} names no board)`);
    const idleMs = numberOption(values['idle-power-down'], 'idle-power-down', config?.idlePowerDownMs ?? DEFAULT_IDLE_POWER_DOWN_MS, 0, 3_600_000);
    const rampMs = values['ramp-ms'] === undefined ? undefined : numberOption(values['ramp-ms'], 'ramp-ms', DEFAULT_RAMP_MS, 0, MAX_RAMP_MS);
    const groupName = values.group ?? config?.group;
    let group: { name: string; gid: number } | undefined;
    if (groupName !== undefined) {
      const g = groupByName(groupName, root.at('/etc/group'));
      if (!g) throw new UsageError(`--group ${groupName}: no such group in /etc/group`);
      group = { name: g.name, gid: g.gid };
    }
    // binds: the config's streams of the config's board (another --board publishes all of its own).
    const binds = config?.binds && (values.board === undefined || values.board === config.board) ? boundStreams(loadBoard(boardName), config) : undefined;
    const signal = untilSignal(); // listening before anything is published, so a signal never kills us half-way
    const realtime = realtimeWarningOnce(startedBy());
    // An OSC quit (/sbc-audio/<board>/quit: loopback, or with the admin token) stops as a signal does.
    let quit!: () => void;
    const quitting = new Promise<'OSC quit'>((resolve) => { quit = () => resolve('OSC quit'); });
    const served = await serveBoard(boardName, {
      runtimeDir: runtimeDirOption(values['runtime-dir']) ?? config?.runtimeDir,
      hostRoot: root,
      ...(group ? { group } : {}),
      ...(binds ? { streams: binds } : {}),
      // --quiet leaves out the protocol's and the clients' lines, not the one real-time warning.
      log: (line) => {
        const shown = realtime(line);
        if (shown !== undefined && (shown !== line || !values.quiet)) io.err(`sbc-audio serve: ${shown}`);
      },
      board: { idlePowerDownMs: idleMs },
      ...(stateFile ? { stateFile } : {}),
      ...(rampMs !== undefined ? { rampMs } : {}),
      // The config's plugin chains belong to the config's board (issue 29; docs/engine.md, "Plugins in the chain").
      ...(config?.plugins && (values.board === undefined || values.board === config.board) ? { plugins: config.plugins, pluginsSource: config.file } : {}),
      ...(config?.ladspaPath ? { ladspaPath: config.ladspaPath } : {}),
      ...(config?.dssiPath ? { dssiPath: config.dssiPath } : {}),
      ...(osc ? { osc: { ...osc, onQuit: quit } } : {}),
      midi: !values['no-midi'],
      // A spare engine thread loaded ahead (issue 26): a client's first GET_BUFFER does not wait for one.
      ringBuffer: { prestart: true, ...(periodUs !== undefined ? { periodUs } : {}) },
      ...(http ? { http } : {}),
      ...(mqtt ? { mqtt } : {}),
    });
    let advert: MdnsAdvert | undefined;
    let alsaIn: AlsaIn | undefined;
    let reporter: SnapcastLatencyReporter | undefined;
    try {
      const { service, runtime } = served;
      io.out(`serving ${service.endpoints.length} stream${service.endpoints.length === 1 ? '' : 's'} of board ${runtime.board.name} under ${service.runtimeDir}`);
      for (const e of service.endpoints) io.out(`  ${e.direction.padEnd(6)}  ${e.path}`);
      // The OSC server the service started (its `osc`, src/osc/server.ts's OscServer), where it really listens.
      const oscServer = (service as { osc?: { address: string; port: number; loopback: boolean } }).osc;
      if (oscServer) {
        const where = oscServer.address.includes(':') ? `[${oscServer.address}]:${oscServer.port}` : `${oscServer.address}:${oscServer.port}`;
        io.out(`  osc     udp ${where}${oscServer.loopback ? ' (this machine only)' : osc?.adminToken === undefined ? ' (no admin token: /configure and quit refused)' : ''}`);
      }
      const web = service.web;
      if (web) io.out(`  http    ${web.url}${web.loopback ? ' (this machine only)' : ' (token required)'}`);
      // mDNS (--mdns): the page advertised once the server listens; a failure is said and serving goes on.
      if (values.mdns && web) {
        try {
          advert = await advertisePage({ name: defaultInstanceName(runtime.board.name), port: web.port, board: runtime.board.name, token: http?.token !== undefined, host: web.address, log: (m) => io.err(`sbc-audio serve: ${m}`) });
          io.out(`  mdns    "${advert.name}" (${advert.type}, port ${web.port})`);
        } catch (e) {
          io.err(`sbc-audio serve: ${(e as Error).message}`);
        }
      }
      const midi = service.knobs.info().midi;
      if (midi) io.out(`  midi    ${midi.address} "${midi.client}:${midi.port}"`);
      // The ALSA way in (docs/alsa-in.md): asked for (--alsa-in / --alsa-in-card, or needed by --snapcast), a missing card is an
      // error; by default it is on where the card exists and said in one line where it does not.
      if (!values['no-alsa-in']) {
        const asked = values['alsa-in'] !== undefined || values['alsa-in-card'] !== undefined || snapcast !== undefined;
        try {
          alsaIn = await startAlsaIn({
            loopback: await createLinuxLoopbackBackend(), capture: createLinuxPcmBackend(), service, board: runtime.board.name,
            ...(values['alsa-in'] !== undefined ? { stream: values['alsa-in'] } : {}), ...(values['alsa-in-card'] !== undefined ? { card: values['alsa-in-card'] } : {}),
            log: (line) => io.err(`sbc-audio serve: ${line}`), ...(alsaInLatency !== undefined ? { bridge: { latencyMs: alsaInLatency } } : {}),
          });
          io.out(`  alsa-in pcm "sbc-audio" (card ${alsaIn.card}) → ${alsaIn.endpoint.name}${alsaIn.volume ? ', mixer "PCM"' : ''}`);
        } catch (e) {
          if (asked) throw new UsageError(`${snapcast && values['alsa-in'] === undefined && values['alsa-in-card'] === undefined ? '--snapcast needs the ALSA way in' : '--alsa-in'}: ${(e as Error).message}`);
          io.out(`  alsa-in off: ${(e as Error).message}`);
        }
      }
      if (snapcast && alsaIn) {
        const bridge = alsaIn.bridge;
        // Nothing is reported until the stream's FIFO is known (the first player's session): a partial
        // figure now and the whole one a moment later would make snapclient jump twice. snapserver keeps
        // the last figure per client across restarts, so a restarted serve changes nothing until then.
        let saidWaiting = false;
        const latency = () => {
          const f = bridge.outputLatency();
          if (f && f.fifoMs === undefined) {
            if (!saidWaiting) io.err(`sbc-audio serve: snapcast: the latency is reported once a player has played (the stream's FIFO is known then)`);
            saidWaiting = true;
            return undefined;
          }
          return f;
        };
        reporter = new SnapcastLatencyReporter({ ...snapcast, latency, log: (line) => io.err(`sbc-audio serve: ${line}`) });
        reporter.start();
        io.out(`  snapcast latency → ${reporter.where()} client ${snapcast.clientId}`);
      }
      const why = await Promise.race([signal, quitting]);
      io.err(`sbc-audio serve: ${why}: removing the endpoints and stopping`);
    } finally {
      await reporter?.close();
      await advert?.stop();
      await alsaIn?.close();
      await served.close();
    }
    return EXIT_OK;
  },
};

/**
 * A network listener's options from serve's flags (`--<kind>-bind`, `--no-<kind>`, `--<kind>-token`,
 * `--<kind>-token-file`): on by default at its default address, moved by --<kind>-bind, off with
 * --no-<kind>; the token from the flag or the file's first line. Undefined: no listener.
 */
function listenerOption(kind: 'osc' | 'http', values: Record<string, string | boolean | undefined>, dflt: { address: string; port: number }, minTokenChars: number): { bind: { address: string; port: number }; text: string; token?: string; ifFree?: boolean } | undefined {
  const bind = values[`${kind}-bind`] as string | undefined;
  const tokenFlag = values[`${kind}-token`] as string | undefined;
  const file = values[`${kind}-token-file`] as string | undefined;
  if (values[`no-${kind}`]) {
    if (bind !== undefined || tokenFlag !== undefined || file !== undefined) throw new UsageError(`--no-${kind} turns the ${kind.toUpperCase()} server off: --${kind}-bind, --${kind}-token and --${kind}-token-file go with it on`);
    return undefined;
  }
  if (tokenFlag !== undefined && file !== undefined) throw new UsageError(`--${kind}-token and --${kind}-token-file: give one`);
  let where: { address: string; port: number };
  try {
    where = parseOscBind(bind ?? `${dflt.address}:${dflt.port}`, `--${kind}-bind`);
  } catch (e) {
    if (e instanceof OscBindError) throw new UsageError(e.message);
    throw e;
  }
  let token = tokenFlag;
  if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').split('\n')[0]!.trim();
    } catch (e) {
      throw new UsageError(`--${kind}-token-file ${file}: ${(e as Error).message}`);
    }
  }
  if (token !== undefined && (token.length < minTokenChars || /\s/.test(token))) {
    throw new UsageError(`${file !== undefined ? `--${kind}-token-file ${file}` : `--${kind}-token`}: the token must be at least ${minTokenChars} characters without spaces`);
  }
  const address = where.address.includes(':') ? `[${where.address}]` : where.address;
  // The default address may be taken (another serve): then this one runs without it and says so.
  return { bind: where, text: `${address}:${where.port}`, ...(token !== undefined ? { token } : {}), ...(bind === undefined ? { ifFree: true } : {}) };
}

/**
 * The service's `osc` option from serve's flags: on by default at 127.0.0.1:7770, moved by
 * --osc-bind, off with --no-osc; the token from --osc-token or --osc-token-file. Undefined: no OSC.
 */
export function oscOption(values: { 'osc-bind'?: string; 'no-osc'?: boolean; 'osc-token'?: string; 'osc-token-file'?: string }): { bind: string; adminToken?: string; ifFree?: boolean } | undefined {
  const o = listenerOption('osc', values, { address: DEFAULT_OSC_ADDRESS, port: DEFAULT_OSC_PORT }, MIN_OSC_TOKEN_CHARS);
  return o && { bind: o.text, ...(o.token !== undefined ? { adminToken: o.token } : {}), ...(o.ifFree ? { ifFree: true } : {}) };
}

/**
 * The service's `http` option: on by default at 127.0.0.1:7771 (this machine only, no token
 * needed); --http-bind elsewhere needs --http-token or --http-token-file (the server refuses to
 * start beyond loopback without one). Undefined: no web server.
 */
export function httpOption(values: { 'http-bind'?: string; 'no-http'?: boolean; 'http-token'?: string; 'http-token-file'?: string }): { bind: { address: string; port: number }; token?: string; ifFree?: boolean } | undefined {
  const o = listenerOption('http', values, { address: DEFAULT_HTTP_ADDRESS, port: DEFAULT_HTTP_PORT }, MIN_HTTP_TOKEN_CHARS);
  return o && { bind: o.bind, ...(o.token !== undefined ? { token: o.token } : {}), ...(o.ifFree ? { ifFree: true } : {}) };
}
