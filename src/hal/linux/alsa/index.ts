/** libasound through koffi: PCM, control and simple mixer, the sequencer, and the PCM, MIDI and loopback-card HAL backends on top. */
export * from './libasound.ts';
export * from './lib-messages.ts';
export * from './pcm.ts';
export * from './control.ts';
export * from './pcm-backend.ts';
export * from './seq.ts';
export * from './loopback-card.ts';
