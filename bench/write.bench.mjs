// Write throughput of 100-byte records: mmap-aof `aof.write` (fresh and warm pages) side by side
// with `fs.writeSync` and sonic-boom, in one run. See bench/README.md for what each row means.
//
//   node bench/write.bench.mjs      (or `npm run bench`, which builds dist/ first and runs every bench)
//
// Environment:
//   BENCH_RECORDS       records per run for the mmap-aof rows       (default 10,000,000 = 1 GB)
//   BENCH_PEER_RECORDS  records per run for fs.writeSync/sonic-boom (default BENCH_RECORDS / 10)
//   BENCH_REPEAT        timed runs per row; the median is reported  (default 5)
//   BENCH_DIR           where the files go                          (default os.tmpdir())
//   BENCH_VERBOSE=1     also print every run
//   BENCH_ONLY          comma-separated rows to keep: aof-fresh, aof-fresh-nopop, aof-warm, aof-dict, sonic, sonic4k
//                       (fs.writeSync, the baseline, always runs)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import SonicBoom from 'sonic-boom';
import { benchDir, describeFilesystem, envInt, environmentLines, hasFastProperties, median, requireV8Flags, si, table, V8_FLAGS } from './lib.mjs';

// gc() between runs and %HasFastProperties need V8 flags: re-run with them when missing.
const self = requireV8Flags(import.meta.url);

const { Manager, Geometry, MAX_FILE_SIZE, MiB, GiB } = await import('../dist/index.js');

const RECORD = 100;
const TARGET = 25; // mmap-aof write must be at least this many times fs.writeSync
const GROWTH_STEP = 64 * MiB;
const SIZE_UPPER = Math.min(4 * GiB, MAX_FILE_SIZE);
const WARMUP_RECORDS = 200_000;

const N_AOF = envInt('BENCH_RECORDS', 10_000_000);
const N_PEER = envInt('BENCH_PEER_RECORDS', Math.max(1, Math.floor(N_AOF / 10)));
const REPEAT = envInt('BENCH_REPEAT', 5);
const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
// Internal: the child process that measures AOFs in dictionary mode (see `aof-dict` below).
const DICT_CHILD = process.env.BENCH_WRITE_DICT_CHILD === '1';

if (N_AOF * RECORD + 8 > SIZE_UPPER) {
  throw new Error(`BENCH_RECORDS=${N_AOF} needs ${N_AOF * RECORD + 8} bytes, more than one AOF may hold here (${SIZE_UPPER})`);
}

// The same 100 bytes everywhere: 99 printable ASCII characters and a newline.
const LINE = 'mmap-aof write benchmark record: 0123456789abcdefghijklmnopqrstuvwxyz'.padEnd(RECORD - 1, '.') + '\n';
const BUF = Buffer.from(LINE, 'latin1');
if (BUF.length !== RECORD || LINE.length !== RECORD) throw new Error('record is not 100 bytes');

const out = DICT_CHILD ? () => {} : (s = '') => process.stdout.write(s + '\n');
if (!process.env.BENCH_CHILD && !DICT_CHILD) {
  for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
}

const dir = benchDir(BASE_DIR, 'mmap-aof-bench-');

// The default: populate-ahead, a thread-pool job faults each newly grown step in while the writer writes.
const manager = new Manager(dir);
// Without it, the writing thread takes every first-touch fault itself.
const managerNoPopulate = new Manager(dir, { populate: false });
let seq = 0;
const freshPath = (stem) => path.join(dir, `${stem}-${seq++}`);
const pageUp = (n) => Math.ceil(n / 4096) * 4096;

// Every AOF the main process opens stays referenced until exit. V8 finishes in-object slack tracking
// for the AOF class at its 7th construction; if all earlier AOFs were collected by then, every later
// AOF gets dictionary-mode properties and write() is ~4× slower (bench/micro-private-fields.mjs).
// Keeping them referenced makes the main rows measure the fast-properties AOF deterministically;
// the `aof-dict` row measures the other state, in a child process.
const pinned = [];

// --- the timed loops: one function per kind so each stays monomorphic -----------------------------

function aofLoop(aof, buf, n) {
  for (let i = 0; i < n; i++) aof.write(buf);
}

function writeSyncLoop(fd, buf, n) {
  let written = 0;
  for (let i = 0; i < n; i++) written += fs.writeSync(fd, buf);
  return written;
}

function sonicLoop(sb, line, n) {
  for (let i = 0; i < n; i++) sb.write(line);
  sb.flushSync();
}

/** CPU time the hypervisor took from this VM (all CPUs), from /proc/stat; 0 where unknown. */
function stealSeconds() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/);
    return Number(cpu[8] ?? 0) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

function expectSize(what, actual, expected) {
  if (actual !== expected) throw new Error(`${what}: wrote ${actual} bytes, expected ${expected}`);
}

// --- the rows --------------------------------------------------------------------------------------
// setup(n) → state (untimed); run(state, n) (timed); teardown(state, n) (untimed: checks, closes, deletes).

const prefaultSeconds = [];

// On this VM (virtio-balloon free page reporting) the first touch of guest memory the host has
// reclaimed costs far more than a touch of memory the guest freed a moment ago, so a fresh row's
// result depended on whichever row ran before it. Every fresh run therefore starts from the same
// state: the memory it is about to use was touched and freed just before (untimed).
function primeMemory(bytes) {
  Buffer.allocUnsafeSlow(bytes).fill(0);
}

function openFresh(m, n) {
  primeMemory(Math.ceil(n * RECORD * 1.1));
  const name = path.basename(freshPath('fresh'));
  const aof = m.open(name, Geometry.create().with(GROWTH_STEP, SIZE_UPPER, GROWTH_STEP));
  if (!DICT_CHILD) pinned.push(aof);
  return { name, aof };
}

function openWarm(n) {
  const name = path.basename(freshPath('warm'));
  // Pre-sized: sizeNow covers every record and the tail magic, so the file never grows.
  const aof = manager.open(name, Geometry.create().with(pageUp(n * RECORD + 8), SIZE_UPPER, GROWTH_STEP));
  if (!DICT_CHILD) pinned.push(aof);
  // Pre-touched, through the public API: reserve the whole free space with append() and store into
  // every page of the writable view (one write fault per page: page-cache page allocated, mapped
  // writable, dirty), then use none of it (return 0), so the file is still empty.
  const t0 = process.hrtime.bigint();
  aof.append(aof.fileSize - aof.size - 8, (ev) => {
    const t = ev.tail;
    for (let i = 0; i < t.length; i += 4096) t[i] = 0;
    return 0;
  });
  prefaultSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  expectSize('pre-touch', aof.size, 0);
  return { name, aof };
}

async function closeAof(what, { name, aof }, n) {
  expectSize(what, aof.size, n * RECORD);
  const fast = hasFastProperties(aof);
  await aof.close();
  fs.rmSync(path.join(dir, name));
  return { props: fast ? 'fast' : 'dictionary' };
}

async function sonicTeardown(what, { file, sb }, n) {
  expectSize(what, fs.fstatSync(sb.fd).size, n * RECORD);
  // end() fsyncs before it closes; empty the file first so that costs nothing (no row fsyncs).
  fs.ftruncateSync(sb.fd, 0);
  const closed = once(sb, 'close');
  sb.end();
  await closed;
  fs.rmSync(file);
}

const allCases = [
  {
    kind: 'aof-fresh',
    name: 'mmap-aof write, fresh pages',
    n: N_AOF,
    setup: (n) => openFresh(manager, n),
    run: ({ aof }, n) => aofLoop(aof, BUF, n),
    teardown(s, n) { return closeAof(this.name, s, n); },
  },
  {
    kind: 'aof-fresh-nopop',
    name: 'mmap-aof write, fresh, no populate',
    n: N_AOF,
    setup: (n) => openFresh(managerNoPopulate, n),
    run: ({ aof }, n) => aofLoop(aof, BUF, n),
    teardown(s, n) { return closeAof(this.name, s, n); },
  },
  {
    kind: 'aof-warm',
    name: 'mmap-aof write, warm pages',
    n: N_AOF,
    setup: openWarm,
    run: ({ aof }, n) => aofLoop(aof, BUF, n),
    teardown(s, n) { return closeAof(this.name, s, n); },
  },
  {
    kind: 'aof-dict',
    name: 'mmap-aof write, warm, earlier AOFs GCd',
    n: N_AOF,
    external: true, // measured by the child process (the `aof-warm` row there)
  },
  {
    kind: 'writeSync',
    name: 'fs.writeSync (1 syscall/record)',
    n: N_PEER,
    setup() {
      const file = freshPath('writesync');
      return { file, fd: fs.openSync(file, 'w') };
    },
    run(s, n) {
      s.written = writeSyncLoop(s.fd, BUF, n);
    },
    teardown({ file, fd, written }, n) {
      expectSize(this.name, written, n * RECORD);
      expectSize(this.name, fs.fstatSync(fd).size, n * RECORD);
      fs.closeSync(fd);
      fs.rmSync(file);
    },
  },
  {
    kind: 'sonic',
    name: 'sonic-boom sync, minLength 0 (string)',
    n: N_PEER,
    setup() {
      const file = freshPath('sonic');
      return { file, sb: new SonicBoom({ dest: file, sync: true }) };
    },
    run: ({ sb }, n) => sonicLoop(sb, LINE, n),
    teardown(s, n) { return sonicTeardown(this.name, s, n); },
  },
  {
    kind: 'sonic4k',
    name: 'sonic-boom sync, minLength 4096 (string)',
    n: N_PEER,
    setup() {
      const file = freshPath('sonic4k');
      return { file, sb: new SonicBoom({ dest: file, sync: true, minLength: 4096 }) };
    },
    run: ({ sb }, n) => sonicLoop(sb, LINE, n),
    teardown(s, n) { return sonicTeardown(this.name, s, n); },
  },
];

async function measure(c, n) {
  const state = await c.setup(n);
  gc();
  const steal0 = stealSeconds();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = process.hrtime.bigint();
  c.run(state, n);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const faults = process.resourceUsage().minorPageFault - faults0;
  const steal = stealSeconds() - steal0;
  const extra = await c.teardown(state, n);
  return { seconds, faults, steal, ...extra };
}

/** Warm-up (every loop once, small, so the timed runs measure optimized code), then REPEAT interleaved rounds. */
async function measureAll(cases) {
  for (const c of cases) await measure(c, Math.min(c.n, WARMUP_RECORDS));
  prefaultSeconds.length = 0;
  const results = new Map(cases.map((c) => [c, []]));
  for (let round = 0; round < REPEAT; round++) {
    for (const c of cases) {
      const r = await measure(c, c.n);
      results.get(c).push(r);
      if (VERBOSE) {
        out(`  round ${round + 1}: ${c.name}: ${r.seconds.toFixed(3)} s, ${si(c.n / r.seconds)}/s, ` +
          `${r.faults} page faults, ${r.steal.toFixed(2)} s CPU steal${r.props ? `, ${r.props} properties` : ''}`);
      }
    }
  }
  return results;
}

// --- the dictionary-mode child -----------------------------------------------------------------------

/** Opens and closes 6 small AOFs and lets them be collected, so the next AOF is built after slack tracking ended with no live instance. */
async function forceDictionaryMode() {
  async function throwaway(i) {
    const name = `throwaway-${i}`;
    const aof = manager.open(name, Geometry.create());
    aof.write(BUF);
    await aof.close();
    fs.rmSync(path.join(dir, name));
  }
  for (let i = 0; i < 6; i++) {
    await throwaway(i);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
}

if (DICT_CHILD) {
  await forceDictionaryMode();
  const warm = allCases.find((c) => c.kind === 'aof-warm');
  const runs = (await measureAll([warm])).get(warm);
  process.stdout.write(JSON.stringify({ runs }) + '\n');
  await manager.close();
  process.exit(0);
}

/** Runs this file as the dictionary-mode child; resolves to its runs. */
function measureDictionaryMode() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...V8_FLAGS, self], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_WRITE_DICT_CHILD: '1', BENCH_VERBOSE: '' },
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { text += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`dictionary-mode child exited with ${code}`));
      try {
        resolve(JSON.parse(text.trim().split('\n').pop()).runs);
      } catch (e) {
        reject(new Error(`dictionary-mode child printed no result: ${text}`, { cause: e }));
      }
    });
  });
}

// --- run ----------------------------------------------------------------------------------------------

const cases = allCases.filter((c) => !ONLY || ONLY.has(c.kind) || c.kind === 'writeSync');

out();
out(`write throughput: 100-byte records; ${REPEAT} timed run${REPEAT === 1 ? '' : 's'} per row, the rows interleaved round by round`);
out(`files in ${describeFilesystem(dir)}`);
out(`records per run: ${N_AOF.toLocaleString('en')} for mmap-aof, ${N_PEER.toLocaleString('en')} for the others` +
  ' (BENCH_RECORDS / BENCH_PEER_RECORDS)');

const results = await measureAll(cases.filter((c) => !c.external));
const warmPrefault = median(prefaultSeconds.length ? prefaultSeconds : [0]);
await manager.close();
const dictCase = cases.find((c) => c.kind === 'aof-dict');
if (dictCase) {
  if (VERBOSE) out('  (dictionary-mode rows: measuring in a child process)');
  results.set(dictCase, await measureDictionaryMode());
}

const summary = cases.map((c) => {
  const runs = results.get(c);
  const rates = runs.map((r) => c.n / r.seconds);
  const rate = median(rates);
  // The run whose rate is the median (the nearer of the middle two for an even count) gives seconds and faults.
  const mid = runs.reduce((a, b) => (Math.abs(c.n / b.seconds - rate) < Math.abs(c.n / a.seconds - rate) ? b : a));
  const props = [...new Set(runs.map((r) => r.props).filter(Boolean))].join('+');
  return { c, rate, seconds: mid.seconds, faults: mid.faults, min: Math.min(...rates), max: Math.max(...rates), props };
});
const base = summary.find((s) => s.c.kind === 'writeSync').rate;

out();
out(table(
  ['name', 'records', 'seconds', 'records/s', 'MB/s', 'vs fs.writeSync', 'min..max records/s', 'page faults', 'AOF properties'],
  summary.map((s) => [
    s.c.name,
    s.c.n.toLocaleString('en'),
    s.seconds.toFixed(3),
    si(s.rate),
    (s.rate * RECORD / 1e6).toFixed(0),
    (s.rate / base).toFixed(1) + '×',
    `${si(s.min)}..${si(s.max)}`.replace(/ /g, ''),
    s.faults.toLocaleString('en'),
    s.props || '-',
  ]),
));
out();
out(`records/s, seconds and page faults are the median of ${REPEAT} runs (min..max shows the spread); MB = 10^6 bytes;`);
out('page faults = the process\'s minor faults during the timed loop. Only the write loop is timed (not open/close).');
out('No row fsyncs or msyncs: every row measures handing 100 bytes to the page cache (write(2), or a store into a shared mapping).');
out(`fresh pages: a new file, sizeNow = growthStep = ${GROWTH_STEP / MiB} MiB, sizeUpper = ${SIZE_UPPER / GiB} GiB; growth (fallocate + mmap)`);
out('  and the first-touch page faults all happen inside the timed loop. By default (Manager option populate: true) each growth');
out('  starts a thread-pool job that faults the new step in while the writer fills the pages before it; "no populate" turns');
out('  that off, so the writing thread takes every fault itself.');
out('  Each fresh run first touches and frees as much anonymous memory as it will write (untimed): on this VM a');
out('  first touch of memory the host has reclaimed (balloon free page reporting) costs several times more, and without this the');
out('  result of a fresh row depended on the row before it.');
{
  // The machine's own floor for fresh memory: the first store into never-touched anonymous pages.
  const bytes = 256 * MiB;
  const firsts = [];
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    Buffer.allocUnsafeSlow(bytes).fill(1);
    firsts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  firsts.sort((a, b) => a - b);
  const perGB = firsts[1] / (bytes / 1e9);
  out(`  for scale, this machine's memset into never-touched anonymous memory (256 MiB, 4 KiB pages, median of 3) runs at`);
  out(`  ${perGB.toFixed(3)} s per GB = ${si(1e9 / RECORD / perGB)} 100-byte records/s: first touches, not the copy, set the fresh rows' pace.`);
}
out('warm pages: a new file pre-sized (sizeNow) to hold every record, each page write-faulted before timing through aof.append()');
out(`  (untimed: median ${warmPrefault.toFixed(3)} s per ${(N_AOF * RECORD / 1e9).toFixed(2)} GB); the timed loop neither grows nor faults.`);
{
  const fresh = summary.find((x) => x.c.kind === 'aof-fresh');
  const warm = summary.find((x) => x.c.kind === 'aof-warm');
  if (fresh && warm && fresh.faults > 0) {
    const extra = fresh.seconds - warm.seconds;
    out(`  fresh − warm: ${extra.toFixed(3)} s over ${fresh.faults.toLocaleString('en')} page faults = ` +
      `${(extra / fresh.faults * 1e6).toFixed(1)} µs per fault (${(N_AOF * RECORD / fresh.faults / 1024).toFixed(0)} KiB written per fault).`);
  }
}
out('AOF properties: whether V8 gave the AOF objects fast or dictionary-mode properties (%HasFastProperties). "earlier AOFs GCd"');
out('  is the warm row in a child process that first opened, closed and garbage-collected 6 AOFs, as a long-running process that');
out('  rotates files does: a class with 16+ #private fields goes to dictionary mode there (bench/micro-private-fields.mjs), so the');
out('  AOF keeps its cold state in one field. This row guards that.');
out('fs.writeSync and sonic-boom: a new file per run (opened untimed), one 100-byte record per call. sonic-boom takes strings, so it');
out('  writes the same bytes as a 99-char string + "\\n"; its time includes the final flushSync().');
out();
const verdict = (kind) => {
  const s = summary.find((x) => x.c.kind === kind);
  if (!s) return 'not run';
  const ratio = s.rate / base;
  return `${ratio.toFixed(1)}× (${si(s.rate)}/s) ${ratio >= TARGET ? 'MET' : 'NOT MET'}`;
};
out(`target: mmap-aof write of 100-byte records ≥ ${TARGET}× fs.writeSync (${si(base)}/s here)`);
out(`  fresh pages: ${verdict('aof-fresh')}`);
out(`  fresh pages, no populate: ${verdict('aof-fresh-nopop')}`);
out(`  warm pages:  ${verdict('aof-warm')}`);
if (dictCase) out(`  warm pages, earlier AOFs collected: ${verdict('aof-dict')}`);
pinned.length = 0;
