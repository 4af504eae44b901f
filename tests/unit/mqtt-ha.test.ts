/**
 * Home Assistant over MQTT (src/mqtt/home-assistant.ts) against a real broker: Debian's mosquitto,
 * started here on a free loopback port with a config of our own, and mosquitto_pub /
 * mosquitto_sub as the peers. The appliance is a FakeSource (tests/fixtures/mqtt-ha-child.ts).
 *
 * Field names and payloads expected below are Home Assistant's, written as literals from its
 * documentation (integrations/mqtt: the discovery topic; number.mqtt, switch.mqtt,
 * binary_sensor.mqtt, sensor.mqtt, select.mqtt: each component's required fields and defaults),
 * not read from the module under test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type MqttClient, connectAsync } from 'mqtt';
import { type HomeAssistantBridge, startHomeAssistant } from '../../src/mqtt/home-assistant.ts';
import { FAKE_FILTERS, FAKE_GAIN, FakeSource } from '../fixtures/mqtt-ha-child.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';
const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every message the observer saw, in order, and the newest per topic. */
interface Seen { topic: string; payload: string; retain: boolean }

describe('Home Assistant over MQTT: discovery, states and commands on a real mosquitto', function () {
  this.timeout(60000);
  let dir: string;
  let broker: ChildProcess | undefined;
  let brokerLog = '';
  let port = 0;
  let url = '';
  let observer: MqttClient | undefined;
  const seen: Seen[] = [];
  const last = (topic: string) => [...seen].reverse().find((m) => m.topic === topic);
  let source: FakeSource;
  let bridge: HomeAssistantBridge | undefined;
  const logs: string[] = [];

  before(async function () {
    if (!existsSync(MOSQUITTO) || !existsSync(MOSQUITTO_PUB) || !existsSync(MOSQUITTO_SUB)) {
      console.log(`    skipped: ${MOSQUITTO} and mosquitto-clients are needed (Debian: apt-get install mosquitto mosquitto-clients)`);
      this.skip();
    }
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-mqtt-'));
    port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    const conf = path.join(dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    broker = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    broker.stderr!.on('data', (d: Buffer) => { brokerLog += d.toString(); });
    let listening = false;
    const probe = setInterval(() => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => { listening = true; sock.destroy(); });
      sock.once('error', () => sock.destroy());
    }, 50);
    try {
      await waitFor(`mosquitto listening on ${port}`, () => {
        if (broker!.exitCode !== null) throw new Error(`mosquitto exited ${broker!.exitCode}: ${brokerLog}`);
        return listening;
      });
    } finally {
      clearInterval(probe);
    }

    source = new FakeSource('sim');
    bridge = await startHomeAssistant(source, { url, log: (l) => logs.push(l) });
    observer = await connectAsync(url, { clientId: 'test-observer' });
    observer.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await observer.subscribeAsync('#', { qos: 1 });
  });

  after(async () => {
    await bridge?.close().catch(() => {});
    await observer?.endAsync().catch(() => {});
    broker?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const CONFIGS = {
    'homeassistant/number/sbc-audio-sim/speaker_volume/config': 'number',
    'homeassistant/switch/sbc-audio-sim/speaker_mute/config': 'switch',
    'homeassistant/sensor/sbc-audio-sim/speaker_xruns/config': 'sensor',
    'homeassistant/sensor/sbc-audio-sim/speaker_latency/config': 'sensor',
    'homeassistant/sensor/sbc-audio-sim/speaker_rate/config': 'sensor',
    'homeassistant/number/sbc-audio-sim/headphone_volume/config': 'number',
    'homeassistant/binary_sensor/sbc-audio-sim/headphone_plugged/config': 'binary_sensor',
    'homeassistant/sensor/sbc-audio-sim/headphone_xruns/config': 'sensor',
    'homeassistant/sensor/sbc-audio-sim/headphone_latency/config': 'sensor',
    'homeassistant/sensor/sbc-audio-sim/headphone_rate/config': 'sensor',
    'homeassistant/select/sbc-audio-sim/sim-codec_dac-filter/config': 'select',
  } as const;

  it('publishes a discovery config, retained, on the documented topic of each entity, with the fields HA requires', async () => {
    const configs = await waitFor('all discovery configs', () => {
      const got = Object.keys(CONFIGS).map((t) => last(t));
      return got.every(Boolean) ? got.map((m) => ({ ...m!, json: JSON.parse(m!.payload) as Record<string, unknown> })) : undefined;
    });
    for (const c of configs) assert.equal(c.retain, true, `${c.topic} is retained`);
    // Negative controls: the hardwired speaker has no plug sensor, the headphone stream no mute,
    // the read-only enum no select; nothing else was announced under our node.
    const ours = new Set(seen.filter((m) => /^homeassistant\/[^/]+\/sbc-audio-sim\//.test(m.topic)).map((m) => m.topic));
    assert.deepEqual([...ours].sort(), Object.keys(CONFIGS).sort());

    const byTopic = Object.fromEntries(configs.map((c) => [c.topic, c.json]));
    const uniqueIds = new Set<unknown>();
    for (const [topic, json] of Object.entries(byTopic)) {
      // Every component: a unique_id (device registry needs it), a device with identifiers,
      // availability on our topic with HA's default payloads.
      assert.equal(typeof json.unique_id, 'string', `${topic}: unique_id`);
      uniqueIds.add(json.unique_id);
      const device = json.device as Record<string, unknown>;
      assert.deepEqual(device.identifiers, ['sbc-audio-sim'], `${topic}: device.identifiers`);
      assert.equal(device.manufacturer, 'Test Vendor');
      assert.equal(device.name, 'sim');
      assert.deepEqual(json.availability, [{ topic: 'sbc-audio/sim/availability', payload_available: 'online', payload_not_available: 'offline' }]);
      assert.equal(typeof json.state_topic, 'string', `${topic}: state_topic`);
    }
    assert.equal(uniqueIds.size, configs.length, 'unique_ids are unique');

    // number: command_topic required; min/max/step from the control; unit dB; a slider.
    const vol = byTopic['homeassistant/number/sbc-audio-sim/speaker_volume/config']!;
    assert.equal(vol.command_topic, 'sbc-audio/sim/speaker/volume/set');
    assert.equal(vol.state_topic, 'sbc-audio/sim/speaker/volume/state');
    assert.equal(vol.min, -103.5);
    assert.equal(vol.max, 24);
    assert.equal(vol.step, 0.5);
    assert.equal(vol.unit_of_measurement, 'dB');
    assert.equal(vol.mode, 'slider');
    assert.equal(FAKE_GAIN.min, -103.5); // the literal above is the fake's range, not the module's output
    // switch: command topic, ON / OFF.
    const mute = byTopic['homeassistant/switch/sbc-audio-sim/speaker_mute/config']!;
    assert.equal(mute.command_topic, 'sbc-audio/sim/speaker/mute/set');
    assert.equal(mute.payload_on, 'ON');
    assert.equal(mute.payload_off, 'OFF');
    // binary_sensor: state_topic required; the plug device class.
    const plug = byTopic['homeassistant/binary_sensor/sbc-audio-sim/headphone_plugged/config']!;
    assert.equal(plug.state_topic, 'sbc-audio/sim/headphone/plugged/state');
    assert.equal(plug.device_class, 'plug');
    assert.equal(plug.payload_on, 'ON');
    // sensors: xruns a total_increasing count; latency a duration in ms; the rate a frequency in Hz.
    assert.equal(byTopic['homeassistant/sensor/sbc-audio-sim/speaker_xruns/config']!.state_class, 'total_increasing');
    const lat = byTopic['homeassistant/sensor/sbc-audio-sim/speaker_latency/config']!;
    assert.equal(lat.device_class, 'duration');
    assert.equal(lat.unit_of_measurement, 'ms');
    const rate = byTopic['homeassistant/sensor/sbc-audio-sim/speaker_rate/config']!;
    assert.equal(rate.device_class, 'frequency');
    assert.equal(rate.unit_of_measurement, 'Hz');
    // select: command_topic and options required.
    const sel = byTopic['homeassistant/select/sbc-audio-sim/sim-codec_dac-filter/config']!;
    assert.equal(sel.command_topic, 'sbc-audio/sim/sim-codec/dac-filter/set');
    assert.deepEqual(sel.options, ['fir-fast', 'fir-slow', 'iir']);
    assert.deepEqual([...FAKE_FILTERS], ['fir-fast', 'fir-slow', 'iir']);
  });

  it('is online (retained) and has published every state at start', async () => {
    await waitFor('online', () => last('sbc-audio/sim/availability')?.payload === 'online');
    assert.equal(last('sbc-audio/sim/availability')!.retain, true);
    const state = (t: string) => last(`sbc-audio/sim/${t}/state`)?.payload;
    await waitFor('the states', () => state('speaker/volume') !== undefined && state('headphone/rate') !== undefined);
    assert.equal(state('speaker/volume'), '-30');
    assert.equal(state('speaker/mute'), 'OFF');
    assert.equal(state('headphone/mute'), undefined); // no mute on that stream
    assert.equal(state('headphone/plugged'), 'OFF');
    assert.equal(state('speaker/plugged'), undefined); // hardwired: no plug state
    assert.equal(state('speaker/xruns'), '0');
    assert.equal(state('speaker/latency'), '2.5'); // 2 ms FIFO + 0.5 ms filter (the fake's figures)
    assert.equal(state('speaker/rate'), 'None'); // idle: unknown, HA's PAYLOAD_NONE
    assert.equal(state('sim-codec/dac-filter'), 'fir-fast');
    const attrs = JSON.parse(last('sbc-audio/sim/speaker/latency/attributes')!.payload) as Record<string, unknown>;
    assert.equal(attrs.complete, true);
    assert.equal((attrs.items as { source: string }[])[0]!.source, 'made up for the test');
  });

  it('applies a volume from mosquitto_pub through setControl, and publishes the new state', async () => {
    const before = source.calls.length;
    await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'sbc-audio/sim/speaker/volume/set', '-m', '-20']);
    await waitFor('setControl called', () => source.calls.length > before);
    assert.deepEqual(source.calls.slice(before), [{ id: 'sim.speaker.gain', value: -20 }]);
    await waitFor('the volume state -20', () => last('sbc-audio/sim/speaker/volume/state')?.payload === '-20');
    // The other stream's volume did not move.
    assert.equal(last('sbc-audio/sim/headphone/volume/state')?.payload, '-30');
  });

  it('refuses a bad payload ("loud") and an out-of-range one, changes nothing, logs once per kind, and keeps working', async () => {
    const before = source.calls.length;
    const logBefore = logs.length;
    const pub = (t: string, m: string) => run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(port), '-t', t, '-m', m]);
    await pub('sbc-audio/sim/speaker/volume/set', 'loud');
    await pub('sbc-audio/sim/speaker/volume/set', 'loud');
    await pub('sbc-audio/sim/speaker/mute/set', 'maybe');
    await pub('sbc-audio/sim/speaker/volume/set', '-500');
    await pub('sbc-audio/sim/speaker/volume/set', '-501');
    // The sentinel: a good command after them, applied (the bridge did not crash).
    await pub('sbc-audio/sim/speaker/mute/set', 'ON');
    await waitFor('the mute state ON', () => last('sbc-audio/sim/speaker/mute/state')?.payload === 'ON');
    // "loud" and "maybe" never reached the control model; -500 and -501 did and were refused.
    assert.deepEqual(source.calls.slice(before), [
      { id: 'sim.speaker.gain', value: -500 },
      { id: 'sim.speaker.gain', value: -501 },
      { id: 'sim.speaker.mute', value: true },
    ]);
    assert.equal(last('sbc-audio/sim/speaker/volume/state')?.payload, '-20');
    const st = bridge!.stats();
    assert.equal(st.bad['bad-payload'], 3);
    assert.equal(st.bad.refused, 2);
    assert.equal(st.outcomes.refused, 2);
    const lines = logs.slice(logBefore);
    assert.equal(lines.filter((l) => l.includes('"loud"') || l.includes('"maybe"')).length, 1, `one bad-payload line: ${lines.join(' | ')}`);
    assert.equal(lines.filter((l) => l.includes('refused')).length, 1, `one refused line: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => l.includes('sbc-audio/sim/speaker/volume/set')), 'the line names the topic');
  });

  it('sets the DAC filter from its select, and refuses an option that is not one', async () => {
    const pub = (m: string) => run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'sbc-audio/sim/sim-codec/dac-filter/set', '-m', m]);
    await pub('brickwall');
    await pub('iir');
    await waitFor('the filter state iir', () => last('sbc-audio/sim/sim-codec/dac-filter/state')?.payload === 'iir');
    assert.deepEqual(source.calls.slice(-2), [{ id: 'sim.sim-codec.dac-filter', value: 'brickwall' }, { id: 'sim.sim-codec.dac-filter', value: 'iir' }]);
    assert.ok(!seen.some((m) => m.topic === 'sbc-audio/sim/sim-codec/dac-filter/state' && m.payload === 'brickwall'));
  });

  it('publishes stream changes: the jack, the rate while running, the xruns', async () => {
    assert.equal(last('sbc-audio/sim/headphone/plugged/state')?.payload, 'OFF'); // negative control
    source.changeStream('headphone', (s) => { s.plugged = true; });
    await waitFor('plugged ON', () => last('sbc-audio/sim/headphone/plugged/state')?.payload === 'ON');
    source.changeStream('headphone', (s) => { s.state = 'running'; s.format = { rate: 44100, channels: 2, bits: 32 }; s.xruns = { underruns: 2, overruns: 1 }; });
    await waitFor('rate 44100', () => last('sbc-audio/sim/headphone/rate/state')?.payload === '44100');
    await waitFor('xruns 3', () => last('sbc-audio/sim/headphone/xruns/state')?.payload === '3');
    // Published on change only: the same status again adds no state message.
    const count = seen.length;
    source.changeStream('headphone', () => {});
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(seen.slice(count).filter((m) => m.topic.startsWith('sbc-audio/sim/headphone/')).length, 0);
  });

  it('goes offline by its last will when the bridge process is killed with SIGKILL (mosquitto_sub hears it)', async function () {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/fixtures/mqtt-ha-child.ts', url, 'child'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let childErr = '';
    child.stderr!.on('data', (d: Buffer) => { childErr += d.toString(); });
    let childOut = '';
    child.stdout!.on('data', (d: Buffer) => { childOut += d.toString(); });
    try {
      await waitFor(`the child ready (stderr: ${childErr})`, () => {
        if (child.exitCode !== null) throw new Error(`child exited ${child.exitCode}: ${childErr}`);
        return childOut.includes('ready');
      }, 30000);
      // The real peer: it prints the retained "online" first (so it is subscribed), then the will.
      const sub = spawn(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'sbc-audio/child/availability', '-C', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let subOut = '';
      sub.stdout!.on('data', (d: Buffer) => { subOut += d.toString(); });
      await waitFor('mosquitto_sub hears online', () => subOut === 'online\n');
      const killedAt = Date.now();
      child.kill('SIGKILL');
      await waitFor('mosquitto_sub hears offline', () => subOut === 'online\noffline\n', 10000);
      const ms = Date.now() - killedAt;
      assert.ok(ms < 10000, `offline ${ms} ms after the kill`);
      await waitFor('mosquitto_sub exits', () => sub.exitCode !== null);
      assert.equal(sub.exitCode, 0);
      // Retained: a newcomer reads offline.
      const { stdout } = await run(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'sbc-audio/child/availability', '-C', '1', '-W', '5']);
      assert.equal(stdout, 'offline\n');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('close() publishes offline (retained), stops following the source and ends the client', async () => {
    assert.equal(last('sbc-audio/sim/availability')?.payload, 'online'); // negative control
    assert.equal(source.listenerCount, 1);
    await bridge!.close();
    await waitFor('offline', () => last('sbc-audio/sim/availability')?.payload === 'offline');
    assert.equal(source.listenerCount, 0);
    assert.equal(bridge!.stats().connected, false);
    const { stdout } = await run(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'sbc-audio/sim/availability', '-C', '1', '-W', '5']);
    assert.equal(stdout, 'offline\n');
    // A command now reaches nothing.
    const n = source.calls.length;
    await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(port), '-t', 'sbc-audio/sim/speaker/volume/set', '-m', '-10']);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(source.calls.length, n);
    await bridge!.close(); // twice is fine
  });
});

describe('Home Assistant over MQTT: bad options and no broker', () => {
  it('refuses a node id HA would not take, naming the option', async () => {
    await assert.rejects(startHomeAssistant(new FakeSource('sim'), { url: 'mqtt://127.0.0.1:1', nodeId: 'bad/id' }), /nodeId "bad\/id".*\[a-zA-Z0-9_-\]/);
    await assert.rejects(startHomeAssistant(new FakeSource('sim'), { url: 'mqtt://127.0.0.1:1', discoveryPrefix: 'home/#' }), /discoveryPrefix/);
    await assert.rejects(startHomeAssistant(new FakeSource('sim'), { url: '' }), /url/);
  });

  it('rejects, naming the URL, when no broker answers within the timeout, and stops following the source', async () => {
    const port = await freePort(); // nothing listens there
    const src = new FakeSource('sim');
    await assert.rejects(startHomeAssistant(src, { url: `mqtt://127.0.0.1:${port}`, connectTimeoutMs: 500, log: () => {} }), new RegExp(`mqtt://127\\.0\\.0\\.1:${port}`));
    assert.equal(src.listenerCount, 0);
  });
});
