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
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import { bootTimeMs, currentBootId } from './boot.js';
import { crc32c } from './checksum.js';
import { ControlState, type ControlBytes, type FileIdentity } from './control-block.js';
import { invalidArg } from './errors.js';
import { native, type NativeRegion } from './native.js';
import { MAGIC_TAIL, RecoveryKind, applyCommitted, type RecoveryFunc, type RecoveryHint, type RecoveryResult } from './recovery.js';
import { now, type StatsRecorder } from './stats.js';

const fsyncAsync = promisify(fs.fsync);
const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);

/** The extended attribute holding a data file's durable slots. */
export const SLOTS_ATTRIBUTE = 'user.mmap-aof.durable';
/** Its layout (docs/format.md, "Durable slots"; native/region.cc merges a new slot into it). */
const HEADER = 8;
const SLOTS_MAGIC = 0x44464f41; // "AOFD"
const SLOTS_VERSION = 1;
const SLOT_SIZE = 48;
const SLOT = { crc: 0, dataCrc: 4, seq: 8, durable: 16, previous: 24, boot: 32 } as const;

/** What a durable slot says: after flush `seq`, in boot `boot`, the content was durable up to `durable`. */
export interface DurableSlot {
  seq: number;
  durable: number;
  /** The durable size before this flush: `dataCrc` covers the content [previous, durable). */
  previous: number;
  dataCrc: number;
  boot: Buffer;
}

/** The slots of the data file `fd` whose own CRC checks out, newest first (their data is not checked here). */
export function readSlots(fd: number, path: string): DurableSlot[] {
  const value = native.getxattr(fd, SLOTS_ATTRIBUTE, path);
  if (!value || value.length < HEADER || value.readUInt32LE(0) !== SLOTS_MAGIC || value.readUInt32LE(4) !== SLOTS_VERSION) return [];
  const found: DurableSlot[] = [];
  for (let at = HEADER; at + SLOT_SIZE <= value.length; at += SLOT_SIZE) {
    const s = value.subarray(at, at + SLOT_SIZE);
    if (s.readUInt32LE(SLOT.crc) !== crc32c(s.subarray(SLOT.dataCrc))) continue;
    const durable = Number(s.readBigUInt64LE(SLOT.durable));
    const previous = Number(s.readBigUInt64LE(SLOT.previous));
    if (previous > durable || durable > Number.MAX_SAFE_INTEGER) continue;
    found.push({
      seq: Number(s.readBigUInt64LE(SLOT.seq)),
      durable,
      previous,
      dataCrc: s.readUInt32LE(SLOT.dataCrc),
      boot: Buffer.from(s.subarray(SLOT.boot, SLOT.boot + 16)),
    });
  }
  return found.sort((a, b) => b.seq - a.seq);
}

/** A new slot, but for its two CRCs (the durable flush computes them off the event loop). */
function newSlot(seq: number, durable: number, previous: number): Buffer {
  const s = Buffer.alloc(SLOT_SIZE);
  s.writeBigUInt64LE(BigInt(seq), SLOT.seq);
  s.writeBigUInt64LE(BigInt(durable), SLOT.durable);
  s.writeBigUInt64LE(BigInt(previous), SLOT.previous);
  currentBootId().copy(s, SLOT.boot);
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
  /** The highest sequence number among the file's slots (0: none): the next flush comes after it. */
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
  const flushedThisBoot = slots[0]?.boot.equals(currentBootId()) ?? false;
  const afterReboot = !flushedThisBoot && fs.fstatSync(fd).mtimeMs < bootTimeMs();
  const hint: RecoveryHint = afterReboot && trusted ? { afterReboot, durable: trusted.durable } : { afterReboot };
  return { hint, trusted, lastSeq: slots.reduce((max, s) => Math.max(max, s.seq), 0) };
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
  return r;
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
 * next one. A synchronous flush (flushSync/syncSync) runs at once (the addon serialises it with
 * the asynchronous one, and each adds its slot to the others').
 */
export class DurableFlusher {
  readonly #t: FlushTarget;
  /** Content bytes known durable. */
  #durable: number;
  #nextSeq: number;
  #running: Flush | undefined;
  #waiting: Waiting | undefined;
  /** False once the filesystem said it keeps no user attributes: flushes without slots. */
  #slots = true;
  /** The directory still needs an fsync for the file's name (once per writer). */
  #namePending = true;

  constructor(target: FlushTarget, context: RecoveryContext, size: number) {
    this.#t = target;
    const trusted = context.trusted;
    this.#durable = trusted !== undefined && trusted.durable <= size ? trusted.durable : 0;
    this.#nextSeq = context.lastSeq + 1;
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
    if (this.#running && this.#running.to >= target) done = this.#running.done;
    else if (!this.#running) done = this.#start().done;
    else done = (this.#waiting ??= waiting()).promise;
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
        if (this.#namePending) this.#syncNameNow();
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
    const slot = this.#slots ? newSlot(this.#nextSeq++, to, from) : null;
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
        if (this.#namePending) await this.#syncName();
      }).then(() => this.#completed(to)),
    };
    this.#running = flush;
    const next = (): void => {
      this.#running = undefined;
      const w = this.#waiting;
      this.#waiting = undefined;
      if (!w) return;
      if (this.#t.size() <= this.#durable) w.resolve();
      else this.#start().done.then(w.resolve, w.reject);
    };
    flush.done.then(next, next);
    return flush;
  }

  #slotted(stored: boolean): void {
    if (!stored) this.#slots = false;
  }

  #completed(to: number): void {
    this.#t.afterFlush();
    if (to > this.#durable) this.#durable = to;
  }

  /**
   * Once per writer, after its first durable flush: an fsync of the directory, so the file's name
   * is as durable as its bytes (a file created, or its creation never synced, could otherwise
   * vanish in a power loss). One more device flush, once per file and writer.
   */
  async #syncName(): Promise<void> {
    const dir = await openAsync(nodePath.dirname(this.#t.path), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await fsyncAsync(dir);
    } finally {
      await closeAsync(dir);
    }
    this.#namePending = false;
  }

  #syncNameNow(): void {
    const dir = fs.openSync(nodePath.dirname(this.#t.path), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    this.#namePending = false;
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
