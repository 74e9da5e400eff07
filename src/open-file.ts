/**
 * Opening the file behind an AOF: create or open, read-only or writable, the single-writer lock,
 * and system errors turned into codes. Produces the {@link Backing} an AOF is built on.
 */
import * as fs from 'node:fs';
import { AofError, ErrorCode, invalidArg } from './errors.js';
import type { ControlBlock } from './control-block.js';
import type { Geometry } from './geometry.js';
import { native, isSystemError } from './native.js';
import type { RecoveryFunc } from './recovery.js';

/** Everything an AOF is made of, besides its Manager. */
export interface Backing {
  name: string;
  path: string;
  /** -1 for anonymous memory. */
  fd: number;
  writable: boolean;
  /** True when the file was created by this open. */
  created: boolean;
  geometry: Geometry;
  recovery: RecoveryFunc;
  /** Bytes of anonymous memory (an AOF with no file); undefined for a file. */
  anonymousSize?: number;
  /** The writer's control block, locked until the AOF has recovered. */
  control?: ControlBlock;
}

/**
 * Opens (or creates) the file at `path`. Decides read-only vs writable and takes the
 * single-writer lock.
 */
export function openFile(name: string, path: string, geometry: Geometry, recovery: RecoveryFunc, writeMode: number): Backing {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    if (isSystemError(e, 'ENOTDIR')) throw new AofError(ErrorCode.NOT_FOUND, `${path}: its directory is not a directory`, { cause: e });
    if (!isSystemError(e, 'ENOENT')) throw readError(path, e);
    if (!geometry.create) throw new AofError(ErrorCode.NOT_FOUND, `${path} does not exist`, { cause: e });
    const fd = createFile(path, writeMode);
    if (fd >= 0) return lock({ name, path, fd, writable: true, created: true, geometry, recovery });
    try {
      st = fs.statSync(path);
    } catch (e2) {
      // O_EXCL found a name that stat cannot follow: a symbolic link to nothing.
      if (isSystemError(e2, 'ENOENT')) throw new AofError(ErrorCode.NOT_FOUND, `${path} is a link to nothing`, { cause: e2 });
      throw e2;
    }
  }
  if (st.isDirectory()) throw new AofError(ErrorCode.IS_DIRECTORY, `${path} is a directory`);
  if (!st.isFile()) throw invalidArg('path', 'a regular file', path);
  // A file without any write bit is read-only by intent (a finished file), even for root.
  let writable = (st.mode & 0o222) !== 0;
  let fd: number;
  try {
    fd = fs.openSync(path, writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY);
  } catch (e) {
    if (!writable || !(isSystemError(e, 'EACCES') || isSystemError(e, 'EPERM') || isSystemError(e, 'EROFS'))) {
      throw readError(path, e);
    }
    writable = false;
    try {
      fd = fs.openSync(path, fs.constants.O_RDONLY);
    } catch (e2) {
      throw readError(path, e2);
    }
  }
  const backing = { name, path, fd, writable, created: false, geometry, recovery };
  return writable ? lock(backing) : backing;
}

/** O_EXCL create with the exact mode (umask undone); -1 if another process created it first. */
function createFile(path: string, mode: number): number {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  } catch (e) {
    if (isSystemError(e, 'EEXIST')) return -1;
    if (isSystemError(e, 'ENOENT') || isSystemError(e, 'ENOTDIR')) {
      throw new AofError(ErrorCode.NOT_FOUND, `cannot create ${path}: its directory does not exist`, { cause: e });
    }
    if (isSystemError(e, 'EACCES') || isSystemError(e, 'EPERM') || isSystemError(e, 'EROFS')) {
      throw new AofError(ErrorCode.READ_ONLY, `cannot create ${path}: the directory is not writable`, { cause: e });
    }
    throw e;
  }
  fs.fchmodSync(fd, mode);
  return fd;
}

function readError(path: string, e: unknown): unknown {
  if (isSystemError(e, 'EACCES') || isSystemError(e, 'EPERM')) {
    return new AofError(ErrorCode.READ_PERMISSION, `${path} is not readable`, { cause: e });
  }
  return e;
}

/** Takes the single-writer advisory lock; a second writer gets ERR_AOF_LOCKED at once. */
function lock(b: Backing): Backing {
  const { LOCK_EX, LOCK_NB } = native.constants;
  let locked: boolean;
  try {
    locked = native.flock(b.fd, LOCK_EX | LOCK_NB, b.path);
  } catch (e) {
    fs.closeSync(b.fd);
    throw e;
  }
  if (!locked) {
    fs.closeSync(b.fd);
    throw new AofError(ErrorCode.LOCKED, `${b.path} is open for writing elsewhere`);
  }
  return b;
}
