/**
 * One append-only file, mapped into memory. A write is a copy into the mapping followed by the
 * 8-byte tail magic; no syscall unless the file must grow. See DESIGN.md for the on-disk format.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { AofError, ErrorCode, closed, invalidArg, readOnly } from './errors.js';
import { Geometry } from './geometry.js';
import { native, isSystemError, type NativeRegion } from './native.js';
import {
  MAGIC_CHECKPOINT_BYTES,
  MAGIC_TAIL,
  RecoveryKind,
  isFinished,
  recoverWithMagic,
  type RecoveryFunc,
  type RecoveryResult,
} from './recovery.js';

const fsyncAsync = promisify(fs.fsync);
const ftruncateAsync = promisify(fs.ftruncate);
const fchmodAsync = promisify(fs.fchmod);

export const FileState = { Opening: 0, Opened: 1, EOF: 2, Closing: 3, Closed: 4 } as const;
export type FileState = (typeof FileState)[keyof typeof FileState];

/** What `append`'s callback receives. */
export interface AppendEvent {
  /** Offset in the file where `tail` starts (the current size). */
  readonly begin: number;
  /** How many bytes were reserved. */
  readonly reserve: number;
  /** A zero-filled, writable view of the reserved bytes. Valid only during the callback. */
  readonly tail: Buffer;
  /**
   * The whole mapping: `buffer[begin … begin+reserve)` is `tail`. Writing at those offsets
   * directly skips creating the `tail` view (the allocation-free path). Valid only during the callback.
   */
  readonly buffer: Buffer;
}

/** Returns how many of the reserved bytes were used (0..reserve). */
export type AppendFunc = (event: AppendEvent) => number;

/** What an AOF needs from whoever opened it (the Manager). */
export interface AofContext {
  /** File mode a finished file gets. */
  readonly readMode: number;
  /** Fault in pages of each newly grown range off the event loop (see {@link AOF}). */
  readonly populate: boolean;
  /** Called once, when the AOF has closed. */
  released(aof: AOF): void;
}

/** Everything an opened file is made of; produced by {@link openFile}. */
interface Backing {
  name: string;
  path: string;
  fd: number;
  writable: boolean;
  geometry: Geometry;
  recovery: RecoveryFunc;
}

const PAGE = native.pageSize;

function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

function pageDown(n: number): number {
  return Math.floor(n / PAGE) * PAGE;
}

// The tail magic as 8 stores: a TypedArray#set of 8 bytes costs more than the record copy.
function putTailMagic(b: Buffer, at: number): void {
  b[at] = 0xaa;
  b[at + 1] = 0x24;
  b[at + 2] = 0x75;
  b[at + 3] = 0x54;
  b[at + 4] = 0x63;
  b[at + 5] = 0x9c;
  b[at + 6] = 0x9b;
  b[at + 7] = 0x41;
}

function hasTailMagic(b: Buffer, at: number): boolean {
  return b[at] === 0xaa && b[at + 1] === 0x24 && b[at + 2] === 0x75 && b[at + 3] === 0x54 &&
    b[at + 4] === 0x63 && b[at + 5] === 0x9c && b[at + 6] === 0x9b && b[at + 7] === 0x41;
}

/** The AOF's cold state: read at open, growth, flush, finish and close, never per write. */
interface FileCore {
  readonly ctx: AofContext;
  readonly name: string;
  readonly path: string;
  readonly geometry: Geometry;
  readonly fd: number;
  readonly region: NativeRegion;
  readOnly: boolean;
  recovery: RecoveryResult;
  /** Bytes of the file mapped at the start of the region (a page multiple). */
  mapped: number;
  /** Content size at the last flush: everything before it is on disk. */
  flushedTo: number;
  /** flush/sync/finish/populate jobs that close() waits for. */
  readonly inflight: Set<Promise<unknown>>;
  finishing: Promise<void> | undefined;
  closing: Promise<void> | undefined;
}

/** One per AOF, refilled for every append(); `tail` is made only when the callback asks for it. */
class AppendEventImpl implements AppendEvent {
  begin = 0;
  reserve = 0;
  buffer: Buffer = Buffer.alloc(0);
  #tail: Buffer | undefined;

  reset(buffer: Buffer, begin: number, reserve: number): this {
    this.buffer = buffer;
    this.begin = begin;
    this.reserve = reserve;
    this.#tail = undefined;
    return this;
  }

  get tail(): Buffer {
    this.#tail ??= this.buffer.subarray(this.begin, this.begin + this.reserve);
    return this.#tail;
  }
}

export class AOF implements AsyncDisposable {
  // Only the state the write path reads lives in private fields. V8 turns objects of a class with
  // 16 or more private fields into slow dictionary-mode objects once earlier instances have been
  // collected (bench/micro-private-fields.mjs): write() then runs 3.5x slower. Keep this list short.
  /** True only while plain writes are allowed: Opened, not read-only, not inside an append callback. */
  #writable = false;
  #buf: Buffer;
  #size = 0;
  #fileSize: number;
  #state: FileState = FileState.Opening;
  /** Everything else: identity, mapping bookkeeping, lifecycle. */
  readonly #f: FileCore;
  /** Reused for every append() call, so the hot path allocates nothing. */
  readonly #event: AppendEventImpl;

  /** @internal Use `Manager.open`. */
  constructor(ctx: AofContext, backing: Backing) {
    const fileSize = fs.fstatSync(backing.fd).size;
    if (fileSize === 0 && !backing.writable) {
      throw new AofError(ErrorCode.EMPTY_FILE, `${backing.path} is empty and not writable: nothing to open`);
    }
    const capacity = backing.writable
      ? Math.max(backing.geometry.sizeUpper, pageUp(fileSize))
      : pageUp(Math.max(fileSize, 1));
    const region = new native.Region(capacity, backing.path);
    this.#f = {
      ctx,
      name: backing.name,
      path: backing.path,
      geometry: backing.geometry,
      fd: backing.fd,
      region,
      readOnly: !backing.writable,
      recovery: undefined as unknown as RecoveryResult,
      mapped: pageUp(fileSize),
      flushedTo: 0,
      inflight: new Set(),
      finishing: undefined,
      closing: undefined,
    };
    this.#fileSize = fileSize;
    this.#event = new AppendEventImpl();
    try {
      region.mapFile(backing.fd, 0, this.#f.mapped, backing.writable);
      this.#buf = Buffer.from(region.buffer(fileSize));
      this.#f.recovery = this.#recover(backing.recovery);
    } catch (e) {
      region.release();
      throw e;
    }
  }

  /** Runs recovery over the mapped bytes and puts the file in the state it describes. */
  #recover(recovery: RecoveryFunc): RecoveryResult {
    let r: RecoveryResult;
    try {
      r = recovery(this.#fileSize, this.#buf, MAGIC_TAIL);
    } catch (e) {
      // A caller's recovery function that throws is a Panic, the same as one inside recoverWithMagic.
      const error = e instanceof Error ? e : new Error(String(e));
      r = { kind: RecoveryKind.Panic, tail: 0, checkpoint: -1, end: 0, fileSize: this.#fileSize, error };
    }
    if (r.kind === RecoveryKind.Corrupted || r.kind === RecoveryKind.Panic) {
      throw new AofError(ErrorCode.CORRUPTED, `${this.#f.path}: cannot recover (${r.error?.message ?? 'corrupted'})`,
        { cause: r.error });
    }
    if (!Number.isSafeInteger(r.tail) || r.tail < 0 || r.tail > this.#fileSize) {
      throw new AofError(ErrorCode.CORRUPTED, `${this.#f.path}: recovery gave tail ${r.tail} outside the file`);
    }
    if (isFinished(r)) {
      // A crash between finish()'s truncate and its chmod leaves a finished file writable: complete it.
      if (!this.#f.readOnly) fs.fchmodSync(this.#f.fd, this.#f.ctx.readMode);
      this.#size = r.checkpoint;
      this.#f.readOnly = true;
      this.#state = FileState.EOF;
      return r;
    }
    this.#size = r.kind === RecoveryKind.Empty ? 0 : r.tail;
    this.#f.flushedTo = this.#size;
    if (!this.#f.readOnly) this.#prepareForWriting(r);
    this.#state = FileState.Opened;
    this.#writable = !this.#f.readOnly;
    return r;
  }

  /** Grows the file to sizeNow, zeroes a torn tail and puts the tail magic right after the content. */
  #prepareForWriting(r: RecoveryResult): void {
    if (this.#fileSize > this.#f.geometry.sizeUpper) {
      throw new AofError(ErrorCode.SHRINK,
        `${this.#f.path} is ${this.#fileSize} bytes, past geometry.sizeUpper ${this.#f.geometry.sizeUpper}; it will not be shrunk`);
    }
    const needed = this.#size + 8;
    if (needed > this.#f.geometry.sizeUpper) this.#ensure(needed, true);
    const target = Math.max(this.#f.geometry.sizeNow, this.#fileSize);
    this.#growTo(needed > target ? this.#f.geometry.next(needed) : target);
    if (r.end > this.#size + 8 || !hasTailMagic(this.#buf, this.#size)) {
      const repaired = Math.min(Math.max(r.end, this.#size + 8), this.#fileSize);
      this.#buf.fill(0, this.#size, repaired);
      putTailMagic(this.#buf, this.#size);
      // Make the repair durable now: later flushes only cover what is written after the content.
      const from = pageDown(this.#size);
      this.#f.region.msync(from, repaired - from, true);
    }
  }

  /** The name it was opened under (relative to the Manager's directory). */
  get name(): string {
    return this.#f.name;
  }

  /** Absolute or manager-relative path of the file. */
  get path(): string {
    return this.#f.path;
  }

  /** Content size in bytes (excludes the tail magic and, for a finished file, the final marker). */
  get size(): number {
    return this.#size;
  }

  /** Size of the file on disk (content + tail magic + zero-filled headroom). */
  get fileSize(): number {
    return this.#fileSize;
  }

  get state(): FileState {
    return this.#state;
  }

  /** What recovery found when the file was opened. */
  get recovery(): RecoveryResult {
    return this.#f.recovery;
  }

  get geometry(): Geometry {
    return this.#f.geometry;
  }

  /** True when writes are refused: a finished file, or a file without write permission. */
  get readOnly(): boolean {
    return this.#f.readOnly;
  }

  /**
   * Appends `data` (bytes, or a string as UTF-8) and returns the number of bytes written.
   * Grows the file when needed; `ERR_AOF_FULL` past geometry.sizeUpper, `ERR_AOF_NO_SPACE` when
   * the disk is full. Nothing is written when it throws.
   */
  write(data: Uint8Array | string): number {
    return this.#write(data, true);
  }

  /** Like {@link write}, but throws `ERR_AOF_WOULD_BLOCK` (writing nothing) where `write` would grow the file. */
  writeNonBlocking(data: Uint8Array | string): number {
    return this.#write(data, false);
  }

  #write(data: Uint8Array | string, mayBlock: boolean): number {
    if (!this.#writable) this.#throwNotWritable();
    if (typeof data === 'string') return this.#writeString(data, mayBlock);
    if (!(data instanceof Uint8Array)) throw invalidArg('data', 'a Uint8Array or a string', data);
    const begin = this.#size;
    const end = begin + data.length;
    if (end + 8 > this.#fileSize) this.#ensure(end + 8, mayBlock);
    this.#buf.set(data, begin);
    this.#commit(end);
    return data.length;
  }

  #writeString(data: string, mayBlock: boolean): number {
    const begin = this.#size;
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes: when that fits, write without measuring.
    let length = data.length * 3 + 8 <= this.#fileSize - begin ? -1 : Buffer.byteLength(data, 'utf8');
    if (length >= 0 && begin + length + 8 > this.#fileSize) this.#ensure(begin + length + 8, mayBlock);
    length = this.#buf.write(data, begin, 'utf8');
    this.#commit(begin + length);
    return length;
  }

  /**
   * Reserves `reserve` bytes at the end and lets `fn` fill them in place (no copy). `fn` returns
   * how many it used; the tail magic goes right after them. If `fn` throws or returns anything but
   * an integer in 0..reserve, the file is left exactly as before and `ERR_AOF_APPEND_FUNC` is
   * thrown (with the callback's error as `cause`). Writes from inside `fn` are refused.
   *
   * The event object is reused between calls: don't keep it. Filling `ev.buffer` at `ev.begin`
   * allocates nothing; `ev.tail` makes a view on first access. The unused part of the reserve is
   * zeroed afterwards (recovery trusts the last non-zero byte), so keep `reserve` close to the need.
   */
  append(reserve: number, fn: AppendFunc): number {
    return this.#append(reserve, fn, true);
  }

  /** Like {@link append}, but throws `ERR_AOF_WOULD_BLOCK` where `append` would grow the file. */
  appendNonBlocking(reserve: number, fn: AppendFunc): number {
    return this.#append(reserve, fn, false);
  }

  #append(reserve: number, fn: AppendFunc, mayBlock: boolean): number {
    if (!this.#writable) this.#throwNotWritable();
    if (!Number.isSafeInteger(reserve) || reserve < 0) throw invalidArg('reserve', 'a non-negative safe integer', reserve);
    if (typeof fn !== 'function') throw invalidArg('fn', 'a function', fn);
    const begin = this.#size;
    if (begin + reserve + 8 > this.#fileSize) this.#ensure(begin + reserve + 8, mayBlock);
    // The callback may scribble over the old tail magic and anywhere in the reserve.
    const buf = this.#buf;
    const touchedEnd = begin + Math.max(reserve, 8);
    for (let i = begin, e = begin + Math.min(reserve, 8); i < e; i++) buf[i] = 0;
    let used: unknown;
    let failure: unknown;
    this.#writable = false;
    try {
      used = fn(this.#event.reset(buf, begin, reserve));
    } catch (e) {
      failure = e;
    } finally {
      this.#writable = this.#state === FileState.Opened && !this.#f.readOnly;
    }
    if (failure !== undefined || !Number.isSafeInteger(used) || (used as number) < 0 || (used as number) > reserve) {
      this.#buf.fill(0, begin, touchedEnd);
      putTailMagic(this.#buf, begin);
      if (failure !== undefined) {
        throw new AofError(ErrorCode.APPEND_FUNC, `append callback threw; nothing was written`, { cause: failure });
      }
      throw new AofError(ErrorCode.APPEND_FUNC,
        `append callback must return an integer from 0 to ${reserve}, got ${String(used)}; nothing was written`);
    }
    const end = begin + (used as number);
    if (end + 8 < touchedEnd) buf.fill(0, end + 8, touchedEnd);
    this.#commit(end);
    return used as number;
  }

  /** Appends a checkpoint marker (as content) and returns its offset. Recovery never rolls back past it. */
  checkpoint(): number {
    const at = this.#size;
    this.#write(MAGIC_CHECKPOINT_BYTES, true);
    return at;
  }

  // Seam for the control block and tailer wakes (later issues): every committed write ends here.
  #commit(end: number): void {
    putTailMagic(this.#buf, end);
    this.#size = end;
  }

  /** Makes room so `needed` bytes (content + tail magic) fit, growing the file if allowed. */
  #ensure(needed: number, mayBlock: boolean): void {
    if (needed > this.#f.geometry.sizeUpper) {
      throw new AofError(ErrorCode.FULL,
        `${this.#f.path}: ${needed} bytes would pass geometry.sizeUpper ${this.#f.geometry.sizeUpper}`);
    }
    if (!mayBlock) {
      throw new AofError(ErrorCode.WOULD_BLOCK, `${this.#f.path}: the write needs the file to grow`);
    }
    this.#growTo(this.#f.geometry.next(needed));
  }

  /** Extends the file with reserved blocks (so a full disk is an error, never SIGBUS) and maps the new part. */
  #growTo(newSize: number): void {
    if (newSize <= this.#fileSize) return;
    try {
      native.fallocate(this.#f.fd, this.#fileSize, newSize - this.#fileSize, this.#f.path);
    } catch (e) {
      if (isSystemError(e, 'EOPNOTSUPP')) {
        fs.ftruncateSync(this.#f.fd, newSize);
      } else if (isSystemError(e, 'ENOSPC') || isSystemError(e, 'EDQUOT')) {
        throw new AofError(ErrorCode.NO_SPACE, `${this.#f.path}: no space left to grow to ${newSize} bytes`, { cause: e });
      } else {
        throw e;
      }
    }
    const mapped = pageUp(newSize);
    const from = this.#f.mapped;
    if (mapped > from) {
      this.#f.region.mapFile(this.#f.fd, from, mapped - from, true);
      this.#f.mapped = mapped;
    }
    this.#buf = Buffer.from(this.#f.region.buffer(newSize));
    this.#fileSize = newSize;
    // At most one growth step: a large sizeNow must not turn into that much resident memory at once.
    if (this.#f.ctx.populate && mapped > from) this.#populate(from, Math.min(mapped - from, this.#f.geometry.growthStep));
  }

  // First touches of new pages are most of a fresh writer's cost (bench/results/write.txt): a
  // thread-pool job faults the new range in while the writer is still filling the pages before it.
  #populate(from: number, length: number): void {
    this.#track(this.#f.region.populateAsync(from, length, true)).catch(() => {
      // Only a hint: the writer faults any page the job could not populate.
    });
  }

  #throwNotWritable(): never {
    switch (this.#state) {
      case FileState.Closing:
      case FileState.Closed:
        throw closed(this.#f.name);
      case FileState.EOF:
        throw readOnly(this.#f.name, 'finished');
      default:
        if (this.#f.readOnly) throw readOnly(this.#f.name, 'no write permission');
        throw new AofError(ErrorCode.APPEND_FUNC, `${this.#f.name}: cannot write from inside an append callback`);
    }
  }

  /**
   * A view of committed content [begin, end), without a copy. It stays safe to read forever: after
   * close it reads zeros instead of faulting. Do not write through it.
   */
  view(begin = 0, end = this.#size): Buffer {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) throw closed(this.#f.name);
    if (!Number.isSafeInteger(begin) || begin < 0 || begin > this.#size) {
      throw invalidArg('begin', `an integer from 0 to size (${this.#size})`, begin);
    }
    if (!Number.isSafeInteger(end) || end < begin || end > this.#size) {
      throw invalidArg('end', `an integer from begin (${begin}) to size (${this.#size})`, end);
    }
    return this.#buf.subarray(begin, end);
  }

  /** Writes dirty pages back to the file (msync, off the event loop). */
  flush(): Promise<void> {
    this.#checkOpen();
    const range = this.#dirtyRange();
    if (range === undefined) return Promise.resolve();
    return this.#track(this.#f.region.msyncAsync(range[0], range[1] - range[0]).then(() => this.#flushed(range[2])));
  }

  /** {@link flush} on the calling thread. */
  flushSync(): void {
    this.#checkOpen();
    const range = this.#dirtyRange();
    if (range === undefined) return;
    this.#f.region.msync(range[0], range[1] - range[0], true);
    this.#flushed(range[2]);
  }

  /** Durable: flushes, then fsyncs the file (size and metadata too). */
  async sync(): Promise<void> {
    await this.flush();
    await this.#track(fsyncAsync(this.#f.fd));
  }

  /** {@link sync} on the calling thread. */
  syncSync(): void {
    this.flushSync();
    fs.fsyncSync(this.#f.fd);
  }

  /** [from, to) to msync, or undefined when nothing was written since the last flush. */
  #dirtyRange(): [number, number, number] | undefined {
    const size = this.#size;
    // The next write starts at the content size, over the tail magic: flushing resumes from the
    // page holding that offset, even when the magic straddled a page boundary.
    return size > this.#f.flushedTo ? [pageDown(this.#f.flushedTo), Math.min(size + 8, this.#fileSize), size] : undefined;
  }

  #flushed(size: number): void {
    this.#f.flushedTo = Math.max(this.#f.flushedTo, size);
  }

  #checkOpen(): void {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) throw closed(this.#f.name);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#f.inflight.add(p);
    const done = () => this.#f.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Ends the file for good: writes the final checkpoint marker, flushes, truncates the file to
   * content + 8 bytes and makes it read-only (the Manager's read mode). Writes fail from the call
   * on. Calling it again returns the same promise.
   */
  finish(): Promise<void> {
    if (this.#f.finishing) return this.#f.finishing;
    if (!this.#writable) this.#throwNotWritable();
    this.#state = FileState.EOF;
    this.#writable = false;
    this.#f.readOnly = true;
    this.#buf.set(MAGIC_CHECKPOINT_BYTES, this.#size);
    this.#f.finishing = this.#track(this.#completeFinish(this.#size + 8));
    return this.#f.finishing;
  }

  async #completeFinish(end: number): Promise<void> {
    const from = pageDown(Math.min(this.#f.flushedTo, this.#size));
    await this.#f.region.msyncAsync(from, end - from);
    // Pages wholly past the new end are detached first, so no view can ever touch a page past EOF.
    const keep = pageUp(end);
    if (this.#f.mapped > keep) {
      this.#f.region.zero(keep, this.#f.mapped - keep);
      this.#f.mapped = keep;
    }
    await ftruncateAsync(this.#f.fd, end);
    this.#fileSize = end;
    this.#buf = Buffer.from(this.#f.region.buffer(end));
    await fchmodAsync(this.#f.fd, this.#f.ctx.readMode);
    await fsyncAsync(this.#f.fd);
    this.#f.flushedTo = this.#size;
  }

  /**
   * Closes the file: waits for in-flight flush/sync/finish, replaces the mapping with zero pages
   * (stale views read zeros), closes the descriptor and releases the writer lock. Idempotent:
   * every call returns the same promise. Does not finish the file.
   */
  close(): Promise<void> {
    this.#f.closing ??= this.#close();
    return this.#f.closing;
  }

  async #close(): Promise<void> {
    this.#state = FileState.Closing;
    this.#writable = false;
    await Promise.allSettled([...this.#f.inflight]);
    try {
      this.#f.region.release();
    } finally {
      fs.closeSync(this.#f.fd);
      this.#state = FileState.Closed;
      this.#f.ctx.released(this);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Opens (or creates) the file at `path` and returns the pieces an AOF is built from. Decides
 * read-only vs writable, takes the single-writer lock, and turns system errors into codes.
 */
export function openFile(
  name: string,
  path: string,
  geometry: Geometry,
  recovery: RecoveryFunc,
  writeMode: number,
): Backing {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    if (!isSystemError(e, 'ENOENT')) throw e;
    if (!geometry.create) throw new AofError(ErrorCode.NOT_FOUND, `${path} does not exist`, { cause: e });
    const fd = createFile(path, writeMode);
    if (fd >= 0) return lock({ name, path, fd, writable: true, geometry, recovery });
    st = fs.statSync(path);
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
  return writable ? lock({ name, path, fd, writable, geometry, recovery }) : { name, path, fd, writable, geometry, recovery };
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
  if (typeof recovery !== 'function') throw invalidArg('recovery', 'a function', recovery);
  const backing = openFile(name, path, g, recovery, writeMode);
  try {
    return new AOF(ctx, backing);
  } catch (e) {
    fs.closeSync(backing.fd);
    throw e;
  }
}
