import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/index.js';
import { native } from '../src/native.js';
import { ROOT, runNode, tmpDir } from './helpers.js';

const PAGE = native.pageSize;

/** Bit-at-a-time CRC-32C, the definition itself, to check the fast paths against. */
function referenceCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the standard check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
  });

  it('hardware and table paths agree with the bit-at-a-time definition at every length and alignment', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
        const padded = new Uint8Array(bytes.length + shift);
        padded.set(bytes, shift);
        const view = padded.subarray(shift);
        const expected = referenceCrc32c(view);
        expect(crc32c(view)).toBe(expected);
        expect(native.crc32c(view, 0, true)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('continues over data split in pieces', () => {
    const data = Buffer.from('the quick brown fox jumps over the lazy dog');
    for (let cut = 0; cut <= data.length; cut++) {
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(crc32c(data));
    }
  });

  it('rejects anything but bytes with ERR_AOF_INVALID_ARG', () => {
    expect(() => crc32c('text' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }));
  });
});

describe('64-bit atomics', () => {
  it('store with release and load with acquire round-trip values up to 2^53', () => {
    const bytes = new Uint8Array(new ArrayBuffer(32));
    for (const v of [0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      native.atomicStore64(bytes, 8, v);
      expect(native.atomicLoad64(bytes, 8)).toBe(v);
      expect(Buffer.from(bytes.buffer).readBigUInt64LE(8)).toBe(BigInt(v));
    }
  });

  it('refuse unaligned or out-of-range words instead of faulting', () => {
    const bytes = new Uint8Array(new ArrayBuffer(16));
    expect(() => native.atomicLoad64(bytes, 3)).toThrow(RangeError);
    expect(() => native.atomicLoad64(bytes, 16)).toThrow(RangeError);
    expect(() => native.atomicStore64(bytes, 0, -1)).toThrow(RangeError);
  });
});

describe('Region', () => {
  it('maps a file shared: stores through the buffer reach the file, and msync/populate succeed', async () => {
    const file = path.join(tmpDir(), 'r.bin');
    fs.writeFileSync(file, Buffer.alloc(2 * PAGE));
    const fd = fs.openSync(file, 'r+');
    const region = new native.Region(4 * PAGE, file);
    region.mapFile(fd, 0, 2 * PAGE, true);
    const bytes = new Uint8Array(region.buffer(2 * PAGE));
    bytes[PAGE + 1] = 42;
    region.msync(0, 2 * PAGE, true);
    await region.msyncAsync(PAGE + 1, 1);
    expect(['madvise', 'touch']).toContain(region.populate(0, 2 * PAGE, true));
    expect(['madvise', 'touch']).toContain(await region.populateAsync(0, 2 * PAGE, false));
    expect(fs.readFileSync(file)[PAGE + 1]).toBe(42);
    region.release();
    expect(region.released).toBe(true);
    expect(bytes[PAGE + 1]).toBe(0); // zero pages now, not the file
    expect(fs.readFileSync(file)[PAGE + 1]).toBe(42);
    expect(() => region.mapFile(fd, 0, PAGE, true)).toThrow(expect.objectContaining({ code: 'ERR_AOF_CLOSED' }));
    fs.closeSync(fd);
  });

  it('refuses ranges outside the reservation and unaligned mappings', () => {
    const region = new native.Region(2 * PAGE, 'x');
    expect(() => region.mapAnonymous(0, 3 * PAGE)).toThrow(RangeError);
    expect(() => region.mapAnonymous(1, PAGE)).toThrow(RangeError);
    expect(() => region.buffer(3 * PAGE)).toThrow(RangeError);
    expect(() => new native.Region(PAGE + 1, 'x')).toThrow(RangeError);
    region.release();
  });

  it('flock reports a lock held through another open file description as false with LOCK_NB', () => {
    const file = path.join(tmpDir(), 'lock');
    fs.writeFileSync(file, '');
    const a = fs.openSync(file, 'r');
    const b = fs.openSync(file, 'r');
    const { LOCK_EX, LOCK_NB, LOCK_UN } = native.constants;
    expect(native.flock(a, LOCK_EX | LOCK_NB, file)).toBe(true);
    expect(native.flock(b, LOCK_EX | LOCK_NB, file)).toBe(false);
    expect(native.flock(a, LOCK_UN, file)).toBe(true);
    expect(native.flock(b, LOCK_EX | LOCK_NB, file)).toBe(true);
    fs.closeSync(a);
    fs.closeSync(b);
  });
});

describe('FutexWaiter', () => {
  /** A word to wait on (8-byte aligned memory) and a waiter with its callbacks recorded. */
  function setup() {
    const bytes = new Uint8Array(new ArrayBuffer(64));
    const words = new Int32Array(bytes.buffer);
    const calls: boolean[] = [];
    let onCall: (() => void) | undefined;
    const waiter = new native.FutexWaiter(bytes, 0, 4, (changed) => {
      calls.push(changed);
      onCall?.();
    });
    const nextCall = () => new Promise<void>((resolve) => (onCall = resolve));
    const bump = () => {
      Atomics.add(words, 0, 1);
      native.futexWake(bytes, 0);
    };
    return { bytes, words, calls, waiter, nextCall, bump };
  }

  it('calls back once the word moves on, counts itself as a waiter while asleep, and coalesces until ack()', async () => {
    const { words, calls, waiter, nextCall, bump } = setup();
    try {
      let call = nextCall();
      waiter.start(0, 10_000);
      // The thread counts itself in the waiters word before it sleeps.
      for (let i = 0; Atomics.load(words, 1) !== 1; i++) {
        if (i > 1000) throw new Error('the waiter never went to sleep');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      bump();
      await call;
      expect(calls).toEqual([true]);
      // Not acknowledged: more changes send nothing (JS will see them when it handles the first).
      bump();
      bump();
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(calls).toEqual([true]);
      // Acknowledged: the next change is a callback of its own.
      call = nextCall();
      waiter.ack();
      bump();
      await call;
      expect(calls).toEqual([true, true]);
    } finally {
      waiter.close();
    }
  });

  it('calls back with false after the timeout without a change; stop() ends the callbacks; close() is idempotent', async () => {
    const { words, calls, waiter, nextCall, bump } = setup();
    const call = nextCall();
    waiter.start(0, 20);
    await call;
    expect(calls).toEqual([false]);
    waiter.stop();
    waiter.ack();
    await new Promise((resolve) => setTimeout(resolve, 60)); // at most one callback may still come
    const after = calls.length;
    bump();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls.length).toBe(after);
    expect(after).toBeLessThanOrEqual(2);
    waiter.close();
    waiter.close();
    expect(Atomics.load(words, 1), 'no thread counts itself as waiting after close').toBe(0);
    expect(() => waiter.start(0, 10)).toThrow(/closed/);
  });
});

describe('futexNap', () => {
  it('returns false after its timeout and true at once when the word has moved on, counting itself as a waiter only inside the call', () => {
    const bytes = new Uint8Array(new ArrayBuffer(64));
    const words = new Int32Array(bytes.buffer);
    expect(native.futexNap(bytes, 0, 4, 0, 1_000_000)).toBe(false); // 1 ms, nothing came
    expect(Atomics.load(words, 1)).toBe(0);
    Atomics.store(words, 0, 7);
    expect(native.futexNap(bytes, 0, 4, 6, 10e9)).toBe(true); // not the value expected: no sleep
    expect(Atomics.load(words, 1)).toBe(0);
    expect(() => native.futexNap(bytes, 2, 4, 0, 1)).toThrow(/aligned/);
  });

  it('is woken by a futexWake from another thread long before its timeout', async () => {
    const sab = new SharedArrayBuffer(64);
    const bytes = new Uint8Array(sab);
    const words = new Int32Array(sab);
    // The worker waits until the nap has counted itself, then moves the word on and wakes it.
    const worker = new Worker(`
      const { workerData } = require('node:worker_threads');
      const native = require('node-gyp-build')(workerData.root);
      const words = new Int32Array(workerData.sab);
      while (Atomics.load(words, 1) === 0) {}
      Atomics.add(words, 0, 1);
      native.futexWake(new Uint8Array(workerData.sab), 0);
    `, { eval: true, workerData: { sab, root: ROOT } });
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    // A 60 s nap: only the wake (or the word already moved on) ends it early.
    expect(native.futexNap(bytes, 0, 4, 0, 60e9)).toBe(true);
    expect(Atomics.load(words, 0)).toBe(1);
    expect(Atomics.load(words, 1)).toBe(0);
    expect(await exited).toBe(0);
  });

  it('setTimerSlack sets this thread\'s timer slack and returns the previous one', () => {
    const before = native.setTimerSlack(1000);
    expect(native.setTimerSlack(before)).toBe(1000);
    expect(() => native.setTimerSlack('x' as unknown as number)).toThrow(TypeError);
  });
});

describe('the SIGBUS guard', () => {
  it('is installed by the first region and counts nothing in a healthy process', () => {
    const region = new native.Region(native.pageSize * 4, 'guard-test');
    expect(region.faults).toBe(0);
    expect(native.guardFaults).toBeInstanceOf(Uint32Array);
    expect(native.guardFaults.length).toBe(1);
    region.release();
  });

  it('leaves a SIGBUS that is not a page past the end of a mapped file to the default action', async () => {
    // A child creates a region (installing the guard), then receives SIGBUS from kill(2): not an
    // access in a guarded range, so it must die of the signal as it would without the guard.
    const script = `
      const native = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(ROOT)});
      const region = new native.Region(native.pageSize, 'x');
      process.kill(process.pid, 'SIGBUS');
      setTimeout(() => process.exit(0), 2000);
    `;
    const r = await runNode('-e', [script]);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: null, signal: 'SIGBUS' });
  });
});
