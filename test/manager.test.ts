import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileState, Geometry, Manager } from '../src/index.js';
import { tmpDir } from './helpers.js';

describe('Manager', () => {
  it('creates its directory, recursively, when it does not exist', async () => {
    const dir = path.join(tmpDir(), 'a', 'b', 'c');
    const m = new Manager(dir);
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(m.dir).toBe(dir);
    await m.close();
  });

  it('returns the same AOF for a name that is already open, and a new one after it closed', async () => {
    const m = new Manager(tmpDir());
    const a = m.open('x.aof');
    expect(m.open('x.aof')).toBe(a);
    a.write('abc');
    await a.close();
    const b = m.open('x.aof');
    expect(b).not.toBe(a);
    expect(b.size).toBe(3);
    expect(m.files()).toEqual([b]);
    await m.close();
  });

  it('creates files with the write mode exactly (the umask does not apply)', async () => {
    const dir = tmpDir();
    const m = new Manager(dir, { writeMode: 0o666 });
    const old = process.umask(0o077);
    try {
      m.open('w.aof');
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(path.join(dir, 'w.aof')).mode & 0o777).toBe(0o666);
    await m.close();
  });

  it('close() closes every file (finishing none), is idempotent and supports await using', async () => {
    const dir = tmpDir();
    let files;
    {
      await using m = new Manager(dir);
      files = [m.open('1.aof'), m.open('2.aof', Geometry.create().withSizeNow(8192))];
      files[0]!.write('one');
      const p = m.close();
      expect(m.close()).toBe(p);
      await p;
    }
    expect(files.map((f) => f.state)).toEqual([FileState.Closed, FileState.Closed]);
    const m2 = new Manager(dir);
    const again = m2.open('1.aof');
    expect(again.state).toBe(FileState.Opened); // not finished
    expect(again.view().toString()).toBe('one');
    await m2.close();
  });

  it('with populate: true, growth faults the new step in off-thread and close waits for it', async () => {
    const dir = tmpDir();
    const m = new Manager(dir, { populate: true });
    const aof = m.open('p.aof', Geometry.create().with(4096, 64 * 1024 * 1024, 4 * 1024 * 1024));
    const chunk = Buffer.alloc(100_000, 5);
    for (let i = 0; i < 100; i++) aof.write(chunk); // 10 MB: crosses several 4 MiB steps
    await m.close(); // must not unmap under a running populate job
    const again = new Manager(dir);
    const reopened = again.open('p.aof', Geometry.create().with(4096, 64 * 1024 * 1024, 4 * 1024 * 1024));
    expect(reopened.size).toBe(10_000_000);
    expect(reopened.view().every((b) => b === 5)).toBe(true);
    await again.close();
    expect(() => new Manager(dir, { populate: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'ERR_AOF_INVALID_ARG' }),
    );
  });
});
