/**
 * What alsa-lib says while a call fails, caught and folded into the error that call raises.
 *
 * Left alone, alsa-lib prints its own lines to stderr before the project's error ("ALSA lib
 * pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM x", and for `default` on a machine without a card a
 * chain of eight configuration lines); the user then reads two accounts of one failure, the library's
 * first. `captureAlsaMessages(fn)` runs `fn` with a handler that keeps those lines, and an AlsaError
 * raised inside carries them (`alsaMessages`) and names the first and the last in its message.
 *
 * Facts (alsa-lib 1.2.8, include/error.h and src/error.c; the Debian 12 and Raspberry Pi OS 12 library):
 * - `snd_lib_error_set_local(handler)` installs a handler for the calling thread only (alsa-lib keeps it
 *   in a thread-local variable) and returns the one it replaced; NULL removes it.
 * - While no global handler was set with `snd_lib_error_set_handler`, the library's default error
 *   function calls the thread's local handler instead of printing, as
 *   `handler(file, line, function, err, fmt, va_list)`; `err` is an errno value or 0, and the default
 *   printer appends ": " + snd_strerror(err) when it is not 0.
 * - alsa-lib 1.2.15 marks the call deprecated in favour of snd_lib_log_set_local but keeps it.
 * Why the local handler and not `snd_lib_error_set_handler`: that one is process-wide and variadic (koffi
 * cannot be a variadic callee), and the engine opens its PCMs on its own worker thread; the local
 * handler takes a va_list, which libc's vsnprintf formats, and is installed only around setup calls,
 * never on the audio path (a koffi callback allocates).
 */
import koffi from 'koffi';
import { asound } from './libasound.ts';

/** One line alsa-lib would have printed: where in the library, and the text with the errno's name. */
export interface AlsaLibMessage {
  readonly file: string;
  readonly line: number;
  readonly function: string;
  readonly text: string;
}

/** Longest text kept per message (vsnprintf truncates; alsa-lib's lines are far shorter). */
const MESSAGE_BYTES = 512;
/** Messages kept per capture: a configuration chain is about ten; more says nothing new. */
const MAX_MESSAGES = 32;

// Per thread: each Node worker loads its own instance of this module, and the handler runs only on
// the thread whose capture installed it.
let collected: AlsaLibMessage[] | undefined;
let handler: unknown;
const textBuffer = new Uint8Array(MESSAGE_BYTES);
const utf8 = new TextDecoder();

function localHandler(): unknown {
  if (handler !== undefined) return handler;
  const a = asound();
  const protoName = 'sbc_audio_alsa_local_error';
  let proto;
  try {
    proto = koffi.type(protoName);
  } catch {
    // The type names are per thread: a second instance of this module in the thread reuses it.
    proto = koffi.proto(`void ${protoName}(const char *file, int line, const char *function, int err, void *fmt, void *ap)`);
  }
  handler = koffi.register((file: string, line: number, fn: string, err: number, fmt: unknown, ap: unknown) => {
    if (collected === undefined || collected.length >= MAX_MESSAGES) return;
    const n = a.vsnprintf(textBuffer, MESSAGE_BYTES, fmt, ap);
    let text = n > 0 ? utf8.decode(textBuffer.subarray(0, Math.min(n, MESSAGE_BYTES - 1))) : '';
    if (err !== 0) text += `: ${a.strerror(err)}`;
    collected.push({ file: file ?? '', line, function: fn ?? '', text });
  }, koffi.pointer(proto));
  return handler;
}

/**
 * Runs `fn` (a setup call: open, attach, load) with alsa-lib's messages caught instead of printed. An
 * AlsaError thrown inside carries those said so far; messages of a call that succeeds are dropped
 * (alsa-lib also reports what it tried before a fallback that worked). Nested captures share the outer one.
 */
export function captureAlsaMessages<T>(fn: () => T): T {
  if (collected !== undefined) return fn();
  const a = asound();
  const mine = localHandler();
  collected = [];
  const previous = a.errorSetLocal(mine);
  try {
    return fn();
  } finally {
    a.errorSetLocal(previous);
    collected = undefined;
  }
}

/** The messages caught since the capture began or since the last error took them (none outside a capture). */
export function takeAlsaMessages(): AlsaLibMessage[] {
  if (collected === undefined || collected.length === 0) return [];
  return collected.splice(0);
}

/**
 * The messages as a suffix of an error message: the first (usually the cause: "cannot find card '0'")
 * and the last (what failed in the end: "Unknown PCM default"), with the count when lines were left out.
 */
export function foldAlsaMessages(said: readonly AlsaLibMessage[]): string {
  if (said.length === 0) return '';
  const first = said[0]!.text;
  if (said.length === 1) return `; alsa-lib: ${first}`;
  const last = said[said.length - 1]!.text;
  if (said.length === 2) return `; alsa-lib: ${first}; ${last}`;
  return `; alsa-lib: ${first} … ${last} (${said.length} messages)`;
}
