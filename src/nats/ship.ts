/**
 * Ships a record log to a NATS JetStream subject: every record, in order, exactly once.
 *
 * No local cursor: where to start is read from the stream itself (the last message on the
 * subject carries the id of the record it holds, in the `Aof-Id` header), at start and after
 * every failure. Each publish carries a de-duplication id (`Nats-Msg-Id`: subject, record id and
 * the record's CRC32C), so the same record republished after a crash or a lost acknowledgement is
 * stored once, and an expectation the server checks, so a second publisher on the subject makes
 * one of them fail (ERR_AOF_CONFLICT) instead of interleaving: on a stream of its own (its
 * subjects are exactly this one) the id of the message before (expected-last-msg-id), which lets
 * `window` publishes be in flight and still catches any message slipped between two of them; on
 * a stream shared with other subjects, the subject's last sequence, known exactly only once the
 * record before is acknowledged: one publish in flight at a time. The shipper reads the log no
 * faster than the server acknowledges, so its memory is bounded, and a slow or stopped server
 * only leaves it behind: the writer of the log is another party and never waits for it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AofError, ErrorCode, invalidArg } from '../errors.js';
import { crc32c } from '../checksum.js';
import { Log } from '../log/log.js';
import type { LogRecord } from '../log/log-reader.js';
import { validateInteger, validateObject, validatePath } from '../validate.js';
import {
  WRONG_LAST_MSG_ID, WRONG_LAST_SEQUENCE, apiErrorCode, loadNats, openConnection, stopWith, validateConnectOptions,
  type ConnectOptions, type NatsClient, type NatsConnection,
} from './client.js';

/** The header holding the shipped record's id. */
export const ID_HEADER = 'Aof-Id';

export interface ShipOptions extends ConnectOptions {
  /** The JetStream stream that must hold `subject`. */
  stream: string;
  /** The subject every record is published to (one subject per log). */
  subject: string;
  /** Unacknowledged publishes in flight at most (default 256). */
  window?: number;
  /** The first record to ship when the subject holds none (default: the log's first). */
  from?: number;
  /** Stops the shipper (in-flight publishes settled first), as close() does. */
  signal?: AbortSignal;
  /** Pause (ms) before trying again after the server failed or went away (default 250). */
  retryMs?: number;
}

/** What {@link Shipper.stats} says. */
export interface ShipStats {
  state: 'starting' | 'shipping' | 'retrying' | 'stopped' | 'failed';
  /** Records acknowledged by the server since start. */
  shipped: number;
  /** The id of the last record the stream is known to hold (0: none). */
  lastId: number;
  /** Its stream sequence. */
  lastSequence: number;
  /** Publishes in flight. */
  inFlight: number;
  /** Records in the log that the stream is not known to hold yet (the log's last id − lastId). */
  lagRecords: number;
  /** Seconds since the shipper last had nothing in flight (0 while caught up). */
  lagSeconds: number;
  /** Failures the shipper recovered from by starting again from the stream (server gone, timeouts). */
  retries: number;
}

/** A running shipper (see {@link ship}). */
export class Shipper implements AsyncDisposable {
  /** Settles when the shipper stops: resolves after close() or the signal, rejects with what stopped it. */
  readonly done: Promise<void>;
  /** The log's directory, or the open Log given (followed in process: no wake across processes). */
  readonly #source: string | Log;
  readonly #name: string;
  readonly #options: Required<Pick<ShipOptions, 'stream' | 'subject' | 'window' | 'retryMs'>> & ShipOptions;
  readonly #stop = new AbortController();
  #stats: ShipStats = { state: 'starting', shipped: 0, lastId: 0, lastSequence: 0, inFlight: 0, lagRecords: 0, lagSeconds: 0, retries: 0 };
  #readId = 0;
  #behindSince = 0;
  #reader: RecordSource | undefined;

  /** @internal Use {@link ship}. */
  constructor(source: string | Log, options: ShipOptions) {
    if (!(source instanceof Log)) validatePath(source, 'source', 'a record log directory or an open Log');
    validateObject(options, 'options');
    const { stream, subject } = options;
    const window = options.window ?? 256;
    const retryMs = options.retryMs ?? 250;
    if (typeof stream !== 'string' || stream === '') throw invalidArg('options.stream', 'a stream name', stream);
    if (typeof subject !== 'string' || subject === '' || /[\s*>]/.test(subject)) {
      throw invalidArg('options.subject', 'a subject without wildcards', subject);
    }
    validateInteger(window, 'options.window', 1, 65_536);
    validateInteger(retryMs, 'options.retryMs', 1, 60_000);
    if (options.from !== undefined) validateInteger(options.from, 'options.from', 1);
    validateConnectOptions(options);
    this.#source = source;
    this.#name = typeof source === 'string' ? source : 'the log';
    this.#options = { ...options, window, retryMs };
    stopWith(this.#stop, options.signal);
    this.done = this.#run();
    this.done.catch(() => {}); // the caller's to look at; never an unhandled rejection
  }

  /** Counters and lag, for a progress line, the service's metrics and the dashboard. */
  stats(): ShipStats {
    const s = this.#stats;
    let logLast = this.#readId;
    try {
      logLast = Math.max(logLast, this.#reader?.lastId() ?? 0);
    } catch {
      // the reader closed (the shipper stopped) or the log is unreadable now: what it read is the best known
    }
    return { ...s, lagRecords: Math.max(0, logLast - s.lastId), lagSeconds: this.#behindSince ? (performance.now() - this.#behindSince) / 1000 : 0 };
  }

  /** Stops: no new publish, the ones in flight settled; resolves when stopped (a failure rejects `done`, not this). */
  async close(): Promise<void> {
    this.#stop.abort(new Error('the shipper was closed'));
    await this.done.catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run(): Promise<void> {
    const client = await loadNats();
    const o = this.#options;
    const { nc, release } = await openConnection(client, o);
    try {
      const jsm = await client.jetstream.jetstreamManager(nc);
      await checkSubject(jsm, o.stream, o.subject);
      const js = client.jetstream.jetstream(nc);
      while (!this.#stop.signal.aborted) {
        try {
          if (await this.#shipFromStream(client, jsm, js, nc) === 'source closed') break;
        } catch (e) {
          if (this.#stop.signal.aborted) break;
          if (!isTransient(e)) throw e;
          this.#stats.retries++;
          this.#stats.state = 'retrying';
          await sleep(o.retryMs, undefined, { signal: this.#stop.signal }).catch(() => {}); // aborted: stop
        }
      }
      this.#stats.state = 'stopped';
    } catch (e) {
      this.#stats.state = 'failed';
      throw e;
    } finally {
      await this.#reader?.close();
      await release();
    }
  }

  /**
   * One pass: find where the stream is, then publish from the next record on until something
   * fails, the shipper stops, or the Log it was given closes ('source closed').
   */
  async #shipFromStream(client: NatsClient, jsm: JetStreamManager, js: JetStreamClient, nc: NatsConnection): Promise<'source closed' | undefined> {
    const o = this.#options;
    const last = await jsm.streams.getMessage(o.stream, { last_by_subj: o.subject });
    const sequence = last?.seq ?? 0;
    // The stream of its own: chain each publish to the one before by its de-duplication id.
    const info = await jsm.streams.info(o.stream);
    const own = info.config.subjects?.join() === o.subject;
    const window = own ? o.window : 1;
    let lastMsgId = last?.header?.get('Nats-Msg-Id') ?? '';
    const lastId = last ? Number(last.header?.get(ID_HEADER)) : 0;
    if (last && !(Number.isSafeInteger(lastId) && lastId > 0)) {
      throw new AofError(ErrorCode.CONFLICT, `${o.subject}: its last message (sequence ${sequence}) has no ${ID_HEADER} header: not a shipped log`);
    }
    this.#stats.lastId = lastId;
    this.#stats.lastSequence = sequence;
    this.#stats.state = 'shipping';
    const maxPayload = nc.info?.max_payload ?? Infinity;
    await this.#reader?.close();
    const reader = openSource(this.#source);
    this.#reader = reader;
    /** Publishes in flight, oldest first; each marked when its acknowledgement (or failure) came. */
    const inFlight: InFlight[] = [];
    const failed = new AbortController();
    let failure: unknown;
    let room: (() => void) | undefined;
    // Acknowledgements are taken in order, as they come, also while the tail waits for records.
    const drain = () => {
      while (inFlight[0]?.done) {
        const head = inFlight.shift()!;
        if (head.error !== undefined) {
          failure ??= head.error;
          failed.abort(head.error);
          continue;
        }
        this.#stats.shipped++;
        this.#stats.lastId = head.id;
        this.#stats.lastSequence = head.seq;
      }
      this.#stats.inFlight = inFlight.length;
      if (inFlight.length === 0) this.#behindSince = 0;
      if (inFlight.length < window) room?.();
    };
    const signal = AbortSignal.any([this.#stop.signal, failed.signal]);
    /** The id the pass must start at after the subject's last one (a trimmed log cannot give it). */
    let expected: number | undefined = last ? lastId + 1 : undefined;
    try {
      for await (const record of reader.tail(last ? lastId : (o.from ?? 1), { signal })) {
        if (last && record.id === lastId) {
          // The subject's last message must be this log's record: else it holds another log.
          if (!lastMsgId.endsWith(`:${crc32c(record.data).toString(16)}`)) {
            throw new AofError(ErrorCode.CONFLICT, `${o.subject}: its last message (id ${lastId}, sequence ${sequence}) is not record ${lastId} ` +
              `of ${this.#name}: the subject holds another log`);
          }
          continue;
        }
        if (expected !== undefined && record.id > expected) {
          throw new AofError(ErrorCode.NOT_FOUND, `${this.#name}: records ${lastId + 1} to ${record.id - 1} were trimmed from the log ` +
            `before they were shipped to ${o.subject}: the stream would have a gap`);
        }
        expected = undefined; // the first record of the pass is where it must be
        if (record.data.length > maxPayload - 128) {
          throw new AofError(ErrorCode.RECORD_TOO_BIG, `${this.#name}: record ${record.id} (${record.data.length} bytes) is over the server's max payload ` +
            `(${maxPayload} bytes with headers): the shipper stops at it`);
        }
        const h = client.transport.headers();
        h.set(ID_HEADER, String(record.id));
        const msgID = `${o.subject}:${record.id}:${crc32c(record.data).toString(16)}`;
        const entry: InFlight = { id: record.id, seq: 0, done: false, error: undefined };
        inFlight.push(entry);
        // Shared stream: one in flight, so the subject's last sequence is the last acknowledged.
        const expect = own ? (lastMsgId === '' ? { lastSequence: info.state.last_seq } : { lastMsgID: lastMsgId })
          : { lastSubjectSequence: this.#stats.lastSequence };
        lastMsgId = msgID;
        js.publish(o.subject, Buffer.from(record.data), { msgID, headers: h, expect }).then((ack) => {
          entry.seq = ack.seq;
          entry.done = true;
          drain();
        }, (e: unknown) => {
          entry.error = e ?? new Error('publish failed');
          entry.done = true;
          drain();
        });
        this.#readId = record.id;
        if (this.#behindSince === 0) this.#behindSince = performance.now();
        this.#stats.inFlight = inFlight.length;
        if (inFlight.length >= window) {
          await new Promise<void>((resolve) => (room = resolve));
          room = undefined;
        }
        if (failure !== undefined) break;
      }
    } catch (e) {
      if (failure === undefined && !this.#stop.signal.aborted) failure = e;
    }
    // Stopped or failed: what is in flight settles (each acknowledgement, or its failure) first.
    while (inFlight.length > 0) await new Promise<void>((resolve) => (room = () => inFlight.length === 0 && resolve()));
    this.#stats.inFlight = 0;
    if (failure !== undefined && !this.#stop.signal.aborted) throw conflictOr(failure, o.subject);
    // The tail of an open Log ends when the Log closes: nothing more will come.
    return this.#source instanceof Log && !this.#stop.signal.aborted ? 'source closed' : undefined;
  }
}

/** Where the records come from: a follower of the log's directory, or an open Log's own tail. */
interface RecordSource {
  tail(startId: number, options: { signal: AbortSignal }): AsyncGenerator<LogRecord>;
  lastId(): number;
  close(): Promise<void>;
}

function openSource(source: string | Log): RecordSource {
  if (typeof source === 'string') return Log.follow(source);
  return { tail: (startId, options) => source.tail(startId, options), lastId: () => source.lastId, close: () => Promise.resolve() };
}

interface InFlight {
  id: number;
  seq: number;
  done: boolean;
  error: unknown;
}

/** The server refused a publish's expectation: someone else published in between. */
function isConflict(e: unknown): boolean {
  const code = apiErrorCode(e);
  return code === WRONG_LAST_SEQUENCE || code === WRONG_LAST_MSG_ID;
}

type JetStreamManager = Awaited<ReturnType<NatsClient['jetstream']['jetstreamManager']>>;
type JetStreamClient = ReturnType<NatsClient['jetstream']['jetstream']>;

/** The subject must exist in the stream, and in no other. */
async function checkSubject(jsm: JetStreamManager, stream: string, subject: string): Promise<void> {
  let bound: string | undefined;
  try {
    bound = await jsm.streams.find(subject);
  } catch (e) {
    throw new AofError(ErrorCode.REMOTE, `${subject}: no JetStream stream holds this subject (${(e as Error).message})`, { cause: e });
  }
  if (bound !== stream) {
    throw new AofError(ErrorCode.REMOTE, `${subject}: bound to stream ${bound}, not to ${stream}`);
  }
}

function conflictOr(e: unknown, subject: string): unknown {
  if (isConflict(e)) {
    return new AofError(ErrorCode.CONFLICT, `${subject}: another publisher wrote to the subject (a second shipper?): ${(e as Error).message}`, { cause: e });
  }
  return e;
}

/** Failures that starting again from the stream can get past: the server went away or timed out. */
function isTransient(e: unknown): boolean {
  if (e instanceof AofError) return false;
  if (isConflict(e)) return false;
  const name = (e as Error | undefined)?.name ?? '';
  const message = (e as Error | undefined)?.message ?? '';
  return /Timeout|Connection|NoResponders|RequestError|Closed/i.test(name) || /timeout|no responders|closed|disconnect|connection/i.test(message);
}

/**
 * Starts shipping a record log to `options.subject` of `options.stream` (which must exist): the
 * log in the directory `source` (followed as any reader in any process would), or an open `Log`
 * of this process (its own tail: no wake across processes, the lowest latency; the shipper stops
 * when that Log closes). From the record after the one the subject holds last (or `from`), then
 * every record appended, until close() or the signal. Returns at once; `shipper.done` settles when
 * it stops.
 */
export function ship(source: string | Log, options: ShipOptions): Shipper {
  return new Shipper(source, options);
}
