/**
 * Every error this library throws on purpose is an {@link AofError} with a stable `code`.
 * Messages may change between versions; codes may not. A system error behind one (from the
 * addon or node:fs) is kept as `cause`, with its own `code`, `errno`, `syscall` and `path`.
 */

export const ErrorCode = {
  SHRINK: 'ERR_AOF_SHRINK',
  IS_DIRECTORY: 'ERR_AOF_IS_DIRECTORY',
  CORRUPTED: 'ERR_AOF_CORRUPTED',
  EMPTY_FILE: 'ERR_AOF_EMPTY_FILE',
  READ_ONLY: 'ERR_AOF_READ_ONLY',
  READ_PERMISSION: 'ERR_AOF_READ_PERMISSION',
  APPEND_FUNC: 'ERR_AOF_APPEND_FUNC',
  WOULD_BLOCK: 'ERR_AOF_WOULD_BLOCK',
  CLOSED: 'ERR_AOF_CLOSED',
  FULL: 'ERR_AOF_FULL',
  LOCKED: 'ERR_AOF_LOCKED',
  NO_SPACE: 'ERR_AOF_NO_SPACE',
  INVALID_ARG: 'ERR_AOF_INVALID_ARG',
  NOT_FOUND: 'ERR_AOF_NOT_FOUND',
  /** A record log record larger than its maxRecordSize. */
  RECORD_TOO_BIG: 'ERR_AOF_RECORD_TOO_BIG',
  /** A record log frame whose CRC does not match (a bit flip, an overwritten range). */
  CORRUPT_DATA: 'ERR_AOF_CORRUPT_DATA',
  /** An optional integration's packages are not installed (`mmap-aof/nats` needs the NATS client). */
  MISSING_PEER: 'ERR_AOF_MISSING_PEER',
  /** The remote side (a NATS server) refused or failed: an unreachable server, a missing stream, a subject bound elsewhere. */
  REMOTE: 'ERR_AOF_REMOTE',
  /** Someone else wrote where this writer expected to be alone (a second shipper on one subject). */
  CONFLICT: 'ERR_AOF_CONFLICT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class AofError extends Error {
  /** Stable, machine-readable; see {@link ErrorCode}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  override get name(): string {
    return 'AofError';
  }
}

/** A short, readable rendering of a value for "expected X, got Y" messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'undefined') return 'undefined';
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
  return `an object (${(value as object).constructor?.name ?? 'null prototype'})`;
}

export function invalidArg(what: string, expected: string, got: unknown): AofError {
  return new AofError(ErrorCode.INVALID_ARG, `${what}: expected ${expected}, got ${describe(got)}`);
}

export function closed(name: string): AofError {
  return new AofError(ErrorCode.CLOSED, `${name} is closed`);
}

export function readOnly(name: string, why: string): AofError {
  return new AofError(ErrorCode.READ_ONLY, `${name} is read-only (${why})`);
}
