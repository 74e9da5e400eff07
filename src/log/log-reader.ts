/**
 * Following a record log written by another process or worker: each segment is followed with the
 * cross-process reader (src/reader.ts, through the segment's control block), its frames checked
 * and handed out as records; when the writer seals a segment (the reader reaches its EOF), the
 * next one — created before the seal — takes over.
 */
import * as nodePath from 'node:path';
import { AofError, ErrorCode, closed } from '../errors.js';
import { validateObject, validatePath, validateSafeInteger, validateSignal } from '../validate.js';
import { native } from '../native.js';
import { openReader, openReaderOptions, type Reader, type ReaderOptions } from '../reader.js';
import { frameLength, frameProblem, frameSize, FRAME_HEADER } from './frame.js';
import { existingSegmentIds, segmentName } from './segment-files.js';

/** A record as iterators yield it: `data` is a view of the mapping (no copy); copy it to keep it past close. */
export interface LogRecord {
  id: number;
  data: Buffer;
}

export class LogReader implements AsyncDisposable {
  readonly #dir: string;
  readonly #options: ReaderOptions;
  readonly #readers = new Set<Reader>();
  #closing: Promise<void> | undefined;
  /** lastId(): the last segment's reader and how far its frames were counted. */
  #end: { firstId: number; reader: Reader; at: number; index: number } | undefined;

  /** @internal Use `Log.follow`. */
  constructor(dir: string, options: ReaderOptions) {
    this.#dir = dir;
    this.#options = options;
  }

  /**
   * The records from `startId` (or the first one kept, when it was trimmed), then every record
   * the writer appends, until `signal` aborts, `return()` or close(). Records are views of the
   * mapping (valid until the next one is requested); copy what you keep.
   */
  async *tail(startId = 1, options: { signal?: AbortSignal } = {}): AsyncGenerator<LogRecord> {
    validateSafeInteger(startId, 'startId');
    validateObject(options, 'options');
    const { signal } = options;
    validateSignal(signal, 'options.signal');
    let next = startId;
    for (;;) {
      if (this.#closing) throw closed('log reader');
      const ids = existingSegmentIds(this.#dir);
      const firstId = ids.filter((id) => id <= next).at(-1) ?? ids[0]!;
      next = Math.max(next, firstId);
      const reader = openReader(nodePath.join(this.#dir, segmentName(firstId)), this.#options);
      this.#readers.add(reader);
      try {
        let at = 0;
        let index = 0;
        for await (const ev of reader.tail({ signal })) {
          const buf = ev.contents();
          while (at < ev.end) {
            const valid = native.checkFrames(buf, at, ev.end, index);
            if (valid === at) {
              throw new AofError(ErrorCode.CORRUPT_DATA, `${reader.path}: record ${firstId + index} at offset ${at}: ` +
                `${frameProblem(buf, at, ev.end, index) ?? 'does not check out'}`);
            }
            for (; at < valid; index++) {
              const length = frameLength(buf, at);
              const id = firstId + index;
              if (id >= next) {
                yield { id, data: buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length) };
                next = id + 1;
              }
              at += frameSize(length);
            }
          }
        }
        // EOF: the writer sealed this segment; the next one starts at `firstId + index`.
        next = Math.max(next, firstId + index);
      } finally {
        this.#readers.delete(reader);
        await reader.close();
      }
    }
  }

  /**
   * The id of the last record the writer has published (firstId − 1 of the last segment when it
   * has none yet): for a follower's lag. Counts only the frames published since the last call.
   */
  lastId(): number {
    if (this.#closing) throw closed('log reader');
    const lastFirst = existingSegmentIds(this.#dir).at(-1)!;
    let end = this.#end;
    if (end?.firstId !== lastFirst) {
      const reader = openReader(nodePath.join(this.#dir, segmentName(lastFirst)), this.#options);
      void end?.reader.close();
      end = this.#end = { firstId: lastFirst, reader, at: 0, index: 0 };
    }
    const size = end.reader.size;
    const buf = end.reader.view(0, size);
    while (end.at < size) {
      const valid = native.checkFrames(buf, end.at, size, end.index);
      if (valid === end.at) break; // a bad frame: tail() reports it
      for (; end.at < valid; end.index++) end.at += frameSize(frameLength(buf, end.at));
    }
    return end.firstId + end.index - 1;
  }

  /** Ends every tail (they throw ERR_AOF_CLOSED) and unmaps. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#readers, ...(this.#end ? [this.#end.reader] : [])].map((r) => r.close())).then(() => undefined);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** @internal */
export function followLog(dir: string, options: ReaderOptions = {}): LogReader {
  validatePath(dir, 'dir', 'a directory path');
  openReaderOptions(options); // refused now, not at the first tail()
  return new LogReader(nodePath.resolve(dir), options);
}
