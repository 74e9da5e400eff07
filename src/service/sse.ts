/**
 * Server-Sent Events: following a stream (raw chunks as base64, records as their text) with
 * backpressure, heartbeats and resumption, and the framing shared with the stats feed.
 *
 * Backpressure: a raw stream is read through the library's tail iterator and a record stream
 * through `log.tail()`; both are pulled one event at a time, and when `res.write()` says the
 * socket buffer is full the loop waits for 'drain' before pulling again. A slow client therefore
 * holds at most one chunk (≤ 64 KiB of content) in the server's memory, never the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AOF } from '../aof.js';
import type { Reader } from '../reader.js';
import type { Log } from '../log/index.js';
import { drained } from './http.js';
import type { Subscriber } from './streams.js';

/** Largest piece of a raw stream in one event (base64 makes it 4/3 larger). */
export const MAX_RAW_EVENT = 64 * 1024;

export interface FollowOptions {
  signal: AbortSignal;
  /** Raw streams: events of whole UTF-8 lines as text (`?encoding=text`) instead of base64 chunks. */
  text?: boolean;
  /** Called once per event written (counters). */
  onEvent?: () => void;
}

/** Writes the event-stream headers and an opening comment; starts the heartbeat. Returns its stop. */
export function openEventStream(req: IncomingMessage, res: ServerResponse, heartbeatMs: number, comment: string): () => void {
  req.socket.setNoDelay(true);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: 1000\n: ${comment.replace(/[\r\n]/g, ' ')}\n\n`);
  if (heartbeatMs <= 0) return () => {};
  const timer = setInterval(() => {
    if (!res.writableNeedDrain) res.write(': heartbeat\n\n');
  }, heartbeatMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** One SSE event; `data` may hold newlines (each line becomes a `data:` line). */
export function sseEvent(data: string, id?: number | string, event?: string): string {
  let out = '';
  if (event !== undefined) out += `event: ${event}\n`;
  if (id !== undefined) out += `id: ${id}\n`;
  if (data.includes('\n') || data.includes('\r')) {
    for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  } else {
    out += `data: ${data}\n`;
  }
  return `${out}\n`;
}

/**
 * The last event text made for each stream: subscribers that follow one stream mostly send the same
 * events one after another, so one of them encodes an event (base64, or the record's text) and
 * the others reuse it.
 */
const lastRawEvent = new WeakMap<AOF | Reader, { begin: number; end: number; text: string }>();
const lastRecordEvent = new WeakMap<Log, { id: number; text: string }>();

function rawEvent(aof: AOF | Reader, tail: Buffer, at: number, n: number, begin: number): string {
  const cached = lastRawEvent.get(aof);
  if (cached && cached.begin === begin && cached.end === begin + n) return cached.text;
  const text = `id: ${begin + n}\ndata: ${tail.toString('base64', at, at + n)}\n\n`;
  lastRawEvent.set(aof, { begin, end: begin + n, text });
  return text;
}

function recordEvent(log: Log, id: number, data: Buffer): string {
  const cached = lastRecordEvent.get(log);
  if (cached && cached.id === id) return cached.text;
  const text = sseEvent(data.toString('utf8'), id);
  lastRecordEvent.set(log, { id, text });
  return text;
}

function isAbort(e: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (e as { code?: string })?.code === 'ERR_SERVICE_ABORTED';
}

/**
 * Follows a raw stream from byte `from`: one event per piece of new content, `id` the offset after
 * it (so `Last-Event-ID` is where to resume), `data` the bytes in base64. With `text`, each event
 * is the whole lines that came (UTF-8; `id` the offset after the last "\n", a line's end not
 * repeated as a `data:` line of its own: EventSource joins the lines with "\n"); a line longer
 * than MAX_RAW_EVENT is sent in pieces cut at a character boundary, and at eof what is left of a
 * last line without "\n". A finished stream ends with `event: eof` (data: its size) and the
 * response ends.
 */
export async function followRaw(res: ServerResponse, aof: AOF | Reader, from: number, sub: Subscriber, options: FollowOptions): Promise<void> {
  const { signal } = options;
  const iterator = aof.tail({ from, signal });
  const send = async (text: string, end: number): Promise<void> => {
    const ok = res.write(text);
    sub.position = end;
    sub.events++;
    options.onEvent?.();
    if (!ok) await drained(res, signal);
  };
  /** Text mode: bytes of a line not yet ended (a copy: the tail's view is only valid in its turn). */
  let pending = Buffer.alloc(0);
  let pendingEnd = from;
  try {
    for await (const ev of iterator) {
      const tail = ev.tail;
      if (options.text) {
        let bytes = pending.length > 0 ? Buffer.concat([pending, tail]) : tail;
        let base = ev.begin - pending.length;
        for (;;) {
          const nl = bytes.lastIndexOf(10, MAX_RAW_EVENT - 1);
          const cut = nl >= 0 ? nl + 1 : bytes.length > MAX_RAW_EVENT ? charBoundary(bytes, MAX_RAW_EVENT) : 0;
          if (cut === 0) break;
          const data = bytes.toString('utf8', 0, bytes[cut - 1] === 10 ? cut - 1 : cut);
          await send(sseEvent(data, base + cut), base + cut);
          bytes = bytes.subarray(cut);
          base += cut;
          if (bytes.length === 0) break;
        }
        pending = Buffer.from(bytes);
        pendingEnd = base + bytes.length;
        continue;
      }
      for (let at = 0; at < tail.length;) {
        const n = Math.min(MAX_RAW_EVENT, tail.length - at);
        const end = ev.begin + at + n;
        const text = rawEvent(aof, tail, at, n, ev.begin + at);
        at += n;
        await send(text, end);
      }
    }
    if (pending.length > 0) await send(sseEvent(pending.toString('utf8'), pendingEnd), pendingEnd);
    res.write(sseEvent(JSON.stringify({ size: aof.size }), undefined, 'eof'));
  } catch (e) {
    if (!isAbort(e, signal) && !res.destroyed) {
      res.write(sseEvent(JSON.stringify({ code: (e as { code?: string }).code, message: (e as Error).message }), undefined, 'error'));
    }
  } finally {
    res.end();
  }
}

/** The largest cut ≤ `max` of `bytes` that does not split a UTF-8 character. */
function charBoundary(bytes: Buffer, max: number): number {
  let cut = max;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return cut > 0 ? cut : max;
}

/**
 * Follows a record stream from id `start`: one event per record, `id` the record's id (resume
 * with `Last-Event-ID`: the next record after it), `data` the record as UTF-8 text (an NDJSON
 * line as appended; a record holding newlines is sent as several `data:` lines, which
 * EventSource joins with "\n").
 */
export async function followRecords(res: ServerResponse, log: Log, start: number, sub: Subscriber, options: FollowOptions): Promise<void> {
  const { signal } = options;
  // Writes of one turn go out together: the socket is corked at the first and uncorked on the next turn.
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    res.uncork();
  };
  try {
    for await (const { id, data } of log.tail(start, { signal })) {
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(uncork);
      }
      const ok = res.write(recordEvent(log, id, data));
      sub.position = id;
      sub.events++;
      options.onEvent?.();
      if (!ok) {
        uncork();
        await drained(res, signal);
      }
    }
  } catch (e) {
    if (!isAbort(e, signal) && !res.destroyed) {
      uncork();
      res.write(sseEvent(JSON.stringify({ code: (e as { code?: string }).code, message: (e as Error).message }), undefined, 'error'));
    }
  } finally {
    uncork();
    res.end();
  }
}
