/**
 * A loopback sound card (Linux snd-aloop): the HAL seam of the ALSA way in (issue 27,
 * docs/alsa-in.md). Players write to playback device 0, subdevice N; what they write comes out of
 * capture device 1, subdevice N — a "cable". The card's controls tell who plays and with what
 * parameters, and slow or speed a cable up ("PCM Rate Shift 100000"). The libasound implementation
 * is src/hal/linux/alsa/loopback-card.ts; a simulated one for tests is src/hal/sim/loopback-card.ts.
 *
 * Facts (Linux sound/drivers/aloop.c, 6.1): per device D and subdevice N there are six controls of
 * iface PCM: "PCM Rate Shift 100000" (80000..120000; a cable runs at nominal × 100000 / value, one
 * step = 10 ppm), "PCM Notify" (bool: with 1, a player that opens with other parameters stops the
 * running capture), and the read-only "PCM Slave Active", "PCM Slave Format" (a snd_pcm_format_t
 * number), "PCM Slave Rate", "PCM Slave Channels". The cable "playback 0,N → capture 1,N" is
 * described by the controls of device 1, subdevice N (aloop.c get_setup(); alsaloop's man page uses
 * device=1 the same way). Copies are memcpy: a cable is bit-exact; the rate shift paces both ends.
 * There is no volume control on the card: the ALSA way in adds a user element (`UserVolume`).
 */
import type { SampleFormat } from './pcm.ts';

/** What a cable's player is doing, from the controls of device 1, subdevice N. */
export interface LoopbackCable {
  /** Subdevice N. */
  readonly subdevice: number;
  /** PCM Slave Active: the player has started (and not stopped or paused). */
  readonly active: boolean;
  /** PCM Slave Rate, Hz (0 when no player has set one). */
  readonly rate: number;
  /** PCM Slave Channels. */
  readonly channels: number;
  /** PCM Slave Format as a HAL sample format, or undefined when it is one the HAL does not carry. */
  readonly format: SampleFormat | undefined;
  /** PCM Slave Format as snd_pcm_format_t (S16_LE 2, S24_LE 6, S32_LE 10, FLOAT_LE 14, S24_3LE 32). */
  readonly formatCode: number;
}

/** The neutral rate shift (aloop.c: NO_PITCH). */
export const RATE_SHIFT_NEUTRAL = 100000;
/** The control's range (aloop.c: loopback_rate_shift_info). */
export const RATE_SHIFT_MIN = 80000;
export const RATE_SHIFT_MAX = 120000;

export interface LoopbackCard {
  /** The card's id ('Loopback'). */
  readonly id: string;
  /** Cables (subdevices of device 1): the module's pcm_substreams. */
  readonly subdevices: number;
  /** The PCM name a player writes to for cable N ('hw:Loopback,0,N'). */
  playbackPcm(subdevice: number): string;
  /** The PCM name the bridge captures cable N from ('hw:Loopback,1,N'). */
  capturePcm(subdevice: number): string;
  /** Reads the four Slave controls of cable N. */
  cable(subdevice: number): LoopbackCable;
  /** Sets PCM Notify of cable N (device 1). */
  setNotify(subdevice: number, on: boolean): void;
  /** PCM Rate Shift 100000 of cable N (device 1). */
  rateShift(subdevice: number): number;
  /** Writes PCM Rate Shift 100000 of cable N (device 1); clamped by the caller to RATE_SHIFT_MIN..MAX. */
  setRateShift(subdevice: number, value: number): void;
  /**
   * Cables whose controls changed since the last call (ctl events, read without blocking): the
   * caller then reads them with `cable()`. An empty array when nothing changed. Allocates only
   * when something changed.
   */
  changed(): number[];
  close(): void;
}

/**
 * A stereo volume element the bridge adds to the card so that a player's "hardware" mixer (mpd's
 * mixer_type "hardware", amixer) has a control: iface MIXER, name "PCM Playback Volume" (the simple
 * mixer shows it as "PCM", mpd's default mixer_control), integer min..max with a dB scale TLV.
 * User elements outlive the process that made them (kernel sound/core/control.c): opening reuses
 * an element of the same id and range, and replaces one of another range.
 */
export interface UserVolume {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** dB of `min`, centi-dB (TLV DB_SCALE min). */
  readonly minCdb: number;
  /** centi-dB per step (TLV DB_SCALE step). */
  readonly stepCdb: number;
  /** The values (one per channel). */
  read(): number[];
  /** Writes all channels (subscribers, e.g. mpd, get an event). */
  write(values: number[]): void;
  /** True once when another process wrote the element since the last call (ctl events, without blocking). */
  changed(): boolean;
  /** Removes the element from the card. */
  remove(): void;
  close(): void;
}

export interface UserVolumeSpec {
  /** Default 'PCM Playback Volume'. */
  name?: string;
  channels: number;
  min: number;
  max: number;
  minCdb: number;
  stepCdb: number;
}

export interface LoopbackBackend {
  /** Opens the loopback card by id ('Loopback') or index; LoopbackError naming what is missing. */
  open(card: string): LoopbackCard;
  /** Adds (or reuses) the volume element on that card. */
  userVolume(card: string, spec: UserVolumeSpec): UserVolume;
}

export class LoopbackError extends Error {
  constructor(readonly card: string, message: string) {
    super(`${card}: ${message}`);
    this.name = 'LoopbackError';
  }
}
