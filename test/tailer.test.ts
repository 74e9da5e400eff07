/**
 * Tailers (`aof.subscribe(consumer, { interval, from })`) against docs/api.md ("Tailers",
 * "Public API"): the state machine, one wake per event-loop turn however many writes, `from`,
 * backpressure, consumers that throw / STOP / return nonsense, the read event's fields,
 * `interval`, many tailers at once, closing the file under tailers, and the stats counters.
 *
 * Synchronisation is by events only: a consumer callback, a promise, `tailer.closed`, or the next
 * event-loop turn (`setImmediate`), which is the documented wake granularity.
 */
import { describe, expect, it } from 'vitest';
import {
  AofError,
  FileState,
  Manager,
  STOP,
  TailerState,
  type CloseReason,
  type Consumer,
  type ReadEvent,
  type Tailer,
} from '../src/index.js';
import { codeOf, deferred, nextTurn, pseudoRandomBytes, settlesWithin, tmpDir, turns } from './helpers.js';

/** Tracks whether a promise has settled, without awaiting it. */
function track(p: Promise<unknown>): { readonly settled: boolean } {
  const state = { settled: false };
  p.then(() => (state.settled = true), () => (state.settled = true));
  return state;
}

interface Seen {
  begin: number;
  end: number;
  eof: boolean;
  fileState: FileState;
  tail: Buffer;
}

/**
 * A consumer that copies what it reads. `step` bytes at most per poll (backpressure when smaller
 * than what is new); `reached(n)` resolves once it has consumed up to offset n.
 */
class Recorder implements Consumer {
  readonly events: Seen[] = [];
  readonly chunks: Buffer[] = [];
  readonly closes: CloseReason[] = [];
  position = -1;
  readonly #step: (ev: ReadEvent) => number;
  #waiters: { at: number; resolve: () => void }[] = [];
  readonly #closed = deferred<CloseReason>();

  constructor(step: number | ((ev: ReadEvent) => number) = Infinity) {
    this.#step = typeof step === 'function' ? step : () => step;
  }

  pollRead(ev: ReadEvent): number {
    const n = Math.min(ev.end, ev.begin + this.#step(ev));
    const tail = Buffer.from(ev.tail.subarray(0, n - ev.begin));
    this.events.push({ begin: ev.begin, end: ev.end, eof: ev.eof, fileState: ev.fileState, tail: Buffer.from(ev.tail) });
    this.chunks.push(tail);
    this.position = n;
    this.#waiters = this.#waiters.filter((w) => (w.at <= n ? (w.resolve(), false) : true));
    return n;
  }

  pollReadClosed(reason: CloseReason): void {
    this.closes.push(reason);
    this.#closed.resolve(reason);
  }

  /** Resolves once everything up to `at` has been consumed. */
  reached(at: number): Promise<void> {
    if (this.position >= at) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ at, resolve }));
  }

  /** Resolves with the first close reason. */
  get closedWith(): Promise<CloseReason> {
    return this.#closed.promise;
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Writes `data` in pieces of pseudo-random size, one piece per turn. Returns the number of turns. */
async function writeAcrossTurns(aof: { write(b: Uint8Array): number }, data: Buffer, maxPiece = 4096): Promise<number> {
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const n = Math.min(1 + ((i * 7919 + 13) % maxPiece), data.length - at);
    aof.write(data.subarray(at, at + n));
    at += n;
    i++;
    await nextTurn();
  }
  return i;
}

describe('tailer states', () => {
  it('starts in Start, is Reading inside pollRead and Tail once it has caught up', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('s.aof');
    aof.write('hello');
    const inside: TailerState[] = [];
    const polled = deferred();
    const t: Tailer = aof.subscribe({
      pollRead(ev) {
        inside.push(t.state);
        polled.resolve();
        return ev.end;
      },
    });
    expect(t.state).toBe(TailerState.Start);
    expect(t.position).toBe(0);
    await polled.promise;
    expect(inside).toEqual([TailerState.Reading]);
    expect(t.state).toBe(TailerState.Tail);
    expect(t.position).toBe(5);

    // Idle turns change nothing; a new write goes through Reading again and back to Tail.
    await turns(3);
    expect(t.state).toBe(TailerState.Tail);
    aof.write('!');
    await turns(1);
    expect(inside).toEqual([TailerState.Reading, TailerState.Reading]);
    expect(t.state).toBe(TailerState.Tail);
    expect(t.position).toBe(6);
    await t.close();
    await m.close();
  });

  it('reaches Tail on an empty file without calling pollRead', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('empty.aof');
    const r = new Recorder();
    const t = aof.subscribe(r);
    expect(t.state).toBe(TailerState.Start);
    await turns(2);
    expect(t.state).toBe(TailerState.Tail);
    expect(r.events).toEqual([]);
    await t.close();
    await m.close();
  });

  it('reaches EOF after finish() only once everything was read, and calls pollReadClosed({reason: "eof"}) exactly once', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('eof.aof');
    const data = pseudoRandomBytes(1000, 7);
    aof.write(data);
    // 100 bytes per poll: the file is finished long before this consumer has read it.
    const r = new Recorder(100);
    const closesAtPosition: number[] = [];
    const t = aof.subscribe({
      pollRead: (ev) => r.pollRead(ev),
      pollReadClosed: (reason) => {
        closesAtPosition.push(r.position);
        r.pollReadClosed(reason);
      },
    });
    await aof.finish();
    await t.closed;
    expect(r.closes).toEqual([{ reason: 'eof' }]);
    expect(closesAtPosition).toEqual([1000]);
    expect(r.data().equals(data)).toBe(true);
    expect(t.state).toBe(TailerState.EOF);
    expect(m.stats().tailers).toBe(0);

    // Nothing more happens, and close() after EOF does not call pollReadClosed again.
    await turns(3);
    await t.close();
    expect(r.closes).toEqual([{ reason: 'eof' }]);
    expect(t.state).toBe(TailerState.Closed);
    await m.close();
  });

  it('reaches EOF on the turn after finish() when it had already read everything', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('eof2.aof');
    aof.write('abc');
    const r = new Recorder();
    const t = aof.subscribe(r);
    await r.reached(3);
    expect(t.state).toBe(TailerState.Tail);
    const finishing = aof.finish();
    await t.closed;
    expect(r.closes).toEqual([{ reason: 'eof' }]);
    expect(r.events).toHaveLength(1); // no empty poll for the finish
    expect(t.state).toBe(TailerState.EOF);
    await finishing;
    await m.close();
  });

  it('goes Closing then Closed on close(), holding Closing while pollReadClosed\'s promise is pending', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('c.aof');
    aof.write('x');
    const hold = deferred();
    const closes: CloseReason[] = [];
    let polls = 0;
    const polled = deferred();
    const t = aof.subscribe({
      pollRead(ev) {
        polls++;
        polled.resolve();
        return ev.end;
      },
      pollReadClosed(reason) {
        closes.push(reason);
        return hold.promise;
      },
    });
    await polled.promise;
    expect(m.stats().tailers).toBe(1);

    const first = t.close();
    const second = t.close();
    expect(second).toBe(first);
    expect(t.state).toBe(TailerState.Closing);
    expect(closes).toEqual([{ reason: 'closed' }]);
    const closing = track(first);
    aof.write('more'); // a closing tailer is not polled any more
    await turns(3);
    expect(closing.settled).toBe(false);
    expect(t.state).toBe(TailerState.Closing);
    expect(m.stats().tailers).toBe(1);
    expect(polls).toBe(1);

    hold.resolve();
    await first;
    expect(t.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    expect(closes).toHaveLength(1);
    expect(t.close()).toBe(first);
    await m.close();
  });

  it('is Closed right after close() resolves with a plain consumer, and never polled again', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('c2.aof');
    const r = new Recorder();
    const t = aof.subscribe(r);
    aof.write('abc');
    await r.reached(3);
    await t.close();
    expect(t.state).toBe(TailerState.Closed);
    expect(r.closes).toEqual([{ reason: 'closed' }]);
    aof.write('def');
    await turns(3);
    expect(r.events).toHaveLength(1);
    expect(t.position).toBe(3);
    await m.close();
  });

  it('closes itself at the end of an `await using` block', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('u.aof');
    const r = new Recorder();
    let inner: Tailer | undefined;
    {
      await using t = aof.subscribe(r);
      inner = t;
      aof.write('abc');
      await r.reached(3);
      expect(m.stats().tailers).toBe(1);
    }
    expect(inner.state).toBe(TailerState.Closed);
    expect(r.closes).toEqual([{ reason: 'closed' }]);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });
});

describe('wakes', () => {
  it('polls each tailer once for 10,000 writes made in one synchronous block, covering every byte', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('w.aof');
    const recorders = [new Recorder(), new Recorder(), new Recorder()];
    const tailers = recorders.map((r) => aof.subscribe(r));
    await nextTurn();
    expect(tailers.map((t) => t.state)).toEqual([TailerState.Tail, TailerState.Tail, TailerState.Tail]);
    const wakesBefore = m.stats().tailerWakes;

    const data = pseudoRandomBytes(70_000, 11);
    for (let i = 0; i < 10_000; i++) aof.write(data.subarray(i * 7, i * 7 + 7));
    await Promise.all(recorders.map((r) => r.reached(data.length)));
    await turns(3);
    for (const r of recorders) {
      expect(r.events.map((e) => [e.begin, e.end])).toEqual([[0, data.length]]);
      expect(r.data().equals(data)).toBe(true);
    }
    expect(m.stats().tailerWakes - wakesBefore).toBe(3);
    await m.close();
  });

  it('polls once per turn when the writes are spread over three turns', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('w3.aof');
    const r = new Recorder();
    aof.subscribe(r);
    await nextTurn();
    aof.write('a');
    aof.write('bb');
    await r.reached(3);
    aof.write('ccc');
    await r.reached(6);
    aof.write('dddd');
    aof.write('e');
    await r.reached(11);
    await turns(3);
    expect(r.events.map((e) => [e.begin, e.end, e.tail.toString()])).toEqual([
      [0, 3, 'abb'],
      [3, 6, 'ccc'],
      [6, 11, 'dddde'],
    ]);
    await m.close();
  });

  it('delivers the writes made in the subscribing turn in the first poll', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('w0.aof');
    aof.write('before');
    const r = new Recorder();
    aof.subscribe(r);
    aof.write('+after');
    await r.reached(12);
    await turns(3);
    expect(r.events.map((e) => [e.begin, e.end, e.tail.toString()])).toEqual([[0, 12, 'before+after']]);
    await m.close();
  });
});

describe('from', () => {
  it('starts at the given offset', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('f.aof');
    const data = pseudoRandomBytes(100, 5);
    aof.write(data);
    const r = new Recorder();
    const t = aof.subscribe(r, { from: 40 });
    expect(t.position).toBe(40);
    await r.reached(100);
    expect(r.events.map((e) => [e.begin, e.end])).toEqual([[40, 100]]);
    expect(r.data().equals(data.subarray(40))).toBe(true);
    await m.close();
  });

  it('from = size waits for the next write', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('f2.aof');
    aof.write('0123456789');
    const r = new Recorder();
    aof.subscribe(r, { from: 10 });
    await turns(2);
    expect(r.events).toEqual([]);
    aof.write('abc');
    await r.reached(13);
    expect(r.events.map((e) => [e.begin, e.end, e.tail.toString()])).toEqual([[10, 13, 'abc']]);
    await m.close();
  });

  it.each([
    ['negative', -1],
    ['past the size', 11],
    ['fractional', 1.5],
    ['NaN', NaN],
    ['a string', '3'],
  ])('rejects a `from` that is %s with ERR_AOF_INVALID_ARG, attaching nothing', async (_what, from) => {
    const m = new Manager(tmpDir());
    const aof = m.open('bad.aof');
    aof.write('0123456789');
    const pollRead = (ev: ReadEvent) => ev.end;
    expect(codeOf(() => aof.subscribe({ pollRead }, { from: from as number }))).toBe('ERR_AOF_INVALID_ARG');
    expect(m.stats().tailers).toBe(0);
    expect(aof.tailerCount).toBe(0);
    await m.close();
  });

  it.each([
    ['negative', -1],
    ['NaN', NaN],
    ['infinite', Infinity],
    ['a string', '10'],
  ])('rejects an `interval` that is %s with ERR_AOF_INVALID_ARG', async (_what, interval) => {
    const m = new Manager(tmpDir());
    const aof = m.open('badi.aof');
    const pollRead = (ev: ReadEvent) => ev.end;
    expect(codeOf(() => aof.subscribe({ pollRead }, { interval: interval as number }))).toBe('ERR_AOF_INVALID_ARG');
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it.each([
    ['an object without pollRead', {}],
    ['pollRead that is not a function', { pollRead: 5 }],
    ['null', null],
    ['a function', (ev: ReadEvent) => ev.end],
  ])('rejects a consumer that is %s with ERR_AOF_INVALID_ARG', async (_what, consumer) => {
    const m = new Manager(tmpDir());
    const aof = m.open('badc.aof');
    expect(codeOf(() => aof.subscribe(consumer as unknown as Consumer))).toBe('ERR_AOF_INVALID_ARG');
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });
});

describe('backpressure', () => {
  it('calls a consumer that took less than everything again on the following turns, without new writes', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('bp.aof');
    const data = pseudoRandomBytes(1000, 21);
    aof.write(data);
    const r = new Recorder(100);
    aof.subscribe(r);
    await r.reached(1000);
    await turns(3);
    expect(r.events.map((e) => [e.begin, e.end])).toEqual(
      Array.from({ length: 10 }, (_, i) => [i * 100, 1000]),
    );
    expect(r.data().equals(data)).toBe(true);
    await m.close();
  });

  it('a slow consumer still sees every byte in order exactly once while writes keep coming', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('bp2.aof');
    const data = pseudoRandomBytes(60_000, 22);
    const r = new Recorder(777);
    aof.subscribe(r);
    await writeAcrossTurns(aof, data, 3000);
    await r.reached(data.length);
    expect(r.data().equals(data)).toBe(true);
    for (let i = 1; i < r.events.length; i++) expect(r.events[i]!.begin).toBe(r.events[i - 1]!.begin + r.chunks[i - 1]!.length);
    await m.close();
  });
});

describe('consumers that fail or stop', () => {
  it('closes a consumer that throws with {reason: "error", error}, once; the writer and other tailers carry on', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('err.aof');
    const boom = new Error('consumer failed');
    const badCloses: CloseReason[] = [];
    let badPolls = 0;
    const bad = aof.subscribe({
      pollRead(ev) {
        badPolls++;
        if (badPolls === 2) throw boom;
        return ev.end;
      },
      pollReadClosed(reason) {
        badCloses.push(reason);
      },
    });
    const good = [new Recorder(), new Recorder(333)];
    for (const r of good) aof.subscribe(r);

    const data = pseudoRandomBytes(40_000, 31);
    let at = 0;
    for (let i = 0; at < data.length; i++) {
      const n = Math.min(1000 + i, data.length - at);
      expect(() => aof.write(data.subarray(at, at + n))).not.toThrow();
      at += n;
      await nextTurn();
    }
    await bad.closed;
    await Promise.all(good.map((r) => r.reached(data.length)));
    expect(badPolls).toBe(2);
    expect(badCloses).toEqual([{ reason: 'error', error: boom }]);
    expect(badCloses[0]).toMatchObject({ error: boom });
    expect((badCloses[0] as { error: unknown }).error).toBe(boom);
    expect(bad.state).toBe(TailerState.Closed);
    for (const r of good) {
      expect(r.data().equals(data)).toBe(true);
      expect(r.closes).toEqual([]);
    }
    expect(m.stats().tailers).toBe(2);
    await m.close();
  });

  it('a pollReadClosed that throws reaches neither the writer nor the other tailers', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('err2.aof');
    const bad = aof.subscribe({
      pollRead: () => {
        throw new Error('first');
      },
      pollReadClosed: () => {
        throw new Error('second');
      },
    });
    const r = new Recorder();
    aof.subscribe(r);
    expect(() => aof.write('abc')).not.toThrow();
    await bad.closed;
    expect(() => aof.write('def')).not.toThrow();
    await r.reached(6);
    expect(r.data().toString()).toBe('abcdef');
    expect(bad.state).toBe(TailerState.Closed);
    await m.close();
  });

  it('closes a consumer that returns STOP with {reason: "stop"} and polls it no more', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('stop.aof');
    const closes: CloseReason[] = [];
    let polls = 0;
    const t = aof.subscribe({
      pollRead() {
        polls++;
        return STOP;
      },
      pollReadClosed(reason) {
        closes.push(reason);
      },
    });
    aof.write('abc');
    expect(await settlesWithin(t.closed, 10)).toBe(true);
    expect(closes).toEqual([{ reason: 'stop' }]);
    expect(t.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    aof.write('def');
    await turns(3);
    expect(polls).toBe(1);
    expect(closes).toHaveLength(1);
    await m.close();
  });

  it.each([
    ['less than begin', (ev: ReadEvent) => ev.begin - 1],
    ['past end', (ev: ReadEvent) => ev.end + 1],
    ['NaN', () => NaN],
    ['a fraction', (ev: ReadEvent) => ev.begin + 0.5],
    ['a string', (ev: ReadEvent) => String(ev.end)],
    ['undefined', () => undefined],
  ])('closes a consumer whose pollRead returns a position %s with an ERR_AOF_INVALID_ARG error', async (_what, ret) => {
    const m = new Manager(tmpDir());
    const aof = m.open('range.aof');
    aof.write('0123456789');
    const closes: CloseReason[] = [];
    let polls = 0;
    const t = aof.subscribe(
      {
        pollRead(ev) {
          polls++;
          return ret(ev) as number;
        },
        pollReadClosed(reason) {
          closes.push(reason);
        },
      },
      { from: 5 }, // begin > 0, so "less than begin" is still a valid offset
    );
    expect(await settlesWithin(t.closed, 10)).toBe(true);
    expect(closes).toHaveLength(1);
    expect(closes[0]!.reason).toBe('error');
    const error = (closes[0] as { error: unknown }).error;
    expect(error).toBeInstanceOf(AofError);
    expect(error).toMatchObject({ code: 'ERR_AOF_INVALID_ARG' });
    expect(t.state).toBe(TailerState.Closed);
    aof.write('more');
    await turns(2);
    expect(polls).toBe(1);
    await m.close();
  });
});

describe('the read event', () => {
  it('carries begin, end, the new bytes, eof, fileState and contents() of everything so far', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('ev.aof');
    aof.write('abc');
    const seen: { begin: number; end: number; tail: string; eof: boolean; fileState: FileState; contents: string }[] = [];
    let next = deferred();
    const t = aof.subscribe({
      pollRead(ev) {
        seen.push({
          begin: ev.begin,
          end: ev.end,
          tail: ev.tail.toString(),
          eof: ev.eof,
          fileState: ev.fileState,
          contents: ev.contents().toString(),
        });
        next.resolve();
        return ev.end;
      },
    });
    await next.promise;
    next = deferred();
    aof.write('defg');
    await next.promise;
    next = deferred();
    aof.write('hi');
    const finishing = aof.finish();
    await next.promise;
    await t.closed;
    await finishing;
    expect(seen).toEqual([
      { begin: 0, end: 3, tail: 'abc', eof: false, fileState: FileState.Opened, contents: 'abc' },
      { begin: 3, end: 7, tail: 'defg', eof: false, fileState: FileState.Opened, contents: 'abcdefg' },
      { begin: 7, end: 9, tail: 'hi', eof: true, fileState: FileState.EOF, contents: 'abcdefghi' },
    ]);
    await m.close();
  });

  it('tail is exactly the bytes written, also across growth of the file', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('grow.aof');
    const r = new Recorder();
    aof.subscribe(r);
    const data = pseudoRandomBytes(3 * 1024 * 1024 + 123, 41);
    for (let at = 0; at < data.length; at += 256 * 1024) {
      aof.write(data.subarray(at, Math.min(at + 256 * 1024, data.length)));
      await nextTurn();
    }
    await r.reached(data.length);
    expect(r.data().equals(data)).toBe(true);
    await m.close();
  });
});

describe('interval', () => {
  it('polls at most once per interval and still delivers every byte', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('int.aof');
    const interval = 50;
    const r = new Recorder();
    const start = performance.now();
    aof.subscribe(r, { interval });
    const data = pseudoRandomBytes(400_000, 51);
    // Write on every turn for at least 200 ms (and at least 40 turns).
    let at = 0;
    let writeTurns = 0;
    while (performance.now() - start < 200 || writeTurns < 40) {
      const n = Math.min(20, data.length - at);
      if (n === 0) break;
      aof.write(data.subarray(at, at + n));
      at += n;
      writeTurns++;
      await nextTurn();
    }
    await r.reached(at);
    const elapsed = performance.now() - start;
    await turns(2);
    // Polls are at least `interval` apart, all within `elapsed`: a count, not a timing assertion.
    const polls = r.events.length;
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(polls).toBeLessThanOrEqual(Math.floor(elapsed / interval) + 2);
    expect(polls).toBeLessThan(writeTurns);
    expect(r.data().equals(data.subarray(0, at))).toBe(true);
    await m.close();
  });
});

describe('many tailers', () => {
  it('16 tailers each see every byte in order exactly once over 200 turns of random writes', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('many.aof');
    // Half take everything, half take pseudo-random amounts (backpressure).
    const recorders = Array.from({ length: 16 }, (_, k) => {
      if (k % 2 === 0) return new Recorder();
      let x = k * 2654435761;
      return new Recorder(() => {
        x = (x * 1103515245 + 12345) >>> 0;
        return 1 + (x % 20_000);
      });
    });
    recorders.forEach((r) => aof.subscribe(r));
    const data = pseudoRandomBytes(1024 * 1024, 61);
    let at = 0;
    let seed = 99;
    for (let turn = 0; turn < 200; turn++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const writes = 1 + (seed % 4);
      for (let w = 0; w < writes && at < data.length; w++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        const n = Math.min(seed % 2600, data.length - at);
        aof.write(data.subarray(at, at + n));
        at += n;
      }
      await nextTurn();
    }
    aof.write(data.subarray(at));
    await Promise.all(recorders.map((r) => r.reached(data.length)));
    expect(aof.size).toBe(data.length);
    for (const r of recorders) {
      expect(r.data().equals(data)).toBe(true);
      expect(r.closes).toEqual([]);
    }
    expect(m.stats().tailers).toBe(16);
    await m.close();
    expect(m.stats().tailers).toBe(0);
  });
});

describe('closing the file under tailers', () => {
  it('ends every tailer with {reason: "file-closed"} once, resolves, and refuses subscribe afterwards', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('fc.aof');
    aof.write('abc');
    const recorders = [new Recorder(), new Recorder(), new Recorder(1)];
    const tailers = recorders.map((r) => aof.subscribe(r));
    await recorders[0]!.reached(3);
    expect(m.stats().tailers).toBe(3);
    const closing = aof.close();
    expect(codeOf(() => aof.subscribe(new Recorder()))).toBe('ERR_AOF_CLOSED');
    await closing;
    for (const r of recorders) expect(r.closes).toEqual([{ reason: 'file-closed' }]);
    for (const t of tailers) expect(t.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    expect(aof.state).toBe(FileState.Closed);
    expect(codeOf(() => aof.subscribe(new Recorder()))).toBe('ERR_AOF_CLOSED');
    await turns(2);
    for (const r of recorders) expect(r.closes).toHaveLength(1);
    await m.close();
  });

  it('keeps the file mapped until a pollReadClosed promise settles', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('hold.aof');
    const data = pseudoRandomBytes(5000, 71);
    aof.write(data);
    const hold = deferred();
    let kept: Buffer | undefined;
    const reasons: CloseReason[] = [];
    const polled = deferred();
    aof.subscribe({
      pollRead(ev) {
        kept = ev.tail; // a view of the mapping, not a copy
        polled.resolve();
        return ev.end;
      },
      pollReadClosed(reason) {
        reasons.push(reason);
        return hold.promise;
      },
    });
    await polled.promise;
    const closing = aof.close();
    const state = track(closing);
    await turns(5);
    expect(reasons).toEqual([{ reason: 'file-closed' }]);
    expect(state.settled).toBe(false);
    expect(aof.state).toBe(FileState.Closing);
    expect(m.stats().activeMaps).toBe(1);
    expect(kept!.equals(data)).toBe(true); // still mapped
    hold.resolve();
    await closing;
    expect(aof.state).toBe(FileState.Closed);
    expect(m.stats().tailers).toBe(0);
    expect(m.stats().activeMaps).toBe(0);
    expect(kept!.every((b) => b === 0)).toBe(true); // released: stale views read zeros
    await m.close();
  });
});

describe('finished files', () => {
  it('a tailer on a reopened finished file reads everything, then reaches EOF', async () => {
    const dir = tmpDir();
    const data = pseudoRandomBytes(30_000, 81);
    const m1 = new Manager(dir);
    const w = m1.open('done.aof');
    w.write(data);
    await w.finish();
    await m1.close();

    const m2 = new Manager(dir);
    const aof = m2.open('done.aof');
    expect(aof.state).toBe(FileState.EOF);
    const r = new Recorder();
    const t = aof.subscribe(r);
    expect(await r.closedWith).toEqual({ reason: 'eof' });
    await t.closed;
    expect(r.data().equals(data)).toBe(true);
    expect(r.events.at(-1)).toMatchObject({ end: data.length, eof: true, fileState: FileState.EOF });
    expect(r.closes).toHaveLength(1);
    expect(t.state).toBe(TailerState.EOF);
    expect(m2.stats().tailers).toBe(0);
    await m2.close();
  });

  it('a tailer from the middle of a finished file reads the rest, then reaches EOF', async () => {
    const dir = tmpDir();
    const m1 = new Manager(dir);
    const w = m1.open('done2.aof');
    w.write('0123456789');
    await w.finish();
    const r = new Recorder();
    const t = w.subscribe(r, { from: 4 });
    await t.closed;
    expect(r.data().toString()).toBe('456789');
    expect(r.closes).toEqual([{ reason: 'eof' }]);
    await m1.close();
  });
});

describe('stats', () => {
  it('counts attached tailers and one tailerWake per poll', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('st.aof');
    const before = m.stats();
    expect(before.tailers).toBe(0);
    const a = new Recorder();
    const b = new Recorder(2);
    const ta = aof.subscribe(a);
    const tb = aof.subscribe(b);
    expect(m.stats().tailers).toBe(2);
    aof.write('abcd');
    await Promise.all([a.reached(4), b.reached(4)]);
    aof.write('ef');
    await Promise.all([a.reached(6), b.reached(6)]);
    await turns(2);
    const polls = a.events.length + b.events.length;
    expect(polls).toBe(2 + 3);
    expect(m.stats().tailerWakes - before.tailerWakes).toBe(polls);
    await ta.close();
    expect(m.stats().tailers).toBe(1);
    await tb.close();
    expect(m.stats().tailers).toBe(0);
    // Idle turns and closed tailers do not count as wakes.
    aof.write('gh');
    await turns(2);
    expect(m.stats().tailerWakes - before.tailerWakes).toBe(polls);
    await m.close();
  });
});
