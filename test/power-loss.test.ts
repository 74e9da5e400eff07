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
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { currentBootId, pretendReboot } from '../src/boot.js';
import { SLOTS_ATTRIBUTE, readSlots } from '../src/durability.js';
import { native } from '../src/native.js';
import { FileState, Geometry, Log, MAGIC_CHECKPOINT_BYTES, Manager, RecoveryKind, type LogOptions } from '../src/index.js';
import { prng } from './fixtures/prng.mjs';
import { pseudoRandomBytes, tmpDir } from './helpers.js';
import { listSegmentIds } from '../src/log/segment-files.js';
import { Recorder, enumerator, interceptFileSteps, randomChooser } from './power-loss-sim.js';

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

// --- the simulator -------------------------------------------------------------------------------

/** Images across all workloads (CI: a few thousand; `npm run test:reliability`: 100,000 or more). */
const IMAGES = Number(process.env.AOF_POWERLOSS_IMAGES ?? 3000);
const SEED = Number(process.env.AOF_POWERLOSS_SEED ?? (Date.now() % 2 ** 31));
/** Where images are written: tmpfs when there is one (fsync is free there), else the temp directory. */
const IMAGE_ROOT = fs.existsSync('/dev/shm') ? '/dev/shm' : undefined;

interface Outcome {
  images: number;
  enumerated: number;
  points: number;
  /** Images of a power cut in the middle of an operation (before one of its file-system steps). */
  inside: number;
}

type Check = (image: string) => Promise<void>;

/** What a workload gets from {@link simulate}. */
interface Crashes {
  /** A crash point after a step of the workload: the images a power cut now can leave, checked with `check`. */
  point(check: Check): Promise<void>;
  /**
   * Runs `op` with crash points before each of its file-system steps (images built then, checked
   * with `check` once it has returned: a check that accepts the state before or after it).
   */
  inside(op: () => Promise<void>, check: Check): Promise<void>;
}

/**
 * Runs a workload one step at a time; after each step (a crash point) builds the images a power
 * cut then can leave and checks each. Every file-system step the library takes is recorded too
 * (test/power-loss-sim.ts, interceptFileSteps). `budget` images in all, about.
 */
async function simulate(name: string, seed: number, budget: number, steps: number,
  workload: (root: string, crashes: Crashes) => Promise<void>): Promise<Outcome> {
  const root = tmpDir('aof-powerloss-');
  const recorder = new Recorder(root);
  const outcome: Outcome = { images: 0, enumerated: 0, points: 0, inside: 0 };
  const perPoint = Math.max(2, Math.ceil(budget / steps));
  const random = randomChooser(seed);
  const newImage = (): string => fs.mkdtempSync(path.join(IMAGE_ROOT ?? os.tmpdir(), 'aof-image-'));
  const checkImage = async (out: string, notes: string, check: Check, where: string): Promise<void> => {
    pretendReboot();
    try {
      await check(out);
    } catch (e) {
      throw new Error(`${name} (AOF_POWERLOSS_SEED=${SEED}): ${where}: ${(e as Error).message}\n  image: ${notes}` +
        `\n  ${(e as Error).stack}`, { cause: e });
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    outcome.images++;
  };
  // Every file-system step of the library is a state the disk may have seen; inside an operation,
  // also a crash point whose images are built at once and checked when the operation returns.
  let armed = true;
  let inside: { check: Check; images: Array<{ out: string; notes: string }> } | undefined;
  const restore = interceptFileSteps(() => {
    if (!armed) return;
    armed = false;
    try {
      recorder.boot = currentBootId();
      recorder.step();
      if (inside) {
        for (let i = 0; i < Math.max(1, Math.floor(perPoint / 4)); i++) {
          const out = newImage();
          inside.images.push({ out, notes: recorder.image({ out, dropControl: random.random() < 0.5 }, random.choose, 0.2, random.random) });
        }
      }
    } finally {
      armed = true;
    }
  });
  try {
    await workload(root, {
      point: async (check) => {
        armed = false;
        try {
          recorder.boot = currentBootId();
          recorder.step();
          outcome.points++;
          for (const dropControl of [false, true]) {
            const count = recorder.count(perPoint / 2, dropControl);
            const n = Number.isFinite(count) ? count : Math.ceil(perPoint / 2);
            for (let i = 0; i < n; i++) {
              const out = newImage();
              const notes = Number.isFinite(count)
                ? recorder.image({ out, dropControl }, enumerator(i))
                : recorder.image({ out, dropControl }, random.choose, 0.2, random.random);
              await checkImage(out, notes, check, `crash point ${outcome.points}, image ${i}${dropControl ? ' without -shm' : ''}`);
              if (Number.isFinite(count)) outcome.enumerated++;
            }
          }
        } finally {
          armed = true;
        }
      },
      inside: async (op, check) => {
        inside = { check, images: [] };
        try {
          await op();
        } finally {
          const { images } = inside;
          inside = undefined;
          armed = false;
          try {
            for (const [i, { out, notes }] of images.entries()) {
              await checkImage(out, notes, check, `inside an operation, image ${i}`);
              outcome.inside++;
            }
          } finally {
            armed = true;
          }
        }
      },
    });
  } finally {
    restore();
    recorder.dispose();
  }
  return outcome;
}

/** Deterministic record bytes: never all zero, so a lost page cannot pass for one. */
function recordBytes(random: () => number, length: number): Buffer {
  return pseudoRandomBytes(length, Math.floor(random() * 2 ** 31) + 1);
}

const RAW_GEOMETRY = Geometry.create().with(16 * 1024, 256 * 1024, 16 * 1024);

/** A raw AOF: writes, checkpoints (or none), sync(), syncSync(), then finish(). */
function rawWorkload(seed: number, steps: number, checkpoints: boolean) {
  return async (root: string, crashes: Crashes): Promise<void> => {
    const crashPoint = crashes.point;
    const random = prng(seed);
    const m = new Manager(root, { flushIntervalMs: 0 });
    const aof = m.open('raw.aof', RAW_GEOMETRY);
    let written = Buffer.alloc(0);
    let durable = 0;
    let finished = false;
    const check: Check = async (image) => {
      const again = new Manager(image, { flushIntervalMs: 0 });
      try {
        const reopened = again.open('raw.aof', RAW_GEOMETRY.withCreate(false));
        const content = Buffer.from(reopened.view());
        if (content.length < durable) throw new Error(`${content.length} bytes, fewer than the ${durable} made durable`);
        if (content.length > written.length) throw new Error(`${content.length} bytes, more than the ${written.length} written`);
        if (!content.equals(written.subarray(0, content.length))) {
          let at = 0;
          while (content[at] === written[at]) at++;
          throw new Error(`not what was written: the first ${content.length} bytes differ at offset ${at}`);
        }
        if (finished && reopened.state !== FileState.EOF) throw new Error('finished, but it opened writable');
      } finally {
        await again.close();
      }
    };
    await crashPoint(check);
    for (let s = 0; s < steps; s++) {
      const r = random();
      if (r < 0.55) {
        const data = recordBytes(random, 1 + Math.floor(random() * 2500));
        aof.write(data);
        written = Buffer.concat([written, data]);
      } else if (r < 0.65 && checkpoints) {
        aof.checkpoint();
        written = Buffer.concat([written, MAGIC_CHECKPOINT_BYTES]);
      } else if (r < 0.85) {
        const size = aof.size;
        await aof.sync();
        durable = size;
      } else {
        aof.syncSync();
        durable = aof.size;
      }
      await crashPoint(check);
    }
    await aof.finish();
    durable = written.length;
    finished = true;
    await crashPoint(check);
    await m.close();
  };
}

interface LogModel {
  firstId: number;
  /** Record id firstId + i. */
  records: Buffer[];
  /** The last id a power cut must keep. */
  guaranteed: number;
}

/** Why the log in `image` is not a state `model` allows, or undefined when it is. */
async function logProblem(image: string, options: LogOptions, model: LogModel): Promise<string | undefined> {
  const reopened = await Log.open(path.join(image, 'log'), options);
  try {
    const lastId = model.firstId + model.records.length - 1;
    if (reopened.firstId !== model.firstId) return `first id ${reopened.firstId}, expected ${model.firstId}`;
    if (reopened.lastId < model.guaranteed) return `last id ${reopened.lastId}, below the ${model.guaranteed} made durable`;
    if (reopened.lastId > lastId) return `last id ${reopened.lastId}, past the ${lastId} written`;
    for (let id = reopened.firstId; id <= reopened.lastId; id++) {
      if (!reopened.get(id).equals(model.records[id - model.firstId]!)) return `record ${id} is not what was written`;
    }
    return undefined;
  } finally {
    await reopened.close();
  }
}

/** A check that the log in an image is a state one of `models` allows. */
function logCheck(options: LogOptions, models: LogModel[]): Check {
  return async (image) => {
    const problems: string[] = [];
    for (const model of models) {
      // Each model on its own copy: opening recovers (and may change) the files.
      const copy = `${image}-${problems.length}`;
      fs.cpSync(image, copy, { recursive: true, preserveTimestamps: true });
      copySlots(image, copy);
      try {
        const problem = await logProblem(copy, options, model);
        if (problem === undefined) return;
        problems.push(problem);
      } finally {
        fs.rmSync(copy, { recursive: true, force: true });
      }
    }
    throw new Error(problems.join('; or '));
  };
}

/** The durable slots attribute of every file under `from`, onto the same file under `to` (fs.cpSync leaves them). */
function copySlots(from: string, to: string): void {
  for (const rel of fs.readdirSync(from, { recursive: true }) as string[]) {
    const src = path.join(from, rel);
    if (!fs.statSync(src).isFile()) continue;
    const fd = fs.openSync(src, 'r');
    const value = native.getxattr(fd, SLOTS_ATTRIBUTE, src);
    fs.closeSync(fd);
    if (!value) continue;
    const dst = path.join(to, rel);
    const out = fs.openSync(dst, 'r');
    native.setxattr(out, SLOTS_ATTRIBUTE, value, dst);
    fs.closeSync(out);
    const { atime, mtime } = fs.statSync(src);
    fs.utimesSync(dst, atime, mtime);
  }
}

/** A record log: single appends and batches across segment rolls, sync(), truncate(), trim(). */
function logWorkload(seed: number, steps: number, options: { sync?: boolean; truncates: boolean }) {
  return async (root: string, crashes: Crashes): Promise<void> => {
    const random = prng(seed);
    const logOptions: LogOptions = { segmentSize: 8192, maxRecordSize: 1500, sync: options.sync ?? false };
    const reopenOptions = { ...logOptions, sync: false };
    const log = await Log.open(path.join(root, 'log'), logOptions);
    let model: LogModel = { firstId: 1, records: [], guaranteed: 0 };
    const lastId = (): number => model.firstId + model.records.length - 1;
    const check = (): Check => logCheck(reopenOptions, [model]);
    await crashes.point(check());
    for (let s = 0; s < steps; s++) {
      const r = random();
      if (r < 0.45) {
        const data = recordBytes(random, 1 + Math.floor(random() * 900));
        log.append(data);
        model.records.push(data);
        if (logOptions.sync) model.guaranteed = lastId();
      } else if (r < 0.7) {
        const batch = Array.from({ length: 2 + Math.floor(random() * 5) }, () => recordBytes(random, 1 + Math.floor(random() * 600)));
        log.append(batch);
        model.records.push(...batch);
        if (logOptions.sync) model.guaranteed = lastId();
      } else if (r < 0.85 || !options.truncates) {
        const at = lastId();
        await log.sync();
        model = { ...model, guaranteed: at };
      } else if (r < 0.93) {
        const keep = model.firstId - 1 + Math.floor(random() * (model.records.length + 1));
        const before = model;
        const after: LogModel = {
          firstId: model.firstId,
          records: model.records.slice(0, Math.max(0, keep - model.firstId + 1)),
          guaranteed: Math.min(model.guaranteed, keep),
        };
        // A power cut inside the truncate leaves the state before it or after it (its intent is redone).
        await crashes.inside(() => log.truncate(keep), logCheck(reopenOptions, [before, after]));
        model = after;
      } else {
        const upTo = model.firstId + Math.floor(random() * (model.records.length + 1));
        const before = model;
        // Inside a trim the first id is that of any segment it may have removed so far.
        const starts = listSegmentIds(path.join(root, 'log')).filter((id) => id >= model.firstId && id <= upTo + 1);
        const states = starts.map((firstId): LogModel => ({
          firstId, records: before.records.slice(firstId - before.firstId), guaranteed: before.guaranteed,
        }));
        await crashes.inside(() => log.trim(upTo), logCheck(reopenOptions, [before, ...states]));
        model = { ...model, firstId: log.firstId, records: model.records.slice(log.firstId - model.firstId) };
      }
      await crashes.point(check());
    }
    await log.close();
  };
}

describe('power-loss simulator', () => {
  const workloads = [
    { name: 'raw AOF with checkpoints', steps: 40, run: (seed: number) => rawWorkload(seed, 40, true) },
    { name: 'raw AOF without checkpoints', steps: 40, run: (seed: number) => rawWorkload(seed, 40, false) },
    { name: 'record log with batches and segment rolls', steps: 60, run: (seed: number) => logWorkload(seed, 60, { truncates: false }) },
    { name: 'record log with truncate and trim', steps: 60, run: (seed: number) => logWorkload(seed, 60, { truncates: true }) },
    { name: 'record log with sync: true', steps: 40, run: (seed: number) => logWorkload(seed, 40, { sync: true, truncates: false }) },
  ];
  for (const [i, w] of workloads.entries()) {
    it(`${w.name}: every image opens, holds what was made durable and nothing that was not written`, async () => {
      // Runs of the workload with seeds derived from the seed, until its share of the images is done.
      const share = Math.ceil(IMAGES / workloads.length);
      const total: Outcome = { images: 0, enumerated: 0, points: 0, inside: 0 };
      let runs = 0;
      while (total.images < share && runs < 100) {
        const seed = SEED + i + 1000 * runs++;
        const o = await simulate(w.name, seed, share - total.images, w.steps, w.run(seed));
        expect(o.images).toBeGreaterThanOrEqual(o.points);
        for (const k of ['images', 'enumerated', 'points', 'inside'] as const) total[k] += o[k];
      }
      console.log(`power-loss ${w.name}: ${runs} run(s), ${total.points} crash points, ${total.images} images ` +
        `(${total.enumerated} enumerated, ${total.images - total.enumerated - total.inside} sampled, ` +
        `${total.inside} inside truncate/trim); reproduce with AOF_POWERLOSS_SEED=${SEED}`);
      expect(total.images).toBeGreaterThanOrEqual(share);
    }, 3_600_000);
  }
});
