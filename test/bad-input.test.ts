/**
 * Bad input matrix. Every public function, method, constructor and option
 * exported from src/index.ts gets a table of bad values: wrong types (string for number, object,
 * symbol, bigint, function, null, undefined where required), negative, NaN, ±Infinity, fractions,
 * huge numbers (2**53, Number.MAX_VALUE), empty or meaningless buffers, names that would escape
 * the manager's directory, directories that do not exist or cannot be created or written, and
 * files that are not AOFs. For each value:
 *
 * - the call throws (a synchronous API) or rejects (an async one) an `AofError` with the expected
 *   stable `code`; for argument errors the message says what was expected and what was given;
 * - nothing is written and nothing is lost: every file under the test's directory has the same
 *   bytes and mode afterwards (a sha256 each) and no file appeared or went away;
 * - afterwards the object still works: a good call succeeds and sees exactly the old content.
 *
 * One test per function/option (its values in a loop, each failure named by its value).
 * `null` counts as "not given" where the library reads an option with `??` (documented
 * defaults), so it is listed as bad only where the API refuses it. No API rejects unknown option
 * names, so none are listed (no such policy is invented here). Methods without arguments (flush,
 * sync, finish, close, stats, …) have no bad values; their misuse in a wrong state is in
 * test/errors.test.ts.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AofError, ErrorCode, Geometry, Log, MAGIC_TAIL_BYTES, MAX_FILE_SIZE, Manager, RecoveryKind, StateLog, TailerState,
  crc32c, openReader, recoverWithMagic, type AOF, type CloseReason, type Reader,
} from '../src/index.js';
import { describe as describeValue } from '../src/errors.js';
import { DIST, codeOf, deferred, isRoot, runNode, skipTitle, nextTurn, pseudoRandomBytes, quietManager, sha256, tmpDir, turnsUntil } from './helpers.js';

const PAGE = 4096;
const BEFORE = 'before';

// --- the fixture: a directory with an AOF, a closed AOF, a record log, a state log --------------

class Fixture {
  readonly root = tmpDir('aof-bad-input-');
  /** The manager's directory, inside root: a name that escapes it would land in root. */
  readonly dir = path.join(this.root, 'm');
  readonly manager = quietManager(this.dir);
  readonly aof: AOF;
  #log: Log | undefined;
  #stateLog: StateLog | undefined;
  #reader: Reader | undefined;

  constructor() {
    const other = this.manager.open('other.aof');
    other.write('kept');
    this.aof = this.manager.open('data.aof');
    this.aof.write(BEFORE);
  }

  async ready(): Promise<void> {
    await this.manager.open('other.aof').close();
    await nextTurn(); // the control block's publish (a microtask) has happened
  }

  get logDir(): string {
    return path.join(this.root, 'log');
  }

  /** A record log on disk: two segments (one sealed), ids 1…40. */
  async log(): Promise<Log> {
    if (!this.#log) {
      const log = await Log.open(this.logDir, { segmentSize: PAGE });
      for (let id = 1; id <= 40; id++) log.append(pseudoRandomBytes(100, id));
      await log.sync(); // the roll's seal has completed
      this.#log = log;
    }
    return this.#log;
  }

  async stateLog(): Promise<StateLog> {
    if (!this.#stateLog) {
      const st = await StateLog.open(path.join(this.root, 'state'));
      st.snapshot(Buffer.from('{"n":1}'));
      st.update(Buffer.from('+1'));
      await st.sync();
      this.#stateLog = st;
    }
    return this.#stateLog;
  }

  /** A cross-process reader of data.aof (polling; no tailers, so no thread and no timer). */
  reader(): Reader {
    this.#reader ??= openReader(path.join(this.dir, 'data.aof'), { wake: 'poll' });
    return this.#reader;
  }

  async close(): Promise<void> {
    await this.#reader?.close();
    await this.#stateLog?.close();
    await this.#log?.close();
    await this.manager.close();
  }
}

/** Every file and directory under `root`: type, mode, and a sha256 of a regular file's bytes. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(p, r);
      } else if (st.isFile()) {
        out[r] = `file ${mode} ${st.size} ${sha256(fs.readFileSync(p))}`;
      } else if (st.isSymbolicLink()) {
        out[r] = `link -> ${fs.readlinkSync(p)}`;
      } else {
        out[r] = `other ${mode}`; // a FIFO: never opened
      }
    }
  };
  walk(root, '');
  return out;
}

// --- the matrix's rows ---------------------------------------------------------------------------

/** A value computed from the fixture (paths inside it, sizes of its files). */
class Lazy {
  constructor(readonly make: (f: Fixture) => unknown) {}
}
const lazy = (make: (f: Fixture) => unknown): Lazy => new Lazy(make);

/** A value whose expected code or message differs from its row's. */
class Bad {
  constructor(readonly value: unknown, readonly code?: ErrorCode, readonly message?: RegExp | 'path') {}
}
const bad = (value: unknown, code?: ErrorCode, message?: RegExp | 'path'): Bad => new Bad(value, code, message);

type Values = Record<string, unknown>;

interface Row<T = any> {
  /** The test's name: a behaviour sentence. */
  name: string;
  /** The object called (created before the snapshot). */
  target: (f: Fixture) => T | Promise<T>;
  /** The call with one bad value. */
  call: (t: T, bad: any, f: Fixture) => unknown;
  values: Values;
  /** 'async': the API returns a promise, which must reject; 'sync' (default): it must throw. */
  kind?: 'sync' | 'async';
  code?: ErrorCode;
  /**
   * What the message must say. Default: "<what>: expected <…>, got <the value>" (the value as
   * the library renders it). 'path': it names the path given.
   */
  message?: RegExp | 'path';
  /** A good call afterwards: the object still works, and sees exactly what was there before. */
  works: (t: T, f: Fixture) => unknown;
}

const row = <T>(r: Row<T>): Row => r as Row;

const INVALID = 'ERR_AOF_INVALID_ARG';

// Bad values, by what was expected. Labels name the kind of bad value.
const NOT_NUMBERS: Values = {
  'a numeric string': '1', 'an empty string': '', 'an object': {}, 'an array': [1], 'a symbol': Symbol('bad'),
  'a bigint': 1n, 'a function': () => 1, 'true': true, 'null': null,
};
const BAD_NUMBERS: Values = {
  '-1': -1, 'NaN': NaN, 'Infinity': Infinity, '-Infinity': -Infinity, '1.5': 1.5, '2**53': 2 ** 53,
  'Number.MAX_VALUE': Number.MAX_VALUE,
};
/** For a size, count or id: a non-negative safe integer. */
const NOT_SIZES: Values = { ...NOT_NUMBERS, ...BAD_NUMBERS };
const NOT_BOOLEANS: Values = {
  'a string': 'true', 'an empty string': '', '1': 1, '0': 0, 'an object': {}, 'a symbol': Symbol('bad'), 'null': null,
};
const NOT_OBJECTS: Values = {
  'null': null, 'a string': 'x', 'a number': 42, 'a symbol': Symbol('bad'), 'a bigint': 1n, 'true': true,
  'a function': () => ({}),
};
const NOT_FUNCTIONS: Values = {
  'a string': 'fn', 'a number': 42, 'an object': {}, 'null': null, 'a symbol': Symbol('bad'), 'true': true,
};
const NOT_BYTES: Values = {
  'a number': 42, 'null': null, 'undefined': undefined, 'an object': {}, 'an array of numbers': [1, 2],
  'a symbol': Symbol('bad'), 'a bigint': 1n, 'true': true, 'a function': () => 1,
  'a Float64Array': new Float64Array(2), 'a DataView': new DataView(new ArrayBuffer(4)), 'an ArrayBuffer': new ArrayBuffer(4),
};
const NOT_PATHS: Values = {
  'an empty string': '', 'a number': 42, 'null': null, 'undefined': undefined, 'an object': {}, 'a symbol': Symbol('bad'),
  'a path with a NUL byte': 'dir\0name',
};
const NOT_SIGNALS: Values = {
  'an object': {}, 'a string': 'abort', 'a number': 42, 'null': null, 'true': true, 'an AbortController': new AbortController(),
};
/** Names that are not a plain file name in the manager's directory (or would escape it). */
const NOT_NAMES: Values = {
  'an empty name': '', '"."': '.', '".."': '..', '"../escape.aof"': '../escape.aof', '"sub/x.aof"': 'sub/x.aof',
  'an absolute path': '/etc/passwd', 'an absolute path into the directory itself': lazy((f) => path.join(f.dir, 'data.aof')),
  '"../m/data.aof"': '../m/data.aof', 'a backslash': 'a\\b.aof', 'a NUL byte': 'nul\0.aof',
  'a name of 252 bytes': 'n'.repeat(252), 'a name of 252 bytes in 2-byte characters': 'é'.repeat(126),
  'a number': 42, 'null': null, 'undefined': undefined, 'an object': {}, 'a symbol': Symbol('bad'),
};
/** Plain objects, not Geometry instances. */
const NOT_GEOMETRIES: Values = {
  'an empty object': {}, "a Geometry's fields as a plain object": { ...Geometry.create() }, 'a string': 'x',
  'a number': 4096, 'null': null, 'a symbol': Symbol('bad'), 'a function': Geometry.create,
};

const omit = (values: Values, ...labels: string[]): Values =>
  Object.fromEntries(Object.entries(values).filter(([label]) => !labels.includes(label)));

// --- running a row -------------------------------------------------------------------------------

/** What `call` throws (sync) or rejects with (async), checking which of the two it was. */
async function failureOf(kind: 'sync' | 'async', call: () => unknown, label: string): Promise<unknown> {
  let result: unknown;
  try {
    result = call();
  } catch (e) {
    expect(kind, `${label}: threw synchronously from an async API`).toBe('sync');
    return e;
  }
  if (result instanceof Promise || (result && typeof (result as Promise<unknown>).then === 'function')) {
    expect(kind, `${label}: returned a promise from a sync API`).toBe('async');
    try {
      await result;
    } catch (e) {
      return e;
    }
  }
  // It was accepted: release what it made, then fail.
  const made = result as { close?: () => unknown; destroy?: () => unknown } | undefined;
  if (made && typeof made.close === 'function') await made.close();
  else if (made && typeof made.destroy === 'function') made.destroy();
  throw new Error(`${label}: accepted (returned ${describeValue(result)}) instead of failing`);
}

async function runRow(r: Row): Promise<void> {
  const f = new Fixture();
  try {
    await f.ready();
    const target = await r.target(f);
    for (const [label, raw] of Object.entries(r.values)) {
      const entry = raw instanceof Bad ? raw : undefined;
      const inner = entry ? entry.value : raw;
      const value = inner instanceof Lazy ? inner.make(f) : inner;
      const code = entry?.code ?? r.code ?? INVALID;
      const message = entry?.message ?? r.message;
      const before = snapshot(f.root);
      const err = await failureOf(r.kind ?? 'sync', () => r.call(target, value, f), label);
      expect(err, `${label}: ${String(err)}`).toBeInstanceOf(AofError);
      const e = err as AofError;
      expect(e.code, `${label}: ${e.message}`).toBe(code);
      expect(e.name).toBe('AofError');
      if (message === 'path') {
        expect(e.message, label).toContain(value as string);
      } else if (message) {
        expect(e.message, label).toMatch(message);
      } else {
        expect(e.message, label).toMatch(/^\S+: expected .+, got /);
        expect(e.message, label).toContain(`got ${describeValue(value)}`);
      }
      expect(snapshot(f.root), `${label}: nothing written`).toEqual(before);
    }
    await r.works(target, f);
  } finally {
    await f.close();
  }
}

const count = (r: Row): string => `${r.name} (${Object.keys(r.values).length} values)`;

function matrix(title: string, rows: Row[]): void {
  describe(title, () => {
    it.each(rows.map((r) => [count(r), r] as const))('%s', async (_name, r) => runRow(r));
  });
}

/** The AOF still takes writes, and holds exactly what it held plus them. */
function aofWorks(aof: AOF): void {
  expect(aof.write('+ok')).toBe(3);
  expect(aof.view().toString()).toBe(`${BEFORE}+ok`);
}

async function logWorks(log: Log): Promise<void> {
  expect(log.lastId).toBe(40);
  expect(log.get(40).equals(pseudoRandomBytes(100, 40))).toBe(true);
  expect(log.append(Buffer.from('ok'))).toBe(41);
  expect([...log.iterator(40)].map((r) => r.id)).toEqual([40, 41]);
}

// --- Manager -------------------------------------------------------------------------------------

const newDir = (f: Fixture): string => path.join(f.root, 'new-manager');

function managerOption(option: string, values: Values, good: unknown): Row {
  return row({
    name: `new Manager(dir, { ${option} }) refuses a bad ${option} before creating the directory`,
    target: () => undefined,
    call: (_t, v, f) => new Manager(newDir(f), { [option]: v }),
    values,
    works: async (_t, f) => new Manager(newDir(f), { [option]: good, flushIntervalMs: 0 }).close(),
  });
}

matrix('Manager', [
  row({
    name: 'new Manager(dir) refuses a dir that is not a path',
    target: () => undefined,
    call: (_t, v) => new Manager(v),
    values: NOT_PATHS,
    works: async (_t, f) => new Manager(newDir(f)).close(),
  }),
  row({
    name: 'new Manager(dir, options) refuses options that are not an object',
    target: () => undefined,
    call: (_t, v, f) => new Manager(newDir(f), v),
    values: NOT_OBJECTS,
    works: async (_t, f) => new Manager(newDir(f), {}).close(),
  }),
  managerOption('writeMode', { ...NOT_NUMBERS, '-1': -1, 'NaN': NaN, 'Infinity': Infinity, '1.5': 1.5, '0o10000': 0o10000, '2**53': 2 ** 53 }, 0o600),
  managerOption('readMode', { ...NOT_NUMBERS, '-1': -1, 'NaN': NaN, '-Infinity': -Infinity, '0.5': 0.5, '0o10000': 0o10000, 'Number.MAX_VALUE': Number.MAX_VALUE }, 0o400),
  managerOption('growThreshold', NOT_SIZES, 0),
  // 2**31 ms: past what setInterval takes, which would silently make it 1 ms.
  managerOption('flushIntervalMs', { ...NOT_SIZES, '2**31 (past the longest timer)': 2 ** 31 }, 0),
  managerOption('populate', NOT_BOOLEANS, false),
  managerOption('growAhead', NOT_BOOLEANS, false),
  managerOption('controlBlock', NOT_BOOLEANS, false),
  row({
    name: 'manager.open(name) refuses names that are not a plain file name of its directory, creating nothing anywhere',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.open(v),
    values: NOT_NAMES,
    works: (m: Manager) => aofWorks(m.open('data.aof')),
  }),
  row({
    name: 'manager.open(name, geometry) refuses a geometry that is not a Geometry, for a new name',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.open('new.aof', v),
    values: NOT_GEOMETRIES,
    works: (m: Manager) => expect(m.open('new.aof', Geometry.create()).size).toBe(0),
  }),
  row({
    name: 'manager.open(name, geometry) refuses a geometry that is not a Geometry also for a name already open',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.open('data.aof', v),
    values: NOT_GEOMETRIES,
    works: (m: Manager, f) => {
      expect(m.open('data.aof', Geometry.create())).toBe(f.aof);
      aofWorks(f.aof);
    },
  }),
  row({
    name: 'manager.open(name, geometry) refuses sizes a file cannot have before creating it',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.open('new.aof', v),
    values: {
      'sizeUpper below sizeNow': Geometry.create().with(8 * PAGE, PAGE, PAGE),
      'sizeUpper past MAX_FILE_SIZE': Geometry.create().with(PAGE, MAX_FILE_SIZE + PAGE, PAGE),
      'sizeNow past MAX_FILE_SIZE': Geometry.create().withSizeNow(2 ** 40),
      'a pageSize of 2**40': new Geometry({ pageSize: 2 ** 40 }),
    },
    message: /^geometry\.sizeUpper: expected at (least sizeNow \(\d+\)|most \d+ .*), got \d+$/,
    works: (m: Manager) => expect(m.open('new.aof', Geometry.create().with(PAGE, 2 * PAGE, PAGE)).fileSize).toBe(PAGE),
  }),
  row({
    name: 'manager.open(name, geometry, recovery) refuses a recovery that is not a function, also for a name already open',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.open(v === null ? 'data.aof' : 'new.aof', Geometry.create(), v),
    values: NOT_FUNCTIONS,
    works: (m: Manager) => expect(m.open('new.aof', Geometry.create(), recoverWithMagic).size).toBe(0),
  }),
  row({
    name: 'manager.open(name, geometry, recovery) refuses what a recovery function returns when it is not a RecoveryResult: ERR_AOF_CORRUPTED, the file keeps its bytes',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.open('other.aof', Geometry.create(), () => v),
    values: {
      'undefined': undefined, 'null': null, 'a number': 2, 'an empty object': {},
      'an unknown kind': { kind: 99, tail: 0, checkpoint: -1, end: 0, fileSize: PAGE },
      'a kind that is a string': { kind: 'Tail', tail: 0, checkpoint: -1, end: 0, fileSize: PAGE },
      'a negative tail': { kind: RecoveryKind.Tail, tail: -1, checkpoint: -1, end: 0, fileSize: PAGE },
      'a tail past the file': { kind: RecoveryKind.Tail, tail: 2 * PAGE, checkpoint: -1, end: 0, fileSize: PAGE },
      'a fractional tail': { kind: RecoveryKind.Tail, tail: 1.5, checkpoint: -1, end: 0, fileSize: PAGE },
      'a NaN tail': { kind: RecoveryKind.Tail, tail: NaN, checkpoint: -1, end: 0, fileSize: PAGE },
    },
    code: 'ERR_AOF_CORRUPTED',
    message: /other\.aof: (cannot recover \(recovery result: expected an object with a RecoveryKind as kind, got .+\)|recovery gave tail \S+ outside the file)$/,
    works: (m: Manager) => expect(m.open('other.aof').view().toString()).toBe('kept'),
  }),
  row({
    name: 'manager.openAsync(name) rejects names that are not a plain file name of its directory',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAsync(v),
    values: NOT_NAMES,
    kind: 'async',
    works: async (m: Manager) => aofWorks(await m.openAsync('data.aof')),
  }),
  row({
    name: 'manager.openAsync(name, options) rejects options that are not an object',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAsync('new.aof', v),
    values: NOT_OBJECTS,
    kind: 'async',
    works: async (m: Manager) => expect((await m.openAsync('new.aof', {})).size).toBe(0),
  }),
  row({
    name: 'manager.openAsync(name, { lockTimeout }) rejects a lockTimeout that is not a non-negative number of ms',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAsync('new.aof', { lockTimeout: v }),
    values: { ...omit(NOT_NUMBERS, 'null'), '-1': -1, 'NaN': NaN, '-Infinity': -Infinity },
    kind: 'async',
    works: async (m: Manager) => expect((await m.openAsync('new.aof', { lockTimeout: Infinity })).size).toBe(0),
  }),
  row({
    name: 'manager.openAsync(name, { geometry }) rejects a geometry that is not a Geometry',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAsync('new.aof', { geometry: v }),
    values: NOT_GEOMETRIES,
    kind: 'async',
    works: async (m: Manager) => expect((await m.openAsync('new.aof', { geometry: Geometry.create() })).size).toBe(0),
  }),
  row({
    name: 'manager.openAsync(name, { recovery }) rejects a recovery that is not a function',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAsync('new.aof', { recovery: v }),
    values: NOT_FUNCTIONS,
    kind: 'async',
    works: async (m: Manager) => expect((await m.openAsync('new.aof', { recovery: recoverWithMagic })).size).toBe(0),
  }),
  row({
    name: 'manager.openAsync(name, { signal }) rejects a signal that is not an AbortSignal',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAsync('new.aof', { signal: v }),
    values: NOT_SIGNALS,
    kind: 'async',
    works: async (m: Manager) => expect((await m.openAsync('new.aof', { signal: new AbortController().signal })).size).toBe(0),
  }),
  row({
    name: 'manager.openAnonymous(name, size) refuses names that are not a plain file name',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.openAnonymous(v, PAGE),
    values: NOT_NAMES,
    works: (m: Manager) => expect(m.openAnonymous('anon', PAGE).write('x')).toBe(1),
  }),
  row({
    name: 'manager.openAnonymous(name, size) refuses a size that is not an integer from 8 to MAX_FILE_SIZE, also for a name already open',
    target: (f) => {
      f.manager.openAnonymous('anon', PAGE).write('anon');
      return f.manager;
    },
    call: (m: Manager, v) => m.openAnonymous('anon', v),
    values: { ...NOT_SIZES, 'undefined': undefined, '0': 0, '7': 7, 'MAX_FILE_SIZE + 1': MAX_FILE_SIZE + 1 },
    works: (m: Manager) => expect(m.openAnonymous('anon', PAGE).view().toString()).toBe('anon'),
  }),
  row({
    name: 'manager.follow(name) refuses names that are not a plain file name of its directory',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.follow(v),
    values: NOT_NAMES,
    works: async (m: Manager) => {
      const r = m.follow('data.aof', { wake: 'poll' });
      expect(r.view().toString()).toBe(BEFORE);
      await r.close();
    },
  }),
  row({
    name: 'manager.follow(name, options) refuses options that are not an object',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.follow('data.aof', v),
    values: NOT_OBJECTS,
    works: async (m: Manager) => m.follow('data.aof', {}).close(),
  }),
]);

// --- Geometry ------------------------------------------------------------------------------------

function geometryRow(name: string, call: (v: any) => unknown, values: Values): Row {
  return row({
    name,
    target: () => undefined,
    call: (_t, v) => call(v),
    values,
    works: () => expect(Geometry.create().with(PAGE, 4 * PAGE, PAGE).validate().next(PAGE)).toBe(2 * PAGE),
  });
}

/** Sizes in a Geometry: `??` makes null "not given" (0: the default). */
const NOT_GEOMETRY_SIZES = omit(NOT_SIZES, 'null');

matrix('Geometry', [
  geometryRow('new Geometry(fields) refuses fields that are not an object', (v) => new Geometry(v), omit(NOT_OBJECTS)),
  ...['sizeNow', 'sizeUpper', 'growthStep'].map((field) =>
    geometryRow(`new Geometry({ ${field} }) refuses a ${field} that is not a non-negative safe integer`,
      (v) => new Geometry({ [field]: v }), NOT_GEOMETRY_SIZES)),
  geometryRow('new Geometry({ pageSize }) refuses a pageSize that is not a power of two', (v) => new Geometry({ pageSize: v }),
    { ...NOT_GEOMETRY_SIZES, '0': 0, '3': 3, '4097': 4097 }),
  geometryRow('new Geometry({ create }) refuses a create that is not a boolean', (v) => new Geometry({ create: v }),
    omit(NOT_BOOLEANS, 'null')),
  geometryRow('geometry.with(sizeNow, …) refuses a bad sizeNow', (v) => Geometry.create().with(v, 0, 0), NOT_GEOMETRY_SIZES),
  geometryRow('geometry.with(…, sizeUpper, …) refuses a bad sizeUpper', (v) => Geometry.create().with(0, v, 0), NOT_GEOMETRY_SIZES),
  geometryRow('geometry.with(…, growthStep) refuses a bad growthStep', (v) => Geometry.create().with(0, 0, v), NOT_GEOMETRY_SIZES),
  geometryRow('geometry.withSizeNow(n) refuses a bad size', (v) => Geometry.open().withSizeNow(v), NOT_GEOMETRY_SIZES),
  geometryRow('geometry.withCreate(b) refuses a create that is not a boolean', (v) => Geometry.open().withCreate(v),
    omit(NOT_BOOLEANS, 'null')),
  geometryRow('geometry.next(size) refuses a size that is not a non-negative safe integer',
    (v) => Geometry.create().validate().next(v), { ...NOT_SIZES, 'undefined': undefined }),
]);

// --- AOF (and, through the same Followable, a Reader) --------------------------------------------

function appendCall(method: 'append' | 'appendNonBlocking') {
  return (aof: AOF, v: any) => aof[method](v, (ev) => {
    ev.tail.write('x');
    return 1;
  });
}

matrix('AOF', [
  ...(['write', 'writeNonBlocking'] as const).map((method) => row({
    name: `aof.${method}(data) refuses data that is not bytes or a string, writing nothing`,
    target: (f) => f.aof,
    call: (aof: AOF, v) => aof[method](v),
    values: NOT_BYTES,
    works: aofWorks,
  })),
  ...(['append', 'appendNonBlocking'] as const).map((method) => row({
    name: `aof.${method}(reserve, fn) refuses a reserve that is not a non-negative safe integer, writing nothing`,
    target: (f) => f.aof,
    call: appendCall(method),
    values: { ...NOT_SIZES, 'undefined': undefined },
    works: aofWorks,
  })),
  ...(['append', 'appendNonBlocking'] as const).map((method) => row({
    name: `aof.${method}(reserve, fn) refuses a reserve past sizeUpper with ERR_AOF_FULL, writing nothing`,
    target: (f) => f.aof,
    call: appendCall(method),
    values: { '16 MiB (sizeUpper)': 16 * 1024 * 1024, '2**40': 2 ** 40, 'MAX_SAFE_INTEGER': Number.MAX_SAFE_INTEGER },
    code: 'ERR_AOF_FULL',
    message: /data\.aof: \d+ bytes would pass geometry\.sizeUpper 16777216$/,
    works: aofWorks,
  })),
  row({
    name: 'aof.append(reserve, fn) refuses an fn that is not a function, writing nothing',
    target: (f) => f.aof,
    call: (aof: AOF, v) => aof.append(4, v),
    values: { ...NOT_FUNCTIONS, 'undefined': undefined },
    works: aofWorks,
  }),
  row({
    name: 'aof.append(reserve, fn) refuses a count from fn outside 0…reserve (or fn throwing) with ERR_AOF_APPEND_FUNC, writing nothing',
    target: (f) => f.aof,
    call: (aof: AOF, v) => aof.append(4, (ev) => {
      ev.tail.write('junk'); // scribbled into the reserve, then refused
      if (v === 'throws') throw new Error('callback failed');
      return v;
    }),
    values: {
      '-1': -1, '5 (past the reserve)': 5, '1.5': 1.5, 'NaN': NaN, 'Infinity': Infinity, 'a numeric string': '2',
      'undefined': undefined, 'null': null, 'a bigint': 2n, 'an object': {}, 'a throw': 'throws',
    },
    code: 'ERR_AOF_APPEND_FUNC',
    message: /^append callback (must return an integer from 0 to 4, got .*|threw); nothing was written$/,
    works: aofWorks,
  }),
  row({
    name: 'aof.view(begin) refuses a begin that is not an integer within the content',
    target: (f) => f.aof,
    call: (aof: AOF, v) => aof.view(v),
    values: { ...NOT_SIZES, '7 (past the size)': BEFORE.length + 1 },
    works: aofWorks,
  }),
  row({
    name: 'aof.view(begin, end) refuses an end that is not an integer from begin to the size',
    target: (f) => f.aof,
    call: (aof: AOF, v) => aof.view(2, v),
    values: { ...NOT_SIZES, '1 (before begin)': 1, '7 (past the size)': BEFORE.length + 1 },
    works: aofWorks,
  }),
]);

/** subscribe/tail/createReadStream and view: the same bad values for an AOF and for a Reader. */
function followableRows(kind: 'aof' | 'reader'): Row[] {
  const target = (f: Fixture) => (kind === 'aof' ? f.aof : f.reader());
  const who = kind === 'aof' ? 'aof' : 'reader';
  const works = async (source: AOF | Reader): Promise<void> => {
    const got: string[] = [];
    const t = source.subscribe({ pollRead: (ev) => (got.push(ev.tail.toString()), ev.end) });
    await turnsUntil(() => got.length > 0, 'the good tailer polled');
    expect(got.join('')).toBe(BEFORE);
    await t.close();
    expect(t.state).toBe(TailerState.Closed);
  };
  const consumer = { pollRead: (ev: { end: number }) => ev.end };
  const FROMS: Values = { ...omit(NOT_SIZES, 'null'), '7 (past the size)': BEFORE.length + 1 };
  const INTERVALS: Values = {
    ...omit(NOT_NUMBERS, 'null'), '-1': -1, 'NaN': NaN, 'Infinity': Infinity, '2**31 (past the longest timer)': 2 ** 31,
  };
  // One row of this table: the same target and check of a follower that still works.
  const follower = (name: string, call: (s: AOF | Reader, v: any) => unknown, values: Values) =>
    row({ name: `${who}.${name}`, target, call, values, works });
  return [
    row({
      name: `${who}.subscribe(consumer) refuses a consumer without a pollRead method, or with a pollReadClosed that is not a function`,
      target,
      call: (s: AOF | Reader, v) => s.subscribe(v),
      values: {
        'null': null, 'undefined': undefined, 'an empty object': {}, 'a function': () => 0,
        'a string pollRead': { pollRead: 'x' }, 'a string': 'consumer',
        'a string pollReadClosed': bad({ pollRead: () => 0, pollReadClosed: 'x' }, undefined, /^consumer\.pollReadClosed: expected a function \(or none\), got "x"$/),
        'an object pollReadClosed': bad({ pollRead: () => 0, pollReadClosed: {} }, undefined, /^consumer\.pollReadClosed: expected/),
      },
      message: /^consumer: expected an object with a pollRead\(event\) method, got /,
      works,
    }),
    follower(`subscribe(consumer, options) refuses options that are not an object`,
      (s, v) => s.subscribe(consumer, v), NOT_OBJECTS),
    follower(`subscribe(consumer, { from }) refuses a from that is not an integer within the content`,
      (s, v) => s.subscribe(consumer, { from: v }), FROMS),
    follower(`subscribe(consumer, { interval }) refuses an interval that is not a number of ms a timer takes`,
      (s, v) => s.subscribe(consumer, { interval: v }), INTERVALS),
    follower(`tail(options) refuses options that are not an object`,
      (s, v) => s.tail(v), NOT_OBJECTS),
    follower(`tail({ from }) refuses a from that is not an integer within the content`,
      (s, v) => s.tail({ from: v }), FROMS),
    follower(`tail({ signal }) refuses a signal that is not an AbortSignal`,
      (s, v) => s.tail({ signal: v }), NOT_SIGNALS),
    follower(`createReadStream(options) refuses options that are not an object`,
      (s, v) => s.createReadStream(v), NOT_OBJECTS),
    follower(`createReadStream({ start }) refuses a start that is not an integer within the content`,
      (s, v) => s.createReadStream({ start: v }), FROMS),
    follower(`createReadStream({ follow }) refuses a follow that is not a boolean`,
      (s, v) => s.createReadStream({ follow: v }), omit(NOT_BOOLEANS, 'null')),
    follower(`createReadStream({ signal }) refuses a signal that is not an AbortSignal`,
      (s, v) => s.createReadStream({ signal: v }), NOT_SIGNALS),
    follower(`createReadStream({ highWaterMark }) refuses a highWaterMark that is not a non-negative safe integer`,
      (s, v) => s.createReadStream({ highWaterMark: v }), omit(NOT_SIZES, 'null')),
    ...(kind === 'reader' ? [
      row({
        name: 'reader.view(begin, end) refuses a range that is not within the published content',
        target,
        call: (s: any, v) => s.view(v.begin, v.end),
        values: {
          'a negative begin': { begin: -1, end: 0 }, 'a NaN begin': { begin: NaN, end: 0 }, 'a string begin': { begin: '0', end: 1 },
          'an end before begin': { begin: 2, end: 1 }, 'an end past the size': { begin: 0, end: BEFORE.length + 1 },
          'a fractional end': { begin: 0, end: 1.5 }, 'a null end': { begin: 0, end: null },
        },
        message: /^(begin|end): expected an integer from .+, got /,
        works,
      }),
    ] : []),
  ];
}

matrix('AOF followers', followableRows('aof'));

describe('AOF followers, a consumer that returns a bad position', () => {
  it('aof.subscribe closes the tailer with reason "error" and an ERR_AOF_INVALID_ARG, the writer unaffected (10 values)', async () => {
    const values: Values = {
      '-1': -1, '7 (past the end)': BEFORE.length + 1, 'NaN': NaN, '1.5': 1.5, 'a numeric string': '3', 'null': null,
      'undefined': undefined, 'an object': {}, '2**53': 2 ** 53, 'a bigint': 3n,
    };
    await runRow(row({
      name: 'pollRead',
      target: (f) => f.aof,
      call: async (aof: AOF, v) => {
        const closed = deferred<CloseReason>();
        const t = aof.subscribe({ pollRead: () => v, pollReadClosed: (why) => closed.resolve(why) });
        const why = await closed.promise;
        expect(why.reason).toBe('error');
        expect(t.state).toBe(TailerState.Closed);
        throw (why as { error: unknown }).error;
      },
      values,
      kind: 'async',
      message: /^pollRead must return a position from 0 to 6 or STOP, got .+$/,
      works: aofWorks,
    }));
  });

  it('a tail iterator refuses a second next() while the first is pending, and still delivers', async () => {
    const f = new Fixture();
    try {
      await f.ready();
      const it = f.aof.tail({ from: BEFORE.length });
      const first = it.next();
      const err = await it.next().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(AofError);
      expect(err).toMatchObject({ code: INVALID, message: 'next() called before the previous one settled' });
      f.aof.write('+ok');
      const ev = await first;
      expect(ev.done).toBe(false);
      expect(ev.value!.tail.toString()).toBe('+ok');
      await it.return();
    } finally {
      await f.close();
    }
  });
});

// --- openReader ----------------------------------------------------------------------------------

const dataPath = (f: Fixture): string => path.join(f.dir, 'data.aof');

function readerOption(option: string, values: Values, good: unknown): Row {
  return row({
    name: `openReader(path, { ${option} }) refuses a bad ${option}`,
    target: () => undefined,
    call: (_t, v, f) => openReader(dataPath(f), { [option]: v }),
    values,
    works: async (_t, f) => {
      const r = openReader(dataPath(f), { [option]: good });
      expect(r.view().toString()).toBe(BEFORE);
      await r.close();
    },
  });
}

const READER_INTERVALS: Values = {
  ...omit(NOT_NUMBERS, 'null'), '0': 0, '-1': -1, 'NaN': NaN, 'Infinity': Infinity, '2**31 (past the longest timer)': 2 ** 31,
};

matrix('openReader', [
  row({
    name: 'openReader(path) refuses a path that is not a path',
    target: () => undefined,
    call: (_t, v) => openReader(v),
    values: NOT_PATHS,
    works: async (_t, f) => openReader(dataPath(f)).close(),
  }),
  row({
    name: 'openReader(path, options) refuses options that are not an object',
    target: () => undefined,
    call: (_t, v, f) => openReader(dataPath(f), v),
    values: NOT_OBJECTS,
    works: async (_t, f) => openReader(dataPath(f), {}).close(),
  }),
  readerOption('wake', { ...omit(NOT_BOOLEANS, 'null'), 'an unknown mode': 'fast', 'upper case': 'FUTEX', 'a number': 1 }, 'poll'),
  readerOption('interval', READER_INTERVALS, 1),
  readerOption('spinMs', { ...omit(NOT_NUMBERS, 'null'), '-1': -1, 'NaN': NaN, 'Infinity': Infinity }, 0),
  row({
    name: 'manager.follow(name, options) refuses the same bad options as openReader',
    target: (f) => f.manager,
    call: (m: Manager, v) => m.follow('data.aof', v),
    values: {
      'wake "fast"': { wake: 'fast' }, 'interval 0': { interval: 0 }, 'interval 2**31': { interval: 2 ** 31 },
      'interval "10"': { interval: '10' }, 'spinMs -1': { spinMs: -1 }, 'spinMs NaN': { spinMs: NaN },
    },
    message: /^options\.(wake|interval|spinMs): expected .+, got /,
    works: async (m: Manager) => m.follow('data.aof', { wake: 'spin', spinMs: 0 }).close(),
  }),
]);

matrix('Reader followers', followableRows('reader'));

// --- recoverWithMagic and crc32c -----------------------------------------------------------------

function recoveryRow(name: string, call: (v: any) => ReturnType<typeof recoverWithMagic>, values: Values): Row {
  return row({
    name,
    target: () => undefined,
    // It never throws: the error is in a Panic result, which is what is checked here.
    call: (_t, v) => {
      const r = call(v);
      expect(r.kind).toBe(RecoveryKind.Panic);
      throw r.error;
    },
    values,
    works: () => {
      const data = Buffer.alloc(PAGE);
      data.write('abc');
      MAGIC_TAIL_BYTES.copy(data, 3);
      expect(recoverWithMagic(PAGE, data)).toMatchObject({ kind: RecoveryKind.Tail, tail: 3 });
    },
  });
}

matrix('recoverWithMagic and crc32c', [
  recoveryRow('recoverWithMagic(fileSize, …) returns a Panic (never throws) for a fileSize that is not a non-negative safe integer',
    (v) => recoverWithMagic(v, Buffer.alloc(16)), { ...NOT_SIZES, 'undefined': undefined }),
  recoveryRow('recoverWithMagic(…, data) returns a Panic (never throws) for data that is not a Uint8Array',
    (v) => recoverWithMagic(0, v), { ...NOT_BYTES, 'a string': 'bytes' }),
  recoveryRow('recoverWithMagic(…, magic) returns a Panic (never throws) for a magic that is neither a bigint nor 8 bytes',
    (v) => recoverWithMagic(16, Buffer.alloc(16), v), {
      'a number': 42, 'a string': 'magic', 'null': null, 'an object': {}, 'a symbol': Symbol('bad'),
      '7 bytes': Buffer.alloc(7), '9 bytes': Buffer.alloc(9), 'no bytes': new Uint8Array(0), 'an array of 8 numbers': [1, 2, 3, 4, 5, 6, 7, 8],
    }),
  row({
    name: 'crc32c(data) refuses data that is not a Uint8Array',
    target: () => undefined,
    call: (_t, v) => crc32c(v),
    values: { ...NOT_BYTES, 'a string': '123456789' },
    works: () => expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283),
  }),
  row({
    name: 'crc32c(data, previous) refuses a previous that is not a CRC-32C (an integer from 0 to 2**32 - 1)',
    target: () => undefined,
    call: (_t, v) => crc32c(Buffer.from('56789'), v),
    values: { ...NOT_NUMBERS, '-1': -1, 'NaN': NaN, 'Infinity': Infinity, '1.5': 1.5, '2**32': 2 ** 32, '2**53': 2 ** 53 },
    works: () => expect(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234')))).toBe(0xe3069283),
  }),
]);

// --- Log -----------------------------------------------------------------------------------------

const newLogDir = (f: Fixture): string => path.join(f.root, 'new-log');

/** Log options: `??` makes null "not given". */
const LOG_OPTIONS: Array<[string, Values, unknown]> = [
  ['segmentSize', { ...omit(NOT_SIZES, 'null'), '0': 0, '4095 (below a page)': 4095, 'MAX_FILE_SIZE': MAX_FILE_SIZE }, PAGE],
  ['maxRecordSize', { ...omit(NOT_SIZES, 'null'), '64 MiB (its frame cannot fit a segment)': 64 * 1024 * 1024 }, 100],
  ['sync', omit(NOT_BOOLEANS, 'null'), true],
  ['firstId', { ...omit(NOT_SIZES, 'null'), '0': 0 }, 7],
];

const logWorksOnDisk = async (f: Fixture): Promise<void> => {
  const log = await Log.open(newLogDir(f));
  expect(log.append(Buffer.from('ok'))).toBe(1);
  await log.close();
};

matrix('Log', [
  row({
    name: 'Log.open(dir) rejects a dir that is not a path',
    target: () => undefined,
    call: (_t, v) => Log.open(v),
    values: NOT_PATHS,
    kind: 'async',
    works: (_t, f) => logWorksOnDisk(f),
  }),
  row({
    name: 'Log.open(dir, options) rejects options that are not an object, creating nothing',
    target: () => undefined,
    call: (_t, v, f) => Log.open(newLogDir(f), v),
    values: NOT_OBJECTS,
    kind: 'async',
    works: (_t, f) => logWorksOnDisk(f),
  }),
  ...LOG_OPTIONS.map(([option, values, good]) => row({
    name: `Log.open(dir, { ${option} }) rejects a bad ${option}, creating nothing`,
    target: () => undefined,
    call: (_t, v, f) => Log.open(newLogDir(f), { [option]: v }),
    values,
    kind: 'async',
    works: async (_t, f) => {
      const log = await Log.open(newLogDir(f), { [option]: good });
      log.append(Buffer.from('ok'));
      await log.close();
    },
  })),
  row({
    name: 'Log.memory(options) refuses options that are not an object',
    target: () => undefined,
    call: (_t, v) => Log.memory(v),
    values: NOT_OBJECTS,
    works: () => Log.memory({}).close(),
  }),
  ...LOG_OPTIONS.map(([option, values, good]) => row({
    name: `Log.memory({ ${option} }) refuses a bad ${option}`,
    target: () => undefined,
    call: (_t, v) => Log.memory({ [option]: v }),
    values,
    works: async () => {
      const log = Log.memory({ [option]: good });
      log.append(Buffer.from('ok'));
      await log.close();
    },
  })),
  row({
    name: 'log.append(data) refuses data that is not bytes (or an array of them), appending nothing',
    target: (f) => f.log(),
    call: (log: Log, v) => log.append(v),
    values: {
      ...omit(NOT_BYTES, 'an array of numbers'), 'a string': 'record',
      'an array with a string after a good record': bad([Buffer.from('good'), 'bad'], undefined, /^data\[1\]: expected a Uint8Array, got "bad"$/),
      'an array with null first': bad([null, Buffer.from('good')], undefined, /^data\[0\]: expected a Uint8Array, got null$/),
      'an array of numbers': bad([1, 2], undefined, /^data\[0\]: expected a Uint8Array, got 1$/),
    },
    message: /^data: expected a Uint8Array or an array of them, got /,
    works: logWorks,
  }),
  row({
    name: 'log.append(data) refuses a record over maxRecordSize with ERR_AOF_RECORD_TOO_BIG, appending nothing (also in a batch)',
    target: (f) => f.log(),
    call: (log: Log, v) => log.append(v),
    values: {
      'one record of 4 KiB': Buffer.alloc(PAGE),
      'a batch whose second record is 4 KiB': [Buffer.from('good'), Buffer.alloc(PAGE)],
    },
    code: 'ERR_AOF_RECORD_TOO_BIG',
    message: /^a record of 4096 bytes is over maxRecordSize \(\d+\); nothing was written$/,
    works: logWorks,
  }),
  row({
    name: 'log.get(id) refuses an id that is not a safe integer',
    target: (f) => f.log(),
    call: (log: Log, v) => log.get(v),
    values: { ...NOT_NUMBERS, 'undefined': undefined, 'NaN': NaN, '1.5': 1.5, 'Infinity': Infinity, '2**53': 2 ** 53, 'Number.MAX_VALUE': Number.MAX_VALUE },
    works: logWorks,
  }),
  row({
    name: 'log.get(id) says ERR_AOF_NOT_FOUND for an integer outside firstId…lastId',
    target: (f) => f.log(),
    call: (log: Log, v) => log.get(v),
    values: { '-1': -1, '0': 0, 'lastId + 1': 41, 'MAX_SAFE_INTEGER': Number.MAX_SAFE_INTEGER },
    code: 'ERR_AOF_NOT_FOUND',
    message: /^record -?\d+ is not in the log \(1…40\)$/,
    works: logWorks,
  }),
  row({
    name: 'log.iterator(startId) refuses a startId that is not a safe integer (at the first next())',
    target: (f) => f.log(),
    call: (log: Log, v) => log.iterator(v).next(),
    values: { ...NOT_NUMBERS, 'NaN': NaN, '1.5': 1.5, 'Infinity': Infinity, '2**53': 2 ** 53 },
    works: logWorks,
  }),
  row({
    name: 'log.tail(startId) rejects a startId that is not a safe integer (at the first next())',
    target: (f) => f.log(),
    call: (log: Log, v) => log.tail(v).next(),
    values: { ...NOT_NUMBERS, 'NaN': NaN, '1.5': 1.5, '-Infinity': -Infinity, '2**53': 2 ** 53 },
    kind: 'async',
    works: logWorks,
  }),
  row({
    name: 'log.tail(startId, options) rejects options that are not an object',
    target: (f) => f.log(),
    call: (log: Log, v) => log.tail(1, v).next(),
    values: NOT_OBJECTS,
    kind: 'async',
    works: logWorks,
  }),
  row({
    name: 'log.tail(startId, { signal }) rejects a signal that is not an AbortSignal',
    target: (f) => f.log(),
    call: (log: Log, v) => log.tail(1, { signal: v }).next(),
    values: NOT_SIGNALS,
    kind: 'async',
    works: logWorks,
  }),
  ...(['truncate', 'trim'] as const).map((method) => row({
    name: `log.${method}(id) rejects an id that is not a safe integer, before writing its intent`,
    target: (f) => f.log(),
    call: (log: Log, v) => log[method](v),
    values: { ...NOT_NUMBERS, 'undefined': undefined, 'NaN': NaN, '1.5': 1.5, 'Infinity': Infinity, '-Infinity': -Infinity, '2**53': 2 ** 53 },
    kind: 'async',
    works: logWorks,
  })),
  row({
    name: 'Log.follow(dir) refuses a dir that is not a path',
    target: () => undefined,
    call: (_t, v) => Log.follow(v),
    values: NOT_PATHS,
    works: async (_t, f) => {
      await f.log();
      await Log.follow(f.logDir).close();
    },
  }),
  row({
    name: 'Log.follow(dir, options) refuses bad reader options at once, not at the first tail()',
    target: () => undefined,
    call: (_t, v, f) => Log.follow(f.logDir, v),
    values: {
      ...NOT_OBJECTS, 'wake "fast"': { wake: 'fast' }, 'interval 0': { interval: 0 }, 'interval 2**31': { interval: 2 ** 31 },
      'spinMs NaN': { spinMs: NaN },
    },
    message: /^options(\.(wake|interval|spinMs))?: expected .+, got /,
    works: async (_t, f) => Log.follow(f.logDir, { wake: 'poll' }).close(),
  }),
  row({
    name: 'logReader.tail(startId, options) rejects a bad startId or options (at the first next())',
    target: async (f) => {
      await f.log();
      return Log.follow(f.logDir, { wake: 'poll' });
    },
    call: (r, v) => r.tail(v.startId, v.options).next(),
    values: {
      'a string startId': { startId: '1' }, 'a NaN startId': { startId: NaN }, 'a fractional startId': { startId: 1.5 },
      'null options': { startId: 1, options: null }, 'a string as options': { startId: 1, options: 'x' },
      'a signal that is not an AbortSignal': { startId: 1, options: { signal: {} } },
    },
    kind: 'async',
    message: /^(startId|options|options\.signal): expected .+, got /,
    works: async (r) => {
      const ac = new AbortController();
      const ids: number[] = [];
      for await (const rec of r.tail(39, { signal: ac.signal })) {
        ids.push(rec.id);
        if (rec.id === 40) break;
      }
      expect(ids).toEqual([39, 40]);
      await r.close();
    },
  }),
]);

// --- StateLog ------------------------------------------------------------------------------------

const newStateDir = (f: Fixture): string => path.join(f.root, 'new-state');

async function stateWorks(st: StateLog): Promise<void> {
  st.update(Buffer.from('+2'));
  const { state, updates } = st.restore();
  expect(state?.toString()).toBe('{"n":1}');
  expect([...updates].map(String)).toEqual(['+1', '+2']);
}

matrix('StateLog', [
  row({
    name: 'StateLog.open(dir) rejects a dir that is not a path',
    target: () => undefined,
    call: (_t, v) => StateLog.open(v),
    values: NOT_PATHS,
    kind: 'async',
    works: async (_t, f) => (await StateLog.open(newStateDir(f))).close(),
  }),
  row({
    name: 'StateLog.open(dir, options) rejects bad options, creating nothing',
    target: () => undefined,
    call: (_t, v, f) => StateLog.open(newStateDir(f), v),
    values: {
      ...NOT_OBJECTS, 'autoCompact "yes"': { autoCompact: 'yes' }, 'autoCompact 1': { autoCompact: 1 },
      'segmentSize -1': { segmentSize: -1 }, 'sync "true"': { sync: 'true' },
    },
    kind: 'async',
    message: /^options(\.\w+)?: expected .+, got /,
    works: async (_t, f) => (await StateLog.open(newStateDir(f), { autoCompact: true })).close(),
  }),
  row({
    name: 'StateLog.memory(options) refuses bad options',
    target: () => undefined,
    call: (_t, v) => StateLog.memory(v),
    values: { ...NOT_OBJECTS, 'autoCompact "yes"': { autoCompact: 'yes' }, 'autoCompact {}': { autoCompact: {} }, 'maxRecordSize NaN': { maxRecordSize: NaN } },
    message: /^options(\.\w+)?: expected .+, got /,
    works: () => StateLog.memory({ autoCompact: false }).close(),
  }),
  ...(['snapshot', 'update'] as const).map((method) => row({
    name: `stateLog.${method}(data) refuses data that is not a Uint8Array, appending nothing`,
    target: (f) => f.stateLog(),
    call: (st: StateLog, v) => st[method](v),
    values: { ...NOT_BYTES, 'a string': 'state', 'an array of buffers': [Buffer.from('a')] },
    works: stateWorks,
  })),
  row({
    name: 'stateLog.restore(options) refuses options that are not an object, or a skipCorrupt that is not a boolean',
    target: (f) => f.stateLog(),
    call: (st: StateLog, v) => st.restore(v),
    values: { ...NOT_OBJECTS, ...Object.fromEntries(Object.entries(omit(NOT_BOOLEANS, 'null')).map(([k, v]) => [`skipCorrupt ${k}`, { skipCorrupt: v }])) },
    message: /^options(\.skipCorrupt)?: expected .+, got /,
    works: stateWorks,
  }),
]);

// --- directories ---------------------------------------------------------------------------------

/** Directories a Manager, a Log or a StateLog cannot be made in, and the code each gets. */
function badDirs(): Values {
  return {
    'a path under a regular file': bad(lazy((f) => path.join(f.dir, 'data.aof', 'sub')), INVALID, 'path'),
    'a regular file': bad(lazy((f) => path.join(f.dir, 'other.aof')), INVALID, 'path'),
    '/dev/null': bad('/dev/null', INVALID, 'path'),
    'a path in /proc that cannot be created (a recursive mkdir spins there)': bad('/proc/aof-bad-input/dir', 'ERR_AOF_NOT_FOUND', 'path'),
    'a dangling symbolic link': bad(lazy((f) => path.join(f.root, 'dangling')), 'ERR_AOF_NOT_FOUND', 'path'),
    'a path under a dangling symbolic link': bad(lazy((f) => path.join(f.root, 'dangling', 'sub')), 'ERR_AOF_NOT_FOUND', 'path'),
    'a component longer than NAME_MAX': bad(lazy((f) => path.join(f.root, 'd'.repeat(300))), INVALID, 'path'),
  };
}

const withDangling = (f: Fixture): void => {
  fs.symlinkSync(path.join(f.root, 'nowhere'), path.join(f.root, 'dangling'));
};

matrix('directories that do not exist and cannot be created', [
  row({
    name: 'new Manager(dir) refuses a directory it cannot make, with a typed code and the path',
    target: withDangling,
    call: (_t, v) => new Manager(v),
    values: badDirs(),
    works: async (_t, f) => new Manager(newDir(f)).close(),
  }),
  row({
    name: 'Log.open(dir) rejects a directory it cannot make, with a typed code and the path',
    target: withDangling,
    call: (_t, v) => Log.open(v),
    values: badDirs(),
    kind: 'async',
    works: (_t, f) => logWorksOnDisk(f),
  }),
  row({
    name: 'StateLog.open(dir) rejects a directory it cannot make, with a typed code and the path',
    target: withDangling,
    call: (_t, v) => StateLog.open(v),
    values: badDirs(),
    kind: 'async',
    works: async (_t, f) => (await StateLog.open(newStateDir(f))).close(),
  }),
  row({
    name: 'Log.follow(dir).tail() rejects a directory that is missing or is not one, with a typed code and the path',
    target: withDangling,
    call: (_t, v) => Log.follow(v).tail().next(),
    values: {
      'a missing directory': bad(lazy((f) => path.join(f.root, 'missing')), 'ERR_AOF_NOT_FOUND', 'path'),
      'a directory without segments': bad(lazy((f) => f.root), 'ERR_AOF_NOT_FOUND', 'path'),
      'a regular file': bad(lazy((f) => path.join(f.dir, 'other.aof')), INVALID, 'path'),
      '/dev/null': bad('/dev/null', INVALID, 'path'),
      'a dangling symbolic link': bad(lazy((f) => path.join(f.root, 'dangling')), 'ERR_AOF_NOT_FOUND', 'path'),
      'a component longer than NAME_MAX': bad(lazy((f) => path.join(f.root, 'd'.repeat(300))), INVALID, 'path'),
    },
    kind: 'async',
    works: async (_t, f) => {
      await f.log();
      const r = Log.follow(f.logDir, { wake: 'poll' });
      const tail = r.tail(1);
      const first = await tail.next();
      expect(first.value?.id).toBe(1);
      await tail.return(undefined); // a tail holding a record keeps close() waiting until it lets go
      await r.close();
    },
  }),
]);

// --- files that are not AOFs ---------------------------------------------------------------------

/** Files in the manager's directory that are not AOFs (made before the snapshot). */
function makeNotAofs(f: Fixture): void {
  const d = f.dir;
  fs.writeFileSync(path.join(d, 'random.aof'), pseudoRandomBytes(3 * PAGE + 5, 42).map((b) => b | 1));
  fs.writeFileSync(path.join(d, 'text.aof'), 'just some text, no magic at all\n');
  fs.writeFileSync(path.join(d, 'empty-ro.aof'), '');
  fs.chmodSync(path.join(d, 'empty-ro.aof'), 0o444);
  fs.mkdirSync(path.join(d, 'dir.aof'));
  execFileSync('mkfifo', [path.join(d, 'fifo.aof')]);
  fs.symlinkSync('/dev/null', path.join(d, 'devnull.aof'));
  fs.symlinkSync(path.join(f.root, 'nowhere'), path.join(d, 'dangling.aof'));
}

const NOT_AOFS: Values = {
  'random bytes': bad('random.aof', 'ERR_AOF_CORRUPTED', /random\.aof: cannot recover \(torn write at byte \d+ and no checkpoint marker before it\)$/),
  'a text file': bad('text.aof', 'ERR_AOF_CORRUPTED', /text\.aof: cannot recover/),
  'an empty read-only file': bad('empty-ro.aof', 'ERR_AOF_EMPTY_FILE', /empty-ro\.aof is empty and not writable/),
  'a directory': bad('dir.aof', 'ERR_AOF_IS_DIRECTORY', /dir\.aof is a directory$/),
  'a FIFO': bad('fifo.aof', INVALID, /^path: expected a regular file, got ".*fifo\.aof"$/),
  'a symbolic link to /dev/null': bad('devnull.aof', INVALID, /^path: expected a regular file, got ".*devnull\.aof"$/),
  'a dangling symbolic link': bad('dangling.aof', 'ERR_AOF_NOT_FOUND', /dangling\.aof is a link to nothing$/),
};

matrix('files that are not AOFs', [
  row({
    name: 'manager.open(name) refuses a file that is not an AOF with a typed code, leaving it as it was',
    target: makeNotAofs,
    call: (_t, v, f) => f.manager.open(v),
    values: NOT_AOFS,
    works: (_t, f) => aofWorks(f.manager.open('data.aof')),
  }),
  row({
    name: 'manager.openAsync(name) rejects a file that is not an AOF with a typed code, leaving it as it was',
    target: makeNotAofs,
    call: (_t, v, f) => f.manager.openAsync(v),
    values: NOT_AOFS,
    kind: 'async',
    works: async (_t, f) => aofWorks(await f.manager.openAsync('data.aof')),
  }),
  row({
    name: 'openReader(path) refuses a path that is not a readable regular file (a FIFO does not block it)',
    target: makeNotAofs,
    call: (_t, v, f) => openReader(path.join(f.dir, v)),
    values: {
      'a directory': bad('dir.aof', 'ERR_AOF_IS_DIRECTORY', /dir\.aof is a directory$/),
      'a FIFO': bad('fifo.aof', INVALID, /^path: expected a regular file, got ".*fifo\.aof"$/),
      'a symbolic link to /dev/null': bad('devnull.aof', INVALID, /^path: expected a regular file, got ".*devnull\.aof"$/),
      'a dangling symbolic link': bad('dangling.aof', 'ERR_AOF_NOT_FOUND', /dangling\.aof does not exist$/),
      'a missing file': bad('missing.aof', 'ERR_AOF_NOT_FOUND', /missing\.aof does not exist$/),
      'a path under a regular file': bad('data.aof/sub', 'ERR_AOF_NOT_FOUND', /data\.aof\/sub does not exist$/),
      'a name longer than NAME_MAX': bad('r'.repeat(300), INVALID, /name too long$/),
    },
    works: async (_t, f) => {
      const r = openReader(dataPath(f));
      expect(r.view().toString()).toBe(BEFORE);
      await r.close();
    },
  }),
  row({
    name: 'Log.open(dir) rejects a directory whose files are not a record log with a typed code, leaving them as they were',
    target: (f) => {
      const make = (name: string, fill: (dir: string) => void): void => {
        fs.mkdirSync(path.join(f.root, name));
        fill(path.join(f.root, name));
      };
      make('seg-dir', (d) => fs.mkdirSync(path.join(d, '0000000000000001.seg')));
      make('bad-intent', (d) => fs.writeFileSync(path.join(d, 'intent.json'), '{"op": "trun'));
      make('null-intent', (d) => fs.writeFileSync(path.join(d, 'intent.json'), 'null'));
      make('op-intent', (d) => fs.writeFileSync(path.join(d, 'intent.json'), '{"op":"drop","id":1}'));
    },
    call: (_t, v, f) => Log.open(path.join(f.root, v)),
    values: {
      'a segment that is a directory': bad('seg-dir', 'ERR_AOF_IS_DIRECTORY', /0000000000000001\.seg is a directory$/),
      'an intent that is not JSON': bad('bad-intent', 'ERR_AOF_CORRUPTED', /intent\.json: not JSON: \{"op": "trun$/),
      'an intent of null': bad('null-intent', 'ERR_AOF_CORRUPTED', /intent\.json: not an intent this log writes: null$/),
      'an intent with an unknown op': bad('op-intent', 'ERR_AOF_CORRUPTED', /intent\.json: not an intent this log writes/),
    },
    kind: 'async',
    works: (_t, f) => logWorksOnDisk(f),
  }),
]);

describe('files that are not AOFs, what is not refused', () => {
  it('a reader of a file of random bytes serves nothing of it (or, told to, refuses it with ERR_AOF_CORRUPTED, making nothing beside it) and leaves its bytes as they were', async () => {
    const f = new Fixture();
    try {
      await f.ready();
      makeNotAofs(f);
      const file = path.join(f.dir, 'random.aof');
      const before = sha256(fs.readFileSync(file));
      expect(fs.existsSync(`${file}-shm`)).toBe(false);
      expect(codeOf(() => openReader(file, { wake: 'poll', refuseUnparseable: true }))).toBe('ERR_AOF_CORRUPTED');
      expect(fs.existsSync(`${file}-shm`)).toBe(false);
      const r = openReader(file, { wake: 'poll' });
      expect(r.size).toBe(0);
      expect(r.view().length).toBe(0);
      await r.close();
      expect(sha256(fs.readFileSync(file))).toBe(before);
      expect(codeOf(() => f.manager.open('random.aof'))).toBe('ERR_AOF_CORRUPTED');
    } finally {
      await f.close();
    }
  });

  // NOTE: skipped, a documented limitation (docs/format.md, record log): without a control block,
  // Log.open cannot tell a segment-named file whose bytes are not frames from a torn first write,
  // and rolls it back. Kept as the behaviour we would like if a rule can tell them apart.
  it.skip('Log.open refuses a segment-named file whose bytes are not frames, leaving them as they were', async () => { // NOTE: see above
    const f = new Fixture();
    try {
      const dir = path.join(f.root, 'foreign');
      fs.mkdirSync(dir);
      const file = path.join(dir, '0000000000000001.seg');
      fs.writeFileSync(file, Buffer.concat([Buffer.from('precious bytes, not frames'), MAGIC_TAIL_BYTES]));
      const before = sha256(fs.readFileSync(file));
      const err = await Log.open(dir).then(async (log) => log.close(), (e: unknown) => e);
      expect(err).toBeInstanceOf(AofError);
      expect(sha256(fs.readFileSync(file))).toBe(before);
    } finally {
      await f.close();
    }
  });
});

// --- directories that cannot be written ----------------------------------------------------------

/** A read-only view (bind mount, remounted ro) of `src` at `mnt`; root only. */
function readOnlyBind(src: string, mnt: string): () => void {
  fs.mkdirSync(mnt);
  execFileSync('mount', ['--bind', src, mnt]);
  try {
    execFileSync('mount', ['-o', 'remount,bind,ro', mnt]);
  } catch (e) {
    execFileSync('umount', [mnt]);
    throw e;
  }
  return () => execFileSync('umount', [mnt]);
}

// Root only: root ignores permission bits, so "cannot write" is a read-only bind mount (EROFS), which needs
// root, and "no permission" is a child process run as uid nobody, which needs root to start.
describe.runIf(isRoot)(skipTitle(isRoot, 'directories that cannot be written or read', 'needs root'), () => { // NOTE: needs root (mount, and a child as uid nobody)
  async function withReadOnly(run: (f: Fixture, ro: string) => Promise<void>): Promise<void> {
    const f = new Fixture();
    let unmount: (() => void) | undefined;
    try {
      await f.ready();
      await f.log();
      await f.manager.open('data.aof').close(); // closed: its bytes are what the mount shows
      unmount = readOnlyBind(f.root, path.join(f.root, 'ro'));
      await run(f, path.join(f.root, 'ro'));
    } finally {
      unmount?.();
      await f.close();
    }
  }

  async function expectRefused(f: Fixture, call: () => unknown, code: string, what: string): Promise<void> {
    const before = snapshot(f.dir);
    let err: unknown;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    expect(err, what).toBeInstanceOf(AofError);
    expect((err as AofError).code, `${what}: ${String(err)}`).toBe(code);
    expect(snapshot(f.dir), `${what}: nothing written`).toEqual(before);
  }

  it('a Manager, a Log and a StateLog refuse to create a directory there with ERR_AOF_READ_ONLY', async () => {
    await withReadOnly(async (f, ro) => {
      for (const [what, call] of [
        ['new Manager', () => new Manager(path.join(ro, 'sub'))],
        ['Log.open', () => Log.open(path.join(ro, 'sub'))],
        ['StateLog.open', () => StateLog.open(path.join(ro, 'sub'))],
      ] as const) {
        await expectRefused(f, call, 'ERR_AOF_READ_ONLY', what);
        expect(fs.existsSync(path.join(f.root, 'sub')), what).toBe(false);
      }
    });
  });

  it('manager.open refuses to create a file there, and an AOF there opens read-only and refuses every write, its bytes unchanged', async () => {
    await withReadOnly(async (f, ro) => {
      const m = quietManager(path.join(ro, 'm'));
      try {
        await expectRefused(f, () => m.open('new.aof'), 'ERR_AOF_READ_ONLY', 'create');
        const aof = m.open('data.aof');
        expect(aof.readOnly).toBe(true);
        expect(aof.view().toString()).toBe(BEFORE);
        for (const [what, call] of [
          ['write', () => aof.write('x')], ['writeNonBlocking', () => aof.writeNonBlocking('x')],
          ['append', () => aof.append(1, () => 1)], ['appendNonBlocking', () => aof.appendNonBlocking(1, () => 1)],
          ['checkpoint', () => aof.checkpoint()], ['finish', () => aof.finish()],
        ] as const) {
          await expectRefused(f, call, 'ERR_AOF_READ_ONLY', what);
        }
        const r = openReader(path.join(ro, 'm', 'data.aof'), { wake: 'poll' });
        expect(r.view().toString()).toBe(BEFORE);
        await r.close();
      } finally {
        await m.close();
      }
    });
  });

  it('a process without permission (uid nobody) gets ERR_AOF_READ_PERMISSION or ERR_AOF_READ_ONLY from every API, writing nothing', async () => {
    const f = new Fixture();
    try {
      await f.ready();
      await (await f.log()).close(); // root's log, closed: the child may only read it
      const locked = path.join(f.root, 'locked');
      const rodir = path.join(f.root, 'rodir');
      const m = quietManager(locked);
      m.open('x.aof').write('secret');
      await m.close();
      fs.chmodSync(locked, 0o700);
      fs.mkdirSync(rodir, { mode: 0o555 });
      fs.chmodSync(f.root, 0o755);
      const script = path.join(f.root, 'probe.mjs');
      fs.writeFileSync(script, `
        const { Manager, Log, StateLog, openReader } = await import(${JSON.stringify(DIST)});
        const [locked, rodir, log] = process.argv.slice(2);
        const calls = {
          'new Manager(dir) under a directory it cannot search': () => new Manager(locked + '/sub'),
          'manager.open in a directory it cannot search': () => new Manager(locked, { flushIntervalMs: 0 }).open('x.aof'),
          'openReader in a directory it cannot search': () => openReader(locked + '/x.aof'),
          'Log.open of a directory it cannot read': () => Log.open(locked),
          'Log.follow(dir).tail() of a directory it cannot read': () => Log.follow(locked).tail().next(),
          'manager.open of a new file in a directory it cannot write': () => new Manager(rodir, { flushIntervalMs: 0 }).open('new.aof'),
          'Log.open of a directory it cannot write': () => Log.open(rodir),
          'StateLog.open of a directory it cannot write': () => StateLog.open(rodir),
          "Log.open of another user's log": () => Log.open(log),
        };
        const out = {};
        for (const [what, call] of Object.entries(calls)) {
          try {
            await call();
            out[what] = 'accepted';
          } catch (e) {
            out[what] = e.name === 'AofError' ? e.code : String(e);
          }
        }
        console.log(JSON.stringify(out));
      `);
      fs.chmodSync(script, 0o644);
      const before = snapshot(f.root);
      const r = await runNode(script, [locked, rodir, f.logDir], { uid: 65534, gid: 65534 });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        'new Manager(dir) under a directory it cannot search': 'ERR_AOF_READ_ONLY',
        'manager.open in a directory it cannot search': 'ERR_AOF_READ_PERMISSION',
        'openReader in a directory it cannot search': 'ERR_AOF_READ_PERMISSION',
        'Log.open of a directory it cannot read': 'ERR_AOF_READ_PERMISSION',
        'Log.follow(dir).tail() of a directory it cannot read': 'ERR_AOF_READ_PERMISSION',
        'manager.open of a new file in a directory it cannot write': 'ERR_AOF_READ_ONLY',
        'Log.open of a directory it cannot write': 'ERR_AOF_READ_ONLY',
        'StateLog.open of a directory it cannot write': 'ERR_AOF_READ_ONLY',
        "Log.open of another user's log": 'ERR_AOF_READ_ONLY',
      });
      expect(snapshot(f.root)).toEqual(before);
    } finally {
      await f.close();
    }
  });

  it('a record log there refuses to open for writing with ERR_AOF_READ_ONLY, and its records stay readable', async () => {
    await withReadOnly(async (f, ro) => {
      await (await f.log()).close(); // only the log under the mount is open from now on
      const before = snapshot(f.logDir);
      // Its last segment opens read-only (EROFS), so the log needs a new one, which it cannot create.
      await expectRefused(f, () => Log.open(path.join(ro, 'log')), 'ERR_AOF_READ_ONLY', 'Log.open');
      await expectRefused(f, () => StateLog.open(path.join(ro, 'log')), 'ERR_AOF_READ_ONLY', 'StateLog.open');
      expect(snapshot(f.logDir)).toEqual(before);
      const reader = Log.follow(path.join(ro, 'log'), { wake: 'poll' });
      const tail = reader.tail(40);
      const last = await tail.next();
      expect(last.value?.id).toBe(40);
      expect(Buffer.from(last.value!.data).equals(pseudoRandomBytes(100, 40))).toBe(true);
      await tail.return(undefined);
      await reader.close();
    });
  });
});
