/**
 * Manager.stats(): every counter changes when the thing it counts happens, and only then. Each
 * test takes a snapshot before and after one operation and compares the two.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AofError, Geometry, Manager, MiB, TailerState, type AOF, type Stats, type TimeCounter } from '../src/index.js';
import { codeOf, isRoot, mountTmpfs, nextTurn, quietManager, settlesWithin, skipTitle, tmpDir, turnsUntil, unmountTmpfs } from './helpers.js';

const PAGE = Geometry.create().validate().pageSize;
const pageUp = (n: number) => Math.ceil(n / PAGE) * PAGE;

/** The counters that changed between two snapshots, as `after - before` (time counters: their count). */
function delta(before: Stats, after: Stats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(after) as (keyof Stats)[]) {
    const a = after[key];
    const b = before[key];
    const d = typeof a === 'number' ? a - (b as number) : a.count - (b as TimeCounter).count;
    if (d !== 0) out[key] = d;
  }
  return out;
}

/** The gauges agree with the files the manager has open (call it when no grow is in flight). */
function expectConsistent(m: Manager): void {
  const s = m.stats();
  const files = m.files();
  const onDisk = files.filter((f) => !f.anonymous);
  expect(s.activeMaps).toBe(files.length);
  expect(s.activeFileSize).toBe(onDisk.reduce((sum, f) => sum + fs.statSync(f.path).size, 0));
  expect(s.activeFileSize).toBe(onDisk.reduce((sum, f) => sum + f.fileSize, 0));
  expect(s.activeMappedMemory).toBe(onDisk.reduce((sum, f) => sum + pageUp(f.fileSize), 0));
  expect(s.activeAnonymousMemory).toBe(files.filter((f) => f.anonymous).reduce((sum, f) => sum + f.fileSize, 0));
  expect(s.lifetimeMemory).toBeGreaterThanOrEqual(s.activeMappedMemory + s.activeAnonymousMemory);
}

const DESIGN_FIELDS = [
  'creates', 'opens', 'openErrors', 'closes', 'activeMaps', 'activeFileSize', 'activeMappedMemory',
  'activeAnonymousMemory', 'lifetimeMemory', 'flushes', 'flushErrors', 'finishes', 'finishErrors', 'syncs',
  'syncErrors', 'maps', 'mapErrors', 'unmaps', 'unmapErrors', 'truncates', 'truncateErrors', 'chmods',
  'chmodErrors', 'writes', 'bytesWritten', 'blockingGrows', 'tailers', 'tailerWakes',
];
const TIME_COUNTERS = ['flushes', 'finishes', 'syncs', 'blockingGrows', 'backgroundGrows'];

describe('the stats snapshot', () => {
  it('has every field docs/api.md lists; time counters are {count, totalNs, maxNs}, the rest numbers', async () => {
    const m = quietManager();
    const s = m.stats();
    expect(Object.keys(s)).toEqual(expect.arrayContaining([...DESIGN_FIELDS, 'backgroundGrows', 'growErrors']));
    for (const [key, value] of Object.entries(s)) {
      if (TIME_COUNTERS.includes(key)) {
        expect(Object.keys(value).sort(), key).toEqual(['count', 'maxNs', 'totalNs']);
        for (const v of Object.values(value as TimeCounter)) expect(typeof v, key).toBe('number');
      } else {
        expect(typeof value, key).toBe('number');
      }
    }
    // a fresh manager has counted nothing
    for (const [key, value] of Object.entries(s)) {
      expect(typeof value === 'number' ? value : (value as TimeCounter).count, key).toBe(0);
    }
    await m.close();
  });

  it('is a copy: mutating it does not change the next snapshot, nor does another manager', async () => {
    const m = quietManager();
    const other = quietManager();
    const aof = m.open('a.aof');
    aof.write('abc');
    aof.flushSync();
    const s = m.stats();
    const expected = structuredClone(s);
    s.opens = 1000;
    s.writes = 1000;
    s.flushes.count = 1000;
    s.flushes.totalNs = -1;
    (s as unknown as Record<string, unknown>).blockingGrows = null;
    expect(m.stats()).toEqual(expected);
    expect(m.stats()).not.toBe(m.stats());
    expect(m.stats().flushes).not.toBe(m.stats().flushes);
    expect(other.stats().opens).toBe(0); // stats are per manager
    expect(other.stats().writes).toBe(0);
    await m.close();
    await other.close();
  });
});

describe('write counters', () => {
  it('a write, an append and a checkpoint each count once with their bytes; failed ones do not count', async () => {
    const m = quietManager();
    const aof = m.open('w.aof');
    let before = m.stats();
    expect(aof.write('hello')).toBe(5);
    expect(delta(before, m.stats())).toEqual({ writes: 1, bytesWritten: 5 });

    before = m.stats();
    aof.write(Buffer.alloc(100, 1));
    expect(delta(before, m.stats())).toEqual({ writes: 1, bytesWritten: 100 });

    before = m.stats();
    aof.append(50, (ev) => {
      ev.tail.fill(2, 0, 20);
      return 20;
    });
    expect(delta(before, m.stats())).toEqual({ writes: 1, bytesWritten: 20 });

    before = m.stats();
    aof.checkpoint();
    expect(delta(before, m.stats())).toEqual({ writes: 1, bytesWritten: 8 });

    before = m.stats();
    expect(codeOf(() => aof.append(10, () => {
      throw new Error('no');
    }))).toBe('ERR_AOF_APPEND_FUNC');
    expect(codeOf(() => aof.append(10, () => 11))).toBe('ERR_AOF_APPEND_FUNC');
    expect(codeOf(() => aof.writeNonBlocking(Buffer.alloc(2 * PAGE)))).toBe('ERR_AOF_WOULD_BLOCK');
    expect(codeOf(() => aof.write(42 as unknown as string))).toBe('ERR_AOF_INVALID_ARG');
    expect(m.stats()).toEqual(before);
    expect(aof.size).toBe(133);
    await m.close();
  });

  it('counts survive close: closed files keep their totals, reopened files add only their new bytes', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const a = m.open('a.aof');
    const b = m.open('b.aof');
    a.write('aaaa');
    a.write('aa');
    b.write('bbb');
    expect(m.stats()).toMatchObject({ writes: 3, bytesWritten: 9 });

    await a.close();
    expect(m.stats()).toMatchObject({ writes: 3, bytesWritten: 9 });

    const again = m.open('a.aof'); // 6 bytes recovered: not written by this open
    expect(again.size).toBe(6);
    expect(m.stats()).toMatchObject({ writes: 3, bytesWritten: 9 });
    again.write('x');
    expect(m.stats()).toMatchObject({ writes: 4, bytesWritten: 10 });

    await m.close();
    expect(m.stats()).toMatchObject({ writes: 4, bytesWritten: 10, closes: 3 });
    expect(codeOf(() => again.write('y'))).toBe('ERR_AOF_CLOSED');
    expect(m.stats()).toMatchObject({ writes: 4, bytesWritten: 10 });
  });
});

describe('open and close counters', () => {
  it('an open that creates counts creates and opens; a reopen only opens; an anonymous open only opens', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    let before = m.stats();
    const aof = m.open('n.aof');
    expect(delta(before, m.stats())).toMatchObject({ creates: 1, opens: 1 });
    expect(m.stats().openErrors).toBe(0);
    await aof.close();

    before = m.stats();
    m.open('n.aof');
    const d = delta(before, m.stats());
    expect(d.opens).toBe(1);
    expect(d.creates).toBeUndefined();

    before = m.stats();
    const anon = m.openAnonymous('mem', 3 * PAGE);
    expect(delta(before, m.stats())).toEqual({
      opens: 1, maps: 1, activeMaps: 1, activeAnonymousMemory: 3 * PAGE, lifetimeMemory: 3 * PAGE,
    });
    expect(anon.fileSize).toBe(3 * PAGE);

    // a file another manager created counts as an open here, not a create
    const other = quietManager(dir);
    other.open('elsewhere.aof');
    await other.close();
    before = m.stats();
    m.open('elsewhere.aof');
    expect(delta(before, m.stats()).creates).toBeUndefined();
    expectConsistent(m);
    await m.close();
  });

  it('a failed open counts in openErrors only, and leaves no mapping or file size behind', async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'sub.aof'));
    const torn = Buffer.alloc(2 * PAGE);
    torn.write('a torn write, no marker');
    fs.writeFileSync(path.join(dir, 'torn.aof'), torn);
    const m = quietManager(dir);
    m.open('ok.aof').write('ok');

    let before = m.stats();
    expect(codeOf(() => m.open('missing.aof', Geometry.open()))).toBe('ERR_AOF_NOT_FOUND');
    expect(delta(before, m.stats())).toEqual({ openErrors: 1 });

    before = m.stats();
    expect(codeOf(() => m.open('sub.aof'))).toBe('ERR_AOF_IS_DIRECTORY');
    expect(delta(before, m.stats())).toEqual({ openErrors: 1 });

    // recovery fails after the file was mapped: the mapping is counted and released again
    before = m.stats();
    expect(codeOf(() => m.open('torn.aof'))).toBe('ERR_AOF_CORRUPTED');
    const d = delta(before, m.stats());
    expect(d.openErrors).toBe(1);
    expect(d.opens).toBeUndefined();
    expect(d.creates).toBeUndefined();
    expect(d.activeMaps).toBeUndefined();
    expect(d.activeFileSize).toBeUndefined();
    expect(d.activeMappedMemory).toBeUndefined();
    expect(d.maps ?? 0).toBe(d.unmaps ?? 0);
    expectConsistent(m);
    await m.close();
  });

  it('close counts closes and unmaps and gives back exactly what the open took', async () => {
    const m = quietManager();
    m.open('stays.aof').write('x');
    const baseline = m.stats();
    const aof = m.open('c.aof', Geometry.create().with(2 * PAGE, 16 * MiB, 16 * PAGE));
    aof.write(Buffer.alloc(5 * PAGE, 1)); // one blocking grow: a second mapping call, same mapping
    const anon = m.openAnonymous('mem', PAGE);
    anon.write('anon');
    const open = m.stats();
    expect(open.activeMaps).toBe(baseline.activeMaps + 2);
    expect(open.activeFileSize).toBe(baseline.activeFileSize + aof.fileSize);
    expect(open.activeMappedMemory).toBe(baseline.activeMappedMemory + aof.fileSize);
    expect(open.activeAnonymousMemory).toBe(baseline.activeAnonymousMemory + PAGE);
    expectConsistent(m);

    await aof.close();
    const closed = m.stats();
    expect(delta(open, closed)).toEqual({
      closes: 1,
      // close makes what was written durable: one flush, one request
      flushes: 1,
      syncs: 1,
      unmaps: 1,
      activeMaps: -1,
      activeFileSize: -aof.fileSize,
      activeMappedMemory: -aof.fileSize,
    });
    expect(closed.activeFileSize).toBe(baseline.activeFileSize);
    expect(closed.activeMappedMemory).toBe(baseline.activeMappedMemory);
    expect(closed.lifetimeMemory).toBe(open.lifetimeMemory); // a lifetime total never goes down

    await anon.close();
    expect(delta(closed, m.stats())).toEqual({ closes: 1, unmaps: 1, activeMaps: -1, activeAnonymousMemory: -PAGE });
    expect(m.stats().activeAnonymousMemory).toBe(baseline.activeAnonymousMemory);
    await anon.close(); // idempotent: counted once
    expect(m.stats().closes).toBe(closed.closes + 1);
    expectConsistent(m);

    await m.close();
    expect(m.stats()).toMatchObject({
      closes: 3, unmaps: 3, activeMaps: 0, activeFileSize: 0, activeMappedMemory: 0, activeAnonymousMemory: 0,
    });
  });
});

describe('growth counters', () => {
  it('a blocking grow (growAhead: false): blockingGrows, maps and the sizes move by the delta', async () => {
    const m = quietManager();
    const step = 16 * PAGE;
    const aof = m.open('g.aof', Geometry.create().with(PAGE, 16 * MiB, step));
    expect(aof.fileSize).toBe(PAGE);
    const before = m.stats();
    aof.write(Buffer.alloc(PAGE, 3)); // PAGE + 8 bytes of content + magic: past the file size
    const after = m.stats();
    const grown = aof.fileSize - PAGE;
    expect(aof.fileSize).toBe(Geometry.create().with(PAGE, 16 * MiB, step).validate().next(PAGE + 8));
    expect(grown).toBeGreaterThan(0);
    expect(delta(before, after)).toEqual({
      writes: 1,
      bytesWritten: PAGE,
      blockingGrows: 1,
      maps: 1,
      activeFileSize: grown,
      activeMappedMemory: grown,
      lifetimeMemory: grown,
    });
    expect(after.blockingGrows.totalNs).toBeGreaterThan(0);
    expect(after.blockingGrows.maxNs).toBeGreaterThan(0);
    expect(after.blockingGrows.maxNs).toBeLessThanOrEqual(after.blockingGrows.totalNs);
    expect(fs.statSync(aof.path).size).toBe(aof.fileSize);

    // a write that fits does not grow
    const fits = m.stats();
    aof.write('small');
    expect(delta(fits, m.stats())).toEqual({ writes: 1, bytesWritten: 5 });
    expectConsistent(m);
    await m.close();
  });

  it('a background grow (growAhead default): backgroundGrows once it lands, the writer never blocked', async () => {
    const m = quietManager(tmpDir(), { growAhead: true });
    const aof = m.open('bg.aof', Geometry.create().with(MiB, 16 * MiB, MiB));
    const before = m.stats();
    aof.write(Buffer.alloc(600 * 1024, 4)); // past fileSize - threshold (half a step): growth starts
    expect(aof.fileSize).toBe(MiB); // not grown by the write itself
    expect(m.stats().blockingGrows).toEqual(before.blockingGrows);

    await turnsUntil(() => aof.fileSize !== MiB, 'the background grow');
    const after = m.stats();
    expect(aof.fileSize).toBe(2 * MiB);
    expect(delta(before, after)).toEqual({
      writes: 1,
      bytesWritten: 600 * 1024,
      backgroundGrows: 1,
      maps: 1,
      activeFileSize: MiB,
      activeMappedMemory: MiB,
      lifetimeMemory: MiB,
    });
    expect(after.backgroundGrows.totalNs).toBeGreaterThan(0);
    expect(after.blockingGrows).toEqual(before.blockingGrows);
    expectConsistent(m);
    await m.close();
  });
});

describe('durability counters', () => {
  it('flush and flushSync count a flush and a request (sync) when there is something to flush, and only then', async () => {
    const m = quietManager();
    const aof = m.open('f.aof');
    let before = m.stats();
    await aof.flush(); // nothing written since open
    aof.flushSync();
    expect(m.stats()).toEqual(before);

    aof.write('dirty');
    before = m.stats();
    await aof.flush();
    let after = m.stats();
    expect(delta(before, after)).toEqual({ flushes: 1, syncs: 1 });
    expect(after.flushes.totalNs).toBeGreaterThan(0);
    await aof.flush(); // clean again
    aof.flushSync();
    expect(m.stats()).toEqual(after);

    aof.write('dirty again');
    before = m.stats();
    aof.flushSync();
    after = m.stats();
    expect(delta(before, after)).toEqual({ flushes: 1, syncs: 1 });
    expect(after.flushes.totalNs).toBeGreaterThan(before.flushes.totalNs);
    aof.flushSync();
    expect(m.stats()).toEqual(after);

    // anonymous memory has nothing to flush
    const anon = m.openAnonymous('mem', PAGE);
    anon.write('x');
    before = m.stats();
    await anon.flush();
    anon.flushSync();
    expect(m.stats()).toEqual(before);
    await m.close();
  });

  it('sync and syncSync count a flush and a request when dirty, and nothing when clean', async () => {
    const m = quietManager();
    const aof = m.open('s.aof');
    aof.write('data');
    let before = m.stats();
    await aof.sync();
    let after = m.stats();
    expect(delta(before, after)).toEqual({ flushes: 1, syncs: 1 });
    expect(after.syncs.totalNs).toBeGreaterThan(0);

    before = after;
    await aof.sync(); // clean: nothing to do (one data sync covers size and content)
    expect(delta(before, m.stats())).toEqual({});

    aof.write('more');
    before = m.stats();
    aof.syncSync();
    expect(delta(before, m.stats())).toEqual({ flushes: 1, syncs: 1 });
    before = m.stats();
    aof.syncSync();
    expect(delta(before, m.stats())).toEqual({});
    await m.close();
  });

  it('concurrent requests share flushes (group commit): one in flight, one for everything that came while it ran', async () => {
    const m = quietManager();
    const aof = m.open('g.aof');
    let before = m.stats();
    const requests: Promise<void>[] = [];
    for (let i = 0; i < 64; i++) {
      aof.write(`record ${i}\n`);
      requests.push(aof.sync());
    }
    await Promise.all(requests);
    let d = delta(before, m.stats());
    // The flush starts from a microtask: the 64 requests of this synchronous run all ride it.
    expect(d).toMatchObject({ flushes: 1, syncs: 64, writes: 64 });
    expect(d.flushErrors).toBeUndefined();

    // A request that comes while a flush runs and needs more than it covers waits for the next
    // one, with every other such request; one that needs no more rides the running one.
    before = m.stats();
    aof.write('a\n');
    const first = aof.sync();
    await nextTurn(); // the flush has started (on the thread pool)
    const riding = aof.sync();
    aof.write('b\n');
    const later = [aof.sync(), aof.sync()];
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await later[0];
    expect(firstDone).toBe(true);
    await Promise.all([first, riding, ...later]);
    d = delta(before, m.stats());
    expect(d).toMatchObject({ flushes: 2, writes: 2 });
    // `riding` waited for the running flush, or (had it already ended) for nothing: not counted then.
    expect(d.syncs).toBeGreaterThanOrEqual(3);
    await m.close();
  });

  it('finish counts finishes, truncates and chmods, and the file size shrinks to content + 8', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const aof = m.open('done.aof', Geometry.create().with(16 * PAGE, 16 * MiB, 16 * PAGE));
    aof.write(Buffer.alloc(1000, 9));
    const baseline = m.stats();
    const fileSizeBefore = aof.fileSize;
    expect(fileSizeBefore).toBe(16 * PAGE);
    await aof.finish();
    const after = m.stats();
    const d = delta(baseline, after);
    expect(d).toMatchObject({ finishes: 1, truncates: 1, chmods: 1 });
    expect(d.finishErrors).toBeUndefined();
    expect(d.truncateErrors).toBeUndefined();
    expect(d.chmodErrors).toBeUndefined();
    expect(after.finishes.totalNs).toBeGreaterThan(0);
    expect(aof.fileSize).toBe(1008);
    expect(fs.statSync(path.join(dir, 'done.aof')).size).toBe(1008);
    expect(after.activeFileSize).toBe(baseline.activeFileSize - fileSizeBefore + 1008);
    expect(after.activeMappedMemory).toBe(baseline.activeMappedMemory - fileSizeBefore + pageUp(1008));
    expect(after.writes).toBe(baseline.writes); // the final marker is not a write
    expect(after.bytesWritten).toBe(baseline.bytesWritten);
    expect(await aof.finish().then(() => m.stats().finishes.count)).toBe(1); // same promise, counted once
    await aof.close();
    expect(m.stats()).toMatchObject({ activeFileSize: 0, activeMappedMemory: 0, activeMaps: 0 });
    await m.close();
  });
});

describe('error paths keep the stats consistent', () => {
  it('a write past sizeUpper (ERR_AOF_FULL) changes no counter', async () => {
    const m = quietManager();
    const aof = m.open('full.aof', Geometry.create().with(PAGE, 4 * PAGE, PAGE));
    aof.write(Buffer.alloc(3 * PAGE, 1)); // grows (blocking) to sizeUpper
    expect(aof.fileSize).toBe(4 * PAGE);
    const before = m.stats();
    expect(codeOf(() => aof.write(Buffer.alloc(PAGE, 2)))).toBe('ERR_AOF_FULL');
    expect(codeOf(() => aof.append(PAGE, () => 0))).toBe('ERR_AOF_FULL');
    expect(m.stats()).toEqual(before);
    expect(aof.size).toBe(3 * PAGE);
    expectConsistent(m);
    await m.close();
  });

  it('an anonymous AOF never grows: ERR_AOF_FULL and no grow counted', async () => {
    const m = quietManager();
    const anon = m.openAnonymous('mem', PAGE);
    anon.write(Buffer.alloc(PAGE - 8));
    const before = m.stats();
    expect(codeOf(() => anon.write('x'))).toBe('ERR_AOF_FULL');
    expect(m.stats()).toEqual(before);
    await m.close();
  });
});

// NOTE: runs only as root: it mounts a 256 KiB tmpfs so that growing a file fails with ENOSPC
// (a full disk cannot be set up otherwise). CI runs as root, so it runs there.
describe.runIf(isRoot)(skipTitle(isRoot, 'growErrors on a full disk (root: tmpfs)', 'needs root to mount a tmpfs'), () => {
  let mnt: string;

  beforeAll(() => {
    mnt = mountTmpfs('256k');
  });

  afterAll(() => {
    unmountTmpfs(mnt);
  });

  it('a blocking grow that finds no space counts one growError per attempt, and nothing else', async () => {
    const m = quietManager(mnt);
    const aof = m.open('fill.aof', Geometry.create().with(PAGE, 16 * MiB, 16 * PAGE));
    const chunk = Buffer.alloc(1000, 7);
    const start = m.stats();
    let writes = 0;
    let grows = 0;
    let before = m.stats();
    let err: unknown;
    for (;;) {
      before = m.stats();
      const size = aof.fileSize;
      try {
        aof.write(chunk);
      } catch (e) {
        err = e;
        break;
      }
      writes++;
      if (aof.fileSize !== size) grows++;
    }
    expect((err as AofError).code).toBe('ERR_AOF_NO_SPACE');
    expect(grows).toBeGreaterThan(0);
    const after = m.stats();
    expect(delta(before, after)).toEqual({ growErrors: 1 });
    expect(after.writes - start.writes).toBe(writes);
    expect(after.blockingGrows.count - start.blockingGrows.count).toBe(grows);
    expect(codeOf(() => aof.write(chunk))).toBe('ERR_AOF_NO_SPACE');
    expect(delta(after, m.stats())).toEqual({ growErrors: 1 });
    expectConsistent(m);
    await m.close();
    fs.rmSync(path.join(mnt, 'fill.aof'));
  });

  it('a background grow that finds no space counts a growError, and the writer keeps its room', async () => {
    // 256 KiB disk: 96 KiB filler + a 128 KiB file leave 32 KiB, less than one 128 KiB step
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(96 * 1024, 1));
    const m = quietManager(mnt, { growAhead: true });
    const step = 128 * 1024;
    const aof = m.open('bg.aof', Geometry.create().with(step, 16 * MiB, step));
    const before = m.stats();
    aof.write(Buffer.alloc(70 * 1024, 2)); // past fileSize - step/2: growth ahead starts, and fails
    await turnsUntil(() => m.stats().growErrors > before.growErrors, 'the failed background grow');
    const after = m.stats();
    expect(delta(before, after)).toEqual({ writes: 1, bytesWritten: 70 * 1024, growErrors: 1 });
    expect(aof.fileSize).toBe(step);
    // the room the file has is still usable, then the writer's own grow fails the same way
    aof.write(Buffer.alloc(step - 70 * 1024 - 8, 3));
    expect(aof.size).toBe(step - 8);
    expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_NO_SPACE');
    const last = m.stats();
    expect(last.growErrors).toBe(after.growErrors + 1);
    expect(last.backgroundGrows).toEqual(before.backgroundGrows);
    expect(last.blockingGrows).toEqual(before.blockingGrows);
    expectConsistent(m);
    await m.close();
    fs.rmSync(path.join(mnt, 'bg.aof'));
    fs.rmSync(path.join(mnt, 'filler'));
  });
});

describe('tailer counters', () => {
  it('subscribe and tail() count a tailer each; closing one, or the file, uncounts it', async () => {
    const m = quietManager();
    const aof = m.open('t.aof');
    aof.write('x');
    const before = m.stats();
    const t1 = aof.subscribe({ pollRead: (ev) => ev.end });
    expect(m.stats().tailers).toBe(before.tailers + 1);
    const t2 = aof.subscribe({ pollRead: (ev) => ev.end });
    const iter = aof.tail();
    expect(m.stats().tailers).toBe(before.tailers + 3);
    await t1.close();
    expect(m.stats().tailers).toBe(before.tailers + 2);
    await t1.close(); // idempotent
    expect(m.stats().tailers).toBe(before.tailers + 2);
    const first = await iter.next();
    expect(first.value?.tail.toString()).toBe('x');
    const pending = iter.next(); // waits for more
    await iter.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(m.stats().tailers).toBe(before.tailers + 1);
    await aof.close(); // ends t2 ('file-closed')
    expect(t2.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(before.tailers);
    await m.close();
  });

  // Regression: TailIterator.return() with no next() pending — always the case for a `break` out
  // of `for await` — used to never resolve, leaving the tailer attached and aof.close() /
  // manager.close() hanging. A hang fails here within a bounded number of turns.
  it('an async iterator left by break (return() with no next() pending) uncounts its tailer', async () => {
    const m = quietManager();
    const aof = m.open('b.aof');
    aof.write('hello');
    const before = m.stats().tailers;
    const iter = aof.tail();
    const loop = (async () => {
      for await (const ev of iter) {
        expect(ev.tail.toString()).toBe('hello');
        break;
      }
    })();
    expect(await settlesWithin(loop), 'for await … break did not return').toBe(true);
    expect(m.stats().tailers).toBe(before);
    expect(await settlesWithin(m.close()), 'manager.close() did not resolve').toBe(true);
  });

  it('tailerWakes counts the polls delivered to consumers: one per turn with writes, not one per write', async () => {
    const m = quietManager();
    const aof = m.open('w.aof');
    const polls: Array<[number, number]> = [];
    const t = aof.subscribe({
      pollRead: (ev) => {
        polls.push([ev.begin, ev.end]);
        return ev.end;
      },
    });
    await nextTurn(); // the first poll finds nothing to deliver
    await nextTurn();
    expect(polls).toEqual([]);
    const before = m.stats();
    expect(before.tailerWakes).toBe(0);

    aof.write('one');
    aof.write('two');
    aof.write('three');
    await turnsUntil(() => t.position === aof.size, 'the tailer catching up');
    expect(polls).toEqual([[0, 11]]);
    expect(m.stats().tailerWakes).toBe(1);

    aof.write('four');
    await turnsUntil(() => t.position === aof.size, 'the tailer catching up');
    expect(polls).toEqual([[0, 11], [11, 15]]);
    expect(delta(before, m.stats())).toEqual({ tailerWakes: 2, tailerBytesRead: 15, writes: 4, bytesWritten: 15 });

    // turns without writes deliver nothing and count nothing
    const idle = m.stats();
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(m.stats()).toEqual(idle);
    await m.close();
  });
});

describe('stats and open files', () => {
  it('a closed file is no longer among the files, and its name can be reopened with fresh gauges', async () => {
    const m = quietManager();
    const first: AOF = m.open('r.aof');
    first.write('abc');
    await first.close();
    expect(m.files()).toEqual([]);
    expect(m.stats()).toMatchObject({ activeMaps: 0, activeFileSize: 0, activeMappedMemory: 0, writes: 1 });
    const second = m.open('r.aof');
    expect(second).not.toBe(first);
    expectConsistent(m);
    await m.close();
  });
});
