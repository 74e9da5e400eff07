/**
 * The control block: one page next to the data file (`<path>-shm`, like SQLite's wal-index),
 * mapped shared by the writer and every reader, in any process or worker. It carries what a
 * reader cannot learn cheaply from the data file: the committed size, the published size, the
 * file state, the writer's pid and a futex word readers sleep on.
 *
 * It is a hint, never the source of truth. The header names the data file (device, inode) and
 * the boot it was written in; when it is missing, names another file, comes from before a reboot
 * or is garbage, readers and writers rebuild it from the data file by recovery. The data file's
 * format is untouched (docs/format.md: byte-compatible with the Go `aof`).
 *
 * Layout (little-endian, 4096 bytes, the rest zero):
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 8 | magic `AOF-SHM\x01` |
 * | 8 | 4 | version (1) |
 * | 12 | 4 | crc32c of bytes 16..64 |
 * | 16 | 8 | st_dev of the data file |
 * | 24 | 8 | st_ino of the data file |
 * | 32 | 16 | boot id (`/proc/sys/kernel/random/boot_id`) |
 * | 48 | 4 | writer pid (0: none known) |
 * | 52 | 4 | reserved |
 * | 56 | 8 | writer start time, ms since the epoch |
 * | 64 | 8 | committed size: stored after every write (plain store) |
 * | 72 | 8 | published size: stored (Atomics) when a run of writes ends |
 * | 80 | 4 | state (see {@link ControlState}) |
 * | 84 | 4 | wake sequence: +1 per publish; the futex word |
 * | 88 | 4 | waiters: readers sleeping on the futex word |
 * | 92 | 4 | doorbell sleepers: readers waiting for the doorbell (an inotify watch on this file) |
 * | 96 | 1 | the doorbell: the writer rewrites this zero byte with pwrite(2), which inotify reports |
 *
 * Nothing in it outlives a reboot: what a power loss leaves durable is recorded on the data file
 * itself (src/durability.ts).
 */
import * as fs from 'node:fs';
import { currentBootId } from './boot.js';
import { crc32c } from './checksum.js';
import { ErrorCode } from './errors.js';
import { native, type NativeRegion, type NativeSleeperMark } from './native.js';
import { hasSystemCode, systemErrorCode } from './system-errors.js';

export const CONTROL_SUFFIX = '-shm';
export const CONTROL_SIZE = 4096;

const MAGIC = Buffer.from('AOF-SHM\x01', 'latin1');
const VERSION = 1;
const OFF = {
  version: 8,
  crc: 12,
  dev: 16,
  ino: 24,
  boot: 32,
  pid: 48,
  started: 56,
  committed: 64,
  published: 72,
  state: 80,
  seq: 84,
  waiters: 88,
  doorbells: 92,
  doorbell: 96,
} as const;
const ZERO_BYTE = Buffer.alloc(1);

const CRC_FROM = 16;
const CRC_TO = 64;

/** Index of the committed size's low 32 bits in a Uint32Array over the block (the writer's per-write store). */
export const COMMITTED_WORD = OFF.committed / 4;
const PUBLISHED_WORD = OFF.published / 4;

/** What the writer side says about the file. */
export const ControlState = {
  /** Nobody has written through this block (a reader rebuilt it). */
  None: 0,
  /** A writer has the file open. If its pid is dead, it crashed: the committed size is its last write. */
  Writing: 1,
  /** The writer closed the file cleanly (not finished); another may open it. */
  Closed: 2,
  /** The file is finished: the published size is final. */
  Finished: 3,
} as const;
export type ControlState = (typeof ControlState)[keyof typeof ControlState];

/** The data file a control block belongs to. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

export function identityOf(fd: number): FileIdentity {
  const st = fs.fstatSync(fd, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

/** True when `path` names the file `id` (not deleted, not replaced by another file). */
export function pathNames(path: string, id: FileIdentity): boolean {
  try {
    const st = fs.statSync(path, { bigint: true });
    return st.ino === id.ino && st.dev === id.dev;
  } catch {
    return false;
  }
}

export function controlPath(dataPath: string): string {
  return dataPath + CONTROL_SUFFIX;
}

export interface ControlOpenOptions {
  /** Create the file when it is missing (default true). */
  create?: boolean;
  /** File mode when created (the umask does not apply). */
  mode?: number;
}

/** Why a control block does not describe a data file in this boot (undefined: it does). */
export type ControlProblem = 'not a control block' | 'header checksum mismatch' | 'names another file' | 'written before this boot';

/**
 * Reading a control block's bytes: over the shared mapping ({@link ControlBlock}), or over a copy
 * read with read(2) (`aof inspect`, which maps and locks nothing): the header check and the fields.
 */
export class ControlBytes {
  /** The block's bytes (4096, or as many as were read). */
  readonly bytes: Buffer;
  /** Over the block: the writer stores the committed size into [COMMITTED_WORD]. */
  readonly words: Uint32Array;
  protected readonly i32: Int32Array;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
    this.words = new Uint32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
    this.i32 = new Int32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 4));
  }

  /**
   * Why the header does not describe the data file `data` in this boot, or undefined when it does.
   * A block of another boot names the same inode (the device number may change across boots).
   */
  problem(data: FileIdentity): ControlProblem | undefined {
    const b = this.bytes;
    if (b.length < CONTROL_SIZE || !b.subarray(0, 8).equals(MAGIC) || b.readUInt32LE(OFF.version) !== VERSION) {
      return 'not a control block';
    }
    if (b.readUInt32LE(OFF.crc) !== crc32c(b.subarray(CRC_FROM, CRC_TO))) return 'header checksum mismatch';
    if (b.readBigUInt64LE(OFF.ino) !== data.ino) return 'names another file';
    if (!b.subarray(OFF.boot, OFF.boot + 16).equals(currentBootId())) return 'written before this boot';
    if (b.readBigUInt64LE(OFF.dev) !== data.dev) return 'names another file';
    return undefined;
  }

  /** True when the header is whole and describes `data` in this boot. */
  describes(data: FileIdentity): boolean {
    return this.problem(data) === undefined;
  }

  get pid(): number {
    return this.bytes.readUInt32LE(OFF.pid);
  }

  get state(): ControlState {
    return Atomics.load(this.i32, OFF.state / 4) as ControlState;
  }

  /** The writer's last committed size (exact after a crash; only the writer stores it). */
  get committed(): number {
    return this.words[COMMITTED_WORD]! + this.words[COMMITTED_WORD + 1]! * 2 ** 32;
  }

  /**
   * The size readers may read up to. Loaded (like it is stored) with Atomics, so every byte the
   * writer wrote before publishing it is visible. The high word is always 0: a file is at most
   * 4 GiB (MAX_FILE_SIZE), so its content is below 2^32.
   */
  get published(): number {
    return Atomics.load(this.words, PUBLISHED_WORD) + Atomics.load(this.words, PUBLISHED_WORD + 1) * 2 ** 32;
  }

  /** The futex word: changes on every publish. */
  get seq(): number {
    return Atomics.load(this.i32, OFF.seq / 4) >>> 0;
  }
}

export class ControlBlock extends ControlBytes {
  readonly path: string;
  readonly #fd: number;
  readonly #region: NativeRegion;
  /** False when only read access was possible: no rebuild, no waiters count (readers poll). */
  readonly writable: boolean;
  /** The control file's own identity, to notice it being deleted or replaced. */
  readonly identity: FileIdentity;
  #closed = false;

  private constructor(path: string, fd: number, writable: boolean, region: NativeRegion, bytes: Buffer) {
    super(bytes);
    this.path = path;
    this.#fd = fd;
    this.writable = writable;
    this.identity = identityOf(fd);
    this.#region = region;
  }

  /** Maps the block's page shared (writable when allowed). */
  static #map(path: string, fd: number, writable: boolean): ControlBlock {
    const region = new native.Region(CONTROL_SIZE, path);
    let bytes: Buffer;
    try {
      region.mapFile(fd, 0, CONTROL_SIZE, writable);
      bytes = Buffer.from(region.buffer(CONTROL_SIZE));
    } catch (e) {
      region.release();
      throw e;
    }
    return new ControlBlock(path, fd, writable, region, bytes);
  }

  /**
   * Opens (by default creating) the control block of `dataPath`, read-write when allowed, else
   * read-only. Undefined when it does not exist and cannot be created, or is too short to map
   * read-only.
   */
  static open(dataPath: string, options: ControlOpenOptions = {}): ControlBlock | undefined {
    const path = controlPath(dataPath);
    const { O_RDWR, O_RDONLY, O_CREAT } = fs.constants;
    let fd: number;
    let writable = true;
    try {
      fd = fs.openSync(path, (options.create ?? true) ? O_RDWR | O_CREAT : O_RDWR, options.mode ?? 0o644);
    } catch (e) {
      // Not ours to write, or not there to open for writing: read it if it is there.
      const code = systemErrorCode(e, 'write');
      if (code !== ErrorCode.READ_ONLY && code !== ErrorCode.NOT_FOUND) throw e;
      try {
        fd = fs.openSync(path, O_RDONLY);
      } catch {
        return undefined;
      }
      writable = false;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < CONTROL_SIZE) {
        if (!writable) {
          fs.closeSync(fd);
          return undefined;
        }
        if (size === 0 && options.mode !== undefined) fs.fchmodSync(fd, options.mode);
        // Blocks reserved, not a sparse page: a store into a hole on a full disk would be SIGBUS.
        try {
          native.fallocate(fd, 0, CONTROL_SIZE, path);
        } catch (e) {
          if (!hasSystemCode(e, 'EOPNOTSUPP')) throw e;
          fs.ftruncateSync(fd, CONTROL_SIZE);
        }
      }
      return ControlBlock.#map(path, fd, writable);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Serialises initialisation and rebuilds between processes (held for microseconds). */
  lock(): void {
    native.flock(this.#fd, native.constants.LOCK_EX, this.path);
  }

  unlock(): void {
    native.flock(this.#fd, native.constants.LOCK_UN, this.path);
  }

  /**
   * Rewrites the header for `data` and sets both sizes and the state, then wakes every reader.
   * Callers hold {@link lock}. The magic goes last, so a reader never trusts a half-written header.
   */
  reset(data: FileIdentity, state: ControlState, size: number, pid: number): void {
    const b = this.bytes;
    b.fill(0, 0, 8);
    b.writeUInt32LE(VERSION, OFF.version);
    b.writeBigUInt64LE(data.dev, OFF.dev);
    b.writeBigUInt64LE(data.ino, OFF.ino);
    currentBootId().copy(b, OFF.boot);
    b.writeUInt32LE(pid, OFF.pid);
    b.writeBigUInt64LE(BigInt(pid === 0 ? 0 : Date.now()), OFF.started);
    b.writeUInt32LE(crc32c(b.subarray(CRC_FROM, CRC_TO)), OFF.crc);
    this.words[COMMITTED_WORD] = size;
    this.words[COMMITTED_WORD + 1] = 0;
    this.words[PUBLISHED_WORD + 1] = 0;
    Atomics.store(this.i32, OFF.state / 4, state);
    this.publish(size);
    MAGIC.copy(b, 0);
  }

  /** An Int32Array over the block, for spinning on the sequence word with Atomics.load. */
  get seqView(): { array: Int32Array; index: number } {
    return { array: this.i32, index: OFF.seq / 4 };
  }

  static readonly SEQ_OFFSET = OFF.seq;
  static readonly WAITERS_OFFSET = OFF.waiters;

  /**
   * Counts a reader as waiting for the doorbell until the mark is released: the writer rings it
   * (one pwrite) at most once per turn while any reader waits. A reader that cannot write the
   * block cannot be counted: undefined (it polls).
   */
  markDoorbellSleeper(): NativeSleeperMark | undefined {
    return this.writable ? new native.SleeperMark(this.bytes, OFF.doorbells) : undefined;
  }

  /**
   * Makes `size` visible to readers and bumps the sequence word. Returns true when a reader sleeps
   * on it: then {@link wake} is needed (a syscall, so the caller decides when).
   */
  publishSize(size: number): boolean {
    Atomics.store(this.words, PUBLISHED_WORD, size);
    Atomics.add(this.words, OFF.seq / 4, 1);
    return Atomics.load(this.words, OFF.waiters / 4) !== 0 || Atomics.load(this.words, OFF.doorbells / 4) !== 0;
  }

  /**
   * Wakes every waiting reader, in any process: those asleep on the futex word (a futex wake) and
   * those waiting for the doorbell (a one-byte pwrite of this file, which inotify delivers to
   * their event loops). Each only when some reader waits that way.
   */
  wake(): void {
    if (Atomics.load(this.words, OFF.waiters / 4) !== 0) native.futexWake(this.bytes, OFF.seq);
    if (Atomics.load(this.words, OFF.doorbells / 4) !== 0) {
      try {
        fs.writeSync(this.#fd, ZERO_BYTE, 0, 1, OFF.doorbell);
      } catch {
        // The block's file is gone or full: readers notice within a second (maintain) anyway.
      }
    }
  }

  /** {@link publishSize} and, when a reader sleeps, {@link wake}. */
  publish(size: number): void {
    if (this.publishSize(size)) this.wake();
  }

  /** Sets the state, then publishes `size` (a reader that sees the state sees the size). */
  setState(state: ControlState, size: number): void {
    Atomics.store(this.words, PUBLISHED_WORD, size);
    Atomics.store(this.i32, OFF.state / 4, state);
    this.publish(size);
  }

  /** True when the path still names this control block (not deleted or replaced). */
  isCurrent(): boolean {
    return pathNames(this.path, this.identity);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Unmaps (stale views read zeros) and closes the descriptor. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#region.release();
    } finally {
      fs.closeSync(this.#fd);
    }
  }
}
