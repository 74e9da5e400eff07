/**
 * What a file's control block (`<file>-shm`, layout in src/control-block.ts) says, read with a
 * plain read(2) of its header: never mapped, never locked, never written. `inspect` and `stats`
 * use it to name the writer and its sizes without touching anything.
 */
import * as fs from 'node:fs';
import { crc32c } from '../checksum.js';
import { CONTROL_SUFFIX, ControlState } from '../control-block.js';

export interface ControlInfo {
  path: string;
  /** True when the header is whole and names this data file in this boot: a writer or reader trusts it. */
  valid: boolean;
  /** Why it is not valid. */
  problem?: string;
  /** `None`, `Writing`, `Closed`, `Finished` (or `unknown(n)`). */
  state: string;
  /** The writer's pid (0: none recorded). */
  pid: number;
  /** Whether a process with that pid exists now. */
  alive: boolean;
  /** The writer's last committed size (what recovery keeps after a crash). */
  committed: number;
  /** The size readers may read up to. */
  published: number;
}

// Offsets of the header fields (src/control-block.ts).
const MAGIC = Buffer.from('AOF-SHM\x01', 'latin1');
const HEADER = 96;

function stateName(n: number): string {
  const found = Object.entries(ControlState).find(([, v]) => v === n);
  return found ? found[0] : `unknown(${n})`;
}

/** True when a process with this pid exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bootId(): Buffer {
  try {
    const hex = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim().replace(/-/g, '');
    return hex.length === 32 ? Buffer.from(hex, 'hex') : Buffer.alloc(16);
  } catch {
    return Buffer.alloc(16);
  }
}

/**
 * Reads the control block of the data file at `dataPath` (whose identity is `data`), or returns
 * undefined when there is none (or it cannot be read).
 */
export function readControl(dataPath: string, data: { dev: bigint; ino: bigint }): ControlInfo | undefined {
  const path = dataPath + CONTROL_SUFFIX;
  const b = Buffer.alloc(HEADER);
  let got: number;
  try {
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) return undefined;
      got = fs.readSync(fd, b, 0, HEADER, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  let problem: string | undefined;
  if (got < HEADER || !b.subarray(0, 8).equals(MAGIC) || b.readUInt32LE(8) !== 1) problem = 'not a control block (bad header)';
  else if (b.readUInt32LE(12) !== crc32c(b.subarray(16, 64))) problem = 'header checksum mismatch';
  else if (b.readBigUInt64LE(16) !== data.dev || b.readBigUInt64LE(24) !== data.ino) problem = 'names another file (stale)';
  else if (!b.subarray(32, 48).equals(bootId())) problem = 'written before the last reboot (stale)';
  const pid = b.readUInt32LE(48);
  const info: ControlInfo = {
    path,
    valid: problem === undefined,
    state: stateName(b.readUInt32LE(80)),
    pid,
    alive: pidAlive(pid),
    committed: Number(b.readBigUInt64LE(64)),
    published: Number(b.readBigUInt64LE(72)),
  };
  if (problem) info.problem = problem;
  return info;
}
