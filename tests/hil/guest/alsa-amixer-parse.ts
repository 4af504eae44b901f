/**
 * Parsers of `amixer` output (alsa-utils 1.2.x), so the guest checks can compare what our binding
 * reads with what a peer we did not write lists. Formats as amixer prints them:
 *
 *   contents:  numid=1,iface=MIXER,name='Master Volume'[,index=N][,device=N][,subdevice=N]
 *                ; type=INTEGER,access=rw---R--,values=2,min=-50,max=100,step=0
 *                ; Item #0 'None'                       (ENUMERATED)
 *                : values=0,0                           (BOOLEAN on/off, ENUMERATED item numbers)
 *                | dBscale-min=-45.00dB,step=0.30dB,mute=0   (or dBminmax-min=..,max=..)
 *   scontents: Simple mixer control 'Master',0
 *                Capabilities: volume cswitch
 *                Limits: -50 - 100                 (or "Limits: Playback a - b" / "Capture c - d")
 *                Front Left: 0 [33%] [-30.00dB] Capture [off]
 *                Items: 'None' 'CD Player'
 *                Item0: 'CD Player'
 */

export interface AmixerControl {
  numid: number;
  iface: string;
  name: string;
  index: number;
  device: number;
  subdevice: number;
  type: string;
  access: string;
  count: number;
  min?: number;
  max?: number;
  step?: number;
  items: string[];
  values: number[];
  dbMin?: number;
  dbMax?: number;
}

function keyValues(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** `amixer -c CARD contents`. */
export function parseAmixerContents(text: string): AmixerControl[] {
  const out: AmixerControl[] = [];
  let cur: AmixerControl | undefined;
  for (const line of text.split('\n')) {
    const head = /^numid=(\d+),iface=(\w+),name='(.*)'(.*)$/.exec(line);
    if (head) {
      const rest = keyValues(head[4]!);
      cur = {
        numid: Number(head[1]), iface: head[2]!, name: head[3]!, index: Number(rest.index ?? 0), device: Number(rest.device ?? 0),
        subdevice: Number(rest.subdevice ?? 0), type: '', access: '', count: 0, items: [], values: [],
      };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const item = /^\s+; Item #(\d+) '(.*)'$/.exec(line);
    if (item) {
      cur.items[Number(item[1])] = item[2]!;
      continue;
    }
    const info = /^\s+; (type=.*)$/.exec(line);
    if (info) {
      const kv = keyValues(info[1]!);
      cur.type = kv.type!;
      cur.access = kv.access ?? '';
      cur.count = Number(kv.values ?? 0);
      if (kv.min !== undefined) cur.min = Number(kv.min);
      if (kv.max !== undefined) cur.max = Number(kv.max);
      if (kv.step !== undefined) cur.step = Number(kv.step);
      continue;
    }
    const vals = /^\s+: values=(.*)$/.exec(line);
    if (vals) {
      cur.values = vals[1]!.split(',').map((v) => (v === 'on' ? 1 : v === 'off' ? 0 : Number(v)));
      continue;
    }
    const scale = /^\s+\| dBscale-min=(-?[\d.]+)dB,step=(-?[\d.]+)dB/.exec(line);
    if (scale && cur.min !== undefined && cur.max !== undefined) {
      cur.dbMin = Number(scale[1]);
      cur.dbMax = Number(scale[1]) + Number(scale[2]) * (cur.max - cur.min);
      continue;
    }
    const minmax = /^\s+\| dBminmax(?:mute)?-min=(-?[\d.]+)dB,max=(-?[\d.]+)dB/.exec(line);
    if (minmax) {
      cur.dbMin = Number(minmax[1]);
      cur.dbMax = Number(minmax[2]);
    }
  }
  return out;
}

export interface AmixerSideValues {
  volume?: number;
  db?: number;
  switch?: boolean;
}

export interface AmixerSimpleControl {
  name: string;
  index: number;
  capabilities: string[];
  /** "Limits: a - b" (common volume) or the playback limits. */
  playbackLimits?: [number, number];
  captureLimits?: [number, number];
  /** Per channel name: what follows "Playback" (or the bare common-volume value) and "Capture". */
  channels: Map<string, { playback: AmixerSideValues; capture: AmixerSideValues }>;
  items: string[];
  /** Item0's current item name. */
  item?: string;
}

const CHANNEL_NAMES = ['Mono', 'Front Left', 'Front Right', 'Rear Left', 'Rear Right', 'Front Center', 'Woofer', 'Side Left', 'Side Right', 'Rear Center'];

function sideValues(s: string): AmixerSideValues {
  const v: AmixerSideValues = {};
  const vol = /^\s*(-?\d+)(?:\s|$)/.exec(s.replace(/^\s*(Playback|Capture)\s*/, ''));
  if (vol) v.volume = Number(vol[1]);
  const db = /\[(-?[\d.]+)dB\]/.exec(s);
  if (db) v.db = Number(db[1]);
  const sw = /\[(on|off)\]/.exec(s);
  if (sw) v.switch = sw[1] === 'on';
  return v;
}

/** `amixer -c CARD scontents`. */
export function parseAmixerScontents(text: string): AmixerSimpleControl[] {
  const out: AmixerSimpleControl[] = [];
  let cur: AmixerSimpleControl | undefined;
  for (const line of text.split('\n')) {
    const head = /^Simple mixer control '(.*)',(\d+)$/.exec(line);
    if (head) {
      cur = { name: head[1]!, index: Number(head[2]), capabilities: [], channels: new Map(), items: [] };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const body = /^\s+([^:]+):\s?(.*)$/.exec(line);
    if (!body) continue;
    const [, key, rest] = body as unknown as [string, string, string];
    if (key === 'Capabilities') cur.capabilities = rest.split(/\s+/).filter(Boolean);
    else if (key === 'Limits') {
      const common = /^(-?\d+) - (-?\d+)/.exec(rest);
      if (common) cur.playbackLimits = [Number(common[1]), Number(common[2])];
      const pb = /Playback (-?\d+) - (-?\d+)/.exec(rest);
      if (pb) cur.playbackLimits = [Number(pb[1]), Number(pb[2])];
      const cp = /Capture (-?\d+) - (-?\d+)/.exec(rest);
      if (cp) cur.captureLimits = [Number(cp[1]), Number(cp[2])];
    } else if (key === 'Items') cur.items = [...rest.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
    else if (key === 'Item0') cur.item = /'([^']*)'/.exec(rest)?.[1];
    else if (CHANNEL_NAMES.includes(key)) {
      const at = rest.indexOf('Capture');
      const pb = at >= 0 ? rest.slice(0, at) : rest;
      const cp = at >= 0 ? rest.slice(at) : '';
      cur.channels.set(key, { playback: sideValues(pb), capture: sideValues(cp) });
    }
  }
  return out;
}
