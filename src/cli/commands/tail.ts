/**
 * `aof tail FILE`: the last lines (`-n`, default 10), the last bytes (`-c`), or everything from a
 * byte offset (`--from`); with `-f`, then every byte the writer publishes, until the file is
 * finished (EOF) or SIGINT/SIGTERM. Read through a cross-process reader (the default doorbell wake): no lock.
 * `aof tail DIR` (or `--records`): the last records of a record log, one per line; `-f` follows
 * new records until SIGINT/SIGTERM (a log has no end).
 */
import * as fs from 'node:fs';
import { AofError, ErrorCode } from '../../errors.js';
import { openReader, type Reader } from '../../reader.js';
import type { TailCount } from '../arguments.js';
import { writeRange } from '../byte-range.js';
import { interruptSignal, pause } from '../interrupt.js';
import { OutBuffer, outputClosedSignal, writeOut } from '../output.js';
import { followRecords, isDirectory, logBounds, readRecords } from '../record-log.js';
import { printRecord } from './cat.js';

export interface TailOptions {
  follow?: boolean;
  /** -F: wait for the file, and follow across rotation (a new file at the path) and finish. */
  retry?: boolean;
  /** The last n lines, or from line n on (`+n`); default the last 10. */
  lines?: TailCount;
  /** The last n bytes, or from byte n on (`+n`, 1-based). */
  bytes?: TailCount;
  from?: number;
  records?: boolean;
  ids?: boolean;
}

/** Where the last `n` lines of bytes[0, size) start. */
export function lastLinesStart(bytes: Buffer, size: number, n: number): number {
  let start = size;
  // A final "\n" ends the last line; it does not start another one.
  let search = size > 0 && bytes[size - 1] === 10 ? size - 2 : size - 1;
  for (let k = 0; k < n; k++) {
    const nl = search < 0 ? -1 : bytes.lastIndexOf(10, search);
    if (nl < 0) return 0;
    start = nl + 1;
    search = nl - 1;
  }
  return start;
}

/** Where line `n` (1-based) of bytes[0, size) starts; size when it has fewer lines. */
export function lineStart(bytes: Buffer, size: number, n: number): number {
  let at = 0;
  for (let k = 1; k < n; k++) {
    const nl = bytes.indexOf(10, at);
    if (nl < 0 || nl >= size) return size;
    at = nl + 1;
  }
  return Math.min(at, size);
}

function startOf(reader: Reader, options: TailOptions): number {
  const size = reader.size;
  if (options.from !== undefined) {
    if (options.from > size) throw new AofError(ErrorCode.INVALID_ARG, `--from ${options.from} is past the end of ${reader.path} (${size} bytes)`);
    return options.from;
  }
  const { bytes, lines } = options;
  if (bytes !== undefined) return bytes.fromStart ? Math.min(size, Math.max(0, bytes.n - 1)) : Math.max(0, size - bytes.n);
  if (lines?.fromStart) return lineStart(reader.view(), size, lines.n);
  return lastLinesStart(reader.view(), size, lines?.n ?? 10);
}

/** Runs `aof tail`. */
export async function tail(path: string, options: TailOptions): Promise<void> {
  if (options.retry) {
    if (options.records || isDirectory(path)) throw new AofError(ErrorCode.INVALID_ARG, '-F applies to a file, not to a record log (use -f)');
    return tailRetry(path, options);
  }
  if (options.records || isDirectory(path)) return tailRecords(path, options);
  const reader = openReader(path, { refuseUnparseable: true });
  try {
    const start = startOf(reader, options);
    if (!options.follow) return await writeRange(reader, start, reader.size, `tail ${reader.name}`);
    const stop = stopSignal();
    try {
      for await (const ev of reader.tail({ from: start, signal: stop.signal })) await writeOut(ev.tail);
    } catch (e) {
      if (!stop.signal.aborted) throw e;
    } finally {
      stop.dispose();
    }
  } finally {
    await reader.close();
  }
}

async function tailRecords(dir: string, options: TailOptions): Promise<void> {
  if (options.bytes !== undefined) throw new AofError(ErrorCode.INVALID_ARG, '-c/--bytes applies to a file, not to a record log');
  const { firstId, lastId } = await logBounds(dir);
  const lines = options.lines;
  const start = Math.max(firstId, options.from ??
    (lines?.fromStart ? firstId + Math.max(0, lines.n - 1) : lastId - (lines?.n ?? 10) + 1));
  const out = new OutBuffer();
  const print = (id: number, data: Buffer) => printRecord(out, id, data, options.ids);
  if (!options.follow) {
    await readRecords(dir, start, lastId, print);
    return out.flush();
  }
  const stop = stopSignal();
  try {
    // Each record is written as it comes: following is about latency.
    await followRecords(dir, start, stop.signal, async (id, data) => {
      await print(id, data);
      await out.flush();
    });
  } finally {
    stop.dispose();
  }
}

/** What ends `-f`: SIGINT/SIGTERM, or the reader of stdout going away. */
function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const interrupt = interruptSignal();
  const closed = outputClosedSignal();
  return {
    signal: AbortSignal.any([interrupt.signal, closed.signal]),
    dispose() {
      interrupt.dispose();
      closed.dispose();
    },
  };
}

/** How often -F looks at the path: for the file to appear, or for a new file there (GNU tail -F: 1 s). */
const RETRY_MS = 200;

/** The path's device and inode, or undefined when nothing is there. */
function fileAt(path: string): string | undefined {
  try {
    const st = fs.statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * `tail -F`: as `-f`, and the file need not exist yet (it is waited for); when the path comes to
 * name another file (rotation: renamed or replaced) the rest of the old one is written, then the
 * new one from its start; a finished file is followed by the next file at the path.
 */
async function tailRetry(path: string, options: TailOptions): Promise<void> {
  const stop = stopSignal();
  const { signal } = stop;
  let previous: string | undefined;
  let first = true;
  try {
    while (!signal.aborted) {
      const at = fileAt(path);
      if (at === undefined || at === previous) {
        await pause(RETRY_MS, signal);
        continue;
      }
      let reader: Reader;
      try {
        reader = openReader(path, { refuseUnparseable: true });
      } catch (e) {
        if (e instanceof AofError && e.code === ErrorCode.NOT_FOUND) continue; // gone again meanwhile
        throw e;
      }
      previous = fileAt(path) ?? at;
      try {
        const start = first ? startOf(reader, options) : 0;
        first = false;
        await followUntilRotated(reader, path, previous, start, signal);
      } finally {
        await reader.close();
      }
    }
  } finally {
    stop.dispose();
  }
}

/** Writes what `reader` publishes from `start` until EOF, `signal`, or the path names another file (then up to the size seen then). */
async function followUntilRotated(reader: Reader, path: string, identity: string, start: number, signal: AbortSignal): Promise<void> {
  const local = new AbortController();
  const both = AbortSignal.any([signal, local.signal]);
  let until = Infinity;
  const check = setInterval(() => {
    if (until !== Infinity || fileAt(path) === identity) return;
    until = reader.size; // rotated: what the old file holds now is still written
    if (position >= until) local.abort();
  }, RETRY_MS);
  let position = start;
  try {
    for await (const ev of reader.tail({ from: start, signal: both })) {
      const end = Math.min(ev.end, until);
      if (end > ev.begin) await writeOut(ev.tail.subarray(0, end - ev.begin));
      position = end;
      if (position >= until) break;
    }
  } catch (e) {
    if (!both.aborted) throw e;
  } finally {
    clearInterval(check);
  }
}
