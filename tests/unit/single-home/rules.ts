/**
 * What a second declaration of each single-home family looks like, one line at a time (see
 * scan.ts). Each rule is checked against planted lines in its family's negative control.
 */
import type { Rule } from './scan.ts';

// ---------------------------------------------------------------------------------------------
// Sample formats (home: src/audio/formats.ts)

/** Shift amounts of the protocol's sample-format bits and flags (and the range flags 0..2). */
const FORMAT_SHIFT = String.raw`1\s*<<\s*(?:[0-24-9]|30|31)\b`;
const FORMAT_WORD = /format|sample|\bS(?:8|16|20|24|32)|BIT\d|FAMILY|FPS|UNSIGNED|INVERT_ENDIAN|BITSTREAM/i;
const FORMAT_NAME = String.raw`(?:S(?:8|16|20|24|32)\w*|BIT(?:8|16|20|24|32)\w*|BITSTREAM|\w*FAMILY\w*|FPS_\w+|\w*SAMPLE_FORMAT\w*|RANGE_FLAG\w*|\w*FORMAT_BITS\w*)`;
const BIT_KEY = String.raw`(?:BITSTREAM|BIT8|BIT16|BIT20_PACKED|BIT24_PACKED|BIT20_IN32|BIT24_IN32|BIT32|BIT32_FLOAT|FLOAT|FLAG_UNSIGNED|FLAG_INVERT_ENDIAN|UNSIGNED|INVERT_ENDIAN|FPS_CONTINUOUS|FPS_48000_FAMILY|FPS_44100_FAMILY)`;

export const FORMAT_RULES: Rule[] = [
  { name: 'sample-format or range-flag constant declared', test: new RegExp(String.raw`\b(?:const|let|var)\s+${FORMAT_NAME}\s*(?::[^=]+)?=`) },
  { name: 'protocol format bit given a value', test: new RegExp(String.raw`\b${BIT_KEY}\s*[:=]\s*\(?\s*(?:1\s*<<|0x[0-9a-fA-F]|\d)`) },
  { name: 'shift used as a sample-format bit', test: (l) => new RegExp(FORMAT_SHIFT).test(l) && FORMAT_WORD.test(l) },
  { name: 'sample-format bits for a width', test: /\b(?:16|20|24|32)\s*:\s*(?:1\s*<<\s*\d|[0-9]+\s*,\s*\/\/\s*\d+BIT)/ },
  { name: 'rate family listed', test: /\[\s*8000\s*,\s*16000\s*,\s*32000\b|\[\s*11025\s*,\s*22050\b/ },
  { name: 'sample-format flag mask as a literal', test: /0xc0000000\b/i },
  { name: 'FormatRange declared', test: /\binterface\s+\w*FormatRange\w*\b|\btype\s+\w*FormatRange\w*\s*=\s*\{|\bminFps\s*\??\s*:\s*number\b/ },
  { name: 'format helper defined', test: /\bfunction\s+(?:rangeHasRate|rangeAccepts|sampleFormatBase|bytesPerSample|bitsOfSampleFormat)\b|\bSAMPLE_FORMAT_FOR_BITS\s*(?::[^=]+)?=/ },
];

// ---------------------------------------------------------------------------------------------
// errno values (home: src/util/errno.ts)

/** Linux errno names (asm-generic/errno-base.h and the common ones of asm-generic/errno.h). */
const ERRNO_NAMES = [
  'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'ENXIO', 'E2BIG', 'ENOEXEC', 'EBADF', 'ECHILD', 'EAGAIN', 'ENOMEM',
  'EACCES', 'EFAULT', 'ENOTBLK', 'EBUSY', 'EEXIST', 'EXDEV', 'ENODEV', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENFILE',
  'EMFILE', 'ENOTTY', 'ETXTBSY', 'EFBIG', 'ENOSPC', 'ESPIPE', 'EROFS', 'EMLINK', 'EPIPE', 'EDOM', 'ERANGE',
  'EDEADLK', 'ENAMETOOLONG', 'ENOLCK', 'ENOSYS', 'ENOTEMPTY', 'ELOOP', 'EWOULDBLOCK', 'ENOMSG', 'ENODATA', 'ETIME',
  'EPROTO', 'EBADMSG', 'EOVERFLOW', 'EBADFD', 'ESTRPIPE', 'ENOTSOCK', 'EOPNOTSUPP', 'ENOTSUP', 'ECONNRESET',
  'ENOBUFS', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH', 'EALREADY', 'EINPROGRESS', 'EREMOTEIO', 'ECANCELED',
];
const ERRNO_NAME = `(?:${ERRNO_NAMES.join('|')})`;
/** glibc's strerror texts of the errno values the project uses. */
const ERRNO_TEXTS = [
  'Operation not permitted', 'No such file or directory', 'No such process', 'Interrupted system call',
  'Input/output error', 'No such device or address', 'Bad file descriptor', 'Resource temporarily unavailable',
  'Cannot allocate memory', 'Permission denied', 'Device or resource busy', 'No such device', 'Invalid argument',
  'Broken pipe', 'Protocol error', 'File descriptor in bad state', 'Streams pipe error', 'Operation not supported',
  'Connection timed out', 'Remote I/O error',
];

export const ERRNO_RULES: Rule[] = [
  { name: 'errno constant given a number', test: new RegExp(String.raw`\b${ERRNO_NAME}\s*(?::\s*\[?|=)\s*-?\d`) },
  { name: 'errno number written as a literal with its name', test: new RegExp(String.raw`-?\b\d+\s*\/\*\s*${ERRNO_NAME}\s*\*\/`) },
  { name: 'errno compared with a literal', test: /\berrno(?:\(\))?\s*[!=]==?\s*-?\d|-?\b\d+\s*[!=]==?\s*[\w.]*errno\b/ },
  { name: 'errno given as a literal', test: /\berrno\s*:\s*-?\d/ },
  { name: 'errno literal passed to an error', test: /\bnew\s+\w*Error\(.*(?:[(,]\s*-\d+\s*[,)]|,\s*\d+\s*\)\s*[;,)]?\s*$)/ },
  { name: 'errno text outside the table', test: new RegExp(`['"\`](?:${ERRNO_TEXTS.map((t) => t.replace('/', '\\/')).join('|')})['"\`]`) },
];

// ---------------------------------------------------------------------------------------------
// Wrapped-ring and byte copies (home: src/util/ring-copy.ts)

/** `X[i] = Y[j];`: one element copied as is. The two index expressions, or undefined. */
export function elementCopy(line: string): { dst: string; src: string } | undefined {
  const m = /(?:^|[\s;{)])[\w.]+\[([^[\]]+)\]\s*=\s*[\w.]+\[([^[\]]+)\]!?\s*;/.exec(line);
  return m ? { dst: m[1]!.trim(), src: m[2]!.trim() } : undefined;
}

/** The last identifier of an index expression (`i` of `dstOffset + i`), if it ends in one. */
function lastName(index: string): string | undefined {
  return /(?:^|[^\w.])([A-Za-z_]\w*)$/.exec(index)?.[1];
}

export const RING_COPY_RULES: Rule[] = [
  {
    name: 'element copy at a wrapped index (a ring copy loop)',
    test: (l) => { const c = elementCopy(l); return c !== undefined && (c.dst.includes('%') || c.src.includes('%')); },
  },
  {
    name: 'element-by-element copy loop',
    test: (l) => {
      const c = elementCopy(l);
      if (c === undefined || c.dst.includes('*') || c.src.includes('*')) return false; // strided: a layout change, not a copy
      const d = lastName(c.dst);
      return (d !== undefined && d === lastName(c.src)) || /\+\+|--/.test(c.dst + c.src);
    },
  },
  { name: 'manual wrap of a copy position', test: /\bif\s*\(\s*\+\+\w+\s*===?\s*\w+\s*\)\s*\w+\s*=\s*0\b/ },
  { name: 'copy through a subarray view', test: /\.set\(\s*[\w.]+\.subarray\(/ },
  { name: 'second piece of a wrapped copy', test: /\.(?:copy|set)\([^;]*\(\s*\w+\s*-\s*\w+\s*\)\s*\*/ },
  { name: 'copy helper defined', test: /\bfunction\s+copyBytes\b|\bclass\s+\w*(?:Frame|Ring|Byte)Copier\b/ },
];
