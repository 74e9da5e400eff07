// Cross-process following: (a) latency from a write in this process to a consumer in a child
// process seeing it, for mmap-aof readers (wake 'futex', 'spin', 'poll') and two npm tailers of a
// plain file (`tail`: fs.watch/inotify; `@logdna/tail-file`: polling); (b) writer throughput with
// reader processes following (futex) vs none. See bench/README.md.
//
//   node bench/run.mjs cross-process      (or `node bench/cross-process.bench.mjs`; dist/ must be built)
//
// Environment:
//   BENCH_XP_RATES       events/s of the latency rows, comma-separated            (default 10000,100000)
//   BENCH_XP_EVENTS      measured events per latency run                          (default 20000)
//   BENCH_XP_WARM        unmeasured events at the start of each latency run       (default 2000)
//   BENCH_XP_REPEAT      latency runs per row; percentiles pool every run's events (default 3)
//   BENCH_XP_ROWS        latency rows: futex,spin,poll,tail,tail-file              (default all)
//   BENCH_XP_MAX_BURST   most events the paced writer sends in one turn            (default 10; timer pacing: no limit)
//   BENCH_XP_PACE        'spin': busy-wait for each event, setImmediate between events (default);
//                        'timer': setTimeout(1 ms) ticks, each sends every event due (a diagnostic: the
//                        writer's core is idle between ticks)
//   BENCH_XP_RECORDS     100-byte records per throughput run                       (default 5,000,000 = 500 MB)
//   BENCH_XP_READERS     reader processes in the throughput rows                   (default 4)
//   BENCH_XP_TP_REPEAT   throughput rounds (one run per row each); medians         (default 5)
//   BENCH_ONLY           comma-separated sections: latency, throughput             (default all)
//   BENCH_DIR            where the files go                                        (default os.tmpdir())
//   BENCH_VERBOSE=1      also print every run
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
// The event line, the same for every row: 32 bytes of ASCII,
//   "SSSSSSSSSS TTTTTTTTTTTTTTTTTTTT\n"
// S = sequence number (10 digits), T = process.hrtime.bigint() just before the write (20 digits, ns,
// CLOCK_MONOTONIC: the same clock in every process of the machine).
// ------------------------------------------------------------------------------------------------
const LINE = 32;
const SEQ_DIGITS = 10;
const TIME_AT = 11;
const TIME_DIGITS = 20;

const hrnow = () => Number(process.hrtime.bigint()); // ns since boot: < 2^53 for 104 days of uptime

function putDigits(buf, at, width, v) {
  for (let i = at + width - 1; i >= at; i--) {
    buf[i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/** The number in `width` ASCII digits at buf[at]; -1 when a byte is not a digit. */
function getDigits(buf, at, width) {
  let v = 0;
  for (let i = at; i < at + width; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function getDigitsString(s, at, width) {
  let v = 0;
  for (let i = at; i < at + width; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

// ================================================================================================
// Child: one latency consumer
// ================================================================================================

/**
 * Follows `cfg.path` with `cfg.kind` and records, for every event, now − its send time, where now
 * is read once when the consumer is handed new data (an mmap-aof read event, a `tail` 'line', a
 * tail-file 'data' chunk). Checks that sequence numbers arrive in order, none missing, none twice.
 */
async function latencyChild(cfg) {
  const { kind, file, total, warm } = cfg;
  const measured = total - warm;
  const lat = new Float64Array(measured);
  let next = 0;
  let bad;
  let cpu0;
  let wall0 = 0;
  let wall1 = 0;
  let cpu1;
  const gcs = gcCounter();

  // One event seen at `now` (up to 100k calls a second: no allocation).
  const see = (now, seq, sent) => {
    if (seq !== next || sent < 0) {
      bad ??= `event #${next}: got sequence ${seq}${sent < 0 ? ' with a garbled time' : ''}`;
    }
    if (next >= warm) {
      if (next === warm) {
        cpu0 = process.cpuUsage();
        wall0 = now;
        gcs.on = true;
      }
      lat[next - warm] = now - sent;
      if (next === total - 1) {
        wall1 = now;
        cpu1 = process.cpuUsage(cpu0);
        gcs.on = false;
      }
    }
    next++;
  };
  /** Whole lines in a Buffer; returns how many bytes it used. */
  const seeBytes = (now, b) => {
    let o = 0;
    for (; o + LINE <= b.length; o += LINE) {
      if (b[o + SEQ_DIGITS] !== 0x20 || b[o + LINE - 1] !== 0x0a) bad ??= `event #${next}: not a well-formed line`;
      see(now, getDigits(b, o, SEQ_DIGITS), getDigits(b, o + TIME_AT, TIME_DIGITS));
    }
    return o;
  };

  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const complete = () => {
    if (next >= total) resolveDone();
  };
  let stop = async () => {};
  let iterating;

  if (kind === 'futex' || kind === 'spin' || kind === 'poll') {
    const { openReader } = await import(DIST);
    const reader = openReader(file, { wake: kind, interval: 1 });
    const it = reader.tail({ from: 0 });
    iterating = (async () => {
      for await (const ev of it) {
        const now = hrnow();
        const t = ev.tail;
        if (t.length % LINE !== 0) bad ??= `a read event of ${t.length} bytes (not whole lines) at ${ev.begin}`;
        seeBytes(now, t);
      }
      // The loop ends at EOF: the writer finished the file.
      resolveDone();
    })();
    iterating.catch((e) => {
      bad ??= `reader failed: ${e?.stack ?? e}`;
      resolveDone();
    });
    stop = async () => {
      await reader.close();
    };
  } else if (kind === 'tail') {
    const { Tail } = (await import('tail')).default;
    // fs.watch (inotify) on the file; fromBeginning: every line from offset 0.
    const t = new Tail(file, { fromBeginning: true });
    t.on('line', (line) => {
      const now = hrnow();
      if (line.length !== LINE - 1 || line.charCodeAt(SEQ_DIGITS) !== 0x20) bad ??= `event #${next}: line ${JSON.stringify(line)}`;
      see(now, getDigitsString(line, 0, SEQ_DIGITS), getDigitsString(line, TIME_AT, TIME_DIGITS));
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
      const now = hrnow();
      const b = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      const used = seeBytes(now, b);
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
  // A moment for the watcher / futex thread to be in place before the writer starts.
  await new Promise((r) => setTimeout(r, 30));
  gcIfExposed();
  process.send({ type: 'ready' });
  await done;
  await stop();
  if (next !== total) bad ??= `received ${next} of ${total} events`;
  process.send({
    type: 'result',
    received: next,
    bad,
    lat: next >= total ? lat : new Float64Array(0),
    cpuMs: cpu1 ? (cpu1.user + cpu1.system) / 1000 : NaN,
    wallMs: (wall1 - wall0) / 1e6,
    gcs: gcs.count,
    gcMaxMs: gcs.max,
  });
  process.disconnect();
}

// ================================================================================================
// Child: one throughput reader (futex)
// ================================================================================================

async function readerChild(cfg) {
  const { openReader } = await import(DIST);
  const reader = openReader(cfg.file, { wake: 'futex' });
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
  process.send({ type: 'ready' });
  try {
    await iterating;
  } catch (e) {
    bad ??= `reader failed: ${e?.stack ?? e}`;
  }
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 5)); // the observer's last entries
  await reader.close();
  process.send({ type: 'result', end, tEnd, sum, events, bad, cpuMs: (cpu.user + cpu.system) / 1000, gcs: gcs.count, gcMs: gcs.ms });
  process.disconnect();
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
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
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
 * Stretches of consecutive events (in send order) that each took more than `limitNs`: one stall of the
 * writer, the consumer or the machine shows up as one such stretch, however many events it delayed.
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

async function main() {
  const RATES = (process.env.BENCH_XP_RATES || '10000,100000').split(',').map((s) => {
    const n = Number(s.trim().replace(/_/g, ''));
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`BENCH_XP_RATES: bad rate ${s}`);
    return n;
  });
  const EVENTS = envInt('BENCH_XP_EVENTS', 20_000);
  const WARM = envInt('BENCH_XP_WARM', 2000);
  const REPEAT = envInt('BENCH_XP_REPEAT', 3);
  const PACE = process.env.BENCH_XP_PACE || 'spin';
  if (PACE !== 'spin' && PACE !== 'timer') throw new Error(`BENCH_XP_PACE must be spin or timer, got ${PACE}`);
  const MAX_BURST = envInt('BENCH_XP_MAX_BURST', PACE === 'timer' ? Number.MAX_SAFE_INTEGER : 10);
  const N_TP = envInt('BENCH_XP_RECORDS', 5_000_000);
  const READERS = envInt('BENCH_XP_READERS', 4);
  const TP_REPEAT = envInt('BENCH_XP_TP_REPEAT', 5);
  const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
  const VERBOSE = Boolean(process.env.BENCH_VERBOSE);
  const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
  const wanted = (part) => !ONLY || ONLY.has(part);
  const ALL_ROWS = ['futex', 'spin', 'poll', 'tail', 'tail-file'];
  const ROWS = process.env.BENCH_XP_ROWS ? process.env.BENCH_XP_ROWS.split(',').map((s) => s.trim()) : ALL_ROWS;
  for (const r of ROWS) if (!ALL_ROWS.includes(r)) throw new Error(`BENCH_XP_ROWS: unknown row ${r} (${ALL_ROWS.join(', ')})`);

  const out = (s = '') => process.stdout.write(s + '\n');
  if (!process.env.BENCH_CHILD) {
    for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
  }
  const cores = os.availableParallelism?.() ?? os.cpus().length;

  const { Manager, Geometry } = await import(DIST);
  const dir = benchDir(BASE_DIR, 'mmap-aof-xp-bench-');
  // Latency rows: the Manager's defaults (growAhead, populate, flush (msync) every 1000 ms, control block).
  const manager = new Manager(dir);
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
   * Sends `total` events at `rate`/s through `write(buf)`: a busy loop inside an event-loop turn
   * waits for the next event's due time, writes it (and, when behind, every event due by now, up
   * to MAX_BURST), then yields with setImmediate so the turn ends (mmap-aof publishes once per
   * synchronous run of writes). Each event's time is read just before its own write.
   */
  function paced(rate, total, warm, write) {
    const period = 1e9 / rate;
    const buf = Buffer.alloc(LINE, 0x20);
    buf[LINE - 1] = 0x0a;
    return new Promise((resolve) => {
      let i = 0;
      let turns = 0;
      let maxBurst = 0;
      let maxLag = 0;
      let tWarm = 0;
      let tLast = 0;
      const t0 = hrnow() + 2e6;
      const turn = () => {
        let now = hrnow();
        const due = t0 + i * period;
        if (PACE === 'timer' && now < due) {
          setTimeout(turn, 1);
          return;
        }
        while (now < due) now = hrnow();
        let k = 0;
        for (;;) {
          if (i >= warm) {
            const lag = now - (t0 + i * period);
            if (lag > maxLag) maxLag = lag;
            if (i === warm) tWarm = now;
          }
          putDigits(buf, 0, SEQ_DIGITS, i);
          putDigits(buf, TIME_AT, TIME_DIGITS, now);
          write(buf);
          tLast = now;
          i++;
          k++;
          if (i >= total || k >= MAX_BURST) break;
          now = hrnow();
          if (now < t0 + i * period) break;
        }
        if (i > warm) {
          turns++;
          if (k > maxBurst) maxBurst = k;
        }
        if (i >= total) resolve({ turns, maxBurst, maxLag, seconds: (tLast - tWarm) / 1e9 });
        else if (PACE === 'timer') setTimeout(turn, 1);
        else setImmediate(turn);
      };
      setImmediate(turn);
    });
  }

  async function latencyRun(kind, rate) {
    const total = WARM + EVENTS;
    const isAof = kind === 'futex' || kind === 'spin' || kind === 'poll';
    let aof;
    let fd;
    let file;
    if (isAof) {
      aof = openWarm(total * LINE);
      file = aof.path;
    } else {
      file = path.join(dir, `xp-${fileSeq++}.log`);
      fd = fs.openSync(file, 'a');
    }
    const what = `${kind} at ${rate}/s`;
    const child = spawnChild('latency-child', { kind, file, total, warm: WARM });
    try {
      await message(child, 'ready', 30_000, what);
      // Listening from now: a reader of a finished file may report before finish() returns here.
      const result = message(child, 'result', 120_000, what);
      result.catch(() => {}); // awaited below
      gcIfExposed();
      await new Promise((r) => setTimeout(r, 20));
      const write = isAof ? (b) => aof.write(b) : (b) => fs.writeSync(fd, b);
      const pacing = await paced(rate, total, WARM, write);
      if (isAof) {
        await aof.finish(); // the reader's tail() ends at EOF
        if (aof.size !== total * LINE) throw new Error(`${what}: writer size ${aof.size}, expected ${total * LINE}`);
      }
      // tail-file polls every 100 ms; 5 s is far more than any consumer needs to catch up.
      if (child.connected) child.send({ type: 'done', graceMs: 5000 }, () => {}); // (it may have finished already)
      const res = await result;
      if (res.bad || res.received !== total) {
        throw new Error(`${what}: LOST OR DISORDERED EVENTS: ${res.bad ?? ''} (received ${res.received} of ${total})`);
      }
      return { ...pacing, ...res };
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
    futex: "mmap-aof, wake 'futex'",
    spin: "mmap-aof, wake 'spin' (a core)",
    poll: "mmap-aof, wake 'poll' 1 ms",
    tail: `\`tail\` ${version('tail')} (fs.watch)`,
    'tail-file': `@logdna/tail-file ${version('@logdna/tail-file')}, poll 100 ms`,
  };

  async function latencySection() {
    out();
    out(`(a) cross-process latency: write in this process → a consumer in a child process sees the event; 32-byte lines,`);
    out(`    ${EVENTS.toLocaleString('en')} measured events per run (after ${WARM.toLocaleString('en')} unmeasured), ` +
      `${REPEAT} runs per row (rows interleaved, order rotated each round); percentiles over all ${(EVENTS * REPEAT).toLocaleString('en')} events of a row`);
    out(`files in ${describeFilesystem(dir)}; mmap-aof files pre-sized and pre-touched, Manager defaults (1 s flush timer)`);
    out(`load average before the section: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min; anything else running shows here)`);
    const rows = [];
    for (const rate of RATES) for (const kind of ROWS) rows.push({ rate, kind, runs: [] });
    // Warm-up: the writer's paced loop and formatting optimized before any timed row.
    await latencyRun(ROWS[0], RATES[0]);
    for (let round = 0; round < REPEAT; round++) {
      for (const rate of RATES) {
        const these = rows.filter((r) => r.rate === rate);
        for (let j = 0; j < these.length; j++) {
          const r = these[(j + round) % these.length];
          const x = await latencyRun(r.kind, r.rate);
          r.runs.push(x);
          if (VERBOSE) {
            const s = Float64Array.from(x.lat).sort();
            out(`  round ${round + 1}: ${ROW_NAMES[r.kind]} at ${si(rate)}/s: p50 ${us(pct(s, 0.5))} p99 ${us(pct(s, 0.99))} ` +
              `p99.9 ${us(pct(s, 0.999))} max ${us(s[s.length - 1])} µs, ${(EVENTS / x.seconds).toFixed(0)}/s, ` +
              `child CPU ${(x.cpuMs / x.wallMs * 100).toFixed(0)}%, ${x.gcs} GCs (max ${x.gcMaxMs.toFixed(2)} ms), ` +
              `${stalls(x.lat, 1e6)} stretches > 1 ms, load ${os.loadavg()[0].toFixed(2)}`);
          }
        }
      }
    }
    for (const r of rows) {
      const all = new Float64Array(EVENTS * r.runs.length);
      r.runs.forEach((x, i) => all.set(x.lat, i * EVENTS));
      all.sort();
      r.p50 = pct(all, 0.5);
      r.p99 = pct(all, 0.99);
      r.p999 = pct(all, 0.999);
      r.max = all[all.length - 1];
      r.p99s = r.runs.map((x) => {
        const s = Float64Array.from(x.lat).sort();
        return pct(s, 0.99);
      });
    }
    out();
    out(table(
      ['consumer (child process)', 'target/s', 'achieved/s', 'events/turn', 'max lag µs', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs',
        'p99 per run µs', 'stalls > 1 ms', 'child CPU', 'child GCs'],
      rows.map((r) => {
        const seconds = r.runs.reduce((a, x) => a + x.seconds, 0);
        const turns = r.runs.reduce((a, x) => a + x.turns, 0);
        return [
          ROW_NAMES[r.kind],
          si(r.rate),
          si((EVENTS - 1) * r.runs.length / seconds),
          `${(EVENTS * r.runs.length / turns).toFixed(2)} (≤${Math.max(...r.runs.map((x) => x.maxBurst))})`,
          us(Math.max(...r.runs.map((x) => x.maxLag))),
          us(r.p50),
          us(r.p99),
          us(r.p999),
          us(r.max),
          r.p99s.map(us).join(' / '),
          r.p50 < 500_000 ? String(r.runs.reduce((a, x) => a + stalls(x.lat, 1e6), 0)) : '-',
          `${(median(r.runs.map((x) => x.cpuMs / x.wallMs)) * 100).toFixed(0)}%`,
          `${r.runs.reduce((a, x) => a + x.gcs, 0)} (≤${Math.max(...r.runs.map((x) => x.gcMaxMs)).toFixed(1)} ms)`,
        ];
      }),
    ));
    out();
    out('latency = the child\'s process.hrtime.bigint() when its consumer is handed the event − the parent\'s, read just before');
    out('  the event\'s own write (CLOCK_MONOTONIC, one clock for every process). Every event counts; the child checks that the');
    out('  sequence numbers arrive in order, none lost, none twice (a run that fails that fails the benchmark).');
    out('  mmap-aof: `for await (const ev of openReader(file, { wake }).tail({ from: 0 }))`, time read once per event, then');
    out('    every line in ev.tail; ends at EOF after the writer\'s `await aof.finish()`. The writer: aof.write(line).');
    out('  `tail`: new Tail(file, { fromBeginning: true }) (fs.watch = inotify; each change: statSync + a fs.createReadStream');
    out('    of the new bytes), time read at each \'line\' event. The writer: fs.writeSync(fd, line) to a plain file (O_APPEND).');
    out('  @logdna/tail-file: new TailFile(file, { startPos: 0, pollFileIntervalMs: 100 }), time read at each \'data\' chunk;');
    out('    its default poll is 1000 ms: 100 ms is the reference used before. Same writer as `tail`.');
    if (PACE === 'spin') {
      out(`writer: a busy loop inside one event-loop turn waits for the next event's due time (every ${RATES.map((r) => `${1e6 / r} µs at ${si(r)}/s`).join(', ')}),`);
      out(`  writes it, then yields with setImmediate (so mmap-aof's once-per-run publish and futex wake happen). When the loop`);
      out(`  is behind it sends every event already due in the same turn, at most ${MAX_BURST} (each stamped just before its own write):`);
      out('  events/turn = mean (max) per turn; max lag = the latest any event was sent after its due time. achieved/s over the');
      out('  measured events. The writer spins, so it holds one core at 100% in every row.');
    } else {
      out('writer (BENCH_XP_PACE=timer, a diagnostic): setTimeout(1 ms) ticks; each tick sends every event due by then, each');
      out('  stamped just before its own write, in one synchronous run (one publish per tick). The writer\'s core is idle between');
      out('  ticks. An event early in a tick\'s batch also waits for the rest of the batch. events/turn = events per tick.');
    }
    out('child CPU: the child\'s user+sys time ÷ wall time over its measured events (median of runs; every thread of the child:');
    out(`  the futex row\'s waiter thread included). 'spin' spins on the sequence word (Atomics.load, up to spinMs = 1 ms per`);
    out('  turn), so it holds a core at ~100%: with the spinning writer, both cores of this machine are busy in that row.');
    out('child GCs: V8 collections in the child during the measured events (all runs), and the longest pause.');
    out('stalls > 1 ms: stretches of consecutive events (send order) that each took over 1 ms, all runs together: one stall of');
    out('  the consumer, the writer or the VM delays every event sent during it, so p99 at 100 k/s (1% = 200 events = 2 ms of');
    out('  sending per run) is set by one or two such stalls. The count says how often that happened, whatever the length.');
    out('  "-" where the consumer\'s typical latency (p50) is 0.5 ms or more: there most events take over 1 ms by design.');
    const g = machineGaps(1);
    out(`machine floor: a plain JS spin loop (no I/O) on this ${cores}-core VM for 1 s saw ${g.count} stalls > 50 µs ` +
      `(${(g.totalNs / 1e9 * 100).toFixed(2)}% of the time), the largest ${g.largest.map(us).join(', ')} µs. The VM`);
    out('  (CPU steal, host interrupts) stops a thread that long whatever it runs: p99.9 and max are bounded below by that, and');
    out('  with 2 cores the writer, the consumer, their helper threads and the kernel share 2 CPUs. Repeat runs move p99.9/max');
    out('  by 2× and more; p50 and p99 are the figures to compare (see "p99 per run").');
    if (PACE === 'spin') {
      out('  Most stalls are the consumer\'s (the writer was on time): the spinning writer holds one of the 2 cores. With');
      out('  BENCH_XP_PACE=timer (the writer sleeps between 1 ms ticks) most of them go away for \'spin\' and at 100 k/s, though');
      out('  a reader then wakes from an idle vCPU (futex p50 higher); bench/README.md has such a run.');
    }
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
      await Promise.all(children.map((c, i) => message(c, 'ready', 30_000, `reader ${i}`)));
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
      { name: `${READERS} reader processes (futex), return ev.end`, readers: READERS },
      { name: `${READERS} reader processes (futex), read every record`, readers: READERS, reading: true },
    ];
    out();
    out(`(b) writer throughput with reader processes following: ${N_TP.toLocaleString('en')} records of 100 bytes per run, ` +
      `1,000 writes per event-loop turn then setImmediate (one publish per turn); ${TP_REPEAT} rounds, one run per row each, order rotated`);
    out('    pre-sized, pre-touched file; readers: openReader(file, { wake: \'futex\' }).tail({ from: 0 }) in separate processes,');
    out('    attached (and their futex threads asleep) before the first write; Manager without flush timer or populate jobs');
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
    out('  after the writer\'s last write that was. events/reader: read events each reader got (one per futex wake it acted on;');
    out(`  ${Math.ceil(N_TP / 1000).toLocaleString('en')} publishes per run). writer CPU: the writer process\'s user+sys ÷ wall over the loop (all its threads: V8\'s`);
    out('  background threads take it past 100% with no readers; below 100%, the writer\'s thread was waiting for a CPU).');
    out('  readers CPU ms: all readers together, from their first event to EOF (median of runs), every thread (the futex');
    out('  waiter\'s included) and the kernel\'s time for them (mmap of each new range). GCs/reader, readers GC ms: V8 collections');
    out('  in each reader (median) and their pauses, all readers together: mostly full GCs that V8 starts when a reader makes a');
    out('  larger view of the mapping (its length doubles from 1 MiB up to the file size; V8 counts it as external memory),');
    out('  a cost per file, not per event (the writer has the same: grow.bench.mjs "GCs /1M").');
    out('"read every record": each reader reads the first byte of every 100-byte record (and the sum is checked); otherwise');
    out('  readers return without touching the bytes. Every reader must end at exactly N × 100 bytes, in order, or the run fails.');
    out(`On this ${cores}-core VM the ${READERS} readers' futex threads and main threads share the CPUs with the writer, so what the`);
    out('  readers cost the writer here is mostly CPU time taken from it, not contention on the shared memory.');
    return { base, rows };
  }

  // ==============================================================================================

  const lat = wanted('latency') ? await latencySection() : undefined;
  const tp = wanted('throughput') ? await throughputSection() : undefined;

  if (lat) {
    out();
    out('targets: futex p50 ≤ 50 µs and p99 ≤ 500 µs, several times better than `tail`; spin p50 ≤ 5 µs');
    const find = (kind, rate) => lat.find((r) => r.kind === kind && r.rate === rate);
    const verdict = (ok) => (ok ? 'MET' : 'NOT MET');
    for (const rate of RATES) {
      const f = find('futex', rate);
      const t = find('tail', rate);
      const s = find('spin', rate);
      if (f) {
        out(`  ${si(rate)}/s futex: p50 ${us(f.p50)} µs ≤ 50: ${verdict(f.p50 <= 50_000)}; p99 ${us(f.p99)} µs ≤ 500: ${verdict(f.p99 <= 500_000)}`);
        if (t) {
          const r50 = t.p50 / f.p50;
          const r99 = t.p99 / f.p99;
          out(`  ${si(rate)}/s futex vs \`tail\`: p50 ${r50.toFixed(1)}× lower, p99 ${r99.toFixed(1)}× lower ` +
            `("several times" taken as ≥ 3× on both): ${verdict(r50 >= 3 && r99 >= 3)}`);
        }
      }
      if (s) out(`  ${si(rate)}/s spin: p50 ${us(s.p50)} µs ≤ 5: ${verdict(s.p50 <= 5_000)}`);
    }
  }
  if (tp) {
    const four = tp.rows[1];
    const m = median(four.runs.map((x) => x.rate));
    out();
    out(`writer throughput: ${si(tp.base)} records/s with no readers, ${si(m)} records/s with ${READERS} reader processes ` +
      `following (futex): ${(m / tp.base).toFixed(3)}×`);
  }
  await manager.close();
  await managerTp.close();
}

// ================================================================================================

const role = process.argv[2];
if (role === 'latency-child') await latencyChild(JSON.parse(process.argv[3]));
else if (role === 'reader-child') await readerChild(JSON.parse(process.argv[3]));
else await main();
