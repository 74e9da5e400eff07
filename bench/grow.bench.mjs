// File growth under a writer: blocking grows (the writer waits for fallocate + mmap) per million
// writes, with and without the Manager's background growth (`growAhead`), for a writer that yields
// every turn and for one that never yields. See bench/README.md.
//
//   node bench/grow.bench.mjs      (or `node bench/run.mjs grow`; dist/ must be built)
//
// Environment:
//   BENCH_GROW_RECORDS   100-byte records per run                      (default 2,000,000 = 200 MB)
//   BENCH_GROW_STEP      growthStep in KiB (also the initial size)     (default 1024 = 1 MiB)
//   BENCH_GROW_PER_TURN  writes per turn of the steady writer          (default 1000)
//   BENCH_REPEAT         runs per row; medians are reported             (default 5)
//   BENCH_DIR            where the files go                             (default os.tmpdir())
//   BENCH_VERBOSE=1      also print every run
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchDir, describeFilesystem, envInt, environmentLines, gcCounter, median, requireV8Flags, si, table } from './lib.mjs';

// gc() between runs and %HasFastProperties need V8 flags: re-run with them when missing.
const self = requireV8Flags(import.meta.url);

const { Manager, Geometry, KiB, GiB, MAX_FILE_SIZE } = await import('../dist/index.js');

const RECORD = 100;
const N = envInt('BENCH_GROW_RECORDS', 2_000_000);
const STEP = envInt('BENCH_GROW_STEP', 1024) * KiB;
const PER_TURN = envInt('BENCH_GROW_PER_TURN', 1000);
const REPEAT = envInt('BENCH_REPEAT', 5);
const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
const SIZE_UPPER = Math.min(4 * GiB, MAX_FILE_SIZE);
if (N * RECORD + 8 + 2 * STEP > SIZE_UPPER) throw new Error(`BENCH_GROW_RECORDS=${N} does not fit in one AOF here`);

const out = (s = '') => process.stdout.write(s + '\n');
if (!process.env.BENCH_CHILD) {
  for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
}

const dir = benchDir(BASE_DIR, 'mmap-aof-grow-bench-');

const LINE = 'mmap-aof grow benchmark record: 0123456789abcdefghijklmnopqrstuvwxyz'.padEnd(RECORD - 1, '.') + '\n';
const BUF = Buffer.from(LINE, 'latin1');

// One Manager per growth policy (stats are Manager-wide; each run reads the difference). populate stays
// at its default (true); no flush timer, so msync does not mix with growth.
const BIG_THRESHOLD = 4 * STEP;
const managers = {
  on: new Manager(dir, { growAhead: true, flushIntervalMs: 0 }),
  off: new Manager(dir, { growAhead: false, flushIntervalMs: 0 }),
  onBig: new Manager(dir, { growAhead: true, flushIntervalMs: 0, growThreshold: BIG_THRESHOLD }),
};
const policyName = { on: 'on', off: 'off', onBig: `on, threshold ${BIG_THRESHOLD / KiB} KiB` };

// Garbage collections during the timed loop (V8 'gc' performance entries, delivered asynchronously).
const gcLog = gcCounter();
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

function writeLoop(aof, buf, n) {
  for (let i = 0; i < n; i++) aof.write(buf);
}

/** Writes n records, `perTurn` per event-loop turn (setImmediate in between); resolves after the last write. */
function steadyWriter(aof, n, perTurn) {
  return new Promise((resolve) => {
    let remaining = n;
    const turn = () => {
      const k = remaining < perTurn ? remaining : perTurn;
      writeLoop(aof, BUF, k);
      remaining -= k;
      if (remaining > 0) setImmediate(turn);
      else resolve();
    };
    turn();
  });
}

const rows = [
  { kind: 'steady-on', writer: 'steady', perTurn: PER_TURN, policy: 'on' },
  { kind: 'steady-off', writer: 'steady', perTurn: PER_TURN, policy: 'off' },
  { kind: 'steady-onbig', writer: 'steady', perTurn: PER_TURN, policy: 'onBig' },
  { kind: 'steady10-on', writer: 'steady', perTurn: PER_TURN * 10, policy: 'on' },
  { kind: 'steady10-off', writer: 'steady', perTurn: PER_TURN * 10, policy: 'off' },
  { kind: 'flat-on', writer: 'flat-out', policy: 'on' },
  { kind: 'flat-off', writer: 'flat-out', policy: 'off' },
];
for (const r of rows) {
  r.name = r.writer === 'steady'
    ? `steady, ${r.perTurn.toLocaleString('en')} writes/turn (${(r.perTurn * RECORD / 1e6).toFixed(1)} MB)`
    : 'flat-out, never yields';
  r.runs = [];
}

let seq = 0;
const diff = (a, b, k) => ({ count: b[k].count - a[k].count, totalNs: b[k].totalNs - a[k].totalNs, maxNs: b[k].maxNs });

// On this VM the first touch of memory the host has reclaimed costs several times more than a touch of
// memory the guest freed a moment ago (see write.bench.mjs); every run starts from the same state.
function primeMemory(bytes) {
  Buffer.allocUnsafeSlow(bytes).fill(0);
}

async function run(row, n) {
  const m = managers[row.policy];
  primeMemory(Math.ceil(n * RECORD * 1.1));
  const name = `grow-${seq++}`;
  // A fresh file: sizeNow = growthStep, so the file grows about n × 100 B / step times in the run.
  const aof = m.open(name, Geometry.create().with(STEP, SIZE_UPPER, STEP));
  await new Promise((resolve) => setImmediate(resolve)); // the open's populate job
  gc();
  await settle(); // the forced GC's entry is delivered before counting starts
  gcLog.count = 0;
  gcLog.ms = 0;
  gcLog.on = true;
  const s0 = m.stats();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  if (row.writer === 'steady') await steadyWriter(aof, n, row.perTurn);
  else writeLoop(aof, BUF, n);
  const seconds = (performance.now() - t0) / 1000;
  const faults = process.resourceUsage().minorPageFault - faults0;
  const s1 = m.stats(); // right after the last write: what landed during the run
  const fileSize = aof.fileSize;
  await settle();
  gcLog.on = false;
  const gcs = gcLog.count;
  const gcMs = gcLog.ms;
  await aof.close(); // waits for in-flight background growth
  const s2 = m.stats();
  if (s2.blockingGrows.count !== s1.blockingGrows.count) throw new Error('blocking grow after the run');
  fs.rmSync(path.join(dir, name));
  return {
    seconds,
    rate: n / seconds,
    faults,
    fileSize,
    blocking: diff(s0, s1, 'blockingGrows'),
    background: diff(s0, s1, 'backgroundGrows'),
    late: s2.backgroundGrows.count - s1.backgroundGrows.count,
    gcs,
    gcMs,
  };
}

out();
out(`file growth: 100-byte records, ${N.toLocaleString('en')} per run (${(N * RECORD / 1e6).toFixed(0)} MB), ` +
  `growthStep = sizeNow = ${STEP / KiB} KiB, ${REPEAT} runs per row, rows interleaved round by round`);
out(`files in ${describeFilesystem(dir)}; fresh files (every page first-touched in the run); populate on, no flush timer`);

for (const r of rows) await run(r, Math.min(N, 200_000)); // warm-up
for (let round = 0; round < REPEAT; round++) {
  for (const r of rows) {
    const x = await run(r, N);
    r.runs.push(x);
    if (VERBOSE) {
      out(`  round ${round + 1}: ${r.name}, growAhead ${policyName[r.policy]}: ${x.seconds.toFixed(3)} s, ${si(x.rate)}/s, ` +
        `${x.blocking.count} blocking grows (${(x.blocking.totalNs / 1e6).toFixed(2)} ms, max ${(x.blocking.maxNs / 1e3).toFixed(0)} µs), ` +
        `${x.background.count} background (+${x.late} after the run), ${x.faults} faults, ${x.gcs} GCs (${x.gcMs.toFixed(1)} ms)`);
    }
  }
}

const perM = (x) => x * 1e6 / N;
const summary = rows.map((r) => {
  const med = (f) => median(r.runs.map(f));
  const rates = r.runs.map((x) => x.rate);
  return {
    r,
    blocking: med((x) => x.blocking.count),
    blockingMs: med((x) => x.blocking.totalNs / 1e6),
    blockingMax: Math.max(...r.runs.map((x) => x.blocking.maxNs)) / 1e3,
    background: med((x) => x.background.count),
    bgAvgMs: r.runs.some((x) => x.background.count > 0)
      ? median(r.runs.filter((x) => x.background.count > 0).map((x) => x.background.totalNs / x.background.count / 1e6))
      : 0,
    late: med((x) => x.late),
    rate: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
    faults: med((x) => x.faults),
    gcs: med((x) => x.gcs),
    gcMs: med((x) => x.gcMs),
  };
});

out();
out(table(
  ['writer', 'growAhead', 'blocking grows /1M', 'blocking ms /1M', 'max blocking µs', 'background grows /1M', 'ms per bg grow', 'landed after run',
    'records/s', 'min..max records/s', 'GCs /1M', 'GC ms /1M', 'page faults'],
  summary.map((s) => [
    s.r.name,
    policyName[s.r.policy],
    perM(s.blocking).toFixed(1),
    perM(s.blockingMs).toFixed(2),
    s.blockingMax.toFixed(0),
    perM(s.background).toFixed(1),
    s.background ? s.bgAvgMs.toFixed(2) : '-',
    String(s.late),
    si(s.rate),
    `${si(s.min)}..${si(s.max)}`.replace(/ /g, ''),
    perM(s.gcs).toFixed(1),
    perM(s.gcMs).toFixed(1),
    Math.round(s.faults).toLocaleString('en'),
  ]),
));
const grows = N * RECORD / STEP;
out();
out(`Counts are Manager stats (blockingGrows, backgroundGrows) over the timed loop, medians of ${REPEAT} runs, scaled to 1M writes`);
out(`  (${N.toLocaleString('en')} writes per run). ${(N * RECORD / 1e6).toFixed(0)} MB in ${STEP / KiB} KiB steps is ~${grows.toFixed(0)} steps per run ` +
  `(${perM(grows).toFixed(1)} per 1M writes): a blocking grow adds up to two steps`);
out('  (geometry.next: the needed size rounded up to a step, plus a step); a background grow one step, plus what the threshold');
out('  gained from earlier blocking grows.');
out('blocking ms: total time the writer spent inside blocking grows (blockingGrows.totalNs): fallocate, mmap of the new part and');
out('  the populate job\'s start; max blocking µs: the longest single one over all runs of the row.');
out('ms per bg grow: backgroundGrows.totalNs ÷ count: from starting the fallocate job to the new part being mapped (its');
out('  completion waits for a turn of the event loop; the mapping runs on the JS thread). One job is in flight at a time.');
out('landed after run: background grows that completed only after the last write (median per run), counted separately:');
out('  they did nothing for the writer. records/s: the whole loop, setImmediate hops included for the steady writer.');
out(`steady: ${PER_TURN.toLocaleString('en')} (and ${(PER_TURN * 10).toLocaleString('en')}) writes per turn, then setImmediate. Background growth starts`);
out(`  when the headroom falls below growThreshold (default: half a step, ${STEP / 2 / KiB} KiB): fallocate on the thread pool, the new`);
out('  part mapped when its promise settles on a later turn. A turn that writes more than the headroom left outruns it.');
out('flat-out: one synchronous loop of every write. The event loop never turns, so a background grow can start but cannot');
out('  land (its completion is a callback) until the loop ends: every grow the writer needs is a blocking one.');
out(`threshold ${BIG_THRESHOLD / KiB} KiB: the same with growThreshold = 4 steps, so background growth starts 4× earlier. (In every`);
out('  growAhead row the AOF also doubles its threshold after each blocking grow, up to 8 steps.)');
out('GCs, GC ms: V8 garbage collections during the loop (PerformanceObserver \'gc\' entries), per 1M writes. Nothing in the loop');
out('  allocates per write, so this stays near 0. (It found a problem: each grow used to make a new external ArrayBuffer over');
out('  the whole file, which V8 counted as that much more external memory: about one full GC per grow. See bench/README.md.)');
out('page faults: minor faults in the timed loop, the populate jobs\' included (fresh pages: every page is touched for the first');
out('  time in the run; with small steps that is about one fault per 4 KiB page).');
{
  const get = (k) => summary.find((s) => s.r.kind === k);
  const on = get('steady-on');
  const off = get('steady-off');
  out();
  out(`steady writer (${PER_TURN.toLocaleString('en')}/turn): growAhead on ${perM(on.blocking).toFixed(1)} blocking grows per 1M writes ` +
    `(${perM(on.blockingMs).toFixed(2)} ms), off ${perM(off.blocking).toFixed(1)} (${perM(off.blockingMs).toFixed(2)} ms); ` +
    `records/s ${(on.rate / off.rate).toFixed(2)}× of off`);
  if (on.bgAvgMs > 0) {
    out(`  background: ${perM(on.background).toFixed(1)} jobs per 1M writes, ${on.bgAvgMs.toFixed(2)} ms each from start to mapped; ` +
      `the writer averaged ${(on.rate * RECORD / 1e6).toFixed(0)} MB/s; with a 4× threshold ` +
      `${perM(get('steady-onbig').blocking).toFixed(1)} blocking grows per 1M writes`);
  }
  const fon = get('flat-on');
  const foff = get('flat-off');
  out(`flat-out writer: growAhead on ${perM(fon.blocking).toFixed(1)} blocking grows per 1M writes, off ${perM(foff.blocking).toFixed(1)}: ` +
    `background growth ${fon.background === 0 ? 'cannot land without a turn' : `landed ${fon.background} times`}`);
}

await managers.on.close();
await managers.off.close();
await managers.onBig.close();
