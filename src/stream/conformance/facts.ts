/**
 * Wire values the conformance checks use, written as literals from docs/facts/stream-protocol.md
 * (and the extension table of docs/PROTOCOL.md section 10). A conformance checker is a client
 * written from the documents: it never takes its expected values from the service's own tables
 * (src/stream/wire.ts), so a wrong value there cannot make a wrong answer look right.
 */

// Command codes (facts: "Command codes"; PROTOCOL.md section 10 for 0xE000…).
export const GET_FORMATS = 0x1000, SET_FORMAT = 0x1001, GET_GAIN = 0x1002, SET_GAIN = 0x1003, PLUG_DETECT = 0x1004;
export const GET_UNIQUE_ID = 0x1005, GET_STRING = 0x1006, GET_CLOCK_DOMAIN = 0x1007, PLUG_DETECT_NOTIFY = 0x2000;
export const RB_GET_FIFO_DEPTH = 0x3000, RB_GET_BUFFER = 0x3001, RB_START = 0x3002, RB_STOP = 0x3003, RB_POSITION_NOTIFY = 0x4000;
export const EXT_GET_EXTERNAL_DELAY = 0xe000, EXT_GAIN_NOTIFY = 0xe001, EXT_GAIN_CHANGED = 0xe002, EXT_OBSERVE = 0xe003;
export const EXT_GET_PURPOSE = 0xe004, EXT_GET_DELAY_INFO = 0xe005, EXT_RB_NOTIFY = 0xe100, EXT_RB_ERROR = 0xe101, EXT_RB_CLOCK = 0xe102;
export const NO_ACK = 0x80000000;

// Result codes (facts: "Flag values").
export const OK = 0, NO_MEMORY = -4, INVALID_ARGS = -10, BAD_STATE = -20, NOT_FOUND = -25, ACCESS_DENIED = -30;

// SET_GAIN flags, PLUG_DETECT request flags, plug state flags, GET_STRING ids.
export const MUTE_VALID = 0x1, AGC_VALID = 0x2, GAIN_VALID = 0x4, MUTE = 0x40000000, AGC = 0x80000000;
export const ENABLE = 0x40000000, DISABLE = 0x80000000;
export const HARDWIRED = 0x1, CAN_NOTIFY = 0x2, PLUGGED = 0x80000000;
export const MANUFACTURER = 0x80000000, PRODUCT = 0x80000001;

// Sample formats and range flags.
export const BIT8 = 1 << 1, BIT16 = 1 << 2, BIT20_PACKED = 1 << 4, BIT24_PACKED = 1 << 5, BIT20_IN32 = 1 << 6, BIT24_IN32 = 1 << 7;
export const BIT32 = 1 << 8, BIT32_FLOAT = 1 << 9;
export const FPS_CONTINUOUS = 1 << 0, FPS_48000_FAMILY = 1 << 1, FPS_44100_FAMILY = 1 << 2;
export const FAMILY_48000 = [8000, 16000, 32000, 48000, 96000, 192000, 384000, 768000];
export const FAMILY_44100 = [11025, 22050, 44100, 88200, 176400];

/** Bytes per sample of a single sample-format bit (facts: the names say the container). */
export function sampleBytes(format: number): number {
  const f = format & 0x3ff;
  if (f === BIT8) return 1;
  if (f === BIT16) return 2;
  if (f === BIT20_PACKED || f === BIT24_PACKED) return 3;
  if (f === BIT20_IN32 || f === BIT24_IN32 || f === BIT32 || f === BIT32_FLOAT) return 4;
  return 0;
}

/** EXT_GET_PURPOSE codes (PROTOCOL.md R-EXT-4). */
export const PURPOSES: Record<number, string> = { 1: 'speaker', 2: 'headphone', 3: 'line-out', 4: 'line-in', 5: 'microphone' };
