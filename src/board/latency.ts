/**
 * The external delay of a stream, as the board layer names it. The breakdown itself (codec filter
 * group delay + the board's analog path, with sources) lives with the codec layer.
 */
export { externalDelay as latencyBreakdown, type ExternalDelay as LatencyBreakdown } from '../codec/latency.ts';
