/**
 * The HTTP service (src/service/): appends, SSE following with resumption and backpressure, range
 * reads, the stream list, error statuses, body limits, clients that leave mid-body, Prometheus
 * metrics, the stats feed, and a clean shutdown on SIGTERM in a child process.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Geometry, Manager, RecoveryKind } from '../src/index.js';
import { STAT_METRICS, ServiceCounters, renderMetrics, snakeCase } from '../src/service/metrics.js';
import { startService, type Service, type ServiceOptions } from '../src/service/server.js';
import { Peer, ROOT, fixture, pseudoRandomBytes, reportData, runNode, sha256, tmpDir, turnsUntil } from './helpers.js';

const SERVER_JS = path.join(ROOT, 'dist', 'service', 'server.js');

const services: Service[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
});

async function serve(options: Partial<ServiceOptions> = {}): Promise<Service & { dir: string }> {
  const dir = options.dir ?? tmpDir('aof-service-');
  const s = await startService({ dir, port: 0, manager: { flushIntervalMs: 0 }, ...options });
  services.push(s);
  return Object.assign(s, { dir });
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(s: Service, method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(s.url + url, { method, body, headers });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

const post = (s: Service, url: string, body: string | Buffer, headers: Record<string, string> = {}) => call(s, 'POST', url, body, headers);
const ndjson = { 'content-type': 'application/x-ndjson' };

/** Bytes of a raw stream, read back over HTTP. */
async function rawContent(s: Service, name: string): Promise<Buffer> {
  const r = await fetch(`${s.url}/streams/${name}/range`);
  expect(r.status).toBe(200);
  return Buffer.from(await r.arrayBuffer());
}

// --- a raw HTTP/1.1 exchange over a socket ---------------------------------------------------------

/** A socket to the service that collects what it receives; `response()` waits for a status line and body. */
class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  ended = false;
  readonly #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.#wake();
    });
    const end = () => {
      this.ended = true;
      this.#wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `cond(received text)` holds; fails if the socket ends first (unless `cond` holds then). */
  async until(cond: (text: string) => boolean, what: string): Promise<string> {
    const timer = setTimeout(() => this.#wake(), 20_000);
    const started = performance.now();
    try {
      for (;;) {
        const text = this.received.toString('latin1');
        if (cond(text)) return text;
        if (this.ended) throw new Error(`socket ended before ${what}; received: ${JSON.stringify(text.slice(0, 500))}`);
        if (performance.now() - started > 20_000) throw new Error(`no ${what} within 20 s; received: ${JSON.stringify(text.slice(0, 500))}`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** The first complete response (status, headers, body by Content-Length) after `skip` bytes. */
  async response(skip = 0): Promise<{ status: number; headers: string; body: string; end: number }> {
    let parsed: { status: number; headers: string; body: string; end: number } | undefined;
    await this.until((all) => {
      const text = all.slice(skip);
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return false;
      const headers = text.slice(0, head);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]);
      if (status === 100) {
        parsed = { status, headers, body: '', end: skip + head + 4 };
        return true;
      }
      const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
      if (text.length < head + 4 + length) return false;
      parsed = { status, headers, body: text.slice(head + 4, head + 4 + length), end: skip + head + 4 + length };
      return true;
    }, 'a complete response');
    return parsed!;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// --- an SSE client over node:http (pausable, so backpressure can be tested) -----------------------

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  readonly res: http.IncomingMessage;
  readonly req: http.ClientRequest;
  #buffer = '';
  readonly #waiters: Array<() => void> = [];

  private constructor(req: http.ClientRequest, res: http.IncomingMessage) {
    this.req = req;
    this.res = res;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let at: number;
      while ((at = this.#buffer.indexOf('\n\n')) >= 0) {
        const block = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + 2);
        const ev: SseEvent = { data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
          else if (line.startsWith('data: ')) data.push(line.slice(6));
          else if (line.startsWith('id: ')) ev.id = line.slice(4);
          else if (line.startsWith('event: ')) ev.event = line.slice(7);
        }
        if (data.length) {
          ev.data = data.join('\n');
          this.events.push(ev);
        }
      }
      this.#wake();
    });
    const end = () => {
      this.ended = true;
      this.#wake();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  }

  /** GETs `url`; resolves with the client once the 200 event-stream headers are in (rejects with the body otherwise). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
          return;
        }
        resolve(new SseClient(req, res));
      });
      req.on('error', reject);
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Waits for an event (at index `from` or later) that satisfies `match`. */
  async waitFor(match: (ev: SseEvent) => boolean, what: string, from = 0): Promise<SseEvent> {
    const timer = setTimeout(() => this.#wake(), 20_000);
    const started = performance.now();
    try {
      for (let i = from; ;) {
        for (; i < this.events.length; i++) if (match(this.events[i]!)) return this.events[i]!;
        if (this.ended) throw new Error(`event stream ended before ${what}; last events: ${JSON.stringify(this.events.slice(-3))}`);
        if (performance.now() - started > 20_000) throw new Error(`no ${what} within 20 s; last: ${JSON.stringify(this.events.slice(-3))}`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until `cond()` holds (checked on every chunk received). */
  async until(cond: () => boolean, what: string): Promise<void> {
    const timer = setTimeout(() => this.#wake(), 20_000);
    const started = performance.now();
    try {
      while (!cond()) {
        if (this.ended) throw new Error(`event stream ended before ${what}`);
        if (performance.now() - started > 20_000) throw new Error(`no ${what} within 20 s`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async waitEnded(): Promise<void> {
    while (!this.ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.req.destroy();
  }
}

/** A service over a directory holding one finished raw stream `name` with `content`. */
async function serveFinished(name: string, content: string): Promise<Service & { dir: string }> {
  const dir = tmpDir('aof-service-');
  const m = new Manager(dir, { flushIntervalMs: 0 });
  const aof = m.open(`${name}.aof`);
  aof.write(content);
  await aof.finish();
  await m.close();
  return serve({ dir });
}

/** The bytes of raw SSE events, in order, and the offset after the last one. */
function rawBytes(events: SseEvent[]): Buffer {
  return Buffer.concat(events.filter((e) => e.event === undefined).map((e) => Buffer.from(e.data, 'base64')));
}

// --- Prometheus text format ------------------------------------------------------------------------

interface Sample {
  name: string;
  labels: string;
  value: number;
}

/** A strict-enough parser of the text exposition format; throws on anything a scraper would reject. */
function parsePrometheus(text: string): { types: Map<string, string>; helps: Set<string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const name = line.split(' ')[2]!;
      expect(name, line).toMatch(NAME);
      expect(helps.has(name), `HELP ${name} twice`).toBe(false);
      helps.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(name, line).toMatch(NAME);
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(types.has(name!), `TYPE ${name} twice`).toBe(false);
      // No sample of this family may come before its TYPE line.
      expect(samples.some((s) => s.name === name), `TYPE ${name} after its samples`).toBe(false);
      types.set(name!, type!);
      continue;
    }
    expect(line.startsWith('#'), `unexpected comment: ${line}`).toBe(false);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labels = '', raw] = m!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    expect(Number.isNaN(value) && raw !== 'NaN', `bad value in ${line}`).toBe(false);
    const key = `${name}${labels}`;
    expect(seen.has(key), `duplicate series ${key}`).toBe(false);
    seen.add(key);
    samples.push({ name: name!, labels, value });
  }
  for (const s of samples) {
    const family = types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
    const type = types.get(family);
    expect(type, `sample ${s.name} without a TYPE`).toBeDefined();
    expect(helps.has(family), `family ${family} without HELP`).toBe(true);
    if (type === 'counter') {
      expect(s.name, 'counters end in _total').toMatch(/_total$/);
      expect(s.value).toBeGreaterThanOrEqual(0);
    }
    if (type === 'histogram') expect(s.name).toMatch(/_(bucket|sum|count)$/);
  }
  return { types, helps, samples };
}

function sampleValue(samples: Sample[], name: string, labels = ''): number | undefined {
  return samples.find((s) => s.name === name && s.labels === labels)?.value;
}

// ---------------------------------------------------------------------------------------------------

describe('appending', () => {
  it('a raw POST appends the body as one write and answers with where it starts and the new size', async () => {
    const s = await serve();
    expect((await post(s, '/streams/events', 'hello ')).json).toEqual({ offset: 0, size: 6 });
    expect((await post(s, '/streams/events', Buffer.from('world'))).json).toEqual({ offset: 6, size: 11 });
    expect((await post(s, '/streams/events', '')).json).toEqual({ offset: 11, size: 11 });
    expect((await rawContent(s, 'events')).toString()).toBe('hello world');
    expect(s.manager.stats().writes).toBe(2);
    await s.close();
    // The file is a plain AOF: another Manager reads it back.
    const m = new Manager(s.dir, { flushIntervalMs: 0 });
    const aof = m.open('events.aof', Geometry.open());
    expect(aof.view().toString()).toBe('hello world');
    expect(aof.recovery.kind).toBe(RecoveryKind.Tail);
    await m.close();
  });

  it('an NDJSON POST appends one record per non-blank line as one batch and answers with the first and last id', async () => {
    const s = await serve();
    expect((await post(s, '/streams/orders', '{"n":1}\n{"n":2}\r\n\n  \n[3]\n', ndjson)).json).toEqual({ ids: [1, 3] });
    expect((await post(s, '/streams/orders?records=1', '"four"')).json).toEqual({ ids: [4, 4] });
    const range = await call(s, 'GET', '/streams/orders/range');
    expect(range.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(range.text).toBe('{"n":1}\n{"n":2}\n[3]\n"four"\n');
    expect(fs.statSync(path.join(s.dir, 'orders.log')).isDirectory()).toBe(true);
  });

  it('an NDJSON body with a line that is not JSON, or with no record at all, is refused with 400 and appends nothing', async () => {
    const s = await serve();
    await post(s, '/streams/orders', '{"n":1}\n', ndjson);
    const bad = await post(s, '/streams/orders', '{"n":2}\n{oops\n', ndjson);
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('ERR_AOF_INVALID_ARG');
    expect(bad.json.error.message).toMatch(/line 2/);
    expect((await post(s, '/streams/orders', '\n\n', ndjson)).status).toBe(400);
    expect((await call(s, 'GET', '/streams/orders/range')).text).toBe('{"n":1}\n');
  });

  it('?sync=1 answers only after the write is synced to disk', async () => {
    const s = await serve();
    await post(s, '/streams/a', 'x');
    expect(s.manager.stats().syncs.count).toBe(0);
    expect((await post(s, '/streams/a?sync=1', 'y')).json).toEqual({ offset: 1, size: 2 });
    expect(s.manager.stats().syncs.count).toBe(1);
    expect((await post(s, '/streams/r?sync=1', '{}', ndjson)).json).toEqual({ ids: [1, 1] });
  });

  it('appending the other kind to an existing stream is refused with 409 and changes neither', async () => {
    const s = await serve();
    await post(s, '/streams/raw', 'abc');
    await post(s, '/streams/rec', '{}', ndjson);
    const a = await post(s, '/streams/raw', '{}', ndjson);
    expect(a.status).toBe(409);
    expect(a.json.error.code).toBe('ERR_SERVICE_STREAM_KIND');
    const b = await post(s, '/streams/rec', 'bytes');
    expect(b.status).toBe(409);
    expect(b.json.error.code).toBe('ERR_SERVICE_STREAM_KIND');
    expect((await rawContent(s, 'raw')).toString()).toBe('abc');
    expect((await call(s, 'GET', '/streams/rec/range')).text).toBe('{}\n');
    expect(fs.readdirSync(s.dir).sort()).toEqual(['raw.aof', 'raw.aof-shm', 'rec.log']);
  });

  it('stream names that are not plain names are refused with 400 and nothing is created anywhere', async () => {
    const parent = tmpDir('aof-service-parent-');
    const dir = path.join(parent, 'data');
    const s = await serve({ dir });
    const names = ['..', '%2e%2e', '.hidden', '-dash', 'a..b', 'a%2Fb', '..%2F..%2Fetc', 'a%5Cb', 'a%00b', 'x'.repeat(129), '%E2%82%AC', 'a%20b', '%'];
    for (const name of names) {
      // A raw socket: fetch() would normalise "/streams/.." before sending it.
      const c = await RawClient.connect(s.port);
      c.write(`POST /streams/${name} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`);
      const r = await c.response();
      c.destroy();
      expect(r.status, name).toBe(400);
      expect(JSON.parse(r.body).error.code, name).toBe('ERR_AOF_INVALID_ARG');
    }
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.readdirSync(parent)).toEqual(['data']);
    // The longest good name works.
    expect((await post(s, `/streams/${'a'.repeat(128)}`, 'x')).status).toBe(200);
  });

  it('a full stream answers 507 and a record over maxRecordSize 413; neither appends anything', async () => {
    const s = await serve({ geometry: Geometry.create().with(4096, 8192, 4096), log: { maxRecordSize: 100, segmentSize: 64 * 1024 } });
    await post(s, '/streams/small', 'x'.repeat(4000));
    const full = await post(s, '/streams/small', 'y'.repeat(5000));
    expect(full.status).toBe(507);
    expect(full.json.error.code).toBe('ERR_AOF_FULL');
    expect((await rawContent(s, 'small')).length).toBe(4000);
    const big = await post(s, '/streams/recs', `{"a":1}\n"${'z'.repeat(200)}"\n`, ndjson);
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('ERR_AOF_RECORD_TOO_BIG');
    expect((await post(s, '/streams/recs', '1', ndjson)).json).toEqual({ ids: [1, 1] });
  });

  it('a stream another writer holds answers 409 ERR_AOF_LOCKED, and a finished one refuses appends with 409', async () => {
    const dir = tmpDir('aof-service-');
    const other = new Manager(dir, { flushIntervalMs: 0 });
    other.open('held.aof').write('mine');
    const done = other.open('done.aof');
    done.write('final');
    await done.finish();
    const s = await serve({ dir });
    const held = await post(s, '/streams/held', 'x');
    expect(held.status).toBe(409);
    expect(held.json.error.code).toBe('ERR_AOF_LOCKED');
    const finished = await post(s, '/streams/done', 'x');
    expect(finished.status).toBe(409);
    expect(finished.json.error.code).toBe('ERR_AOF_READ_ONLY');
    expect((await rawContent(s, 'done')).toString()).toBe('final');
    await other.close();
    expect((await post(s, '/streams/held', '!')).json).toEqual({ offset: 4, size: 5 });
  });
});

describe('request bodies', () => {
  it('a declared body over bodyLimit is read to its end and discarded, then answered 413, and the connection is closed', async () => {
    const s = await serve({ bodyLimit: 1000 });
    const c = await RawClient.connect(s.port);
    c.write('POST /streams/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n');
    c.write('x'.repeat(1001));
    const r = await c.response();
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('ERR_SERVICE_BODY_TOO_LARGE');
    expect(r.headers).toMatch(/connection: close/i);
    await c.until(() => c.ended, 'the server closing the connection');
    expect((await call(s, 'GET', '/streams/big/range')).status).toBe(404);
    // Exactly the limit is fine.
    expect((await post(s, '/streams/big', 'x'.repeat(1000))).json).toEqual({ offset: 0, size: 1000 });
  });

  it('fetch() of 64 MiB bodies over bodyLimit, from another process, reads the 413 every time (no broken pipe while it is still sending)', async () => {
    const s = await serve({ bodyLimit: 64 * 1024 });
    const run = await runNode(fixture('post-oversized.mjs'), [String(s.port), '/streams/huge', '64', '10']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual(Array.from({ length: 10 }, () => ({ status: 413, code: 'ERR_SERVICE_BODY_TOO_LARGE' })));
    expect((await call(s, 'GET', '/streams/huge/range')).status).toBe(404);
  });

  it('a chunked body gets 413 as soon as it passes bodyLimit, while the client is still sending, and appends nothing', async () => {
    const s = await serve({ bodyLimit: 256 * 1024 });
    await post(s, '/streams/big', 'before');
    const c = await RawClient.connect(s.port);
    c.write('POST /streams/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 5; i++) c.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    // The body is never terminated (no 0-length chunk): the answer cannot wait for its end.
    const r = await c.response();
    expect(r.status).toBe(413);
    c.destroy();
    expect((await rawContent(s, 'big')).toString()).toBe('before');
    const metrics = parsePrometheus((await call(s, 'GET', '/metrics')).text);
    expect(sampleValue(metrics.samples, 'mmap_aof_service_rejected_bodies_total', '{reason="too_large"}')).toBe(1);
  });

  it('Expect: 100-continue gets 413 instead of 100 Continue for a body over the limit, and 100 Continue otherwise', async () => {
    const s = await serve({ bodyLimit: 1000 });
    const big = await RawClient.connect(s.port);
    big.write('POST /streams/e HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
    expect((await big.response()).status).toBe(413);
    big.destroy();
    const small = await RawClient.connect(s.port);
    small.write('POST /streams/e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
    const cont = await small.response();
    expect(cont.status).toBe(100);
    small.write('abc');
    const r = await small.response(cont.end);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ offset: 0, size: 3 });
    small.destroy();
  });

  it('a client that disconnects in the middle of its body appends nothing, to a new or an existing stream', async () => {
    const s = await serve();
    await post(s, '/streams/kept', 'old');
    for (const [name, headers] of [['kept', ''], ['fresh', ''], ['recs', 'Content-Type: application/x-ndjson\r\n']] as const) {
      const c = await RawClient.connect(s.port);
      const received = new Promise<http.IncomingMessage>((resolve) => {
        const onRequest = (req: http.IncomingMessage) => {
          s.server.off('request', onRequest);
          req.once('data', () => resolve(req)); // the server has part of the body
        };
        s.server.on('request', onRequest);
      });
      c.write(`POST /streams/${name} HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: 1000\r\n\r\n`);
      c.write(`${'{"half":"'.padEnd(500, 'h')}`);
      const req = await received;
      const closed = new Promise((resolve) => req.once('close', resolve));
      c.destroy();
      await closed;
    }
    const metrics = parsePrometheus((await call(s, 'GET', '/metrics')).text);
    expect(sampleValue(metrics.samples, 'mmap_aof_service_rejected_bodies_total', '{reason="aborted"}')).toBe(3);
    expect((await rawContent(s, 'kept')).toString()).toBe('old');
    expect((await call(s, 'GET', '/streams/fresh/range')).status).toBe(404);
    expect((await call(s, 'GET', '/streams/recs/range')).status).toBe(404);
    expect(fs.readdirSync(s.dir).sort()).toEqual(['kept.aof', 'kept.aof-shm']);
  });
});

describe('following a stream (SSE)', () => {
  it('a raw stream another process writes is read and followed read-only (range and SSE); a POST to it is 409 LOCKED', async () => {
    const dir = tmpDir('aof-service-ext-');
    const writer = Peer.process(fixture('reader-writer.mjs'), [JSON.stringify({ dist: path.join(ROOT, 'dist', 'index.js'), dir, name: 'ext.aof', mode: 'write' })], { commands: true });
    try {
      await writer.waitFor('open');
      await writer.request('write 7 1000,2000', 'wrote');
      const first = Buffer.concat([pseudoRandomBytes(1000, 7), pseudoRandomBytes(2000, 8)]);
      const s = await serve({ dir });
      // The writer publishes its size when its run of writes ends, a moment after it reports: the
      // SSE event says when the service sees it.
      const sse = await SseClient.open(`${s.url}/streams/ext?from=0`);
      await sse.waitFor((e) => e.id === '3000', 'the bytes written so far');
      expect(await rawContent(s, 'ext')).toEqual(first);
      await writer.request('write 9 500', 'wrote');
      await sse.waitFor((e) => e.id === '3500', 'the bytes the other process wrote next');
      expect(rawBytes(sse.events)).toEqual(Buffer.concat([first, pseudoRandomBytes(500, 9)]));
      sse.close();
      const refused = await post(s, '/streams/ext', 'mine');
      expect(refused.status).toBe(409);
      expect(refused.json.error.code).toBe('ERR_AOF_LOCKED');
    } finally {
      writer.kill();
    }
  });

  it('a raw stream is sent from ?from=N as base64 events whose id is the offset after them; Last-Event-ID resumes there', async () => {
    const s = await serve();
    await post(s, '/streams/log', 'abcdef');
    const sse = await SseClient.open(`${s.url}/streams/log?from=2`);
    expect(sse.res.headers['content-type']).toMatch(/^text\/event-stream/);
    await sse.waitFor((e) => e.id === '6', 'the existing bytes');
    await post(s, '/streams/log', 'ghi');
    await sse.waitFor((e) => e.id === '9', 'the appended bytes');
    expect(rawBytes(sse.events).toString()).toBe('cdefghi');
    sse.close();
    // A client that saw up to id 6 resumes from there; Last-Event-ID beats ?from.
    const again = await SseClient.open(`${s.url}/streams/log?from=0`, { 'last-event-id': '6' });
    await again.waitFor((e) => e.id === '9', 'the rest');
    expect(rawBytes(again.events).toString()).toBe('ghi');
    again.close();
    // from=end: only what comes next.
    const tail = await SseClient.open(`${s.url}/streams/log?from=end`);
    await turnsUntil(() => s.manager.stats().tailers === 1, 'the tailer attached');
    await post(s, '/streams/log', 'jk');
    await tail.waitFor((e) => e.id === '11', 'the new bytes');
    expect(rawBytes(tail.events).toString()).toBe('jk');
    tail.close();
  });

  it('a record stream is sent one event per record, id = record id, data = the NDJSON line; Last-Event-ID resumes after it', async () => {
    const s = await serve();
    await post(s, '/streams/r', '{"a":1}\n{"a":2}\n', ndjson);
    const sse = await SseClient.open(`${s.url}/streams/r`);
    await sse.waitFor((e) => e.id === '2', 'record 2');
    await post(s, '/streams/r', '{"a":3}\n', ndjson);
    await sse.waitFor((e) => e.id === '3', 'record 3');
    expect(sse.events.map((e) => [e.id, e.data])).toEqual([['1', '{"a":1}'], ['2', '{"a":2}'], ['3', '{"a":3}']]);
    sse.close();
    const resumed = await SseClient.open(`${s.url}/streams/r?from=1`, { 'last-event-id': '2' });
    await resumed.waitFor((e) => e.id === '3', 'record 3');
    expect(resumed.events.map((e) => e.id)).toEqual(['3']);
    resumed.close();
    const from2 = await SseClient.open(`${s.url}/streams/r?from=2`);
    await from2.waitFor((e) => e.id === '3', 'record 3');
    expect(from2.events.map((e) => e.id)).toEqual(['2', '3']);
    from2.close();
  });

  it('a finished stream is sent to its end, then an eof event, and the response ends', async () => {
    const s = await serveFinished('done', 'all of it');
    const sse = await SseClient.open(`${s.url}/streams/done`);
    const eof = await sse.waitFor((e) => e.event === 'eof', 'eof');
    expect(JSON.parse(eof.data)).toEqual({ size: 9 });
    expect(rawBytes(sse.events).toString()).toBe('all of it');
    await sse.waitEnded();
  });

  it('a reconnect after the eof of a finished stream (Last-Event-ID = its size) gets 204, so EventSource stops; earlier ids resume', async () => {
    const s = await serveFinished('done', 'all of it');
    expect((await call(s, 'GET', '/streams/done', undefined, { 'last-event-id': '9' })).status).toBe(204);
    const sse = await SseClient.open(`${s.url}/streams/done`, { 'last-event-id': '4' });
    await sse.waitFor((e) => e.event === 'eof', 'eof');
    expect(rawBytes(sse.events).toString()).toBe('of it');
    // Still being written: the same id is a live resume, not the end.
    await post(s, '/streams/live', 'abc');
    const live = await SseClient.open(`${s.url}/streams/live`, { 'last-event-id': '3' });
    await post(s, '/streams/live', 'd');
    await live.waitFor((e) => e.data !== '' && e.event === undefined, 'the next byte');
    expect(rawBytes(live.events).toString()).toBe('d');
    live.close();
  });

  it('?encoding=text sends whole UTF-8 lines as text (ids after their last newline), long lines in pieces at character boundaries', async () => {
    const s = await serve();
    await post(s, '/streams/log', 'first line\nsec');
    const sse = await SseClient.open(`${s.url}/streams/log?encoding=text`);
    const first = await sse.waitFor((e) => e.data !== '', 'the first line');
    expect(first).toEqual({ id: '11', data: 'first line' });
    await post(s, '/streams/log', 'ond\nthird ünïcödé\n');
    const next = await sse.waitFor((e) => e.id !== '11', 'the next lines', 1);
    expect(next.data).toBe('second\nthird ünïcödé');
    expect(Number(next.id)).toBe(Buffer.byteLength('first line\nsecond\nthird ünïcödé\n'));
    // A line of 80,000 bytes (2-byte characters): pieces of at most 64 KiB, none splitting a character.
    const long = 'é'.repeat(40_000);
    await post(s, '/streams/log', `${long}\n`);
    await sse.until(() => sse.events.slice(2).map((e) => e.data).join('').length >= long.length, 'the long line');
    const pieces = sse.events.slice(2).map((e) => e.data);
    expect(pieces.length).toBe(2);
    expect(pieces.join('')).toBe(long);
    expect(pieces.every((p) => !p.includes('\ufffd'))).toBe(true);
    sse.close();
    expect((await call(s, 'GET', '/streams/log?encoding=hex')).status).toBe(400);
  });

  it('a subscriber that comes before the first write waits (heartbeats) and follows the stream from its start, raw or records', async () => {
    const s = await serve({ heartbeatMs: 50 });
    const raw = await SseClient.open(`${s.url}/streams/early`);
    const recs = await SseClient.open(`${s.url}/streams/later`);
    await raw.until(() => raw.comments.includes('heartbeat'), 'a heartbeat while waiting');
    expect(raw.comments[0]).toBe('stream early (waiting for its first write)');
    expect(raw.events).toEqual([]);
    await post(s, '/streams/early', 'first');
    await post(s, '/streams/later', '{"n":1}\n', ndjson);
    expect((await raw.waitFor((e) => e.data !== '', 'the first write')).id).toBe('5');
    expect(rawBytes(raw.events).toString()).toBe('first');
    expect(await recs.waitFor((e) => e.data !== '', 'the first record')).toEqual({ id: '1', data: '{"n":1}' });
    await post(s, '/streams/early', ' more');
    await raw.until(() => rawBytes(raw.events).toString() === 'first more', 'the next write');
    raw.close();
    recs.close();
  });

  it('a subscriber waiting for a stream that another writer creates on disk (not through the service: its directory watch sees it) follows it', async () => {
    const s = await serve({ heartbeatMs: 50 });
    const sse = await SseClient.open(`${s.url}/streams/outside`);
    await sse.until(() => sse.comments.includes('heartbeat'), 'a heartbeat while waiting');
    const m = new Manager(s.dir, { flushIntervalMs: 0 });
    const aof = m.open('outside.aof');
    aof.write('made elsewhere');
    await aof.finish();
    await m.close();
    await sse.waitFor((e) => e.event === 'eof', 'the eof of the stream made on disk');
    expect(rawBytes(sse.events).toString()).toBe('made elsewhere');
  });

  it('a bad from, encoding or Last-Event-ID is 400, and nothing is subscribed', async () => {
    const s = await serve();
    await post(s, '/streams/x', 'abc');
    await post(s, '/streams/r', '1\n2\n', ndjson);
    for (const [url, headers, status] of [
      ['/streams/nope?from=abc', {}, 400],
      ['/streams/nope?encoding=hex', {}, 400],
      ['/streams/x?from=4', {}, 400],
      ['/streams/x?from=-1', {}, 400],
      ['/streams/x?from=abc', {}, 400],
      ['/streams/x', { 'last-event-id': 'zz' }, 400],
      ['/streams/r?from=4', {}, 400],
    ] as const) {
      const err = await SseClient.open(s.url + url, headers).then(() => undefined, (e: { status: number; body: string }) => e);
      expect(err?.status, url).toBe(status);
      expect(JSON.parse(err!.body).error.code, url).toBe('ERR_AOF_INVALID_ARG');
    }
    expect(s.manager.stats().tailers).toBe(0);
    expect((await call(s, 'GET', '/stats')).json.subscribers).toEqual([]);
  });

  it('a client that stops reading holds the service back instead of making it buffer the stream, and gets every byte once it reads', async () => {
    const s = await serve();
    await post(s, '/streams/big', 'start');
    const sse = await SseClient.open(`${s.url}/streams/big`);
    sse.res.pause();
    const parts = [0, 1, 2, 3].map((i) => pseudoRandomBytes(8 * 1024 * 1024, 100 + i));
    for (const p of parts) await post(s, '/streams/big', p);
    const size = 5 + 4 * 8 * 1024 * 1024;
    // The subscriber's position stops moving well short of the end: the service waits for 'drain'.
    let last = -1;
    let still = 0;
    await turnsUntil(() => {
      const sub = s.stats().subscribers[0]?.position ?? -1;
      still = sub === last ? still + 1 : 0;
      last = sub;
      return still >= 2000;
    }, 'the subscriber to stall');
    expect(last).toBeGreaterThan(0);
    expect(size - last).toBeGreaterThan(16 * 1024 * 1024);
    sse.res.resume();
    await sse.waitFor((e) => e.id === String(size), 'the last byte');
    const got = rawBytes(sse.events);
    expect(got.length).toBe(size);
    expect(sha256(got)).toBe(sha256(Buffer.concat([Buffer.from('start'), ...parts])));
    sse.close();
  });

  it('an idle subscriber gets a comment line every heartbeatMs, so proxies keep the connection', async () => {
    const s = await serve({ heartbeatMs: 20 });
    await post(s, '/streams/quiet', 'x');
    const sse = await SseClient.open(`${s.url}/streams/quiet?from=end`);
    await sse.until(() => sse.comments.filter((c) => c === 'heartbeat').length >= 2, 'two heartbeats');
    expect(sse.events).toEqual([]);
    sse.close();
  });

  it('clients that leave are unsubscribed: their tailers detach', async () => {
    const s = await serve();
    await post(s, '/streams/x', 'a');
    await post(s, '/streams/r', '1', ndjson);
    const clients = await Promise.all([0, 1, 2].map(() => SseClient.open(`${s.url}/streams/x`)).concat(SseClient.open(`${s.url}/streams/r`)));
    await turnsUntil(() => s.manager.stats().tailers === 3, 'three tailers');
    expect((await call(s, 'GET', '/stats')).json.service.sseSubscribers).toBe(4);
    for (const c of clients) c.close();
    await turnsUntil(() => s.manager.stats().tailers === 0, 'the tailers detached', 5_000_000);
    const stats = (await call(s, 'GET', '/stats')).json;
    expect(stats.service.sseSubscribers).toBe(0);
    expect(stats.subscribers).toEqual([]);
  });
});

describe('reading and listing', () => {
  it('GET /streams/:name/range reads bytes [from, to) of a raw stream, clamped to its size', async () => {
    const s = await serve();
    await post(s, '/streams/x', '0123456789');
    const r = await call(s, 'GET', '/streams/x/range?from=2&to=5');
    expect(r.text).toBe('234');
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('x-stream-size')).toBe('10');
    expect((await call(s, 'GET', '/streams/x/range?from=7')).text).toBe('789');
    expect((await call(s, 'GET', '/streams/x/range?to=99')).text).toBe('0123456789');
    expect((await call(s, 'GET', '/streams/x/range?from=10')).text).toBe('');
    expect((await call(s, 'GET', '/streams/x/range?from=11')).status).toBe(400);
    expect((await call(s, 'GET', '/streams/x/range?from=5&to=4')).status).toBe(400);
    expect((await call(s, 'GET', '/streams/nope/range')).status).toBe(404);
  });

  it('GET /streams/:name/range reads records [from, to] of a record stream as NDJSON', async () => {
    const s = await serve();
    await post(s, '/streams/r', '"a"\n"b"\n"c"\n"d"\n', ndjson);
    const r = await call(s, 'GET', '/streams/r/range?from=2&to=3');
    expect(r.text).toBe('"b"\n"c"\n');
    expect([r.headers.get('x-first-id'), r.headers.get('x-last-id')]).toEqual(['2', '3']);
    expect((await call(s, 'GET', '/streams/r/range?from=4&to=100')).text).toBe('"d"\n');
    expect((await call(s, 'GET', '/streams/r/range?from=5')).text).toBe('');
    expect((await call(s, 'GET', '/streams/r/range?from=6')).status).toBe(400);
  });

  it('GET /streams lists every stream in the directory with its kind, size and tailers', async () => {
    const dir = tmpDir('aof-service-');
    const m = new Manager(dir, { flushIntervalMs: 0 });
    m.open('ondisk.aof').write('12345');
    await m.close();
    fs.writeFileSync(path.join(dir, 'not a stream.txt'), '');
    const s = await serve({ dir });
    await post(s, '/streams/r', '1\n2\n3\n', ndjson);
    const sse = await SseClient.open(`${s.url}/streams/ondisk?from=end`);
    await turnsUntil(() => s.manager.stats().tailers === 1, 'the tailer attached');
    const list = (await call(s, 'GET', '/streams')).json.streams;
    expect(list).toEqual([
      expect.objectContaining({ name: 'ondisk', kind: 'raw', size: 5, state: 'open', tailers: 1, subscribers: 1 }),
      expect.objectContaining({ name: 'r', kind: 'records', size: 3, firstId: 1, lastId: 3, tailers: 0, subscribers: 0 }),
    ]);
    expect(list[0].fileSize).toBeGreaterThanOrEqual(4096);
    sse.close();
  });

  it('unknown routes are 404 and wrong methods 405 with Allow, each with a JSON error body', async () => {
    const s = await serve();
    const r = await call(s, 'GET', '/nowhere');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { code: 'ERR_SERVICE_NO_ROUTE', message: expect.any(String) } });
    const m = await call(s, 'DELETE', '/streams/x');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET, POST');
    expect(m.json.error.code).toBe('ERR_SERVICE_METHOD');
    expect((await call(s, 'POST', '/metrics', 'x')).status).toBe(405);
    expect((await call(s, 'GET', '/streams/missing/range')).json.error.code).toBe('ERR_AOF_NOT_FOUND');
    // An error answer to a request without a body keeps the connection for the next request.
    const c = await RawClient.connect(s.port);
    c.write('GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n');
    const first = await c.response();
    expect(first.status).toBe(404);
    expect(first.headers).not.toMatch(/connection: close/i);
    c.write('GET /streams/x?from=zz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response(first.end)).status).toBe(400);
    c.destroy();
  });
});

describe('metrics and the stats feed', () => {
  it("GET /metrics is valid Prometheus text holding every Manager stat (the record logs' included) and the service counters", async () => {
    const s = await serve();
    await post(s, '/streams/x?sync=1', 'abc');
    await post(s, '/streams/r', '1\n2\n', ndjson);
    await call(s, 'GET', '/nowhere');
    // The record log grows ahead in the background: a stat may move while /metrics is built, so
    // each sample must lie between the stats just before and just after.
    const before = s.stats().stats;
    const r = await call(s, 'GET', '/metrics');
    const after = s.stats().stats;
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(r.text);
    const between = (value: number | undefined, a: number, b: number, what: string, slack = 0) => {
      expect(value, what).toBeGreaterThanOrEqual(Math.min(a, b) - slack);
      expect(value, what).toBeLessThanOrEqual(Math.max(a, b) + slack);
    };
    // The Manager's counters plus the record log's (its segments go through the log's own Manager).
    expect(before.writes).toBeGreaterThan(s.manager.stats().writes);
    expect(before.bytesWritten).toBeGreaterThan(s.manager.stats().bytesWritten);
    for (const [key, value] of Object.entries(before)) {
      const base = `mmap_aof_${STAT_METRICS[key as keyof typeof STAT_METRICS]?.name ?? snakeCase(key)}`;
      const later = after[key as keyof typeof after];
      if (typeof value === 'number' && typeof later === 'number') {
        const name = types.has(`${base}_total`) ? `${base}_total` : base;
        expect(types.get(name), key).toBeDefined();
        if (key !== 'tailerWakes') between(sampleValue(samples, name), value, later, key);
      } else if (typeof value === 'object' && typeof later === 'object') {
        between(sampleValue(samples, `${base}_total`), value.count, later.count, key);
        between(sampleValue(samples, `${base}_seconds_total`), value.totalNs / 1e9, later.totalNs / 1e9, key, 1e-9);
        expect(types.get(`${base}_max_seconds`), key).toBe('gauge');
      }
    }
    expect(types.get('mmap_aof_tailers')).toBe('gauge');
    expect(types.get('mmap_aof_active_mapped_memory_bytes')).toBe('gauge');
    expect(sampleValue(samples, 'mmap_aof_syncs_total')).toBe(1);
    expect(sampleValue(samples, 'mmap_aof_writes_total')).toBe(2); // one raw write, one record batch
    expect(sampleValue(samples, 'mmap_aof_service_appends_total', '{kind="raw"}')).toBe(1);
    expect(sampleValue(samples, 'mmap_aof_service_appends_total', '{kind="records"}')).toBe(1);
    expect(sampleValue(samples, 'mmap_aof_service_records_appended_total')).toBe(2);
    expect(sampleValue(samples, 'mmap_aof_http_requests_total', '{route="other",method="GET",status="404"}')).toBe(1);
    expect(sampleValue(samples, 'mmap_aof_http_requests_total', '{route="/streams/:name",method="POST",status="200"}')).toBe(2);
    expect(sampleValue(samples, 'mmap_aof_service_append_duration_seconds_count')).toBe(2);
    expect(sampleValue(samples, 'mmap_aof_service_append_duration_seconds_bucket', '{le="+Inf"}')).toBe(2);
    const buckets = samples.filter((x) => x.name === 'mmap_aof_service_append_duration_seconds_bucket').map((x) => x.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('per-stream metrics carry the stream name as a label, escaped so no value can break the exposition', async () => {
    const s = await serve();
    await post(s, '/streams/a.b_c-d', 'x');
    const sse = await SseClient.open(`${s.url}/streams/a.b_c-d`);
    await sse.waitFor((e) => e.id === '1', 'the byte');
    const { samples } = parsePrometheus((await call(s, 'GET', '/metrics')).text);
    expect(sampleValue(samples, 'mmap_aof_service_stream_subscribers', '{stream="a.b_c-d",kind="raw"}')).toBe(1);
    expect(sampleValue(samples, 'mmap_aof_service_stream_lag_max_bytes', '{stream="a.b_c-d"}')).toBe(0);
    // Names the service accepts need no escaping; the renderer escapes anyway.
    const snapshot = s.stats();
    snapshot.subscribers = [{ ...snapshot.subscribers[0]!, stream: 'q"b\\s\nn' }];
    const odd = parsePrometheus(renderMetrics(snapshot, new ServiceCounters()));
    expect(sampleValue(odd.samples, 'mmap_aof_service_stream_subscribers', '{stream="q\\"b\\\\s\\nn",kind="raw"}')).toBe(1);
    sse.close();
  });

  it('GET /stats/events sends a snapshot at once, then one per interval with rates since the previous one', async () => {
    const s = await serve();
    const feed = await SseClient.open(`${s.url}/stats/events?interval=100`);
    const first = JSON.parse((await feed.waitFor((e) => e.event === 'stats', 'the first snapshot')).data);
    expect(first.rates).toBeNull();
    expect(first.stats.writes).toBe(0);
    await post(s, '/streams/x', 'abcd');
    const later = JSON.parse((await feed.waitFor((e) => e.event === 'stats' && JSON.parse(e.data).stats.writes === 1, 'a snapshot with the write')).data);
    expect(later.rates.writes).toBeGreaterThan(0);
    expect(later.rates.bytes).toBeGreaterThan(0);
    expect(later.service.statsSubscribers).toBe(1);
    expect(later.streams).toEqual([{ name: 'x', kind: 'raw', size: 4, subscribers: 0 }]);
    feed.close();
    expect((await call(s, 'GET', '/stats/events?interval=5')).status).toBe(400);
  });
});

describe('shutdown', () => {
  it('startService rejects when the port is taken and leaves nothing open', async () => {
    const s = await serve();
    const dir = tmpDir('aof-service-');
    await expect(startService({ dir, port: s.port })).rejects.toThrow(/EADDRINUSE/);
    await expect(startService({ dir, port: -1 })).rejects.toThrow(/options\.port/);
    await expect(startService({ dir, port: 0, bodyLimit: 0 })).rejects.toThrow(/options\.bodyLimit/);
  });

  it('close() ends SSE clients and stats feeds, closes every file, and later requests are refused', async () => {
    const s = await serve();
    await post(s, '/streams/x', 'abc');
    await post(s, '/streams/r', '1', ndjson);
    const clients = [await SseClient.open(`${s.url}/streams/x`), await SseClient.open(`${s.url}/streams/r`), await SseClient.open(`${s.url}/stats/events`)];
    await turnsUntil(() => s.manager.stats().tailers === 1, 'the tailer attached');
    await s.close();
    for (const c of clients) await c.waitEnded();
    expect(s.manager.stats().activeMaps).toBe(0);
    await expect(fetch(`${s.url}/stats`)).rejects.toThrow();
    // The directory can be opened again at once: no lock left behind.
    const again = await serve({ dir: s.dir });
    expect((await post(again, '/streams/x', 'd')).json).toEqual({ offset: 3, size: 4 });
  });

  it('on SIGTERM the service finishes the append in flight, answers it, closes its files and exits 0', async () => {
    const dir = tmpDir('aof-service-');
    const child = Peer.process(fixture('service-child.mjs'), [SERVER_JS, dir], { killAfterMs: 60_000 });
    try {
      const { url } = reportData<{ url: string }>(await child.waitFor('ready'));
      const port = Number(new URL(url).port);
      const first = await fetch(`${url}/streams/s`, { method: 'POST', body: 'hello' });
      expect(await first.json()).toEqual({ offset: 0, size: 5 });
      const sse = await SseClient.open(`${url}/streams/s`);
      await sse.waitFor((e) => e.id === '5', 'the first bytes');

      const body = pseudoRandomBytes(100_000, 7);
      const c = await RawClient.connect(port);
      const from = child.lines.length;
      c.write(`POST /streams/s HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.write(body.subarray(0, 50_000));
      await child.waitFor('request POST /streams/s', { from });
      child.kill('SIGTERM');
      await child.waitFor('sigterm', { from });
      // Closing: subscribers are ended, no new connection is accepted...
      await sse.waitEnded();
      await expect(RawClient.connect(port)).rejects.toThrow(/ECONNREFUSED/);
      // ...and the append in flight completes and is answered.
      c.write(body.subarray(50_000));
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ offset: 5, size: 5 + body.length });
      expect(r.headers).toMatch(/connection: close/i);
      await child.exitedCleanly();

      const m = new Manager(dir, { flushIntervalMs: 0 });
      const aof = m.open('s.aof', Geometry.open());
      expect(aof.recovery.kind).toBe(RecoveryKind.Tail);
      expect(aof.recovery.fromControlBlock).toBeFalsy();
      expect(aof.size).toBe(5 + body.length);
      expect(sha256(aof.view())).toBe(sha256(Buffer.concat([Buffer.from('hello'), body])));
      await m.close();
    } finally {
      child.kill('SIGKILL');
      await child.exited;
    }
  });
});
