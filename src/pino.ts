/**
 * A pino destination that writes log lines into an AOF: `pino(createDestination({ file }))`.
 * Imported as `mmap-aof/pino`; pino itself is not a dependency (the destination is duck-typed the
 * way pino expects a stream: `write(string)`, plus sonic-boom's `flush`, `flushSync` and `end`).
 *
 * A log call costs one copy of the line into the mapping: no syscall, no buffer in JS. When
 * `write` returns, the line is in the page cache, like sonic-boom with `sync: true`: a process that
 * exits or crashes right after logging (even kill -9) loses no line, and reopening the file
 * recovers every line (the control block records the committed size after every write).
 */
import { EventEmitter } from 'node:events';
import * as nodePath from 'node:path';
import { AOF } from './aof.js';
import { AofError, ErrorCode, closed, invalidArg, readOnly } from './errors.js';
import { Geometry, MAX_FILE_SIZE, MiB } from './geometry.js';
import { Manager, type ManagerOptions } from './manager.js';
import { FileState } from './file-state.js';
import { validateBoolean, validateFunction, validateInstance, validateNonNegative, validateObject, validatePath } from './validate.js';

/** Options of {@link createDestination}. Give `file` (with `dir` or `manager` optionally), or `aof`. */
export interface DestinationOptions {
  /**
   * The log file. A path, resolved against `dir`, else against `manager.dir`, else against the
   * working directory. With `manager`, it must name a file directly in the manager's directory.
   * Created when missing; an existing AOF is appended to (after recovery).
   */
  file?: string;
  /** Directory `file` is relative to (created when missing). */
  dir?: string;
  /**
   * Open the file through this Manager (its flush interval, growth policy and stats). Without
   * one, the destination makes its own Manager on the file's directory and closes it on `end()`.
   * A name the Manager has open already is that same AOF, and `end()` leaves it open.
   */
  manager?: Manager;
  /** Options of the destination's own Manager (not allowed with `manager`). */
  managerOptions?: ManagerOptions;
  /** Write into this open AOF instead (`end()` leaves it open: whoever opened it closes it). */
  aof?: AOF;
  /**
   * Sizes of the file. Default: 1 MiB to start, grown in 8 MiB steps (ahead of the writer, off the
   * event loop), at most {@link MAX_FILE_SIZE} (4 GiB); past that a write fails with `ERR_AOF_FULL`.
   */
  geometry?: Geometry;
  /**
   * `aof.syncSync()` (a durable flush) after every line, like sonic-boom's `fsync: true`: every line
   * survives a power loss, at the cost of two syscalls and a disk flush per line. Default false.
   */
  fsync?: boolean;
  /**
   * Call {@link AofDestination.reopen} on `SIGHUP` (what logrotate's `postrotate` sends), as an
   * app does with `pino.destination`: `process.on('SIGHUP', () => dest.reopen())`. Default false.
   */
  reopenOnSighup?: boolean;
  /**
   * How long (ms) to wait for the file when another writer (in any process) holds it; `Infinity`
   * waits until it lets go. Meanwhile lines are held in memory (up to 8 MiB; lines past that are
   * dropped and counted in {@link AofDestination.dropped}) and written in order once the file is
   * open. When the wait ends without the file (0, the default: at once), `'error'` is emitted with
   * `ERR_AOF_LOCKED` (see {@link AofDestination} for what happens without a listener).
   */
  lockTimeout?: number;
}

/** Lines held in memory while the file is being (re)opened: past this many bytes, lines are dropped. */
const MAX_HELD_BYTES = 8 * MiB;

/** The default geometry of a log file (see {@link DestinationOptions.geometry}). */
export const DEFAULT_LOG_GEOMETRY: Geometry = Geometry.create().with(1 * MiB, MAX_FILE_SIZE, 8 * MiB);

/**
 * A pino destination over an AOF (see {@link createDestination}). An EventEmitter, like
 * sonic-boom: `'ready'` (once the file is open: the next tick, or when a writer that held it let
 * go), `'error'`, `'finish'` and `'close'` (after `end()`).
 *
 * A file it cannot get (another writer holds it past `lockTimeout`, or the reopen after a
 * `copytruncate` fails) never throws from a log call or as an uncaught exception: it is emitted as
 * `'error'` when someone listens, else reported once with `process.emitWarning`; the lines written
 * meanwhile and after are dropped and counted in {@link dropped}.
 */
export class AofDestination extends EventEmitter implements AsyncDisposable {
  /** The file the lines go to; undefined while it is (re)opening, or after that failed. */
  #aof: AOF | undefined;
  /** Lines written while the file is (re)opening, in order, and their bytes. */
  #held: Array<string | Uint8Array> | undefined;
  #heldBytes = 0;
  /** The (re)open in progress: close() waits for it. */
  #opening: Promise<void> | undefined;
  /** Why there is no file to write to (the last open failed). */
  #failure: unknown;
  #dropped = 0;
  readonly #lockTimeout: number;
  readonly #name: string;
  /** The Manager files are opened through (the given one or ours); undefined with `options.aof`. */
  readonly #opener: Manager | undefined;
  readonly #geometry: Geometry;
  readonly #onSighup: (() => void) | undefined;
  readonly #fsync: boolean;
  /** The Manager this destination made (closed by end()); undefined when given one or an AOF. */
  readonly #manager: Manager | undefined;
  #ownsAof: boolean;
  #closing: Promise<void> | undefined;
  /** Files left by reopen(), closing: close() waits for them. */
  readonly #retiring = new Set<Promise<void>>();

  /** @internal Use {@link createDestination}. */
  constructor(options: DestinationOptions) {
    super();
    validateObject(options, 'options');
    const { file, dir, manager, managerOptions, aof, geometry } = options;
    const fsync = options.fsync ?? false;
    validateBoolean(fsync, 'options.fsync');
    this.#fsync = fsync;
    const lockTimeout = options.lockTimeout ?? 0;
    validateNonNegative(lockTimeout, 'options.lockTimeout', 'a non-negative number of milliseconds (or Infinity)', true);
    this.#lockTimeout = lockTimeout;
    const reopenOnSighup = options.reopenOnSighup ?? false;
    validateBoolean(reopenOnSighup, 'options.reopenOnSighup');
    let lockedOut: AofError | undefined;
    if (aof !== undefined) {
      validateInstance(aof, 'options.aof', AOF, 'an AOF');
      for (const [key, value] of Object.entries({ file, dir, manager, managerOptions, geometry, lockTimeout: options.lockTimeout })) {
        if (value !== undefined) throw invalidArg(`options.${key}`, 'nothing when options.aof is given', value);
      }
      checkWritable(aof);
      this.#aof = aof;
      this.#name = aof.name;
      this.#ownsAof = false;
      this.#manager = undefined;
      this.#opener = undefined;
    } else {
      validatePath(file, 'options.file', 'a file path');
      if (dir !== undefined) validatePath(dir, 'options.dir', 'a directory path');
      if (manager !== undefined) validateInstance(manager, 'options.manager', Manager, 'a Manager');
      if (manager && managerOptions !== undefined) {
        throw invalidArg('options.managerOptions', 'nothing when options.manager is given', managerOptions);
      }
      if (geometry !== undefined) validateInstance(geometry, 'options.geometry', Geometry, 'a Geometry');
      const path = nodePath.resolve(dir ?? manager?.dir ?? '.', file);
      if (manager && nodePath.dirname(path) !== manager.dir) {
        throw invalidArg('options.file', `a file directly in the manager's directory ${manager.dir}`, file);
      }
      const name = nodePath.basename(path);
      const owned = manager ? undefined : new Manager(nodePath.dirname(path), managerOptions);
      // A name the given Manager has open already is the same AOF: someone else's to close.
      const shared = manager?.files().some((f) => f.name === name && (f.state === FileState.Opened || f.state === FileState.EOF)) ?? false;
      try {
        this.#aof = openWritable(manager ?? owned!, name, geometry ?? DEFAULT_LOG_GEOMETRY, manager !== undefined && !shared);
      } catch (e) {
        if (!(e instanceof AofError && e.code === ErrorCode.LOCKED)) {
          owned?.close().catch(() => {}); // the open failed: nothing of ours is open in it
          throw e;
        }
        lockedOut = e; // another writer has it: wait (lockTimeout), or say so as an event
      }
      this.#name = name;
      this.#ownsAof = !shared;
      this.#manager = owned;
      this.#opener = manager ?? owned;
    }
    this.#geometry = geometry ?? DEFAULT_LOG_GEOMETRY;
    if (reopenOnSighup) {
      this.#onSighup = () => this.reopen();
      process.on('SIGHUP', this.#onSighup);
    }
    if (!lockedOut) process.nextTick(() => this.emit('ready'));
    else if (lockTimeout > 0) this.#openLater(undefined);
    else this.#fail(lockedOut);
  }

  /**
   * The AOF the lines go to now (e.g. `dest.aof.finish()`, `dest.aof.createReadStream()`,
   * `dest.aof.size`); a new one after {@link reopen}. While the file is being opened (waiting for
   * another writer's lock, or after a `copytruncate`) it throws `ERR_AOF_LOCKED`; after the open
   * failed, that failure.
   */
  get aof(): AOF {
    if (this.#aof) return this.#aof;
    if (this.#failure !== undefined) throw this.#failure;
    throw new AofError(ErrorCode.LOCKED, `${this.#name}: the destination is still opening its file (waiting for the writer lock)`);
  }

  /** Lines dropped because there was no file to write them to (see {@link AofDestination}). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Log rotation, as `pino.destination`'s `reopen()`: after the file was renamed away (`mv app.aof
   * app.aof.1`), lines go to a new file at the path (or at `file`, resolved as `options.file`).
   * The old file is closed (its lines flushed) and left to whoever rotated it; its control block
   * is handed to the new file first. Lines written after `reopen()` returns go to the new file;
   * none is lost or written twice. A failure (the new file cannot be opened) is emitted as
   * `'error'`, and the lines keep going to the old file. Not for a destination given `options.aof`
   * (`ERR_AOF_INVALID_ARG`); nothing to do while the path still names the current file.
   * (`copytruncate` needs no call: the first line written after the truncate finds the file
   * truncated under it, and the destination starts the file afresh with that line.)
   */
  reopen(file?: string): void {
    if (file !== undefined) validatePath(file, 'file', 'a file path');
    if (!this.#opener) {
      this.emit('error', new AofError(ErrorCode.INVALID_ARG, 'reopen() needs a destination that opened its file itself, not one given options.aof'));
      return;
    }
    const old = this.#aof;
    if (this.#closing || !old) return; // opening: that open looks at the path itself
    const path = file === undefined ? old.path : nodePath.resolve(this.#opener.dir, file);
    if (nodePath.dirname(path) !== this.#opener.dir) {
      this.emit('error', invalidArg('file', `a file directly in ${this.#opener.dir}`, file));
      return;
    }
    if (old.isAt(path)) return;
    try {
      old.detachControlBlock();
      const closing = this.#ownsAof ? old.close() : Promise.resolve();
      const next = openWritable(this.#opener, nodePath.basename(path), this.#geometry, false);
      this.#aof = next;
      this.#ownsAof = true;
      this.#retire(closing);
    } catch (e) {
      this.emit('error', e);
    }
  }

  /** close() waits for a file left behind to be closed; its failure is an `'error'`. */
  #retire(closing: Promise<void>): void {
    const retiring = closing.catch((e: unknown) => {
      this.emit('error', e);
    }).finally(() => this.#retiring.delete(retiring));
    this.#retiring.add(retiring);
  }

  /**
   * Opens the file in the background: while another writer holds it (up to `lockTimeout`), or
   * after `old` was truncated under us (`copytruncate`: `old` is closed first, as its lock is on
   * the same file). Lines written meanwhile are held, then written in order.
   */
  #openLater(old: AOF | undefined, line?: string | Uint8Array): void {
    this.#aof = undefined;
    this.#held = [];
    this.#heldBytes = 0;
    if (line !== undefined) this.#hold(line);
    const opener = this.#opener!;
    const ownsOld = this.#ownsAof;
    this.#opening = (async () => {
      // Its bytes past the truncate reached no file: closing it reports that, which we know.
      if (old && ownsOld) await old.close().catch(() => {});
      const aof = await opener.openAsync(this.#name, { geometry: this.#geometry, lockTimeout: this.#lockTimeout });
      checkWritable(aof);
      return aof;
    })().then((aof) => {
      this.#aof = aof;
      this.#ownsAof = true;
      const held = this.#held!;
      this.#held = undefined;
      for (const l of held) this.write(l);
      if (!old) this.emit('ready');
    }, (e: unknown) => {
      this.#dropped += this.#held!.length;
      this.#held = undefined;
      this.#fail(e);
    });
  }

  /** No file to write to: say so once, as an event when someone listens, else as a warning. */
  #fail(e: unknown): void {
    this.#failure = e;
    process.nextTick(() => {
      if (this.listenerCount('error') > 0) this.emit('error', e);
      else process.emitWarning(e as Error);
    });
  }

  #hold(line: string | Uint8Array): boolean {
    const bytes = typeof line === 'string' ? Buffer.byteLength(line) : line.length;
    if (this.#heldBytes + bytes > MAX_HELD_BYTES) {
      this.#dropped++;
      return false;
    }
    this.#held!.push(line);
    this.#heldBytes += bytes;
    return true;
  }

  /**
   * Appends one log line (pino passes a string ending in `\n`): `aof.write(line)`, plus
   * `syncSync()` with `fsync`. Returns true. A failed write (`ERR_AOF_FULL`, `ERR_AOF_NO_SPACE`,
   * `ERR_AOF_CLOSED` after `end()`...) writes nothing and is emitted as `'error'` (returning
   * false); as with any EventEmitter, without an `'error'` listener it is thrown to the log call.
   * While the file is opening the line is held (see {@link DestinationOptions.lockTimeout});
   * without a file (its open failed) it is dropped, counted in {@link dropped}, and false returned.
   */
  write(line: string | Uint8Array): boolean {
    if (this.#held) return this.#hold(line);
    const aof = this.#aof;
    if (!aof) {
      if (this.#closing) return this.#writeFailed(closed(this.#name));
      this.#dropped++;
      return false;
    }
    try {
      aof.write(line);
      // copytruncate: the file was truncated under the mapping, and this line reached no file.
      if (aof.truncatedUnder && this.#ownsAof && this.#opener && !this.#closing) {
        this.#openLater(aof, line);
        return true;
      }
      if (this.#fsync) aof.syncSync();
    } catch (e) {
      return this.#writeFailed(e);
    }
    return true;
  }

  #writeFailed(e: unknown): false {
    this.emit('error', e);
    return false;
  }

  /**
   * `logger.flush(cb)` calls this: writes the dirty pages back to the file (`aof.flush()`, an msync
   * off the event loop), then calls `cb` (with the error, if any). Lines are in the page cache
   * as soon as they are written: this is about the disk, not about other readers. While the file
   * is opening, it waits for the open (and the held lines) first.
   */
  flush(cb?: (error?: Error | null) => void): void {
    if (cb !== undefined) validateFunction(cb, 'cb');
    let done: Promise<void>;
    try {
      done = this.#aof || !this.#opening ? this.aof.flush() : this.#opening.then(() => this.aof.flush());
    } catch (e) {
      if (!cb) throw e;
      cb(e as Error);
      return;
    }
    done.then(() => cb?.(), (e: Error) => (cb ? cb(e) : this.emit('error', e)));
  }

  /** {@link flush} on the calling thread (`aof.flushSync()`); nothing to do while the file is opening. */
  flushSync(): void {
    if (this.#held) return;
    this.aof.flushSync();
  }

  /**
   * Closes the destination: the AOF it opened is closed (not finished: a later destination on the
   * same file appends to it) and so is the Manager it made; an AOF it did not open (`options.aof`,
   * or a name the given Manager had open already) stays open. Then `'finish'` and `'close'`; a failure is emitted as `'error'` (or given to `cb`).
   * Writes after it fail with `ERR_AOF_CLOSED`. To seal the file for good, `await dest.aof.finish()` first.
   * While the file is opening, it waits for the open (and writes the held lines) first.
   */
  end(cb?: (error?: Error | null) => void): void {
    if (cb !== undefined) validateFunction(cb, 'cb');
    this.close().then(() => cb?.(), (e: Error) => (cb ? cb(e) : this.emit('error', e)));
  }

  /** Same as {@link end} (nothing is buffered, so there is nothing to drop). */
  destroy(): void {
    this.end();
  }

  /** {@link end} as a promise (rejects instead of emitting `'error'`). Idempotent: the same promise every call. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#onSighup) process.off('SIGHUP', this.#onSighup);
    await this.#opening;
    await Promise.all([...this.#retiring]);
    try {
      if (this.#ownsAof) await this.#aof?.close();
    } finally {
      await this.#manager?.close();
    }
    this.emit('finish');
    this.emit('close');
  }

  /**
   * True while lines can be written (held while the file opens, dropped if that failed). pino recognises a stream passed as its first argument
   * (`pino(dest)`) by this property.
   */
  get writable(): boolean {
    if (this.#closing !== undefined) return false;
    // Without a file (opening, or its open failed), lines are held or dropped and counted: still a
    // stream to pino, which takes a destination that is not writable for its options.
    return this.#aof ? this.#aof.state === FileState.Opened : true;
  }

  /** True once `end()`/`close()` was called. */
  get destroyed(): boolean {
    return this.#closing !== undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Opens `name` through `opener` for writing; a finished log is refused (and, if `release`, let go). */
function openWritable(opener: Manager, name: string, geometry: Geometry, release: boolean): AOF {
  const opened = opener.open(name, geometry);
  try {
    checkWritable(opened);
  } catch (e) {
    // A finished log (read-only): the open gave us a reader's handle; let it go.
    if (release) opened.close().catch(() => {}); // nothing was written: nothing to lose
    throw e;
  }
  return opened;
}

function checkWritable(aof: AOF): void {
  if (aof.state === FileState.Closing || aof.state === FileState.Closed) throw closed(aof.name);
  if (aof.state !== FileState.Opened || aof.readOnly) {
    throw readOnly(aof.name, aof.state === FileState.EOF ? 'finished: a log destination needs a writable file' : 'no write permission');
  }
}

/**
 * A destination for pino that appends every log line to an AOF at memory speed:
 *
 * ```js
 * import pino from 'pino';
 * import { createDestination } from 'mmap-aof/pino';
 * const dest = createDestination({ file: '/var/log/app/app.aof' });
 * const logger = pino(dest);      // or pino(options, dest)
 * logger.info({ req: 42 }, 'request done');
 * dest.end();                     // closes the file (does not finish it)
 * ```
 *
 * The file is an AOF: its content is the log lines, followed by the 8-byte tail magic and
 * zero-filled headroom (read it with the library, `aof.createReadStream()`, or the `aof` CLI; a
 * plain `cat` shows the padding). Opened for writing, the file has a writer lock
 * (`ERR_AOF_LOCKED` for a second writer in any process) and, with the default Manager options, a
 * control block `<file>-shm` beside it.
 */
export function createDestination(options: DestinationOptions): AofDestination {
  return new AofDestination(options);
}

/**
 * The module's default export makes `mmap-aof/pino` a pino transport target too, so the log
 * lines are written in pino's worker thread instead of the logging thread:
 * `pino({ transport: { target: 'mmap-aof/pino', options: { file } } })`. `options` are
 * {@link DestinationOptions} (without `manager` or `aof`, which cannot cross to a worker).
 */
export default function transport(options: DestinationOptions): AofDestination {
  return createDestination(options);
}
