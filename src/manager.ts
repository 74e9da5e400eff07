/**
 * A directory of AOF files. Opens each file once (a second `open` of the same name returns the
 * same instance), keeps the counters, flushes dirty files on an interval, and closes everything on
 * `close()`. Growth ahead of the writer is done by each AOF with the policy given here.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import type { AOF, AofContext } from './aof.js';
import { ErrorCode, closed, invalidArg } from './errors.js';
import { FileState } from './file-state.js';
import { Geometry, MAX_FILE_SIZE } from './geometry.js';
import { openWhileLocked } from './lock-wait.js';
import { openAnonymousAof, openAof } from './open-file.js';
import { Reader, openReaderOptions, type ReaderOptions } from './reader.js';
import { recoverWithMagic, type RecoveryFunc } from './recovery.js';
import { StatsRecorder, type Stats } from './stats.js';
import { fromSystemError, hasSystemCode } from './system-errors.js';
import {
  MAX_TIMER_MS,
  validateBoolean,
  validateFileName,
  validateFunction,
  validateInstance,
  validateInteger,
  validateObject,
  validatePath,
} from './validate.js';

export interface ManagerOptions {
  /** Mode of files created for writing (default 0o644; the umask does not apply). */
  writeMode?: number;
  /** Mode a finished file gets (default 0o444). */
  readMode?: number;
  /**
   * Fault in the pages of every newly grown step on a thread-pool thread while the writer fills
   * the pages before it (default true): a fresh-page writer then takes fewer faults itself
   * (bench/results/write.txt). Costs up to one growth step of page cache ahead of the content.
   */
  populate?: boolean;
  /**
   * Grow each file ahead of its writer, off the event loop, once its headroom falls below
   * `growThreshold` (default true). A write that still finds no room grows the file itself and
   * counts as a blocking grow.
   */
  growAhead?: boolean;
  /** Headroom in bytes below which growth ahead starts (default: half the file's growth step). */
  growThreshold?: number;
  /**
   * Durable flush (`aof.flush()`) of files with writes not yet durable every this many ms (default
   * 1000; 0: never): a power loss then costs at most about this much of what was written.
   */
  flushIntervalMs?: number;
  /**
   * Keep a control block (`<file>-shm`) next to every file opened for writing (default true):
   * readers in other processes and workers follow it, and after a crash recovery keeps every
   * write that returned. Without it, recovery rolls a torn tail back to the last checkpoint.
   */
  controlBlock?: boolean;
}

/**
 * mkdir -p that gives up when a parent exists and the directory still cannot be made:
 * `fs.mkdirSync(dir, { recursive: true })` spins forever on such a path (`/proc/x`: ENOENT).
 */
function makeDirectory(dir: string, retry = true): void {
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if (hasSystemCode(e, 'EEXIST') && fs.statSync(dir).isDirectory()) return;
    const parent = nodePath.dirname(dir);
    if (!retry || !hasSystemCode(e, 'ENOENT') || parent === dir) throw e;
    makeDirectory(parent);
    makeDirectory(dir, false);
  }
}

export interface OpenAsyncOptions {
  geometry?: Geometry;
  recovery?: RecoveryFunc;
  /**
   * How long to wait (ms) while another writer holds the file (ERR_AOF_LOCKED): 0 (default) fails
   * at once, Infinity waits until the lock is free or `signal` aborts.
   */
  lockTimeout?: number;
  signal?: AbortSignal;
}

export class Manager implements AsyncDisposable {
  readonly #dir: string;
  readonly #writeMode: number;
  readonly #readMode: number;
  readonly #context: AofContext;
  readonly #stats = new StatsRecorder();
  readonly #open = new Map<string, AOF>();
  readonly #readers = new Set<Reader>();
  readonly #flushTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  /** Creates `dir` (recursively) when it does not exist. */
  constructor(dir: string, options: ManagerOptions = {}) {
    validatePath(dir, 'dir', 'a directory path');
    validateObject(options, 'options');
    const {
      writeMode = 0o644, readMode = 0o444, flushIntervalMs = 1000, populate = true, growAhead = true, growThreshold,
      controlBlock = true,
    } = options;
    validateInteger(writeMode, 'options.writeMode', 0, 0o7777, 'a file mode from 0 to 0o7777');
    validateInteger(readMode, 'options.readMode', 0, 0o7777, 'a file mode from 0 to 0o7777');
    validateInteger(flushIntervalMs, 'options.flushIntervalMs', 0, MAX_TIMER_MS,
      `a non-negative integer of milliseconds up to ${MAX_TIMER_MS}`);
    validateBoolean(populate, 'options.populate');
    validateBoolean(growAhead, 'options.growAhead');
    if (growThreshold !== undefined) validateInteger(growThreshold, 'options.growThreshold');
    validateBoolean(controlBlock, 'options.controlBlock');
    this.#writeMode = writeMode;
    this.#readMode = readMode;
    this.#context = {
      readMode,
      populate,
      growAhead,
      growThreshold,
      controlBlock,
      stats: this.#stats,
      released: (aof) => {
        if (this.#open.get(aof.name) === aof) this.#open.delete(aof.name);
      },
    };
    this.#dir = nodePath.resolve(dir);
    try {
      makeDirectory(this.#dir);
    } catch (e) {
      throw fromSystemError(e, 'create', this.#dir, {
        [ErrorCode.NOT_FOUND]: `cannot create directory ${this.#dir}: a parent is missing or cannot hold it`,
        [ErrorCode.READ_ONLY]: `cannot create directory ${this.#dir}`,
      });
    }
    if (flushIntervalMs > 0) this.#flushTimer = Manager.#startFlushTimer(new WeakRef(this), flushIntervalMs);
  }

  /** The directory, as an absolute path. */
  get dir(): string {
    return this.#dir;
  }

  get readMode(): number {
    return this.#readMode;
  }

  get writeMode(): number {
    return this.#writeMode;
  }

  /**
   * Opens (creating it if the geometry says so) and recovers `name` in the directory. A name that
   * is already open returns the same AOF.
   */
  open(name: string, geometry: Geometry = Geometry.create(), recovery: RecoveryFunc = recoverWithMagic): AOF {
    // Checked also when the name is open already: a bad argument is never silently ignored.
    validateInstance(geometry, 'geometry', Geometry, 'a Geometry');
    validateFunction(recovery, 'recovery');
    const existing = this.#existing(name, false);
    if (existing) return existing;
    return this.#opened(() => openAof(this.#context, name, nodePath.join(this.#dir, name), geometry, recovery, this.#writeMode));
  }

  /**
   * Like {@link open}, and when another writer (any process) holds the file, waits up to
   * `lockTimeout` ms for it to let go, trying again with a short backoff; aborts with `signal`.
   * A writer that dies (even by kill -9) lets go at once.
   */
  async openAsync(name: string, options: OpenAsyncOptions = {}): Promise<AOF> {
    validateObject(options, 'options');
    const { geometry, recovery, lockTimeout, signal } = options;
    return openWhileLocked(() => this.open(name, geometry, recovery), lockTimeout, signal);
  }


  /**
   * A reader of `name` in the directory, written by any writer (this Manager, another process,
   * a worker), following it through the control block. Readers share this Manager's counters and
   * close with it. See {@link openReader}.
   */
  follow(name: string, options: ReaderOptions = {}): Reader {
    if (this.#closing) throw closed('manager');
    validateFileName(name, 'name');
    const reader = new Reader(nodePath.join(this.#dir, name), name, openReaderOptions(options), {
      stats: this.#stats,
      released: (r) => this.#readers.delete(r),
    });
    this.#readers.add(reader);
    return reader;
  }

  /**
   * An AOF over `size` bytes (rounded up to a page) of anonymous memory: the same API, tailers
   * work, nothing on disk; it never grows (`ERR_AOF_FULL` past its size) and is gone once closed.
   */
  openAnonymous(name: string, size: number): AOF {
    validateInteger(size, 'size', 8, MAX_FILE_SIZE);
    const existing = this.#existing(name, true);
    if (existing) return existing;
    const geometry = new Geometry({ sizeNow: size, sizeUpper: size, growthStep: size }).validate();
    return this.#opened(() => openAnonymousAof(this.#context, name, geometry.sizeUpper, geometry));
  }

  #existing(name: string, anonymous: boolean): AOF | undefined {
    if (this.#closing) throw closed('manager');
    validateFileName(name, 'name');
    const existing = this.#open.get(name);
    if (!existing || existing.state === FileState.Closing || existing.state === FileState.Closed) return undefined;
    if (existing.anonymous !== anonymous) {
      throw invalidArg('name', `a name not open as ${existing.anonymous ? 'anonymous memory' : 'a file'}`, name);
    }
    return existing;
  }

  #opened(open: () => AOF): AOF {
    let aof: AOF;
    try {
      aof = open();
    } catch (e) {
      this.#stats.counts.openErrors++;
      throw e;
    }
    this.#stats.counts.opens++;
    this.#open.set(aof.name, aof);
    return aof;
  }

  /** The AOFs currently open. */
  files(): AOF[] {
    return [...this.#open.values()];
  }

  /** A snapshot of every counter (see {@link Stats}). */
  stats(): Stats {
    let writes = 0;
    let bytesWritten = 0;
    for (const aof of this.#open.values()) {
      const counts = aof.writeCounts;
      writes += counts.writes;
      bytesWritten += counts.bytesWritten;
    }
    return this.#stats.snapshot({ writes, bytesWritten });
  }

  // A static method, so the timer's closure cannot share a V8 context with one that captures
  // `this`: the Manager is held weakly, and one dropped without close() is still collected.
  static #startFlushTimer(self: WeakRef<Manager>, ms: number): NodeJS.Timeout {
    const timer: NodeJS.Timeout = setInterval(() => {
      const manager = self.deref();
      if (manager) manager.#flushDirty();
      else clearInterval(timer);
    }, ms).unref();
    return timer;
  }

  #flushDirty(): void {
    for (const aof of this.#open.values()) {
      if (aof.state !== FileState.Opened) continue;
      if (aof.dirty) {
        // Counted in flushErrors; the next interval tries again.
        aof.flush().catch(() => {});
      }
      try {
        aof.maintain();
      } catch {
        // The next interval tries again; the writer itself is unaffected.
      }
    }
  }

  /**
   * Closes every open file (finishing none) and waits for their tailers to detach. Idempotent;
   * every call returns the same promise.
   */
  close(): Promise<void> {
    if (this.#flushTimer) clearInterval(this.#flushTimer);
    this.#closing ??= Promise.allSettled([...this.#open.values(), ...this.#readers].map((f) => f.close())).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
