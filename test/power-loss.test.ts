/**
 * Power loss: what a machine that loses power (or its kernel) leaves on disk, opened again.
 *
 * A power loss keeps every byte a durable flush covered; past it, any subset of the pages written
 * since, in any order, some torn into sectors. These tests build such images from files written
 * here (the page cache is what was written; the image replaces pages with older versions or with
 * zeros), carry the data file's durable slots (its extended attribute) along, date the image
 * before a pretended reboot (src/boot.ts), and open it as the next boot would.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pretendReboot } from '../src/boot.js';
import { SLOTS_ATTRIBUTE, readSlots } from '../src/durability.js';
import { native } from '../src/native.js';
import { Geometry, Log, Manager, RecoveryKind } from '../src/index.js';
import { tmpDir } from './helpers.js';

const PAGE = 4096;
/** An hour before now: the image's files were last written before the (pretended) reboot. */
const BEFORE = () => new Date(Date.now() - 3600_000);

/** The bytes and the durable slots attribute of `file`, as the page cache holds them now. */
function snapshot(file: string): { bytes: Buffer; slots: Buffer | null } {
  const fd = fs.openSync(file, 'r');
  try {
    return { bytes: fs.readFileSync(file), slots: native.getxattr(fd, SLOTS_ATTRIBUTE, file) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes an image of a data file: its bytes, its slots attribute, dated before the reboot. */
function writeImage(file: string, bytes: Uint8Array, slots: Buffer | null): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  if (slots) {
    const fd = fs.openSync(file, 'r');
    try {
      native.setxattr(fd, SLOTS_ATTRIBUTE, slots, file);
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.utimesSync(file, BEFORE(), BEFORE());
}

/** `bytes` with page `index` as it was before anything was written to it: zeros. */
function withPageLost(bytes: Buffer, index: number): Buffer {
  const image = Buffer.from(bytes);
  image.fill(0, index * PAGE, Math.min((index + 1) * PAGE, image.length));
  return image;
}

describe('the two images of a power cut past a sync', () => {
  it('a record log: synced after record 100, 100 more appended, a page past the synced point lost, the -shm gone: opens with every synced record and nothing unwritten', async () => {
    const dir = tmpDir();
    const log = await Log.open(path.join(dir, 'log'));
    const records = Array.from({ length: 200 }, (_, i) => Buffer.alloc(200, 33 + (i % 90)));
    for (let i = 0; i < 100; i++) log.append(records[i]!);
    await log.sync();
    for (let i = 100; i < 200; i++) log.append(records[i]!);
    const segment = path.join(dir, 'log', '0000000000000001.seg');
    const { bytes, slots } = snapshot(segment);
    const fd = fs.openSync(segment, 'r');
    const durable = readSlots(fd, segment)[0]!.durable;
    fs.closeSync(fd);
    expect(durable).toBeGreaterThanOrEqual(100 * 216); // 100 frames of 16 + 200 bytes
    const image = path.join(dir, 'image');
    writeImage(path.join(image, '0000000000000001.seg'), withPageLost(bytes, Math.floor(durable / PAGE) + 1), slots);
    await log.close();

    pretendReboot();
    const reopened = await Log.open(image);
    expect(reopened.lastId).toBeGreaterThanOrEqual(100);
    expect(reopened.lastId).toBeLessThan(200);
    for (let id = 1; id <= reopened.lastId; id++) expect(reopened.get(id).equals(records[id - 1]!), `record ${id}`).toBe(true);
    // It goes on from there.
    expect(reopened.append(Buffer.from('next'))).toBe(reopened.lastId);
    await reopened.close();
  });

  it('a raw AOF: 8000 bytes synced, 8000 more written, the page past the synced point lost, the -shm gone: opens at exactly the 8000 synced bytes', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('raw.aof', Geometry.create().with(64 * 1024, 1024 * 1024, 64 * 1024));
    aof.write(Buffer.alloc(8000, 'a'));
    await aof.sync();
    aof.write(Buffer.alloc(8000, 'b'));
    const { bytes, slots } = snapshot(path.join(dir, 'raw.aof'));
    await m.close();
    const image = path.join(dir, 'image');
    writeImage(path.join(image, 'raw.aof'), withPageLost(bytes, 2), slots);

    pretendReboot();
    const again = new Manager(image);
    const reopened = again.open('raw.aof');
    expect(reopened.recovery).toMatchObject({ kind: RecoveryKind.Tail, tail: 8000, fromDurable: true });
    expect(reopened.size).toBe(8000);
    expect(reopened.view().equals(Buffer.alloc(8000, 'a'))).toBe(true);
    await again.close();
  });
});
