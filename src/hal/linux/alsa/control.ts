/**
 * A sound card's controls through libasound: the control interface (every element, as
 * `amixer controls` / `amixer contents` show them) and the simple mixer (the grouped volume and
 * switch elements `amixer scontrols` / `amixer scontents` show). Setup-time code: it allocates
 * freely, unlike the PCM audio path — except `readEvents()` when nothing changed and
 * `readInteger()` / `writeInteger()`, which reuse native containers and allocate nothing, so that
 * a loop may poll a card's events and read or write a rate control as often as it likes.
 */
import { ERRNO } from '../../../util/errno.ts';
import { captureAlsaMessages } from './lib-messages.ts';
import {
  AlsaError,
  asound,
  check,
  NativeCell,
  SND_CTL_ELEM_TYPE_BOOLEAN,
  SND_CTL_ELEM_TYPE_BYTES,
  SND_CTL_ELEM_TYPE_ENUMERATED,
  SND_CTL_ELEM_TYPE_IEC958,
  SND_CTL_ELEM_TYPE_INTEGER,
  SND_CTL_ELEM_TYPE_INTEGER64,
  SND_CTL_ELEM_IFACE_CARD,
  SND_CTL_ELEM_IFACE_HWDEP,
  SND_CTL_ELEM_IFACE_MIXER,
  SND_CTL_ELEM_IFACE_PCM,
  SND_CTL_ELEM_IFACE_RAWMIDI,
  SND_CTL_ELEM_IFACE_SEQUENCER,
  SND_CTL_ELEM_IFACE_TIMER,
  SND_CTL_EVENT_ELEM,
  SND_CTL_EVENT_MASK_INFO,
  SND_CTL_EVENT_MASK_REMOVE,
  SND_CTL_EVENT_MASK_VALUE,
  SND_CTL_TLV_DB_SCALE_MASK,
  SND_CTL_TLV_DB_SCALE_MUTE,
  SND_CTL_TLVT_DB_SCALE,
  SND_MIXER_SCHN_LAST,
  type Handle,
} from './libasound.ts';

/** An element's interface, as snd_ctl_elem_iface_name() names it. */
export type CtlIface = 'CARD' | 'HWDEP' | 'MIXER' | 'PCM' | 'RAWMIDI' | 'TIMER' | 'SEQUENCER';
const IFACES: Readonly<Record<CtlIface, number>> = {
  CARD: SND_CTL_ELEM_IFACE_CARD,
  HWDEP: SND_CTL_ELEM_IFACE_HWDEP,
  MIXER: SND_CTL_ELEM_IFACE_MIXER,
  PCM: SND_CTL_ELEM_IFACE_PCM,
  RAWMIDI: SND_CTL_ELEM_IFACE_RAWMIDI,
  TIMER: SND_CTL_ELEM_IFACE_TIMER,
  SEQUENCER: SND_CTL_ELEM_IFACE_SEQUENCER,
};

/** An element's identity without its numid: the kernel matches all five (sound/core/control.c snd_ctl_find_id). */
export interface CtlElemId {
  iface: CtlIface;
  name: string;
  /** Default 0. */
  device?: number;
  /** Default 0. */
  subdevice?: number;
  /** Default 0. */
  index?: number;
}

/** A dB scale (TLV DB_SCALE): value v means minCdb + (v - min) × stepCdb, in 0.01 dB. */
export interface CtlDbScale {
  minCdb: number;
  stepCdb: number;
  /** The lowest value means mute (-inf dB) rather than minCdb. */
  mute?: boolean;
}

export interface UserIntegerSpec {
  /** Members (channels). */
  count: number;
  min: number;
  max: number;
  /** Default 0 (any value in min..max; what alsa-lib's softvol uses). */
  step?: number;
  dbScale?: CtlDbScale;
}

export interface UserIntegerResult {
  numid: number;
  /** An element of the same id and range was there already (left as it was, its values kept). */
  reused: boolean;
  /** An element of the same id but another type or range was removed first. */
  replaced: boolean;
}

/** What readEvents() returns when nothing changed: one shared, frozen array, so polling allocates nothing. */
const NO_EVENTS: readonly number[] = Object.freeze([]);
/** snd_ctl_elem_tlv_read buffer: room for a dB-scale TLV and more (unsigned ints). */
const TLV_READ_WORDS = 64;

export type CtlElemType = 'NONE' | 'BOOLEAN' | 'INTEGER' | 'ENUMERATED' | 'BYTES' | 'IEC958' | 'INTEGER64';
const TYPE_NAMES: readonly CtlElemType[] = ['NONE', 'BOOLEAN', 'INTEGER', 'ENUMERATED', 'BYTES', 'IEC958', 'INTEGER64'];

export interface CtlElement {
  numid: number;
  /** 'CARD' | 'HWDEP' | 'MIXER' | 'PCM' | 'RAWMIDI' | 'TIMER' | 'SEQUENCER' (snd_ctl_elem_iface_name). */
  iface: string;
  name: string;
  index: number;
  device: number;
  subdevice: number;
  type: CtlElemType;
  /** Values per element (channels of a volume, say). */
  count: number;
  readable: boolean;
  writable: boolean;
  /** INTEGER only. */
  min?: number;
  max?: number;
  step?: number;
  /** ENUMERATED only: the item names. */
  items?: string[];
  /** INTEGER with a dB TLV only: the range in dB (snd_ctl_get_dB_range, 0.01 dB units / 100). */
  dbMin?: number;
  dbMax?: number;
}

/** A card's control interface (snd_ctl_open on `hw:N` or `hw:ID`). */
export class AlsaControl {
  private handle: Handle;
  /** snd_ctl_event_t for readEvents(), made by subscribe(). */
  private event: Handle = null;
  /** snd_ctl_elem_value_t reused by readInteger() / writeInteger(). */
  private value: Handle = null;
  readonly cardId: string;
  readonly cardName: string;
  readonly cardIndex: number;

  private constructor(handle: Handle, readonly device: string) {
    this.handle = handle;
    const a = asound();
    const info: [Handle] = [null];
    check(a.ctlCardInfoMalloc(info), 'snd_ctl_card_info_malloc', device);
    try {
      check(a.ctlCardInfo(handle, info[0]), 'snd_ctl_card_info', device);
      this.cardId = a.ctlCardInfoGetId(info[0]);
      this.cardName = a.ctlCardInfoGetName(info[0]);
      this.cardIndex = a.ctlCardInfoGetCard(info[0]);
    } finally {
      a.ctlCardInfoFree(info[0]);
    }
  }

  static open(device: string): AlsaControl {
    const out: [Handle] = [null];
    captureAlsaMessages(() => check(asound().ctlOpen(out, device, 0), 'snd_ctl_open', device));
    return new AlsaControl(out[0], device);
  }

  private get ctl(): Handle {
    if (this.handle === null) throw new AlsaError('use', -ERRNO.EBADFD, this.device);
    return this.handle;
  }

  /** Every element of the card with its description (type, range, items, dB range). */
  list(): CtlElement[] {
    const a = asound();
    const ctl = this.ctl;
    const lp: [Handle] = [null];
    check(a.ctlElemListMalloc(lp), 'snd_ctl_elem_list_malloc', this.device);
    const list = lp[0];
    try {
      check(a.ctlElemList(ctl, list), 'snd_ctl_elem_list', this.device);
      const count = a.ctlElemListGetCount(list);
      check(a.ctlElemListAllocSpace(list, count), 'snd_ctl_elem_list_alloc_space', this.device);
      check(a.ctlElemList(ctl, list), 'snd_ctl_elem_list', this.device);
      const used = a.ctlElemListGetUsed(list);
      const out: CtlElement[] = [];
      for (let i = 0; i < used; i++) {
        const numid = a.ctlElemListGetNumid(list, i);
        out.push({
          ...this.describe(numid),
          iface: a.ctlElemIfaceName(a.ctlElemListGetInterface(list, i)),
          name: a.ctlElemListGetName(list, i),
          index: a.ctlElemListGetIndex(list, i),
          device: a.ctlElemListGetDevice(list, i),
          subdevice: a.ctlElemListGetSubdevice(list, i),
        });
      }
      a.ctlElemListFreeSpace(list);
      return out;
    } finally {
      a.ctlElemListFree(list);
    }
  }

  /** snd_ctl_elem_info of one element (by numid). */
  describe(numid: number): CtlElement {
    const a = asound();
    const ctl = this.ctl;
    const ip: [Handle] = [null];
    const idp: [Handle] = [null];
    check(a.ctlElemInfoMalloc(ip), 'snd_ctl_elem_info_malloc', this.device);
    check(a.ctlElemIdMalloc(idp), 'snd_ctl_elem_id_malloc', this.device);
    const info = ip[0];
    try {
      a.ctlElemInfoSetNumid(info, numid);
      check(a.ctlElemInfo(ctl, info), `snd_ctl_elem_info numid=${numid}`, this.device);
      const type = TYPE_NAMES[a.ctlElemInfoGetType(info)] ?? 'NONE';
      const e: CtlElement = {
        numid,
        iface: '',
        name: '',
        index: 0,
        device: 0,
        subdevice: 0,
        type,
        count: a.ctlElemInfoGetCount(info),
        readable: a.ctlElemInfoIsReadable(info) !== 0,
        writable: a.ctlElemInfoIsWritable(info) !== 0,
      };
      if (type === 'INTEGER') {
        e.min = a.ctlElemInfoGetMin(info);
        e.max = a.ctlElemInfoGetMax(info);
        e.step = a.ctlElemInfoGetStep(info);
        a.ctlElemInfoGetId(info, idp[0]);
        const lo = new NativeCell();
        const hi = new NativeCell();
        if (a.ctlGetDbRange(ctl, idp[0], lo.bytes, hi.bytes) >= 0) {
          e.dbMin = lo.long() / 100;
          e.dbMax = hi.long() / 100;
        }
      } else if (type === 'ENUMERATED') {
        const n = a.ctlElemInfoGetItems(info);
        e.items = [];
        for (let k = 0; k < n; k++) {
          a.ctlElemInfoSetItem(info, k);
          check(a.ctlElemInfo(ctl, info), `snd_ctl_elem_info item ${k}`, this.device);
          e.items.push(a.ctlElemInfoGetItemName(info));
        }
      }
      return e;
    } finally {
      a.ctlElemInfoFree(info);
      a.ctlElemIdFree(idp[0]);
    }
  }

  /** Reads an element's values (booleans as 0/1, enumerations as item indices). */
  read(numid: number): number[] {
    const a = asound();
    const d = this.describe(numid);
    const vp: [Handle] = [null];
    check(a.ctlElemValueMalloc(vp), 'snd_ctl_elem_value_malloc', this.device);
    try {
      a.ctlElemValueSetNumid(vp[0], numid);
      check(a.ctlElemRead(this.ctl, vp[0]), `snd_ctl_elem_read numid=${numid}`, this.device);
      const out: number[] = [];
      for (let i = 0; i < d.count; i++) out.push(readValue(vp[0], d.type, i));
      return out;
    } finally {
      a.ctlElemValueFree(vp[0]);
    }
  }

  /** Writes an element's values (one value is applied to every channel). */
  write(numid: number, values: number | number[]): void {
    const a = asound();
    const d = this.describe(numid);
    if (d.type !== 'BOOLEAN' && d.type !== 'INTEGER' && d.type !== 'ENUMERATED') {
      throw new AlsaError(`snd_ctl_elem_write numid=${numid}: type ${d.type} not supported`, -ERRNO.EINVAL, this.device);
    }
    const vp: [Handle] = [null];
    check(a.ctlElemValueMalloc(vp), 'snd_ctl_elem_value_malloc', this.device);
    try {
      a.ctlElemValueSetNumid(vp[0], numid);
      for (let i = 0; i < d.count; i++) {
        const v = Array.isArray(values) ? values[Math.min(i, values.length - 1)]! : values;
        if (d.type === 'BOOLEAN') a.ctlElemValueSetBoolean(vp[0], i, v ? 1 : 0);
        else if (d.type === 'INTEGER') a.ctlElemValueSetInteger(vp[0], i, v);
        else a.ctlElemValueSetEnumerated(vp[0], i, v);
      }
      check(a.ctlElemWrite(this.ctl, vp[0]), `snd_ctl_elem_write numid=${numid}`, this.device);
    } finally {
      a.ctlElemValueFree(vp[0]);
    }
  }

  /** The numid of the first element with this name (and index). */
  find(name: string, index = 0): number | undefined {
    return this.list().find((e) => e.name === name && e.index === index)?.numid;
  }

  /** The numid of the element with exactly this id (iface, name, device, subdevice, index), or undefined. */
  findId(id: CtlElemId): number | undefined {
    const a = asound();
    const ip: [Handle] = [null];
    check(a.ctlElemInfoMalloc(ip), 'snd_ctl_elem_info_malloc', this.device);
    try {
      return this.withId(id, (idh) => {
        a.ctlElemInfoSetId(ip[0], idh);
        const rc = a.ctlElemInfo(this.ctl, ip[0]);
        if (rc === -ERRNO.ENOENT) return undefined;
        check(rc, `snd_ctl_elem_info ${describeId(id)}`, this.device);
        return a.ctlElemInfoGetNumid(ip[0]);
      });
    } finally {
      a.ctlElemInfoFree(ip[0]);
    }
  }

  /**
   * Adds a user element of integers (with a dB scale), or reuses one of the same id, type, count
   * and range; one of the same id with another range is removed and added again.
   *
   * User elements belong to the card, not to the process that made them: they stay after it exits
   * and go only with snd_ctl_elem_remove or with the card (sound/core/control.c). The kernel locks
   * a new element to the handle that added it, so other processes (mpd, amixer) could not write it:
   * it is unlocked here at once. -EBUSY from the add means that another process added the same id
   * between our look-up and our add: it is looked up again (once) and reused or replaced. -EBUSY
   * from the remove means that another process holds a lock on the old element: that is thrown.
   */
  addUserInteger(id: CtlElemId, spec: UserIntegerSpec): UserIntegerResult {
    const a = asound();
    const step = spec.step ?? 0;
    const what = describeId(id);
    let replaced = false;
    for (let attempt = 0; ; attempt++) {
      const existing = this.findId(id);
      if (existing !== undefined) {
        const d = this.describe(existing);
        if (d.type === 'INTEGER' && d.count === spec.count && d.min === spec.min && d.max === spec.max && d.step === step) {
          if (spec.dbScale && !this.hasDbScale(existing, spec.dbScale)) this.writeDbScale(existing, spec.dbScale, what);
          return { numid: existing, reused: true, replaced };
        }
        this.removeUser(existing);
        replaced = true;
      }
      const rc = this.withId(id, (idh) => a.ctlElemAddInteger(this.ctl, idh, spec.count, spec.min, spec.max, step));
      if (rc === -ERRNO.EBUSY && attempt === 0) continue;
      check(rc, `snd_ctl_elem_add_integer ${what}`, this.device);
      const numid = this.findId(id);
      if (numid === undefined) throw new AlsaError(`snd_ctl_elem_add_integer ${what}: added but not found`, -ERRNO.ENOENT, this.device);
      try {
        if (spec.dbScale) this.writeDbScale(numid, spec.dbScale, what);
        // -EINVAL: not locked (a kernel that does not lock user elements on add): nothing to undo.
        const urc = this.withNumid(numid, (idh) => a.ctlElemUnlock(this.ctl, idh));
        if (urc < 0 && urc !== -ERRNO.EINVAL) check(urc, `snd_ctl_elem_unlock ${what}`, this.device);
      } catch (e) {
        this.withNumid(numid, (idh) => a.ctlElemRemove(this.ctl, idh));
        throw e;
      }
      return { numid, reused: false, replaced };
    }
  }

  /** Removes a user element (by numid or id); -EBUSY (locked by another process) and -EINVAL (a driver's element) are thrown. */
  removeUser(element: number | CtlElemId): void {
    const a = asound();
    const what = typeof element === 'number' ? `numid=${element}` : describeId(element);
    const rc = typeof element === 'number'
      ? this.withNumid(element, (idh) => a.ctlElemRemove(this.ctl, idh))
      : this.withId(element, (idh) => a.ctlElemRemove(this.ctl, idh));
    check(rc, `snd_ctl_elem_remove ${what}`, this.device);
  }

  /** The element's dB-scale TLV, or undefined when it has none (or another kind of TLV). */
  readDbScale(numid: number): CtlDbScale | undefined {
    const tlv = new Uint32Array(TLV_READ_WORDS);
    const rc = this.withNumid(numid, (idh) => asound().ctlElemTlvRead(this.ctl, idh, tlv, tlv.byteLength));
    if (rc < 0 || tlv[0] !== SND_CTL_TLVT_DB_SCALE || tlv[1]! < 8) return undefined;
    return { minCdb: tlv[2]! | 0, stepCdb: tlv[3]! & SND_CTL_TLV_DB_SCALE_MASK, mute: (tlv[3]! & SND_CTL_TLV_DB_SCALE_MUTE) !== 0 };
  }

  private hasDbScale(numid: number, want: CtlDbScale): boolean {
    const got = this.readDbScale(numid);
    return got !== undefined && got.minCdb === want.minCdb && got.stepCdb === want.stepCdb && got.mute === (want.mute ?? false);
  }

  private writeDbScale(numid: number, scale: CtlDbScale, what: string): void {
    if (scale.stepCdb < 0 || scale.stepCdb > SND_CTL_TLV_DB_SCALE_MASK) {
      throw new AlsaError(`dB scale of ${what}: step ${scale.stepCdb} cdB outside 0..${SND_CTL_TLV_DB_SCALE_MASK}`, -ERRNO.EINVAL, this.device);
    }
    // [type, bytes that follow, min (signed, 0.01 dB), step | mute] (alsa/control.h, uapi sound/tlv.h)
    const tlv = Uint32Array.of(SND_CTL_TLVT_DB_SCALE, 8, scale.minCdb >>> 0, scale.stepCdb | (scale.mute ? SND_CTL_TLV_DB_SCALE_MUTE : 0));
    const rc = this.withNumid(numid, (idh) => asound().ctlElemTlvWrite(this.ctl, idh, tlv));
    check(rc, `snd_ctl_elem_tlv_write ${what}`, this.device);
  }

  /**
   * Asks for the card's change events on this handle (once; later calls do nothing) and makes
   * reads of them non-blocking. Events queue from here on, also those of this handle's own writes.
   */
  subscribe(): void {
    if (this.event !== null) return;
    const a = asound();
    const out: [Handle] = [null];
    check(a.ctlEventMalloc(out), 'snd_ctl_event_malloc', this.device);
    try {
      check(a.ctlNonblock(this.ctl, 1), 'snd_ctl_nonblock', this.device);
      check(a.ctlSubscribeEvents(this.ctl, 1), 'snd_ctl_subscribe_events', this.device);
    } catch (e) {
      a.ctlEventFree(out[0]);
      throw e;
    }
    this.event = out[0];
  }

  /**
   * The numids whose value or description changed since the last call (subscribing on the first
   * call), each once; without blocking. Additions, removals and TLV-only changes are left out, and
   * with `only`, every numid it does not have (the events are read and dropped all the same).
   * Returns one shared empty array when nothing (of interest) changed: then it allocates nothing —
   * so a caller that writes other elements of the card as often as it polls (a rate controller)
   * still polls without allocating.
   */
  readEvents(only?: { has(numid: number): boolean }): readonly number[] {
    if (this.event === null) this.subscribe();
    const a = asound();
    const ctl = this.ctl;
    const ev = this.event;
    let out: number[] | undefined;
    for (;;) {
      const rc = a.ctlRead(ctl, ev);
      if (rc === -ERRNO.EAGAIN || rc === 0) break;
      check(rc, 'snd_ctl_read', this.device);
      if (a.ctlEventGetType(ev) !== SND_CTL_EVENT_ELEM) continue;
      const mask = a.ctlEventElemGetMask(ev);
      // REMOVE has every bit set: test it before the VALUE and INFO bits (alsa/control.h).
      if (mask === SND_CTL_EVENT_MASK_REMOVE || (mask & (SND_CTL_EVENT_MASK_VALUE | SND_CTL_EVENT_MASK_INFO)) === 0) continue;
      const numid = a.ctlEventElemGetNumid(ev);
      if (only !== undefined && !only.has(numid)) continue;
      if (out === undefined) out = [numid];
      else if (!out.includes(numid)) out.push(numid);
    }
    return out ?? NO_EVENTS;
  }

  /**
   * Member `index` of an INTEGER or BOOLEAN element (both are `long` in snd_ctl_elem_value, alsa-lib
   * control.c), through one reused value container: no allocation.
   */
  readInteger(numid: number, index = 0): number {
    const a = asound();
    const v = this.valueContainer();
    a.ctlElemValueSetNumid(v, numid);
    check(a.ctlElemRead(this.ctl, v), 'snd_ctl_elem_read', this.device);
    return a.ctlElemValueGetInteger(v, index);
  }

  /** Writes `value` to the first `count` members of an INTEGER or BOOLEAN element, allocating nothing. */
  writeInteger(numid: number, value: number, count = 1): void {
    const a = asound();
    const v = this.valueContainer();
    a.ctlElemValueSetNumid(v, numid);
    for (let i = 0; i < count; i++) a.ctlElemValueSetInteger(v, i, value);
    check(a.ctlElemWrite(this.ctl, v), 'snd_ctl_elem_write', this.device);
  }

  private valueContainer(): Handle {
    if (this.value === null) {
      const vp: [Handle] = [null];
      check(asound().ctlElemValueMalloc(vp), 'snd_ctl_elem_value_malloc', this.device);
      this.value = vp[0];
    }
    return this.value;
  }

  /** Runs `fn` with a snd_ctl_elem_id filled from `id` (numid 0: the kernel looks it up by the five fields). */
  private withId<T>(id: CtlElemId, fn: (idh: Handle) => T): T {
    const a = asound();
    const idp: [Handle] = [null];
    check(a.ctlElemIdMalloc(idp), 'snd_ctl_elem_id_malloc', this.device);
    try {
      a.ctlElemIdSetInterface(idp[0], IFACES[id.iface]);
      a.ctlElemIdSetDevice(idp[0], id.device ?? 0);
      a.ctlElemIdSetSubdevice(idp[0], id.subdevice ?? 0);
      a.ctlElemIdSetName(idp[0], id.name);
      a.ctlElemIdSetIndex(idp[0], id.index ?? 0);
      return fn(idp[0]);
    } finally {
      a.ctlElemIdFree(idp[0]);
    }
  }

  private withNumid<T>(numid: number, fn: (idh: Handle) => T): T {
    const a = asound();
    const idp: [Handle] = [null];
    check(a.ctlElemIdMalloc(idp), 'snd_ctl_elem_id_malloc', this.device);
    try {
      a.ctlElemIdSetNumid(idp[0], numid);
      return fn(idp[0]);
    } finally {
      a.ctlElemIdFree(idp[0]);
    }
  }

  close(): void {
    if (this.handle === null) return;
    const a = asound();
    a.ctlClose(this.handle);
    this.handle = null;
    if (this.event !== null) a.ctlEventFree(this.event);
    if (this.value !== null) a.ctlElemValueFree(this.value);
    this.event = null;
    this.value = null;
  }
}

function describeId(id: CtlElemId): string {
  return `iface=${id.iface},name='${id.name}',device=${id.device ?? 0},subdevice=${id.subdevice ?? 0},index=${id.index ?? 0}`;
}

function readValue(v: Handle, type: CtlElemType, i: number): number {
  const a = asound();
  switch (type) {
    case 'BOOLEAN':
      return a.ctlElemValueGetBoolean(v, i);
    case 'INTEGER':
      return a.ctlElemValueGetInteger(v, i);
    case 'ENUMERATED':
      return a.ctlElemValueGetEnumerated(v, i);
    default:
      return Number.NaN;
  }
}
// The remaining element types are listed but not read or written here.
void [SND_CTL_ELEM_TYPE_BOOLEAN, SND_CTL_ELEM_TYPE_INTEGER, SND_CTL_ELEM_TYPE_ENUMERATED, SND_CTL_ELEM_TYPE_BYTES, SND_CTL_ELEM_TYPE_IEC958, SND_CTL_ELEM_TYPE_INTEGER64];

export interface MixerChannelValues {
  /** Channel name (snd_mixer_selem_channel_name: 'Front Left', 'Mono', ...). */
  channel: string;
  volume?: number;
  /** dB (from 0.01 dB units). */
  db?: number;
  switch?: boolean;
}

export interface MixerElement {
  name: string;
  index: number;
  playback?: { volumeRange?: [number, number]; dbRange?: [number, number]; hasSwitch: boolean; channels: MixerChannelValues[] };
  capture?: { volumeRange?: [number, number]; dbRange?: [number, number]; hasSwitch: boolean; channels: MixerChannelValues[] };
  /** Volume shared by playback and capture (a control named '... Volume' without a direction). */
  commonVolume: boolean;
  enumerated: boolean;
  /** Enumerated elements: item names and the current item (of the first channel). */
  items?: string[];
  item?: number;
}

/** A card's simple mixer (snd_mixer with the selem class), as amixer's simple-control commands see it. */
export class AlsaMixer {
  private handle: Handle;

  private constructor(handle: Handle, readonly device: string) {
    this.handle = handle;
  }

  static open(device: string): AlsaMixer {
    const a = asound();
    const out: [Handle] = [null];
    check(a.mixerOpen(out, 0), 'snd_mixer_open', device);
    const m = out[0];
    try {
      captureAlsaMessages(() => {
        check(a.mixerAttach(m, device), 'snd_mixer_attach', device);
        check(a.mixerSelemRegister(m, null, null), 'snd_mixer_selem_register', device);
        check(a.mixerLoad(m), 'snd_mixer_load', device);
      });
    } catch (e) {
      a.mixerClose(m);
      throw e;
    }
    return new AlsaMixer(m, device);
  }

  private get mixer(): Handle {
    if (this.handle === null) throw new AlsaError('use', -ERRNO.EBADFD, this.device);
    return this.handle;
  }

  private *elems(): Generator<Handle> {
    const a = asound();
    a.mixerHandleEvents(this.mixer);
    for (let e = a.mixerFirstElem(this.mixer); e !== null && e !== 0n; e = a.mixerElemNext(e)) yield e;
  }

  /** Every simple element with ranges and current values per channel. */
  list(): MixerElement[] {
    const out: MixerElement[] = [];
    for (const e of this.elems()) out.push(this.describe(e));
    return out;
  }

  private describe(e: Handle): MixerElement {
    const a = asound();
    const lo = new NativeCell();
    const hi = new NativeCell();
    const val = new NativeCell();
    const side = (capture: boolean) => {
      const hasVol = (capture ? a.selemHasCaptureVolume(e) : a.selemHasPlaybackVolume(e)) !== 0;
      const hasSw = (capture ? a.selemHasCaptureSwitch(e) : a.selemHasPlaybackSwitch(e)) !== 0;
      if (!hasVol && !hasSw) return undefined;
      const r: NonNullable<MixerElement['playback']> = { hasSwitch: hasSw, channels: [] };
      if (hasVol) {
        if ((capture ? a.selemGetCaptureVolumeRange(e, lo.bytes, hi.bytes) : a.selemGetPlaybackVolumeRange(e, lo.bytes, hi.bytes)) >= 0) r.volumeRange = [lo.long(), hi.long()];
        if ((capture ? a.selemGetCaptureDbRange(e, lo.bytes, hi.bytes) : a.selemGetPlaybackDbRange(e, lo.bytes, hi.bytes)) >= 0) r.dbRange = [lo.long() / 100, hi.long() / 100];
      }
      for (let ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++) {
        if ((capture ? a.selemHasCaptureChannel(e, ch) : a.selemHasPlaybackChannel(e, ch)) === 0) continue;
        const c: MixerChannelValues = { channel: a.selemChannelName(ch) };
        if (hasVol) {
          if ((capture ? a.selemGetCaptureVolume(e, ch, val.bytes) : a.selemGetPlaybackVolume(e, ch, val.bytes)) >= 0) c.volume = val.long();
          if (r.dbRange && (capture ? a.selemGetCaptureDb(e, ch, val.bytes) : a.selemGetPlaybackDb(e, ch, val.bytes)) >= 0) c.db = val.long() / 100;
        }
        if (hasSw && (capture ? a.selemGetCaptureSwitch(e, ch, val.bytes) : a.selemGetPlaybackSwitch(e, ch, val.bytes)) >= 0) c.switch = val.int() !== 0;
        r.channels.push(c);
      }
      return r;
    };
    const m: MixerElement = {
      name: a.selemGetName(e),
      index: a.selemGetIndex(e),
      commonVolume: a.selemHasCommonVolume(e) !== 0,
      enumerated: a.selemIsEnumerated(e) !== 0,
    };
    const p = side(false);
    const c = side(true);
    if (p) m.playback = p;
    if (c) m.capture = c;
    if (m.enumerated) {
      const n = a.selemGetEnumItems(e);
      const name = new Uint8Array(256);
      m.items = [];
      for (let k = 0; k < n; k++) {
        check(a.selemGetEnumItemName(e, k, name.length, name), `snd_mixer_selem_get_enum_item_name ${k}`, this.device);
        m.items.push(Buffer.from(name.subarray(0, name.indexOf(0))).toString('utf8'));
      }
      if (a.selemGetEnumItem(e, 0, val.bytes) >= 0) m.item = val.uint();
    }
    return m;
  }

  private find(name: string, index: number): Handle {
    const a = asound();
    for (const e of this.elems()) if (a.selemGetName(e) === name && a.selemGetIndex(e) === index) return e;
    throw new AlsaError(`mixer element '${name}',${index} not found`, -ERRNO.ENOENT, this.device);
  }

  get(name: string, index = 0): MixerElement {
    return this.describe(this.find(name, index));
  }

  /** Sets the raw volume of every channel on one side. */
  setVolume(name: string, value: number, side: 'playback' | 'capture' = 'playback', index = 0): void {
    const a = asound();
    const e = this.find(name, index);
    for (let ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++) {
      if (side === 'playback') {
        if (a.selemHasPlaybackChannel(e, ch)) check(a.selemSetPlaybackVolume(e, ch, value), `snd_mixer_selem_set_playback_volume '${name}'`, this.device);
      } else if (a.selemHasCaptureChannel(e, ch)) check(a.selemSetCaptureVolume(e, ch, value), `snd_mixer_selem_set_capture_volume '${name}'`, this.device);
    }
  }

  setSwitch(name: string, on: boolean, side: 'playback' | 'capture' = 'playback', index = 0): void {
    const a = asound();
    const e = this.find(name, index);
    for (let ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++) {
      if (side === 'playback') {
        if (a.selemHasPlaybackChannel(e, ch)) check(a.selemSetPlaybackSwitch(e, ch, on ? 1 : 0), `snd_mixer_selem_set_playback_switch '${name}'`, this.device);
      } else if (a.selemHasCaptureChannel(e, ch)) check(a.selemSetCaptureSwitch(e, ch, on ? 1 : 0), `snd_mixer_selem_set_capture_switch '${name}'`, this.device);
    }
  }

  /** Selects an item of an enumerated element (every channel). */
  setEnumItem(name: string, item: number, index = 0): void {
    const a = asound();
    const e = this.find(name, index);
    for (let ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++) {
      const rc = a.selemSetEnumItem(e, ch, item);
      if (rc < 0 && ch === 0) check(rc, `snd_mixer_selem_set_enum_item '${name}'`, this.device);
      if (rc < 0) break;
    }
  }

  close(): void {
    if (this.handle === null) return;
    asound().mixerClose(this.handle);
    this.handle = null;
  }
}
