/**
 * Async iteration (`aof.tail({ from, signal })`) and Node streams (`aof.createReadStream({ start,
 * follow })`) over an AOF, against docs/api.md ("Tailers"): the loop ends by
 * itself at EOF, `break` / `return()` / destroy / abort detach the tailer, closing the file makes
 * the loop throw ERR_AOF_CLOSED, and stream chunks are copies that outlive the mapping.
 *
 * Operations that settle through promise callbacks alone (leaving a loop, detaching a tailer) are
 * checked with `settlesWithin(p, turns)`: a hang fails the test quickly instead of timing out.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { AofError, FileState, Manager, TailerState, type AOF, type ReadEvent } from '../src/index.js';
import { deferred, nextTurn, pseudoRandomBytes, quietManager, rejectionOf, settlesWithin, tmpDir, turns } from './helpers.js';

/** Writes `data` in pieces of varying size, one piece per turn. */
async function writeAcrossTurns(aof: AOF, data: Buffer, maxPiece = 4096): Promise<void> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = Math.min(1 + ((i * 7919 + 13) % maxPiece), data.length - at);
    aof.write(data.subarray(at, at + n));
    at += n;
    await nextTurn();
  }
}

/** A Writable keeping every chunk it receives (the same Buffer objects). */
function collector(): { sink: Writable; chunks: Buffer[]; data(): Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { sink, chunks, data: () => Buffer.concat(chunks) };
}

describe('aof.tail()', () => {
  it('for await sees every byte in order and ends by itself at EOF after finish()', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('t.aof');
    const data = pseudoRandomBytes(200_000, 1);
    const it = aof.tail();
    expect(m.stats().tailers).toBe(1);
    const reading = (async () => {
      const chunks: Buffer[] = [];
      let expected = 0;
      for await (const ev of it) {
        expect(ev.begin).toBe(expected);
        expect(ev.end).toBeGreaterThan(ev.begin);
        chunks.push(Buffer.from(ev.tail));
        expected = ev.end;
      }
      return Buffer.concat(chunks);
    })();
    await writeAcrossTurns(aof, data);
    await aof.finish();
    expect((await reading).equals(data)).toBe(true);
    expect(it.tailer.state).toBe(TailerState.EOF);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('starts at `from` and ends at EOF on an already finished file', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('from.aof');
    const data = pseudoRandomBytes(10_000, 2);
    aof.write(data);
    await aof.finish();
    const chunks: Buffer[] = [];
    let lastEof: boolean | undefined;
    for await (const ev of aof.tail({ from: 1234 })) {
      chunks.push(Buffer.from(ev.tail));
      lastEof = ev.eof;
    }
    expect(Buffer.concat(chunks).equals(data.subarray(1234))).toBe(true);
    expect(lastEof).toBe(true);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('rejects an invalid `from` with ERR_AOF_INVALID_ARG', async () => {
    const m = quietManager();
    const aof = m.open('badfrom.aof');
    aof.write('abc');
    for (const from of [-1, 4, 0.5]) {
      expect(() => aof.tail({ from })).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
    }
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('detaches its tailer when the loop breaks', async () => {
    const m = quietManager();
    const aof = m.open('break.aof');
    aof.write('hello');
    // Durable now: close() then has nothing to flush; the turns counted below are the tailers' hand-back.
    aof.syncSync();
    const it = aof.tail();
    expect(m.stats().tailers).toBe(1);
    let seen = '';
    const loop = (async () => {
      for await (const ev of it) {
        seen = ev.tail.toString();
        break;
      }
    })();
    expect(await settlesWithin(loop, 20)).toBe(true);
    expect(seen).toBe('hello');
    expect(it.tailer.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    expect(await settlesWithin(aof.close(), 20)).toBe(true);
    await m.close();
  });

  it('detaches its tailer on return() between events, and is done afterwards', async () => {
    const m = quietManager();
    const aof = m.open('ret.aof');
    aof.write('abc');
    const it = aof.tail();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect((first.value as ReadEvent).tail.toString()).toBe('abc');
    const returned = it.return();
    expect(await settlesWithin(returned, 20)).toBe(true);
    expect(await returned).toEqual({ value: undefined, done: true });
    expect(it.tailer.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    aof.write('def');
    expect(await it.next()).toEqual({ value: undefined, done: true });
    await m.close();
  });

  it('detaches its tailer on return() before the first next()', async () => {
    const m = quietManager();
    const aof = m.open('ret0.aof');
    const it = aof.tail();
    expect(m.stats().tailers).toBe(1);
    expect(await settlesWithin(it.return(), 20)).toBe(true);
    expect(it.tailer.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('rejects with an AbortError when its signal aborts while the loop waits, and detaches', async () => {
    const m = quietManager();
    const aof = m.open('abort.aof');
    aof.write('abc');
    const ac = new AbortController();
    const it = aof.tail({ signal: ac.signal });
    const got = deferred();
    const chunks: string[] = [];
    const loop = (async () => {
      for await (const ev of it) {
        chunks.push(ev.tail.toString());
        got.resolve();
      }
    })();
    await got.promise;
    await turns(2); // the loop now waits for more
    ac.abort();
    const error = await rejectionOf(loop);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(error).toBe(ac.signal.reason);
    expect(chunks).toEqual(['abc']);
    expect(it.tailer.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('rejects with the signal\'s own reason when it has one', async () => {
    const m = quietManager();
    const aof = m.open('abort2.aof');
    const ac = new AbortController();
    const it = aof.tail({ signal: ac.signal });
    const loop = (async () => {
      for await (const _ of it) {
        // nothing is written
      }
    })();
    await turns(2);
    const reason = new Error('enough');
    ac.abort(reason);
    expect(await rejectionOf(loop)).toBe(reason);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('throws the abort reason on the next step when the signal aborts during the loop body, and detaches', async () => {
    const m = quietManager();
    const aof = m.open('abort3.aof');
    aof.write('abc');
    const ac = new AbortController();
    const it = aof.tail({ signal: ac.signal });
    let bodies = 0;
    const loop = (async () => {
      for await (const _ of it) {
        bodies++;
        ac.abort();
        aof.write('def'); // new bytes are not delivered after the abort
        await turns(2);
      }
    })();
    const error = await rejectionOf(loop);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(bodies).toBe(1);
    expect(await settlesWithin(it.tailer.closed, 10)).toBe(true);
    expect(it.tailer.state).toBe(TailerState.Closed);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('throws the abort reason at tail() time when the signal is already aborted, attaching nothing', async () => {
    const m = quietManager();
    const aof = m.open('aborted.aof');
    aof.write('abc');
    expect(() => aof.tail({ signal: AbortSignal.abort() })).toThrow(expect.objectContaining({ name: 'AbortError' }));
    const reason = new Error('already');
    expect(() => aof.tail({ signal: AbortSignal.abort(reason) })).toThrow(reason);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('throws ERR_AOF_CLOSED when the file is closed while the loop waits; close() resolves', async () => {
    const m = quietManager();
    const aof = m.open('closed.aof');
    aof.write('abc');
    // Durable now: close() then has nothing to flush; the turns counted below are the tailers' hand-back.
    aof.syncSync();
    const it = aof.tail();
    const got = deferred();
    const loop = (async () => {
      for await (const _ of it) got.resolve();
    })();
    await got.promise;
    await turns(2);
    const closing = aof.close();
    const error = await rejectionOf(loop);
    expect(error).toBeInstanceOf(AofError);
    expect(error).toMatchObject({ code: 'ERR_AOF_CLOSED' });
    expect(await settlesWithin(closing, 20)).toBe(true);
    expect(aof.state).toBe(FileState.Closed);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('keeps the current event readable when the file closes during the loop body, then throws ERR_AOF_CLOSED', async () => {
    const m = quietManager();
    const aof = m.open('closed2.aof');
    const data = pseudoRandomBytes(3000, 3);
    aof.write(data);
    // Durable now: close() then has nothing to flush; the turns counted below are the tailers' hand-back.
    aof.syncSync();
    const it = aof.tail();
    let closing: Promise<void> | undefined;
    let settledDuringBody: boolean | undefined;
    let heldBytes: boolean | undefined;
    const loop = (async () => {
      for await (const ev of it) {
        closing = aof.close();
        settledDuringBody = await settlesWithin(closing, 5);
        heldBytes = ev.tail.equals(data); // the view is still over live memory
      }
    })();
    const error = await rejectionOf(loop);
    expect(error).toMatchObject({ code: 'ERR_AOF_CLOSED' });
    expect(settledDuringBody).toBe(false); // close() waits for the iterator to settle
    expect(heldBytes).toBe(true);
    expect(await settlesWithin(closing!, 20)).toBe(true);
    expect(aof.state).toBe(FileState.Closed);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });
});

describe('aof.createReadStream()', () => {
  it('pipes exactly the content from offset 0, following writes until finish()', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('s.aof');
    const data = pseudoRandomBytes(300_000, 4);
    const { sink, data: received } = collector();
    const piping = pipeline(aof.createReadStream({ start: 0, follow: true }), sink);
    await writeAcrossTurns(aof, data, 8192);
    await aof.finish();
    await piping;
    expect(received().equals(data)).toBe(true);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('honours `start`', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('start.aof');
    const data = pseudoRandomBytes(50_000, 5);
    aof.write(data.subarray(0, 20_000));
    const { sink, data: received } = collector();
    const piping = pipeline(aof.createReadStream({ start: 12_345 }), sink);
    await writeAcrossTurns(aof, data.subarray(20_000));
    await aof.finish();
    await piping;
    expect(received().equals(data.subarray(12_345))).toBe(true);
    await m.close();
  });

  it('rejects an invalid `start` with ERR_AOF_INVALID_ARG', async () => {
    const m = quietManager();
    const aof = m.open('badstart.aof');
    aof.write('abc');
    expect(() => aof.createReadStream({ start: 4 })).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
    expect(() => aof.createReadStream({ start: -1 })).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('with follow: false ends at the current size without finish(), and detaches', async () => {
    const m = quietManager();
    const aof = m.open('nofollow.aof');
    const data = pseudoRandomBytes(40_000, 6);
    aof.write(data);
    // Durable now: close() then has nothing to flush; the turns counted below are the tailers' hand-back.
    aof.syncSync();
    const { sink, data: received } = collector();
    const piping = pipeline(aof.createReadStream({ follow: false }), sink);
    expect(await settlesWithin(piping, 50)).toBe(true);
    await piping;
    expect(received().equals(data)).toBe(true);
    expect(aof.state).toBe(FileState.Opened);
    expect(m.stats().tailers).toBe(0);
    expect(await settlesWithin(aof.close(), 20)).toBe(true);
    await m.close();
  });

  it('with follow: false on an empty file ends at once with no data', async () => {
    const m = quietManager();
    const aof = m.open('nofollow0.aof');
    const { sink, chunks } = collector();
    const piping = pipeline(aof.createReadStream({ follow: false }), sink);
    expect(await settlesWithin(piping, 50)).toBe(true);
    expect(chunks).toEqual([]);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('hands out chunks that are copies: they keep the data after the file is closed', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('copies.aof');
    const data = pseudoRandomBytes(64_000, 7);
    const { sink, chunks } = collector();
    const piping = pipeline(aof.createReadStream(), sink);
    await writeAcrossTurns(aof, data, 16_000);
    await aof.finish();
    await piping;
    const view = aof.view(); // not a copy: reads zeros once the file is released
    await aof.close();
    expect(view.every((b) => b === 0)).toBe(true);
    expect(chunks.length).toBeGreaterThan(0);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await m.close();
  });

  it('detaches its tailer when destroyed early', async () => {
    const m = quietManager();
    const aof = m.open('destroy.aof');
    aof.write('first');
    const stream = aof.createReadStream();
    expect(m.stats().tailers).toBe(1);
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.toString()).toBe('first');
    stream.pause();
    aof.write('second');
    await turns(2);
    // Durable now: close() then has nothing to flush; the turns counted below are the tailers' hand-back.
    aof.syncSync();
    const closed = new Promise<void>((resolve) => stream.once('close', resolve));
    stream.destroy();
    expect(await settlesWithin(closed, 20)).toBe(true);
    expect(m.stats().tailers).toBe(0);
    expect(await settlesWithin(aof.close(), 20)).toBe(true);
    await m.close();
  });

  it('detaches its tailer when destroyed before anything was read', async () => {
    const m = quietManager();
    const aof = m.open('destroy0.aof');
    aof.write('unread');
    // Durable now: close() then has nothing to flush; the turns counted below are the tailers' hand-back.
    aof.syncSync();
    const stream = aof.createReadStream();
    expect(m.stats().tailers).toBe(1);
    const closed = new Promise<void>((resolve) => stream.once('close', resolve));
    stream.destroy();
    expect(await settlesWithin(closed, 20)).toBe(true);
    expect(m.stats().tailers).toBe(0);
    expect(await settlesWithin(aof.close(), 20)).toBe(true);
    await m.close();
  });

  it('detaches its tailer when destroyed while waiting for data', async () => {
    const m = quietManager();
    const aof = m.open('destroy2.aof');
    const stream = aof.createReadStream();
    stream.resume(); // flowing: a read is pending on an empty file
    await turns(2);
    expect(m.stats().tailers).toBe(1);
    const closed = new Promise<void>((resolve) => stream.once('close', resolve));
    stream.destroy();
    expect(await settlesWithin(closed, 20)).toBe(true);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });
});
