/**
 * Coded errors. Every error that ends a session carries a stable `code`
 * (documented in docs/operations.md) and, when it wraps a lower failure,
 * a `cause`, so one log line reads
 * "play live/cam1: read chunk: basic header: need 2 bytes".
 */
export type ErrorCode =
  | 'ERR_HANDSHAKE'
  | 'ERR_CHUNK'
  | 'ERR_CHUNK_SIZE'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_AMF'
  | 'ERR_AMF_DEPTH'
  | 'ERR_COMMAND'
  | 'ERR_PROTOCOL'
  | 'ERR_FLV'
  | 'ERR_CODEC'
  | 'ERR_TIMEOUT'
  | 'ERR_SLOW_CONSUMER'
  | 'ERR_LIMIT'
  | 'ERR_CONFIG'
  | 'ERR_STREAM'
  /** An origin or push destination could not be reached or failed (edge). */
  | 'ERR_UPSTREAM'
  /** Access control refused a publish or play (src/access/). */
  | 'ERR_ACCESS'
  | 'ERR_INTERNAL';

export class SluiceError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SluiceError';
  }

  /** Full chain "outer: inner: innermost" for logs. */
  chain(): string {
    return describeError(this);
  }
}

/** Wraps `err` with a context prefix, keeping the innermost code. */
export function wrapError(context: string, err: unknown): SluiceError {
  const code = err instanceof SluiceError ? err.code : 'ERR_INTERNAL';
  return new SluiceError(code, context, { cause: err });
}

export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 16; depth++) {
    if (cur instanceof Error) {
      parts.push(cur.message);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(': ');
}

export function errorCode(err: unknown): ErrorCode {
  return err instanceof SluiceError ? err.code : 'ERR_INTERNAL';
}
