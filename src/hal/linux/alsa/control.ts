/**
 * A sound card's controls through libasound: the control interface (every element, as
 * `amixer controls` / `amixer contents` show them) and the simple mixer (the grouped volume and
 * switch elements `amixer scontrols` / `amixer scontents` show). Setup-time code: it allocates
 * freely, unlike the PCM audio path.
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
  SND_MIXER_SCHN_LAST,
  type Handle,
} from './libasound.ts';

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

  close(): void {
    if (this.handle === null) return;
    asound().ctlClose(this.handle);
    this.handle = null;
  }
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
