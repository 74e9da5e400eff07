/**
 * Frames of the record log: one record each, inside the content of an AOF segment.
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | crc32c of bytes 4 … 16 + length (the rest of the header and the payload) |
 * | 4 | 4 | payload length |
 * | 8 | 4 | type: 1, a record that ends its write; 2, a record with more of the same write after it |
 * | 12 | 4 | the record's index in its segment (id − the segment's first id) |
 * | 16 | length | payload |
 * | … | 0–7 | zero padding to a multiple of 8 |
 *
 * The index in the header ties a frame to its place: a frame copied or left over from elsewhere
 * fails the check. A frame is visible only once whole: it is written with one AOF append, which
 * commits it (tail magic, committed size) after the last byte. The type marks where a write (a
 * batch of records) ends, so a scan after a crash keeps whole writes only: a batch is all or none.
 */
import { native } from '../native.js';

export const FRAME_HEADER = 16;
export const FrameType = { Record: 1, Continued: 2 } as const;

/** Bytes a frame of a `length`-byte payload takes, padding included. */
export function frameSize(length: number): number {
  return Math.ceil((FRAME_HEADER + length) / 8) * 8;
}

// Header words go through a Uint32Array over the mapping (frames start 8-aligned in a buffer at
// offset 0): Buffer#writeUInt32LE cost more than the record copy. Little-endian hosts only, like
// the rest of the addon (x86-64, arm64).
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let wordsOf: Buffer | undefined;

// Keyed by the Buffer object: reading .buffer and .byteOffset on every call cost more than the
// stores (an AOF hands out the same Buffer until its mapping grows).
function wordsFor(buf: Buffer): Uint32Array<ArrayBufferLike> {
  if (buf !== wordsOf) {
    wordsOf = buf;
    words = buf.byteOffset === 0 ? new Uint32Array(buf.buffer, 0, buf.byteLength >>> 2) : new Uint32Array(0);
  }
  return words;
}

/**
 * Writes the frame of `data` at `at` but its CRC (the bytes there must be zero: the padding is
 * not written): a batch is written this way, then sealed with one {@link sealFrames} call.
 * Returns the frame's size.
 */
export function writeFrame(buf: Buffer, at: number, index: number, data: Uint8Array, type: number): number {
  const length = data.length;
  buf.set(data, at + FRAME_HEADER);
  const w = wordsFor(buf);
  if ((at & 7) === 0 && w.length > 0) {
    const i = at >>> 2;
    w[i + 1] = length;
    w[i + 2] = type;
    w[i + 3] = index;
  } else {
    buf.writeUInt32LE(length, at + 4);
    buf.writeUInt32LE(type, at + 8);
    buf.writeUInt32LE(index, at + 12);
  }
  return frameSize(length);
}

/** Stores the CRC of every frame in [from, end), written by {@link writeFrame}: one native call. */
export function sealFrames(buf: Buffer, from: number, end: number): void {
  native.sealFrames(buf, from, end);
}

/** Makes the frame at `at` end its write (a truncate that cuts a batch keeps its first records whole). */
export function endWrite(buf: Buffer, at: number): void {
  buf.writeUInt32LE(FrameType.Record, at + 8);
  buf.writeUInt32LE(native.crc32cRange(buf, at + 4, FRAME_HEADER - 4 + buf.readUInt32LE(at + 4)), at);
}

/** Why a frame does not check out, or undefined when it does. */
export function frameProblem(buf: Buffer, at: number, end: number, index: number): string | undefined {
  if (at + FRAME_HEADER > end) return `a frame header needs ${FRAME_HEADER} bytes, ${end - at} left`;
  const length = buf.readUInt32LE(at + 4);
  if (at + frameSize(length) > end) return `a frame of ${length} bytes runs past the end (${end - at} bytes left)`;
  const type = buf.readUInt32LE(at + 8);
  if (type !== FrameType.Record && type !== FrameType.Continued) return `unknown frame type ${type}`;
  if (buf.readUInt32LE(at + 12) !== index) return `frame index ${buf.readUInt32LE(at + 12)} where ${index} belongs`;
  const crc = native.crc32cRange(buf, at + 4, FRAME_HEADER - 4 + length);
  if (crc !== buf.readUInt32LE(at)) return `crc32c mismatch (stored ${buf.readUInt32LE(at)}, computed ${crc})`;
  return undefined;
}

/** Payload length of the frame at `at` (header already checked). */
export function frameLength(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4);
}

/** Scratch room for chainFrames's offsets (it only needs how many and where the chain ends). */
const SCRATCH = new Uint32Array(4096);

/**
 * How many frame headers chain from `from` (by their lengths alone, no CRC: reads check each
 * frame on first use), and where the chain ends: at `end`, or at the first header that cannot
 * be right (its type, its index, or a length running past `end`). Natively, a call per 4,096 frames.
 */
export function chainFrames(buf: Buffer, end: number, from = 0, firstIndex = 0): { count: number; end: number } {
  let at = from;
  let count = 0;
  for (;;) {
    const n = native.chainFrames(buf, at, end, firstIndex + count, SCRATCH, 0);
    if (n === 0) return { count, end: at };
    const last = SCRATCH[n - 1]!;
    at = last + frameSize(buf.readUInt32LE(last + 4));
    count += n;
    if (n < SCRATCH.length) return { count, end: at };
  }
}

/**
 * Where the whole, valid writes from `from` end: after the last frame of type Record of an
 * unbroken run of frames that check out (natively, in one call). `end` when all of `[from, end)`
 * checks out.
 */
export function checkedEnd(buf: Uint8Array, from: number, end: number, firstIndex: number): number {
  return native.checkFrames(buf, from, end, firstIndex);
}

/** How far checkFrames looks ahead of a read: the frames after it are then read with no check. */
export const CHECK_AHEAD = 1024 * 1024;
