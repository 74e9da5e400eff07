/**
 * The `aof` command (src/cli/, bin/aof.js): every command run as a real child process
 * (`node bin/aof.js …` over the built dist/), with stdin, stdout and stderr piped. Piped runs
 * never print anything on stderr but errors: most tests check that stderr is empty.
 *
 * Writers that the command follows or looks at run in child processes
 * (test/fixtures/reader-writer.mjs) or in this process; the tests wait for their report lines
 * and for the command's output or exit, never for a clock. The progress bar is tested directly
 * with a fake terminal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileState, Geometry, Log, MAGIC_CHECKPOINT_BYTES, Manager, RecoveryKind } from '../src/index.js';
import { Progress, formatBytes } from '../src/cli/progress.js';
import { lastLinesStart } from '../src/cli/commands/tail.js';
import { DIST, Peer, ROOT, fixture, pseudoRandomBytes, quietManager, sha256, tmpDir } from './helpers.js';

const BIN = path.join(ROOT, 'bin', 'aof.js');

interface AofRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** stdout as UTF-8. */
  out: string;
}

/** A running `aof` child: its output so far, a way to wait for more, its exit. */
class AofChild {
  readonly child: ChildProcess;
  stderr = '';
  /** Chunks of stdout as they came; joined when asked (joining on every chunk was quadratic: 26 s for 24 MiB under load). */
  readonly #chunks: Buffer[] = [];
  #joined = Buffer.alloc(0);
  #joinedCount = 0;
  readonly exited: Promise<AofRun>;
  #waiters: Array<() => void> = [];

  constructor(args: string[], options: { input?: Uint8Array; bin?: string; cwd?: string } = {}) {
    this.child = spawn(process.execPath, [options.bin ?? BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: options.cwd ?? ROOT });
    this.child.stdout!.on('data', (d: Buffer) => {
      this.#chunks.push(d);
      this.#wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.stdin!.on('error', () => {}); // a command that exits before reading all of stdin
    if (options.input) this.child.stdin!.end(options.input);
    else this.child.stdin!.end();
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code, signal) => {
        this.#wake();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, out: this.stdout.toString('utf8') });
      });
    });
  }

  /** Everything the child wrote to stdout so far. */
  get stdout(): Buffer {
    if (this.#joinedCount !== this.#chunks.length) {
      this.#joined = Buffer.concat(this.#chunks);
      this.#joinedCount = this.#chunks.length;
    }
    return this.#joined;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once `cond(stdout)` holds; fails if the child exits first or nothing comes in 20 s. */
  async waitForOutput(cond: (stdout: Buffer) => boolean, what: string): Promise<void> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    const timer = setTimeout(() => this.#wake(), 20_000);
    const started = performance.now();
    try {
      while (!cond(this.stdout)) {
        if (exited || this.child.exitCode !== null || this.child.signalCode !== null) {
          throw new Error(`aof exited before ${what}: ${this.stderr}`);
        }
        if (performance.now() - started >= 20_000) throw new Error(`no ${what} within 20 s; stderr: ${this.stderr}`);
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

const running: Array<{ kill(): void }> = [];
afterEach(() => {
  for (const c of running.splice(0)) c.kill();
});

/** Starts `aof …args`; killed after the test if still running. */
function startAof(args: string[], options: { input?: Uint8Array; bin?: string; cwd?: string } = {}): AofChild {
  const c = new AofChild(args, options);
  running.push(c);
  return c;
}

/** Runs `aof …args` to its exit. */
function aof(args: string[], options: { input?: Uint8Array; bin?: string; cwd?: string } = {}): Promise<AofRun> {
  return startAof(args, options).exited;
}

/** A writer child (test/fixtures/reader-writer.mjs) with `name` open in `dir`. */
async function startWriter(dir: string, name: string): Promise<Peer> {
  const writer = Peer.process(fixture('reader-writer.mjs'), [JSON.stringify({ dist: DIST, dir, name, mode: 'write' })], { commands: true });
  running.push({ kill: () => writer.kill() });
  await writer.waitFor('open');
  return writer;
}

/** A file of `size` zero bytes holding `content` at 0 (hand-built, as recovery sees files). */
function handMade(file: string, content: Buffer, size = 8192): Buffer {
  const bytes = Buffer.alloc(size);
  content.copy(bytes);
  fs.writeFileSync(file, bytes);
  return bytes;
}

const CKPT = Buffer.from(MAGIC_CHECKPOINT_BYTES);
/** "hello, world" + checkpoint marker (at 12) + a torn write (no tail magic after it). */
const TORN = Buffer.concat([Buffer.from('hello, world'), CKPT, Buffer.from('a torn write, never finished')]);

function json<T = any>(run: AofRun): T {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.out) as T;
}

/** Every file in `dir` with its sha256. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((n) => [n, sha256(fs.readFileSync(path.join(dir, n)))]));
}

describe('aof append and cat', () => {
  it('appends stdin to a new file and cat gives back exactly the same bytes (1.5 MiB of random bytes)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'sub', 'data.aof');
    const input = randomBytes(1536 * 1024 + 7);
    const appended = await aof(['append', file], { input });
    expect(appended).toMatchObject({ code: 0, stderr: '' });
    expect(appended.out).toBe(`appended ${input.length} bytes to ${file} (size ${input.length})\n`);
    const read = await aof(['cat', file]);
    expect(read).toMatchObject({ code: 0, stderr: '' });
    expect(sha256(read.stdout)).toBe(sha256(input));
  });

  it('appends to the end of an existing file, and cat --from N writes bytes N to the end', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'a.aof');
    expect((await aof(['append', '-q', file], { input: Buffer.from('first,') })).out).toBe('');
    expect((await aof(['append', file], { input: Buffer.from('second') })).out).toBe(`appended 6 bytes to ${file} (size 12)\n`);
    expect((await aof(['cat', file])).out).toBe('first,second');
    expect((await aof(['cat', '--from', '6', file])).out).toBe('second');
    expect((await aof(['cat', '--from', '12', file])).out).toBe('');
    const past = await aof(['cat', '--from', '13', file]);
    expect(past.code).toBe(1);
    expect(past.stderr).toMatch(/^aof: ERR_AOF_INVALID_ARG: --from 13 is past the end of .*a\.aof \(12 bytes\)\n$/);
  });

  it('append --finish leaves a finished read-only file; appending to it again is ERR_AOF_READ_ONLY', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'f.aof');
    const done = await aof(['append', '--finish', file], { input: Buffer.from('all of it') });
    expect(done).toMatchObject({ code: 0, stderr: '', out: `appended 9 bytes to ${file} (size 9, finished)\n` });
    expect(fs.statSync(file).size).toBe(9 + 8);
    expect(fs.statSync(file).mode & 0o777).toBe(0o444);
    expect((await aof(['cat', file])).out).toBe('all of it');
    const again = await aof(['append', file], { input: Buffer.from('more') });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^aof: ERR_AOF_READ_ONLY: .*finished.*\n$/);
    expect(again.stderr.split('\n')).toHaveLength(2);
  });

  it('append --records makes each stdin line a record (across segment rolls); cat prints them one per line', async () => {
    const dir = path.join(tmpDir(), 'log');
    const lines = Array.from({ length: 400 }, (_, i) => `record ${i + 1} ${'x'.repeat(i % 50)}`);
    // An empty line is an empty record; a last line without "\n" is a record too.
    const first = await aof(['append', '--records', '--segment-size', '8k', dir], { input: Buffer.from('alpha\n\nbeta') });
    expect(first).toMatchObject({ code: 0, stderr: '', out: `appended 3 records to ${dir} (ids 1-3)\n` });
    const second = await aof(['append', '-r', '--segment-size', '8k', dir], { input: Buffer.from(lines.join('\n') + '\n') });
    expect(second).toMatchObject({ code: 0, stderr: '', out: `appended 400 records to ${dir} (ids 4-403)\n` });

    const all = await aof(['cat', dir]);
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(all.out).toBe(['alpha', '', 'beta', ...lines].join('\n') + '\n');
    expect((await aof(['cat', '--records', '--ids', '--from', '402', dir])).out).toBe(`402\t${lines[398]}\n403\t${lines[399]}\n`);
    expect((await aof(['cat', '--from', '404', dir])).out).toBe('');

    // The same log, as the library reads it.
    const log = await Log.open(dir);
    try {
      expect([log.firstId, log.lastId]).toEqual([1, 403]);
      expect(log.get(2).length).toBe(0);
      expect(log.get(403).toString()).toBe(lines[399]);
    } finally {
      await log.close();
    }
  });

  it('inspect of a record log lists its segments with their records and the ids of the log', async () => {
    const dir = path.join(tmpDir(), 'log');
    const input = Buffer.from(Array.from({ length: 300 }, (_, i) => `line ${i}`).join('\n'));
    await aof(['append', '--records', '--segment-size', '4096', dir], { input });
    const report = json(await aof(['inspect', '--json', dir]));
    expect(report).toMatchObject({ kind: 'record-log', firstId: 1, lastId: 300, records: 300 });
    expect(report.segments.length).toBeGreaterThan(1);
    const segs = report.segments as Array<{ status: string; segment: { firstId: number; records: number } }>;
    expect(segs.slice(0, -1).every((s) => s.status === 'finished')).toBe(true);
    expect(segs.at(-1)!.status).toBe('clean');
    segs.forEach((s, i) => i > 0 && expect(s.segment.firstId).toBe(segs[i - 1]!.segment.firstId + segs[i - 1]!.segment.records));
    const text = await aof(['inspect', dir]);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.out).toContain('records:    300 (ids 1-300)');
    expect(text.out).toMatch(/0000000000000001\.seg\s+finished\s+\d+/);
  });

  it('a record longer than --max-record-size is ERR_AOF_RECORD_TOO_BIG; the lines before it stay', async () => {
    const dir = path.join(tmpDir(), 'log');
    const run = await aof(['append', '-r', '--max-record-size', '8', dir], { input: Buffer.from('short\nmuch too long\n') });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^aof: ERR_AOF_RECORD_TOO_BIG: [^\n]*\n$/);
  });
});

describe('aof tail', () => {
  it('prints the last lines (-n, default 10), the last bytes (-c), or from a byte offset (--from)', async () => {
    const file = path.join(tmpDir(), 't.aof');
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
    await aof(['append', file], { input: Buffer.from(lines.join('\n') + '\n') });
    expect((await aof(['tail', file])).out).toBe(lines.slice(20).join('\n') + '\n');
    expect((await aof(['tail', '-n', '2', file])).out).toBe('line 29\nline 30\n');
    expect((await aof(['tail', '-n', '0', file])).out).toBe('');
    expect((await aof(['tail', '-n', '100', file])).out).toBe(lines.join('\n') + '\n');
    expect((await aof(['tail', '-c', '4', file])).out).toBe(' 30\n');
    const run = await aof(['tail', '--from', '7', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.out).toBe(lines.join('\n').slice(7) + '\n');
  });

  it('finds where the last n lines start, with or without a final newline', () => {
    const b = Buffer.from('a\nbb\nccc');
    expect([0, 1, 2, 3, 4].map((n) => lastLinesStart(b, b.length, n))).toEqual([8, 5, 2, 0, 0]);
    const c = Buffer.from('a\nbb\n');
    expect([1, 2, 3].map((n) => lastLinesStart(c, c.length, n))).toEqual([2, 0, 0]);
    expect(lastLinesStart(Buffer.alloc(0), 0, 3)).toBe(0);
  });

  it('tail -f follows a file a child process writes and exits at its finish with exactly its bytes', async () => {
    const dir = tmpDir();
    const writer = await startWriter(dir, 'follow.aof');
    try {
      const lengths = [1000, 70_000, 3, 250_000, 4096];
      const expected = Buffer.concat(lengths.map((len, i) => pseudoRandomBytes(len, 100 + i)));
      await writer.request('write 100 1000', 'wrote');
      const tail = startAof(['tail', '-f', '--from', '0', path.join(dir, 'follow.aof')]);
      await tail.waitForOutput((out) => out.length >= 1000, 'the first write');
      // Each further write after the reader has seen the one before: it really follows.
      for (let i = 1; i < lengths.length; i++) {
        await writer.request(`write ${100 + i} ${lengths[i]}`, 'wrote');
        const seen = lengths.slice(0, i + 1).reduce((a, b) => a + b, 0);
        await tail.waitForOutput((out) => out.length >= seen, `write ${i}`);
      }
      await writer.request('finish', 'finished');
      const run = await tail.exited;
      expect(run).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(run.stdout.length).toBe(expected.length);
      expect(sha256(run.stdout)).toBe(sha256(expected));
      await writer.request('close', 'closed');
      await writer.exitedCleanly();
    } finally {
      writer.kill();
    }
  });

  it('tail -f of a finished file prints its last lines and exits at once', async () => {
    const file = path.join(tmpDir(), 'done.aof');
    await aof(['append', '--finish', file], { input: Buffer.from('1\n2\n3\n') });
    const run = await aof(['tail', '-f', '-n', '2', file]);
    expect(run).toMatchObject({ code: 0, stderr: '', out: '2\n3\n' });
  });

  it('tail -f of a record log prints its last records, then each one appended, until SIGINT (exit 0)', async () => {
    const dir = path.join(tmpDir(), 'log');
    const log = await Log.open(dir);
    try {
      for (let i = 1; i <= 5; i++) log.append(Buffer.from(`r${i}`));
      await log.sync();
      const tail = startAof(['tail', '-f', '-n', '2', '--ids', dir]);
      await tail.waitForOutput((out) => out.toString() === '4\tr4\n5\tr5\n', 'the last two records');
      log.append([Buffer.from('r6'), Buffer.from('r7')]);
      await tail.waitForOutput((out) => out.toString().endsWith('7\tr7\n'), 'the appended records');
      tail.kill('SIGINT');
      const run = await tail.exited;
      expect(run).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(run.out).toBe('4\tr4\n5\tr5\n6\tr6\n7\tr7\n');
      expect((await aof(['tail', '-n', '3', dir])).out).toBe('r5\nr6\nr7\n');
    } finally {
      await log.close();
    }
  });
});

describe('tail and cat conventions, waiting for the writer lock', () => {
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);
  const text = lines.join('\n') + '\n';

  it('tail -n +N starts at line N, -c takes units and +N (from byte N, 1-based), as GNU tail', async () => {
    const file = path.join(tmpDir(), 't.aof');
    await aof(['append', file, '-q'], { input: Buffer.from(text) });
    expect((await aof(['tail', '-n', '+28', file])).out).toBe('line 28\nline 29\nline 30\n');
    expect((await aof(['tail', '-n', '+1', file])).out).toBe(text);
    expect((await aof(['tail', '-n', '+0', file])).out).toBe(text);
    expect((await aof(['tail', '-n', '+31', file])).out).toBe('');
    expect((await aof(['tail', '-c', '1k', file])).out).toBe(text); // 231 bytes < 1 KiB
    expect((await aof(['tail', '-c', '+200', file])).out).toBe(text.slice(199));
    expect((await aof(['tail', '-c', '+1', file])).out).toBe(text);
    const bad = await aof(['tail', '-c', '1q', file]);
    expect(bad.code).toBe(2);
  });

  it('tail -n +N of a record log starts at its Nth record', async () => {
    const dir = path.join(tmpDir(), 'log');
    await aof(['append', '--records', dir, '-q'], { input: Buffer.from(text) });
    expect((await aof(['tail', '-n', '+29', '--ids', dir])).out).toBe('29\tline 29\n30\tline 30\n');
  });

  it('cat takes several files and writes them one after the other; --no-checkpoints drops the markers that start a line', async () => {
    const dir = tmpDir();
    const a = path.join(dir, 'a.aof');
    const b = path.join(dir, 'b.aof');
    await aof(['append', a, '-q'], { input: Buffer.from('first\n') });
    const m = quietManager(dir);
    const file = m.open('b.aof');
    // A marker between lines, and the same 8 bytes inside a line (data: kept).
    file.write('{"n":1}\n');
    file.checkpoint();
    file.write(Buffer.concat([Buffer.from('{"n":2,"x":"'), MAGIC_CHECKPOINT_BYTES, Buffer.from('"}\n')]));
    file.checkpoint();
    await m.close();
    const raw = (await aof(['cat', a, b])).stdout;
    expect(raw.subarray(0, 6).toString()).toBe('first\n');
    expect(raw.indexOf(MAGIC_CHECKPOINT_BYTES, 14)).toBe(14); // the first marker, raw
    const clean = await aof(['cat', '--no-checkpoints', a, b]);
    expect(clean).toMatchObject({ code: 0, stderr: '' });
    expect(clean.stdout).toEqual(Buffer.concat([Buffer.from('first\n{"n":1}\n{"n":2,"x":"'), MAGIC_CHECKPOINT_BYTES, Buffer.from('"}\n')]));
    const missing = await aof(['cat', a, path.join(dir, 'missing.aof')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toBe('first\n');
  });

  it('tail -f exits by itself (0) once the reader of its stdout goes away, with no new append to write', async () => {
    const dir = tmpDir();
    const writer = await startWriter(dir, 'f.aof');
    await writer.request('write 1 100', 'wrote');
    const tail = startAof(['tail', '-f', '--from', '0', path.join(dir, 'f.aof')]);
    await tail.waitForOutput((out) => out.length >= 100, 'the first write');
    tail.child.stdout!.destroy(); // as `| head -c 100` does once it has its bytes
    expect((await tail.exited).code).toBe(0);
    await writer.request('close', 'closed');
  });

  it('cat, tail and tail -f of a file that is not an AOF (plain text, /etc/passwd-like) fail with ERR_AOF_CORRUPTED and a hint, exit 1, and create nothing beside it', async () => {
    const dir = tmpDir();
    const notes = path.join(dir, 'notes.txt');
    fs.writeFileSync(notes, 'root:x:0:0:root:/root:/bin/bash\nplain text\n');
    for (const args of [['cat', notes], ['tail', notes], ['tail', '-f', notes]]) {
      const run = await aof(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.out).toBe('');
      expect(run.stderr).toMatch(/^aof: ERR_AOF_CORRUPTED: .*not an AOF.*aof recover/);
    }
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('cat of a file renamed away from its running writer (logrotate\'s mv) prints all of it, before and after the writer closes, and creates nothing beside it', async () => {
    const dir = tmpDir();
    const writer = await startWriter(dir, 'app.aof');
    try {
      await writer.request('write 1 5000', 'wrote');
      fs.renameSync(path.join(dir, 'app.aof'), path.join(dir, 'app.aof.1'));
      await writer.request('write 2 7000', 'wrote'); // into the renamed file
      const expected = Buffer.concat([pseudoRandomBytes(5000, 1), pseudoRandomBytes(7000, 2)]);
      const live = await aof(['cat', path.join(dir, 'app.aof.1')]);
      expect({ code: live.code, stderr: live.stderr }).toEqual({ code: 0, stderr: '' });
      expect(sha256(live.stdout)).toBe(sha256(expected));
      await writer.request('close', 'closed');
      await writer.exitedCleanly();
      const after = await aof(['cat', path.join(dir, 'app.aof.1')]);
      expect(sha256(after.stdout)).toBe(sha256(expected));
      expect(fs.readdirSync(dir).sort(), 'only the writer\'s block, at the old name').toEqual(['app.aof-shm', 'app.aof.1']);
    } finally {
      writer.kill();
    }
  });

  it('tail -F waits for the file, follows it across a rename rotation and a finish to the next file at the path, until SIGINT', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'r.aof');
    const tail = startAof(['tail', '-F', file]);
    await aof(['append', file, '-q'], { input: Buffer.from('one\n') });
    await tail.waitForOutput((out) => out.toString() === 'one\n', 'the file once it exists');
    fs.renameSync(file, `${file}.1`);
    await aof(['append', file, '-q'], { input: Buffer.from('two\n') });
    await tail.waitForOutput((out) => out.toString() === 'one\ntwo\n', 'the new file after the rotation');
    await aof(['append', file, '-q', '--finish'], { input: Buffer.from('three\n') });
    await tail.waitForOutput((out) => out.toString() === 'one\ntwo\nthree\n', 'the rest of it, finished');
    const next = path.join(dir, 'next.aof');
    await aof(['append', next, '-q'], { input: Buffer.from('four\n') });
    fs.renameSync(next, file);
    await tail.waitForOutput((out) => out.toString() === 'one\ntwo\nthree\nfour\n', 'the next file at the path');
    tail.kill('SIGINT');
    expect(await tail.exited).toMatchObject({ code: 0, stderr: '' });
    expect((await aof(['tail', '-F', dir])).code).toBe(1); // a record log: -f, not -F
  });

  it('append --wait waits for the writer that holds the file and then appends; --wait MS gives up with ERR_AOF_LOCKED', async () => {
    const dir = tmpDir();
    const writer = await startWriter(dir, 'w.aof');
    const file = path.join(dir, 'w.aof');
    const limited = await aof(['append', '--wait=200', file], { input: Buffer.from('x\n') });
    expect(limited.code).toBe(1);
    expect(limited.stderr).toMatch(/^aof: ERR_AOF_LOCKED: /);
    const waiting = startAof(['append', file, '--wait', '-q'], { input: Buffer.from('after the writer\n') });
    // Without --wait, an append started after the waiting one fails at once: the lock is held
    // meanwhile, and the waiting one is still there (it has not failed like this one).
    const now = await aof(['append', file], { input: Buffer.from('y\n') });
    expect(now.stderr).toMatch(/^aof: ERR_AOF_LOCKED: /);
    expect(waiting.child.exitCode).toBe(null);
    await writer.request('close', 'closed');
    expect(await waiting.exited).toMatchObject({ code: 0, stderr: '' });
    expect((await aof(['cat', file])).out).toMatch(/after the writer\n$/);
  });
});

describe('aof inspect', () => {
  it('reports a clean file: Tail, its content size, writable, its control block (text and JSON)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'clean.aof');
    await aof(['append', file], { input: Buffer.from('0123456789') });
    const r = json(await aof(['inspect', '--json', file]));
    expect(r).toMatchObject({
      path: file, status: 'clean', size: 10, opensAs: 'writable', tornBytes: 0, mode: '0644',
      recovery: { kind: 'Tail', tail: 10, checkpoint: -1, end: 18, fromControlBlock: false },
      control: { valid: true, state: 'Closed', committed: 10, published: 10 },
      markers: { count: 0, last: [] },
    });
    expect(r.fileSize).toBe(fs.statSync(file).size);
    const text = await aof(['inspect', file]);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.out).toMatch(/^file: +.*clean\.aof\nstatus: +clean\ncontent: +10 bytes\n/);
    expect(text.out).toMatch(/\nrecovery: +Tail, content ends at 10, last non-zero byte 17\n/);
    expect(text.out).toMatch(/\ncontrol: +clean\.aof-shm: Closed, last writer pid \d+, committed 10, published 10\ndurable: +10 \(flush \d+, this boot\); 0 \(flush \d+, this boot\)\n/);
  });

  it('reports a torn file: the checkpoint it rolls back to and the bytes it zeroes; it never changes a file', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'torn.aof');
    handMade(file, TORN);
    const before = snapshot(dir);
    const r = json(await aof(['inspect', '--json', file]));
    expect(r).toMatchObject({
      status: 'torn', size: 20, tornBytes: TORN.length - 20, opensAs: 'writable', control: null,
      recovery: { kind: 'Checkpoint', tail: 20, checkpoint: 12, end: TORN.length },
      markers: { count: 1, last: [12] },
    });
    const text = await aof(['inspect', file]);
    expect(text.out).toContain(`opens as: writable (zeroes ${TORN.length - 20} torn bytes)`);
    expect(text.out).toContain('markers:  1 checkpoint marker, at 12');
    // Nothing written, nothing created (no control block either).
    expect(snapshot(dir)).toEqual(before);
  });

  it('reports a finished file as finished and read-only, its final marker counted', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'fin.aof');
    await aof(['append', '--finish', file], { input: Buffer.from('final content') });
    const r = json(await aof(['inspect', '--json', file]));
    expect(r).toMatchObject({
      status: 'finished', size: 13, fileSize: 21, opensAs: 'read-only', mode: '0444', control: null,
      recovery: { kind: 'Checkpoint', checkpoint: 13, tail: 21, end: 21 },
      markers: { count: 1, last: [13] },
    });
  });

  it('reports a torn file without any checkpoint as corrupted (an open fails), and exits 0', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad.aof');
    handMade(file, Buffer.from('no marker, no tail magic'));
    const before = snapshot(dir);
    const r = json(await aof(['inspect', '--json', file]));
    expect(r).toMatchObject({ status: 'corrupted', size: 0, opensAs: 'ERR_AOF_CORRUPTED', recovery: { kind: 'Corrupted' } });
    expect(r.recovery.error).toMatch(/torn write/);
    expect((await aof(['inspect', file])).out).toContain('opens as: fails with ERR_AOF_CORRUPTED');
    expect(snapshot(dir)).toEqual(before);
  });

  it('counts every checkpoint marker and lists the offsets of the last ten', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const offsets: number[] = [];
    const aofFile = m.open('many.aof');
    for (let i = 0; i < 15; i++) {
      aofFile.write(`entry ${i};`);
      offsets.push(aofFile.checkpoint());
    }
    await m.close();
    const r = json(await aof(['inspect', '--json', path.join(dir, 'many.aof')]));
    expect(r.markers).toEqual({ count: 15, last: offsets.slice(5) });
    expect((await aof(['inspect', path.join(dir, 'many.aof')])).out).toContain(`markers:  15 checkpoint markers, last 10 at ${offsets.slice(5).join(', ')}`);
  });

  it("reports a crashed writer's control block: a torn tail repaired to its committed size", async () => {
    const dir = tmpDir();
    const writer = await startWriter(dir, 'crash.aof');
    try {
      await writer.request('write 7 100,200', 'wrote');
      writer.kill('SIGKILL');
      await writer.exited;
    } finally {
      writer.kill();
    }
    // Tear the tail as a write cut short would: garbage over the tail magic and past it.
    const fd = fs.openSync(path.join(dir, 'crash.aof'), 'r+');
    fs.writeSync(fd, Buffer.from('half of a write'), 0, 15, 300);
    fs.closeSync(fd);
    const r = json(await aof(['inspect', '--json', path.join(dir, 'crash.aof')]));
    expect(r).toMatchObject({
      status: 'torn', size: 300, tornBytes: 15,
      recovery: { kind: 'Tail', tail: 300, fromControlBlock: true },
      control: { valid: true, state: 'Writing', pid: writer.pid, alive: false, committed: 300 },
    });
  });
});

describe('aof recover', () => {
  it('rolls a torn tail back to its checkpoint, reports it, and the file then opens clean', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'torn.aof');
    handMade(file, TORN);
    const run = await aof(['recover', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.out).toContain(`action:    rolled a torn write back to the checkpoint at 12: ${TORN.length - 20} bytes zeroed`);
    expect(run.out).toContain('changed:   yes');
    expect(run.out).toMatch(/before: +torn, content 20 bytes, on disk 8192 bytes, recovery Checkpoint/);
    expect(run.out).toMatch(/after: +clean, content 20 bytes, on disk 8192 bytes, recovery Tail/);

    const bytes = fs.readFileSync(file);
    expect(bytes.subarray(20, 28).equals(Buffer.from([0xaa, 0x24, 0x75, 0x54, 0x63, 0x9c, 0x9b, 0x41]))).toBe(true);
    expect(bytes.subarray(28).every((b) => b === 0)).toBe(true);
    const m = quietManager(dir);
    try {
      const reopened = m.open('torn.aof', Geometry.open());
      expect(reopened.recovery.kind).toBe(RecoveryKind.Tail);
      expect(reopened.view().equals(TORN.subarray(0, 20))).toBe(true);
    } finally {
      await m.close();
    }
    // A second run finds nothing to do.
    const again = json(await aof(['recover', '--json', file]));
    expect(again).toMatchObject({ action: 'clean: nothing to recover', changed: false, zeroedBytes: 0 });
  });

  it('refuses a corrupted file with ERR_AOF_CORRUPTED and a missing one with ERR_AOF_NOT_FOUND, changing nothing', async () => {
    const dir = tmpDir();
    handMade(path.join(dir, 'bad.aof'), Buffer.from('garbage without a marker'));
    const before = snapshot(dir);
    const bad = await aof(['recover', path.join(dir, 'bad.aof')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^aof: ERR_AOF_CORRUPTED: [^\n]*cannot recover[^\n]*\n$/);
    const missing = await aof(['recover', path.join(dir, 'none.aof')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^aof: ERR_AOF_NOT_FOUND: [^\n]*none\.aof does not exist\n$/);
    expect(snapshot(dir)).toEqual(before);
  });

  it('leaves a finished file as it is', async () => {
    const file = path.join(tmpDir(), 'fin.aof');
    await aof(['append', '--finish', file], { input: Buffer.from('x') });
    const r = json(await aof(['recover', '--json', file]));
    expect(r).toMatchObject({ action: 'finished: nothing to recover', changed: false, after: { status: 'finished', size: 1 } });
  });
});

describe('aof stats', () => {
  it("lists a live writer's file with its pid, finished and clean files, and totals; recover of the live file is ERR_AOF_LOCKED", async () => {
    const dir = tmpDir();
    const writer = await startWriter(dir, 'live.aof');
    try {
      await writer.request('write 1 5000', 'wrote');
      await aof(['append', '--finish', path.join(dir, 'done.aof')], { input: Buffer.from('12345') });
      await aof(['append', path.join(dir, 'open.aof')], { input: Buffer.from('abc') });
      const r = json(await aof(['stats', '--json', dir]));
      expect(r.files).toEqual([
        { name: 'done.aof', status: 'finished', size: 5, fileSize: 13, writerPid: null },
        { name: 'live.aof', status: 'writing', size: 5000, fileSize: expect.any(Number), writerPid: writer.pid },
        { name: 'open.aof', status: 'clean', size: 3, fileSize: expect.any(Number), writerPid: null },
      ]);
      expect(r.totals).toMatchObject({ files: 3, size: 5008, byStatus: { finished: 1, writing: 1, clean: 1 } });

      const text = await aof(['stats', dir]);
      expect(text).toMatchObject({ code: 0, stderr: '' });
      expect(text.out).toMatch(new RegExp(`\\nlive\\.aof +writing +5000 +\\d+ +pid ${writer.pid}\\n`));
      expect(text.out).toMatch(/\ntotal: 3 files, 5008 content bytes, \d+ bytes on disk; 1 finished, 1 writing, 1 clean\n$/);

      const locked = await aof(['recover', path.join(dir, 'live.aof')]);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toMatch(/^aof: ERR_AOF_LOCKED: [^\n]*\n$/);
      await writer.request('close', 'closed');
      await writer.exitedCleanly();
    } finally {
      writer.kill();
    }
  });

  it('stats of a missing directory is ERR_AOF_NOT_FOUND, of a file ERR_AOF_INVALID_ARG', async () => {
    const dir = tmpDir();
    expect((await aof(['stats', path.join(dir, 'none')])).stderr).toMatch(/^aof: ERR_AOF_NOT_FOUND: [^\n]*\n$/);
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    const run = await aof(['stats', path.join(dir, 'f')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^aof: ERR_AOF_INVALID_ARG: [^\n]*not a directory\n$/);
  });
});

describe('aof bench', () => {
  it("runs bench/run.mjs and exits with its status (an unknown benchmark: 2, run.mjs's message)", async () => {
    const run = await aof(['bench', 'no-such-benchmark']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^no benchmark matches no-such-benchmark; there are: .*write/);
  });

  it('says the benchmarks are not in the published package when bench/ is missing', async () => {
    // A copy of what npm publishes (bin/, dist/, package.json) with the addon and dependencies linked.
    const pkg = tmpDir('aof-package-');
    fs.cpSync(path.join(ROOT, 'bin'), path.join(pkg, 'bin'), { recursive: true });
    fs.cpSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkg, 'build'));
    const run = await aof(['bench'], { bin: path.join(pkg, 'bin', 'aof.js'), cwd: pkg });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^aof: ERR_AOF_NOT_FOUND: .*bench\/run\.mjs is missing: the benchmarks are not in the published package[^\n]*\n$/);
  });
});

describe('aof serve', () => {
  it('serves the directory on the port given, answers HTTP, and exits 0 on SIGTERM', async () => {
    const dir = tmpDir();
    const serve = startAof(['serve', '--dir', dir, '--port', '0']);
    await serve.waitForOutput((out) => out.toString().endsWith('\n'), 'the "serving" line');
    const m = /^serving (.+) on (http:\/\/\S+)\n$/.exec(serve.stdout.toString());
    expect(m?.[1]).toBe(dir);
    const res = await fetch(`${m![2]}/streams`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    serve.kill('SIGTERM');
    const run = await serve.exited;
    expect(run).toMatchObject({ code: 0, signal: null, stderr: '' });
  });
});

describe('aof serve flags', () => {
  it('--body-limit and --heartbeat reach the service; an SSE response in progress ends cleanly on SIGTERM, exit 0', async () => {
    const dir = tmpDir();
    const serve = startAof(['serve', '--dir', dir, '--port', '0', '--body-limit', '1k', '--heartbeat', '50']);
    await serve.waitForOutput((out) => out.toString().endsWith('\n'), 'the "serving" line');
    const url = /on (http:\/\/\S+)\n$/.exec(serve.stdout.toString())![1]!;
    expect((await fetch(`${url}/streams/s`, { method: 'POST', body: 'x'.repeat(1025) })).status).toBe(413);
    expect((await fetch(`${url}/streams/s`, { method: 'POST', body: `${'x'.repeat(1023)}\n` })).status).toBe(200);
    const sse = await fetch(`${url}/streams/s?encoding=text`);
    const reader = sse.body!.getReader();
    let text = '';
    while (!text.includes(': heartbeat')) text += new TextDecoder().decode((await reader.read()).value);
    serve.kill('SIGTERM');
    for (;;) {
      const { done, value } = await reader.read(); // ends, not errors: the service closed it cleanly
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain(`data: ${'x'.repeat(1023)}\n`);
    expect(await serve.exited).toMatchObject({ code: 0, signal: null, stderr: '' });
  });
});

describe('errors and usage', () => {
  it('a missing file is one ERR_AOF_NOT_FOUND line on stderr and exit 1, for every command reading one', async () => {
    const missing = path.join(tmpDir(), 'missing.aof');
    for (const args of [['cat', missing], ['tail', missing], ['tail', '-f', missing], ['inspect', missing], ['inspect', '--json', missing], ['recover', missing]]) {
      const run = await aof(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.out).toBe('');
      expect(run.stderr).toBe(`aof: ERR_AOF_NOT_FOUND: ${missing} does not exist\n`);
    }
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('a directory that is not a record log is ERR_AOF_NOT_FOUND for cat, tail and inspect', async () => {
    const dir = tmpDir();
    for (const cmd of ['cat', 'tail', 'inspect']) {
      const run = await aof([cmd, dir]);
      expect(run.code, cmd).toBe(1);
      expect(run.stderr).toBe(`aof: ERR_AOF_NOT_FOUND: ${dir} holds no record log segment\n`);
    }
  });

  it('a bad option, a bad value, a missing argument or an unknown command is a one-line usage error, exit 2', async () => {
    const file = path.join(tmpDir(), 'x.aof');
    const cases: string[][] = [
      ['cat', '--bogus', file],
      ['cat', '--from', 'abc', file],
      ['tail', '-n', '-3', file],
      ['append', '--max-size', 'lots', file],
      ['append', '--finish', '--records', file],
      ['serve', '--port', '70000'],
      ['cat'],
      ['inspect', file, 'extra'],
      ['tail', '-c', '+x', file],
      ['append', '--wait=soon', file],
      ['nosuch'],
    ];
    for (const args of cases) {
      const run = await aof(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.out).toBe('');
      expect(run.stderr, args.join(' ')).toMatch(/^aof: [^\n]+\n$/);
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  it('no command shows the help on stderr and exits 2', async () => {
    const run = await aof([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage: aof [options] [command]');
  });

  it('--help works on the program and on every command (stdout, exit 0), and so does "help <command>"', async () => {
    const top = await aof(['--help']);
    expect(top).toMatchObject({ code: 0, stderr: '' });
    const commands = ['append', 'cat', 'tail', 'inspect', 'recover', 'stats', 'bench', 'serve'];
    for (const c of commands) expect(top.out).toMatch(new RegExp(`\\n  ${c} `));
    for (const c of commands) {
      for (const args of [[c, '--help'], [c, '-h'], ['help', c]]) {
        const run = await aof(args);
        expect(run, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
        expect(run.out).toMatch(new RegExp(`^Usage: aof ${c} `));
      }
    }
  });

  it("--version prints package.json's version", async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await aof([flag])).toMatchObject({ code: 0, stderr: '', out: `${version}\n` });
  });

  it('stops quietly when the reader of its stdout goes away (EPIPE)', async () => {
    const file = path.join(tmpDir(), 'big.aof');
    await aof(['append', '-q', file], { input: Buffer.alloc(4 * 1024 * 1024, 'x') });
    const cat = startAof(['cat', file]);
    await cat.waitForOutput((out) => out.length > 0, 'some output');
    cat.child.stdout!.destroy();
    const run = await cat.exited;
    expect(run).toMatchObject({ code: 0, signal: null, stderr: '' });
  });
});

describe('progress bar', () => {
  function fakeTerminal(isTTY = true, columns = 60) {
    let now = 0;
    const writes: string[] = [];
    return {
      stream: { isTTY, columns, write: (s: string) => writes.push(s) },
      writes,
      advance: (ms: number) => (now += ms),
      now: () => now,
    };
  }

  it('draws nothing on a stream that is not a terminal', () => {
    const t = fakeTerminal(false);
    const p = new Progress({ label: 'cat', total: 100, stream: t.stream, now: t.now });
    for (let i = 0; i <= 100; i += 10) {
      t.advance(1000);
      p.update(i);
    }
    p.finish();
    expect(p.active).toBe(false);
    expect(t.writes).toEqual([]);
  });

  it('draws on a terminal only after the delay, at most once per interval, within its width, and finish erases it', () => {
    const t = fakeTerminal(true, 60);
    const p = new Progress({ label: 'recover', total: 4 * 1024 * 1024, stream: t.stream, now: t.now, delayMs: 250, intervalMs: 100 });
    p.update(1024);
    t.advance(200);
    p.update(2048);
    expect(t.writes).toEqual([]); // quick work never flashes a bar
    t.advance(100);
    p.update(1024 * 1024);
    expect(t.writes).toHaveLength(1);
    expect(t.writes[0]).toBe(`\r${p.line()}`);
    expect(t.writes[0]).toMatch(/^\rrecover \[#+\.+\] 25% 1\.0 MiB\/4\.0 MiB$/);
    expect(t.writes[0]!.length - 1).toBeLessThanOrEqual(59);
    t.advance(50);
    p.update(2 * 1024 * 1024);
    expect(t.writes).toHaveLength(1); // within the interval
    t.advance(50);
    p.update(4 * 1024 * 1024);
    expect(t.writes.at(-1)).toMatch(/\] 100% 4\.0 MiB\/4\.0 MiB$/);
    p.finish();
    expect(t.writes.at(-1)).toBe('\r\x1b[2K');
    p.finish();
    expect(t.writes).toHaveLength(3);
  });

  it('counts items, copes with an unknown total and with a narrow or unsized terminal', () => {
    const t = fakeTerminal(true, 0);
    const p = new Progress({ label: 'bench', total: 5, unit: 'count', stream: t.stream, now: t.now, delayMs: 0 });
    p.update(2);
    expect(t.writes[0]).toMatch(/^\rbench \[#+\.+\] 40% 2\/5$/);
    expect(t.writes[0]!.length - 1).toBe(79);
    const narrow = fakeTerminal(true, 12);
    const q = new Progress({ label: 'scan', total: 0, stream: narrow.stream, now: narrow.now, delayMs: 0 });
    q.update(3 * 1024);
    expect(narrow.writes[0]).toBe(`\r${'scan 3.0 KiB'.padEnd(20)}`);
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it('a large cat, a recover and a stats run print nothing on stderr when piped', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'large.aof');
    const input = randomBytes(24 * 1024 * 1024);
    expect((await aof(['append', '-q', file], { input })).stderr).toBe('');
    const cat = await aof(['cat', file]);
    expect(cat).toMatchObject({ code: 0, stderr: '' });
    expect(cat.stdout.length).toBe(input.length);
    expect((await aof(['recover', file])).stderr).toBe('');
    expect((await aof(['stats', dir])).stderr).toBe('');
  });
});

describe('the files the command writes are the library\'s', () => {
  it('a file appended by the command opens in the library with the same content and state', async () => {
    const dir = tmpDir();
    await aof(['append', path.join(dir, 'lib.aof')], { input: Buffer.from('from the command') });
    const m = new Manager(dir, { flushIntervalMs: 0 });
    try {
      const a = m.open('lib.aof', Geometry.open());
      expect(a.state).toBe(FileState.Opened);
      expect(a.view().toString()).toBe('from the command');
    } finally {
      await m.close();
    }
  });
});
