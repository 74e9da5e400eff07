/**
 * The one table from system errors to this library's codes (src/system-errors.ts): what a code
 * means depends on what was being done, the system error stays the cause with its own fields,
 * and a code the table does not name goes up unchanged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AofError, ErrorCode } from '../src/index.js';
import { fromSystemError, hasSystemCode, systemErrorCode, type Access } from '../src/system-errors.js';
import { tmpDir } from './helpers.js';

/** A real system error from node:fs. */
function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('did not throw');
}

describe('system errors', () => {
  it('maps each code by what was being done', () => {
    const fake = (code: string) => Object.assign(new Error(code), { code, errno: -1, syscall: 'open', path: '/x' });
    const table: Array<[string, Access, ErrorCode | undefined]> = [
      ['ENOENT', 'read', ErrorCode.NOT_FOUND], ['ENOENT', 'create', ErrorCode.NOT_FOUND],
      ['EACCES', 'read', ErrorCode.READ_PERMISSION], ['EACCES', 'list', ErrorCode.READ_PERMISSION],
      ['EACCES', 'write', ErrorCode.READ_ONLY], ['EPERM', 'create', ErrorCode.READ_ONLY],
      ['EROFS', 'write', ErrorCode.READ_ONLY], ['EROFS', 'read', undefined],
      ['ENOSPC', 'write', ErrorCode.NO_SPACE], ['EDQUOT', 'create', ErrorCode.NO_SPACE],
      ['ENOTDIR', 'read', ErrorCode.NOT_FOUND], ['ENOTDIR', 'list', ErrorCode.INVALID_ARG],
      ['EEXIST', 'create', ErrorCode.INVALID_ARG], ['EEXIST', 'read', undefined],
      ['EISDIR', 'read', ErrorCode.IS_DIRECTORY], ['ENAMETOOLONG', 'read', ErrorCode.INVALID_ARG],
      ['EIO', 'read', undefined], ['EBADF', 'write', undefined],
    ];
    for (const [code, access, expected] of table) expect(systemErrorCode(fake(code), access), `${code} ${access}`).toBe(expected);
    // Not a system error at all: never mapped.
    expect(systemErrorCode(new Error('ENOENT'), 'read')).toBeUndefined();
    expect(systemErrorCode(Object.assign(new Error('x'), { code: 'ENOENT' }), 'read')).toBeUndefined();
  });

  it('keeps the system error as the cause, with code, errno, syscall and path', () => {
    const missing = path.join(tmpDir(), 'missing');
    const e = errorOf(() => fs.openSync(missing, 'r'));
    const mapped = fromSystemError(e, 'read', missing) as AofError;
    expect(mapped).toBeInstanceOf(AofError);
    expect(mapped.code).toBe(ErrorCode.NOT_FOUND);
    expect(mapped.message).toBe(`${missing} does not exist`);
    expect(mapped.cause).toBe(e);
    expect(e).toMatchObject({ code: 'ENOENT', syscall: 'open', path: missing });
    expect(typeof e.errno).toBe('number');
    const custom = fromSystemError(e, 'read', missing, { [ErrorCode.NOT_FOUND]: 'gone' }) as AofError;
    expect(custom.message).toBe('gone');
  });

  it('returns an error the table does not name unchanged', () => {
    const e = errorOf(() => fs.closeSync(2 ** 30));
    expect(e.code).toBe('EBADF');
    expect(fromSystemError(e, 'write', '/x')).toBe(e);
    const plain = new TypeError('not a system error');
    expect(fromSystemError(plain, 'read', '/x')).toBe(plain);
    expect(hasSystemCode(e, 'ENOENT', 'EBADF')).toBe(true);
    expect(hasSystemCode(e, 'ENOENT')).toBe(false);
  });

});
