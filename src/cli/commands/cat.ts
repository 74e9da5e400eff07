/**
 * `aof cat FILE [--from N]`: content bytes [N, size) of FILE to stdout, size being what is
 * published when it starts (a file being written is read through a cross-process reader: no lock).
 * `aof cat DIR` (or `--records`): the records of the record log in DIR, one per line.
 */
import * as nodePath from 'node:path';
import { AofError, ErrorCode } from '../../errors.js';
import { openReader } from '../../reader.js';
import { writeRange } from '../byte-range.js';
import { OutBuffer } from '../output.js';
import { isDirectory, logBounds, readRecords } from '../record-log.js';

export interface CatOptions {
  from?: number;
  records?: boolean;
  ids?: boolean;
}

/** Runs `aof cat`. */
export async function cat(path: string, options: CatOptions): Promise<void> {
  if (options.records || isDirectory(path)) {
    const { firstId, lastId } = await logBounds(path);
    const out = new OutBuffer();
    await readRecords(path, Math.max(options.from ?? firstId, firstId), lastId, (id, data) => printRecord(out, id, data, options.ids));
    await out.flush();
    return;
  }
  const reader = openReader(path);
  try {
    const size = reader.size;
    const from = options.from ?? 0;
    if (from > size) throw new AofError(ErrorCode.INVALID_ARG, `--from ${from} is past the end of ${path} (${size} bytes)`);
    await writeRange(reader, from, size, `cat ${nodePath.basename(path)}`);
  } finally {
    await reader.close();
  }
}

/** One record as a line: its bytes and "\n", after its id and a tab with `--ids`. */
export function printRecord(out: OutBuffer, id: number, data: Buffer, ids = false): Promise<void> {
  return ids ? out.push(`${id}\t`, data, '\n') : out.push(data, '\n');
}
