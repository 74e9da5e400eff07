/**
 * `mmap-aof/nats` against a real nats-server (Debian's package; .ci/run installs it): each test
 * starts its own on a free loopback port with JetStream in a temp store, and stops it.
 * Ship then mirror round trip; kill -9 of the shipper and of the mirror at random points
 * (AOF_NATS_KILLS, default 50 / 10; a seed replays them); the server killed and restarted on its
 * store mid-run; bad input.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Log } from '../src/index.js';
import { startService } from '../src/service/server.js';
import { ID_HEADER, mirror, ship } from '../src/nats/index.js';
import { ROOT, fixture, skipTitle, tmpDir } from './helpers.js';
import { prng } from './fixtures/prng.mjs';

const HAS_SERVER = spawnSync('nats-server', ['--version']).status === 0;
const DIST_NATS = path.join(ROOT, 'dist', 'nats', 'index.js');
const KILLS = Number(process.env.AOF_NATS_KILLS ?? 50);
const SEED = Number(process.env.AOF_NATS_SEED ?? Math.floor(Math.random() * 2 ** 31));

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  return port;
}

/** A nats-server with JetStream on a free loopback port, its store in `store`. */
class NatsServer {
  #child: ChildProcess | undefined;
  readonly url: string;
  constructor(readonly port: number, readonly store: string) {
    this.url = `127.0.0.1:${port}`;
  }
  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), tmpDir('aof-nats-store-'));
    await s.start();
    servers.push(s);
    return s;
  }
  async start(): Promise<void> {
    const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.store], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        if (err.includes('Server is ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${err}`)));
    });
  }
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}
const servers: NatsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});

async function makeStream(server: NatsServer, stream: string, subjects: string[], extra: Record<string, unknown> = {}): Promise<void> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects, ...extra });
  } finally {
    await nc.close();
  }
}

/** Every message of the stream, by sequence: [Aof-Id header, data]. */
async function streamContent(server: NatsServer, stream: string): Promise<Array<[number, Buffer]>> {
  const nc = await connect({ servers: server.url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Array<[number, Buffer]> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      out.push([Number(m!.header?.get(ID_HEADER)), Buffer.from(m!.data)]);
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** `aof ARGS` as a child: its exit status and output. */
function aofChild(args: string[]): { child: ChildProcess; output(): string; exit: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'aof.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { child, output: () => stdout, exit: once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr })) };
}

/** The last id of the record log in `dir` as its segments say, without taking its lock (0: none yet). */
function mirroredTo(dir: string): number {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'aof.js'), 'tail', '-n', '1', '--ids', dir], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split('\t')[0]) || 0 : 0;
}

function recordOf(id: number): Buffer {
  const len = (id * 7919) % 300;
  return Buffer.from(`${id}:${'x'.repeat(len)}`);
}

async function logOf(dir: string, count: number): Promise<Log> {
  const log = await Log.open(dir, { segmentSize: 64 * 1024 });
  for (let id = log.lastId + 1; id <= count; id++) log.append(recordOf(id));
  return log;
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function peer(config: Record<string, unknown>): { child: ChildProcess; started: Promise<void>; exit: Promise<[number | null, string]> } {
  const child = spawn(process.execPath, [fixture('nats-peer.mjs'), JSON.stringify({ dist: DIST_NATS, ...config })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const started = new Promise<void>((resolve) => child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('started') && resolve()));
  const exit = once(child, 'exit').then(([code]) => [code as number | null, stderr] as [number | null, string]);
  return { child, started, exit };
}

describe.runIf(HAS_SERVER)(skipTitle(HAS_SERVER, 'mmap-aof/nats against a real nats-server', 'nats-server is missing: install Debian\'s nats-server (.ci/run does)'), () => { // NOTE: skipped when Debian's nats-server is not installed (.ci/run installs it)
  it('ship then mirror: the mirror\'s log holds the same records, byte for byte, with the same ids, in order; both resume where they stopped', async () => {
    const server = await NatsServer.start();
    await makeStream(server, 'EVENTS', ['events.app']);
    const dir = tmpDir();
    const log = await logOf(dir, 2000);
    const shipper = ship(dir, { servers: server.url, stream: 'EVENTS', subject: 'events.app', window: 32 });
    await until(() => shipper.stats().lastId === 2000, 'the shipper shipping 2000 records');
    const copy = tmpDir();
    const m = mirror({ servers: server.url, stream: 'EVENTS', dir: copy });
    await until(() => m.stats().durableId === 2000, 'the mirror');
    for (let id = 2001; id <= 2500; id++) log.append(recordOf(id)); // shipped and mirrored live
    await until(() => m.stats().durableId === 2500, 'the mirror following live appends');
    expect(shipper.stats()).toMatchObject({ state: 'shipping', lastId: 2500, lastSequence: 2500, inFlight: 0, lagRecords: 0 });
    await shipper.close();
    await m.close();
    await expect(shipper.done).resolves.toBeUndefined();
    // Restarted: each picks up where the stream (shipper) and the local log (mirror) end.
    for (let id = 2501; id <= 2600; id++) log.append(recordOf(id));
    const again = ship(dir, { servers: server.url, stream: 'EVENTS', subject: 'events.app' });
    const m2 = mirror({ servers: server.url, stream: 'EVENTS', dir: copy });
    await until(() => m2.stats().durableId === 2600, 'the restarted mirror');
    expect(again.stats().shipped).toBe(100);
    await again.close();
    await m2.close();
    await log.close();
    const mirrored = await Log.open(copy);
    expect([mirrored.firstId, mirrored.lastId]).toEqual([1, 2600]);
    for (let id = 1; id <= 2600; id++) expect(mirrored.get(id).equals(recordOf(id)), `record ${id}`).toBe(true);
    await mirrored.close();
    const content = await streamContent(server, 'EVENTS');
    expect(content.map(([id]) => id)).toEqual(Array.from({ length: 2600 }, (_, i) => i + 1));
  });

  it('ship(log) of an open Log follows it in process, and stops by itself when the Log closes', async () => {
    const server = await NatsServer.start();
    await makeStream(server, 'OPEN', ['open.a']);
    const log = await logOf(tmpDir(), 100);
    const shipper = ship(log, { servers: server.url, stream: 'OPEN', subject: 'open.a' });
    await until(() => shipper.stats().lastId === 100, 'the first 100');
    for (let id = 101; id <= 150; id++) log.append(recordOf(id));
    await until(() => shipper.stats().lastId === 150, 'live appends');
    expect(shipper.stats().lagRecords).toBe(0);
    await log.close();
    await expect(shipper.done).resolves.toBeUndefined();
    expect(shipper.stats().state).toBe('stopped');
    const content = await streamContent(server, 'OPEN');
    content.forEach(([id, data], i) => {
      expect(id).toBe(i + 1);
      expect(data.equals(recordOf(id))).toBe(true);
    });
    expect(content).toHaveLength(150);
  });

  it(`kill -9 of the shipper at random points (${KILLS} kills, seed ${SEED}): the stream holds every record exactly once, in order`, async () => {
    console.log(`nats ship torture: seed ${SEED} (AOF_NATS_SEED=${SEED} reproduces), ${KILLS} kills`);
    const random = prng(SEED);
    const server = await NatsServer.start();
    await makeStream(server, 'T', ['t.ship']);
    const dir = tmpDir();
    const log = await logOf(dir, 100);
    for (let k = 0; k < KILLS; k++) {
      for (let i = 0, n = Math.floor(random() * 200); i < n; i++) log.append(recordOf(log.lastId + 1));
      const p = peer({ role: 'ship', dir, servers: server.url, stream: 'T', subject: 't.ship', window: 1 + Math.floor(random() * 128) });
      await p.started;
      await new Promise((r) => setTimeout(r, random() * 60));
      p.child.kill('SIGKILL');
      await p.exit;
    }
    const last = peer({ role: 'ship', dir, servers: server.url, stream: 'T', subject: 't.ship', until: log.lastId });
    const [code, stderr] = await last.exit;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const content = await streamContent(server, 'T');
    expect(content.length).toBe(log.lastId);
    content.forEach(([id, data], i) => {
      expect(id).toBe(i + 1);
      expect(data.equals(recordOf(i + 1)), `record ${i + 1}`).toBe(true);
    });
    await log.close();
  }, 60_000 + KILLS * 2_000); // each kill starts a process (~0.3 s here, more on a loaded machine)

  it(`kill -9 of the mirror at random points (${Math.ceil(KILLS / 5)} kills): the local log is always an exact prefix of the stream, then catches up`, async () => {
    const random = prng(SEED + 1);
    const server = await NatsServer.start();
    await makeStream(server, 'M', ['m.a']);
    const source = tmpDir();
    const log = await logOf(source, 3000);
    const shipper = ship(source, { servers: server.url, stream: 'M', subject: 'm.a' });
    await until(() => shipper.stats().lastId === 3000, 'shipping');
    const copy = tmpDir();
    for (let k = 0; k < Math.ceil(KILLS / 5); k++) {
      for (let i = 0; i < 100; i++) log.append(recordOf(log.lastId + 1));
      const p = peer({ role: 'mirror', dir: copy, servers: server.url, stream: 'M' });
      await p.started;
      await new Promise((r) => setTimeout(r, random() * 100));
      p.child.kill('SIGKILL');
      await p.exit;
      const local = await Log.open(copy);
      for (let id = local.firstId; id <= local.lastId; id++) expect(local.get(id).equals(recordOf(id)), `record ${id} after kill ${k}`).toBe(true);
      await local.close();
    }
    await until(() => shipper.stats().lastId === log.lastId, 'shipping the rest');
    const last = peer({ role: 'mirror', dir: copy, servers: server.url, stream: 'M', until: log.lastId });
    const [code, stderr] = await last.exit;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const local = await Log.open(copy);
    expect(local.lastId).toBe(log.lastId);
    for (let id = 1; id <= local.lastId; id++) expect(local.get(id).equals(recordOf(id))).toBe(true);
    await local.close();
    await shipper.close();
    await log.close();
  }, 60_000 + KILLS * 2_000);

  it('the server killed (SIGKILL) and restarted on its store mid-run: shipper and mirror carry on and end with every record exactly once', async () => {
    const server = await NatsServer.start();
    await makeStream(server, 'R', ['r.a'], { storage: 'file' });
    const dir = tmpDir();
    const copy = tmpDir();
    const log = await logOf(dir, 500);
    const shipper = ship(dir, { servers: server.url, stream: 'R', subject: 'r.a', retryMs: 50 });
    const m = mirror({ servers: server.url, stream: 'R', dir: copy });
    await until(() => m.stats().durableId === 500, 'the first 500 mirrored');
    await server.kill();
    for (let i = 0; i < 500; i++) log.append(recordOf(log.lastId + 1)); // the writer does not wait for the server
    // The lag counts the log's records the stream is not known to hold, read or not.
    await until(() => shipper.stats().lagRecords === 1000 - shipper.stats().lastId && shipper.stats().lastId <= 500, 'the lag during the outage');
    expect(shipper.stats().lagRecords).toBeGreaterThanOrEqual(500);
    await server.start();
    await until(() => shipper.stats().lastId === 1000, 'the shipper after the restart', 30_000);
    await until(() => m.stats().durableId === 1000, 'the mirror after the restart', 30_000);
    expect(shipper.stats()).toMatchObject({ lagRecords: 0, lagSeconds: 0 });
    expect(shipper.stats().retries).toBeGreaterThan(0);
    await shipper.close();
    await m.close();
    const content = await streamContent(server, 'R');
    expect(content.map(([id]) => id)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const local = await Log.open(copy);
    expect(local.lastId).toBe(1000);
    await local.close();
    await log.close();
  }, 90_000);

  it('aof ship and aof mirror run until SIGINT (exit 0, in-flight settled, where they stopped on stdout); a failure is one error line and exit 1', async () => {
    const server = await NatsServer.start();
    await makeStream(server, 'CLI', ['cli.a']);
    const dir = tmpDir();
    const log = await logOf(dir, 700);
    const copy = tmpDir();
    const shipping = aofChild(['ship', dir, '--servers', server.url, '--stream', 'CLI', '--subject', 'cli.a', '--window', '16']);
    const mirroring = aofChild(['mirror', copy, '--servers', server.url, '--stream', 'CLI']);
    await until(() => fs.existsSync(copy) && mirroredTo(copy) >= 700, 'the CLI mirror reaching 700', 30_000);
    shipping.child.kill('SIGINT');
    mirroring.child.kill('SIGINT');
    const [shipped, mirrored] = await Promise.all([shipping.exit, mirroring.exit]);
    expect(shipped).toEqual({ code: 0, stdout: 'shipped 700 records to cli.a; the stream holds up to id 700 (sequence 700)\n', stderr: '' });
    expect(mirrored).toEqual({ code: 0, stdout: `mirrored 700 records of CLI into ${copy}; durable up to id 700\n`, stderr: '' });
    const unreachable = await aofChild(['ship', dir, '--servers', `127.0.0.1:${await freePort()}`, '--stream', 'CLI', '--subject', 'cli.a']).exit;
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^aof: ERR_AOF_REMOTE: cannot connect to NATS/);
    const usage = await aofChild(['ship', dir, '--stream', 'CLI']).exit;
    expect(usage.code).toBe(2);
    await log.close();
  });

  it('the service ships a record stream marked for shipping (from its first append, made by a POST), with its lag in /stats, /metrics and the dashboard; `aof serve --ship` does the same', async () => {
    const server = await NatsServer.start();
    await makeStream(server, 'SVC', ['svc.orders']);
    const dir = tmpDir();
    const service = await startService({ dir, port: 0, ship: { servers: server.url, streams: [{ name: 'orders', stream: 'SVC', subject: 'svc.orders' }] } });
    try {
      expect(service.stats().shipping).toEqual([expect.objectContaining({ name: 'orders', state: 'waiting', shipped: 0 })]);
      const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ order: i + 1 })).join('\n') + '\n';
      const posted = await fetch(new URL('/streams/orders?records=1', service.url), { method: 'POST', body: lines, headers: { 'content-type': 'application/x-ndjson' } });
      expect(posted.status).toBe(200);
      await until(() => service.stats().shipping[0]!.lastId === 50, 'the service shipping 50 records');
      expect(service.stats().shipping[0]).toMatchObject({ state: 'shipping', shipped: 50, lastId: 50, lagRecords: 0, retries: 0 });
      const metrics = await (await fetch(new URL('/metrics', service.url))).text();
      expect(metrics).toMatch(/^mmap_aof_service_ship_records_total\{stream="orders",subject="svc.orders"\} 50$/m);
      expect(metrics).toMatch(/^mmap_aof_service_ship_lag_records\{stream="orders",subject="svc.orders"\} 0$/m);
      expect(metrics).toMatch(/^mmap_aof_service_ship_up\{stream="orders",subject="svc.orders"\} 1$/m);
      expect(await (await fetch(service.url)).text()).toContain('id="shipping"');
    } finally {
      await service.close();
    }
    const content = await streamContent(server, 'SVC');
    expect(content.map(([id, data]) => [id, JSON.parse(data.toString()).order])).toEqual(Array.from({ length: 50 }, (_, i) => [i + 1, i + 1]));
    // The CLI: --ship and --nats reach the service; a bad --ship is a usage error.
    const served = aofChild(['serve', '--dir', dir, '--port', '0', '--ship', 'orders=SVC:svc.orders', '--nats', server.url]);
    await until(() => served.output().includes('serving'), 'aof serve');
    const url = /on (http:\/\/\S+)/.exec(served.output())![1]!;
    await fetch(new URL('/streams/orders?records=1', url), { method: 'POST', body: '{"order":51}\n' });
    let stats = await (await fetch(new URL('/stats', url))).json() as { shipping: Array<{ lastId: number }> };
    const deadline = Date.now() + 20_000;
    while (stats.shipping[0]!.lastId !== 51 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await (await fetch(new URL('/stats', url))).json() as { shipping: Array<{ lastId: number }> };
    }
    expect(stats.shipping[0]!.lastId).toBe(51);
    served.child.kill('SIGTERM');
    expect((await served.exit).code).toBe(0);
    expect((await aofChild(['serve', '--dir', dir, '--ship', 'orders']).exit).code).toBe(2);
  });

  it('bad input: an unreachable server, a subject no stream holds, a subject bound to another stream, a record over max payload, two logs on one subject, bad options', async () => {
    const server = await NatsServer.start();
    await makeStream(server, 'A', ['a.x']);
    await makeStream(server, 'B', ['b.x']);
    const dir = tmpDir();
    const log = await logOf(dir, 10);
    const unreachable = ship(dir, { servers: `127.0.0.1:${await freePort()}`, stream: 'A', subject: 'a.x' });
    await expect(unreachable.done).rejects.toMatchObject({ code: 'ERR_AOF_REMOTE' });
    await expect(ship(dir, { servers: server.url, stream: 'A', subject: 'nowhere' }).done).rejects.toMatchObject({ code: 'ERR_AOF_REMOTE' });
    await expect(ship(dir, { servers: server.url, stream: 'A', subject: 'b.x' }).done).rejects.toMatchObject({ code: 'ERR_AOF_REMOTE', message: /bound to stream B/ });
    await expect(mirror({ servers: server.url, stream: 'NONE', dir: tmpDir() }).done).rejects.toMatchObject({ code: 'ERR_AOF_REMOTE' });
    // A record over the server's max payload (1 MiB): the shipper stops at it, having shipped the ones before.
    const bigDir = tmpDir();
    const big = await Log.open(bigDir, { maxRecordSize: 2 * 1024 * 1024, segmentSize: 8 * 1024 * 1024 });
    big.append([recordOf(1), recordOf(2), Buffer.alloc(1024 * 1024 + 10), recordOf(4)]);
    const stopped = ship(bigDir, { servers: server.url, stream: 'A', subject: 'a.x' });
    await expect(stopped.done).rejects.toMatchObject({ code: 'ERR_AOF_RECORD_TOO_BIG', message: /record 3/ });
    expect(stopped.stats()).toMatchObject({ state: 'failed', lastId: 2 });
    await big.close();
    // Another log shipped to the same subject: refused, not interleaved; two shippers of different
    // logs at once on an empty subject: one of them is refused.
    const other = tmpDir();
    const otherLog = await Log.open(other);
    for (let id = 1; id <= 12; id++) otherLog.append(Buffer.from(`other ${id}`));
    const first = ship(dir, { servers: server.url, stream: 'B', subject: 'b.x' });
    await until(() => first.stats().lastId === 10, 'the first log shipped');
    const second = ship(other, { servers: server.url, stream: 'B', subject: 'b.x' });
    await expect(second.done).rejects.toMatchObject({ code: 'ERR_AOF_CONFLICT', message: /holds another log/ });
    log.append(recordOf(11));
    await until(() => first.stats().lastId === 11, 'the first log going on');
    await first.close();
    const content = await streamContent(server, 'B');
    expect(content.map(([id]) => id)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    content.forEach(([id, data]) => expect(data.equals(recordOf(id))).toBe(true));
    await makeStream(server, 'C', ['c.x']);
    const racers = [ship(dir, { servers: server.url, stream: 'C', subject: 'c.x', window: 1 }), ship(other, { servers: server.url, stream: 'C', subject: 'c.x', window: 1 })];
    const settled = await Promise.race([
      Promise.any(racers.map((r) => r.done.then(() => { throw new Error('stopped'); }, (e: { code: string }) => e.code))),
      until(() => racers.every((r) => r.stats().lastId >= 11), 'both', 5000).then(() => 'no conflict', () => 'timeout'),
    ]);
    await Promise.all(racers.map((r) => r.close()));
    const raced = await streamContent(server, 'C');
    // Whoever won, the subject holds one log's records from id 1 on, nothing of the other's.
    const winner = raced[0]![1].equals(recordOf(1)) ? 'first' : 'other';
    raced.forEach(([id, data]) => expect(data.equals(winner === 'first' ? recordOf(id) : Buffer.from(`other ${id}`)), `id ${id}`).toBe(true));
    expect(['ERR_AOF_CONFLICT']).toContain(settled);
    await otherLog.close();
    // Records trimmed from the log before they were shipped: refused, not a gap in the stream.
    await makeStream(server, 'D', ['d.x']);
    const trimmedDir = tmpDir();
    const trimmed = await logOf(trimmedDir, 20);
    const before = ship(trimmedDir, { servers: server.url, stream: 'D', subject: 'd.x' });
    await until(() => before.stats().lastId === 20, 'the first 20 shipped');
    await before.close();
    for (let id = 21; id <= 2000; id++) trimmed.append(recordOf(id));
    await trimmed.trim(1500);
    expect(trimmed.firstId).toBeGreaterThan(21);
    await expect(ship(trimmedDir, { servers: server.url, stream: 'D', subject: 'd.x' }).done)
      .rejects.toMatchObject({ code: 'ERR_AOF_NOT_FOUND', message: /records 21 to \d+ were trimmed/ });
    expect((await streamContent(server, 'D')).length).toBe(20);
    await trimmed.close();
    for (const bad of [{}, { stream: 'A' }, { stream: 'A', subject: 'a.*' }, { stream: 'A', subject: 'a.x', window: 0 }, { stream: '', subject: 'a.x' }]) {
      expect(() => ship(dir, bad as never), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
    }
    expect(() => mirror({ stream: 'A' } as never)).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
    await log.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
