/**
 * `aof tail FILE`: the last lines (`-n`, default 10), the last bytes (`-c`), or everything from a
 * byte offset (`--from`); with `-f`, then every byte the writer publishes, until the file is
 * finished (EOF) or SIGINT/SIGTERM. Read through a cross-process reader (the default doorbell wake): no lock.
 * `aof tail DIR` (or `--records`): the last records of a record log, one per line; `-f` follows
 * new records until SIGINT/SIGTERM (a log has no end).
 */
import { AofError, ErrorCode } from '../../errors.js';
import { openReader, type Reader } from '../../reader.js';
import { writeRange } from '../byte-range.js';
import { interruptSignal } from '../interrupt.js';
import { OutBuffer, writeOut } from '../output.js';
import { followRecords, isDirectory, logBounds, readRecords } from '../record-log.js';
import { printRecord } from './cat.js';

export interface TailOptions {
  follow?: boolean;
  lines?: number;
  bytes?: number;
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

function startOf(reader: Reader, options: TailOptions): number {
  const size = reader.size;
  if (options.from !== undefined) {
    if (options.from > size) throw new AofError(ErrorCode.INVALID_ARG, `--from ${options.from} is past the end of ${reader.path} (${size} bytes)`);
    return options.from;
  }
  if (options.bytes !== undefined) return Math.max(0, size - options.bytes);
  return lastLinesStart(reader.view(), size, options.lines ?? 10);
}

/** Runs `aof tail`. */
export async function tail(path: string, options: TailOptions): Promise<void> {
  if (options.records || isDirectory(path)) return tailRecords(path, options);
  const reader = openReader(path);
  try {
    const start = startOf(reader, options);
    if (!options.follow) return await writeRange(reader, start, reader.size, `tail ${reader.name}`);
    const interrupt = interruptSignal();
    try {
      for await (const ev of reader.tail({ from: start, signal: interrupt.signal })) await writeOut(ev.tail);
    } catch (e) {
      if (!interrupt.signal.aborted) throw e;
    } finally {
      interrupt.dispose();
    }
  } finally {
    await reader.close();
  }
}

async function tailRecords(dir: string, options: TailOptions): Promise<void> {
  if (options.bytes !== undefined) throw new AofError(ErrorCode.INVALID_ARG, '-c/--bytes applies to a file, not to a record log');
  const { firstId, lastId } = await logBounds(dir);
  const start = Math.max(firstId, options.from ?? lastId - (options.lines ?? 10) + 1);
  const out = new OutBuffer();
  const print = (id: number, data: Buffer) => printRecord(out, id, data, options.ids);
  if (!options.follow) {
    await readRecords(dir, start, lastId, print);
    return out.flush();
  }
  const interrupt = interruptSignal();
  try {
    // Each record is written as it comes: following is about latency.
    await followRecords(dir, start, interrupt.signal, async (id, data) => {
      await print(id, data);
      await out.flush();
    });
  } finally {
    interrupt.dispose();
  }
}
