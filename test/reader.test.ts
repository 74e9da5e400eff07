/**
 * Readers of a file written elsewhere (docs/api.md, "Readers"): `openReader(path, { wake })`
 * and `manager.follow(name)` in child processes, worker threads and this process, against a writer
 * in this process, in a child, or in another Manager. What is proven:
 *
 * 1. readers in several processes and workers at once (futex, poll and spin) get every byte in
 *    order, only at published sizes, across growth of the file, and the same hash at EOF;
 * 2. readers started late catch up from `from: 0` and from the middle, by tail() and by streams;
 * 3. finish() is EOF for every reader (tail ends, state EOF, final size) and removes `<file>-shm`;
 * 4. a writer that closes without finishing leaves its readers Opened; they follow the next writer;
 * 5. one writer per file: ERR_AOF_LOCKED in this process and from a child; openAsync waits, times
 *    out, aborts with the signal's reason; a writer killed with SIGKILL releases the lock (and is
 *    no longer named as the writer);
 * 6. a missing, garbage or foreign control block is rebuilt from the data file by recovery, also by
 *    several readers at once; a block left saying Writing for a finished file does not hide EOF;
 *    one deleted under an open writer is recreated by the Manager's interval (aof.maintain());
 *    a reader that may not write the block still follows (by polling);
 * 7. the reader's lifecycle and errors; stale views read zeros and never crash a process;
 * 8. a reader process exits by itself once its tailers are done, and stays alive while one follows.
 *
 * Children run test/fixtures/reader-follow.mjs (a reader; also as a worker thread) and
 * reader-writer.mjs (a writer) over the built dist/. They report one line per event (fd 3 or
 * postMessage) and the tests wait for those lines, never for a clock. The only deliberate pauses
 * are the idle periods of the "stays alive" test, where being idle is the condition under test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  AofError,
  FileState,
  Geometry,
  Manager,
  TailerState,
  openReader,
  type AOF,
  type CloseReason,
  type Reader,
  type ReaderOptions,
  type SubscribeOptions,
} from '../src/index.js';
import {
  DIST,
  Peer,
  codeOf,
  fixture,
  isRoot,
  nextTurn,
  pseudoRandomBytes,
  rejectionOf,
  reportData,
  settlesWithin,
  sha256,
  skipTitle,
  tmpDir,
  type PeerOptions,
} from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** 64 KiB to start, 64 KiB growth steps: a few hundred KiB of writes grow the file several times. */
const GEOMETRY: [number, number, number] = [64 * KiB, 8 * MiB, 64 * KiB];
const geometry = (): Geometry => Geometry.create().with(...GEOMETRY);
const shm = (file: string): string => `${file}-shm`;
/** A child is killed after this long, so that a hang fails with a clear signal, not the test timeout. */
const GUARD_MS = 25_000;

// --- peers --------------------------------------------------------------------------------------

interface ReaderConfig {
  path?: string;
  /** With `name`: `new Manager(dir).follow(name)` instead of openReader(path). */
  dir?: string;
  name?: string;
  options?: ReaderOptions;
  mode?: 'tail' | 'stream' | 'views-after-close' | 'whole-after-eof' | 'open';
  from?: number;
  follow?: boolean;
  close?: boolean;
  commands?: boolean;
  progress?: boolean;
}

function readerProcess(config: ReaderConfig, options: PeerOptions = {}): Peer {
  return Peer.process(fixture('reader-follow.mjs'), [JSON.stringify({ dist: DIST, ...config })], {
    commands: config.commands,
    killAfterMs: GUARD_MS,
    ...options,
  });
}

function readerWorker(config: ReaderConfig): Peer {
  return Peer.worker(fixture('reader-follow.mjs'), { dist: DIST, ...config });
}

interface WriterConfig {
  dir: string;
  name: string;
  mode?: 'write' | 'try-open';
  lockTimeout?: number;
}

function writerProcess(config: WriterConfig): Peer {
  return Peer.process(fixture('reader-writer.mjs'), [JSON.stringify({ dist: DIST, geometry: GEOMETRY, ...config })], {
    commands: config.mode !== 'try-open',
    killAfterMs: GUARD_MS,
  });
}

interface At {
  begin: number;
  end: number;
  state: number;
}

/** The `at <begin> <end> <state>` reports of a reader so far. */
function ats(peer: Peer): At[] {
  return peer.lines.filter((l) => l.startsWith('at ')).map((l) => {
    const [, begin, end, state] = l.split(' ');
    return { begin: Number(begin), end: Number(end), state: Number(state) };
  });
}

/** Resolves once the reader has reported delivering bytes up to `size`. */
function reached(peer: Peer, size: number): Promise<string> {
  return peer.waitFor((l) => l.startsWith('at ') && Number(l.split(' ')[2]) >= size);
}

/**
 * The reader's events tile [from, end) in order, with no gap and no overlap, end exactly at
 * `end`, and (when given) each ends at a size the writer published.
 */
function expectContiguous(peer: Peer, from: number, end: number, published?: Set<number>): void {
  const events = ats(peer);
  expect(events.length, 'events').toBeGreaterThan(0);
  let at = from;
  for (const ev of events) {
    expect(ev.begin, `event ${JSON.stringify(ev)} starts where the last ended`).toBe(at);
    expect(ev.end, `event ${JSON.stringify(ev)} is not empty`).toBeGreaterThan(ev.begin);
    if (published) expect(published.has(ev.end), `event end ${ev.end} is a published size`).toBe(true);
    at = ev.end;
  }
  expect(at).toBe(end);
}

// --- content the parent writes ------------------------------------------------------------------

/** A small deterministic generator of write sizes. */
function sizes(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Everything written to one file, by whichever writer, in order. */
class Content {
  readonly #chunks: Buffer[] = [];
  length = 0;

  add(bytes: Buffer): void {
    this.#chunks.push(bytes);
    this.length += bytes.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  sha256(from = 0): string {
    return sha256(this.bytes().subarray(from));
  }

  /** What reader-writer.mjs writes for `write <seed> <lens>`. */
  addWriterRun(seed: number, lens: number[]): string {
    lens.forEach((len, i) => this.add(pseudoRandomBytes(len, seed + i)));
    return `write ${seed} ${lens.join(',')}`;
  }
}

/** One synchronous run of writes (the writer publishes once, when it ends). */
function writeRun(aof: AOF, content: Content, seed: number, lens: number[]): void {
  lens.forEach((len, i) => {
    const bytes = pseudoRandomBytes(len, seed + i);
    aof.write(bytes);
    content.add(bytes);
  });
}

/** `turns` runs of 1–4 writes of 1..maxLen bytes, one run per event-loop turn. */
async function writeTurns(aof: AOF, content: Content, seed: number, turns: number, maxLen: number): Promise<void> {
  const next = sizes(seed);
  for (let t = 0; t < turns; t++) {
    writeRun(aof, content, seed * 1000 + t * 10, Array.from({ length: 1 + (next() % 4) }, () => 1 + (next() % maxLen)));
    await nextTurn();
  }
}

// --- in-process reading -------------------------------------------------------------------------

/** Awaits event-loop turns until `cond()` holds; a hang fails after `ms` with `what`. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what}: not seen within ${ms} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A subscriber collecting copies of what it is given, and checking the events tile the content. */
function collect(reader: Reader, options: SubscribeOptions = {}) {
  const chunks: Buffer[] = [];
  const from = options.from ?? 0;
  const state = { position: from, breaks: 0, polls: 0, eofEvents: 0, closedWith: undefined as CloseReason | undefined };
  const tailer = reader.subscribe({
    pollRead(ev) {
      state.polls++;
      if (ev.begin !== state.position || ev.end <= ev.begin) state.breaks++;
      if (ev.eof) state.eofEvents++;
      chunks.push(Buffer.from(ev.tail));
      state.position = ev.end;
      return ev.end;
    },
    pollReadClosed(reason) {
      state.closedWith = reason;
    },
  }, options);
  return { tailer, state, data: () => Buffer.concat(chunks) };
}

/** The rejection of `p`, which must settle within `n` event-loop turns (a hang fails fast). */
async function rejectionWithin(p: Promise<unknown>, n = 10_000): Promise<unknown> {
  const caught = rejectionOf(p);
  caught.catch(() => {});
  if (!(await settlesWithin(p, n))) throw new Error(`still pending after ${n} event-loop turns`);
  return caught;
}

function expectAofError(e: unknown, code: string): void {
  expect(e).toBeInstanceOf(AofError);
  expect((e as AofError).code).toBe(code);
}

// ------------------------------------------------------------------------------------------------

describe('readers in other processes and worker threads', () => {
  it('child processes and worker threads (doorbell, adaptive, futex, poll, spin) receive every byte in order at published sizes, across growth, and end at EOF with the writer\'s hash', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('s.aof', geometry());
    const file = aof.path;
    const readers = [
      readerProcess({ path: file, options: { wake: 'futex' } }),
      readerProcess({ dir, name: 's.aof', options: { wake: 'poll', interval: 2 } }), // via Manager.follow
      readerProcess({ path: file, options: { wake: 'spin', spinMs: 1 } }),
      readerProcess({ path: file, options: {} }), // the default: doorbell
      readerProcess({ path: file, options: { wake: 'adaptive' } }),
      readerWorker({ path: file, options: { wake: 'futex' } }),
      readerWorker({ dir, name: 's.aof', options: { wake: 'poll', interval: 1 } }),
      readerWorker({ path: file, options: { wake: 'spin', spinMs: 1 } }),
      readerWorker({ path: file, options: { wake: 'doorbell' } }),
      readerWorker({ path: file, options: { wake: 'adaptive', spinMs: 0.05 } }),
    ];
    const ready = (await Promise.all(readers.map((r) => r.waitFor('ready')))).map((l) => reportData(l));
    for (const r of ready) {
      expect(r).toMatchObject({ size: 0, state: FileState.Opened, writerPid: process.pid, tailerCount: 1 });
    }
    expect(ready[1]!.stats).toEqual({ tailers: 1 }); // the follower's Manager counts its tailer

    const content = new Content();
    const published = new Set<number>();
    const lockstep: number[] = [];
    const next = sizes(7);
    for (let turn = 0; turn < 36; turn++) {
      // 1 to 6 writes in one synchronous run; every fifth run has writes of up to 64 KiB.
      const max = turn % 5 === 4 ? 64 * KiB : 6 * KiB;
      writeRun(aof, content, 1000 + turn * 10, Array.from({ length: 1 + (next() % 6) }, () => 1 + (next() % max)));
      published.add(aof.size);
      // Every third turn, lockstep: every reader must have the bytes before the writer goes on.
      if (turn % 3 === 2) {
        const start = performance.now();
        await Promise.all(readers.map((r) => reached(r, aof.size)));
        lockstep.push(performance.now() - start);
      } else {
        await nextTurn();
      }
    }
    // A futex reader whose wake never came would only notice on its once-a-second check: the
    // typical lockstep takes milliseconds (wakes work), not most of a second.
    lockstep.sort((x, y) => x - y);
    expect(lockstep[Math.floor(lockstep.length / 2)], `lockstep times ${lockstep.map((x) => x.toFixed(1)).join(' ')} ms`)
      .toBeLessThan(250);
    expect(aof.size).toBe(content.length);
    expect(aof.fileSize).toBeGreaterThan(4 * GEOMETRY[2]); // grew past its first step several times

    await aof.finish();
    expect(fs.existsSync(shm(file)), 'the -shm file is removed by finish()').toBe(false);
    const eofs = (await Promise.all(readers.map((r) => r.waitFor('eof')))).map((l) => reportData(l));
    const sha = content.sha256();
    for (const [i, eof] of eofs.entries()) {
      expect(eof, `reader ${i}`).toMatchObject({
        length: content.length,
        sha256: sha,
        size: content.length,
        state: FileState.EOF,
        tailerState: TailerState.EOF,
        writerPid: null,
      });
    }
    for (const [i, r] of readers.entries()) {
      await r.exitedCleanly();
      expect(reportData(await r.waitFor('done')), `reader ${i}`).toEqual({ state: FileState.Closed });
      expectContiguous(r, 0, content.length, published);
    }
    expect(fs.existsSync(shm(file)), 'no reader recreated the -shm of a finished file').toBe(false);
    await m.close();
  });

  it('readers started after the writes catch up from 0 and from the middle, by tail() and by createReadStream(), then follow to EOF', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('c.aof', geometry());
    const content = new Content();
    await writeTurns(aof, content, 3, 12, 40 * KiB);
    const first = aof.size;
    expect(aof.fileSize).toBeGreaterThan(GEOMETRY[0]);
    const mid = 100_003;
    expect(first).toBeGreaterThan(mid);

    const file = aof.path;
    const tailFrom0 = readerProcess({ path: file, options: { wake: 'futex' } });
    const tailFromMid = readerProcess({ dir, name: 'c.aof', options: { wake: 'poll', interval: 5 }, from: mid });
    const streamFrom0 = readerProcess({ path: file, mode: 'stream', options: { wake: 'futex' } });
    const streamFromMid = readerProcess({ path: file, mode: 'stream', from: mid, options: { wake: 'spin' } });
    const streamNoFollow = readerProcess({ path: file, mode: 'stream', from: mid, follow: false });
    const following = [tailFrom0, tailFromMid, streamFrom0, streamFromMid];

    for (const r of [...following, streamNoFollow]) {
      expect(reportData(await r.waitFor('ready'))).toMatchObject({ size: first, state: FileState.Opened, writerPid: process.pid });
    }
    await Promise.all(following.map((r) => reached(r, first)));
    // Catching up is one event: everything published is there at the first poll.
    expect(ats(tailFrom0)[0]).toEqual({ begin: 0, end: first, state: FileState.Opened });
    expect(ats(tailFromMid)[0]).toEqual({ begin: mid, end: first, state: FileState.Opened });
    // follow: false ends at the size it found, without waiting for a finish.
    expect(reportData(await streamNoFollow.waitFor('eof'))).toMatchObject({
      length: first - mid,
      sha256: content.sha256(mid),
      state: FileState.Opened,
    });
    await streamNoFollow.exitedCleanly();

    await writeTurns(aof, content, 4, 8, 30 * KiB);
    await Promise.all(following.map((r) => reached(r, aof.size)));
    await writeTurns(aof, content, 5, 3, 5 * KiB);
    await aof.finish();
    for (const [r, from] of [[tailFrom0, 0], [tailFromMid, mid], [streamFrom0, 0], [streamFromMid, mid]] as const) {
      expect(reportData(await r.waitFor('eof'))).toMatchObject({
        length: content.length - from,
        sha256: content.sha256(from),
        size: content.length,
        state: FileState.EOF,
      });
      await r.exitedCleanly();
      expectContiguous(r, from, content.length);
    }
    await m.close();
  });
});

describe('finish', () => {
  it('ends a child\'s tail() with state EOF at the final size, removes the -shm, and a reader opened afterwards reads it all and ends without creating one', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('f.aof', geometry());
    const content = new Content();
    await writeTurns(aof, content, 11, 6, 50 * KiB);
    expect(fs.existsSync(shm(aof.path))).toBe(true);
    const before = readerProcess({ path: aof.path, commands: true });
    await reached(before, aof.size);
    expect(reportData(await before.request('status', 'status'))).toMatchObject({
      state: FileState.Opened,
      tailerState: TailerState.Tail,
      position: aof.size,
    });

    await aof.finish();
    expect(fs.existsSync(shm(aof.path))).toBe(false);
    const eof = reportData(await before.waitFor('eof'));
    expect(eof).toMatchObject({
      length: content.length,
      sha256: content.sha256(),
      size: content.length, // the content, not the final marker
      state: FileState.EOF,
      tailerState: TailerState.EOF,
    });
    await before.exitedCleanly();
    await m.close();

    // Opened after the finish; never closed: the process must still exit by itself.
    const after = readerProcess({ path: path.join(dir, 'f.aof'), close: false }, { killAfterMs: 10_000 });
    expect(reportData(await after.waitFor('ready'))).toMatchObject({
      size: content.length,
      state: FileState.EOF,
      writerPid: null,
    });
    expect(reportData(await after.waitFor('eof'))).toMatchObject({
      length: content.length,
      sha256: content.sha256(),
      state: FileState.EOF,
      tailerState: TailerState.EOF,
    });
    expect(ats(after)).toEqual([{ begin: 0, end: content.length, state: FileState.EOF }]);
    await after.exitedCleanly();
    expect(fs.existsSync(shm(path.join(dir, 'f.aof')))).toBe(false);
  });
});

describe('a writer that closes without finishing', () => {
  it('leaves readers Opened and following; they receive what the next writers (a child, then another Manager) append, then EOF', async () => {
    const dir = tmpDir('aof-reader-');
    const name = 'w.aof';
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const aof1 = m1.open(name, geometry());
    const file = aof1.path;
    const content = new Content();
    await writeTurns(aof1, content, 21, 5, 20 * KiB);
    const readers = [
      readerProcess({ path: file, options: { wake: 'futex' }, commands: true }),
      readerProcess({ path: file, options: { wake: 'spin' }, commands: true }),
      readerWorker({ path: file, options: { wake: 'poll', interval: 2 }, commands: true }),
    ];
    await Promise.all(readers.map((r) => reached(r, content.length)));

    await aof1.close();
    expect(fs.existsSync(shm(file)), 'close() keeps the -shm for the next writer').toBe(true);
    for (const r of readers) {
      expect(reportData(await r.request('status', 'status'))).toMatchObject({
        size: content.length,
        state: FileState.Opened,
        writerPid: null,
        tailerState: TailerState.Tail,
        position: content.length,
      });
    }

    // The next writer: a child process.
    const w = writerProcess({ dir, name });
    expect(reportData(await w.waitFor('open'))).toMatchObject({ size: content.length });
    for (const r of readers) {
      expect(reportData(await r.request('status', 'status'))).toMatchObject({ writerPid: w.pid, state: FileState.Opened });
    }
    for (let i = 0; i < 4; i++) {
      expect(reportData(await w.request(content.addWriterRun(500 + i * 10, [1 + i * 3_000, 17, 9_000 + i]), 'wrote')).size)
        .toBe(content.length);
      await Promise.all(readers.map((r) => reached(r, content.length)));
    }
    await w.request('close', 'closed');
    await w.exitedCleanly();

    // Then another Manager in this process.
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open(name, geometry());
    expect(aof2.size).toBe(content.length);
    for (const r of readers) {
      expect(reportData(await r.request('status', 'status'))).toMatchObject({ writerPid: process.pid, state: FileState.Opened });
    }
    await writeTurns(aof2, content, 22, 5, 30 * KiB);
    await Promise.all(readers.map((r) => reached(r, content.length)));
    for (const r of readers) expect(r.lines.some((l) => l.startsWith('eof') || l.startsWith('tail-error'))).toBe(false);

    await aof2.finish();
    for (const r of readers) {
      expect(reportData(await r.waitFor('eof'))).toMatchObject({
        length: content.length,
        sha256: content.sha256(),
        state: FileState.EOF,
      });
      await r.exitedCleanly();
      expectContiguous(r, 0, content.length);
    }
    await m1.close();
    await m2.close();
  });
});

describe('one writer per file', () => {
  it('a second writer in this process (another Manager) gets ERR_AOF_LOCKED, as does openAsync without a lockTimeout; readers need no lock', async () => {
    const dir = tmpDir('aof-reader-');
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m1.open('l.aof', geometry());
    aof.write('first writer');
    expect(m1.open('l.aof')).toBe(aof); // the same Manager: the same AOF, not a lock error
    expect(codeOf(() => m2.open('l.aof', geometry()))).toBe('ERR_AOF_LOCKED');
    expectAofError(await rejectionOf(m2.openAsync('l.aof', { geometry: geometry() })), 'ERR_AOF_LOCKED');
    await using reader = openReader(aof.path);
    expect(reader.size).toBe('first writer'.length);
    expect(m2.files()).toEqual([]);
    // The refused opens left the writer and its readers alone.
    aof.write(' goes on');
    await nextTurn();
    expect(reader.view().toString()).toBe('first writer goes on');
    await m1.close();
    await m2.close();
  });

  it('a child process gets ERR_AOF_LOCKED while this process writes, and opens the file once it has closed', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('l.aof', geometry());
    aof.write(pseudoRandomBytes(5_000, 1));
    const refused = writerProcess({ dir, name: 'l.aof', mode: 'try-open' });
    expect(reportData(await refused.waitFor('error'))).toMatchObject({ code: 'ERR_AOF_LOCKED' });
    await refused.exitedCleanly();
    await aof.close();
    const allowed = writerProcess({ dir, name: 'l.aof', mode: 'try-open' });
    expect(reportData(await allowed.waitFor('opened'))).toEqual({ size: 5_000 });
    await allowed.exitedCleanly();
    await m.close();
  });

  it('openAsync waits while another Manager writes and gets the file once that one closes', async () => {
    const dir = tmpDir('aof-reader-');
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof1 = m1.open('l.aof', geometry());
    aof1.write('abc');
    const waiting = m2.openAsync('l.aof', { geometry: geometry(), lockTimeout: Infinity });
    expect(await settlesWithin(waiting, 2_000), 'openAsync settled while the lock was held').toBe(false);
    aof1.write('def'); // the first writer is unaffected by the waiting one
    await aof1.close();
    const aof2 = await waiting;
    expect(aof2.size).toBe(6);
    expect(aof2.view().toString()).toBe('abcdef');
    aof2.write('ghi');
    expect(codeOf(() => m1.open('l.aof', geometry()))).toBe('ERR_AOF_LOCKED'); // m2 holds it now
    await m2.close();
    await m1.close();
  });

  it('openAsync with a lockTimeout rejects with ERR_AOF_LOCKED once the timeout has passed', async () => {
    const dir = tmpDir('aof-reader-');
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    m1.open('l.aof', geometry());
    const lockTimeout = 60;
    const start = performance.now();
    const e = await rejectionOf(m2.openAsync('l.aof', { geometry: geometry(), lockTimeout }));
    const elapsed = performance.now() - start;
    expectAofError(e, 'ERR_AOF_LOCKED');
    expect(elapsed).toBeGreaterThanOrEqual(lockTimeout - 1);
    expect(elapsed).toBeLessThan(lockTimeout + 2_000);
    await m1.close();
    // After the timeout nothing is left behind: the file opens now that it is free.
    expect(m2.open('l.aof', geometry()).size).toBe(0);
    await m2.close();
  });

  it('openAsync rejects with the signal\'s reason: aborted before the call, and aborted while it waits', async () => {
    const dir = tmpDir('aof-reader-');
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    m1.open('l.aof', geometry());
    const early = new Error('aborted early');
    expect(await rejectionOf(m2.openAsync('l.aof', { lockTimeout: Infinity, signal: AbortSignal.abort(early) }))).toBe(early);

    const controller = new AbortController();
    const late = new Error('aborted while waiting');
    const waiting = m2.openAsync('l.aof', { geometry: geometry(), lockTimeout: Infinity, signal: controller.signal });
    expect(await settlesWithin(waiting, 1_000)).toBe(false);
    controller.abort(late);
    expect(await rejectionWithin(waiting)).toBe(late);
    await m1.close();
    expect(m2.open('l.aof', geometry()).size).toBe(0); // no lock left behind
    await m2.close();
  });

  it('after its writer was killed (SIGKILL), a reader stays Opened and no longer names the dead pid as writerPid', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const w = writerProcess({ dir, name: 'p.aof' });
    await w.waitFor('open');
    await w.request(content.addWriterRun(800, [10_000]), 'wrote');
    const reader = readerProcess({ path: path.join(dir, 'p.aof'), commands: true });
    await reached(reader, content.length);
    expect(reportData(await reader.request('status', 'status')).writerPid).toBe(w.pid);
    w.kill('SIGKILL');
    expect((await w.exited).signal).toBe('SIGKILL');
    const status = reportData(await reader.request('status', 'status'));
    expect(status).toMatchObject({ state: FileState.Opened, size: content.length, tailerState: TailerState.Tail });
    expect(status.writerPid, `pid ${w.pid} is dead`).toBeNull();
    reader.kill();
    await reader.exited;
  });

  it('a writer killed before it published its last writes: readers get them (up to the committed size) without a new writer', async () => {
    const dir = tmpDir('aof-reader-');
    const name = 'u.aof';
    const content = new Content();
    const w = writerProcess({ dir, name });
    await w.waitFor('open');
    await w.request(content.addWriterRun(700, [5_000, 33]), 'wrote');
    const published = content.length;
    const reader = readerProcess({ path: path.join(dir, name), commands: true });
    await reached(reader, published);
    // Committed (write() returned) but never published: the writer spins without yielding.
    const hang = content.addWriterRun(710, [20_000, 7, 4_096]).replace(/^write /, 'hang ');
    expect(reportData(await w.request(hang, 'wrote')).size).toBe(content.length);
    expect(reportData(await reader.request('status', 'status')).size, 'not published while the writer lives').toBe(published);
    w.kill('SIGKILL');
    expect((await w.exited).signal).toBe('SIGKILL');
    // Within the reader's check interval (1 s) it sees the dead writer and serves the committed writes.
    await reached(reader, content.length);
    reader.kill();
    await reader.exited;
    expectContiguous(reader, 0, content.length);
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open(name, geometry());
    expect(aof.size, 'the next writer recovers to the same size').toBe(content.length);
    expect(sha256(aof.view())).toBe(content.sha256());
    await m.close();
  });

  it('a writer child killed with SIGKILL releases the lock: a waiting openAsync gets everything it wrote, and a reader follows the new writer', async () => {
    const dir = tmpDir('aof-reader-');
    const name = 'k.aof';
    const content = new Content();
    const w = writerProcess({ dir, name });
    await w.waitFor('open');
    expect(reportData(await w.request(content.addWriterRun(900, [70_000, 3, 12_345]), 'wrote')).size).toBe(content.length);
    const file = path.join(dir, name);
    const reader = readerProcess({ path: file, commands: true });
    await reached(reader, content.length);
    expect(reportData(await reader.request('status', 'status')).writerPid).toBe(w.pid);

    const m = new Manager(dir, { flushIntervalMs: 0 });
    expect(codeOf(() => m.open(name, geometry()))).toBe('ERR_AOF_LOCKED');
    const waiting = m.openAsync(name, { geometry: geometry(), lockTimeout: Infinity });
    expect(await settlesWithin(waiting, 500)).toBe(false);
    w.kill('SIGKILL');
    expect((await w.exited).signal).toBe('SIGKILL');
    const aof = await waiting;
    expect(aof.size).toBe(content.length);
    expect(sha256(aof.view())).toBe(content.sha256());

    expect(reportData(await reader.request('status', 'status'))).toMatchObject({ writerPid: process.pid, state: FileState.Opened });
    await writeTurns(aof, content, 31, 4, 10 * KiB);
    await aof.finish();
    expect(reportData(await reader.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256() });
    await reader.exitedCleanly();
    expectContiguous(reader, 0, content.length);
    await m.close();
  });
});

describe('a stale or missing control block is rebuilt', () => {
  it.each([false, true])('deleted while no writer has the file (createControlBlock: %s): a reader finds the size by recovery, makes a block only when asked, and follows the next writer', async (createControlBlock) => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const aof1 = m1.open('d.aof', geometry());
    await writeTurns(aof1, content, 41, 5, 30 * KiB);
    const file = aof1.path;
    await m1.close();
    fs.rmSync(shm(file));

    await using reader = openReader(file, { wake: 'futex', createControlBlock });
    expect(reader.size).toBe(content.length);
    expect(reader.state).toBe(FileState.Opened);
    expect(reader.writerPid).toBeUndefined();
    expect(fs.existsSync(shm(file)), 'a -shm only when the reader was asked to make one').toBe(createControlBlock);
    const c = collect(reader);
    await until(() => c.state.position === content.length, 'the reader catching up');

    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open('d.aof', geometry());
    expect(aof2.size).toBe(content.length);
    // Without a block of its own, the reader attaches to the writer's when the directory says it appeared.
    await until(() => reader.writerPid === process.pid, 'the reader finding the writer');
    await writeTurns(aof2, content, 42, 5, 30 * KiB);
    await until(() => c.state.position === content.length, 'the reader following the next writer');
    await aof2.finish();
    await until(() => c.state.closedWith !== undefined, 'EOF');
    expect(c.state.closedWith).toEqual({ reason: 'eof' });
    expect(c.state.breaks).toBe(0);
    expect(sha256(c.data())).toBe(content.sha256());
    expect(reader.state).toBe(FileState.EOF);
    await m2.close();
  });

  const variants: Array<{ what: string; make: (file: string, other: string) => Buffer }> = [
    { what: 'a page of garbage', make: () => pseudoRandomBytes(4096, 99) },
    { what: 'a short garbage file', make: () => pseudoRandomBytes(100, 98) },
    { what: 'an empty file', make: () => Buffer.alloc(0) },
    { what: 'a zeroed page', make: () => Buffer.alloc(4096) },
    { what: 'a copy of another file\'s block (its writer closed)', make: (_file, other) => fs.readFileSync(shm(other)) },
  ];
  for (const { what, make } of variants) {
    it(`${what} in place of the -shm: a reader and then a writer find the size by recovery, and the reader follows`, async () => {
      const dir = tmpDir('aof-reader-');
      const content = new Content();
      const m1 = new Manager(dir, { flushIntervalMs: 0 });
      const aof1 = m1.open('a.aof', geometry());
      await writeTurns(aof1, content, 51, 4, 20 * KiB);
      // Another file, larger, whose block says so.
      const other = m1.open('b.aof', geometry());
      other.write(pseudoRandomBytes(content.length + 50_000, 5));
      await m1.close();
      const file = path.join(dir, 'a.aof');
      fs.writeFileSync(shm(file), make(file, path.join(dir, 'b.aof')));

      await using reader = openReader(file);
      expect(reader.size).toBe(content.length);
      expect(reader.state).toBe(FileState.Opened);
      expect(reader.writerPid).toBeUndefined();
      expect(sha256(reader.view())).toBe(content.sha256());
      const c = collect(reader);

      const m2 = new Manager(dir, { flushIntervalMs: 0 });
      const aof2 = m2.open('a.aof', geometry());
      expect(aof2.size).toBe(content.length);
      await writeTurns(aof2, content, 52, 4, 20 * KiB);
      await aof2.finish();
      await until(() => c.state.closedWith !== undefined, 'EOF');
      expect(c.state.closedWith).toEqual({ reason: 'eof' });
      expect(c.state.breaks).toBe(0);
      expect(sha256(c.data())).toBe(content.sha256());
      await m2.close();
    });

    it(`${what} in place of the -shm: a writer opening first ignores it, and a reader opened afterwards follows it`, async () => {
      const dir = tmpDir('aof-reader-');
      const content = new Content();
      const m1 = new Manager(dir, { flushIntervalMs: 0 });
      const aof1 = m1.open('a.aof', geometry());
      await writeTurns(aof1, content, 53, 4, 20 * KiB);
      const other = m1.open('b.aof', geometry());
      other.write(pseudoRandomBytes(content.length + 50_000, 5));
      await m1.close();
      const file = path.join(dir, 'a.aof');
      fs.writeFileSync(shm(file), make(file, path.join(dir, 'b.aof')));

      const m2 = new Manager(dir, { flushIntervalMs: 0 });
      const aof2 = m2.open('a.aof', geometry());
      expect(aof2.size).toBe(content.length);
      await using reader = openReader(file);
      expect(reader.size).toBe(content.length);
      expect(reader.writerPid).toBe(process.pid);
      const c = collect(reader);
      await writeTurns(aof2, content, 54, 4, 20 * KiB);
      await until(() => c.state.position === content.length, 'the reader following');
      expect(sha256(c.data())).toBe(content.sha256());
      await m2.close();
    });
  }

  it('a copy of another file\'s block whose writer is open (state Writing, a larger committed size) misleads neither a reader nor the next writer', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const aof1 = m1.open('a.aof', geometry());
    await writeTurns(aof1, content, 55, 4, 20 * KiB);
    await aof1.close();
    const other = m1.open('b.aof', geometry());
    other.write(pseudoRandomBytes(content.length + 50_000, 5));
    const file = path.join(dir, 'a.aof');
    fs.copyFileSync(shm(other.path), shm(file)); // while b.aof's writer is open

    await using reader = openReader(file);
    expect(reader.size).toBe(content.length);
    expect(reader.writerPid).toBeUndefined();
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open('a.aof', geometry());
    expect(aof2.size).toBe(content.length);
    expect(sha256(aof2.view())).toBe(content.sha256());
    await m1.close();
    await m2.close();
  });

  it('a stale block saying Writing for a file already finished on disk (its writer killed inside finish()) does not keep a reader from EOF', async () => {
    const dir = tmpDir('aof-reader-');
    const name = 'z.aof';
    const file = path.join(dir, name);
    const content = new Content();
    const w = writerProcess({ dir, name });
    await w.waitFor('open');
    await w.request(content.addWriterRun(700, [30_000, 5_000]), 'wrote');
    // The block as a writer killed between finish()'s truncate and its last store leaves it:
    // state Writing, its pid, the final size.
    const following = readerProcess({ path: file });
    await reached(following, content.length); // the size is published to the block by now
    const stale = fs.readFileSync(shm(file));
    await w.request('finish', 'finished');
    await w.request('close', 'closed');
    await w.exitedCleanly();
    await following.exitedCleanly();
    expect(fs.existsSync(shm(file))).toBe(false);
    expect(fs.statSync(file).size).toBe(content.length + 8);
    fs.writeFileSync(shm(file), stale);

    await using reader = openReader(file);
    expect(reader.size).toBe(content.length);
    expect(reader.state, 'the data file is finished').toBe(FileState.EOF);
    const c = collect(reader);
    await until(() => c.state.closedWith !== undefined, 'the tailer ending at EOF', 3_000);
    expect(c.state.closedWith).toEqual({ reason: 'eof' });
    expect(sha256(c.data())).toBe(content.sha256());
  });

  it('four child readers rebuilding a missing -shm at once (createControlBlock) agree on the size and all follow the next writer', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const aof1 = m1.open('r.aof', geometry());
    await writeTurns(aof1, content, 45, 5, 30 * KiB);
    const file = aof1.path;
    await m1.close();
    fs.rmSync(shm(file));
    const readers = (['futex', 'futex', 'poll', 'spin'] as const).map((wake) => readerProcess({ path: file, options: { wake, createControlBlock: true } }));
    for (const r of readers) {
      expect(reportData(await r.waitFor('ready'))).toMatchObject({ size: content.length, state: FileState.Opened, writerPid: null });
    }
    await Promise.all(readers.map((r) => reached(r, content.length)));
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open('r.aof', geometry());
    expect(aof2.size).toBe(content.length);
    await writeTurns(aof2, content, 46, 5, 30 * KiB);
    await aof2.finish();
    for (const r of readers) {
      expect(reportData(await r.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256(), state: FileState.EOF });
      await r.exitedCleanly();
      expectContiguous(r, 0, content.length);
    }
    await m2.close();
  });

  // Only root can start a child as another user (uid nobody), which is what leaves the reader
  // without write access to the -shm file.
  it.skipIf(!isRoot)(skipTitle(isRoot, 'readers without write access to the -shm (children as uid nobody; futex, doorbell, adaptive asked) still follow the writer to EOF', 'needs root'), async () => { // NOTE: needs root
    const dir = tmpDir('aof-reader-');
    fs.chmodSync(dir, 0o755); // nobody may enter, not create
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('n.aof', geometry());
    const content = new Content();
    await writeTurns(aof, content, 47, 3, 10 * KiB);
    expect(fs.statSync(shm(aof.path)).mode & 0o777).toBe(0o644);
    // Neither the futex nor the doorbell can count such a reader as waiting: both fall back to polling.
    const readers = (['futex', 'doorbell', 'adaptive'] as const).map((wake) =>
      readerProcess({ path: aof.path, options: { wake } }, { uid: 65534, gid: 65534 }));
    for (const reader of readers) {
      expect(reportData(await reader.waitFor('ready'))).toMatchObject({ size: content.length, writerPid: process.pid });
      await reached(reader, content.length);
    }
    await writeTurns(aof, content, 48, 3, 10 * KiB);
    for (const reader of readers) await reached(reader, content.length);
    await aof.finish();
    for (const reader of readers) {
      expect(reportData(await reader.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256(), state: FileState.EOF });
      await reader.exitedCleanly();
    }
    await m.close();
  });

  it('deleted while the writer has the file open: the Manager\'s interval (aof.maintain()) recreates it; readers opened after, before and in between all follow', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m = new Manager(dir, { flushIntervalMs: 20 });
    const aof = m.open('m.aof', geometry());
    const file = aof.path;
    await writeTurns(aof, content, 61, 4, 10 * KiB);
    await using early = openReader(file, { wake: 'futex' }); // follows the block that will be deleted
    const e = collect(early);
    await until(() => e.state.position === content.length, 'the early reader');
    await using earlyBell = openReader(file); // the doorbell: watches the block that will be deleted
    const eb = collect(earlyBell);
    await until(() => eb.state.position === content.length, 'the early doorbell reader');
    const firstBlock = fs.statSync(shm(file)).ino;

    // 1. Deleted; no reader opens until the writer's interval has made a new one.
    fs.rmSync(shm(file));
    await until(() => fs.existsSync(shm(file)), 'the writer recreating the -shm');
    expect(fs.statSync(shm(file)).ino).not.toBe(firstBlock);
    await using late = openReader(file, { wake: 'futex' });
    expect(late.size).toBe(content.length);
    expect(late.writerPid).toBe(process.pid);
    const l = collect(late);
    await writeTurns(aof, content, 62, 4, 10 * KiB);
    await until(() => l.state.position === content.length, 'the reader opened after the writer recreated the block');

    // 2. Deleted again, and a reader asked to make one opens at once: it rebuilds the block from
    //    recovery; the writer then takes that block over on its next interval.
    const secondBlock = fs.statSync(shm(file)).ino;
    fs.rmSync(shm(file));
    await using between = openReader(file, { wake: 'poll', interval: 2, createControlBlock: true });
    expect(between.size).toBe(content.length);
    expect(fs.statSync(shm(file)).ino).not.toBe(secondBlock);
    const b = collect(between);
    await until(() => between.writerPid === process.pid, 'the writer adopting the rebuilt block');
    await writeTurns(aof, content, 63, 4, 10 * KiB);
    await until(() => b.state.position === content.length, 'the reader that rebuilt the block');
    await until(() => l.state.position === content.length, 'the reader of the second block');

    // The early reader's block was deleted long ago: it finds the current one (its futex wait
    // times out every second and checks) and gets everything.
    await until(() => e.state.position === content.length, 'the reader of the first block', 5_000);
    await until(() => eb.state.position === content.length, 'the doorbell reader of the first block', 5_000);
    await aof.finish();
    for (const c of [e, eb, l, b]) {
      await until(() => c.state.closedWith !== undefined, 'EOF');
      expect(c.state.closedWith).toEqual({ reason: 'eof' });
      expect(c.state.breaks).toBe(0);
    }
    expect(sha256(e.data())).toBe(content.sha256());
    expect(sha256(eb.data())).toBe(content.sha256());
    expect(sha256(l.data())).toBe(content.sha256(0));
    expect(sha256(b.data())).toBe(content.sha256(0));
    await m.close();
  });
});

describe('a reader makes nothing beside the file and trusts only its live writer\'s block', () => {
  it('a file renamed while its writer writes on (logrotate\'s `mv`): readers get all of it from the bytes, before and after the writer closes, and leave no -shm', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('app.aof', geometry());
    await writeTurns(aof, content, 71, 3, 10 * KiB);
    const renamed = path.join(dir, 'app.aof.1');
    fs.renameSync(aof.path, renamed);
    await writeTurns(aof, content, 72, 3, 10 * KiB); // the writer keeps writing the renamed file
    {
      await using reader = openReader(renamed);
      expect(reader.size, 'everything written, from the bytes (the writer\'s block is at the old name)').toBe(content.length);
      expect(sha256(reader.view())).toBe(content.sha256());
      expect(reader.writerPid).toBeUndefined();
    }
    expect(fs.existsSync(shm(renamed)), 'no -shm beside the renamed file').toBe(false);
    await writeTurns(aof, content, 73, 2, 10 * KiB);
    await m.close();
    await using after = openReader(renamed);
    expect(after.size).toBe(content.length);
    expect(sha256(after.view())).toBe(content.sha256());
    expect(fs.existsSync(shm(renamed))).toBe(false);
  });

  it('a block describing the file but not its live writer (state None with an old, smaller size, as a reader of an older version left it) is not trusted: the bytes are', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('s.aof', geometry());
    await writeTurns(aof, content, 74, 2, 10 * KiB);
    await m.close();
    const stale = fs.readFileSync(shm(aof.path)); // None, at the size then
    const staleSize = content.length;
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open('s.aof', geometry());
    await writeTurns(aof2, content, 75, 2, 10 * KiB);
    await m2.close();
    expect(content.length).toBeGreaterThan(staleSize);
    fs.writeFileSync(shm(aof.path), stale);
    const before = fs.readFileSync(shm(aof.path));
    await using reader = openReader(aof.path);
    expect(reader.size).toBe(content.length);
    expect(sha256(reader.view())).toBe(content.sha256());
    const c = collect(reader);
    await until(() => c.state.position === content.length, 'the tailer reading it all');
    await reader.close(); // while it follows, it counts itself as a doorbell waiter in the block
    expect(fs.readFileSync(shm(aof.path)).equals(before), 'the reader left the block as it found it').toBe(true);
  });

  it.each(['doorbell', 'futex', 'poll'] as const)('a %s reader following a file without a writer (no -shm) makes none, and follows a writer that comes', async (wake) => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('n.aof', geometry());
    await writeTurns(aof, content, 76, 2, 10 * KiB);
    await m.close();
    fs.rmSync(shm(aof.path));
    const before = fs.readdirSync(dir).sort();
    await using reader = openReader(aof.path, { wake });
    const c = collect(reader);
    await until(() => c.state.position === content.length, 'the tailer reading what is there');
    expect(fs.readdirSync(dir).sort(), 'nothing made beside the file').toEqual(before);
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open('n.aof', geometry());
    await writeTurns(aof2, content, 77, 3, 10 * KiB);
    await until(() => c.state.position === content.length, 'the tailer following the writer that came');
    await aof2.finish();
    await until(() => c.state.closedWith !== undefined, 'EOF');
    expect(c.state.closedWith).toEqual({ reason: 'eof' });
    expect(sha256(c.data())).toBe(content.sha256());
    await m2.close();
  });
});

describe('reader lifecycle and errors', () => {
  function openFds(): number {
    return fs.readdirSync('/proc/self/fd').length;
  }

  it('openReader and follow(): a missing file is ERR_AOF_NOT_FOUND, a directory ERR_AOF_IS_DIRECTORY, and neither leaks a descriptor', async () => {
    const dir = tmpDir('aof-reader-');
    fs.mkdirSync(path.join(dir, 'sub'));
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const fds = openFds();
    for (let i = 0; i < 5; i++) {
      expect(codeOf(() => openReader(path.join(dir, 'missing.aof')))).toBe('ERR_AOF_NOT_FOUND');
      expect(codeOf(() => openReader(path.join(dir, 'no-dir', 'x.aof')))).toBe('ERR_AOF_NOT_FOUND');
      expect(codeOf(() => m.follow('missing.aof'))).toBe('ERR_AOF_NOT_FOUND');
      expect(codeOf(() => openReader(path.join(dir, 'sub')))).toBe('ERR_AOF_IS_DIRECTORY');
      expect(codeOf(() => m.follow('sub'))).toBe('ERR_AOF_IS_DIRECTORY');
    }
    expect(openFds()).toBe(fds);
    expect(fs.existsSync(shm(path.join(dir, 'missing.aof')))).toBe(false);
    await m.close();
  });

  it('bad options and arguments are ERR_AOF_INVALID_ARG', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('o.aof', geometry());
    aof.write('x');
    await nextTurn(); // published once the synchronous run of writes ends
    const bad: unknown[] = [
      { wake: 'x' }, { wake: 'FUTEX' }, { wake: 1 },
      { interval: 0 }, { interval: -1 }, { interval: Number.NaN }, { interval: Infinity }, { interval: '5' },
      { wake: 'poll', interval: 0 }, { spinMs: -1 }, { spinMs: Number.NaN }, null, 'futex',
    ];
    const fds = openFds();
    for (const options of bad) {
      expect(codeOf(() => openReader(aof.path, options as ReaderOptions)), JSON.stringify(options)).toBe('ERR_AOF_INVALID_ARG');
      expect(codeOf(() => m.follow('o.aof', options as ReaderOptions)), JSON.stringify(options)).toBe('ERR_AOF_INVALID_ARG');
    }
    for (const p of ['', 42, undefined]) expect(codeOf(() => openReader(p as string))).toBe('ERR_AOF_INVALID_ARG');
    for (const name of ['../o.aof', 'a/b', '.', '']) expect(codeOf(() => m.follow(name))).toBe('ERR_AOF_INVALID_ARG');
    expect(openFds()).toBe(fds);

    await using reader = openReader(aof.path);
    expect(codeOf(() => reader.view(0, 2))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => reader.view(-1))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => reader.view(1, 0))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => reader.subscribe({ pollRead: (ev) => ev.end }, { from: 2 }))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => reader.tail({ from: -1 }))).toBe('ERR_AOF_INVALID_ARG');
    expect(reader.tailerCount).toBe(0);
    expect(reader.view(0, 1).toString()).toBe('x');
    await m.close();
  });

  it('close() is idempotent and returns the same promise; a closed reader refuses view, subscribe and tail with ERR_AOF_CLOSED; `await using` closes it', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('c.aof', geometry());
    aof.write('hello');
    await nextTurn();
    const reader = openReader(aof.path);
    expect(reader.size).toBe(5);
    const p = reader.close();
    expect(reader.close()).toBe(p);
    expect(reader[Symbol.asyncDispose]()).toBe(p);
    await p;
    expect(reader.close()).toBe(p);
    expect(reader.state).toBe(FileState.Closed);
    expect(codeOf(() => reader.view())).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => reader.subscribe({ pollRead: (ev) => ev.end }))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => reader.tail())).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => reader.createReadStream())).toBe('ERR_AOF_CLOSED');

    let scoped: Reader | undefined;
    {
      await using r = openReader(aof.path, { wake: 'poll' });
      scoped = r;
      expect(r.state).toBe(FileState.Opened);
    }
    expect(scoped.state).toBe(FileState.Closed);
    // The writer never noticed.
    aof.write(' world');
    expect(aof.view().toString()).toBe('hello world');
    await m.close();
  });

  it('tail() iterators end with ERR_AOF_CLOSED and subscribers with "file-closed" when the reader closes', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('t.aof', geometry());
    aof.write('some bytes');
    await nextTurn();
    for (const wake of ['doorbell', 'adaptive', 'futex', 'poll', 'spin'] as const) {
      const reader = openReader(aof.path, { wake });
      const waiting = reader.tail({ from: reader.size }); // nothing to read: waits
      const pending = waiting.next();
      const reading = reader.tail();
      const first = await reading.next();
      expect(first.done).toBe(false);
      expect(first.value!.tail.toString()).toBe('some bytes');
      const sub = collect(reader);
      await until(() => sub.state.position === 10, 'the subscriber');
      expect(reader.tailerCount).toBe(3);

      const closing = reader.close();
      expectAofError(await rejectionWithin(pending), 'ERR_AOF_CLOSED');
      expectAofError(await rejectionWithin(reading.next()), 'ERR_AOF_CLOSED');
      expect(await settlesWithin(closing)).toBe(true);
      expect(sub.state.closedWith).toEqual({ reason: 'file-closed' });
      expect(reader.tailerCount).toBe(0);
      expect(reader.state).toBe(FileState.Closed);
    }
    await m.close();
  });

  it('a tail() iterator that was waiting when its reader closed throws ERR_AOF_CLOSED once, and is done afterwards', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('t.aof', geometry());
    aof.write('some bytes');
    await nextTurn();
    const reader = openReader(aof.path);
    const waiting = reader.tail({ from: reader.size });
    const pending = waiting.next();
    pending.catch(() => {}); // rejects during close(), before it is looked at
    await reader.close();
    expectAofError(await rejectionWithin(pending), 'ERR_AOF_CLOSED');
    // TailIterator.next(): "an error is thrown once; afterwards the iterator is just done".
    expect(await waiting.next()).toEqual({ value: undefined, done: true });
    await m.close();
  });

  it('views of a closed reader read zeros, in a child that exits 0 (no SIGSEGV)', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('v.aof', geometry());
    const content = new Content();
    await writeTurns(aof, content, 71, 6, 40 * KiB);
    const child = readerProcess({ path: aof.path, mode: 'views-after-close' });
    const r = reportData(await child.waitFor('views'));
    await child.exitedCleanly();
    let contentSum = 0;
    for (const b of content.bytes()) contentSum += b;
    expect(r.before).toMatchObject({ viewLength: content.length, sha256: content.sha256(), viewSum: contentSum });
    expect(r.before.wholeLength).toBeGreaterThanOrEqual(content.length);
    expect(r.before.wholeSum).toBeGreaterThanOrEqual(contentSum);
    expect(r.same).toBe(true);
    expect(r.after).toEqual({
      state: FileState.Closed,
      viewLength: content.length,
      wholeLength: r.before.wholeLength,
      nonZero: 0,
      viewError: 'ERR_AOF_CLOSED',
      tailError: 'ERR_AOF_CLOSED',
      subscribeError: 'ERR_AOF_CLOSED',
    });
    await m.close();
  });

  it('a reader that rebuilt a missing -shm (and so mapped the whole data file) reads its whole view buffer after the writer finished and truncated the file: no SIGBUS', async () => {
    const dir = tmpDir('aof-reader-');
    const content = new Content();
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const aof1 = m1.open('g.aof', geometry());
    await writeTurns(aof1, content, 81, 6, 30 * KiB);
    const fileSize = aof1.fileSize;
    expect(fileSize).toBeGreaterThan(content.length + 8 + 4096); // whole pages of headroom past the content
    await m1.close();
    const file = path.join(dir, 'g.aof');
    fs.rmSync(shm(file));

    const child = readerProcess({ path: file, mode: 'whole-after-eof', progress: false });
    expect(reportData(await child.waitFor('ready'))).toMatchObject({ size: content.length, state: FileState.Opened });
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const aof2 = m2.open('g.aof', geometry());
    writeRun(aof2, content, 82, [10, 20]);
    await aof2.finish();
    expect(fs.statSync(file).size).toBe(content.length + 8);
    const exit = await child.exited;
    expect({ code: exit.code, signal: exit.signal }, exit.stderr).toEqual({ code: 0, signal: null });
    const whole = reportData(child.lines.find((l) => l.startsWith('whole ')) ?? 'whole null');
    expect(whole).toMatchObject({ sha256: content.sha256(), nonZeroPast: 0, size: content.length });
    expect(whole.markerSum).toBeGreaterThan(0); // the final checkpoint marker right after the content
    await m2.close();
  });

  it('subscribe(consumer, { from, interval }) on a reader delivers every byte from `from` once and ends with "eof"', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('s.aof', geometry());
    const content = new Content();
    await writeTurns(aof, content, 91, 4, 10 * KiB);
    const from = 7_777;
    await using reader = openReader(aof.path, { wake: 'futex' });
    const c = collect(reader, { from, interval: 3 });
    await writeTurns(aof, content, 92, 20, 10 * KiB);
    await aof.finish();
    await until(() => c.state.closedWith !== undefined, 'EOF');
    expect(c.state.closedWith).toEqual({ reason: 'eof' });
    expect(c.state.breaks).toBe(0);
    expect(c.state.eofEvents).toBeLessThanOrEqual(1);
    expect(c.tailer.state).toBe(TailerState.EOF);
    expect(sha256(c.data())).toBe(content.sha256(from));
    expect(reader.tailerCount).toBe(0);
    await m.close();
  });

  it('Manager.close() closes its followers (their iterators end with ERR_AOF_CLOSED); follow() afterwards is ERR_AOF_CLOSED', async () => {
    const dir = tmpDir('aof-reader-');
    const writer = new Manager(dir, { flushIntervalMs: 0 });
    const aof = writer.open('f.aof', geometry());
    aof.write('abc');
    await nextTurn();
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const readers = [m.follow('f.aof'), m.follow('f.aof', { wake: 'poll', interval: 1 }), m.follow('f.aof', { wake: 'spin' })];
    const pending = readers.map((r) => {
      const next = r.tail({ from: 3 }).next();
      next.catch(() => {}); // it rejects during m.close(), before the loop below looks at it
      return next;
    });
    const subs = readers.map((r) => collect(r));
    await until(() => subs.every((s) => s.state.position === 3), 'the subscribers');
    await m.close();
    for (const p of pending) expectAofError(await rejectionWithin(p), 'ERR_AOF_CLOSED');
    for (const r of readers) expect(r.state).toBe(FileState.Closed);
    for (const s of subs) expect(s.state.closedWith).toEqual({ reason: 'file-closed' });
    expect(m.stats().tailers).toBe(0);
    expect(codeOf(() => m.follow('f.aof'))).toBe('ERR_AOF_CLOSED');
    // The writer is untouched.
    aof.write('def');
    expect(aof.size).toBe(6);
    await writer.close();
  });

  it('stats().tailers counts the tailers of follow() readers as they attach and detach; Manager.close() then settles', async () => {
    const dir = tmpDir('aof-reader-');
    const writer = new Manager(dir, { flushIntervalMs: 0 });
    const aof = writer.open('s.aof', geometry());
    aof.write('abc');
    await nextTurn();
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const r1 = m.follow('s.aof');
    const r2 = m.follow('s.aof', { wake: 'poll' });
    expect(m.stats().tailers).toBe(0);
    const a = collect(r1);
    const it1 = r1.tail();
    const b = collect(r2);
    expect(m.stats().tailers).toBe(3);
    expect(writer.stats().tailers).toBe(0); // the writer's Manager does not count other Managers' readers
    await until(() => a.state.position === 3 && b.state.position === 3, 'the subscribers');
    expect(m.stats().tailerWakes).toBeGreaterThanOrEqual(2);
    await a.tailer.close();
    expect(m.stats().tailers).toBe(2);
    await it1.return();
    expect(m.stats().tailers).toBe(1);
    await r2.close();
    expect(m.stats().tailers).toBe(0);
    expect(b.state.closedWith).toEqual({ reason: 'file-closed' });
    const closing = m.close();
    expect(await settlesWithin(closing)).toBe(true);
    expect(r1.state).toBe(FileState.Closed);
    await writer.close();
  });
});

describe('reader processes exit by themselves', () => {
  it('children and workers with an active tail (doorbell, adaptive, futex, poll, spin) stay alive while the writer is idle, follow its writes, and exit by themselves at EOF without close()', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('x.aof', geometry());
    const content = new Content();
    const readers = [
      ...(['doorbell', 'adaptive', 'futex', 'poll', 'spin'] as const).map((wake) =>
        readerProcess({ path: aof.path, options: { wake }, close: false }, { killAfterMs: 15_000 })),
      readerWorker({ path: aof.path, options: { wake: 'futex' }, close: false }),
      readerWorker({ path: aof.path, options: { wake: 'doorbell' }, close: false }),
    ];
    await Promise.all(readers.map((r) => r.waitFor('ready')));
    for (let round = 0; round < 2; round++) {
      // Idle on purpose: a reader whose waiting does not keep its event loop alive exits here.
      await sleep(300);
      for (const r of readers) expect(r.exit, `a reader exited while following: ${JSON.stringify(r.exit)}`).toBeUndefined();
      writeRun(aof, content, 100 + round * 10, [1_000 + round, 50_000]);
      await Promise.all(readers.map((r) => reached(r, content.length)));
    }
    await aof.finish();
    for (const r of readers) {
      expect(reportData(await r.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256() });
      expect(reportData(await r.waitFor('done'))).toEqual({ state: FileState.EOF }); // never closed
      await r.exitedCleanly();
    }
    await m.close();
  });

  it('a child whose stream stopped at the current size (follow: false) exits by itself while the writer keeps the file open', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('y.aof', geometry());
    const content = new Content();
    await writeTurns(aof, content, 111, 3, 10 * KiB);
    const child = readerProcess({ path: aof.path, mode: 'stream', follow: false, close: false }, { killAfterMs: 10_000 });
    expect(reportData(await child.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256(), state: FileState.Opened });
    await child.exitedCleanly();
    expect(aof.state).toBe(FileState.Opened);
    await m.close();
  });
});

describe('the doorbell (the default wake)', () => {
  /** The doorbell count of the control block of `file`: readers waiting for the doorbell now. */
  function doorbellSleepers(file: string): number {
    return fs.readFileSync(shm(file)).readUInt32LE(92);
  }

  it('a reader counts itself only while it follows; the writer rings at most once per turn while one waits, and never while none does', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('d.aof', geometry());
    const file = aof.path;
    // Every ring is a pwrite of the control block, which inotify reports: count them.
    const rings: number[] = [];
    let phase = 0;
    const watcher = fs.watch(shm(file), () => rings.push(phase));
    try {
      await using reader = openReader(file);
      expect(doorbellSleepers(file)).toBe(0); // not following: not waiting
      const c = collect(reader);
      expect(doorbellSleepers(file)).toBe(1);
      const content = new Content();
      // 12 turns of 20 writes each: at most one ring a turn.
      phase = 1;
      for (let turn = 0; turn < 12; turn++) {
        writeRun(aof, content, 500 + turn, Array.from({ length: 20 }, () => 100));
        await until(() => c.state.position === content.length, `turn ${turn}`);
      }
      const ringing = rings.filter((p) => p === 1).length;
      expect(ringing).toBeGreaterThanOrEqual(1);
      expect(ringing).toBeLessThanOrEqual(12);

      // No reader waits: writes ring nothing.
      await c.tailer.close();
      expect(doorbellSleepers(file)).toBe(0);
      phase = 2;
      for (let turn = 0; turn < 5; turn++) {
        writeRun(aof, content, 600 + turn, [100, 100]);
        await nextTurn();
      }
      // A reader waits again: the next write rings, and that ring is the first one since.
      phase = 3;
      const again = collect(reader, { from: content.length });
      writeRun(aof, content, 700, [100]);
      await until(() => rings.includes(3), 'the ring for the reader that waits again');
      await until(() => again.state.position === content.length, 'that reader');
      expect(rings.filter((p) => p === 2)).toEqual([]);
    } finally {
      watcher.close();
    }
    await aof.finish();
    await m.close();
  });

  it('a reader closed, or in a worker that is terminated, is no longer counted', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('w.aof', geometry());
    const file = aof.path;
    const workers = [readerWorker({ path: file, options: {} }), readerWorker({ path: file, options: { wake: 'adaptive' } })];
    await Promise.all(workers.map((w) => w.waitFor('ready')));
    // The doorbell worker waits; the adaptive one too, once it has spun past its window.
    await until(() => doorbellSleepers(file) === 2, 'both workers waiting for the doorbell');
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
    expect(doorbellSleepers(file)).toBe(0);

    const reader = openReader(file);
    const c = collect(reader);
    expect(doorbellSleepers(file)).toBe(1);
    await reader.close();
    expect(c.state.closedWith).toEqual({ reason: 'file-closed' });
    expect(doorbellSleepers(file)).toBe(0);
    await aof.finish();
    await m.close();
  });

  it('adaptive: on a stream paced by a timer it naps counted as a futex waiter between events, and takes the count back', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('n.aof', geometry());
    const file = aof.path;
    const reader = readerProcess({ path: file, options: { wake: 'adaptive' } });
    await reader.waitFor('ready');
    const block = fs.openSync(shm(file), 'r');
    const word = Buffer.alloc(4);
    const waiters = () => (fs.readSync(block, word, 0, 4, 88), word.readUInt32LE(0));
    const content = new Content();
    // One write every ~1 ms: a steady pace it learns, with gaps long enough to nap in. Between
    // writes, the futex waiters word says whether it is napping (a reader that only spun and
    // then waited for the doorbell would never show there).
    let napping = 0;
    for (let i = 0; i < 5000 && napping < 20; i++) {
      writeRun(aof, content, 1400 + (i % 100), [32]);
      await sleep(1);
      if (waiters() === 1) napping++;
    }
    expect(napping).toBe(20);
    await reached(reader, content.length);
    await aof.finish();
    expect(reportData(await reader.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256() });
    await reader.exitedCleanly();
    expect(waiters()).toBe(0);
    fs.closeSync(block);
    await m.close();
  });

  it('adaptive: follows a steady stream and a burst, then waits for the doorbell when the writer stops', async () => {
    const dir = tmpDir('aof-reader-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    const aof = m.open('a.aof', geometry());
    const file = aof.path;
    const reader = readerProcess({ path: file, options: { wake: 'adaptive' } });
    await reader.waitFor('ready');
    const content = new Content();
    // A steady stream: one small write per turn (the reader learns its pace), then a burst.
    for (let turn = 0; turn < 200; turn++) {
      writeRun(aof, content, 800 + turn, [64]);
      await nextTurn();
    }
    writeRun(aof, content, 1200, Array.from({ length: 50 }, () => 1000));
    await reached(reader, content.length);
    // The writer stops: the reader goes to sleep on the doorbell, and a later write wakes it.
    await until(() => doorbellSleepers(file) === 1, 'the adaptive reader waiting for the doorbell');
    writeRun(aof, content, 1300, [10]);
    await reached(reader, content.length);
    await aof.finish();
    expect(reportData(await reader.waitFor('eof'))).toMatchObject({ length: content.length, sha256: content.sha256() });
    await reader.exitedCleanly();
    await m.close();
  });
});
