/**
 * The streams of a service directory. A stream has one kind for life, fixed by its first append:
 *
 * - raw: the AOF file `<dir>/<name>.aof` (opened through the service's one Manager); a POST body
 *   is appended as one write.
 * - records: the record log `<dir>/<name>.log/`; a POST's NDJSON lines are appended as one batch.
 *
 * Appending the other kind to an existing stream is refused (409, ERR_SERVICE_STREAM_KIND).
 * Streams are opened on first use and stay open until the service closes.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { AOF } from '../aof.js';
import { FileState } from '../file-state.js';
import { AofError, ErrorCode } from '../errors.js';
import { Geometry, GiB, KiB, MiB } from '../geometry.js';
import { Log, type LogOptions } from '../log/index.js';
import type { Manager } from '../manager.js';
import type { Reader } from '../reader.js';
import { addStats, type Stats } from '../stats.js';
import { HttpError, ServiceCode, badArg } from './http.js';

export type StreamKind = 'raw' | 'records';

/** Stream names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 128; never `..`. */
export const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkStreamName(name: string): string {
  if (!STREAM_NAME.test(name) || name.includes('..')) {
    throw badArg(`stream name: expected 1-128 characters [A-Za-z0-9._-] starting with a letter or digit, without "..", got ${JSON.stringify(name.slice(0, 140))}`);
  }
  return name;
}

/** Where new raw streams start and how they grow: 64 KiB, in 1 MiB steps, up to 1 GiB. */
export const DEFAULT_RAW_GEOMETRY = Geometry.create().with(64 * KiB, 1 * GiB, 1 * MiB);

/** An SSE client following a stream. `position`: raw, the next byte to send; records, the last id sent. */
export interface Subscriber {
  readonly id: number;
  readonly stream: string;
  readonly kind: StreamKind;
  position: number;
  events: number;
  readonly remote: string;
  readonly since: number;
}

export interface SubscriberInfo {
  id: number;
  stream: string;
  kind: StreamKind;
  position: number;
  /** Raw: the stream's size; records: its last id. */
  end: number;
  /** end - position: bytes (raw) or records not sent yet. */
  lag: number;
  events: number;
  remote: string;
  since: number;
}

export interface StreamInfo {
  name: string;
  kind: StreamKind;
  /** Raw: content bytes; records: how many records there are. */
  size?: number;
  /** Bytes on disk (raw: content + tail magic + headroom; records: the segment files). */
  fileSize?: number;
  /** Records: first and last id. */
  firstId?: number;
  lastId?: number;
  /** Raw: 'open' or 'finished' (read-only). */
  state?: 'open' | 'finished';
  /** Tailers attached (raw: every tailer of the AOF, SSE ones included; records: SSE subscribers). */
  tailers: number;
  /** SSE subscribers of this stream. */
  subscribers: number;
  error?: { code: string; message: string };
}

export interface StreamsOptions {
  geometry?: Geometry;
  log?: LogOptions;
}

/** Splits an NDJSON body into its lines (blank lines skipped, `\r\n` accepted); each must parse as JSON. */
export function ndjsonLines(body: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  let lineNo = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    lineNo++;
    let stop = end;
    if (stop > start && body[stop - 1] === 0x0d) stop--;
    const line = body.subarray(start, stop);
    start = end + 1;
    const text = line.toString('utf8');
    if (text.trim() === '') continue;
    try {
      JSON.parse(text);
    } catch (e) {
      throw badArg(`NDJSON line ${lineNo} is not JSON: ${(e as Error).message}`);
    }
    lines.push(line);
  }
  return lines;
}

export class Streams {
  readonly #manager: Manager;
  readonly #geometry: Geometry;
  readonly #logOptions: LogOptions;
  /** Record logs, open or opening (so a concurrent append of the other kind sees them). */
  readonly #logs = new Map<string, Promise<Log>>();
  readonly #openLogs = new Map<string, Log>();
  /** Raw streams opened by this service (the Manager's own list is an array copy per call). */
  readonly #raws = new Map<string, AOF>();
  /** Raw streams another process writes, followed read-only. */
  readonly #readers = new Map<string, Reader>();
  readonly #subscribers = new Set<Subscriber>();
  /** Subscribers waiting for a stream that does not exist yet: woken when one is created. */
  readonly #awaiting = new Set<() => void>();
  /** Watches the directory while anyone waits (a stream another process creates). */
  #dirWatch: fs.FSWatcher | undefined;
  #nextSubscriber = 1;
  #closing: Promise<void> | undefined;

  constructor(manager: Manager, options: StreamsOptions = {}) {
    this.#manager = manager;
    this.#geometry = options.geometry ?? DEFAULT_RAW_GEOMETRY;
    this.#logOptions = options.log ?? {};
  }

  get dir(): string {
    return this.#manager.dir;
  }

  #rawPath(name: string): string {
    return nodePath.join(this.#manager.dir, `${name}.aof`);
  }

  /** The directory of the record stream `name`'s log. */
  logPath(name: string): string {
    return nodePath.join(this.#manager.dir, `${name}.log`);
  }

  /** The kind of an existing stream (open or on disk), undefined when there is none. */
  kindOf(name: string): StreamKind | undefined {
    const raw = this.#raws.has(name) || isFile(this.#rawPath(name));
    const records = this.#logs.has(name) || isDirectory(this.logPath(name));
    if (raw && records) {
      throw new HttpError(409, ServiceCode.STREAM_KIND, `stream ${name} exists as both ${name}.aof and ${name}.log/; remove one`);
    }
    return raw ? 'raw' : records ? 'records' : undefined;
  }

  #expectKind(name: string, kind: StreamKind): void {
    const existing = this.kindOf(name);
    if (existing !== undefined && existing !== kind) {
      throw new HttpError(409, ServiceCode.STREAM_KIND, `stream ${name} holds ${existing === 'raw' ? 'raw bytes' : 'records'}; ` +
        `it cannot take ${kind === 'raw' ? 'raw bytes' : 'records (NDJSON)'}`);
    }
  }

  #checkOpen(): void {
    if (this.#closing) throw new HttpError(503, ServiceCode.SHUTTING_DOWN, 'the service is shutting down');
  }

  /** The raw stream's AOF; created when `create` (after checking the kind), else ERR_AOF_NOT_FOUND when missing. */
  raw(name: string, create: boolean): AOF {
    this.#checkOpen();
    const open = this.#raws.get(name);
    if (open && open.state !== FileState.Closing && open.state !== FileState.Closed) return open;
    this.#expectKind(name, 'raw');
    const aof = this.#manager.open(`${name}.aof`, this.#geometry.withCreate(create));
    this.#raws.set(name, aof);
    return aof;
  }

  /** The record stream's log; created when `create`, else ERR_AOF_NOT_FOUND when missing. */
  records(name: string, create: boolean): Promise<Log> {
    this.#checkOpen();
    const pending = this.#logs.get(name);
    if (pending) return pending;
    this.#expectKind(name, 'records');
    const path = this.logPath(name);
    if (!create && !isDirectory(path)) {
      return Promise.reject(new AofError(ErrorCode.NOT_FOUND, `no stream named ${name}`));
    }
    const opening = Log.open(path, this.#logOptions).then(
      (log) => {
        if (this.#closing) {
          void log.close();
          throw new HttpError(503, ServiceCode.SHUTTING_DOWN, 'the service is shutting down');
        }
        this.#openLogs.set(name, log);
        return log;
      },
      (e: unknown) => {
        this.#logs.delete(name);
        throw e;
      },
    );
    this.#logs.set(name, opening);
    return opening;
  }

  /**
   * Either kind, opened for reading (never created); ERR_AOF_NOT_FOUND when there is no such
   * stream. A raw stream another process writes (its lock is taken) is followed with a Reader.
   */
  async open(name: string): Promise<{ kind: 'raw'; aof: AOF | Reader } | { kind: 'records'; log: Log }> {
    const kind = this.kindOf(name);
    if (kind === 'raw') return { kind, aof: this.#readRaw(name) };
    if (kind === 'records') return { kind, log: await this.records(name, false) };
    throw new AofError(ErrorCode.NOT_FOUND, `no stream named ${name}`);
  }

  #readRaw(name: string): AOF | Reader {
    try {
      return this.raw(name, false);
    } catch (e) {
      if (!(e instanceof AofError) || e.code !== ErrorCode.LOCKED) throw e;
    }
    let reader = this.#readers.get(name);
    if (!reader || reader.state >= FileState.Closing) {
      // Closed with the Manager; reused by every request for this stream.
      reader = this.#manager.follow(`${name}.aof`);
      this.#readers.set(name, reader);
    }
    return reader;
  }

  /** Appends a raw body as one write: `offset` where it starts, `size` the stream's new size. */
  appendRaw(name: string, body: Buffer): { aof: AOF; offset: number; size: number } {
    const aof = this.raw(name, true);
    const offset = aof.size;
    if (body.length > 0) aof.write(body);
    this.#wakeAwaiting();
    return { aof, offset, size: aof.size };
  }

  /** Appends records as one batch; their ids, first and last. */
  async appendRecords(name: string, records: Buffer[]): Promise<{ log: Log; ids: [number, number] }> {
    const log = await this.records(name, true);
    this.#checkOpen();
    const ids = log.append(records);
    this.#wakeAwaiting();
    return { log, ids: [ids[0]!, ids[ids.length - 1]!] };
  }

  /**
   * Resolves once a stream `name` exists (created by an append here, or on disk by another
   * process: the directory is watched meanwhile); rejects when `signal` aborts.
   */
  async created(name: string, signal: AbortSignal): Promise<void> {
    while (this.kindOf(name) === undefined) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#awaiting.delete(wake);
          signal.removeEventListener('abort', wake);
          if (this.#awaiting.size === 0) this.#unwatch();
          resolve();
        };
        this.#awaiting.add(wake);
        signal.addEventListener('abort', wake, { once: true });
        this.#watchDir();
        if (this.kindOf(name) !== undefined) wake(); // created by another process before the watch began
      });
    }
  }

  #wakeAwaiting(): void {
    if (this.#awaiting.size === 0) return;
    for (const wake of [...this.#awaiting]) wake();
  }

  #watchDir(): void {
    if (this.#dirWatch) return;
    try {
      this.#dirWatch = fs.watch(this.dir, { persistent: false }, () => this.#wakeAwaiting());
      this.#dirWatch.on('error', () => this.#unwatch());
    } catch {
      // No watch (a directory gone, no inotify left): appends through this service still wake.
    }
  }

  #unwatch(): void {
    this.#dirWatch?.close();
    this.#dirWatch = undefined;
  }

  // --- subscribers ---------------------------------------------------------------------------

  subscribe(stream: string, kind: StreamKind, position: number, remote: string): Subscriber {
    const sub: Subscriber = { id: this.#nextSubscriber++, stream, kind, position, events: 0, remote, since: Date.now() };
    this.#subscribers.add(sub);
    return sub;
  }

  unsubscribe(sub: Subscriber): void {
    this.#subscribers.delete(sub);
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Every SSE subscriber with its lag behind the stream's end. */
  subscribers(): SubscriberInfo[] {
    const out: SubscriberInfo[] = [];
    for (const s of this.#subscribers) {
      const end = this.#end(s.stream, s.kind) ?? s.position;
      out.push({ id: s.id, stream: s.stream, kind: s.kind, position: s.position, end, lag: Math.max(0, end - s.position),
        events: s.events, remote: s.remote, since: s.since });
    }
    return out;
  }

  #end(name: string, kind: StreamKind): number | undefined {
    if (kind === 'records') return this.#openLogs.get(name)?.lastId;
    return this.#raws.get(name)?.size;
  }

  /** The Manager's stats plus those of every open record log (each writes through its own Manager). */
  stats(): Stats {
    let total = this.#manager.stats();
    for (const log of this.#openLogs.values()) total = addStats(total, log.stats());
    return total;
  }

  /** The streams open now (no disk scan): what the stats feed shows. */
  openStreams(): Array<{ name: string; kind: StreamKind; size: number; subscribers: number }> {
    const counts = new Map<string, number>();
    for (const s of this.#subscribers) counts.set(`${s.kind}:${s.stream}`, (counts.get(`${s.kind}:${s.stream}`) ?? 0) + 1);
    const out: Array<{ name: string; kind: StreamKind; size: number; subscribers: number }> = [];
    for (const [name, f] of this.#raws) {
      out.push({ name, kind: 'raw', size: f.size, subscribers: counts.get(`raw:${name}`) ?? 0 });
    }
    for (const [name, log] of this.#openLogs) {
      out.push({ name, kind: 'records', size: log.lastId - log.firstId + 1, subscribers: counts.get(`records:${name}`) ?? 0 });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Every stream in the directory (opening the ones not open yet), with sizes and tailers. */
  async list(): Promise<StreamInfo[]> {
    this.#checkOpen();
    const names = new Map<string, StreamKind[]>();
    const add = (name: string, kind: StreamKind) => {
      if (!STREAM_NAME.test(name) || name.includes('..')) return;
      names.set(name, [...(names.get(name) ?? []), kind]);
    };
    for (const entry of fs.readdirSync(this.#manager.dir, { withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.aof')) add(entry.name.slice(0, -4), 'raw');
      else if (entry.isDirectory() && entry.name.endsWith('.log')) add(entry.name.slice(0, -4), 'records');
    }
    const subs = this.subscribers();
    const count = (name: string, kind: StreamKind) => subs.filter((s) => s.stream === name && s.kind === kind).length;
    const out: StreamInfo[] = [];
    for (const [name, kinds] of [...names].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const kind of kinds) {
        const info: StreamInfo = { name, kind, tailers: 0, subscribers: count(name, kind) };
        try {
          if (kinds.length > 1) this.kindOf(name); // throws the conflict
          if (kind === 'raw') {
            const aof = this.raw(name, false);
            Object.assign(info, { size: aof.size, fileSize: aof.fileSize, state: aof.state === FileState.EOF ? 'finished' : 'open',
              tailers: aof.tailerCount });
          } else {
            const log = await this.records(name, false);
            Object.assign(info, { size: log.lastId - log.firstId + 1, fileSize: directoryBytes(this.logPath(name)),
              firstId: log.firstId, lastId: log.lastId, tailers: info.subscribers });
          }
        } catch (e) {
          info.error = { code: (e as { code?: string }).code ?? 'ERR_SERVICE_INTERNAL', message: (e as Error).message };
        }
        out.push(info);
      }
    }
    return out;
  }

  /** Closes the record logs (the Manager's files are closed by its owner). Idempotent. */
  close(): Promise<void> {
    this.#unwatch();
    this.#closing ??= (async () => {
      const logs = await Promise.allSettled([...this.#logs.values()]);
      const closes = logs.flatMap((r) => (r.status === 'fulfilled' ? [r.value.close()] : []));
      const results = await Promise.allSettled(closes);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    return this.#closing;
  }
}

function isFile(path: string): boolean {
  try {
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.seg')) total += fs.statSync(nodePath.join(dir, entry.name)).size;
  }
  return total;
}
