/**
 * Recovery of the record log (`src/log/`) from damaged segment files:
 *
 * - a torn last frame in the active segment: the file cut at every byte offset of the last frame
 *   (the rest zeroed, or garbage, or written in the order a frame is written: the header words, the payload, then
 *   the header), with no control block (`-shm` deleted: recovery from the bytes alone, as after a
 *   power loss) and with the control block a writer killed in that write leaves (state Writing,
 *   committed size = the end of the last whole frame). `Log.open` never fails, keeps every whole
 *   frame (lastId = the last whole frame's id) and appending continues;
 * - bit flips in a sealed segment: reading that record (get, iterator) is ERR_AOF_CORRUPT_DATA
 *   naming the segment file, the offset and the id; every other record stays readable;
 * - bit flips in the active segment: open fails with a typed error or (a flip in padding, which
 *   no CRC covers) opens with every record intact; never a crash, a hang or wrong bytes.
 *
 * The segment files are edited in place (same inode), so a control block written here describes
 * them the way a crashed writer's would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AofError, Log, MAGIC_CHECKPOINT, MAGIC_TAIL } from '../src/index.js';
import { ControlBlock, ControlState, identityOf } from '../src/control-block.js';
import { logFrameSize, logLayout, logSegmentName, pseudoRandomBytes, tmpDir } from './helpers.js';

const KiB = 1024;
const record = (id: number, length: number): Buffer => pseudoRandomBytes(length, id * 31 + 7);

type Shm = 'no control block' | 'a crashed writer\'s control block';
const SHM_MODES: Shm[] = ['no control block', 'a crashed writer\'s control block'];

/** Writes `records` as single appends into a new log in `dir`, then closes it. */
async function writeLog(dir: string, records: readonly Buffer[], segmentSize: number): Promise<void> {
  const log = await Log.open(dir, { segmentSize });
  try {
    records.forEach((r, i) => expect(log.append(r)).toBe(i + 1));
  } finally {
    await log.close();
  }
}

/**
 * Puts the segment file's control block in the state `mode` says: deleted, or what a writer
 * killed during the write after `committed` bytes leaves (Writing, committed size, its pid).
 */
function setControlBlock(segPath: string, mode: Shm, committed: number): void {
  if (mode === 'no control block') {
    fs.rmSync(`${segPath}-shm`, { force: true });
    return;
  }
  const fd = fs.openSync(segPath, 'r');
  try {
    const cb = ControlBlock.open(segPath)!;
    cb.lock();
    cb.reset(identityOf(fd), ControlState.Writing, committed, 999_999);
    cb.unlock();
    cb.close();
  } finally {
    fs.closeSync(fd);
  }
}

/** Rewrites the file's bytes in place (same inode: a control block keeps describing it). */
function overwrite(file: string, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, bytes.length);
    fs.writeSync(fd, bytes, 0, bytes.length, 0);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What is wrong after reopening a log whose records 1..keep must be whole (empty when all is
 * well). With `mayKeep` (the torn frame was in fact whole: only its padding or the tail magic
 * after it was missing), lastId may also be keep + 1: a whole frame whose append had not returned
 * may be kept or dropped.
 */
async function checkReopened(dir: string, records: readonly Buffer[], keep: number, segmentSize: number, mayKeep = false): Promise<string[]> {
  let log: Log;
  try {
    log = await Log.open(dir, { segmentSize });
  } catch (e) {
    return [`open failed: ${(e as AofError).code} ${(e as Error).message}`];
  }
  const problems: string[] = [];
  try {
    if (mayKeep && log.lastId === keep + 1) keep++;
    if (log.firstId !== 1 || log.lastId !== keep) problems.push(`firstId ${log.firstId} lastId ${log.lastId}, expected 1 and ${keep}`);
    for (let id = 1; id <= Math.min(keep, log.lastId); id++) {
      if (!log.get(id).equals(records[id - 1]!)) problems.push(`record ${id} differs`);
    }
    const next = log.append(Buffer.from('next'));
    if (next !== log.lastId || next !== Math.min(keep, log.lastId) + 1) problems.push(`append after recovery got id ${next}`);
  } catch (e) {
    problems.push(`reading: ${(e as AofError).code} ${(e as Error).message}`);
  } finally {
    await log.close();
  }
  if (problems.length > 0) return problems;
  // And the recovered log reopens with the new record.
  const again = await Log.open(dir, { segmentSize });
  try {
    if (again.lastId !== keep + 1 || again.get(keep + 1).toString() !== 'next') problems.push('the record appended after recovery did not survive a reopen');
  } finally {
    await again.close();
  }
  return problems;
}

type Tear = 'zeroed' | 'garbage' | 'payload first';

/**
 * The bytes of the segment file `original` (holding whole frames, the last at [start, end), then
 * the tail magic) when the writer of the last frame died after `k` bytes of it: in order with
 * zeros after them, in order with garbage after them, or payload first (the header still zero).
 */
function tear(original: Buffer, start: number, end: number, k: number, how: Tear): Buffer {
  const b = Buffer.from(original);
  if (how === 'zeroed') {
    b.fill(0, start + k);
  } else if (how === 'garbage') {
    b.fill(0, end); // the tail magic was overwritten by the reserve
    pseudoRandomBytes(end + 8 - (start + k), 0xbad + k).copy(b, start + k);
  } else {
    b.fill(0, end);
    b.fill(0, start, start + 16); // the header is written after the payload
    b.fill(0, start + 16 + k, end);
  }
  return b;
}

describe('record log recovery of a torn last frame', () => {
  // Record 4 is 13 bytes: its frame ends in 3 bytes of zero padding. Record 5 is the torn one.
  const LENGTHS = [100, 0, 64, 13, 61];
  const SEGMENT = 256 * KiB;

  for (const how of ['zeroed', 'garbage', 'payload first'] as Tear[]) {
    for (const shm of SHM_MODES) {
      it(`a cut at every byte of the last frame (${how}), with ${shm}: open keeps every whole frame and appending continues`, async () => {
        const dir = tmpDir('aof-log-rec-');
        const records = LENGTHS.map((n, i) => record(i + 1, n));
        await writeLog(dir, records, SEGMENT);
        const seg = path.join(dir, logSegmentName(1));
        const original = fs.readFileSync(seg);
        const [layout] = logLayout(LENGTHS, SEGMENT);
        const start = layout!.offsets.at(-1)!;
        const end = start + logFrameSize(LENGTHS.at(-1)!);
        expect(end).toBe(layout!.size);
        // 'payload first' tears only within the payload: k payload bytes written, header zero.
        const cuts = how === 'payload first' ? LENGTHS.at(-1)! : end - start;
        const failures: string[] = [];
        for (let k = 0; k < cuts; k++) {
          overwrite(seg, tear(original, start, end, k, how));
          setControlBlock(seg, shm, start);
          const whole = how !== 'payload first' && k >= 16 + LENGTHS.at(-1)!;
          const problems = await checkReopened(dir, records, LENGTHS.length - 1, SEGMENT, whole);
          if (problems.length > 0) failures.push(`cut after ${k} bytes: ${problems.join('; ')}`);
        }
        expect(failures, `${failures.length} of ${cuts} cuts`).toEqual([]);
      });
    }
  }

  it('a whole frame ending in zero padding survives when the next frame was torn before any byte of it landed (no control block)', async () => {
    // The writer had overwritten the old tail magic (the reserve is zeroed first) and died before
    // writing anything of the new frame: the file ends with the last whole frame, minus the magic.
    const dir = tmpDir('aof-log-rec-');
    const records = [record(1, 8), record(2, 5)]; // frame 2: 21 bytes + 3 bytes of padding
    await writeLog(dir, records, SEGMENT);
    const seg = path.join(dir, logSegmentName(1));
    const b = fs.readFileSync(seg);
    const end = logFrameSize(8) + logFrameSize(5);
    b.fill(0, end, end + 8); // the tail magic, zeroed by the next append's reserve
    overwrite(seg, b);
    fs.rmSync(`${seg}-shm`);
    expect(await checkReopened(dir, records, 2, SEGMENT)).toEqual([]);
  });

  for (const [name, magic] of [['tail magic', MAGIC_TAIL], ['checkpoint marker', MAGIC_CHECKPOINT]] as const) {
    for (const shm of SHM_MODES) {
      it(`a torn frame whose payload holds the ${name} is dropped like any other torn frame (${shm})`, async () => {
        // Records are arbitrary bytes: one may hold an AOF's markers (a log of AOF files, say).
        // Torn after the marker, payload first: the marker is the last non-zero thing in the file.
        const dir = tmpDir('aof-log-rec-');
        const marker = Buffer.alloc(8);
        marker.writeBigUInt64LE(magic);
        const last = Buffer.concat([Buffer.from('prefix..'), marker, Buffer.alloc(16), Buffer.from('suffix..')]);
        const records = [record(1, 40), record(2, 13), last];
        await writeLog(dir, records, SEGMENT);
        const seg = path.join(dir, logSegmentName(1));
        const start = logFrameSize(40) + logFrameSize(13);
        const end = start + logFrameSize(last.length);
        const failures: string[] = [];
        // Payload written up to the end of the marker and anywhere into the zeros after it.
        const original = fs.readFileSync(seg);
        for (let k = 16; k <= 32; k++) {
          overwrite(seg, tear(original, start, end, k, 'payload first'));
          setControlBlock(seg, shm, start);
          const problems = await checkReopened(dir, records, 2, SEGMENT);
          if (problems.length > 0) failures.push(`payload torn after ${k} bytes: ${problems.join('; ')}`);
        }
        expect(failures, `${failures.length} of 17 tears`).toEqual([]);
      });
    }
  }

  it('random record sizes, random cuts of the last frame, both tear orders, with and without a control block (fast-check)', async () => {
    const dir = tmpDir('aof-log-rec-');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.nat({ max: 300 }), fc.constantFrom(0, 8, 16, 1, 7)), { minLength: 1, maxLength: 30 }),
        fc.nat({ max: 100_000 }),
        fc.constantFrom<Tear>('zeroed', 'garbage', 'payload first'),
        fc.constantFrom(...SHM_MODES),
        async (lengths, cutSeed, how, shm) => {
          const sub = path.join(dir, String(run++));
          const records = lengths.map((n, i) => record(i + 1, n));
          await writeLog(sub, records, SEGMENT);
          const seg = path.join(sub, logSegmentName(1));
          const [layout] = logLayout(lengths, SEGMENT);
          const start = layout!.offsets.at(-1)!;
          const end = layout!.size;
          const span = how === 'payload first' ? lengths.at(-1)! + 1 : end - start;
          const k = cutSeed % span;
          const original = fs.readFileSync(seg);
          const torn = tear(original, start, end, k, how);
          overwrite(seg, torn);
          setControlBlock(seg, shm, start);
          // A cut whose lost bytes were zeros anyway (zero fields), or only padding (no CRC covers
          // it), leaves a whole frame.
          const framed = start + 16 + lengths.at(-1)!;
          const whole = torn.subarray(start, framed).equals(original.subarray(start, framed));
          const problems = await checkReopened(sub, records, lengths.length - 1, SEGMENT, whole);
          expect(problems, `lengths ${JSON.stringify(lengths)}, ${how} cut after ${k} bytes, ${shm}`).toEqual([]);
          fs.rmSync(sub, { recursive: true, force: true });
        },
      ),
      { numRuns: 60, seed: 0x5eed },
    );
  });
});

describe('record log recovery of an interrupted seal', () => {
  /** A log of several 16 KiB segments, closed: the sealed ones finished (read-only). */
  async function sealedLog(): Promise<{ dir: string; records: Buffer[] }> {
    const dir = tmpDir('aof-log-seal-');
    const records = Array.from({ length: 120 }, (_, i) => record(i + 1, 300 + (i % 50)));
    await writeLog(dir, records, 16 * KiB);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).length).toBeGreaterThan(2);
    return { dir, records };
  }

  it('a sealed segment left writable (killed between finish()\'s truncate and its chmod) does not make Log.open fail', async () => {
    const { dir, records } = await sealedLog();
    fs.chmodSync(path.join(dir, logSegmentName(1)), 0o644);
    const problems = await checkReopened(dir, records, records.length, 16 * KiB);
    expect(problems).toEqual([]);
  });

  it('a segment whose seal wrote the final marker but did not truncate yet is sealed at open with every record', async () => {
    const { dir, records } = await sealedLog();
    const file = path.join(dir, logSegmentName(1));
    fs.chmodSync(file, 0o644);
    fs.appendFileSync(file, Buffer.alloc(8 * KiB)); // the zero-filled room the truncate had not cut yet
    const problems = await checkReopened(dir, records, records.length, 16 * KiB);
    expect(problems).toEqual([]);
    expect(fs.statSync(file).mode & 0o222, 'sealed again: read-only').toBe(0);
  });
});

// --- bit flips ------------------------------------------------------------------------------------

const FLIP_SEGMENT = 16 * KiB;
/** 300 records of up to 700 bytes: several 16 KiB segments. */
const FLIP_LENGTHS = Array.from({ length: 300 }, (_, i) => ((i * 2654435761) >>> 0) % 700);

interface Built {
  dir: string;
  records: Buffer[];
  layout: ReturnType<typeof logLayout>;
}

async function buildForFlips(): Promise<Built> {
  const dir = tmpDir('aof-log-flip-');
  const records = FLIP_LENGTHS.map((n, i) => record(i + 1, n));
  await writeLog(dir, records, FLIP_SEGMENT);
  const layout = logLayout(FLIP_LENGTHS, FLIP_SEGMENT);
  expect(fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort()).toEqual(layout.map((s) => logSegmentName(s.firstId)));
  expect(layout.length).toBeGreaterThan(4);
  return { dir, records, layout };
}

/** Flips bit `bit` of byte `at` of `file` (a sealed, read-only file: the mode is kept). */
function flip(file: string, at: number, bit: number): void {
  const mode = fs.statSync(file).mode & 0o777;
  fs.chmodSync(file, 0o644);
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0]! ^= 1 << bit;
    fs.writeSync(fd, b, 0, 1, at);
  } finally {
    fs.closeSync(fd);
    fs.chmodSync(file, mode);
  }
}

/** The segment and offset of record `id` in the layout. */
function locate(layout: Built['layout'], id: number): { seg: (typeof layout)[number]; at: number } {
  const seg = [...layout].reverse().find((s) => s.firstId <= id)!;
  return { seg, at: seg.offsets[id - seg.firstId]! };
}

/** Problems reading a flipped log: the flipped record must fail precisely, the others (of `readable`) read back. */
async function checkFlipped(b: Built, id: number, readable: (other: number) => boolean): Promise<string[]> {
  const { seg, at } = locate(b.layout, id);
  const name = logSegmentName(seg.firstId);
  const problems: string[] = [];
  const log = await Log.open(b.dir, { segmentSize: FLIP_SEGMENT });
  try {
    try {
      log.get(id);
      problems.push(`get(${id}) did not throw`);
    } catch (e) {
      const code = (e as AofError).code;
      const message = (e as Error).message;
      if (code !== 'ERR_AOF_CORRUPT_DATA') problems.push(`get(${id}): ${code} ${message}`);
      else if (!message.includes(name) || !new RegExp(`\\b${at}\\b`).test(message) || !new RegExp(`\\b${id}\\b`).test(message)) {
        problems.push(`get(${id}): the message does not name ${name}, offset ${at} and id ${id}: ${message}`);
      }
    }
    for (let other = 1; other <= b.records.length; other++) {
      if (other === id || !readable(other)) continue;
      try {
        if (!log.get(other).equals(b.records[other - 1]!)) problems.push(`get(${other}) returned other bytes`);
      } catch (e) {
        problems.push(`get(${other}): ${(e as AofError).code} ${(e as Error).message}`);
        if (problems.length > 5) break;
      }
    }
    // The iterator yields every record before the flipped one, then throws at it.
    const seen: number[] = [];
    try {
      for (const r of log.iterator()) seen.push(r.id);
      problems.push('the iterator went past the flipped record');
    } catch (e) {
      if ((e as AofError).code !== 'ERR_AOF_CORRUPT_DATA') problems.push(`iterator: ${(e as AofError).code}`);
    }
    if (seen.length !== id - 1 && readable(id - 1)) problems.push(`the iterator yielded ${seen.length} records before throwing, expected ${id - 1}`);
    // And one started after it reads the rest.
    if (readable(id + 1) && id < b.records.length) {
      try {
        const rest = [...log.iterator(id + 1)].length;
        if (rest !== b.records.length - id) problems.push(`iterator(${id + 1}) yielded ${rest} records`);
      } catch (e) {
        problems.push(`iterator(${id + 1}): ${(e as AofError).code} ${(e as Error).message}`);
      }
    }
  } finally {
    await log.close();
  }
  return problems;
}

describe('record log bit flips', () => {
  it('a flipped bit in a record of a sealed segment: reading it is ERR_AOF_CORRUPT_DATA naming the segment, offset and id; every other record reads back (fast-check)', async () => {
    const b = await buildForFlips();
    const sealed = b.layout.slice(0, -1);
    const ids = sealed.flatMap((s) => s.offsets.map((_, i) => s.firstId + i));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ids), fc.nat(), fc.nat({ max: 7 }), async (id, pick, bit) => {
        const { seg, at } = locate(b.layout, id);
        const file = path.join(b.dir, logSegmentName(seg.firstId));
        // Any byte the CRC covers: the header (crc, length, type, index) or the payload.
        const byte = at + (pick % (16 + b.records[id - 1]!.length));
        flip(file, byte, bit);
        try {
          expect(await checkFlipped(b, id, () => true), `id ${id}, byte ${byte} (frame at ${at}), bit ${bit}`).toEqual([]);
        } finally {
          flip(file, byte, bit);
        }
      }),
      { numRuns: 30, seed: 0xf1ef },
    );
  });

  it('a flipped bit in a record of a sealed segment fails that record alone: every other record of every segment reads back', async () => {
    const b = await buildForFlips();
    const seg = b.layout[2]!;
    const id = seg.firstId + Math.floor(seg.offsets.length / 2);
    const { at } = locate(b.layout, id);
    const name = logSegmentName(seg.firstId);
    flip(path.join(b.dir, name), at + 16 + Math.floor(b.records[id - 1]!.length / 2), 3);
    // The index comes from the headers' lengths, which the flip left intact: only `id` fails.
    expect(await checkFlipped(b, id, () => true)).toEqual([]);
  });

  it('a flipped bit in the padding of a sealed segment\'s frame (no CRC covers it) changes no record', async () => {
    const b = await buildForFlips();
    const id = FLIP_LENGTHS.findIndex((n, i) => n % 8 !== 0 && i + 1 < b.layout[1]!.firstId) + 1;
    const { seg, at } = locate(b.layout, id);
    flip(path.join(b.dir, logSegmentName(seg.firstId)), at + 16 + FLIP_LENGTHS[id - 1]!, 0);
    const log = await Log.open(b.dir, { segmentSize: FLIP_SEGMENT });
    try {
      expect([...log.iterator()].every((r) => r.data.equals(b.records[r.id - 1]!))).toBe(true);
    } finally {
      await log.close();
    }
  });

  it('a flipped bit inside the active segment\'s frames: open fails with a typed error, or (padding) opens with every record intact; never a crash, a hang or wrong bytes (fast-check)', async () => {
    const b = await buildForFlips();
    const active = b.layout.at(-1)!;
    const file = path.join(b.dir, logSegmentName(active.firstId));
    fs.rmSync(`${file}-shm`, { force: true });
    const original = fs.readFileSync(file);
    const outcomes = { typedError: 0, intact: 0 };
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: active.size - 1 }), fc.nat({ max: 7 }), async (byte, bit) => {
        overwrite(file, original);
        flip(file, byte, bit);
        let log: Log | undefined;
        try {
          log = await Log.open(b.dir, { segmentSize: FLIP_SEGMENT });
        } catch (e) {
          expect(e, `byte ${byte} bit ${bit}`).toBeInstanceOf(AofError);
          expect(['ERR_AOF_CORRUPT_DATA', 'ERR_AOF_CORRUPTED'], `byte ${byte} bit ${bit}: ${(e as Error).message}`).toContain((e as AofError).code);
          outcomes.typedError++;
          return;
        }
        try {
          // Opened: the flip must have hit bytes no record owns (padding), and every record is intact.
          const frame = active.offsets.findLastIndex((o) => o <= byte);
          const length = FLIP_LENGTHS[active.firstId + frame - 1]!;
          expect(byte - active.offsets[frame]!, `byte ${byte} bit ${bit}: opened though the flip is inside a frame's CRC range`)
            .toBeGreaterThanOrEqual(16 + length);
          const wrong = [...log.iterator()].filter((r) => !r.data.equals(b.records[r.id - 1]!)).map((r) => r.id);
          expect(wrong).toEqual([]);
          expect(log.lastId).toBe(b.records.length);
          outcomes.intact++;
        } finally {
          await log.close();
        }
      }),
      { numRuns: 40, seed: 0xac71 },
    );
    overwrite(file, original);
    expect(outcomes.typedError).toBeGreaterThan(0);
  });

  it('a flipped bit in the middle of the active segment and a torn last frame (no control block): open fails with a typed error or keeps every whole frame, never silently drops the frames after the flip', async () => {
    const dir = tmpDir('aof-log-flip-');
    const lengths = [50, 60, 70, 80, 90, 100, 110];
    const records = lengths.map((n, i) => record(i + 1, n));
    await writeLog(dir, records, 256 * KiB);
    const seg = path.join(dir, logSegmentName(1));
    const [layout] = logLayout(lengths, 256 * KiB);
    const b = fs.readFileSync(seg);
    b[layout!.offsets[2]! + 16 + 10]! ^= 0x10; // record 3's payload
    b.fill(0, layout!.offsets[6]! + 20); // record 7 torn after 20 bytes
    overwrite(seg, b);
    fs.rmSync(`${seg}-shm`);
    let log: Log;
    try {
      log = await Log.open(dir, { segmentSize: 256 * KiB });
    } catch (e) {
      expect(e).toBeInstanceOf(AofError);
      return;
    }
    try {
      expect(log.lastId, 'records 3 to 6 were whole and acknowledged; only record 7 was torn').toBe(6);
    } finally {
      await log.close();
    }
  });

  it('segments a rolling batch opened ahead and never wrote (a crash before its first part) are dropped: the unsealed segment goes on', async () => {
    const dir = tmpDir('aof-log-ahead-');
    const records = Array.from({ length: 5 }, (_, i) => record(i + 1, 100));
    await writeLog(dir, records, 64 * KiB);
    // What a kill leaves between opening the next segments and writing the batch: empty segment
    // files after the last one, which is not sealed (one created and reserved, one only created).
    fs.writeFileSync(path.join(dir, logSegmentName(6)), Buffer.alloc(64 * KiB));
    fs.writeFileSync(path.join(dir, logSegmentName(9)), Buffer.alloc(0));
    const log = await Log.open(dir, { segmentSize: 64 * KiB });
    try {
      expect(log.lastId).toBe(5);
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.seg'))).toEqual([logSegmentName(1)]);
      expect(log.append(record(6, 100))).toBe(6);
      expect([...log.iterator()].map((r) => r.data)).toEqual([...records, record(6, 100)]);
    } finally {
      await log.close();
    }
  });
});
