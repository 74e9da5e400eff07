/**
 * "No JavaScript action may crash the process" (docs/design.md, safety rules): every risky use of a
 * view over an AOF's mapping runs in a child process (test/fixtures/stale-view.mjs), so a SIGSEGV
 * or SIGBUS fails one test instead of killing the test runner. Each test checks that the child
 * exited with code 0 and no signal, and that it printed what it read, so the risky code path really
 * ran: stale views read zeros after close, writes into them neither crash nor reach the file, a
 * view over a mapping larger than a finished (truncated) file reads everything without SIGBUS, a
 * view survives growth, files truncated by another process read zeros past their new end (the
 * SIGBUS guard, native/guard.cc), and the finalizers unmap the reservations once the views are collected.
 */
import { describe, expect, it } from 'vitest';
import { DIST, fixture, pseudoRandomBytes, runNode, tmpDir, type ChildResult } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4096;
const FileStateEOF = 2;
const FileStateClosed = 4;

function sum(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s += b;
  return s;
}

/** Runs the fixture in `mode` (after node `flags`); fails unless it exited cleanly, returns its JSON report. */
async function runStale(mode: string, flags: string[] = []): Promise<Record<string, any>> {
  const dir = tmpDir('aof-stale-');
  // runNode runs `node <script> ...args`: node flags go first, in the script's place.
  const [script, ...args] = [...flags, fixture('stale-view.mjs'), DIST, dir, mode];
  const r: ChildResult = await runNode(script!, args);
  const context = `mode ${mode}: code ${r.code}, signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect({ code: r.code, signal: r.signal }, context).toEqual({ code: 0, signal: null });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  let report: Record<string, any>;
  try {
    report = JSON.parse(line);
  } catch {
    throw new Error(`no report from the child; ${context}`);
  }
  expect(report.mode).toBe(mode);
  return report;
}

describe('stale views never crash the process', () => {
  for (const mode of ['close', 'manager-close'] as const) {
    it(`views kept across ${mode === 'close' ? 'aof.close()' : 'manager.close()'} read zeros and take writes`, async () => {
      const r = await runStale(mode);
      const data = pseudoRandomBytes(100_000, 42);
      expect(r.dataSum).toBe(sum(data));
      // Before: the view is the content; its whole buffer covers at least the file and at most the
      // reservation (sizeUpper, 4 MiB): content + tail magic + zero headroom + zero pages past the file.
      expect(r.before.equal).toBe(true);
      expect(r.before.viewSum).toBe(sum(data));
      expect(r.before.wholeLength).toBeGreaterThanOrEqual(r.before.fileSize);
      expect(r.before.wholeLength).toBeLessThanOrEqual(4 * MiB);
      expect(r.before.fileSize).toBeGreaterThan(data.length + 8);
      expect(r.before.wholeSum).toBe(sum(data) + sum(Buffer.from('aa247554639c9b41', 'hex')));
      // After: every byte of both views read (same lengths as before), all zeros.
      expect(r.after).toEqual({
        state: FileStateClosed,
        viewLength: data.length,
        wholeLength: r.before.wholeLength,
        viewSum: 0,
        wholeSum: 0,
        nonZero: 0,
        viewError: 'ERR_AOF_CLOSED',
      });
      // Writes into the stale views land in private zero pages: readable back, never in the file.
      expect(r.written).toEqual({ viewSum: 0x5a * (data.length - 1), first: 1, last: 0xa5 });
      expect(r.diskIntact).toBe(true);
      expect(r.reopened).toEqual({ size: data.length, equal: true });
    });
  }

  it('a view over the old, larger mapping stays fully readable after finish() truncates the file', async () => {
    const r = await runStale('finish');
    const size = 300_000;
    const marker = Buffer.from('2cdb1ff2a5ac78f8', 'hex');
    expect(r.size).toBe(size);
    expect(r.dataSum).toBe(sum(pseudoRandomBytes(size, 7)));
    // The old view's buffer spans at least the old file size, far past the new end of file (content + 8).
    expect(r.fileSizeBefore).toBeGreaterThanOrEqual(size + 8 + 2 * PAGE);
    expect(r.fileSizeAfter).toBe(size + 8);
    expect(r.modeAfter).toBe(0o444);
    expect(r.read.wholeLength).toBeGreaterThanOrEqual(r.fileSizeBefore);
    expect(r.read.wholeLength).toBeLessThanOrEqual(4 * MiB);
    expect(r.read).toEqual({
      wholeLength: r.read.wholeLength,
      wholeSum: r.dataSum + sum(marker),
      contentEqual: true,
      marker: true,
      nonZeroPastMarker: 0,
      oldViewEqual: true,
    });
    expect(r.fresh).toEqual({ length: size, wholeLength: r.read.wholeLength, wholeSum: r.dataSum + sum(marker) });
    // Writes into the detached pages past EOF: read back, and the file is untouched.
    expect(r.written.from).toBe(Math.ceil((size + 8) / PAGE) * PAGE);
    expect(r.written.sum).toBe(0x77 * (r.read.wholeLength - r.written.from));
    expect(r.diskIntact).toBe(true);
    // After close, the same views read zeros and still take writes.
    expect(r.closed).toEqual({ wholeSum: 0, nonZero: 0 });
    expect(r.writtenAfterClose).toBe(true);
    expect(r.reopened).toEqual({ state: FileStateEOF, eof: true, size, equal: true });
  });

  it('a view taken before the file grows still reads the right bytes after growth', async () => {
    const r = await runStale('growth');
    expect(r.fileSize1).toBe(64 * KiB);
    expect(r.grows).toBeGreaterThanOrEqual(3);
    expect(r.fileSizeAfter).toBeGreaterThan(2 * MiB);
    expect(r.v1Equal).toBe(true);
    expect(r.v1Sum).toBe(r.firstSum);
    expect(r.firstSum).toBe(sum(pseudoRandomBytes(10_000, 1)));
    // The first buffer covers the first file size at least; growth past it makes a longer one.
    expect(r.whole1Length).toBeGreaterThanOrEqual(r.fileSize1);
    expect(r.whole1Length).toBeLessThan(r.fileSizeAfter);
    expect(r.whole1Equal).toBe(true);
    expect(r.whole1Sum).toBeGreaterThan(r.v1Sum);
    expect(r.v2Equal).toBe(true);
    expect(r.afterClose).toEqual({ v1Sum: 0, whole1Sum: 0, v2Sum: 0, nowSum: 0 });
  });

  it('files truncated by another process read zeros past the new end: no SIGBUS, the writer and the log report it', async () => {
    const r = await runStale('truncated');
    // Writer and Reader views: the kept page intact, the rest zeros (the SIGBUS guard's pages).
    expect(r.views).toEqual({ writerHead: true, writerRest: 0, readerHead: true, readerRest: 0 });
    // A tailer attached afterwards reads through the lost pages too.
    expect(r.tailed).toBeGreaterThanOrEqual(200_000);
    expect(r.tailedNonZero).toBe(0);
    // A write into a lost page reached no file: sync must not claim it is durable.
    expect(r.syncError).toBe('ERR_AOF_CORRUPTED');
    // And close(), which flushes it: it reports the same, and closes the file all the same.
    expect(r.closeError).toBe('ERR_AOF_CORRUPTED');
    expect(r.closed).toBe(FileStateClosed);
    // Log records wholly in the kept page read back; every other one is a typed error, never zeros.
    expect(r.logReads.WRONG_BYTES).toBeUndefined();
    expect(r.logReads.ok).toBeGreaterThanOrEqual(1);
    expect(r.logReads.ok + r.logReads.ERR_AOF_CORRUPT_DATA).toBe(100);
  });

  it('stores through views of read-only mappings (a finished file, a Reader) neither crash nor reach the file', async () => {
    const r = await runStale('write-read-only');
    // The store lands in a private copy of the page: visible through the view, not on disk.
    expect(r.finishedView).toBe(0xee);
    expect(r.readerView).toBe('z');
    expect(r.onDisk).toBe(true);
    expect(r.liveOnDisk).toBe('abcdef');
    // That page is now a private copy: it no longer shows the writer's later bytes (documented:
    // the price of not faulting). The read still works.
    expect(r.after).toHaveLength(3);
  });

  it('terminating workers with native jobs in flight (grow, populate, flush, sync, a futex reader) never aborts the process', async () => {
    const dir = tmpDir('aof-terminate-');
    const r = await runNode(fixture('worker-terminate.mjs'), [DIST, dir, '12']);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
    expect(JSON.parse(r.stdout.trim())).toEqual({ rounds: 12, finished: 12, reopened: 12 });
  });

  it('views and files dropped after close are collected: the finalizers unmap, nothing crashes', async () => {
    const r = await runStale('gc', ['--expose-gc']);
    const reservations = r.files + 1; // FILES closed ones + one never closed
    const reserved = reservations * r.upper;
    console.log(`stale-view gc: ${reservations} reservations of ${r.upper / MiB} MiB; address space +` +
      `${((r.opened - r.base) / MiB).toFixed(1)} MiB open, +${((r.closed - r.base) / MiB).toFixed(1)} MiB after ` +
      `close (views alive), +${((r.collected - r.base) / MiB).toFixed(1)} MiB after gc()`);
    expect(r.sums).toBeGreaterThan(0);
    // Open: each file reserves sizeUpper of address space.
    expect(r.opened - r.base).toBeGreaterThanOrEqual(reserved - 16 * MiB);
    // Closed with views alive: still reserved (views read zeros, they are not unmapped under them).
    expect(r.closed - r.base).toBeGreaterThanOrEqual(reserved - 16 * MiB);
    expect(r.staleSum).toBe(0);
    // Dropped and collected: every reservation is unmapped, the unclosed one included.
    expect(r.collected - r.base).toBeLessThan(r.upper / 2);
    // The closed files are intact and the process goes on working.
    expect(r.intact).toBe(r.files);
  });
});
