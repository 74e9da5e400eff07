/**
 * A read-only look at one AOF file, for `inspect`, `stats` and `recover`: what recovery finds
 * (with the library's own `recoverWithMagic`, or the record log's frame recovery for a segment),
 * what opening it would do, its control block, its checkpoint markers. The file is mapped
 * read-only (private, like a Reader's mapping) and nothing is created, locked or written.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { chainFrames } from '../log/frame.js';
import { frameRecovery } from '../log/segment.js';
import { parseSegmentName } from '../log/segment-files.js';
import { native } from '../native.js';
import { MAGIC_CHECKPOINT_BYTES, RecoveryKind, isFinished, recoverWithMagic } from '../recovery.js';
import { currentBootId } from '../boot.js';
import { readSlots, recoverAtOpen, recoveryContext, slotChecksOut } from '../durability.js';
import { openData } from '../open-file.js';
import { readControl, type ControlInfo } from './control-info.js';

/** How a file stands, in one word. */
export type FileStatus = 'empty' | 'clean' | 'finished' | 'torn' | 'corrupted' | 'writing';

export interface FileReport {
  path: string;
  /** Bytes on disk. */
  fileSize: number;
  /** Permission bits, octal (`0644`). */
  mode: string;
  status: FileStatus;
  /** Content bytes: what an open keeps (for a live writer, what it has published so far). */
  size: number;
  /**
   * What recovery finds, from the bytes and the control block: a crashed writer's committed size
   * (`fromControlBlock`), or after a reboot the size its last durable flush proved (`fromDurable`).
   */
  recovery: {
    kind: string;
    tail: number;
    checkpoint: number;
    end: number;
    fromControlBlock: boolean;
    fromDurable: boolean;
    /** The machine rebooted since the file was last written (a power loss, a kernel crash). */
    afterReboot: boolean;
    error?: string;
  };
  /** Bytes past the content that opening for writing zeroes (a torn write; 0 for a clean tail). */
  tornBytes: number;
  /** What `Manager.open` does with it: open it `writable`, `read-only`, or fail with an error code. */
  opensAs: 'writable' | 'read-only' | 'ERR_AOF_CORRUPTED';
  /** The control block (`<file>-shm`), if there is one. */
  control: ControlInfo | null;
  /**
   * The durable slots on the file (the sizes its last durable flushes made durable, newest first):
   * whether each was written in this boot and whether its CRC matches the bytes now.
   */
  durable: Array<{ seq: number; size: number; thisBoot: boolean; checksOut: boolean }>;
  /** Checkpoint markers in the file's non-zero bytes: how many, and the offsets of the last few. */
  markers: { count: number; last: number[] };
  /** For a record log segment (`<16 digits>.seg`): its first id and the records it holds. */
  segment?: { firstId: number; records: number };
}

/** Offsets of the last markers kept in a report. */
const MARKERS_KEPT = 10;
/** Bytes scanned for markers between two progress reports. */
const SCAN_STEP = 32 * 1024 * 1024;

const kindName = (kind: number): string =>
  Object.entries(RecoveryKind).find(([, v]) => v === kind)?.[0] ?? `unknown(${kind})`;


/**
 * Calls `fn` with the file's bytes mapped read-only (a private mapping: nothing can reach the
 * file), then unmaps.
 */
export function withFileBytes<T>(path: string, fn: (bytes: Buffer, st: fs.BigIntStats, fd: number) => T): T {
  const fd = openData(path);
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const size = Number(st.size);
    if (size === 0) return fn(Buffer.alloc(0), st, fd);
    const mapped = Math.ceil(size / native.pageSize) * native.pageSize;
    const region = new native.Region(mapped, path);
    try {
      region.mapFile(fd, 0, mapped, false);
      return fn(Buffer.from(region.buffer(mapped)).subarray(0, size), st, fd);
    } finally {
      region.release();
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Every checkpoint marker in bytes[0, end): the count and the last {@link MARKERS_KEPT} offsets. */
function findMarkers(bytes: Buffer, end: number, onProgress?: (scanned: number) => void): { count: number; last: number[] } {
  const last: number[] = [];
  let count = 0;
  for (let from = 0; from < end; from += SCAN_STEP) {
    const stop = Math.min(end, from + SCAN_STEP);
    // A marker starting before `stop` may end up to 7 bytes after it.
    const window = bytes.subarray(0, Math.min(end, stop + 7));
    for (let at = window.indexOf(MAGIC_CHECKPOINT_BYTES, from); at >= 0 && at < stop; at = window.indexOf(MAGIC_CHECKPOINT_BYTES, at + 1)) {
      count++;
      last.push(at);
      if (last.length > MARKERS_KEPT) last.shift();
    }
    onProgress?.(stop);
  }
  return { count, last };
}

/**
 * Inspects the AOF file at `path` without changing anything on disk. `onProgress` hears the
 * bytes scanned for markers so far (of `fileSize`).
 */
export function inspectFile(path: string, onProgress?: (scanned: number, total: number) => void): FileReport {
  const abs = nodePath.resolve(path);
  const firstId = parseSegmentName(nodePath.basename(abs));
  return withFileBytes(abs, (bytes, st, fd) => {
    const fileSize = bytes.length;
    const recover = firstId === undefined ? recoverWithMagic : frameRecovery;
    const identity = { dev: st.dev, ino: st.ino };
    const read = readControl(abs, identity);
    const control = read?.info ?? null;
    const writable = (Number(st.mode) & 0o222) !== 0;
    // As an open does: the bytes, what a reboot leaves proven, a crashed writer's committed size.
    const context = recoveryContext(fd, abs, bytes, fileSize);
    const boot = currentBootId().readUInt32LE(0);
    const durable = readSlots(fd, abs).map((s) => ({
      seq: s.seq, size: s.durable, thisBoot: s.boot === boot, checksOut: slotChecksOut(s, bytes, fileSize),
    }));
    const r = recoverAtOpen(recover, fileSize, bytes, context, writable ? read?.bytes : undefined, identity);
    const finished = isFinished(r);
    const failed = r.kind === RecoveryKind.Corrupted || r.kind === RecoveryKind.Panic;
    const live = control?.valid === true && control.state === 'Writing' && control.alive;
    const tornBytes = failed || finished || (r.kind === RecoveryKind.Tail && !r.fromControlBlock && !r.fromDurable)
      ? 0 : Math.max(0, r.end - r.tail);
    let size = finished ? r.checkpoint : failed || r.kind === RecoveryKind.Empty ? 0 : r.tail;
    if (live && control.published + 8 <= fileSize) size = control.published;
    const status: FileStatus = finished ? 'finished' : live ? 'writing' : failed ? 'corrupted'
      : tornBytes > 0 ? 'torn' : r.kind === RecoveryKind.Empty ? 'empty' : 'clean';
    const report: FileReport = {
      path: abs,
      fileSize,
      mode: `0${(Number(st.mode) & 0o777).toString(8).padStart(3, '0')}`,
      status,
      size,
      recovery: {
        kind: kindName(r.kind),
        tail: r.tail,
        checkpoint: r.checkpoint,
        end: r.end,
        fromControlBlock: r.fromControlBlock === true,
        fromDurable: r.fromDurable === true,
        afterReboot: context.hint.afterReboot,
        ...(r.error ? { error: r.error.message } : {}),
      },
      tornBytes,
      opensAs: failed ? 'ERR_AOF_CORRUPTED' : finished || !writable ? 'read-only' : 'writable',
      control,
      durable,
      markers: findMarkers(bytes, r.end, onProgress && ((n) => onProgress(n, fileSize))),
    };
    if (firstId !== undefined) {
      report.segment = { firstId, records: failed ? 0 : chainFrames(bytes, Math.min(size, fileSize)).count };
    }
    return report;
  });
}
