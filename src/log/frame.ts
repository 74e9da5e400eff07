/**
 * Frames of the record log: one record each, inside the content of an AOF segment.
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | crc32c of bytes 4 … 16 + length (the rest of the header and the payload) |
 * | 4 | 4 | payload length |
 * | 8 | 4 | type (1: record) |
 * | 12 | 4 | the record's index in its segment (id − the segment's first id) |
 * | 16 | length | payload |
 * | … | 0–7 | zero padding to a multiple of 8 |
 *
 * The index in the header ties a frame to its place: a frame copied or left over from elsewhere
 * fails the check. A frame is visible only once whole: it is written with one AOF append, which
 * commits it (tail magic, committed size) after the last byte.
 */
import { native } from '../native.js';

export const FRAME_HEADER = 16;
export const FrameType = { Record: 1 } as const;

/** Bytes a frame of a `length`-byte payload takes, padding included. */
export function frameSize(length: number): number {
  return Math.ceil((FRAME_HEADER + length) / 8) * 8;
}

// Header words go through a Uint32Array over the mapping (frames start 8-aligned in a buffer at
// offset 0): Buffer#writeUInt32LE cost more than the record copy. Little-endian hosts only, like
// the rest of the addon (x86-64, arm64).
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let wordsOf: ArrayBufferLike | undefined;

function wordsFor(buf: Buffer): Uint32Array<ArrayBufferLike> {
  if (buf.buffer !== wordsOf || buf.byteOffset !== 0) {
    wordsOf = buf.buffer;
    words = buf.byteOffset === 0 ? new Uint32Array(buf.buffer, 0, buf.byteLength >>> 2) : new Uint32Array(0);
  }
  return words;
}

/** Writes the frame of `data` at `at` (the bytes there must be zero: the padding is not written). */
export function putFrame(buf: Buffer, at: number, index: number, data: Uint8Array): number {
  const length = data.length;
  buf.set(data, at + FRAME_HEADER);
  const w = wordsFor(buf);
  if ((at & 7) === 0 && w.length > 0) {
    const i = at >>> 2;
    w[i + 1] = length;
    w[i + 2] = FrameType.Record;
    w[i + 3] = index;
    w[i] = native.crc32cRange(buf, at + 4, FRAME_HEADER - 4 + length);
  } else {
    buf.writeUInt32LE(length, at + 4);
    buf.writeUInt32LE(FrameType.Record, at + 8);
    buf.writeUInt32LE(index, at + 12);
    buf.writeUInt32LE(native.crc32cRange(buf, at + 4, FRAME_HEADER - 4 + length), at);
  }
  return frameSize(length);
}

/** Why a frame does not check out, or undefined when it does. */
export function frameProblem(buf: Buffer, at: number, end: number, index: number): string | undefined {
  if (at + FRAME_HEADER > end) return `a frame header needs ${FRAME_HEADER} bytes, ${end - at} left`;
  const length = buf.readUInt32LE(at + 4);
  if (at + frameSize(length) > end) return `a frame of ${length} bytes runs past the end (${end - at} bytes left)`;
  if (buf.readUInt32LE(at + 8) !== FrameType.Record) return `unknown frame type ${buf.readUInt32LE(at + 8)}`;
  if (buf.readUInt32LE(at + 12) !== index) return `frame index ${buf.readUInt32LE(at + 12)} where ${index} belongs`;
  const crc = native.crc32cRange(buf, at + 4, FRAME_HEADER - 4 + length);
  if (crc !== buf.readUInt32LE(at)) return `crc32c mismatch (stored ${buf.readUInt32LE(at)}, computed ${crc})`;
  return undefined;
}

/** Payload length of the frame at `at` (header already checked). */
export function frameLength(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4);
}

/**
 * Offsets of the whole, valid frames from the start of `buf[0, end)`: the scan stops at the
 * first frame that does not check out (a torn tail) or at `end`. The checks run natively in one
 * call; the offsets are then a hop from length to length.
 */
export function scanFrames(buf: Buffer, end: number): { offsets: number[]; end: number } {
  const valid = native.checkFrames(buf, 0, end, 0);
  const offsets: number[] = [];
  for (let at = 0; at < valid; at += frameSize(frameLength(buf, at))) offsets.push(at);
  return { offsets, end: valid };
}

/** How far checkFrames looks ahead of a read: the frames after it are then read with no check. */
export const CHECK_AHEAD = 1024 * 1024;
