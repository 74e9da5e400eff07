/**
 * Recovery of an AOF file from its bytes alone (the rules of docs/format.md, compatible with the Go
 * `aof` package): the last non-zero byte decides. A tail magic there means the file ends cleanly;
 * a checkpoint marker there means it was finished (or checkpointed last); anything else is a torn
 * write, rolled back to the last checkpoint marker.
 */
import { invalidArg } from './errors.js';
import { validateBytes, validateInteger } from './validate.js';

/** 8 bytes that stand right after the content after every write (not content). */
export const MAGIC_TAIL = 4727544184288126122n;
/** 8 bytes that `checkpoint()` appends as content; also the final marker of a finished file. */
export const MAGIC_CHECKPOINT = 17904250147343162156n;

function leBytes(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return b;
}

/** Little-endian bytes of {@link MAGIC_TAIL}: `aa 24 75 54 63 9c 9b 41`. */
export const MAGIC_TAIL_BYTES: Readonly<Buffer> = leBytes(MAGIC_TAIL);
/** Little-endian bytes of {@link MAGIC_CHECKPOINT}: `2c db 1f f2 a5 ac 78 f8`. */
export const MAGIC_CHECKPOINT_BYTES: Readonly<Buffer> = leBytes(MAGIC_CHECKPOINT);

export const RecoveryKind = { Empty: 0, Corrupted: 1, Tail: 2, Checkpoint: 3, Panic: 4 } as const;
export type RecoveryKind = (typeof RecoveryKind)[keyof typeof RecoveryKind];

export interface RecoveryResult {
  kind: RecoveryKind;
  /** Content size to reopen at (see docs/format.md per kind). */
  tail: number;
  /** Offset of the checkpoint marker that decided, or of the last one before the tail; -1 if none. */
  checkpoint: number;
  /** One past the last non-zero byte (L + 1); 0 when every byte is zero. */
  end: number;
  /** The file size recovery was asked about. */
  fileSize: number;
  /** Why, for Corrupted and Panic. */
  error?: Error;
  /**
   * True when the tail came from the writer's committed size in the control block (a torn write
   * rolled back to the last write that returned) rather than from the bytes alone.
   */
  fromControlBlock?: boolean;
  /**
   * True when the machine rebooted (a power loss, a kernel crash) since the file was last written
   * and the content was cut back to what its last durable flush proved (`RecoveryHint.durable`).
   */
  fromDurable?: boolean;
  /** True when the machine rebooted since the file was last written (set by the open that recovered it). */
  afterReboot?: boolean;
}

/**
 * What the opener knows of the file's history, beyond its bytes (src/durability.ts finds it).
 * After a process crash the page cache kept every write, so the bytes are what was written. After
 * a reboot (a power loss, a kernel crash) they are what reached the disk: every byte a durable
 * flush covered, and past it any subset of the pages written since, in any order.
 */
export interface RecoveryHint {
  /** The machine rebooted since the file was last written. */
  afterReboot: boolean;
  /**
   * With `afterReboot`: the size a durable flush proved (its slot's CRC matches the bytes), when
   * one does. The bytes before it are exactly what was written.
   */
  durable?: number;
}

/**
 * A recovery function: given the file's size and bytes, decides where the content ends. `hint`
 * says whether the machine rebooted since the last write and what is proven durable.
 */
export type RecoveryFunc = (fileSize: number, data: Uint8Array, magic: bigint | Uint8Array, hint?: RecoveryHint) => RecoveryResult;

/**
 * Index of the last non-zero byte of data[0:end], or -1. Scans 32 bytes per step over aligned
 * words: the zero region after the content is up to a growth step or two long.
 */
export function lastNonZero(data: Uint8Array, end: number = data.length): number {
  let i = end;
  const base = data.byteOffset;
  while (i > 0 && ((base + i) & 3) !== 0) {
    i--;
    if (data[i] !== 0) return i;
  }
  const firstWord = Math.ceil(base / 4);
  const count = (base + i) / 4 - firstWord;
  if (count > 0) {
    const words = new Uint32Array(data.buffer, firstWord * 4, count);
    let w = count;
    while (w >= 8) {
      if ((words[w - 1]! | words[w - 2]! | words[w - 3]! | words[w - 4]! |
           words[w - 5]! | words[w - 6]! | words[w - 7]! | words[w - 8]!) !== 0) break;
      w -= 8;
    }
    while (w > 0 && words[w - 1] === 0) w--;
    i = firstWord * 4 - base + w * 4;
  }
  while (i > 0) {
    i--;
    if (data[i] !== 0) return i;
  }
  return -1;
}

function bytesOf(magic: bigint | Uint8Array): Uint8Array {
  if (typeof magic === 'bigint') return leBytes(magic);
  if (magic instanceof Uint8Array && magic.length === 8) return magic;
  throw invalidArg('magic', 'a bigint or 8 bytes', magic);
}

function equalsAt(data: Uint8Array, at: number, pattern: Uint8Array): boolean {
  if (at < 0 || at + pattern.length > data.length) return false;
  for (let k = 0; k < pattern.length; k++) if (data[at + k] !== pattern[k]) return false;
  return true;
}

/** Offset of the last checkpoint marker starting at or before `from`, or -1. */
export function lastCheckpoint(data: Uint8Array, from: number): number {
  if (from < 0) return -1;
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return view.lastIndexOf(MAGIC_CHECKPOINT_BYTES, from);
}

/**
 * Decides where the content of a file ends. Never throws: a failure inside is `Panic` with the
 * error, a `fileSize` past the data is `Corrupted`.
 *
 * With a `hint` that the machine rebooted and a proven durable size, a file that is not finished
 * ends at that size: past it, the bytes may hold pages that never reached the disk (zeros, or an
 * older version) under a tail magic that did, and nothing in a raw AOF can tell them apart.
 */
export function recoverWithMagic(
  fileSize: number,
  data: Uint8Array,
  magic: bigint | Uint8Array = MAGIC_TAIL,
  hint?: RecoveryHint,
): RecoveryResult {
  const r = recoverBytes(fileSize, data, magic);
  const durable = hint?.afterReboot ? hint.durable : undefined;
  if (durable === undefined || r.kind === RecoveryKind.Panic || isFinished(r)) return r;
  if (!Number.isSafeInteger(durable) || durable < 0 || durable > fileSize || durable > data.length) return r;
  return {
    kind: durable === 0 ? RecoveryKind.Empty : RecoveryKind.Tail,
    tail: durable,
    checkpoint: durable === 0 ? -1 : lastCheckpoint(data, durable - 8),
    end: r.end,
    fileSize,
    fromDurable: true,
  };
}

/** The rules of the bytes alone (docs/format.md, "Recovery"). */
function recoverBytes(fileSize: number, data: Uint8Array, magic: bigint | Uint8Array): RecoveryResult {
  try {
    validateInteger(fileSize, 'fileSize');
    validateBytes(data, 'data');
    const tailMagic = bytesOf(magic);
    if (fileSize > data.length) {
      const error = new RangeError(`fileSize ${fileSize} is past the ${data.length} bytes given`);
      return { kind: RecoveryKind.Corrupted, tail: 0, checkpoint: -1, end: 0, fileSize, error };
    }
    const last = lastNonZero(data, fileSize);
    const end = last + 1;
    if (last < 0) return { kind: RecoveryKind.Empty, tail: 0, checkpoint: -1, end: 0, fileSize };
    if (equalsAt(data, last - 7, tailMagic)) {
      const tail = last - 7;
      return { kind: RecoveryKind.Tail, tail, checkpoint: lastCheckpoint(data, tail - 8), end, fileSize };
    }
    if (equalsAt(data, last - 7, MAGIC_CHECKPOINT_BYTES)) {
      return { kind: RecoveryKind.Checkpoint, tail: end, checkpoint: last - 7, end, fileSize };
    }
    const checkpoint = lastCheckpoint(data, last - 8);
    if (checkpoint >= 0) {
      return { kind: RecoveryKind.Checkpoint, tail: checkpoint + 8, checkpoint, end, fileSize };
    }
    const error = new Error(`torn write at byte ${last} and no checkpoint marker before it`);
    return { kind: RecoveryKind.Corrupted, tail: end, checkpoint: -1, end, fileSize, error };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    return { kind: RecoveryKind.Panic, tail: 0, checkpoint: -1, end: 0, fileSize, error };
  }
}

/** True when a Checkpoint result describes a finished file (it ends right after the marker). */
export function isFinished(result: RecoveryResult): boolean {
  return result.kind === RecoveryKind.Checkpoint && result.tail === result.fileSize &&
    result.checkpoint + 8 === result.tail;
}

/**
 * Applies the committed size a crashed writer left in the control block to a byte-level result.
 * The writer stores it after each write's tail magic, so the content before it is whole; when
 * the bytes show a torn tail (the write after it was in progress), the content ends there instead
 * of at the last checkpoint. A tail that is not torn is the bytes' to decide (a clean tail past the
 * committed size is a write whose tail magic landed just before the crash; one before it means the
 * block is stale); a finished file is never touched. Returns `r` itself when the committed size
 * does not apply: past the file, or not past what the bytes already keep.
 */
export function applyCommitted(r: RecoveryResult, committed: number, data: Uint8Array): RecoveryResult {
  if (!Number.isSafeInteger(committed) || committed < 0 || committed + 8 > r.fileSize) return r;
  if (r.kind === RecoveryKind.Panic || isFinished(r)) return r;
  // Not torn: a clean tail magic, or a checkpoint marker that is the last thing in the file. The
  // bytes decide; a committed size past them is a stale block (a writer without one has since
  // rolled back and written on).
  if (r.kind === RecoveryKind.Tail || (r.kind === RecoveryKind.Checkpoint && r.end <= r.tail)) return r;
  // Tail and Checkpoint keep r.tail bytes; Corrupted keeps nothing; Empty keeps 0.
  const kept = r.kind === RecoveryKind.Corrupted ? -1 : r.kind === RecoveryKind.Empty ? 0 : r.tail;
  if (kept >= committed) return r;
  return {
    kind: RecoveryKind.Tail,
    tail: committed,
    checkpoint: lastCheckpoint(data, committed - 8),
    end: r.end,
    fileSize: r.fileSize,
    fromControlBlock: true,
  };
}
