/**
 * Opening files: the file behind an AOF (create or open, read-only or writable, the single-writer
 * lock, the writer's control block) and the AOF over it; a data file for reading only
 * ({@link openData}: readers, the CLI). System errors become codes through the table in
 * system-errors.ts.
 */
import * as fs from 'node:fs';
import { AOF, type AofContext, type Backing } from './aof.js';
import { ControlBlock, controlPath } from './control-block.js';
import { AofError, ErrorCode, invalidArg } from './errors.js';
import type { Geometry } from './geometry.js';
import { native } from './native.js';
import { recoverWithMagic, type RecoveryFunc } from './recovery.js';
import { fromSystemError, hasSystemCode, systemErrorCode } from './system-errors.js';
import { validateFunction } from './validate.js';

/**
 * Opens (or creates) the file at `path`. Decides read-only vs writable and takes the
 * single-writer lock.
 */
export function openFile(name: string, path: string, geometry: Geometry, recovery: RecoveryFunc, writeMode: number): Backing {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    if (!hasSystemCode(e, 'ENOENT')) throw fromSystemError(e, 'read', path);
    if (!geometry.create) throw fromSystemError(e, 'read', path);
    const fd = createFile(path, writeMode);
    if (fd >= 0) return lock({ name, path, fd, writable: true, created: true, geometry, recovery });
    try {
      st = fs.statSync(path);
    } catch (e2) {
      // O_EXCL found a name that stat cannot follow: a symbolic link to nothing.
      throw fromSystemError(e2, 'read', path, { [ErrorCode.NOT_FOUND]: `${path} is a link to nothing` });
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
    // Not ours to write (permissions, a read-only mount): open it for reading.
    if (!writable || systemErrorCode(e, 'write') !== ErrorCode.READ_ONLY) throw fromSystemError(e, 'read', path);
    writable = false;
    try {
      fd = fs.openSync(path, fs.constants.O_RDONLY);
    } catch (e2) {
      throw fromSystemError(e2, 'read', path);
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
    if (hasSystemCode(e, 'EEXIST')) return -1;
    throw fromSystemError(e, 'write', path, {
      [ErrorCode.NOT_FOUND]: `cannot create ${path}: its directory does not exist`,
      [ErrorCode.READ_ONLY]: `cannot create ${path}: the directory is not writable`,
    });
  }
  fs.fchmodSync(fd, mode);
  return fd;
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

/** Opens `path` and builds the AOF over it; closes the descriptor if anything fails. */
export function openAof(
  ctx: AofContext,
  name: string,
  path: string,
  geometry: Geometry,
  recovery: RecoveryFunc = recoverWithMagic,
  writeMode = 0o644,
): AOF {
  const g = geometry.validate();
  validateFunction(recovery, 'recovery');
  const backing = openFile(name, path, g, recovery, writeMode);
  if (backing.created) ctx.stats.counts.creates++;
  const hadControl = fs.existsSync(controlPath(path));
  try {
    if (backing.writable && ctx.controlBlock) backing.control = openControl(path, writeMode);
    const aof = new AOF(ctx, backing);
    // A writer without a control block leaves none behind that describes this file: a crashed
    // writer's block would otherwise tell a later recovery to keep a committed size this writer
    // has since rolled back and written over.
    if (backing.writable && !ctx.controlBlock && !backing.created) removeQuietly(controlPath(path));
    return aof;
  } catch (e) {
    backing.control?.close();
    // A file this open created and could not set up (a full disk, say) is not left behind: a
    // later open would find an empty file it cannot tell from a damaged one. Removed while still
    // locked, so no other writer has it yet.
    if (backing.created) removeQuietly(path, controlPath(path));
    // Nor is a control block this open made for a file it refuses (one that is not an AOF, say).
    else if (backing.control && !hadControl) removeQuietly(controlPath(path));
    fs.closeSync(backing.fd);
    throw e;
  }
}

function removeQuietly(...paths: string[]): void {
  for (const p of paths) {
    try {
      fs.unlinkSync(p);
    } catch {
      // already gone, or not ours to remove: nothing to clean up
    }
  }
}

/** The writer's control block, locked: readers must not rebuild it while recovery runs. */
function openControl(path: string, mode: number): ControlBlock {
  let control: ControlBlock | undefined;
  try {
    control = ControlBlock.open(path, { mode });
  } catch (e) {
    throw fromSystemError(e, 'write', controlPath(path), {
      [ErrorCode.NO_SPACE]: `${controlPath(path)}: no space for the control block`,
    });
  }
  if (!control || !control.writable) {
    control?.close();
    throw new AofError(ErrorCode.READ_ONLY,
      `${controlPath(path)}: the control block cannot be created or written (open with controlBlock: false to write without one)`);
  }
  control.lock();
  return control;
}

/** An AOF over `size` bytes of anonymous shared memory: same API, nothing on disk, never grows. */
export function openAnonymousAof(ctx: AofContext, name: string, size: number, geometry: Geometry): AOF {
  return new AOF(ctx, {
    name,
    path: `anonymous:${name}`,
    fd: -1,
    writable: true,
    created: false,
    geometry,
    recovery: recoverWithMagic,
    anonymousSize: size,
  });
}

/** Opens a regular file read-only (never waiting on a FIFO); typed errors for what is not one. */
export function openData(path: string): number {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw fromSystemError(e, 'read', path, { [ErrorCode.NOT_FOUND]: `${path} does not exist` });
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    if (st.isDirectory()) throw new AofError(ErrorCode.IS_DIRECTORY, `${path} is a directory`);
    throw invalidArg('path', 'a regular file', path);
  }
  return fd;
}
