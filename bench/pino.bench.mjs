// pino log calls into mmap-aof (`mmap-aof/pino`) side by side with pino's own destination
// (sonic-boom, async and sync), in one run. See bench/README.md ("pino.bench.mjs").
//
//   node bench/pino.bench.mjs      (or `npm run bench`, which builds dist/ first and runs every bench)
//
// Every row makes N calls of the same typical log call, logger.info({ req: 42, user: 'x' }, 'request done')
// (a 100-byte line: level, time, pid, hostname, the two fields, msg), each into a new file, and is
// checked afterwards: every line landed (bytes on disk = N × line length, N newlines, lines parse).
// Each run is a child process of its own (warm-up, then the timed run): pino writes to every
// destination through one call site, so rows sharing a process would slow each other down.
//
// Environment:
//   BENCH_PINO_CALLS  log calls per run                         (default 300,000)
//   BENCH_REPEAT      timed runs per row; the median is reported (default 3)
//   BENCH_DIR         where the files go                       (default os.tmpdir())
//   BENCH_VERBOSE=1   also print every run
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { benchDir, describeFilesystem, envInt, environmentLines, gcIfExposed, loadAverage, median, requireV8Flags, si, table, V8_FLAGS } from './lib.mjs';

// gc() between runs needs --expose-gc: re-run with the benchmarks' V8 flags when missing.
const self = requireV8Flags(import.meta.url);

const { createDestination } = await import('../dist/pino.js');
const { openReader } = await import('../dist/index.js');

const N = envInt('BENCH_PINO_CALLS', 300_000);
const REPEAT = envInt('BENCH_REPEAT', 3);
const WARMUP = Math.min(N, 50_000);
const YIELD_EVERY = 1000;
const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
// Internal: set in the child process that measures one run: "<row kind>:<yieldEvery>".
const RUN = process.env.BENCH_PINO_RUN;

const out = (s = '') => process.stdout.write(s + '\n');
if (!process.env.BENCH_CHILD && !RUN) {
  for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
}

const dir = benchDir(BASE_DIR, 'mmap-aof-pino-bench-');
let seq = 0;
const freshFile = (stem) => path.join(dir, `${stem}-${seq++}.log`);

const FIELDS = { req: 42, user: 'x' };
const MSG = 'request done';
// The raw rows write this pre-serialized line (pino's output for the same call, time fixed).
const RAW_LINE = JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, hostname: os.hostname(), ...FIELDS, msg: MSG }) + '\n';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** N log calls; with `yieldEvery`, an event-loop turn after every that many calls (a service's pace). */
async function logLoop(logger, n, yieldEvery) {
  if (!yieldEvery) {
    for (let i = 0; i < n; i++) logger.info(FIELDS, MSG);
    return;
  }
  for (let i = 0; i < n; i += yieldEvery) {
    for (let j = i, e = Math.min(n, i + yieldEvery); j < e; j++) logger.info(FIELDS, MSG);
    await turn();
  }
}

/** Until sonic-boom has handed every buffered byte to the kernel (its own fields: no event says so when minLength is 0). */
async function sonicWritten(sb) {
  if (sb.minLength > 0) await new Promise((resolve, reject) => sb.flush((e) => (e ? reject(e) : resolve())));
  while (sb._writing || sb._len > 0) await turn();
}

/** Checks every line landed: `bytes` = n × the first line's length, n newlines, first and last lines parse. */
function checkLines(what, bytes, n) {
  const lineLength = bytes.indexOf(0x0a) + 1;
  if (lineLength <= 0) throw new Error(`${what}: no line written`);
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) lines++;
  if (lines !== n || bytes.length !== n * lineLength) {
    throw new Error(`${what}: ${bytes.length} bytes in ${lines} lines, expected ${n} lines of ${lineLength} bytes`);
  }
  for (const line of [bytes.subarray(0, lineLength - 1), bytes.subarray(bytes.length - lineLength, bytes.length - 1)]) {
    const parsed = JSON.parse(line.toString());
    if (parsed.msg !== MSG || parsed.req !== 42) throw new Error(`${what}: unexpected line ${line}`);
  }
  return lineLength;
}

/** The content of a file AOF (the log lines), read back by a Reader (recovery decides where it ends). */
async function aofContent(file) {
  const reader = openReader(file);
  try {
    return Buffer.from(reader.view());
  } finally {
    await reader.close();
  }
}

// --- the rows ------------------------------------------------------------------------------------
// open() → state (untimed); log(state, n) (timed: the calls); drain(state) (timed after the calls:
// until every line is at least in the page cache); check(state, n) (untimed: verify, close, delete).

const pinoRow = (kind, name, makeDest, drain = async () => {}) => ({
  kind,
  name,
  open() {
    const file = freshFile(kind);
    const dest = makeDest(file);
    return { file, dest, logger: pino(dest) };
  },
  log: ({ logger }, n, yieldEvery) => logLoop(logger, n, yieldEvery),
  drain: ({ dest }) => drain(dest),
  async check({ file, dest }, n) {
    if (dest.aof) {
      const size = dest.aof.size;
      await dest.close();
      const content = await aofContent(file);
      if (content.length !== size) throw new Error(`${name}: reopened with ${content.length} bytes, wrote ${size}`);
      checkLines(name, content, n);
      fs.rmSync(`${file}-shm`, { force: true });
    } else {
      // end() fsyncs before it closes: the bytes are checked first, then the file is emptied so that costs nothing.
      checkLines(name, fs.readFileSync(file), n);
      fs.truncateSync(file, 0);
      const closed = once(dest, 'close');
      dest.end();
      await closed;
    }
    fs.rmSync(file);
  },
});

const ROWS = [
  pinoRow('aof', 'pino → mmap-aof createDestination', (file) => createDestination({ file })),
  pinoRow('sonic-async', 'pino → pino.destination({ sync: false })', (file) => pino.destination({ dest: file, sync: false }), sonicWritten),
  pinoRow('sonic-async-4k', 'pino → pino.destination({ sync: false, minLength: 4096 })',
    (file) => pino.destination({ dest: file, sync: false, minLength: 4096 }), sonicWritten),
  pinoRow('sonic-sync', 'pino → pino.destination({ sync: true })', (file) => pino.destination({ dest: file, sync: true })),
  {
    kind: 'noop',
    name: 'pino → no-op destination (pino alone)',
    open: () => ({ logger: pino({}, { write() {} }) }),
    log: ({ logger }, n, yieldEvery) => logLoop(logger, n, yieldEvery),
    drain: async () => {},
    check: async () => {},
  },
  {
    kind: 'aof-raw',
    name: 'aof.write(line), no pino',
    open() {
      const file = freshFile('aof-raw');
      return { file, dest: createDestination({ file }) };
    },
    log({ dest }, n) {
      const aof = dest.aof;
      for (let i = 0; i < n; i++) aof.write(RAW_LINE);
    },
    drain: async () => {},
    async check({ file, dest }, n) {
      await dest.close();
      checkLines(this.name, await aofContent(file), n);
      fs.rmSync(file);
      fs.rmSync(`${file}-shm`, { force: true });
    },
  },
  {
    kind: 'writesync-raw',
    name: 'fs.writeSync(fd, line), no pino',
    open() {
      const file = freshFile('writesync');
      return { file, fd: fs.openSync(file, 'a') };
    },
    log({ fd }, n) {
      for (let i = 0; i < n; i++) fs.writeSync(fd, RAW_LINE);
    },
    drain: async () => {},
    async check({ file, fd }, n) {
      fs.closeSync(fd);
      checkLines(this.name, fs.readFileSync(file), n);
      fs.rmSync(file);
    },
  },
];

async function measure(row, n, yieldEvery) {
  const state = row.open();
  gcIfExposed();
  const t0 = process.hrtime.bigint();
  await row.log(state, n, yieldEvery);
  const t1 = process.hrtime.bigint();
  await row.drain(state);
  const t2 = process.hrtime.bigint();
  await row.check(state, n);
  return { calls: Number(t1 - t0) / 1e9, done: Number(t2 - t0) / 1e9 };
}

if (RUN) {
  // The child: a warm-up run, then the timed one, printed as JSON.
  const [kind, yieldEvery] = RUN.split(':');
  const row = ROWS.find((r) => r.kind === kind);
  await measure(row, WARMUP, Number(yieldEvery));
  out(JSON.stringify(await measure(row, N, Number(yieldEvery))));
  process.exit(0);
}

/** One run of `row` in a child process of its own. */
function measureInChild(row, yieldEvery) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...V8_FLAGS, self], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_PINO_RUN: `${row.kind}:${yieldEvery}`, BENCH_DIR: dir },
    });
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { text += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${row.name}: the child process exited with ${code}: ${text}`));
      resolve(JSON.parse(text.trim().split('\n').pop()));
    });
  });
}

/** REPEAT rounds of every row (row 1, 2, …, then again), each run in a new process; the median per row. */
async function phase(title, rows, yieldEvery) {
  out();
  out(`${title}: ${N.toLocaleString('en')} calls per run, ${REPEAT} timed run${REPEAT === 1 ? '' : 's'} per row, the rows interleaved round by round`);
  const runs = new Map(rows.map((r) => [r, []]));
  for (let round = 0; round < REPEAT; round++) {
    for (const row of rows) {
      const r = await measureInChild(row, yieldEvery);
      runs.get(row).push(r);
      if (VERBOSE) out(`  round ${round + 1} ${row.name}: calls ${r.calls.toFixed(3)} s, until written ${r.done.toFixed(3)} s`);
    }
  }
  const summary = rows.map((row) => {
    const rs = runs.get(row);
    return { row, calls: median(rs.map((r) => r.calls)), done: median(rs.map((r) => r.done)), spread: rs.map((r) => N / r.done) };
  });
  const base = summary.find((s) => s.row.kind === 'sonic-async');
  const sync = summary.find((s) => s.row.kind === 'sonic-sync');
  out();
  out(table(
    ['destination', 'calls/s', 'ns/call', 'vs sonic-boom async', 'vs sonic-boom sync', 'min..max calls/s', 'calls only: s', 'until written: s'],
    summary.map((s) => [
      s.row.name,
      si(N / s.done),
      (s.done / N * 1e9).toFixed(0),
      (base.done / s.done).toFixed(2) + '×',
      (sync.done / s.done).toFixed(2) + '×',
      `${si(Math.min(...s.spread))}..${si(Math.max(...s.spread))}`.replace(/ /g, ''),
      s.calls.toFixed(3),
      s.done.toFixed(3),
    ]),
  ));
  return summary;
}

out();
out(`pino ${pino.version} log calls: logger.info(${JSON.stringify(FIELDS)}, ${JSON.stringify(MSG)}), a ${Buffer.byteLength(RAW_LINE)}-byte line`);
out(`files in ${describeFilesystem(dir)}; load average before: ${loadAverage()}`);

const tight = await phase('A tight loop of log calls', ROWS, 0);
const paced = await phase(`Yielding an event-loop turn every ${YIELD_EVERY.toLocaleString('en')} calls (a service's pace)`,
  ROWS.filter((r) => ['aof', 'sonic-async', 'sonic-async-4k', 'sonic-sync'].includes(r.kind)), YIELD_EVERY);

out();
out('calls/s and ns/call count until every line is written (handed to the kernel: in the page cache), the median of the runs;');
out('  "calls only" stops the clock after the last log call. They differ only for sonic-boom async, which buffers in JS and');
out('  writes on the thread pool: its clock runs until its buffer is empty (sonic-boom fields _len/_writing; flush(cb) for minLength).');
out('  mmap-aof and sonic-boom sync are written when the call returns. No row fsyncs; opening, closing and checking are not timed.');
out(`each run is a new process: a warm-up run of ${WARMUP.toLocaleString('en')} calls into its own file, then the timed run (pino calls every`);
out('  destination from one call site: rows sharing a process made each other slower, depending on their order).');
out('every run writes a new file and is checked afterwards: size = calls × line length, one newline per call, lines parse as JSON');
out('  (the mmap-aof file read back by openReader(), so recovery agrees). The raw rows write a pre-serialized line of the same length.');
out('mmap-aof: createDestination({ file }) with its defaults (own Manager, 1 MiB file grown in 8 MiB steps ahead of the writer,');
out('  a control block, flush every 1 s); the file grows and every page is touched for the first time inside the timed loop.');
out(`load average after: ${loadAverage()}`);
const ratio = (s, kind) => (s.find((x) => x.row.kind === kind).done / s.find((x) => x.row.kind === 'aof').done).toFixed(2);
out();
out(`pino → mmap-aof vs pino.destination: ${ratio(tight, 'sonic-async')}× sonic-boom async, ${ratio(tight, 'sonic-sync')}× sonic-boom sync ` +
  `(tight loop); ${ratio(paced, 'sonic-async')}× and ${ratio(paced, 'sonic-sync')}× yielding every ${YIELD_EVERY} calls`);
