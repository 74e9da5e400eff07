/**
 * A Writable over an AOF: `pipeline(source, aof.createWriteStream())`. Each chunk is one
 * `aof.write` (a copy into the mapping), so every write completes before its callback: the stream
 * never holds data of its own beyond what Node's Writable buffers while corked.
 */
import { Writable } from 'node:stream';
import type { AOF } from './aof.js';
import { invalidArg } from './errors.js';

/** Options of {@link AOF.createWriteStream}. */
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

function checkBoolean(what: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArg(what, 'a boolean', value);
  return value;
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
export function createWriteStream(aof: AOF, options: WriteStreamOptions = {}): Writable {
  if (options === null || typeof options !== 'object') throw invalidArg('options', 'an object', options);
  const sync = checkBoolean('options.sync', options.sync);
  const flush = checkBoolean('options.flush', options.flush);
  const finish = checkBoolean('options.finish', options.finish);
  const { highWaterMark, signal } = options;
  if (highWaterMark != null && (!Number.isSafeInteger(highWaterMark) || highWaterMark < 0)) {
    throw invalidArg('options.highWaterMark', 'a non-negative safe integer', highWaterMark);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArg('options.signal', 'an AbortSignal', signal);
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
