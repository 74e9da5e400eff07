/** Shared test helpers: temporary directories and child processes running the compiled library. */
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, expect } from 'vitest';
import { AofError, Manager, crc32c, type ManagerOptions } from '../src/index.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The compiled library (test/global-setup.ts builds it); child processes import this. */
export const DIST = path.join(ROOT, 'dist', 'index.js');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, removed after the current test. */
export function tmpDir(prefix = 'aof-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node script ...args` and resolves when it exits (never rejects on a non-zero exit). */
export function runNode(script: string, args: string[] = [], options: SpawnOptions = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A fixture script under test/fixtures. */
export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export { pseudoRandomBytes } from './fixtures/prng.mjs';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * A test title that says why it is skipped when `runs` is false, so the skip line names what the
 * machine lacks: `describe.runIf(ok)(skipTitle(ok, 'title', 'needs root'), …)`.
 */
export function skipTitle(runs: boolean, title: string, why: string): string {
  return runs ? title : `${title} [skipped: ${why}]`;
}

/** Resolves on the next event-loop turn (the granularity of tailer wakes). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

/** Awaits event-loop turns until `cond()` holds; fails after `maxTurns` (never waits on a clock). */
export async function turnsUntil(cond: () => boolean, what: string, maxTurns = 500_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await nextTurn();
  }
  throw new Error(`${what}: not seen within ${maxTurns} event-loop turns`);
}

/** True when `p` settles (either way) within `n` event-loop turns: a hang fails fast. */
export async function settlesWithin(p: Promise<unknown>, n = 10_000): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < n && !settled; i++) await nextTurn();
  return settled;
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The `code` of the AofError `fn` throws; undefined when it does not throw; anything else fails. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AofError);
    return (e as AofError).code;
  }
  return undefined;
}

/** Mounts a tmpfs of `size` (e.g. '256k') on a new directory; root only. */
export function mountTmpfs(size: string, prefix = 'aof-tmpfs-'): string {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
  return mnt;
}

export function unmountTmpfs(mnt: string): void {
  execFileSync('umount', [mnt]);
  fs.rmdirSync(mnt);
}

/**
 * A Manager with no background work (no flush timer, no growth ahead, no populate jobs) unless a
 * test asks for it: nothing flushes or grows behind a test's back, and closing depends only on
 * what the test started.
 */
export function quietManager(dir = tmpDir(), options: ManagerOptions = {}): Manager {
  return new Manager(dir, { flushIntervalMs: 0, growAhead: false, populate: false, ...options });
}

// --- peers: child processes and worker threads speaking a line protocol ---------------------------

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process's stderr, or a worker's uncaught error. */
  stderr: string;
}

export interface PeerOptions {
  /** Keep a command channel open (a child's stdin, a worker's port); default false. */
  commands?: boolean;
  /** Kill a child process after this many ms (SIGKILL), so that a hang fails with a clear signal. */
  killAfterMs?: number;
  /** Run a child process as this user and group (root only). */
  uid?: number;
  gid?: number;
}

/**
 * A fixture running in a child process (reports: one line per event on fd 3; commands: lines on
 * stdin) or in a worker thread (both by postMessage). `waitFor` awaits a report line, never a
 * clock; its time limit only turns a hang into a readable failure.
 */
export class Peer {
  readonly lines: string[] = [];
  readonly exited: Promise<PeerExit>;
  readonly kind: 'process' | 'worker';
  #exit: PeerExit | undefined;
  #waiters: Array<() => void> = [];
  #send: (line: string) => void;
  #kill: (signal: NodeJS.Signals) => void;
  readonly pid: number | undefined;

  private constructor(kind: 'process' | 'worker', start: (peer: Peer, got: (line: string) => void, ended: (e: PeerExit) => void) => {
    send: (line: string) => void;
    kill: (signal: NodeJS.Signals) => void;
    pid: number | undefined;
  }) {
    this.kind = kind;
    let resolveExit!: (e: PeerExit) => void;
    this.exited = new Promise((resolve) => (resolveExit = resolve));
    const wakeAll = () => {
      for (const wake of this.#waiters.splice(0)) wake();
    };
    const started = start(
      this,
      (line) => {
        this.lines.push(line);
        wakeAll();
      },
      (e) => {
        if (this.#exit) return;
        this.#exit = e;
        wakeAll();
        resolveExit(e);
      },
    );
    this.#send = started.send;
    this.#kill = started.kill;
    this.pid = started.pid;
  }

  /** `node script ...args` with reports on fd 3 (and stdin for commands when asked). */
  static process(script: string, args: string[], options: PeerOptions = {}): Peer {
    return new Peer('process', (_peer, got, ended) => {
      const child = spawn(process.execPath, [script, ...args], {
        stdio: [options.commands ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
        ...(options.killAfterMs ? { timeout: options.killAfterMs, killSignal: 'SIGKILL' as const } : {}),
        ...(options.uid !== undefined ? { uid: options.uid } : {}),
        ...(options.gid !== undefined ? { gid: options.gid } : {}),
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      let partial = '';
      const reports = child.stdio[3] as NodeJS.ReadableStream;
      reports.setEncoding('utf8');
      reports.on('data', (d: string) => {
        partial += d;
        const parts = partial.split('\n');
        partial = parts.pop()!;
        for (const line of parts) got(line);
      });
      child.on('error', (e) => ended({ code: null, signal: null, stderr: `${stderr}\nspawn error: ${String(e)}` }));
      child.on('close', (code, signal) => ended({ code, signal, stderr }));
      return {
        send: (line) => child.stdin!.write(`${line}\n`),
        kill: (signal) => child.kill(signal),
        pid: child.pid,
      };
    });
  }

  /** A worker thread running `script` with `workerData`; reports and commands by postMessage. */
  static worker(script: string, workerData: unknown): Peer {
    return new Peer('worker', (_peer, got, ended) => {
      const w = new Worker(script, { workerData, stdout: false, stderr: false });
      let error = '';
      w.on('message', (line: string) => got(line));
      w.on('error', (e) => (error += `${(e as Error).stack ?? String(e)}\n`));
      w.on('exit', (code) => ended({ code, signal: null, stderr: error }));
      return {
        send: (line) => w.postMessage(line),
        kill: () => void w.terminate(),
        pid: undefined,
      };
    });
  }

  /** The exit, once it happened. */
  get exit(): PeerExit | undefined {
    return this.#exit;
  }

  send(command: string): void {
    this.#send(command);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#kill(signal);
  }

  /**
   * The first report line (at index `from` or later) that starts with `match` (a word: `match`
   * followed by a space or the end) or satisfies it; rejects if the peer exits first.
   */
  async waitFor(match: string | ((line: string) => boolean), options: { from?: number; timeoutMs?: number } = {}): Promise<string> {
    const test = typeof match === 'string' ? (l: string) => l === match || l.startsWith(`${match} `) : match;
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? 20_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      for (const wake of this.#waiters.splice(0)) wake();
    }, timeoutMs);
    try {
      for (let i = from; ; ) {
        for (; i < this.lines.length; i++) if (test(this.lines[i]!)) return this.lines[i]!;
        const what = typeof match === 'string' ? `"${match}"` : 'the line awaited';
        if (this.#exit) {
          throw new Error(`${this.kind} exited (code ${this.#exit.code}, signal ${this.#exit.signal}) before ${what}:\n` +
            `${this.#exit.stderr}\nlast reports: ${this.lines.slice(-5).join(' | ')}`);
        }
        if (timedOut) throw new Error(`${this.kind}: no ${what} within ${timeoutMs} ms; last reports: ${this.lines.slice(-5).join(' | ')}`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `command` and awaits the next report line starting with `reply` after it. */
  request(command: string, reply: string): Promise<string> {
    const from = this.lines.length;
    this.send(command);
    return this.waitFor(reply, { from });
  }

  /** Waits for the exit; fails unless it was code 0 and no signal. */
  async exitedCleanly(): Promise<PeerExit> {
    const e = await this.exited;
    if (e.code !== 0 || e.signal !== null) {
      throw new Error(`${this.kind} exited with code ${e.code}, signal ${e.signal}:\n${e.stderr}\nlast reports: ${this.lines.slice(-5).join(' | ')}`);
    }
    return e;
  }
}

/** The JSON after the first word of a report line (`ready {...}`). */
export function reportData<T = Record<string, any>>(line: string): T {
  const at = line.indexOf(' ');
  return JSON.parse(at < 0 ? 'null' : line.slice(at + 1)) as T;
}

/** Hex SHA-256 of the bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What `p` rejects with; fails if it fulfils. */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

// --- the record log (src/log/): its on-disk layout, as the tests model it -------------------------

/** Bytes a record log frame of a `length`-byte record takes: a 16-byte header, the payload padded to 8. */
export function logFrameSize(length: number): number {
  return Math.ceil((16 + length) / 8) * 8;
}

/** A record log segment file's name: its first id, 16 digits. */
export function logSegmentName(firstId: number): string {
  return `${String(firstId).padStart(16, '0')}.seg`;
}

/**
 * Where single appends of records of these lengths go in a record log of `segmentSize`: the
 * segments (first id, frame offsets) by the roll rule of src/log/log.ts (a record starts a new
 * segment when the current one holds something and its frame plus the 8-byte tail magic would
 * pass segmentSize).
 */
export function logLayout(lengths: readonly number[], segmentSize: number, firstId = 1): Array<{ firstId: number; offsets: number[]; size: number }> {
  const segments = [{ firstId, offsets: [] as number[], size: 0 }];
  lengths.forEach((length, i) => {
    const bytes = logFrameSize(length);
    let seg = segments.at(-1)!;
    if (seg.size > 0 && seg.size + bytes + 8 > segmentSize) {
      seg = { firstId: firstId + i, offsets: [], size: 0 };
      segments.push(seg);
    }
    seg.offsets.push(seg.size);
    seg.size += bytes;
  });
  return segments;
}

/**
 * A record-log frame of `payload` built byte by byte from the format (docs/format.md, record
 * frames), independently of src/log/frame.ts: the reference the frame code is checked against.
 */
export function referenceFrame(payload: Uint8Array, index: number, type: number): Buffer {
  const frame = Buffer.alloc(Math.ceil((16 + payload.length) / 8) * 8);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(type, 8);
  frame.writeUInt32LE(index, 12);
  frame.set(payload, 16);
  frame.writeUInt32LE(crc32c(frame.subarray(4, 16 + payload.length)), 0);
  return frame;
}
