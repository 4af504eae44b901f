/** The driver-owned real-time engine (see docs/engine.md). */
export { EngineDevice, EngineDriver, type EngineStats, type RunOptions } from './driver.ts';
export { ENGINE_ERROR_CODES, ENGINE_RESULT, EngineError, type EngineErrorCode } from './errors.ts';
export { PeriodBuffers, PCM_FORMAT_PREFERENCE } from './format.ts';
export { CTRL, PeriodLoop, type LoopOptions, type LoopStreams } from './loop.ts';
export { alsaDevice, alsaDevices, boardDevices, type ResolvedDevice } from './devices.ts';
export type { SimCaptureSpec } from './sim-signals.ts';
export * from './types.ts';
