/**
 * The loopback card (snd-aloop) through libasound: the implementation of src/hal/loopback.ts on
 * AlsaControl opened as `hw:<card>`. The facts about the card's controls are in that file's
 * header (Linux sound/drivers/aloop.c); what is specific to libasound is here.
 *
 * Polling: `changed()` of both objects reads the card's ctl events without blocking and allocates
 * nothing when nothing changed; `rateShift()` / `setRateShift()` reuse one native value container,
 * so a controller may call them as often as it likes.
 */
import type { SampleFormat } from '../../pcm.ts';
import {
  LoopbackError,
  type LoopbackBackend,
  type LoopbackCable,
  type LoopbackCard,
  type UserVolume,
  type UserVolumeSpec,
} from '../../loopback.ts';
import { AlsaControl } from './control.ts';
import { ALSA_FORMATS } from './pcm-backend.ts';

/** The device whose controls describe the cable "playback 0,N → capture 1,N" (aloop.c get_setup()). */
const CABLE_DEVICE = 1;
const ACTIVE = 'PCM Slave Active';
const FORMAT = 'PCM Slave Format';
const RATE = 'PCM Slave Rate';
const CHANNELS = 'PCM Slave Channels';
const NOTIFY = 'PCM Notify';
const RATE_SHIFT = 'PCM Rate Shift 100000';
const MODPROBE_HINT = 'load snd-aloop: modprobe snd-aloop';

/**
 * snd_pcm_format_t → the HAL's SampleFormat, for the formats the HAL carries (alsa-lib
 * include/pcm.h enum _snd_pcm_format: S16_LE 2, S24_LE 6, S32_LE 10, FLOAT_LE 14, S24_3LE 32;
 * the numbers are ALSA_FORMATS' values). Any other code maps to undefined.
 */
const HAL_FORMAT_OF_CODE: ReadonlyMap<number, SampleFormat> = new Map(
  (Object.entries(ALSA_FORMATS) as [SampleFormat, number][]).map(([format, code]) => [code, format]),
);

export function sampleFormatOfAlsaCode(code: number): SampleFormat | undefined {
  return HAL_FORMAT_OF_CODE.get(code);
}

/** The numids of one cable's controls (device 1, subdevice N). */
interface CableIds {
  active: number;
  format: number;
  rate: number;
  channels: number;
  notify: number;
  rateShift: number;
}

function openControl(card: string): AlsaControl {
  try {
    return AlsaControl.open(`hw:${card}`);
  } catch (e) {
    throw new LoopbackError(card, `no such sound card (${MODPROBE_HINT}): ${(e as Error).message}`);
  }
}

class AlsaLoopbackCard implements LoopbackCard {
  readonly id: string;
  readonly subdevices: number;
  private readonly cables: CableIds[];
  /** numid of a Slave control → its subdevice (what changed() reports). */
  private readonly slaveNumids: Map<number, number>;
  private readonly card: string;

  constructor(private readonly ctl: AlsaControl, card: string) {
    this.card = card;
    this.id = ctl.cardId;
    const byName = new Map<string, Map<number, number>>();
    for (const e of ctl.list()) {
      if (e.iface !== 'PCM' || e.device !== CABLE_DEVICE) continue;
      let m = byName.get(e.name);
      if (!m) byName.set(e.name, (m = new Map()));
      m.set(e.subdevice, e.numid);
    }
    const actives = byName.get(ACTIVE);
    if (!actives || actives.size === 0) {
      throw new LoopbackError(card, `has no '${ACTIVE}' controls: not a loopback card (${MODPROBE_HINT})`);
    }
    this.subdevices = actives.size;
    this.cables = [];
    this.slaveNumids = new Map();
    for (let n = 0; n < this.subdevices; n++) {
      const get = (name: string): number => {
        const numid = byName.get(name)?.get(n);
        if (numid === undefined) throw new LoopbackError(card, `has no '${name}' control for device ${CABLE_DEVICE}, subdevice ${n} (${MODPROBE_HINT})`);
        return numid;
      };
      const ids: CableIds = { active: get(ACTIVE), format: get(FORMAT), rate: get(RATE), channels: get(CHANNELS), notify: get(NOTIFY), rateShift: get(RATE_SHIFT) };
      this.cables.push(ids);
      for (const numid of [ids.active, ids.format, ids.rate, ids.channels]) this.slaveNumids.set(numid, n);
    }
  }

  private ids(subdevice: number): CableIds {
    const ids = this.cables[subdevice];
    if (ids === undefined) throw new LoopbackError(this.card, `no cable ${subdevice} (subdevices 0..${this.subdevices - 1})`);
    return ids;
  }

  playbackPcm(subdevice: number): string {
    return `hw:${this.id},0,${subdevice}`;
  }

  capturePcm(subdevice: number): string {
    return `hw:${this.id},${CABLE_DEVICE},${subdevice}`;
  }

  cable(subdevice: number): LoopbackCable {
    const ids = this.ids(subdevice);
    const formatCode = this.ctl.readInteger(ids.format);
    return {
      subdevice,
      active: this.ctl.readInteger(ids.active) !== 0,
      rate: this.ctl.readInteger(ids.rate),
      channels: this.ctl.readInteger(ids.channels),
      format: sampleFormatOfAlsaCode(formatCode),
      formatCode,
    };
  }

  setNotify(subdevice: number, on: boolean): void {
    this.ctl.writeInteger(this.ids(subdevice).notify, on ? 1 : 0);
  }

  rateShift(subdevice: number): number {
    return this.ctl.readInteger(this.ids(subdevice).rateShift);
  }

  setRateShift(subdevice: number, value: number): void {
    this.ctl.writeInteger(this.ids(subdevice).rateShift, value);
  }

  /**
   * Cables whose Slave controls (active, format, rate, channels) changed: events of Notify and Rate
   * Shift, which the bridge itself writes, are left out.
   */
  changed(): number[] {
    const numids = this.ctl.readEvents(this.slaveNumids);
    let out: number[] | undefined;
    for (let i = 0; i < numids.length; i++) {
      const n = this.slaveNumids.get(numids[i]!);
      if (n === undefined) continue;
      if (out === undefined) out = [n];
      else if (!out.includes(n)) out.push(n);
    }
    return out ?? (NO_CABLES as number[]);
  }

  close(): void {
    this.ctl.close();
  }
}

/** What changed() returns when nothing changed (shared and frozen: polling allocates nothing). */
const NO_CABLES: readonly number[] = Object.freeze([]);

class AlsaUserVolume implements UserVolume {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly minCdb: number;
  readonly stepCdb: number;
  private readonly channels: number;
  /** The values as we last wrote or reported them: an event whose values equal these is our own echo. */
  private known: number[];
  private removed = false;
  /** readEvents() filter: this element only. */
  private readonly only: ReadonlySet<number>;

  constructor(private readonly ctl: AlsaControl, private readonly numid: number, spec: UserVolumeSpec, name: string) {
    this.name = name;
    this.min = spec.min;
    this.max = spec.max;
    this.minCdb = spec.minCdb;
    this.stepCdb = spec.stepCdb;
    this.channels = spec.channels;
    this.only = new Set([numid]);
    this.known = this.read();
  }

  read(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.channels; i++) out.push(this.ctl.readInteger(this.numid, i));
    return out;
  }

  /** Writes every channel, clamped to min..max (the kernel stores what a user element is given, unchecked). */
  write(values: number[]): void {
    const v: number[] = [];
    for (let i = 0; i < this.channels; i++) {
      const x = values[Math.min(i, values.length - 1)] ?? this.min;
      v.push(Math.min(this.max, Math.max(this.min, Math.round(x))));
    }
    this.ctl.write(this.numid, v);
    this.known = v;
  }

  /**
   * Our own write() queues an event on our handle too (the kernel notifies every subscribed
   * handle): an event whose values equal the last ones written or reported is that echo.
   */
  changed(): boolean {
    if (this.removed) return false;
    if (this.ctl.readEvents(this.only).length === 0) return false;
    const now = this.read();
    if (now.length === this.known.length && now.every((x, i) => x === this.known[i])) return false;
    this.known = now;
    return true;
  }

  remove(): void {
    if (this.removed) return;
    this.ctl.removeUser(this.numid);
    this.removed = true;
  }

  close(): void {
    this.ctl.close();
  }
}

export class AlsaLoopbackBackend implements LoopbackBackend {
  open(card: string): LoopbackCard {
    const ctl = openControl(card);
    try {
      const c = new AlsaLoopbackCard(ctl, card);
      ctl.subscribe();
      return c;
    } catch (e) {
      ctl.close();
      throw e;
    }
  }

  userVolume(card: string, spec: UserVolumeSpec): UserVolume {
    const ctl = openControl(card);
    try {
      const name = spec.name ?? 'PCM Playback Volume';
      // Subscribed before the add, so that no change after it can be missed; the add's own events
      // (ADD, alsa-lib's initial write, the TLV) read back as values equal to what we start from.
      ctl.subscribe();
      const { numid } = ctl.addUserInteger(
        { iface: 'MIXER', name },
        { count: spec.channels, min: spec.min, max: spec.max, dbScale: { minCdb: spec.minCdb, stepCdb: spec.stepCdb } },
      );
      return new AlsaUserVolume(ctl, numid, spec, name);
    } catch (e) {
      ctl.close();
      throw e;
    }
  }
}
