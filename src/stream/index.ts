/** The stream service and its client: see docs/PROTOCOL.md. */
export * from './wire.ts';
export * from './device.ts';
export { StreamCore, Connection, type ChannelSink, type StreamCoreOptions, roundGainToStep } from './core.ts';
export { createBoardDevices, endpointName, streamUniqueId, extraFormatRanges, type BoardDevices, type BoardDevicesOptions } from './board-device.ts';
export * from './discovery.ts';
export { serveEndpoint, FrameReader, frameBytes, DEFAULT_MAX_QUEUED_BYTES, type EndpointServer, type EndpointServerOptions } from './transport.ts';
export type { StreamService, StreamServiceOptions } from './service.ts';
export * from './client.ts';
