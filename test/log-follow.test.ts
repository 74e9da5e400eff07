/**
 * Following a record log from another process: Log.follow(dir).tail(startId) yields every record,
 * in order and byte for byte, while a child process appends them (single and batch appends,
 * rolling segments), from the start or from the middle; close() ends a waiting tail.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Log } from '../src/index.js';
import { DIST, fixture, tmpDir } from './helpers.js';

/** What log-follow-writer.mjs appends as record `id`. */
const record = (id: number) => Buffer.from(`record ${id} `.padEnd(20 + (id % 300), '.'));

/** Starts the writer child; resolves `done` with the last id it appended. */
function startWriter(dir: string, count: number, segmentSize: number) {
  const child = spawn(process.execPath, [fixture('log-follow-writer.mjs'), DIST, dir, String(count), String(segmentSize)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /done (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`writer exited (${code}) before done: ${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, done, stop: () => child.stdin!.end(), exited };
}

/** The first record log segment exists: the writer has opened the log. */
async function opened(dir: string): Promise<void> {
  const fs = await import('node:fs');
  for (let i = 0; !fs.readdirSync(dir).some((n) => n.endsWith('.seg')); i++) {
    if (i > 2000) throw new Error('the writer never created its first segment');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('Log.follow: a record log written by another process', () => {
  it('lastId() says the last record published, across segment rolls, counting only what is new each time', async () => {
    const dir = tmpDir('aof-log-follow-');
    const log = await Log.open(dir, { segmentSize: 4096 });
    const reader = Log.follow(dir);
    expect(reader.lastId()).toBe(0);
    for (let id = 1; id <= 300; id++) {
      log.append(record(id));
      if (id % 37 === 0) {
        await new Promise((resolve) => setImmediate(resolve)); // the writer publishes once per turn
        expect(reader.lastId(), `after ${id}`).toBe(id);
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(reader.lastId()).toBe(300);
    await reader.close();
    await log.close();
  });

  it('tail(1) yields every record in order, byte for byte, across segment rolls, while the child appends', async () => {
    const dir = tmpDir('aof-log-follow-');
    const writer = startWriter(dir, 3000, 64 * 1024);
    await opened(dir);
    const reader = Log.follow(dir);
    let expected = 1;
    for await (const { id, data } of reader.tail(1)) {
      expect(id).toBe(expected);
      expect(data.equals(record(id)), `record ${id}`).toBe(true);
      expected++;
      if (id === 3000) break;
    }
    expect(await writer.done).toBe(3000);
    writer.stop();
    expect(await writer.exited).toBe(0);
    await reader.close();
  });

  it('tail(startId) from the middle of a sealed segment starts exactly there; close() ends a waiting tail with ERR_AOF_CLOSED', async () => {
    const dir = tmpDir('aof-log-follow-');
    const writer = startWriter(dir, 1500, 64 * 1024);
    const last = await writer.done;
    const reader = Log.follow(dir);
    const seen: number[] = [];
    const tail = reader.tail(777);
    const consumed = (async () => {
      for await (const { id, data } of tail) {
        expect(data.equals(record(id))).toBe(true);
        seen.push(id);
        if (id === last) setImmediate(() => void reader.close());
      }
    })();
    await expect(consumed).rejects.toMatchObject({ code: 'ERR_AOF_CLOSED' });
    expect(() => reader.lastId()).toThrow(expect.objectContaining({ code: 'ERR_AOF_CLOSED' }));
    expect(seen[0]).toBe(777);
    expect(seen.length).toBe(last - 777 + 1);
    writer.stop();
    expect(await writer.exited).toBe(0);
  });
});
