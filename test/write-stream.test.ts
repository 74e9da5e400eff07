/**
 * `aof.createWriteStream()`: a Writable that appends each chunk with `aof.write`. Pipelines land
 * byte for byte; strings are encoded as the stream says; a failing write (FULL, CLOSED) reaches the
 * pipeline with its code and leaves exactly the chunks before it; the end of the stream can flush,
 * sync or finish the file; destroying the stream never closes the AOF.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { AofError, FileState, Geometry, Manager, MiB } from '../src/index.js';
import { prng } from './fixtures/prng.mjs';
import { pseudoRandomBytes, quietManager, rejectionOf, sha256, tmpDir } from './helpers.js';

/** Chunks of random sizes (1 byte to `maxChunk`) and random bytes, `total` bytes in all. */
function randomChunks(total: number, seed: number, maxChunk = 256 * 1024): Buffer[] {
  const random = prng(seed);
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    const n = Math.min(total - at, 1 + Math.floor(random() * maxChunk));
    chunks.push(pseudoRandomBytes(n, seed + i));
    at += n;
  }
  return chunks;
}

/** The content of a closed AOF file, read back through a new Manager (recovery decides the size). */
async function contentOf(dir: string, name: string): Promise<Buffer> {
  const m = new Manager(dir, { flushIntervalMs: 0 });
  try {
    return Buffer.from(m.open(name, Geometry.open()).view());
  } finally {
    await m.close();
  }
}

describe('aof.createWriteStream()', () => {
  it('pipeline() of 8 MiB+ of random chunks from a Readable leaves the same bytes in the file (sha256)', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const aof = m.open('piped.aof', Geometry.create().with(MiB, 64 * MiB, 4 * MiB));
    const chunks = randomChunks(8 * MiB + 12345, 7);
    const expected = Buffer.concat(chunks);
    await pipeline(Readable.from(chunks), aof.createWriteStream());
    expect(aof.size).toBe(expected.length);
    expect(sha256(aof.view())).toBe(sha256(expected));
    await m.close();
    const reread = await contentOf(dir, 'piped.aof');
    expect(reread.length).toBe(expected.length);
    expect(sha256(reread)).toBe(sha256(expected));
  });

  it('writes strings as UTF-8 (multi-byte characters and surrogate pairs intact) and decodes other encodings first', async () => {
    const m = quietManager();
    const aof = m.open('strings.aof');
    const ws = aof.createWriteStream();
    const parts = ['plain ascii\n', 'größe ½ € ☃\n', 'emoji 😀👍🏽 𝄞\n', '日本語のログ\n'];
    for (const p of parts) ws.write(p);
    ws.write('68657820f09f9880', 'hex');
    ws.write(Buffer.from(' bytes').toString('base64'), 'base64');
    ws.write(new Uint8Array([0x0a]));
    ws.end();
    await once(ws, 'finish');
    const expected = Buffer.concat([...parts.map((p) => Buffer.from(p, 'utf8')), Buffer.from('hex 😀 bytes\n')]);
    expect(Buffer.from(aof.view()).equals(expected)).toBe(true);
    expect(aof.view().toString('utf8')).toBe(parts.join('') + 'hex 😀 bytes\n');
    await m.close();
  });

  it('a chunk past geometry.sizeUpper fails the pipeline with ERR_AOF_FULL and the file holds exactly the chunks before it', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const sizeUpper = 256 * 1024;
    const aof = m.open('full.aof', Geometry.create().with(4096, sizeUpper, 64 * 1024));
    const chunks = randomChunks(1024 * 1024, 11, 20_000);
    // The first chunk that does not fit (content + the 8-byte tail magic past sizeUpper) and everything before it.
    let fits = 0;
    let total = 0;
    while (total + chunks[fits].length + 8 <= sizeUpper) total += chunks[fits++].length;
    expect(fits).toBeGreaterThan(3);
    expect(fits).toBeLessThan(chunks.length);
    const error = await rejectionOf(pipeline(Readable.from(chunks), aof.createWriteStream()));
    expect(error).toBeInstanceOf(AofError);
    expect((error as AofError).code).toBe('ERR_AOF_FULL');
    const expected = Buffer.concat(chunks.slice(0, fits));
    expect(aof.size).toBe(expected.length);
    expect(Buffer.from(aof.view()).equals(expected)).toBe(true);
    // The AOF itself is fine: a chunk that fits still goes in.
    expect(aof.state).toBe(FileState.Opened);
    await m.close();
    expect((await contentOf(dir, 'full.aof')).equals(expected)).toBe(true);
  });

  it('a batch (writev) that hits ERR_AOF_FULL keeps the chunks of the batch before the failing one', async () => {
    const m = quietManager();
    const aof = m.openAnonymous('batch', 4096);
    const ws = aof.createWriteStream();
    const errored = once(ws, 'error').then(([e]) => e as AofError);
    ws.cork();
    ws.write(Buffer.alloc(1000, 1));
    ws.write(Buffer.alloc(1000, 2));
    ws.write(Buffer.alloc(3000, 3)); // 2000 + 3000 + 8 > 4096
    ws.write(Buffer.alloc(10, 4));
    ws.uncork();
    expect((await errored).code).toBe('ERR_AOF_FULL');
    expect(aof.size).toBe(2000);
    expect(Buffer.from(aof.view()).equals(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)]))).toBe(true);
    await m.close();
  });

  it('respects highWaterMark: a write completes before write() returns, so only corked chunks count against it (one writev batch)', async () => {
    const m = quietManager();
    const aof = m.open('hwm.aof');
    const ws = aof.createWriteStream({ highWaterMark: 1024 });
    expect(ws.writableHighWaterMark).toBe(1024);
    expect(ws.writableObjectMode).toBe(false);
    expect(ws.write(Buffer.alloc(100, 1))).toBe(true);
    expect(aof.size).toBe(100); // written before write() returned: nothing is buffered
    expect(ws.write(Buffer.alloc(2000, 2))).toBe(true); // larger than highWaterMark, yet nothing waits
    expect(aof.size).toBe(2100);
    expect(ws.writableLength).toBe(0);
    ws.cork();
    const accepted = [ws.write('a'.repeat(600)), ws.write('b'.repeat(600)), ws.write('c'.repeat(600))];
    expect(accepted).toEqual([true, false, false]); // buffered while corked: 600, 1200, 1800 bytes against 1024
    expect(ws.writableLength).toBe(1800);
    expect(aof.size).toBe(2100);
    ws.uncork();
    expect(aof.size).toBe(3900);
    expect(ws.writableLength).toBe(0);
    await once(ws, 'drain');
    ws.end();
    await once(ws, 'finish');
    expect(aof.view(2100).toString()).toBe('a'.repeat(600) + 'b'.repeat(600) + 'c'.repeat(600));
    await m.close();
  });

  it('writing after aof.close() fails the stream with ERR_AOF_CLOSED', async () => {
    const m = quietManager();
    const aof = m.open('closed.aof');
    const ws = aof.createWriteStream();
    ws.write('before\n');
    await aof.close();
    const errored = once(ws, 'error');
    ws.write('after\n');
    const [error] = await errored;
    expect(error).toBeInstanceOf(AofError);
    expect((error as AofError).code).toBe('ERR_AOF_CLOSED');
    expect(ws.destroyed).toBe(true);
    // And a pipeline into a stream of a closed file rejects with it.
    const error2 = await rejectionOf(pipeline(Readable.from(['x']), aof.createWriteStream()));
    expect((error2 as AofError).code).toBe('ERR_AOF_CLOSED');
    await m.close();
  });

  it('{ finish: true } finishes the file at the end of the stream: read-only on disk, content exact', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const aof = m.open('finished.aof');
    await pipeline(Readable.from(['one\n', 'two\n']), aof.createWriteStream({ finish: true }));
    expect(aof.state).toBe(FileState.EOF);
    expect(m.stats().finishes.count).toBe(1);
    expect(fs.statSync(path.join(dir, 'finished.aof')).size).toBe(8 + 8); // content + the final marker
    await m.close();
    const m2 = new Manager(dir, { flushIntervalMs: 0 });
    const again = m2.open('finished.aof');
    expect(again.state).toBe(FileState.EOF);
    expect(again.view().toString()).toBe('one\ntwo\n');
    await m2.close();
  });

  it('{ sync: true } syncs and { flush: true } flushes before finish; by default neither, and the AOF stays open', async () => {
    const m = quietManager();
    const synced = m.open('synced.aof');
    await pipeline(Readable.from(['s\n']), synced.createWriteStream({ sync: true }));
    expect(m.stats().syncs.count).toBe(1);
    const flushed = m.open('flushed.aof');
    const flushesBefore = m.stats().flushes.count;
    await pipeline(Readable.from(['f\n']), flushed.createWriteStream({ flush: true }));
    expect(m.stats().flushes.count).toBe(flushesBefore + 1);
    expect(m.stats().syncs.count).toBe(2); // a flush is a durability request too
    const plain = m.open('plain.aof');
    const before = m.stats();
    await pipeline(Readable.from(['p\n']), plain.createWriteStream());
    const after = m.stats();
    expect([after.flushes.count, after.syncs.count, after.finishes.count])
      .toEqual([before.flushes.count, before.syncs.count, before.finishes.count]);
    expect(plain.state).toBe(FileState.Opened);
    plain.write('more\n');
    expect(plain.view().toString()).toBe('p\nmore\n');
    await m.close();
  });

  it('destroying the stream leaves the AOF open and writable', async () => {
    const m = quietManager();
    const aof = m.open('destroyed.aof');
    const ws = aof.createWriteStream();
    ws.write('kept\n');
    ws.destroy();
    await once(ws, 'close');
    expect(aof.state).toBe(FileState.Opened);
    aof.write('still writable\n');
    expect(aof.view().toString()).toBe('kept\nstill writable\n');
    // So does aborting its signal.
    const controller = new AbortController();
    const ws2 = aof.createWriteStream({ signal: controller.signal });
    const aborted = once(ws2, 'error');
    controller.abort();
    const [error] = await aborted;
    expect((error as Error).name).toBe('AbortError');
    expect(ws2.destroyed).toBe(true);
    expect(aof.state).toBe(FileState.Opened);
    await m.close();
  });

  it('rejects bad options with ERR_AOF_INVALID_ARG', async () => {
    const m = quietManager();
    const aof = m.open('opts.aof');
    const bad: unknown[] = [null, 5, { sync: 'yes' }, { finish: 1 }, { flush: null }, { highWaterMark: -1 }, { highWaterMark: 1.5 },
      { signal: {} }];
    for (const options of bad) {
      let code: string | undefined;
      try {
        aof.createWriteStream(options as never);
      } catch (e) {
        code = (e as AofError).code;
      }
      expect(code, JSON.stringify(options)).toBe('ERR_AOF_INVALID_ARG');
    }
    await m.close();
  });
});
