/**
 * What the Manager does in the background: growth ahead of the writer, the flush interval, letting
 * the process exit, and closing while tailers still read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileState, Geometry, Manager, MiB, type ManagerOptions, type ReadEvent } from '../src/index.js';
import { codeOf, DIST, fixture, pseudoRandomBytes, runNode, tmpDir, turns, turnsUntil } from './helpers.js';

const PAGE = Geometry.create().validate().pageSize;

describe('growth ahead of the writer', () => {
  const TOTAL = 32 * MiB;
  const CHUNK = 16 * 1024;
  const geometry = Geometry.create().with(MiB, 64 * MiB, MiB);

  /**
   * A steady writer: CHUNK bytes per event-loop turn, one turn per timer tick, `total` bytes. It
   * uses half a step of headroom (the default threshold) in 32 turns, while a background grow
   * needs one thread-pool fallocate. Returns the stats and checks the content.
   *
   * Why timer ticks and not a setImmediate loop: a setImmediate loop writes as fast as the CPU can
   * copy (about 1 GB/s here), and under a concurrent writer's page faults a 1 MiB fallocate on
   * ext4 takes 1–5 ms: no headroom of half a step keeps up with that (see the report). Pacing is
   * not used to wait for anything here; the test waits for the writer to finish.
   */
  async function steadyWriter(options: ManagerOptions, total = TOTAL) {
    const m = new Manager(tmpDir(), { flushIntervalMs: 0, ...options });
    const aof = m.open('steady.aof', geometry);
    const data = pseudoRandomBytes(total, 42);
    await new Promise<void>((resolve, reject) => {
      let at = 0;
      const step = () => {
        try {
          aof.write(data.subarray(at, at + CHUNK));
        } catch (e) {
          reject(e);
          return;
        }
        at += CHUNK;
        if (at >= total) resolve();
        else setTimeout(step, 1);
      };
      step();
    });
    const stats = m.stats();
    expect(aof.size).toBe(total);
    expect(aof.view().equals(data)).toBe(true);
    await m.close();
    const again = new Manager(m.dir, { flushIntervalMs: 0 });
    const reopened = again.open('steady.aof', geometry);
    expect(reopened.size).toBe(total);
    expect(reopened.view().equals(data)).toBe(true);
    await again.close();
    return stats;
  }

  it('keeps blockingGrows at 0 for a steady writer (growAhead default)', async () => {
    const s = await steadyWriter({});
    expect(s.blockingGrows.count, `background grows took up to ${s.backgroundGrows.maxNs / 1e6} ms`).toBe(0);
    expect(s.backgroundGrows.count).toBeGreaterThanOrEqual(TOTAL / MiB - 1);
    expect(s.growErrors).toBe(0);
  });

  it('the same writer with growAhead: false grows blocking (the test above can fail)', async () => {
    const s = await steadyWriter({ growAhead: false }, 4 * MiB);
    expect(s.blockingGrows.count).toBeGreaterThan(0);
    expect(s.backgroundGrows.count).toBe(0);
  });

  it('growThreshold: with threshold = one step, the first write starts a background grow', async () => {
    const m = new Manager(tmpDir(), { flushIntervalMs: 0, growThreshold: MiB });
    const aof = m.open('t.aof', geometry);
    expect(aof.fileSize).toBe(MiB);
    aof.write('first');
    await turnsUntil(() => aof.fileSize !== MiB, 'the background grow');
    expect(aof.fileSize).toBe(2 * MiB);
    expect(m.stats().backgroundGrows.count).toBe(1);
    expect(m.stats().blockingGrows.count).toBe(0);
    // at 2 MiB the headroom is above one step again: the next write starts nothing
    aof.write('second');
    await m.close(); // waits for any grow in flight
    expect(m.stats().backgroundGrows.count).toBe(1);
  });

  it('growThreshold: a larger threshold starts growth earlier than the default (half a step)', async () => {
    // A background grow counts once it has landed (mapped): wait for that, bounded, then close.
    async function growsAfter(bytes: number, options: ManagerOptions): Promise<number> {
      const m = new Manager(tmpDir(), { flushIntervalMs: 0, ...options });
      const aof = m.open('t.aof', geometry);
      const before = aof.fileSize;
      aof.write(Buffer.alloc(bytes, 1));
      for (let turn = 0; turn < 200 && aof.fileSize === before; turn++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await m.close();
      expect(m.stats().blockingGrows.count).toBe(0);
      return m.stats().backgroundGrows.count;
    }
    // fileSize 1 MiB: the default starts at 512 KiB of content, a 768 KiB threshold at 256 KiB
    expect(await growsAfter(100, {})).toBe(0);
    expect(await growsAfter(300 * 1024, {})).toBe(0);
    expect(await growsAfter(300 * 1024, { growThreshold: 768 * 1024 })).toBe(1);
    expect(await growsAfter(600 * 1024, {})).toBe(1);
    expect(await growsAfter(100, { growThreshold: 768 * 1024 })).toBe(0);
    expect(await growsAfter(100, { growThreshold: MiB })).toBe(1);
  });

  it('invalid growth options are ERR_AOF_INVALID_ARG', () => {
    const dir = tmpDir();
    for (const growThreshold of [-1, Number.NaN, 'x', 1.5, Infinity]) {
      expect(codeOf(() => new Manager(dir, { growThreshold } as unknown as ManagerOptions)), String(growThreshold))
        .toBe('ERR_AOF_INVALID_ARG');
    }
    for (const growAhead of ['yes', 1, null]) {
      expect(codeOf(() => new Manager(dir, { growAhead } as unknown as ManagerOptions)), String(growAhead))
        .toBe('ERR_AOF_INVALID_ARG');
    }
  });
});

describe('the flush interval', () => {
  /** Polls the stats across timer turns (10 ms apart, at most `limitMs`) until `cond` holds. */
  async function pollStats(m: Manager, cond: () => boolean, limitMs = 2000): Promise<boolean> {
    for (let waited = 0; waited <= limitMs; waited += 10) {
      if (cond()) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return cond();
  }

  it('flushIntervalMs: 20 flushes written files without a flush() call', async () => {
    const m = new Manager(tmpDir(), { flushIntervalMs: 20, growAhead: false });
    const aof = m.open('f.aof');
    aof.write('needs flushing');
    const before = m.stats().flushes.count;
    expect(before).toBe(0);
    expect(await pollStats(m, () => m.stats().flushes.count > before)).toBe(true);
    // that flush covered the write: an explicit flush finds nothing left to do
    const flushed = m.stats().flushes.count;
    await aof.flush();
    expect(m.stats().flushes.count).toBe(flushed);
    await m.close();
  });

  it('flushIntervalMs: 0 never flushes, and the interval does not flush files with nothing written', async () => {
    const off = new Manager(tmpDir(), { flushIntervalMs: 0, growAhead: false });
    off.open('f.aof').write('dirty');
    const idle = new Manager(tmpDir(), { flushIntervalMs: 20, growAhead: false });
    idle.open('clean.aof');
    const flushed = idle.open('flushed.aof');
    flushed.write('x');
    flushed.flushSync(); // synchronous: no interval can run (and flush it again) in between
    const idleFlushes = idle.stats().flushes.count;
    expect(idleFlushes).toBe(1);
    // a bounded negative check: neither flushes within the window the positive test needs
    expect(await pollStats(off, () => off.stats().flushes.count > 0 || idle.stats().flushes.count > idleFlushes, 300))
      .toBe(false);
    await off.close();
    await idle.close();
  });

  it('invalid flushIntervalMs values are ERR_AOF_INVALID_ARG', () => {
    const dir = tmpDir();
    for (const flushIntervalMs of [-1, Number.NaN, 'x', 1.5, Infinity, null]) {
      expect(codeOf(() => new Manager(dir, { flushIntervalMs } as unknown as ManagerOptions)), String(flushIntervalMs))
        .toBe('ERR_AOF_INVALID_ARG');
    }
  });
});

describe('the process exits by itself', () => {
  // The child is killed after 20 s only so that a hang fails this test with a clear signal
  // instead of the test timeout; a correct child exits in well under a second.
  const spawnOptions = { timeout: 20_000, killSignal: 'SIGKILL' as const };

  it('after manager.close(), with tailers, an async iterator, an anonymous file and growth in flight', async () => {
    const dir = tmpDir();
    const r = await runNode(fixture('exit-after-close.mjs'), [DIST, dir], spawnOptions);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out).toMatchObject({
      closed: true,
      iterator: 'ERR_AOF_CLOSED', // the file was closed under a waiting iterator
      size: 600 * 1024 + 4 * 1024,
      states: [FileState.Closed, FileState.Closed, FileState.Closed],
      // The grows for events.aof (600 KiB into 1 MiB) and other.aof (one page: any write) may
      // still be in flight at close: they complete (close waits) but count only if they landed.
      stats: { activeMaps: 0, tailers: 0, closes: 3, blockingGrows: 0 },
    });
    expect(out.stats.backgroundGrows).toBeLessThanOrEqual(2);
    expect(out.iterated).toBeGreaterThan(0);
    expect(out.polled).toBeGreaterThan(0);
    expect(fs.statSync(path.join(dir, 'events.aof')).size).toBeGreaterThanOrEqual(MiB);
  });

  it('without close(): open files, timers and tailers do not keep it alive', async () => {
    const dir = tmpDir();
    const r = await runNode(fixture('exit-without-close.mjs'), [DIST, dir], spawnOptions);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const size = 600 * 1024 + 'one more turn'.length;
    expect(r.stdout).toBe(`returned\nexit 0 polled ${size} size ${size} state ${FileState.Opened}\n`);
    // what it wrote is there for the next process
    const m = new Manager(dir, { flushIntervalMs: 0 });
    expect(m.open('events.aof').size).toBe(size);
    await m.close();
  });
});

describe('closing while tailers read', () => {
  it('Manager.close() waits for a tailer whose pollReadClosed returns a promise', async () => {
    const m = new Manager(tmpDir(), { flushIntervalMs: 0, growAhead: false });
    const aof = m.open('t.aof');
    aof.write('abc');
    let release!: () => void;
    const reasons: string[] = [];
    const t = aof.subscribe({
      pollRead: (ev) => ev.end,
      pollReadClosed: (reason) => {
        reasons.push(reason.reason);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await turnsUntil(() => t.position === 3, 'the tailer reading');
    let closed = false;
    const closing = m.close().then(() => (closed = true));
    expect(reasons).toEqual(['file-closed']);
    await turns(50); // a bounded negative check: nothing else could release it
    expect(closed).toBe(false);
    expect(aof.state).toBe(FileState.Closing);
    expect(m.stats()).toMatchObject({ tailers: 1, activeMaps: 1, closes: 0 });
    release();
    await closing;
    expect(closed).toBe(true);
    expect(aof.state).toBe(FileState.Closed);
    expect(m.stats()).toMatchObject({ tailers: 0, activeMaps: 0, closes: 1 });
    expect(reasons).toEqual(['file-closed']); // once
  });

  it('a file closed with tailers attached stays mapped until the last one detaches', async () => {
    const m = new Manager(tmpDir(), { flushIntervalMs: 0, growAhead: false });
    const keep = m.open('keep.aof');
    const aof = m.open('t.aof');
    aof.write('held bytes');
    const releases: Array<() => void> = [];
    const views: Buffer[] = [];
    const consumer = {
      pollRead: (ev: ReadEvent) => {
        views.push(ev.tail);
        return ev.end;
      },
      pollReadClosed: () => new Promise<void>((resolve) => releases.push(resolve)),
    };
    aof.subscribe(consumer);
    aof.subscribe(consumer);
    await turnsUntil(() => views.length === 2, 'both tailers reading');
    const before = m.stats();
    expect(before.activeMaps).toBe(2);

    let closed = false;
    const closing = aof.close().then(() => (closed = true));
    expect(releases.length).toBe(2);
    await turns(20);
    expect(closed).toBe(false);
    expect(m.stats()).toMatchObject({ activeMaps: 2, tailers: 2, unmaps: before.unmaps });
    expect(views[0]!.toString()).toBe('held bytes'); // still mapped: the view reads the data

    releases[0]!();
    await turns(20);
    expect(closed).toBe(false);
    expect(m.stats()).toMatchObject({ activeMaps: 2, tailers: 1, unmaps: before.unmaps });

    releases[1]!();
    await closing;
    expect(m.stats()).toMatchObject({ activeMaps: 1, tailers: 0, unmaps: before.unmaps + 1, closes: 1 });
    expect(views[1]!.every((b) => b === 0)).toBe(true); // released: a stale view reads zeros
    expect(m.files()).toEqual([keep]);
    await m.close();
  });

  it('an async iterator holding its last event keeps the file mapped until next() or return()', async () => {
    const m = new Manager(tmpDir(), { flushIntervalMs: 0, growAhead: false });
    const aof = m.open('t.aof');
    aof.write('event');
    const iter = aof.tail();
    const first = await iter.next();
    const view = first.value!.tail;
    let closed = false;
    const closing = aof.close().then(() => (closed = true));
    await turns(20);
    expect(closed).toBe(false);
    expect(m.stats()).toMatchObject({ activeMaps: 1, tailers: 1 });
    expect(view.toString()).toBe('event');
    await expect(iter.next()).rejects.toMatchObject({ code: 'ERR_AOF_CLOSED' });
    await closing;
    expect(m.stats()).toMatchObject({ activeMaps: 0, tailers: 0 });
    expect(await iter.next()).toEqual({ value: undefined, done: true });
    await m.close();
  });
});

describe('Manager.close()', () => {
  it('is idempotent, and open/openAnonymous after it are ERR_AOF_CLOSED', async () => {
    const m = new Manager(tmpDir(), { growAhead: false });
    const aof = m.open('a.aof');
    aof.write('a');
    const p = m.close();
    expect(m.close()).toBe(p);
    // already refused while the close is under way
    expect(codeOf(() => m.open('b.aof'))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => m.open('a.aof'))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => m.openAnonymous('mem', PAGE))).toBe('ERR_AOF_CLOSED');
    await p;
    expect(m.close()).toBe(p);
    await m.close();
    expect(aof.state).toBe(FileState.Closed);
    expect(m.stats().closes).toBe(1);
    expect(codeOf(() => m.open('b.aof'))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => m.openAnonymous('mem', PAGE))).toBe('ERR_AOF_CLOSED');
    expect(fs.existsSync(path.join(m.dir, 'b.aof'))).toBe(false);
    expect(m.stats().openErrors).toBe(0);
    await m[Symbol.asyncDispose]();
  });

  it('a manager with nothing open closes, and close() of an already closed file is fine', async () => {
    const empty = new Manager(tmpDir());
    await empty.close();
    const m = new Manager(tmpDir());
    const aof = m.open('x.aof');
    await aof.close();
    await m.close();
    expect(m.stats()).toMatchObject({ closes: 1, activeMaps: 0 });
  });
});
