/**
 * `aof inspect FILE`: what recovery finds in FILE and what opening it would do, its sizes, its
 * state, its control block and its checkpoint markers, as text or `--json`. Read-only: the file
 * is mapped privately, nothing is created, locked or written. `aof inspect DIR`: the same for each
 * segment of the record log in DIR, with its ids.
 */
import * as nodePath from 'node:path';
import { inspectFile, type FileReport } from '../file-report.js';
import { fields, table, writeOut } from '../output.js';
import { Progress, progressAllowed } from '../progress.js';
import { existingSegmentIds, segmentName } from '../../log/segment-files.js';
import { isDirectory } from '../record-log.js';

export interface InspectOptions {
  json?: boolean;
}

export interface LogReport {
  kind: 'record-log';
  path: string;
  firstId: number;
  lastId: number;
  records: number;
  segments: FileReport[];
}

/** {@link inspectFile} with a bar (bytes scanned) on a terminal. */
export function inspectWithProgress(path: string, label = `scan ${nodePath.basename(path)}`): FileReport {
  const progress = new Progress({ label, total: 0, enabled: progressAllowed(false) });
  try {
    return inspectFile(path, (done, total) => {
      progress.total = total;
      progress.update(done);
    });
  } finally {
    progress.finish();
  }
}

/** Inspects every segment of the record log in `dir`. */
export function inspectLog(dir: string): LogReport {
  const abs = nodePath.resolve(dir);
  const segments = existingSegmentIds(abs).map((id) => inspectWithProgress(nodePath.join(abs, segmentName(id))));
  const firstId = segments[0]!.segment!.firstId;
  const last = segments.at(-1)!.segment!;
  const records = segments.reduce((n, s) => n + s.segment!.records, 0);
  return { kind: 'record-log', path: abs, firstId, lastId: last.firstId + last.records - 1, records, segments };
}

/** Runs `aof inspect`. */
export async function inspect(path: string, options: InspectOptions): Promise<void> {
  const report = isDirectory(path) ? inspectLog(path) : inspectWithProgress(path);
  if (options.json) return writeOut(`${JSON.stringify(report, null, 2)}\n`);
  await writeOut('kind' in report ? logText(report) : fileText(report));
}

function recoveryText(r: FileReport['recovery']): string {
  const parts = [r.kind, `content ends at ${r.tail}`];
  if (r.checkpoint >= 0) parts.push(`checkpoint at ${r.checkpoint}`);
  parts.push(`last non-zero byte ${r.end > 0 ? r.end - 1 : 'none'}`);
  if (r.fromControlBlock) parts.push("the crashed writer's committed size");
  if (r.afterReboot) parts.push(r.fromDurable ? 'after a reboot: cut to the last durable flush' : 'after a reboot');
  if (r.error) parts.push(r.error);
  return parts.join(', ');
}

/** The text `inspect` prints for one file. */
export function fileText(f: FileReport): string {
  const opens = f.opensAs === 'writable' && f.tornBytes > 0 ? `writable (zeroes ${f.tornBytes} torn bytes)`
    : f.opensAs === 'ERR_AOF_CORRUPTED' ? 'fails with ERR_AOF_CORRUPTED' : f.opensAs;
  const c = f.control;
  const control = !c ? 'none'
    : `${nodePath.basename(c.path)}: ${c.valid ? c.state : `invalid (${c.problem})`}, ` +
      (c.state === 'Writing' ? `writer pid ${c.pid} (${c.alive ? 'alive' : 'dead'})` : `last writer pid ${c.pid || '-'}`) +
      `, committed ${c.committed}, published ${c.published}`;
  const m = f.markers;
  const markers = m.count === 0 ? 'none'
    : `${m.count} checkpoint marker${m.count > 1 ? 's' : ''}, ${m.count > m.last.length ? `last ${m.last.length} ` : ''}at ${m.last.join(', ')}`;
  const pairs: Array<[string, string | number]> = [
    ['file', f.path],
    ['status', f.status],
    ['content', `${f.size} bytes`],
    ['on disk', `${f.fileSize} bytes, mode ${f.mode}`],
    ['opens as', opens],
    ['recovery', recoveryText(f.recovery)],
    ['control', control],
    ['durable', f.durable.length === 0 ? 'no durable flush recorded'
      : f.durable.map((d) => `${d.size} (flush ${d.seq}, ${d.thisBoot ? 'this boot' : 'an earlier boot'}${d.checksOut ? '' : ', does not check out'})`).join('; ')],
    ['markers', markers],
  ];
  if (f.segment) pairs.push(['records', recordsText(f.segment.firstId, f.segment.records)]);
  return fields(pairs);
}

function recordsText(firstId: number, records: number): string {
  return records === 0 ? '0' : `${records} (ids ${firstId}-${firstId + records - 1})`;
}

function logText(l: LogReport): string {
  const head = fields([
    ['record log', l.path],
    ['records', recordsText(l.firstId, l.records)],
    ['segments', l.segments.length],
  ]);
  const rows = [['SEGMENT', 'STATUS', 'RECORDS', 'CONTENT', 'ON DISK'], ...l.segments.map((s) => [
    nodePath.basename(s.path), s.status, String(s.segment!.records), String(s.size), String(s.fileSize),
  ])];
  return `${head}\n${table(rows, new Set([2, 3, 4]))}`;
}
