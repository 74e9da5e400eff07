// Cross-process following: (a) latency from a write in this process to a consumer in a child
// process seeing it, for every mmap-aof wake mode ('doorbell' (the default), 'adaptive', 'futex',
// 'spin', 'poll') against the plain-file inotify follower (fs.watch + readSync, the way `tail -f`
// works: the bar) and two npm tailers of a plain file (`tail`: fs.watch; `@logdna/tail-file`:
// polling), at several rates and with two writers (timer-paced, spin-paced); (b) writer throughput
// with reader processes following (default wake) vs none. See bench/README.md.
//
//   node bench/run.mjs cross-process      (or `node bench/cross-process.bench.mjs`; dist/ must be built)
//
// Environment:
//   BENCH_XP_RATES       events/s of the latency rows, comma-separated            (default 1000,10000,100000)
//   BENCH_XP_PACES       writers: 'timer' (setTimeout ticks, each sends every stamp due, one publish per
//                        tick), 'spin' (busy-waits for each stamp, one stamp per turn)  (default timer,spin)
//   BENCH_XP_EVENTS      measured events per latency run, at least               (default 2000)
//   BENCH_XP_SECONDS     ... or this many seconds of the rate, if more            (default 0.5)
//   BENCH_XP_WARM        unmeasured events at the start of each run, at most      (default 2000; 300 at 1 k/s)
//   BENCH_XP_REPEAT      latency runs per row; percentiles pool every run's events (default 2)
//   BENCH_XP_ROWS        latency rows (default: all of them):
//                        inotify,doorbell,adaptive,futex,spin,poll,tail,tail-file
//                        diagnostics: doorbell-bare (fs.watch on the -shm + the published size, no tailer),
//                        inotify-tailer (the inotify follower delivering through a Tailer-like JS layer)
//   BENCH_XP_DIAG_RATES  the rates at which the diagnostic rows run               (default 1000,10000)
//   BENCH_XP_MAX_BURST   'spin' writer: most stamps sent in one turn when behind   (default 1)
//   BENCH_XP_RECORDS     100-byte records per throughput run                       (default 2,000,000 = 200 MB)
//   BENCH_XP_READERS     reader processes in the throughput rows                   (default 4)
//   BENCH_XP_TP_REPEAT   throughput rounds (one run per row each); medians         (default 3)
//   BENCH_ONLY           comma-separated sections: latency, throughput             (default all)
//   BENCH_DIR            where the files go                                        (default os.tmpdir())
//   BENCH_VERBOSE=1      also print every run
//   BENCH_XP_DUMP        a directory: each run's stamps written there as "sent-ns latency-ns" lines
//   BENCH_XP_FLUSH_MS    the latency rows' Manager flushIntervalMs                (default: the Manager's, 1000)
//
// Internal: the same file runs as the child processes (argv[2] = 'latency-child' | 'reader-child').
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { benchDir, describeFilesystem, envInt, environmentLines, gcCounter, gcIfExposed, median, prefault, si, table } from './lib.mjs';

const self = fileURLToPath(import.meta.url);
const DIST = new URL('../dist/index.js', import.meta.url).href;

// ------------------------------------------------------------------------------------------------
// The stamp, the same for every row: 16 bytes of ASCII,
//   "SSSSS TTTTTTTTT\n"
// S = sequence number (5 hex digits), T = the writer's process.hrtime.bigint() just before the
// stamp's own write, minus the run's epoch (9 hex digits of ns: 68 s). CLOCK_MONOTONIC: the same
// clock in every process of the machine; the epoch is handed to the child when it starts.
// ------------------------------------------------------------------------------------------------
const STAMP = 16;
const SEQ_DIGITS = 5;
const TIME_AT = 6;
const TIME_DIGITS = 9;
const TIME_LIMIT = 16 ** TIME_DIGITS;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

const hrnow = () => Number(process.hrtime.bigint()); // ns since boot: < 2^53 for 104 days of uptime

function putHex(buf, at, width, v) {
  for (let i = at + width - 1; i >= at; i--) {
    buf[i] = HEX[v % 16];
    v = Math.floor(v / 16);
  }
}

/** The number in `width` lower-case hex digits at buf[at]; -1 when a byte is not one. */
function getHex(buf, at, width) {
  let v = 0;
  for (let i = at; i < at + width; i++) {
    const c = buf[i];
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

function getHexString(s, at, width) {
  let v = 0;
  for (let i = at; i < at + width; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Latency rows whose reader is mmap-aof's openReader, and the options each passes. */
const READER_OPTIONS = {
  doorbell: undefined, // openReader(file): the default
  adaptive: { wake: 'adaptive' },
  futex: { wake: 'futex' },
  spin: { wake: 'spin' },
  poll: { wake: 'poll', interval: 1 },
};
const AOF_KINDS = new Set([...Object.keys(READER_OPTIONS), 'doorbell-bare']);

// ================================================================================================
// Child: one latency consumer
// ================================================================================================

/**
 * Follows `cfg.file` with `cfg.kind` and records, for every stamp, now − its send time, where now
 * is read once when the consumer has the new bytes in hand (an mmap-aof pollRead, a readSync that
 * returned, a `tail` 'line', a tail-file 'data' chunk). Checks that sequence numbers arrive in
 * order, none missing, none twice.
 */
async function latencyChild(cfg) {
  const { kind, file, total, warm, epoch } = cfg;
  const clock = () => hrnow() - epoch;
  const measured = total - warm;
  const lat = new Float64Array(measured);
  const sentAt = cfg.dump ? new Float64Array(measured) : undefined;
  let next = 0;
  let bad;
  let cpu0;
  let wall0 = 0;
  let wall1 = 0;
  let cpu1;
  let wakes = 0; // times the consumer was handed new bytes, over the measured stamps
  const gcs = gcCounter();

  // One stamp seen at `now` (up to 100k calls a second: no allocation).
  const see = (now, seq, sent) => {
    if (seq !== next || sent < 0) {
      bad ??= `stamp #${next}: got sequence ${seq}${sent < 0 ? ' with a garbled time' : ''}`;
    }
    if (next >= warm) {
      if (next === warm) {
        cpu0 = process.cpuUsage();
        wall0 = now;
        gcs.on = true;
      }
      lat[next - warm] = now - sent;
      if (sentAt) sentAt[next - warm] = sent;
      if (next === total - 1) {
        wall1 = now;
        cpu1 = process.cpuUsage(cpu0);
        gcs.on = false;
      }
    }
    next++;
  };
  /** Whole stamps in b[from, to); returns where the first incomplete one starts. */
  const seeBytes = (now, b, from, to) => {
    if (next >= warm && next < total) wakes++;
    let o = from;
    for (; o + STAMP <= to; o += STAMP) {
      if (b[o + SEQ_DIGITS] !== 0x20 || b[o + STAMP - 1] !== 0x0a) bad ??= `stamp #${next}: not a well-formed stamp`;
      see(now, getHex(b, o, SEQ_DIGITS), getHex(b, o + TIME_AT, TIME_DIGITS));
    }
    return o;
  };

  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const complete = () => {
    if (next >= total) resolveDone();
  };
  let stop = async () => {};

  if (kind in READER_OPTIONS) {
    const { openReader } = await import(DIST);
    const opts = READER_OPTIONS[kind];
    const reader = opts ? openReader(file, opts) : openReader(file);
    if (reader.wake !== (opts?.wake ?? 'doorbell')) throw new Error(`${kind}: the reader's wake is ${reader.wake}`);
    reader.subscribe({
      pollRead(ev) {
        const now = clock();
        const t = ev.tail;
        if (t.length % STAMP !== 0) bad ??= `a read event of ${t.length} bytes (not whole stamps) at ${ev.begin}`;
        seeBytes(now, t, 0, t.length);
        return ev.end;
      },
      // Ends at EOF: the writer finished the file.
      pollReadClosed(r) {
        if (r.reason !== 'eof') bad ??= `the tailer ended: ${r.reason} ${r.error?.stack ?? ''}`;
        resolveDone();
      },
    }, { from: 0 });
    stop = () => reader.close();
  } else if (kind === 'doorbell-bare') {
    // Diagnostic: the doorbell without the library's reader machinery. This child counts itself
    // as a doorbell sleeper in the control block (the library's internal ControlBlock, from dist/),
    // watches the -shm itself (fs.watch), and on each ring loads the published size from the block
    // and hands the new stamps (a view of a reader's mapping; the reader has no tailer) over.
    const { openReader } = await import(DIST);
    const { ControlBlock } = await import(new URL('../dist/control-block.js', import.meta.url).href);
    const reader = openReader(file);
    const block = ControlBlock.open(file, { create: false });
    const mark = block.markDoorbellSleeper();
    let pos = 0;
    const onRing = () => {
      const size = block.published;
      if (size > pos) {
        const now = clock();
        const b = reader.view(pos, size); // reader.size (its own load of the block) maps the new range
        pos += seeBytes(now, b, 0, b.length);
      }
      complete();
    };
    const w = fs.watch(block.path, onRing);
    stop = async () => {
      w.close();
      mark.release();
      block.close();
      await reader.close();
    };
  } else if (kind === 'inotify' || kind === 'inotify-tailer') {
    // The plain-file follower, the way `tail -f` works: an inotify watch on the file; on each
    // event read from the last offset to the file's size (until a read comes back short).
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(1 << 16);
    let off = 0; // file offset of the next byte to read
    let have = 0; // bytes of an incomplete stamp kept at buf[0, have)
    let handle = (now, b, end) => seeBytes(now, b, 0, end);
    if (kind === 'inotify-tailer') {
      // Diagnostic: the same follower handing its bytes through a layer shaped like the library's
      // (an event object with a lazily made view, a consumer object called through a method).
      class Ev {
        #b; #end; #tail;
        constructor(b, begin, end) { this.#b = b; this.begin = begin; this.#end = end; }
        get end() { return this.#end; }
        get tail() { return (this.#tail ??= this.#b.subarray(0, this.#end)); }
      }
      const consumer = { pollRead(ev) { const now = clock(); const t = ev.tail; return seeBytes(now, t, 0, t.length); } };
      handle = (_now, b, end) => consumer.pollRead(new Ev(b, off, end));
    }
    const watcher = fs.watch(file, () => {
      for (;;) {
        const n = fs.readSync(fd, buf, have, buf.length - have, off);
        if (n <= 0) break;
        off += n;
        const end = have + n;
        const used = handle(clock(), buf, end);
        buf.copyWithin(0, used, end);
        have = end - used;
        if (end < buf.length) break; // a short read: we are at the file's size
      }
      complete();
    });
    stop = async () => {
      watcher.close();
      fs.closeSync(fd);
    };
  } else if (kind === 'tail') {
    const { Tail } = (await import('tail')).default;
    // fs.watch (inotify) on the file; fromBeginning: every line from offset 0.
    const t = new Tail(file, { fromBeginning: true });
    t.on('line', (line) => {
      const now = clock();
      if (next >= warm && next < total) wakes++;
      if (line.length !== STAMP - 1 || line.charCodeAt(SEQ_DIGITS) !== 0x20) bad ??= `stamp #${next}: line ${JSON.stringify(line)}`;
      see(now, getHexString(line, 0, SEQ_DIGITS), getHexString(line, TIME_AT, TIME_DIGITS));
      complete();
    });
    t.on('error', (e) => {
      bad ??= `tail error: ${e?.stack ?? e}`;
      resolveDone();
    });
    stop = async () => t.unwatch();
  } else if (kind === 'tail-file') {
    const TailFile = (await import('@logdna/tail-file')).default;
    const t = new TailFile(file, { startPos: 0, pollFileIntervalMs: 100 });
    let rest = Buffer.alloc(0);
    t.on('data', (chunk) => {
      const now = clock();
      const b = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      const used = seeBytes(now, b, 0, b.length);
      rest = b.subarray(used);
      complete();
    });
    t.on('tail_error', (e) => {
      bad ??= `tail-file error: ${e?.stack ?? e}`;
      resolveDone();
    });
    await t.start();
    stop = async () => t.quit();
  } else {
    throw new Error(`unknown kind ${kind}`);
  }

  process.on('message', (m) => {
    // The writer is done: everything must arrive within the grace period.
    if (m.type === 'done') setTimeout(resolveDone, m.graceMs).unref();
  });
  // A moment for the watch / futex thread to be in place before the writer starts.
  await new Promise((r) => setTimeout(r, 30));
  gcIfExposed();
  process.send({ type: 'ready' });
  await done;
  await stop();
  if (next !== total) bad ??= `received ${next} of ${total} stamps`;
  process.send({
    type: 'result',
    received: next,
    bad,
    lat: next >= total ? lat : new Float64Array(0),
    sentAt,
    cpuMs: cpu1 ? (cpu1.user + cpu1.system) / 1000 : NaN,
    wallMs: (wall1 - wall0) / 1e6,
    wakes,
    gcs: gcs.count,
    gcMaxMs: gcs.max,
  }, () => process.disconnect()); // once written: a large message is cut off by an earlier disconnect
}

// ================================================================================================
// Child: one throughput reader (default wake)
// ================================================================================================

async function readerChild(cfg) {
  const { openReader } = await import(DIST);
  const reader = openReader(cfg.file);
  let end = 0;
  let tEnd = 0;
  let sum = 0;
  let events = 0;
  let bad;
  let cpu0;
  const gcs = gcCounter();
  const it = reader.tail({ from: 0 });
  const iterating = (async () => {
    for await (const ev of it) {
      if (events++ === 0) {
        cpu0 = process.cpuUsage();
        gcs.on = true;
      }
      if (ev.begin !== end) bad ??= `event at ${ev.begin}, expected ${end}`;
      if (cfg.reading) {
        const t = ev.tail;
        for (let o = 0; o < t.length; o += 100) sum += t[o];
      }
      end = ev.end;
      tEnd = hrnow();
    }
  })();
  await new Promise((r) => setTimeout(r, 30));
  gcIfExposed();
  process.send({ type: 'ready', wake: reader.wake });
  try {
    await iterating;
  } catch (e) {
    bad ??= `reader failed: ${e?.stack ?? e}`;
  }
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 5)); // the observer's last entries
  await reader.close();
  process.send({ type: 'result', end, tEnd, sum, events, bad, cpuMs: (cpu.user + cpu.system) / 1000, gcs: gcs.count, gcMs: gcs.ms },
    () => process.disconnect());
}

// ================================================================================================
// Parent
// ================================================================================================

/** Resolves with the next message of `type` from `child`; rejects if it exits first or after `timeoutMs`. */
function message(child, type, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m?.type !== type) return;
      cleanup();
      resolve(m);
    };
    // 'close', not 'exit': a large last message (the latencies) may still be in the channel when the child exits.
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${what}: child exited (${signal ?? code}) before sending '${type}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${what}: no '${type}' from the child within ${timeoutMs} ms (killed)`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('close', onExit);
    };
    child.on('message', onMessage);
    child.on('close', onExit);
  });
}

const exited = (child) => (child.exitCode !== null || child.signalCode !== null
  ? Promise.resolve()
  : new Promise((r) => child.once('exit', r)));

function spawnChild(role, cfg) {
  return fork(self, [role, JSON.stringify(cfg)], {
    serialization: 'advanced', // Float64Array results
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CHILD: '1' },
  });
}

/** Nearest-rank percentile of a sorted array. */
function pct(sorted, p) {
  const n = sorted.length;
  if (n === 0) return NaN;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
}

/**
 * Stretches of consecutive events (in send order) that each took more than `limitNs`: one stall of
 * the writer, the consumer or the machine shows up as one such stretch, however many events it delayed.
 */
function stalls(lat, limitNs) {
  let count = 0;
  let inside = false;
  for (let i = 0; i < lat.length; i++) {
    const slow = lat[i] > limitNs;
    if (slow && !inside) count++;
    inside = slow;
  }
  return count;
}

/** ns → "12.3" µs below 100 µs, "1,234" above. */
const us = (ns) => {
  const x = ns / 1000;
  return x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en');
};
/** A fraction of a core → "3.2%" below 10%, "42%" above. */
const pcore = (f) => (f < 0.1 ? (f * 100).toFixed(1) : (f * 100).toFixed(0)) + '%';

async function main() {
  const list = (name, fallback) => (process.env[name] || fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const RATES = list('BENCH_XP_RATES', '1000,10000,100000').map((s) => {
    const n = Number(s.replace(/_/g, ''));
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_XP_RATES: bad rate ${s}`);
    return n;
  });
  const PACES = list('BENCH_XP_PACES', 'timer,spin');
  for (const p of PACES) if (p !== 'spin' && p !== 'timer') throw new Error(`BENCH_XP_PACES: 'timer' or 'spin', got ${p}`);
  const MIN_EVENTS = envInt('BENCH_XP_EVENTS', 2000);
  const SECONDS = Number(process.env.BENCH_XP_SECONDS || 0.5);
  if (!(SECONDS >= 0)) throw new Error(`BENCH_XP_SECONDS must be a number of seconds, got ${process.env.BENCH_XP_SECONDS}`);
  const MAX_WARM = envInt('BENCH_XP_WARM', 2000);
  const eventsAt = (rate) => Math.max(MIN_EVENTS, Math.round(rate * SECONDS));
  const warmAt = (rate) => Math.min(MAX_WARM, Math.max(Math.round(rate * 0.3), 300)); // 0.3 s at 1 k/s, 2,000 at 10 k/s and above
  const REPEAT = envInt('BENCH_XP_REPEAT', 2);
  const MAX_BURST = envInt('BENCH_XP_MAX_BURST', 1);
  const N_TP = envInt('BENCH_XP_RECORDS', 2_000_000);
  const READERS = envInt('BENCH_XP_READERS', 4);
  const TP_REPEAT = envInt('BENCH_XP_TP_REPEAT', 3);
  const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
  const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
  const DUMP = process.env.BENCH_XP_DUMP; // a directory: each run's "sent-ns latency-ns" per stamp, for a closer look
  let dumpSeq = 0;
  const ONLY = process.env.BENCH_ONLY ? new Set(list('BENCH_ONLY', '')) : undefined;
  const wanted = (part) => !ONLY || ONLY.has(part);
  const MAIN_ROWS = ['inotify', 'doorbell', 'adaptive', 'futex', 'spin', 'poll', 'tail', 'tail-file'];
  const DIAG_ROWS = ['doorbell-bare', 'inotify-tailer'];
  const ALL_ROWS = [...MAIN_ROWS, ...DIAG_ROWS];
  const DIAG_RATES = list('BENCH_XP_DIAG_RATES', '1000,10000').map(Number);
  const ROWS = process.env.BENCH_XP_ROWS ? list('BENCH_XP_ROWS', '') : ALL_ROWS;
  for (const r of ROWS) if (!ALL_ROWS.includes(r)) throw new Error(`BENCH_XP_ROWS: unknown row ${r} (${ALL_ROWS.join(', ')})`);

  const out = (s = '') => process.stdout.write(s + '\n');
  if (!process.env.BENCH_CHILD) {
    for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
  }
  const cores = os.availableParallelism?.() ?? os.cpus().length;

  const { Manager, Geometry } = await import(DIST);
  const dir = benchDir(BASE_DIR, 'mmap-aof-xp-bench-');
  // Latency rows: the Manager's defaults (growAhead, populate, flush (msync) every 1000 ms, control block).
  const FLUSH_MS = process.env.BENCH_XP_FLUSH_MS; // a diagnostic: the latency rows' Manager flushIntervalMs (0: no flush timer)
  const manager = new Manager(dir, FLUSH_MS === undefined ? {} : { flushIntervalMs: Number(FLUSH_MS) });
  // Throughput rows: runs of ~0.1 s, so a 1 s flush timer would land in some and not others (and msync the
  // pre-touched file under the writer): off, as in tail.bench.mjs. No populate job either: opening a pre-sized
  // file starts one over its first growth step (here: all of it) on the thread pool, which would still be
  // running in the timed loop; openWarm touches every page itself.
  const managerTp = new Manager(dir, { flushIntervalMs: 0, populate: false });
  let fileSeq = 0;
  const pageUp = (n) => Math.ceil(n / 4096) * 4096;

  /** A new AOF pre-sized for `bytes` of content, every page write-faulted before timing (as in tail.bench.mjs). */
  function openWarm(bytes, m = manager) {
    const name = `xp-${fileSeq++}.aof`;
    const size = pageUp(bytes + 8);
    const aof = m.open(name, Geometry.create().with(size, size, size));
    prefault(aof);
    return aof;
  }

  async function closeWarm(aof) {
    await aof.close();
    fs.rmSync(aof.path, { force: true });
    fs.rmSync(aof.path + '-shm', { force: true });
  }

  /** Stalls of this thread that are the machine's: gaps between consecutive clock reads in a spin loop. */
  function machineGaps(seconds) {
    const end = hrnow() + seconds * 1e9;
    const gaps = [];
    let last = hrnow();
    for (;;) {
      const t = hrnow();
      if (t - last > 50_000) gaps.push(t - last);
      last = t;
      if (t > end) break;
    }
    gaps.sort((a, b) => b - a);
    return { count: gaps.length, totalNs: gaps.reduce((a, b) => a + b, 0), largest: gaps.slice(0, 3) };
  }

  // ==============================================================================================
  // (a) latency
  // ==============================================================================================

  /**
   * Sends `total` stamps at `rate`/s through `write(buf)`, each stamped with the time read just
   * before its own write.
   * - 'timer': sleeps with setTimeout until the next stamp is due (at least 1 ms: Node's timers
   *   have 1 ms resolution), then sends every stamp due by then in one synchronous run: at 10 k/s
   *   ~10 stamps per tick, and mmap-aof publishes once, at the end of the run.
   * - 'spin': busy-waits inside an event-loop turn for the next stamp's due time, writes it, then
   *   yields with setImmediate, so the turn ends and mmap-aof publishes that one stamp (and rings
   *   or wakes). Up to MAX_BURST (default 1) stamps in a turn when behind.
   * Also measures this process's CPU (user+sys, every thread) over the measured stamps, and each
   * stamp's time in the writer (see `published` below).
   */
  function paced(rate, total, warm, pace, epoch, write, publishes) {
    const period = 1e9 / rate;
    const buf = Buffer.alloc(STAMP, 0x20);
    buf[STAMP - 1] = 0x0a;
    return new Promise((resolve) => {
      let i = 0;
      let turns = 0;
      let maxBurst = 0;
      let maxLag = 0;
      let tWarm = 0;
      let tLast = 0;
      let cpu0;
      // Writer side: for each stamp, its time → the end of its run's publish (a microtask queued after the run's
      // writes runs after the library's publish microtask, queued by the run's first write, and its ring); for
      // a writer whose writes are visible at once (`publishes` false: the plain file), → its own write returned.
      const stampAt = new Float64Array(total);
      const published = new Float64Array(total);
      const afterRun = (from) => publishes && queueMicrotask(() => {
        const t = hrnow();
        for (let j = from; j < i; j++) published[j] = t - stampAt[j];
      });
      const t0 = hrnow() + 2e6;
      /** Sends stamp i; returns the time after it. */
      const send = (now) => {
        if (i >= warm) {
          if (i === warm) {
            cpu0 = process.cpuUsage();
            now = hrnow();
            tWarm = now;
          }
          const lag = now - (t0 + i * period);
          if (lag > maxLag) maxLag = lag;
        }
        const sent = now - epoch;
        if (sent >= TIME_LIMIT) throw new Error('a run longer than the stamp\'s 9 hex digits of ns (68 s)');
        putHex(buf, 0, SEQ_DIGITS, i);
        putHex(buf, TIME_AT, TIME_DIGITS, sent);
        stampAt[i] = now;
        write(buf);
        if (!publishes) published[i] = hrnow() - now;
        tLast = now;
        i++;
      };
      const ended = (k) => {
        if (i > warm) {
          turns++;
          if (k > maxBurst) maxBurst = k;
        }
        if (i < total) return false;
        const cpu = process.cpuUsage(cpu0);
        const seconds = (tLast - tWarm) / 1e9;
        resolve({ turns, maxBurst, maxLag, seconds, writerCpu: (cpu.user + cpu.system) / 1e6 / seconds, published: published.subarray(warm) });
        return true;
      };
      const tick = () => {
        let now = hrnow();
        let k = 0;
        const from = i;
        while (i < total && now >= t0 + i * period) {
          send(now);
          k++;
          now = hrnow();
        }
        if (k > 0) afterRun(from);
        if (k > 0 && ended(k)) return;
        setTimeout(tick, Math.max(1, Math.floor((t0 + i * period - now) / 1e6)));
      };
      const turn = () => {
        let now = hrnow();
        const due = t0 + i * period;
        while (now < due) now = hrnow();
        let k = 0;
        const from = i;
        for (;;) {
          send(now);
          k++;
          if (i >= total || k >= MAX_BURST) break;
          now = hrnow();
          if (now < t0 + i * period) break;
        }
        afterRun(from);
        if (!ended(k)) setImmediate(turn);
      };
      if (pace === 'timer') setTimeout(tick, 1);
      else setImmediate(turn);
    });
  }

  async function latencyRun(kind, rate, pace) {
    const events = eventsAt(rate);
    const warm = warmAt(rate);
    const total = warm + events;
    if (total >= 16 ** SEQ_DIGITS) throw new Error(`${total} stamps: more than the stamp's ${SEQ_DIGITS} hex digits hold`);
    const isAof = AOF_KINDS.has(kind);
    let aof;
    let fd;
    let file;
    if (isAof) {
      aof = openWarm(total * STAMP);
      file = aof.path;
    } else {
      file = path.join(dir, `xp-${fileSeq++}.log`);
      fd = fs.openSync(file, 'a');
    }
    const what = `${kind} at ${rate}/s, ${pace} writer`;
    const epoch = hrnow();
    const child = spawnChild('latency-child', { kind, file, total, warm, epoch, dump: Boolean(DUMP) });
    try {
      await message(child, 'ready', 30_000, what);
      // Listening from now: a reader of a finished file may report before finish() returns here.
      const result = message(child, 'result', 120_000, what);
      result.catch(() => {}); // awaited below
      gcIfExposed();
      await new Promise((r) => setTimeout(r, 20));
      const write = isAof ? (b) => aof.write(b) : (b) => fs.writeSync(fd, b);
      const pacing = await paced(rate, total, warm, pace, epoch, write, isAof);
      if (isAof) {
        await aof.finish(); // the reader's tailer ends at EOF
        if (aof.size !== total * STAMP) throw new Error(`${what}: writer size ${aof.size}, expected ${total * STAMP}`);
      }
      // tail-file polls every 100 ms; 5 s is far more than any consumer needs to catch up.
      if (child.connected) child.send({ type: 'done', graceMs: 5000 }, () => {}); // (it may have finished already)
      const res = await result;
      if (res.bad || res.received !== total) {
        throw new Error(`${what}: LOST OR DISORDERED STAMPS: ${res.bad ?? ''} (received ${res.received} of ${total})`);
      }
      if (DUMP) {
        fs.mkdirSync(DUMP, { recursive: true });
        const lines = Array.from(res.lat, (l, i) => `${res.sentAt[i]} ${l}`);
        fs.writeFileSync(path.join(DUMP, `${kind}-${rate}-${pace}-${dumpSeq++}.txt`), lines.join('\n') + '\n');
      }
      return { ...pacing, ...res, sentAt: undefined, events };
    } finally {
      if (child.connected) child.disconnect();
      await exited(child);
      if (isAof) await closeWarm(aof);
      else {
        fs.closeSync(fd);
        fs.rmSync(file, { force: true });
      }
    }
  }

  const require = createRequire(import.meta.url);
  const version = (pkg) => require(`${pkg}/package.json`).version;
  const ROW_NAMES = {
    inotify: 'plain file: fs.watch + readSync (the bar)',
    doorbell: "mmap-aof, wake 'doorbell' (default)",
    adaptive: "mmap-aof, wake 'adaptive'",
    futex: "mmap-aof, wake 'futex'",
    spin: "mmap-aof, wake 'spin' (a core)",
    poll: "mmap-aof, wake 'poll' 1 ms",
    tail: `\`tail\` ${version('tail')} (fs.watch)`,
    'tail-file': `@logdna/tail-file ${version('@logdna/tail-file')}, poll 100 ms`,
    'doorbell-bare': 'diag: doorbell ring, no tailer',
    'inotify-tailer': 'diag: plain file + a tailer-shaped layer',
  };
  const SHORT = {
    inotify: 'plain file fs.watch + readSync',
    doorbell: "'doorbell' (default)",
    adaptive: "'adaptive'",
    futex: "'futex'",
    spin: "'spin'",
    poll: "'poll' 1 ms",
    tail: '`tail`',
    'tail-file': '@logdna/tail-file 100 ms',
    'doorbell-bare': 'diag: doorbell, no tailer',
    'inotify-tailer': 'diag: plain file + tailer layer',
  };

  async function latencySection() {
    out();
    out('(a) cross-process latency: a stamp written in this process → seen by a consumer in a child process; 16-byte stamps,');
    out(`    measured stamps per run: ${RATES.map((r) => `${eventsAt(r).toLocaleString('en')} at ${si(r)}/s (after ${warmAt(r).toLocaleString('en')} unmeasured)`).join(', ')};`);
    out(`    ${REPEAT} run${REPEAT > 1 ? 's' : ''} per row (rows interleaved, order rotated for each rate and writer); writers: ${PACES.join(', ')}`);
    out(`files in ${describeFilesystem(dir)}; mmap-aof files pre-sized and pre-touched, Manager defaults (1 s flush timer)`);
    out(`load average before the section: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min; anything else running shows here)`);
    const rows = [];
    for (const rate of RATES) {
      for (const pace of PACES) {
        for (const kind of ROWS) if (!DIAG_ROWS.includes(kind) || DIAG_RATES.includes(rate)) rows.push({ rate, pace, kind, runs: [] });
      }
    }
    // Warm-up: the writer's paced loops and formatting optimized before any timed row.
    for (const pace of PACES) await latencyRun(ROWS.includes('doorbell') ? 'doorbell' : ROWS[0], 10_000, pace);
    let group = 0;
    for (let round = 0; round < REPEAT; round++) {
      for (const rate of RATES) {
        for (const pace of PACES) {
          const these = rows.filter((r) => r.rate === rate && r.pace === pace);
          group++;
          for (let j = 0; j < these.length; j++) {
            const r = these[(j + group) % these.length];
            const x = await latencyRun(r.kind, r.rate, r.pace);
            r.runs.push(x);
            if (VERBOSE) {
              const s = Float64Array.from(x.lat).sort();
              out(`  round ${round + 1}: ${ROW_NAMES[r.kind]} at ${si(rate)}/s, ${pace} writer: p50 ${us(pct(s, 0.5))} p99 ${us(pct(s, 0.99))} ` +
                `p99.9 ${us(pct(s, 0.999))} max ${us(s[s.length - 1])} µs, ${((x.events - 1) / x.seconds).toFixed(0)}/s, ` +
                `writer side max ${us(Math.max(...x.published))} µs, reader CPU ${pcore(x.cpuMs / x.wallMs)}, writer CPU ${pcore(x.writerCpu)}, ${x.wakes} wakes, ${x.gcs} GCs ` +
                `(max ${x.gcMaxMs.toFixed(2)} ms), ${stalls(x.lat, 1e6)} stretches > 1 ms, load ${os.loadavg()[0].toFixed(2)}`);
            }
          }
        }
      }
    }
    for (const r of rows) {
      const n = r.runs.reduce((a, x) => a + x.lat.length, 0);
      const all = new Float64Array(n);
      let at = 0;
      for (const x of r.runs) {
        all.set(x.lat, at);
        at += x.lat.length;
      }
      all.sort();
      r.n = n;
      r.p50 = pct(all, 0.5);
      r.p99 = pct(all, 0.99);
      r.p999 = pct(all, 0.999);
      r.max = all[all.length - 1];
      r.p99s = r.runs.map((x) => pct(Float64Array.from(x.lat).sort(), 0.99));
      r.cpu = median(r.runs.map((x) => x.cpuMs / x.wallMs));
      r.writerCpu = median(r.runs.map((x) => x.writerCpu));
      r.achieved = r.runs.reduce((a, x) => a + x.events - 1, 0) / r.runs.reduce((a, x) => a + x.seconds, 0);
      r.wakes = r.runs.reduce((a, x) => a + x.wakes, 0);
      const pub = new Float64Array(n);
      at = 0;
      for (const x of r.runs) {
        pub.set(x.published, at);
        at += x.published.length;
      }
      pub.sort();
      r.pub50 = pct(pub, 0.5);
      r.pub99 = pct(pub, 0.99);
    }
    out();
    const perRun = REPEAT > 1;
    out(table(
      ['consumer (child process)', 'writer', 'target/s', 'achieved/s', 'stamps/turn', 'max lag µs', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs',
        ...(perRun ? ['p99 per run µs'] : []), 'stalls > 1 ms', 'writer side p50 / p99 µs', 'stamps/wake', 'reader CPU', 'writer CPU', 'reader GCs'],
      rows.map((r) => {
        const turns = r.runs.reduce((a, x) => a + x.turns, 0);
        return [
          ROW_NAMES[r.kind],
          r.pace,
          si(r.rate),
          si(Math.round(r.achieved)),
          `${(r.n / turns).toFixed(2)} (≤${Math.max(...r.runs.map((x) => x.maxBurst))})`,
          us(Math.max(...r.runs.map((x) => x.maxLag))),
          us(r.p50),
          us(r.p99),
          us(r.p999),
          us(r.max),
          ...(perRun ? [r.p99s.map(us).join(' / ')] : []),
          r.p50 < 500_000 ? String(r.runs.reduce((a, x) => a + stalls(x.lat, 1e6), 0)) : '-',
          `${us(r.pub50)} / ${us(r.pub99)}`,
          r.wakes ? (r.n / r.wakes).toFixed(2) : '-',
          pcore(r.cpu),
          pcore(r.writerCpu),
          `${r.runs.reduce((a, x) => a + x.gcs, 0)} (≤${Math.max(...r.runs.map((x) => x.gcMaxMs)).toFixed(1)} ms)`,
        ];
      }),
    ));
    out();
    out('The same, compact: p50 / p99 µs, reader CPU (% of one core)');
    const cols = [];
    for (const rate of RATES) for (const pace of PACES) cols.push({ rate, pace });
    const cell = (r) => (r ? `${us(r.p50)} / ${us(r.p99)}, ${pcore(r.cpu)}` : '-');
    out(table(
      ['consumer', ...cols.map((c) => `${si(c.rate)}/s ${c.pace}`)],
      ROWS.map((kind) => [SHORT[kind], ...cols.map((c) => cell(rows.find((r) => r.kind === kind && r.rate === c.rate && r.pace === c.pace)))]),
    ));
    out();
    out('latency = the child\'s process.hrtime.bigint() when its consumer has the stamp\'s bytes in hand − the parent\'s, read');
    out('  just before the stamp\'s own write (CLOCK_MONOTONIC, one clock for every process). Every stamp counts; the child');
    out('  checks that the sequence numbers arrive in order, none lost, none twice (a run that fails that fails the benchmark).');
    out('  plain file (the bar): the writer fs.writeSync(fd, stamp) to a file opened \'a\'; the child does what `tail -f` does:');
    out('    fs.watch(file) (inotify), and on each event fs.readSync from its last offset to the file\'s size (into a 64 KiB');
    out('    buffer, until a read comes back short: one read per event), time read after the read returns.');
    out('  mmap-aof: the writer aof.write(stamp) (the library publishes at the end of each synchronous run and, while a reader');
    out('    waits, rings its doorbell (a 1-byte pwrite of the -shm, at most once per turn) or futex-wakes); `await aof.finish()`');
    out('    at the end. The child: openReader(file, { wake }).subscribe({ pollRead }) (doorbell: openReader(file), the');
    out('    default), time read on entering pollRead, then every stamp in ev.tail; the tailer ends at EOF.');
    out('    adaptive: spinMs 0.1 (default): after each event, on a steady stream, a futex nap (wakeable by the writer) until');
    out('    2 deviations of the pace before the next event is due, then a spin; else the doorbell. spin: spinMs 1 (default)');
    out('    per turn; poll: interval 1 ms.');
    out('  `tail`: new Tail(file, { fromBeginning: true }) (fs.watch; each change: statSync + a fs.createReadStream of the new');
    out('    bytes), time read at each \'line\'. @logdna/tail-file: new TailFile(file, { startPos: 0, pollFileIntervalMs: 100 })');
    out('    (its default is 1000 ms), time read at each \'data\' chunk. Both with the plain-file writer.');
    if (ROWS.includes('doorbell-bare') || ROWS.includes('inotify-tailer')) {
      out('  diag: doorbell, no tailer: the child counts itself as a doorbell sleeper in the control block, watches the -shm');
      out('    itself (fs.watch) and on each ring loads the published size and parses the new stamps from reader.view() (a');
      out('    reader with no tailer): the ring and the wake-up without the library\'s reader/tailer layers. diag: plain file +');
      out('    tailer layer: the inotify follower handing its bytes to a pollRead consumer through an event object with a');
      out('    lazily made view, as the library\'s Tailer does.');
    }
    out('writer: timer = setTimeout until the next stamp is due (≥ 1 ms), then every stamp due by then in one synchronous run');
    out('  (stamps/turn: ~1 at 1 k/s, ~10 at 10 k/s, ~100 at 100 k/s; an early stamp of a tick also waits for the rest of');
    out('  its tick\'s writes); its core idles between ticks. spin = a busy loop waits for each stamp\'s due time, writes it,');
    out(`  then setImmediate (one stamp per turn, at most ${MAX_BURST} when behind): the writer holds one core at 100%.`);
    out('  max lag: the latest any stamp was sent after its due time; achieved/s over the measured stamps. writer side: each');
    out('  stamp\'s time → the end of its run\'s publish (a microtask queued after the run\'s writes: it runs after mmap-aof\'s');
    out('  publish and its ring / futex wake), for the plain file → its own writeSync returned: how long the stamp was in the');
    out('  writer before a reader was told (the rest of its timer tick\'s writes; the write/pwrite syscall, in which the kernel');
    out('  queues the inotify event and wakes the reader).');
    out('reader CPU: the child\'s user+sys time ÷ wall time from its first to its last measured stamp (median of runs; every');
    out('  thread: futex\'s waiter thread included). writer CPU: the same for the parent over its measured stamps (every');
    out('  thread; the spin writer is ~100% by construction). stamps/wake: measured stamps ÷ times the consumer was handed');
    out('  new bytes. reader GCs: V8 collections in the child during the measured stamps, and the longest pause.');
    out('stalls > 1 ms: stretches of consecutive stamps (send order) that each took over 1 ms: one stall of the consumer, the');
    out('  writer or the VM delays every stamp sent during it. "-" where p50 is 0.5 ms or more.');
    const g = machineGaps(1);
    out(`machine floor: a plain JS spin loop (no I/O) on this ${cores}-core VM for 1 s saw ${g.count} stalls > 50 µs ` +
      `(${(g.totalNs / 1e9 * 100).toFixed(2)}% of the time), the largest ${g.largest.map(us).join(', ')} µs: p99.9 and max`);
    out('  are bounded below by that, and the writer, the consumer, their helper threads and the kernel share 2 CPUs.');
    return rows;
  }

  // ==============================================================================================
  // (b) writer throughput with reader processes
  // ==============================================================================================

  const RECORD = 100;
  const REC = Buffer.from('r'.padEnd(RECORD - 1, '.') + '\n', 'latin1'); // first byte 'r' (114): readers sum it

  async function throughputRun(row) {
    const aof = openWarm(N_TP * RECORD, managerTp);
    const children = [];
    try {
      for (let i = 0; i < row.readers; i++) {
        children.push(spawnChild('reader-child', { file: aof.path, reading: row.reading }));
      }
      const ready = await Promise.all(children.map((c, i) => message(c, 'ready', 30_000, `reader ${i}`)));
      for (const m of ready) if (m.wake !== 'doorbell') throw new Error(`throughput: a reader's default wake is ${m.wake}`);
      gcIfExposed();
      await new Promise((r) => setTimeout(r, 50));
      const results = children.map((c, i) => message(c, 'result', 60_000, `reader ${i}`));
      results.forEach((p) => p.catch(() => {})); // awaited below; a failure is thrown there
      const cpu0 = process.cpuUsage();
      let written = 0;
      let t1 = 0;
      const t0 = hrnow();
      await new Promise((resolve) => {
        const turn = () => {
          const k = Math.min(1000, N_TP - written);
          for (let i = 0; i < k; i++) aof.write(REC);
          written += k;
          if (written < N_TP) setImmediate(turn);
          else {
            t1 = hrnow();
            resolve();
          }
        };
        setImmediate(turn);
      });
      const cpu = process.cpuUsage(cpu0);
      if (aof.size !== N_TP * RECORD) throw new Error(`throughput: writer size ${aof.size}, expected ${N_TP * RECORD}`);
      await aof.finish();
      const res = await Promise.all(results);
      for (const [i, r] of res.entries()) {
        if (r.bad || r.end !== N_TP * RECORD || (row.reading && r.sum !== N_TP * 114)) {
          throw new Error(`throughput, ${row.name}: reader ${i} ${r.bad ?? ''} saw ${r.end} bytes of ${N_TP * RECORD}` +
            (row.reading ? `, sum ${r.sum} (expected ${N_TP * 114})` : ''));
        }
      }
      const caughtUp = res.length ? Math.max(...res.map((r) => r.tEnd)) : t1;
      return {
        rate: N_TP / ((t1 - t0) / 1e9),
        endToEnd: N_TP / ((caughtUp - t0) / 1e9),
        lagMs: (caughtUp - t1) / 1e6,
        events: res.length ? median(res.map((r) => r.events)) : 0,
        readerCpuMs: res.reduce((a, r) => a + r.cpuMs, 0),
        readerGcs: res.length ? median(res.map((r) => r.gcs)) : 0,
        readerGcMs: res.reduce((a, r) => a + r.gcMs, 0),
        writerCpu: (cpu.user + cpu.system) / 1000 / ((t1 - t0) / 1e6),
      };
    } finally {
      for (const c of children) if (c.connected) c.disconnect();
      for (const c of children) await exited(c);
      await closeWarm(aof);
    }
  }

  async function throughputSection() {
    const rows = [
      { name: 'no readers', readers: 0 },
      { name: `${READERS} reader processes (default wake), return ev.end`, readers: READERS },
      { name: `${READERS} reader processes (default wake), read every record`, readers: READERS, reading: true },
    ];
    out();
    out(`(b) writer throughput with reader processes following: ${N_TP.toLocaleString('en')} records of 100 bytes per run, ` +
      `1,000 writes per event-loop turn then setImmediate (one publish per turn); ${TP_REPEAT} rounds, one run per row each, order rotated`);
    out('    pre-sized, pre-touched file; readers: openReader(file).tail({ from: 0 }) (default wake: \'doorbell\') in separate');
    out('    processes, attached (and counted as doorbell sleepers) before the first write; Manager without flush timer or populate jobs');
    out(`load average before the section: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`);
    for (const r of rows) r.runs = [];
    await throughputRun(rows[1]); // warm-up
    for (let round = 0; round < TP_REPEAT; round++) {
      for (let j = 0; j < rows.length; j++) {
        const r = rows[(j + round) % rows.length];
        const x = await throughputRun(r);
        r.runs.push(x);
        if (VERBOSE) out(`  round ${round + 1}: ${r.name}: ${si(x.rate)}/s, end-to-end ${si(x.endToEnd)}/s, lag ${x.lagMs.toFixed(1)} ms, ${x.events} events/reader`);
      }
    }
    const base = median(rows[0].runs.map((x) => x.rate));
    out();
    out(table(
      ['readers', 'writer records/s', 'MB/s', 'vs no readers', 'min..max records/s', 'all caught up records/s', 'last reader lag ms',
        'events/reader', 'writer CPU', 'readers CPU ms', 'GCs/reader', 'readers GC ms'],
      rows.map((r) => {
        const rates = r.runs.map((x) => x.rate);
        const m = median(rates);
        return [
          r.name,
          si(m),
          (m * RECORD / 1e6).toFixed(0),
          (m / base).toFixed(3) + '×',
          `${si(Math.min(...rates))}..${si(Math.max(...rates))}`.replace(/ /g, ''),
          r.readers ? si(median(r.runs.map((x) => x.endToEnd))) : '-',
          r.readers ? median(r.runs.map((x) => x.lagMs)).toFixed(1) : '-',
          r.readers ? median(r.runs.map((x) => x.events)).toLocaleString('en') : '-',
          `${(median(r.runs.map((x) => x.writerCpu)) * 100).toFixed(0)}%`,
          r.readers ? median(r.runs.map((x) => x.readerCpuMs)).toFixed(0) : '-',
          r.readers ? median(r.runs.map((x) => x.readerGcs)).toFixed(0) : '-',
          r.readers ? median(r.runs.map((x) => x.readerGcMs)).toFixed(1) : '-',
        ];
      }),
    ));
    out();
    out(`writer records/s: median of ${TP_REPEAT} runs, N ÷ (first write → end of the last write turn); the finish() after it`);
    out('  is not timed. all caught up: N ÷ (first write → the last reader handed the last record). last reader lag: how long');
    out('  after the writer\'s last write that was. events/reader: read events each reader got (at most one per doorbell ring;');
    out(`  ${Math.ceil(N_TP / 1000).toLocaleString('en')} publishes per run, each ringing once while a reader waits). writer CPU: the writer process\'s`);
    out('  user+sys ÷ wall over the loop (all its threads: V8\'s background threads take it past 100% with no readers; below');
    out('  100%, the writer\'s thread was waiting for a CPU; the rings\' pwrites are in it). readers CPU ms: all readers together,');
    out('  from their first event to EOF (median of runs), every thread and the kernel\'s time for them (inotify reads, mmap of');
    out('  each new range). GCs/reader, readers GC ms: V8 collections in each reader (median) and their pauses, all readers together.');
    out('"read every record": each reader reads the first byte of every 100-byte record (and the sum is checked); otherwise');
    out('  readers return without touching the bytes. Every reader must end at exactly N × 100 bytes, in order, or the run fails.');
    out(`On this ${cores}-core VM the ${READERS} readers share the CPUs with the writer, so what the readers cost the writer`);
    out('  here is mostly CPU time taken from it, not contention on the shared memory.');
    return { base, rows };
  }

  // ==============================================================================================

  const lat = wanted('latency') ? await latencySection() : undefined;
  const tp = wanted('throughput') ? await throughputSection() : undefined;

  if (lat) {
    const find = (kind, rate, pace) => lat.find((r) => r.kind === kind && r.rate === rate && r.pace === pace);
    const verdict = (ok) => (ok ? 'MET' : 'NOT MET');
    const lines = [];
    let met = 0;
    let all = 0;
    const check = (ok, text) => {
      all++;
      if (ok) met++;
      lines.push(`  ${text}: ${verdict(ok)}`);
    };
    for (const rate of RATES) {
      for (const pace of PACES) {
        const d = find('doorbell', rate, pace);
        const p = find('inotify', rate, pace);
        if (d && p) {
          check(d.p50 <= p.p50 && d.p99 <= p.p99, `${si(rate)}/s, ${pace} writer: doorbell p50 ${us(d.p50)} µs vs plain file ${us(p.p50)} ` +
            `(${(d.p50 / p.p50).toFixed(2)}×), p99 ${us(d.p99)} vs ${us(p.p99)} (${(d.p99 / p.p99).toFixed(2)}×); both ≤`);
        }
      }
    }
    for (const pace of PACES) {
      const a = find('adaptive', 10_000, pace);
      if (a) {
        check(a.p50 <= 10_000 && a.cpu <= 0.5, `10.0 k/s, ${pace} writer: adaptive p50 ${us(a.p50)} µs ≤ 10 (${verdict(a.p50 <= 10_000)}), ` +
          `reader CPU ${pcore(a.cpu)} ≤ 50% (${verdict(a.cpu <= 0.5)})`);
      }
    }
    for (const pace of PACES) {
      const d = find('doorbell', 1000, pace);
      if (d) check(d.cpu <= 0.05, `1.0 k/s, ${pace} writer: doorbell reader CPU ${pcore(d.cpu)} ≤ 5%`);
    }
    if (all) {
      out();
      out(`targets (${met} of ${all} met): default wake (doorbell) p50 and p99 ≤ the plain-file inotify follower's at every rate`);
      out('  and writer; adaptive at 10 k/s p50 ≤ 10 µs with the reader ≤ 50% of a core; at 1 k/s the doorbell reader ≤ 5% of a core');
      for (const l of lines) out(l);
    }
  }
  if (tp) {
    const four = tp.rows[1];
    const m = median(four.runs.map((x) => x.rate));
    out();
    out(`writer throughput: ${si(tp.base)} records/s with no readers, ${si(m)} records/s with ${READERS} reader processes ` +
      `following (default wake, doorbell): ${(m / tp.base).toFixed(3)}×`);
  }
  await manager.close();
  await managerTp.close();
}

// ================================================================================================

const role = process.argv[2];
if (role === 'latency-child') await latencyChild(JSON.parse(process.argv[3]));
else if (role === 'reader-child') await readerChild(JSON.parse(process.argv[3]));
else await main();
