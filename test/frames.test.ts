/**
 * The record log's frames, natively (native/frames.cc) and the frame index (src/log/frame-index.ts):
 * each native function against a JS reference of the frame format, on random records
 * (fast-check), and its refusals of bad input, which must write nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameIndex } from '../src/log/frame-index.js';
import { FrameType, chainFrames, frameSize, writeFrame, sealFrames } from '../src/log/frame.js';
import { native } from '../src/native.js';
import { referenceFrame } from './helpers.js';

const records = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 40 });

describe('native frames', () => {
  it('putFrame writes the reference frame (padding zeroed over garbage) and returns its size', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), fc.nat(1000), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (data, pad, index) => {
      const at = pad * 8;
      const buf = Buffer.alloc(at + frameSize(data.length) + 8, 0xee);
      const size = native.putFrame(buf, at, index, data, FrameType.Record);
      expect(size).toBe(frameSize(data.length));
      expect(buf.subarray(at, at + size)).toEqual(referenceFrame(data, index, FrameType.Record));
      expect(buf.subarray(0, at).every((b) => b === 0xee)).toBe(true);
      expect(buf.subarray(at + size).every((b) => b === 0xee)).toBe(true);
    }));
  });

  it('writeFrame + sealFrames write a batch byte for byte as the reference (Continued, then Record), and chain back', () => {
    fc.assert(fc.property(records, (batch) => {
      const bytes = batch.reduce((n, r) => n + frameSize(r.length), 0);
      const buf = Buffer.alloc(bytes + 64);
      let at = 8;
      batch.forEach((r, i) => (at += writeFrame(buf, at, i, r, i === batch.length - 1 ? FrameType.Record : FrameType.Continued)));
      sealFrames(buf, 8, at);
      const expected = Buffer.concat(batch.map((r, i) => referenceFrame(r, i, i === batch.length - 1 ? FrameType.Record : FrameType.Continued)));
      expect(buf.subarray(8, at)).toEqual(expected);
      expect(native.checkFrames(buf, 8, at, 0)).toBe(at);
      expect(chainFrames(buf, at, 8)).toEqual({ count: batch.length, end: at });
    }));
  });

  it('chainFrames stops at a header that cannot be right and fills the offsets array no further than its end', () => {
    const buf = Buffer.alloc(4096);
    let at = 0;
    for (let i = 0; i < 10; i++) at += native.putFrame(buf, at, i, Buffer.alloc(i * 3, i), FrameType.Record);
    const offsets = new Uint32Array(4);
    expect(native.chainFrames(buf, 0, at, 0, offsets, 1)).toBe(3); // room for 3 from slot 1
    expect(offsets[0]).toBe(0); // untouched
    const all = new Uint32Array(20);
    expect(native.chainFrames(buf, 0, at, 0, all, 0)).toBe(10);
    buf.writeUInt32LE(99, all[6]! + 12); // frame 6 claims index 99
    expect(native.chainFrames(buf, 0, at, 0, all, 0)).toBe(6);
    buf.writeUInt32LE(6, all[6]! + 12);
    buf.writeUInt32LE(3, all[4]! + 8); // an unknown type
    expect(native.chainFrames(buf, 0, at, 0, all, 0)).toBe(4);
    buf.writeUInt32LE(FrameType.Record, all[4]! + 8);
    expect(native.chainFrames(buf, 0, all[8]! + 10, 0, all, 0)).toBe(8); // frame 8 runs past end
  });

  it('refuses bad arguments with a TypeError or RangeError and writes nothing', () => {
    const buf = Buffer.alloc(64);
    expect(() => native.putFrame(buf, 0, 0, 'x' as unknown as Uint8Array, 1)).toThrow(TypeError);
    expect(() => native.putFrame(buf, -8, 0, Buffer.alloc(1), 1)).toThrow(TypeError);
    expect(() => native.putFrame(buf, 56, 0, Buffer.alloc(1), 1)).toThrow(RangeError); // 24 bytes at 56: past 64
    expect(() => native.putFrame(new Uint16Array(8) as unknown as Uint8Array, 0, 0, Buffer.alloc(1), 1)).toThrow(TypeError);
    expect(buf.every((b) => b === 0)).toBe(true);
    // sealFrames checks that every frame fits before it stores a CRC.
    native.putFrame(buf, 0, 0, Buffer.alloc(8, 1), 1);
    const before = Buffer.from(buf);
    buf.writeUInt32LE(1000, 4); // the first frame now claims 1000 bytes
    const claimed = Buffer.from(buf);
    expect(() => native.sealFrames(buf, 0, 32)).toThrow(RangeError);
    expect(buf).toEqual(claimed);
    expect(() => native.sealFrames(buf, 0, 65)).toThrow(RangeError);
    expect(() => native.chainFrames(buf, 0, 65, 0, new Uint32Array(1), 0)).toThrow(RangeError);
    expect(() => native.chainFrames(buf, 0, 64, 0, new Int32Array(1) as unknown as Uint32Array, 0)).toThrow(TypeError);
    expect(before.readUInt32LE(4)).toBe(8);
  });
});

describe('FrameIndex', () => {
  it('holds offsets in chunks that double (1,024, 2,048 …) without copying: at(i) after push and after native fills', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 5_000 }), (pushed, filled) => {
      const index = new FrameIndex();
      for (let i = 0; i < pushed; i++) index.push(i * 8);
      let left = filled;
      while (left > 0) {
        const room = index.room();
        const n = Math.min(left, room.free);
        for (let k = 0; k < n; k++) room.chunk[room.at + k] = (index.length + k) * 8;
        index.added(n);
        left -= n;
      }
      expect(index.length).toBe(pushed + filled);
      for (const i of [0, 1, 1023, 1024, 3071, 3072, pushed + filled - 1]) {
        if (i >= 0 && i < index.length) expect(index.at(i)).toBe(i * 8);
      }
      expect(index.indexFrom(0)).toBe(0);
      if (index.length > 0) expect(index.indexFrom((index.length - 1) * 8 - 3)).toBe(Math.max(0, index.length - 1));
      expect(index.indexFrom(index.length * 8)).toBe(index.length);
    }), { numRuns: 30 });
  });

  it('chain() indexes every frame across chunk boundaries and returns where the chain ends', () => {
    const n = 5000;
    const buf = Buffer.alloc(n * 24 + 64);
    let at = 0;
    for (let i = 0; i < n; i++) at += native.putFrame(buf, at, i, Buffer.alloc(i % 9), FrameType.Record);
    const index = new FrameIndex();
    expect(index.chain(buf, 0, at)).toBe(at);
    expect(index.length).toBe(n);
    let expected = 0;
    for (let i = 0; i < n; i++) {
      expect(index.at(i)).toBe(expected);
      expected += frameSize(i % 9);
    }
  });
});
