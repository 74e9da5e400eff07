/**
 * Corruption fuzzing: real files written by the library, mutated by fast-check
 * (bit flips, truncation at any offset, zeroed ranges, garbage over the content or appended after
 * it, the magic values and, for the record log, valid-looking frame headers and whole frames
 * planted anywhere; several of them at once), fed to
 *
 * - `recoverWithMagic` in memory, at any alignment, with or without bytes past `fileSize`;
 * - `Manager.open` on a real file without a control block, then with a garbage, foreign, damaged
 *   or stale `-shm` control block next to it;
 * - `Log.open` on a real log directory of several segments, the active one's `-shm` as its writer
 *   closed it, deleted, a crashed writer's or garbage.
 *
 * Per case: never a crash, a hang or an error other than an `AofError` with a code of `ErrorCode`;
 * the outcome is what the docs/format.md rules say for those bytes; the size recovered is never past
 * what was really written unless a marker the mutation planted decides it (see the NOTEs); what
 * opens is the file's bytes (so the prefix before the first mutated byte is the original); a write
 * after a successful open survives a reopen. The record log returns a record's original bytes or
 * a typed error, never other bytes; its ids have no gaps and never pass the last record written.
 *
 * Size: AOF_FUZZ_CASES (default 10000) cases over the whole file, split in fixed shares;
 * AOF_FUZZ_SEED (default: random, printed) replays a run. Figures: one line per target at the end.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AofError,
  ErrorCode,
  FileState,
  Geometry,
  Log,
  Manager,
  RecoveryKind,
  crc32c,
  recoverWithMagic,
  type AOF,
  type RecoveryResult,
} from '../src/index.js';
import { ControlBlock, ControlState, identityOf } from '../src/control-block.js';
import { pseudoRandomBytes, quietManager, referenceFrame, tmpDir } from './helpers.js';

// --- size, seed, figures --------------------------------------------------------------------------

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${raw}: expected an integer`);
  return n;
}

const CASES = Math.max(1, envInt('AOF_FUZZ_CASES', 10_000));
const SEED = envInt('AOF_FUZZ_SEED', Math.floor(Math.random() * 0x7fffffff)) | 0;

/** Shares of the cases, in percent: the in-memory target gets most, the file targets fewer. */
const SHARES = { recover: 60, manager: 20, shm: 6, stale: 2, log: 12 } as const;
const RUNS = Object.fromEntries(
  Object.entries(SHARES).map(([k, pct]) => [k, Math.max(1, Math.ceil((CASES * pct) / 100))]),
) as Record<keyof typeof SHARES, number>;

/** The test's own time limit: generous per case, so only a hang (or a machine far slower) trips it. */
const limit = (runs: number, msPerCase: number): number => Math.max(60_000, runs * msPerCase);

const KIND = ['Empty', 'Corrupted', 'Tail', 'Checkpoint', 'Panic'] as const;

class Figures {
  cases = 0;
  maxMs = 0;
  readonly outcomes = new Map<string, number>();
  readonly notes = new Map<string, number>();

  outcome(what: string): void {
    this.outcomes.set(what, (this.outcomes.get(what) ?? 0) + 1);
  }

  note(what: string, n = 1): void {
    this.notes.set(what, (this.notes.get(what) ?? 0) + n);
  }

  time(ms: number): void {
    this.cases++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  line(target: string): string {
    const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
    const notes = this.notes.size > 0 ? `; ${list(this.notes)}` : '';
    return `fuzz-corruption ${target}: ${this.cases} cases; outcomes: ${list(this.outcomes)}${notes}; max ${this.maxMs.toFixed(2)} ms/case`;
  }
}

const FIGURES = {
  recover: new Figures(),
  manager: new Figures(),
  shm: new Figures(),
  stale: new Figures(),
  log: new Figures(),
};
const TARGET_NAMES: Record<keyof typeof FIGURES, string> = {
  recover: 'recoverWithMagic',
  manager: 'Manager.open (no control block)',
  shm: 'Manager.open (garbage/foreign/crashed-writer -shm)',
  stale: 'Manager.open (stale -shm of this file, clean data)',
  log: 'Log.open',
};

beforeAll(() => {
  console.log(`fuzz-corruption: seed ${SEED}, ${CASES} cases (${Object.entries(RUNS).map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
    `reproduce with: AOF_FUZZ_SEED=${SEED} AOF_FUZZ_CASES=${CASES} npx vitest run test/fuzz-corruption.test.ts`);
});

afterAll(() => {
  for (const [key, figures] of Object.entries(FIGURES)) {
    if (figures.cases > 0) console.log(figures.line(TARGET_NAMES[key as keyof typeof FIGURES]));
  }
});

// --- the rules, byte at a time (docs/format.md "Recovery") ---------------------------------------------

/** The magic tail 4727544184288126122 and checkpoint 17904250147343162156, little-endian (docs/format.md). */
const TAIL = Buffer.from([0xaa, 0x24, 0x75, 0x54, 0x63, 0x9c, 0x9b, 0x41]);
const CKPT = Buffer.from([0x2c, 0xdb, 0x1f, 0xf2, 0xa5, 0xac, 0x78, 0xf8]);

interface Outcome {
  kind: RecoveryKind;
  tail: number;
  checkpoint: number;
  end: number;
}

function markerAt(b: Uint8Array, at: number, marker: Uint8Array): boolean {
  if (at < 0 || at + 8 > b.length) return false;
  for (let k = 0; k < 8; k++) if (b[at + k] !== marker[k]) return false;
  return true;
}

function lastCheckpointFrom(b: Uint8Array, from: number): number {
  for (let c = from; c >= 0; c--) if (b[c] === 0x2c && markerAt(b, c, CKPT)) return c;
  return -1;
}

/** What docs/format.md says recovery finds in b[0, fileSize). */
function rules(b: Uint8Array, fileSize: number): Outcome {
  let last = fileSize - 1;
  while (last >= 0 && b[last] === 0) last--;
  if (last < 0) return { kind: RecoveryKind.Empty, tail: 0, checkpoint: -1, end: 0 };
  const end = last + 1;
  if (markerAt(b, last - 7, TAIL)) return { kind: RecoveryKind.Tail, tail: last - 7, checkpoint: lastCheckpointFrom(b, last - 15), end };
  if (markerAt(b, last - 7, CKPT)) return { kind: RecoveryKind.Checkpoint, tail: end, checkpoint: last - 7, end };
  const c = lastCheckpointFrom(b, last - 8);
  if (c >= 0) return { kind: RecoveryKind.Checkpoint, tail: c + 8, checkpoint: c, end };
  return { kind: RecoveryKind.Corrupted, tail: end, checkpoint: -1, end };
}

function isFinishedOutcome(r: Outcome, fileSize: number): boolean {
  return r.kind === RecoveryKind.Checkpoint && r.tail === fileSize && r.checkpoint + 8 === r.tail;
}

/** The content size an outcome opens at (a finished file: before its final marker); undefined: it does not open. */
function keptSize(r: Outcome, fileSize: number): number | undefined {
  if (r.kind === RecoveryKind.Empty) return 0;
  if (r.kind === RecoveryKind.Tail) return r.tail;
  if (r.kind === RecoveryKind.Checkpoint) return isFinishedOutcome(r, fileSize) ? r.checkpoint : r.tail;
  return undefined;
}

/** Where the marker that decided the kept size starts (undefined for Empty). */
function decidingMarker(r: Outcome): number | undefined {
  if (r.kind === RecoveryKind.Tail) return r.tail;
  if (r.kind === RecoveryKind.Checkpoint) return r.checkpoint;
  return undefined;
}

function show(r: Outcome): string {
  return `${KIND[r.kind] ?? `kind ${r.kind}`} tail=${r.tail} checkpoint=${r.checkpoint} end=${r.end}`;
}

// --- genuine inputs -------------------------------------------------------------------------------

const KiB = 1024;
const MiB = 1024 * KiB;

interface AofBase {
  label: string;
  bytes: Buffer;
  /** Content size when the writer closed (or finished). */
  size: number;
  /**
   * The most recovery may keep as content without a planted marker: the content size, or for a
   * finished file also its final marker.
   *
   * NOTE: docs/format.md reopens a file whose last non-zero bytes are a checkpoint marker but which does
   * not end there "writable at size L+1": a finished file that was extended (zeros appended, as a
   * crash before finish()'s truncate leaves it) keeps its final marker as content. It was written
   * by finish(), so that is not past what was really written.
   */
  written: number;
  finished: boolean;
  mode: number;
  /** Offsets worth aiming at: write boundaries and checkpoint markers. */
  marks: number[];
}

const GEOMETRY = Geometry.create().with(16 * KiB, MiB, 16 * KiB);

function concat(...parts: Array<Uint8Array | number>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.alloc(p) : Buffer.from(p))));
}

/** Files written by the library: several shapes of content, checkpoints, a finished file, an empty one. */
async function buildAofBases(): Promise<AofBase[]> {
  const dir = tmpDir('aof-fuzz-base-');
  const m = quietManager(dir, { controlBlock: false });
  const bases: AofBase[] = [];
  const make = async (label: string, geometry: Geometry, fill: (w: (b: Uint8Array) => void, cp: () => void, aof: AOF) => void, finish = false) => {
    const name = `${bases.length}.aof`;
    const aof = m.open(name, geometry);
    const marks: number[] = [];
    fill((b) => {
      marks.push(aof.size);
      aof.write(b);
    }, () => marks.push(aof.checkpoint()), aof);
    marks.push(aof.size);
    const size = aof.size;
    if (finish) await aof.finish();
    await aof.close();
    const file = path.join(dir, name);
    const bytes = fs.readFileSync(file);
    const base: AofBase = { label, bytes, size, written: finish ? size + 8 : size, finished: finish, mode: fs.statSync(file).mode & 0o777, marks };
    // The bases are what the rules say they are.
    const r = rules(bytes, bytes.length);
    if (finish) expect(show(r), label).toBe(show({ kind: RecoveryKind.Checkpoint, tail: size + 8, checkpoint: size, end: size + 8 }));
    else expect([KIND[r.kind], r.tail], label).toEqual(['Tail', size]);
    bases.push(base);
  };
  const g = (now: number, step: number) => Geometry.create().with(now, MiB, step);
  try {
    await make('writes and checkpoints', g(16 * KiB, 16 * KiB), (w, cp) => {
      for (let i = 0; i < 40; i++) {
        w(pseudoRandomBytes(1 + ((i * 97) % 500), 100 + i));
        if (i % 7 === 6) cp();
      }
    });
    await make('no checkpoint', g(8 * KiB, 8 * KiB), (w) => {
      for (let i = 0; i < 25; i++) w(pseudoRandomBytes(1 + ((i * 53) % 300), 200 + i));
    });
    await make('ends with a checkpoint', g(16 * KiB, 16 * KiB), (w, cp) => {
      for (let i = 0; i < 12; i++) w(pseudoRandomBytes(10 + i * 31, 300 + i));
      cp();
    });
    await make('finished', g(16 * KiB, 16 * KiB), (w, cp) => {
      for (let i = 0; i < 20; i++) {
        w(pseudoRandomBytes(1 + ((i * 131) % 400), 400 + i));
        if (i % 5 === 4) cp();
      }
    }, true);
    await make('markers and zeros as content', g(16 * KiB, 16 * KiB), (w, cp, aof) => {
      w(Buffer.from('head'));
      w(TAIL); // content holding the tail magic
      w(Buffer.alloc(40));
      w(concat(pseudoRandomBytes(30, 501), CKPT, pseudoRandomBytes(5, 502))); // a checkpoint marker inside a write
      aof.append(100, (ev) => {
        ev.tail.set(pseudoRandomBytes(50, 503));
        return 50;
      });
      cp();
      w(concat(pseudoRandomBytes(20, 504), TAIL, 24)); // the tail magic followed by zeros, as content
      w(Buffer.alloc(17)); // content ending in zeros
    });
    await make('empty', g(4 * KiB, 4 * KiB), () => {});
    await make('grown over several steps', g(4 * KiB, 4 * KiB), (w, cp) => {
      for (let i = 0; i < 60; i++) {
        w(pseudoRandomBytes(1 + ((i * 211) % 700), 600 + i));
        if (i % 10 === 9) cp();
      }
      w(pseudoRandomBytes(77, 700));
    });
  } finally {
    await m.close();
  }
  // A finished file left writable: killed between finish()'s truncate and its chmod.
  const finished = bases.find((b) => b.label === 'finished')!;
  bases.push({ ...finished, label: 'finished, left writable', mode: 0o644 });
  return bases;
}

// --- mutations ------------------------------------------------------------------------------------

type Anchor = 'any' | 'content-end' | 'mark' | 'file-end';
interface Pos {
  anchor: Anchor;
  delta: number;
  raw: number;
}

type Mutation =
  | { kind: 'flip'; pos: Pos; bit: number }
  | { kind: 'truncate'; pos: Pos }
  | { kind: 'zero'; pos: Pos; length: number }
  | { kind: 'garbage'; pos: Pos; bytes: Uint8Array }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'plant'; pos: Pos; marker: 'tail' | 'checkpoint' }
  // The record log only:
  /** A frame header that looks right (length, type, an index near its place) over whatever follows; its CRC random or the old one. */
  | { kind: 'header'; pos: Pos; length: number; type: number; indexDelta: number; crc: number | 'kept' }
  /** A whole frame that checks out, at the end of the segment's content, optionally with the tail magic after it. */
  | { kind: 'frame'; payload: Uint8Array; index: number | 'next'; type: number; tail: boolean };

/** Where a mutation lands in a file: the content end and the offsets of its write boundaries / frames. */
interface Spot {
  contentEnd: number;
  marks: readonly number[];
}

const posArb: fc.Arbitrary<Pos> = fc.record({
  anchor: fc.oneof(
    { arbitrary: fc.constant<Anchor>('any'), weight: 4 },
    { arbitrary: fc.constant<Anchor>('content-end'), weight: 3 },
    { arbitrary: fc.constant<Anchor>('mark'), weight: 2 },
    { arbitrary: fc.constant<Anchor>('file-end'), weight: 1 },
  ),
  delta: fc.integer({ min: -20, max: 20 }),
  raw: fc.nat(),
});

const markerBytes = fc.constantFrom(TAIL, CKPT);

/** Bytes written over the content (a torn write, a stray writer): random, or ending in a marker. */
const overwriteArb = fc.oneof(
  { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 48 }), weight: 3 },
  { arbitrary: fc.tuple(fc.uint8Array({ maxLength: 24 }), markerBytes).map(([g, m]) => concat(g, m)), weight: 1 },
);

/** Bytes appended past the end of the file. */
const appendArb = fc.oneof(
  { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }), weight: 3 },
  { arbitrary: fc.tuple(fc.uint8Array({ maxLength: 24 }), markerBytes).map(([g, m]) => concat(g, m)), weight: 2 },
  { arbitrary: fc.tuple(markerBytes, fc.nat({ max: 64 })).map(([m, z]) => concat(m, z)), weight: 1 },
  { arbitrary: fc.integer({ min: 1, max: 4096 }).map((n) => Buffer.alloc(n)), weight: 1 },
);

const zeroLengthArb = fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 70_000 }));

const aofMutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), pos: posArb, bit: fc.nat({ max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), pos: posArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('zero' as const), pos: posArb, length: zeroLengthArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('garbage' as const), pos: posArb, bytes: overwriteArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: appendArb }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('plant' as const), pos: posArb, marker: fc.constantFrom('tail' as const, 'checkpoint' as const) }), weight: 3 },
);

const logMutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: aofMutationArb, weight: 6 },
  {
    arbitrary: fc.record({
      kind: fc.constant('header' as const),
      pos: posArb,
      length: fc.oneof(fc.nat({ max: 64 }), fc.nat({ max: 1000 }), fc.nat()),
      type: fc.constantFrom(1, 1, 2, 0, 3),
      indexDelta: fc.integer({ min: -2, max: 2 }),
      crc: fc.oneof(fc.constant('kept' as const), fc.nat()),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      payload: fc.uint8Array({ maxLength: 64 }),
      index: fc.oneof({ arbitrary: fc.constant('next' as const), weight: 3 }, { arbitrary: fc.nat({ max: 100 }), weight: 1 }),
      type: fc.constantFrom(1, 1, 2),
      tail: fc.boolean(),
    }),
    weight: 1,
  },
);

/** One mutation most of the time, otherwise two to four. */
const mutationsOf = (m: fc.Arbitrary<Mutation>) =>
  fc.oneof({ arbitrary: fc.array(m, { minLength: 1, maxLength: 1 }), weight: 3 }, { arbitrary: fc.array(m, { minLength: 2, maxLength: 4 }), weight: 2 });

function where(pos: Pos, length: number, spot: Spot): number {
  let at: number;
  switch (pos.anchor) {
    case 'any':
      at = length > 0 ? pos.raw % length : 0;
      break;
    case 'content-end':
      at = spot.contentEnd + pos.delta;
      break;
    case 'file-end':
      at = length + pos.delta;
      break;
    case 'mark':
      at = spot.marks.length > 0 ? spot.marks[pos.raw % spot.marks.length]! + pos.delta : length > 0 ? pos.raw % length : 0;
      break;
  }
  return Math.max(0, at);
}

interface Planted {
  at: number;
  index: number;
  payload: Uint8Array;
  frame: Buffer;
}

/**
 * A mutated copy of `original`. `frames` (the record log) gives the frame offsets, so a planted
 * header gets an index near its place; whole frames planted are reported in `planted`.
 */
function mutate(original: Buffer, mutations: readonly Mutation[], spot: Spot, planted?: Planted[], frames?: readonly number[]): Buffer {
  let b = Buffer.from(original);
  const room = (n: number) => {
    if (n <= b.length) return;
    const grown = Buffer.alloc(n);
    b.copy(grown);
    b = grown;
  };
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip': {
        if (b.length === 0) break;
        const at = Math.min(where(m.pos, b.length, spot), b.length - 1);
        b[at]! ^= 1 << m.bit;
        break;
      }
      case 'truncate':
        b = Buffer.from(b.subarray(0, Math.min(where(m.pos, b.length, spot), b.length)));
        break;
      case 'zero': {
        if (b.length === 0) break;
        const at = Math.min(where(m.pos, b.length, spot), b.length - 1);
        b.fill(0, at, Math.min(b.length, at + m.length));
        break;
      }
      case 'garbage': {
        const at = Math.min(where(m.pos, b.length, spot), b.length);
        room(at + m.bytes.length);
        b.set(m.bytes, at);
        break;
      }
      case 'append': {
        const at = b.length;
        room(at + m.bytes.length);
        b.set(m.bytes, at);
        break;
      }
      case 'plant': {
        const at = where(m.pos, b.length, spot);
        room(at + 8);
        b.set(m.marker === 'tail' ? TAIL : CKPT, at);
        break;
      }
      case 'header': {
        const at = where(m.pos, b.length, spot);
        const offsets = frames ?? [];
        let place = 0;
        while (place < offsets.length && offsets[place]! <= at) place++;
        room(at + 16);
        if (m.crc !== 'kept') b.writeUInt32LE(m.crc >>> 0, at);
        b.writeUInt32LE(m.length >>> 0, at + 4);
        b.writeUInt32LE(m.type, at + 8);
        b.writeUInt32LE(Math.max(0, place - 1 + m.indexDelta), at + 12);
        break;
      }
      case 'frame': {
        const at = spot.contentEnd;
        const index = m.index === 'next' ? (frames ?? []).length : m.index;
        const frame = referenceFrame(m.payload, index, m.type);
        room(at + frame.length + (m.tail ? 8 : 0));
        b.set(frame, at);
        if (m.tail) b.set(TAIL, at + frame.length);
        planted?.push({ at, index, payload: m.payload, frame });
        break;
      }
    }
  }
  return b;
}

/** The first offset where `a` and `b` differ (a length change counts at the shorter length); Infinity if equal. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? Infinity : n;
}

/**
 * Why keeping `kept` bytes of `mutated` goes past what was really written, or undefined when it
 * does not. Past the written content is only acceptable when the marker that decided holds a byte
 * the mutation put there.
 *
 * NOTE: the rules cannot tell a planted marker from a genuine one: a tail magic or checkpoint
 * marker planted after the content, with only zeros after it, makes everything before it content
 * (the old tail magic, zeros, garbage). That is what docs/format.md's rules say; what is asserted is
 * that only such a planted marker can do it.
 */
function pastWritten(base: { bytes: Buffer; written: number }, mutated: Uint8Array, kept: number, marker: number | undefined): string | undefined {
  if (kept <= base.written) return undefined;
  if (marker === undefined) return `kept ${kept} bytes, past the ${base.written} really written, with no marker deciding it`;
  for (let i = marker; i < marker + 8; i++) {
    if ((i < base.bytes.length ? base.bytes[i] : 0) !== mutated[i]) return undefined;
  }
  return `kept ${kept} bytes, past the ${base.written} really written, on a marker at ${marker} that no mutation planted`;
}

const ERROR_CODES = new Set<string>(Object.values(ErrorCode));

/** The code of a typed error; anything else (a crash-like TypeError, a system error leaking out) fails. */
function typedCode(e: unknown, context: string): string {
  if (e instanceof AofError && ERROR_CODES.has(e.code)) return e.code;
  throw new Error(`${context}: not an AofError with a code of ErrorCode: ${(e as Error)?.stack ?? String(e)}`);
}

/** Writes `bytes` over the file in place (same inode: a control block keeps describing it) with `mode`. */
function put(file: string, bytes: Uint8Array, mode: number): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch {
    fd = fs.openSync(file, 'w+');
  }
  try {
    if (bytes.length > 0) fs.writeSync(fd, bytes, 0, bytes.length, 0);
    fs.ftruncateSync(fd, bytes.length);
    fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
}

function describeCase(base: { label: string }, mutations: readonly Mutation[]): string {
  return `${base.label}: ${JSON.stringify(mutations, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`;
}

// --- Manager.open: what a case must open to ---------------------------------------------------------

interface Expectation {
  /** The typed error open must fail with. */
  fails?: string;
  /** The sizes it may open at (two only where docs/format.md and the code may reasonably differ, see NOTE). */
  sizes: number[];
  finished: boolean;
  /** The bytes' own outcome. */
  bytes: Outcome;
}

/** A control block next to the file, as the writer opening it reads it. */
interface BlockView {
  trusted: boolean;
  committed: number;
}

function expectationOf(mutated: Uint8Array, mode: number, block?: BlockView): Expectation {
  const fileSize = mutated.length;
  const writable = (mode & 0o222) !== 0;
  const r = rules(mutated, fileSize);
  if (fileSize === 0 && !writable) return { fails: ErrorCode.EMPTY_FILE, sizes: [], finished: false, bytes: r };
  if (isFinishedOutcome(r, fileSize)) return { sizes: [r.checkpoint], finished: true, bytes: r };
  const byBytes = r.kind === RecoveryKind.Corrupted ? -1 : r.kind === RecoveryKind.Empty ? 0 : r.tail;
  if (writable && block?.trusted && block.committed + 8 <= fileSize && byBytes < block.committed) {
    // A torn tail (no marker at the end) rolls back to the committed size: every write that returned.
    const torn = r.kind === RecoveryKind.Corrupted || (r.kind === RecoveryKind.Checkpoint && r.tail !== r.end);
    // NOTE: a clean tail, a checkpoint marker at the end or an all-zero file short of the committed
    // size is not a torn tail in docs/format.md's words, but can be one (content that holds the tail
    // magic and zeros; an append that zeroed the old tail magic): the code keeps the committed size
    // there too. Either keeps only bytes that were written; both are accepted.
    return { sizes: torn ? [block.committed] : [byBytes, block.committed], finished: false, bytes: r };
  }
  if (r.kind === RecoveryKind.Corrupted) return { fails: ErrorCode.CORRUPTED, sizes: [], finished: false, bytes: r };
  return { sizes: [byBytes], finished: false, bytes: r };
}

/**
 * Opens `name` and checks it against `want`: the outcome, the size, the bytes, the bound; then a
 * write and a reopen that keeps it. Returns the outcome's name for the figures.
 */
async function openAndCheck(
  m: Manager, name: string, base: AofBase, mutated: Buffer, want: Expectation, record: Uint8Array, context: string,
): Promise<string> {
  let aof: AOF;
  try {
    aof = m.open(name, GEOMETRY);
  } catch (e) {
    const code = typedCode(e, context);
    expect(code, `${context}: open failed, expected ${want.fails ?? `it to open at ${want.sizes.join(' or ')}`} (bytes: ${show(want.bytes)})`)
      .toBe(want.fails);
    return code;
  }
  let wrote = false;
  let size: number;
  let outcome: string;
  try {
    expect(want.fails, `${context}: opened (size ${aof.size}) where ${want.fails} was due (bytes: ${show(want.bytes)})`).toBeUndefined();
    size = aof.size;
    outcome = aof.recovery.fromControlBlock ? 'Tail from the control block' : KIND[aof.recovery.kind]!;
    if (want.finished) outcome = 'finished';
    expect(want.sizes, `${context}: opened at ${size} (bytes: ${show(want.bytes)})`).toContain(size);
    const byBytes = size === keptSize(want.bytes, mutated.length) ? decidingMarker(want.bytes) : undefined;
    expect(pastWritten(base, mutated, size, byBytes), context).toBeUndefined();
    // What opens is the file's bytes: the prefix before the first mutated byte is the original.
    expect(aof.view(0, size).equals(mutated.subarray(0, size)), `${context}: the content differs from the file's bytes`).toBe(true);
    if (want.finished) {
      expect(aof.state).toBe(FileState.EOF);
      expect(aof.readOnly).toBe(true);
    }
    if (aof.readOnly) {
      let code: string | undefined;
      try {
        aof.write(record);
      } catch (e) {
        code = typedCode(e, `${context}: write to a read-only file`);
      }
      expect(code, `${context}: a write to a read-only file`).toBe(ErrorCode.READ_ONLY);
    } else {
      expect(aof.write(record)).toBe(record.length);
      expect(aof.size).toBe(size + record.length);
      wrote = true;
    }
  } finally {
    await aof.close();
  }
  if (wrote) {
    const again = m.open(name, GEOMETRY);
    try {
      expect(again.size, `${context}: reopened after a write`).toBe(size + record.length);
      expect(again.recovery.kind).toBe(RecoveryKind.Tail);
      expect(again.view(0, size).equals(mutated.subarray(0, size)), `${context}: reopened, the content before the write changed`).toBe(true);
      expect(again.view(size).equals(record), `${context}: reopened, the write is not there`).toBe(true);
    } finally {
      await again.close();
    }
  }
  return outcome;
}

// --- the control block -----------------------------------------------------------------------------

/** Offsets in the control block (src/control-block.ts documents the layout). */
const CB = { size: 4096, header: 64, crc: 12, crcFrom: 16, ino: 24, boot: 32, committed: 64, state: 80 } as const;

/** What the writer opening the file reads in the block `bytes` (padded to a page like ControlBlock.open does). */
function blockView(bytes: Uint8Array | undefined, genuine: Buffer): BlockView | undefined {
  if (bytes === undefined) return undefined;
  const page = Buffer.alloc(CB.size);
  page.set(bytes.subarray(0, CB.size));
  const trusted = page.subarray(0, CB.header).equals(genuine.subarray(0, CB.header)) && page.readUInt32LE(CB.state) === ControlState.Writing;
  return { trusted, committed: page.readUInt32LE(CB.committed) + page.readUInt32LE(CB.committed + 4) * 2 ** 32 };
}

function setCommitted(b: Buffer, committed: number): void {
  if (b.length >= CB.committed + 8) b.writeBigUInt64LE(BigInt(committed), CB.committed);
}

type BlockMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'zero'; at: number; length: number }
  | { kind: 'garbage'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'state'; value: number };

type BlockCase =
  | { kind: 'absent' }
  | { kind: 'garbage'; bytes: Uint8Array }
  | { kind: 'crashed writer'; mutations: BlockMutation[] }
  | { kind: 'another file'; committed: number }
  | { kind: 'another boot'; committed: number };

const blockMutationArb: fc.Arbitrary<BlockMutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.oneof(fc.nat({ max: 95 }), fc.nat({ max: CB.size - 1 })), bit: fc.nat({ max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('zero' as const), at: fc.nat({ max: CB.size - 1 }), length: fc.integer({ min: 1, max: CB.size }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('garbage' as const), at: fc.oneof(fc.nat({ max: 95 }), fc.nat({ max: CB.size - 1 })), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.oneof(fc.nat({ max: 100 }), fc.nat({ max: CB.size })) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('state' as const), value: fc.oneof(fc.nat({ max: 4 }), fc.nat()) }), weight: 2 },
);

const committedArb = fc.oneof(fc.nat({ max: 70_000 }), fc.nat(), fc.constant(2 ** 32 + 100));

const blockCaseArb: fc.Arbitrary<BlockCase> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'absent' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: fc.oneof(fc.uint8Array({ maxLength: 128 }), fc.uint8Array({ minLength: 4000, maxLength: 4200 })) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('crashed writer' as const), mutations: fc.array(blockMutationArb, { maxLength: 3 }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('another file' as const), committed: committedArb }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('another boot' as const), committed: committedArb }), weight: 1 },
);

/**
 * The bytes of the -shm for a case. `genuine` is the block a writer of this file killed after a
 * write leaves (state Writing, committed = its content size). The crashed writer's block is
 * damaged anywhere but in its committed size (a stale committed size is the stale test's business).
 */
function blockBytesOf(c: BlockCase, genuine: Buffer, committed: number): Buffer | undefined {
  switch (c.kind) {
    case 'absent':
      return undefined;
    case 'garbage':
      return Buffer.from(c.bytes);
    case 'crashed writer': {
      let b = Buffer.from(genuine);
      setCommitted(b, committed);
      for (const m of c.mutations) {
        if (m.kind === 'flip') {
          if (m.at < b.length) b[m.at]! ^= 1 << m.bit;
        } else if (m.kind === 'zero') {
          b.fill(0, Math.min(m.at, b.length), Math.min(m.at + m.length, b.length));
        } else if (m.kind === 'garbage') {
          b.set(m.bytes.subarray(0, Math.max(0, b.length - m.at)), Math.min(m.at, b.length));
        } else if (m.kind === 'truncate') {
          b = Buffer.from(b.subarray(0, m.at));
        } else if (b.length >= CB.state + 4) {
          b.writeUInt32LE(m.value >>> 0, CB.state);
        }
      }
      // Never the committed size itself: restore whatever of it is left.
      const whole = Buffer.alloc(8);
      whole.writeBigUInt64LE(BigInt(committed));
      for (let i = 0; i < 8 && CB.committed + i < b.length; i++) b[CB.committed + i] = whole[i]!;
      return b;
    }
    case 'another file':
    case 'another boot': {
      // A header that checks out (CRC recomputed) but names another inode, or another boot.
      const b = Buffer.from(genuine);
      if (c.kind === 'another file') b.writeBigUInt64LE(b.readBigUInt64LE(CB.ino) + 1n, CB.ino);
      else b[CB.boot]! ^= 0xff;
      b.writeUInt32LE(crc32c(b.subarray(CB.crcFrom, CB.header)), CB.crc);
      setCommitted(b, c.committed);
      return b;
    }
  }
}

/** The block a writer of `file` killed right after a write leaves: state Writing, `committed` (0 here), a dead pid. */
function crashedWriterBlock(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const cb = ControlBlock.open(file)!;
    cb.lock();
    cb.reset(identityOf(fd), ControlState.Writing, 0, 999_999);
    cb.unlock();
    cb.close();
  } finally {
    fs.closeSync(fd);
  }
  return fs.readFileSync(`${file}-shm`);
}

// --- the record log ---------------------------------------------------------------------------------

interface SegmentInfo {
  name: string;
  firstId: number;
  /** Frame offsets, one per record. */
  offsets: number[];
  /** For each record, where the write (batch) holding it ends. */
  writeEnds: number[];
  /** Content size. */
  size: number;
  sealed: boolean;
}

interface LogBase {
  files: Array<{ name: string; bytes: Buffer; mode: number }>;
  records: Buffer[];
  segments: SegmentInfo[];
}

const LOG_OPTIONS = { segmentSize: 4 * KiB };

/** Records of many sizes (0, 1, 7, 8, 9, ...; some holding the AOF markers), single appends and batches, over several segments. */
async function buildLogBase(dir: string): Promise<LogBase> {
  const records: Buffer[] = [];
  const special = [0, 1, 7, 8, 9, 15, 16, 17];
  const log = await Log.open(dir, LOG_OPTIONS);
  try {
    let i = 0;
    const next = () => {
      const n = i < special.length ? special[i]! : ((i * 2654435761) >>> 0) % 600;
      let r = pseudoRandomBytes(n, 900 + i);
      if (i % 11 === 5) r = concat(pseudoRandomBytes(13, i), TAIL, 16, CKPT, pseudoRandomBytes(3, i + 1));
      i++;
      return r;
    };
    while (records.length < 80) {
      if (records.length % 9 === 4) {
        const batch = [next(), next(), next()];
        expect(log.append(batch)).toEqual([records.length + 1, records.length + 2, records.length + 3]);
        records.push(...batch);
      } else {
        const r = next();
        expect(log.append(r)).toBe(records.length + 1);
        records.push(r);
      }
    }
  } finally {
    await log.close();
  }
  const names = fs.readdirSync(dir).sort();
  const files = names.map((name) => {
    const file = path.join(dir, name);
    return { name, bytes: fs.readFileSync(file), mode: fs.statSync(file).mode & 0o777 };
  });
  const segFiles = files.filter((f) => f.name.endsWith('.seg'));
  const segments = segFiles.map((f, k): SegmentInfo => {
    const firstId = Number(f.name.slice(0, 16));
    const lastId = k + 1 < segFiles.length ? Number(segFiles[k + 1]!.name.slice(0, 16)) - 1 : records.length;
    const offsets: number[] = [];
    let at = 0;
    for (let id = firstId; id <= lastId; id++) {
      offsets.push(at);
      at += Math.ceil((16 + records[id - 1]!.length) / 8) * 8;
    }
    const writeEnds: number[] = new Array<number>(offsets.length);
    let end = at;
    for (let j = offsets.length - 1; j >= 0; j--) {
      const frameEnd = j + 1 < offsets.length ? offsets[j + 1]! : at;
      if (f.bytes.readUInt32LE(offsets[j]! + 8) === 1) end = frameEnd;
      writeEnds[j] = end;
    }
    return { name: f.name, firstId, offsets, writeEnds, size: at, sealed: (f.mode & 0o222) === 0 };
  });
  // The layout is what the files say: sealed segments end with the final marker, the last one with the tail magic.
  expect(segments.length).toBeGreaterThanOrEqual(4);
  for (const s of segments.slice(0, -1)) {
    const bytes = files.find((f) => f.name === s.name)!.bytes;
    expect(s.sealed, s.name).toBe(true);
    expect(bytes.length, s.name).toBe(s.size + 8);
    expect(markerAt(bytes, s.size, CKPT), s.name).toBe(true);
  }
  const active = segments.at(-1)!;
  expect(active.sealed).toBe(false);
  expect(rules(files.find((f) => f.name === active.name)!.bytes, files.find((f) => f.name === active.name)!.bytes.length).tail).toBe(active.size);
  return { files, records, segments };
}

/** Puts the directory back as the base log left it: its files' bytes and modes, nothing else. */
function restoreLog(dir: string, base: LogBase): void {
  const keep = new Set(base.files.map((f) => f.name));
  for (const name of fs.readdirSync(dir)) if (!keep.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  for (const f of base.files) put(path.join(dir, f.name), f.bytes, f.mode);
}

// --- the tests ------------------------------------------------------------------------------------------

describe('corruption fuzzing (fast-check)', () => {
  let aofBases: AofBase[];

  beforeAll(async () => {
    aofBases = await buildAofBases();
    expect(RUNS.recover + RUNS.manager + RUNS.shm + RUNS.stale + RUNS.log).toBeGreaterThanOrEqual(CASES);
  });

  it(`recoverWithMagic never throws, answers what the docs/format.md rules say for mutated copies of real files, and keeps no byte past the written content unless a planted marker decides it (${RUNS.recover} cases)`, () => {
    const figures = FIGURES.recover;
    fc.assert(
      fc.property(
        fc.nat(), mutationsOf(aofMutationArb), fc.nat({ max: 7 }), fc.constantFrom(0, 0, 1, 64),
        (pick, mutations, byteOffset, slack) => {
          const started = performance.now();
          const base = aofBases[pick % aofBases.length]!;
          const context = describeCase(base, mutations);
          const mutated = mutate(base.bytes, mutations, { contentEnd: base.size, marks: base.marks });
          const fileSize = mutated.length;
          // As a mapping hands it over: at any alignment, maybe with bytes of the mapping past fileSize.
          const backing = Buffer.alloc(byteOffset + fileSize + slack, 0xff);
          mutated.copy(backing, byteOffset);
          const data = backing.subarray(byteOffset, byteOffset + fileSize + slack);
          let r: RecoveryResult;
          try {
            r = recoverWithMagic(fileSize, data);
          } catch (e) {
            throw new Error(`${context}: recoverWithMagic threw ${(e as Error)?.stack ?? String(e)}`);
          }
          expect(KIND[r.kind], `${context}: an unknown kind ${r.kind}`).toBeDefined();
          expect(r.kind, `${context}: Panic on a valid input: ${r.error?.message}`).not.toBe(RecoveryKind.Panic);
          figures.outcome(KIND[r.kind]!);
          // NOTE: garbage appended after a clean tail (no control block) makes the file look torn:
          // the rules roll it back to the last checkpoint marker, dropping the content written after
          // it, or say Corrupted when there is none. Asserted exactly, counted in the figures.
          const want = rules(mutated, fileSize);
          expect(show(r), context).toBe(show(want));
          expect(r.fileSize).toBe(fileSize);
          if (r.kind === RecoveryKind.Corrupted) expect(r.error, context).toBeInstanceOf(Error);
          const kept = keptSize(want, fileSize);
          if (kept !== undefined) {
            expect(pastWritten(base, mutated, kept, decidingMarker(want)), context).toBeUndefined();
            if (kept > base.written) figures.note('kept past the written content on a planted marker');
            else if (kept < base.size && firstDiff(base.bytes, mutated) >= base.size) figures.note('rolled back though only bytes after the content changed');
          }
          figures.time(performance.now() - started);
        },
      ),
      { numRuns: RUNS.recover, seed: SEED },
    );
    // In memory, every case is microseconds: two seconds is a hang, never a slow machine.
    expect(figures.maxMs).toBeLessThan(2000);
  }, limit(RUNS.recover, 10));

  it(`Manager.open of a mutated file (no control block) opens or fails with a typed code; it opens the file's own bytes up to a size never past the written content, and a write after it survives a reopen (${RUNS.manager} cases)`, async () => {
    const figures = FIGURES.manager;
    const dir = tmpDir('aof-fuzz-open-');
    const m = quietManager(dir, { controlBlock: false });
    const file = path.join(dir, 'f.aof');
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(), mutationsOf(aofMutationArb), fc.uint8Array({ minLength: 1, maxLength: 100 }), async (pick, mutations, record) => {
          const started = performance.now();
          const base = aofBases[pick % aofBases.length]!;
          const context = describeCase(base, mutations);
          const mutated = mutate(base.bytes, mutations, { contentEnd: base.size, marks: base.marks });
          put(file, mutated, base.mode);
          const outcome = await openAndCheck(m, 'f.aof', base, mutated, expectationOf(mutated, base.mode), record, context);
          figures.outcome(outcome);
          figures.time(performance.now() - started);
        }),
        { numRuns: RUNS.manager, seed: SEED },
      );
    } finally {
      await m.close();
    }
  }, limit(RUNS.manager, 100));

  it(`Manager.open with a garbage, foreign or damaged -shm next to a mutated file: the control block never makes recovery keep a byte past the written content, and a crashed writer's intact block keeps exactly its committed size over a torn tail (${RUNS.shm} cases)`, async () => {
    const figures = FIGURES.shm;
    const dir = tmpDir('aof-fuzz-shm-');
    const m = quietManager(dir, { controlBlock: true });
    const file = path.join(dir, 'f.aof');
    const shm = `${file}-shm`;
    // The control block is only used by a writer: the bases it can write.
    const bases = aofBases.filter((b) => (b.mode & 0o222) !== 0);
    put(file, bases[0]!.bytes, bases[0]!.mode);
    const genuine = crashedWriterBlock(file);
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(), mutationsOf(aofMutationArb), blockCaseArb, fc.uint8Array({ minLength: 1, maxLength: 100 }), async (pick, mutations, blockCase, record) => {
          const started = performance.now();
          const base = bases[pick % bases.length]!;
          const mutated = mutate(base.bytes, mutations, { contentEnd: base.size, marks: base.marks });
          const block = blockBytesOf(blockCase, genuine, base.size);
          const context = `${describeCase(base, mutations)}; -shm: ${blockCase.kind} ${JSON.stringify(blockCase, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`;
          put(file, mutated, base.mode);
          if (block === undefined) fs.rmSync(shm, { force: true });
          else put(shm, block, 0o644);
          const view = blockView(block, genuine);
          const want = expectationOf(mutated, base.mode, view);
          if (view?.trusted) figures.note('trusted blocks');
          const outcome = await openAndCheck(m, 'f.aof', base, mutated, want, record, context);
          figures.outcome(outcome);
          figures.time(performance.now() - started);
        }),
        { numRuns: RUNS.shm, seed: SEED },
      );
    } finally {
      await m.close();
    }
  }, limit(RUNS.shm, 100));

  it(`a stale control block of the file itself (header intact, any state and committed size) never makes recovery of a cleanly closed file keep a byte past its tail magic (${RUNS.stale} cases)`, async () => {
    // docs/format.md: the committed size rolls back *a torn tail*; the bytes of a cleanly closed file
    // end in the tail magic, so they alone decide. A block of this very file (same inode, this
    // boot) with a committed size past that tail is what a crashed writer's block becomes once a
    // writer without a control block (controlBlock: false, the Go aof) has rewritten the file.
    const figures = FIGURES.stale;
    const dir = tmpDir('aof-fuzz-stale-');
    const m = quietManager(dir, { controlBlock: true });
    const file = path.join(dir, 'f.aof');
    const shm = `${file}-shm`;
    const bases = aofBases.filter((b) => !b.finished);
    put(file, bases[0]!.bytes, bases[0]!.mode);
    const genuine = crashedWriterBlock(file);
    const contentDamage = fc.array(
      fc.record({ at: fc.nat(), bit: fc.nat({ max: 7 }), zero: fc.nat({ max: 40 }) }),
      { maxLength: 3 },
    );
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.nat(), contentDamage,
          fc.oneof(
            { arbitrary: fc.integer({ min: -16, max: 64 }).map((d) => ({ relative: true, value: d })), weight: 2 },
            { arbitrary: committedArb.map((v) => ({ relative: false, value: v })), weight: 2 },
          ),
          fc.oneof({ arbitrary: fc.constant(ControlState.Writing as number), weight: 3 }, { arbitrary: fc.nat({ max: 4 }), weight: 1 }),
          fc.uint8Array({ minLength: 1, maxLength: 100 }),
          async (pick, damage, committedPick, state, record) => {
            const started = performance.now();
            const base = bases[pick % bases.length]!;
            // Damage inside the content only: the tail magic after it stays clean.
            const mutated = Buffer.from(base.bytes);
            for (const d of damage) {
              if (base.size === 0) break;
              const at = d.at % base.size;
              mutated[at]! ^= 1 << d.bit;
              mutated.fill(0, at, Math.min(base.size, at + d.zero));
            }
            const committed = Math.max(0, committedPick.relative ? base.size + committedPick.value : committedPick.value);
            const block = Buffer.from(genuine);
            setCommitted(block, committed);
            block.writeUInt32LE(state, CB.state);
            put(file, mutated, base.mode);
            put(shm, block, 0o644);
            const context = `${base.label}, content damage ${JSON.stringify(damage)}; a block of this file, state ${state}, committed ${committed} (content ${base.size}, file ${mutated.length})`;
            const want: Expectation = { sizes: [base.size], finished: false, bytes: rules(mutated, mutated.length) };
            expect(want.bytes.kind, 'the damage left the tail clean').toBe(RecoveryKind.Tail);
            const outcome = await openAndCheck(m, 'f.aof', base, mutated, want, record, context);
            figures.outcome(outcome);
            figures.time(performance.now() - started);
          },
        ),
        { numRuns: RUNS.stale, seed: SEED },
      );
    } finally {
      await m.close();
    }
  }, limit(RUNS.stale, 100));

  it('a crashed writer\'s control block does not make recovery keep bytes a writer without a control block has since rolled back and rewritten', async () => {
    // The sequence the stale property stands for, with the public API only.
    const dir = tmpDir('aof-fuzz-stale-');
    const geometry = Geometry.create().with(64 * KiB, MiB, 64 * KiB);
    const file = path.join(dir, 'f.aof');
    // 1. A writer with a control block writes, checkpoints, writes 1000 more bytes and is killed:
    //    its block says Writing with committed size 1018 (a copy taken while it is open holds what
    //    a kill -9 then leaves; only the pid differs, which recovery does not read), and its next
    //    write is torn.
    const m1 = new Manager(dir, { flushIntervalMs: 0 });
    const a1 = m1.open('f.aof', geometry);
    a1.write('committed;');
    a1.checkpoint();
    a1.write(Buffer.alloc(1000, 'x'));
    const committed = a1.size;
    const crashed = fs.readFileSync(`${file}-shm`);
    await m1.close();
    fs.writeFileSync(`${file}-shm`, crashed);
    put(file, concat(fs.readFileSync(file).subarray(0, committed), Buffer.from('torn-write'), 64 * KiB - committed - 10), 0o644);
    // 2. A writer without a control block recovers from the bytes (back to the checkpoint), writes, closes.
    const m2 = new Manager(dir, { flushIntervalMs: 0, controlBlock: false });
    const a2 = m2.open('f.aof', geometry);
    expect(a2.size).toBe(18);
    a2.write('new');
    const written = Buffer.from(a2.view());
    await m2.close();
    // 3. A writer with a control block opens it: the file ends in a clean tail magic after 21 bytes.
    const m3 = new Manager(dir, { flushIntervalMs: 0 });
    const a3 = m3.open('f.aof', geometry);
    try {
      expect(a3.size, `committed size in the stale block: ${committed}`).toBe(written.length);
      expect(a3.view().equals(written)).toBe(true);
    } finally {
      await m3.close();
    }
  });

  it('Log.open of a log whose last segment is finished and empty (nothing but its final marker) gives a log that takes appends, or fails with a typed error', async () => {
    // What corruption leaves when the last segment is cut to its first bytes and a checkpoint
    // marker lands there (the Log.open property finds it: a cut at 0, then the marker appended).
    const dir = tmpDir('aof-fuzz-log-');
    const segment = path.join(dir, '0000000000000001.seg');
    put(segment, CKPT, 0o444);
    let log: Log;
    try {
      log = await Log.open(dir, LOG_OPTIONS);
    } catch (e) {
      typedCode(e, 'Log.open');
      return;
    }
    let id: number;
    try {
      expect(log.lastId).toBe(log.firstId - 1);
      id = log.append(Buffer.from('after'));
      expect(id).toBe(log.firstId);
    } finally {
      await log.close();
    }
    const again = await Log.open(dir, LOG_OPTIONS);
    try {
      expect(again.get(id).toString()).toBe('after');
    } finally {
      await again.close();
    }
  });

  it(`Log.open of a log with mutated segments opens or fails with a typed code; records read back byte for byte or fail typed, ids have no gaps, none past the last written but a whole frame planted after it, none lost before the first mutated byte; a record appended after it survives a reopen (${RUNS.log} cases)`, async () => {
    const figures = FIGURES.log;
    const dir = tmpDir('aof-fuzz-log-');
    const base = await buildLogBase(dir);
    const N = base.records.length;
    const segments = base.segments;
    const active = segments.length - 1;
    const activeFirstId = segments[active]!.firstId;
    const segmentOf = (id: number) => {
      let k = segments.length - 1;
      while (segments[k]!.firstId > id) k--;
      return k;
    };
    const targetArb = fc.record({
      seg: fc.oneof({ arbitrary: fc.constant(-1), weight: 3 }, { arbitrary: fc.nat(), weight: 2 }),
      mutations: mutationsOf(logMutationArb),
    });
    // The active segment's -shm: as its writer closed it, deleted, what a writer killed after its
    // last append leaves (state Writing, committed = the content size), or garbage.
    const activeFile = path.join(dir, segments[active]!.name);
    const crashed = crashedWriterBlock(activeFile);
    setCommitted(crashed, segments[active]!.size);
    const shmArb = fc.oneof(
      { arbitrary: fc.constant<'as closed' | 'deleted' | 'crashed writer'>('as closed'), weight: 3 },
      { arbitrary: fc.constantFrom<'as closed' | 'deleted' | 'crashed writer'>('deleted', 'crashed writer'), weight: 2 },
      { arbitrary: fc.uint8Array({ maxLength: 128 }), weight: 1 },
    );
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(targetArb, { minLength: 1, maxLength: 3 }), shmArb, fc.uint8Array({ maxLength: 200 }), async (targets, shm, extra) => {
          const started = performance.now();
          restoreLog(dir, base);
          const mutated = new Map<number, Buffer>();
          const planted = new Map<number, Planted[]>();
          for (const t of targets) {
            const k = t.seg < 0 ? active : t.seg % segments.length;
            const s = segments[k]!;
            const original = base.files.find((f) => f.name === s.name)!.bytes;
            const list = planted.get(k) ?? [];
            mutated.set(k, mutate(mutated.get(k) ?? original, t.mutations, { contentEnd: s.size, marks: s.offsets }, list, s.offsets));
            planted.set(k, list);
          }
          for (const [k, bytes] of mutated) {
            const f = base.files.find((x) => x.name === segments[k]!.name)!;
            put(path.join(dir, f.name), bytes, f.mode);
          }
          if (shm === 'deleted') fs.rmSync(`${activeFile}-shm`, { force: true });
          else if (shm === 'crashed writer') put(`${activeFile}-shm`, crashed, 0o644);
          else if (shm !== 'as closed') put(`${activeFile}-shm`, shm, 0o644);
          const context = `-shm ${typeof shm === 'string' ? shm : `garbage of ${shm.length} bytes`}; ` +
            targets.map((t) => `segment ${t.seg < 0 ? active : t.seg % segments.length}: ${describeCase({ label: '' }, t.mutations)}`).join('; ');
          // The whole planted frames still there, by segment and index.
          const plantedPayload = (k: number, index: number): Uint8Array | undefined => {
            const bytes = mutated.get(k);
            // (Its padding is no part of it: no CRC covers it.)
            const whole = (p: Planted) => bytes?.subarray(p.at, p.at + 16 + p.payload.length).equals(p.frame.subarray(0, 16 + p.payload.length));
            return planted.get(k)?.filter((p) => p.index === index && whole(p)).at(-1)?.payload;
          };
          // Records of the active segment whose write ends before its first mutated byte are never lost.
          const activeBytes = base.files.find((f) => f.name === segments[active]!.name)!.bytes;
          const firstChanged = mutated.has(active) ? firstDiff(activeBytes, mutated.get(active)!) : Infinity;
          const keptAtLeast = activeFirstId - 1 + segments[active]!.writeEnds.filter((e) => e <= firstChanged).length;

          let log: Log;
          try {
            log = await Log.open(dir, LOG_OPTIONS);
          } catch (e) {
            figures.outcome(`open ${typedCode(e, context)}`);
            figures.time(performance.now() - started);
            return;
          }
          let lastId: number;
          try {
            lastId = log.lastId;
            expect(log.firstId, context).toBe(1);
            expect(lastId, `${context}: records whose write ended before the first mutated byte were dropped`).toBeGreaterThanOrEqual(keptAtLeast);
            // NOTE: a whole frame (its CRC, its index, a type) planted right after the last record
            // is what a writer killed after writing it, before its append returned, leaves: the
            // rules keep it as the next record (test/log-recovery.test.ts: "may be kept or
            // dropped"). Any id past the last written must be such a frame, byte for byte.
            const expected = (id: number): Uint8Array | undefined =>
              id <= N ? base.records[id - 1] : plantedPayload(active, id - activeFirstId);
            if (lastId > N) figures.note('planted frame kept as a record', lastId - N);
            if (lastId < N) figures.note('records dropped (torn or cut active segment)', N - lastId);
            const unreadable = new Map<string, number>();
            for (let id = 1; id <= lastId; id++) {
              const want = expected(id);
              expect(want, `${context}: lastId ${lastId} is past the last record written (${N}) and record ${id} is no planted frame`).toBeDefined();
              let data: Buffer | undefined;
              try {
                data = log.get(id);
              } catch (e) {
                const code = typedCode(e, `${context}: get(${id})`);
                const k = segmentOf(id);
                expect(k < active && mutated.has(k), `${context}: get(${id}) failed with ${code} though its segment ${k} ${k >= active ? 'was checked at open' : 'was not mutated'}: ${(e as Error).message}`).toBe(true);
                expect([ErrorCode.CORRUPT_DATA, ErrorCode.CORRUPTED, ErrorCode.EMPTY_FILE], `${context}: get(${id})`).toContain(code);
                unreadable.set(code, (unreadable.get(code) ?? 0) + 1);
              }
              if (data !== undefined) expect(data.equals(want!), `${context}: get(${id}) returned other bytes than were written`).toBe(true);
            }
            for (const [code, n] of unreadable) figures.note(`get ${code}`, n);
            // The iterator: consecutive ids, the bytes written, or a typed error at a record (then on after it).
            let next = 1;
            while (next <= lastId) {
              try {
                for (const r of log.iterator(next)) {
                  expect(r.id, `${context}: the iterator skipped an id`).toBe(next);
                  expect(r.data.equals(expected(r.id)!), `${context}: the iterator returned other bytes for ${r.id}`).toBe(true);
                  next++;
                }
                break;
              } catch (e) {
                typedCode(e, `${context}: iterator at ${next}`);
                next++;
              }
            }
            expect(next, `${context}: the iterator ended early`).toBe(lastId + 1);
            const id = log.append(extra);
            expect(id, `${context}: an append after recovery`).toBe(lastId + 1);
          } finally {
            await log.close();
          }
          const again = await Log.open(dir, LOG_OPTIONS);
          try {
            expect(again.lastId, `${context}: reopened`).toBe(lastId + 1);
            expect(again.get(lastId + 1).equals(extra), `${context}: reopened, the record appended after recovery`).toBe(true);
          } finally {
            await again.close();
          }
          figures.outcome(lastId === N ? 'opened, every record' : lastId > N ? 'opened, with a planted record' : 'opened, fewer records');
          figures.time(performance.now() - started);
        }),
        { numRuns: RUNS.log, seed: SEED },
      );
    } finally {
      restoreLog(dir, base);
    }
  }, limit(RUNS.log, 200));
});
