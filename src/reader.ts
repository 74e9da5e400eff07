/**
 * A reader of a file written elsewhere: in another process, another worker, or another Manager.
 * It maps the data file read-only and follows the writer through the shared control block
 * (`<file>-shm`): the size it may read up to (published once per turn by the writer, loaded with
 * acquire), the file state, and a futex word to sleep on. It offers what an AOF offers a reader:
 * `subscribe`, `tail()`, `createReadStream()`, `view()`.
 *
 * How it waits for the writer (`wake`):
 * - `'doorbell'` (default): an inotify watch on the control block (`fs.watch`), which the writer
 *   rings with a one-byte pwrite at most once per turn while a reader waits: the event loop's own
 *   epoll wakes, one wake-up per event, no thread, no CPU while idle.
 * - `'adaptive'`: after each event it spins (and, on a steady stream, sleeps until just before the
 *   next event is due, then spins); when nothing comes, it waits for the doorbell. For bursty or
 *   steady streams read by a worker or process that only reads: close to `'spin'` at a fraction
 *   of its CPU.
 * - `'futex'`: a native thread sleeps in futex(2) and wakes the event loop (two wake-ups per
 *   event: the thread's, then the loop's).
 * - `'poll'`: checks the sequence word every `interval` ms.
 * - `'spin'`: spins on the sequence word (Atomics.load) on this thread for up to `spinMs` per
 *   event-loop turn: lowest latency, one core busy. For a worker or process that only reads.
 *
 * A reader that cannot write the control block (another user's) cannot count itself as waiting
 * for the doorbell or the futex: it polls.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { ControlBlock, ControlState, controlPath, identityOf, pathNames, type FileIdentity } from './control-block.js';
import { AofError, ErrorCode, closed } from './errors.js';
import { FileState } from './file-state.js';
import { MAX_FILE_SIZE } from './geometry.js';
import { recoveryContext } from './durability.js';
import { bufferLength, pageUp } from './mapping.js';
import { native, type NativeFutexWaiter, type NativeRegion, type NativeSleeperMark } from './native.js';
import { openData } from './open-file.js';
import { MAGIC_TAIL, RecoveryKind, isFinished, recoverWithMagic } from './recovery.js';
import type { StatsRecorder } from './stats.js';
import { hasSystemCode } from './system-errors.js';
import { Followable, type Tailer } from './tailer.js';
import { validateBoolean, validateNonNegative, validateObject, validateOneOf, validatePath, validateRange, validateTimerMs } from './validate.js';

export type WakeMode = 'doorbell' | 'adaptive' | 'futex' | 'poll' | 'spin';

export interface ReaderOptions {
  /** How to wait for the writer (default 'doorbell'); see the module comment. */
  wake?: WakeMode;
  /** 'poll': milliseconds between checks (default 10). */
  interval?: number;
  /**
   * 'spin': milliseconds to spin per event-loop turn before letting other work run (default 1).
   * 'adaptive': how long to spin after an event before sleeping (default 0.1).
   */
  spinMs?: number;
  /**
   * @internal Refuse (ERR_AOF_CORRUPTED) a file no writer's control block describes whose bytes do
   * not recover, before making anything beside it: the CLI's reads. Not the default: a reader of a
   * file whose first write is in progress, before its writer's block describes it, sees the same
   * bytes (Log.follow did, in its tests).
   */
  refuseUnparseable?: boolean;
  /**
   * Make a control block beside a file that has none (or reset one that describes another file),
   * so that this reader can wait on it for a writer to come (the futex or the doorbell, rather than
   * a look every second) and later readers find the size without a scan. Default false: a reader
   * creates and changes nothing beside the file, but for counting itself as a waiter in a live
   * writer's block (and a reader of a writer-less file watches the directory for the block to
   * appear instead).
   */
  createControlBlock?: boolean;
}

/** @internal What a Manager hands a reader it opens. */
export interface ReaderContext {
  stats?: StatsRecorder;
  released?(reader: Reader): void;
}

const PAGE = native.pageSize;
/** What recovery finds in a file's bytes: the content's size, whether it is finished, why it cannot tell. */
interface BytesFound {
  size: number;
  finished: boolean;
  problem?: string;
}
const WAKE_MODES: readonly WakeMode[] = ['doorbell', 'adaptive', 'futex', 'poll', 'spin'];
/** 'adaptive' predicts the next event from the stream's recent pace up to this gap (ms); past it, it only spins. */
const PREDICT_MAX_MS = 2;
/** 'adaptive' wakes this long (ms) before an event is due, besides the measured oversleep. */
const WAKE_EARLY_MS = 0.015;
/** 'adaptive' does not nap for less than this (ms): a nap's own cost is about that. */
const MIN_NAP_MS = 0.01;
/**
 * 'adaptive' sets its thread's timer slack to this (ns) so a nap ends when due: Linux rounds a
 * normal thread's timed sleeps up by 50 µs; measured here, a 50 µs futex nap overslept 72 µs at
 * p50 with the default slack, 22 µs with 1 µs.
 */
const ADAPTIVE_TIMER_SLACK_NS = 1000;
/** How often a following reader checks that its control block is still the one at the path. */
const MAINTAIN_MS = 1000;

/** @internal Validates reader options and fills the defaults. */
export function openReaderOptions(options: ReaderOptions): Required<ReaderOptions> {
  validateObject(options, 'options');
  const wake = options.wake ?? 'doorbell';
  const interval = options.interval ?? 10;
  const spinMs = options.spinMs ?? (wake === 'adaptive' ? 0.1 : 1);
  validateOneOf(wake, 'options.wake', WAKE_MODES);
  validateTimerMs(interval, 'options.interval', true);
  validateNonNegative(spinMs, 'options.spinMs', 'a non-negative number of milliseconds');
  const createControlBlock = options.createControlBlock ?? false;
  validateBoolean(createControlBlock, 'options.createControlBlock');
  return { wake, interval, spinMs, refuseUnparseable: options.refuseUnparseable === true, createControlBlock };
}

/**
 * True when a process with this pid exists (EPERM: it exists, owned by someone else). A pid is
 * only meaningful in the writer's pid namespace, and may be reused by another process.
 */
function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return hasSystemCode(e, 'EPERM');
  }
}

/** True when `c` describes the file and says Writing for a process that exists: its size is the word. */
function ownedByLiveWriter(c: ControlBlock | undefined, identity: FileIdentity): boolean {
  return c !== undefined && c.state === ControlState.Writing && c.describes(identity) && isAlive(c.pid);
}

/**
 * Opens a reader of the AOF at `path`, written (or not yet, or no longer) by a writer anywhere on
 * this machine. Read-only: it never takes the writer's lock. Close it when done.
 */
export function openReader(path: string, options: ReaderOptions = {}): Reader {
  validatePath(path, 'path', 'a file path');
  return new Reader(nodePath.resolve(path), nodePath.basename(path), openReaderOptions(options), {});
}

export class Reader extends Followable implements AsyncDisposable {
  readonly #name: string;
  readonly #path: string;
  readonly #fd: number;
  readonly #identity: FileIdentity;
  readonly #region: NativeRegion;
  readonly #options: Required<ReaderOptions>;
  readonly #ctx: ReaderContext;
  #buf: Buffer;
  /** Bytes of the data file mapped (a page multiple). */
  #mapped = 0;
  /** The data file's size as last seen: the published size never goes past it minus 8. */
  #fileSize = 0;
  #size = 0;
  #state: FileState = FileState.Opening;
  #control: ControlBlock | undefined;
  #waiter: NativeFutexWaiter | undefined;
  /** The sequence word when the tailers were last woken. */
  #seq = -1;
  readonly #tailers = new Set<Tailer>();
  #following = false;
  #timer: NodeJS.Timeout | undefined;
  /** 'doorbell', 'adaptive': the inotify watch on the control block. */
  #watcher: fs.FSWatcher | undefined;
  /** 'doorbell', 'adaptive': counts this reader as waiting for the doorbell while it is set. */
  #sleeper: NativeSleeperMark | undefined;
  /** 'adaptive': when the last event came, the stream's pace (ms, smoothed), how much a nap oversleeps. */
  #lastArrival = 0;
  #pace = 0;
  #paceDev = 0;
  #oversleep = 0.03;
  #lastMaintain = 0;
  /** True while the size comes from the control block: it belongs to the file's live writer. */
  #trusted = false;
  /** The block (pid:seq:state) #checkWriter last looked into without trusting it. */
  #lastChecked = '';
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openReader} or `Manager.follow`. */
  constructor(path: string, name: string, options: Required<ReaderOptions>, ctx: ReaderContext) {
    super();
    this.#path = path;
    this.#name = name;
    this.#options = options;
    this.#ctx = ctx;
    this.#fd = openData(path);
    try {
      this.#identity = identityOf(this.#fd);
      this.#region = new native.Region(MAX_FILE_SIZE, path);
    } catch (e) {
      fs.closeSync(this.#fd);
      throw e;
    }
    this.#buf = Buffer.from(this.#region.buffer(PAGE));
    try {
      this.#attach(true);
    } catch (e) {
      this.#release();
      throw e;
    }
  }

  /** The name it was opened under. */
  get name(): string {
    return this.#name;
  }

  get path(): string {
    return this.#path;
  }

  /** How it waits for the writer. */
  get wake(): WakeMode {
    return this.#options.wake;
  }

  /** Bytes that may be read: what the writer has published (and, after a finish, the final size). */
  get size(): number {
    this.#refresh();
    return this.#size;
  }

  /** Opened while the file may still grow; EOF once it is finished; Closing/Closed for this reader. */
  get state(): FileState {
    this.#refresh();
    return this.#state;
  }

  /** The pid of the process writing the file now, or undefined when none is (a dead writer is none). */
  get writerPid(): number | undefined {
    const c = this.#control;
    return c && ownedByLiveWriter(c, this.#identity) ? c.pid : undefined;
  }

  /** Tailers attached now. */
  get tailerCount(): number {
    return this.#tailers.size;
  }

  /** A view of [begin, end) of the content (no copy). It reads zeros after close, never faults. */
  view(begin = 0, end = this.size): Buffer {
    this.#checkOpen();
    validateRange(begin, end, this.size);
    return this.#buf.subarray(begin, end);
  }

  // subscribe(), tail() and createReadStream() come from Followable, as for an AOF.

  // --- the control block -----------------------------------------------------------------------

  /**
   * Finds the size and state: from the control block when it belongs to the file's live writer
   * (it describes this file and says Writing for a process that exists), else from the bytes by
   * recovery. A reader makes nothing beside the file and changes no block but for counting itself
   * as a waiter, unless `createControlBlock` asks it to make (or rebuild) one for writers to come.
   */
  #attach(initial = false, again = true): void {
    let control: ControlBlock | undefined;
    /** What recovery found in the bytes, when this attach had to look (a scan of the file: once). */
    let found: BytesFound | undefined;
    // The block at the path belongs to the file at the path: a reader of a file since deleted or
    // replaced must neither follow nor rebuild it.
    if (pathNames(this.#path, this.#identity)) {
      try {
        control = ControlBlock.open(this.#path, { create: false });
      } catch {
        control = undefined; // no control block: serve what recovery finds, look again when one appears
      }
      if (!ownedByLiveWriter(control, this.#identity)) {
        // No live writer's word for the size: the bytes must make sense before anything is made
        // beside them. A writer opening the file holds the block's lock from before its recovery
        // until the block says Writing: wait for that rather than read bytes it is changing.
        const before = fs.fstatSync(this.#fd);
        found = control ? this.#recoverLocked(control) : this.#recoverBytes();
        // No block when we looked, one now (a writer makes its block before it writes), or the file
        // changed size or status during the scan (a finish truncates it): a writer came, and the
        // bytes may have been mid-change (a finish's marker before its truncate reads as content).
        // Look again, once.
        const after = fs.fstatSync(this.#fd);
        if (!control && again && (fs.existsSync(controlPath(this.#path)) || after.size !== before.size || after.ctimeMs !== before.ctimeMs)) {
          this.#attach(initial, false);
          return;
        }
        if (initial && this.#options.refuseUnparseable && found?.problem !== undefined) {
          control?.close();
          throw new AofError(ErrorCode.CORRUPTED, `${this.#path}: not an AOF a reader can follow: ${found.problem}; ` +
            '`aof inspect` says more, `aof recover` keeps the longest valid prefix');
        }
        if (found && this.#options.createControlBlock && !found.finished && found.problem === undefined) {
          control = this.#buildBlock(control, found);
        }
      }
    }
    this.#control = control;
    this.#state = FileState.Opened;
    this.#seq = control?.seq ?? -1;
    this.#assess(found);
  }

  /**
   * {@link #recoverBytes} under the block's lock, which a writer's open holds from before its
   * recovery until the block says Writing: the bytes hold still meanwhile. Undefined when a live
   * writer got the block first (its word counts, and its bytes may be mid-change: a finish's
   * marker before the truncate would read as content).
   */
  #recoverLocked(control: ControlBlock): BytesFound | undefined {
    control.lock();
    try {
      return ownedByLiveWriter(control, this.#identity) ? undefined : this.#recoverBytes();
    } finally {
      control.unlock();
    }
  }

  /**
   * `createControlBlock`: makes a block for a file that has none, or resets one that describes
   * another file, to what recovery found (state None), for the writer and readers to come.
   */
  #buildBlock(control: ControlBlock | undefined, found: BytesFound): ControlBlock | undefined {
    try {
      control ??= ControlBlock.open(this.#path, { mode: fs.fstatSync(this.#fd).mode & 0o666 });
    } catch {
      return undefined;
    }
    if (!control || control.describes(this.#identity) || !control.writable) return control;
    control.lock();
    try {
      if (!control.describes(this.#identity)) control.reset(this.#identity, ControlState.None, found.size, 0);
    } finally {
      control.unlock();
    }
    return control;
  }

  /**
   * Decides whom to believe: the control block while it belongs to a live writer (then the size
   * comes from it, see #refresh), else the bytes (`found`, when the caller scanned them already).
   * A block that says Writing for a dead writer adds its committed size: every write that returned
   * before the crash is whole up to it (a dead process's stores have all landed), even the ones it
   * never published, and the next writer's recovery will keep them.
   */
  #assess(found?: BytesFound): void {
    const c = this.#control;
    if (ownedByLiveWriter(c, this.#identity)) {
      this.#trusted = true;
      this.#refresh();
      return;
    }
    const f = found ?? (c ? this.#recoverLocked(c) : this.#recoverBytes());
    if (!f) {
      // A writer took the block while we waited for its lock.
      this.#trusted = true;
      this.#refresh();
      return;
    }
    this.#trusted = false;
    let size = f.size;
    if (!f.finished && c && c.state === ControlState.Writing && c.describes(this.#identity) && c.committed > size) {
      size = c.committed;
    }
    if (size > this.#size) this.#extend(size);
    if (f.finished && this.#size >= f.size) this.#state = FileState.EOF;
  }

  /**
   * Looks again when the block may no longer say what it did: its writer died, closed or
   * finished. Without a block (a writer that keeps none removes an old one), the bytes are all
   * there is: looked at every time. With one, once per pid, sequence and state (recovery reads the
   * file; nothing changes without a new publish). Returns true when the size or state changed.
   */
  #checkWriter(): boolean {
    const c = this.#control;
    if (this.#state !== FileState.Opened) return false;
    if (c) {
      if (this.#trusted && c.state === ControlState.Writing && isAlive(c.pid)) return false;
      const checked = `${c.pid}:${c.seq}:${c.state}`;
      if (checked === this.#lastChecked) return false;
      this.#lastChecked = checked;
    }
    const before = this.#size;
    this.#assess();
    return this.#size !== before || this.#state !== FileState.Opened;
  }

  /**
   * Where the content ends by the bytes alone: what a new writer's recovery would keep at least.
   * Reads the whole file, then keeps only the pages of the content mapped: a later finish()
   * truncates the headroom, and a mapped page past the end of a file is SIGBUS on access.
   */
  #recoverBytes(): BytesFound {
    const fileSize = fs.fstatSync(this.#fd).size;
    this.#fileSize = fileSize;
    const before = this.#mapped;
    this.#map(fileSize);
    const data = this.#buf.subarray(0, fileSize);
    // After a reboot, only what the last durable flush proved (as a writer's recovery will keep).
    const r = recoverWithMagic(fileSize, data, MAGIC_TAIL, recoveryContext(this.#fd, this.#path, data, fileSize).hint);
    const found: BytesFound = isFinished(r) ? { size: r.checkpoint, finished: true }
      : r.kind === RecoveryKind.Tail || r.kind === RecoveryKind.Checkpoint ? { size: r.tail, finished: false }
      : r.kind === RecoveryKind.Empty ? { size: 0, finished: false }
      : { size: 0, finished: false, problem: r.error?.message ?? 'recovery cannot tell where its content ends' };
    const keep = Math.max(before, pageUp(Math.max(found.size, this.#size)));
    if (this.#mapped > keep) {
      this.#region.zero(keep, this.#mapped - keep);
      this.#mapped = keep;
    }
    return found;
  }

  /**
   * Loads state then size (acquire) from a live writer's block. A block that stops saying Writing
   * (closed, finished) is no longer the word on the size: the bytes are, and they say finished.
   */
  #refresh(): void {
    const c = this.#control;
    if (!c || !this.#trusted || this.#state >= FileState.Closing) return;
    const state = c.state;
    const size = c.published;
    if (size > this.#size) this.#extend(size);
    if (state !== ControlState.Writing) this.#assess();
  }

  /** Makes [0, size) readable. A size past the data file (a bad block) is not trusted. */
  #extend(size: number): void {
    if (size + 8 > this.#fileSize) {
      this.#fileSize = fs.fstatSync(this.#fd).size;
      if (size + 8 > this.#fileSize) return;
    }
    this.#map(size);
    this.#size = size;
  }

  #map(size: number): void {
    const want = pageUp(size);
    if (want > this.#mapped) {
      this.#region.mapFile(this.#fd, this.#mapped, want - this.#mapped, false);
      this.#mapped = want;
    }
    if (size > this.#buf.length) {
      // As long as the file at least (past the mapping the reservation reads zeros): a pre-sized
      // file then needs one buffer, not a doubling series with a full GC each (V8 counts their
      // whole length as external memory).
      const length = bufferLength(this.#region.capacity, Math.max(size, this.#fileSize), this.#buf.length);
      this.#buf = Buffer.from(this.#region.buffer(length));
    }
  }

  /** The writer published (or the block changed): wake the tailers once. True when there was news. */
  #signal(): boolean {
    const c = this.#control;
    if (c) {
      const seq = c.seq;
      if (seq === this.#seq) return false;
      this.#seq = seq;
    }
    if (this.#trusted) this.#refresh();
    else if (c) this.#checkWriter(); // a writer came, or the block changed hands (no block: #maintain looks)
    for (const t of this.#tailers) t.wake();
    return true;
  }

  /** The control block was deleted or replaced (or never attached): attach to the one at the path now. */
  #maintain(): void {
    this.#lastMaintain = performance.now();
    const c = this.#control;
    if (c && c.isCurrent()) {
      if (this.#checkWriter()) for (const t of this.#tailers) t.wake();
      return;
    }
    // Our file is no longer at the path (deleted or replaced): keep following what we have.
    if (!pathNames(this.#path, this.#identity)) return;
    const following = this.#following;
    if (following) this.#stopFollowing();
    // The waiter sleeps on the old block's memory: stop it before that is unmapped.
    this.#waiter?.close();
    this.#waiter = undefined;
    this.#control = undefined;
    c?.close();
    try {
      this.#attach();
    } finally {
      if (following) this.#startFollowing();
    }
    for (const t of this.#tailers) t.wake();
  }

  // --- following -------------------------------------------------------------------------------

  #startFollowing(): void {
    if (this.#following || this.#state >= FileState.Closing) return;
    this.#following = true;
    const c = this.#control;
    const { wake, interval } = this.#options;
    if ((wake === 'doorbell' || wake === 'adaptive') && c?.writable && this.#watch(c)) {
      if (wake === 'doorbell') this.#sleep();
      else {
        native.setTimerSlack(ADAPTIVE_TIMER_SLACK_NS);
        setImmediate(this.#pause);
      }
    } else if (wake === 'futex' && c?.writable) {
      this.#waiter ??= new native.FutexWaiter(c.bytes, ControlBlock.SEQ_OFFSET, ControlBlock.WAITERS_OFFSET,
        (changed) => this.#onFutex(changed));
      this.#waiter.ref();
      this.#waiter.start(this.#seq, MAINTAIN_MS);
    } else if (wake === 'spin') {
      setImmediate(this.#spin);
    } else {
      // 'poll', or no write access to the block (it cannot count itself as a waiter).
      this.#timer = setInterval(() => this.#poll(), wake === 'poll' ? interval : Math.min(interval, 10));
      if (!c) this.#watchForBlock();
    }
  }

  /**
   * No control block: a writer that comes makes one. Watches the directory for it, so the reader
   * attaches at once instead of at its next look (MAINTAIN_MS). Best effort: the look stays.
   */
  #watchForBlock(): void {
    const blockName = `${nodePath.basename(this.#path)}-shm`;
    try {
      this.#watcher = fs.watch(nodePath.dirname(this.#path), { persistent: true }, (_event, name) => {
        if (name === blockName && this.#following) this.#maintain();
      });
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      // no watch (no inotify instances left, say): the look every MAINTAIN_MS finds the block
    }
  }

  #stopFollowing(): void {
    if (!this.#following) return;
    this.#following = false;
    this.#waiter?.stop();
    this.#waiter?.unref();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#wake();
  }

  // --- the doorbell ------------------------------------------------------------------------------

  /**
   * Watches the control block for the doorbell, and checks every second that it is still the
   * one at the path (and whether its writer died). False when the watch cannot be set up.
   */
  #watch(c: ControlBlock): boolean {
    try {
      this.#watcher = fs.watch(c.path, { persistent: true }, () => this.#onDoorbell());
    } catch {
      return false;
    }
    this.#watcher.on('error', () => {
      // The file went away under the watch: maintain() finds the new block and watches that.
      this.#watcher?.close();
      this.#watcher = undefined;
    });
    this.#timer = setInterval(() => this.#poll(), MAINTAIN_MS).unref();
    return true;
  }

  /**
   * Waits for the doorbell: counts this reader as waiting (the writer rings while any does), then
   * looks once more, so a publish between the last look and the count is not missed (both sides
   * are sequentially consistent: the writer bumps the sequence, then reads the count). True when
   * that look found something new.
   */
  #sleep(): boolean {
    this.#sleeper ??= this.#control?.markDoorbellSleeper();
    return this.#signal();
  }

  #wake(): void {
    this.#sleeper?.release();
    this.#sleeper = undefined;
  }

  #onDoorbell(): void {
    if (!this.#following) return;
    if (this.#options.wake === 'adaptive') this.#spinAgain();
    this.#signal();
  }

  /** 'adaptive', an event came while it waited for the doorbell: up and about, spinning from the next turn. */
  #spinAgain(): void {
    this.#wake(); // the doorbell rings for nobody meanwhile
    this.#arrived(performance.now());
    setImmediate(this.#pause);
  }

  // --- adaptive ----------------------------------------------------------------------------------

  /**
   * An event came: update the stream's pace and how much it varies, as TCP estimates its round
   * trip (Jacobson: mean += err/8, deviation += (|err| − deviation)/4). A mean alone was pulled
   * late by the odd slow gap (a timer writer here: gaps of 1.1 ms and one in ten of 1.9 ms), so
   * the next event came during the nap and paid a futex wake; waking `2 × deviation` early absorbs it.
   */
  #arrived(now: number): void {
    if (this.#lastArrival > 0) {
      const gap = now - this.#lastArrival;
      if (this.#pace === 0) {
        this.#pace = gap;
        this.#paceDev = gap / 4;
      } else {
        const err = gap - this.#pace;
        this.#pace += err / 8;
        this.#paceDev += (Math.abs(err) - this.#paceDev) / 4;
      }
    }
    this.#lastArrival = now;
  }

  /**
   * 'adaptive', one turn: on a steady stream (a pace under PREDICT_MAX_MS) nap until just before
   * the next event is due (futexNap: counted as a futex waiter, so an early event wakes it; it
   * blocks this thread, as spinning does, but costs no CPU), then spin until it comes or the window
   * passes; else spin `spinMs`. An event: deliver it and go round again. None: wait for the doorbell.
   */
  readonly #pause = (): void => {
    if (!this.#following || this.#options.wake !== 'adaptive') return;
    const c = this.#control;
    if (!c) {
      this.#poll();
      return;
    }
    const { array, index } = c.seqView;
    const last = this.#seq;
    const start = performance.now();
    let deadline = start + this.#options.spinMs;
    const pace = this.#pace;
    if (pace > 0 && pace <= PREDICT_MAX_MS) {
      const due = this.#lastArrival + pace;
      // The margin for a stream's jitter is capped at a quarter of its pace: a noisy fast stream
      // would otherwise never nap, and spin all the time.
      const nap = due - Math.min(2 * this.#paceDev, pace / 4) - this.#oversleep - WAKE_EARLY_MS - start;
      if (nap > MIN_NAP_MS && (Atomics.load(array, index) >>> 0) === last) {
        const woken = native.futexNap(c.bytes, ControlBlock.SEQ_OFFSET, ControlBlock.WAITERS_OFFSET, last,
          Math.round(nap * 1e6));
        // Only a nap that ran its course says how late a timed sleep ends on this machine.
        if (!woken) this.#oversleep = Math.max(0, this.#oversleep * 0.8 + (performance.now() - start - nap) * 0.2);
      }
      deadline = Math.max(deadline, due + Math.max(this.#options.spinMs, pace / 2));
    }
    let moved = (Atomics.load(array, index) >>> 0) !== last;
    for (let n = 1; !moved; n++) {
      if ((n & 255) === 0 && performance.now() >= deadline) break;
      moved = (Atomics.load(array, index) >>> 0) !== last;
    }
    if (moved) {
      this.#arrived(performance.now());
      this.#poll();
      if (this.#following) setImmediate(this.#pause);
      return;
    }
    // Nothing came: wait for the doorbell (unless something came just now).
    if (this.#sleep()) this.#spinAgain();
  };

  #onFutex(changed: boolean): void {
    if (!this.#following) return;
    // Before reading the block: a publish from now on gets a callback of its own.
    this.#waiter?.ack();
    this.#signal();
    if (!changed) this.#maintain();
  }

  #poll(): void {
    this.#signal();
    if (performance.now() - this.#lastMaintain >= MAINTAIN_MS) this.#maintain();
  }

  readonly #spin = (): void => {
    if (!this.#following || this.#options.wake !== 'spin') return;
    const c = this.#control;
    if (c) {
      const { array, index } = c.seqView;
      const last = this.#seq;
      const deadline = performance.now() + this.#options.spinMs;
      for (let n = 1; (Atomics.load(array, index) >>> 0) === last; n++) {
        if ((n & 1023) === 0 && performance.now() >= deadline) break;
      }
    }
    this.#poll();
    if (this.#following) setImmediate(this.#spin);
  };

  // --- TailSource ------------------------------------------------------------------------------

  /** @internal */
  tailView(begin: number, end: number): Buffer {
    return this.#buf.subarray(begin, end);
  }

  /** @internal */
  attach(tailer: Tailer): void {
    this.#checkOpen();
    this.#tailers.add(tailer);
    if (this.#ctx.stats) this.#ctx.stats.counts.tailers++;
    if (this.#tailers.size === 1) this.#startFollowing();
  }

  /** @internal */
  detach(tailer: Tailer): void {
    if (!this.#tailers.delete(tailer)) return;
    if (this.#ctx.stats) this.#ctx.stats.counts.tailers--;
    if (this.#tailers.size === 0) this.#stopFollowing();
  }

  /** @internal */
  get tailerStats(): StatsRecorder | undefined {
    return this.#ctx.stats;
  }

  // --- lifecycle -------------------------------------------------------------------------------

  #checkOpen(): void {
    if (this.#state >= FileState.Closing) throw closed(this.#name);
  }

  /**
   * Ends the tailers (reason 'file-closed'), waits for them to detach, stops waiting for the
   * writer and unmaps (stale views read zeros). Idempotent: every call returns the same promise.
   * The writer is not affected.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = FileState.Closing;
    const attached = [...this.#tailers];
    for (const t of attached) t.fileClosing();
    await Promise.all(attached.map((t) => t.closed));
    this.#stopFollowing();
    this.#release();
    this.#state = FileState.Closed;
    this.#ctx.released?.(this);
  }

  #release(): void {
    try {
      this.#waiter?.close();
      this.#waiter = undefined;
      this.#control?.close();
      this.#region.release();
    } finally {
      fs.closeSync(this.#fd);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
