/**
 * System errors (from node:fs and from the addon, which share one shape: `code`, `errno`,
 * `syscall`, `path`) and the one table that turns them into this library's codes.
 *
 * What a system code means depends on what was being done: EACCES while reading a file is "not
 * readable" (`ERR_AOF_READ_PERMISSION`), while creating one "the directory is not writable"
 * (`ERR_AOF_READ_ONLY`). So the table is keyed by code and by {@link Access}. A code the table
 * does not name is not ours to interpret: the error goes up unchanged.
 */
import { AofError, ErrorCode } from './errors.js';

/** System errors from the addon and from node:fs share this shape. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

export function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).syscall === 'string' && typeof (e as SystemError).code === 'string';
}

/** True when `e` is a system error with one of `codes` (a decision, not a mapping: EEXIST, EOPNOTSUPP…). */
export function hasSystemCode(e: unknown, ...codes: string[]): boolean {
  return isSystemError(e) && codes.includes(e.code);
}

/**
 * What was being done when the system said no:
 * - `read`: opening or reading a file or directory that should exist;
 * - `write`: opening a file for writing, growing it, writing beside it;
 * - `create`: creating a file or a directory;
 * - `list`: reading a directory's entries (a record log's segments).
 */
export type Access = 'read' | 'write' | 'create' | 'list';

type Row = ErrorCode | Partial<Record<Access, ErrorCode>>;

const { NOT_FOUND, READ_PERMISSION, READ_ONLY, NO_SPACE, INVALID_ARG, IS_DIRECTORY } = ErrorCode;

/** The table. */
const TABLE: Readonly<Record<string, Row>> = {
  ENOENT: NOT_FOUND,
  // A path component is a file: nothing can be found under it; a directory to list or make is not one.
  ENOTDIR: { read: NOT_FOUND, write: NOT_FOUND, create: INVALID_ARG, list: INVALID_ARG },
  EEXIST: { create: INVALID_ARG },
  EISDIR: IS_DIRECTORY,
  EACCES: { read: READ_PERMISSION, list: READ_PERMISSION, write: READ_ONLY, create: READ_ONLY },
  EPERM: { read: READ_PERMISSION, list: READ_PERMISSION, write: READ_ONLY, create: READ_ONLY },
  EROFS: { write: READ_ONLY, create: READ_ONLY },
  ENOSPC: NO_SPACE,
  EDQUOT: NO_SPACE,
  ENAMETOOLONG: INVALID_ARG,
};

/** This library's code for system error `e` met while doing `access`, or undefined. */
export function systemErrorCode(e: unknown, access: Access): ErrorCode | undefined {
  if (!isSystemError(e)) return undefined;
  const row = TABLE[e.code];
  return typeof row === 'string' ? row : row?.[access];
}

/** The default message for each code, about `path`. */
function defaultMessage(code: ErrorCode, path: string, e: SystemError, access: Access): string {
  switch (code) {
    case NOT_FOUND:
      return e.code === 'ENOTDIR' ? `${path}: a parent of it is not a directory` : `${path} does not exist`;
    case READ_PERMISSION:
      return `${path} is not readable`;
    case READ_ONLY:
      return access === 'create' ? `cannot create ${path}: the directory is not writable` : `${path} is not writable`;
    case NO_SPACE:
      return `${path}: no space left on the device`;
    case IS_DIRECTORY:
      return `${path} is a directory`;
    case INVALID_ARG:
      if (e.code === 'ENAMETOOLONG') return `${path}: name too long`;
      return `${path} (or a parent of it) exists and is not a directory`;
    default:
      return `${path}: ${e.message}`;
  }
}

/**
 * `e` as an AofError (with `e` as its cause) when the table names its code for `access`, else
 * `e` itself. `messages` replaces the default message of a code (the context says it better:
 * "no space for the control block").
 */
export function fromSystemError(
  e: unknown,
  access: Access,
  path: string,
  messages: Partial<Record<ErrorCode, string>> = {},
): unknown {
  const code = systemErrorCode(e, access);
  if (code === undefined) return e;
  const message = messages[code] ?? defaultMessage(code, path, e as SystemError, access);
  return new AofError(code, message, { cause: e });
}
