/**
 * The record log (`src/log/`): one shared suite run against `Log.memory()` and
 * `Log.open(dir)` (as blb runs one suite over its mem and fs logs), then what only a log in a
 * directory has: reopening, sealed segments' index rebuilt from their frames, the single-writer lock.
 *
 * Where a test needs to know where segments roll (truncate at a boundary, trim), it computes the
 * boundaries with `logLayout` (test/helpers.ts), the roll rule of `src/log/log.ts` for single
 * appends (a record goes to a new segment when the current one holds something and its frame plus
 * the 8-byte tail magic would pass segmentSize); for a log in a directory a test checks that the
 * `.seg` file names agree with it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AofError, Log, type LogOptions } from '../src/index.js';
import {
  logFrameSize, logLayout, logSegmentName, pseudoRandomBytes, rejectionOf, settlesWithin, tmpDir, turns, turnsUntil,
} from './helpers.js';

const KiB = 1024;
const SEGMENT = 64 * KiB;

const frameSize = logFrameSize;

/** First ids of the segments a log of `segmentSize` holds after single appends of these lengths. */
function segmentStarts(lengths: readonly number[], segmentSize: number, firstId = 1): number[] {
  return logLayout(lengths, segmentSize, firstId).map((s) => s.firstId);
}

/** The firstId trim(discardUpTo) leaves: whole segments at or before it go, never the last one. */
function firstIdAfterTrim(starts: readonly number[], discardUpTo: number): number {
  let i = 0;
  while (i + 1 < starts.length && starts[i + 1]! - 1 <= discardUpTo) i++;
  return starts[i]!;
}

/** The record the tests append as id `id` (length chosen by the test). */
const record = (id: number, length: number): Buffer => pseudoRandomBytes(length, id * 7919 + 1);

/** A length per id: mostly small, some of a few KiB, some not a multiple of 8, a few empty. */
function lengthFor(id: number): number {
  const h = (id * 2654435761) >>> 0;
  if (h % 17 === 0) return 0;
  if (h % 11 === 0) return 2_000 + (h % 9_000);
  return h % 700;
}

function segFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();
}

const segName = logSegmentName;

/** Every id from..to whose data is not `expected(id)`; [] when all match. */
function mismatches(log: Log, from: number, to: number, expected: (id: number) => Uint8Array): number[] {
  const bad: number[] = [];
  for (let id = from; id <= to; id++) if (Buffer.compare(log.get(id), expected(id)) !== 0) bad.push(id);
  return bad;
}

/** The error `fn` throws (must be an AofError); fails if it does not throw. */
function errorOf(fn: () => unknown): AofError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AofError);
    return e as AofError;
  }
  throw new Error('expected an AofError');
}

interface Factory {
  name: string;
  files: boolean;
  open(options?: LogOptions): Promise<Log>;
}

const opened: Log[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()));
});

/** Every log a test opens is closed after it (before its directory is removed). */
function track(log: Log): Log {
  opened.push(log);
  return log;
}

const dirs = new WeakMap<Log, string>();
function dirOf(log: Log): string {
  const dir = dirs.get(log);
  if (dir !== undefined) return dir;
  throw new Error('not a log this file opened with openIn()');
}

async function openIn(dir: string, options: LogOptions = {}): Promise<Log> {
  const log = track(await Log.open(dir, options));
  dirs.set(log, dir);
  return log;
}


const factories: Factory[] = [
  { name: 'memory (Log.memory)', files: false, open: async (options) => track(Log.memory(options)) },
  { name: 'a directory (Log.open)', files: true, open: async (options) => openIn(tmpDir('aof-log-'), options) },
];

/** Appends ids firstId.. with lengthFor(id) one at a time; returns the lengths. */
function appendSingles(log: Log, count: number): number[] {
  const lengths: number[] = [];
  for (let k = 0; k < count; k++) {
    const id = log.lastId + 1;
    lengths.push(lengthFor(id));
    expect(log.append(record(id, lengthFor(id)))).toBe(id);
  }
  return lengths;
}

describe.each(factories)('the record log in $name', (factory) => {
  it('an empty log has firstId 1, lastId 0, isEmpty, no record to get and nothing to iterate', async () => {
    const log = await factory.open();
    expect(log.firstId).toBe(1);
    expect(log.lastId).toBe(0);
    expect(log.isEmpty).toBe(true);
    for (const id of [0, 1, 2, -1]) expect(errorOf(() => log.get(id)).code).toBe('ERR_AOF_NOT_FOUND');
    expect([...log.iterator()]).toEqual([]);
    expect([...log.iterator(1)]).toEqual([]);
    expect([...log.iterator(100)]).toEqual([]);
  });

  it('append returns consecutive ids from 1 and get returns the same bytes', async () => {
    const log = await factory.open();
    const data = [Buffer.from('one'), Buffer.from('two'), pseudoRandomBytes(1000, 3)];
    expect(data.map((d) => log.append(d))).toEqual([1, 2, 3]);
    expect(log.firstId).toBe(1);
    expect(log.lastId).toBe(3);
    expect(log.isEmpty).toBe(false);
    data.forEach((d, i) => expect(log.get(i + 1).equals(d)).toBe(true));
    expect(errorOf(() => log.get(4)).code).toBe('ERR_AOF_NOT_FOUND');
    expect(errorOf(() => log.get(0)).code).toBe('ERR_AOF_NOT_FOUND');
  });

  it('a batch append returns consecutive ids in order and every record round-trips; an empty batch appends nothing', async () => {
    const log = await factory.open();
    log.append(Buffer.from('first'));
    const batch = Array.from({ length: 10 }, (_, i) => record(i + 2, i * 37));
    expect(log.append(batch)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(log.append([])).toEqual([]);
    expect(log.lastId).toBe(11);
    expect(mismatches(log, 2, 11, (id) => batch[id - 2]!)).toEqual([]);
    expect(log.append([Buffer.from('a')])).toEqual([12]);
  });

  it('empty records and records of maxRecordSize and just under it round-trip byte for byte', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const max = SEGMENT - 24; // the default maxRecordSize of a 64 KiB segment: its frame + tail magic fill it exactly
    const lengths = [0, 0, max, max - 1, max - 7, 1, 0, max, 7, 8, 9];
    const data = lengths.map((n, i) => record(i + 1, n));
    expect(data.map((d) => log.append(d))).toEqual(lengths.map((_, i) => i + 1));
    expect(log.append([Buffer.alloc(0), record(99, max), Buffer.alloc(0)])).toEqual([12, 13, 14]);
    data.push(Buffer.alloc(0), record(99, max), Buffer.alloc(0));
    expect(mismatches(log, 1, data.length, (id) => data[id - 1]!)).toEqual([]);
    expect([...log.iterator()].map((r) => r.data.length)).toEqual(data.map((d) => d.length));
  });

  it('the firstId option numbers the first record; an empty log with it has lastId firstId - 1', async () => {
    const log = await factory.open({ firstId: 1_000_000 });
    expect(log.firstId).toBe(1_000_000);
    expect(log.lastId).toBe(999_999);
    expect(log.isEmpty).toBe(true);
    expect(log.append(Buffer.from('x'))).toBe(1_000_000);
    expect(log.append([Buffer.from('y'), Buffer.from('z')])).toEqual([1_000_001, 1_000_002]);
    expect(log.get(1_000_001).toString()).toBe('y');
    expect(errorOf(() => log.get(999_999)).code).toBe('ERR_AOF_NOT_FOUND');
    expect([...log.iterator(1)].map((r) => r.id)).toEqual([1_000_000, 1_000_001, 1_000_002]);
  });

  it('ids stay consecutive across many segment rolls (single and batch appends) and every id reads back after them', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const expected = new Map<number, Buffer>();
    let next = 1;
    for (let round = 0; next < 3_000; round++) {
      if (round % 3 === 0) {
        const d = record(next, lengthFor(next));
        expect(log.append(d)).toBe(next);
        expected.set(next++, d);
      } else {
        const batch = Array.from({ length: 1 + (round % 23) }, (_, k) => record(next + k, lengthFor(next + k)));
        const ids = log.append(batch);
        expect(ids).toEqual(batch.map((_, k) => next + k));
        batch.forEach((d, k) => expected.set(next + k, d));
        next += batch.length;
      }
    }
    expect(log.lastId).toBe(next - 1);
    let bytes = 0;
    for (const d of expected.values()) bytes += frameSize(d.length);
    expect(bytes / SEGMENT, 'the test rolls many segments').toBeGreaterThan(20);
    expect(mismatches(log, 1, log.lastId, (id) => expected.get(id)!)).toEqual([]);
    // Random access, backwards.
    for (let id = log.lastId; id >= 1; id -= 97) expect(log.get(id).equals(expected.get(id)!)).toBe(true);
    const ids = [...log.iterator()].map((r) => r.id);
    expect(ids.length).toBe(log.lastId);
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
  });

  it('a batch bigger than the rest of a segment spans the roll and keeps its ids consecutive', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const batch = Array.from({ length: 40 }, (_, i) => record(i + 1, 5_000 + i));
    expect(log.append(batch)).toEqual(batch.map((_, i) => i + 1));
    expect(mismatches(log, 1, 40, (id) => batch[id - 1]!)).toEqual([]);
    expect(log.append(record(41, 3))).toBe(41);
  });

  it('segments roll where the roll rule says (the test model agrees with the log)', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    expect(starts.length).toBeGreaterThan(3);
    if (factory.files) {
      await log.sync();
      expect(segFiles(dirOf(log))).toEqual(starts.map(segName));
    }
    // trim(lastId) keeps exactly the active segment: the model's last start.
    await log.trim(log.lastId);
    expect(log.firstId).toBe(starts.at(-1));
  });

  it('iterator from the start, from the middle, past the end and before the first id', async () => {
    const log = await factory.open({ segmentSize: SEGMENT, firstId: 10 });
    appendSingles(log, 500);
    const last = log.lastId;
    expect(last).toBe(509);
    const ids = (start?: number) => [...(start === undefined ? log.iterator() : log.iterator(start))].map((r) => r.id);
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
    expect(ids()).toEqual(range(10, last));
    expect(ids(10)).toEqual(range(10, last));
    expect(ids(250)).toEqual(range(250, last));
    expect(ids(last)).toEqual([last]);
    expect(ids(last + 1)).toEqual([]);
    expect(ids(last + 1000)).toEqual([]);
    expect(ids(1)).toEqual(range(10, last));
    expect(ids(-5)).toEqual(range(10, last));
    for (const r of log.iterator(300)) {
      expect(r.data.equals(record(r.id, lengthFor(r.id)))).toBe(true);
    }
    expect(() => log.iterator(1.5).next()).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
  });

  it('an iterator sees records appended while it runs, across segment rolls', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    appendSingles(log, 10);
    const expected = new Map<number, Buffer>();
    for (let id = 1; id <= 10; id++) expected.set(id, record(id, lengthFor(id)));
    const seen: number[] = [];
    const wrong: number[] = [];
    for (const r of log.iterator()) {
      seen.push(r.id);
      if (!r.data.equals(expected.get(r.id)!)) wrong.push(r.id);
      // Keep appending (3+ KiB records: they roll segments) until id 200 exists.
      if (log.lastId < 200) {
        const id = log.lastId + 1;
        const more = id % 2 === 0 ? [record(id, 3_000 + lengthFor(id))] : [record(id, 3_000 + lengthFor(id)), record(id + 1, lengthFor(id + 1))];
        more.forEach((d, k) => expected.set(id + k, d));
        if (more.length === 1) log.append(more[0]!);
        else log.append(more);
      }
    }
    expect(wrong).toEqual([]);
    expect(log.lastId).toBeGreaterThanOrEqual(200);
    expect(seen.length).toBe(log.lastId);
    expect(seen.every((id, i) => id === i + 1)).toBe(true);
  });

  it('truncate in the middle of a segment drops every later record; get and iterator agree', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    const keep = starts[2]! + 5; // inside the third segment (a sealed one)
    expect(keep).toBeLessThan(starts[3]! - 1);
    await log.truncate(keep);
    expect(log.firstId).toBe(1);
    expect(log.lastId).toBe(keep);
    expect(errorOf(() => log.get(keep + 1)).code).toBe('ERR_AOF_NOT_FOUND');
    expect(mismatches(log, 1, keep, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect([...log.iterator()].length).toBe(keep);
    expect([...log.iterator(keep + 1)]).toEqual([]);
    // And in the middle of the segment that now takes appends.
    await log.truncate(keep - 2);
    expect(log.lastId).toBe(keep - 2);
    expect(mismatches(log, 1, keep - 2, (id) => record(id, lengthFor(id)))).toEqual([]);
  });

  it('truncate at a segment boundary keeps the whole segment before it and drops the ones after', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    const keep = starts[3]! - 1; // the last id of the third segment
    await log.truncate(keep);
    expect(log.lastId).toBe(keep);
    expect(mismatches(log, 1, keep, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect(log.append(Buffer.from('after'))).toBe(keep + 1);
    expect(log.get(keep + 1).toString()).toBe('after');
    expect(log.get(keep).equals(record(keep, lengthFor(keep)))).toBe(true);
  });

  it('truncate at or past the last id is a no-op', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    appendSingles(log, 300);
    await log.truncate(300);
    await log.truncate(301);
    await log.truncate(Number.MAX_SAFE_INTEGER);
    expect(log.lastId).toBe(300);
    expect(mismatches(log, 1, 300, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect(log.append(Buffer.from('x'))).toBe(301);
  });

  it('truncate before the first record empties the log, and the next id is still firstId', async () => {
    const log = await factory.open({ segmentSize: SEGMENT, firstId: 50 });
    appendSingles(log, 400);
    await log.truncate(3);
    expect(log.firstId).toBe(50);
    expect(log.lastId).toBe(49);
    expect(log.isEmpty).toBe(true);
    expect([...log.iterator()]).toEqual([]);
    expect(errorOf(() => log.get(50)).code).toBe('ERR_AOF_NOT_FOUND');
    expect(log.append(Buffer.from('again'))).toBe(50);
    expect(log.get(50).toString()).toBe('again');
    await log.truncate(49);
    expect(log.isEmpty).toBe(true);
    expect(log.append([Buffer.from('a'), Buffer.from('b')])).toEqual([50, 51]);
  });

  it('truncate to before the first record after a trim keeps the trimmed firstId', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    await log.trim(starts[2]! - 1);
    expect(log.firstId).toBe(starts[2]);
    await log.truncate(0);
    expect(log.firstId).toBe(starts[2]);
    expect(log.lastId).toBe(starts[2]! - 1);
    expect(log.append(Buffer.from('x'))).toBe(starts[2]);
  });

  it('trim before the first record, or before the end of the first segment, is a no-op', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    await log.trim(0);
    await log.trim(-10);
    await log.trim(starts[1]! - 2); // one short of the first segment's last record
    expect(log.firstId).toBe(1);
    expect(log.lastId).toBe(600);
    expect(mismatches(log, 1, 600, (id) => record(id, lengthFor(id)))).toEqual([]);
  });

  it('trim drops the whole segments at or before discardUpTo and moves firstId to the first record kept', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    // Exactly at the end of the first segment: it goes.
    await log.trim(starts[1]! - 1);
    expect(log.firstId).toBe(starts[1]);
    // Inside the third segment: only the second goes.
    await log.trim(starts[2]! + 3);
    expect(log.firstId).toBe(starts[2]);
    expect(firstIdAfterTrim(starts, starts[2]! + 3)).toBe(starts[2]);
    expect(log.lastId).toBe(600);
    expect(errorOf(() => log.get(starts[2]! - 1)).code).toBe('ERR_AOF_NOT_FOUND');
    expect(mismatches(log, starts[2]!, 600, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect([...log.iterator()].map((r) => r.id)[0]).toBe(starts[2]);
    expect([...log.iterator(1)].length).toBe(600 - starts[2]! + 1);
    if (factory.files) {
      await log.sync();
      expect(segFiles(dirOf(log))).toEqual(starts.slice(2).map(segName));
    }
  });

  it('trim never drops the active segment, even past the last id', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    await log.trim(Number.MAX_SAFE_INTEGER);
    expect(log.firstId).toBe(starts.at(-1));
    expect(log.lastId).toBe(600);
    expect(mismatches(log, log.firstId, 600, (id) => record(id, lengthFor(id)))).toEqual([]);
    // A log of one segment: nothing to drop.
    const single = await factory.open({ segmentSize: SEGMENT });
    single.append(Buffer.from('only'));
    await single.trim(100);
    expect(single.firstId).toBe(1);
    expect(single.get(1).toString()).toBe('only');
  });

  it('appends after truncate and trim continue the ids', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    await log.truncate(450);
    expect(appendSingles(log, 50).length).toBe(50);
    expect(log.lastId).toBe(500);
    await log.trim(starts[3]!);
    expect(log.firstId).toBe(starts[3]);
    expect(log.append([Buffer.from('a'), Buffer.from('b')])).toEqual([501, 502]);
    expect(mismatches(log, log.firstId, 500, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect([...log.iterator()].map((r) => r.id)).toEqual(Array.from({ length: 502 - starts[3]! + 1 }, (_, i) => starts[3]! + i));
  });

  it('tail() yields the records from startId, then follows appends across turns and rolls', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    appendSingles(log, 20);
    const expected = new Map<number, Buffer>();
    for (let id = 1; id <= 20; id++) expected.set(id, record(id, lengthFor(id)));
    const seen: Array<{ id: number; ok: boolean }> = [];
    const ac = new AbortController();
    const following = (async () => {
      for await (const r of log.tail(5, { signal: ac.signal })) seen.push({ id: r.id, ok: r.data.equals(expected.get(r.id)!) });
    })();
    following.catch(() => {});
    await turnsUntil(() => seen.length === 16, 'the records already there');
    for (let k = 0; k < 30; k++) {
      const id = log.lastId + 1;
      // 5 to 10 KiB a record: the appends roll segments while the tail follows.
      const batch = Array.from({ length: 1 + (k % 3) }, (_, j) => record(id + j, 5_000 + lengthFor(id + j)));
      batch.forEach((d, j) => expected.set(id + j, d));
      if (batch.length === 1) log.append(batch[0]!);
      else log.append(batch);
      await turnsUntil(() => seen.at(-1)?.id === log.lastId, `record ${log.lastId}`);
    }
    // A burst in one turn: followed too.
    for (let k = 0; k < 40; k++) {
      const id = log.lastId + 1;
      expected.set(id, record(id, lengthFor(id)));
      log.append(expected.get(id)!);
    }
    await turnsUntil(() => seen.at(-1)?.id === log.lastId, 'the burst');
    expect(log.lastId * 1_000, 'the appends rolled segments').toBeGreaterThan(3 * SEGMENT / 10);
    expect(seen.map((s) => s.id)).toEqual(Array.from({ length: log.lastId - 4 }, (_, i) => i + 5));
    expect(seen.every((s) => s.ok)).toBe(true);
    ac.abort();
    await rejectionOf(following);
  });

  it('tail() past the end waits for that id; tail() ends when the log closes', async () => {
    const log = await factory.open({ segmentSize: SEGMENT });
    appendSingles(log, 3);
    const seen: number[] = [];
    const following = (async () => {
      for await (const r of log.tail(6)) seen.push(r.id);
      return 'ended';
    })();
    appendSingles(log, 2); // ids 4, 5: before the start
    await turns(20);
    expect(seen).toEqual([]);
    appendSingles(log, 2); // ids 6, 7
    await turnsUntil(() => seen.length === 2, 'ids 6 and 7');
    expect(seen).toEqual([6, 7]);
    const closing = log.close();
    expect(await settlesWithin(following, 1_000), 'the loop ends once the log closes').toBe(true);
    expect(await following).toBe('ended');
    await closing;
    // A tail of a closed log ends at once.
    const after: number[] = [];
    for await (const r of log.tail()) after.push(r.id);
    expect(after).toEqual([]);
  });

  it('tail() rejects with the signal\'s reason on abort, while waiting and before starting', async () => {
    const log = await factory.open();
    log.append(Buffer.from('a'));
    const ac = new AbortController();
    const seen: number[] = [];
    const following = (async () => {
      for await (const r of log.tail(1, { signal: ac.signal })) seen.push(r.id);
    })();
    following.catch(() => {});
    await turnsUntil(() => seen.length === 1, 'record 1');
    const reason = new Error('stop now');
    ac.abort(reason);
    expect(await settlesWithin(following, 1_000)).toBe(true);
    expect(await rejectionOf(following)).toBe(reason);
    const aborted = AbortSignal.abort(new Error('already'));
    const e = await rejectionOf((async () => {
      for await (const _ of log.tail(1, { signal: aborted })) { /* nothing */ }
    })());
    expect((e as Error).message).toBe('already');
  });

  it('a record over maxRecordSize is ERR_AOF_RECORD_TOO_BIG and nothing is written, alone or in a batch', async () => {
    const log = await factory.open({ segmentSize: SEGMENT, maxRecordSize: 1_000 });
    log.append(Buffer.from('before'));
    expect(errorOf(() => log.append(Buffer.alloc(1_001))).code).toBe('ERR_AOF_RECORD_TOO_BIG');
    expect(errorOf(() => log.append([Buffer.from('ok'), Buffer.alloc(1_001), Buffer.from('ok too')])).code)
      .toBe('ERR_AOF_RECORD_TOO_BIG');
    expect(log.lastId).toBe(1);
    expect([...log.iterator()].map((r) => r.data.toString())).toEqual(['before']);
    expect(log.append(Buffer.alloc(1_000, 7))).toBe(2);
    expect(log.append(Buffer.from('after'))).toBe(3);
    // The default maxRecordSize is 1 MiB (with segments big enough for it).
    const big = await factory.open({ segmentSize: 4 * 1024 * KiB });
    expect(big.append(Buffer.alloc(1024 * KiB, 1))).toBe(1);
    expect(errorOf(() => big.append(Buffer.alloc(1024 * KiB + 1))).code).toBe('ERR_AOF_RECORD_TOO_BIG');
    expect(big.lastId).toBe(1);
  });

  it('bad options and arguments are ERR_AOF_INVALID_ARG', async () => {
    const bad: LogOptions[] = [
      { segmentSize: 4095 }, { segmentSize: 1.5 * KiB }, { segmentSize: -1 }, { segmentSize: Number.NaN },
      { segmentSize: 65536.5 }, { segmentSize: '65536' as unknown as number },
      { maxRecordSize: -1 }, { maxRecordSize: 1.5 }, { segmentSize: SEGMENT, maxRecordSize: SEGMENT },
      { sync: 'yes' as unknown as boolean },
      { firstId: 0 }, { firstId: -1 }, { firstId: 1.5 }, { firstId: 2 ** 53 },
      null as unknown as LogOptions,
    ];
    for (const options of bad) {
      const e = await rejectionOf(factory.open(options));
      expect(e, JSON.stringify(options)).toBeInstanceOf(AofError);
      expect((e as AofError).code, JSON.stringify(options)).toBe('ERR_AOF_INVALID_ARG');
    }
    const log = await factory.open();
    expect(errorOf(() => log.append('text' as unknown as Uint8Array)).code).toBe('ERR_AOF_INVALID_ARG');
    expect(errorOf(() => log.append([Buffer.from('a'), 'b' as unknown as Uint8Array])).code).toBe('ERR_AOF_INVALID_ARG');
    expect(log.lastId).toBe(0);
    expect((await rejectionOf(log.truncate(1.5)) as AofError).code).toBe('ERR_AOF_INVALID_ARG');
    expect((await rejectionOf(log.trim(Number.NaN)) as AofError).code).toBe('ERR_AOF_INVALID_ARG');
  });

  it('a closed log refuses appends and reads with ERR_AOF_CLOSED; close is idempotent', async () => {
    const log = await factory.open();
    log.append(Buffer.from('a'));
    const first = log.close();
    expect(log.close()).toBe(first);
    await first;
    expect(errorOf(() => log.append(Buffer.from('b'))).code).toBe('ERR_AOF_CLOSED');
    expect(errorOf(() => log.get(1)).code).toBe('ERR_AOF_CLOSED');
    expect((await rejectionOf(log.truncate(0)) as AofError).code).toBe('ERR_AOF_CLOSED');
    expect((await rejectionOf(log.sync()) as AofError).code).toBe('ERR_AOF_CLOSED');
  });

  it('sync() and the sync option leave every record readable', async () => {
    const log = await factory.open({ segmentSize: SEGMENT, sync: true });
    appendSingles(log, 30);
    await log.sync();
    expect(mismatches(log, 1, 30, (id) => record(id, lengthFor(id)))).toEqual([]);
  });
});

// --- a log in a directory -------------------------------------------------------------------------

describe('the record log in a directory', () => {
  it('reopening keeps every record, firstId and lastId, across many rolls', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: SEGMENT });
    appendSingles(log, 400);
    log.append(Array.from({ length: 300 }, (_, k) => record(401 + k, lengthFor(401 + k))));
    await log.close();
    const again = await openIn(dir, { segmentSize: SEGMENT });
    expect(again.firstId).toBe(1);
    expect(again.lastId).toBe(700);
    expect(mismatches(again, 1, 700, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect(again.append(Buffer.from('more'))).toBe(701);
    await again.close();
    const third = await openIn(dir, { segmentSize: SEGMENT });
    expect(third.lastId).toBe(701);
    expect(third.get(701).toString()).toBe('more');
    expect([...third.iterator()].length).toBe(701);
  });

  it('reopening right after the appends that rolled (seals still in flight at close) keeps everything', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: 16 * KiB });
    for (let id = 1; id <= 200; id++) log.append(record(id, lengthFor(id)));
    await log.close();
    const names = fs.readdirSync(dir);
    expect(names.filter((n) => n.endsWith('.seg')).length).toBeGreaterThan(5);
    const again = await openIn(dir, { segmentSize: 16 * KiB });
    expect(again.lastId).toBe(200);
    expect(mismatches(again, 1, 200, (id) => record(id, lengthFor(id)))).toEqual([]);
  });

  it('a firstId option is the first id of a new log only: reopening keeps the log\'s own ids', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { firstId: 77 });
    log.append(Buffer.from('x'));
    await log.close();
    const again = await openIn(dir, { firstId: 5 });
    expect(again.firstId).toBe(77);
    expect(again.lastId).toBe(77);
    expect(again.append(Buffer.from('y'))).toBe(78);
  });

  it('reopening after truncate (middle, boundary, before start) and trim keeps the new state', async () => {
    const dir = tmpDir('aof-log-');
    const opts = { segmentSize: SEGMENT };
    let log = await openIn(dir, opts);
    const lengths = appendSingles(log, 600);
    const starts = segmentStarts(lengths, SEGMENT);
    const reopen = async (): Promise<Log> => {
      await log.close();
      log = await openIn(dir, opts);
      return log;
    };
    await log.truncate(starts[4]! + 3);
    await reopen();
    expect([log.firstId, log.lastId]).toEqual([1, starts[4]! + 3]);
    expect(mismatches(log, 1, log.lastId, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'intent.json'))).toBe(false);

    await log.truncate(starts[3]! - 1);
    await reopen();
    expect([log.firstId, log.lastId]).toEqual([1, starts[3]! - 1]);
    appendSingles(log, 5);
    await reopen();
    expect(log.lastId).toBe(starts[3]! + 4);

    await log.trim(starts[2]!);
    await reopen();
    expect([log.firstId, log.lastId]).toEqual([starts[2], starts[3]! + 4]);
    expect(mismatches(log, log.firstId, log.lastId, (id) => record(id, lengthFor(id)))).toEqual([]);

    await log.truncate(0);
    await reopen();
    expect([log.firstId, log.lastId, log.isEmpty]).toEqual([starts[2], starts[2]! - 1, true]);
    expect(log.append(Buffer.from('z'))).toBe(starts[2]);
    await reopen();
    expect(log.get(starts[2]!).toString()).toBe('z');
  });

  it('trim and truncate right after a roll (its seal in flight) leave no file of a dropped segment behind', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: 16 * KiB });
    for (let id = 1; log.lastId < 3 || segFiles(dir).length < 3; id++) log.append(record(id, 1_000));
    await log.trim(log.lastId); // the segment sealed by the last roll goes while its finish() runs
    const kept = log.firstId;
    while (segFiles(dir).length < 3) log.append(record(log.lastId + 1, 1_000));
    const boundary = Number(segFiles(dir)[1]!.slice(0, 16));
    await log.truncate(boundary - 2); // the newest segments go while the last seal runs
    await new Promise((resolve) => setTimeout(resolve, 50)); // any seal job still running ends
    const files = fs.readdirSync(dir).sort();
    const expected = [logSegmentName(kept), logSegmentName(kept) + '-shm'];
    expect(files, 'only the rewritten segment and its control block').toEqual(expected);
    await log.close();
    const again = await openIn(dir, { segmentSize: 16 * KiB });
    expect([again.firstId, again.lastId]).toEqual([kept, boundary - 2]);
  });

  it('sealed segments keep no index file: their index is rebuilt from the frame headers on first use, every record reads back', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: SEGMENT });
    appendSingles(log, 600);
    await log.close();
    const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(3);
    expect(fs.readdirSync(dir).filter((n) => !n.endsWith('.seg') && !n.endsWith('-shm'))).toEqual([]);
    const again = await openIn(dir, { segmentSize: SEGMENT });
    expect(mismatches(again, 1, 600, (id) => record(id, lengthFor(id)))).toEqual([]);
    expect([...again.iterator()].length).toBe(600);
  });

  it('a stale .idx left by an older version is ignored: it can never make get(id) return another record', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: SEGMENT });
    appendSingles(log, 600);
    await log.close();
    for (const n of fs.readdirSync(dir).filter((n) => n.endsWith('.seg'))) {
      fs.writeFileSync(path.join(dir, `${n}.idx`), Buffer.alloc(600 * 4)); // zeros: every offset 0
    }
    const again = await openIn(dir, { segmentSize: SEGMENT });
    expect(mismatches(again, 1, 600, (id) => record(id, lengthFor(id)))).toEqual([]);
  });

  it('a second Log.open of the same directory while it is open is ERR_AOF_LOCKED, and the first log is unharmed', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: SEGMENT });
    appendSingles(log, 300);
    const before = fs.readdirSync(dir).sort();
    const e = await rejectionOf(Log.open(dir, { segmentSize: SEGMENT }));
    expect(e).toBeInstanceOf(AofError);
    expect((e as AofError).code).toBe('ERR_AOF_LOCKED');
    // Also right after a roll (a seal may be in flight).
    const id = log.lastId + 1;
    log.append(record(id, SEGMENT - 100));
    expect(((await rejectionOf(Log.open(dir, { segmentSize: SEGMENT }))) as AofError).code).toBe('ERR_AOF_LOCKED');
    expect(fs.readdirSync(dir).filter((n) => before.includes(n) || n.endsWith('.seg')).length).toBeGreaterThanOrEqual(before.length);
    appendSingles(log, 10);
    expect(mismatches(log, 1, 300, (i) => record(i, lengthFor(i)))).toEqual([]);
    await log.close();
    const again = await openIn(dir, { segmentSize: SEGMENT });
    expect(again.lastId).toBe(311);
  });

  it('ERR_AOF_INVALID_ARG for a bad directory argument', async () => {
    for (const dir of ['', 42, undefined] as unknown as string[]) {
      expect(((await rejectionOf(Log.open(dir))) as AofError).code).toBe('ERR_AOF_INVALID_ARG');
    }
  });

  it('a too-big record writes nothing to the segment file', async () => {
    const dir = tmpDir('aof-log-');
    const log = await openIn(dir, { segmentSize: SEGMENT, maxRecordSize: 100 });
    log.append(Buffer.from('kept'));
    await log.sync();
    const file = path.join(dir, segName(1));
    const before = fs.readFileSync(file);
    expect(errorOf(() => log.append(Buffer.alloc(101, 1))).code).toBe('ERR_AOF_RECORD_TOO_BIG');
    expect(errorOf(() => log.append([Buffer.from('x'), Buffer.alloc(101, 1)])).code).toBe('ERR_AOF_RECORD_TOO_BIG');
    await log.sync();
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    await log.close();
    const again = await openIn(dir, { segmentSize: SEGMENT, maxRecordSize: 100 });
    expect(again.lastId).toBe(1);
  });
});
