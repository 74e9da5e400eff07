/**
 * What a file's control block (`<file>-shm`, layout in src/control-block.ts) says, read with a
 * plain read(2) of its page: never mapped, never locked, never written. `inspect` and `stats`
 * use it to name the writer and its sizes without touching anything.
 */
import * as fs from 'node:fs';
import { CONTROL_SIZE, CONTROL_SUFFIX, ControlBytes, ControlState, type FileIdentity } from '../control-block.js';

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

/**
 * Reads the control block of the data file at `dataPath` (whose identity is `data`): what it says
 * (`info`) and its bytes (for recovery's durable slots); undefined when there is none (or it
 * cannot be read).
 */
export function readControl(dataPath: string, data: FileIdentity): { info: ControlInfo; bytes: ControlBytes } | undefined {
  const path = dataPath + CONTROL_SUFFIX;
  const b = Buffer.alloc(CONTROL_SIZE);
  let got: number;
  try {
    const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) return undefined;
      got = fs.readSync(fd, b, 0, CONTROL_SIZE, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const bytes = new ControlBytes(b.subarray(0, got));
  const problem = bytes.problem(data);
  const whole = got >= 96;
  const pid = whole ? bytes.pid : 0;
  const info: ControlInfo = {
    path,
    valid: problem === undefined,
    state: whole ? stateName(bytes.state) : 'unknown',
    pid,
    alive: pidAlive(pid),
    committed: whole ? bytes.committed : 0,
    published: whole ? bytes.published : 0,
  };
  if (problem) info.problem = problem;
  return { info, bytes };
}
