/**
 * A record log's segment files: their names (`<first id, 16 digits>.seg`, so names sort like
 * ids) and the list of them in a directory, the one place that reads it.
 */
import * as fs from 'node:fs';
import { AofError, ErrorCode } from '../errors.js';
import { fromSystemError } from '../system-errors.js';

/** A segment's file name: its first id, zero-padded so names sort like ids. */
export function segmentName(firstId: number): string {
  return `${String(firstId).padStart(16, '0')}.seg`;
}

const NAME = /^(\d{16})\.seg$/;

/** The first id a segment file name stands for, or undefined for any other name. */
export function parseSegmentName(name: string): number | undefined {
  const m = NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * The first ids of the segments in `dir`, ascending (none: an empty array). A missing directory
 * is `ERR_AOF_NOT_FOUND`, a file `ERR_AOF_INVALID_ARG`, an unreadable one `ERR_AOF_READ_PERMISSION`.
 */
export function listSegmentIds(dir: string): number[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw fromSystemError(e, 'list', dir);
  }
  const ids: number[] = [];
  for (const name of names) {
    const id = parseSegmentName(name);
    if (id !== undefined) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

/** {@link listSegmentIds} of a log that must have one: none is `ERR_AOF_NOT_FOUND`. */
export function existingSegmentIds(dir: string): number[] {
  const ids = listSegmentIds(dir);
  if (ids.length === 0) throw new AofError(ErrorCode.NOT_FOUND, `${dir} holds no record log segment`);
  return ids;
}
