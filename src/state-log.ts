/**
 * The state log (grailbio's `stateio` semantics on the record log): a snapshot of some state,
 * then updates to it, in epochs. `restore()` gives the last snapshot and an iterator over the
 * updates after it; `snapshot()` starts a new epoch. Beyond stateio: the segments before the last
 * snapshot can be dropped (`compact()`, or `autoCompact`), so neither the disk nor restore grows
 * with history.
 *
 * Each entry is one record of the log: a kind byte (snapshot or update) and the bytes given. The
 * epoch is the id of the record of its snapshot (0 before the first one), so it only grows, also
 * across compaction.
 */
import { AofError, ErrorCode, closed } from './errors.js';
import { Log, type LogOptions } from './log/log.js';
import { validateBoolean, validateBytes, validateObject } from './validate.js';

const SNAPSHOT = 1;
const UPDATE = 2;

export interface StateLogOptions extends Omit<LogOptions, 'firstId'> {
  /** After each snapshot, drop the segments before it in the background (default false). */
  autoCompact?: boolean;
}

export interface RestoreOptions {
  /**
   * Skip an update that fails its check (ERR_AOF_CORRUPT_DATA) instead of throwing; each one
   * skipped is added to the result's `skipped` (default false).
   */
  skipCorrupt?: boolean;
}

export interface Restored {
  /** The last snapshot (a view: copy it to keep it past close), or null when there is none. */
  state: Buffer | null;
  /** The id of the snapshot's record; 0 before the first snapshot. */
  epoch: number;
  /** The updates after the snapshot, in order (views). */
  updates: IterableIterator<Buffer>;
  /** Errors of the updates skipped (with `skipCorrupt`), filled as `updates` is iterated. */
  skipped: AofError[];
}

export class StateLog implements AsyncDisposable {
  readonly #log: Log;
  readonly #autoCompact: boolean;
  /** The id of the last snapshot record; 0 when there is none. */
  #epoch = 0;
  readonly #compacting = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;

  private constructor(log: Log, autoCompact: boolean) {
    this.#log = log;
    this.#autoCompact = autoCompact;
    this.#epoch = this.#findEpoch();
  }

  /** Opens (creating it if needed) the state log in `dir`. */
  static async open(dir: string, options: StateLogOptions = {}): Promise<StateLog> {
    const autoCompact = checkAutoCompact(options);
    const log = await Log.open(dir, logOptions(options));
    try {
      return new StateLog(log, autoCompact);
    } catch (e) {
      await log.close();
      throw e;
    }
  }

  /** The same over anonymous memory. */
  static memory(options: StateLogOptions = {}): StateLog {
    const autoCompact = checkAutoCompact(options);
    return new StateLog(Log.memory(logOptions(options)), autoCompact);
  }

  /** The current epoch: the id of the last snapshot's record, 0 before the first snapshot. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The log underneath (ids, sizes; do not append to it directly). */
  get log(): Log {
    return this.#log;
  }

  /** The last snapshot and the updates after it. */
  restore(options: RestoreOptions = {}): Restored {
    this.#checkOpen();
    validateObject(options, 'options');
    const skipCorrupt = options.skipCorrupt ?? false;
    validateBoolean(skipCorrupt, 'options.skipCorrupt');
    const epoch = this.#epoch;
    const state = epoch === 0 ? null : this.#log.get(epoch).subarray(1);
    const skipped: AofError[] = [];
    const from = epoch === 0 ? this.#log.firstId : epoch + 1;
    return { state, epoch, updates: this.#updates(from, this.#log.lastId, skipCorrupt, skipped), skipped };
  }

  *#updates(from: number, to: number, skipCorrupt: boolean, skipped: AofError[]): IterableIterator<Buffer> {
    for (let id = from; id <= to; id++) {
      let data: Buffer;
      try {
        data = this.#log.get(id);
      } catch (e) {
        if (skipCorrupt && e instanceof AofError && e.code === ErrorCode.CORRUPT_DATA) {
          skipped.push(e);
          continue;
        }
        throw e;
      }
      if (data[0] === UPDATE) yield data.subarray(1);
    }
  }

  /** Starts a new epoch with `state` as its snapshot; returns the epoch. */
  snapshot(state: Uint8Array): number {
    this.#epoch = this.#append(SNAPSHOT, state);
    if (this.#autoCompact) {
      const job = this.compact().catch(() => {
        // A hint: the next snapshot or compact() tries again.
      }).finally(() => this.#compacting.delete(job));
      this.#compacting.add(job);
    }
    return this.#epoch;
  }

  /** Appends an update to the current epoch; returns its id in the log. */
  update(data: Uint8Array): number {
    return this.#append(UPDATE, data);
  }

  /** Drops the segments that hold only entries before the last snapshot (a hint, like Log.trim). */
  async compact(): Promise<void> {
    this.#checkOpen();
    if (this.#epoch > 0) await this.#log.trim(this.#epoch - 1);
  }

  async sync(): Promise<void> {
    this.#checkOpen();
    await this.#log.sync();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#compacting]);
      await this.#log.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #append(kind: number, data: Uint8Array): number {
    this.#checkOpen();
    validateBytes(data, 'data');
    const entry = Buffer.allocUnsafe(data.length + 1);
    entry[0] = kind;
    entry.set(data, 1);
    return this.#log.append(entry);
  }

  /**
   * The last snapshot's id, found by reading back from the end: as many reads as updates in the
   * current epoch, however long the history.
   */
  #findEpoch(): number {
    const log = this.#log;
    for (let id = log.lastId; id >= log.firstId; id--) {
      let kind: number | undefined;
      try {
        kind = log.get(id)[0];
      } catch (e) {
        // A corrupt update is skipped here; restore() reports it.
        if (e instanceof AofError && e.code === ErrorCode.CORRUPT_DATA) continue;
        throw e;
      }
      if (kind === SNAPSHOT) return id;
    }
    return 0;
  }

  #checkOpen(): void {
    if (this.#closing) throw closed('state log');
  }
}

function checkAutoCompact(options: StateLogOptions): boolean {
  validateObject(options, 'options');
  const autoCompact = options.autoCompact ?? false;
  validateBoolean(autoCompact, 'options.autoCompact');
  return autoCompact;
}

function logOptions(options: StateLogOptions): LogOptions {
  const rest = { ...options };
  delete rest.autoCompact;
  return rest;
}
