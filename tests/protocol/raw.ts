/**
 * The suite's bare client connection lives in src/stream/conformance/raw.ts (one copy, shared with
 * `sbc-audio conformance`); this module re-exports it for the suite.
 */
export { RawConn, f32At, f32Bytes, frame, i32At, i64At, le32, req, u32At } from '../../src/stream/conformance/raw.ts';
