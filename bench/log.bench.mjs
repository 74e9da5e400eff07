// The record log (src/log/), in one run: append throughput of 100-byte records against
// fs.writeSync of the same framed bytes (fresh and warm, one record and 100 records per call),
// `sync: true` per batch against fs.writeSync + fs.fsyncSync, iteration throughput (100-byte and
// 4 KiB records), get(id) random access, and the open time of a 1 GiB log (and the first read of
// each sealed segment; with .idx files deleted, when the log keeps them). See bench/README.md.
//
//   node bench/log.bench.mjs        (or `npm run bench -- log`, which builds dist/ first)
//
// Environment:
//   BENCH_LOG_RECORDS       records per run of the Log append rows             (default 4,000,000 = 480 MB of frames)
//   BENCH_PEER_RECORDS      records per run of fs.writeSync, 1 frame per call  (default BENCH_LOG_RECORDS / 10)
//   BENCH_REPEAT            timed runs per append and sync row                 (default 5)
//   BENCH_LOG_SYNC_BATCHES  batches of 100 records per run in the sync rows    (default 2,000)
//   BENCH_LOG_MIB           the log of 100-byte records: MiB of frames         (default 1024)
//   BENCH_LOG_4K_MIB        the log of 4 KiB records: MiB of frames            (default 512)
//   BENCH_LOG_GETS          random get(id) per run                             (default 1,000,000)
//   BENCH_LOG_GET_SECONDS   a get run stops after the 1,000 gets that pass it  (default 5)
//   BENCH_LOG_OPENS         opens per open-time row                            (default 5; 3 with first gets)
//   BENCH_LOG_ROUNDS        runs of the iteration and get rows                 (default 3)
//   BENCH_DIR               where the files go                                 (default os.tmpdir())
//   BENCH_VERBOSE=1         also print every run
//   BENCH_ONLY              sections to run: append, sync, read (iteration, get, open)
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  benchDir, describeFilesystem, envInt, environmentLines, gcCounter, loadAverage, median, prefault, primeMemory,
  requireV8Flags, seededRandom, si, table,
} from './lib.mjs';

// gc() between runs needs --expose-gc: re-run with the benchmark flags when missing.
const self = requireV8Flags(import.meta.url);

const { Log, Manager, Geometry, crc32c, MiB } = await import('../dist/index.js');
// The addon itself, for the Node-API floor row only (bench code may read dist's internals).
const { native } = await import('../dist/native.js');

const RECORD = 100;
const FRAME_HEADER = 16;
const frameSize = (length) => Math.ceil((FRAME_HEADER + length) / 8) * 8; // as src/log/frame.ts
const FRAME = frameSize(RECORD); // 120
const BATCH = 100;
const SEGMENT_64M = 64 * MiB;
const WARMUP_RECORDS = 200_000;
const TARGET_WARM_VS_AOF = 2; // Log.append(record), warm: ≤ 2× the time of aof.write of the frame
const TARGET_BATCH = 1.0; // Log.append([100]), warm: ≥ 1.0× fs.writeSync(100 frames) into a cached file
const TARGET_FRESH = 12; // Log.append(record), fresh: ≥ 12× fs.writeSync(frame) into a new file
const TARGET_ITERATE_100 = 2e9; // first pass over 100-byte records: ≥ 2 GB/s of payload
const TARGET_ITERATE_4K = 5e9; // first pass over 4 KiB records: ≥ 5 GB/s of payload
const TARGET_GET = 5e6; // warm get(id) at random: ≥ 5 M/s
const TARGET_FIRST_TOUCH = 0.005; // first get in a sealed 64 MiB segment: ≤ 5 ms
const TARGET_OPEN = 0.5; // ≤ 0.5 s for a 1 GiB log

const N_LOG = Math.ceil(envInt('BENCH_LOG_RECORDS', 4_000_000) / BATCH) * BATCH; // whole batches
const N_PEER = envInt('BENCH_PEER_RECORDS', Math.max(1, Math.floor(N_LOG / 10)));
const REPEAT = envInt('BENCH_REPEAT', 5);
const SYNC_BATCHES = envInt('BENCH_LOG_SYNC_BATCHES', 2_000);
const LOG_MIB = envInt('BENCH_LOG_MIB', 1024);
const LOG_4K_MIB = envInt('BENCH_LOG_4K_MIB', 512);
const GETS = envInt('BENCH_LOG_GETS', 1_000_000);
const OPENS = envInt('BENCH_LOG_OPENS', 5);
const ROUNDS = envInt('BENCH_LOG_ROUNDS', 3);
const GET_SECONDS = envInt('BENCH_LOG_GET_SECONDS', 5);
const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
const want = (section) => !ONLY || ONLY.has(section);

const out = (s = '') => process.stdout.write(s + '\n');
if (!process.env.BENCH_CHILD) {
  for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
}

const dir = benchDir(BASE_DIR, 'mmap-aof-log-bench-');
let seq = 0;
const freshDir = (stem) => path.join(dir, `${stem}-${seq++}`);
const mibUp = (n) => Math.ceil(n / MiB) * MiB;
const hr = () => process.hrtime.bigint();
const secondsSince = (t0) => Number(hr() - t0) / 1e9;
const faults = () => process.resourceUsage().minorPageFault;
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const fmtMs = (s) => (s * 1e3 >= 100 ? (s * 1e3).toFixed(0) : (s * 1e3).toFixed(1));
const verdict = (ok) => (ok ? 'MET' : 'NOT MET');
const targets = [];
const sectionStart = (title) => {
  out();
  out(`--- ${title} ---`);
  out(`load average before the section: ${loadAverage()}`);
  return hr();
};
const sectionEnd = (t0) => out(`(section took ${secondsSince(t0).toFixed(1)} s)`);
const gcs = gcCounter();

// The same 100 bytes as write.bench.mjs: 99 printable ASCII characters and a newline.
const PAYLOAD = Buffer.from('mmap-aof write benchmark record: 0123456789abcdefghijklmnopqrstuvwxyz'.padEnd(RECORD - 1, '.') + '\n', 'latin1');

/** A frame as src/log/frame.ts lays it out: crc32c (of bytes 4 … 16 + length), length, type 1, index, payload, zero padding. */
function buildFrame(payload, index) {
  const f = Buffer.alloc(frameSize(payload.length));
  f.writeUInt32LE(payload.length, 4);
  f.writeUInt32LE(1, 8);
  f.writeUInt32LE(index, 12);
  payload.copy(f, FRAME_HEADER);
  f.writeUInt32LE(crc32c(f.subarray(4, FRAME_HEADER + payload.length)), 0);
  return f;
}

// The peer writes this frame (index 0): built once, crc32c included. The log checks it below.
const FRAME0 = buildFrame(PAYLOAD, 0);
const FRAMES_BATCH = Buffer.concat(Array.from({ length: BATCH }, () => FRAME0));
const RECORDS_BATCH = Array.from({ length: BATCH }, () => PAYLOAD);
const SEG1 = '0000000000000001.seg'; // the first segment of a new log (segmentName(1) in src/log/segment.ts)

out();
out('record log: append, sync, iteration, get(id) and open time, in one run');
out(`files in ${describeFilesystem(dir)}`);
out(`code: ${codeVersion()}`);
out(`load average at the start: ${loadAverage()}`);

// The peer's frame is byte for byte what the log writes for the same record (untimed check).
{
  const d = freshDir('check');
  const log = await Log.open(d);
  log.append(PAYLOAD);
  await log.close();
  const fd = fs.openSync(path.join(d, SEG1), 'r');
  const first = Buffer.alloc(FRAME);
  fs.readSync(fd, first, 0, FRAME, 0);
  fs.closeSync(fd);
  fs.rmSync(d, { recursive: true });
  if (!first.equals(FRAME0)) throw new Error(`the peer's frame differs from the log's: ${first.toString('hex')} vs ${FRAME0.toString('hex')}`);
  out(`frame: ${RECORD}-byte record → ${FRAME}-byte frame; the fs.writeSync rows write the log's own frame of it, byte for byte (checked)`);
}

/** The commit dist/ was built from, and any uncommitted change to the library's sources. */
function codeVersion() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: path.dirname(self), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const changed = git('status', '--porcelain', '--', '../src', '../native').split('\n').filter(Boolean).map((l) => l.slice(3));
    return `git ${git('rev-parse', '--short', 'HEAD').trim()}${changed.length ? ` + uncommitted changes to ${changed.join(', ')}` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

// --- the timed loops: one function per kind so each stays monomorphic ------------------------------

function logOneLoop(log, record, n) {
  for (let i = 0; i < n; i++) log.append(record);
}

function logBatchLoop(log, records, n) {
  for (let i = 0; i < n; i += records.length) log.append(records);
}

function writeOneLoop(fd, frame, n) {
  let written = 0;
  for (let i = 0; i < n; i++) written += fs.writeSync(fd, frame);
  return written;
}

function writeBatchLoop(fd, frames, n, per) {
  let written = 0;
  for (let i = 0; i < n; i += per) written += fs.writeSync(fd, frames);
  return written;
}

function aofWriteLoop(aof, frame, n) {
  for (let i = 0; i < n; i++) aof.write(frame);
}

function logSyncLoop(log, records, batches) {
  for (let i = 0; i < batches; i++) log.append(records);
}

async function logAwaitSyncLoop(log, records, batches) {
  for (let i = 0; i < batches; i++) {
    log.append(records);
    await log.sync();
  }
}

function writeFsyncLoop(fd, frames, batches, fsync) {
  let written = 0;
  for (let i = 0; i < batches; i++) {
    written += fs.writeSync(fd, frames);
    if (fsync) fs.fsyncSync(fd);
  }
  return written;
}

function iterateLoop(log) {
  let records = 0;
  let bytes = 0;
  for (const { data } of log.iterator()) {
    records++;
    bytes += data.length;
  }
  return { records, bytes };
}

function getLoop(log, ids) {
  let sum = 0;
  for (let i = 0; i < ids.length; i++) sum += log.get(ids[i])[RECORD - 1];
  return sum;
}

// --- the machine's limits ----------------------------------------------------------------------------

let limitBinary;
/**
 * bench/limits/frame-loop.c run for `n` records of `len` bytes, warm and fresh: { warm, fresh }
 * with ns per record (putNs, checkNs, memsetNs); undefined without a C compiler.
 */
function cLimit(n, len) {
  if (limitBinary === undefined) {
    limitBinary = path.join(dir, 'frame-loop');
    const built = spawnSync('cc', ['-O2', '-msse4.2', '-o', limitBinary, path.join(path.dirname(self), 'limits', 'frame-loop.c')], { encoding: 'utf8' });
    if (built.status !== 0) limitBinary = null;
  }
  if (!limitBinary) return undefined;
  const run = (mode) => {
    const r = spawnSync(limitBinary, [String(n), String(len), mode], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`frame-loop ${mode} failed: ${r.stderr || r.status}`);
    return JSON.parse(r.stdout);
  };
  return { warm: run('warm'), fresh: run('fresh') };
}

/** bench/limits/frame-loop.c walk of a segment file: { frames, mapNs, walkNs, againNs, getNs }, or undefined. */
function cWalk(file, gets) {
  if (limitBinary === undefined) cLimit(1, 1);
  if (!limitBinary) return undefined;
  const r = spawnSync(limitBinary, ['walk', file, String(gets)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`frame-loop walk failed: ${r.stderr || r.status}`);
  return JSON.parse(r.stdout);
}

/** ns per call of the cheapest native call the log makes (crc32cRange of 0 bytes): the Node-API floor. */
function nodeApiFloor() {
  const b = Buffer.alloc(8);
  const times = [];
  for (let r = 0; r < 5; r++) {
    const t0 = hr();
    for (let i = 0; i < 1_000_000; i++) native.crc32cRange(b, 0, 0);
    times.push(Number(hr() - t0) / 1e6);
  }
  return median(times);
}

// --- logs and files for the append rows ------------------------------------------------------------

/** A segment size the run stays inside (no roll). */
const segmentFor = (n) => mibUp((n + 1) * FRAME + 8) + 8 * MiB;

async function freshLog(n, segmentSize) {
  primeMemory(Math.ceil(n * FRAME * 1.1));
  const d = freshDir('fresh');
  const log = await Log.open(d, { segmentSize });
  return { d, log, base: 0 };
}

const prefaultSeconds = [];

/**
 * A log whose first segment is pre-sized to hold every record and whose pages are all
 * write-faulted in the log's own mapping before timing: the timed loop neither grows nor faults.
 */
async function warmLog(n) {
  const d = freshDir('warm');
  fs.mkdirSync(d);
  // Pre-sized: the segment file is created ahead (same name the log gives its first segment)
  // large enough for every record, plus 4 MiB so the writer never reaches the grow-ahead threshold.
  const fileSize = mibUp((n + 1) * FRAME + 8) + 4 * MiB;
  const m = new Manager(d, { controlBlock: false, populate: false, flushIntervalMs: 0 });
  const aof = m.open(SEG1, Geometry.create().with(fileSize, fileSize, fileSize));
  aof.write(FRAME0); // record 1: the peer's frame, which the log's scan at open accepts
  await m.close();
  const log = await Log.open(d, { segmentSize: fileSize + 4 * MiB });
  const first = log.get(1);
  if (log.lastId !== 1 || !first.equals(PAYLOAD)) throw new Error('the pre-created segment did not open as one record');
  // Pre-touched: the record's view is a view of the segment's whole mapping; store a zero (over a
  // zero: the headroom is zero-filled) into every page after the first, so each page is allocated
  // in the page cache, mapped writable and dirty in the log's mapping.
  const t0 = hr();
  const mem = new Uint8Array(first.buffer, 0, Math.min(first.buffer.byteLength, fileSize));
  for (let i = 4096; i < mem.length; i += 4096) mem[i] = 0;
  prefaultSeconds.push(secondsSince(t0));
  return { d, log, base: 1 };
}

async function closeLog(what, { d, log, base }, n) {
  if (log.lastId !== base + n) throw new Error(`${what}: lastId ${log.lastId}, expected ${base + n}`);
  await log.close();
  fs.rmSync(d, { recursive: true, force: true });
}

/** The AOF under the log, for scale: a plain AOF pre-sized and pre-faulted (lib's prefault), written 120-byte frames. */
async function warmAof(n) {
  const d = freshDir('aof');
  const m = new Manager(d, { populate: false, flushIntervalMs: 0 });
  const size = mibUp(n * FRAME + 8) + 4 * MiB;
  const aof = m.open('frames.aof', Geometry.create().with(size, size * 2, size));
  prefault(aof);
  return { d, m, aof };
}

/** A plain AOF as a new log segment starts (Manager defaults, 1 MiB growing in 4 MiB steps), for scale on fresh pages. */
async function freshAof(n) {
  primeMemory(Math.ceil(n * FRAME * 1.1));
  const d = freshDir('aof-fresh');
  const m = new Manager(d, { flushIntervalMs: 0 });
  const aof = m.open('frames.aof', Geometry.create().with(MiB, mibUp(n * FRAME + 8) + 8 * MiB, 4 * MiB));
  return { d, m, aof };
}

async function closeAof(what, { d, m, aof }, n) {
  if (aof.size !== n * FRAME) throw new Error(`${what}: ${aof.size} bytes, expected ${n * FRAME}`);
  await m.close();
  fs.rmSync(d, { recursive: true, force: true });
}

function newFile() {
  const file = `${freshDir('writesync')}.dat`;
  return { file, fd: fs.openSync(file, 'w'), existing: 0 };
}

/** A file already holding n frames, in the page cache, reopened to be overwritten from its start. */
function cachedFile(n) {
  const file = `${freshDir('writesync-warm')}.dat`;
  let fd = fs.openSync(file, 'w');
  const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => FRAME0));
  for (let left = n * FRAME; left > 0; left -= Math.min(left, chunk.length)) fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
  fs.closeSync(fd);
  fd = fs.openSync(file, 'r+');
  return { file, fd, existing: n * FRAME };
}

function closeFile(what, { file, fd, written, existing }, n) {
  if (written !== n * FRAME) throw new Error(`${what}: wrote ${written} bytes, expected ${n * FRAME}`);
  const size = fs.fstatSync(fd).size;
  if (size !== Math.max(existing, n * FRAME)) throw new Error(`${what}: file has ${size} bytes, expected ${n * FRAME}`);
  fs.closeSync(fd);
  fs.rmSync(file);
}

// --- 1. append throughput --------------------------------------------------------------------------
// setup(n) → state (untimed); run(state, n) (timed); teardown(state, n) (untimed: checks, closes, deletes).

const appendCases = [
  {
    kind: 'log-fresh', name: 'Log.append(record), fresh segment', perCall: 1, n: N_LOG, peer: 'ws-fresh',
    setup: (n) => freshLog(n, segmentFor(n)),
    run: (s, n) => logOneLoop(s.log, PAYLOAD, n),
    teardown(s, n) { return closeLog(this.name, s, n); },
  },
  {
    kind: 'log-roll', name: 'Log.append(record), fresh, 64 MiB segments', perCall: 1, n: N_LOG, peer: 'ws-fresh',
    setup: (n) => freshLog(n, SEGMENT_64M),
    run: (s, n) => logOneLoop(s.log, PAYLOAD, n),
    teardown(s, n) { return closeLog(this.name, s, n); },
  },
  {
    kind: 'log-warm', name: 'Log.append(record), warm segment', perCall: 1, n: N_LOG, peer: 'ws-warm',
    setup: (n) => warmLog(n),
    run: (s, n) => logOneLoop(s.log, PAYLOAD, n),
    teardown(s, n) { return closeLog(this.name, s, n); },
  },
  {
    kind: 'log-batch-fresh', name: 'Log.append([100 records]), fresh segment', perCall: BATCH, n: N_LOG, peer: 'ws-batch-fresh',
    setup: (n) => freshLog(n, segmentFor(n)),
    run: (s, n) => logBatchLoop(s.log, RECORDS_BATCH, n),
    teardown(s, n) { return closeLog(this.name, s, n); },
  },
  {
    kind: 'log-batch-warm', name: 'Log.append([100 records]), warm segment', perCall: BATCH, n: N_LOG, peer: 'ws-batch-warm',
    setup: (n) => warmLog(n),
    run: (s, n) => logBatchLoop(s.log, RECORDS_BATCH, n),
    teardown(s, n) { return closeLog(this.name, s, n); },
  },
  {
    kind: 'aof-warm', name: 'for scale: aof.write(frame), warm AOF (no log)', perCall: 1, n: N_LOG,
    setup: (n) => warmAof(n),
    run: (s, n) => aofWriteLoop(s.aof, FRAME0, n),
    teardown(s, n) { return closeAof(this.name, s, n); },
  },
  {
    kind: 'aof-fresh', name: 'for scale: aof.write(frame), fresh AOF (no log)', perCall: 1, n: N_LOG,
    setup: (n) => freshAof(n),
    run: (s, n) => aofWriteLoop(s.aof, FRAME0, n),
    teardown(s, n) { return closeAof(this.name, s, n); },
  },
  {
    kind: 'ws-fresh', name: 'fs.writeSync(frame), new file', perCall: 1, n: N_PEER,
    setup: () => newFile(),
    run(s, n) { s.written = writeOneLoop(s.fd, FRAME0, n); },
    teardown(s, n) { return closeFile(this.name, s, n); },
  },
  {
    kind: 'ws-warm', name: 'fs.writeSync(frame), overwrite of a cached file', perCall: 1, n: N_PEER,
    setup: (n) => cachedFile(n),
    run(s, n) { s.written = writeOneLoop(s.fd, FRAME0, n); },
    teardown(s, n) { return closeFile(this.name, s, n); },
  },
  {
    kind: 'ws-batch-fresh', name: 'fs.writeSync(100 frames), new file', perCall: BATCH, n: N_LOG,
    setup: () => newFile(),
    run(s, n) { s.written = writeBatchLoop(s.fd, FRAMES_BATCH, n, BATCH); },
    teardown(s, n) { return closeFile(this.name, s, n); },
  },
  {
    kind: 'ws-batch-warm', name: 'fs.writeSync(100 frames), overwrite of a cached file', perCall: BATCH, n: N_LOG,
    setup: (n) => cachedFile(n),
    run(s, n) { s.written = writeBatchLoop(s.fd, FRAMES_BATCH, n, BATCH); },
    teardown(s, n) { return closeFile(this.name, s, n); },
  },
];

async function measure(c, n) {
  const state = await c.setup(n);
  gc();
  const f0 = faults();
  const t0 = hr();
  await c.run(state, n);
  const seconds = secondsSince(t0);
  const pageFaults = faults() - f0;
  await c.teardown(state, n);
  return { seconds, faults: pageFaults };
}

/** Warm-up (every loop once, small), then REPEAT rounds of every row, interleaved. */
async function measureAll(cases, repeat, warmup) {
  for (const c of cases) await measure(c, Math.min(c.n, warmup));
  prefaultSeconds.length = 0;
  const results = new Map(cases.map((c) => [c, []]));
  for (let round = 0; round < repeat; round++) {
    for (const c of cases) {
      const r = await measure(c, c.n);
      results.get(c).push(r);
      if (VERBOSE) out(`  round ${round + 1}: ${c.name}: ${r.seconds.toFixed(3)} s, ${si(c.n / r.seconds)} records/s, ${r.faults} page faults`);
    }
  }
  return new Map(cases.map((c) => {
    const runs = results.get(c);
    const rates = runs.map((r) => c.n / r.seconds);
    const rate = median(rates);
    const mid = runs.reduce((a, b) => (Math.abs(c.n / b.seconds - rate) < Math.abs(c.n / a.seconds - rate) ? b : a));
    return [c.kind, { c, rate, seconds: mid.seconds, faults: mid.faults, min: Math.min(...rates), max: Math.max(...rates) }];
  }));
}

if (want('append')) {
  const t0 = sectionStart('1. append throughput, 100-byte records (120-byte frames)');
  out(`records per run: ${N_LOG.toLocaleString('en')} for the Log rows and the batched fs.writeSync rows, ` +
    `${N_PEER.toLocaleString('en')} for fs.writeSync of one frame per call; ${REPEAT} timed runs per row, interleaved`);
  const s = await measureAll(appendCases, REPEAT, WARMUP_RECORDS);
  const base = s.get('ws-fresh').rate;
  out();
  out(table(
    ['row', 'records/call', 'records', 'seconds', 'records/s', 'MB/s', 'vs fs.writeSync(frame), new file', 'vs its peer', 'min..max records/s', 'page faults'],
    [...s.values()].map((x) => [
      x.c.name,
      String(x.c.perCall),
      x.c.n.toLocaleString('en'),
      x.seconds.toFixed(3),
      si(x.rate),
      (x.rate * FRAME / 1e6).toFixed(0),
      (x.rate / base).toFixed(1) + '×',
      x.c.peer ? (x.rate / s.get(x.c.peer).rate).toFixed(1) + '×' : '-',
      `${si(x.min)}..${si(x.max)}`.replace(/ /g, ''),
      x.faults.toLocaleString('en'),
    ]),
  ));
  out();
  out(`records/s: median of ${REPEAT} runs (min..max: the spread); seconds and page faults: the median run; MB/s: frame bytes (${FRAME} per record), 10^6.`);
  out('Only the append/write loop is timed; no row syncs. "its peer": the fs.writeSync row with the same records per call and the same');
  out('  page state (fresh: new file; warm: overwrite of a cached file); the 64 MiB-segments row is compared with the new file.');
  out('fresh segment: a new log, segmentSize large enough that the run stays in one segment (the segment starts at 1 MiB and');
  out('  grows in 4 MiB steps; in a loop that never yields every growth is blocking, and each starts a populate job on the thread pool);');
  out('  every run first touches and frees as much anonymous memory as it will write (see write.bench.mjs).');
  out('64 MiB segments: the default segmentSize; the run rolls to a new segment every 559,240 records. A roll opens the next segment');
  out('  inside the loop and starts sealing the full one (AOF finish: its msync runs on the thread pool while the loop goes on);');
  out('  the rest of the seal completes after the loop, untimed.');
  out('warm segment: the segment file is created ahead, pre-sized to hold every record, and every page is write-faulted in the log\'s');
  out(`  own mapping before timing (untimed: median ${median(prefaultSeconds.length ? prefaultSeconds : [0]).toFixed(3)} s): the timed loop neither grows nor faults the file.`);
  out('  The segment keeps each record\'s offset in chunks that double in size (never copied).');
  out('for scale: aof.write of the ready-made 120-byte frame into a plain AOF, pre-sized and pre-faulted (lib\'s prefault): the AOF');
  out('  append under the log, without framing, crc32c or index; fresh AOF: Manager defaults, 1 MiB growing in 4 MiB steps, as a');
  out('  new segment (its memory primed the same way).');
  out('fs.writeSync: the log\'s 120-byte frame of the same record (crc32c included, built once), one write(2) per frame or per 100 frames');
  out('  (12,000 bytes); "overwrite of a cached file": the file already holds as many frames, written just before and reopened r+,');
  out('  so write(2) neither allocates blocks nor extends the file.');
  out();
  const limit = [1, 2, 3].map(() => cLimit(N_LOG, RECORD)).filter(Boolean);
  const lim = (key, mode) => median(limit.map((l) => l[mode][key]));
  if (limit.length > 0) {
    out(`machine limit, the same run (bench/limits/frame-loop.c, cc -O2 -msse4.2, median of ${limit.length}): per 100-byte record, copy + header + ` +
      `crc32c ${lim('putNs', 'warm').toFixed(1)} ns into warm memory, ${lim('putNs', 'fresh').toFixed(0)} ns into fresh memory ` +
      `(a memset of the same fresh bytes: ${lim('memsetNs', 'fresh').toFixed(0)} ns; warm ${lim('memsetNs', 'warm').toFixed(1)} ns); ` +
      `the crc32c check of a frame ${lim('checkNs', 'warm').toFixed(1)} ns`);
  } else {
    out('machine limit: not measured (no C compiler: `cc` not found)');
  }
  const callFloor = nodeApiFloor();
  out(`Node-API floor, the same run: an empty native call (crc32cRange of 0 bytes) ${callFloor.toFixed(1)} ns`);
  out();
  const ns = (kind) => 1e9 / s.get(kind).rate;
  out('targets:');
  {
    const ratio = ns('log-warm') / ns('aof-warm');
    const line = `Log.append(record), warm: ${ns('log-warm').toFixed(0)} ns vs aof.write(frame) ${ns('aof-warm').toFixed(0)} ns = ` +
      `${ratio.toFixed(2)}× the time (≤ ${TARGET_WARM_VS_AOF}×) ${verdict(ratio <= TARGET_WARM_VS_AOF)}`;
    out(`  ${line}`);
    targets.push(line);
  }
  {
    const ratio = s.get('log-batch-warm').rate / s.get('ws-batch-warm').rate;
    const line = `Log.append([100 records]), warm: ${si(s.get('log-batch-warm').rate)}/s vs fs.writeSync(100 frames), cached file ` +
      `${si(s.get('ws-batch-warm').rate)}/s = ${ratio.toFixed(2)}× (≥ ${TARGET_BATCH.toFixed(1)}×) ${verdict(ratio >= TARGET_BATCH)}`;
    out(`  ${line}`);
    targets.push(line);
  }
  for (const [kind, label] of [['log-fresh', 'fresh'], ['log-roll', 'fresh, 64 MiB segments']]) {
    const ratio = s.get(kind).rate / s.get('ws-fresh').rate;
    const line = `Log.append(record), ${label}: ${si(s.get(kind).rate)}/s vs fs.writeSync(frame), new file ${si(s.get('ws-fresh').rate)}/s = ` +
      `${ratio.toFixed(1)}× (≥ ${TARGET_FRESH}×) ${verdict(ratio >= TARGET_FRESH)}`;
    out(`  ${line}`);
    targets.push(line);
  }
  if (limit.length > 0) {
    out(`  (limits: ${TARGET_FRESH}× fs.writeSync of a frame into a new file is ${(ns('ws-fresh') / TARGET_FRESH).toFixed(0)} ns a record; ` +
      `first-touch memory here costs ${lim('memsetNs', 'fresh').toFixed(0)} ns per 120 bytes, and aof.write of the frame on fresh pages ` +
      `${ns('aof-fresh').toFixed(0)} ns. Warm: the C loop's copy + crc32c ${lim('putNs', 'warm').toFixed(1)} ns plus one Node-API call ` +
      `${callFloor.toFixed(1)} ns against Log.append's ${ns('log-warm').toFixed(0)} ns)`);
  }
  sectionEnd(t0);
}

// --- 2. sync per batch --------------------------------------------------------------------------------

if (want('sync')) {
  const t0 = sectionStart('2. durability per batch: sync: true against none, batches of 100 records');
  const n = SYNC_BATCHES * BATCH;
  const segmentSize = segmentFor(n);
  const syncCases = [
    {
      kind: 'log-nosync', name: 'Log.append([100]), no sync', n,
      setup: () => freshLog(n, segmentSize),
      run: (s, k) => logSyncLoop(s.log, RECORDS_BATCH, k / BATCH),
      teardown(s, k) { return closeLog(this.name, s, k); },
    },
    {
      kind: 'log-sync', name: 'Log.append([100]), sync: true', n,
      async setup() {
        const d = freshDir('sync');
        return { d, log: await Log.open(d, { segmentSize, sync: true }), base: 0 };
      },
      run: (s, k) => logSyncLoop(s.log, RECORDS_BATCH, k / BATCH),
      teardown(s, k) { return closeLog(this.name, s, k); },
    },
    {
      kind: 'log-await', name: 'Log.append([100]) + await log.sync()', n,
      async setup() {
        const d = freshDir('await');
        return { d, log: await Log.open(d, { segmentSize }), base: 0 };
      },
      run: (s, k) => logAwaitSyncLoop(s.log, RECORDS_BATCH, k / BATCH),
      teardown(s, k) { return closeLog(this.name, s, k); },
    },
    {
      kind: 'ws-nosync', name: 'fs.writeSync(100 frames), no fsync', n,
      setup: () => newFile(),
      run(s, k) { s.written = writeFsyncLoop(s.fd, FRAMES_BATCH, k / BATCH, false); },
      teardown(s, k) { return closeFile(this.name, s, k); },
    },
    {
      kind: 'ws-fsync', name: 'fs.writeSync(100 frames) + fs.fsyncSync', n,
      setup: () => newFile(),
      run(s, k) { s.written = writeFsyncLoop(s.fd, FRAMES_BATCH, k / BATCH, true); },
      teardown(s, k) { return closeFile(this.name, s, k); },
    },
  ];
  out(`${SYNC_BATCHES.toLocaleString('en')} batches of ${BATCH} records per run (${(n * FRAME / 1e6).toFixed(0)} MB of frames), a new log or file per run; ${REPEAT} timed runs per row, interleaved`);
  const s = await measureAll(syncCases, REPEAT, 100 * BATCH);
  const nosync = { log: s.get('log-nosync').rate, ws: s.get('ws-nosync').rate };
  const fsyncRate = s.get('ws-fsync').rate;
  out();
  out(table(
    ['row', 'batches', 'seconds', 'records/s', 'batches/s', 'µs per batch', 'vs no sync (same side)', 'vs fs.writeSync + fsyncSync', 'min..max records/s'],
    [...s.values()].map((x) => [
      x.c.name,
      (x.c.n / BATCH).toLocaleString('en'),
      x.seconds.toFixed(3),
      si(x.rate),
      si(x.rate / BATCH),
      (BATCH / x.rate * 1e6).toFixed(1),
      (x.rate / (x.c.kind.startsWith('log') ? nosync.log : nosync.ws)).toFixed(3) + '×',
      (x.rate / fsyncRate).toFixed(2) + '×',
      `${si(x.min)}..${si(x.max)}`.replace(/ /g, ''),
    ]),
  ));
  out();
  out('sync: true: every append is durable before it returns (one durable flush, an fsync of the segment with its durable slot, on the calling thread).');
  out('await log.sync(): the same durability per batch, the same flush on the thread pool, awaited before the next batch.');
  out('fs.writeSync + fs.fsyncSync: one write(2) of the 100 frames (12,000 bytes) and one fsync(2) per batch, a new file.');
  out(`records/s: median of ${REPEAT} runs; a batch is ${BATCH} records.`);
  const ratio = s.get('log-sync').rate / nosync.log;
  out(`sync: true / none: ${ratio.toFixed(4)}× (${si(s.get('log-sync').rate)} vs ${si(nosync.log)} records/s); ` +
    `sync: true / fs.writeSync + fs.fsyncSync: ${(s.get('log-sync').rate / fsyncRate).toFixed(2)}×`);
  sectionEnd(t0);
}

// --- 3–5. iteration, get(id), open time ---------------------------------------------------------

/**
 * Builds a log of `recordSize`-byte records in 64 MiB segments, ≥ `mib` MiB of frames; each record
 * starts with its id (f64). `fullActive`: as many records as make the last (active) segment one
 * record short of rolling, the most an open has to scan.
 */
async function buildLog(d, recordSize, mib, fullActive = false) {
  const perSegment = Math.floor((SEGMENT_64M - 8) / frameSize(recordSize)); // the log rolls past segmentSize − 8
  const count = fullActive
    ? Math.ceil((mib * MiB) / (perSegment * frameSize(recordSize))) * perSegment - 1
    : Math.ceil((mib * MiB) / frameSize(recordSize));
  const perCall = Math.max(1, Math.min(1000, Math.floor(MiB / recordSize)));
  const slab = Buffer.alloc(perCall * recordSize, 0x2e);
  const records = Array.from({ length: perCall }, (_, i) => slab.subarray(i * recordSize, (i + 1) * recordSize));
  const t0 = hr();
  const log = await Log.open(d, { segmentSize: SEGMENT_64M });
  let id = 1;
  while (id <= count) {
    const k = Math.min(perCall, count - id + 1);
    for (let i = 0; i < k; i++) slab.writeDoubleLE(id + i, i * recordSize);
    log.append(k === perCall ? records : records.slice(0, k));
    id += k;
  }
  if (log.lastId !== count) throw new Error(`built ${log.lastId} records, expected ${count}`);
  await log.close();
  const seconds = secondsSince(t0);
  const files = fs.readdirSync(d);
  const segments = files.filter((f) => f.endsWith('.seg')).sort();
  const bytes = segments.reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0);
  const activeRecords = count - Number(segments.at(-1).slice(0, 16)) + 1;
  out(`built a log of ${count.toLocaleString('en')} records of ${recordSize} bytes (${frameSize(recordSize)}-byte frames, ` +
    `${(count * frameSize(recordSize) / 2 ** 30).toFixed(3)} GiB of frames) in ${segments.length} segments of 64 MiB ` +
    `(${perSegment.toLocaleString('en')} records each; the last, active one holds ${activeRecords.toLocaleString('en')}): ` +
    `${(bytes / 2 ** 30).toFixed(3)} GiB on disk, ${files.filter((f) => f.endsWith('.idx')).length} .idx files; ` +
    `appends of ${perCall} records, closed cleanly (${seconds.toFixed(1)} s, untimed)`);
  return { count, recordSize, segments, activeRecords };
}

/**
 * Runs `fn` timed, after a forced GC, counting page faults and V8 collections during it (the
 * observer's entries arrive asynchronously: a tick passes before counting stops).
 */
async function measured(fn) {
  gc();
  await tick();
  gcs.on = true;
  gcs.count = 0;
  const f0 = faults();
  const t0 = hr();
  const result = fn(t0);
  const seconds = secondsSince(t0);
  const pageFaults = faults() - f0;
  await tick();
  gcs.on = false;
  return { result, seconds, faults: pageFaults, gcs: gcs.count };
}

/** Opens the log, iterates it twice (timed), optionally runs get(ids) after that, closes. */
async function iterateRun(d, built, ids) {
  const log = await Log.open(d);
  const passes = [];
  for (let pass = 0; pass < 2; pass++) {
    const { result: r, seconds, faults: pageFaults, gcs: collections } = await measured(() => iterateLoop(log));
    if (r.records !== built.count || r.bytes !== built.count * built.recordSize) {
      throw new Error(`iteration saw ${r.records} records / ${r.bytes} bytes, expected ${built.count}`);
    }
    passes.push({ seconds, faults: pageFaults, gcs: collections });
  }
  let afterIteration;
  if (ids) afterIteration = await timeGets(log, ids);
  await log.close();
  return { passes, afterIteration };
}

/** get(id) of `ids` in order, in chunks of 1,000, stopping after the chunk that passes GET_SECONDS. */
async function timeGets(log, ids) {
  const { result: done, seconds, faults: pageFaults, gcs: collections } = await measured((t0) => {
    let n = 0;
    while (n < ids.length) {
      const k = Math.min(1000, ids.length - n);
      getLoop(log, ids.subarray(n, n + k));
      n += k;
      if (secondsSince(t0) > GET_SECONDS) break;
    }
    return n;
  });
  // Spot checks (untimed): each record starts with its id.
  for (let i = 0; i < done; i += Math.max(1, done >> 6)) {
    if (log.get(ids[i]).readDoubleLE(0) !== ids[i]) throw new Error(`get(${ids[i]}) returned another record`);
  }
  return { seconds, faults: pageFaults, gcs: collections, done };
}

const iterateRows = [];
const summarize = (runs) => {
  const rates = runs.map((r) => 1 / r.seconds);
  const m = median(rates);
  const mid = runs.reduce((a, b) => (Math.abs(1 / b.seconds - m) < Math.abs(1 / a.seconds - m) ? b : a));
  return { seconds: 1 / m, min: Math.min(...runs.map((r) => r.seconds)), max: Math.max(...runs.map((r) => r.seconds)), faults: mid.faults, gcs: mid.gcs };
};

async function iterateSection(built, d, ids) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) {
    const x = await iterateRun(d, built, ids);
    runs.push(x);
    if (VERBOSE) out(`  iteration run ${r + 1}, ${built.recordSize}-byte records: first pass ${x.passes[0].seconds.toFixed(3)} s, second ${x.passes[1].seconds.toFixed(3)} s`);
  }
  const label = built.recordSize === RECORD ? '100-byte records' : `${built.recordSize / 1024} KiB records`;
  iterateRows.push({ name: `${label}, first pass after open`, built, ...summarize(runs.map((x) => x.passes[0])) });
  iterateRows.push({ name: `${label}, second pass (frames already checked)`, built, ...summarize(runs.map((x) => x.passes[1])) });
  return runs;
}

function printIterate() {
  out();
  out(table(
    ['row', 'records', 'GB payload', 'seconds', 'records/s', 'GB/s payload', 'GB/s frames', 'seconds min..max', 'page faults', 'GCs'],
    iterateRows.map((x) => {
      const payload = x.built.count * x.built.recordSize;
      const frames = x.built.count * frameSize(x.built.recordSize);
      return [
        x.name,
        x.built.count.toLocaleString('en'),
        (payload / 1e9).toFixed(3),
        x.seconds.toFixed(3),
        si(x.built.count / x.seconds),
        (payload / x.seconds / 1e9).toFixed(2),
        (frames / x.seconds / 1e9).toFixed(2),
        `${x.min.toFixed(3)}..${x.max.toFixed(3)}`,
        x.faults.toLocaleString('en'),
        String(x.gcs),
      ];
    }),
  ));
  out();
  out(`for (const { data } of log.iterator()) { records++; bytes += data.length }; ${ROUNDS} runs, each a new Log.open (untimed) and two`);
  out('  passes; seconds: the median run; GB = 10^9 bytes. The first pass opens every sealed segment and loads its index, and');
  out('  checks each frame\'s crc32c as it first reads it (natively, in runs); the second pass reads frames already checked.');
  out('  Page cache warm (the log was just written): this is not a cold read from disk.');
  out('targets: the first pass, 100-byte records ≥ 2 GB/s of payload, 4 KiB records ≥ 5 GB/s');
  for (const x of iterateRows) {
    if (!x.name.includes('first pass')) continue;
    const goal = x.built.recordSize >= 4096 ? TARGET_ITERATE_4K : TARGET_ITERATE_100;
    const payload = x.built.count * x.built.recordSize / x.seconds;
    const line = `iteration, ${x.name}: ${(payload / 1e9).toFixed(2)} GB/s of payload (≥ ${goal / 1e9}) ${verdict(payload >= goal)}`;
    out(`  ${line}`);
    targets.push(line);
  }
}

const range = (xs) => `${fmtMs(Math.min(...xs))}..${fmtMs(Math.max(...xs))}`;

if (want('read')) {
  const t0 = sectionStart(`3. iteration, 4 KiB records (${LOG_4K_MIB} MiB of frames)`);
  {
    const d = freshDir('log4k');
    const built = await buildLog(d, 4096, LOG_4K_MIB);
    await iterateSection(built, d, undefined);
    fs.rmSync(d, { recursive: true, force: true });
  }
  sectionEnd(t0);

  const t1 = sectionStart(`3–5. a log of 100-byte records (${LOG_MIB} MiB of frames): iteration, get(id), open time`);
  const d = freshDir('log100');
  const built = await buildLog(d, RECORD, LOG_MIB, true);
  const rnd = seededRandom(0x5eed);
  const ids = new Float64Array(GETS);
  for (let i = 0; i < GETS; i++) ids[i] = 1 + Math.floor(rnd() * built.count);
  const segmentFirstIds = built.segments.map((f) => Number(f.slice(0, 16)));
  const sealed = segmentFirstIds.slice(0, -1); // the last segment is the active one at open

  // 3. iteration (and 4c: get after a full iteration, on the same open log)
  const iterRuns = await iterateSection(built, d, ids);
  printIterate();

  // 4. get(id)
  out();
  out(`get(id): ${GETS.toLocaleString('en')} ids drawn uniformly from 1…${built.count.toLocaleString('en')} by a seeded PRNG (mulberry32, seed 0x5eed), the same ids in every row`);
  const getRuns = [];
  for (let r = 0; r < ROUNDS; r++) {
    const log = await Log.open(d);
    const first = await timeGets(log, ids);
    const warm = await timeGets(log, ids);
    await log.close();
    getRuns.push({ first, warm });
    if (VERBOSE) out(`  get run ${r + 1}: first touch ${first.done} in ${first.seconds.toFixed(3)} s, warm ${warm.done} in ${warm.seconds.toFixed(3)} s`);
  }
  const getRows = [
    ['first touch: a freshly opened log (sealed segments load on first use)', getRuns.map((x) => x.first)],
    ['warm: the same ids again', getRuns.map((x) => x.warm)],
    ['warm, after a full iteration of the log', iterRuns.map((x) => x.afterIteration)],
  ];
  out();
  out(table(
    ['row', 'gets', 'seconds', 'gets/s', 'ns per get', 'min..max gets/s', 'page faults', 'GCs'],
    getRows.map(([name, runs]) => {
      const rates = runs.map((r) => r.done / r.seconds);
      const rate = median(rates);
      const mid = runs.reduce((a, b) => (Math.abs(b.done / b.seconds - rate) < Math.abs(a.done / a.seconds - rate) ? b : a));
      return [name, mid.done.toLocaleString('en'), mid.seconds.toFixed(3), si(rate), (1e9 / rate).toFixed(0),
        `${si(Math.min(...rates))}..${si(Math.max(...rates))}`.replace(/ /g, ''), mid.faults.toLocaleString('en'), String(mid.gcs)];
    }),
  ));
  out();
  out(`getLoop: sum += log.get(id)[99] for each id; ${ROUNDS} runs (a new Log.open each, untimed); gets/s: the median run's.`);
  out(`  A run stops early once it has taken more than ${GET_SECONDS} s (BENCH_LOG_GET_SECONDS): the gets column says how many it did.`);
  out(`  The first-touch row includes opening all ${sealed.length} sealed segments (and loading their indexes) and mapping their pages`);
  out('  (page cache warm). The last row runs on the log the iteration rows just read through, every frame already checked.');
  {
    const runs = getRuns.map((x) => x.warm);
    const rate = median(runs.map((r) => r.done / r.seconds));
    const line = `warm get(id) at random: ${si(rate)}/s (≥ ${si(TARGET_GET)}/s) ${verdict(rate >= TARGET_GET)}`;
    out(`target: ${line}`);
    targets.push(line);
  }

  // 5. open time
  // Whether this version keeps a sealed segment's index in a .idx file next to it (a cache): the
  // rows with the .idx files deleted only exist when it does.
  const idxFiles = () => fs.readdirSync(d).filter((f) => f.endsWith('.idx'));
  const hasIdx = idxFiles().length > 0;
  /** `rounds` × (open, then the first get in every sealed segment if `gets`, then close), all timed apart. */
  async function openRuns(rounds, gets, before = () => {}) {
    const r = { opens: [], closes: [], firstGets: [], allSealed: [] };
    for (let i = 0; i < rounds; i++) {
      before();
      const ta = hr();
      const log = await Log.open(d);
      r.opens.push(secondsSince(ta));
      if (log.lastId !== built.count) throw new Error(`reopened with lastId ${log.lastId}`);
      if (gets) {
        const tAll = hr();
        for (const id of sealed) {
          const tg = hr();
          log.get(id);
          r.firstGets.push(secondsSince(tg));
        }
        r.allSealed.push(secondsSince(tAll));
      }
      const tc = hr();
      await log.close();
      r.closes.push(secondsSince(tc));
    }
    return r;
  }
  const plain = await openRuns(OPENS, false);
  const withGets = await openRuns(Math.max(1, Math.min(3, OPENS)), true);
  const noIdx = hasIdx
    ? await openRuns(Math.max(1, Math.min(3, OPENS)), true, () => { for (const f of idxFiles()) fs.rmSync(path.join(d, f)); })
    : undefined;
  if (noIdx && idxFiles().length !== sealed.length) throw new Error(`${idxFiles().length} .idx files rebuilt, expected ${sealed.length}`);
  const onDisk = built.segments.reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0);
  const firstGetWhat = hasIdx ? 'open it + read its .idx' : 'open it + build its index';
  out(`open time: Log.open of ${d.replace(dir, '<dir>')}, ${(onDisk / 2 ** 30).toFixed(3)} GiB in ${built.segments.length} segments of 64 MiB ` +
    `(${sealed.length} sealed + the active one), ${built.count.toLocaleString('en')} records, closed cleanly; ` +
    (hasIdx ? `${sealed.length} .idx files` : 'no .idx files (this version keeps no index on disk)'));
  const rows = [
    [`Log.open${hasIdx ? ', .idx files present' : ''}`, plain.opens],
    ['  close() after it', plain.closes],
    [`  first get in a sealed segment (${firstGetWhat}), per segment`, withGets.firstGets],
    [`  first get in each of the ${sealed.length} sealed segments, all`, withGets.allSealed],
  ];
  if (noIdx) {
    rows.push(
      ['Log.open after deleting every .idx file', noIdx.opens],
      ['  first get in a sealed segment (scan it + write its .idx), per segment', noIdx.firstGets],
      [`  first get in each of the ${sealed.length} sealed segments, all`, noIdx.allSealed],
      ['  close() after it', noIdx.closes],
    );
  }
  out(table(['what', 'samples', 'median ms', 'min..max ms'], rows.map(([what, xs]) => [what, String(xs.length), fmtMs(median(xs)), range(xs)])));
  out();
  out('Log.open lists the segments, checks that every one before the last is finished, opens the last (the active one) and');
  out(`  recovers it: here it holds ${built.activeRecords.toLocaleString('en')} records, a full segment, the most an open has to read. Sealed segments`);
  out('  are opened when a read first needs them (the first-get rows). Page cache warm (the log was just written): not a cold open.');
  out(`target: open of a 1 GiB log ≤ ${TARGET_OPEN} s`);
  for (const [label, secs] of [[hasIdx ? '.idx present' : 'Log.open', median(plain.opens)], ...(noIdx ? [['.idx deleted', median(noIdx.opens)]] : [])]) {
    const line = `${label}: median ${fmtMs(secs)} ms ${verdict(secs <= TARGET_OPEN)}`;
    out(`  ${line}`);
    targets.push(`open of a 1 GiB log ≤ ${TARGET_OPEN} s (kept from before), ${line}`);
  }
  {
    const per = median(withGets.firstGets);
    const line = `first get in a sealed 64 MiB segment (open it, build its index): ${fmtMs(per)} ms (≤ ${TARGET_FIRST_TOUCH * 1e3} ms) ${verdict(per <= TARGET_FIRST_TOUCH)}`;
    out(`target: ${line}`);
    targets.push(line);
  }
  {
    const w = cWalk(path.join(d, built.segments[0]), GETS);
    if (w) {
      out(`machine limit, the same run (bench/limits/frame-loop.c walk, a sealed segment of ${w.frames.toLocaleString('en')} frames): ` +
        `mmap + MAP_POPULATE ${fmtMs(w.mapNs / 1e9)} ms, the walk of its headers into an index the first time a process reads the pages ` +
        `${fmtMs(w.walkNs / 1e9)} ms, again ${fmtMs(w.againNs / 1e9)} ms; a random frame read through that index (independent reads, ` +
        `which the CPU overlaps) ${w.getNs.toFixed(1)} ns`);
    }
  }
  const last = noIdx ?? withGets;
  out(`  (and the first read of every sealed segment${noIdx ? ' with .idx deleted' : ''}: ${fmtMs(median(last.firstGets))} ms per 64 MiB segment, ` +
    `${fmtMs(median(last.allSealed))} ms for all ${sealed.length}; open + all of them: ${((median(last.opens) + median(last.allSealed)) * 1e3).toFixed(0)} ms)`);
  fs.rmSync(d, { recursive: true, force: true });
  sectionEnd(t1);
}

out();
out(`targets, this run (load average now: ${loadAverage()}):`);
for (const t of targets) out(`  ${t}`);
