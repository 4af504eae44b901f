/**
 * The system's configuration file, /etc/sbc-audio/config.json (or $SBC_AUDIO_CONFIG_DIR/config.json):
 * what `sbc-audio serve` runs when the service starts it without options, and what `doctor` checks.
 *
 *   { "board": "waveshare-wm8960-hat", "group": "audio", "idlePowerDownMs": 3000, "binds": ["headphone", "microphone"] }
 *
 * `binds`: the board's streams the service binds an endpoint for (a socket under audio-output/ or
 * audio-input/), by stream id; the others are not published and their PCMs never opened (e.g. a
 * HAT's speaker output where nothing is wired). Absent: every stream of the board. Checked against
 * the board when serve starts (`boundStreams`): an id the board does not have is an error there.
 *
 * Every field is optional; command-line options win. An unknown field or a wrong value is an
 * error naming the file and the field.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Board, BoardFileError } from '../board/schema.ts';
import type { HostRoot } from './host.ts';
import { ChainConfigError, type PluginsConfig, parsePluginsConfig } from '../dsp/chain-spec.ts';

/** A wrong configuration file: `FILE: FIELD: expected …, got …` (as a board file's errors read). */
export class ConfigFileError extends Error {
  constructor(readonly file: string, readonly field: string, readonly expected: string, readonly got: unknown) {
    super(new BoardFileError(file, field, expected, got).message);
    this.name = 'ConfigFileError';
  }
}

export interface SystemConfig {
  file: string;
  board?: string;
  /** The group whose members may connect (sockets 0660 root:GROUP). */
  group?: string;
  runtimeDir?: string;
  idlePowerDownMs?: number;
  /** The stream ids of the board that get an endpoint (default: all). */
  binds?: string[];
  /** Home Assistant over MQTT (docs/REMOTE.md): the broker and how to log in. */
  mqtt?: { url: string; username?: string; passwordFile?: string; discoveryPrefix?: string };
  /** LADSPA plugin chains by output stream id (src/dsp/chain-spec.ts; docs/engine.md, "Plugins in the chain"). */
  plugins?: PluginsConfig;
  /** The plugin directories when LADSPA_PATH is not set (absolute paths). */
  ladspaPath?: string[];
  /** DSSI plugin directories searched before DSSI_PATH / LADSPA_PATH / the usual ones (absolute paths). */
  dssiPath?: string[];
}

const KEYS = ['$schema', 'board', 'group', 'runtimeDir', 'idlePowerDownMs', 'binds', 'mqtt', 'plugins', 'ladspaPath', 'dssiPath'];
/** A stream id as board files spell them. */
const STREAM_ID = /^[a-z0-9][a-z0-9-]*$/;

export function configFile(root?: HostRoot, env: NodeJS.ProcessEnv = process.env): string {
  const d = env.SBC_AUDIO_CONFIG_DIR;
  if (d && path.isAbsolute(d)) return path.join(d, 'config.json');
  return root ? root.at('/etc/sbc-audio/config.json') : '/etc/sbc-audio/config.json';
}

/** Reads the configuration file; undefined where there is none. Errors name the file and field. */
export function loadConfig(root?: HostRoot, file = configFile(root)): SystemConfig | undefined {
  if (!existsSync(file)) return undefined;
  const bad = (field: string, expected: string, got: unknown) => new ConfigFileError(file, field, expected, got);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw bad('', 'valid JSON', (e as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('', 'an object', raw);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw bad(k, `no such field (known fields: ${KEYS.slice(1).join(', ')})`, o[k]);
  const out: SystemConfig = { file };
  if (o.board !== undefined) {
    if (typeof o.board !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(o.board)) throw bad('board', 'a board name (lowercase letters, digits and dashes)', o.board);
    out.board = o.board;
  }
  if (o.group !== undefined) {
    if (typeof o.group !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(o.group)) throw bad('group', 'a group name (e.g. "audio")', o.group);
    out.group = o.group;
  }
  if (o.runtimeDir !== undefined) {
    if (typeof o.runtimeDir !== 'string' || !path.isAbsolute(o.runtimeDir)) throw bad('runtimeDir', 'an absolute path', o.runtimeDir);
    out.runtimeDir = o.runtimeDir;
  }
  if (o.idlePowerDownMs !== undefined) {
    const v = o.idlePowerDownMs;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 3_600_000) throw bad('idlePowerDownMs', 'an integer from 0 to 3600000 (ms)', v);
    out.idlePowerDownMs = v;
  }
  if (o.binds !== undefined) {
    if (!Array.isArray(o.binds) || o.binds.length === 0) throw bad('binds', 'a non-empty array of stream ids of the board (e.g. ["line-out"]); leave it out to publish every stream', o.binds);
    const seen = new Set<string>();
    o.binds.forEach((id: unknown, i) => {
      if (typeof id !== 'string' || !STREAM_ID.test(id)) throw bad(`binds[${i}]`, 'a stream id (lowercase letters, digits and dashes)', id);
      if (seen.has(id)) throw bad(`binds[${i}]`, 'each stream once', id);
      seen.add(id);
    });
    out.binds = o.binds as string[];
  }
  if (o.plugins !== undefined) {
    try {
      out.plugins = parsePluginsConfig(o.plugins, file);
    } catch (e) {
      if (e instanceof ChainConfigError) throw Object.assign(bad(e.field, e.message, undefined), { message: e.message });
      throw e;
    }
  }
  if (o.ladspaPath !== undefined) {
    if (!Array.isArray(o.ladspaPath) || !o.ladspaPath.every((d) => typeof d === 'string' && path.isAbsolute(d))) throw bad('ladspaPath', 'a list of absolute directories (e.g. ["/usr/lib/ladspa"])', o.ladspaPath);
    out.ladspaPath = o.ladspaPath as string[];
  }
  if (o.dssiPath !== undefined) {
    if (!Array.isArray(o.dssiPath) || !o.dssiPath.every((d) => typeof d === 'string' && path.isAbsolute(d))) throw bad('dssiPath', 'a list of absolute directories (e.g. ["/usr/lib/dssi"])', o.dssiPath);
    out.dssiPath = o.dssiPath as string[];
  }
  if (o.mqtt !== undefined) {
    const m = o.mqtt;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) throw bad('mqtt', 'an object { "url": "mqtt://broker:1883", "username"?, "passwordFile"?, "discoveryPrefix"? }', m);
    const mo = m as Record<string, unknown>;
    const MQTT_KEYS = ['url', 'username', 'passwordFile', 'discoveryPrefix'];
    for (const k of Object.keys(mo)) if (!MQTT_KEYS.includes(k)) throw bad(`mqtt.${k}`, `no such field (known fields: ${MQTT_KEYS.join(', ')})`, mo[k]);
    if (typeof mo.url !== 'string' || !/^(mqtts?|wss?):\/\/[^\s/]+/.test(mo.url)) throw bad('mqtt.url', 'a broker URL (mqtt://host:1883, mqtts://host:8883)', mo.url);
    if (mo.username !== undefined && (typeof mo.username !== 'string' || mo.username === '')) throw bad('mqtt.username', 'a user name', mo.username);
    // The password is kept out of this file (readable by the group): a file of its own, 0600.
    if (mo.passwordFile !== undefined && (typeof mo.passwordFile !== 'string' || !path.isAbsolute(mo.passwordFile))) throw bad('mqtt.passwordFile', 'an absolute path to a file holding the password', mo.passwordFile);
    if (mo.discoveryPrefix !== undefined && (typeof mo.discoveryPrefix !== 'string' || !/^[A-Za-z0-9_/-]+$/.test(mo.discoveryPrefix))) throw bad('mqtt.discoveryPrefix', 'a topic prefix (Home Assistant\'s default is "homeassistant")', mo.discoveryPrefix);
    out.mqtt = {
      url: mo.url, ...(mo.username !== undefined ? { username: mo.username as string } : {}),
      ...(mo.passwordFile !== undefined ? { passwordFile: mo.passwordFile as string } : {}),
      ...(mo.discoveryPrefix !== undefined ? { discoveryPrefix: mo.discoveryPrefix as string } : {}),
    };
  }
  return out;
}

/**
 * The stream ids `serve` publishes for this board: the config's `binds`, each one a stream of the
 * board (an error naming the file, the field and the board's streams otherwise), or every stream.
 */
export function boundStreams(board: Board, config: SystemConfig | undefined): string[] {
  const all = board.streams.map((s) => s.id);
  if (!config?.binds) return all;
  config.binds.forEach((id, i) => {
    if (!all.includes(id)) throw new ConfigFileError(config.file, `binds[${i}]`, `a stream of board ${board.name} (${all.join(', ')})`, id);
  });
  return all.filter((id) => config.binds!.includes(id));
}
