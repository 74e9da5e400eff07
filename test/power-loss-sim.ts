/**
 * A power-loss simulator in the spirit of ALICE and CrashMonkey, for the tests of
 * test/power-loss.test.ts.
 *
 * A {@link Recorder} watches a directory while a workload runs: after every step it snapshots
 * every file (its bytes, as the page cache holds them, and its durable slots attribute) and every
 * directory listing (name → inode), and it hears from the library (diagnostics channel
 * `mmap-aof:durable`) each time something became durable: a file's bytes, size and attributes (an
 * fsync), or a directory's entries.
 *
 * From that, {@link Recorder.images} builds the disk images a power cut right now can leave:
 * - a directory holds the entries of its last fsync, or of any later step (metadata is journaled
 *   in order: one consistent listing, never a mix);
 * - a file's size is its durable size or any size it had since;
 * - each page holds its durable content or its content at any later step (pages are written back
 *   in any order, or not at all), and a page may be torn: each 512-byte sector from one of two of
 *   its versions;
 * - the slots attribute holds its durable value, any later one, or the value a flush started at
 *   the cut would have committed (the attribute may reach the disk before the data it vouches for);
 * - `-shm` control blocks are kept as any version, or dropped.
 * Small cases are enumerated (every combination of the dirty pages' versions); large ones sampled.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import * as fs from 'node:fs';
// The module object itself (not a namespace): its functions can be replaced, and
// syncBuiltinESMExports carries that to every `import * as fs` of the library.
import fsModule from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { crc32c } from '../src/checksum.js';
import { SLOTS_ATTRIBUTE, type DurableEvent } from '../src/durability.js';
import { native } from '../src/native.js';
import { RecoveryKind, recoverWithMagic } from '../src/recovery.js';
import { prng } from './fixtures/prng.mjs';

export const PAGE = 4096;
const SECTOR = 512;

/** One state of a file: its bytes (its size is their length) and its slots attribute. */
interface Version {
  bytes: Buffer;
  slots: Buffer | null;
}

interface FileHistory {
  /** As of its last fsync; null when it was never made durable. */
  durable: Version | null;
  /** Every different state since (the last one is the current one). */
  since: Version[];
}

interface DirHistory {
  /** name → inode as of its last fsync; null when it never was. */
  durable: Map<string, bigint> | null;
  since: Array<Map<string, bigint>>;
}

function sameVersion(a: Version, b: Version): boolean {
  return a.bytes.equals(b.bytes) && (a.slots === null ? b.slots === null : b.slots !== null && a.slots.equals(b.slots));
}

function readVersion(file: string): Version {
  const fd = fs.openSync(file, 'r');
  try {
    return { bytes: fs.readFileSync(fd), slots: native.getxattr(fd, SLOTS_ATTRIBUTE, file) };
  } finally {
    fs.closeSync(fd);
  }
}

/** The page `p` of a version (zeros past its end, as an unwritten extent reads). */
function pageOf(v: Version | null, p: number): Buffer {
  const page = Buffer.alloc(PAGE);
  if (v && p * PAGE < v.bytes.length) v.bytes.copy(page, 0, p * PAGE, Math.min(v.bytes.length, (p + 1) * PAGE));
  return page;
}

/**
 * The slots attribute with a slot added as a flush starting now would store it (written here from
 * docs/format.md, "Durable slots", not with the library's code): a 4-byte header, then the newest
 * two slots of 24 bytes.
 */
function withInflightSlot(slots: Buffer | null, bytes: Buffer, boot: Buffer): Buffer | null {
  if (!slots || slots.length < 4 + 24 || slots.readUInt32LE(0) !== 0x32444f41) return null;
  const newest = slots.subarray(4, 4 + 24);
  const previous = newest.readUInt32LE(12);
  const r = recoverWithMagic(bytes.length, bytes);
  if (r.kind !== RecoveryKind.Tail || r.tail <= previous) return null;
  const slot = Buffer.alloc(24);
  slot.writeUInt32LE(crc32c(bytes.subarray(previous, r.tail)), 4);
  slot.writeUInt32LE((newest.readUInt32LE(8) + 1) >>> 0, 8);
  slot.writeUInt32LE(r.tail, 12);
  slot.writeUInt32LE(previous, 16);
  slot.writeUInt32LE(boot.readUInt32LE(0), 20);
  slot.writeUInt32LE(crc32c(slot.subarray(4)), 0);
  return Buffer.concat([slots.subarray(0, 4), slot, newest]);
}

/** The node:fs calls that change a directory or a file's size: each is a step a power cut can fall before. */
const FS_STEPS = ['writeFileSync', 'renameSync', 'rmSync', 'unlinkSync', 'ftruncateSync', 'openSync'] as const;

/**
 * Calls `before()` right before every file-system step the library takes (creating, renaming,
 * removing or truncating a file) until the returned function is called: the states between two
 * durability points that a workload step alone would not show (a truncate removing segments one
 * by one, a roll creating the next one).
 */
export function interceptFileSteps(before: () => void): () => void {
  const originals = new Map<string, unknown>();
  const target = fsModule as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of FS_STEPS) {
    const original = target[name]!;
    originals.set(name, original);
    target[name] = function step(this: unknown, ...args: unknown[]): unknown {
      const flags = args[1];
      const creates = name !== 'openSync' ||
        (typeof flags === 'number' ? (flags & fs.constants.O_CREAT) !== 0 : /[wa]/.test(String(flags ?? '')));
      if (creates) before();
      return original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
  return () => {
    for (const [name, original] of originals) target[name] = original as (...args: unknown[]) => unknown;
    syncBuiltinESMExports();
  };
}

/** A choice among `n` options: from an enumeration counter, or at random. */
type Chooser = (n: number) => number;

export interface ImageOptions {
  /** Drop every `-shm` control block from the image. */
  dropControl: boolean;
  /** Where the image goes (created). */
  out: string;
}

export class Recorder {
  readonly root: string;
  readonly #files = new Map<bigint, FileHistory>();
  readonly #dirs = new Map<string, DirHistory>();
  readonly #onDurable = (message: unknown): void => this.#durable(message as DurableEvent);
  #boot: Buffer = Buffer.alloc(16);

  /** Watches `root` (which exists, and whose entries count as durable now). */
  constructor(root: string) {
    this.root = path.resolve(root);
    this.#dirs.set(this.root, { durable: this.#listing(this.root), since: [] });
    diagnosticsChannel.subscribe('mmap-aof:durable', this.#onDurable);
  }

  dispose(): void {
    diagnosticsChannel.unsubscribe('mmap-aof:durable', this.#onDurable);
  }

  /** The boot id the slots a flush in flight would carry. */
  set boot(id: Buffer) {
    this.#boot = id;
  }

  #listing(dir: string): Map<string, bigint> {
    const names = new Map<string, bigint>();
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isFile()) names.set(e.name, fs.statSync(path.join(dir, e.name), { bigint: true }).ino);
    }
    return names;
  }

  #dirsUnder(dir: string): string[] {
    const out = [dir];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...this.#dirsUnder(path.join(dir, e.name)));
    return out;
  }

  #durable(e: DurableEvent): void {
    const p = path.resolve(e.path);
    if (!p.startsWith(this.root)) return;
    if (e.kind === 'directory') {
      this.#dirs.set(p, { durable: this.#listing(p), since: [] });
    } else if (fs.existsSync(p)) {
      const ino = fs.statSync(p, { bigint: true }).ino;
      this.#files.set(ino, { durable: readVersion(p), since: [] });
    }
  }

  /** Snapshots every file and listing under the root: call after each step of the workload. */
  step(): void {
    for (const dir of this.#dirsUnder(this.root)) {
      const names = this.#listing(dir);
      const h = this.#dirs.get(dir) ?? { durable: null, since: [] };
      this.#dirs.set(dir, h);
      const last = h.since.at(-1) ?? h.durable;
      if (!last || last.size !== names.size || [...names].some(([n, ino]) => last.get(n) !== ino)) h.since.push(names);
      for (const [name, ino] of names) {
        const v = readVersion(path.join(dir, name));
        const f = this.#files.get(ino) ?? { durable: null, since: [] };
        this.#files.set(ino, f);
        const lastV = f.since.at(-1) ?? f.durable;
        if (!lastV || !sameVersion(lastV, v)) f.since.push(v);
      }
    }
  }

  /**
   * How many different images a power cut now can leave (without torn sectors), or Infinity past
   * `limit`: enumerate them when there are few.
   */
  count(limit: number, dropControl: boolean): number {
    let total = 1;
    for (const [, d] of this.#dirs) {
      const states = this.#dirStates(d);
      total *= states.length;
      const inodes = new Set<bigint>();
      for (const s of states) for (const [name, ino] of s) if (!(dropControl && name.endsWith('-shm'))) inodes.add(ino);
      for (const ino of inodes) {
        total *= this.#fileChoices(ino).reduce((a, b) => a * b, 1);
        if (total > limit) return Infinity;
      }
    }
    return total;
  }

  #dirStates(d: DirHistory): Array<Map<string, bigint>> {
    return d.durable ? [d.durable, ...d.since] : d.since.length > 0 ? d.since : [new Map()];
  }

  #versions(ino: bigint): { base: Version | null; later: Version[] } {
    const f = this.#files.get(ino)!;
    return { base: f.durable, later: f.since };
  }

  /** The option counts of a file: size, slots attribute, then each page. */
  #fileChoices(ino: bigint): number[] {
    const { sizes, slots, pages } = this.#fileOptions(ino);
    return [sizes.length, slots.length, ...pages.map((p) => p.length)];
  }

  #fileOptions(ino: bigint): { sizes: number[]; slots: Array<Buffer | null>; pages: Buffer[][] } {
    const { base, later } = this.#versions(ino);
    const all = base ? [base, ...later] : later;
    const sizes = [...new Set([base ? base.bytes.length : 0, ...later.map((v) => v.bytes.length)])];
    const slotValues: Array<Buffer | null> = base ? [base.slots] : [null];
    for (const v of later) if (!slotValues.some((s) => (s === null ? v.slots === null : v.slots !== null && s.equals(v.slots)))) slotValues.push(v.slots);
    const current = all.at(-1);
    const inflight = current ? withInflightSlot(current.slots, current.bytes, this.#boot) : null;
    if (inflight) slotValues.push(inflight);
    const maxSize = Math.max(...sizes);
    const pages: Buffer[][] = [];
    for (let p = 0; p * PAGE < maxSize; p++) {
      const options: Buffer[] = [];
      // Never made durable: the page may never have been written back at all.
      if (!base) options.push(Buffer.alloc(PAGE));
      for (const v of all) {
        const page = pageOf(v, p);
        if (!options.some((o) => o.equals(page))) options.push(page);
      }
      pages.push(options);
    }
    return { sizes, slots: slotValues, pages };
  }

  /**
   * Writes one image under `options.out`: choices from `choose` (an enumeration or random), torn
   * sectors when `tearChance` > 0 (random only). Every file is dated an hour back (before the
   * pretended reboot). Returns a one-line description of the choices, for failure messages.
   */
  image(options: ImageOptions, choose: Chooser, tearChance = 0, random: () => number = Math.random): string {
    const notes: string[] = [];
    for (const [dir, d] of this.#dirs) {
      const states = this.#dirStates(d);
      const pick = choose(states.length);
      const rel = path.relative(this.root, dir);
      const target = path.join(options.out, rel);
      fs.mkdirSync(target, { recursive: true });
      notes.push(`${rel || '.'}: listing ${pick}/${states.length}`);
      for (const [name, ino] of states[pick]!) {
        if (options.dropControl && name.endsWith('-shm')) continue;
        const { sizes, slots, pages } = this.#fileOptions(ino);
        const size = sizes[choose(sizes.length)]!;
        const slotPick = choose(slots.length);
        const bytes = Buffer.alloc(size);
        const picks: string[] = [];
        for (let p = 0; p * PAGE < size; p++) {
          const opts = pages[p]!;
          const i = choose(opts.length);
          let page = opts[i]!;
          if (opts.length > 1 && tearChance > 0 && random() < tearChance) {
            // A torn write: each sector from the version on disk before or the one being written.
            const other = opts[Math.floor(random() * opts.length)]!;
            page = Buffer.from(page);
            for (let s = 0; s < PAGE; s += SECTOR) if (random() < 0.5) other.copy(page, s, s, s + SECTOR);
            picks.push(`${p}:${i}t`);
          } else if (opts.length > 1) {
            picks.push(`${p}:${i}`);
          }
          page.copy(bytes, p * PAGE, 0, Math.min(PAGE, size - p * PAGE));
        }
        const file = path.join(target, name);
        fs.writeFileSync(file, bytes);
        const value = slots[slotPick];
        if (value) {
          const fd = fs.openSync(file, 'r');
          try {
            native.setxattr(fd, SLOTS_ATTRIBUTE, value, file);
          } finally {
            fs.closeSync(fd);
          }
        }
        const before = new Date(Date.now() - 3600_000);
        fs.utimesSync(file, before, before);
        notes.push(`${name} size ${size} slots ${slotPick}/${slots.length} pages ${picks.join(',') || 'all one'}`);
      }
    }
    return notes.join('; ');
  }
}

/** A chooser walking an enumeration: image number `n` of the mixed-radix count. */
export function enumerator(n: number): Chooser {
  let rest = n;
  return (k) => {
    const i = rest % k;
    rest = Math.floor(rest / k);
    return i;
  };
}

/** A seeded random chooser, and the random numbers behind it. */
export function randomChooser(seed: number): { choose: Chooser; random: () => number } {
  const random = prng(seed);
  return { choose: (k) => Math.floor(random() * k), random };
}
