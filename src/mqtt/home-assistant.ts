/**
 * Home Assistant over MQTT (issue 24): the appliance's streams and the codec's enum controls as
 * Home Assistant entities, found by HA's MQTT discovery, their states published on change, their
 * commands applied through the control model (ApplianceSource.setControl, the one parser and the
 * one set of checks that the CLI, OSC and the web API use too).
 *
 * MQTT.js (`mqtt` 5) is the client: it gives the last will, automatic reconnection and the
 * async publish/subscribe we need, and it is the package the issue names.
 *
 * Topics (`<base>` = `sbc-audio/<board>`):
 *   <base>/availability                     online / offline, retained; the client's last will is
 *                                           offline (retained), so a killed process goes offline.
 *   <base>/<stream>/<thing>/state           retained, published at start, on every (re)connect
 *                                           and on change; <thing>: volume, mute, plugged,
 *                                           xruns, latency, rate.
 *   <base>/<stream>/latency/attributes      the latency breakdown with its sources (JSON).
 *   <base>/<part>/<control>/state           an enum control of the codec (a `select`).
 *   <base>/.../set                          commands (volume, mute, the selects), subscribed.
 *   <prefix>/<component>/<nodeId>/<object>/config   discovery, retained.
 *
 * What Home Assistant's documentation says, in our words (home-assistant.io; the pages' sources are
 * source/_integrations/<page>.markdown in the home-assistant/home-assistant.io repository):
 *
 * - Discovery (integrations/mqtt, "MQTT Discovery"): a config is published to
 *   `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`; the prefix defaults to
 *   `homeassistant`; node_id and object_id may only hold [a-zA-Z0-9_-]; node_id is not used by HA
 *   but structures the topics. The payload is a JSON dictionary checked like YAML configuration:
 *   every variable the component requires must be there, unknown keys are ignored. An empty payload
 *   on the config topic deletes the entity. The page's examples publish configs retained ("-r"):
 *   without it the entity is gone after HA restarts. An `object_id` in the payload is used instead
 *   of the name to make the entity_id.
 * - Device block (each component page, `device`): ties entities into the device registry; only
 *   with `unique_id` set; at least one of `identifiers` or `connections`; optional `name`,
 *   `manufacturer`, `model`, `sw_version`. `unique_id`: two entities with one unique_id make HA
 *   raise an exception.
 * - Availability (each component page): `availability`, a list of {topic, payload_available
 *   (default "online"), payload_not_available (default "offline")}. The binary_sensor page: with
 *   availability set, the entity starts unavailable until the available payload arrives; retained
 *   availability messages give the right state at HA's start.
 * - number (integrations/number.mqtt): `command_topic` required; `state_topic` optional (without
 *   it the number is optimistic); `min` default 1, `max` default 100 (so a dB range must be given),
 *   `step` default 1 and at least 0.001; `mode` auto / box / slider; `unit_of_measurement`;
 *   `payload_reset` (default "None") on the state topic sets the state to unknown. The number
 *   integration page lists no device class for a gain in dB (signal_strength and sound_pressure
 *   mean other things), so none is set.
 * - switch (integrations/switch.mqtt): `payload_on` default "ON", `payload_off` default "OFF",
 *   used both as the command sent and the state compared; with a `state_topic` the switch waits
 *   for the device's state (not optimistic). One stored version of the page lists `command_topic`
 *   as optional; we always give it.
 * - binary_sensor (integrations/binary_sensor.mqtt): `state_topic` required; `payload_on` "ON",
 *   `payload_off` "OFF" by default. Device class `plug` (integrations/binary_sensor): on means
 *   plugged in, off unplugged.
 * - sensor (integrations/sensor.mqtt): `state_topic` required; with a unit or a state class a
 *   numeric value is expected, an empty payload is ignored, and "None" (HA's PAYLOAD_NONE in
 *   homeassistant/components/mqtt; one version of the page writes 'null') makes the state unknown.
 *   Device classes (integrations/sensor): `duration` in d, h, min, s, ms; `frequency` in Hz, kHz,
 *   MHz, GHz. State class `total_increasing` (developers.home-assistant.io blog 2021-08-16,
 *   "New sensor state class: total_increasing"): a monotonically increasing total; a decrease is
 *   read as a new cycle — so xruns counted since the service started fit (a restart resets them).
 * - select (integrations/select.mqtt): `command_topic` and `options` required; the option is sent
 *   as the command payload.
 * - Birth / last will (integrations/mqtt): HA's own status is on `homeassistant/status`; we do not
 *   follow it: our configs are retained, which the discovery page gives as the other way.
 *
 * Unknown (not found in the pages read): whether a `select` takes "None" as unknown (HA core's
 * MQTT code uses PAYLOAD_NONE for the other components); we publish "None" for an enum whose
 * value is not known, as for the others.
 */
import { randomBytes } from 'node:crypto';
import { type IClientOptions, type MqttClient, connect as mqttConnect } from 'mqtt';
import type { ControlInfo, ControlListing } from '../control/types.ts';
import { ClientLogLimiter } from '../stream/log-limit.ts';
import type { ApplianceEvent, ApplianceSource, StreamStatus } from '../web/source.ts';

/** HA's default discovery prefix (integrations/mqtt, "Discovery options"). */
export const DEFAULT_DISCOVERY_PREFIX = 'homeassistant';
/** Availability payloads: HA's defaults for payload_available / payload_not_available. */
export const ONLINE = 'online';
export const OFFLINE = 'offline';
/** Switch and binary_sensor payloads: HA's defaults for payload_on / payload_off. */
export const PAYLOAD_ON = 'ON';
export const PAYLOAD_OFF = 'OFF';
/** The state payload HA reads as unknown (PAYLOAD_NONE, homeassistant/components/mqtt). */
export const PAYLOAD_UNKNOWN = 'None';
/** HA's smallest number step (integrations/number.mqtt, `step`): a control with step 0 (any value) gets this. */
export const HA_MIN_STEP = 0.001;
/**
 * Command payloads longer than this are refused before decoding: the longest we take is an enum's
 * value name or a dB number, well under 100 bytes; 256 leaves room for a long value name.
 */
export const MAX_COMMAND_BYTES = 256;
/** How long start waits for the first connection (and its publications) before it gives up. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10000;

export type HaComponent = 'number' | 'switch' | 'binary_sensor' | 'sensor' | 'select';

/** What can be wrong with a command (each counted, each kind logged once a minute at most). */
export const HA_BAD_KINDS = ['oversized', 'bad-payload', 'unknown-topic', 'retained', 'refused', 'error'] as const;
export type HaBadKind = (typeof HA_BAD_KINDS)[number];

export interface HomeAssistantOptions {
  /** The broker, e.g. "mqtt://127.0.0.1:1883" (MQTT.js URL forms: mqtt://, mqtts://, ws://, wss://). */
  url: string;
  username?: string;
  password?: string;
  /** HA's discovery prefix (default "homeassistant"); topic levels of [a-zA-Z0-9_-]. */
  discoveryPrefix?: string;
  /** The discovery node id and the device's identifier (default "sbc-audio-<board>"); [a-zA-Z0-9_-]. */
  nodeId?: string;
  log?: (line: string) => void;
  /** Tests: how the client is made (default MQTT.js's connect). */
  clientFactory?: (url: string, opts: IClientOptions) => MqttClient;
  /** Start rejects when the first connection is not made (and published) within this (default 10 s). */
  connectTimeoutMs?: number;
  /** The command log limit (default: one line per kind a minute). */
  logLimit?: { linesPerWindow?: number; windowNs?: number; nowNs?: () => number };
}

export interface HomeAssistantStats {
  connected: boolean;
  /** Connections made (the first and each reconnection). */
  connects: number;
  /** Entities announced, per component. */
  entities: Record<HaComponent, number>;
  /** Messages handed to the client (configs, states, availability). */
  published: number;
  /** Messages received on command topics. */
  commands: number;
  /** Commands handed to setControl, and what it answered. */
  outcomes: { applied: number; coalesced: number; queued: number; refused: number };
  /** Commands not applied, per kind (a refusal by setControl counts here and in outcomes). */
  bad: Record<HaBadKind, number>;
  /** Log lines written (the limiter counts and sums up the rest). */
  logLines: number;
}

export interface HomeAssistantBridge {
  /** Publishes offline (retained), ends the client, stops following the source. */
  close(): Promise<void>;
  stats(): HomeAssistantStats;
  /** The topics, for callers that show them (`<base>` and the availability topic). */
  readonly baseTopic: string;
  readonly availabilityTopic: string;
}

/** A topic level or an id part HA accepts for node_id / object_id. */
const LEVEL = /^[a-zA-Z0-9_-]+$/;

interface Entity {
  component: HaComponent;
  /** object_id in the discovery topic: `<owner>_<thing>`. */
  object: string;
  config: Record<string, unknown>;
  stateTopic: string;
  commandTopic?: string;
  /** The control a command sets (and whose change events update the state). */
  controlId?: string;
  /** How a command's payload is read. */
  command?: 'number' | 'switch' | 'select';
}

export class HomeAssistantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HomeAssistantError';
  }
}

function checkLevel(value: string, what: string): string {
  if (!LEVEL.test(value)) throw new HomeAssistantError(`mqtt: ${what} ${JSON.stringify(value)} must be made of [a-zA-Z0-9_-] (HA's rule for node_id and object_id)`);
  return value;
}

function checkPrefix(value: string): string {
  // A topic prefix of levels; no wildcards (+, #), no empty level.
  if (!value.split('/').every((l) => LEVEL.test(l))) throw new HomeAssistantError(`mqtt: discoveryPrefix ${JSON.stringify(value)} must be topic levels of [a-zA-Z0-9_-] separated by "/"`);
  return value;
}

/** A number as HA reads it (a plain decimal; JSON's form). */
function num(v: number): string {
  return String(Math.round(v * 1e6) / 1e6);
}

const fmtDb = (db: number | null | undefined): string => (typeof db === 'number' && Number.isFinite(db) ? num(db) : PAYLOAD_UNKNOWN);
const fmtOnOff = (b: boolean | null | undefined): string => (b === true ? PAYLOAD_ON : b === false ? PAYLOAD_OFF : PAYLOAD_UNKNOWN);

/** The latency sensor's value: FIFO plus the known external items, ms; and its attributes. */
function latencyOf(s: StreamStatus): { state: string; attributes: string } {
  const l = s.latency;
  const knownNs = (l.fifoNs ?? 0) + l.totalNs;
  const unknown = [...l.unknown, ...(l.fifoNs === undefined ? ['engine FIFO: not reported by the service'] : [])];
  return {
    // The sum of what is known; `complete` in the attributes says whether anything is missing.
    state: Number.isFinite(knownNs) ? num(knownNs / 1e6) : PAYLOAD_UNKNOWN,
    attributes: JSON.stringify({
      complete: unknown.length === 0,
      fifo_ms: l.fifoNs === undefined ? null : l.fifoNs / 1e6,
      external_ms: l.totalNs / 1e6,
      rate: l.rate,
      items: l.items.map((i) => ({ what: i.what, ms: i.ns === null ? null : i.ns / 1e6, source: i.source })),
      unknown,
    }),
  };
}

/**
 * Starts the bridge: reads the controls and streams, connects, publishes the discovery configs,
 * the states and `online` (all retained), subscribes to the command topics, and follows the
 * source's events. Resolves once the first connection has published all that; rejects (naming the
 * URL) when that does not happen within `connectTimeoutMs`, or when an option is unusable.
 * Later disconnections are retried by MQTT.js; each reconnection publishes everything again.
 */
export async function startHomeAssistant(source: ApplianceSource, opts: HomeAssistantOptions): Promise<HomeAssistantBridge> {
  if (typeof opts.url !== 'string' || opts.url === '') throw new HomeAssistantError('mqtt: url: expected the broker URL, e.g. "mqtt://127.0.0.1:1883"');
  const board = checkLevel(source.board, 'board name');
  const prefix = checkPrefix(opts.discoveryPrefix ?? DEFAULT_DISCOVERY_PREFIX);
  const nodeId = checkLevel(opts.nodeId ?? `sbc-audio-${board}`, 'nodeId');
  const base = `sbc-audio/${board}`;
  const availabilityTopic = `${base}/availability`;
  const log = opts.log ?? ((line: string) => console.error(line));

  const stats: HomeAssistantStats = {
    connected: false, connects: 0,
    entities: { number: 0, switch: 0, binary_sensor: 0, sensor: 0, select: 0 },
    published: 0, commands: 0,
    outcomes: { applied: 0, coalesced: 0, queued: 0, refused: 0 },
    bad: Object.fromEntries(HA_BAD_KINDS.map((k) => [k, 0])) as Record<HaBadKind, number>,
    logLines: 0,
  };
  const limiter = new ClientLogLimiter((line) => { stats.logLines++; log(`mqtt: ${line}`); }, { linesPerWindow: 1, ...opts.logLimit });
  const CLIENT = 'commands';
  const bad = (kind: HaBadKind, line: () => string): void => {
    stats.bad[kind]++;
    if (limiter.allow(CLIENT, kind)) { stats.logLines++; log(`mqtt: ${line()}`); }
  };

  const listing: ControlListing = await source.listControls();
  const streams = source.streams();

  // ---- The entities.
  const device = {
    identifiers: [nodeId],
    name: listing.board.id,
    manufacturer: listing.board.vendor,
    ...(listing.parts.length ? { model: listing.parts.map((p) => p.name).join(', ') } : {}),
    sw_version: listing.board.version,
  };
  const availability = [{ topic: availabilityTopic, payload_available: ONLINE, payload_not_available: OFFLINE }];
  const entities: Entity[] = [];
  const add = (e: Omit<Entity, 'config'> & { name: string; extra: Record<string, unknown> }): void => {
    const uniqueId = `${nodeId}_${e.object}`;
    entities.push({
      component: e.component, object: e.object, stateTopic: e.stateTopic, commandTopic: e.commandTopic, controlId: e.controlId, command: e.command,
      config: {
        name: e.name,
        unique_id: uniqueId,
        object_id: uniqueId,
        state_topic: e.stateTopic,
        ...(e.commandTopic ? { command_topic: e.commandTopic } : {}),
        availability,
        device,
        ...e.extra,
      },
    });
    stats.entities[e.component]++;
  };

  /** Topic → the payload it should carry now (retained); what was sent on this connection. */
  const current = new Map<string, string>();
  const sent = new Map<string, string>();
  /** The client, once made (publish runs before it exists while the states are first set). */
  const link: { client?: MqttClient } = {};
  let closing = false;

  const publish = (topic: string, payload: string): void => {
    if (!link.client || !stats.connected) return;
    stats.published++;
    link.client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
      if (err && !closing) bad('error', () => `publish ${topic}: ${err.message}`);
    });
  };
  const setState = (topic: string, payload: string): void => {
    current.set(topic, payload);
    if (stats.connected && sent.get(topic) !== payload) {
      sent.set(topic, payload);
      publish(topic, payload);
    }
  };

  /** Control id → the state topics that show it, and how. */
  const byControl = new Map<string, { topic: string; render: (c: ControlInfo) => string }[]>();
  const follow = (id: string, topic: string, render: (c: ControlInfo) => string): void => {
    const l = byControl.get(id) ?? [];
    l.push({ topic, render });
    byControl.set(id, l);
  };
  const byCommand = new Map<string, Entity>();
  const streamTopics = new Map<string, (s: StreamStatus) => void>();

  for (const s of streams) {
    if (!LEVEL.test(s.id)) {
      log(`mqtt: stream ${JSON.stringify(s.id)} left out: its id is not usable in a topic ([a-zA-Z0-9_-])`);
      continue;
    }
    const t = (thing: string) => `${base}/${s.id}/${thing}`;
    const renders: ((st: StreamStatus) => void)[] = [];
    if (s.gain) {
      const g = s.gain;
      add({
        component: 'number', object: `${s.id}_volume`, name: `${s.id} volume`, stateTopic: `${t('volume')}/state`, commandTopic: `${t('volume')}/set`,
        controlId: g.id, command: 'number',
        extra: { min: g.min, max: g.max, step: g.step >= HA_MIN_STEP ? g.step : HA_MIN_STEP, unit_of_measurement: 'dB', mode: 'slider', payload_reset: PAYLOAD_UNKNOWN },
      });
      follow(g.id, `${t('volume')}/state`, (c) => fmtDb(typeof c.value === 'number' ? c.value : null));
      renders.push((st) => setState(`${t('volume')}/state`, fmtDb(st.gain?.db)));
      if (g.mutedId) {
        add({
          component: 'switch', object: `${s.id}_mute`, name: `${s.id} mute`, stateTopic: `${t('mute')}/state`, commandTopic: `${t('mute')}/set`,
          controlId: g.mutedId, command: 'switch',
          extra: { payload_on: PAYLOAD_ON, payload_off: PAYLOAD_OFF },
        });
        follow(g.mutedId, `${t('mute')}/state`, (c) => fmtOnOff(typeof c.value === 'boolean' ? c.value : null));
        renders.push((st) => setState(`${t('mute')}/state`, fmtOnOff(st.gain?.muted)));
      }
    }
    if (s.plugged !== undefined) {
      add({
        component: 'binary_sensor', object: `${s.id}_plugged`, name: `${s.id} plugged`, stateTopic: `${t('plugged')}/state`,
        extra: { device_class: 'plug', payload_on: PAYLOAD_ON, payload_off: PAYLOAD_OFF },
      });
      renders.push((st) => setState(`${t('plugged')}/state`, fmtOnOff(st.plugged)));
    }
    add({
      component: 'sensor', object: `${s.id}_xruns`, name: `${s.id} xruns`, stateTopic: `${t('xruns')}/state`,
      extra: { state_class: 'total_increasing' },
    });
    renders.push((st) => setState(`${t('xruns')}/state`, String(st.xruns.underruns + st.xruns.overruns)));
    add({
      component: 'sensor', object: `${s.id}_latency`, name: `${s.id} latency`, stateTopic: `${t('latency')}/state`,
      extra: { device_class: 'duration', unit_of_measurement: 'ms', state_class: 'measurement', json_attributes_topic: `${t('latency')}/attributes` },
    });
    renders.push((st) => {
      const l = latencyOf(st);
      setState(`${t('latency')}/state`, l.state);
      setState(`${t('latency')}/attributes`, l.attributes);
    });
    add({
      component: 'sensor', object: `${s.id}_rate`, name: `${s.id} sample rate`, stateTopic: `${t('rate')}/state`,
      extra: { device_class: 'frequency', unit_of_measurement: 'Hz', state_class: 'measurement' },
    });
    // The rate only while running: an idle stream has no rate in force (unknown, not 0).
    renders.push((st) => setState(`${t('rate')}/state`, st.state === 'running' && st.format ? String(st.format.rate) : PAYLOAD_UNKNOWN));
    streamTopics.set(s.id, (st) => { for (const r of renders) r(st); });
  }

  // The part's enum controls, one select each (a read-only one would be a sensor: left out).
  for (const c of listing.controls) {
    if (c.kind !== 'enum' || c.owner.kind !== 'part' || !c.writable) continue;
    const owner = c.owner.id;
    const pre = `${board}.${owner}.`;
    const name = c.id.startsWith(pre) ? c.id.slice(pre.length) : '';
    if (!LEVEL.test(owner) || !LEVEL.test(name)) {
      log(`mqtt: control ${c.id} left out: its id is not usable in a topic ([a-zA-Z0-9_-])`);
      continue;
    }
    const t = `${base}/${owner}/${name}`;
    add({
      component: 'select', object: `${owner}_${name}`, name: c.name, stateTopic: `${t}/state`, commandTopic: `${t}/set`,
      controlId: c.id, command: 'select',
      extra: { options: [...(c.values ?? [])] },
    });
    follow(c.id, `${t}/state`, (ci) => (typeof ci.value === 'string' ? ci.value : PAYLOAD_UNKNOWN));
    setState(`${t}/state`, typeof c.value === 'string' ? c.value : PAYLOAD_UNKNOWN);
  }
  // The streams' plugin chains (issue 29): each stage's on/off a switch, each control port a
  // number (a toggled port a switch), as the listing had them at the start.
  for (const c of listing.controls) {
    if (c.owner.kind !== 'stream' || !c.writable || !/\.fx\d+(-|$)/.test(c.id) || (c.kind !== 'number' && c.kind !== 'switch')) continue;
    const owner = c.owner.id;
    const pre = `${board}.${owner}.`;
    const name = c.id.startsWith(pre) ? c.id.slice(pre.length) : '';
    if (!LEVEL.test(owner) || !LEVEL.test(name)) {
      log(`mqtt: control ${c.id} left out: its id is not usable in a topic ([a-zA-Z0-9_-])`);
      continue;
    }
    const t = `${base}/${owner}/${name}`;
    if (c.kind === 'number') {
      const r = c.range!;
      add({
        component: 'number', object: `${owner}_${name.replaceAll('-', '_')}`, name: c.name, stateTopic: `${t}/state`, commandTopic: `${t}/set`,
        controlId: c.id, command: 'number',
        extra: { min: r.min, max: r.max, step: r.step >= HA_MIN_STEP ? r.step : Math.max(HA_MIN_STEP, (r.max - r.min) / 1000), mode: 'box', payload_reset: PAYLOAD_UNKNOWN },
      });
      follow(c.id, `${t}/state`, (ci) => fmtDb(typeof ci.value === 'number' ? ci.value : null));
      setState(`${t}/state`, fmtDb(typeof c.value === 'number' ? c.value : null));
    } else {
      add({
        component: 'switch', object: `${owner}_${name.replaceAll('-', '_')}`, name: c.name, stateTopic: `${t}/state`, commandTopic: `${t}/set`,
        controlId: c.id, command: 'switch', extra: { payload_on: PAYLOAD_ON, payload_off: PAYLOAD_OFF },
      });
      follow(c.id, `${t}/state`, (ci) => fmtOnOff(typeof ci.value === 'boolean' ? ci.value : null));
      setState(`${t}/state`, fmtOnOff(typeof c.value === 'boolean' ? c.value : null));
    }
  }
  for (const e of entities) if (e.commandTopic) byCommand.set(e.commandTopic, e);

  const onControl = (c: ControlInfo): void => {
    for (const f of byControl.get(c.id) ?? []) setState(f.topic, f.render(c));
  };
  const onStream = (s: StreamStatus): void => streamTopics.get(s.id)?.(s);
  for (const s of streams) onStream(s);
  const unsubscribe = source.onEvent((e: ApplianceEvent) => {
    try {
      if (e.type === 'control') onControl(e.control);
      else onStream(e.stream);
    } catch (err) {
      bad('error', () => `event ${e.type}: ${(err as Error).message}`);
    }
  });

  // ---- Commands.
  const apply = async (e: Entity, payload: Buffer, retained: boolean): Promise<void> => {
    stats.commands++;
    if (retained) {
      // A retained command would be applied again at every reconnection: not a command any more.
      bad('retained', () => `${e.commandTopic}: a retained command is ignored (publish commands without the retain flag)`);
      return;
    }
    if (payload.length > MAX_COMMAND_BYTES) {
      bad('oversized', () => `${e.commandTopic}: ${payload.length} bytes, more than ${MAX_COMMAND_BYTES}: ignored`);
      return;
    }
    const text = payload.toString('utf8');
    let value: unknown;
    if (e.command === 'number') {
      const s = text.trim();
      const n = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : NaN;
      if (!Number.isFinite(n)) {
        bad('bad-payload', () => `${e.commandTopic}: ${JSON.stringify(text.slice(0, 40))} is not a number: ignored`);
        return;
      }
      value = n;
    } else if (e.command === 'switch') {
      if (text === PAYLOAD_ON) value = true;
      else if (text === PAYLOAD_OFF) value = false;
      else {
        bad('bad-payload', () => `${e.commandTopic}: ${JSON.stringify(text.slice(0, 40))} is neither ${PAYLOAD_ON} nor ${PAYLOAD_OFF}: ignored`);
        return;
      }
    } else value = text;
    let answer: Awaited<ReturnType<ApplianceSource['setControl']>>;
    try {
      answer = await source.setControl(e.controlId!, value);
    } catch (err) {
      bad('error', () => `${e.commandTopic}: setting ${e.controlId} failed: ${(err as Error).message}`);
      return;
    }
    stats.outcomes[answer.status]++;
    if (answer.status === 'refused') {
      bad('refused', () => `${e.commandTopic}: ${e.controlId} refused ${JSON.stringify(text.slice(0, 40))}: ${answer.error ?? 'no reason given'}`);
      return;
    }
    if (answer.control) onControl(answer.control);
  };

  // ---- The connection.
  const clientOptions: IClientOptions = {
    clientId: `${nodeId}-${randomBytes(4).toString('hex')}`,
    clean: true,
    // We subscribe on every connect ourselves (after publishing the configs).
    resubscribe: false,
    reconnectPeriod: 2000,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    will: { topic: availabilityTopic, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
  };
  const factory = opts.clientFactory ?? ((url: string, o: IClientOptions) => mqttConnect(url, o));
  const c = factory(opts.url, clientOptions);
  link.client = c;

  let firstDone: (() => void) | undefined;
  let firstFailed: ((err: Error) => void) | undefined;
  const first = new Promise<void>((resolve, reject) => { firstDone = resolve; firstFailed = reject; });
  let lastError = '';

  c.on('connect', () => {
    stats.connected = true;
    stats.connects++;
    sent.clear();
    void (async () => {
      try {
        for (const e of entities) {
          stats.published++;
          await c.publishAsync(`${prefix}/${e.component}/${nodeId}/${e.object}/config`, JSON.stringify(e.config), { qos: 1, retain: true });
        }
        for (const [topic, payload] of current) { sent.set(topic, payload); publish(topic, payload); }
        const commandTopics = [...byCommand.keys()];
        if (commandTopics.length) await c.subscribeAsync(commandTopics, { qos: 1 });
        stats.published++;
        await c.publishAsync(availabilityTopic, ONLINE, { qos: 1, retain: true });
        if (stats.connects > 1) log(`mqtt: reconnected to ${opts.url}`);
        firstDone?.();
        firstDone = undefined;
      } catch (err) {
        if (!closing) bad('error', () => `announcing on ${opts.url}: ${(err as Error).message}`);
      }
    })();
  });
  c.on('close', () => { stats.connected = false; });
  c.on('error', (err) => {
    lastError = err.message;
    if (!closing) bad('error', () => `${opts.url}: ${err.message}`);
  });
  c.on('message', (topic, payload, packet) => {
    const e = byCommand.get(topic);
    if (!e) {
      bad('unknown-topic', () => `${topic}: not a command topic of ours: ignored`);
      return;
    }
    apply(e, payload, packet.retain === true).catch((err: Error) => bad('error', () => `${topic}: ${err.message}`));
  });

  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const timer = setTimeout(() => firstFailed?.(new HomeAssistantError(`mqtt: no connection to ${opts.url} within ${timeoutMs} ms${lastError ? `: ${lastError}` : ''}`)), timeoutMs);
  try {
    await first;
  } catch (err) {
    closing = true;
    unsubscribe();
    await c.endAsync(true).catch(() => {});
    limiter.flush();
    throw err;
  } finally {
    clearTimeout(timer);
  }

  let closed: Promise<void> | undefined;
  return {
    baseTopic: base,
    availabilityTopic,
    stats: () => ({ ...stats, entities: { ...stats.entities }, outcomes: { ...stats.outcomes }, bad: { ...stats.bad } }),
    close: () => {
      closed ??= (async () => {
        unsubscribe();
        // A clean disconnect does not fire the last will: offline is published here.
        if (stats.connected) {
          try {
            stats.published++;
            await c.publishAsync(availabilityTopic, OFFLINE, { qos: 1, retain: true });
          } catch (err) {
            log(`mqtt: publishing offline on close: ${(err as Error).message}`);
          }
        }
        closing = true;
        await c.endAsync(!stats.connected);
        stats.connected = false;
        limiter.flush();
      })();
      return closed;
    },
  };
}
