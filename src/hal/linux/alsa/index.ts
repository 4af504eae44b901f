/** libasound through koffi: PCM, control and simple mixer, and the PCM HAL backend on top. */
export * from './libasound.ts';
export * from './pcm.ts';
export * from './control.ts';
export * from './pcm-backend.ts';
