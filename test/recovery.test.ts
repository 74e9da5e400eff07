/**
 * Recovery from the bytes alone (docs/format.md, "Recovery"). Every byte vector here is built by hand
 * from the documented little-endian magic bytes; nothing is taken from the code under test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAGIC_CHECKPOINT,
  MAGIC_CHECKPOINT_BYTES,
  MAGIC_TAIL,
  MAGIC_TAIL_BYTES,
  RecoveryKind,
  recoverWithMagic,
  type RecoveryResult,
} from '../src/index.js';
// Not re-exported by the package entry point; an internal helper of the recovery layer.
import { applyCommitted, lastNonZero } from '../src/recovery.js';

/** The magic tail 4727544184288126122, little-endian. */
const TAIL = Uint8Array.of(0xaa, 0x24, 0x75, 0x54, 0x63, 0x9c, 0x9b, 0x41);
/** The magic checkpoint 17904250147343162156, little-endian. */
const CKPT = Uint8Array.of(0x2c, 0xdb, 0x1f, 0xf2, 0xa5, 0xac, 0x78, 0xf8);

const KIND_NAME: Record<number, string> = { 0: 'Empty', 1: 'Corrupted', 2: 'Tail', 3: 'Checkpoint', 4: 'Panic' };

type Part = Uint8Array | string | number;

/** Concatenates parts: bytes as they are, strings as latin1, numbers as that many zero bytes. */
function bytes(...parts: Part[]): Uint8Array {
  const chunks = parts.map((p) =>
    typeof p === 'number' ? new Uint8Array(p) : typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : p,
  );
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A copy of `data` placed at `byteOffset` inside a larger buffer whose other bytes are all 0xff. */
function atOffset(data: Uint8Array, byteOffset: number, after = 8): Uint8Array {
  const backing = new Uint8Array(byteOffset + data.length + after).fill(0xff);
  backing.set(data, byteOffset);
  return backing.subarray(byteOffset, byteOffset + data.length);
}

interface Expected {
  kind: RecoveryKind;
  tail: number;
  checkpoint: number;
  end: number;
}

/** Byte-at-a-time reference implementation of the recovery rules (docs/format.md). */
function reference(fileSize: number, data: Uint8Array, magic: Uint8Array = TAIL): Expected {
  if (fileSize > data.length) return { kind: RecoveryKind.Corrupted, tail: 0, checkpoint: -1, end: 0 };
  let last = -1;
  for (let i = 0; i < fileSize; i++) if (data[i] !== 0) last = i;
  if (last < 0) return { kind: RecoveryKind.Empty, tail: 0, checkpoint: -1, end: 0 };
  const matches = (at: number, pattern: Uint8Array): boolean => {
    if (at < 0) return false;
    for (let k = 0; k < 8; k++) if (data[at + k] !== pattern[k]) return false;
    return true;
  };
  const lastCheckpointAtOrBefore = (start: number): number => {
    for (let c = start; c >= 0; c--) if (matches(c, CKPT)) return c;
    return -1;
  };
  const end = last + 1;
  if (matches(last - 7, magic)) {
    const tail = last - 7;
    return { kind: RecoveryKind.Tail, tail, checkpoint: lastCheckpointAtOrBefore(tail - 8), end };
  }
  if (matches(last - 7, CKPT)) return { kind: RecoveryKind.Checkpoint, tail: end, checkpoint: last - 7, end };
  const c = lastCheckpointAtOrBefore(last - 8);
  if (c >= 0) return { kind: RecoveryKind.Checkpoint, tail: c + 8, checkpoint: c, end };
  return { kind: RecoveryKind.Corrupted, tail: end, checkpoint: -1, end };
}

function summary(r: RecoveryResult | Expected): string {
  return `${KIND_NAME[r.kind]} tail=${r.tail} checkpoint=${r.checkpoint} end=${r.end}`;
}

function expectLike(actual: RecoveryResult, expected: Expected): void {
  expect(summary(actual)).toBe(summary(expected));
}

describe('magic constants', () => {
  it('exports the documented magic tail and checkpoint values and their little-endian bytes', () => {
    expect(MAGIC_TAIL).toBe(4727544184288126122n);
    expect(MAGIC_CHECKPOINT).toBe(17904250147343162156n);
    expect([...MAGIC_TAIL_BYTES]).toEqual([...TAIL]);
    expect([...MAGIC_CHECKPOINT_BYTES]).toEqual([...CKPT]);
  });

  it('numbers the outcomes Empty 0, Corrupted 1, Tail 2, Checkpoint 3, Panic 4', () => {
    expect(RecoveryKind).toEqual({ Empty: 0, Corrupted: 1, Tail: 2, Checkpoint: 3, Panic: 4 });
  });
});

describe('recoverWithMagic', () => {
  describe('empty files', () => {
    it('reports an all-zero file as Empty with tail 0', () => {
      const r = recoverWithMagic(4096, new Uint8Array(4096));
      expect(r.kind).toBe(RecoveryKind.Empty);
      expect(r.tail).toBe(0);
      expect(r.checkpoint).toBe(-1);
      expect(r.error).toBeUndefined();
    });

    it('reports a zero-length file as Empty with tail 0', () => {
      const r = recoverWithMagic(0, new Uint8Array(0));
      expect(r.kind).toBe(RecoveryKind.Empty);
      expect(r.tail).toBe(0);
      expect(r.error).toBeUndefined();
    });

    it('reports a file as Empty when only bytes past fileSize are non-zero', () => {
      const data = bytes(64, 'hello', TAIL);
      const r = recoverWithMagic(64, data);
      expect(r.kind).toBe(RecoveryKind.Empty);
      expect(r.tail).toBe(0);
    });
  });

  describe('a clean tail', () => {
    it('finds the tail right after the content when the magic tail follows it', () => {
      const data = bytes('hello world', TAIL, 4096 - 19);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(11);
      expect(r.checkpoint).toBe(-1);
      expect(r.end).toBe(19);
      expect(r.fileSize).toBe(4096);
      expect(r.error).toBeUndefined();
    });

    it('finds a tail of 0 when the file holds only the magic tail', () => {
      const data = bytes(TAIL, 100);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(0);
      expect(r.checkpoint).toBe(-1);
    });

    it('finds the tail when the magic tail is the very last 8 bytes of the file', () => {
      const data = bytes('abc', TAIL);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(3);
    });

    it('lets the magic decide where content ends, even when the content ends in zero bytes', () => {
      const data = bytes('ab', 3, TAIL, 1000);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(5);
    });

    it('keeps content that is zero bytes only when the magic tail follows it', () => {
      const data = bytes(37, TAIL, 27);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(37);
    });

    it('reports the offset of the checkpoint marker written just before the tail', () => {
      const data = bytes('0123456789', CKPT, TAIL, 500);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(18);
      expect(r.checkpoint).toBe(10);
    });

    it('reports the last of several checkpoint markers before the tail', () => {
      const data = bytes('a', CKPT, 'bc', CKPT, 'def', 5, TAIL, 64);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(1 + 8 + 2 + 8 + 3 + 5);
      expect(r.checkpoint).toBe(1 + 8 + 2);
    });

    it('finds a checkpoint marker at an unaligned offset', () => {
      const data = bytes('xyz', CKPT, 'q', TAIL);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.checkpoint).toBe(3);
      expect(r.tail).toBe(12);
    });

    it('finds a checkpoint marker at offset 0', () => {
      const data = bytes(CKPT, 'payload', TAIL, 9);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.checkpoint).toBe(0);
      expect(r.tail).toBe(15);
    });

    it('ignores an old magic tail inside the content: only the last non-zero bytes decide', () => {
      // An earlier write's magic was overwritten by more content in a real file; here a stale copy is content.
      const data = bytes('one', TAIL, 'two', TAIL, 40);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(14);
    });
  });

  describe('a checkpoint marker at the end', () => {
    it('recognises a finished file: it ends exactly after the checkpoint marker', () => {
      const data = bytes('the content', CKPT);
      const L = data.length - 1;
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(L - 7);
      expect(r.checkpoint).toBe(11);
      expect(r.tail).toBe(L + 1);
      expect(r.fileSize).toBe(r.tail);
      expect(r.error).toBeUndefined();
    });

    it('reports a checkpoint marker followed by zeros as Checkpoint with tail one past the marker', () => {
      const data = bytes('the content', CKPT, 4096 - 19);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(11);
      expect(r.tail).toBe(19);
      expect(r.fileSize).toBe(4096);
      expect(r.tail).not.toBe(r.fileSize);
    });

    it('recognises a finished file whose only content is the final marker', () => {
      const r = recoverWithMagic(8, CKPT.slice());
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(0);
      expect(r.tail).toBe(8);
    });

    it('picks the marker at the end, not an earlier one', () => {
      const data = bytes(CKPT, 'abc', CKPT, 3);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(11);
      expect(r.tail).toBe(19);
    });
  });

  describe('a torn tail', () => {
    it('rolls a torn tail back to the last checkpoint', () => {
      const data = bytes('committed', CKPT, 'half-written', 200);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(9);
      expect(r.tail).toBe(17);
      expect(r.end).toBe(9 + 8 + 12);
    });

    it('rolls a torn tail back to the last of several checkpoints', () => {
      const data = bytes(CKPT, 'aa', CKPT, 'bbb', CKPT, 'torn', 50);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(21);
      expect(r.tail).toBe(29);
    });

    it('treats a partly written magic tail as a torn write', () => {
      const data = bytes('abc', CKPT, 'def', TAIL.subarray(0, 5), 40);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(3);
      expect(r.tail).toBe(11);
    });

    it('treats a magic tail followed by more non-zero bytes as a torn write', () => {
      const data = bytes('abc', CKPT, 'def', TAIL, 'x', 40);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(3);
      expect(r.tail).toBe(11);
    });

    it('reports a torn tail with no checkpoint as Corrupted, tail one past the last non-zero byte, with an error', () => {
      const data = bytes('no magic here', 100);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.tail).toBe(13);
      expect(r.checkpoint).toBe(-1);
      expect(r.error).toBeInstanceOf(Error);
    });

    it('reports a single non-zero byte as Corrupted', () => {
      const data = bytes(10, 'x', 10);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.tail).toBe(11);
      expect(r.error).toBeInstanceOf(Error);
    });

    it('does not count a partial checkpoint marker as a checkpoint', () => {
      const data = bytes('abc', CKPT.subarray(0, 7), 'torn', 8);
      const r = recoverWithMagic(data.length, data);
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.checkpoint).toBe(-1);
    });
  });

  describe('fileSize and the data given', () => {
    it('reports Corrupted with an error when fileSize is past the data given', () => {
      const data = bytes('abc', TAIL);
      const r = recoverWithMagic(data.length + 1, data);
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.error).toBeInstanceOf(Error);
      expect(r.fileSize).toBe(data.length + 1);
    });

    it('reports Corrupted when fileSize is past the data even for an all-zero buffer', () => {
      const r = recoverWithMagic(4097, new Uint8Array(4096));
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.error).toBeInstanceOf(Error);
    });

    it('ignores non-zero garbage past fileSize', () => {
      const clean = bytes('content', CKPT, 'more', TAIL, 21);
      const fileSize = clean.length;
      const garbage = bytes(clean, 'garbage', TAIL, CKPT, 'x');
      const r = recoverWithMagic(fileSize, garbage);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(19);
      expect(r.checkpoint).toBe(7);
      expect(summary(r)).toBe(summary(recoverWithMagic(fileSize, clean)));
    });

    it('ignores a magic tail that lies partly past fileSize', () => {
      // Bytes [0, 10) are given as the file: 'abc' + the first 7 magic bytes. The 8th lies past it.
      const data = bytes('abc', TAIL);
      const r = recoverWithMagic(10, data);
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.tail).toBe(10);
    });

    it('ignores a checkpoint marker that lies partly past fileSize', () => {
      const data = bytes(CKPT, 'abc', CKPT);
      const r = recoverWithMagic(data.length - 1, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(0);
      expect(r.tail).toBe(8);
    });

    it('reports a garbage-only region past fileSize as Empty', () => {
      const data = bytes(128, 'garbage');
      expect(recoverWithMagic(128, data).kind).toBe(RecoveryKind.Empty);
    });

    it('echoes the fileSize it was asked about', () => {
      const data = bytes('abc', TAIL, 100);
      expect(recoverWithMagic(50, data).fileSize).toBe(50);
    });
  });

  describe('a custom magic', () => {
    const MY_MAGIC = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const MY_MAGIC_VALUE = 0x0807060504030201n;

    it('finds the tail by a custom magic given as 8 bytes', () => {
      const data = bytes('content', MY_MAGIC, 30);
      const r = recoverWithMagic(data.length, data, MY_MAGIC);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(7);
    });

    it('finds the tail by a custom magic given as a bigint, read little-endian', () => {
      const data = bytes('content', MY_MAGIC, 30);
      const r = recoverWithMagic(data.length, data, MY_MAGIC_VALUE);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(7);
    });

    it('does not accept the default magic tail when another magic is asked for', () => {
      const data = bytes('content', TAIL, 30);
      const r = recoverWithMagic(data.length, data, MY_MAGIC_VALUE);
      expect(r.kind).toBe(RecoveryKind.Corrupted);
      expect(r.tail).toBe(15);
    });

    it('uses the magic tail by default, and accepts it explicitly as a bigint or as bytes', () => {
      const data = bytes('content', CKPT, 'x', TAIL, 30);
      const byDefault = recoverWithMagic(data.length, data);
      expect(byDefault.kind).toBe(RecoveryKind.Tail);
      expect(byDefault.tail).toBe(16);
      expect(summary(recoverWithMagic(data.length, data, 4727544184288126122n))).toBe(summary(byDefault));
      expect(summary(recoverWithMagic(data.length, data, TAIL))).toBe(summary(byDefault));
    });
  });

  describe('failures inside', () => {
    const data = bytes('abc', TAIL, 10);
    const cases: [string, () => RecoveryResult][] = [
      ['a magic of 7 bytes', () => recoverWithMagic(data.length, data, TAIL.subarray(0, 7))],
      ['a magic of 9 bytes', () => recoverWithMagic(data.length, data, bytes(TAIL, 'x'))],
      ['a negative bigint magic', () => recoverWithMagic(data.length, data, -1n)],
      ['a bigint magic past 64 bits', () => recoverWithMagic(data.length, data, 1n << 64n)],
      ['a string magic', () => recoverWithMagic(data.length, data, 'magic' as unknown as bigint)],
      ['a number magic', () => recoverWithMagic(data.length, data, 42 as unknown as bigint)],
      ['data that is null', () => recoverWithMagic(4, null as unknown as Uint8Array)],
      ['data that is an array of numbers', () => recoverWithMagic(4, [1, 2, 3, 4] as unknown as Uint8Array)],
      ['data that is a string', () => recoverWithMagic(4, 'abcd' as unknown as Uint8Array)],
      ['data that is an ArrayBuffer', () => recoverWithMagic(4, new ArrayBuffer(16) as unknown as Uint8Array)],
      ['a negative fileSize', () => recoverWithMagic(-1, data)],
      ['a NaN fileSize', () => recoverWithMagic(Number.NaN, data)],
      ['a fractional fileSize', () => recoverWithMagic(1.5, data)],
      ['a string fileSize', () => recoverWithMagic('10' as unknown as number, data)],
    ];

    for (const [what, run] of cases) {
      it(`returns Panic with the error instead of throwing, given ${what}`, () => {
        let r: RecoveryResult | undefined;
        expect(() => (r = run())).not.toThrow();
        expect(r!.kind).toBe(RecoveryKind.Panic);
        expect(r!.error).toBeInstanceOf(Error);
      });
    }
  });

  describe('the word-at-a-time scan', () => {
    it('finds the last non-zero byte at every position, length and byteOffset 0..7', () => {
      const wrong: string[] = [];
      let checked = 0;
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (let length = 0; length <= 140; length++) {
          for (let last = -1; last < length; last++) {
            const plain = new Uint8Array(length);
            if (last >= 0) plain[last] = 0x80;
            // Something non-zero further back, so a scan that stops too early is seen too.
            if (last >= 40) plain[last - 40] = 1;
            const r = recoverWithMagic(length, atOffset(plain, byteOffset));
            const kind = last < 0 ? RecoveryKind.Empty : RecoveryKind.Corrupted;
            if (r.end !== last + 1 || r.kind !== kind) {
              wrong.push(`byteOffset ${byteOffset} length ${length} last ${last}: ${summary(r)}`);
            }
            checked++;
          }
        }
      }
      expect(wrong.slice(0, 10)).toEqual([]);
      expect(checked).toBe(8 * ((141 * 142) / 2));
    });

    it('finds a magic tail ending at every position relative to 4- and 32-byte words, at byteOffset 0..7', () => {
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (let contentSize = 0; contentSize < 80; contentSize++) {
          for (const zeros of [0, 1, 3, 4, 5, 31, 32, 33, 64, 100]) {
            const plain = bytes(contentSize, TAIL, zeros);
            if (contentSize > 0) plain[0] = 7;
            const data = atOffset(plain, byteOffset);
            const r = recoverWithMagic(plain.length, data);
            const where = `byteOffset ${byteOffset} contentSize ${contentSize} zeros ${zeros}`;
            expect(r.kind, where).toBe(RecoveryKind.Tail);
            expect(r.tail, where).toBe(contentSize);
          }
        }
      }
    });

    it('reads nothing before byteOffset or past fileSize in the backing buffer', () => {
      // The backing buffer is 0xff around the view: a scan that strays outside sees non-zero bytes.
      for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
        for (const length of [0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 65, 200]) {
          const data = atOffset(new Uint8Array(length), byteOffset, 64);
          const r = recoverWithMagic(length, data);
          expect(r.kind, `byteOffset ${byteOffset} length ${length}`).toBe(RecoveryKind.Empty);
          expect(r.end).toBe(0);
        }
      }
    });

    it('agrees with a byte-at-a-time reference on random files (property)', () => {
      const chunk = fc.oneof(
        { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }), weight: 4 },
        { arbitrary: fc.nat({ max: 80 }).map((n) => new Uint8Array(n)), weight: 3 },
        { arbitrary: fc.constant(CKPT), weight: 2 },
        { arbitrary: fc.constant(TAIL), weight: 1 },
        {
          arbitrary: fc
            .tuple(fc.constantFrom(CKPT, TAIL), fc.integer({ min: 1, max: 7 }), fc.boolean())
            .map(([m, n, prefix]) => (prefix ? m.slice(0, n) : m.slice(8 - n))),
          weight: 1,
        },
        { arbitrary: fc.integer({ min: 1, max: 255 }).map((b) => Uint8Array.of(b)), weight: 1 },
      );
      const file = fc.record({
        chunks: fc.array(chunk, { maxLength: 12 }),
        ending: fc.constantFrom('tail', 'checkpoint', 'none', 'none'),
        trailingZeros: fc.oneof(fc.nat({ max: 10 }), fc.nat({ max: 300 })),
        garbage: fc.uint8Array({ maxLength: 16 }),
        byteOffset: fc.nat({ max: 7 }),
      });
      fc.assert(
        fc.property(file, ({ chunks, ending, trailingZeros, garbage, byteOffset }) => {
          const endPart = ending === 'tail' ? TAIL : ending === 'checkpoint' ? CKPT : new Uint8Array(0);
          const content = bytes(...chunks, endPart, trailingZeros);
          const data = atOffset(bytes(content, garbage), byteOffset);
          const fileSize = content.length;
          expectLike(recoverWithMagic(fileSize, data), reference(fileSize, data));
        }),
        { numRuns: 5000 },
      );
    });
  });

  describe('a large zero region', () => {
    const SIZE = 64 * 1024 * 1024;

    it('reports a 64 MiB all-zero file as Empty', () => {
      const r = recoverWithMagic(SIZE, new Uint8Array(SIZE));
      expect(r.kind).toBe(RecoveryKind.Empty);
      expect(r.tail).toBe(0);
    });

    it('finds a tail near the start of a 64 MiB file, read at an unaligned byteOffset', () => {
      const backing = new Uint8Array(SIZE + 3);
      const data = backing.subarray(3);
      data.set(bytes('hello', CKPT, 'world', TAIL), 0);
      const r = recoverWithMagic(SIZE, data);
      expect(r.kind).toBe(RecoveryKind.Tail);
      expect(r.tail).toBe(18);
      expect(r.checkpoint).toBe(5);
    });

    it('finds the last non-zero byte wherever it sits in a 64 MiB file', () => {
      const data = new Uint8Array(SIZE);
      for (const at of [SIZE - 1, SIZE - 33, SIZE / 2 + 5, 12345, 1, 0]) {
        data.fill(0);
        data[at] = 9;
        const r = recoverWithMagic(SIZE, data);
        expect(r.end, `at ${at}`).toBe(at + 1);
        expect(r.kind).toBe(RecoveryKind.Corrupted);
      }
    });

    it('rolls a torn write at the end of a 64 MiB file back to a checkpoint at its start', () => {
      const data = new Uint8Array(SIZE);
      data.set(bytes('x', CKPT), 0);
      data.set(bytes('torn'), SIZE - 100);
      const r = recoverWithMagic(SIZE, data);
      expect(r.kind).toBe(RecoveryKind.Checkpoint);
      expect(r.checkpoint).toBe(1);
      expect(r.tail).toBe(9);
      expect(r.end).toBe(SIZE - 96);
    });
  });
});

describe('lastNonZero', () => {
  it('returns -1 for an empty or all-zero array', () => {
    expect(lastNonZero(new Uint8Array(0))).toBe(-1);
    expect(lastNonZero(new Uint8Array(1000))).toBe(-1);
  });

  it('returns the index of the last non-zero byte below end, ignoring bytes at or past end', () => {
    const data = bytes(5, 'a', 20, 'b', 10);
    expect(lastNonZero(data)).toBe(26);
    expect(lastNonZero(data, data.length)).toBe(26);
    expect(lastNonZero(data, 27)).toBe(26);
    expect(lastNonZero(data, 26)).toBe(5);
    expect(lastNonZero(data, 6)).toBe(5);
    expect(lastNonZero(data, 5)).toBe(-1);
    expect(lastNonZero(data, 0)).toBe(-1);
  });

  it('matches a byte-at-a-time scan for every end, byteOffset and last non-zero position', () => {
    const wrong: string[] = [];
    for (let byteOffset = 0; byteOffset < 8; byteOffset++) {
      for (let length = 0; length <= 100; length++) {
        for (let last = -1; last < length; last++) {
          const plain = new Uint8Array(length);
          if (last >= 0) plain[last] = 0x01;
          const data = atOffset(plain, byteOffset);
          for (const end of new Set([length, Math.max(0, last), last + 1, Math.min(length, last + 33)])) {
            let expected = -1;
            for (let i = 0; i < end; i++) if (plain[i] !== 0) expected = i;
            const got = lastNonZero(data, end);
            if (got !== expected) {
              wrong.push(`byteOffset ${byteOffset} length ${length} last ${last} end ${end}: ${got}, not ${expected}`);
            }
          }
        }
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it('matches a byte-at-a-time scan on random sparse arrays (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 7 }),
        fc.nat({ max: 400 }),
        fc.array(fc.tuple(fc.nat({ max: 399 }), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        fc.nat({ max: 400 }),
        (byteOffset, length, nonZero, endSeed) => {
          const plain = new Uint8Array(length);
          for (const [at, value] of nonZero) if (at < length) plain[at] = value;
          const end = length === 0 ? 0 : endSeed % (length + 1);
          let expected = -1;
          for (let i = 0; i < end; i++) if (plain[i] !== 0) expected = i;
          expect(lastNonZero(atOffset(plain, byteOffset), end)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('applyCommitted (the committed size a crashed writer left in its control block)', () => {
  const recover = (data: Uint8Array, committed: number) => applyCommitted(recoverWithMagic(data.length, data), committed, data);

  it('rolls a torn tail with no checkpoint back to the committed size instead of failing', () => {
    const data = bytes('first', 'second', 'torn wri', 40);
    expect(recoverWithMagic(data.length, data).kind).toBe(RecoveryKind.Corrupted);
    const r = recover(data, 11);
    expect(r).toMatchObject({ kind: RecoveryKind.Tail, tail: 11, checkpoint: -1, end: 19, fromControlBlock: true });
  });

  it('keeps more than the last checkpoint when the committed size is past it', () => {
    const data = bytes('aa', CKPT, 'bbbb', 'torn', 30);
    const r = recover(data, 14);
    expect(r).toMatchObject({ kind: RecoveryKind.Tail, tail: 14, checkpoint: 2, fromControlBlock: true });
  });

  it('keeps the committed size when the torn write zeroed the tail magic and content ended in zeros', () => {
    // An append() zeroes the old tail magic before its callback runs; content before it ended in zeros.
    const data = bytes('abc', 5, 8, 40);
    const r = recover(data, 8);
    expect(r).toMatchObject({ kind: RecoveryKind.Tail, tail: 8, fromControlBlock: true });
  });

  it('leaves a clean tail at or past the committed size alone (a write landed just before the crash)', () => {
    const data = bytes('hello', 'world', TAIL, 40);
    const clean = recoverWithMagic(data.length, data);
    expect(applyCommitted(clean, 5, data)).toBe(clean);
    expect(applyCommitted(clean, 10, data)).toBe(clean);
  });

  it('leaves a finished file alone', () => {
    const data = bytes('content', CKPT);
    const r = recoverWithMagic(data.length, data);
    expect(applyCommitted(r, 3, data)).toBe(r);
  });

  it('ignores a committed size that does not fit the file with its tail magic, or is not an integer', () => {
    const data = bytes('aa', CKPT, 'torn', 8);
    const r = recoverWithMagic(data.length, data);
    expect(applyCommitted(r, data.length - 7, data)).toBe(r);
    expect(applyCommitted(r, -1, data)).toBe(r);
    expect(applyCommitted(r, 2.5, data)).toBe(r);
    expect(applyCommitted(r, Number.NaN, data)).toBe(r);
  });

  it('never keeps less than the bytes alone would (a committed size before the checkpoint rule changes nothing)', () => {
    fc.assert(fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.nat(80), fc.boolean(),
      (content, committed, withCheckpoint) => {
        const data = bytes(withCheckpoint ? CKPT : new Uint8Array(0), content, 16);
        const r = recoverWithMagic(data.length, data);
        const a = applyCommitted(r, committed, data);
        if (a === r) return;
        expect(a.kind).toBe(RecoveryKind.Tail);
        expect(a.tail).toBe(committed);
        expect(a.fromControlBlock).toBe(true);
        expect(committed + 8).toBeLessThanOrEqual(data.length);
        if (r.kind === RecoveryKind.Tail || r.kind === RecoveryKind.Checkpoint) expect(committed).toBeGreaterThan(r.tail);
      },
    ), { numRuns: 2000 });
  });
});
