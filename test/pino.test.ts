/**
 * `mmap-aof/pino`: `pino(createDestination({ file }))` writes every log line into an AOF. Lines
 * read back as JSON, in order, from the file reopened by a new Manager; a process that exits
 * (or is killed) right after logging loses no line; errors, `end()`, `flush`, ownership of the
 * Manager and the AOF behave as documented.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AofError, FileState, Geometry, Manager } from '../src/index.js';
import { AofDestination, DEFAULT_LOG_GEOMETRY, createDestination } from '../src/pino.js';
import { Peer, ROOT, codeOf, fixture, quietManager, tmpDir } from './helpers.js';

const DIST_PINO = path.join(ROOT, 'dist', 'pino.js');

/** The content of the AOF at `file`, reopened by a new Manager (recovery decides where it ends). */
async function contentOf(file: string): Promise<string> {
  const m = new Manager(path.dirname(file), { flushIntervalMs: 0 });
  try {
    // The destination's geometry: a log may be larger than a default Geometry's sizeUpper (ERR_AOF_SHRINK).
    return m.open(path.basename(file), DEFAULT_LOG_GEOMETRY.withCreate(false)).view().toString('utf8');
  } finally {
    await m.close();
  }
}

/** Every line of `text`, parsed; the text must end with a newline and hold only JSON lines. */
function jsonLines(text: string): Record<string, any>[] {
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Record<string, any>);
}


describe('createDestination() with pino', () => {
  it('pino(dest) writes every line (child loggers, nested objects, errors, multi-byte text) as JSON, in order', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.log');
    const dest = createDestination({ file });
    const logger = pino(dest);
    const N = 5000;
    const child = logger.child({ component: 'db', shard: 3 });
    const grandchild = child.child({ query: 'select' });
    for (let i = 0; i < N; i++) {
      switch (i % 4) {
        case 0: logger.info({ i, req: { id: i, path: `/items/${i}`, tags: ['a', 'b'] } }, 'request done'); break;
        case 1: child.warn({ i }, 'slow query ⏱ größe 😀'); break;
        case 2: grandchild.error({ i, err: new Error(`boom ${i}`) }, 'failed'); break;
        default: logger.debug({ i }, 'not logged: below the level'); logger.info({ i }); break;
      }
    }
    await new Promise<void>((resolve, reject) => logger.flush((e) => (e ? reject(e) : resolve())));
    const bytes = dest.aof.size;
    await dest.close();
    const text = await contentOf(file);
    expect(Buffer.byteLength(text)).toBe(bytes);
    const lines = jsonLines(text);
    expect(lines.length).toBe(N);
    lines.forEach((line, i) => {
      expect(line.i).toBe(i);
      expect(line.pid).toBe(process.pid);
      expect(typeof line.time).toBe('number');
    });
    expect(lines[0]).toMatchObject({ level: 30, msg: 'request done', req: { id: 0, path: '/items/0', tags: ['a', 'b'] } });
    expect(lines[1]).toMatchObject({ level: 40, component: 'db', shard: 3, msg: 'slow query ⏱ größe 😀' });
    expect(lines[2]).toMatchObject({ level: 50, component: 'db', shard: 3, query: 'select', msg: 'failed', err: { message: 'boom 2' } });
    expect(lines[3]).toMatchObject({ level: 30, i: 3 });
    expect(lines[3].msg).toBeUndefined();
  });

  it('pino(options, dest) works too, and a destination on an existing log appends after its lines', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.log');
    const first = createDestination({ file });
    pino({ base: null, timestamp: false }, first).info('one');
    await first.close();
    const second = createDestination({ dir, file: 'app.log' });
    const logger = pino({ base: { app: 'x' }, timestamp: false, messageKey: 'message' }, second);
    logger.info('two');
    await second.close();
    expect(jsonLines(await contentOf(file))).toEqual([
      { level: 30, msg: 'one' },
      { level: 30, app: 'x', message: 'two' },
    ]);
  });

  for (const how of ['exit', 'return', 'kill'] as const) {
    const what = { exit: 'calls process.exit() right after logging', return: 'ends without closing anything',
      kill: 'is killed with SIGKILL after logging' }[how];
    it(`a child process that ${what} leaves every line in the file`, async () => {
      const dir = tmpDir();
      const file = path.join(dir, `${how}.log`);
      const N = 20_000;
      const peer = Peer.process(fixture('pino-exit.mjs'), [DIST_PINO, file, String(N), how], { killAfterMs: 60_000 });
      if (how === 'kill') {
        await peer.waitFor('logged');
        peer.kill('SIGKILL');
        expect((await peer.exited).signal).toBe('SIGKILL');
      } else {
        await peer.exitedCleanly();
      }
      const lines = jsonLines(await contentOf(file));
      expect(lines.length).toBe(N);
      lines.forEach((line, i) => {
        expect(line.i).toBe(i);
        expect(line.how).toBe(how);
        expect(line.component).toBe(i % 2 ? 'child' : undefined);
      });
    });
  }

  it('end() closes the file and the Manager it made, then emits finish and close; later writes fail with ERR_AOF_CLOSED', async () => {
    const dir = tmpDir();
    const dest = createDestination({ file: path.join(dir, 'end.log') });
    await once(dest, 'ready');
    expect(dest.writable).toBe(true);
    expect(dest.destroyed).toBe(false);
    dest.write('{"a":1}\n');
    const events: string[] = [];
    dest.on('finish', () => events.push('finish'));
    const closed = once(dest, 'close').then(() => events.push('close'));
    dest.end();
    expect(dest.writable).toBe(false);
    expect(dest.destroyed).toBe(true);
    await closed;
    expect(events).toEqual(['finish', 'close']);
    expect(dest.aof.state).toBe(FileState.Closed);
    // Not finished: the next writer appends.
    expect(await contentOf(path.join(dir, 'end.log'))).toBe('{"a":1}\n');
    expect(codeOf(() => dest.write('{"b":2}\n'))).toBe('ERR_AOF_CLOSED');
    const errors: unknown[] = [];
    dest.on('error', (e) => errors.push(e));
    expect(dest.write('{"b":2}\n')).toBe(false);
    expect((errors[0] as AofError).code).toBe('ERR_AOF_CLOSED');
    expect(dest.close()).toBe(dest.close()); // idempotent
  });

  it('a write that does not fit (ERR_AOF_FULL) writes nothing and is emitted as error; without a listener the log call throws it', async () => {
    const dir = tmpDir();
    const dest = createDestination({ file: path.join(dir, 'full.log'), geometry: Geometry.create().with(4096, 8192, 4096) });
    const logger = pino({ base: null, timestamp: false }, dest);
    const big = 'x'.repeat(3000);
    logger.info(big);
    logger.info(big);
    const size = dest.aof.size;
    let thrown: unknown;
    try {
      logger.info(big);
    } catch (e) {
      thrown = e;
    }
    expect((thrown as AofError).code).toBe('ERR_AOF_FULL');
    const errors: AofError[] = [];
    dest.on('error', (e: AofError) => errors.push(e));
    logger.info(big);
    expect(errors.map((e) => e.code)).toEqual(['ERR_AOF_FULL']);
    expect(dest.aof.size).toBe(size);
    logger.info('small still fits');
    await dest.close();
    const lines = jsonLines(await contentOf(path.join(dir, 'full.log')));
    expect(lines.map((l) => l.msg.length)).toEqual([3000, 3000, 16]);
  });

  it('opens through a given Manager, and end() closes the file but not the Manager', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const dest = createDestination({ manager: m, file: 'in-manager.log' });
    pino(dest).info('hello');
    expect(m.files().map((f) => f.name)).toEqual(['in-manager.log']);
    await dest.close();
    expect(m.files()).toEqual([]);
    const again = m.open('in-manager.log');
    expect(jsonLines(again.view().toString())[0].msg).toBe('hello');
    await m.close();
    // A name the Manager has open already is shared: end() leaves it open.
    const m2 = quietManager(dir);
    const shared = m2.open('shared.log');
    const dest2 = createDestination({ manager: m2, file: 'shared.log' });
    expect(dest2.aof).toBe(shared);
    await dest2.close();
    expect(shared.state).toBe(FileState.Opened);
    await m2.close();
    // With a manager, the file must be directly in its directory.
    expect(codeOf(() => createDestination({ manager: m, file: '../elsewhere.log' }))).toBe('ERR_AOF_INVALID_ARG');
  });

  it('writes into a given AOF and leaves it open on end()', async () => {
    const m = quietManager();
    const aof = m.open('given.aof');
    aof.write('not a log line\n');
    const dest = createDestination({ aof });
    pino({ base: null, timestamp: false }, dest).info('appended');
    await dest.close();
    expect(aof.state).toBe(FileState.Opened);
    expect(aof.view().toString()).toBe('not a log line\n{"level":30,"msg":"appended"}\n');
    await m.close();
  });

  it('fsync: true syncs after every line; flush(cb) and flushSync() flush the file', async () => {
    const m = quietManager();
    const dest = createDestination({ manager: m, file: 'fsync.log', fsync: true });
    const logger = pino(dest);
    for (let i = 0; i < 5; i++) logger.info({ i });
    expect(m.stats().syncs.count).toBe(5);
    const plain = createDestination({ manager: m, file: 'plain.log' });
    const plainLogger = pino(plain);
    plainLogger.info('a');
    const flushes = m.stats().flushes.count;
    await new Promise<void>((resolve, reject) => plainLogger.flush((e) => (e ? reject(e) : resolve())));
    expect(m.stats().flushes.count).toBe(flushes + 1);
    plainLogger.info('b');
    plain.flushSync();
    expect(m.stats().flushes.count).toBe(flushes + 2);
    // A flush is a durability request like a sync (one device flush each): 5 lines + 2 flushes.
    expect(m.stats().syncs.count).toBe(7);
    await m.close();
  });

  it('refuses a finished log (ERR_AOF_READ_ONLY) and bad options (ERR_AOF_INVALID_ARG)', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const done = m.open('finished.log');
    done.write('{"old":true}\n');
    await done.finish();
    expect(codeOf(() => createDestination({ file: path.join(dir, 'finished.log') }))).toBe('ERR_AOF_READ_ONLY');
    expect(codeOf(() => createDestination({ manager: m, file: 'finished.log' }))).toBe('ERR_AOF_READ_ONLY');
    expect(done.state).toBe(FileState.EOF); // the Manager's own AOF is left as it was
    const closedAof = m.open('closed.log');
    await closedAof.close();
    expect(codeOf(() => createDestination({ aof: closedAof }))).toBe('ERR_AOF_CLOSED');
    const bad: unknown[] = [undefined, null, {}, { file: '' }, { file: 5 }, { file: 'x.log', dir: '' }, { file: 'x.log', manager: {} },
      { file: 'x.log', geometry: {} }, { file: 'x.log', fsync: 'yes' }, { aof: {} }, { aof: m.open('a.log'), file: 'x.log' },
      { file: 'x.log', manager: m, managerOptions: {} }, { file: 'x.log', lockTimeout: -1 }, { file: 'x.log', lockTimeout: '5' },
      { aof: m.open('b.log'), lockTimeout: 5 }];
    for (const options of bad) {
      expect(codeOf(() => createDestination(options as never)), String(JSON.stringify(options))).toBe('ERR_AOF_INVALID_ARG');
    }
    await m.close();
    // Nothing the refused destinations opened is left behind but the files named.
    expect(fs.readdirSync(dir).filter((f) => !f.endsWith('-shm')).sort()).toEqual(['a.log', 'b.log', 'closed.log', 'finished.log']);
  });

  it.each(['rename', 'copytruncate'] as const)('%s rotation, as logrotate does it (then SIGHUP, in a child process): later lines go to the file at the path; none is lost or written twice', async (how) => {
    const dir = tmpDir();
    const file = path.join(dir, 'app.aof');
    const child = spawn(process.execPath, [fixture('pino-rotate.mjs'), DIST_PINO, file, '13', '17'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => d.includes('logged') && resolve());
      child.once('exit', () => reject(new Error(`the child exited early: ${stderr}`)));
    });
    if (how === 'rename') {
      fs.renameSync(file, `${file}.1`); // logrotate's default, then postrotate's kill -HUP
    } else {
      fs.copyFileSync(file, `${file}.1`); // copytruncate: cp, then truncate -s 0 (a reopen finds the same file)
      fs.truncateSync(file, 0);
    }
    child.kill('SIGHUP');
    const [code] = await once(child, 'exit');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const old = jsonLines(await contentOf(`${file}.1`));
    const fresh = jsonLines(await contentOf(file));
    expect(old.map((l) => [l.msg, l.i])).toEqual(Array.from({ length: 13 }, (_, i) => ['before', i]));
    expect(fresh.map((l) => [l.msg, l.i])).toEqual(Array.from({ length: 17 }, (_, i) => ['after', i]));
  });

  it('copytruncate without a reopen: the first line after the truncate finds the file truncated under it and starts it afresh; flush() waits for that', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'ct.aof');
    const dest = createDestination({ file });
    const errors: unknown[] = [];
    dest.on('error', (e) => errors.push(e));
    const logger = pino(dest);
    for (let i = 0; i < 5; i++) logger.info({ i }, 'before');
    const first = dest.aof;
    fs.copyFileSync(file, `${file}.1`);
    fs.truncateSync(file, 0);
    for (let i = 0; i < 9; i++) logger.info({ i }, 'after');
    await new Promise<void>((resolve, reject) => dest.flush((e) => (e ? reject(e) : resolve())));
    expect(dest.aof).not.toBe(first);
    expect(first.state).toBe(FileState.Closed);
    expect(dest.dropped).toBe(0);
    await dest.close();
    expect(errors).toEqual([]);
    expect(jsonLines(await contentOf(`${file}.1`)).map((l) => l.i)).toEqual([0, 1, 2, 3, 4]);
    expect(jsonLines(await contentOf(file)).map((l) => [l.msg, l.i])).toEqual(Array.from({ length: 9 }, (_, i) => ['after', i]));
  });

  it('a file another writer holds: an error event (ERR_AOF_LOCKED) instead of a throw, lines dropped and counted; with lockTimeout, lines are held and written once the holder lets go', async () => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const holder = m.open('held.log');
    holder.write('{"holder":1}\n');
    const refused = createDestination({ file: path.join(dir, 'held.log') });
    const [error] = await once(refused, 'error') as [AofError];
    expect(error.code).toBe('ERR_AOF_LOCKED');
    expect(refused.writable, 'still a stream to pino (lines are counted as dropped)').toBe(true);
    expect(refused.write('{"x":1}\n')).toBe(false);
    expect(refused.dropped).toBe(1);
    expect(codeOf(() => refused.aof)).toBe('ERR_AOF_LOCKED');
    await refused.close();

    const waiting = createDestination({ file: path.join(dir, 'held.log'), lockTimeout: Infinity });
    const logger = pino(waiting);
    for (let i = 0; i < 20; i++) logger.info({ i }, 'held');
    expect(waiting.writable).toBe(true);
    expect(codeOf(() => waiting.aof)).toBe('ERR_AOF_LOCKED');
    const ready = once(waiting, 'ready');
    await holder.close();
    await ready;
    logger.info({ i: 20 }, 'held');
    await waiting.close();
    await m.close();
    const lines = jsonLines(await contentOf(path.join(dir, 'held.log')));
    expect(lines[0]).toEqual({ holder: 1 });
    expect(lines.slice(1).map((l) => l.i)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(waiting.dropped).toBe(0);
  });

  it.each([['0', 'gives up at once'], ['Infinity', 'waits until the holder lets go']])('a second process (lockTimeout %s, no error listener) %s and exits 0, never with an uncaught exception', async (timeout) => {
    const dir = tmpDir();
    const m = quietManager(dir);
    const holder = m.open('shared.log');
    holder.write('{"holder":1}\n');
    const child = spawn(process.execPath, [fixture('pino-locked.mjs'), DIST_PINO, path.join(dir, 'shared.log'), '7', timeout], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const logged = new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        if (stdout.includes('logged')) resolve();
      });
    });
    await logged;
    await holder.close();
    const [code] = await once(child, 'exit');
    await m.close();
    const lines = jsonLines(await contentOf(path.join(dir, 'shared.log')));
    if (timeout === '0') {
      expect({ code, stdout }).toEqual({ code: 0, stdout: 'logged dropped=7\nexit dropped=7\n' });
      expect(stderr).toMatch(/ERR_AOF_LOCKED/);
      expect(lines).toEqual([{ holder: 1 }]);
    } else {
      expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: 'logged dropped=0\nended dropped=0\nexit dropped=0\n', stderr: '' });
      expect(lines.slice(1).map((l) => l.i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    }
  });

  it('reopen() in process: to the same path after a rename, to another file, a no-op while the path is still the file, an error event for a destination over a given AOF', async () => {
    const dir = tmpDir();
    const dest = createDestination({ file: path.join(dir, 'a.aof') });
    const logger = pino(dest);
    logger.info('one');
    const first = dest.aof;
    dest.reopen(); // nothing was renamed: the same file
    expect(dest.aof).toBe(first);
    fs.renameSync(path.join(dir, 'a.aof'), path.join(dir, 'a.aof.1'));
    dest.reopen();
    expect(dest.aof).not.toBe(first);
    logger.info('two');
    dest.reopen('b.aof');
    logger.info('three');
    await dest.close();
    expect(first.state).toBe(FileState.Closed);
    expect(jsonLines(await contentOf(path.join(dir, 'a.aof.1'))).map((l) => l.msg)).toEqual(['one']);
    expect(jsonLines(await contentOf(path.join(dir, 'a.aof'))).map((l) => l.msg)).toEqual(['two']);
    expect(jsonLines(await contentOf(path.join(dir, 'b.aof'))).map((l) => l.msg)).toEqual(['three']);
    const m = quietManager(dir);
    const aof = m.open('c.aof');
    const given = createDestination({ aof });
    const errors: unknown[] = [];
    given.on('error', (e) => errors.push(e));
    given.reopen();
    expect((errors[0] as AofError).code).toBe('ERR_AOF_INVALID_ARG');
    await given.close();
    await m.close();
  });

  it('as a transport target (the default export), receives the lines in pino\'s worker thread and closes with the transport', async () => {
    const file = path.join(tmpDir(), 'transport.log');
    const logger = pino({ transport: { target: DIST_PINO, options: { file } } });
    for (let i = 0; i < 1000; i++) logger.info({ i }, 'via transport');
    const stream = (logger as unknown as Record<symbol, NodeJS.EventEmitter & { end(): void }>)[pino.symbols.streamSym]!;
    const closed = once(stream, 'close');
    stream.end();
    await closed;
    const lines = jsonLines(await contentOf(file));
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('is an EventEmitter that pino recognises as a stream, with the sonic-boom methods pino calls', async () => {
    const dest = createDestination({ file: path.join(tmpDir(), 'shape.log') });
    expect(dest).toBeInstanceOf(AofDestination);
    for (const method of ['write', 'flush', 'flushSync', 'end', 'destroy', 'on', 'emit']) {
      expect(typeof (dest as unknown as Record<string, unknown>)[method], method).toBe('function');
    }
    // pino tells a stream from an options object by `writable`; an options object would not log here.
    const logger = pino(dest);
    logger.info('x');
    expect(dest.aof.size).toBeGreaterThan(0);
    await new Promise<void>((resolve, reject) => dest.end((e) => (e ? reject(e) : resolve())));
    expect(dest.aof.state).toBe(FileState.Closed);
  });
});
