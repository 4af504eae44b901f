/**
 * libasound (alsa-lib) through koffi: the C prototypes this project calls, loaded once.
 *
 * Why koffi and not a native addon: nothing has to be compiled on the Pi, and libasound.so.2 is
 * on every Raspberry Pi OS image. The runtime needs only libasound.so.2, never the dev headers.
 *
 * Conventions of this binding:
 * - Opaque alsa-lib objects (snd_pcm_t, snd_pcm_hw_params_t, ...) are koffi pointer values
 *   (`Handle`); they are created once at setup and reused.
 * - Every out- or in/out-parameter that is used on the audio path is declared `void *` and given a
 *   preallocated Uint8Array: koffi passes the array's own memory, so the call allocates nothing
 *   (koffi doc "Output buffers / transient pointers"). `NativeCell` reads such cells without
 *   BigInts.
 * - Functions return alsa-lib's negative errno codes; `AlsaError` carries `snd_strerror`'s text.
 *
 * Constants and layouts below are facts from alsa-lib 1.2.8's public headers (alsa/pcm.h,
 * alsa/control.h, alsa/mixer.h, and for the sequencer alsa/seq.h, alsa/seq_event.h, alsa/seqmid.h)
 * as cited per item; they are ABI and do not change between versions.
 */
import koffi from 'koffi';
import { foldAlsaMessages, takeAlsaMessages, type AlsaLibMessage } from './lib-messages.ts';

/** An alsa-lib object pointer as koffi hands it out. */
export type Handle = unknown;

// alsa/pcm.h: enum _snd_pcm_stream
export const SND_PCM_STREAM_PLAYBACK = 0;
export const SND_PCM_STREAM_CAPTURE = 1;
// alsa/pcm.h: #define SND_PCM_NONBLOCK 0x00000001
export const SND_PCM_NONBLOCK = 0x1;
// alsa/pcm.h: enum _snd_pcm_access
export const SND_PCM_ACCESS_MMAP_INTERLEAVED = 0;
export const SND_PCM_ACCESS_RW_INTERLEAVED = 3;
// alsa/pcm.h: enum _snd_pcm_format
export const SND_PCM_FORMAT_S16_LE = 2;
export const SND_PCM_FORMAT_S24_LE = 6;
export const SND_PCM_FORMAT_S32_LE = 10;
export const SND_PCM_FORMAT_FLOAT_LE = 14;
export const SND_PCM_FORMAT_S24_3LE = 32;
// alsa/pcm.h: enum _snd_pcm_state
export const SND_PCM_STATE_OPEN = 0;
export const SND_PCM_STATE_SETUP = 1;
export const SND_PCM_STATE_PREPARED = 2;
export const SND_PCM_STATE_RUNNING = 3;
export const SND_PCM_STATE_XRUN = 4;
export const SND_PCM_STATE_DRAINING = 5;
export const SND_PCM_STATE_PAUSED = 6;
export const SND_PCM_STATE_SUSPENDED = 7;
export const SND_PCM_STATE_DISCONNECTED = 8;
// alsa/pcm.h: enum _snd_pcm_tstamp, enum _snd_pcm_tstamp_type
export const SND_PCM_TSTAMP_ENABLE = 1;
export const SND_PCM_TSTAMP_TYPE_MONOTONIC = 1;
// alsa/pcm.h: enum _snd_pcm_type (SND_PCM_TYPE_HW is the kernel device itself)
export const SND_PCM_TYPE_HW = 0;
// alsa/control.h: enum _snd_ctl_elem_type
export const SND_CTL_ELEM_TYPE_BOOLEAN = 1;
export const SND_CTL_ELEM_TYPE_INTEGER = 2;
export const SND_CTL_ELEM_TYPE_ENUMERATED = 3;
export const SND_CTL_ELEM_TYPE_BYTES = 4;
export const SND_CTL_ELEM_TYPE_IEC958 = 5;
export const SND_CTL_ELEM_TYPE_INTEGER64 = 6;
// alsa/control.h: enum _snd_ctl_elem_iface (the `iface` of an element id; snd_ctl_elem_iface_name
// gives 'CARD', 'HWDEP', 'MIXER', 'PCM', 'RAWMIDI', 'TIMER', 'SEQUENCER' for 0..6).
export const SND_CTL_ELEM_IFACE_CARD = 0;
export const SND_CTL_ELEM_IFACE_HWDEP = 1;
export const SND_CTL_ELEM_IFACE_MIXER = 2;
export const SND_CTL_ELEM_IFACE_PCM = 3;
export const SND_CTL_ELEM_IFACE_RAWMIDI = 4;
export const SND_CTL_ELEM_IFACE_TIMER = 5;
export const SND_CTL_ELEM_IFACE_SEQUENCER = 6;
// alsa/control.h: enum _snd_ctl_event_type — the only event class is an element event.
export const SND_CTL_EVENT_ELEM = 0;
// alsa/control.h: what changed, as bits of snd_ctl_event_elem_get_mask(). REMOVE is all bits set,
// so it has to be tested before the others (the header says so); the kernel ORs the bits of
// events for the same numid that are still queued into one event (sound/core/control.c
// snd_ctl_notify), so one event can carry VALUE | INFO.
export const SND_CTL_EVENT_MASK_VALUE = 1 << 0;
export const SND_CTL_EVENT_MASK_INFO = 1 << 1;
export const SND_CTL_EVENT_MASK_ADD = 1 << 2;
export const SND_CTL_EVENT_MASK_TLV = 1 << 3;
export const SND_CTL_EVENT_MASK_REMOVE = 0xffff_ffff;
// alsa/control.h: SND_CTL_TLVT_DB_SCALE. A dB-scale TLV is four unsigned ints: the type, the
// length of what follows in bytes (8), the dB of the lowest value in 0.01 dB (signed), and the
// 0.01 dB per step in the low 16 bits with bit 16 set when the lowest value means mute
// (the kernel's uapi sound/tlv.h: SNDRV_CTL_TLVD_DB_SCALE_MASK 0xffff, _MUTE 0x10000).
export const SND_CTL_TLVT_DB_SCALE = 1;
export const SND_CTL_TLV_DB_SCALE_MASK = 0xffff;
export const SND_CTL_TLV_DB_SCALE_MUTE = 0x10000;
// alsa/mixer.h: enum _snd_mixer_selem_channel_id (SND_MIXER_SCHN_FRONT_LEFT = 0 ... LAST = 31)
export const SND_MIXER_SCHN_LAST = 31;

// --- sequencer (alsa/seq.h, alsa/seq_event.h)
// alsa/seq.h: #define SND_SEQ_OPEN_OUTPUT 1, SND_SEQ_OPEN_INPUT 2, SND_SEQ_OPEN_DUPLEX (OUTPUT|INPUT)
export const SND_SEQ_OPEN_OUTPUT = 1;
export const SND_SEQ_OPEN_INPUT = 2;
export const SND_SEQ_OPEN_DUPLEX = 3;
// alsa/seq.h: #define SND_SEQ_NONBLOCK 0x0001 (open mode flag)
export const SND_SEQ_NONBLOCK = 0x1;
// alsa/seq.h: port capability bits (unsigned int)
export const SND_SEQ_PORT_CAP_READ = 1 << 0;
export const SND_SEQ_PORT_CAP_WRITE = 1 << 1;
export const SND_SEQ_PORT_CAP_SUBS_READ = 1 << 5;
export const SND_SEQ_PORT_CAP_SUBS_WRITE = 1 << 6;
/** Routing not allowed: `aconnect -l` leaves such ports out. */
export const SND_SEQ_PORT_CAP_NO_EXPORT = 1 << 7;
// alsa/seq.h: port type bits
export const SND_SEQ_PORT_TYPE_MIDI_GENERIC = 1 << 1;
export const SND_SEQ_PORT_TYPE_APPLICATION = 1 << 20;
// alsa/seq.h: snd_seq_query_subs_type_t (SND_SEQ_QUERY_SUBS_READ = 0, SND_SEQ_QUERY_SUBS_WRITE = 1).
// WRITE lists the senders that write to the root port (its "Connected From" in aconnect -l).
export const SND_SEQ_QUERY_SUBS_READ = 0;
export const SND_SEQ_QUERY_SUBS_WRITE = 1;
// alsa/seq_event.h: enum snd_seq_event_type (the values decoded here)
export const SND_SEQ_EVENT_NOTEON = 6;
export const SND_SEQ_EVENT_NOTEOFF = 7;
export const SND_SEQ_EVENT_CONTROLLER = 10;
export const SND_SEQ_EVENT_PGMCHANGE = 11;
/**
 * snd_seq_event_t (alsa/seq_event.h), the same 28 bytes on every ABI: every member is a byte, a
 * 32-bit int or a union of them, and the one pointer (snd_seq_ev_ext_t) sits in a packed struct
 * of 12 bytes at most, so nothing depends on the pointer size and nothing needs padding:
 *   0 type (u8), 1 flags, 2 tag, 3 queue, 4 time (snd_seq_timestamp_t, 8 bytes),
 *   12 source {client u8, port u8}, 14 dest {client, port}, 16 data (union, 12 bytes).
 * data as snd_seq_ev_ctrl_t (CONTROLLER and PGMCHANGE): 16 channel (u8), 17..19 unused,
 *   20 param (unsigned int: the controller number), 24 value (signed int; the program for PGMCHANGE).
 */
export const SEQ_EVENT_BYTES = 28;
export const SEQ_EVENT_TYPE_OFFSET = 0;
export const SEQ_EVENT_SOURCE_OFFSET = 12;
export const SEQ_EVENT_DEST_OFFSET = 14;
export const SEQ_EVENT_CTRL_CHANNEL_OFFSET = 16;
export const SEQ_EVENT_CTRL_PARAM_OFFSET = 20;
export const SEQ_EVENT_CTRL_VALUE_OFFSET = 24;
/** data as snd_seq_ev_note_t (NOTEON, NOTEOFF): 16 channel, 17 note, 18 velocity, 19 off_velocity (u8 each), 20 duration (unsigned int). */
export const SEQ_EVENT_NOTE_NOTE_OFFSET = 17;
export const SEQ_EVENT_NOTE_VELOCITY_OFFSET = 18;
/** snd_seq_addr_t (alsa/seq_event.h): { unsigned char client; unsigned char port; } */
export const SEQ_ADDR_BYTES = 2;

// alsa-lib returns errno values negated: their names and numbers are in src/util/errno.ts (ERRNO).

/** Bytes of a C pointer and of `long` / `snd_pcm_uframes_t` on this ABI (8 on arm64/x86-64, 4 on armhf). */
export const POINTER_BYTES = koffi.sizeof('void *');
export const LONG_BYTES = koffi.sizeof('long');

/**
 * snd_pcm_channel_area_t (alsa/pcm.h): { void *addr; unsigned int first; unsigned int step; }
 * first and step are in bits.
 */
export const CHANNEL_AREA_BYTES = POINTER_BYTES + 8;

/**
 * snd_htimestamp_t is `struct timespec` (alsa/global.h): { time_t tv_sec; long tv_nsec; }.
 * Assumes time_t has the width of long (true on 64-bit systems and on armhf with 32-bit time_t).
 */
export const TIMESPEC_BYTES = 2 * LONG_BYTES;

/** struct pollfd (poll.h): { int fd; short events; short revents; } */
export const POLLFD_BYTES = 8;

export interface Asound {
  strerror(err: number): string;
  asoundlibVersion(): string;
  /** Installs `handler` as this thread's local error handler; returns the one it replaces (lib-messages.ts). */
  errorSetLocal(handler: unknown): unknown;
  /** libc's vsnprintf over a va_list alsa-lib hands to a local error handler (`ap` passed on as it came). */
  vsnprintf(buf: Uint8Array, size: number, fmt: unknown, ap: unknown): number;

  // --- PCM: open, identity
  pcmOpen(out: [Handle], name: string, stream: number, mode: number): number;
  pcmClose(pcm: Handle): number;
  pcmName(pcm: Handle): string;
  pcmType(pcm: Handle): number;
  pcmNonblock(pcm: Handle, nonblock: number): number;
  /** Bits one sample occupies in memory (S24_LE: 32, S24_3LE: 24). */
  formatPhysicalWidth(format: number): number;

  // --- hw params
  hwParamsMalloc(out: [Handle]): number;
  hwParamsFree(p: Handle): void;
  hwParamsAny(pcm: Handle, p: Handle): number;
  hwParamsSetAccess(pcm: Handle, p: Handle, access: number): number;
  hwParamsSetFormat(pcm: Handle, p: Handle, format: number): number;
  hwParamsSetChannels(pcm: Handle, p: Handle, channels: number): number;
  hwParamsSetRate(pcm: Handle, p: Handle, rate: number, dir: number): number;
  /** val: uframes cell (in/out); dir: int cell or null. */
  hwParamsSetPeriodSizeNear(pcm: Handle, p: Handle, val: Uint8Array, dir: Uint8Array | null): number;
  hwParamsSetBufferSizeNear(pcm: Handle, p: Handle, val: Uint8Array): number;
  hwParams(pcm: Handle, p: Handle): number;
  hwParamsCurrent(pcm: Handle, p: Handle): number;
  hwParamsGetAccess(p: Handle, out: Uint8Array): number;
  hwParamsGetFormat(p: Handle, out: Uint8Array): number;
  hwParamsGetChannels(p: Handle, out: Uint8Array): number;
  hwParamsGetRate(p: Handle, out: Uint8Array, dir: Uint8Array | null): number;
  hwParamsGetPeriodSize(p: Handle, out: Uint8Array, dir: Uint8Array | null): number;
  hwParamsGetBufferSize(p: Handle, out: Uint8Array): number;
  hwParamsGetRateMin(p: Handle, out: Uint8Array, dir: Uint8Array | null): number;
  hwParamsGetRateMax(p: Handle, out: Uint8Array, dir: Uint8Array | null): number;
  hwParamsGetChannelsMin(p: Handle, out: Uint8Array): number;
  hwParamsGetChannelsMax(p: Handle, out: Uint8Array): number;
  hwParamsTestFormat(pcm: Handle, p: Handle, format: number): number;
  hwParamsTestAccess(pcm: Handle, p: Handle, access: number): number;

  // --- sw params
  swParamsMalloc(out: [Handle]): number;
  swParamsFree(p: Handle): void;
  swParamsCurrent(pcm: Handle, p: Handle): number;
  swParamsSetStartThreshold(pcm: Handle, p: Handle, frames: number): number;
  swParamsSetStopThreshold(pcm: Handle, p: Handle, frames: number): number;
  swParamsSetAvailMin(pcm: Handle, p: Handle, frames: number): number;
  swParamsSetTstampMode(pcm: Handle, p: Handle, mode: number): number;
  swParamsSetTstampType(pcm: Handle, p: Handle, type: number): number;
  swParamsGetBoundary(p: Handle, out: Uint8Array): number;
  swParamsGetStartThreshold(p: Handle, out: Uint8Array): number;
  swParamsGetAvailMin(p: Handle, out: Uint8Array): number;
  swParams(pcm: Handle, p: Handle): number;

  // --- I/O (audio path: numbers and preallocated cells only)
  writei(pcm: Handle, buf: Uint8Array, frames: number): number;
  readi(pcm: Handle, buf: Uint8Array, frames: number): number;
  avail(pcm: Handle): number;
  availUpdate(pcm: Handle): number;
  /** delay: sframes cell. */
  delay(pcm: Handle, delay: Uint8Array): number;
  state(pcm: Handle): number;
  prepare(pcm: Handle): number;
  start(pcm: Handle): number;
  drop(pcm: Handle): number;
  drain(pcm: Handle): number;
  recover(pcm: Handle, err: number, silent: number): number;
  wait(pcm: Handle, timeoutMs: number): number;
  /** areas: pointer cell receiving `const snd_pcm_channel_area_t *`; offset, frames: uframes cells (frames in/out). */
  mmapBegin(pcm: Handle, areas: Uint8Array, offset: Uint8Array, frames: Uint8Array): number;
  mmapCommit(pcm: Handle, offset: number, frames: number): number;
  pollDescriptorsCount(pcm: Handle): number;
  pollDescriptors(pcm: Handle, pfds: Uint8Array, space: number): number;
  /** revents: unsigned short cell. */
  pollDescriptorsRevents(pcm: Handle, pfds: Uint8Array, nfds: number, revents: Uint8Array): number;

  // --- status
  statusMalloc(out: [Handle]): number;
  statusFree(s: Handle): void;
  status(pcm: Handle, s: Handle): number;
  statusGetState(s: Handle): number;
  statusGetTriggerHtstamp(s: Handle, ts: Uint8Array): void;
  statusGetHtstamp(s: Handle, ts: Uint8Array): void;
  statusGetAudioHtstamp(s: Handle, ts: Uint8Array): void;
  statusGetDelay(s: Handle): number;
  statusGetAvail(s: Handle): number;
  statusGetAvailMax(s: Handle): number;

  // --- control
  ctlOpen(out: [Handle], name: string, mode: number): number;
  ctlClose(ctl: Handle): number;
  ctlCardInfoMalloc(out: [Handle]): number;
  ctlCardInfoFree(p: Handle): void;
  ctlCardInfo(ctl: Handle, info: Handle): number;
  ctlCardInfoGetId(info: Handle): string;
  ctlCardInfoGetName(info: Handle): string;
  ctlCardInfoGetCard(info: Handle): number;
  ctlElemListMalloc(out: [Handle]): number;
  ctlElemListFree(p: Handle): void;
  ctlElemList(ctl: Handle, list: Handle): number;
  ctlElemListAllocSpace(list: Handle, entries: number): number;
  ctlElemListFreeSpace(list: Handle): void;
  ctlElemListGetUsed(list: Handle): number;
  ctlElemListGetCount(list: Handle): number;
  ctlElemListGetNumid(list: Handle, idx: number): number;
  ctlElemListGetInterface(list: Handle, idx: number): number;
  ctlElemListGetDevice(list: Handle, idx: number): number;
  ctlElemListGetSubdevice(list: Handle, idx: number): number;
  ctlElemListGetName(list: Handle, idx: number): string;
  ctlElemListGetIndex(list: Handle, idx: number): number;
  ctlElemIfaceName(iface: number): string;
  ctlElemIdMalloc(out: [Handle]): number;
  ctlElemIdFree(p: Handle): void;
  ctlElemIdSetNumid(id: Handle, numid: number): void;
  ctlElemInfoMalloc(out: [Handle]): number;
  ctlElemInfoFree(p: Handle): void;
  ctlElemInfoSetNumid(info: Handle, numid: number): void;
  ctlElemInfo(ctl: Handle, info: Handle): number;
  ctlElemInfoGetId(info: Handle, id: Handle): void;
  ctlElemInfoGetType(info: Handle): number;
  ctlElemInfoGetCount(info: Handle): number;
  ctlElemInfoGetMin(info: Handle): number;
  ctlElemInfoGetMax(info: Handle): number;
  ctlElemInfoGetStep(info: Handle): number;
  ctlElemInfoGetItems(info: Handle): number;
  ctlElemInfoSetItem(info: Handle, item: number): void;
  ctlElemInfoGetItemName(info: Handle): string;
  ctlElemInfoIsReadable(info: Handle): number;
  ctlElemInfoIsWritable(info: Handle): number;
  ctlElemValueMalloc(out: [Handle]): number;
  ctlElemValueFree(p: Handle): void;
  ctlElemValueSetNumid(v: Handle, numid: number): void;
  ctlElemRead(ctl: Handle, v: Handle): number;
  ctlElemWrite(ctl: Handle, v: Handle): number;
  ctlElemValueGetBoolean(v: Handle, idx: number): number;
  ctlElemValueGetInteger(v: Handle, idx: number): number;
  ctlElemValueGetEnumerated(v: Handle, idx: number): number;
  ctlElemValueSetBoolean(v: Handle, idx: number, val: number): void;
  ctlElemValueSetInteger(v: Handle, idx: number, val: number): void;
  ctlElemValueSetEnumerated(v: Handle, idx: number, val: number): void;
  ctlNonblock(ctl: Handle, nonblock: number): number;
  /** 1 = subscribe, 0 = unsubscribe, -1 = ask (returns 1 when subscribed). */
  ctlSubscribeEvents(ctl: Handle, subscribe: number): number;
  /** 1 when an event was read into `ev`; -EAGAIN in non-blocking mode when none is queued. */
  ctlRead(ctl: Handle, ev: Handle): number;
  ctlEventMalloc(out: [Handle]): number;
  ctlEventFree(ev: Handle): void;
  ctlEventGetType(ev: Handle): number;
  ctlEventElemGetMask(ev: Handle): number;
  ctlEventElemGetNumid(ev: Handle): number;
  ctlEventElemGetInterface(ev: Handle): number;
  ctlEventElemGetDevice(ev: Handle): number;
  ctlEventElemGetSubdevice(ev: Handle): number;
  ctlEventElemGetName(ev: Handle): string;
  ctlEventElemGetIndex(ev: Handle): number;
  ctlElemIdClear(id: Handle): void;
  ctlElemIdGetNumid(id: Handle): number;
  ctlElemIdSetInterface(id: Handle, iface: number): void;
  ctlElemIdSetDevice(id: Handle, device: number): void;
  ctlElemIdSetSubdevice(id: Handle, subdevice: number): void;
  ctlElemIdSetName(id: Handle, name: string): void;
  ctlElemIdSetIndex(id: Handle, index: number): void;
  ctlElemInfoSetId(info: Handle, id: Handle): void;
  ctlElemInfoGetNumid(info: Handle): number;
  ctlElemValueSetId(v: Handle, id: Handle): void;
  /** Adds a user element of `count` integers (locked by this handle until unlocked or closed). */
  ctlElemAddInteger(ctl: Handle, id: Handle, count: number, min: number, max: number, step: number): number;
  ctlElemRemove(ctl: Handle, id: Handle): number;
  ctlElemLock(ctl: Handle, id: Handle): number;
  ctlElemUnlock(ctl: Handle, id: Handle): number;
  /** tlv: unsigned ints [type, length in bytes, ...]; alsa-lib sends length + 8 bytes. */
  ctlElemTlvWrite(ctl: Handle, id: Handle, tlv: Uint32Array): number;
  /** tlv: a buffer of `size` bytes receiving [type, length, ...]. */
  ctlElemTlvRead(ctl: Handle, id: Handle, tlv: Uint32Array, size: number): number;
  /** min, max: long cells, in 0.01 dB. */
  ctlGetDbRange(ctl: Handle, id: Handle, min: Uint8Array, max: Uint8Array): number;

  // --- simple mixer
  mixerOpen(out: [Handle], mode: number): number;
  mixerClose(m: Handle): number;
  mixerAttach(m: Handle, name: string): number;
  mixerSelemRegister(m: Handle, options: null, classp: null): number;
  mixerLoad(m: Handle): number;
  mixerHandleEvents(m: Handle): number;
  mixerFirstElem(m: Handle): Handle;
  mixerElemNext(e: Handle): Handle;
  selemGetName(e: Handle): string;
  selemGetIndex(e: Handle): number;
  selemIsActive(e: Handle): number;
  selemHasPlaybackVolume(e: Handle): number;
  selemHasCaptureVolume(e: Handle): number;
  selemHasPlaybackSwitch(e: Handle): number;
  selemHasCaptureSwitch(e: Handle): number;
  selemHasCommonVolume(e: Handle): number;
  selemHasCommonSwitch(e: Handle): number;
  selemIsEnumerated(e: Handle): number;
  selemHasPlaybackChannel(e: Handle, ch: number): number;
  selemHasCaptureChannel(e: Handle, ch: number): number;
  selemGetPlaybackVolumeRange(e: Handle, min: Uint8Array, max: Uint8Array): number;
  selemGetCaptureVolumeRange(e: Handle, min: Uint8Array, max: Uint8Array): number;
  selemGetPlaybackDbRange(e: Handle, min: Uint8Array, max: Uint8Array): number;
  selemGetCaptureDbRange(e: Handle, min: Uint8Array, max: Uint8Array): number;
  selemGetPlaybackVolume(e: Handle, ch: number, val: Uint8Array): number;
  selemGetCaptureVolume(e: Handle, ch: number, val: Uint8Array): number;
  selemGetPlaybackDb(e: Handle, ch: number, val: Uint8Array): number;
  selemGetCaptureDb(e: Handle, ch: number, val: Uint8Array): number;
  selemSetPlaybackVolume(e: Handle, ch: number, val: number): number;
  selemSetCaptureVolume(e: Handle, ch: number, val: number): number;
  selemGetPlaybackSwitch(e: Handle, ch: number, val: Uint8Array): number;
  selemGetCaptureSwitch(e: Handle, ch: number, val: Uint8Array): number;
  selemSetPlaybackSwitch(e: Handle, ch: number, val: number): number;
  selemSetCaptureSwitch(e: Handle, ch: number, val: number): number;
  selemChannelName(ch: number): string;
  selemGetEnumItems(e: Handle): number;
  /** name: a buffer of maxlen bytes that receives a NUL-terminated string. */
  selemGetEnumItemName(e: Handle, idx: number, maxlen: number, name: Uint8Array): number;
  selemGetEnumItem(e: Handle, ch: number, idx: Uint8Array): number;
  selemSetEnumItem(e: Handle, ch: number, idx: number): number;

  // --- sequencer (alsa/seq.h, alsa/seqmid.h); `void *` where a preallocated cell is passed
  seqOpen(out: [Handle], name: string, streams: number, mode: number): number;
  seqClose(seq: Handle): number;
  seqClientId(seq: Handle): number;
  seqSetClientName(seq: Handle, name: string): number;
  seqCreateSimplePort(seq: Handle, name: string, caps: number, type: number): number;
  seqDeleteSimplePort(seq: Handle, port: number): number;
  seqPollDescriptorsCount(seq: Handle, events: number): number;
  /** pfds: `space` struct pollfd cells (POLLFD_BYTES each). */
  seqPollDescriptors(seq: Handle, pfds: Uint8Array, space: number, events: number): number;
  /** ev: pointer cell receiving `snd_seq_event_t *` (libasound's own buffer, valid until the next call). */
  seqEventInput(seq: Handle, ev: Uint8Array): number;
  /** addr: a snd_seq_addr_t cell (SEQ_ADDR_BYTES). */
  seqParseAddress(seq: Handle, addr: Uint8Array, str: string): number;
  seqConnectFrom(seq: Handle, myPort: number, srcClient: number, srcPort: number): number;
  seqDisconnectFrom(seq: Handle, myPort: number, srcClient: number, srcPort: number): number;
  seqClientInfoMalloc(out: [Handle]): number;
  seqClientInfoFree(p: Handle): void;
  seqClientInfoSetClient(p: Handle, client: number): void;
  seqClientInfoGetClient(p: Handle): number;
  seqClientInfoGetName(p: Handle): string;
  seqQueryNextClient(seq: Handle, p: Handle): number;
  seqPortInfoMalloc(out: [Handle]): number;
  seqPortInfoFree(p: Handle): void;
  seqPortInfoSetClient(p: Handle, client: number): void;
  seqPortInfoSetPort(p: Handle, port: number): void;
  seqPortInfoGetClient(p: Handle): number;
  seqPortInfoGetPort(p: Handle): number;
  seqPortInfoGetName(p: Handle): string;
  seqPortInfoGetCapability(p: Handle): number;
  seqQueryNextPort(seq: Handle, p: Handle): number;
  seqQuerySubscribeMalloc(out: [Handle]): number;
  seqQuerySubscribeFree(p: Handle): void;
  /** addr: a snd_seq_addr_t cell. */
  seqQuerySubscribeSetRoot(p: Handle, addr: Uint8Array): void;
  seqQuerySubscribeSetType(p: Handle, type: number): void;
  seqQuerySubscribeSetIndex(p: Handle, index: number): void;
  seqQuerySubscribeGetIndex(p: Handle): number;
  /** The address of the subscriber at the current index: a `const snd_seq_addr_t *` as a number (read it with memcpyFromAddress). */
  seqQuerySubscribeGetAddr(p: Handle): number;
  seqQueryPortSubscribers(seq: Handle, p: Handle): number;

  /** libc memcpy with a raw address on one side: reads or writes native memory without koffi pointer objects. */
  /** Declared returning void: the pointer memcpy returns would cost a BigInt per call. */
  memcpyFromAddress(dst: Uint8Array, srcAddress: number, n: number): void;
  memcpyToAddress(dstAddress: number, src: Uint8Array, n: number): void;
}

let cached: Asound | undefined;

/**
 * Declares an opaque type once per thread. koffi's type names are per thread (per Node
 * environment), not per module instance: a second instance of this module in the same thread
 * (e.g. one loaded under another URL) must reuse the names instead of failing as duplicates.
 */
function opaque(name: string): void {
  try {
    koffi.type(name);
  } catch {
    koffi.opaque(name);
  }
}

/** Loads libasound.so.2 on first use (simulated boards never do). */
export function asound(): Asound {
  if (cached) return cached;
  const lib = koffi.load('libasound.so.2');
  const libc = koffi.load('libc.so.6');
  opaque('snd_pcm_t');
  opaque('snd_pcm_hw_params_t');
  opaque('snd_pcm_sw_params_t');
  opaque('snd_pcm_status_t');
  opaque('snd_ctl_t');
  opaque('snd_ctl_card_info_t');
  opaque('snd_ctl_elem_list_t');
  opaque('snd_ctl_elem_id_t');
  opaque('snd_ctl_elem_info_t');
  opaque('snd_ctl_elem_value_t');
  opaque('snd_ctl_event_t');
  opaque('snd_mixer_t');
  opaque('snd_mixer_elem_t');
  opaque('snd_seq_t');
  opaque('snd_seq_client_info_t');
  opaque('snd_seq_port_info_t');
  opaque('snd_seq_query_subscribe_t');
  const f = (proto: string) => lib.func(proto) as (...args: unknown[]) => unknown;

  // Prototypes as in alsa/pcm.h, alsa/control.h, alsa/mixer.h; `void *` where a preallocated cell is passed.
  const a = {
    strerror: f('const char *snd_strerror(int errnum)'),
    asoundlibVersion: f('const char *snd_asoundlib_version(void)'),
    // alsa/error.h: typedef void (*snd_local_error_handler_t)(file, line, func, err, fmt, va_list);
    // the handler is passed as a plain pointer (koffi.register gives one).
    errorSetLocal: f('void *snd_lib_error_set_local(void *func)'),
    // A va_list parameter is pointer-sized on every ABI a Pi runs (x86-64 and AArch64: a pointer to
    // the list; 32-bit Arm: the list is one pointer), so it goes through as `void *`.
    vsnprintf: libc.func('int vsnprintf(void *buf, size_t size, void *fmt, void *ap)') as (...args: unknown[]) => unknown,

    pcmOpen: f('int snd_pcm_open(_Out_ snd_pcm_t **pcm, const char *name, int stream, int mode)'),
    pcmClose: f('int snd_pcm_close(snd_pcm_t *pcm)'),
    pcmName: f('const char *snd_pcm_name(snd_pcm_t *pcm)'),
    pcmType: f('int snd_pcm_type(snd_pcm_t *pcm)'),
    pcmNonblock: f('int snd_pcm_nonblock(snd_pcm_t *pcm, int nonblock)'),
    formatPhysicalWidth: f('int snd_pcm_format_physical_width(int format)'),

    hwParamsMalloc: f('int snd_pcm_hw_params_malloc(_Out_ snd_pcm_hw_params_t **ptr)'),
    hwParamsFree: f('void snd_pcm_hw_params_free(snd_pcm_hw_params_t *obj)'),
    hwParamsAny: f('int snd_pcm_hw_params_any(snd_pcm_t *pcm, snd_pcm_hw_params_t *params)'),
    hwParamsSetAccess: f('int snd_pcm_hw_params_set_access(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, int access)'),
    hwParamsSetFormat: f('int snd_pcm_hw_params_set_format(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, int format)'),
    hwParamsSetChannels: f('int snd_pcm_hw_params_set_channels(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, unsigned int val)'),
    hwParamsSetRate: f('int snd_pcm_hw_params_set_rate(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, unsigned int val, int dir)'),
    hwParamsSetPeriodSizeNear: f('int snd_pcm_hw_params_set_period_size_near(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, void *val, void *dir)'),
    hwParamsSetBufferSizeNear: f('int snd_pcm_hw_params_set_buffer_size_near(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, void *val)'),
    hwParams: f('int snd_pcm_hw_params(snd_pcm_t *pcm, snd_pcm_hw_params_t *params)'),
    hwParamsCurrent: f('int snd_pcm_hw_params_current(snd_pcm_t *pcm, snd_pcm_hw_params_t *params)'),
    hwParamsGetAccess: f('int snd_pcm_hw_params_get_access(const snd_pcm_hw_params_t *params, void *access)'),
    hwParamsGetFormat: f('int snd_pcm_hw_params_get_format(const snd_pcm_hw_params_t *params, void *val)'),
    hwParamsGetChannels: f('int snd_pcm_hw_params_get_channels(const snd_pcm_hw_params_t *params, void *val)'),
    hwParamsGetRate: f('int snd_pcm_hw_params_get_rate(const snd_pcm_hw_params_t *params, void *val, void *dir)'),
    hwParamsGetPeriodSize: f('int snd_pcm_hw_params_get_period_size(const snd_pcm_hw_params_t *params, void *val, void *dir)'),
    hwParamsGetBufferSize: f('int snd_pcm_hw_params_get_buffer_size(const snd_pcm_hw_params_t *params, void *val)'),
    hwParamsGetRateMin: f('int snd_pcm_hw_params_get_rate_min(const snd_pcm_hw_params_t *params, void *val, void *dir)'),
    hwParamsGetRateMax: f('int snd_pcm_hw_params_get_rate_max(const snd_pcm_hw_params_t *params, void *val, void *dir)'),
    hwParamsGetChannelsMin: f('int snd_pcm_hw_params_get_channels_min(const snd_pcm_hw_params_t *params, void *val)'),
    hwParamsGetChannelsMax: f('int snd_pcm_hw_params_get_channels_max(const snd_pcm_hw_params_t *params, void *val)'),
    hwParamsTestFormat: f('int snd_pcm_hw_params_test_format(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, int val)'),
    hwParamsTestAccess: f('int snd_pcm_hw_params_test_access(snd_pcm_t *pcm, snd_pcm_hw_params_t *params, int access)'),

    swParamsMalloc: f('int snd_pcm_sw_params_malloc(_Out_ snd_pcm_sw_params_t **ptr)'),
    swParamsFree: f('void snd_pcm_sw_params_free(snd_pcm_sw_params_t *obj)'),
    swParamsCurrent: f('int snd_pcm_sw_params_current(snd_pcm_t *pcm, snd_pcm_sw_params_t *params)'),
    swParamsSetStartThreshold: f('int snd_pcm_sw_params_set_start_threshold(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, unsigned long val)'),
    swParamsSetStopThreshold: f('int snd_pcm_sw_params_set_stop_threshold(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, unsigned long val)'),
    swParamsSetAvailMin: f('int snd_pcm_sw_params_set_avail_min(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, unsigned long val)'),
    swParamsSetTstampMode: f('int snd_pcm_sw_params_set_tstamp_mode(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, int val)'),
    swParamsSetTstampType: f('int snd_pcm_sw_params_set_tstamp_type(snd_pcm_t *pcm, snd_pcm_sw_params_t *params, int val)'),
    swParamsGetBoundary: f('int snd_pcm_sw_params_get_boundary(const snd_pcm_sw_params_t *params, void *val)'),
    swParamsGetStartThreshold: f('int snd_pcm_sw_params_get_start_threshold(const snd_pcm_sw_params_t *params, void *val)'),
    swParamsGetAvailMin: f('int snd_pcm_sw_params_get_avail_min(const snd_pcm_sw_params_t *params, void *val)'),
    swParams: f('int snd_pcm_sw_params(snd_pcm_t *pcm, snd_pcm_sw_params_t *params)'),

    writei: f('long snd_pcm_writei(snd_pcm_t *pcm, const void *buffer, unsigned long size)'),
    readi: f('long snd_pcm_readi(snd_pcm_t *pcm, void *buffer, unsigned long size)'),
    avail: f('long snd_pcm_avail(snd_pcm_t *pcm)'),
    availUpdate: f('long snd_pcm_avail_update(snd_pcm_t *pcm)'),
    delay: f('int snd_pcm_delay(snd_pcm_t *pcm, void *delayp)'),
    state: f('int snd_pcm_state(snd_pcm_t *pcm)'),
    prepare: f('int snd_pcm_prepare(snd_pcm_t *pcm)'),
    start: f('int snd_pcm_start(snd_pcm_t *pcm)'),
    drop: f('int snd_pcm_drop(snd_pcm_t *pcm)'),
    drain: f('int snd_pcm_drain(snd_pcm_t *pcm)'),
    recover: f('int snd_pcm_recover(snd_pcm_t *pcm, int err, int silent)'),
    wait: f('int snd_pcm_wait(snd_pcm_t *pcm, int timeout)'),
    mmapBegin: f('int snd_pcm_mmap_begin(snd_pcm_t *pcm, void *areas, void *offset, void *frames)'),
    mmapCommit: f('long snd_pcm_mmap_commit(snd_pcm_t *pcm, unsigned long offset, unsigned long frames)'),
    pollDescriptorsCount: f('int snd_pcm_poll_descriptors_count(snd_pcm_t *pcm)'),
    pollDescriptors: f('int snd_pcm_poll_descriptors(snd_pcm_t *pcm, void *pfds, unsigned int space)'),
    pollDescriptorsRevents: f('int snd_pcm_poll_descriptors_revents(snd_pcm_t *pcm, void *pfds, unsigned int nfds, void *revents)'),

    statusMalloc: f('int snd_pcm_status_malloc(_Out_ snd_pcm_status_t **ptr)'),
    statusFree: f('void snd_pcm_status_free(snd_pcm_status_t *obj)'),
    status: f('int snd_pcm_status(snd_pcm_t *pcm, snd_pcm_status_t *status)'),
    statusGetState: f('int snd_pcm_status_get_state(const snd_pcm_status_t *obj)'),
    statusGetTriggerHtstamp: f('void snd_pcm_status_get_trigger_htstamp(const snd_pcm_status_t *obj, void *ptr)'),
    statusGetHtstamp: f('void snd_pcm_status_get_htstamp(const snd_pcm_status_t *obj, void *ptr)'),
    statusGetAudioHtstamp: f('void snd_pcm_status_get_audio_htstamp(const snd_pcm_status_t *obj, void *ptr)'),
    statusGetDelay: f('long snd_pcm_status_get_delay(const snd_pcm_status_t *obj)'),
    statusGetAvail: f('unsigned long snd_pcm_status_get_avail(const snd_pcm_status_t *obj)'),
    statusGetAvailMax: f('unsigned long snd_pcm_status_get_avail_max(const snd_pcm_status_t *obj)'),

    ctlOpen: f('int snd_ctl_open(_Out_ snd_ctl_t **ctl, const char *name, int mode)'),
    ctlClose: f('int snd_ctl_close(snd_ctl_t *ctl)'),
    ctlCardInfoMalloc: f('int snd_ctl_card_info_malloc(_Out_ snd_ctl_card_info_t **ptr)'),
    ctlCardInfoFree: f('void snd_ctl_card_info_free(snd_ctl_card_info_t *obj)'),
    ctlCardInfo: f('int snd_ctl_card_info(snd_ctl_t *ctl, snd_ctl_card_info_t *info)'),
    ctlCardInfoGetId: f('const char *snd_ctl_card_info_get_id(const snd_ctl_card_info_t *obj)'),
    ctlCardInfoGetName: f('const char *snd_ctl_card_info_get_name(const snd_ctl_card_info_t *obj)'),
    ctlCardInfoGetCard: f('int snd_ctl_card_info_get_card(const snd_ctl_card_info_t *obj)'),
    ctlElemListMalloc: f('int snd_ctl_elem_list_malloc(_Out_ snd_ctl_elem_list_t **ptr)'),
    ctlElemListFree: f('void snd_ctl_elem_list_free(snd_ctl_elem_list_t *obj)'),
    ctlElemList: f('int snd_ctl_elem_list(snd_ctl_t *ctl, snd_ctl_elem_list_t *list)'),
    ctlElemListAllocSpace: f('int snd_ctl_elem_list_alloc_space(snd_ctl_elem_list_t *obj, unsigned int entries)'),
    ctlElemListFreeSpace: f('void snd_ctl_elem_list_free_space(snd_ctl_elem_list_t *obj)'),
    ctlElemListGetUsed: f('unsigned int snd_ctl_elem_list_get_used(const snd_ctl_elem_list_t *obj)'),
    ctlElemListGetCount: f('unsigned int snd_ctl_elem_list_get_count(const snd_ctl_elem_list_t *obj)'),
    ctlElemListGetNumid: f('unsigned int snd_ctl_elem_list_get_numid(const snd_ctl_elem_list_t *obj, unsigned int idx)'),
    ctlElemListGetInterface: f('int snd_ctl_elem_list_get_interface(const snd_ctl_elem_list_t *obj, unsigned int idx)'),
    ctlElemListGetDevice: f('unsigned int snd_ctl_elem_list_get_device(const snd_ctl_elem_list_t *obj, unsigned int idx)'),
    ctlElemListGetSubdevice: f('unsigned int snd_ctl_elem_list_get_subdevice(const snd_ctl_elem_list_t *obj, unsigned int idx)'),
    ctlElemListGetName: f('const char *snd_ctl_elem_list_get_name(const snd_ctl_elem_list_t *obj, unsigned int idx)'),
    ctlElemListGetIndex: f('unsigned int snd_ctl_elem_list_get_index(const snd_ctl_elem_list_t *obj, unsigned int idx)'),
    ctlElemIfaceName: f('const char *snd_ctl_elem_iface_name(int iface)'),
    ctlElemIdMalloc: f('int snd_ctl_elem_id_malloc(_Out_ snd_ctl_elem_id_t **ptr)'),
    ctlElemIdFree: f('void snd_ctl_elem_id_free(snd_ctl_elem_id_t *obj)'),
    ctlElemIdSetNumid: f('void snd_ctl_elem_id_set_numid(snd_ctl_elem_id_t *obj, unsigned int val)'),
    ctlElemInfoMalloc: f('int snd_ctl_elem_info_malloc(_Out_ snd_ctl_elem_info_t **ptr)'),
    ctlElemInfoFree: f('void snd_ctl_elem_info_free(snd_ctl_elem_info_t *obj)'),
    ctlElemInfoSetNumid: f('void snd_ctl_elem_info_set_numid(snd_ctl_elem_info_t *obj, unsigned int val)'),
    ctlElemInfo: f('int snd_ctl_elem_info(snd_ctl_t *ctl, snd_ctl_elem_info_t *info)'),
    ctlElemInfoGetId: f('void snd_ctl_elem_info_get_id(const snd_ctl_elem_info_t *obj, snd_ctl_elem_id_t *ptr)'),
    ctlElemInfoGetType: f('int snd_ctl_elem_info_get_type(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoGetCount: f('unsigned int snd_ctl_elem_info_get_count(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoGetMin: f('long snd_ctl_elem_info_get_min(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoGetMax: f('long snd_ctl_elem_info_get_max(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoGetStep: f('long snd_ctl_elem_info_get_step(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoGetItems: f('unsigned int snd_ctl_elem_info_get_items(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoSetItem: f('void snd_ctl_elem_info_set_item(snd_ctl_elem_info_t *obj, unsigned int val)'),
    ctlElemInfoGetItemName: f('const char *snd_ctl_elem_info_get_item_name(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoIsReadable: f('int snd_ctl_elem_info_is_readable(const snd_ctl_elem_info_t *obj)'),
    ctlElemInfoIsWritable: f('int snd_ctl_elem_info_is_writable(const snd_ctl_elem_info_t *obj)'),
    ctlElemValueMalloc: f('int snd_ctl_elem_value_malloc(_Out_ snd_ctl_elem_value_t **ptr)'),
    ctlElemValueFree: f('void snd_ctl_elem_value_free(snd_ctl_elem_value_t *obj)'),
    ctlElemValueSetNumid: f('void snd_ctl_elem_value_set_numid(snd_ctl_elem_value_t *obj, unsigned int val)'),
    ctlElemRead: f('int snd_ctl_elem_read(snd_ctl_t *ctl, snd_ctl_elem_value_t *data)'),
    ctlElemWrite: f('int snd_ctl_elem_write(snd_ctl_t *ctl, snd_ctl_elem_value_t *data)'),
    ctlElemValueGetBoolean: f('int snd_ctl_elem_value_get_boolean(const snd_ctl_elem_value_t *obj, unsigned int idx)'),
    ctlElemValueGetInteger: f('long snd_ctl_elem_value_get_integer(const snd_ctl_elem_value_t *obj, unsigned int idx)'),
    ctlElemValueGetEnumerated: f('unsigned int snd_ctl_elem_value_get_enumerated(const snd_ctl_elem_value_t *obj, unsigned int idx)'),
    ctlElemValueSetBoolean: f('void snd_ctl_elem_value_set_boolean(snd_ctl_elem_value_t *obj, unsigned int idx, long val)'),
    ctlElemValueSetInteger: f('void snd_ctl_elem_value_set_integer(snd_ctl_elem_value_t *obj, unsigned int idx, long val)'),
    ctlElemValueSetEnumerated: f('void snd_ctl_elem_value_set_enumerated(snd_ctl_elem_value_t *obj, unsigned int idx, unsigned int val)'),
    // alsa/control.h. Events: snd_ctl_subscribe_events asks the kernel to queue an event for every
    // change of any element of the card on this handle (sound/core/control.c snd_ctl_notify queues
    // only for subscribed files, including the one whose write caused the change); snd_ctl_read
    // reads one (alsa-lib's hw backend: one read(2) of the fd, 1 on success, -errno otherwise, so
    // -EAGAIN after snd_ctl_nonblock(ctl, 1) when the queue is empty).
    ctlNonblock: f('int snd_ctl_nonblock(snd_ctl_t *ctl, int nonblock)'),
    ctlSubscribeEvents: f('int snd_ctl_subscribe_events(snd_ctl_t *ctl, int subscribe)'),
    ctlRead: f('int snd_ctl_read(snd_ctl_t *ctl, snd_ctl_event_t *event)'),
    ctlEventMalloc: f('int snd_ctl_event_malloc(_Out_ snd_ctl_event_t **ptr)'),
    ctlEventFree: f('void snd_ctl_event_free(snd_ctl_event_t *obj)'),
    ctlEventGetType: f('int snd_ctl_event_get_type(const snd_ctl_event_t *obj)'),
    ctlEventElemGetMask: f('unsigned int snd_ctl_event_elem_get_mask(const snd_ctl_event_t *obj)'),
    ctlEventElemGetNumid: f('unsigned int snd_ctl_event_elem_get_numid(const snd_ctl_event_t *obj)'),
    ctlEventElemGetInterface: f('int snd_ctl_event_elem_get_interface(const snd_ctl_event_t *obj)'),
    ctlEventElemGetDevice: f('unsigned int snd_ctl_event_elem_get_device(const snd_ctl_event_t *obj)'),
    ctlEventElemGetSubdevice: f('unsigned int snd_ctl_event_elem_get_subdevice(const snd_ctl_event_t *obj)'),
    ctlEventElemGetName: f('const char *snd_ctl_event_elem_get_name(const snd_ctl_event_t *obj)'),
    ctlEventElemGetIndex: f('unsigned int snd_ctl_event_elem_get_index(const snd_ctl_event_t *obj)'),
    // Element ids by name: with numid 0 the kernel looks an element up by iface, device, subdevice,
    // name and index, all five (sound/core/control.c snd_ctl_find_id); with a numid, by that alone.
    ctlElemIdClear: f('void snd_ctl_elem_id_clear(snd_ctl_elem_id_t *obj)'),
    ctlElemIdGetNumid: f('unsigned int snd_ctl_elem_id_get_numid(const snd_ctl_elem_id_t *obj)'),
    ctlElemIdSetInterface: f('void snd_ctl_elem_id_set_interface(snd_ctl_elem_id_t *obj, int val)'),
    ctlElemIdSetDevice: f('void snd_ctl_elem_id_set_device(snd_ctl_elem_id_t *obj, unsigned int val)'),
    ctlElemIdSetSubdevice: f('void snd_ctl_elem_id_set_subdevice(snd_ctl_elem_id_t *obj, unsigned int val)'),
    ctlElemIdSetName: f('void snd_ctl_elem_id_set_name(snd_ctl_elem_id_t *obj, const char *val)'),
    ctlElemIdSetIndex: f('void snd_ctl_elem_id_set_index(snd_ctl_elem_id_t *obj, unsigned int val)'),
    ctlElemInfoSetId: f('void snd_ctl_elem_info_set_id(snd_ctl_elem_info_t *obj, const snd_ctl_elem_id_t *ptr)'),
    ctlElemInfoGetNumid: f('unsigned int snd_ctl_elem_info_get_numid(const snd_ctl_elem_info_t *obj)'),
    ctlElemValueSetId: f('void snd_ctl_elem_value_set_id(snd_ctl_elem_value_t *obj, const snd_ctl_elem_id_t *ptr)'),
    // User elements (sound/core/control.c snd_ctl_elem_add): -EBUSY when an element of that id
    // exists; the new element is locked by the handle that added it (writes from other handles get
    // -EPERM) until snd_ctl_elem_unlock or until that handle is closed. alsa-lib gives it read/write
    // and TLV read/write access and sets every member to `min` (src/control/control.c
    // snd_ctl_add_integer_elem_set, USER_ACCESS_DEFAULT). snd_ctl_elem_remove: -EBUSY while
    // another handle holds the lock, -EINVAL for an element a driver made.
    ctlElemAddInteger: f('int snd_ctl_elem_add_integer(snd_ctl_t *ctl, const snd_ctl_elem_id_t *id, unsigned int count, long imin, long imax, long istep)'),
    ctlElemRemove: f('int snd_ctl_elem_remove(snd_ctl_t *ctl, snd_ctl_elem_id_t *id)'),
    ctlElemLock: f('int snd_ctl_elem_lock(snd_ctl_t *ctl, snd_ctl_elem_id_t *id)'),
    ctlElemUnlock: f('int snd_ctl_elem_unlock(snd_ctl_t *ctl, snd_ctl_elem_id_t *id)'),
    ctlElemTlvWrite: f('int snd_ctl_elem_tlv_write(snd_ctl_t *ctl, const snd_ctl_elem_id_t *id, const void *tlv)'),
    ctlElemTlvRead: f('int snd_ctl_elem_tlv_read(snd_ctl_t *ctl, const snd_ctl_elem_id_t *id, void *tlv, unsigned int tlv_size)'),
    ctlGetDbRange: f('int snd_ctl_get_dB_range(snd_ctl_t *ctl, const snd_ctl_elem_id_t *id, void *min, void *max)'),

    mixerOpen: f('int snd_mixer_open(_Out_ snd_mixer_t **mixer, int mode)'),
    mixerClose: f('int snd_mixer_close(snd_mixer_t *mixer)'),
    mixerAttach: f('int snd_mixer_attach(snd_mixer_t *mixer, const char *name)'),
    mixerSelemRegister: f('int snd_mixer_selem_register(snd_mixer_t *mixer, void *options, void *classp)'),
    mixerLoad: f('int snd_mixer_load(snd_mixer_t *mixer)'),
    mixerHandleEvents: f('int snd_mixer_handle_events(snd_mixer_t *mixer)'),
    mixerFirstElem: f('snd_mixer_elem_t *snd_mixer_first_elem(snd_mixer_t *mixer)'),
    mixerElemNext: f('snd_mixer_elem_t *snd_mixer_elem_next(snd_mixer_elem_t *elem)'),
    selemGetName: f('const char *snd_mixer_selem_get_name(snd_mixer_elem_t *elem)'),
    selemGetIndex: f('unsigned int snd_mixer_selem_get_index(snd_mixer_elem_t *elem)'),
    selemIsActive: f('int snd_mixer_selem_is_active(snd_mixer_elem_t *elem)'),
    selemHasPlaybackVolume: f('int snd_mixer_selem_has_playback_volume(snd_mixer_elem_t *elem)'),
    selemHasCaptureVolume: f('int snd_mixer_selem_has_capture_volume(snd_mixer_elem_t *elem)'),
    selemHasPlaybackSwitch: f('int snd_mixer_selem_has_playback_switch(snd_mixer_elem_t *elem)'),
    selemHasCaptureSwitch: f('int snd_mixer_selem_has_capture_switch(snd_mixer_elem_t *elem)'),
    selemHasCommonVolume: f('int snd_mixer_selem_has_common_volume(snd_mixer_elem_t *elem)'),
    selemHasCommonSwitch: f('int snd_mixer_selem_has_common_switch(snd_mixer_elem_t *elem)'),
    selemIsEnumerated: f('int snd_mixer_selem_is_enumerated(snd_mixer_elem_t *elem)'),
    selemHasPlaybackChannel: f('int snd_mixer_selem_has_playback_channel(snd_mixer_elem_t *elem, int channel)'),
    selemHasCaptureChannel: f('int snd_mixer_selem_has_capture_channel(snd_mixer_elem_t *elem, int channel)'),
    selemGetPlaybackVolumeRange: f('int snd_mixer_selem_get_playback_volume_range(snd_mixer_elem_t *elem, void *min, void *max)'),
    selemGetCaptureVolumeRange: f('int snd_mixer_selem_get_capture_volume_range(snd_mixer_elem_t *elem, void *min, void *max)'),
    selemGetPlaybackDbRange: f('int snd_mixer_selem_get_playback_dB_range(snd_mixer_elem_t *elem, void *min, void *max)'),
    selemGetCaptureDbRange: f('int snd_mixer_selem_get_capture_dB_range(snd_mixer_elem_t *elem, void *min, void *max)'),
    selemGetPlaybackVolume: f('int snd_mixer_selem_get_playback_volume(snd_mixer_elem_t *elem, int channel, void *value)'),
    selemGetCaptureVolume: f('int snd_mixer_selem_get_capture_volume(snd_mixer_elem_t *elem, int channel, void *value)'),
    selemGetPlaybackDb: f('int snd_mixer_selem_get_playback_dB(snd_mixer_elem_t *elem, int channel, void *value)'),
    selemGetCaptureDb: f('int snd_mixer_selem_get_capture_dB(snd_mixer_elem_t *elem, int channel, void *value)'),
    selemSetPlaybackVolume: f('int snd_mixer_selem_set_playback_volume(snd_mixer_elem_t *elem, int channel, long value)'),
    selemSetCaptureVolume: f('int snd_mixer_selem_set_capture_volume(snd_mixer_elem_t *elem, int channel, long value)'),
    selemGetPlaybackSwitch: f('int snd_mixer_selem_get_playback_switch(snd_mixer_elem_t *elem, int channel, void *value)'),
    selemGetCaptureSwitch: f('int snd_mixer_selem_get_capture_switch(snd_mixer_elem_t *elem, int channel, void *value)'),
    selemSetPlaybackSwitch: f('int snd_mixer_selem_set_playback_switch(snd_mixer_elem_t *elem, int channel, int value)'),
    selemSetCaptureSwitch: f('int snd_mixer_selem_set_capture_switch(snd_mixer_elem_t *elem, int channel, int value)'),
    selemChannelName: f('const char *snd_mixer_selem_channel_name(int channel)'),
    selemGetEnumItems: f('int snd_mixer_selem_get_enum_items(snd_mixer_elem_t *elem)'),
    selemGetEnumItemName: f('int snd_mixer_selem_get_enum_item_name(snd_mixer_elem_t *elem, unsigned int idx, size_t maxlen, void *str)'),
    selemGetEnumItem: f('int snd_mixer_selem_get_enum_item(snd_mixer_elem_t *elem, int channel, void *idxp)'),
    selemSetEnumItem: f('int snd_mixer_selem_set_enum_item(snd_mixer_elem_t *elem, int channel, unsigned int idx)'),

    // alsa/seq.h
    seqOpen: f('int snd_seq_open(_Out_ snd_seq_t **handle, const char *name, int streams, int mode)'),
    seqClose: f('int snd_seq_close(snd_seq_t *handle)'),
    seqClientId: f('int snd_seq_client_id(snd_seq_t *handle)'),
    seqPollDescriptorsCount: f('int snd_seq_poll_descriptors_count(snd_seq_t *handle, short events)'),
    seqPollDescriptors: f('int snd_seq_poll_descriptors(snd_seq_t *handle, void *pfds, unsigned int space, short events)'),
    seqEventInput: f('int snd_seq_event_input(snd_seq_t *handle, void *ev)'),
    seqClientInfoMalloc: f('int snd_seq_client_info_malloc(_Out_ snd_seq_client_info_t **ptr)'),
    seqClientInfoFree: f('void snd_seq_client_info_free(snd_seq_client_info_t *ptr)'),
    seqClientInfoSetClient: f('void snd_seq_client_info_set_client(snd_seq_client_info_t *info, int client)'),
    seqClientInfoGetClient: f('int snd_seq_client_info_get_client(const snd_seq_client_info_t *info)'),
    seqClientInfoGetName: f('const char *snd_seq_client_info_get_name(snd_seq_client_info_t *info)'),
    seqQueryNextClient: f('int snd_seq_query_next_client(snd_seq_t *handle, snd_seq_client_info_t *info)'),
    seqPortInfoMalloc: f('int snd_seq_port_info_malloc(_Out_ snd_seq_port_info_t **ptr)'),
    seqPortInfoFree: f('void snd_seq_port_info_free(snd_seq_port_info_t *ptr)'),
    seqPortInfoSetClient: f('void snd_seq_port_info_set_client(snd_seq_port_info_t *info, int client)'),
    seqPortInfoSetPort: f('void snd_seq_port_info_set_port(snd_seq_port_info_t *info, int port)'),
    seqPortInfoGetClient: f('int snd_seq_port_info_get_client(const snd_seq_port_info_t *info)'),
    seqPortInfoGetPort: f('int snd_seq_port_info_get_port(const snd_seq_port_info_t *info)'),
    seqPortInfoGetName: f('const char *snd_seq_port_info_get_name(const snd_seq_port_info_t *info)'),
    seqPortInfoGetCapability: f('unsigned int snd_seq_port_info_get_capability(const snd_seq_port_info_t *info)'),
    seqQueryNextPort: f('int snd_seq_query_next_port(snd_seq_t *handle, snd_seq_port_info_t *info)'),
    seqQuerySubscribeMalloc: f('int snd_seq_query_subscribe_malloc(_Out_ snd_seq_query_subscribe_t **ptr)'),
    seqQuerySubscribeFree: f('void snd_seq_query_subscribe_free(snd_seq_query_subscribe_t *ptr)'),
    seqQuerySubscribeSetRoot: f('void snd_seq_query_subscribe_set_root(snd_seq_query_subscribe_t *info, const void *addr)'),
    seqQuerySubscribeSetType: f('void snd_seq_query_subscribe_set_type(snd_seq_query_subscribe_t *info, int type)'),
    seqQuerySubscribeSetIndex: f('void snd_seq_query_subscribe_set_index(snd_seq_query_subscribe_t *info, int _index)'),
    seqQuerySubscribeGetIndex: f('int snd_seq_query_subscribe_get_index(const snd_seq_query_subscribe_t *info)'),
    // Returns `const snd_seq_addr_t *`, declared as an address so that no pointer object (a BigInt) is made.
    seqQuerySubscribeGetAddr: f('uintptr_t snd_seq_query_subscribe_get_addr(const snd_seq_query_subscribe_t *info)'),
    seqQueryPortSubscribers: f('int snd_seq_query_port_subscribers(snd_seq_t *seq, snd_seq_query_subscribe_t *subs)'),
    // alsa/seqmid.h
    seqSetClientName: f('int snd_seq_set_client_name(snd_seq_t *seq, const char *name)'),
    seqCreateSimplePort: f('int snd_seq_create_simple_port(snd_seq_t *seq, const char *name, unsigned int caps, unsigned int type)'),
    seqDeleteSimplePort: f('int snd_seq_delete_simple_port(snd_seq_t *seq, int port)'),
    seqParseAddress: f('int snd_seq_parse_address(snd_seq_t *seq, void *addr, const char *str)'),
    seqConnectFrom: f('int snd_seq_connect_from(snd_seq_t *seq, int my_port, int src_client, int src_port)'),
    seqDisconnectFrom: f('int snd_seq_disconnect_from(snd_seq_t *seq, int my_port, int src_client, int src_port)'),

    memcpyFromAddress: libc.func('void memcpy(void *dst, uintptr_t src, size_t n)') as (...args: unknown[]) => unknown,
    memcpyToAddress: libc.func('void memcpy(uintptr_t dst, const void *src, size_t n)') as (...args: unknown[]) => unknown,
  };
  cached = a as unknown as Asound;
  return cached;
}

/** An alsa-lib call failed: `code` is the negative errno it returned, the message has snd_strerror's text. */
export class AlsaError extends Error {
  readonly errno: number;
  /** What alsa-lib said during the call (caught by `captureAlsaMessages`), oldest first; folded into the message. */
  readonly alsaMessages: readonly AlsaLibMessage[];
  constructor(
    readonly op: string,
    readonly code: number,
    readonly target: string,
  ) {
    const said = takeAlsaMessages();
    super(`${op}(${target}): ${asound().strerror(code)} (${code})${foldAlsaMessages(said)}`);
    this.name = 'AlsaError';
    this.errno = -code;
    this.alsaMessages = said;
  }
}

/** Returns `rc` when ≥ 0, throws AlsaError otherwise. */
export function check(rc: number, op: string, target: string): number {
  if (rc < 0) throw new AlsaError(op, rc, target);
  return rc;
}

/**
 * Little-endian scalar cells for out-parameters, read without BigInt (which would allocate).
 * Values stay below 2^53: frame counts and user-space addresses do.
 */
export class NativeCell {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(size = 8) {
    this.bytes = new Uint8Array(Math.max(size, 8));
    this.view = new DataView(this.bytes.buffer);
  }
  /** unsigned long / snd_pcm_uframes_t / pointer-sized unsigned. */
  ulong(): number {
    return LONG_BYTES === 8 ? this.view.getUint32(0, true) + this.view.getUint32(4, true) * 0x1_0000_0000 : this.view.getUint32(0, true);
  }
  /** long / snd_pcm_sframes_t. */
  long(): number {
    return LONG_BYTES === 8 ? this.view.getUint32(0, true) + this.view.getInt32(4, true) * 0x1_0000_0000 : this.view.getInt32(0, true);
  }
  pointer(): number {
    return POINTER_BYTES === 8 ? this.view.getUint32(0, true) + this.view.getUint32(4, true) * 0x1_0000_0000 : this.view.getUint32(0, true);
  }
  int(): number {
    return this.view.getInt32(0, true);
  }
  uint(): number {
    return this.view.getUint32(0, true);
  }
  ushort(): number {
    return this.view.getUint16(0, true);
  }
  setUlong(v: number): void {
    if (LONG_BYTES === 8) {
      this.view.setUint32(0, v % 0x1_0000_0000, true);
      this.view.setUint32(4, Math.floor(v / 0x1_0000_0000), true);
    } else {
      this.view.setUint32(0, v, true);
    }
  }
  setInt(v: number): void {
    this.view.setInt32(0, v, true);
  }
  /** struct timespec as float64 ns. */
  timespecNs(): number {
    const sec = LONG_BYTES === 8 ? this.view.getUint32(0, true) + this.view.getInt32(4, true) * 0x1_0000_0000 : this.view.getInt32(0, true);
    const nsec = this.view.getInt32(LONG_BYTES, true);
    return sec * 1e9 + nsec;
  }
}
