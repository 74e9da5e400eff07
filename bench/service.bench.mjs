// The HTTP service (src/service/): appends/s and latency of `POST /streams/:name` under load from
// autocannon over loopback, side by side with two baselines on the same HTTP stack, and the SSE
// fan-out of one stream to many subscribers. See bench/README.md.
//
//   node bench/service.bench.mjs        (or `npm run bench -- service`, which builds dist/ first)
//
// Every server runs in its own child process (autocannon and the subscribers run here):
//   aof    startService(): POST /streams/bench appends the body to an AOF (one write) and answers
//          {"offset","size"} (the Manager's defaults: growth ahead, a flush every second)
//   fs     a bare node:http server that collects the body, fs.writeSync()s it to a plain file and
//          answers the same JSON: what the same request costs with a write(2) per append
//   noop   the same bare server without the write: the HTTP floor
// and, on the aof server, POST /streams/bench-sync?sync=1 (each append durable before it is answered:
// `await aof.sync()`, group commit across the concurrent requests) against POST
// /streams/bench-nosync, the same raw stream without sync, at BENCH_SERVICE_SYNC_CONNECTIONS.
//
// Environment:
//   BENCH_SERVICE_SECONDS       seconds per autocannon run                  (default 2; plus 1 s warm-up per server)
//   BENCH_SERVICE_ROUNDS        rounds over every row (median reported)     (default 3)
//   BENCH_SERVICE_CONNECTIONS   comma-separated connection counts           (default 10,50)
//   BENCH_SERVICE_SYNC_CONNECTIONS  connection counts of the ?sync=1 rows    (default 64)
//   BENCH_SERVICE_BODY          body bytes per POST                         (default 100)
//   BENCH_FANOUT_SUBSCRIBERS    SSE subscribers                             (default 100)
//   BENCH_FANOUT_RATE           appends/s the writer posts                  (default 200)
//   BENCH_FANOUT_SECONDS        seconds of posting per fan-out run          (default 5)
//   BENCH_DIR                   where the files go                          (default os.tmpdir())
//   BENCH_ONLY                  sections: post, fanout
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, describeFilesystem, envInt, environmentLines, loadAverage, si, table } from './lib.mjs';

const self = fileURLToPath(import.meta.url);
const out = (s = '') => process.stdout.write(s + '\n');

// --- parent ----------------------------------------------------------------------------------------

function startServer(kind, dir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [self, 'server', kind, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      const m = /ready (\d+)/.exec(buf);
      if (m) resolve({ child, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` });
    });
    child.on('exit', (code) => reject(new Error(`${kind} server exited (${code}) before it was ready`)));
  });
}

async function stopServer(server) {
  const exited = new Promise((resolve) => server.child.once('exit', (code, signal) => resolve({ code, signal })));
  server.child.kill('SIGTERM');
  const { code, signal } = await exited;
  if (code !== 0) throw new Error(`server exited with ${code ?? signal} on SIGTERM`);
}

async function getJson(url) {
  const r = await fetch(url);
  return r.json();
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14 and 15)
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const fmtMs = (ms) => (ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));

async function main() {
  const { default: autocannon } = await import('autocannon');
  const SECONDS = envInt('BENCH_SERVICE_SECONDS', 2);
  const ROUNDS = envInt('BENCH_SERVICE_ROUNDS', 3);
  const CONNECTIONS = (process.env.BENCH_SERVICE_CONNECTIONS || '10,50').split(',').map((s) => Number(s.trim()));
  const SYNC_CONNECTIONS = (process.env.BENCH_SERVICE_SYNC_CONNECTIONS || '64').split(',').map((s) => Number(s.trim()));
  const BODY = envInt('BENCH_SERVICE_BODY', 100);
  const SUBSCRIBERS = envInt('BENCH_FANOUT_SUBSCRIBERS', 100);
  const RATE = envInt('BENCH_FANOUT_RATE', 200);
  const FAN_SECONDS = envInt('BENCH_FANOUT_SECONDS', 5);
  const BASE_DIR = process.env.BENCH_DIR || os.tmpdir();
  const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
  const want = (section) => !ONLY || ONLY.has(section);

  if (!process.env.BENCH_CHILD) for (const l of environmentLines(`node ${path.relative(process.cwd(), self)}`)) out(l);
  const dir = benchDir(BASE_DIR, 'mmap-aof-service-bench-');
  out(`files:    ${describeFilesystem(dir)}`);
  out(`load:     ${loadAverage()}`);

  if (want('post')) {
    out();
    out(`## POST /streams/bench: ${BODY}-byte bodies, autocannon over loopback, ${ROUNDS} rounds of ${SECONDS} s per row`);
    out();
    const body = Buffer.from(`${'x'.repeat(BODY - 1)}\n`);
    const kinds = ['aof', 'fs', 'noop'];
    const servers = {};
    for (const kind of kinds) {
      const serverDir = path.join(dir, kind);
      fs.mkdirSync(serverDir);
      servers[kind] = await startServer(kind, serverDir);
    }
    // autocannon's own percentiles have 1 ms resolution: keep every response time (ms, float) instead.
    // The ?sync=1 rows go to the aof server, each to its own stream.
    const syncKinds = { nosync: { server: 'aof', path: '/streams/bench-nosync', label: 'raw stream, no sync' },
      sync: { server: 'aof', path: '/streams/bench-sync?sync=1', label: 'raw stream, ?sync=1' } };
    const target = (kind) => (syncKinds[kind] ? `${servers.aof.url}${syncKinds[kind].path}` : `${servers[kind].url}/streams/bench`);
    const serverOf = (kind) => servers[syncKinds[kind]?.server ?? kind];
    const flushCount = async () => (await getJson(`${servers.aof.url}/stats`)).stats.flushes.count;
    const run = (kind, connections, duration) => new Promise((resolve, reject) => {
      const times = [];
      const instance = autocannon({
        url: target(kind), method: 'POST', body, connections, duration, pipelining: 1,
        headers: { 'content-type': 'application/octet-stream' },
      }, (err, result) => (err ? reject(err) : resolve({ result, times })));
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status === 200) times.push(ms);
      });
    });
    try {
      for (const kind of kinds) await run(kind, 10, 1); // warm-up
      for (const kind of Object.keys(syncKinds)) await run(kind, 10, 1);
      const runs = {};
      const acknowledged = { aof: 0, fs: 0, noop: 0, nosync: 0, sync: 0 };
      // Rounds interleave the servers, so a slow moment of the VM does not land on one row only.
      for (let round = 0; round < ROUNDS; round++) {
        for (const connections of CONNECTIONS) {
          for (const kind of kinds) {
            const cpu0 = cpuSeconds(servers[kind].child.pid);
            const { result, times } = await run(kind, connections, SECONDS);
            const cpu = cpuSeconds(servers[kind].child.pid) - cpu0;
            acknowledged[kind] += result['2xx'];
            times.sort((a, b) => a - b);
            (runs[`${kind}:${connections}`] ??= []).push({
              rate: result['2xx'] / (result.duration || SECONDS), p50: percentile(times, 50), p99: percentile(times, 99),
              max: times.at(-1) ?? NaN, errors: result.non2xx + result.errors + result.timeouts, cpuUs: (cpu / Math.max(result['2xx'], 1)) * 1e6,
            });
          }
        }
        for (const connections of SYNC_CONNECTIONS) {
          for (const kind of Object.keys(syncKinds)) {
            const pid = serverOf(kind).child.pid;
            const cpu0 = cpuSeconds(pid);
            const flushes0 = await flushCount();
            const { result, times } = await run(kind, connections, SECONDS);
            const flushes = (await flushCount()) - flushes0;
            const cpu = cpuSeconds(pid) - cpu0;
            const seconds = result.duration || SECONDS;
            acknowledged[kind] += result['2xx'];
            times.sort((a, b) => a - b);
            (runs[`${kind}:${connections}`] ??= []).push({
              rate: result['2xx'] / seconds, p50: percentile(times, 50), p99: percentile(times, 99),
              max: times.at(-1) ?? NaN, errors: result.non2xx + result.errors + result.timeouts, cpuUs: (cpu / Math.max(result['2xx'], 1)) * 1e6,
              flushRate: flushes / seconds, perFlush: flushes ? result['2xx'] / flushes : NaN,
            });
          }
        }
      }
      // Every acknowledged append is in the stream (plus the warm-up's), in whole bodies.
      const { streams } = await getJson(`${servers.aof.url}/streams`);
      const size = streams.find((s) => s.name === 'bench')?.size ?? 0;
      if (size < acknowledged.aof * BODY || size % BODY !== 0) {
        throw new Error(`stream holds ${size} bytes, expected ≥ ${acknowledged.aof * BODY} in whole bodies`);
      }
      const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
      const rows = [];
      for (const connections of CONNECTIONS) {
        for (const kind of kinds) {
          const r = runs[`${kind}:${connections}`];
          const rate = med(r.map((x) => x.rate));
          const aofRate = med(runs[`aof:${connections}`].map((x) => x.rate));
          rows.push([kind, String(connections), si(rate), `${si(Math.min(...r.map((x) => x.rate)))}..${si(Math.max(...r.map((x) => x.rate)))}`,
            fmtMs(med(r.map((x) => x.p50))), fmtMs(med(r.map((x) => x.p99))), fmtMs(Math.max(...r.map((x) => x.max))),
            med(r.map((x) => x.cpuUs)).toFixed(1), String(r.reduce((n, x) => n + x.errors, 0)), (aofRate / rate).toFixed(2)]);
        }
      }
      out(table(['server', 'connections', 'appends/s', 'min..max', 'p50 ms', 'p99 ms', 'max ms', 'server CPU µs/append', 'errors', 'aof ÷ this'], rows));
      out();
      out('appends/s: answered POSTs per second (each a committed append for aof and fs), the median of the rounds; p50/p99:');
      out('the median over rounds of each run\'s percentile of response times; max: the largest of any run. aof: the service;');
      out('fs: a bare node:http server doing fs.writeSync per request; noop: the same without the write. server CPU: the');
      out('server process\'s user + system time during the run (/proc, 10 ms ticks) per answered append, median of the rounds.');
      out(`stream check: ${size} bytes in the aof stream ≥ ${acknowledged.aof} acknowledged appends × ${BODY} bytes`);

      // ?sync=1 against the same raw stream without it.
      const checks = [];
      for (const kind of Object.keys(syncKinds)) {
        const name = syncKinds[kind].path.split('?')[0].slice('/streams/'.length);
        const bytes = streams.find((s) => s.name === name)?.size ?? 0;
        if (bytes < acknowledged[kind] * BODY || bytes % BODY !== 0) {
          throw new Error(`stream ${name} holds ${bytes} bytes, expected ≥ ${acknowledged[kind] * BODY} in whole bodies`);
        }
        checks.push(`${bytes} bytes in ${name} ≥ ${acknowledged[kind]} × ${BODY}`);
      }
      const syncRows = [];
      for (const connections of SYNC_CONNECTIONS) {
        const rawRate = med(runs[`nosync:${connections}`].map((x) => x.rate));
        for (const kind of Object.keys(syncKinds)) {
          const r = runs[`${kind}:${connections}`];
          const rate = med(r.map((x) => x.rate));
          syncRows.push([syncKinds[kind].label, String(connections), si(rate), `${si(Math.min(...r.map((x) => x.rate)))}..${si(Math.max(...r.map((x) => x.rate)))}`,
            fmtMs(med(r.map((x) => x.p50))), fmtMs(med(r.map((x) => x.p99))), fmtMs(Math.max(...r.map((x) => x.max))),
            med(r.map((x) => x.cpuUs)).toFixed(1), si(med(r.map((x) => x.flushRate))), kind === 'sync' ? med(r.map((x) => x.perFlush)).toFixed(1) : '-',
            String(r.reduce((n, x) => n + x.errors, 0)), `${(rate / rawRate).toFixed(2)}×`]);
        }
      }
      out();
      out(table(['stream (aof server)', 'connections', 'appends/s', 'min..max', 'p50 ms', 'p99 ms', 'max ms', 'server CPU µs/append', 'flushes/s', 'appends/flush', 'errors', 'vs no sync'], syncRows));
      out();
      out('POST /streams/bench-sync?sync=1: the service answers once the append is durable (`await aof.sync()`: one device');
      out('flush in flight, the requests that arrive meanwhile share the next), against POST /streams/bench-nosync, the same raw');
      out('stream without sync; rows interleaved with the ones above. flushes/s: the Manager\'s flushes during the run (GET /stats');
      out('before and after) ÷ seconds; appends/flush: answered appends ÷ those flushes. vs no sync: appends/s ÷ the no-sync row\'s.');
      out(`stream check: ${checks.join('; ')}`);
      out(`load average after the POST rows: ${loadAverage()}`);
    } finally {
      for (const kind of kinds) await stopServer(servers[kind]);
    }
  }

  if (want('fanout')) {
    out();
    out(`## SSE fan-out: ${SUBSCRIBERS} subscribers of one stream, a writer posting ${RATE} appends/s for ${FAN_SECONDS} s`);
    out();
    const rows = [];
    for (const kind of ['records', 'raw']) {
      const serverDir = path.join(dir, `fanout-${kind}`);
      fs.mkdirSync(serverDir);
      const server = await startServer('aof', serverDir);
      try {
        rows.push(await fanout(server, kind, SUBSCRIBERS, RATE, FAN_SECONDS));
      } finally {
        await stopServer(server);
      }
    }
    out(table(['stream', 'subscribers', 'events', 'delivered', 'complete', 'p50 ms', 'p99 ms', 'max ms', 'POST p50 ms', 'POST p99 ms', 'server CPU'], rows));
    out();
    out('delivered: events received, summed over subscribers (should be events × subscribers); complete: subscribers that got every');
    out('event in order with the exact bytes. Latency: from the writer sending the POST to a subscriber having parsed the event (the');
    out('writer and the subscribers share this process\'s clock); POST: the writer\'s request round trip; server CPU: the server');
    out('process\'s user + system time over the run\'s wall time (100% = one core).');
  }
}

/** One fan-out run: returns its table row. */
async function fanout(server, kind, subscribers, rate, seconds) {
  const name = `fan-${kind}`;
  const headers = kind === 'records' ? { 'content-type': 'application/x-ndjson' } : {};
  // The stream exists before the subscribers arrive.
  await fetch(`${server.url}/streams/${name}`, { method: 'POST', body: kind === 'records' ? '{"seq":-1}\n' : '#', headers });
  const first = kind === 'records' ? 2 : 1; // first id / offset of the timed events
  const total = rate * seconds;
  const sent = new Array(total);
  const latencies = [];
  const subs = [];
  for (let i = 0; i < subscribers; i++) subs.push(await subscribe(`${server.url}/streams/${name}?from=${first}`, kind, sent, latencies));
  const stats = await getJson(`${server.url}/stats`);
  if (stats.service.sseSubscribers !== subscribers) throw new Error(`${stats.service.sseSubscribers} subscribers attached, expected ${subscribers}`);

  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const cpu0 = cpuSeconds(server.child.pid);
  const wall0 = performance.now();
  const postTimes = [];
  const bodies = [];
  await new Promise((resolve, reject) => {
    let seq = 0;
    let answered = 0;
    const start = performance.now();
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; seq < due; seq++) {
        const body = kind === 'records' ? `{"seq":${seq}}\n` : `<${String(seq).padStart(8, '0')}>`;
        bodies.push(body);
        const t0 = performance.now();
        sent[seq] = t0;
        const req = http.request(`${server.url}/streams/${name}`, { method: 'POST', agent, headers }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) reject(new Error(`POST answered ${res.statusCode}`));
            postTimes.push(performance.now() - t0);
            if (++answered === total) resolve();
          });
        });
        req.on('error', reject);
        req.end(body);
      }
      if (seq < total) setTimeout(tick, 1);
    };
    tick();
  });
  // Every subscriber reaches the end (or the run fails after 30 s).
  const deadline = performance.now() + 30_000;
  // Raw: concurrent POSTs may land in any order; the reference is the stream's content itself.
  const expectedBytes = kind === 'raw'
    ? Buffer.from(await (await fetch(`${server.url}/streams/${name}/range?from=${first}`)).arrayBuffer())
    : Buffer.from(bodies.join(''));
  if (kind === 'raw' && expectedBytes.length !== bodies.join('').length) throw new Error('the raw stream does not hold every append');
  while (!subs.every((s) => s.done(total, expectedBytes.length)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const serverCpu = (cpuSeconds(server.child.pid) - cpu0) / ((performance.now() - wall0) / 1000);
  agent.destroy();
  let complete = 0;
  let delivered = 0;
  for (const s of subs) {
    delivered += s.events;
    if (s.check(total, expectedBytes)) complete++;
    s.close();
  }
  latencies.sort((a, b) => a - b);
  postTimes.sort((a, b) => a - b);
  return [kind, String(subscribers), String(total), `${delivered} / ${total * subscribers}`, `${complete} / ${subscribers}`,
    fmtMs(percentile(latencies, 50)), fmtMs(percentile(latencies, 99)), fmtMs(latencies.at(-1) ?? NaN),
    fmtMs(percentile(postTimes, 50)), fmtMs(percentile(postTimes, 99)), `${(serverCpu * 100).toFixed(0)}%`];
}

/** An SSE subscriber over a plain http GET: parses events, records each event's latency. */
function subscribe(url, kind, sent, latencies) {
  return new Promise((resolve, reject) => {
    const ids = [];
    const chunks = [];
    let bytes = 0;
    let events = 0;
    let buffer = '';
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`subscribe: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const now = performance.now();
        buffer += chunk;
        let at;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let data;
          let id;
          for (const line of block.split('\n')) {
            if (line.startsWith('data: ')) data = line.slice(6);
            else if (line.startsWith('id: ')) id = Number(line.slice(4));
          }
          if (data === undefined) continue;
          if (kind === 'records') {
            const { seq } = JSON.parse(data);
            ids.push(id);
            events++;
            latencies.push(now - sent[seq]);
          } else {
            // A raw event may carry several appends (one per turn): each one's latency counts.
            const piece = Buffer.from(data, 'base64');
            chunks.push(piece);
            bytes += piece.length;
            for (const m of piece.toString('latin1').matchAll(/<(\d{8})>/g)) {
              events++;
              latencies.push(now - sent[Number(m[1])]);
            }
          }
        }
      });
      resolve({
        get events() {
          return events;
        },
        done: (total, totalBytes) => (kind === 'records' ? ids.length >= total : bytes >= totalBytes),
        check: (total, expected) => {
          if (kind === 'records') return ids.length === total && ids.every((id, i) => id === i + 2);
          return bytes === expected.length && Buffer.concat(chunks).equals(expected);
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

// --- child: one server ---------------------------------------------------------------------------

if (process.argv[2] === 'server') {
  const [, , , kind, dir] = process.argv;
  let port;
  if (kind === 'aof') {
    const { startService } = await import('../dist/service/server.js');
    const service = await startService({ dir, port: 0, handleSignals: true });
    port = service.port;
  } else {
    const fd = fs.openSync(path.join(dir, 'bench.plain'), 'a');
    let size = 0;
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        const offset = size;
        if (kind === 'fs') fs.writeSync(fd, body);
        size += body.length;
        const text = JSON.stringify({ offset, size });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
    process.on('SIGTERM', () => server.close(() => process.exit(0)));
  }
  // The parent holds our stdin: if it dies, close as on SIGTERM.
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM')).resume();
  process.stdout.write(`ready ${port}\n`);
} else {
  await main();
}
