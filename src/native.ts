/**
 * The one place the compiled addon is loaded. Everything native is behind this typed
 * interface; the rest of the library never touches the binding directly.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const load = require('node-gyp-build') as (dir: string) => unknown;

/** A reserved address range (zero pages until mapped) into which a file or anonymous memory is mapped. */
export interface NativeRegion {
  readonly capacity: number;
  readonly released: boolean;
  /** Pages past the end of a file truncated under us that the SIGBUS guard replaced with zeros. */
  readonly faults: number;
  /** Maps file bytes [offset, offset+length) at the same offset of the range (page multiples). */
  mapFile(fd: number, offset: number, length: number, writable: boolean): void;
  /** Maps shared anonymous memory at [offset, offset+length). */
  mapAnonymous(offset: number, length: number): void;
  /** Detaches [offset, offset+length) from the file: it reads as zeros from now on. */
  zero(offset: number, length: number): void;
  /** An ArrayBuffer over [0, length), no copy; the range stays mapped while it lives. */
  buffer(length: number): ArrayBuffer;
  /** Every page becomes a private zero page: stale views read zeros and never fault. */
  release(): void;
  msync(offset: number, length: number, sync: boolean): void;
  msyncAsync(offset: number, length: number): Promise<void>;
  /**
   * One durable flush of the data file `fd` mapped here (native/region.cc, DurableSync): with a
   * slot (48 bytes), fills in its CRCs (of the data [crcFrom, crcTo) and of the slot) and adds it
   * to the file's slots attribute `name`; then fsync(fd). True when the slot was stored (false: the
   * filesystem keeps no user attributes). One at a time per file, across threads.
   */
  durableSync(fd: number, crcFrom: number, crcTo: number, slot?: Uint8Array | null, name?: string): boolean;
  durableSyncAsync(fd: number, crcFrom: number, crcTo: number, slot?: Uint8Array | null, name?: string): Promise<boolean>;
  advise(offset: number, length: number, advice: number): void;
  populate(offset: number, length: number, write: boolean): 'madvise' | 'touch';
  populateAsync(offset: number, length: number, write: boolean): Promise<'madvise' | 'touch'>;
}

/**
 * A native thread that sleeps in futex(2) on a 32-bit word of a shared mapping and calls back on
 * the JS thread once the word changes (or a timeout passes).
 */
export interface NativeFutexWaiter {
  /**
   * Callbacks whenever the word moves on (from `expected`, then from each value seen), or after
   * `timeoutMs` without a change, until `stop()`. None while one is pending: call `ack()` first
   * thing in the callback, before reading the shared state.
   */
  start(expected: number, timeoutMs: number): void;
  ack(): void;
  /** No more callbacks once the current sleep ends (one may still arrive). */
  stop(): void;
  /** Keep the event loop alive while a callback may come. */
  ref(): void;
  unref(): void;
  /** Stops and joins the thread. Idempotent. */
  close(): void;
}

/** A reader counted as asleep in a shared word while it lives (native/futex.cc). */
export interface NativeSleeperMark {
  /** Takes the count back (once; the finalizer and a worker's teardown do it too). */
  release(): void;
}

export interface NativeBinding {
  FutexWaiter: new (
    bytes: Uint8Array, seqOffset: number, waitersOffset: number, callback: (changed: boolean) => void,
  ) => NativeFutexWaiter;
  /** Adds one to the u32 word at `byteOffset` of `bytes` until released. */
  SleeperMark: new (bytes: Uint8Array, byteOffset: number) => NativeSleeperMark;
  /** Wakes every sleeper on the word (any process); returns how many woke. */
  futexWake(bytes: Uint8Array, byteOffset: number): number;
  /**
   * Counts this thread in the waiters word, blocks it while the sequence word holds `expected`
   * (at most `timeoutNs`), takes the count back: true when the word moved or a wake came, false
   * on timeout.
   */
  futexNap(bytes: Uint8Array, seqOffset: number, waitersOffset: number, expected: number, timeoutNs: number): boolean;
  /** True when `fd` is the write end of a pipe or socket whose reader went away (poll, no wait). */
  writeEndClosed(fd: number): boolean;
  /** Sets this thread's timer slack (ns); returns the previous one. */
  setTimerSlack(ns: number): number;
  Region: new (capacity: number, path: string) => NativeRegion;
  pageSize: number;
  /** The largest ArrayBuffer the addon hands out (the largest V8 accepts on Node 20). */
  maxBuffer: number;
  /**
   * One word: pages the SIGBUS guard replaced with zeros in the whole process (accesses past the
   * end of a file another process truncated). Zero in a healthy process, so a hot path can check
   * it with a load before asking a region.
   */
  guardFaults: Uint32Array;
  fallocate(fd: number, offset: number, length: number, path: string): void;
  /** fallocate on a thread-pool thread. The caller keeps `fd` open until it settles. */
  fallocateAsync(fd: number, offset: number, length: number, path: string): Promise<void>;
  flock(fd: number, operation: number, path: string): boolean;
  /** An extended attribute of the open file `fd`, or null when it has none of that name (or no attributes at all). */
  getxattr(fd: number, name: string, path: string): Buffer | null;
  setxattr(fd: number, name: string, value: Uint8Array, path: string): void;
  atomicLoad64(bytes: Uint8Array, byteOffset: number): number;
  atomicStore64(bytes: Uint8Array, byteOffset: number, value: number): void;
  crc32c(bytes: Uint8Array, previous?: number, software?: boolean): number;
  /** CRC-32C of bytes[offset, offset+length). */
  crc32cRange(bytes: Uint8Array, offset: number, length: number): number;
  /** Where the run of valid record log frames from `from` ends (see src/log/frame.ts). */
  checkFrames(bytes: Uint8Array, from: number, end: number, firstIndex: number): number;
  /** Writes the frame of `data` at `at` (header, payload, zero padding, CRC); returns its size (native/frames.cc). */
  putFrame(buf: Uint8Array, at: number, index: number, data: Uint8Array, type: number): number;
  /**
   * Stores the CRC of every frame in [from, end) (headers, payloads and padding written by JS):
   * a batch's CRCs in one call. Returns how many frames.
   */
  sealFrames(buf: Uint8Array, from: number, end: number): number;
  /**
   * Offsets of consecutive frames from `from` by their headers alone (no CRC), into
   * offsets[offsetsAt …] until the chain breaks, `end` or the array's end; returns how many.
   */
  chainFrames(buf: Uint8Array, from: number, end: number, firstIndex: number, offsets: Uint32Array, offsetsAt: number): number;
  crc32cHardware: boolean;
  constants: {
    LOCK_SH: number;
    LOCK_EX: number;
    LOCK_NB: number;
    LOCK_UN: number;
    MADV_NORMAL: number;
    MADV_SEQUENTIAL: number;
    MADV_WILLNEED: number;
    MADV_DONTNEED: number;
  };
}

/** The package root: the addon lives in build/Release or prebuilds/ next to src/ and dist/. */
const root = fileURLToPath(new URL('..', import.meta.url));

export const native = load(root) as NativeBinding;
