/**
 * A Writable over an AOF: `pipeline(source, aof.createWriteStream())`. Each chunk is one
 * `aof.write` (a copy into the mapping), so every write completes before its callback: the stream
 * never holds data of its own beyond what Node's Writable buffers while corked.
 */
import { Writable } from 'node:stream';
import { validateBoolean, validateInteger, validateObject, validateSignal } from './validate.js';

/** What the stream writes to: an AOF (the stream needs no more of it). */
export interface WriteTarget {
  write(data: Uint8Array | string): number;
  flush(): Promise<void>;
  sync(): Promise<void>;
  finish(): Promise<void>;
}

/** Options of `aof.createWriteStream()`. */
export interface WriteStreamOptions {
  /**
   * At the end of the stream (`end()`, or the source of a pipeline ending), make everything written
   * durable with `aof.sync()` (msync + fsync) before `'finish'`. Default false.
   */
  sync?: boolean;
  /** At the end of the stream, `aof.flush()` (msync, no fsync) before `'finish'`. Default false. */
  flush?: boolean;
  /**
   * At the end of the stream, `aof.finish()` the file (final checkpoint marker, truncate, read-only;
   * durable) before `'finish'`. Default false: the file stays open for more writes.
   */
  finish?: boolean;
  /** The Writable's highWaterMark in bytes (Node's default otherwise). */
  highWaterMark?: number;
  /** Destroys the stream (not the AOF) when aborted. */
  signal?: AbortSignal;
}

/** Bytes for `aof.write`: strings in UTF-8 go in as they are (encoded straight into the mapping). */
function bytesOf(chunk: unknown, encoding: BufferEncoding | 'buffer'): Uint8Array | string {
  if (typeof chunk !== 'string') return chunk as Uint8Array;
  return encoding === 'utf8' || encoding === 'utf-8' ? chunk : Buffer.from(chunk, encoding as BufferEncoding);
}

/**
 * A byte stream (objectMode false) that appends every chunk to `aof` with `aof.write`: strings
 * (in any encoding Node knows; UTF-8 is encoded straight into the mapping), Buffers and
 * Uint8Arrays. Each write is synchronous, so its callback runs at once; a failing write
 * (`ERR_AOF_FULL`, `ERR_AOF_NO_SPACE`, `ERR_AOF_CLOSED`, `ERR_AOF_READ_ONLY`, ...) writes nothing and
 * destroys the stream with that error, so the file holds exactly the chunks before it. A batch
 * (`writev`, after `cork()` or while a write was buffered) is written chunk by chunk with the same
 * rule. Destroying the stream never closes or finishes the AOF.
 */
export function createWriteStream(aof: WriteTarget, options: WriteStreamOptions = {}): Writable {
  validateObject(options, 'options');
  const { sync = false, flush = false, finish = false, highWaterMark, signal } = options;
  validateBoolean(sync, 'options.sync');
  validateBoolean(flush, 'options.flush');
  validateBoolean(finish, 'options.finish');
  if (highWaterMark != null) validateInteger(highWaterMark, 'options.highWaterMark');
  validateSignal(signal, 'options.signal');
  return new Writable({
    objectMode: false,
    decodeStrings: false,
    ...(highWaterMark != null ? { highWaterMark } : {}),
    ...(signal ? { signal } : {}),
    write(chunk: unknown, encoding: BufferEncoding | 'buffer', callback: (error?: Error | null) => void) {
      try {
        aof.write(bytesOf(chunk, encoding));
      } catch (e) {
        callback(e as Error);
        return;
      }
      callback();
    },
    writev(chunks: Array<{ chunk: unknown; encoding: BufferEncoding | 'buffer' }>, callback: (error?: Error | null) => void) {
      try {
        for (const { chunk, encoding } of chunks) aof.write(bytesOf(chunk, encoding));
      } catch (e) {
        callback(e as Error);
        return;
      }
      callback();
    },
    final(callback: (error?: Error | null) => void) {
      let done: Promise<void>;
      try {
        done = finish ? aof.finish() : sync ? aof.sync() : flush ? aof.flush() : Promise.resolve();
      } catch (e) {
        callback(e as Error);
        return;
      }
      done.then(() => callback(), (e: Error) => callback(e));
    },
  });
}
