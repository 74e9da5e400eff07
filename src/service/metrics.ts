/**
 * The service's own counters, the stats snapshot the dashboard feed sends, and the Prometheus
 * text exposition (format 0.0.4) of both: every Manager stat plus the service's HTTP, append and
 * subscriber metrics.
 *
 * Naming: `mmap_aof_<stat in snake_case>`; counters end in `_total`; byte quantities carry
 * `_bytes`; a timed stat ({ count, totalNs, maxNs }) becomes three series:
 * `<name>_total` (count), `<name>_seconds_total` (totalNs / 1e9) and `<name>_max_seconds` (a gauge,
 * the longest one since the service started).
 */
import type { Stats, TimeCounter } from '../stats.js';
import type { ShippingInfo } from './shipping.js';
import type { StreamKind, SubscriberInfo } from './streams.js';

type StatKind = 'counter' | 'gauge' | 'timer';

interface StatMetric {
  kind: StatKind;
  /** Metric name without the `mmap_aof_` prefix and without `_total` (added for counters). */
  name: string;
  help: string;
}

/**
 * How each Manager stat is exposed. A stat missing here (a newer library) is still exposed: a
 * number as a gauge `mmap_aof_<snake_case>`, a time counter as a timer.
 */
export const STAT_METRICS: { [K in keyof Stats]?: StatMetric } = {
  creates: { kind: 'counter', name: 'creates', help: 'Files created by open.' },
  opens: { kind: 'counter', name: 'opens', help: 'Successful opens (file-backed and anonymous).' },
  openErrors: { kind: 'counter', name: 'open_errors', help: 'Failed opens.' },
  closes: { kind: 'counter', name: 'closes', help: 'AOFs closed.' },
  activeMaps: { kind: 'gauge', name: 'active_maps', help: 'Mappings alive now.' },
  activeFileSize: { kind: 'gauge', name: 'active_file_size_bytes', help: 'Bytes on disk of the open files.' },
  activeMappedMemory: { kind: 'gauge', name: 'active_mapped_memory_bytes', help: 'File-backed bytes mapped now.' },
  activeAnonymousMemory: { kind: 'gauge', name: 'active_anonymous_memory_bytes', help: 'Anonymous bytes mapped now.' },
  lifetimeMemory: { kind: 'counter', name: 'lifetime_memory_bytes', help: 'Every byte ever mapped.' },
  flushes: { kind: 'timer', name: 'flushes', help: 'Flushes (msync of the dirty range).' },
  flushErrors: { kind: 'counter', name: 'flush_errors', help: 'Failed flushes.' },
  finishes: { kind: 'timer', name: 'finishes', help: 'Files finished (final marker, truncate, read-only).' },
  finishErrors: { kind: 'counter', name: 'finish_errors', help: 'Failed finishes.' },
  syncs: { kind: 'timer', name: 'syncs', help: 'fsyncs (sync(): flush + fsync).' },
  syncErrors: { kind: 'counter', name: 'sync_errors', help: 'Failed fsyncs.' },
  maps: { kind: 'counter', name: 'maps', help: 'mmap calls: first mappings and growths.' },
  mapErrors: { kind: 'counter', name: 'map_errors', help: 'Failed mmap calls.' },
  unmaps: { kind: 'counter', name: 'unmaps', help: 'Mappings released.' },
  unmapErrors: { kind: 'counter', name: 'unmap_errors', help: 'Failed releases.' },
  truncates: { kind: 'counter', name: 'truncates', help: 'ftruncate calls (finish).' },
  truncateErrors: { kind: 'counter', name: 'truncate_errors', help: 'Failed ftruncate calls.' },
  chmods: { kind: 'counter', name: 'chmods', help: 'chmod calls (finish).' },
  chmodErrors: { kind: 'counter', name: 'chmod_errors', help: 'Failed chmod calls.' },
  writes: { kind: 'counter', name: 'writes', help: 'Committed writes (write, append, checkpoint) to raw streams.' },
  bytesWritten: { kind: 'counter', name: 'bytes_written', help: 'Bytes of committed writes to raw streams.' },
  blockingGrows: { kind: 'timer', name: 'blocking_grows', help: 'Growth a writer waited for.' },
  backgroundGrows: { kind: 'timer', name: 'background_grows', help: 'Growth done ahead of the writer, off the event loop.' },
  growErrors: { kind: 'counter', name: 'grow_errors', help: 'Failed growths.' },
  tailers: { kind: 'gauge', name: 'tailers', help: 'Tailers attached now (SSE subscribers of raw streams among them).' },
  tailerWakes: { kind: 'counter', name: 'tailer_wakes', help: 'Polls delivered to tailers.' },
  tailerBytesRead: { kind: 'counter', name: 'tailer_bytes_read', help: 'Bytes tailers accepted.' },
};

export const PREFIX = 'mmap_aof_';

export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/** Upper bounds (seconds) of the append latency histogram's buckets. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The service's own counters (the Manager keeps the library's). */
export class ServiceCounters {
  readonly started = Date.now();
  /** `route method status` → count. */
  readonly requests = new Map<string, { route: string; method: string; status: number; count: number }>();
  readonly appends: Record<StreamKind, number> = { raw: 0, records: 0 };
  /** Raw: bytes appended; records: payload bytes of the records appended. */
  readonly appendedBytes: Record<StreamKind, number> = { raw: 0, records: 0 };
  records = 0;
  readonly rejectedBodies = { too_large: 0, aborted: 0 };
  sseEvents = 0;
  /** Append latency (body received → reply ready, sync included): histogram. */
  readonly latency = { buckets: new Array<number>(LATENCY_BUCKETS.length).fill(0), count: 0, sum: 0 };

  request(route: string, method: string, status: number): void {
    const key = `${route} ${method} ${status}`;
    const entry = this.requests.get(key);
    if (entry) entry.count++;
    else this.requests.set(key, { route, method, status, count: 1 });
  }

  appended(kind: StreamKind, bytes: number, records: number, seconds: number): void {
    this.appends[kind]++;
    this.appendedBytes[kind] += bytes;
    this.records += records;
    const l = this.latency;
    l.count++;
    l.sum += seconds;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) l.buckets[i]!++;
  }

  get requestCount(): number {
    let n = 0;
    for (const r of this.requests.values()) n += r.count;
    return n;
  }
}

/** What the stats feed (`GET /stats`, `GET /stats/events`) sends. */
export interface Snapshot {
  /** ms since the epoch. */
  time: number;
  uptimeSeconds: number;
  /** manager.stats(): every raw stream's counters. */
  stats: Stats;
  service: {
    requests: number;
    appends: Record<StreamKind, number>;
    appendedBytes: Record<StreamKind, number>;
    records: number;
    sseSubscribers: number;
    statsSubscribers: number;
    sseEvents: number;
  };
  streams: Array<{ name: string; kind: StreamKind; size: number; subscribers: number }>;
  subscribers: SubscriberInfo[];
  /** Record streams shipped to NATS JetStream (ServiceOptions.ship). */
  shipping: ShippingInfo[];
  /** Per second since the previous snapshot of the same feed (null in the first one). */
  rates: Rates | null;
}

export interface Rates {
  seconds: number;
  /** AOF writes/s (raw streams). */
  writes: number;
  /** AOF bytes/s (raw streams). */
  bytes: number;
  /** Records appended/s. */
  records: number;
  /** Record payload bytes/s. */
  recordBytes: number;
  /** Append requests/s (both kinds). */
  appends: number;
  /** Blocking grows in the interval (not per second: they are rare). */
  blockingGrows: number;
  /** Mean flush time (ms) of the flushes in the interval; null when there were none. */
  flushMeanMs: number | null;
}

export function rates(prev: Snapshot, next: Snapshot): Rates {
  const seconds = Math.max((next.time - prev.time) / 1000, 1e-3);
  const d = (a: number, b: number) => (b - a) / seconds;
  const flushes = next.stats.flushes.count - prev.stats.flushes.count;
  return {
    seconds,
    writes: d(prev.stats.writes, next.stats.writes),
    bytes: d(prev.stats.bytesWritten, next.stats.bytesWritten),
    records: d(prev.service.records, next.service.records),
    recordBytes: d(prev.service.appendedBytes.records, next.service.appendedBytes.records),
    appends: d(prev.service.appends.raw + prev.service.appends.records, next.service.appends.raw + next.service.appends.records),
    blockingGrows: next.stats.blockingGrows.count - prev.stats.blockingGrows.count,
    flushMeanMs: flushes > 0 ? (next.stats.flushes.totalNs - prev.stats.flushes.totalNs) / flushes / 1e6 : null,
  };
}

// --- Prometheus text format ----------------------------------------------------------------------

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Exposition {
  readonly #lines: string[] = [];
  readonly #seen = new Set<string>();

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: Array<[Record<string, string> | null, number]>,
    suffix = ''): void {
    const full = PREFIX + name;
    if (this.#seen.has(full)) throw new Error(`metric ${full} twice`);
    this.#seen.add(full);
    this.#lines.push(`# HELP ${full} ${escapeHelp(help)}`, `# TYPE ${full} ${type}`);
    for (const [labels, value] of samples) this.#lines.push(`${full}${suffix}${labelText(labels)} ${formatValue(value)}`);
  }

  raw(line: string): void {
    this.#lines.push(line);
  }

  text(): string {
    return `${this.#lines.join('\n')}\n`;
  }
}

function labelText(labels: Record<string, string> | null): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function isTimeCounter(v: unknown): v is TimeCounter {
  return typeof v === 'object' && v !== null && typeof (v as TimeCounter).count === 'number' && typeof (v as TimeCounter).totalNs === 'number';
}

/** Every Manager stat, then the service's metrics, in the Prometheus text format (0.0.4). */
export function renderMetrics(snapshot: Snapshot, counters: ServiceCounters): string {
  const out = new Exposition();
  for (const [key, value] of Object.entries(snapshot.stats) as Array<[keyof Stats, number | TimeCounter]>) {
    const known = STAT_METRICS[key];
    const name = known?.name ?? snakeCase(key);
    const help = known?.help ?? `Manager stat ${key}.`;
    if (isTimeCounter(value)) {
      out.family(`${name}_total`, 'counter', `${help} Count.`, [[null, value.count]]);
      out.family(`${name}_seconds_total`, 'counter', `${help} Total time, seconds.`, [[null, value.totalNs / 1e9]]);
      out.family(`${name}_max_seconds`, 'gauge', `${help} Longest one, seconds.`, [[null, (value.maxNs ?? 0) / 1e9]]);
    } else if (typeof value === 'number') {
      if (known?.kind === 'counter') out.family(`${name}_total`, 'counter', help, [[null, value]]);
      else out.family(name, 'gauge', help, [[null, value]]);
    }
  }

  const kinds: StreamKind[] = ['raw', 'records'];
  out.family('http_requests_total', 'counter', 'HTTP requests answered, by route, method and status.',
    [...counters.requests.values()].map((r) => [{ route: r.route, method: r.method, status: String(r.status) }, r.count]));
  out.family('service_appends_total', 'counter', 'Committed append requests, by stream kind.',
    kinds.map((k) => [{ kind: k }, counters.appends[k]]));
  out.family('service_appended_bytes_total', 'counter', 'Bytes appended by requests (raw: the body; records: record payloads).',
    kinds.map((k) => [{ kind: k }, counters.appendedBytes[k]]));
  out.family('service_records_appended_total', 'counter', 'Records appended to record streams.', [[null, counters.records]]);
  out.family('service_rejected_bodies_total', 'counter', 'Request bodies refused (too_large: over bodyLimit, 413) or abandoned by the client (aborted); nothing appended.',
    [[{ reason: 'too_large' }, counters.rejectedBodies.too_large], [{ reason: 'aborted' }, counters.rejectedBodies.aborted]]);

  // Histogram: cumulative buckets, then +Inf, sum and count.
  const l = counters.latency;
  const h = `${PREFIX}service_append_duration_seconds`;
  out.family('service_append_duration_seconds', 'histogram', 'Append latency: body received to reply ready (sync included).', []);
  LATENCY_BUCKETS.forEach((le, i) => out.raw(`${h}_bucket{le="${le}"} ${l.buckets[i]}`));
  out.raw(`${h}_bucket{le="+Inf"} ${l.count}`);
  out.raw(`${h}_sum ${l.sum}`);
  out.raw(`${h}_count ${l.count}`);

  out.family('service_sse_subscribers', 'gauge', 'SSE clients following a stream now.', [[null, snapshot.service.sseSubscribers]]);
  out.family('service_sse_events_total', 'counter', 'SSE stream events sent.', [[null, counters.sseEvents]]);
  out.family('service_stats_subscribers', 'gauge', 'Clients of the stats feed (dashboards) now.', [[null, snapshot.service.statsSubscribers]]);
  out.family('service_streams_open', 'gauge', 'Streams the service has open, by kind.',
    kinds.map((k) => [{ kind: k }, snapshot.streams.filter((s) => s.kind === k).length]));

  const perStream = new Map<string, { kind: StreamKind; name: string; subscribers: number; maxLag: number }>();
  for (const s of snapshot.subscribers) {
    const key = `${s.kind}:${s.stream}`;
    const e = perStream.get(key) ?? { kind: s.kind, name: s.stream, subscribers: 0, maxLag: 0 };
    e.subscribers++;
    e.maxLag = Math.max(e.maxLag, s.lag);
    perStream.set(key, e);
  }
  const streams = [...perStream.values()];
  out.family('service_stream_subscribers', 'gauge', 'SSE subscribers per stream.',
    streams.map((s) => [{ stream: s.name, kind: s.kind }, s.subscribers]));
  out.family('service_stream_lag_max_bytes', 'gauge', 'Largest lag of a raw stream\'s SSE subscribers: stream size - position.',
    streams.filter((s) => s.kind === 'raw').map((s) => [{ stream: s.name }, s.maxLag]));
  out.family('service_stream_lag_max_records', 'gauge', 'Largest lag of a record stream\'s SSE subscribers: last id - last id sent.',
    streams.filter((s) => s.kind === 'records').map((s) => [{ stream: s.name }, s.maxLag]));
  const ship = snapshot.shipping;
  out.family('service_ship_up', 'gauge', 'Shippers to NATS JetStream shipping now (1), or waiting, retrying or failed (0).',
    ship.map((s) => [{ stream: s.name, subject: s.subject }, s.state === 'shipping' ? 1 : 0]));
  out.family('service_ship_records_total', 'counter', 'Records the NATS JetStream server acknowledged since start.',
    ship.map((s) => [{ stream: s.name, subject: s.subject }, s.shipped]));
  out.family('service_ship_last_id', 'gauge', 'Id of the last record the JetStream subject is known to hold.',
    ship.map((s) => [{ stream: s.name, subject: s.subject }, s.lastId]));
  out.family('service_ship_lag_records', 'gauge', 'Records of the log the JetStream subject is not known to hold yet.',
    ship.map((s) => [{ stream: s.name, subject: s.subject }, s.lagRecords]));
  out.family('service_ship_lag_seconds', 'gauge', 'Seconds since the shipper last had nothing in flight.',
    ship.map((s) => [{ stream: s.name, subject: s.subject }, s.lagSeconds]));
  out.family('service_ship_retries_total', 'counter', 'Times a shipper started again from the stream after the server failed or went away.',
    ship.map((s) => [{ stream: s.name, subject: s.subject }, s.retries]));
  out.family('service_uptime_seconds', 'gauge', 'Seconds since the service started.', [[null, snapshot.uptimeSeconds]]);
  return out.text();
}
