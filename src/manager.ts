/**
 * A directory of AOF files. Opens each file once (a second `open` of the same name returns the
 * same instance) and closes them all on `close()`. Background growth, flushing, tailers and
 * stats build on this (see the Manager issue); this is the seam they attach to.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { AOF, FileState, openAof, type AofContext } from './aof.js';
import { AofError, ErrorCode, closed, invalidArg } from './errors.js';
import { Geometry } from './geometry.js';
import { recoverWithMagic, type RecoveryFunc } from './recovery.js';
import { isSystemError } from './native.js';

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
}

function checkMode(what: string, mode: unknown, fallback: number): number {
  if (mode === undefined) return fallback;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw invalidArg(what, 'a file mode from 0 to 0o7777', mode);
  }
  return mode;
}

/** A file name inside the manager's directory: no separators, no `.`/`..`, nothing that escapes it. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name === '.' || name === '..' ||
      name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw invalidArg('name', 'a plain file name (no "/", "\\\\", NUL, "." or "..")', name);
  }
  return name;
}

export class Manager implements AsyncDisposable {
  readonly #dir: string;
  readonly #writeMode: number;
  readonly #readMode: number;
  readonly #populate: boolean;
  readonly #open = new Map<string, AOF>();
  #closing: Promise<void> | undefined;

  /** Creates `dir` (recursively) when it does not exist. */
  constructor(dir: string, options: ManagerOptions = {}) {
    if (typeof dir !== 'string' || dir.length === 0) throw invalidArg('dir', 'a directory path', dir);
    if (options === null || typeof options !== 'object') throw invalidArg('options', 'an object', options);
    this.#writeMode = checkMode('options.writeMode', options.writeMode, 0o644);
    this.#readMode = checkMode('options.readMode', options.readMode, 0o444);
    if (options.populate !== undefined && typeof options.populate !== 'boolean') {
      throw invalidArg('options.populate', 'a boolean', options.populate);
    }
    this.#populate = options.populate ?? true;
    this.#dir = nodePath.resolve(dir);
    try {
      fs.mkdirSync(this.#dir, { recursive: true });
    } catch (e) {
      if (isSystemError(e, 'EEXIST') || isSystemError(e, 'ENOTDIR')) {
        throw new AofError(ErrorCode.INVALID_ARG, `${this.#dir} exists and is not a directory`, { cause: e });
      }
      if (isSystemError(e, 'EACCES') || isSystemError(e, 'EPERM') || isSystemError(e, 'EROFS')) {
        throw new AofError(ErrorCode.READ_ONLY, `cannot create directory ${this.#dir}`, { cause: e });
      }
      throw e;
    }
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
    if (this.#closing) throw closed('manager');
    checkName(name);
    if (!(geometry instanceof Geometry)) throw invalidArg('geometry', 'a Geometry', geometry);
    const existing = this.#open.get(name);
    if (existing && existing.state !== FileState.Closing && existing.state !== FileState.Closed) return existing;
    const aof = openAof(this.#context(), name, nodePath.join(this.#dir, name), geometry, recovery, this.#writeMode);
    this.#open.set(name, aof);
    return aof;
  }

  /** The AOFs currently open. */
  files(): AOF[] {
    return [...this.#open.values()];
  }

  #context(): AofContext {
    return {
      readMode: this.#readMode,
      populate: this.#populate,
      released: (aof) => {
        if (this.#open.get(aof.name) === aof) this.#open.delete(aof.name);
      },
    };
  }

  /** Closes every open file (finishing none). Idempotent; every call returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= Promise.allSettled([...this.#open.values()].map((aof) => aof.close())).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
