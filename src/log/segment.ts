/**
 * One segment of a record log: an AOF holding consecutive records as frames, from `firstId` on,
 * and the offset of each frame (the index: get(id) is one array read). The last segment takes
 * appends; the others are sealed (the AOF is finished: final marker, read-only).
 */
import type { AOF } from '../aof.js';
import { AofError, ErrorCode } from '../errors.js';
import { native } from '../native.js';
import {
  MAGIC_TAIL,
  MAGIC_TAIL_BYTES,
  RecoveryKind,
  isFinished,
  lastNonZero,
  recoverWithMagic,
  type RecoveryFunc,
  type RecoveryResult,
} from '../recovery.js';
import {
  CHECK_AHEAD,
  FRAME_HEADER,
  FrameType,
  chainFrames,
  checkedEnd,
  frameLength,
  frameProblem,
  frameSize,
  sealFrames,
  writeFrame,
} from './frame.js';
import { FrameIndex } from './frame-index.js';

/**
 * Recovery of a segment: the bytes' rule, checked against the frames (each carries its CRC and
 * marks where its write ends). A clean tail whose frames check out stands. Otherwise the content
 * ends after the last whole write that checks out, provided what follows is one torn write. It
 * is damage, Corrupted and never a silent cut, when a whole write checks out further on, or when
 * the frame headers chain exactly to a clean tail magic (that write was complete: a torn one
 * never has its tail magic after it).
 *
 * After a reboot (`hint.afterReboot`) pages past the last durable flush may have reached the disk
 * in any order or not at all, so a whole write after a bad frame proves nothing: the content ends
 * after the last whole write that checks out, wherever the next frame fails. Only a bad frame
 * before the proven durable size (`hint.durable`) is damage.
 */
export const frameRecovery: RecoveryFunc = (fileSize, data, magic, hint) => {
  const r = cleanTail(fileSize, data, magic) ?? recoverWithMagic(fileSize, data, magic);
  if (r.kind === RecoveryKind.Panic || isFinished(r)) return r;
  if (r.kind === RecoveryKind.Empty && !hint?.afterReboot) return r;
  const buf = Buffer.from(data.buffer, data.byteOffset, fileSize);
  // Frames may end in zero bytes (padding, an index of 0, a payload of zeros): scan the whole
  // file, not only up to the last non-zero byte.
  const whole = checkedEnd(buf, 0, fileSize, 0);
  if (hint?.afterReboot) return afterReboot(r, whole, hint.durable);
  if (r.kind === RecoveryKind.Tail && whole === r.tail) return r;
  const damaged = wholeWriteAfter(buf, whole, Math.max(r.end, whole));
  const complete = r.kind === RecoveryKind.Tail && chainFrames(buf, r.tail).end === r.tail;
  if (damaged >= 0 || complete) {
    const error = new Error(`the frame at offset ${whole} does not check out, though ` +
      (damaged >= 0 ? `a whole write at offset ${damaged} does` : `its write was complete (the tail magic follows it)`));
    return { kind: RecoveryKind.Corrupted, tail: whole, checkpoint: -1, end: r.end, fileSize, error };
  }
  const torn: RecoveryResult = { kind: RecoveryKind.Tail, tail: whole, checkpoint: -1, end: r.end, fileSize };
  return torn;
};

/** frameRecovery after a reboot: the whole writes that check out, unless one fails before `durable`. */
function afterReboot(r: RecoveryResult, whole: number, durable: number | undefined): RecoveryResult {
  const { end, fileSize } = r;
  if (durable !== undefined && whole < durable) {
    const error = new Error(`the frame at offset ${whole} does not check out, though a durable flush covered ` +
      `the segment up to offset ${durable}`);
    return { kind: RecoveryKind.Corrupted, tail: whole, checkpoint: -1, end, fileSize, error };
  }
  return { kind: whole === 0 ? RecoveryKind.Empty : RecoveryKind.Tail, tail: whole, checkpoint: -1, end, fileSize };
}

/**
 * The Tail result when the last non-zero bytes are the tail magic, without the search for an
 * earlier checkpoint marker (a log segment has none until it is sealed): that search read the
 * whole segment backwards at every open. Undefined otherwise.
 */
function cleanTail(fileSize: number, data: Uint8Array, magic: bigint | Uint8Array): RecoveryResult | undefined {
  if (magic !== MAGIC_TAIL || fileSize > data.length) return undefined;
  const last = lastNonZero(data, fileSize);
  if (last < 7) return undefined;
  for (let k = 0; k < 8; k++) if (data[last - 7 + k] !== MAGIC_TAIL_BYTES[k]) return undefined;
  return { kind: RecoveryKind.Tail, tail: last - 7, checkpoint: -1, end: last + 1, fileSize };
}

/** The first 8-aligned offset in `[from, end)` holding a frame with this index that checks out, or -1. */
function nextFrame(buf: Buffer, from: number, end: number, index: number): number {
  for (let at = from; at + FRAME_HEADER <= end; at += 8) {
    if (buf.readUInt32LE(at + 12) === index && frameProblem(buf, at, end, index) === undefined) return at;
  }
  return -1;
}

/**
 * The offset of a whole write (frames ending with a Record) that checks out somewhere in
 * `(from, end)` with a later index than the frame at `from` can have, or -1. What a torn write
 * leaves after `from` never qualifies: its frames all continue a write that was not finished.
 */
function wholeWriteAfter(buf: Buffer, from: number, end: number): number {
  for (let at = from + 8; at + FRAME_HEADER <= end; at += 8) {
    const type = buf.readUInt32LE(at + 8);
    if (type !== FrameType.Record && type !== FrameType.Continued) continue;
    const index = buf.readUInt32LE(at + 12);
    if (at + frameSize(buf.readUInt32LE(at + 4)) > end) continue;
    if (checkedEnd(buf, at, end, index) > at) return at;
  }
  return -1;
}

/** Where Segment.get's probe reads go, so that the read is not optimised away. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- written, never read, on purpose
let sink = 0;
/** The SIGBUS guard's process-wide fault count: zero, so one load, unless a file lost pages. */
const guardFaults = native.guardFaults;

export class Segment {
  readonly firstId: number;
  readonly aof: AOF;
  readonly #offsets: FrameIndex;
  #buf: Buffer;
  /** Every frame before this offset has been checked (or was written by us): reads skip the check. */
  #checkedTo: number;
  /** Frames past #checkedTo checked by random reads: bit i for record firstId + i (a sealed segment's count is fixed). */
  #checkedBits: Uint8Array | undefined;
  /** Where the chain of frame headers broke (a damaged length or header), or -1. */
  readonly #brokenAt: number;

  private constructor(firstId: number, aof: AOF, offsets: FrameIndex, checkedTo: number, brokenAt: number) {
    this.firstId = firstId;
    this.aof = aof;
    this.#offsets = offsets;
    this.#buf = aof.view(0, 0);
    this.#checkedTo = checkedTo;
    this.#brokenAt = brokenAt;
  }

  /**
   * Opens the active segment: every frame is checked now (recovery left whole writes only, so a
   * frame that does not check out is damage: ERR_AOF_CORRUPT_DATA).
   */
  static active(firstId: number, aof: AOF): Segment {
    const view = aof.view();
    const offsets = new FrameIndex();
    const chained = offsets.chain(view, 0, view.length);
    const checked = checkedEnd(view, 0, view.length, 0);
    if (chained !== view.length || checked !== view.length) {
      const at = Math.min(chained, checked);
      const index = offsets.indexFrom(at);
      throw new AofError(ErrorCode.CORRUPT_DATA, `${aof.path}: record ${firstId + index} at offset ${at} does not check out: ` +
        `${frameProblem(view, at, view.length, index) ?? 'a write is not whole'}`);
    }
    return new Segment(firstId, aof, offsets, view.length, -1);
  }

  /**
   * Opens a sealed segment: its index from the frame headers' lengths alone; each frame is
   * checked when first read, so a damaged record fails alone (ERR_AOF_CORRUPT_DATA).
   */
  static sealed(firstId: number, aof: AOF): Segment {
    aof.populateForRead();
    const view = aof.view();
    const size = view.length;
    const offsets = new FrameIndex();
    let end = offsets.chain(view, 0, size);
    // A damaged header breaks the chain: keep the damaged frame's place (reading it fails its
    // check) and pick the chain up again at the next frame that checks out with the next index.
    while (end < size) {
      const resume = nextFrame(view, end + 8, size, offsets.length + 1);
      if (resume < 0) return new Segment(firstId, aof, offsets, 0, end);
      offsets.push(end);
      end = offsets.chain(view, resume, size);
    }
    return new Segment(firstId, aof, offsets, 0, -1);
  }

  /** True when the headers chain to the end of the content. */
  get whole(): boolean {
    return this.#brokenAt < 0;
  }

  get count(): number {
    return this.#offsets.length;
  }

  /** The last id held, or firstId - 1 when empty. */
  get lastId(): number {
    return this.firstId + this.#offsets.length - 1;
  }

  get sealed(): boolean {
    return this.aof.readOnly;
  }

  /** Content bytes. */
  get size(): number {
    return this.aof.size;
  }

  /**
   * Appends one record; returns its id. One native call writes the frame (header, payload,
   * padding, CRC) and checks its arguments and bounds before its first store, so a throw leaves
   * the AOF as it was: no callback, no guard.
   */
  appendOne(data: Uint8Array): number {
    const aof = this.aof;
    const begin = aof.size;
    const offsets = this.#offsets;
    const buf = aof.reserveTrusted(frameSize(data.length));
    const end = begin + native.putFrame(buf, begin, offsets.length, data, FrameType.Record);
    offsets.push(begin);
    aof.commitTrusted(end);
    if (this.#checkedTo === begin) this.#checkedTo = end;
    return this.firstId + offsets.length - 1;
  }

  /**
   * Appends records[from, to) (`bytes` of frames) as one AOF write: all or none, also across a
   * crash. The frames are copied and their headers stored from JS, then their CRCs computed in
   * one native call (a native call per record, or a native read of each array element, cost
   * more than the copy: bench/log.bench.mjs). Returns the first new id.
   */
  append(records: readonly Uint8Array[], from: number, to: number, bytes: number): number {
    const first = this.lastId + 1;
    const begin = this.aof.size;
    const offsets = this.#offsets;
    const before = offsets.length;
    this.aof.appendTrusted(bytes, (buf, start) => {
      let at = start;
      try {
        for (let i = from; i < to; i++) {
          offsets.push(at);
          at += writeFrame(buf, at, offsets.length - 1, records[i]!, i === to - 1 ? FrameType.Record : FrameType.Continued);
        }
        sealFrames(buf, start, at);
      } catch (e) {
        offsets.truncate(before);
        throw e;
      }
    });
    if (this.#checkedTo === begin) this.#checkedTo = this.aof.size;
    return first;
  }

  /**
   * The payload of record `id` (a view of the mapping, no copy), its CRC checked. A frame that
   * does not check out is `ERR_AOF_CORRUPT_DATA` naming the segment, offset and id.
   */
  get(id: number): Buffer {
    const index = id - this.firstId;
    if (index >= this.#offsets.length) {
      throw new AofError(ErrorCode.CORRUPT_DATA,
        `${this.aof.path}: record ${id}: the frame headers stop making sense at offset ${this.#brokenAt}`);
    }
    const at = this.#offsets.at(index);
    const buf = this.#view(at);
    if (at >= this.#checkedTo) this.#check(buf, at, index, id);
    const length = frameLength(buf, at);
    // Checked frames are not checked again: a page lost to a truncation by another process (it
    // reads zeros now) is known by the mapping instead. A truncation cuts a suffix, so reading
    // the record's last byte is enough to find out.
    sink ^= buf[at + FRAME_HEADER + length - 1]!;
    if (guardFaults[0] !== 0 && this.aof.truncatedUnder) {
      throw this.#corrupt(id, at, 'the segment was truncated by another process');
    }
    return buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
  }

  /**
   * Checks the frame at `at`. Reading on from the checked prefix (iteration), a stretch of
   * CHECK_AHEAD bytes is checked in one native call and the prefix grows; a random read past it
   * checks just this frame (a stretch would be checked again and again).
   */
  #check(buf: Buffer, at: number, index: number, id: number): void {
    const size = this.aof.size;
    if (at !== this.#checkedTo) {
      // A random read: each frame is checked once (a bit per frame), not at every read (a warm
      // get(id) at random checked its frame again each time: ~500 ns a get, ~350 ns with the bit;
      // measured on one 64 MiB segment).
      const bits = (this.#checkedBits ??= new Uint8Array((this.#offsets.length >>> 3) + 1));
      if (index >>> 3 < bits.length && (bits[index >>> 3]! & (1 << (index & 7))) !== 0) return;
      const problem = frameProblem(buf, at, size, index);
      if (problem !== undefined) throw this.#corrupt(id, at, problem);
      if (index >>> 3 < bits.length) bits[index >>> 3]! |= 1 << (index & 7);
      return;
    }
    let end = Math.min(size, at + CHECK_AHEAD);
    let valid = checkedEnd(buf, at, end, index);
    // A write (a batch) longer than the stretch: widen it until the write fits.
    while (valid === at && end < size) valid = checkedEnd(buf, at, (end = Math.min(size, at + (end - at) * 2)), index);
    if (valid === at) throw this.#corrupt(id, at, frameProblem(buf, at, size, index) ?? 'its write is not whole');
    this.#checkedTo = valid;
  }

  #corrupt(id: number, at: number, problem: string): AofError {
    return new AofError(ErrorCode.CORRUPT_DATA, `${this.aof.path}: record ${id} at offset ${at}: ${problem}`);
  }

  /** Offset of record `id`'s frame. */
  offsetOf(id: number): number {
    return this.#offsets.at(id - this.firstId);
  }

  /** Offset just past record `id` (where content would end if it were the last). */
  endOf(id: number): number {
    const at = this.offsetOf(id);
    return at + frameSize(frameLength(this.#view(at), at));
  }

  /** A view covering offset `at` and the content after it (grows with the file). */
  #view(at: number): Buffer {
    if (at + FRAME_HEADER > this.#buf.length || this.#buf.length < this.aof.size) this.#buf = this.aof.view();
    return this.#buf;
  }
}
