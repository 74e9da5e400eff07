/**
 * Model-based (stateful) property test: random sequences of operations against one AOF in a
 * Manager, checked after every operation against a model (a Buffer of the expected content, plus
 * finished/not). Small geometries make growth, page boundaries and ERR_AOF_FULL frequent.
 *
 * `AOF_MODEL_RUNS=5000 npx vitest run test/model.test.ts` for a long run; `AOF_MODEL_SEED=<n>`
 * (and `AOF_MODEL_PATH=<path>`) replays what a failure printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FileState,
  Geometry,
  MAGIC_CHECKPOINT_BYTES,
  MAGIC_TAIL_BYTES,
  Manager,
  RecoveryKind,
  TailerState,
  type AOF,
  type AppendEvent,
  type ManagerOptions,
  type Tailer,
} from '../src/index.js';
import { codeOf, pseudoRandomBytes, turns, turnsUntil } from './helpers.js';

const PAGE = Geometry.create().validate().pageSize;
const TAIL = Buffer.from(MAGIC_TAIL_BYTES);
const CP = Buffer.from(MAGIC_CHECKPOINT_BYTES);
const NAME = 'model.aof';

const NUM_RUNS = Number(process.env.AOF_MODEL_RUNS ?? 200);
const SEED = process.env.AOF_MODEL_SEED === undefined ? undefined : Number(process.env.AOF_MODEL_SEED);
const PATH = process.env.AOF_MODEL_PATH;

// --- the generated input ------------------------------------------------------------------------

interface Config {
  sizeNow: number;
  sizeUpper: number;
  growthStep: number;
  growAhead: boolean;
  populate: boolean;
  growThreshold: number | undefined;
  flushIntervalMs: number;
}

type BadReturn = 'throw' | 'over' | 'negative' | 'fraction' | 'NaN' | 'string' | 'undefined';

type Op =
  | { t: 'write'; len: number; seed: number; nb: boolean }
  | { t: 'string'; s: string; nb: boolean }
  | { t: 'append'; reserve: number; used: number; via: 'tail' | 'buffer'; scribble: boolean; nb: boolean; seed: number }
  | { t: 'appendBad'; reserve: number; how: BadReturn; scribble: boolean; nb: boolean }
  | { t: 'checkpoint' }
  | { t: 'flush'; how: 'flush' | 'sync' | 'flushSync' | 'syncSync'; then: 'await' | 'write' | 'none'; len: number }
  | { t: 'view'; a: number; b: number; bad: boolean }
  | { t: 'turn'; n: number }
  | { t: 'settle' }
  | { t: 'reopen' }
  | { t: 'finish'; wait: boolean }
  | { t: 'fill'; slack: number; nb: boolean }
  | { t: 'over'; extra: number; append: boolean };

const configArb: fc.Arbitrary<Config> = fc.record({
  sizeNow: fc.constantFrom(PAGE, 2 * PAGE),
  // Small ones listed twice (weights). 320 pages (1.25 MiB with 4 KiB pages): past 1 MiB the AOF
  // swaps its buffer over the mapping, and kept views must still show the same bytes.
  sizeUpper: fc.constantFrom(16 * PAGE, 8 * PAGE, 16 * PAGE, 8 * PAGE, 320 * PAGE),
  growthStep: fc.constantFrom(PAGE, 2 * PAGE, 4 * PAGE),
  growAhead: fc.boolean(),
  populate: fc.boolean(),
  growThreshold: fc.option(fc.constantFrom(0, 1024, PAGE, 3 * PAGE), { nil: undefined }),
  // 1 ms: the Manager's interval flushes run between (and during) the awaited operations.
  flushIntervalMs: fc.constantFrom(1000, 1, 0),
});

const lenArb = fc.oneof({ arbitrary: fc.nat({ max: 3000 }), weight: 6 }, { arbitrary: fc.nat({ max: 20000 }), weight: 1 });
const reserveArb = fc.oneof(
  { arbitrary: fc.nat({ max: 16 }), weight: 2 },
  { arbitrary: fc.nat({ max: 3000 }), weight: 4 },
  { arbitrary: fc.nat({ max: 20000 }), weight: 1 },
);
// ASCII, 2-, 3- and 4-byte UTF-8, and lone surrogates (written as U+FFFD, 3 bytes).
const charArb = fc.oneof(
  { arbitrary: fc.constantFrom('a', 'é', '€', '😀', '\uD800', '\uDFFF', '\u0000'), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 2 },
);
// Mostly short strings, some up to 1500 code units (the measured, growing path).
const stringArb = fc.oneof(
  { arbitrary: fc.string({ unit: charArb, maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: charArb, maxLength: 1500, size: 'max' }), weight: 1 },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('write' as const), len: lenArb, seed: fc.nat(), nb: fc.boolean() }), weight: 12 },
  {
    arbitrary: fc.record({ t: fc.constant('string' as const), s: stringArb, nb: fc.boolean() }),
    weight: 6,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      reserve: reserveArb,
      used: fc.nat(),
      via: fc.constantFrom('tail' as const, 'buffer' as const),
      scribble: fc.boolean(),
      nb: fc.boolean(),
      seed: fc.nat(),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('appendBad' as const),
      reserve: reserveArb,
      how: fc.constantFrom<BadReturn>('throw', 'over', 'negative', 'fraction', 'NaN', 'string', 'undefined'),
      scribble: fc.boolean(),
      nb: fc.boolean(),
    }),
    weight: 4,
  },
  { arbitrary: fc.constant({ t: 'checkpoint' as const }), weight: 4 },
  {
    arbitrary: fc.record({
      t: fc.constant('flush' as const),
      how: fc.constantFrom('flush' as const, 'sync' as const, 'flushSync' as const, 'syncSync' as const),
      // For flush/sync: await it, write while it is in flight and then await it, or leave it to close().
      then: fc.constantFrom('await' as const, 'write' as const, 'none' as const),
      len: fc.nat({ max: 3000 }),
    }),
    weight: 4,
  },
  { arbitrary: fc.record({ t: fc.constant('view' as const), a: fc.nat(), b: fc.nat(), bad: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('turn' as const), n: fc.integer({ min: 1, max: 3 }) }), weight: 6 },
  { arbitrary: fc.constant({ t: 'settle' as const }), weight: 2 },
  { arbitrary: fc.constant({ t: 'reopen' as const }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('finish' as const), wait: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('fill' as const), slack: fc.nat({ max: 16 }), nb: fc.boolean() }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('over' as const), extra: fc.integer({ min: 1, max: 200 }), append: fc.boolean() }), weight: 2 },
);

// --- helpers ------------------------------------------------------------------------------------

/** What the runs exercised (printed with AOF_MODEL_STATS=1): operations by outcome, and events. */
const coverage = new Map<string, number>();
function note(key: string): void {
  coverage.set(key, (coverage.get(key) ?? 0) + 1);
}

/** Throws with the first differing offset when `actual` is not exactly `expected`. */
function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  if (a.equals(expected)) return;
  let i = 0;
  while (i < a.length && i < expected.length && a[i] === expected[i]) i++;
  throw new Error(`${what}: ${a.length} bytes, expected ${expected.length}; first difference at ${i} ` +
    `(got ${a[i]?.toString(16)}, expected ${expected[i]?.toString(16)})`);
}

function firstNonZero(b: Uint8Array, from = 0): number {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return i;
  return -1;
}

/** One subscription per open instance; the bytes it delivered over the whole run, in order. */
class Track {
  readonly received: Buffer[] = [];
  receivedLen = 0;
  readonly errors: string[] = [];
  tailer: Tailer | undefined;
  reasons: string[] = [];

  /** `limit`: bytes taken per poll (less than `end` means "call me again"). */
  constructor(readonly label: string, readonly limit: number) {}

  subscribe(aof: AOF, model: () => Buffer): void {
    const reasons: string[] = [];
    this.reasons = reasons;
    this.tailer = aof.subscribe({
      pollRead: (ev) => {
        const content = model();
        if (ev.begin !== this.receivedLen) this.errors.push(`${this.label}: begin ${ev.begin}, delivered ${this.receivedLen}`);
        if (ev.end !== content.length) this.errors.push(`${this.label}: end ${ev.end}, model size ${content.length}`);
        if (ev.eof !== (aof.state === FileState.EOF)) this.errors.push(`${this.label}: eof ${ev.eof} in state ${aof.state}`);
        const take = Math.min(ev.end - ev.begin, this.limit);
        const chunk = Buffer.from(ev.tail.subarray(0, take));
        if (!chunk.equals(content.subarray(ev.begin, ev.begin + take))) {
          this.errors.push(`${this.label}: bytes [${ev.begin}, ${ev.begin + take}) differ from the model`);
        }
        this.received.push(chunk);
        this.receivedLen += take;
        return ev.begin + take;
      },
      pollReadClosed: (r) => {
        reasons.push(r.reason);
      },
    }, { interval: 0, from: this.receivedLen });
  }

  bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

// --- one run ------------------------------------------------------------------------------------

class Run {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aof-model-'));
  readonly file = path.join(this.dir, NAME);
  readonly geometry: Geometry;
  readonly options: ManagerOptions;
  m: Manager;
  aof: AOF;
  /** The model: committed content, and whether the file was finished. */
  content = Buffer.alloc(0);
  finished = false;
  /** finish() of the current instance (a reopened finished file has none). */
  finishing: Promise<void> | undefined;
  /** The finish has completed (the file on disk is final). */
  finishDone = false;
  /** Rejections of flushes nobody awaited. */
  readonly background: unknown[] = [];
  /** flush/sync/finish promises not awaited by their operation: close() must wait for them. */
  unawaited: { what: string; settled: boolean }[] = [];
  /** Content size when the current instance was opened (stats.bytesWritten counts from it). */
  sizeAtOpen = 0;
  /** Views kept from earlier operations: zero-copy, they must keep showing the same bytes until close. */
  views: { v: Buffer; a: number; b: number }[] = [];
  readonly tracks = [new Track('tailer', Infinity), new Track('slow tailer', 1000)];
  log: string[] = [];

  constructor(readonly cfg: Config) {
    this.geometry = Geometry.create().with(cfg.sizeNow, cfg.sizeUpper, cfg.growthStep);
    this.options = {
      growAhead: cfg.growAhead, populate: cfg.populate, growThreshold: cfg.growThreshold, flushIntervalMs: cfg.flushIntervalMs,
    };
    this.m = new Manager(this.dir, this.options);
    this.aof = this.m.open(NAME, this.geometry);
    expect(this.aof.state).toBe(FileState.Opened);
    expect(this.aof.recovery.kind).toBe(RecoveryKind.Empty);
    for (const t of this.tracks) t.subscribe(this.aof, () => this.content);
  }

  get len(): number {
    return this.content.length;
  }

  /** The error a write needing `n` more content bytes must throw, or undefined when it must succeed. */
  expectedError(n: number, mayBlock: boolean): string | undefined {
    if (this.finished) return 'ERR_AOF_READ_ONLY';
    const needed = this.len + n + 8;
    if (needed > this.cfg.sizeUpper) return 'ERR_AOF_FULL';
    if (!mayBlock && needed > this.aof.fileSize) return 'ERR_AOF_WOULD_BLOCK';
    return undefined;
  }

  /** Runs a write that needs `need` bytes of room and, when it succeeds, appends `bytes`. */
  doWrite(need: number, mayBlock: boolean, fn: () => number, bytes: Buffer, what: string): boolean {
    const expected = this.expectedError(need, mayBlock);
    let result: number | undefined;
    const code = codeOf(() => {
      result = fn();
    });
    expect(code, `${what}: size ${this.len}, need ${need}, fileSize ${this.aof.fileSize}`).toBe(expected);
    note(`${what} -> ${expected ?? 'ok'}`);
    if (expected !== undefined) return false;
    expect(result, what).toBe(bytes.length);
    this.content = Buffer.concat([this.content, bytes]);
    return true;
  }

  /** Leaves `p` running; its rejection fails the next check. */
  leave(what: string, p: Promise<void>): void {
    const entry = { what, settled: false };
    this.unawaited.push(entry);
    p.then(() => {
      entry.settled = true;
    }, (e: unknown) => {
      entry.settled = true;
      this.background.push(e);
    });
  }

  /** The invariants, after every operation. */
  check(where: string): void {
    const { aof, content, cfg } = this;
    for (const t of this.tracks) expect(t.errors, where).toEqual([]);
    expect(this.background, `${where}: flushes not awaited`).toEqual([]);
    expect(aof.state, where).toBe(this.finished ? FileState.EOF : FileState.Opened);
    expect(aof.readOnly, where).toBe(this.finished);
    expect(aof.size, where).toBe(content.length);
    expectBytes(aof.view(), content, `${where}: view()`);
    for (const { v, a, b } of this.views) expectBytes(v, content.subarray(a, b), `${where}: kept view [${a}, ${b})`);
    const disk = fs.readFileSync(this.file);
    if (this.finished && this.finishDone) {
      expect(aof.fileSize, where).toBe(content.length + 8);
      expectBytes(disk, Buffer.concat([content, CP]), `${where}: finished file on disk`);
    } else if (this.finished) {
      // finish() in flight: the marker is in place at once; the truncate comes later.
      expectBytes(disk.subarray(0, content.length + 8), Buffer.concat([content, CP]), `${where}: finishing file on disk`);
      expect(firstNonZero(disk, content.length + 8), `${where}: finishing file past its marker`).toBe(-1);
    } else {
      expect(aof.fileSize % PAGE, where).toBe(0);
      expect(aof.fileSize, where).toBeGreaterThanOrEqual(Math.max(cfg.sizeNow, content.length + 8));
      expect(aof.fileSize, where).toBeLessThanOrEqual(cfg.sizeUpper);
      // A background grow may have extended the file before the AOF maps the new part.
      expect(disk.length, where).toBeGreaterThanOrEqual(aof.fileSize);
      expect(disk.length, where).toBeLessThanOrEqual(cfg.sizeUpper);
      this.checkDiskOpened(disk, where);
    }
    expect(this.m.stats().bytesWritten, `${where}: stats.bytesWritten`).toBe(content.length - this.sizeAtOpen);
  }

  /** content, tail magic, zeros. */
  checkDiskOpened(disk: Buffer, where: string): void {
    const n = this.len;
    expectBytes(disk.subarray(0, n), this.content, `${where}: content on disk`);
    expectBytes(disk.subarray(n, n + 8), TAIL, `${where}: tail magic on disk at ${n}`);
    expect(firstNonZero(disk, n + 8), `${where}: first non-zero byte past the tail magic (disk ${disk.length})`).toBe(-1);
  }

  /** Waits until background growth has landed and every tailer has caught up. */
  async settle(): Promise<void> {
    if (this.finishing) await this.finishing;
    await turnsUntil(() => fs.statSync(this.file).size === this.aof.fileSize, 'file size on disk to equal aof.fileSize');
    await turnsUntil(() => this.tracks.every((t) => t.receivedLen === this.len), 'tailers to catch up');
    if (this.finished) {
      await turnsUntil(() => this.tracks.every((t) => t.tailer!.state === TailerState.EOF ||
        t.tailer!.state === TailerState.Closed), 'tailers to reach EOF');
      for (const t of this.tracks) expect(t.reasons).toEqual(['eof']);
    } else {
      for (const t of this.tracks) expect(t.reasons).toEqual([]);
    }
    for (const t of this.tracks) expectBytes(t.bytes(), this.content, `${t.label}: delivered bytes`);
  }

  async reopen(): Promise<void> {
    const old = this.aof;
    const lastFileSize = old.fileSize;
    await this.m.close();
    const pending = this.unawaited.filter((u) => !u.settled).map((u) => u.what);
    this.unawaited = [];
    expect(pending, 'jobs still running after close() resolved (close() waits for in-flight flush/sync/finish)').toEqual([]);
    // Reopen at once: once close() has resolved the file is free (its writer lock released).
    const disk = fs.readFileSync(this.file);
    this.m = new Manager(this.dir, this.options);
    const aof = this.m.open(NAME, this.geometry);
    this.aof = aof;

    expect(old.state).toBe(FileState.Closed);
    expect(codeOf(() => old.write('x'))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => old.view())).toBe('ERR_AOF_CLOSED');
    for (const { v, a, b } of this.views) {
      expect(v.length).toBe(b - a);
      expect(firstNonZero(v), `view [${a}, ${b}) kept past close reads zeros`).toBe(-1);
    }
    this.views = [];
    for (const t of this.tracks) {
      expect(t.errors).toEqual([]);
      expect(t.reasons.length, `${t.label}: pollReadClosed calls`).toBe(1);
      const eof = this.finished && t.receivedLen === this.len;
      if (t.reasons[0] !== 'file-closed') expect([t.label, t.reasons[0], eof]).toEqual([t.label, 'eof', true]);
      expect(t.tailer!.state === TailerState.Closed || (t.reasons[0] === 'eof' && t.tailer!.state === TailerState.EOF)).toBe(true);
    }
    // The file as close() left it (opening a valid file does not change its bytes).
    if (this.finished) {
      expectBytes(disk, Buffer.concat([this.content, CP]), 'finished file on disk after close');
    } else {
      expect(disk.length % PAGE).toBe(0);
      expect(disk.length).toBeGreaterThanOrEqual(lastFileSize);
      this.checkDiskOpened(disk, 'after close');
    }

    this.finishing = undefined;
    this.finishDone = this.finished;
    this.sizeAtOpen = this.len;
    const n = this.len;
    if (this.finished) {
      expect(aof.recovery).toMatchObject({ kind: RecoveryKind.Checkpoint, checkpoint: n, tail: n + 8, end: n + 8, fileSize: n + 8 });
      expect(aof.state).toBe(FileState.EOF);
      expect(aof.readOnly).toBe(true);
      expect(aof.fileSize).toBe(n + 8);
    } else {
      expect(aof.recovery).toMatchObject({
        kind: RecoveryKind.Tail, tail: n, end: n + 8, checkpoint: this.content.lastIndexOf(CP), fileSize: disk.length,
      });
      expect(aof.state).toBe(FileState.Opened);
      expect(aof.fileSize).toBe(Math.max(disk.length, this.cfg.sizeNow));
      expect(fs.statSync(this.file).size).toBe(aof.fileSize);
    }
    expect(aof.size).toBe(n);
    for (const t of this.tracks) t.subscribe(aof, () => this.content);
  }

  async step(op: Op): Promise<void> {
    const aof = this.aof;
    const fileSizeBefore = aof.fileSize;
    switch (op.t) {
      case 'write': {
        const data = pseudoRandomBytes(op.len, op.seed);
        this.doWrite(data.length, !op.nb, () => (op.nb ? aof.writeNonBlocking(data) : aof.write(data)), data, 'write');
        break;
      }
      case 'string': {
        const bytes = Buffer.from(op.s, 'utf8');
        this.doWrite(bytes.length, !op.nb, () => (op.nb ? aof.writeNonBlocking(op.s) : aof.write(op.s)), bytes, 'write(string)');
        break;
      }
      case 'append': {
        const { reserve } = op;
        const k = op.used % (reserve + 1);
        const data = pseudoRandomBytes(k, op.seed);
        const begin = this.len;
        const problems: string[] = [];
        let calls = 0;
        const fn = (ev: AppendEvent): number => {
          calls++;
          if (ev.begin !== begin) problems.push(`ev.begin ${ev.begin}, expected ${begin}`);
          if (ev.reserve !== reserve) problems.push(`ev.reserve ${ev.reserve}`);
          if (aof.size !== begin) problems.push(`size ${aof.size} inside the callback`);
          if (ev.buffer.length < begin + reserve) problems.push(`ev.buffer is ${ev.buffer.length} bytes`);
          const reserved = op.via === 'tail' ? ev.tail : ev.buffer.subarray(begin, begin + reserve);
          if (reserved.length !== reserve) problems.push(`reserved view is ${reserved.length} bytes`);
          const nz = firstNonZero(reserved);
          if (nz >= 0) problems.push(`reserve not zero-filled at +${nz}`);
          if (op.scribble) reserved.fill(0x5a);
          if (op.via === 'tail') data.copy(ev.tail, 0);
          else ev.buffer.set(data, ev.begin);
          return k;
        };
        const ok = this.doWrite(reserve, !op.nb, () => (op.nb ? aof.appendNonBlocking(reserve, fn) : aof.append(reserve, fn)), data, 'append');
        expect(problems).toEqual([]);
        expect(calls, 'append callback calls').toBe(ok ? 1 : 0);
        break;
      }
      case 'appendBad': {
        const { reserve } = op;
        let calls = 0;
        const fn = (ev: AppendEvent): number => {
          calls++;
          if (op.scribble) ev.tail.fill(0x66);
          switch (op.how) {
            case 'throw': throw new Error('callback failed');
            case 'over': return reserve + 1;
            case 'negative': return -1;
            case 'fraction': return 0.5;
            case 'NaN': return NaN;
            case 'string': return '1' as unknown as number;
            case 'undefined': return undefined as unknown as number;
          }
        };
        const expected = this.expectedError(reserve, !op.nb) ?? 'ERR_AOF_APPEND_FUNC';
        const code = codeOf(() => (op.nb ? aof.appendNonBlocking(reserve, fn) : aof.append(reserve, fn)));
        expect(code, `bad append (${op.how}), reserve ${reserve}, size ${this.len}, fileSize ${aof.fileSize}`).toBe(expected);
        note(`bad append -> ${expected}`);
        expect(calls).toBe(expected === 'ERR_AOF_APPEND_FUNC' ? 1 : 0);
        break;
      }
      case 'checkpoint': {
        const expected = this.expectedError(8, true);
        let at: number | undefined;
        expect(codeOf(() => (at = aof.checkpoint())), `checkpoint at size ${this.len}`).toBe(expected);
        note(`checkpoint -> ${expected ?? 'ok'}`);
        if (expected === undefined) {
          expect(at).toBe(this.len);
          this.content = Buffer.concat([this.content, CP]);
        }
        break;
      }
      case 'flush': {
        if (op.how === 'flushSync') aof.flushSync();
        else if (op.how === 'syncSync') aof.syncSync();
        else {
          const p = op.how === 'flush' ? aof.flush() : aof.sync();
          if (op.then === 'none') {
            this.leave(`${op.how}() at size ${this.len}`, p);
            break;
          }
          if (op.then === 'write') {
            const data = pseudoRandomBytes(op.len, op.len);
            this.doWrite(data.length, true, () => aof.write(data), data, 'write during flush');
          }
          await p;
        }
        break;
      }
      case 'view': {
        const n = this.len;
        const a = op.a % (n + 1);
        const b = a + (op.b % (n - a + 1));
        const v = aof.view(a, b);
        expectBytes(v, this.content.subarray(a, b), `view(${a}, ${b})`);
        this.views.push({ v, a, b });
        if (this.views.length > 6) this.views.shift();
        if (op.bad) {
          expect(codeOf(() => aof.view(0, n + 1))).toBe('ERR_AOF_INVALID_ARG');
          expect(codeOf(() => aof.view(n + 1))).toBe('ERR_AOF_INVALID_ARG');
          expect(codeOf(() => aof.view(-1))).toBe('ERR_AOF_INVALID_ARG');
          if (b > a) expect(codeOf(() => aof.view(b, a))).toBe('ERR_AOF_INVALID_ARG');
        }
        break;
      }
      case 'turn': {
        await turns(op.n);
        // Writes wake tailers once per turn: a tailer that takes everything is caught up after one.
        const t = this.tracks[0]!;
        expect(t.receivedLen, 'tailer position after a turn').toBe(this.len);
        break;
      }
      case 'settle':
        await this.settle();
        break;
      case 'reopen':
        await this.reopen();
        break;
      case 'finish': {
        if (this.finishing) {
          expect(aof.finish()).toBe(this.finishing);
          await this.finishing;
        } else if (this.finished) {
          expect(codeOf(() => aof.finish())).toBe('ERR_AOF_READ_ONLY');
        } else {
          const p = aof.finish();
          this.finishing = p;
          this.finished = true;
          p.then(() => {
            if (this.aof === aof) this.finishDone = true;
          }, () => {});
          expect(aof.state).toBe(FileState.EOF);
          expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_READ_ONLY');
          if (op.wait) await p;
          else this.leave(`finish() at size ${this.len}`, p);
        }
        break;
      }
      case 'fill': {
        const n = Math.max(0, this.cfg.sizeUpper - this.len - 8 - op.slack);
        const data = pseudoRandomBytes(n, n + op.slack);
        this.doWrite(n, !op.nb, () => (op.nb ? aof.writeNonBlocking(data) : aof.write(data)), data, 'fill');
        break;
      }
      case 'over': {
        const n = this.cfg.sizeUpper - this.len - 8 + op.extra;
        const expected = this.finished ? 'ERR_AOF_READ_ONLY' : 'ERR_AOF_FULL';
        let calls = 0;
        const code = op.append
          ? codeOf(() => aof.append(n, () => ++calls && 0))
          : codeOf(() => aof.write(Buffer.alloc(n, 0x33)));
        expect(code, `a write of ${n} bytes at size ${this.len}`).toBe(expected);
        expect(calls).toBe(0);
        break;
      }
    }
    if (op.t !== 'write' && op.t !== 'string' && op.t !== 'append' && op.t !== 'appendBad' && op.t !== 'checkpoint' && op.t !== 'fill') note(op.t);
    this.check(`after ${JSON.stringify(op).slice(0, 120)}`);
    if (this.aof.fileSize === this.cfg.sizeUpper) note('fileSize at sizeUpper');
    if (this.len > 1024 * 1024) note(this.views.some((v) => v.b > 0) ? 'past 1 MiB, with kept views' : 'past 1 MiB');
    if (aof === this.aof && aof.fileSize !== fileSizeBefore) note('fileSize changed');
  }

  async dispose(): Promise<void> {
    try {
      await this.m.close();
    } catch {
      // The failure being reported matters more.
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function runOps(cfg: Config, ops: Op[]): Promise<void> {
  const run = new Run(cfg);
  try {
    run.check('after open');
    for (const op of ops) await run.step(op);
    note(`blocking grows ${Math.min(run.m.stats().blockingGrows.count, 3)}${run.m.stats().blockingGrows.count >= 3 ? '+' : ''}`);
    await run.settle();
    await run.reopen();
    run.check('after the final reopen');
    await run.settle();
  } finally {
    await run.dispose();
  }
}

/**
 * Counterexamples found by this property, replayed before the random runs.
 * 1. close() does not wait for the fsync of a sync() that was still flushing when close() was
 *    called: sync() tracks its fsync only after its flush resolves, after close() took its snapshot
 *    of the in-flight jobs. The fsync then runs on a closed descriptor (sync() rejects with EBADF)
 *    or holds the file, and its writer lock, past close(): reopening gives ERR_AOF_LOCKED.
 */
const EXAMPLES: [Config, Op[]][] = [
  [
    { sizeNow: 4096, sizeUpper: 65536, growthStep: 4096, growAhead: false, populate: false, growThreshold: undefined, flushIntervalMs: 1000 },
    [{ t: 'write', len: 1, seed: 0, nb: false }, { t: 'flush', how: 'sync', then: 'none', len: 0 }, { t: 'reopen' }],
  ],
];

describe('AOF against a model (fast-check)', () => {
  it(`matches the model after every operation (${NUM_RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.array(opArb, { maxLength: 40, size: 'max' }), runOps),
      { numRuns: NUM_RUNS, seed: SEED, path: PATH, endOnFailure: SEED !== undefined && PATH !== undefined, examples: EXAMPLES },
    );
    if (process.env.AOF_MODEL_STATS) {
      console.log([...coverage].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join('\n'));
    }
  }, Math.max(60_000, NUM_RUNS * 1000));
});
