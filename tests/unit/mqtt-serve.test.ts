/**
 * Home Assistant over MQTT against the real thing (issue 24's MQTT acceptance line): Debian's
 * mosquitto started here on a free loopback port, the real `sbc-audio serve --board sim` in a
 * child process with a configuration file naming that broker (docs/REMOTE.md, "Home Assistant over
 * MQTT"), and mosquitto_sub / mosquitto_pub as the peers (tests/unit/helpers/mosquitto.ts).
 *
 * - The discovery configs of board/sim.json's streams (speaker, headphone out; mic in) and of the
 *   sim-codec's writable enum are retained on `homeassistant/<component>/sbc-audio-sim/<object>/config`
 *   and hold what Home Assistant's discovery needs of each component (the facts from its MQTT pages
 *   are in src/mqtt/home-assistant.ts's header; the values expected here are literals from
 *   board/sim.json and codecs/sim-codec/FACTS.md, not read from the module).
 * - While a protocol client plays a 1 kHz tone through sim.speaker, `mosquitto_pub` of −30 dB on
 *   `sbc-audio/sim/speaker/volume/set` moves the speaker's monitor endpoint (what the simulated
 *   analog output carries) by −10 ± 1 dB from board/sim.json's −20 dB, and the new state is
 *   published. Negative control, in the same recording: the same payload on a wrong topic (the
 *   command topic without `/set`) leaves the monitor where it was, so the ±1 dB check fails on it.
 * - `sbc-audio sim jack headphone in` publishes ON on the plug's state topic (OFF before).
 * - SIGKILL of serve: mosquitto_sub on the availability topic hears `online`, then `offline` (the
 *   client's last will, retained).
 * - Negative control for the configuration: a serve whose configuration has no `mqtt` publishes
 *   nothing on `sbc-audio/#` nor `homeassistant/#` (bounded by a sentinel published after it).
 *
 * The configuration is placed with $SBC_AUDIO_CONFIG_DIR (src/system/config.ts configFile), which
 * moves that file only; $SBC_AUDIO_HOST_ROOT would also move /etc/group and the host checks.
 *
 * Timing: the machine is shared and slow; every wait is on a condition with a hang guard, and no
 * wall-time bound is asserted.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { playSamples, recordSamples, toneSamples } from '../../src/stream/player.ts';
import { dB } from './helpers/levels.ts';
import { type Broker, type Subscriber, exitCode, haveMosquitto, publish, sleep, startBroker, stopChild, subscribe, waitFor } from './helpers/mosquitto.ts';
import { BIN, ROOT, runCli } from './helpers/serve-child.ts';

/** Hang guards only. */
const GUARD_MS = 60_000;
const RATE = 48000;
const CHANNELS = 2;
/** The tone: 1 kHz at −6 dBFS. */
const TONE_DB = -6;
/** board/sim.json: "controlDefaults": { "speaker.gain": -20, "speaker.mute": false }. */
const SPEAKER_GAIN_DEFAULT_DB = -20;
/** The command's value, and so the monitor's expected move: −10 ± 1 dB. */
const SPEAKER_GAIN_SET_DB = -30;

const monoNs = () => Number(process.hrtime.bigint());

interface Serve {
  child: ChildProcess;
  url: string;
  out(): string;
  err(): string;
  stop(): Promise<void>;
}

/**
 * `sbc-audio serve --board sim` as tests/unit/helpers/serve-child.ts startServe spawns it, with
 * $SBC_AUDIO_CONFIG_DIR set (startServe takes no env); resolves at its `http` line (serve has
 * published its endpoints by then). Rejects with both outputs when it exits first or hangs.
 */
async function startServeWithConfig(configDir: string, runtimeDir: string): Promise<Serve> {
  const args = ['serve', '--board', 'sim', '--http-bind', '127.0.0.1:0', '--runtime-dir', runtimeDir, '--no-osc', '--no-midi', '--no-state'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SBC_AUDIO_CONFIG_DIR: configDir } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const stop = () => stopChild(child, 10_000);
  try {
    const url = await waitFor(`serve's http line\nstdout: ${out}\nstderr: ${err}`, () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited (${child.exitCode ?? child.signalCode}) before its http line\nstdout: ${out}\nstderr: ${err}`);
      return /^ {2}http {4}(\S+)/m.exec(out)?.[1];
    }, GUARD_MS);
    return { child, url, out: () => out, err: () => err, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Median of the 10 ms block peaks of channel 0 over frames [from, to) (dBFS): an edge or a dropout in the window does not bend it. */
function medianBlockPeakDb(s: Int16Array, from: number, to: number, what: string): number {
  const block = RATE / 100;
  const peaks: number[] = [];
  for (let f = Math.max(0, from); f + block <= Math.min(to, s.length / CHANNELS); f += block) {
    let p = 0;
    for (let k = f; k < f + block; k++) p = Math.max(p, Math.abs(s[k * CHANNELS]!) / 32768);
    peaks.push(p);
  }
  assert.ok(peaks.length >= 20, `${what}: only ${peaks.length} blocks of 10 ms in the window [${from}, ${to}) of the monitor recording`);
  peaks.sort((a, b) => a - b);
  return dB(peaks[Math.floor(peaks.length / 2)]!);
}

/** The discovery topics of the sim board: board/sim.json's streams and the sim-codec's writable enum (DAC_CTRL.FILTER). */
const CONFIGS: Record<string, 'number' | 'switch' | 'binary_sensor' | 'sensor' | 'select'> = {
  'homeassistant/number/sbc-audio-sim/speaker_volume/config': 'number',
  'homeassistant/switch/sbc-audio-sim/speaker_mute/config': 'switch',
  'homeassistant/sensor/sbc-audio-sim/speaker_xruns/config': 'sensor',
  'homeassistant/sensor/sbc-audio-sim/speaker_latency/config': 'sensor',
  'homeassistant/sensor/sbc-audio-sim/speaker_rate/config': 'sensor',
  'homeassistant/number/sbc-audio-sim/headphone_volume/config': 'number',
  'homeassistant/switch/sbc-audio-sim/headphone_mute/config': 'switch',
  'homeassistant/binary_sensor/sbc-audio-sim/headphone_plugged/config': 'binary_sensor',
  'homeassistant/sensor/sbc-audio-sim/headphone_xruns/config': 'sensor',
  'homeassistant/sensor/sbc-audio-sim/headphone_latency/config': 'sensor',
  'homeassistant/sensor/sbc-audio-sim/headphone_rate/config': 'sensor',
  // The mic: no gain (the sim-codec has no capture volume), hardwired: the three sensors only.
  'homeassistant/sensor/sbc-audio-sim/mic_xruns/config': 'sensor',
  'homeassistant/sensor/sbc-audio-sim/mic_latency/config': 'sensor',
  'homeassistant/sensor/sbc-audio-sim/mic_rate/config': 'sensor',
  'homeassistant/select/sbc-audio-sim/sim-codec_dac-filter/config': 'select',
};

describe('Home Assistant over MQTT: the real `serve --board sim` on a real mosquitto', function () {
  this.timeout(240_000);
  let dir: string;
  let runtimeDir: string;
  let broker: Broker | undefined;
  let serve: Serve | undefined;
  /** mosquitto_sub on sbc-audio/# for the whole suite (states and availability as HA would see them). */
  let observer: Subscriber | undefined;
  const subs: Subscriber[] = [];

  before(async () => {
    // Not skipped when missing: this is the acceptance test ('make host-tools' installs them).
    assert.ok(haveMosquitto(), "mosquitto and mosquitto-clients are needed: 'make host-tools' installs them (Debian: apt-get install mosquitto mosquitto-clients)");
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-mqtt-serve-'));
    runtimeDir = path.join(dir, 'run');
    broker = await startBroker(dir);
    const configDir = path.join(dir, 'etc');
    mkdirSync(configDir);
    // docs/REMOTE.md's configuration, with our broker.
    writeFileSync(path.join(configDir, 'config.json'), JSON.stringify({ mqtt: { url: broker.url } }));
    serve = await startServeWithConfig(configDir, runtimeDir);
    // serve connects in the background (docs/REMOTE.md): its log says when discovery is published.
    await waitFor('serve\'s "MQTT: connected" log line', () => {
      if (serve!.child.exitCode !== null) throw new Error(`serve exited: ${serve!.err()}`);
      return serve!.err().includes('Home Assistant discovery published');
    }, GUARD_MS);
  });

  after(async () => {
    for (const s of subs) await s.stop();
    await observer?.stop();
    await serve?.stop();
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has its discovery configs retained on the documented topics, each with the fields HA requires', async () => {
    // A newcomer (as HA at its start) with --retained-only: it exits at the first message that is
    // not retained — the sentinel published once every expected config has come, so what came
    // before it is exactly the retained set (the broker sends those at SUBSCRIBE, before it).
    const sub = subscribe(broker!.port, ['homeassistant/#'], ['--retained-only']);
    subs.push(sub);
    await waitFor(`the ${Object.keys(CONFIGS).length} discovery configs (got: ${sub.messages.map((m) => m.topic).join(', ')})`, () => Object.keys(CONFIGS).every((t) => sub.messages.some((m) => m.topic === t)), GUARD_MS);
    await publish(broker!.port, 'homeassistant/test/sentinel', 'end');
    assert.equal(await exitCode('mosquitto_sub --retained-only after the sentinel', sub.exited, GUARD_MS), 0, `mosquitto_sub --retained-only: ${sub.err()}`);
    const configs = sub.messages.filter((m) => m.topic !== 'homeassistant/test/sentinel');
    assert.ok(configs.every((m) => m.retain), 'every config is retained');
    // Negative controls: no plug sensor for the hardwired speaker and mic, no volume or mute for the
    // mic, no select for anything but the one enum: nothing but these under homeassistant/.
    assert.deepEqual(configs.map((m) => m.topic).sort(), Object.keys(CONFIGS).sort());

    const byTopic = Object.fromEntries(configs.map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]));
    const uniqueIds = new Set<unknown>();
    for (const [topic, json] of Object.entries(byTopic)) {
      assert.equal(typeof json.unique_id, 'string', `${topic}: unique_id`);
      uniqueIds.add(json.unique_id);
      // The device registry: identifiers; board/sim.json's name and manufacturer.
      const device = json.device as Record<string, unknown>;
      assert.deepEqual(device.identifiers, ['sbc-audio-sim'], `${topic}: device.identifiers`);
      assert.equal(device.name, 'sim', `${topic}: device.name`);
      assert.equal(device.manufacturer, 'sbc-audio (simulation)', `${topic}: device.manufacturer`);
      assert.deepEqual(json.availability, [{ topic: 'sbc-audio/sim/availability', payload_available: 'online', payload_not_available: 'offline' }], `${topic}: availability`);
      // state_topic: required of binary_sensor and sensor, given by every component here.
      assert.match(String(json.state_topic), /^sbc-audio\/sim\/[a-z0-9-]+\/[a-z-]+\/state$/, `${topic}: state_topic`);
      if (CONFIGS[topic] === 'number' || CONFIGS[topic] === 'switch' || CONFIGS[topic] === 'select') {
        assert.equal(json.command_topic, String(json.state_topic).replace(/\/state$/, '/set'), `${topic}: command_topic`);
      } else {
        assert.equal(json.command_topic, undefined, `${topic}: a sensor takes no command`);
      }
    }
    assert.equal(uniqueIds.size, configs.length, 'unique_ids are unique (HA raises on a duplicate)');

    // number: the stream gain's range, codecs/sim-codec/FACTS.md VOL_L: 0x00 = 0 dB … 0.5 dB steps
    // … 0xFE = −127 dB (HA's min/max defaults, 1 and 100, would not fit a dB range).
    for (const s of ['speaker', 'headphone']) {
      const vol = byTopic[`homeassistant/number/sbc-audio-sim/${s}_volume/config`]!;
      assert.equal(vol.command_topic, `sbc-audio/sim/${s}/volume/set`);
      assert.equal(vol.state_topic, `sbc-audio/sim/${s}/volume/state`);
      assert.deepEqual([vol.min, vol.max, vol.step, vol.unit_of_measurement], [-127, 0, 0.5, 'dB'], `${s} volume`);
      const mute = byTopic[`homeassistant/switch/sbc-audio-sim/${s}_mute/config`]!;
      assert.equal(mute.command_topic, `sbc-audio/sim/${s}/mute/set`);
      assert.deepEqual([mute.payload_on, mute.payload_off], ['ON', 'OFF']);
    }
    // binary_sensor: the headphone jack (board/sim.json: "plug": "jack-detect"), device class plug.
    const plug = byTopic['homeassistant/binary_sensor/sbc-audio-sim/headphone_plugged/config']!;
    assert.equal(plug.state_topic, 'sbc-audio/sim/headphone/plugged/state');
    assert.deepEqual([plug.device_class, plug.payload_on, plug.payload_off], ['plug', 'ON', 'OFF']);
    // sensors: xruns a total_increasing count; latency a duration in ms; the rate a frequency in Hz.
    for (const s of ['speaker', 'headphone', 'mic']) {
      assert.equal(byTopic[`homeassistant/sensor/sbc-audio-sim/${s}_xruns/config`]!.state_class, 'total_increasing');
      const lat = byTopic[`homeassistant/sensor/sbc-audio-sim/${s}_latency/config`]!;
      assert.deepEqual([lat.device_class, lat.unit_of_measurement], ['duration', 'ms'], `${s} latency`);
      const rate = byTopic[`homeassistant/sensor/sbc-audio-sim/${s}_rate/config`]!;
      assert.deepEqual([rate.device_class, rate.unit_of_measurement], ['frequency', 'Hz'], `${s} rate`);
    }
    // select: command_topic and options required; FACTS.md DAC_CTRL bits [2:1] FILTER: 0 sharp,
    // 1 slow, 2 low-latency (3 reserved: not an option).
    const sel = byTopic['homeassistant/select/sbc-audio-sim/sim-codec_dac-filter/config']!;
    assert.equal(sel.command_topic, 'sbc-audio/sim/sim-codec/dac-filter/set');
    assert.deepEqual(sel.options, ['sharp', 'slow', 'low-latency']);
  });

  it('is online (retained) with the board\'s starting states', async () => {
    observer = subscribe(broker!.port, ['sbc-audio/#']);
    const state = (t: string) => observer!.last(`sbc-audio/sim/${t}/state`)?.payload;
    // The retained messages arrive at SUBSCRIBE: seeing them means the observer is subscribed.
    await waitFor('online and the retained states', () => observer!.last('sbc-audio/sim/availability') && state('mic/rate') !== undefined && state('sim-codec/dac-filter') !== undefined, GUARD_MS);
    assert.deepEqual(observer.last('sbc-audio/sim/availability'), { topic: 'sbc-audio/sim/availability', payload: 'online', retain: true });
    assert.equal(state('speaker/volume'), String(SPEAKER_GAIN_DEFAULT_DB));
    assert.equal(state('speaker/mute'), 'OFF'); // board/sim.json "speaker.mute": false
    assert.equal(state('headphone/plugged'), 'OFF'); // the simulated jack starts out
    assert.equal(state('speaker/plugged'), undefined); // hardwired
    assert.equal(state('sim-codec/dac-filter'), 'sharp'); // FACTS.md: DAC_CTRL resets to 0x00, FILTER 0 = sharp
    assert.equal(state('speaker/rate'), 'None'); // idle: unknown (HA's PAYLOAD_NONE)
    assert.equal(state('speaker/xruns'), '0');
  });

  it('mosquitto_pub of a volume moves the speaker\'s monitor by the dB commanded and publishes the new state; the same on a wrong topic moves nothing', async () => {
    const speaker = path.join(runtimeDir, 'audio-output', 'sim.speaker');
    const monitor = path.join(runtimeDir, 'audio-input', 'sim.speaker.monitor');
    let monitorStartNs = 0;
    const monitorAc = new AbortController();
    const recording = recordSamples({ endpoint: monitor, rate: RATE, channels: CHANNELS, signal: monitorAc.signal, onOpen: ({ startTimeNs }) => { monitorStartNs = startTimeNs; } }, RATE * 120);
    recording.catch(() => {});
    const toneAc = new AbortController();
    let tone: Promise<unknown> | undefined;
    try {
      await waitFor('the monitor recording started', () => monitorStartNs > 0, GUARD_MS);
      let startNs = 0;
      tone = playSamples({ endpoint: speaker, rate: RATE, channels: CHANNELS, signal: toneAc.signal, onOpen: ({ startTimeNs }) => { startNs = startTimeNs; } }, toneSamples(1000, 90, RATE, CHANNELS, TONE_DB));
      tone.catch(() => {});
      await waitFor('the tone started', () => startNs > 0, GUARD_MS);
      await waitFor('the speaker running (published)', () => observer!.last('sbc-audio/sim/speaker/rate/state')?.payload === String(RATE), GUARD_MS);

      // 1 s at the default gain, then the payload on a wrong topic (the command topic without /set).
      await waitFor('1 s of the tone', () => monoNs() > startNs + 1e9, GUARD_MS);
      const wrongNs = monoNs();
      const seenBefore = observer!.messages.length;
      await publish(broker!.port, 'sbc-audio/sim/speaker/volume', String(SPEAKER_GAIN_SET_DB));
      await sleep(1500);
      // The right topic.
      const rightNs = monoNs();
      await publish(broker!.port, 'sbc-audio/sim/speaker/volume/set', String(SPEAKER_GAIN_SET_DB));
      await waitFor(`the volume state ${SPEAKER_GAIN_SET_DB} published`, () => observer!.last('sbc-audio/sim/speaker/volume/state')?.payload === String(SPEAKER_GAIN_SET_DB), GUARD_MS);
      const settledNs = monoNs();
      // Nothing but that one volume state between the two commands.
      const volumeStates = observer!.messages.slice(seenBefore).filter((m) => m.topic === 'sbc-audio/sim/speaker/volume/state');
      assert.deepEqual(volumeStates, [{ topic: 'sbc-audio/sim/speaker/volume/state', payload: String(SPEAKER_GAIN_SET_DB), retain: false }]);
      // The control model agrees (the HTTP API's word).
      const c = await (await fetch(`${serve!.url}api/controls/sim.speaker.gain`)).json() as { value: number };
      assert.equal(c.value, SPEAKER_GAIN_SET_DB);
      await sleep(1200);
      const stopNs = monoNs();
      toneAc.abort('test done');
      await tone;
      monitorAc.abort('test done');
      const rec = await recording;

      // Monitor frame k is the output at its start_time − 50 ms + k / rate (docs/PROTOCOL.md,
      // "Monitor endpoints"); margins of 0.3 s after each change (ramps, a late capture).
      const frameAt = (ns: number) => Math.round(((ns - monitorStartNs + 50e6) * RATE) / 1e9);
      const atDefault = medianBlockPeakDb(rec, frameAt(startNs + 0.3e9), frameAt(wrongNs - 0.05e9), 'at the default gain');
      const afterWrong = medianBlockPeakDb(rec, frameAt(wrongNs + 0.3e9), frameAt(rightNs - 0.05e9), 'after the wrong topic');
      const afterRight = medianBlockPeakDb(rec, frameAt(settledNs + 0.3e9), frameAt(stopNs - 0.1e9), 'after the command');
      const moved = SPEAKER_GAIN_SET_DB - SPEAKER_GAIN_DEFAULT_DB; // −10 dB
      console.log(`      monitor: ${atDefault.toFixed(2)} dBFS at ${SPEAKER_GAIN_DEFAULT_DB} dB, ${afterWrong.toFixed(2)} after the wrong topic, ${afterRight.toFixed(2)} after ${SPEAKER_GAIN_SET_DB} on volume/set`);
      // The tone at −6 dBFS through −20 dB: the monitor carries it (not silence).
      assert.ok(Math.abs(atDefault - (TONE_DB + SPEAKER_GAIN_DEFAULT_DB)) <= 1, `the monitor reads ${atDefault.toFixed(2)} dBFS at the default gain, expected ${TONE_DB + SPEAKER_GAIN_DEFAULT_DB} ± 1`);
      // The negative control: the wrong topic left the level alone, so the ±1 dB check fails on it.
      assert.ok(Math.abs(afterWrong - atDefault - moved) > 1, `the monitor moved ${(afterWrong - atDefault).toFixed(2)} dB on a command to a wrong topic`);
      assert.ok(Math.abs(afterWrong - atDefault) <= 1, `the monitor moved ${(afterWrong - atDefault).toFixed(2)} dB on a command to a wrong topic`);
      // The analog truth.
      assert.ok(Math.abs(afterRight - afterWrong - moved) <= 1, `the monitor moved ${(afterRight - afterWrong).toFixed(2)} dB, expected ${moved} ± 1`);
    } finally {
      toneAc.abort('test done');
      monitorAc.abort('test done');
      await tone?.catch(() => {});
      await recording.catch(() => {});
    }
    // Stopped: the rate goes back to unknown.
    await waitFor('the speaker idle (published)', () => observer!.last('sbc-audio/sim/speaker/rate/state')?.payload === 'None', GUARD_MS);
  });

  it('publishes the simulated jack: ON on the plug\'s state topic when it goes in, OFF when out', async () => {
    const topic = 'sbc-audio/sim/headphone/plugged/state';
    assert.equal(observer!.last(topic)?.payload, 'OFF'); // negative control
    await runCli(['sim', 'jack', 'headphone', 'in', '--board', 'sim', '--runtime-dir', runtimeDir]);
    await waitFor('plugged ON', () => observer!.last(topic)?.payload === 'ON', GUARD_MS);
    await runCli(['sim', 'jack', 'headphone', 'out', '--board', 'sim', '--runtime-dir', runtimeDir]);
    await waitFor('plugged OFF', () => observer!.last(topic)?.payload === 'OFF', GUARD_MS);
  });

  it('goes offline by its last will when serve is killed with SIGKILL (mosquitto_sub hears online, then offline)', async () => {
    const avail = subscribe(broker!.port, ['sbc-audio/sim/availability'], ['-C', '2']);
    subs.push(avail);
    await waitFor('mosquitto_sub hears online (retained)', () => avail.messages.length >= 1, GUARD_MS);
    assert.deepEqual(avail.messages[0], { topic: 'sbc-audio/sim/availability', payload: 'online', retain: true });
    serve!.child.kill('SIGKILL');
    await waitFor('mosquitto_sub hears offline', () => avail.messages.length >= 2, GUARD_MS);
    assert.equal(avail.messages[1]!.payload, 'offline');
    assert.equal(await exitCode('mosquitto_sub -C 2', avail.exited, GUARD_MS), 0, avail.err());
    // Retained: a newcomer (HA starting later) reads offline.
    const late = subscribe(broker!.port, ['sbc-audio/sim/availability'], ['-C', '1']);
    subs.push(late);
    await waitFor('a newcomer reads the availability', () => late.messages.length >= 1, GUARD_MS);
    assert.deepEqual(late.messages[0], { topic: 'sbc-audio/sim/availability', payload: 'offline', retain: true });
  });

  it('negative control: a serve whose configuration has no "mqtt" publishes nothing', async () => {
    const quiet = subscribe(broker!.port, ['sbc-audio/#', 'homeassistant/#']);
    subs.push(quiet);
    // Subscribed once the retained availability (offline, from the killed serve) has come.
    await waitFor('the retained availability', () => quiet.last('sbc-audio/sim/availability'), GUARD_MS);
    const configDir = path.join(dir, 'etc-no-mqtt');
    mkdirSync(configDir);
    writeFileSync(path.join(configDir, 'config.json'), '{}');
    const other = await startServeWithConfig(configDir, path.join(dir, 'run2'));
    try {
      // The real serve connected within moments of its http line (it starts the bridge before
      // that line); this one is given 3 s, then the sentinel bounds what we read.
      await sleep(3000);
      await publish(broker!.port, 'sbc-audio/test/sentinel', 'end');
      await waitFor('the sentinel', () => quiet.last('sbc-audio/test/sentinel'), GUARD_MS);
      const live = quiet.messages.filter((m) => !m.retain && m.topic !== 'sbc-audio/test/sentinel');
      assert.deepEqual(live, [], 'serve without an mqtt configuration published');
      assert.doesNotMatch(other.err(), /MQTT/);
    } finally {
      await other.stop();
    }
  });
});
