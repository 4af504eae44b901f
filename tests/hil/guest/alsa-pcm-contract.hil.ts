/** The PCM HAL contract on paced kernel devices: hw:Dummy (hrtimer) and hw:Loopback (jiffies timer). */
import { AlsaPcmBackend } from '../../../src/hal/linux/alsa/pcm-backend.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { pcmContract } from '../../contract/pcm.contract.ts';
import { hilEnv } from '../env.ts';

const env = hilEnv();
if (env.alsa.dummy) {
  pcmContract(`libasound ${env.alsa.dummy} (snd-dummy)`, async () => ({
    backend: new AlsaPcmBackend(), playbackDevice: env.alsa.dummy!, captureDevice: env.alsa.dummy!, paced: true, clock: monotonicClock(), close: async () => {},
  }));
}
if (env.alsa.loopbackPlayback && env.alsa.loopbackCapture) {
  pcmContract(`libasound ${env.alsa.loopbackPlayback} / ${env.alsa.loopbackCapture} (snd-aloop)`, async () => ({
    backend: new AlsaPcmBackend(), playbackDevice: env.alsa.loopbackPlayback!, captureDevice: env.alsa.loopbackCapture!, paced: true, clock: monotonicClock(), close: async () => {},
  }));
}
