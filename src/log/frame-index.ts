/**
 * The offsets of a segment's frames: entry i is record firstId + i. Kept in chunks that double
 * in size (1,024 entries, then 2,048, 4,096 …), so appending never copies what is there (a
 * single growing array copied itself at every doubling, on the append path) and a small segment
 * costs 4 KiB, not an array sized for a full one. A lookup is a count of leading zeros and two
 * array reads.
 */
import { native } from '../native.js';
import { frameSize } from './frame.js';

const FIRST_BITS = 10;
const FIRST = 1 << FIRST_BITS;

/** The chunk holding entry i: chunk k holds [FIRST·(2^k − 1), FIRST·(2^(k+1) − 1)). */
function chunkOf(i: number): number {
  return 31 - Math.clz32((i >>> FIRST_BITS) + 1);
}

function chunkBase(k: number): number {
  return FIRST * ((1 << k) - 1);
}

export class FrameIndex {
  readonly #chunks: Uint32Array[] = [];
  /** Entries held. */
  length = 0;

  at(i: number): number {
    const k = 31 - Math.clz32((i >>> FIRST_BITS) + 1);
    return this.#chunks[k]![i - FIRST * ((1 << k) - 1)]!;
  }

  push(offset: number): void {
    const i = this.length;
    const k = chunkOf(i);
    const chunk = this.#chunks[k] ?? this.#grow(k);
    chunk[i - chunkBase(k)] = offset;
    this.length = i + 1;
  }

  /**
   * The chunk the next entry goes into, where in it, and how many entries fit there: for native
   * code that writes offsets straight into it (then {@link added}).
   */
  room(): { chunk: Uint32Array; at: number; free: number } {
    const i = this.length;
    const k = chunkOf(i);
    const chunk = this.#chunks[k] ?? this.#grow(k);
    const at = i - chunkBase(k);
    return { chunk, at, free: chunk.length - at };
  }

  /** `n` entries were written into the room. */
  added(n: number): void {
    this.length += n;
  }

  /** The index of the first offset at or after `at`, or length (offsets ascend: a binary search). */
  indexFrom(at: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid) < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops the entries from `length` on (a truncate). */
  truncate(length: number): void {
    if (length < this.length) this.length = length;
  }

  /**
   * Appends the offsets of the frames chained from `from` (by their headers alone, no CRC:
   * chainFrames in native/frames.cc, one call per chunk) and returns where the chain ends: at
   * `end`, or at the first header that cannot be right. Entry i must hold frame index i.
   */
  chain(buf: Buffer, from: number, end: number): number {
    let at = from;
    for (;;) {
      const { chunk, at: slot, free } = this.room();
      const n = native.chainFrames(buf, at, end, this.length, chunk, slot);
      if (n === 0) return at;
      const last = chunk[slot + n - 1]!;
      this.length += n;
      at = last + frameSize(buf.readUInt32LE(last + 4));
      if (n < free) return at;
    }
  }

  #grow(k: number): Uint32Array {
    while (this.#chunks.length <= k) this.#chunks.push(new Uint32Array(FIRST << this.#chunks.length));
    return this.#chunks[k]!;
  }
}
