/**
 * `aof recover FILE`: opens FILE for writing through a Manager, which runs recovery and normalises
 * the tail (zeroes a torn write, puts the tail magic after the content), syncs, closes, and
 * reports what changed. Needs the writer's lock: a file another process writes is
 * ERR_AOF_LOCKED; a finished or read-only file opens read-only and is left as it is.
 */
import * as nodePath from 'node:path';
import { Geometry, MAX_FILE_SIZE } from '../../geometry.js';
import { Manager } from '../../manager.js';
import type { FileReport } from '../file-report.js';
import { fields, writeOut } from '../output.js';
import { fileText, inspectWithProgress } from './inspect.js';

export interface RecoverOptions {
  json?: boolean;
}

export interface RecoverReport {
  path: string;
  /** What recovery did, in a sentence. */
  action: string;
  /** True when the file's bytes, size or mode differ afterwards. */
  changed: boolean;
  /** Bytes of a torn write zeroed. */
  zeroedBytes: number;
  before: FileReport;
  after: FileReport;
}

function action(b: FileReport): string {
  const crashed = b.control?.valid && b.control.state === 'Writing' && !b.control.alive ? ` (its writer, pid ${b.control.pid}, had died)` : '';
  if (b.status === 'finished') return 'finished: nothing to recover';
  if (b.opensAs === 'read-only') return 'not writable: opened read-only, nothing changed';
  if (b.tornBytes > 0) {
    return b.recovery.fromControlBlock
      ? `rolled a torn write back to the writer's last committed size, ${b.size}: ${b.tornBytes} bytes zeroed${crashed}`
      : `rolled a torn write back to the checkpoint at ${b.recovery.checkpoint}: ${b.tornBytes} bytes zeroed${crashed}`;
  }
  if (b.status === 'empty') return 'empty: the tail magic written at 0';
  if (b.recovery.kind === 'Checkpoint') return `the tail magic written after the checkpoint marker at ${b.recovery.checkpoint}${crashed}`;
  return `clean: nothing to recover${crashed}`;
}

/** Runs `aof recover`. */
export async function recover(file: string, options: RecoverOptions): Promise<void> {
  const path = nodePath.resolve(file);
  const before = inspectWithProgress(path, `scan ${nodePath.basename(path)}`);
  const manager = new Manager(nodePath.dirname(path), { flushIntervalMs: 0, growAhead: false, populate: false });
  try {
    const aof = manager.open(nodePath.basename(path), Geometry.open().with(0, MAX_FILE_SIZE, 0));
    if (!aof.readOnly) await aof.sync();
  } finally {
    await manager.close();
  }
  const after = inspectWithProgress(path, `check ${nodePath.basename(path)}`);
  const r = (f: FileReport) => [f.recovery.kind, f.recovery.tail, f.recovery.end, f.fileSize, f.mode].join();
  const report: RecoverReport = {
    path,
    action: action(before),
    changed: r(before) !== r(after),
    zeroedBytes: before.opensAs === 'writable' ? before.tornBytes : 0,
    before,
    after,
  };
  if (options.json) return writeOut(`${JSON.stringify(report, null, 2)}\n`);
  const summary = (f: FileReport) => `${f.status}, content ${f.size} bytes, on disk ${f.fileSize} bytes, recovery ${f.recovery.kind}`;
  await writeOut(fields([
    ['recovered', path],
    ['action', report.action],
    ['changed', report.changed ? 'yes' : 'no'],
    ['before', summary(before)],
    ['after', summary(after)],
  ]) + '\n' + fileText(after));
}
