export { FrameRing, RingLayoutError, RING_HEADER_BYTES, RING_MAGIC, RING_VERSION, ringBytes } from './ring.ts';
export { SharedMapping, ShmFrameRing } from './shm.ts';
