/**
 * `aof stats DIR`: every AOF file in DIR (each regular file but `*-shm` control blocks; not
 * recursive), looked at read-only like `inspect` (a live writer keeps its lock): status, content
 * and on-disk sizes, the writer's pid; then totals. Text or `--json`.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { CONTROL_SUFFIX } from '../../control-block.js';
import { AofError, ErrorCode } from '../../errors.js';
import { inspectFile, type FileReport } from '../file-report.js';
import { errorCode, table, writeOut } from '../output.js';
import { Progress, progressAllowed } from '../progress.js';

export interface StatsOptions {
  json?: boolean;
}

export interface StatsEntry {
  name: string;
  status: FileReport['status'] | 'error';
  size: number;
  fileSize: number;
  /** The live writer's pid, or null. */
  writerPid: number | null;
  /** Why it could not be read (status 'error'). */
  error?: string;
}

export interface StatsReport {
  dir: string;
  files: StatsEntry[];
  totals: { files: number; size: number; fileSize: number; byStatus: Record<string, number> };
}

function listFiles(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AofError(ErrorCode.NOT_FOUND, `${dir} does not exist`, { cause: e });
    if (code === 'ENOTDIR') throw new AofError(ErrorCode.INVALID_ARG, `${dir} is not a directory`, { cause: e });
    if (code === 'EACCES' || code === 'EPERM') throw new AofError(ErrorCode.READ_PERMISSION, `${dir} is not readable`, { cause: e });
    throw e;
  }
  return entries.filter((e) => e.isFile() && !e.name.endsWith(CONTROL_SUFFIX)).map((e) => e.name).sort();
}

/** Looks at every AOF file in `dir`. */
export function collectStats(dir: string): StatsReport {
  const abs = nodePath.resolve(dir);
  const names = listFiles(abs);
  const progress = new Progress({ label: 'stats', total: names.length, unit: 'count', enabled: progressAllowed(false) });
  const files: StatsEntry[] = [];
  try {
    for (const name of names) {
      try {
        const f = inspectFile(nodePath.join(abs, name));
        files.push({ name, status: f.status, size: f.size, fileSize: f.fileSize, writerPid: f.status === 'writing' ? f.control!.pid : null });
      } catch (e) {
        // Gone since the listing, unreadable: counted, not fatal.
        files.push({ name, status: 'error', size: 0, fileSize: 0, writerPid: null, error: errorCode(e) });
      }
      progress.update(files.length);
    }
  } finally {
    progress.finish();
  }
  const byStatus: Record<string, number> = {};
  for (const f of files) byStatus[f.status] = (byStatus[f.status] ?? 0) + 1;
  const sum = (k: 'size' | 'fileSize') => files.reduce((n, f) => n + f[k], 0);
  return { dir: abs, files, totals: { files: files.length, size: sum('size'), fileSize: sum('fileSize'), byStatus } };
}

/** Runs `aof stats`. */
export async function stats(dir: string, options: StatsOptions): Promise<void> {
  const report = collectStats(dir);
  if (options.json) return writeOut(`${JSON.stringify(report, null, 2)}\n`);
  const rows = [['FILE', 'STATUS', 'CONTENT', 'ON DISK', 'WRITER'], ...report.files.map((f) => [
    f.name, f.error ? `error ${f.error}` : f.status, String(f.size), String(f.fileSize), f.writerPid ? `pid ${f.writerPid}` : '-',
  ])];
  const t = report.totals;
  const statuses = Object.entries(t.byStatus).map(([s, n]) => `${n} ${s}`).join(', ');
  await writeOut(`${table(rows, new Set([2, 3]))}total: ${t.files} file${t.files === 1 ? '' : 's'}, ` +
    `${t.size} content bytes, ${t.fileSize} bytes on disk${statuses ? `; ${statuses}` : ''}\n`);
}
