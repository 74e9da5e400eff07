import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileState, Geometry, MAGIC_CHECKPOINT_BYTES, Manager, RecoveryKind } from '../src/index.js';
import { pseudoRandomBytes, tmpDir } from './helpers.js';

const TAIL = Buffer.from([0xaa, 0x24, 0x75, 0x54, 0x63, 0x9c, 0x9b, 0x41]);
const CHECKPOINT = Buffer.from([0x2c, 0xdb, 0x1f, 0xf2, 0xa5, 0xac, 0x78, 0xf8]);
const PAGE = 4096;

function small(): Geometry {
  // Small steps so that ordinary tests cross page and growth boundaries.
  return Geometry.create().with(PAGE, 64 * PAGE, 4 * PAGE);
}

describe('AOF write and reopen', () => {
  it.each([1, 7, 8, 100, PAGE - 8, PAGE - 9, PAGE, PAGE + 1, 4 * PAGE - 8, 4 * PAGE, 5 * PAGE + 3, 40 * PAGE + 17])(
    'reads back exactly the bytes written after reopen (%i bytes in random pieces)',
    async (total) => {
      const dir = tmpDir();
      const data = pseudoRandomBytes(total, total);
      const m = new Manager(dir);
      const aof = m.open('f.aof', small());
      let at = 0;
      let piece = 1;
      while (at < total) {
        const n = Math.min(piece, total - at);
        expect(aof.write(data.subarray(at, at + n))).toBe(n);
        at += n;
        piece = (piece * 7 + 3) % 997 || 1;
      }
      expect(aof.size).toBe(total);
      expect(Buffer.compare(aof.view(), data)).toBe(0);
      await m.close();

      const onDisk = fs.readFileSync(path.join(dir, 'f.aof'));
      expect(onDisk.length % PAGE).toBe(0);
      expect(onDisk.subarray(0, total).equals(data)).toBe(true);
      expect(onDisk.subarray(total, total + 8).equals(TAIL)).toBe(true);
      expect(onDisk.subarray(total + 8).every((b) => b === 0)).toBe(true);

      const m2 = new Manager(dir);
      const again = m2.open('f.aof', small());
      expect(again.recovery.kind).toBe(RecoveryKind.Tail);
      expect(again.size).toBe(total);
      expect(again.view().equals(data)).toBe(true);
      await m2.close();
    },
  );

  it('creates a new file at geometry.sizeNow with the tail magic at offset 0', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('new.aof', Geometry.create().with(3 * PAGE, 16 * PAGE, PAGE));
    expect(aof.size).toBe(0);
    expect(aof.fileSize).toBe(3 * PAGE);
    expect(aof.state).toBe(FileState.Opened);
    const onDisk = fs.readFileSync(path.join(dir, 'new.aof'));
    expect(onDisk.length).toBe(3 * PAGE);
    expect(onDisk.subarray(0, 8).equals(TAIL)).toBe(true);
    await m.close();
  });

  it('grows the file to geometry.next() when a write passes the file size', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const g = small();
    const aof = m.open('g.aof', g);
    expect(aof.fileSize).toBe(PAGE);
    aof.write(Buffer.alloc(PAGE, 1));
    expect(aof.fileSize).toBe(g.validate().next(PAGE + 8));
    expect(fs.statSync(path.join(dir, 'g.aof')).size).toBe(aof.fileSize);
    await m.close();
  });

  it('writes strings as UTF-8 and returns the byte count', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('s.aof', small());
    expect(aof.write('héllo')).toBe(6);
    const long = '€'.repeat(3000); // 9000 bytes: the measured path, with growth
    expect(aof.write(long)).toBe(9000);
    expect(aof.view().toString('utf8')).toBe('héllo' + long);
    await m.close();
  });

  it('puts the checkpoint marker in the content and returns its offset', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('c.aof', small());
    aof.write('abc');
    expect(aof.checkpoint()).toBe(3);
    expect(aof.size).toBe(11);
    expect(aof.view(3, 11).equals(CHECKPOINT)).toBe(true);
    aof.write('de');
    await m.close();
    const again = new Manager(dir).open('c.aof', small());
    expect(again.recovery).toMatchObject({ kind: RecoveryKind.Tail, tail: 13, checkpoint: 3 });
    await again.close();
  });

  it('view() is zero-copy: bytes written later show through a view of the mapping', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('v.aof', small());
    aof.write('xy');
    const before = aof.view();
    aof.write('z');
    // The view of 2 bytes sits over the same memory: its buffer holds the new byte at offset 2.
    expect(new Uint8Array(before.buffer, before.byteOffset, 3)[2]).toBe('z'.charCodeAt(0));
    expect(aof.view(1, 3).toString()).toBe('yz');
    await m.close();
  });
});

describe('AOF append', () => {
  it('commits exactly the bytes the callback reports and zeroes the unused reserve', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('a.aof', small());
    aof.write('head');
    const used = aof.append(64, (ev) => {
      expect(ev.begin).toBe(4);
      expect(ev.tail.length).toBe(64);
      expect(ev.tail.every((b) => b === 0)).toBe(true);
      ev.tail.fill(0x55); // scribble over the whole reserve
      return 10;
    });
    expect(used).toBe(10);
    expect(aof.size).toBe(14);
    await m.close();
    const onDisk = fs.readFileSync(path.join(dir, 'a.aof'));
    expect(onDisk.subarray(4, 14).every((b) => b === 0x55)).toBe(true);
    expect(onDisk.subarray(14, 22).equals(TAIL)).toBe(true);
    expect(onDisk.subarray(22).every((b) => b === 0)).toBe(true);
  });

  it.each([
    ['throws', () => { throw new Error('callback failed'); }],
    ['returns too many bytes', () => 65],
    ['returns a negative count', () => -1],
    ['returns a fraction', () => 1.5],
    ['returns a string', () => '3'],
  ])('leaves the file exactly as before when the callback %s', async (_what, cb) => {
    const dir = tmpDir();
    // No growth ahead: a background fallocate would change the file while the test compares it.
    const m = new Manager(dir, { growAhead: false });
    const aof = m.open('a.aof', small());
    aof.write('keep');
    const file = path.join(dir, 'a.aof');
    const before = fs.readFileSync(file);
    const err = (() => {
      try {
        aof.append(64, (ev) => {
          ev.tail.fill(0x77);
          return (cb as () => number)();
        });
      } catch (e) {
        return e as { code: string; cause?: Error };
      }
    })();
    expect(err?.code).toBe('ERR_AOF_APPEND_FUNC');
    expect(aof.size).toBe(4);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    // still usable
    aof.write('!');
    expect(aof.view().toString()).toBe('keep!');
    await m.close();
  });

  it('keeps the callback error as the cause', () => {
    const m = new Manager(tmpDir());
    const aof = m.open('a.aof', small());
    const boom = new Error('boom');
    expect(() => aof.append(8, () => { throw boom; })).toThrow(expect.objectContaining({ code: 'ERR_AOF_APPEND_FUNC', cause: boom }));
    return m.close();
  });

  it('refuses writes from inside the callback and leaves the file as before', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('a.aof', small());
    let inner: unknown;
    expect(() =>
      aof.append(8, () => {
        try {
          aof.write('nested');
        } catch (e) {
          inner = e;
          throw e;
        }
        return 0;
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_AOF_APPEND_FUNC' }));
    expect(inner).toMatchObject({ code: 'ERR_AOF_APPEND_FUNC' });
    expect(aof.size).toBe(0);
    aof.write('ok');
    expect(aof.view().toString()).toBe('ok');
    await m.close();
  });

  it('grows the file for a reserve past the end', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('a.aof', small());
    const n = aof.append(3 * PAGE, (ev) => {
      ev.tail.fill(9);
      return ev.tail.length;
    });
    expect(n).toBe(3 * PAGE);
    expect(aof.fileSize).toBeGreaterThanOrEqual(3 * PAGE + 8);
    expect(aof.view().every((b) => b === 9)).toBe(true);
    await m.close();
  });
});

describe('AOF non-blocking writes', () => {
  it('writeNonBlocking writes while the file has room and throws ERR_AOF_WOULD_BLOCK instead of growing', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('nb.aof', small());
    expect(aof.writeNonBlocking(Buffer.alloc(PAGE - 8, 1))).toBe(PAGE - 8);
    expect(() => aof.writeNonBlocking('x')).toThrow(expect.objectContaining({ code: 'ERR_AOF_WOULD_BLOCK' }));
    expect(() => aof.appendNonBlocking(1, () => 1)).toThrow(expect.objectContaining({ code: 'ERR_AOF_WOULD_BLOCK' }));
    expect(aof.size).toBe(PAGE - 8);
    expect(aof.fileSize).toBe(PAGE);
    aof.write('x'); // the blocking write grows
    expect(aof.fileSize).toBeGreaterThan(PAGE);
    expect(aof.writeNonBlocking('y')).toBe(1);
    await m.close();
  });
});

describe('AOF limits', () => {
  it('throws ERR_AOF_FULL past sizeUpper and writes nothing', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('full.aof', Geometry.create().with(PAGE, 2 * PAGE, PAGE));
    aof.write(Buffer.alloc(2 * PAGE - 8, 1));
    expect(() => aof.write('x')).toThrow(expect.objectContaining({ code: 'ERR_AOF_FULL' }));
    expect(() => aof.append(1, () => 1)).toThrow(expect.objectContaining({ code: 'ERR_AOF_FULL' }));
    expect(aof.size).toBe(2 * PAGE - 8);
    await m.close();
    const again = new Manager(dir).open('full.aof', Geometry.create().with(PAGE, 2 * PAGE, PAGE));
    expect(again.size).toBe(2 * PAGE - 8);
    await again.close();
  });
});

describe('AOF finish', () => {
  it('truncates the file to content + 8 bytes with the checkpoint marker last, in the read mode', async () => {
    const dir = tmpDir();
    const m = new Manager(dir, { readMode: 0o440 });
    const aof = m.open('done.aof', small());
    const data = pseudoRandomBytes(3 * PAGE + 5, 42);
    aof.write(data);
    await aof.finish();
    expect(aof.state).toBe(FileState.EOF);
    expect(aof.size).toBe(data.length);
    expect(aof.fileSize).toBe(data.length + 8);
    const file = path.join(dir, 'done.aof');
    const st = fs.statSync(file);
    expect(st.size).toBe(data.length + 8);
    expect(st.mode & 0o777).toBe(0o440);
    const onDisk = fs.readFileSync(file);
    expect(onDisk.subarray(0, data.length).equals(data)).toBe(true);
    expect(onDisk.subarray(data.length).equals(MAGIC_CHECKPOINT_BYTES)).toBe(true);
    expect(aof.view().equals(data)).toBe(true);
    await m.close();
  });

  it('reopens a finished file read-only in state EOF at the content size', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('done.aof', small());
    aof.write('final words');
    await aof.finish();
    await m.close();
    const m2 = new Manager(dir);
    const again = m2.open('done.aof', small());
    expect(again.state).toBe(FileState.EOF);
    expect(again.readOnly).toBe(true);
    expect(again.size).toBe(11);
    expect(again.view().toString()).toBe('final words');
    expect(again.recovery).toMatchObject({ kind: RecoveryKind.Checkpoint, checkpoint: 11, tail: 19 });
    expect(() => again.write('more')).toThrow(expect.objectContaining({ code: 'ERR_AOF_READ_ONLY' }));
    expect(() => again.finish()).toThrow(expect.objectContaining({ code: 'ERR_AOF_READ_ONLY' }));
    await m2.close();
  });

  it('completes a finish interrupted before its chmod: reopening applies the read mode', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('done.aof', small());
    aof.write('abc');
    await aof.finish();
    await m.close();
    const file = path.join(dir, 'done.aof');
    fs.chmodSync(file, 0o644); // as if killed between ftruncate and fchmod
    const m2 = new Manager(dir, { readMode: 0o400 });
    const again = m2.open('done.aof', small());
    expect(again.state).toBe(FileState.EOF);
    expect(again.readOnly).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o400);
    expect(fs.readFileSync(file).length).toBe(11);
    await m2.close();
  });

  it('refuses writes once finish() is called and returns the same promise twice', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('done.aof', small());
    aof.write('x');
    const p = aof.finish();
    expect(aof.finish()).toBe(p);
    expect(() => aof.write('y')).toThrow(expect.objectContaining({ code: 'ERR_AOF_READ_ONLY' }));
    await p;
    await m.close();
  });

  it('finishes an empty file as just the marker', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('empty.aof', small());
    await aof.finish();
    await m.close();
    expect(fs.readFileSync(path.join(dir, 'empty.aof')).equals(CHECKPOINT)).toBe(true);
    const again = new Manager(dir).open('empty.aof', small());
    expect(again.state).toBe(FileState.EOF);
    expect(again.size).toBe(0);
    await again.close();
  });
});

describe('AOF flush and sync', () => {
  it('flush, flushSync, sync and syncSync succeed on a written file and leave the content intact', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('s.aof', small());
    aof.write('one');
    await aof.flush();
    aof.write('two');
    aof.flushSync();
    aof.write('three');
    await aof.sync();
    aof.write('four');
    aof.syncSync();
    await aof.flush(); // nothing dirty: resolves
    await m.close();
    expect(fs.readFileSync(path.join(dir, 's.aof')).subarray(0, 15).toString()).toBe('onetwothreefour');
  });
});

describe('AOF close', () => {
  it('is idempotent, returns the same promise and supports await using', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('c.aof', small());
    const p1 = aof.close();
    expect(aof.close()).toBe(p1);
    expect(aof.state).toBe(FileState.Closing);
    await p1;
    expect(aof.state).toBe(FileState.Closed);
    {
      await using other = m.open('d.aof', small());
      other.write('x');
    }
    // disposed: the lock is gone, so another manager can open it for writing
    const m2 = new Manager(dir);
    expect(m2.open('d.aof', small()).size).toBe(1);
    await m2.close();
    await m.close();
  });

  it('waits for an in-flight flush before closing the descriptor', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('c.aof', small());
    aof.write(Buffer.alloc(10 * PAGE, 3));
    const flushed = aof.flush();
    const closed = aof.close();
    await expect(flushed).resolves.toBeUndefined();
    await closed;
    expect(aof.state).toBe(FileState.Closed);
    await m.close();
  });

  it('reads zeros (not a crash) through a view kept after close', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('c.aof', small());
    aof.write('secret');
    const v = aof.view();
    await aof.close();
    expect(v.length).toBe(6);
    expect(v.every((b) => b === 0)).toBe(true);
    await m.close();
  });
});
