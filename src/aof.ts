/**
 * One append-only file, mapped into memory. A write is a copy into the mapping followed by the
 * 8-byte tail magic; no syscall unless the file must grow. See docs/format.md for the on-disk format.
 *
 * Around the write path, once per event-loop turn at most: tailers are woken, and when the
 * headroom falls below a threshold the file grows ahead of the writer off the event loop.
 */
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import {
  COMMITTED_WORD,
  ControlBlock,
  ControlState,
  identityOf,
  pathNames,
  type FileIdentity,
} from './control-block.js';
import { AofError, ErrorCode, closed, readOnly } from './errors.js';
import { FileState } from './file-state.js';
import type { Geometry } from './geometry.js';
import { DurableFlusher, recoverAtOpen, recoveryContext, reportDurable } from './durability.js';
import { bufferLength, hasTailMagic, pageDown, pageUp, putTailMagic } from './mapping.js';
import { native, type NativeRegion } from './native.js';
import {
  MAGIC_CHECKPOINT_BYTES,
  RecoveryKind,
  isFinished,
  type RecoveryFunc,
  type RecoveryResult,
} from './recovery.js';
import { now, type StatsRecorder } from './stats.js';
import { fromSystemError, hasSystemCode } from './system-errors.js';
import { Followable, type Tailer } from './tailer.js';
import { validateBytes, validateFunction, validateInteger, validateRange } from './validate.js';
import { createWriteStream, type WriteStreamOptions } from './write-stream.js';

const fsyncAsync = promisify(fs.fsync);
const ftruncateAsync = promisify(fs.ftruncate);
const fchmodAsync = promisify(fs.fchmod);

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

/** @internal Everything an AOF is made of, besides its Manager: what opening the file found. */
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

/** @internal What an AOF needs from whoever opened it (the Manager). */
export interface AofContext {
  /** File mode a finished file gets. */
  readonly readMode: number;
  /** Fault in pages of each newly grown range off the event loop. */
  readonly populate: boolean;
  /** Grow ahead of the writer, off the event loop, when the headroom falls below the threshold. */
  readonly growAhead: boolean;
  /** Headroom (bytes) below which growth starts; undefined: half the growth step. */
  readonly growThreshold: number | undefined;
  /** Keep a control block next to each file written (readers elsewhere, no loss on a crash). */
  readonly controlBlock: boolean;
  readonly stats: StatsRecorder;
  /** Called once, when the AOF has closed. */
  released(aof: AOF): void;
}

/** The AOF's cold state: read at open, growth, flush, finish, close and once per turn, never per write. */
interface FileCore {
  readonly ctx: AofContext;
  readonly name: string;
  readonly path: string;
  readonly geometry: Geometry;
  /** -1 for anonymous memory. */
  readonly fd: number;
  readonly anonymous: boolean;
  readonly region: NativeRegion;
  /** Headroom that starts growth ahead; doubled (up to 8 steps) after each blocking grow. */
  threshold: number;
  /** The threshold the file started with. */
  readonly baseThreshold: number;
  readOnly: boolean;
  recovery: RecoveryResult;
  /** Bytes of the file mapped at the start of the region (a page multiple). */
  mapped: number;
  /** Durable flushes with group commit; undefined when there is nothing to flush (anonymous, read-only). */
  flusher: DurableFlusher | undefined;
  /** Content size at open (at close, once counted): bytesWritten is measured from it. */
  sizeAtOpen: number;
  /** flush/sync/finish/populate/grow jobs that close() waits for. */
  readonly inflight: Set<Promise<unknown>>;
  readonly tailers: Set<Tailer>;
  /** The background grow in flight (finish waits for it: it must not extend a truncated file). */
  growing: Promise<void> | undefined;
  /** Background growth failed (e.g. ENOSPC): leave growing to the writer until a grow succeeds. */
  growAheadFailed: boolean;
  readonly onTurn: () => void;
  readonly onPublish: () => void;
  /** An end-of-turn setImmediate is queued. */
  turnQueued: boolean;
  /** A futex wake was made in this turn: further publishes leave theirs to the end of the turn. */
  wokeInTurn: boolean;
  /** A publish found readers asleep after this turn's wake: the end of the turn wakes them. */
  wakeOwed: boolean;
  unmapped: boolean;
  finishing: Promise<void> | undefined;
  closing: Promise<void> | undefined;
  /** The shared control block readers in other processes follow; undefined for anonymous or read-only files. */
  control: ControlBlock | undefined;
  /** Device and inode of the data file (what the control block must name); undefined when anonymous. */
  readonly identity: FileIdentity | undefined;
  /** The size last published to the control block. */
  published: number;
}

/** Where a writer without a control block stores its committed size: nowhere anyone reads. */
const NO_CONTROL = new Uint32Array(COMMITTED_WORD + 2);
const COMMITTED = COMMITTED_WORD;

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

const EMPTY: RecoveryResult = Object.freeze({ kind: RecoveryKind.Empty, tail: 0, checkpoint: -1, end: 0, fileSize: 0 });

export class AOF extends Followable implements AsyncDisposable {
  // Only the state the write path reads lives in private fields. V8 turns objects of a class with
  // 16 or more private fields into slow dictionary-mode objects once earlier instances have been
  // collected (bench/micro-private-fields.mjs): write() then runs 3.5x slower. Keep this list short.
  /** True only while plain writes are allowed: Opened, not read-only, not inside an append callback. */
  #writable = false;
  /** A view of the reservation from its start, at least #fileSize long (see bufferLength). */
  #buf: Buffer;
  #size = 0;
  #fileSize: number;
  /** A write past this goes to #makeRoom: fileSize minus the grow-ahead threshold, or fileSize. */
  #limit = 0;
  #state: FileState = FileState.Opening;
  /** True when tailers are attached and no end-of-turn wake is scheduled yet. */
  #notify = false;
  #writes = 0;
  /** Everything else: identity, mapping bookkeeping, lifecycle. */
  readonly #f: FileCore;
  /** Reused for every append() call, so the hot path allocates nothing. */
  readonly #event: AppendEventImpl;
  /** The control block's words: [COMMITTED] takes the committed size after every write. */
  #ctl: Uint32Array;

  /** @internal Use `Manager.open` or `Manager.openAnonymous`. */
  constructor(ctx: AofContext, backing: Backing) {
    super();
    const anonymous = backing.anonymousSize !== undefined;
    const fileSize = anonymous ? pageUp(Math.max(backing.anonymousSize!, 1)) : fs.fstatSync(backing.fd).size;
    if (fileSize === 0 && !backing.writable) {
      throw new AofError(ErrorCode.EMPTY_FILE, `${backing.path} is empty and not writable: nothing to open`);
    }
    const capacity = anonymous || !backing.writable
      ? pageUp(Math.max(fileSize, 1))
      : Math.max(backing.geometry.sizeUpper, pageUp(fileSize));
    const region = new native.Region(capacity, backing.path);
    const threshold = ctx.growThreshold ?? Math.floor(backing.geometry.growthStep / 2);
    this.#f = {
      ctx,
      name: backing.name,
      path: backing.path,
      geometry: backing.geometry,
      fd: backing.fd,
      anonymous,
      region,
      threshold,
      baseThreshold: threshold,
      readOnly: !backing.writable,
      recovery: EMPTY,
      mapped: 0,
      flusher: undefined,
      sizeAtOpen: 0,
      inflight: new Set(),
      tailers: new Set(),
      growing: undefined,
      growAheadFailed: false,
      onTurn: () => this.#onTurn(),
      onPublish: () => this.#onPublish(),
      turnQueued: false,
      wokeInTurn: false,
      wakeOwed: false,
      unmapped: false,
      finishing: undefined,
      closing: undefined,
      control: backing.control,
      identity: anonymous ? undefined : identityOf(backing.fd),
      published: -1,
    };
    this.#fileSize = fileSize;
    this.#event = new AppendEventImpl();
    this.#ctl = backing.control?.words ?? NO_CONTROL;
    try {
      this.#map(0, pageUp(fileSize));
      this.#buf = Buffer.from(region.buffer(bufferLength(capacity, fileSize, 0)));
      if (!anonymous) ctx.stats.counts.activeFileSize += fileSize;
      this.#f.recovery = anonymous ? this.#startAnonymous() : this.#recover(backing.recovery);
      if (backing.created) this.#f.flusher?.created();
      this.#f.sizeAtOpen = this.#size;
      this.#startControl();
    } catch (e) {
      if (!anonymous) ctx.stats.counts.activeFileSize -= this.#fileSize;
      this.#f.control?.close();
      this.#unmap();
      throw e;
    }
  }

  /**
   * Tells readers a writer is here (or that the file is finished) and from what size. Until
   * now the control block was locked, so no reader rebuilt it under the recovery.
   */
  #startControl(): void {
    const f = this.#f;
    const control = f.control;
    if (!control) return;
    if (this.#state === FileState.EOF) {
      control.reset(f.identity!, ControlState.Finished, this.#size, 0);
      this.#dropControl(true);
      return;
    }
    control.reset(f.identity!, ControlState.Writing, this.#size, process.pid);
    control.unlock();
    f.published = this.#size;
    this.#notify = true;
  }

  /** Stops using the control block; `unlink` removes it (a finished file needs none). */
  #dropControl(unlink: boolean): void {
    const control = this.#f.control;
    if (!control) return;
    this.#f.control = undefined;
    this.#ctl = NO_CONTROL;
    try {
      if (unlink && control.isCurrent()) fs.rmSync(control.path, { force: true });
    } finally {
      control.close();
    }
  }

  /** Maps [from, from+length) of the file (or anonymous memory) and counts it. */
  #map(from: number, length: number): void {
    if (length === 0) return;
    const { region, fd, anonymous, ctx } = this.#f;
    try {
      if (anonymous) region.mapAnonymous(from, length);
      else region.mapFile(fd, from, length, !this.#f.readOnly);
    } catch (e) {
      ctx.stats.counts.mapErrors++;
      throw e;
    }
    const c = ctx.stats.counts;
    c.maps++;
    if (from === 0) c.activeMaps++;
    c.lifetimeMemory += length;
    if (anonymous) c.activeAnonymousMemory += length;
    else c.activeMappedMemory += length;
    this.#f.mapped = from + length;
  }

  /** Replaces the mapping with zero pages (stale views read zeros) and uncounts it. Once. */
  #unmap(): void {
    const f = this.#f;
    if (f.unmapped) return;
    f.unmapped = true;
    const c = f.ctx.stats.counts;
    try {
      f.region.release();
    } catch (e) {
      c.unmapErrors++;
      throw e;
    }
    c.unmaps++;
    if (f.mapped > 0) c.activeMaps--;
    if (f.anonymous) c.activeAnonymousMemory -= f.mapped;
    else c.activeMappedMemory -= f.mapped;
  }

  #startAnonymous(): RecoveryResult {
    putTailMagic(this.#buf, 0);
    this.#state = FileState.Opened;
    this.#writable = true;
    this.#limit = this.#fileSize;
    return { ...EMPTY, fileSize: this.#fileSize };
  }

  /** Runs recovery over the mapped bytes and puts the file in the state it describes. */
  #recover(recovery: RecoveryFunc): RecoveryResult {
    const { control, identity, fd } = this.#f;
    const data = this.#buf.subarray(0, this.#fileSize);
    // A reboot since the last write (a power loss, a kernel crash) and what a durable flush proved.
    const context = recoveryContext(fd, this.#f.path, data, this.#fileSize);
    const r = recoverAtOpen(recovery, this.#fileSize, data, context, control, identity!);
    if (r.kind === RecoveryKind.Corrupted || r.kind === RecoveryKind.Panic) {
      throw new AofError(ErrorCode.CORRUPTED, `${this.#f.path}: cannot recover (${r.error?.message ?? 'corrupted'})`,
        { cause: r.error });
    }
    if (!Number.isSafeInteger(r.tail) || r.tail < 0 || r.tail > this.#fileSize) {
      throw new AofError(ErrorCode.CORRUPTED, `${this.#f.path}: recovery gave tail ${r.tail} outside the file`);
    }
    if (isFinished(r)) {
      // A crash between finish()'s truncate and its chmod leaves a finished file writable: complete it.
      if (!this.#f.readOnly) this.#chmodSync(this.#f.ctx.readMode);
      this.#size = r.checkpoint;
      this.#f.readOnly = true;
      this.#state = FileState.EOF;
      return r;
    }
    this.#size = r.kind === RecoveryKind.Empty ? 0 : r.tail;
    if (!this.#f.readOnly) {
      this.#prepareForWriting(r);
      this.#f.flusher = new DurableFlusher({
        region: this.#f.region,
        fd,
        path: this.#f.path,
        stats: this.#f.ctx.stats,
        size: () => this.#size,
        afterFlush: () => this.#checkNotTruncated(),
      }, context, this.#size);
    }
    this.#state = FileState.Opened;
    this.#writable = !this.#f.readOnly;
    this.#updateLimit();
    return r;
  }

  #chmodSync(mode: number): void {
    const c = this.#f.ctx.stats.counts;
    try {
      fs.fchmodSync(this.#f.fd, mode);
    } catch (e) {
      c.chmodErrors++;
      throw e;
    }
    c.chmods++;
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

  /** Path of the file (for an anonymous AOF, a label: `anonymous:<name>`). */
  get path(): string {
    return this.#f.path;
  }

  /** Content size in bytes (excludes the tail magic and, for a finished file, the final marker). */
  get size(): number {
    return this.#size;
  }

  /** Size of the file on disk (content + tail magic + zero-filled headroom); the capacity when anonymous. */
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

  /** True for an AOF over anonymous memory (`Manager.openAnonymous`): nothing on disk. */
  get anonymous(): boolean {
    return this.#f.anonymous;
  }

  /** Tailers attached now. */
  get tailerCount(): number {
    return this.#f.tailers.size;
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
    validateBytes(data, 'data', 'a Uint8Array or a string');
    const begin = this.#size;
    const end = begin + data.length;
    if (end + 8 > this.#limit) this.#makeRoom(end + 8, mayBlock);
    this.#buf.set(data, begin);
    this.#commit(end);
    return data.length;
  }

  #writeString(data: string, mayBlock: boolean): number {
    const begin = this.#size;
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes: when that fits, write without measuring.
    let length = data.length * 3 + 8 <= this.#limit - begin ? -1 : Buffer.byteLength(data, 'utf8');
    if (length >= 0 && begin + length + 8 > this.#limit) this.#makeRoom(begin + length + 8, mayBlock);
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
    validateInteger(reserve, 'reserve');
    validateFunction(fn, 'fn');
    const begin = this.#size;
    if (begin + reserve + 8 > this.#limit) this.#makeRoom(begin + reserve + 8, mayBlock);
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
      buf.fill(0, begin, touchedEnd);
      putTailMagic(buf, begin);
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

  /**
   * @internal Maps every page of the content now, in one madvise(MADV_POPULATE_READ) (a touch of
   * each page on older kernels): for a reader about to walk the whole file. The first get in a
   * sealed 64 MiB segment (its index built from the headers) took 57–60 ms with it, 64–82 ms
   * without, measured side by side; the rest is the first read of the pages by the process.
   * Only a hint: a failure is ignored (the walk faults the pages itself).
   */
  populateForRead(): void {
    const length = Math.min(pageUp(this.#size), this.#f.mapped);
    if (length <= 0) return;
    try {
      this.#f.region.populate(0, length, false);
    } catch {
      // A hint only.
    }
  }

  /**
   * @internal The record log's one-record path, without a callback: makes room for `reserve`
   * bytes at `size` and returns the buffer to write them into; {@link commitTrusted} commits them.
   * The caller writes nothing it cannot complete (a native call that checks everything before
   * its first store), so the tail magic at `size` stays valid until the frame overwrites it.
   */
  reserveTrusted(reserve: number): Buffer {
    if (!this.#writable) this.#throwNotWritable();
    const end = this.#size + reserve;
    if (end + 8 > this.#limit) this.#makeRoom(end + 8, true);
    return this.#buf;
  }

  /** @internal Commits the bytes written after {@link reserveTrusted}, up to `end`. */
  commitTrusted(end: number): void {
    this.#commit(end);
  }

  /**
   * @internal The record log's write path: `put(buf, begin)` writes exactly `reserve` bytes at
   * `begin` (the library's own code: no user callback, so no validation, event object or
   * re-entrancy guard), then they are committed as one write. If `put` throws, nothing is written.
   */
  appendTrusted(reserve: number, put: (buf: Buffer, begin: number) => void): void {
    const buf = this.reserveTrusted(reserve);
    const begin = this.#size;
    const end = begin + reserve;
    try {
      put(buf, begin);
    } catch (e) {
      buf.fill(0, begin, end + 8);
      putTailMagic(buf, begin);
      throw e;
    }
    this.#commit(end);
  }

  /** Appends a checkpoint marker (as content) and returns its offset. Recovery never rolls back past it. */
  checkpoint(): number {
    const at = this.#size;
    this.#write(MAGIC_CHECKPOINT_BYTES, true);
    return at;
  }

  // Every committed write ends here. (Seam for the cross-process control block.)
  #commit(end: number): void {
    putTailMagic(this.#buf, end);
    // A plain store into the shared control block: after a crash, recovery keeps up to here.
    this.#ctl[COMMITTED] = end;
    this.#size = end;
    this.#writes++;
    if (this.#notify) this.#wakeSoon();
  }

  /**
   * Schedules what follows writes: with a control block, a publish once the current synchronous
   * run of writes ends (a microtask); then, once per turn, the in-process tailers' wake.
   */
  #wakeSoon(): void {
    this.#notify = false;
    const f = this.#f;
    if (f.control) queueMicrotask(f.onPublish);
    this.#queueTurn();
  }

  #queueTurn(): void {
    const f = this.#f;
    if (f.turnQueued) return;
    f.turnQueued = true;
    setImmediate(f.onTurn);
  }

  #isOpen(): boolean {
    return this.#state !== FileState.Closing && this.#state !== FileState.Closed;
  }

  #onPublish(): void {
    if (!this.#isOpen()) return; // close() publishes the final size itself
    this.#notify = true;
    this.#publish();
  }

  /**
   * Readers elsewhere may read up to the current size from now on. The futex wake is a syscall,
   * made only for sleeping readers and at most once per turn; later publishes in the same turn
   * leave it to the end of the turn.
   */
  #publish(): void {
    const f = this.#f;
    const control = f.control;
    if (!control || this.#size === f.published) return;
    f.published = this.#size;
    if (!control.publishSize(this.#size)) return;
    if (f.wokeInTurn) {
      f.wakeOwed = true;
    } else {
      f.wokeInTurn = true;
      control.wake();
    }
  }

  #onTurn(): void {
    const f = this.#f;
    f.turnQueued = false;
    f.wokeInTurn = false;
    if (f.wakeOwed) {
      f.wakeOwed = false;
      f.control?.wake();
    }
    this.#notify = (f.tailers.size > 0 || f.control !== undefined) && this.#isOpen();
    for (const t of f.tailers) t.wake();
  }

  /** The write passed the soft limit: start growing ahead, or grow now if the room is really gone. */
  #makeRoom(needed: number, mayBlock: boolean): void {
    if (needed <= this.#fileSize) {
      this.#growAhead();
      return;
    }
    this.#ensure(needed, mayBlock);
  }

  /** Makes room so `needed` bytes (content + tail magic) fit, growing the file now if allowed. */
  #ensure(needed: number, mayBlock: boolean): void {
    if (needed > this.#f.geometry.sizeUpper || this.#f.anonymous) {
      throw new AofError(ErrorCode.FULL,
        `${this.#f.path}: ${needed} bytes would pass geometry.sizeUpper ${this.#f.geometry.sizeUpper}`);
    }
    if (!mayBlock) {
      throw new AofError(ErrorCode.WOULD_BLOCK, `${this.#f.path}: the write needs the file to grow`);
    }
    const start = now();
    const f = this.#f;
    // The writer outran growth ahead: start it earlier from now on (the writer's rate is what it is).
    if (f.ctx.growAhead) f.threshold = Math.max(f.threshold, Math.min(f.threshold * 2, f.geometry.growthStep * 8));
    this.#growTo(f.geometry.next(needed));
    f.ctx.stats.time('blockingGrows', start);
  }

  /** Extends the file with reserved blocks (so a full disk is an error, never SIGBUS) and maps the new part. */
  #growTo(newSize: number): void {
    if (newSize <= this.#fileSize) return;
    try {
      native.fallocate(this.#f.fd, this.#fileSize, newSize - this.#fileSize, this.#f.path);
    } catch (e) {
      if (hasSystemCode(e, 'EOPNOTSUPP')) {
        fs.ftruncateSync(this.#f.fd, newSize);
      } else {
        this.#f.ctx.stats.counts.growErrors++;
        throw fromSystemError(e, 'write', this.#f.path, {
          [ErrorCode.NO_SPACE]: `${this.#f.path}: no space left to grow to ${newSize} bytes`,
        });
      }
    }
    this.#f.growAheadFailed = false;
    this.#extendMapping(newSize);
  }

  /** Maps the file up to `newSize` (already allocated on disk) and moves the write limits. */
  #extendMapping(newSize: number): void {
    if (newSize <= this.#fileSize) return;
    const from = this.#f.mapped;
    const mapped = pageUp(newSize);
    if (mapped > from) this.#map(from, mapped - from);
    this.#f.ctx.stats.counts.activeFileSize += newSize - this.#fileSize;
    this.#fileSize = newSize;
    if (newSize > this.#buf.length) {
      this.#buf = Buffer.from(this.#f.region.buffer(bufferLength(this.#f.region.capacity, newSize, this.#buf.length)));
    }
    this.#updateLimit();
    // First touches of new pages are most of a fresh writer's cost (bench/results/write.txt): a
    // thread-pool job faults the new step in while the writer fills the pages before it. At most
    // one step, so a large sizeNow does not become that much resident memory at once.
    if (this.#f.ctx.populate && mapped > from) {
      const length = Math.min(mapped - from, this.#f.geometry.growthStep);
      this.#track(this.#f.region.populateAsync(from, length, true)).catch(() => {
        // Only a hint: the writer faults any page the job could not populate.
      });
    }
  }

  #updateLimit(): void {
    const f = this.#f;
    const canGrow = f.ctx.growAhead && !f.anonymous && !f.growing && !f.growAheadFailed &&
      this.#fileSize < f.geometry.sizeUpper;
    // Growth ahead starts once the writer passes the threshold before the end, or half the file
    // for a file smaller than twice the threshold: a small file (a CLI or pino log of a few
    // lines) then stays at its first size instead of growing a whole step at its first write
    // (248 bytes took 2 MiB on disk, a 498-byte pino log 16 MiB).
    // (A threshold the Manager was given is kept as given.)
    const threshold = f.ctx.growThreshold === undefined ? Math.min(f.threshold, Math.floor(this.#fileSize / 2)) : f.threshold;
    this.#limit = canGrow ? this.#fileSize - threshold : this.#fileSize;
  }

  /** Grows one step ahead of the writer: fallocate on the thread pool, then map on the next turn. */
  #growAhead(): void {
    const f = this.#f;
    if (f.growing || this.#state !== FileState.Opened) return;
    const from = this.#fileSize;
    // One step, plus whatever the threshold gained from blocking grows: a writer that outran
    // growth ahead gets bigger jobs, not just earlier ones (one job is in flight at a time).
    const target = f.geometry.next(from + f.threshold - f.baseThreshold);
    if (target <= from) {
      this.#limit = from;
      return;
    }
    const start = now();
    const job = native.fallocateAsync(f.fd, from, target - from, f.path).then(() => {
      // Finishing or closing: the room is not needed. Overtaken by a blocking grow: nothing to do.
      if (this.#state !== FileState.Opened || target <= this.#fileSize) return;
      this.#extendMapping(target);
      f.ctx.stats.time('backgroundGrows', start);
    }).catch(() => {
      // fallocate (a full disk, say) or the mapping failed: the writer grows (and reports
      // ERR_AOF_NO_SPACE, say) itself when it needs the room. Nothing here may reject unhandled.
      f.ctx.stats.counts.growErrors++;
      f.growAheadFailed = true;
    }).finally(() => {
      f.growing = undefined;
      this.#updateLimit();
    });
    f.growing = job;
    this.#limit = from;
    void this.#track(job); // never rejects: the catch above takes every failure
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
    this.#checkOpen();
    validateRange(begin, end, this.#size);
    return this.#buf.subarray(begin, end);
  }

  // --- tailers ---------------------------------------------------------------------------------

  // subscribe(), tail() and createReadStream() come from Followable.

  /**
   * A byte stream (Writable) that appends each chunk with {@link write}, for
   * `pipeline(source, aof.createWriteStream())`. A failing write destroys the stream with its
   * error and writes nothing of that chunk. Options: `sync`/`flush`/`finish` at the end of the
   * stream, `highWaterMark`, `signal`. Destroying the stream does not close the AOF.
   */
  createWriteStream(options: WriteStreamOptions = {}): Writable {
    return createWriteStream(this, options);
  }

  /** @internal TailSource: a view for a tailer, also while the file is closing. */
  tailView(begin: number, end: number): Buffer {
    return this.#buf.subarray(begin, end);
  }

  /** @internal TailSource */
  attach(tailer: Tailer): void {
    this.#checkOpen();
    const f = this.#f;
    f.tailers.add(tailer);
    f.ctx.stats.counts.tailers++;
    if (f.tailers.size === 1) this.#notify = true;
  }

  /** @internal TailSource */
  detach(tailer: Tailer): void {
    const f = this.#f;
    if (!f.tailers.delete(tailer)) return;
    f.ctx.stats.counts.tailers--;
    if (f.tailers.size === 0 && !f.control) this.#notify = false;
  }

  /** @internal TailSource */
  get tailerStats(): StatsRecorder {
    return this.#f.ctx.stats;
  }

  /** Wakes the tailers on the next turn even without a write (finish). */
  #wakeTailers(): void {
    if (this.#f.tailers.size > 0) this.#queueTurn();
  }

  // --- durability ------------------------------------------------------------------------------

  /**
   * Makes every byte written before the call durable: it survives a power loss or a kernel crash,
   * not only a process crash. One device flush (a data sync of the written range, with the durable
   * slot of the control block) off the event loop, shared with every other request that comes
   * before it starts (group commit). Same as {@link sync}. Nothing to do when anonymous or finished.
   */
  flush(): Promise<void> {
    this.#checkOpen();
    const flusher = this.#f.flusher;
    if (!flusher) return Promise.resolve();
    return this.#track(flusher.request());
  }

  /** {@link flush} on the calling thread. */
  flushSync(): void {
    this.#checkOpen();
    this.#f.flusher?.now();
  }

  /**
   * Another process truncated the file under the writer: pages past its new end were replaced
   * with zeros by the SIGBUS guard, and writes into them reached no file. Durability cannot be
   * promised any more.
   */
  #checkNotTruncated(): void {
    if (!this.truncatedUnder) return;
    throw new AofError(ErrorCode.CORRUPTED, `${this.#f.path}: ${this.#f.region.faults} page(s) of the mapping ` +
      'faulted and were replaced with zeros (the file was truncated by another process, or the disk had no room ' +
      'for a page); writes there reached no file');
  }

  /**
   * @internal True once an access through this file's mapping found a page past the end of the
   * file (another process truncated it): that page now reads zeros.
   */
  get truncatedUnder(): boolean {
    return native.guardFaults[0] !== 0 && this.#f.region.faults > 0;
  }

  /**
   * {@link flush}: every byte written before the call is durable once it resolves. (On Linux a data
   * sync covers the file's size too; a second fsync would only add a second device flush.)
   */
  sync(): Promise<void> {
    try {
      return this.flush();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** {@link sync} on the calling thread. */
  syncSync(): void {
    this.flushSync();
  }

  /** @internal True when there are writes not yet flushed (the Manager's flush interval asks). */
  get dirty(): boolean {
    return this.#f.flusher?.behind ?? false;
  }

  /**
   * @internal Recreates the control block when its file was deleted or replaced while this writer
   * has the file open (readers that open it afterwards would otherwise follow nothing). The
   * Manager calls it on its flush interval.
   */
  maintain(): void {
    const f = this.#f;
    if (!f.control || this.#state !== FileState.Opened || f.control.isCurrent()) return;
    // The data file itself was deleted or replaced: a block at the path would describe another file.
    if (!pathNames(f.path, f.identity!)) return;
    const fresh = ControlBlock.open(f.path, { mode: fs.fstatSync(f.fd).mode & 0o7777 });
    if (!fresh) return;
    if (!fresh.writable) {
      fresh.close();
      return;
    }
    fresh.lock();
    try {
      fresh.reset(f.identity!, ControlState.Writing, this.#size, process.pid);
    } finally {
      fresh.unlock();
    }
    const old = f.control;
    f.control = fresh;
    f.published = this.#size;
    this.#ctl = fresh.words;
    old.close();
  }

  /** @internal True while `path` names this file (same device and inode): not renamed away or replaced. */
  isAt(path: string): boolean {
    const id = this.#f.identity;
    return id !== undefined && pathNames(path, id);
  }

  /**
   * @internal Lets go of the control block now, marked Closed: for a writer whose file was
   * renamed away (log rotation) before a new file takes the path and, with it, the block at
   * `<path>-shm`. The close that follows then leaves that block to the new writer.
   */
  detachControlBlock(): void {
    const f = this.#f;
    if (!f.control) return;
    this.#publish();
    try {
      f.control.setState(ControlState.Closed, this.#size);
    } finally {
      this.#dropControl(false);
    }
  }

  /** @internal Writes and bytes written since open, for the Manager's stats. */
  get writeCounts(): { writes: number; bytesWritten: number } {
    return { writes: this.#writes, bytesWritten: this.#size - this.#f.sizeAtOpen };
  }

  #checkOpen(): void {
    if (this.#state === FileState.Closing || this.#state === FileState.Closed) throw closed(this.#f.name);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    const inflight = this.#f.inflight;
    inflight.add(p);
    const done = () => inflight.delete(p);
    p.then(done, done);
    return p;
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /**
   * Ends the file for good: writes the final checkpoint marker, flushes, truncates the file to
   * content + 8 bytes and makes it read-only (the Manager's read mode). Writes fail from the call
   * on; tailers reach EOF once they have read everything. Calling it again returns the same promise.
   */
  finish(): Promise<void> {
    if (this.#f.finishing) return this.#f.finishing;
    if (!this.#writable) this.#throwNotWritable();
    this.#state = FileState.EOF;
    this.#writable = false;
    this.#f.readOnly = true;
    this.#buf.set(MAGIC_CHECKPOINT_BYTES, this.#size);
    const stats = this.#f.ctx.stats;
    this.#f.finishing = this.#track(stats.timed('finishes', 'finishErrors', () => this.#completeFinish(this.#size + 8)));
    this.#wakeTailers();
    return this.#f.finishing;
  }

  async #completeFinish(end: number): Promise<void> {
    const f = this.#f;
    if (f.anonymous) return;
    // A background fallocate finishing after the truncate would extend the finished file again.
    if (f.growing) await f.growing;
    const from = pageDown(Math.min(f.flusher?.durable ?? 0, this.#size));
    await f.region.msyncAsync(from, end - from);
    // Pages wholly past the new end are detached first, so no view can ever touch a page past EOF.
    const keep = pageUp(end);
    const c = f.ctx.stats.counts;
    if (f.mapped > keep) {
      f.region.zero(keep, f.mapped - keep);
      c.activeMappedMemory -= f.mapped - keep;
      f.mapped = keep;
    }
    try {
      await ftruncateAsync(f.fd, end);
    } catch (e) {
      c.truncateErrors++;
      throw e;
    }
    c.truncates++;
    c.activeFileSize -= this.#fileSize - end;
    this.#fileSize = end;
    try {
      await fchmodAsync(f.fd, f.ctx.readMode);
    } catch (e) {
      c.chmodErrors++;
      throw e;
    }
    c.chmods++;
    await fsyncAsync(f.fd);
    reportDurable(f.path, 'file');
    f.flusher = undefined; // everything is durable: nothing left to flush
    // Readers elsewhere reach EOF now that the file is finished on disk; new readers need no block.
    f.control?.setState(ControlState.Finished, this.#size);
    this.#dropControl(true);
  }

  /**
   * Closes the file: tailers end (reason 'file-closed'), in-flight flush/sync/finish/growth
   * complete, and once the last tailer has detached the mapping is replaced by zero pages (stale
   * views read zeros), the descriptor closed and the writer lock released. Before that, what was
   * written and not yet durable is flushed (one durable flush), so a closed file survives a power
   * loss whole; if that flush fails the file is closed all the same and the promise rejects with
   * the error. Idempotent: every call returns the same promise. Does not finish the file.
   */
  close(): Promise<void> {
    this.#f.closing ??= this.#close();
    return this.#f.closing;
  }

  async #close(): Promise<void> {
    const f = this.#f;
    const wasOpen = this.#state === FileState.Opened;
    this.#state = FileState.Closing;
    this.#writable = false;
    this.#notify = false;
    const attached = [...f.tailers];
    for (const t of attached) t.fileClosing();
    // Drain: a job that settles may still start another (a grow landing starts a populate job).
    while (f.inflight.size > 0) await Promise.allSettled([...f.inflight]);
    let flushFailure: { error: unknown } | undefined;
    if (wasOpen && f.flusher?.behind) {
      try {
        await f.flusher.request();
      } catch (error) {
        flushFailure = { error };
      }
    }
    await Promise.all(attached.map((t) => t.closed));
    const c = f.ctx.stats.counts;
    const { writes, bytesWritten } = this.writeCounts;
    c.writes += writes;
    c.bytesWritten += bytesWritten;
    this.#writes = 0;
    f.sizeAtOpen = this.#size;
    try {
      // Readers keep following: another writer may open the file and continue.
      f.control?.setState(ControlState.Closed, this.#size);
      this.#dropControl(false);
      this.#unmap();
    } finally {
      if (!f.anonymous) {
        c.activeFileSize -= this.#fileSize;
        fs.closeSync(f.fd);
      }
      this.#state = FileState.Closed;
      c.closes++;
      f.ctx.released(this);
    }
    if (flushFailure) throw flushFailure.error;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
