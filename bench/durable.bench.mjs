// Durable appends of 100-byte records, in one run: every row makes each record (or each caller's
// record) durable before the next one is acknowledged. Three sections, all rows interleaved round
// by round (see bench/README.md for what each row means):
//   1. mechanisms: what one durable 100-byte append costs with each way of making it durable
//      (mmap + msync, mmap + fdatasync, mmap + msync + fsync, mmap + setxattr + fsync, the
//      addon's durableSync, pwrite into written blocks + fdatasync, write(2) + fdatasync), and the
//      machine's floor (fdatasync with nothing dirty; after a 1-byte pwrite)
//   2. one caller: the library (aof.sync, aof.syncSync, log.sync, Log sync: true) against
//      fs.writeSync + fs.fdatasyncSync / fs.fsyncSync
//   3. group commit: 8 / 64 / 256 concurrent callers (async functions in this process) of the raw
//      AOF, the record log and a hand-written group-commit file (one writev + one fdatasync per batch)
//
//   node bench/durable.bench.mjs      (or `node bench/run.mjs durable`, which saves bench/results/durable.txt)
//
// Environment:
//   BENCH_DURABLE_MS         timed milliseconds per row and round              (default 500)
//   BENCH_DURABLE_WARMUP_MS  untimed milliseconds before that, same loop       (default 50)
//   BENCH_DURABLE_ROUNDS     rounds over every row; medians are reported        (default 3)
//   BENCH_DURABLE_CALLERS    concurrent callers of section 3                   (default 8,64,256)
//   BENCH_DURABLE_FILE_MIB   size of the pre-sized files of section 1          (default 16)
//   BENCH_DIR                where the files go                                (default os.tmpdir())
//   BENCH_VERBOSE=1          also print every run
//   BENCH_ONLY               sections: mechanisms, one, group
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { benchDir, describeFilesystem, envInt, environmentLines, loadAverage, median, requireV8Flags, si, table } from './lib.mjs';

// gc() between rows needs --expose-gc: re-run with the benchmark flags when missing.
const self = requireV8Flags(import.meta.url);

const { Manager, Geometry, Log, MiB, GiB } = await import('../dist/index.js');
const { native } = await import('../dist/native.js');

const RECORD = 100;
const MS = envInt('BENCH_DURABLE_MS', 500);
const WARMUP_MS = envInt('BENCH_DURABLE_WARMUP_MS', 50);
const ROUNDS = envInt('BENCH_DURABLE_ROUNDS', 3);
const CALLERS = (process.env.BENCH_DURABLE_CALLERS || '8,64,256').split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`BENCH_DURABLE_CALLERS: ${s} is not a positive integer`);
  return n;
});
const FILE_BYTES = envInt('BENCH_DURABLE_FILE_MIB', 16) * MiB;
const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
const want = (section) => !ONLY || ONLY.has(section);

// Targets.
const TARGET_ONE = 1.0; // one caller: library ≥ 1.0× fs.writeSync + fs.fdatasyncSync
const TARGET_GROUP = 20; // 64 callers ≥ 20× one caller
const TARGET_GROUP_AT = 64;
const TARGET_VS_BASELINE = 1.0; // not below the hand-written group commit

const SLOTS_ATTRIBUTE = 'user.mmap-aof.durable'; // as src/durability.ts
const SLOT_SIZE = 24;
const SLOTS_VALUE = 4 + 2 * SLOT_SIZE; // header + the 2 slots the addon keeps (native/region.cc)
const FIRST_LAYOUT = 8 + 3 * 48; // the layout first tried: 3 slots of 48 bytes, too big for the inode

const out = (s = '') => process.stdout.write(s + '\n');
if (!process.env.BENCH_CHILD) {
  for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
}

// The same 100 bytes as write.bench.mjs, but for a stamp: bytes [0, 4) the record's sequence
// number in the file (u32 LE, in write order), [4, 8) the caller that wrote it. Every row checks
// the file afterwards: record i carries sequence number i and the template's bytes [8, 100).
const TEMPLATE = Buffer.from('mmap-aof write benchmark record: 0123456789abcdefghijklmnopqrstuvwxyz'.padEnd(RECORD - 1, '.') + '\n', 'latin1');
if (TEMPLATE.length !== RECORD) throw new Error('record is not 100 bytes');
const newRecord = (caller) => {
  const r = Buffer.from(TEMPLATE);
  r.writeUInt32LE(0, 0);
  r.writeUInt32LE(caller, 4);
  return r;
};

const dir = benchDir(BASE_DIR, 'mmap-aof-durable-bench-');
let seq = 0;
const freshPath = (stem) => path.join(dir, `${stem}-${seq++}`);
const now = () => performance.now();
const pageDown = (n) => n - (n % 4096);
const writevAsync = promisify(fs.writev);
const fdatasyncAsync = promisify(fs.fdatasync);

out();
out(`durable appends of ${RECORD}-byte records: each acknowledged only once durable; ${ROUNDS} rounds, every row once per round`);
out(`  (rows interleaved, the order rotated each round), ${WARMUP_MS} ms untimed + ${MS} ms timed per row and round (BENCH_DURABLE_WARMUP_MS, BENCH_DURABLE_MS)`);
out(`files in ${describeFilesystem(dir)}`);
out(`block device: ${blockDevice(dir)}`);
out(`code: ${codeVersion()}`);
out(`load average at the start: ${loadAverage()}`);

/** The commit, and whether dist/ is older than uncommitted changes to src/ or native/ (dist/ is what runs). */
function codeVersion() {
  try {
    const root = path.dirname(path.dirname(self));
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const changed = git('status', '--porcelain', '--', 'src', 'native').split('\n').filter(Boolean).map((l) => l.slice(3));
    const distTime = fs.statSync(path.join(root, 'dist', 'index.js')).mtimeMs;
    const newest = (d) => fs.readdirSync(d, { recursive: true }).reduce((t, f) => Math.max(t, fs.statSync(path.join(d, f)).mtimeMs), 0);
    const distNewest = newest(path.join(root, 'dist'));
    let s = `git ${git('rev-parse', '--short', 'HEAD').trim()}; dist/ last built ${new Date(distNewest).toISOString()}`;
    if (changed.length) {
      const after = changed.filter((f) => fs.existsSync(path.join(root, f)) && fs.statSync(path.join(root, f)).mtimeMs > distTime);
      s += `; uncommitted changes to ${changed.join(', ')}` +
        (after.length ? ` (${after.join(', ')} newer than dist/: not in this run)` : ' (dist/ built after them: they are in this run)');
    }
    return s;
  } catch {
    return 'unknown (no git)';
  }
}

/** The block device under `p` and what the kernel says of its write cache. */
function blockDevice(p) {
  try {
    const { dev } = fs.statSync(p);
    const name = path.basename(fs.realpathSync(`/sys/dev/block/${Math.floor(dev / 256)}:${dev % 256}`));
    const queue = fs.existsSync(`/sys/block/${name}/queue`) ? `/sys/block/${name}/queue` : undefined;
    const read = (f) => (queue ? fs.readFileSync(`${queue}/${f}`, 'utf8').trim() : '?');
    return `${name}, write cache "${read('write_cache')}", fua ${read('fua')}, rotational ${read('rotational')}`;
  } catch {
    return 'unknown';
  }
}

// --- checks ----------------------------------------------------------------------------------------

/** `bytes` begins with exactly `n` records in order (record i stamped i), followed by something else or nothing. */
function checkRecords(what, bytes, n) {
  if (bytes.length < n * RECORD) throw new Error(`${what}: ${bytes.length} bytes, expected at least ${n} records`);
  for (let i = 0; i < n; i++) {
    const at = i * RECORD;
    if (bytes.readUInt32LE(at) !== i % 2 ** 32 || bytes.compare(TEMPLATE, 8, RECORD, at + 8, at + RECORD) !== 0) {
      throw new Error(`${what}: record ${i} of ${n} is not the record written there`);
    }
  }
  // Nothing more was acknowledged than written: the next record slot holds no record.
  const next = n * RECORD;
  if (bytes.length >= next + RECORD && bytes.compare(TEMPLATE, 8, RECORD, next + 8, next + RECORD) === 0) {
    throw new Error(`${what}: a record past the ${n} written`);
  }
}

/** Reads the first n + 1 record slots of `file` (no more: some files are pre-sized far past n) and checks them. */
function checkFile(what, file, n) {
  const fd = fs.openSync(file, 'r');
  try {
    const bytes = Buffer.alloc(Math.min(fs.fstatSync(fd).size, (n + 1) * RECORD));
    let got = 0;
    while (got < bytes.length) {
      const k = fs.readSync(fd, bytes, got, bytes.length - got, got);
      if (k === 0) break;
      got += k;
    }
    checkRecords(what, bytes.subarray(0, got), n);
  } finally {
    fs.closeSync(fd);
  }
}

// --- the timed loops ------------------------------------------------------------------------------

const LAT = new Float64Array(1 << 21); // per-append latencies of the timed window (ms)

/**
 * One caller, synchronous: `step(seq)` makes record `seq` durable before it returns. Runs
 * WARMUP_MS untimed, then MS timed. Returns what it measured; `total` = records written.
 */
function syncLoop(step, statsOf) {
  let s = 0;
  const tw = now() + WARMUP_MS;
  while (now() < tw) step(s++);
  const s0 = s;
  const st0 = statsOf?.();
  const c0 = process.cpuUsage();
  const t0 = now();
  const end = t0 + MS;
  let k = 0;
  for (;;) {
    const a = now();
    step(s++);
    const b = now();
    if (k < LAT.length) LAT[k++] = b - a;
    if (b >= end) break;
  }
  const seconds = (now() - t0) / 1000;
  return finish({ records: s - s0, seconds, total: s, acked: s, k, c0, st0, st1: statsOf?.() });
}

/**
 * `callers` async functions, each looping `await step(record, seq)`: step writes its record
 * (stamped seq) synchronously, then resolves once it is durable. WARMUP_MS untimed, then MS timed
 * (from the first acknowledgment past the warm-up until the last caller has its last answer: no
 * caller starts an append after MS).
 */
async function asyncLoop(callers, step, statsOf) {
  let s = 0;
  let acked = 0;
  let measuring = false;
  let stop = false;
  let k = 0;
  const tw = now() + WARMUP_MS;
  let t0 = 0;
  let end = Infinity;
  let acked0 = 0;
  let c0;
  let st0;
  const start = (t) => {
    measuring = true;
    t0 = t;
    end = t + MS;
    acked0 = acked;
    c0 = process.cpuUsage();
    st0 = statsOf?.();
  };
  async function caller(c) {
    const rec = newRecord(c);
    while (!stop) {
      const a = now();
      await step(rec, s++);
      const b = now();
      acked++;
      if (measuring) {
        if (k < LAT.length) LAT[k++] = b - a;
        if (b >= end) stop = true;
      } else if (b >= tw) start(b);
    }
  }
  await Promise.all(Array.from({ length: callers }, (_, c) => caller(c)));
  const seconds = (now() - t0) / 1000;
  return finish({ records: acked - acked0, seconds, total: s, acked, k, c0, st0, st1: statsOf?.() });
}

function finish(r) {
  const cpu = process.cpuUsage(r.c0);
  const lat = LAT.subarray(0, r.k).sort();
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const res = {
    records: r.records, seconds: r.seconds, rate: r.records / r.seconds, total: r.total, acked: r.acked,
    p50: pct(0.5), p99: pct(0.99), cpu: (cpu.user + cpu.system) / 1e6 / r.seconds,
  };
  if (r.st0 && r.st1) {
    res.flushes = r.st1.flushes - r.st0.flushes;
    res.flushNs = r.st1.flushNs - r.st0.flushNs;
  }
  return res;
}

const libStats = (stats) => () => {
  const s = stats();
  return { flushes: s.flushes.count, flushNs: s.flushes.totalNs };
};

// --- files for the mechanism rows ------------------------------------------------------------------

function fsyncDir() {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

/**
 * A new file of FILE_BYTES, allocated with fallocate as the library grows its files (unwritten
 * extents: they read as zeros), mapped shared and writable through the addon's Region. Its
 * creation and allocation are made durable before timing.
 */
function mmapFile(stem, bytes = FILE_BYTES) {
  const file = freshPath(stem);
  const fd = fs.openSync(file, 'w+');
  native.fallocate(fd, 0, bytes, file);
  const region = new native.Region(bytes, file);
  region.mapFile(fd, 0, bytes, true);
  const mem = new Uint8Array(region.buffer(bytes));
  fs.fsyncSync(fd);
  fsyncDir();
  return { file, fd, region, mem };
}

function closeMmap(what, { file, fd, region }, n) {
  region.release();
  fs.closeSync(fd);
  checkFile(what, file, n);
  fs.rmSync(file);
}

/** A new file of `bytes` zeros actually written (not fallocated) and fsynced: every block is allocated and written. */
function zeroedFile(stem, bytes = FILE_BYTES) {
  const file = freshPath(stem);
  const fd = fs.openSync(file, 'w+');
  const zeros = Buffer.alloc(MiB);
  for (let at = 0; at < bytes; at += MiB) fs.writeSync(fd, zeros, 0, Math.min(MiB, bytes - at), at);
  fs.fsyncSync(fd);
  fsyncDir();
  return { file, fd };
}

/** A new empty file (creation made durable before timing). */
function emptyFile(stem) {
  const file = freshPath(stem);
  const fd = fs.openSync(file, 'w');
  fs.fsyncSync(fd);
  fsyncDir();
  return { file, fd };
}

function closeFile(what, { file, fd }, n) {
  fs.closeSync(fd);
  checkFile(what, file, n);
  fs.rmSync(file);
}

const room = (s) => {
  if ((s + 1) * RECORD > FILE_BYTES) throw new Error(`the pre-sized file is full: raise BENCH_DURABLE_FILE_MIB (now ${FILE_BYTES / MiB})`);
  return s * RECORD;
};

// --- the hand-written group commit ----------------------------------------------------------------

/**
 * Group commit, the part both committers share: callers queue a resolver; one committer takes
 * everything queued, makes it durable with one `flush(batch)`, resolves the batch, and starts the
 * next batch with what queued meanwhile. Counts the flushes and their time.
 */
class GroupCommit {
  constructor() {
    this.flushes = 0;
    this.flushNs = 0;
    this.queue = [];
    this.running = false;
  }

  /** Queues `entry` ({ record? }) and resolves once a flush that started after it has ended. */
  enqueue(entry) {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...entry, resolve, reject });
      if (!this.running) this.#commit();
    });
  }

  async #commit() {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        const t = process.hrtime.bigint();
        await this.flush(batch);
        this.flushes++;
        this.flushNs += Number(process.hrtime.bigint() - t);
        for (const e of batch) e.resolve();
      } catch (err) {
        for (const e of batch) e.reject(err);
      }
    }
    this.running = false;
  }
}

/**
 * The baseline of section 3: each batch written with one writev at the file's end and one
 * fdatasync (both async, on the thread pool).
 */
class GroupCommitFile extends GroupCommit {
  constructor(fd) {
    super();
    this.fd = fd;
    this.size = 0;
  }

  append(record) {
    return this.enqueue({ record });
  }

  async flush(batch) {
    const bufs = batch.map((e) => e.record);
    const bytes = bufs.length * RECORD;
    const { bytesWritten: written } = await writevAsync(this.fd, bufs, this.size);
    if (written !== bytes) throw new Error(`writev wrote ${written} of ${bytes} bytes`);
    this.size += bytes;
    await fdatasyncAsync(this.fd);
  }
}

/**
 * For comparison in section 3, not a target: the same committer over the library's mechanism.
 * Callers store their record into a mapped file (fallocated ahead, MAPPED_BYTES) and queue a
 * resolver; the committer makes everything stored durable with one region.durableSyncAsync (the
 * addon's call behind aof.sync(): a slot in the attribute + fsync, on the thread pool).
 */
const MAPPED_BYTES = 256 * MiB;
class GroupCommitMapped extends GroupCommit {
  constructor(st) {
    super();
    this.st = st;
    this.size = 0;
    this.durable = 0;
    this.seq = 1;
    this.slot = Buffer.alloc(SLOT_SIZE);
  }

  append(record) {
    if (this.size + RECORD > MAPPED_BYTES) throw new Error('the mapped file is full');
    this.st.mem.set(record, this.size);
    this.size += RECORD;
    return this.enqueue({});
  }

  async flush() {
    const to = this.size; // every queued record was stored before it queued
    this.slot.writeUInt32LE(this.seq++, 8);
    this.slot.writeUInt32LE(to, 12);
    this.slot.writeUInt32LE(this.durable, 16);
    await this.st.region.durableSyncAsync(this.st.fd, this.durable, to, this.slot, SLOTS_ATTRIBUTE);
    this.durable = to;
  }
}

// --- the rows ---------------------------------------------------------------------------------------
// measure() → one run: setup (untimed), warm-up + timed loop, teardown with checks (untimed).

const rows = [];
const row = (r) => {
  rows.push(r);
  return r;
};

/** A synchronous single-caller row over a file made by `setup`; `step(state, seq, rec)` appends record seq durably. */
function syncRow(key, section, name, setup, step, teardown, statsOf) {
  return row({
    key, section, name, callers: 1,
    async measure() {
      const st = await setup();
      globalThis.gc?.();
      const rec = newRecord(0);
      const r = syncLoop((s) => {
        rec.writeUInt32LE(s % 2 ** 32, 0);
        step(st, s, rec);
      }, statsOf?.(st));
      await teardown(name, st, r.total);
      return r;
    },
  });
}

function asyncRow(key, section, name, callers, setup, step, teardown, statsOf) {
  return row({
    key, section, name, callers,
    async measure() {
      const st = await setup();
      globalThis.gc?.();
      const r = await asyncLoop(callers, (rec, s) => {
        rec.writeUInt32LE(s % 2 ** 32, 0);
        return step(st, rec);
      }, statsOf?.(st));
      if (r.acked !== r.total) throw new Error(`${name}: ${r.acked} acknowledged of ${r.total} written`);
      await teardown(name, st, r.total);
      return r;
    },
  });
}

// Section 1: mechanisms. One caller, a new file per run.
const slot = Buffer.alloc(SLOT_SIZE);
const slotsValue = Buffer.alloc(SLOTS_VALUE, 0x5a);
const firstLayoutValue = Buffer.alloc(FIRST_LAYOUT, 0x5a);
if (want('mechanisms')) {
  syncRow('a', 'mechanisms', '(a) mmap store + msync(MS_SYNC) of the range', () => mmapFile('msync'), (st, s, rec) => {
    const at = room(s);
    st.mem.set(rec, at);
    st.region.msync(at, RECORD, true);
  }, closeMmap);
  syncRow('b', 'mechanisms', '(b) mmap store + fdatasync', () => mmapFile('fdatasync'), (st, s, rec) => {
    st.mem.set(rec, room(s));
    fs.fdatasyncSync(st.fd);
  }, closeMmap);
  syncRow('c', 'mechanisms', '(c) mmap store + msync + fsync (sync() before: 2 flushes)', () => mmapFile('msync-fsync'), (st, s, rec) => {
    const at = room(s);
    st.mem.set(rec, at);
    st.region.msync(at, RECORD, true);
    fs.fsyncSync(st.fd);
  }, closeMmap);
  syncRow('d', 'mechanisms', `(d) mmap store + setxattr (${SLOTS_VALUE} B) + fsync (sync() now)`, () => mmapFile('xattr-fsync'), (st, s, rec) => {
    st.mem.set(rec, room(s));
    slotsValue.writeUInt32LE(s, 16); // a new value each time, as a new slot is
    native.setxattr(st.fd, SLOTS_ATTRIBUTE, slotsValue, st.file);
    fs.fsyncSync(st.fd);
  }, closeMmap);
  syncRow('d1', 'mechanisms', `(d1) the same, a ${FIRST_LAYOUT}-byte value (the layout first tried)`, () => mmapFile('xattr1-fsync'), (st, s, rec) => {
    st.mem.set(rec, room(s));
    firstLayoutValue.writeUInt32LE(s, 16);
    native.setxattr(st.fd, SLOTS_ATTRIBUTE, firstLayoutValue, st.file);
    fs.fsyncSync(st.fd);
  }, closeMmap);
  syncRow('d2', 'mechanisms', "(d') mmap store + the addon's durableSync", () => mmapFile('durablesync'), (st, s, rec) => {
    const at = room(s);
    st.mem.set(rec, at);
    // A slot as src/durability.ts fills it (the addon adds the CRCs, merges it into the attribute, fsyncs).
    slot.writeUInt32LE(s + 1, 8);
    slot.writeUInt32LE(at + RECORD, 12);
    slot.writeUInt32LE(at, 16);
    if (!st.region.durableSync(st.fd, at, at + RECORD, slot, SLOTS_ATTRIBUTE)) throw new Error('the filesystem kept no slot');
  }, closeMmap);
  syncRow('e', 'mechanisms', '(e) pwrite into written blocks + fdatasync', () => zeroedFile('pwrite'), (st, s, rec) => {
    fs.writeSync(st.fd, rec, 0, RECORD, room(s));
    fs.fdatasyncSync(st.fd);
  }, closeFile);
}
// (f) is also the peer of section 2.
const peerFdatasync = syncRow('f', 'mechanisms', '(f) write(2) appending + fdatasync = fs.writeSync + fs.fdatasyncSync', () => emptyFile('append'), (st, s, rec) => {
  fs.writeSync(st.fd, rec);
  fs.fdatasyncSync(st.fd);
}, closeFile);
if (want('mechanisms')) {
  row({
    key: 'g', section: 'mechanisms', name: '(g) fdatasync, nothing dirty (the device flush alone)', callers: 1,
    async measure() {
      const st = zeroedFile('clean', MiB);
      const before = fs.fstatSync(st.fd);
      globalThis.gc?.();
      const r = syncLoop(() => fs.fdatasyncSync(st.fd));
      const after = fs.fstatSync(st.fd);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) throw new Error('(g): the file changed');
      fs.closeSync(st.fd);
      fs.rmSync(st.file);
      return r;
    },
  });
  const one = Buffer.alloc(1);
  row({
    key: 'h', section: 'mechanisms', name: '(h) 1-byte pwrite into written blocks + fdatasync', callers: 1,
    async measure() {
      const st = zeroedFile('one-byte');
      globalThis.gc?.();
      const r = syncLoop((s) => {
        if (s >= FILE_BYTES) throw new Error(`(h): the file is full: raise BENCH_DURABLE_FILE_MIB (now ${FILE_BYTES / MiB})`);
        one[0] = (s % 255) + 1;
        fs.writeSync(st.fd, one, 0, 1, s);
        fs.fdatasyncSync(st.fd);
      });
      fs.closeSync(st.fd);
      // Byte i holds (i mod 255) + 1, and nothing was written past the last one.
      const bytes = fs.readFileSync(st.file);
      for (let i = 0; i < r.total; i++) if (bytes[i] !== (i % 255) + 1) throw new Error(`(h): byte ${i} is not the byte written`);
      if (bytes.length !== FILE_BYTES || (r.total < FILE_BYTES && bytes[r.total] !== 0)) throw new Error('(h): more bytes than written');
      fs.rmSync(st.file);
      return r;
    },
  });
}

// The library: a Manager per run with its defaults (growth ahead, populate, a flush timer of 1 s)
// in a new directory; files grow in 1 MiB steps (sizeUpper raised to 1 GiB).
const GEOMETRY = Geometry.create().with(0, GiB, 0);
async function openAof() {
  const d = freshPath('aof');
  fs.mkdirSync(d);
  const m = new Manager(d);
  const aof = m.open('bench.aof', GEOMETRY);
  return { d, m, aof };
}
async function closeAof(what, { d, m, aof }, n) {
  if (aof.size !== n * RECORD) throw new Error(`${what}: aof.size ${aof.size}, expected ${n * RECORD}`);
  await m.close();
  checkFile(what, path.join(d, 'bench.aof'), n);
  fs.rmSync(d, { recursive: true, force: true });
}
async function openLog(options = {}) {
  const d = freshPath('log');
  return { d, log: await Log.open(d, options) };
}
async function closeLog(what, { d, log }, n) {
  if (log.lastId !== n) throw new Error(`${what}: lastId ${log.lastId}, expected ${n}`);
  await log.close();
  // Reopened: exactly n records, record i stamped i - 1.
  const again = await Log.open(d);
  let i = 0;
  for (const { id, data } of again.iterator()) {
    if (id !== i + 1 || data.length !== RECORD || data.readUInt32LE(0) !== i || data.compare(TEMPLATE, 8, RECORD, 8, RECORD) !== 0) {
      throw new Error(`${what}: record ${id} is not the record written`);
    }
    i++;
  }
  await again.close();
  if (i !== n) throw new Error(`${what}: ${i} records after reopening, expected ${n}`);
  fs.rmSync(d, { recursive: true, force: true });
}
const aofStats = (st) => libStats(() => st.m.stats());
const logStats = (st) => libStats(() => st.log.stats());
const baseStats = (st) => () => ({ flushes: st.g.flushes, flushNs: st.g.flushNs });
const IMPL = {
  aof: 'raw AOF: aof.write + await aof.sync()',
  log: 'record log: log.append + await log.sync()',
  aofYield: 'raw AOF, `await null` between write and sync',
  base: 'hand-written group commit (writev + fdatasync)',
  mapped: 'for comparison: hand-written over mmap + durableSync',
};

// Sections 2 and 3: one implementation at 1, 8, 64, 256 callers.
const group = { aof: new Map(), aofYield: new Map(), log: new Map(), base: new Map(), mapped: new Map() };
const levels = [1, ...CALLERS.filter((c) => c !== 1)];
for (const c of levels) {
  if (c === 1 ? !want('one') && !want('group') : !want('group')) continue;
  group.aof.set(c, asyncRow(`aof-${c}`, c === 1 ? 'one' : 'group', c === 1 ? 'aof.write(rec); await aof.sync()' : IMPL.aof, c,
    openAof, (st, rec) => {
      st.aof.write(rec);
      return st.aof.sync();
    }, closeAof, aofStats));
  group.log.set(c, asyncRow(`log-${c}`, c === 1 ? 'one' : 'group', c === 1 ? 'log.append(rec); await log.sync()' : IMPL.log, c,
    () => openLog(), (st, rec) => {
      st.log.append(rec);
      return st.log.sync();
    }, closeLog, logStats));
  if (want('group') && c !== 1) {
    // The raw AOF with one more microtask turn between the write and the request, as log.sync() has
    // (it awaits the segments being sealed first): see "callers/flush" in bench/README.md.
    group.aofYield.set(c, asyncRow(`aof-yield-${c}`, 'group', IMPL.aofYield, c, openAof, async (st, rec) => {
      st.aof.write(rec);
      await null;
      return st.aof.sync();
    }, closeAof, aofStats));
  }
  if (want('group')) {
    group.base.set(c, asyncRow(`base-${c}`, 'group', IMPL.base, c,
      () => {
        const f = emptyFile('group');
        return { ...f, g: new GroupCommitFile(f.fd) };
      }, (st, rec) => st.g.append(rec), (what, st, n) => {
        if (st.g.size !== n * RECORD) throw new Error(`${what}: ${st.g.size} bytes committed, expected ${n * RECORD}`);
        return closeFile(what, st, n);
      }, baseStats));
    group.mapped.set(c, asyncRow(`mapped-${c}`, 'group', IMPL.mapped, c,
      () => {
        const f = mmapFile('group-mapped', MAPPED_BYTES);
        return { ...f, g: new GroupCommitMapped(f) };
      }, (st, rec) => st.g.append(rec), (what, st, n) => {
        if (st.g.durable !== n * RECORD) throw new Error(`${what}: ${st.g.durable} bytes durable, expected ${n * RECORD}`);
        return closeMmap(what, st, n);
      }, baseStats));
  }
}
let aofSyncSync;
let logSyncTrue;
let peerFsync;
if (want('one')) {
  aofSyncSync = syncRow('aof-syncsync', 'one', 'aof.write(rec); aof.syncSync()', openAof, (st, s, rec) => {
    st.aof.write(rec);
    st.aof.syncSync();
  }, closeAof, aofStats);
  logSyncTrue = syncRow('log-synctrue', 'one', 'Log.open(dir, { sync: true }); log.append(rec)', () => openLog({ sync: true }), (st, s, rec) => {
    st.log.append(rec);
  }, closeLog, logStats);
  peerFsync = syncRow('peer-fsync', 'one', 'fs.writeSync(fd, rec) + fs.fsyncSync(fd)', () => emptyFile('append-fsync'), (st, s, rec) => {
    fs.writeSync(st.fd, rec);
    fs.fsyncSync(st.fd);
  }, closeFile);
}

// --- run -------------------------------------------------------------------------------------------

const results = new Map(rows.map((r) => [r, []]));
const t0all = now();
for (let round = 0; round < ROUNDS; round++) {
  // Rotated each round, so no row always follows the same one.
  const shift = Math.floor((round * rows.length) / ROUNDS);
  const order = [...rows.slice(shift), ...rows.slice(0, shift)];
  for (const r of order) {
    const m = await r.measure();
    results.get(r).push(m);
    if (VERBOSE) {
      out(`  round ${round + 1}: ${r.name}${r.callers > 1 ? `, ${r.callers} callers` : ''}: ${si(m.rate)}/s, p50 ${(m.p50 * 1e3).toFixed(0)} µs, ` +
        `p99 ${(m.p99 * 1e3).toFixed(0)} µs${m.flushes !== undefined ? `, ${m.flushes} flushes` : ''}, CPU ${(m.cpu * 100).toFixed(0)}%`);
    }
  }
}
const totalSeconds = (now() - t0all) / 1000;

/** Medians over the rounds of a row. */
function summary(r) {
  const runs = results.get(r);
  const rates = runs.map((x) => x.rate);
  const s = {
    rate: median(rates), min: Math.min(...rates), max: Math.max(...rates), rates,
    p50: median(runs.map((x) => x.p50)), p99: median(runs.map((x) => x.p99)), cpu: median(runs.map((x) => x.cpu)),
    records: runs.reduce((a, x) => a + x.records, 0),
  };
  if (runs[0].flushes !== undefined) {
    s.flushRate = median(runs.map((x) => x.flushes / x.seconds));
    s.perFlush = median(runs.map((x) => (x.flushes ? x.records / x.flushes : NaN)));
    s.flushUs = median(runs.map((x) => (x.flushes ? x.flushNs / x.flushes / 1e3 : NaN)));
  }
  return s;
}
const S = new Map(rows.map((r) => [r, summary(r)]));
const us = (ms) => (ms * 1e3 >= 100 ? (ms * 1e3).toFixed(0) : (ms * 1e3).toFixed(1));
const perAppendUs = (rate) => (1e6 / rate).toFixed(1);
const range = (s) => `${si(s.min)}..${si(s.max)}`.replace(/ /g, '');
const x = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '-');
const peer = S.get(peerFdatasync);
const byKey = (k) => rows.find((r) => r.key === k);
const sk = (k) => (byKey(k) ? S.get(byKey(k)) : undefined);

// 1. mechanisms
if (want('mechanisms')) {
  out();
  out('--- 1. mechanisms: one durable 100-byte append, one caller, a new file per run ---');
  out();
  const mech = rows.filter((r) => r.section === 'mechanisms');
  out(table(
    ['mechanism', 'appends/s', 'µs each', 'min..max /s', 'p50 µs', 'p99 µs', 'vs (f)', 'CPU'],
    mech.map((r) => {
      const s = S.get(r);
      return [r.name, si(s.rate), perAppendUs(s.rate), range(s), us(s.p50), us(s.p99), x(s.rate / peer.rate), `${(s.cpu * 100).toFixed(0)}%`];
    }),
  ));
  out();
  out(`appends/s: the median of ${ROUNDS} runs (min..max the spread); µs each = 1e6 ÷ appends/s; p50/p99: of every append of a run, median`);
  out('over the runs; vs (f): appends/s ÷ row (f)\'s; CPU: this process\'s user + system time ÷ wall time (thread pool included).');
  out(`(a)–(d'): a new file fallocated to ${FILE_BYTES / MiB} MiB (unwritten extents, as the library grows its files) and mapped shared through`);
  out('  the addon\'s Region; each append stores the record into the mapping at the next offset, then:');
  out('  (a) msync(MS_SYNC) of the pages holding the record: on Linux a data sync of that range (vfs_fsync_range, datasync) —');
  out('      the page is written back and the device flushed; metadata only if the write converted an unwritten extent;');
  out('  (b) fdatasync(fd): the same for the whole file (only this page is dirty);');
  out('  (c) msync + fsync: what sync() did before this change, two device flushes per append: a data sync, then an fsync that');
  out('      commits the inode when a store through the mapping moved its mtime (a write fault after writeback updates it, at the');
  out('      clock\'s tick, not at every store) and is otherwise a bare device flush like (g);');
  out(`  (d) setxattr(${SLOTS_ATTRIBUTE}, ${SLOTS_VALUE} bytes, a new value each time) + fsync: what sync() does now — the`);
  out('      page is written back and the attribute committed in the same journal transaction: one flush. The value is');
  out(`      what the addon stores once the file has had 2 flushes: a 4-byte header and 2 slots of ${SLOT_SIZE} bytes, small enough for`);
  out('      ext4 to keep inside a 256-byte inode (next to the name, ~96 bytes of room);');
  out(`  (d1) the same with ${FIRST_LAYOUT} bytes (3 slots of 48 bytes, the layout first tried): it needs an attribute block of its own,`);
  out('      which every journal commit then writes too;');
  out("  (d') the addon's region.durableSync: (d) as the library calls it (fgetxattr, merge of the new slot, CRC-32C of the new bytes");
  out('      and of the slot, fsetxattr, fsync), without the JS around it.');
  out(`(e): a file of ${FILE_BYTES / MiB} MiB of zeros written and fsynced beforehand (blocks allocated and written, size fixed); each append is a`);
  out('  pwrite of the record at the next offset + fdatasync: data write + device flush, nothing for the journal to commit.');
  out('(f): write(2) at the end of a new file + fdatasync: the file grows each time, so every fdatasync commits the size (and');
  out('  the block allocation) in the journal: data write + journal commit + flush. The peer of section 2.');
  out('(g): fdatasync of a file with nothing dirty: on ext4 it still flushes the device\'s write cache — the flush alone, the');
  out('  floor of anything durable here. (h): a 1-byte pwrite into written blocks + fdatasync: the least data write + the flush.');
  const g = sk('g');
  const h = sk('h');
  const d = sk('d');
  const d2 = sk('d2');
  const b = sk('b');
  const e = sk('e');
  const c = sk('c');
  const d1 = sk('d1');
  out();
  out('so, on this machine:');
  if (g) out(`  a device flush alone costs ${perAppendUs(g.rate)} µs (g); with the least data write ${h ? perAppendUs(h.rate) : '?'} µs (h): no durable append, of any kind, beats that.`);
  if (d && b) out(`  sync() now (d) ${perAppendUs(d.rate)} µs against fdatasync alone (b) ${perAppendUs(b.rate)} µs: the attribute costs ${(1e6 / d.rate - 1e6 / b.rate).toFixed(1)} µs per flush (a journal commit per flush).`);
  if (d && c) out(`  sync() before (c) ${perAppendUs(c.rate)} µs, now (d) ${perAppendUs(d.rate)} µs: now ÷ before = ${x(d.rate / c.rate)} in appends/s (a second flush traded for a journal commit of the attribute).`);
  if (d && d1) out(`  a one-slot value (d1) ${perAppendUs(d1.rate)} µs against three slots (d) ${perAppendUs(d.rate)} µs (${x(d1.rate / d.rate)}).`);
  if (d && d2) out(`  the addon's durableSync (d') ${perAppendUs(d2.rate)} µs against the bare calls (d) ${perAppendUs(d.rate)} µs: fgetxattr + CRCs + merge, ${(1e6 / d2.rate - 1e6 / d.rate).toFixed(1)} µs (within the noise when near 0).`);
  if (d && peer) out(`  the peer (f) ${perAppendUs(peer.rate)} µs; pwrite into written blocks (e) ${e ? perAppendUs(e.rate) : '?'} µs.`);
}

// 2. one caller
const oneRows = [group.aof.get(1), aofSyncSync, group.log.get(1), logSyncTrue, peerFdatasync, peerFsync].filter(Boolean);
if (want('one')) {
  out();
  out('--- 2. the library against its peers, one caller ---');
  out();
  out(table(
    ['row', 'appends/s', 'µs each', 'min..max /s', 'p50 µs', 'p99 µs', 'vs fs.writeSync+fdatasyncSync', 'flushes/s', 'flush µs', 'CPU'],
    oneRows.map((r) => {
      const s = S.get(r);
      return [r.name, si(s.rate), perAppendUs(s.rate), range(s), us(s.p50), us(s.p99), x(s.rate / peer.rate),
        s.flushRate !== undefined ? si(s.flushRate) : '-', s.flushUs !== undefined ? s.flushUs.toFixed(0) : '-', `${(s.cpu * 100).toFixed(0)}%`];
    }),
  ));
  out();
  out('Each row appends the stamped 100-byte record and makes it durable before the next (one caller: an async function awaiting');
  out('each sync, or a plain loop for the synchronous ones). The library rows: a new Manager (its defaults) and file per run, the file');
  out('growing in 1 MiB steps (fallocate ahead of the writer); the log: Log.open of a new directory (64 MiB segments, no roll in a');
  out('run). flushes/s and flush µs: the Manager\'s stats (flushes: device flushes done, each timed from its start to its end,');
  out('the thread-pool hop of the async ones included). The peers write to the end of a new file.');
}

// 3. group commit
if (want('group')) {
  out();
  out('--- 3. group commit: concurrent callers in one process, each looping: append its record, await durability ---');
  out();
  const lines = [];
  for (const [kind, m] of Object.entries(group)) {
    for (const [c, r] of m) {
      const s = S.get(r);
      const one = S.get((m.get(1) ?? group.aof.get(1)));
      const base = S.get(group.base.get(c));
      lines.push([IMPL[kind], String(c), si(s.rate), range(s), x(s.rate / one.rate), x(s.rate / base.rate),
        si(s.flushRate), s.perFlush.toFixed(1), s.flushUs.toFixed(0), us(s.p50), us(s.p99), `${(s.cpu * 100).toFixed(0)}%`, (s.cpu / s.rate * 1e6).toFixed(1)]);
    }
  }
  out(table(['implementation', 'callers', 'appends/s', 'min..max /s', 'vs 1 caller', 'vs hand-written', 'flushes/s', 'callers/flush', 'flush µs', 'p50 µs', 'p99 µs', 'CPU', 'CPU µs/append'], lines));
  out();
  out('Every caller is an async function in this process: write its record (stamped with the file-wide sequence number at the');
  out('write), await durability, repeat; no caller starts an append after the timed window. appends/s: acknowledged appends ÷ the');
  out('time from the window\'s start until the last caller\'s last answer (median of the runs). vs 1 caller: ÷ the same implementation');
  out('with one caller (the first row of each); vs hand-written: ÷ the baseline at the same number of callers. flushes/s: device');
  out('flushes (library: Manager stats; baseline: its fdatasyncs); callers/flush = appends ÷ flushes; flush µs: the average');
  out('flush, from its start to its end (the baseline: writev + fdatasync). p50/p99: one caller\'s append-to-acknowledgment time.');
  out('The hand-written baseline: callers push { record, resolve } to a queue; one committer loop takes everything queued, writes');
  out('it with one fs.writev at the file\'s end and one fs.fdatasync (both async), resolves them, then takes what queued meanwhile.');
  out('The library: one flush in flight; requests that arrive while it runs wait together for the next (src/durability.ts).');
  out('"for comparison": the same committer over the library\'s mechanism instead of writev + fdatasync: callers store their record');
  out(`  into a file fallocated to ${MAPPED_BYTES / MiB} MiB and mapped through the addon's Region; one region.durableSyncAsync per batch`);
  out('  (the call behind aof.sync()). It separates what the mechanism costs from what the library\'s code around it costs.');
  out('"`await null` between write and sync": the raw AOF rows with one more microtask turn between aof.write and aof.sync(),');
  out('  as log.sync() has (it awaits the segments being sealed before it asks the active one); vs 1 caller: ÷ the raw AOF\'s.');
  out('  A flush starts at the first request and the next one as soon as it ends, with what has been written by then: callers');
  out('  resumed in the same turn that write and request one after the other are split over two flushes (the first caller\'s');
  out('  request starts a flush for less than all of them), so each flush carries about half the callers. With one more turn');
  out('  every resumed caller writes before any of them requests, and one flush covers them all (callers/flush).');
  out('CPU: this process\'s user + system time ÷ wall time (100% = one of the 2 vCPUs); CPU µs/append = that time ÷ appends.');
}

// --- targets ----------------------------------------------------------------------------------------

out();
out(`targets (load average now: ${loadAverage()}; the whole run took ${totalSeconds.toFixed(0)} s):`);
const verdict = (ok) => (ok ? 'MET' : 'NOT MET');
const paired = (a, b) => results.get(a).map((r, i) => r.rate / results.get(b)[i].rate);
const pairedText = (a, b) => paired(a, b).map((v) => v.toFixed(2)).join(', ');
if (want('one')) {
  out(`  one caller ≥ ${TARGET_ONE.toFixed(1)}× fs.writeSync + fs.fdatasyncSync (${si(peer.rate)}/s, ${perAppendUs(peer.rate)} µs each):`);
  for (const r of [group.aof.get(1), aofSyncSync, group.log.get(1), logSyncTrue].filter(Boolean)) {
    const s = S.get(r);
    const ratio = s.rate / peer.rate;
    out(`    ${r.name}: ${si(s.rate)}/s = ${ratio.toFixed(2)}× ${verdict(ratio >= TARGET_ONE)} (per round: ${pairedText(r, peerFdatasync)})`);
  }
  const d = sk('d');
  const d2 = sk('d2');
  const l1 = S.get(group.aof.get(1));
  const l2 = aofSyncSync && S.get(aofSyncSync);
  const bits = [];
  if (d) bits.push(`the flush itself, setxattr + fsync (d), costs ${perAppendUs(d.rate)} µs against the peer's write + fdatasync ${perAppendUs(peer.rate)} µs`);
  if (d2 && l2) bits.push(`syncSync adds ${(1e6 / l2.rate - 1e6 / d2.rate).toFixed(1)} µs to the addon's durableSync (d') ${perAppendUs(d2.rate)} µs`);
  if (l1 && l2) bits.push(`await sync() adds ${(1e6 / l1.rate - 1e6 / l2.rate).toFixed(1)} µs to syncSync (the thread-pool hop and promise)`);
  if (bits.length) out(`    where the time goes: ${bits.join('; ')}`);
}
if (want('group')) {
  out(`  ${TARGET_GROUP_AT} concurrent callers ≥ ${TARGET_GROUP}× one caller:`);
  for (const [name, m] of [['raw AOF', group.aof], ['record log', group.log], ['hand-written (for scale)', group.base], ['hand-written over mmap + durableSync (for scale)', group.mapped]]) {
    const r = m.get(TARGET_GROUP_AT);
    if (!r) {
      out(`    ${name}: not run (BENCH_DURABLE_CALLERS has no ${TARGET_GROUP_AT})`);
      continue;
    }
    const ratio = S.get(r).rate / S.get(m.get(1)).rate;
    const scale = m === group.base || m === group.mapped;
    out(`    ${name}: ${si(S.get(r).rate)}/s vs ${si(S.get(m.get(1)).rate)}/s = ${ratio.toFixed(1)}×${scale ? '' : ` ${verdict(ratio >= TARGET_GROUP)}`}` +
      ` (${S.get(r).perFlush.toFixed(1)} callers per flush, ${si(S.get(r).flushRate)} flushes/s; per round: ${paired(r, m.get(1)).map((v) => v.toFixed(1)).join(', ')})`);
  }
  out(`  not below the hand-written group commit (≥ ${TARGET_VS_BASELINE.toFixed(1)}×) at ${CALLERS.join(' / ')} callers:`);
  for (const [name, m] of [['raw AOF', group.aof], ['record log', group.log]]) {
    for (const c of CALLERS) {
      const r = m.get(c);
      const b = group.base.get(c);
      const ratio = S.get(r).rate / S.get(b).rate;
      out(`    ${name}, ${c} callers: ${si(S.get(r).rate)}/s vs ${si(S.get(b).rate)}/s = ${ratio.toFixed(2)}× ${verdict(ratio >= TARGET_VS_BASELINE)}` +
        ` (flushes/s ${si(S.get(r).flushRate)} vs ${si(S.get(b).flushRate)}, flush ${S.get(r).flushUs.toFixed(0)} vs ${S.get(b).flushUs.toFixed(0)} µs,` +
        ` callers/flush ${S.get(r).perFlush.toFixed(1)} vs ${S.get(b).perFlush.toFixed(1)}, CPU ${(S.get(r).cpu * 100).toFixed(0)}% vs ${(S.get(b).cpu * 100).toFixed(0)}%;` +
        ` per round: ${pairedText(r, b)})`);
    }
  }
  const mapped = CALLERS.filter((c) => group.mapped.has(c)).map((c) => {
    const a = S.get(group.aof.get(c));
    const mm = S.get(group.mapped.get(c));
    return `${c}: ${si(mm.rate)}/s (raw AOF ${x(a.rate / mm.rate)} of it, flush ${mm.flushUs.toFixed(0)} µs)`;
  });
  if (mapped.length) out(`    the same committer over mmap + durableSync (the library's mechanism, no library code) makes ${mapped.join('; ')}`);
  const yielded = CALLERS.filter((c) => group.aofYield.has(c)).map((c) => {
    const a = S.get(group.aof.get(c));
    const y = S.get(group.aofYield.get(c));
    return `${c}: ${si(y.rate)}/s = ${x(y.rate / S.get(group.base.get(c)).rate)} of the hand-written, ${x(y.rate / a.rate)} of the plain loop, ${y.perFlush.toFixed(1)} callers/flush`;
  });
  if (yielded.length) out(`    the raw AOF with \`await null\` between write and sync (one flush for all callers) makes ${yielded.join('; ')}`);
}
out(`checked: every run's file (or reopened log) holds exactly the records written, in write order, each acknowledged (${[...S.values()].reduce((a, s) => a + s.records, 0).toLocaleString('en')} timed appends in all)`);
