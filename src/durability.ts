/**
 * What is durable, how to make more of it so, and what recovery may trust after a power loss.
 *
 * A durable flush is one fsync of the data file (every page written through the mapping goes to
 * the disk, then one device flush) that also stores a durable slot in an extended attribute of
 * the file (`user.mmap-aof.durable`): the size it made durable, the size durable before it, the
 * CRC-32C of the bytes in between and this boot's id. The attribute is committed in the same
 * journal transaction as the fsync: no second device flush. Requests share flushes (group
 * commit): a request waits for the first flush that starts after its bytes were written, and one
 * flush answers every request that came before it started.
 *
 * After a reboot (a power loss, a kernel crash) the disk holds every byte a durable flush covered
 * and, past it, any subset of the pages written since, in any order, some of them torn. Recovery
 * trusts the newest slot whose CRC matches the bytes on disk (the attribute may have reached the
 * disk before the data it vouches for, so the CRC decides): everything before its size is exactly
 * what was written. A raw AOF is cut back to it; a record log keeps the frames that check out past
 * it (src/log/segment.ts). The slots live on the data file itself, so they outlive the control
 * block (`-shm`) and travel with the file. The machine rebooted since the file was last written
 * when the file was last modified before this boot and its newest slot (if any) is another boot's.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { bootTimeMs, currentBootId } from './boot.js';
import { crc32c } from './checksum.js';
import { ControlState, type ControlBytes, type FileIdentity } from './control-block.js';
import { invalidArg } from './errors.js';
import { native, type NativeRegion } from './native.js';
import { MAGIC_TAIL, RecoveryKind, applyCommitted, type RecoveryFunc, type RecoveryHint, type RecoveryResult } from './recovery.js';
import { now, type StatsRecorder } from './stats.js';

/**
 * Published after every step that made something durable: `{ path, kind }`, `kind` `'file'` (the
 * file's bytes, size and attributes: an fsync) or `'directory'` (its entries: an fsync of the
 * directory). For tracing, and for the power-loss simulator of the tests, which builds the disk
 * images a power cut can leave from what was durable when.
 */
export const durableChannel = diagnosticsChannel.channel('mmap-aof:durable');

export interface DurableEvent {
  path: string;
  kind: 'file' | 'directory';
}

/** Publishes a {@link DurableEvent} (when anyone listens). */
export function reportDurable(path: string, kind: DurableEvent['kind']): void {
  if (durableChannel.hasSubscribers) durableChannel.publish({ path, kind } satisfies DurableEvent);
}

/** fsync of the file or directory at `path` (a directory: its entries become durable), reported. */
export function fsyncPath(path: string): void {
  const fd = fs.openSync(path, fs.constants.O_RDONLY);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  reportDurable(path, fs.statSync(path).isDirectory() ? 'directory' : 'file');
}


/** The extended attribute holding a data file's durable slots. */
export const SLOTS_ATTRIBUTE = 'user.mmap-aof.durable';
/** Its layout (docs/format.md, "Durable slots"; native/region.cc merges a new slot into it). */
const HEADER = 4;
const SLOTS_MAGIC = 0x32444f41; // "AOD2"
const SLOT_SIZE = 24;
const SLOT = { crc: 0, dataCrc: 4, seq: 8, durable: 12, previous: 16, boot: 20 } as const;

/** What a durable slot says: after flush `seq`, in boot `boot`, the content was durable up to `durable`. */
export interface DurableSlot {
  /** Wrapping (u32): compare with {@link newer}. */
  seq: number;
  durable: number;
  /** The durable size before this flush: `dataCrc` covers the content [previous, durable). */
  previous: number;
  dataCrc: number;
  /** The first 4 bytes of the boot id of the flush. */
  boot: number;
}

/** True when sequence number `a` is newer than `b` (they wrap at 2^32: serial arithmetic). */
function newer(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** This boot, as a slot names it. */
function bootTag(): number {
  return currentBootId().readUInt32LE(0);
}

/** The slots of the data file `fd` whose own CRC checks out, newest first (their data is not checked here). */
export function readSlots(fd: number, path: string): DurableSlot[] {
  const value = native.getxattr(fd, SLOTS_ATTRIBUTE, path);
  if (!value || value.length < HEADER || value.readUInt32LE(0) !== SLOTS_MAGIC) return [];
  const found: DurableSlot[] = [];
  for (let at = HEADER; at + SLOT_SIZE <= value.length; at += SLOT_SIZE) {
    const s = value.subarray(at, at + SLOT_SIZE);
    if (s.readUInt32LE(SLOT.crc) !== crc32c(s.subarray(SLOT.dataCrc))) continue;
    const durable = s.readUInt32LE(SLOT.durable);
    const previous = s.readUInt32LE(SLOT.previous);
    if (previous > durable) continue;
    found.push({
      seq: s.readUInt32LE(SLOT.seq),
      durable,
      previous,
      dataCrc: s.readUInt32LE(SLOT.dataCrc),
      boot: s.readUInt32LE(SLOT.boot),
    });
  }
  return found.sort((a, b) => (newer(a.seq, b.seq) ? -1 : newer(b.seq, a.seq) ? 1 : 0));
}

/** A new slot, but for its two CRCs (the durable flush computes them off the event loop). */
function newSlot(seq: number, durable: number, previous: number): Buffer {
  const s = Buffer.alloc(SLOT_SIZE);
  s.writeUInt32LE(seq >>> 0, SLOT.seq);
  s.writeUInt32LE(durable, SLOT.durable);
  s.writeUInt32LE(previous, SLOT.previous);
  s.writeUInt32LE(bootTag(), SLOT.boot);
  return s;
}

/** True when the CRC of slot `s` matches `data[previous, durable)`. */
export function slotChecksOut(s: DurableSlot, data: Uint8Array, fileSize: number): boolean {
  return s.durable <= fileSize && s.durable <= data.length && crc32c(data.subarray(s.previous, s.durable)) === s.dataCrc;
}

export interface RecoveryContext {
  hint: RecoveryHint;
  /** The newest slot whose data checks out: its size is durable and its bytes are in the file. */
  trusted: DurableSlot | undefined;
  /** The newest sequence number among the file's slots (0: none): the next flush comes after it. */
  lastSeq: number;
}

/**
 * What recovery of the data file `fd` (bytes `data[0, fileSize)`) may rely on besides its bytes:
 * whether the machine rebooted since it was last written, and the newest durable slot that checks
 * out against the bytes.
 */
export function recoveryContext(fd: number, path: string, data: Uint8Array, fileSize: number): RecoveryContext {
  const slots = readSlots(fd, path);
  const trusted = slots.find((s) => slotChecksOut(s, data, fileSize));
  const flushedThisBoot = slots[0]?.boot === bootTag();
  const afterReboot = !flushedThisBoot && fs.fstatSync(fd).mtimeMs < bootTimeMs();
  const hint: RecoveryHint = afterReboot && trusted ? { afterReboot, durable: trusted.durable } : { afterReboot };
  return { hint, trusted, lastSeq: slots[0]?.seq ?? 0 };
}

/**
 * What opening a file for writing recovers, as `Manager.open` does it (and `aof inspect` predicts
 * it): `recovery` over the bytes with the hint of `context`; then, when the control block says a
 * writer of this boot died with the file open, its committed size repairs a torn tail. A recovery
 * function that throws or answers something that is not a result counts as Panic.
 */
export function recoverAtOpen(
  recovery: RecoveryFunc,
  fileSize: number,
  data: Uint8Array,
  context: RecoveryContext,
  control: ControlBytes | undefined,
  identity: FileIdentity,
): RecoveryResult {
  let r: RecoveryResult;
  try {
    r = recovery(fileSize, data, MAGIC_TAIL, context.hint);
  } catch (e) {
    // A caller's recovery function that throws is a Panic, the same as one inside recoverWithMagic.
    const error = e instanceof Error ? e : new Error(String(e));
    r = { kind: RecoveryKind.Panic, tail: 0, checkpoint: -1, end: 0, fileSize, error };
  }
  // So is one that returns something else than a RecoveryResult: an unknown kind must not cut the file.
  if (r === null || typeof r !== 'object' || !Object.values(RecoveryKind).includes(r.kind)) {
    const error = invalidArg('recovery result', 'an object with a RecoveryKind as kind', r);
    r = { kind: RecoveryKind.Panic, tail: 0, checkpoint: -1, end: 0, fileSize, error };
  }
  // A writer that died with the file open left its last committed size: a torn write after it
  // rolls back to there, not to the last checkpoint.
  if (control?.describes(identity) && control.state === ControlState.Writing) r = applyCommitted(r, control.committed, data);
  return context.hint.afterReboot ? { ...r, afterReboot: true } : r;
}

/** What a {@link DurableFlusher} needs of its file. */
export interface FlushTarget {
  readonly region: NativeRegion;
  readonly fd: number;
  readonly path: string;
  readonly stats: StatsRecorder;
  /** The content size now: a flush covers it. */
  size(): number;
  /** Called after every completed flush, before its requests resolve (the writer checks for a file truncated under it). */
  afterFlush(): void;
}

interface Flush {
  /** The content size it makes durable. */
  to: number;
  done: Promise<void>;
}

interface Waiting {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Durable flushes of one writer's file, with group commit. At most one asynchronous flush runs at
 * a time; requests that come while it runs and need more than it covers wait together for the
 * next one. A flush starts from a microtask, not from the request: the callers that resume in the
 * same turn (all those the last flush answered, say) write and ask first, and ride it too. A
 * synchronous flush (flushSync/syncSync) runs at once (the addon serialises it with the
 * asynchronous one, and each adds its slot to the other's).
 */
export class DurableFlusher {
  readonly #t: FlushTarget;
  /** Content bytes known durable. */
  #durable: number;
  #nextSeq: number;
  #running: Flush | undefined;
  /** The requests the next flush answers. */
  #waiting: Waiting | undefined;
  /** A microtask will start the next flush. */
  #kickQueued = false;
  readonly #kick = (): void => {
    this.#kickQueued = false;
    const w = this.#waiting;
    if (!w || this.#running) return; // a running flush kicks again when it ends
    this.#waiting = undefined;
    if (this.#t.size() <= this.#durable) w.resolve();
    else this.#start().done.then(w.resolve, w.reject);
  };
  /** False once the filesystem said it keeps no user attributes: flushes without slots. */
  #slots = true;

  constructor(target: FlushTarget, context: RecoveryContext, size: number) {
    this.#t = target;
    const trusted = context.trusted;
    this.#durable = trusted !== undefined && trusted.durable <= size ? trusted.durable : 0;
    this.#nextSeq = (context.lastSeq + 1) >>> 0;
  }

  /** Content bytes known durable. */
  get durable(): number {
    return this.#durable;
  }

  /** True when the content size is past what is durable or being made so. */
  get behind(): boolean {
    return this.#t.size() > Math.max(this.#durable, this.#running?.to ?? 0);
  }

  /**
   * Settles once every byte written before the call is durable (group commit). A request with
   * something to wait for counts in `syncs` (the time it waited); each flush in `flushes`.
   */
  request(): Promise<void> {
    const target = this.#t.size();
    if (target <= this.#durable) return Promise.resolve();
    const stats = this.#t.stats;
    const start = now();
    let done: Promise<void>;
    if (this.#running && this.#running.to >= target) {
      done = this.#running.done;
    } else {
      done = (this.#waiting ??= waiting()).promise;
      this.#queueKick();
    }
    return done.then(() => stats.time('syncs', start), (e: unknown) => {
      stats.counts.syncErrors++;
      throw e;
    });
  }

  /** Makes every byte written so far durable on the calling thread: one flush, counted as {@link request}'s. */
  now(): void {
    if (this.#t.size() <= this.#durable) return;
    const stats = this.#t.stats;
    const start = now();
    try {
      const [to, args] = this.#prepare();
      try {
        this.#slotted(this.#t.region.durableSync(...args));
      } catch (e) {
        stats.counts.flushErrors++;
        throw e;
      }
      stats.time('flushes', start);
      this.#completed(to);
    } catch (e) {
      stats.counts.syncErrors++;
      throw e;
    }
    stats.time('syncs', start);
  }

  /** The next flush: the size it covers and the arguments of durableSync. */
  #prepare(): [number, Parameters<NativeRegion['durableSync']>] {
    const t = this.#t;
    const to = t.size();
    const from = this.#durable;
    const slot = this.#slots ? newSlot(this.#nextSeq, to, from) : null;
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    return [to, [t.fd, from, to, slot, SLOTS_ATTRIBUTE]];
  }

  #start(): Flush {
    let to: number;
    let args: Parameters<NativeRegion['durableSync']>;
    try {
      [to, args] = this.#prepare();
    } catch (e) {
      return { to: 0, done: Promise.reject(e) };
    }
    const flush: Flush = {
      to,
      done: this.#t.stats.timed('flushes', 'flushErrors', async () => {
        this.#slotted(await this.#t.region.durableSyncAsync(...args));
      }).then(() => this.#completed(to)),
    };
    this.#running = flush;
    const next = (): void => {
      this.#running = undefined;
      if (this.#waiting) this.#queueKick();
    };
    flush.done.then(next, next);
    return flush;
  }

  #queueKick(): void {
    if (this.#kickQueued) return;
    this.#kickQueued = true;
    queueMicrotask(this.#kick);
  }

  #slotted(stored: boolean): void {
    if (!stored) this.#slots = false;
  }

  #completed(to: number): void {
    reportDurable(this.#t.path, 'file');
    this.#t.afterFlush();
    if (to > this.#durable) this.#durable = to;
  }

  /**
   * For a file this writer created: its first slot (nothing durable yet), then its name. From
   * then on recovery after a power loss finds the file marked as one whose durable size is
   * recorded, and keeps no byte no flush proved: without a slot it could only trust the bytes (as
   * for a file another program wrote). Two device flushes, once per file.
   */
  created(): void {
    this.#slotted(this.#t.region.durableSync(this.#t.fd, 0, 0, newSlot(this.#nextSeq, 0, 0), SLOTS_ATTRIBUTE));
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    reportDurable(this.#t.path, 'file');
    fsyncPath(nodePath.dirname(this.#t.path));
  }
}

function waiting(): Waiting {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
