/**
 * The record log as the `aof` command reads it: its segments, its bounds (from the last segment's
 * frames, through a cross-process reader: a live writer keeps its lock) and its records between
 * two ids (through `Log.follow`, so reading never needs the writer's lock).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { chainFrames } from '../log/frame.js';
import { Log } from '../log/log.js';
import { existingSegmentIds, segmentName } from '../log/segment-files.js';
import { openReader } from '../reader.js';

/** True when `path` is a directory: read commands treat one as a record log. */
export function isDirectory(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The first and last ids of the log in `dir` now (lastId = firstId - 1 when it is empty). */
export async function logBounds(dir: string): Promise<{ firstId: number; lastId: number }> {
  const ids = existingSegmentIds(dir);
  const lastFirst = ids.at(-1)!;
  const reader = openReader(nodePath.join(dir, segmentName(lastFirst)));
  try {
    const { count } = chainFrames(reader.view(), reader.size);
    return { firstId: ids[0]!, lastId: lastFirst + count - 1 };
  } finally {
    await reader.close();
  }
}

/**
 * Calls `fn` with each record from `startId` (or the first one kept) through `lastId`, in order.
 * `data` is a view, valid until `fn`'s promise settles.
 */
export async function readRecords(dir: string, startId: number, lastId: number,
  fn: (id: number, data: Buffer) => Promise<void>): Promise<void> {
  if (startId > lastId) return;
  const reader = Log.follow(dir);
  try {
    for await (const { id, data } of reader.tail(startId)) {
      await fn(id, data);
      if (id >= lastId) break;
    }
  } finally {
    await reader.close();
  }
}

/**
 * Follows the log in `dir` from `startId`: every record as it is appended, until `signal` aborts
 * (then it returns normally).
 */
export async function followRecords(dir: string, startId: number, signal: AbortSignal,
  fn: (id: number, data: Buffer) => Promise<void>): Promise<void> {
  const reader = Log.follow(dir);
  try {
    for await (const { id, data } of reader.tail(startId, { signal })) await fn(id, data);
  } catch (e) {
    if (!signal.aborted) throw e;
  } finally {
    await reader.close();
  }
}
