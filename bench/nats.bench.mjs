// mmap-aof/nats against a local nats-server (Debian's; started here on a free loopback port with
// JetStream in a temp store), one run, rows interleaved round by round:
//   1. throughput: shipping a record log of 100-byte records (ship(), window 256) against the
//      simplest honest alternative, a bare loop of js.publish with the same window (the client's
//      own limit: no headers, no de-duplication id, no expectation), each into a fresh stream.
//   2. end to end: one record per millisecond appended (log.append) in this process, shipped (ship()
//      given the open Log, so it follows it in process), and
//      read in another process from the mirror's local log (mirror() + Log.follow of its
//      directory), p50/p99 of now − the record's stamp; against the same path with plain
//      js.publish in this process and a consumer (consume()) in the other. One clock: both
//      processes stamp with performance.timeOrigin + performance.now().
//   3. the writer during an outage: log.append rate of 100-byte records with no shipper, with
//      `aof ship` (another process) and the server up, and with it and the server stopped (SIGSTOP).
//
//   node bench/nats.bench.mjs     (or `node bench/run.mjs nats`, which saves bench/results/nats.txt)
//
// Environment:
//   BENCH_NATS_RECORDS   records per throughput row           (default 50000)
//   BENCH_NATS_ROUNDS    rounds over every row; medians       (default 3)
//   BENCH_NATS_E2E       records per end-to-end row            (default 2000)
//   BENCH_NATS_APPEND_MS milliseconds per writer-rate row      (default 1000)
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, loadAverage, median, si, table } from './lib.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

const RECORDS = envInt('BENCH_NATS_RECORDS', 50_000);
const ROUNDS = envInt('BENCH_NATS_ROUNDS', 3);
const E2E = envInt('BENCH_NATS_E2E', 2000);
const APPEND_MS = envInt('BENCH_NATS_APPEND_MS', 1000);
const WINDOW = 256;
const RECORD = 100;

if (process.argv[2] === 'receiver') await receiver(JSON.parse(process.argv[3]));
else await main();

async function main() {
  if (spawnSync('nats-server', ['--version']).status !== 0) {
    console.log('nats-server is missing (Debian\'s nats-server package): nothing measured');
    return;
  }
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const { Log } = await import('../dist/index.js');
  const { ship } = await import('../dist/nats/index.js');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'aof-bench-nats-'));
  const server = await startServer(path.join(base, 'store'));
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  let streams = 0;
  const freshStream = async () => {
    const name = `B${++streams}`;
    await jsm.streams.add({ name, subjects: [`b.${streams}`] });
    return { name, subject: `b.${streams}` };
  };
  const payload = Buffer.alloc(RECORD, 0x61);
  console.log(`nats-server ${spawnSync('nats-server', ['--version'], { encoding: 'utf8' }).stdout.trim()} on ${server.url}, store ${base}; load ${loadAverage()}`);

  // 1. throughput
  const logDir = path.join(base, 'log');
  const log = await Log.open(logDir);
  for (let i = 0; i < RECORDS; i += 1000) log.append(Array.from({ length: Math.min(1000, RECORDS - i) }, () => payload));
  await log.close();
  const rows = { bare: [], ship: [] };
  for (let round = 0; round < ROUNDS; round++) {
    {
      const { subject } = await freshStream();
      const start = performance.now();
      const inFlight = [];
      for (let i = 0; i < RECORDS; i++) {
        inFlight.push(js.publish(subject, payload));
        if (inFlight.length >= WINDOW) await inFlight.shift();
      }
      await Promise.all(inFlight);
      rows.bare.push(RECORDS / ((performance.now() - start) / 1000));
    }
    {
      const { name, subject } = await freshStream();
      const start = performance.now();
      const shipper = ship(logDir, { connection: nc, stream: name, subject, window: WINDOW });
      while (shipper.stats().lastId < RECORDS) {
        await new Promise((r) => setImmediate(r));
        if (shipper.stats().state === 'failed') await shipper.done;
      }
      rows.ship.push(RECORDS / ((performance.now() - start) / 1000));
      await shipper.close();
    }
  }
  const bare = median(rows.bare);
  const shipped = median(rows.ship);
  console.log(`\n1. throughput: ${RECORDS} records of ${RECORD} bytes, window ${WINDOW}, medians of ${ROUNDS} rounds (each: ${rows.ship.map((r) => si(r)).join(', ')} / ${rows.bare.map((r) => si(r)).join(', ')})`);
  console.log(table(['row', 'records/s', 'vs bare'], [
    ['js.publish loop (bare)', si(bare), '1.00×'],
    ['ship() from a record log', si(shipped), `${(shipped / bare).toFixed(2)}×`],
  ]));
  console.log(`target: ship ≥ 0.9× the bare publish loop: ${shipped / bare >= 0.9 ? 'MET' : 'NOT MET'}`);

  // 2. end to end
  const e2e = { ship: [], bare: [], 'ship+consume': [], 'bare+mirror': [] };
  const PATHS = (process.env.BENCH_NATS_E2E_PATHS || 'bare,ship,ship+consume,bare+mirror').split(',');
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of PATHS) {
      const { name, subject } = await freshStream();
      const dir = path.join(base, `e2e-${mode}-${round}`);
      const receive = mode === 'ship' || mode === 'bare+mirror' ? 'ship' : 'bare';
      const send = mode.startsWith('ship') ? 'ship' : 'bare';
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'receiver', JSON.stringify({ mode: receive, url: server.url, stream: name, dir: `${dir}-mirror`, count: E2E })], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
      while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 5));
      const source = await Log.open(dir);
      const shipper = send === 'ship' ? ship(source, { connection: nc, stream: name, subject }) : undefined; // the open Log: its own tail
      const stamp = Buffer.alloc(RECORD);
      for (let i = 0; i < E2E; i++) {
        stamp.writeDoubleLE(performance.timeOrigin + performance.now(), 0);
        if (shipper) source.append(stamp);
        else void js.publish(subject, stamp);
        await new Promise((r) => setTimeout(r, 1));
      }
      await once(child, 'exit');
      const latencies = JSON.parse(out.slice(out.indexOf('{')));
      e2e[mode].push(latencies);
      await shipper?.close();
      await source.close();
    }
  }
  const pick = (mode, key) => median(e2e[mode].map((l) => l[key]));
  console.log(`\n2. end to end: ${E2E} records, one per ms; µs from the append (or publish) to the other process reading it; medians of ${ROUNDS} rounds`);
  const label = { bare: 'js.publish → consume() (bare)', ship: 'log.append → ship → mirror → Log.follow',
    'ship+consume': 'log.append → ship → consume()', 'bare+mirror': 'js.publish → mirror → Log.follow' };
  console.log(table(['path', 'p50 µs', 'p99 µs', 'p50 vs bare'], PATHS.map((p) =>
    [label[p], pick(p, 'p50').toFixed(0), pick(p, 'p99').toFixed(0), `${(pick(p, 'p50') / pick('bare', 'p50')).toFixed(2)}×`])));
  console.log(`target: end-to-end p50 within 1.2× the bare path: ${pick('ship', 'p50') / pick('bare', 'p50') <= 1.2 ? 'MET' : 'NOT MET'}`);

  // 3. the writer during an outage: the shipper in a process of its own (`aof ship`), as deployed
  const rates = { none: [], up: [], down: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of ['none', 'up', 'down']) {
      const { name, subject } = await freshStream();
      const dir = path.join(base, `rate-${row}-${round}`);
      const writer = await Log.open(dir);
      writer.append(payload);
      let shipper;
      if (row !== 'none') {
        shipper = spawn(process.execPath, [path.join(root, 'bin', 'aof.js'), 'ship', dir, '--servers', server.url, '--stream', name, '--subject', subject], { stdio: 'ignore' });
        while ((await jsm.streams.info(name)).state.messages < 1) await new Promise((r) => setTimeout(r, 5));
      }
      if (row === 'down') server.stop();
      let n = 0;
      const end = performance.now() + APPEND_MS;
      while (performance.now() < end) {
        for (let i = 0; i < 1000; i++) writer.append(payload);
        n += 1000;
        await new Promise((r) => setImmediate(r));
      }
      rates[row].push(n / (APPEND_MS / 1000));
      if (row === 'down') server.cont();
      if (shipper) {
        shipper.kill('SIGTERM');
        await once(shipper, 'exit');
      }
      await writer.close();
    }
  }
  const none = median(rates.none);
  console.log(`\n3. the writer: log.append of ${RECORD}-byte records for ${APPEND_MS} ms (turns of 1000, yielding between), with \`aof ship\` in another process, medians of ${ROUNDS} rounds (2 cores: the shipper, the server and the writer share them)`);
  console.log(table(['row', 'appends/s', 'vs no shipper'], [
    ['no shipper', si(none), '1.00×'],
    ['shipping, server up', si(median(rates.up)), `${(median(rates.up) / none).toFixed(2)}×`],
    ['shipping, server stopped (SIGSTOP)', si(median(rates.down)), `${(median(rates.down) / none).toFixed(2)}×`],
  ]));
  console.log(`target: the writer's rate during an outage ≥ 0.9× its rate without shipping: ${median(rates.down) / none >= 0.9 ? 'MET' : 'NOT MET'}`);
  await nc.close();
  server.kill();
  fs.rmSync(base, { recursive: true, force: true });
}

/** The other process of section 2: mirror + Log.follow (ship), or a consumer (bare); prints the latencies. */
async function receiver({ mode, url, stream, dir, count }) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream } = await import('@nats-io/jetstream');
  const { Log } = await import('../dist/index.js');
  const { mirror } = await import('../dist/nats/index.js');
  const latencies = [];
  const now = () => performance.timeOrigin + performance.now();
  if (mode === 'bare') {
    const nc = await connect({ servers: url });
    const consumer = await jetstream(nc).consumers.get(stream);
    const messages = await consumer.consume();
    process.stdout.write('ready\n');
    for await (const m of messages) {
      latencies.push((now() - Buffer.from(m.data).readDoubleLE(0)) * 1000);
      if (latencies.length === count) break;
    }
    await nc.close();
  } else {
    const m = mirror({ servers: url, stream, dir });
    while (m.stats().state !== 'mirroring') await new Promise((r) => setTimeout(r, 5));
    process.stdout.write('ready\n');
    const reader = Log.follow(dir);
    for await (const r of reader.tail(1)) {
      latencies.push((now() - r.data.readDoubleLE(0)) * 1000);
      if (latencies.length === count) break;
    }
    await reader.close();
    await m.close();
  }
  const s = latencies.slice(Math.floor(count / 10)).sort((a, b) => a - b); // the first tenth warms up
  process.stdout.write(JSON.stringify({ p50: s[Math.floor(s.length * 0.5)], p99: s[Math.floor(s.length * 0.99)] }));
}

async function startServer(store) {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = probe.address().port;
  probe.close();
  const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      if (err.includes('Server is ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${err}`)));
  });
  return {
    url: `127.0.0.1:${port}`,
    stop: () => child.kill('SIGSTOP'),
    cont: () => child.kill('SIGCONT'),
    kill: () => child.kill('SIGKILL'),
  };
}
