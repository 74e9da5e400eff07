/**
 * AOFs in anonymous memory (`manager.openAnonymous(name, size)`), against docs/api.md: the same API
 * as a file-backed AOF, nothing on disk, a fixed page-rounded capacity (`ERR_AOF_FULL` past it,
 * nothing written), finish() and tailers as for files, names shared with the file namespace, size
 * validation, and the activeAnonymousMemory counter. A view kept past close() reads zeros.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FileState,
  Geometry,
  MAGIC_CHECKPOINT_BYTES,
  MAX_FILE_SIZE,
  Manager,
  type CloseReason,
} from '../src/index.js';
import { codeOf, nextTurn, pseudoRandomBytes, tmpDir } from './helpers.js';

const PAGE = new Geometry().pageSize;

function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

describe('anonymous AOF', () => {
  it('supports write, append, checkpoint and view, and puts nothing in the directory', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.openAnonymous('mem', 64 * 1024);
    expect(aof.anonymous).toBe(true);
    expect(aof.state).toBe(FileState.Opened);
    expect(aof.size).toBe(0);
    expect(aof.write('hello ')).toBe(6);
    expect(aof.write(Buffer.from('world'))).toBe(5);
    expect(aof.append(16, (ev) => {
      expect(ev.begin).toBe(11);
      return ev.tail.write('!!');
    })).toBe(2);
    expect(aof.checkpoint()).toBe(13);
    expect(aof.size).toBe(21);
    expect(aof.view().subarray(0, 13).toString()).toBe('hello world!!');
    expect(aof.view(13, 21).equals(MAGIC_CHECKPOINT_BYTES)).toBe(true);
    expect(aof.view(6, 11).toString()).toBe('world');
    await aof.flush();
    await aof.sync();
    aof.flushSync();
    aof.syncSync();
    expect(fs.readdirSync(dir)).toEqual([]);
    await aof.finish();
    expect(fs.readdirSync(dir)).toEqual([]);
    await m.close();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it.each([8, 100, PAGE - 1, PAGE, PAGE + 1, 10 * PAGE + 5])('has a page-rounded capacity (size %i)', async (size) => {
    const m = new Manager(tmpDir());
    const aof = m.openAnonymous('cap', size);
    expect(aof.fileSize).toBe(pageUp(size));
    await m.close();
  });

  it('fills up to capacity minus the tail magic, then refuses writes with ERR_AOF_FULL, writing nothing', async () => {
    const m = new Manager(tmpDir());
    const aof = m.openAnonymous('full', 2 * PAGE);
    const capacity = aof.fileSize;
    const data = pseudoRandomBytes(capacity - 8, 9);
    aof.write(data.subarray(0, 100));
    // Too big for what is left: nothing of it is written.
    expect(codeOf(() => aof.write(Buffer.alloc(capacity, 1)))).toBe('ERR_AOF_FULL');
    expect(codeOf(() => aof.writeNonBlocking(Buffer.alloc(capacity, 1)))).toBe('ERR_AOF_FULL');
    expect(codeOf(() => aof.append(capacity, () => 1))).toBe('ERR_AOF_FULL');
    expect(aof.size).toBe(100);
    expect(aof.fileSize).toBe(capacity);
    expect(aof.view().equals(data.subarray(0, 100))).toBe(true);

    aof.write(data.subarray(100));
    expect(aof.size).toBe(capacity - 8);
    expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_FULL');
    expect(codeOf(() => aof.checkpoint())).toBe('ERR_AOF_FULL');
    expect(aof.size).toBe(capacity - 8);
    expect(aof.fileSize).toBe(capacity);
    expect(aof.view().equals(data)).toBe(true);
    expect(aof.write('')).toBe(0); // nothing still fits
    await m.close();
  });

  it('finish() makes it EOF and refuses writes with ERR_AOF_READ_ONLY', async () => {
    const m = new Manager(tmpDir());
    const aof = m.openAnonymous('fin', PAGE);
    aof.write('content');
    await aof.finish();
    expect(aof.state).toBe(FileState.EOF);
    expect(aof.readOnly).toBe(true);
    expect(aof.size).toBe(7);
    expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_READ_ONLY');
    expect(codeOf(() => aof.append(1, () => 1))).toBe('ERR_AOF_READ_ONLY');
    expect(codeOf(() => aof.checkpoint())).toBe('ERR_AOF_READ_ONLY');
    expect(aof.view().toString()).toBe('content');
    await m.close();
  });

  it('tailers see every byte in order, then EOF after finish()', async () => {
    const m = new Manager(tmpDir());
    const aof = m.openAnonymous('tailed', 256 * 1024);
    const data = pseudoRandomBytes(200_000, 10);
    const chunks: Buffer[] = [];
    const closes: CloseReason[] = [];
    const t = aof.subscribe({
      pollRead(ev) {
        chunks.push(Buffer.from(ev.tail));
        return ev.end;
      },
      pollReadClosed(reason) {
        closes.push(reason);
      },
    });
    const fromIterator: Buffer[] = [];
    const iterating = (async () => {
      for await (const ev of aof.tail()) fromIterator.push(Buffer.from(ev.tail));
    })();
    for (let at = 0, i = 0; at < data.length; i++) {
      const n = Math.min(1 + ((i * 7919) % 9000), data.length - at);
      aof.write(data.subarray(at, at + n));
      at += n;
      await nextTurn();
    }
    await aof.finish();
    await t.closed;
    await iterating;
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(Buffer.concat(fromIterator).equals(data)).toBe(true);
    expect(closes).toEqual([{ reason: 'eof' }]);
    expect(m.stats().tailers).toBe(0);
    await m.close();
  });

  it('returns the same AOF for the same name while it is open, and a fresh one after close', async () => {
    const m = new Manager(tmpDir());
    const a = m.openAnonymous('same', PAGE);
    a.write('abc');
    expect(m.openAnonymous('same', PAGE)).toBe(a);
    await a.close();
    const b = m.openAnonymous('same', PAGE);
    expect(b).not.toBe(a);
    expect(b.size).toBe(0);
    await m.close();
  });

  it('refuses a name open as a file, and a file name open as anonymous memory, with ERR_AOF_INVALID_ARG', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const file = m.open('shared.aof');
    expect(codeOf(() => m.openAnonymous('shared.aof', PAGE))).toBe('ERR_AOF_INVALID_ARG');
    expect(file.anonymous).toBe(false);
    m.openAnonymous('mem.aof', PAGE);
    expect(codeOf(() => m.open('mem.aof'))).toBe('ERR_AOF_INVALID_ARG');
    expect(fs.readdirSync(dir).sort()).toEqual(['shared.aof', 'shared.aof-shm']);
    await m.close();
  });

  it.each([
    ['0', 0],
    ['7', 7],
    ['NaN', NaN],
    ['negative', -PAGE],
    ['fractional', PAGE + 0.5],
    ['past MAX_FILE_SIZE', MAX_FILE_SIZE + PAGE],
    ['a string', '4096'],
  ])('rejects size %s with ERR_AOF_INVALID_ARG', async (_what, size) => {
    const m = new Manager(tmpDir());
    const before = m.stats();
    expect(codeOf(() => m.openAnonymous('bad', size as number))).toBe('ERR_AOF_INVALID_ARG');
    const after = m.stats();
    expect(after.activeAnonymousMemory).toBe(before.activeAnonymousMemory);
    expect(after.opens).toBe(before.opens);
    expect(m.files()).toEqual([]);
    await m.close();
  });

  it('raises activeAnonymousMemory by its capacity while open, and returns it on close', async () => {
    const m = new Manager(tmpDir());
    const base = m.stats().activeAnonymousMemory;
    const a = m.openAnonymous('a', 10 * PAGE + 1);
    expect(m.stats().activeAnonymousMemory).toBe(base + 11 * PAGE);
    const b = m.openAnonymous('b', 3 * PAGE);
    expect(m.stats().activeAnonymousMemory).toBe(base + 14 * PAGE);
    a.write(Buffer.alloc(5 * PAGE, 7)); // writing does not change the capacity
    expect(m.stats().activeAnonymousMemory).toBe(base + 14 * PAGE);
    await a.close();
    expect(m.stats().activeAnonymousMemory).toBe(base + 3 * PAGE);
    await b.close();
    expect(m.stats().activeAnonymousMemory).toBe(base);
    expect(m.stats().activeMappedMemory).toBe(0);
    await m.close();
  });

  it('a view kept past close() reads zeros', async () => {
    const m = new Manager(tmpDir());
    const aof = m.openAnonymous('stale', PAGE);
    const data = pseudoRandomBytes(1000, 11);
    aof.write(data);
    const view = aof.view();
    expect(view.equals(data)).toBe(true);
    await aof.close();
    expect(aof.state).toBe(FileState.Closed);
    expect(view.length).toBe(1000);
    expect(view.every((b) => b === 0)).toBe(true);
    expect(codeOf(() => aof.view())).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_CLOSED');
    await m.close();
  });
});
