/**
 * Engine errors, typed after OpenASIO's result codes: every failure the driver API reports
 * carries one of these codes, so a caller can tell "this device cannot do that" from "you called
 * it in the wrong state" without parsing messages.
 */

export const ENGINE_ERROR_CODES = ['generic', 'unsupported', 'invalid-argument', 'device', 'backend', 'state'] as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

/** The numeric form (0 is success), for hosts that mirror a C ABI. */
export const ENGINE_RESULT: Readonly<Record<EngineErrorCode | 'ok', number>> = {
  ok: 0,
  generic: -1,
  unsupported: -2,
  'invalid-argument': -3,
  device: -4,
  backend: -5,
  state: -6,
};

export class EngineError extends Error {
  constructor(readonly code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
  }

  get result(): number {
    return ENGINE_RESULT[this.code];
  }

  /** A plain object that survives postMessage (Error subclasses lose their fields there). */
  toWire(): { code: EngineErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }

  static fromWire(w: { code: EngineErrorCode; message: string }): EngineError {
    return new EngineError(w.code, w.message);
  }
}

/** Wraps anything thrown by a backend or the HAL as an EngineError of `code` (EngineErrors pass through). */
export function asEngineError(e: unknown, code: EngineErrorCode, what: string): EngineError {
  if (e instanceof EngineError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new EngineError(code, `${what}: ${msg}`, { cause: e });
}
