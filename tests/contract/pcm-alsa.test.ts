/**
 * The PCM HAL contract on libasound's `null` device, which exists wherever libasound does. It is
 * not paced in time, so the suite skips its timing checks; the paced run is in the QEMU guest
 * (tests/hil/guest/alsa-pcm-contract.hil.ts on hw:Dummy and hw:Loopback).
 */
import { AlsaPcmBackend } from '../../src/hal/linux/alsa/pcm-backend.ts';
import { monotonicClock } from '../../src/hal/linux/clock.ts';
import { pcmContract } from './pcm.contract.ts';

pcmContract('libasound null device', async () => ({
  backend: new AlsaPcmBackend(),
  playbackDevice: 'null',
  captureDevice: 'null',
  paced: false,
  clock: monotonicClock(),
  close: async () => {},
}));
