/**
 * `aof cat FILE... [--from N]`: content bytes [N, size) of each FILE to stdout, raw, size being
 * what is published when it starts (a file being written is read through a cross-process reader:
 * no lock); `--no-checkpoints` drops the checkpoint markers that start a line.
 * `aof cat DIR` (or `--records`): the records of the record log in DIR, one per line.
 */
import * as nodePath from 'node:path';
import { AofError, ErrorCode } from '../../errors.js';
import { openReader } from '../../reader.js';
import { MAGIC_CHECKPOINT_BYTES } from '../../recovery.js';
import { writeRange, writeRanges } from '../byte-range.js';
import { OutBuffer } from '../output.js';
import { isDirectory, logBounds, readRecords } from '../record-log.js';

export interface CatOptions {
  from?: number;
  records?: boolean;
  ids?: boolean;
  /** false (`--no-checkpoints`): leave out the checkpoint markers that start a line. */
  checkpoints?: boolean;
}

/** Runs `aof cat` over each path in turn. */
export async function cat(paths: string | readonly string[], options: CatOptions): Promise<void> {
  for (const path of typeof paths === 'string' ? [paths] : paths) await catOne(path, options);
}

/**
 * The ranges of [from, to) without the checkpoint markers that start a line (at offset 0 or
 * after a "\n"): what `aof.checkpoint()` writes between lines or records. A marker inside a
 * line is data, and stays.
 */
export function withoutCheckpoints(bytes: Buffer, from: number, to: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let start = from;
  for (let at = bytes.indexOf(MAGIC_CHECKPOINT_BYTES, from); at >= 0 && at + 8 <= to; at = bytes.indexOf(MAGIC_CHECKPOINT_BYTES, at + 8)) {
    if (at !== 0 && bytes[at - 1] !== 10) continue;
    if (at > start) ranges.push([start, at]);
    start = at + 8;
  }
  if (to > start) ranges.push([start, to]);
  return ranges;
}

async function catOne(path: string, options: CatOptions): Promise<void> {
  if (options.records || isDirectory(path)) {
    const { firstId, lastId } = await logBounds(path);
    const out = new OutBuffer();
    await readRecords(path, Math.max(options.from ?? firstId, firstId), lastId, (id, data) => printRecord(out, id, data, options.ids));
    await out.flush();
    return;
  }
  const reader = openReader(path, { refuseUnparseable: true });
  try {
    const size = reader.size;
    const from = options.from ?? 0;
    if (from > size) throw new AofError(ErrorCode.INVALID_ARG, `--from ${from} is past the end of ${path} (${size} bytes)`);
    const label = `cat ${nodePath.basename(path)}`;
    if (options.checkpoints === false) await writeRanges(reader, withoutCheckpoints(reader.view(0, size), from, size), label);
    else await writeRange(reader, from, size, label);
  } finally {
    await reader.close();
  }
}

/** One record as a line: its bytes and "\n", after its id and a tab with `--ids`. */
export function printRecord(out: OutBuffer, id: number, data: Buffer, ids = false): Promise<void> {
  return ids ? out.push(`${id}\t`, data, '\n') : out.push(data, '\n');
}
