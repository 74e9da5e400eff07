/**
 * One segment of a record log: an AOF holding consecutive records as frames, from `firstId` on,
 * and the offset of each frame (the index: get(id) is one array read). The last segment takes
 * appends; the others are sealed (the AOF is finished: final marker, read-only).
 */
import * as fs from 'node:fs';
import type { AOF, AppendEvent } from '../aof.js';
import { AofError, ErrorCode } from '../errors.js';
import { RecoveryKind, isFinished, recoverWithMagic, type RecoveryFunc, type RecoveryResult } from '../recovery.js';
import { native } from '../native.js';
import { CHECK_AHEAD, FRAME_HEADER, frameLength, frameProblem, frameSize, putFrame, scanFrames } from './frame.js';

/** A segment's file name: its first id, zero-padded so names sort like ids. */
export function segmentName(firstId: number): string {
  return `${String(firstId).padStart(16, '0')}.seg`;
}

const NAME = /^(\d{16})\.seg$/;

/** The first id a segment file name stands for, or undefined for any other name. */
export function parseSegmentName(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * Recovery of a segment: the bytes' rule, and where that finds a torn tail, the whole frames
 * before it (each carries its CRC): only the torn frame is lost, checkpoints or not.
 */
export const frameRecovery: RecoveryFunc = (fileSize, data, magic) => {
  const r = recoverWithMagic(fileSize, data, magic);
  if (r.kind === RecoveryKind.Tail || r.kind === RecoveryKind.Empty || r.kind === RecoveryKind.Panic || isFinished(r)) {
    return r;
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, fileSize);
  const { end } = scanFrames(buf, r.end);
  const torn: RecoveryResult = { kind: RecoveryKind.Tail, tail: end, checkpoint: -1, end: r.end, fileSize };
  return torn;
};

const EMPTY = new Uint8Array(0);

export class Segment {
  readonly firstId: number;
  readonly aof: AOF;
  /** Offset of each record's frame; index i is id firstId + i. */
  readonly #offsets: number[];
  #buf: Buffer;
  /** Every frame before this offset has been checked (or was written by us): reads skip the check. */
  #checkedTo: number;

  constructor(firstId: number, aof: AOF, offsets: number[], checkedTo = 0) {
    this.firstId = firstId;
    this.aof = aof;
    this.#offsets = offsets;
    this.#buf = aof.view(0, 0);
    this.#checkedTo = checkedTo;
  }

  /** Opens over an AOF whose content is whole frames: scans them (a torn or corrupt frame ends it). */
  static scan(firstId: number, aof: AOF): Segment {
    const view = aof.view();
    const { offsets, end } = scanFrames(view, view.length);
    if (end !== view.length) {
      throw new AofError(ErrorCode.CORRUPT_DATA,
        `${aof.path}: the frame at offset ${end} (id ${firstId + offsets.length}) does not check out: ` +
        `${frameProblem(view, end, view.length, offsets.length)}`);
    }
    return new Segment(firstId, aof, offsets, end);
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

  /** The record appendOne is writing (one callback for every append: nothing allocated per record). */
  #pending: Uint8Array = new Uint8Array(0);
  readonly #writeOne = (ev: AppendEvent): number => {
    const offsets = this.#offsets;
    offsets.push(ev.begin);
    return putFrame(ev.buffer, ev.begin, offsets.length - 1, this.#pending);
  };

  /** Appends one record; returns its id. */
  appendOne(data: Uint8Array): number {
    const begin = this.aof.size;
    this.#pending = data;
    try {
      this.aof.append(frameSize(data.length), this.#writeOne);
    } finally {
      this.#pending = EMPTY;
    }
    if (this.#checkedTo === begin) this.#checkedTo = this.aof.size;
    return this.lastId;
  }

  /** Appends records as one AOF write (all or none). Returns the first new id. */
  append(records: readonly Uint8Array[], bytes: number): number {
    const first = this.lastId + 1;
    const begin = this.aof.size;
    const offsets = this.#offsets;
    let index = offsets.length;
    this.aof.append(bytes, (ev) => {
      let at = ev.begin;
      const buf = ev.buffer;
      for (const data of records) {
        offsets.push(at);
        at += putFrame(buf, at, index++, data);
      }
      return at - ev.begin;
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
    const at = this.#offsets[index]!;
    const buf = this.#view(at);
    if (at >= this.#checkedTo) this.#check(buf, at, index, id);
    return buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + frameLength(buf, at));
  }

  /** Checks the frames from `at` (and up to CHECK_AHEAD after it) in one native call. */
  #check(buf: Buffer, at: number, index: number, id: number): void {
    const size = this.aof.size;
    const length = at + 8 <= size ? frameLength(buf, at) : 0;
    // Reading on from the checked prefix (iteration): check a stretch ahead. A random read past
    // it: just this frame (the stretch would be checked again and again).
    const ahead = at === this.#checkedTo ? CHECK_AHEAD : 0;
    const end = Math.min(size, Math.max(at + ahead, at + frameSize(length)));
    const valid = native.checkFrames(buf, at, end, index);
    if (valid === at) {
      throw new AofError(ErrorCode.CORRUPT_DATA,
        `${this.aof.path}: record ${id} at offset ${at}: ${frameProblem(buf, at, size, index) ?? 'does not check out'}`);
    }
    if (at === this.#checkedTo) this.#checkedTo = valid;
  }

  /** Offset just past record `id` (where content would end if it were the last). */
  endOf(id: number): number {
    const at = this.#offsets[id - this.firstId]!;
    return at + frameSize(frameLength(this.#view(at), at));
  }

  /** A view covering offset `at` and the content after it (grows with the file). */
  #view(at: number): Buffer {
    if (at + FRAME_HEADER > this.#buf.length || this.#buf.length < this.aof.size) this.#buf = this.aof.view();
    return this.#buf;
  }

  /** The index as little-endian u32 offsets (what a sealed segment keeps next to it). */
  indexBytes(): Buffer {
    const out = Buffer.alloc(this.#offsets.length * 4);
    this.#offsets.forEach((o, i) => out.writeUInt32LE(o, i * 4));
    return out;
  }

  /** Offsets from an index file, if it has exactly `count` entries; undefined otherwise. */
  static readIndex(path: string, count: number): number[] | undefined {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(path);
    } catch {
      return undefined;
    }
    if (bytes.length !== count * 4) return undefined;
    const offsets = new Array<number>(count);
    for (let i = 0; i < count; i++) offsets[i] = bytes.readUInt32LE(i * 4);
    return offsets;
  }
}
