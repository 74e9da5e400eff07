/**
 * Tailers: consumers that follow the appends of a file. The file wakes its tailers once per
 * event-loop turn in which it was written (never once per write); each tailer then calls its
 * consumer's `pollRead` with everything new since its position. A consumer that returns less than
 * `end` is called again on the next turn (backpressure); one that throws or returns {@link STOP}
 * is closed. Nothing a consumer does reaches the writer or the other tailers.
 */
import { Readable } from 'node:stream';
import { AofError, ErrorCode, invalidArg } from './errors.js';
import { FileState } from './file-state.js';
import type { StatsRecorder } from './stats.js';
import { validateBoolean, validateInteger, validateObject, validateSignal, validateTimerMs } from './validate.js';

export const TailerState = { Start: 1, Reading: 2, Tail: 3, EOF: 4, Closing: 5, Closed: 6 } as const;
export type TailerState = (typeof TailerState)[keyof typeof TailerState];

/** Return it from `pollRead` to close the tailer. */
export const STOP: unique symbol = Symbol('mmap-aof.STOP');

export interface ReadEvent {
  /** The tailer's position: the first new byte. */
  readonly begin: number;
  /** The committed size when the poll started. */
  readonly end: number;
  /** The new bytes `[begin, end)`, a view of the mapping (no copy; reads zeros after the file is released). */
  readonly tail: Buffer;
  /** True when the file is finished: `end` is its final size. */
  readonly eof: boolean;
  readonly fileState: FileState;
  /** The whole committed content `[0, end)`, no copy. */
  contents(): Buffer;
}

export type CloseReason =
  | { reason: 'eof' }
  | { reason: 'stop' }
  | { reason: 'closed' }
  | { reason: 'file-closed' }
  | { reason: 'error'; error: unknown };

export interface Consumer {
  /** Called with new bytes; returns the new position (begin..end) or STOP. */
  pollRead(event: ReadEvent): number | typeof STOP;
  /**
   * Called exactly once when the tailer ends, with why. If it returns a promise, the tailer (and
   * the file's mapping) stays attached until it settles.
   */
  pollReadClosed?(reason: CloseReason): void | Promise<void>;
}

export interface SubscribeOptions {
  /** Poll at most once per this many milliseconds (0: on every turn with new bytes). */
  interval?: number;
  /** Start position (default 0). */
  from?: number;
}

export interface TailOptions {
  from?: number;
  signal?: AbortSignal;
}

export interface ReadStreamOptions {
  /** First byte (default 0). */
  start?: number;
  /** Keep following new writes until the file is finished (default true); false ends at the current size. */
  follow?: boolean;
  signal?: AbortSignal;
  highWaterMark?: number;
}

/** What a tailer reads from: an AOF, or a Reader of a file written elsewhere. */
export interface TailSource {
  readonly name: string;
  readonly size: number;
  readonly state: FileState;
  /** @internal A view of committed bytes, valid while any tailer is attached. */
  tailView(begin: number, end: number): Buffer;
  /** @internal Registers a new tailer; throws ERR_AOF_CLOSED when the source is closing. */
  attach(tailer: Tailer): void;
  /** @internal */
  detach(tailer: Tailer): void;
  /** @internal */
  readonly tailerStats: StatsRecorder | undefined;
}

/**
 * What every {@link TailSource} offers its readers — an AOF and a Reader alike: tailers, async
 * iteration and a byte stream, all built on the source's TailSource members.
 */
export abstract class Followable implements TailSource {
  abstract readonly name: string;
  abstract readonly size: number;
  abstract readonly state: FileState;
  /** @internal */
  abstract readonly tailerStats: StatsRecorder | undefined;
  /** @internal */
  abstract tailView(begin: number, end: number): Buffer;
  /** @internal */
  abstract attach(tailer: Tailer): void;
  /** @internal */
  abstract detach(tailer: Tailer): void;

  /**
   * Follows the appends: `consumer.pollRead(event)` is called with the new bytes once per turn in
   * which there were writes (or at most once per `interval` ms), starting at `from`.
   */
  subscribe(consumer: Consumer, options: SubscribeOptions = {}): Tailer {
    return new Tailer(this, consumer, options);
  }

  /** Async iteration over read events from `from`; ends at EOF (a finished file). */
  tail(options: TailOptions = {}): TailIterator {
    return new TailIterator(this, options);
  }

  /** A Readable of the content from `start`; `follow` (default true) keeps reading new writes until EOF. */
  createReadStream(options: ReadStreamOptions = {}): Readable {
    return createReadStream(this, options);
  }
}

/** A poll's event: views are made only when the consumer asks (half the cost of a poll that doesn't). */
class ReadEventImpl implements ReadEvent {
  readonly #source: TailSource;
  #tail: Buffer | undefined;

  constructor(source: TailSource, readonly begin: number, readonly end: number, readonly eof: boolean,
    readonly fileState: FileState) {
    this.#source = source;
  }

  get tail(): Buffer {
    this.#tail ??= this.#source.tailView(this.begin, this.end);
    return this.#tail;
  }

  contents(): Buffer {
    return this.#source.tailView(0, this.end);
  }
}

function checkOptions(source: TailSource, options: SubscribeOptions): { interval: number; from: number } {
  validateObject(options, 'options');
  const interval = options.interval ?? 0;
  const from = options.from ?? 0;
  validateTimerMs(interval, 'options.interval');
  validateInteger(from, 'options.from', 0, source.size, `an integer from 0 to size (${source.size})`);
  return { interval, from };
}

export class Tailer implements AsyncDisposable {
  readonly #source: TailSource;
  readonly #consumer: Consumer;
  readonly #interval: number;
  #state: TailerState = TailerState.Start;
  #position: number;
  /** A poll is queued for the next turn (setImmediate). */
  #queued = false;
  #timer: NodeJS.Timeout | undefined;
  #lastPoll = -Infinity;
  #paused = false;
  #ended = false;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;

  /** @internal Use `aof.subscribe()`. */
  constructor(source: TailSource, consumer: Consumer, options: SubscribeOptions = {}) {
    if (consumer === null || typeof consumer !== 'object' || typeof consumer.pollRead !== 'function') {
      throw invalidArg('consumer', 'an object with a pollRead(event) method', consumer);
    }
    if (consumer.pollReadClosed != null && typeof consumer.pollReadClosed !== 'function') {
      throw invalidArg('consumer.pollReadClosed', 'a function (or none)', consumer.pollReadClosed);
    }
    const { interval, from } = checkOptions(source, options);
    this.#source = source;
    this.#consumer = consumer;
    this.#interval = interval;
    this.#position = from;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    source.attach(this);
    this.#queue();
  }

  get state(): TailerState {
    return this.#state;
  }

  /** Offset of the next byte this tailer will deliver. */
  get position(): number {
    return this.#position;
  }

  /** Resolves once the tailer has detached from the file. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** @internal The file has new bytes (or was finished): poll now, or when the interval allows. */
  wake(): void {
    if (this.#ended || this.#paused) return;
    if (this.#interval > 0) {
      const wait = this.#lastPoll + this.#interval - performance.now();
      if (wait > 0) {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.wake();
        }, wait).unref();
        return;
      }
    }
    this.#poll();
  }

  /** @internal The file is closing: end with 'file-closed'. */
  fileClosing(): void {
    this.#end({ reason: 'file-closed' });
  }

  /** @internal No polls until {@link resume} (an async iterator with nobody waiting). */
  pause(): void {
    this.#paused = true;
  }

  /** @internal */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.wake();
  }

  #queue(): void {
    if (this.#queued) return;
    this.#queued = true;
    setImmediate(() => {
      this.#queued = false;
      this.wake();
    });
  }

  #poll(): void {
    if (this.#ended) return;
    this.#lastPoll = performance.now();
    const source = this.#source;
    const begin = this.#position;
    const end = source.size;
    const fileState = source.state;
    const final = fileState === FileState.EOF;
    if (begin < end) {
      this.#state = TailerState.Reading;
      const stats = source.tailerStats;
      if (stats) stats.counts.tailerWakes++;
      let result: number | typeof STOP;
      try {
        result = this.#consumer.pollRead(new ReadEventImpl(source, begin, end, final, fileState));
      } catch (error) {
        this.#end({ reason: 'error', error });
        return;
      }
      if (this.#ended) return; // the consumer closed the tailer from inside pollRead
      if (result === STOP) {
        this.#end({ reason: 'stop' });
        return;
      }
      if (!Number.isSafeInteger(result) || result < begin || result > end) {
        const error = new AofError(ErrorCode.INVALID_ARG,
          `pollRead must return a position from ${begin} to ${end} or STOP, got ${String(result)}`);
        this.#end({ reason: 'error', error });
        return;
      }
      this.#position = result;
      if (stats) stats.counts.tailerBytesRead += result - begin;
      if (result < end) {
        this.#queue();
        return;
      }
    }
    if (final) {
      // A source in another process may finish between reading `end` and the state: the size
      // read now is the final one. Deliver the rest on the next turn, then end.
      if (this.#position >= source.size) this.#end({ reason: 'eof' });
      else this.#queue();
      return;
    }
    this.#state = TailerState.Tail;
  }

  /** Ends the tailer: pollReadClosed once, then detach (after its promise, if it returns one). */
  #end(reason: CloseReason): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#state = reason.reason === 'eof' ? TailerState.EOF : TailerState.Closing;
    let hold: void | Promise<void> = undefined;
    try {
      hold = this.#consumer.pollReadClosed?.(reason);
    } catch {
      // A consumer's error never reaches the writer or other tailers.
    }
    const detach = () => {
      if (this.#state === TailerState.Closing) this.#state = TailerState.Closed;
      this.#source.detach(this);
      this.#resolveClosed();
    };
    if (hold && typeof (hold as Promise<void>).then === 'function') {
      (hold as Promise<void>).then(detach, detach);
    } else {
      detach();
    }
  }

  /** Stops the tailer (pollReadClosed gets 'closed'); resolves once it has detached. Idempotent. */
  close(): Promise<void> {
    this.#end({ reason: 'closed' });
    // #closed never rejects.
    if (this.#state === TailerState.EOF) void this.#closed.then(() => (this.#state = TailerState.Closed));
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Async iteration over read events; ends at EOF (finished file). `break`, `return()` and an
 * aborted signal detach it. Closing the file while it follows throws `ERR_AOF_CLOSED`. While the
 * consumer holds an event (between a value and its next `next()`), closing the file waits, so
 * the event's views never turn to zeros under it; iterate with for-await, or call `return()`.
 */
export class TailIterator implements AsyncIterableIterator<ReadEvent> {
  readonly #tailer: Tailer;
  readonly #signal: AbortSignal | undefined;
  #waiting: { resolve: (r: IteratorResult<ReadEvent>) => void; reject: (e: unknown) => void } | undefined;
  /** Set once the tailer has ended: undefined for a clean end, else the error to throw. */
  #outcome: { error?: unknown } | undefined;
  #release: (() => void) | undefined;
  /** An event was handed out and the consumer has not asked for the next one yet. */
  #inUse = false;
  #returning = false;
  readonly #onAbort = () => {
    this.#outcome ??= { error: this.#signal?.reason };
    void this.#tailer.close();
  };

  constructor(source: TailSource, options: TailOptions = {}) {
    validateObject(options, 'options');
    const { signal } = options;
    validateSignal(signal, 'options.signal');
    signal?.throwIfAborted();
    this.#signal = signal;
    this.#tailer = new Tailer(source, {
      pollRead: (ev) => this.#deliver(ev),
      pollReadClosed: (reason) => this.#ended(reason, source),
    }, { from: options.from ?? 0 });
    this.#tailer.pause();
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** The tailer underneath (state, position). */
  get tailer(): Tailer {
    return this.#tailer;
  }

  #deliver(ev: ReadEvent): number {
    const waiting = this.#waiting;
    if (!waiting) return ev.begin;
    this.#waiting = undefined;
    this.#tailer.pause();
    this.#inUse = true;
    waiting.resolve({ value: ev, done: false });
    return ev.end;
  }

  #ended(reason: CloseReason, source: TailSource): Promise<void> | void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (reason.reason === 'error') this.#outcome ??= { error: reason.error };
    else if (reason.reason === 'file-closed') this.#outcome ??= { error: new AofError(ErrorCode.CLOSED, `${source.name} was closed while being tailed`) };
    else this.#outcome ??= {};
    if (this.#waiting) {
      void this.#settle(); // settles the waiting next(): what it returns resolves
      return;
    }
    // The last event handed out may still be in use: keep the mapping until next() or return().
    if (!this.#inUse || this.#returning) return;
    return new Promise<void>((resolve) => (this.#release = resolve));
  }

  #settle(): Promise<IteratorResult<ReadEvent>> {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    this.#release?.();
    this.#release = undefined;
    const error = this.#outcome?.error;
    this.#outcome = {}; // an error is thrown once; afterwards the iterator is just done
    const result: IteratorResult<ReadEvent> = { value: undefined, done: true };
    if (waiting) {
      if (error !== undefined) waiting.reject(error);
      else waiting.resolve(result);
      return Promise.resolve(result);
    }
    return error !== undefined ? Promise.reject(error) : Promise.resolve(result);
  }

  next(): Promise<IteratorResult<ReadEvent>> {
    this.#inUse = false;
    if (this.#outcome) return this.#settle();
    if (this.#waiting) return Promise.reject(new AofError(ErrorCode.INVALID_ARG, 'next() called before the previous one settled'));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#tailer.resume();
    });
  }

  async return(): Promise<IteratorResult<ReadEvent>> {
    this.#returning = true;
    this.#outcome ??= {};
    this.#release?.();
    this.#release = undefined;
    await this.#tailer.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** A byte stream of the file's content from `start`, built on {@link TailIterator}. Chunks are copies. */
export function createReadStream(source: TailSource, options: ReadStreamOptions = {}): Readable {
  validateObject(options, 'options');
  const follow = options.follow ?? true;
  const start = options.start ?? 0;
  const { highWaterMark } = options;
  validateBoolean(follow, 'options.follow');
  if (highWaterMark != null) validateInteger(highWaterMark, 'options.highWaterMark');
  validateInteger(start, 'options.start', 0, source.size, `an integer from 0 to size (${source.size})`);
  const iterator = new TailIterator(source, { from: start, signal: options.signal });
  let position = iterator.tailer.position;
  const stream = new Readable({
    highWaterMark: options.highWaterMark,
    read() {
      if (!follow && position >= source.size) {
        this.push(null);
        return;
      }
      iterator.next().then(
        (r) => {
          if (r.done) {
            this.push(null);
            return;
          }
          position = r.value.end;
          this.push(Buffer.from(r.value.tail)); // a copy: stream consumers keep chunks
        },
        (e) => this.destroy(e as Error),
      );
    },
    destroy(error, callback) {
      iterator.return().then(() => callback(error), callback);
    },
  });
  return stream;
}
