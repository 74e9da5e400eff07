/**
 * The HTTP event-stream service over one directory: appends over POST, Server-Sent Events to
 * follow a stream, range reads, a stream list, Prometheus metrics and a live dashboard. Plain
 * `node:http`, no framework. See docs/service.md for the endpoints and their semantics.
 *
 *   const service = await startService({ dir: './data', port: 8080 });
 *   // …
 *   await service.close();   // finishes in-flight appends, ends subscribers, closes every file
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_TIMER_MS, validateInteger, validateObject, validatePath } from '../validate.js';
import type { Geometry } from '../geometry.js';
import type { LogOptions } from '../log/index.js';
import { AofError, ErrorCode } from '../errors.js';
import { FileState } from '../file-state.js';
import { Manager, type ManagerOptions } from '../manager.js';
import { DASHBOARD_HTML } from './dashboard.js';
import {
  HttpError,
  ServiceCode,
  badArg,
  flagParam,
  intParam,
  readBody,
  sendError,
  sendJson,
  drained,
} from './http.js';
import { ServiceCounters, rates, renderMetrics, type Snapshot } from './metrics.js';
import { followRaw, followRecords, openEventStream, sseEvent } from './sse.js';
import { Shipping, type ShipConfig } from './shipping.js';
import { Streams, checkStreamName, ndjsonLines } from './streams.js';

export type { ShipConfig, ShippingInfo } from './shipping.js';

export interface ServiceOptions {
  /** The directory of streams (created if missing). */
  dir: string;
  /** TCP port; 0 picks a free one (see the result's `port`). */
  port: number;
  /** Interface to listen on (default 127.0.0.1: the service has no authentication). */
  host?: string;
  /** Largest request body in bytes (default 8 MiB); larger ones get 413 and append nothing. */
  bodyLimit?: number;
  /** Comment lines sent to idle SSE clients this often (default 15000 ms; 0: never). */
  heartbeatMs?: number;
  /** Default period of the stats feed, `GET /stats/events` (default 1000 ms; `?interval=` overrides, 100…60000). */
  statsIntervalMs?: number;
  /** How long close() waits for in-flight requests before cutting their connections (default 10000 ms). */
  shutdownTimeoutMs?: number;
  /** Geometry of new raw streams (default 64 KiB, growing in 1 MiB steps up to 1 GiB). */
  geometry?: Geometry;
  /** Options of record streams' logs (`Log.open`). */
  log?: LogOptions;
  /** Options of the Manager over `dir`. */
  manager?: ManagerOptions;
  /**
   * Record streams to ship to NATS JetStream (`mmap-aof/nats`'s ship(), needs its optional peer
   * packages): each starts once its stream exists and stops with the service; counters and lag
   * are in `/stats` (`shipping`), `/metrics` (`mmap_aof_service_ship_*`) and on the dashboard.
   */
  ship?: ShipConfig;
  /**
   * Close on SIGTERM and SIGINT, then exit the process: code 0 after a clean close, 1 if closing
   * failed (default false: the embedding program decides; `aof serve` handles the signals itself).
   */
  handleSignals?: boolean;
}

export interface Service {
  /** `http://host:port`. */
  url: string;
  port: number;
  host: string;
  /** The underlying server (its 'request' events, for instrumentation). */
  server: http.Server;
  /** The Manager over `dir` (raw streams; /metrics exposes its stats plus the record logs'). */
  manager: Manager;
  /** What `GET /stats` answers: the Manager's stats, the service's counters, open streams, subscribers and their lag. */
  stats(): Snapshot;
  /**
   * Stops listening, refuses new requests (503), lets in-flight appends and range reads finish
   * (up to shutdownTimeoutMs), ends every SSE client, then closes every file. Idempotent.
   */
  close(): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/jsonlines', 'application/x-jsonlines'];
const RANGE_CHUNK = 256 * 1024;
const NO_QUERY = new URLSearchParams();
const DASHBOARD = Buffer.from(DASHBOARD_HTML);

type StreamTarget = Awaited<ReturnType<Streams['open']>>;

/**
 * Where following `target` starts: a raw stream's byte offset (Last-Event-ID is the offset after
 * the last event: resume right there), a record stream's first id (Last-Event-ID is the last id
 * received: the next one). Unchecked: compare with {@link endOf}.
 */
function startOf(target: StreamTarget, w: { resume: number | undefined; fromEnd: boolean; from: number | undefined }): number {
  if (target.kind === 'raw') return w.resume ?? (w.fromEnd ? target.aof.size : w.from ?? 0);
  const { log } = target;
  return w.resume !== undefined ? w.resume + 1 : w.fromEnd ? log.lastId + 1 : Math.max(w.from ?? log.firstId, log.firstId);
}

/** The furthest a follow may start: a raw stream's size, a record stream's next id. */
function endOf(target: StreamTarget): number {
  return target.kind === 'raw' ? target.aof.size : target.log.lastId + 1;
}

/** Starts the service; resolves once it listens. */
export async function startService(options: ServiceOptions): Promise<Service> {
  validateObject(options, 'options');
  validatePath(options.dir, 'options.dir', 'a directory path');
  const port = options.port ?? 0;
  validateInteger(port, 'options.port', 0, 65535);
  const service = new HttpService(options);
  await service.listen(port, options.host ?? '127.0.0.1');
  return service.handle();
}

type Route = '/' | '/favicon.ico' | '/metrics' | '/stats' | '/stats/events' | '/streams' | '/streams/:name' | '/streams/:name/range' | 'other';

class HttpService {
  readonly manager: Manager;
  readonly streams: Streams;
  readonly shipping: Shipping;
  readonly counters = new ServiceCounters();
  readonly server: http.Server;
  readonly #bodyLimit: number;
  readonly #heartbeatMs: number;
  readonly #statsIntervalMs: number;
  readonly #shutdownTimeoutMs: number;
  /** Appends, range reads and listings under way (until their response closes): close() lets them finish. */
  #inflight = 0;
  #idle: (() => void) | undefined;
  /** SSE responses (streams and the stats feed): close() ends them. */
  readonly #live = new Set<AbortController>();
  /** Live responses until they have ended (close() lets them end cleanly before it cuts connections). */
  readonly #liveEnded = new Set<Promise<void>>();
  #statsSubscribers = 0;
  #closing: Promise<void> | undefined;
  #signalHandler: (() => void) | undefined;
  #url = '';
  #port = 0;
  #host = '';

  constructor(readonly options: ServiceOptions) {
    const {
      bodyLimit = DEFAULT_BODY_LIMIT, heartbeatMs = 15_000, statsIntervalMs = 1000, shutdownTimeoutMs = 10_000,
    } = options;
    validateInteger(bodyLimit, 'options.bodyLimit', 1);
    validateInteger(heartbeatMs, 'options.heartbeatMs', 0, MAX_TIMER_MS);
    validateInteger(statsIntervalMs, 'options.statsIntervalMs', 10, MAX_TIMER_MS);
    validateInteger(shutdownTimeoutMs, 'options.shutdownTimeoutMs', 0, MAX_TIMER_MS);
    this.#bodyLimit = bodyLimit;
    this.#heartbeatMs = heartbeatMs;
    this.#statsIntervalMs = statsIntervalMs;
    this.#shutdownTimeoutMs = shutdownTimeoutMs;
    this.manager = new Manager(options.dir, options.manager);
    this.streams = new Streams(this.manager, { geometry: options.geometry, log: options.log });
    this.shipping = new Shipping(options.ship);
    this.server = http.createServer({ keepAliveTimeout: 5000 });
    this.server.on('request', (req, res) => this.#onRequest(req, res));
    // Expect: 100-continue: refuse an oversized body before the client sends it.
    this.server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared <= this.#bodyLimit && !this.#closing) res.writeContinue();
      this.#onRequest(req, res);
    });
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        void this.manager.close();
        reject(e);
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        this.#port = address.port;
        this.#host = host;
        this.#url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
        if (this.options.handleSignals) this.#installSignals();
        this.shipping.start(this.streams);
        resolve();
      });
    });
  }

  handle(): Service {
    return {
      url: this.#url,
      port: this.#port,
      host: this.#host,
      server: this.server,
      manager: this.manager,
      stats: () => this.snapshot(),
      close: () => this.close(),
    };
  }

  #installSignals(): void {
    const handler = () => {
      this.close().then(() => process.exit(0), (e: unknown) => {
        process.stderr.write(`aof serve: closing failed: ${(e as Error)?.stack ?? String(e)}\n`);
        process.exit(1);
      });
    };
    this.#signalHandler = handler;
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  }

  // --- routing -------------------------------------------------------------------------------

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    let route: Route = 'other';
    const method = req.method ?? 'GET';
    // A tracked request ends when both its work is done and its response has closed.
    let tracked = false;
    let pending = 2;
    const settle = () => {
      if (--pending === 0 && --this.#inflight === 0) this.#idle?.();
    };
    const track = (work: Promise<void>) => {
      tracked = true;
      this.#inflight++;
      work.then(settle, (e: unknown) => {
        this.#fail(req, res, e);
        settle();
      });
    };
    // 'close' follows every response ('finish' first) and every connection lost mid-way.
    res.once('close', () => {
      this.counters.request(route, method, res.statusCode);
      if (tracked) settle();
    });
    try {
      // The path as sent, not URL-normalised: "/streams/.." must be refused as a name, not become "/".
      let target = req.url ?? '/';
      if (!target.startsWith('/')) target = new URL(target, 'http://service').pathname; // absolute-form
      const q = target.indexOf('?');
      const path = q < 0 ? target : target.slice(0, q);
      const query = q < 0 ? NO_QUERY : new URLSearchParams(target.slice(q + 1));
      let name: string | undefined;
      if (path === '/' || path === '/index.html') route = '/';
      else if (path === '/favicon.ico') route = '/favicon.ico';
      else if (path === '/metrics') route = '/metrics';
      else if (path === '/stats') route = '/stats';
      else if (path === '/stats/events') route = '/stats/events';
      else if (path === '/streams' || path === '/streams/') route = '/streams';
      else {
        const m = /^\/streams\/([^/]+)(\/range)?\/?$/.exec(path);
        if (m) {
          route = m[2] ? '/streams/:name/range' : '/streams/:name';
          let decoded: string;
          try {
            decoded = decodeURIComponent(m[1]!);
          } catch {
            throw badArg(`stream name: not valid percent-encoding: ${JSON.stringify(m[1]!.slice(0, 140))}`);
          }
          name = checkStreamName(decoded);
        }
      }
      if (route === 'other') throw new HttpError(404, ServiceCode.NO_ROUTE, `no route ${method} ${path}`);
      const allowed = route === '/streams/:name' ? ['GET', 'POST'] : ['GET'];
      if (!allowed.includes(method)) {
        throw new HttpError(405, ServiceCode.METHOD, `${route} takes ${allowed.join(' or ')}, not ${method}`, { allow: allowed.join(', ') });
      }
      if (this.#closing) {
        throw new HttpError(503, ServiceCode.SHUTTING_DOWN, 'the service is shutting down', { connection: 'close' });
      }
      switch (route) {
        case '/':
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
            'content-length': DASHBOARD.length });
          res.end(DASHBOARD);
          return;
        case '/favicon.ico':
          res.writeHead(204, { 'cache-control': 'max-age=86400' }).end(); // none; saves browsers a 404
          return;
        case '/metrics': {
          const text = renderMetrics(this.snapshot(), this.counters);
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store',
            'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
        case '/stats':
          sendJson(res, 200, this.snapshot());
          return;
        case '/stats/events':
          this.#statsFeed(req, res, query);
          return;
        case '/streams':
          track(this.streams.list().then((streams) => sendJson(res, 200, { streams })));
          return;
        case '/streams/:name':
          if (method === 'POST') track(this.#append(req, res, name!, query));
          else void this.#follow(req, res, name!, query).catch((e: unknown) => sendError(res, e));
          return;
        case '/streams/:name/range':
          track(this.#range(res, name!, query));
          return;
      }
    } catch (e) {
      this.#fail(req, res, e);
    }
  }

  /** Answers an error; a request whose body was not read closes its connection. */
  #fail(req: http.IncomingMessage, res: http.ServerResponse, e: unknown): void {
    if (e instanceof HttpError && e.code === ServiceCode.ABORTED) {
      res.statusCode = 499; // for the request counter: the client left, nothing was answered
      res.destroy();
      return;
    }
    // A body left unread (refused before or while reading it) is not drained: the connection closes.
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.complete && !res.headersSent) res.setHeader('connection', 'close');
    sendError(res, e);
  }

  // --- appends ---------------------------------------------------------------------------------

  async #append(req: http.IncomingMessage, res: http.ServerResponse, name: string, params: URLSearchParams): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const records = flagParam(params, 'records') ?? NDJSON_TYPES.includes(type);
    const sync = flagParam(params, 'sync') ?? false;
    let body: Buffer;
    try {
      body = await readBody(req, this.#bodyLimit);
    } catch (e) {
      if (e instanceof HttpError && e.code === ServiceCode.BODY_TOO_LARGE) this.counters.rejectedBodies.too_large++;
      if (e instanceof HttpError && e.code === ServiceCode.ABORTED) this.counters.rejectedBodies.aborted++;
      throw e;
    }
    const start = performance.now();
    let reply: Record<string, unknown>;
    if (records) {
      const lines = ndjsonLines(body);
      if (lines.length === 0) throw badArg('an NDJSON body with at least one record (one JSON value per line)');
      const { log, ids } = await this.streams.appendRecords(name, lines);
      if (sync) await log.sync();
      let bytes = 0;
      for (const l of lines) bytes += l.length;
      this.counters.appended('records', bytes, lines.length, (performance.now() - start) / 1000);
      reply = { ids };
    } else {
      const { aof, offset, size } = this.streams.appendRaw(name, body);
      if (sync) await aof.sync();
      this.counters.appended('raw', body.length, 0, (performance.now() - start) / 1000);
      reply = { offset, size };
    }
    sendJson(res, 200, reply, this.#closing ? { connection: 'close' } : {});
  }

  // --- reads -----------------------------------------------------------------------------------

  async #range(res: http.ServerResponse, name: string, params: URLSearchParams): Promise<void> {
    const target = await this.streams.open(name);
    const from = intParam(params, 'from');
    const to = intParam(params, 'to');
    if (target.kind === 'raw') {
      const { aof } = target;
      const size = aof.size;
      const begin = from ?? 0;
      const end = Math.min(to ?? size, size);
      if (begin > size) throw badArg(`from: expected at most the stream's size (${size}), got ${begin}`);
      if (end < begin) throw badArg(`to: expected at least from (${begin}), got ${to}`);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': end - begin, 'cache-control': 'no-store',
        'x-stream-size': size, 'x-range': `${begin}-${end}` });
      for (let at = begin; at < end;) {
        const n = Math.min(RANGE_CHUNK, end - at);
        const ok = res.write(Buffer.from(aof.view(at, at + n))); // a copy: the socket may hold it past close
        at += n;
        if (!ok && at < end) await drained(res);
      }
      res.end();
      return;
    }
    const { log } = target;
    const first = Math.max(from ?? log.firstId, log.firstId);
    const last = Math.min(to ?? log.lastId, log.lastId);
    if (first > log.lastId + 1) throw badArg(`from: expected at most the next id (${log.lastId + 1}), got ${first}`);
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store',
      'x-first-id': first, 'x-last-id': Math.max(last, first - 1) });
    let text = '';
    if (first <= last) {
      for (const { id, data } of log.iterator(first)) {
        if (id > last) break;
        text += `${data.toString('utf8')}\n`;
        if (text.length >= RANGE_CHUNK) {
          const ok = res.write(text);
          text = '';
          if (!ok) await drained(res);
        }
      }
    }
    res.end(text);
  }

  async #follow(req: http.IncomingMessage, res: http.ServerResponse, name: string, params: URLSearchParams): Promise<void> {
    const lastEventId = req.headers['last-event-id'];
    const resume = lastEventId === undefined || lastEventId === '' ? undefined : Number(lastEventId);
    if (resume !== undefined && !(Number.isSafeInteger(resume) && resume >= 0 && /^\d+$/.test(String(lastEventId).trim()))) {
      throw badArg(`Last-Event-ID: expected a non-negative integer, got ${JSON.stringify(String(lastEventId).slice(0, 40))}`);
    }
    const fromEnd = params.get('from') === 'end';
    const from = fromEnd ? undefined : intParam(params, 'from');
    const encoding = params.get('encoding') ?? 'base64';
    if (encoding !== 'base64' && encoding !== 'text') throw badArg(`encoding: expected base64 or text, got ${JSON.stringify(encoding.slice(0, 40))}`);
    const controller = new AbortController();
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const onEvent = () => this.counters.sseEvents++;
    let target: StreamTarget;
    try {
      target = await this.streams.open(name);
    } catch (e) {
      if (!(e instanceof AofError) || e.code !== ErrorCode.NOT_FOUND) throw e;
      // Not there yet: a subscriber may come before the first write. The event stream opens now
      // (heartbeats keep it alive) and follows the stream from its start once it is created,
      // whichever kind its first write makes it (a 404 made EventSource give up for good).
      await this.#runLive(req, res, controller, `stream ${name} (waiting for its first write)`, async () => {
        try {
          await this.streams.created(name, controller.signal);
        } catch {
          res.end(); // the client left, or the service is closing
          return;
        }
        const created = await this.streams.open(name);
        // From its start, or where a reconnect left off (never past what it holds).
        const start = Math.min(startOf(created, { resume, fromEnd: false, from: undefined }), endOf(created));
        await this.#followTarget(res, name, created, start, { encoding, controller, remote, onEvent });
      });
      return;
    }
    const start = startOf(target, { resume, fromEnd, from });
    if (start > endOf(target)) {
      throw badArg(target.kind === 'raw' ? `from: expected at most the stream's size (${endOf(target)}), got ${start}`
        : `from: expected at most the next id (${endOf(target)}), got ${start}`);
    }
    if (target.kind === 'raw' && resume !== undefined && resume === target.aof.size && target.aof.state === FileState.EOF) {
      // A reconnect after the eof event of a finished stream: 204 is how the SSE spec tells
      // EventSource to stop reconnecting (a 200 with eof again made it reconnect forever).
      res.writeHead(204, { 'cache-control': 'no-store' }).end();
      return;
    }
    const comment = target.kind === 'raw' ? `stream ${name} (raw${encoding === 'text' ? ', text' : ''}) from byte ${start}`
      : `stream ${name} (records) from id ${start}`;
    await this.#runLive(req, res, controller, comment,
      () => this.#followTarget(res, name, target, start, { encoding, controller, remote, onEvent }));
  }

  /** Follows an open stream, from `start` (see {@link startOf}), on an event stream already started. */
  async #followTarget(res: http.ServerResponse, name: string, target: StreamTarget, start: number, o: {
    encoding: string; controller: AbortController; remote: string; onEvent: () => void;
  }): Promise<void> {
    const { signal } = o.controller;
    // A raw subscriber's position is the byte it reads next; a record subscriber's, the last id it has.
    const sub = this.streams.subscribe(name, target.kind, target.kind === 'raw' ? start : start - 1, o.remote);
    try {
      if (target.kind === 'raw') await followRaw(res, target.aof, start, sub, { signal, onEvent: o.onEvent, text: o.encoding === 'text' });
      else await followRecords(res, target.log, start, sub, { signal, onEvent: o.onEvent });
    } finally {
      this.streams.unsubscribe(sub);
    }
  }

  /** Runs an SSE response until the client leaves or the service closes. */
  async #runLive(req: http.IncomingMessage, res: http.ServerResponse, controller: AbortController, comment: string,
    run: () => Promise<void>): Promise<void> {
    const stopHeartbeat = openEventStream(req, res, this.#heartbeatMs, comment);
    const onClose = () => controller.abort();
    res.on('close', onClose);
    this.#live.add(controller);
    if (this.#closing) controller.abort(); // started while the service began closing
    let ended = () => {};
    const endedPromise = new Promise<void>((resolve) => (ended = resolve));
    this.#liveEnded.add(endedPromise);
    try {
      await run();
      // The response's last chunk is on its way: a cut before it reaches the socket would leave
      // the client with a broken stream (undici: "terminated") instead of its clean end.
      if (!res.writableFinished && !res.destroyed) await new Promise<void>((resolve) => res.once('close', resolve).once('finish', resolve));
    } finally {
      this.#liveEnded.delete(endedPromise);
      ended();
      this.#live.delete(controller);
      res.off('close', onClose);
      stopHeartbeat();
    }
  }

  // --- stats -----------------------------------------------------------------------------------

  snapshot(): Snapshot {
    const c = this.counters;
    return {
      time: Date.now(),
      uptimeSeconds: (Date.now() - c.started) / 1000,
      stats: this.streams.stats(),
      service: {
        requests: c.requestCount,
        appends: { ...c.appends },
        appendedBytes: { ...c.appendedBytes },
        records: c.records,
        sseSubscribers: this.streams.subscriberCount,
        statsSubscribers: this.#statsSubscribers,
        sseEvents: c.sseEvents,
      },
      streams: this.streams.openStreams(),
      subscribers: this.streams.subscribers(),
      shipping: this.shipping.info(),
      rates: null,
    };
  }

  /** `GET /stats/events`: a snapshot every interval, with rates since the previous one. A slow client misses frames. */
  #statsFeed(req: http.IncomingMessage, res: http.ServerResponse, params: URLSearchParams): void {
    const asked = intParam(params, 'interval');
    if (asked !== undefined && (asked < 100 || asked > 60_000)) throw badArg(`interval: expected 100…60000 ms, got ${asked}`);
    const interval = asked ?? this.#statsIntervalMs;
    const controller = new AbortController();
    this.#statsSubscribers++;
    let prev = this.snapshot();
    void this.#runLive(req, res, controller, `stats every ${interval} ms`, () => new Promise<void>((resolve) => {
      res.write(sseEvent(JSON.stringify(prev), undefined, 'stats'));
      const timer = setInterval(() => {
        if (res.writableNeedDrain) return; // drop this frame rather than buffer
        const next = this.snapshot();
        next.rates = rates(prev, next);
        prev = next;
        res.write(sseEvent(JSON.stringify(next), undefined, 'stats'));
      }, interval);
      const stop = () => {
        clearInterval(timer);
        res.end();
        resolve();
      };
      if (controller.signal.aborted) stop();
      else controller.signal.addEventListener('abort', stop, { once: true });
    })).finally(() => this.#statsSubscribers--);
  }

  // --- shutdown --------------------------------------------------------------------------------

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#signalHandler) {
      process.off('SIGTERM', this.#signalHandler);
      process.off('SIGINT', this.#signalHandler);
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.#live) c.abort();
    this.server.closeIdleConnections();
    // In-flight appends and reads finish (a client that never completes its body is cut at the
    // deadline), and event streams end with their last chunk sent.
    const deadline = setTimeout(() => this.server.closeAllConnections(), this.#shutdownTimeoutMs);
    try {
      while (this.#inflight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      await Promise.allSettled([...this.#liveEnded]);
    } finally {
      clearTimeout(deadline);
    }
    this.server.closeAllConnections();
    await closed;
    let failure: unknown;
    await this.shipping.close();
    await this.streams.close().catch((e: unknown) => (failure = e));
    await this.manager.close().catch((e: unknown) => (failure ??= e));
    if (failure !== undefined) throw failure;
  }
}

