/**
 * Soak (reliability suite): a writer at a steady rate with 4 tailers for a
 * configurable time.
 *
 * The writer (a Manager in a temp dir, this process) appends a deterministic pseudo-random stream
 * of records of varying sizes (8 B … 16 KiB, by write(), by append() filling the mapping in place,
 * and a checkpoint every 500 records) at a steady rate paced by a timer. Every ROTATE bytes it
 * opens the next file and finishes the current one, so files grow (growth ahead, populate), are
 * finished (truncate, chmod, the control block removed), closed, unmapped and deleted over and over:
 * where a leak of mappings, descriptors or memory would show.
 *
 * Four tailers follow every file from byte 0 to its EOF, then the next file:
 * - in this process: `aof.subscribe()` and `aof.tail()` (an async iterator);
 * - in child processes (test/fixtures/soak-reader.mjs): `openReader(path, { wake: 'futex' })` and
 *   `new Manager(dir).follow(name, { wake: 'poll' })`.
 * Each hashes (SHA-256) and counts every file it read. A file is closed by the writer once both
 * in-process tailers reached its EOF, and deleted once all four did.
 *
 * What is proven:
 * - every tailer saw every byte: per file, its byte count and hash equal the writer's;
 * - the Manager's stats add up: bytesWritten = the bytes the writer wrote; tailerBytesRead =
 *   bytesWritten × 2 (the two in-process tailers attached through it; the children count in their
 *   own processes: the 'follow' child's Manager says tailerBytesRead = what it read); tailers back
 *   to 0, activeMaps 0 once every file is closed; one create/open/finish/close per file;
 * - flatness: this process's and the children's open descriptors and RSS are sampled every second
 *   (more often in short runs); after the warm-up (the first quarter of the run) descriptors vary
 *   by at most FD_SLACK and the RSS peak of the last quarter is at most RSS_SLACK above the second
 *   quarter's. The summary (duration, bytes, files, per-tailer bytes, RSS and descriptors per
 *   quarter) is printed.
 *
 * Knobs: AOF_SOAK_SECONDS (default 20; the long run uses 600), AOF_SOAK_RATE (bytes per second,
 * default 4 MiB), AOF_SOAK_ROTATE (bytes per file, default 2 MiB), AOF_SOAK_SEED (the stream).
 * Waits are for events (a child's "ready" and "file" reports, the tailers' EOFs, promises); the
 * only timers are the writer's pace and the samplers, which are what is under test.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Geometry, MAGIC_CHECKPOINT_BYTES, Manager, type AOF, type Stats } from '../src/index.js';
import { DIST, Peer, deferred, fixture, pseudoRandomBytes, reportData, tmpDir } from './helpers.js';
import { prng } from './fixtures/prng.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

const SECONDS = knob('AOF_SOAK_SECONDS', 20);
/**
 * Bytes per second. 4 MiB/s rotates a 2 MiB file every half second (40 files in the CI run, 1,200
 * in the long run) and costs the writer and each tailer a few percent of a core (a copy and a
 * SHA-256 per byte), leaving this 2-core machine room for another busy test.
 */
const RATE = knob('AOF_SOAK_RATE', 4 * MiB);
const ROTATE = knob('AOF_SOAK_ROTATE', 2 * MiB);
const SEED = knob('AOF_SOAK_SEED', 0x50a4) >>> 0;
const DURATION_MS = SECONDS * 1000;
/** Every second; in short runs more often, so each quarter has at least ~10 samples. */
const SAMPLE_MS = Math.max(50, Math.min(1000, DURATION_MS / 40));
/** Generous: the run itself, draining, and a loaded machine. */
const TIMEOUT_MS = DURATION_MS * 2 + 60_000;

/** Records: an 8-byte header (sequence, length) and a slice of a pseudo-random pool. */
const MAX_RECORD = 16 * KiB;
const POOL = pseudoRandomBytes(1 * MiB + MAX_RECORD, SEED);
const CHECKPOINT_EVERY = 500;
/** A file grows from 64 KiB in 512 KiB steps; it is rotated long before sizeUpper. */
const GEOMETRY = (): Geometry => Geometry.create().with(64 * KiB, Math.max(4 * MiB, 2 * ROTATE), 512 * KiB);
/** Never write more than this much of a backlog in one timer tick (after a stall, catch up over several). */
const MAX_BURST = Math.max(64 * KiB, RATE / 10);

/**
 * Descriptors after the warm-up may vary by this much: every open AOF holds two (its data file
 * and its control block), and besides the current file up to two finished ones may still be
 * waiting to be closed (finish() runs msync, ftruncate, fsync off the loop); a reader child holds
 * at most one reader (two) at a time.
 */
const FD_SLACK = 4;
/**
 * The RSS peak of the last quarter may pass the second quarter's by this much. RSS counts the
 * mapped pages of the open files (the writer's current file, its growth step populated ahead,
 * finished files still waiting for close: up to 3 × 4 MiB here), and V8's heap breathes by a few
 * MiB between collections: 16 MiB covers both. A leak of one file's mapping per rotation would
 * pass it within a quarter of the CI run (10 files × 2 MiB); 5% lets a long run's heap settle.
 */
const rssSlack = (base: number): number => 16 * MiB + 0.05 * base;

const PREFIX = 'soak-';
const fileName = (i: number): string => `${PREFIX}${String(i).padStart(6, '0')}.aof`;

interface FileDigest {
  bytes: number;
  sha256: string;
}

interface Sample {
  t: number;
  rss: number;
  fds: number;
}

/** Files a tailer has read to their EOF, in order; `done(i)` resolves once file i is read. */
class Progress {
  readonly files: FileDigest[] = [];
  readonly #waiters = new Map<number, Array<() => void>>();
  readonly ended = deferred();

  constructor(readonly name: string) {}

  add(i: number, digest: FileDigest): void {
    if (i !== this.files.length) throw new Error(`${this.name}: file ${i} read after ${this.files.length} files`);
    this.files.push(digest);
    for (const wake of this.#waiters.get(i) ?? []) wake();
    this.#waiters.delete(i);
  }

  done(i: number): Promise<void> {
    if (i < this.files.length) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.#waiters.get(i) ?? [];
      list.push(resolve);
      this.#waiters.set(i, list);
    });
  }

  get bytes(): number {
    return this.files.reduce((n, f) => n + f.bytes, 0);
  }
}

/** The files the writer has opened and not yet closed, by index: what in-process tailers follow. */
type OpenFiles = Map<number, AOF>;

/** In-process tailer 1: `aof.subscribe()`, moving to the next file from `pollReadClosed('eof')`. */
function subscribeTailer(files: OpenFiles, progress: Progress, fail: (e: unknown) => void): void {
  const follow = (i: number): void => {
    const hash = createHash('sha256');
    let bytes = 0;
    files.get(i)!.subscribe({
      pollRead(ev) {
        if (ev.begin !== bytes) throw new Error(`file ${i}: an event begins at ${ev.begin}, expected ${bytes}`);
        hash.update(ev.tail);
        bytes = ev.end;
        return ev.end;
      },
      pollReadClosed(why) {
        if (why.reason !== 'eof') {
          fail(new Error(`subscribe tailer: file ${i} ended with ${why.reason}${'error' in why ? `: ${String(why.error)}` : ''}`));
          return;
        }
        try {
          progress.add(i, { bytes, sha256: hash.digest('hex') });
          // The writer opens file i+1 before it finishes file i: none means i was the last.
          if (files.has(i + 1)) follow(i + 1);
          else progress.ended.resolve();
        } catch (e) {
          fail(e);
        }
      },
    });
  };
  follow(0);
}

/** In-process tailer 2: `for await (const ev of aof.tail())`, file after file. */
async function iteratorTailer(files: OpenFiles, progress: Progress): Promise<void> {
  for (let i = 0; files.has(i); i++) {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const ev of files.get(i)!.tail({ from: 0 })) {
      if (ev.begin !== bytes) throw new Error(`file ${i}: an event begins at ${ev.begin}, expected ${bytes}`);
      hash.update(ev.tail);
      bytes = ev.end;
    }
    progress.add(i, { bytes, sha256: hash.digest('hex') });
  }
  progress.ended.resolve();
}

/** A reader child (soak-reader.mjs). */
class ChildTailer {
  readonly peer: Peer;

  constructor(readonly name: string, dir: string, api: 'openReader' | 'follow', wake: 'futex' | 'poll') {
    const config = { dist: DIST, dir, prefix: PREFIX, api, wake, sampleMs: SAMPLE_MS };
    this.peer = Peer.process(fixture('soak-reader.mjs'), [JSON.stringify(config)], { killAfterMs: TIMEOUT_MS });
  }

  /** Resolves once the child has read file i to its EOF and closed its reader. */
  async done(i: number): Promise<void> {
    await this.peer.waitFor((l) => l.startsWith(`file {"index":${i},`), { timeoutMs: TIMEOUT_MS });
  }

  reports<T>(kind: string): T[] {
    return this.peer.lines.filter((l) => l.startsWith(`${kind} `)).map((l) => reportData<T>(l));
  }

  get files(): FileDigest[] {
    return this.reports<FileDigest & { index: number }>('file').map(({ bytes, sha256 }) => ({ bytes, sha256 }));
  }

  get samples(): Sample[] {
    return this.reports<Sample>('sample');
  }

  stop(): void {
    if (!this.peer.exit) this.peer.kill('SIGKILL');
  }
}

/** The writer: a deterministic stream of records at RATE bytes/s, rotating files every ROTATE bytes. */
class SoakWriter {
  readonly files: OpenFiles = new Map();
  readonly digests: FileDigest[] = [];
  readonly #manager: Manager;
  readonly #rng = prng(SEED);
  readonly #scratch = Buffer.alloc(MAX_RECORD);
  #index = 0;
  #aof: AOF;
  #hash: Hash = createHash('sha256');
  #fileBytes = 0;
  /** Bytes and calls (write, append, checkpoint) that committed, over all files. */
  bytes = 0;
  writes = 0;
  checkpoints = 0;
  #records = 0;

  /** `retire(i, aof)` takes over a file once it has been finished (or is being). */
  constructor(manager: Manager, readonly retire: (i: number, aof: AOF, finished: Promise<void>) => void) {
    this.#manager = manager;
    this.#aof = this.#open(0);
  }

  #open(i: number): AOF {
    const aof = this.#manager.open(fileName(i), GEOMETRY());
    this.files.set(i, aof);
    return aof;
  }

  /** Writes records until `target` bytes in all (at most MAX_BURST now). */
  writeUpTo(target: number): void {
    const limit = Math.min(target, this.bytes + MAX_BURST);
    while (this.bytes < limit) this.#record();
  }

  #record(): void {
    const aof = this.#aof;
    const rng = this.#rng;
    const seq = this.#records++;
    const length = 8 + Math.floor(rng() ** 3 * (MAX_RECORD - 8));
    const from = Math.floor(rng() * (POOL.length - length));
    let n: number;
    if (seq % 2 === 0) {
      const record = this.#scratch.subarray(0, length);
      record.writeUInt32LE(seq, 0);
      record.writeUInt32LE(length, 4);
      POOL.copy(record, 8, from, from + length - 8);
      n = aof.write(record);
      this.#hash.update(record);
    } else {
      // In place, through the whole mapping (the allocation-free path).
      n = aof.append(length, (ev) => {
        const b = ev.buffer;
        b.writeUInt32LE(seq, ev.begin);
        b.writeUInt32LE(length, ev.begin + 4);
        POOL.copy(b, ev.begin + 8, from, from + length - 8);
        this.#hash.update(b.subarray(ev.begin, ev.begin + length));
        return length;
      });
    }
    if (n !== length) throw new Error(`record ${seq}: ${n} bytes written, expected ${length}`);
    this.#count(length);
    if (seq % CHECKPOINT_EVERY === CHECKPOINT_EVERY - 1) {
      const at = aof.checkpoint();
      if (at !== this.#fileBytes) throw new Error(`checkpoint at ${at}, expected ${this.#fileBytes}`);
      this.#hash.update(MAGIC_CHECKPOINT_BYTES);
      this.#count(MAGIC_CHECKPOINT_BYTES.length);
      this.checkpoints++;
    }
    if (this.#fileBytes >= ROTATE) this.rotate(false);
  }

  #count(n: number): void {
    this.bytes += n;
    this.#fileBytes += n;
    this.writes++;
  }

  /** Opens the next file (unless `last`), then finishes the current one. */
  rotate(last: boolean): void {
    const i = this.#index;
    const aof = this.#aof;
    if (aof.size !== this.#fileBytes) throw new Error(`${aof.name}: size ${aof.size}, expected ${this.#fileBytes}`);
    this.digests.push({ bytes: this.#fileBytes, sha256: this.#hash.digest('hex') });
    this.#hash = createHash('sha256');
    this.#fileBytes = 0;
    if (!last) {
      this.#index = i + 1;
      this.#aof = this.#open(i + 1);
    }
    this.retire(i, aof, aof.finish());
  }
}

interface Range {
  min: number;
  max: number;
  n: number;
}

/** min/max of the samples' `key` per quarter of [start, start + duration). */
function quarters(samples: Sample[], key: 'rss' | 'fds', start: number): Range[] {
  const out: Range[] = [0, 1, 2, 3].map(() => ({ min: Infinity, max: -Infinity, n: 0 }));
  for (const s of samples) {
    const q = Math.floor(((s.t - start) * 4) / DURATION_MS);
    if (q < 0 || q > 3) continue;
    const r = out[q]!;
    r.min = Math.min(r.min, s[key]);
    r.max = Math.max(r.max, s[key]);
    r.n++;
  }
  return out;
}

/** The samples of the last three quarters: after the warm-up. */
function afterWarmup(samples: Sample[], start: number): Sample[] {
  return samples.filter((s) => s.t >= start + DURATION_MS / 4 && s.t < start + DURATION_MS);
}

const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`;
const fmtQuarters = (q: Range[], f: (n: number) => string): string =>
  q.map((r, i) => `Q${i + 1} ${r.n ? `${f(r.min)}…${f(r.max)}` : '-'}`).join(', ');

describe('soak', () => {
  it(
    `a writer at ${mib(RATE)}/s rotating every ${mib(ROTATE)} for ${SECONDS} s: 2 in-process and 2 cross-process tailers see every byte, the stats add up, RSS and descriptors stay flat`,
    async () => {
      const dir = tmpDir('aof-soak-');
      const manager = new Manager(dir);
      const children: ChildTailer[] = [];
      const timers: NodeJS.Timeout[] = [];
      // The first error of anything running in the background fails every wait at once.
      let firstFailure: unknown;
      let rejectFailure!: (e: unknown) => void;
      const failure = new Promise<never>((_, reject) => (rejectFailure = reject));
      failure.catch(() => {});
      const fail = (e: unknown): void => {
        if (firstFailure !== undefined) return;
        firstFailure = e ?? new Error('failed');
        rejectFailure(firstFailure);
      };
      const guard = <T>(p: Promise<T>): Promise<T> => Promise.race([p, failure]);

      try {
        const subscriber = new Progress('subscribe');
        const iterator = new Progress('iterator');
        const inProcess = [subscriber, iterator];
        const retiring = new Set<Promise<void>>();
        let retired = 0;

        const writer = new SoakWriter(manager, (i, aof, finished) => {
          const p = (async () => {
            await finished;
            await Promise.all(inProcess.map((t) => t.done(i)));
            await aof.close();
            writer.files.delete(i);
            await Promise.all(children.map((c) => c.done(i)));
            fs.rmSync(path.join(dir, fileName(i)));
            retired++;
          })();
          retiring.add(p);
          p.then(() => retiring.delete(p), fail);
        });

        // File 0 exists: start the tailers and wait until every one is attached.
        subscribeTailer(writer.files, subscriber, fail);
        iteratorTailer(writer.files, iterator).catch(fail);
        children.push(new ChildTailer('child openReader futex', dir, 'openReader', 'futex'));
        children.push(new ChildTailer('child follow poll', dir, 'follow', 'poll'));
        await guard(Promise.all(children.map((c) => c.peer.waitFor('ready', { timeoutMs: 30_000 }))));

        // Sample this process; the children sample themselves.
        const samples: Sample[] = [];
        let maxActiveMaps = 0;
        const sample = (): void => {
          samples.push({ t: Date.now(), rss: process.memoryUsage.rss(), fds: fs.readdirSync('/proc/self/fd').length });
          maxActiveMaps = Math.max(maxActiveMaps, manager.stats().activeMaps);
        };
        const start = Date.now();
        sample();
        timers.push(setInterval(sample, SAMPLE_MS));

        // The writer, paced by a timer: RATE bytes per second of elapsed time.
        const wrote = deferred();
        const t0 = performance.now();
        const tick = setInterval(() => {
          const elapsed = performance.now() - t0;
          try {
            writer.writeUpTo(Math.floor((RATE * Math.min(elapsed, DURATION_MS)) / 1000));
          } catch (e) {
            clearInterval(tick);
            fail(e);
            return;
          }
          if (elapsed >= DURATION_MS) {
            clearInterval(tick);
            wrote.resolve();
          }
        }, 5);
        timers.push(tick);
        await guard(wrote.promise);
        const writeMs = performance.now() - t0;
        sample();
        writer.rotate(true);

        // Drain: every tailer reads the last file to its EOF, every file is closed and deleted.
        await guard(Promise.all(inProcess.map((t) => t.ended.promise)));
        const doneReports = await guard(Promise.all(children.map((c) => c.peer.waitFor('done', { timeoutMs: TIMEOUT_MS }))));
        while (retiring.size > 0) await guard(Promise.all([...retiring]));
        await guard(Promise.all(children.map((c) => c.peer.exitedCleanly())));
        const drainMs = performance.now() - t0 - writeMs;
        for (const t of timers) clearInterval(t);
        if (firstFailure !== undefined) throw firstFailure;

        const stats: Stats = manager.stats();
        await manager.close();
        const closedStats = manager.stats();
        const afterClose = { rss: process.memoryUsage.rss(), fds: fs.readdirSync('/proc/self/fd').length };

        // --- the summary docs/testing.md quotes ---
        const files = writer.digests.length;
        const childDone = doneReports.map((l) => reportData<{ files: number; bytes: number; stats: Pick<Stats, 'tailers' | 'tailerBytesRead' | 'tailerWakes'> | null; rss: number; fds: number }>(l));
        const inRun = samples.filter((s) => s.t < start + DURATION_MS);
        const [first, last] = [inRun[0]!, inRun.at(-1)!];
        const parentRss = quarters(samples, 'rss', start);
        const parentFds = quarters(samples, 'fds', start);
        const lines = [
          `soak: ${SECONDS} s (wrote for ${(writeMs / 1000).toFixed(1)} s, drained in ${drainMs.toFixed(0)} ms), target ${mib(RATE)}/s, seed ${SEED}`,
          `  written: ${writer.bytes} B (${mib(writer.bytes)}, ${mib((writer.bytes * 1000) / writeMs)}/s) in ${writer.writes} writes (${writer.checkpoints} checkpoints), ${files} files rotated every ${mib(ROTATE)}`,
          `  tailers: ${[...inProcess.map((t) => `${t.name} ${t.bytes} B`), ...children.map((c, k) => `${c.name} ${childDone[k]!.bytes} B`)].join(', ')}`,
          `  stats: bytesWritten ${stats.bytesWritten}, tailerBytesRead ${stats.tailerBytesRead}, tailerWakes ${stats.tailerWakes}, ` +
            `maps ${stats.maps}, unmaps ${stats.unmaps}, backgroundGrows ${stats.backgroundGrows.count}, blockingGrows ${stats.blockingGrows.count}, ` +
            `flushes ${stats.flushes.count}, finishes ${stats.finishes.count} (max ${(stats.finishes.maxNs / 1e6).toFixed(1)} ms), max activeMaps while writing ${maxActiveMaps}`,
          `  parent RSS: start ${mib(first.rss)}, end ${mib(last.rss)}; ${fmtQuarters(parentRss, mib)}`,
          `  parent fds: start ${first.fds}, end ${last.fds}; ${fmtQuarters(parentFds, String)}`,
          `  parent after every file and the Manager closed: RSS ${mib(afterClose.rss)}, fds ${afterClose.fds}`,
          ...children.flatMap((c, k) => {
            const s = c.samples.filter((x) => x.t >= start && x.t < start + DURATION_MS);
            const [a, b] = [s[0] ?? { rss: NaN, fds: NaN }, s.at(-1) ?? { rss: NaN, fds: NaN }];
            const exit = `at exit (no reader open): RSS ${mib(childDone[k]!.rss)}, fds ${childDone[k]!.fds}`;
            return [
              `  ${c.name} RSS: start ${mib(a.rss)}, end ${mib(b.rss)}; ${fmtQuarters(quarters(s, 'rss', start), mib)}`,
              `  ${c.name} fds: start ${a.fds}, end ${b.fds}; ${fmtQuarters(quarters(s, 'fds', start), String)}; ${exit}`,
            ];
          }),
        ];
        console.log(lines.join('\n'));

        // --- every tailer saw every byte ---
        expect(files).toBeGreaterThanOrEqual(Math.min(4, Math.floor((RATE * SECONDS) / ROTATE)));
        expect(writer.bytes).toBeGreaterThan(0);
        expect(writer.digests.reduce((n, d) => n + d.bytes, 0)).toBe(writer.bytes);
        for (const t of inProcess) expect(t.files, t.name).toEqual(writer.digests);
        children.forEach((c, k) => {
          expect(c.files, c.name).toEqual(writer.digests);
          expect(childDone[k]!.files, c.name).toBe(files);
          expect(childDone[k]!.bytes, c.name).toBe(writer.bytes);
        });
        expect(retired).toBe(files);
        expect(fs.readdirSync(dir)).toEqual([]); // every file and control block gone

        // --- the stats add up ---
        expect(stats.bytesWritten).toBe(writer.bytes);
        expect(stats.writes).toBe(writer.writes);
        expect(stats.tailerBytesRead).toBe(writer.bytes * inProcess.length);
        expect(stats.tailers).toBe(0);
        expect(stats.activeMaps).toBe(0);
        expect(stats.activeMappedMemory).toBe(0);
        expect(stats.activeFileSize).toBe(0);
        expect({ creates: stats.creates, opens: stats.opens, finishes: stats.finishes.count, closes: stats.closes, unmaps: stats.unmaps, truncates: stats.truncates })
          .toEqual({ creates: files, opens: files, finishes: files, closes: files, unmaps: files, truncates: files });
        expect({ openErrors: stats.openErrors, flushErrors: stats.flushErrors, finishErrors: stats.finishErrors, mapErrors: stats.mapErrors, unmapErrors: stats.unmapErrors, growErrors: stats.growErrors })
          .toEqual({ openErrors: 0, flushErrors: 0, finishErrors: 0, mapErrors: 0, unmapErrors: 0, growErrors: 0 });
        const follower = childDone[1]!.stats!;
        expect(follower.tailerBytesRead, 'the follow child Manager').toBe(writer.bytes);
        expect(follower.tailers, 'the follow child Manager').toBe(0);
        expect(closedStats.activeMaps).toBe(0);
        expect(closedStats.tailers).toBe(0);

        // --- flat: descriptors and RSS after the warm-up ---
        const flat = (who: string, all: Sample[]): void => {
          const steady = afterWarmup(all, start);
          expect(steady.length, `${who}: samples after the warm-up`).toBeGreaterThanOrEqual(6);
          const fds = steady.map((s) => s.fds);
          expect(Math.max(...fds) - Math.min(...fds), `${who}: open descriptors after the warm-up vary by`).toBeLessThanOrEqual(FD_SLACK);
          const rss = quarters(all, 'rss', start);
          const growth = rss[3]!.max - rss[1]!.max;
          expect(growth, `${who}: RSS peak growth from Q2 to Q4 (${mib(growth)}, Q2 peak ${mib(rss[1]!.max)})`).toBeLessThanOrEqual(rssSlack(rss[1]!.max));
        };
        flat('parent', samples);
        for (const c of children) flat(c.name, c.samples);
        expect(maxActiveMaps, 'mappings alive at once while writing').toBeLessThanOrEqual(3);
      } finally {
        for (const t of timers) clearInterval(t);
        for (const c of children) c.stop();
        await manager.close().catch(() => {});
      }
    },
    TIMEOUT_MS,
  );
});
