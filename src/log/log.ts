/**
 * The record log: records with consecutive ids, each framed with its CRC32C, in AOF segments
 * that roll at `segmentSize`. `get(id)` is one index lookup; sealed segments are finished AOFs
 * (read-only) whose index is rebuilt from the frame headers' lengths when first used (a hop per
 * record, no CRC: each frame is checked when first read).
 *
 * Ids are JS numbers (safe integers, exact to 2^53): no BigInt on the hot path, and 2^53 records
 * is more than any disk holds.
 *
 * Files in the directory: `<first id, 16 digits>.seg` (a segment; the list of segments is derived
 * from the names) and, while a truncate or trim runs, `intent.json` (what it does,
 * written with write-temp + rename + directory fsync before the first file is touched). Open
 * redoes an intent it finds, so a kill -9 anywhere in truncate or trim ends in either the old state
 * (no intent yet) or the new one (the intent is redone). Segments are removed only at the ends of
 * the list, so no state has a missing middle segment or a gap in ids.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { AOF } from '../aof.js';
import { FileState } from '../file-state.js';
import { AofError, ErrorCode, closed, invalidArg } from '../errors.js';
import {
  validateBoolean,
  validateBytes,
  validateInteger,
  validateObject,
  validatePath,
  validateSafeInteger,
  validateSignal,
} from '../validate.js';
import { Geometry, MAX_FILE_SIZE, MiB } from '../geometry.js';
import { openWhileLocked } from '../lock-wait.js';
import { Manager } from '../manager.js';
import type { Stats } from '../stats.js';
import { FRAME_HEADER, endWrite, frameSize } from './frame.js';
import type { ReaderOptions } from '../reader.js';
import { followLog, type LogReader, type LogRecord } from './log-reader.js';
import { Segment, frameRecovery } from './segment.js';
import { listSegmentIds, segmentName } from './segment-files.js';
import { fsyncPath } from '../durability.js';

export interface LogOptions {
  /** Roll to a new segment once one holds this many bytes (default 64 MiB). */
  segmentSize?: number;
  /** Larger records are refused with ERR_AOF_RECORD_TOO_BIG (default 1 MiB). */
  maxRecordSize?: number;
  /**
   * Make every append durable before it returns (a durable flush on the calling thread; default
   * false). Many concurrent appenders do better with `await log.sync()`, which shares flushes.
   */
  sync?: boolean;
  /** The id of the first record of a new log (default 1). */
  firstId?: number;
}

/** Options of {@link Log.open}. */
export interface LogOpenOptions extends LogOptions {
  /**
   * How long to wait (ms) while another writer holds the log (ERR_AOF_LOCKED): 0 (default) fails
   * at once, Infinity waits until the lock is free or `signal` aborts.
   */
  lockTimeout?: number;
  /** Aborts the wait for the lock (with the signal's reason). */
  signal?: AbortSignal;
}

const INTENT = 'intent.json';

/** Records [from, to) of a batch written as one unit, `bytes` of frames; `roll`: into a new segment. */
interface BatchPart {
  from: number;
  to: number;
  bytes: number;
  roll: boolean;
}

interface Intent {
  op: 'truncate' | 'trim';
  id: number;
}

function checkOptions(options: LogOptions): Required<LogOptions> {
  validateObject(options, 'options');
  const segmentSize = options.segmentSize ?? 64 * MiB;
  validateInteger(segmentSize, 'options.segmentSize', 4096, MAX_FILE_SIZE / 2);
  const maxRecordSize = options.maxRecordSize ?? Math.min(MiB, segmentSize - FRAME_HEADER - 8);
  if (typeof maxRecordSize !== 'number' || !Number.isSafeInteger(maxRecordSize) || maxRecordSize < 0 ||
      frameSize(maxRecordSize) + 8 > segmentSize) {
    throw invalidArg('options.maxRecordSize', `an integer from 0 to ${segmentSize - FRAME_HEADER - 16} (its frame must fit a segment)`, maxRecordSize);
  }
  const sync = options.sync ?? false;
  validateBoolean(sync, 'options.sync');
  const firstId = options.firstId ?? 1;
  validateInteger(firstId, 'options.firstId', 1);
  return { segmentSize, maxRecordSize, sync, firstId };
}

export class Log implements AsyncDisposable {
  readonly #options: Required<LogOptions>;
  readonly #manager: Manager;
  /** The directory; undefined for a log in memory. */
  readonly #dir: string | undefined;
  /** First ids of the segments, ascending; the last one takes appends. */
  #firstIds: number[] = [];
  /** Loaded segments by first id (sealed ones load on first use). */
  readonly #segments = new Map<number, Segment>();
  #active!: Segment;
  /** First id of the log: the first segment's, or past records removed by truncate/trim. */
  #firstId: number;
  readonly #geometry: Geometry;
  #generation = 0;
  /** Resolved (and replaced) once per turn with appends: what tail() waits on. */
  #appended: { promise: Promise<void>; resolve: () => void } | undefined;
  #notifyQueued = false;
  /** Seals in flight (finish + index file): close() waits for them. */
  readonly #sealing = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(dir: string | undefined, options: Required<LogOptions>) {
    this.#dir = dir;
    this.#options = options;
    this.#firstId = options.firstId;
    // Growth in steps of up to 4 MiB; room past segmentSize for the batch that rolls it.
    const step = Math.min(4 * MiB, options.segmentSize);
    const upper = Math.ceil((options.segmentSize * 2) / step) * step;
    this.#geometry = dir === undefined
      ? new Geometry({ sizeNow: upper, sizeUpper: upper, growthStep: upper }).validate()
      : Geometry.create().with(Math.min(MiB, options.segmentSize), upper, step).validate();
    this.#manager = new Manager(dir ?? '/', { flushIntervalMs: dir === undefined ? 0 : 1000 });
  }

  /** Opens (creating it if needed) the log in `dir`: redoes an interrupted truncate/trim, recovers the last segment. */
  static async open(dir: string, options: LogOpenOptions = {}): Promise<Log> {
    validatePath(dir, 'dir', 'a directory path');
    const checked = checkOptions(options);
    return openWhileLocked(async () => {
      const log = new Log(nodePath.resolve(dir), checked);
      try {
        await log.#load();
      } catch (e) {
        await log.#manager.close().catch(() => {});
        throw e;
      }
      return log;
    }, options.lockTimeout, options.signal);
  }

  /** The same API over anonymous memory: nothing on disk, gone once closed. */
  static memory(options: LogOptions = {}): Log {
    const log = new Log(undefined, checkOptions(options));
    log.#startSegment(log.#firstId);
    return log;
  }

  /**
   * Follows the log in `dir` written by another process or worker (or this one): `tail(startId)`
   * yields its records and every one appended after, across segment rolls. Read-only.
   */
  static follow(dir: string, options: ReaderOptions = {}): LogReader {
    return followLog(dir, options);
  }

  /** The counters of the Manager the log writes its segments through (see Manager stats). */
  stats(): Stats {
    return this.#manager.stats();
  }

  /** The id of the first record (after trim or truncate, where the next one would go if empty). */
  get firstId(): number {
    return this.#firstId;
  }

  /** The id of the last record; firstId - 1 when the log is empty. */
  get lastId(): number {
    return this.#active.lastId;
  }

  get isEmpty(): boolean {
    return this.lastId < this.#firstId;
  }

  /**
   * Appends one record (returns its id) or several (returns their ids, consecutive). Several are
   * written as one unit per segment: all of them or none, unless they span a segment roll.
   */
  append(data: Uint8Array): number;
  append(data: readonly Uint8Array[]): number[];
  append(data: Uint8Array | readonly Uint8Array[]): number | number[] {
    this.#checkOpen();
    if (data instanceof Uint8Array) {
      this.#checkSize(data);
      const bytes = frameSize(data.length);
      if (this.#active.size > 0 && this.#active.size + bytes + 8 > this.#options.segmentSize) this.#roll();
      const id = this.#active.appendOne(data);
      this.#afterAppend();
      return id;
    }
    if (!Array.isArray(data)) throw invalidArg('data', 'a Uint8Array or an array of them', data);
    for (let i = 0; i < data.length; i++) {
      validateBytes(data[i], `data[${i}]`);
      this.#checkSize(data[i]!);
    }
    const parts = this.#plan(data);
    // Segments a batch rolls into after its first part are opened before anything is written: a
    // failure there (a full disk) must leave the log as it was, not with half a batch appended.
    const ahead = this.#openAhead(parts);
    const ids: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const { from, to, bytes, roll } = parts[i]!;
      if (roll) this.#roll(i === 0 ? undefined : ahead.shift());
      const first = this.#active.append(data, from, to, bytes);
      for (let id = first; id < first + (to - from); id++) ids.push(id);
    }
    if (data.length > 0) this.#afterAppend();
    return ids;
  }

  /**
   * Splits a batch into writes: as many records as fit the rest of the segment (at least one),
   * then as many as fit a fresh one, and so on. `roll`: the part starts a new segment.
   */
  #plan(data: readonly Uint8Array[]): BatchPart[] {
    const limit = this.#options.segmentSize;
    const parts: BatchPart[] = [];
    let size = this.#active.size;
    let from = 0;
    while (from < data.length) {
      const room = Math.max(limit - size - 8, 0);
      let bytes = 0;
      let to = from;
      while (to < data.length && (to === from || bytes + frameSize(data[to]!.length) <= room)) {
        bytes += frameSize(data[to]!.length);
        to++;
      }
      const roll = size > 0 && size + bytes + 8 > limit;
      parts.push({ from, to, bytes, roll });
      size = (roll ? 0 : size) + bytes;
      from = to;
    }
    return parts;
  }

  /** Opens the segments of the parts after the first that start one; on failure removes them again. */
  #openAhead(parts: readonly BatchPart[]): AOF[] {
    const opened: AOF[] = [];
    try {
      for (let i = 1; i < parts.length; i++) {
        if (parts[i]!.roll) opened.push(this.#openSegment(this.#active.lastId + 1 + parts[i]!.from));
      }
    } catch (e) {
      for (const aof of opened) this.#discard(aof);
      throw e;
    }
    return opened;
  }

  /** Closes a segment opened ahead and never written, and removes its files. */
  #discard(aof: AOF): void {
    aof.close().catch(() => {});
    if (this.#dir === undefined) return;
    this.#removeFiles(aof.name);
  }

  #checkSize(data: Uint8Array): void {
    if (data.length > this.#options.maxRecordSize) {
      throw new AofError(ErrorCode.RECORD_TOO_BIG,
        `a record of ${data.length} bytes is over maxRecordSize (${this.#options.maxRecordSize}); nothing was written`);
    }
  }

  #afterAppend(): void {
    if (this.#options.sync) this.#active.aof.syncSync();
    if (this.#appended && !this.#notifyQueued) {
      this.#notifyQueued = true;
      setImmediate(() => this.#notify());
    }
  }

  #notify(): void {
    this.#notifyQueued = false;
    const waiting = this.#appended;
    this.#appended = undefined;
    waiting?.resolve();
  }

  /** The record `id` (a view, CRC checked). ERR_AOF_NOT_FOUND outside firstId…lastId. */
  get(id: number): Buffer {
    this.#checkOpen();
    validateSafeInteger(id, 'id');
    if (id < this.#firstId || id > this.lastId) {
      throw new AofError(ErrorCode.NOT_FOUND, `record ${String(id)} is not in the log (${this.#firstId}…${this.lastId})`);
    }
    return this.#segmentOf(id).get(id);
  }

  /**
   * The records from `startId` (or the first one after it, when it was trimmed) to the last,
   * including those appended while iterating.
   */
  *iterator(startId: number = this.#firstId): IterableIterator<LogRecord> {
    validateSafeInteger(startId, 'startId');
    this.#checkOpen();
    let id = Math.max(startId, this.#firstId);
    while (id <= this.lastId && !this.#closing) {
      const segment = this.#segmentOf(id);
      // Up to where the next segment starts, not segment.lastId: a sealed segment whose frame
      // headers are damaged holds fewer records than it should, and get() reports the missing ones.
      const next = this.#firstIds[this.#firstIds.indexOf(segment.firstId) + 1];
      const last = Math.min(next === undefined ? segment.lastId : next - 1, this.lastId);
      for (; id <= last; id++) yield { id, data: segment.get(id) };
    }
  }

  /** Like {@link iterator}, then follows new records until the log closes or `signal` aborts. */
  async *tail(startId: number = this.#firstId, options: { signal?: AbortSignal } = {}): AsyncGenerator<LogRecord> {
    validateObject(options, 'options');
    const { signal } = options;
    validateSignal(signal, 'options.signal');
    let next = startId;
    for (;;) {
      signal?.throwIfAborted();
      if (this.#closing) return;
      for (const record of this.iterator(next)) {
        yield record;
        next = record.id + 1;
        signal?.throwIfAborted();
      }
      next = Math.max(next, this.lastId + 1);
      await this.#nextAppend(signal);
    }
  }

  #nextAppend(signal: AbortSignal | undefined): Promise<void> {
    if (!this.#appended) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#appended = { promise, resolve };
    }
    const { promise } = this.#appended;
    if (!signal) return promise;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      // Never rejects: it is resolved by the next append, or never.
      void promise.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /**
   * Makes every appended record durable: waits for segment seals in flight, then a durable flush
   * of the active segment, shared with every other request that comes before it starts.
   */
  async sync(): Promise<void> {
    this.#checkOpen();
    await Promise.all([...this.#sealing]);
    await this.#active.aof.sync();
  }

  /**
   * Removes every record after `lastToKeep`. Before the first record it empties the log; the
   * next id is then still firstId (ids are never reused below it). Crash-safe (see the module
   * comment).
   */
  async truncate(lastToKeep: number): Promise<void> {
    this.#checkOpen();
    validateSafeInteger(lastToKeep, 'lastToKeep');
    const keep = Math.max(lastToKeep, this.#firstId - 1);
    if (keep >= this.lastId) return;
    await this.#withIntent({ op: 'truncate', id: keep }, () => this.#truncate(keep));
  }

  /**
   * A hint: drops whole sealed segments whose records all come at or before `discardUpTo` (the
   * active segment stays). firstId moves to the first record kept.
   */
  async trim(discardUpTo: number): Promise<void> {
    this.#checkOpen();
    validateSafeInteger(discardUpTo, 'discardUpTo');
    if (this.#firstIds.length < 2 || discardUpTo < this.#firstIds[1]! - 1) return;
    await this.#withIntent({ op: 'trim', id: discardUpTo }, () => this.#trim(discardUpTo));
  }

  /** Waits for seals in flight, then closes every segment. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#notify();
      await Promise.allSettled([...this.#sealing]);
      await this.#manager.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(): void {
    if (this.#closing) throw closed('log');
  }

  // --- segments --------------------------------------------------------------------------------

  #path(name: string): string {
    return nodePath.join(this.#dir!, name);
  }

  /** Removes a segment's file and its control block. */
  #removeFiles(name: string): void {
    for (const file of [name, `${name}-shm`]) fs.rmSync(this.#path(file), { force: true });
  }

  async #load(): Promise<void> {
    fs.mkdirSync(this.#dir!, { recursive: true });
    const intent = this.#readIntent();
    this.#firstIds = listSegmentIds(this.#dir!);
    if (this.#firstIds.length === 0) {
      // A truncate that emptied the log got as far as removing every segment: its new first id.
      if (intent?.op === 'truncate') this.#firstId = Math.max(this.#firstId, intent.id + 1);
      this.#startSegment(this.#firstId);
    } else {
      this.#firstId = this.#firstIds[0]!;
      await this.#dropOpenedAhead();
      await this.#sealUnsealed();
      await this.#openLast();
    }
    if (intent) await this.#withIntent(intent, () => (intent.op === 'truncate' ? this.#truncate(intent.id) : this.#trim(intent.id)));
  }

  /**
   * A segment before the last one that is not finished: a crash came between the roll and the end
   * of its seal. Seal it now. After a power loss it may also have lost its last records (the pages
   * written after the last sync; a sync seals it first): the segments after it then continue ids it
   * no longer holds, so they go (newest first, then the directory is synced) and it stays the
   * active one. Nothing that was made durable is in them.
   */
  async #sealUnsealed(): Promise<void> {
    const ids = this.#firstIds;
    for (let i = 0; i < ids.length - 1; i++) {
      const name = segmentName(ids[i]!);
      if ((fs.statSync(this.#path(name)).mode & 0o222) === 0) continue;
      // Opening completes a seal that got as far as the truncate (it only lacked the chmod).
      const aof = this.#manager.open(name, this.#geometry, frameRecovery);
      try {
        if (aof.state === FileState.EOF) continue;
        if (aof.recovery.afterReboot && Segment.active(ids[i]!, aof).lastId < ids[i + 1]! - 1) {
          while (this.#firstIds.length > i + 1) this.#removeFiles(segmentName(this.#firstIds.pop()!));
          this.#syncDir();
          return;
        }
        await aof.finish();
      } finally {
        await aof.close();
      }
    }
  }

  /**
   * A batch that rolls opens its next segments before writing its first part (see append): a
   * crash in between leaves them empty after a segment that is not sealed. They never held a
   * record; the unsealed one goes on as the active segment.
   */
  async #dropOpenedAhead(): Promise<void> {
    while (this.#firstIds.length >= 2) {
      const name = segmentName(this.#firstIds.at(-1)!);
      if ((fs.statSync(this.#path(segmentName(this.#firstIds.at(-2)!))).mode & 0o222) === 0) return;
      const aof = this.#manager.open(name, this.#geometry, frameRecovery);
      const empty = aof.size === 0;
      await aof.close();
      if (!empty) return;
      this.#removeFiles(name);
      this.#firstIds.pop();
    }
  }

  /** Opens the last segment: for appends, or (finished) sealed, with a new one after it. */
  async #openLast(): Promise<void> {
    const firstId = this.#firstIds.at(-1)!;
    const name = segmentName(firstId);
    const aof = this.#manager.open(name, this.#geometry, frameRecovery);
    const segment = Segment.active(firstId, aof);
    if (segment.sealed && segment.count === 0) {
      // Finished with no record (no roll makes one; damage can): the next segment would start at
      // the same id, so this one is replaced by a writable one. Nothing is lost.
      await aof.close();
      this.#removeFiles(name);
      this.#startSegment(firstId);
      return;
    }
    this.#segments.set(firstId, segment);
    this.#active = segment;
    if (segment.sealed) this.#startSegment(segment.lastId + 1);
  }

  /** Creates the segment that starts at `firstId` and makes it the active one. */
  #openSegment(firstId: number): AOF {
    return this.#dir === undefined
      ? this.#manager.openAnonymous(`${segmentName(firstId)}#${this.#generation++}`, this.#geometry.sizeUpper)
      : this.#manager.open(segmentName(firstId), this.#geometry, frameRecovery);
  }

  /** Makes the segment starting at `firstId` the active one (`aof`: already opened for it). */
  #startSegment(firstId: number, aof = this.#openSegment(firstId)): void {
    const segment = Segment.active(firstId, aof);
    if (this.#firstIds.at(-1) !== firstId) this.#firstIds.push(firstId);
    this.#segments.set(firstId, segment);
    this.#active = segment;
  }

  /** Seals the active segment (in the background) and starts the next (`next`: already opened for it). */
  #roll(next?: AOF): void {
    const sealed = this.#active;
    // `sync: true`: the records of this append that went into the segment being sealed are
    // durable when the append returns, not when the seal ends.
    if (this.#options.sync) sealed.aof.syncSync();
    this.#startSegment(sealed.lastId + 1, next);
    const job = sealed.aof.finish().finally(() => this.#sealing.delete(job));
    job.catch(() => {
      // Reported by close()/sync() waiting on it would hide the append that rolled; the next open seals it again.
    });
    this.#sealing.add(job);
  }

  /** The segment holding `id` (loading a sealed one on first use). */
  #segmentOf(id: number): Segment {
    const ids = this.#firstIds;
    let lo = 0;
    let hi = ids.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ids[mid]! <= id) lo = mid;
      else hi = mid - 1;
    }
    const firstId = ids[lo]!;
    return this.#segments.get(firstId) ?? this.#loadSealed(lo);
  }

  #loadSealed(index: number): Segment {
    const firstId = this.#firstIds[index]!;
    const next = this.#firstIds[index + 1];
    // The last segment (after a truncate removed those after it) has no next to count from: scan.
    const count = next === undefined ? -1 : next - firstId;
    const aof = this.#manager.open(segmentName(firstId), Geometry.open(), frameRecovery);
    const segment = Segment.sealed(firstId, aof);
    // (A chain broken by a damaged header is reported by get() of the ids past the break.)
    if (count >= 0 && segment.whole && segment.count !== count) {
      throw new AofError(ErrorCode.CORRUPT_DATA,
        `${aof.path}: holds ${segment.count} records where ${count} belong (ids ${firstId}…${firstId + count - 1})`);
    }
    this.#segments.set(firstId, segment);
    return segment;
  }

  /** Drops a segment from the list and the directory. */
  async #remove(firstId: number): Promise<void> {
    const segment = this.#segments.get(firstId);
    this.#segments.delete(firstId);
    this.#firstIds = this.#firstIds.filter((id) => id !== firstId);
    await segment?.aof.close();
    if (this.#dir === undefined) return;
    const name = segmentName(firstId);
    this.#removeFiles(name);
  }

  async #truncate(keep: number): Promise<void> {
    await Promise.all([...this.#sealing]);
    // Newest first: every state on the way is a prefix of the segments.
    while (this.#firstIds.length > 0 && this.#firstIds.at(-1)! > keep) await this.#remove(this.#firstIds.at(-1)!);
    if (this.#firstIds.length === 0) {
      this.#startSegment(keep + 1);
      this.#firstId = keep + 1;
      return;
    }
    const last = this.#segmentOf(this.#firstIds.at(-1)!);
    if (last.lastId > keep) {
      await this.#rewrite(last, keep);
    } else if (last.sealed) {
      this.#startSegment(last.lastId + 1);
    } else {
      this.#active = last;
    }
    this.#syncDir();
  }

  /** Replaces a segment by one holding only its records up to `keep` (write-temp + rename). */
  async #rewrite(segment: Segment, keep: number): Promise<void> {
    const content = Buffer.from(segment.aof.view(0, segment.endOf(keep)));
    // The record kept last may have been in the middle of a batch: it ends the write now.
    endWrite(content, segment.offsetOf(keep));
    const firstId = segment.firstId;
    const name = segmentName(firstId);
    this.#segments.delete(firstId);
    await segment.aof.close();
    if (this.#dir !== undefined) {
      const tmp = `${name}.tmp`;
      fs.rmSync(this.#path(tmp), { force: true });
      const aof = this.#manager.open(tmp, this.#geometry, frameRecovery);
      aof.write(content);
      aof.syncSync();
      await aof.close();
      fs.rmSync(this.#path(`${tmp}-shm`), { force: true });
      fs.renameSync(this.#path(tmp), this.#path(name));
      this.#syncDir();
      this.#startSegment(firstId);
    } else {
      this.#startSegment(firstId);
      if (content.length > 0) this.#active.aof.write(content);
      this.#active = Segment.active(firstId, this.#active.aof);
      this.#segments.set(firstId, this.#active);
    }
  }

  async #trim(discardUpTo: number): Promise<void> {
    // Oldest first, never the active segment: every state on the way is a suffix of the segments.
    while (this.#firstIds.length > 1 && this.#firstIds[1]! - 1 <= discardUpTo) {
      await this.#remove(this.#firstIds[0]!);
      this.#firstId = this.#firstIds[0]!;
    }
    this.#syncDir();
  }

  // --- intents ---------------------------------------------------------------------------------

  async #withIntent(intent: Intent, run: () => Promise<void>): Promise<void> {
    if (this.#dir === undefined) {
      await run();
      return;
    }
    const path = this.#path(INTENT);
    fs.writeFileSync(`${path}.tmp`, JSON.stringify(intent));
    fsyncPath(`${path}.tmp`);
    fs.renameSync(`${path}.tmp`, path);
    this.#syncDir();
    await run();
    fs.rmSync(path, { force: true });
    this.#syncDir();
  }

  #readIntent(): Intent | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.#path(INTENT), 'utf8');
    } catch {
      return undefined;
    }
    let intent: Intent;
    try {
      intent = JSON.parse(text) as Intent;
    } catch (e) {
      throw new AofError(ErrorCode.CORRUPTED, `${this.#path(INTENT)}: not JSON: ${text.slice(0, 80)}`, { cause: e });
    }
    if (intent === null || typeof intent !== 'object' || (intent.op !== 'truncate' && intent.op !== 'trim') || !Number.isSafeInteger(intent.id)) {
      throw new AofError(ErrorCode.CORRUPTED, `${this.#path(INTENT)}: not an intent this log writes: ${text}`);
    }
    return intent;
  }

  #syncDir(): void {
    if (this.#dir !== undefined) fsyncPath(this.#dir);
  }
}
