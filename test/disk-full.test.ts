/**
 * A full disk (reliability suite; docs/design.md, safety rules): on a small tmpfs, a child process
 * (test/fixtures/disk-full.mjs) writes until the disk is full — a raw AOF with background growth
 * and flushing on, and a record log rolling segments. The child must get ERR_AOF_NO_SPACE, never
 * SIGBUS; a failed write changes nothing; what was written before stays readable, after reopening
 * too; and once space is freed, writing goes on where it stopped. Each round frees the space a
 * filler file held and fills the disk again.
 *
 * AOF_DISKFULL_ROUNDS sets the rounds per target (default 3), AOF_DISKFULL_SEED the stream's seed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Geometry, Log, Manager } from '../src/index.js';
import { makeRecord } from './fixtures/log-records.mjs';
import { DIST, fixture, isRoot, mountTmpfs, pseudoRandomBytes, runNode, skipTitle, unmountTmpfs } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ROUNDS = Math.max(1, Number(process.env.AOF_DISKFULL_ROUNDS ?? 3) | 0);
const SEED = Number(process.env.AOF_DISKFULL_SEED ?? 20261121) >>> 0;
const FILLER = 384 * KiB;
const STREAM = 64 * MiB; // as the fixture's

async function child(dir: string, mode: 'aof' | 'log'): Promise<Record<string, any>> {
  const r = await runNode(fixture('disk-full.mjs'), [DIST, dir, mode, String(SEED)]);
  const context = `${mode}: code ${r.code}, signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  expect({ code: r.code, signal: r.signal }, context).toEqual({ code: 0, signal: null });
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** Takes FILLER bytes of the disk per round (written, not sparse): each round frees one. */
function fill(dir: string): void {
  const chunk = Buffer.alloc(FILLER, 0xff);
  for (let round = 0; round < ROUNDS; round++) fs.writeFileSync(path.join(dir, `filler-${round}`), chunk);
}

// NOTE: runs only as root: it mounts a tmpfs to have a disk that fills up (nothing else can make
// ENOSPC happen on demand). CI runs as root, so it runs there.
describe.runIf(isRoot)(skipTitle(isRoot, 'a full disk', 'needs root to mount a tmpfs'), () => {
  let mnt: string;

  // One disk per test: each starts empty; 1 MiB to fill, then a filler's worth per round.
  beforeEach(() => {
    mnt = mountTmpfs(String(1 * MiB + ROUNDS * FILLER), 'aof-full-');
    fill(mnt);
  });

  afterEach(() => {
    unmountTmpfs(mnt);
  });

  it(`a raw AOF writer gets ERR_AOF_NO_SPACE, loses nothing and writes again once space is freed, over ${ROUNDS} rounds`, async () => {
    const dir = mnt;
    const stream = pseudoRandomBytes(STREAM, SEED);
    const sizes: number[] = [];
    let previous = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await child(dir, 'aof');
      expect(r.before, `round ${round}`).toBe(previous);
      expect(r.intact).toBe(true);
      expect(r.error).toEqual({ code: 'ERR_AOF_NO_SPACE', cause: 'ENOSPC', syscall: 'fallocate' });
      expect(r.failedWriteKeptSize).toBe(true);
      expect(r.again).toBe('ERR_AOF_NO_SPACE');
      expect(r.sizeAfterAgain).toBe(r.size);
      expect(r.sync).toBeNull();
      expect(r.stillIntact).toBe(true);
      // A new file needs room as well, and is not left behind half made.
      expect(r.newFile).toBe('ERR_AOF_NO_SPACE');
      expect(r.leftover).toBe(false);
      // Freed space was used: each round writes about what the filler gave back.
      if (round > 0) expect(r.size - previous).toBeGreaterThan(FILLER / 2);
      // Reopened on the still full disk: everything acknowledged is there.
      const m = new Manager(dir);
      const aof = m.open('a.aof', Geometry.create().with(64 * KiB, STREAM, 64 * KiB));
      expect(aof.size).toBe(r.size);
      expect(aof.view().equals(stream.subarray(0, r.size))).toBe(true);
      await m.close();
      sizes.push(r.size);
      previous = r.size;
      fs.rmSync(path.join(mnt, `filler-${round}`));
    }
    console.log(`disk-full aof: seed ${SEED}, ${ROUNDS} rounds on a ${(1 + ROUNDS * FILLER / MiB).toFixed(1)} MiB tmpfs, sizes when full ${sizes[0]} … ${sizes.at(-1)} bytes; ` +
      `every round ERR_AOF_NO_SPACE, 0 bytes lost`);
  }, 30_000 + ROUNDS * 2_000);

  it(`a record log gets ERR_AOF_NO_SPACE, keeps every acknowledged record and appends again once space is freed, over ${ROUNDS} rounds`, async () => {
    const dir = mnt; // the fixture writes <dir>/log
    const lasts: number[] = [];
    let previous = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const r = await child(dir, 'log');
      expect(r.last, `round ${round}`).toBe(previous);
      expect(r.intact).toBe(previous);
      expect(r.error).toEqual({ code: 'ERR_AOF_NO_SPACE', cause: 'ENOSPC' });
      expect(r.failedAppendKeptLast).toBe(true);
      // Appends after the error fail alike (some may fit first, in the reserve a seal gave back).
      expect(r.again).toBe('ERR_AOF_NO_SPACE');
      expect(r.lastAfterAgain).toBeGreaterThanOrEqual(r.lastId);
      expect(r.sync).toBeNull();
      expect(r.readable).toBe(r.lastAfterAgain);
      expect(r.lastId).toBeGreaterThan(previous);
      // Reopened on the still full disk: every acknowledged record, byte for byte, no gap.
      const log = await Log.open(path.join(dir, 'log'), { segmentSize: 256 * KiB }); // as the child's
      expect(log.firstId).toBe(1);
      expect(log.lastId).toBe(r.lastAfterAgain);
      let id = 1;
      for (const record of log.iterator()) {
        expect(record.id).toBe(id);
        expect(record.data.equals(makeRecord(id, 0, SEED)), `record ${id}`).toBe(true);
        id++;
      }
      expect(id - 1).toBe(r.lastAfterAgain);
      await log.close();
      lasts.push(r.lastAfterAgain);
      previous = r.lastAfterAgain;
      fs.rmSync(path.join(mnt, `filler-${round}`));
    }
    console.log(`disk-full log: seed ${SEED}, ${ROUNDS} rounds, last ids when full ${lasts[0]} … ${lasts.at(-1)}; ` +
      `every round ERR_AOF_NO_SPACE, 0 records lost`);
  }, 30_000 + ROUNDS * 2_000);
});
