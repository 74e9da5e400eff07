import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AofError, ErrorCode, FileState, Geometry, Log, Manager } from '../src/index.js';
import { native } from '../src/native.js';
import { codeOf, DIST, isRoot, ROOT, mountTmpfs, runNode, skipTitle, tmpDir, unmountTmpfs } from './helpers.js';

const PAGE = 4096;
const TAIL = Buffer.from([0xaa, 0x24, 0x75, 0x54, 0x63, 0x9c, 0x9b, 0x41]);

describe('error codes', () => {
  it('lists every code docs/api.md names, and nothing else', () => {
    // The contract: the ErrorCode table of docs/api.md, key and code per row.
    const api = fs.readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8');
    const table = api.slice(api.indexOf('### `ErrorCode`'), api.indexOf('\n### ', api.indexOf('### `ErrorCode`') + 1));
    const documented = Object.fromEntries([...table.matchAll(/^\| `(\w+)` \| `(ERR_AOF_\w+)` \|/gm)].map((m) => [m[1], m[2]]));
    expect(documented).toEqual({ ...ErrorCode });
    expect(Object.values(ErrorCode).sort()).toEqual([
      'ERR_AOF_APPEND_FUNC', 'ERR_AOF_CLOSED', 'ERR_AOF_CONFLICT', 'ERR_AOF_CORRUPTED', 'ERR_AOF_CORRUPT_DATA',
      'ERR_AOF_EMPTY_FILE', 'ERR_AOF_FULL', 'ERR_AOF_INVALID_ARG', 'ERR_AOF_IS_DIRECTORY', 'ERR_AOF_LOCKED', 'ERR_AOF_MISSING_PEER',
      'ERR_AOF_NOT_FOUND', 'ERR_AOF_NO_SPACE', 'ERR_AOF_READ_ONLY', 'ERR_AOF_READ_PERMISSION', 'ERR_AOF_RECORD_TOO_BIG',
      'ERR_AOF_REMOTE', 'ERR_AOF_SHRINK', 'ERR_AOF_WOULD_BLOCK',
    ]);
  });

  it('ERR_AOF_IS_DIRECTORY: the name is a directory', async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'sub.aof'));
    const m = new Manager(dir);
    expect(codeOf(() => m.open('sub.aof'))).toBe('ERR_AOF_IS_DIRECTORY');
    await m.close();
  });

  it('ERR_AOF_NOT_FOUND: a missing file without create', async () => {
    const m = new Manager(tmpDir());
    expect(codeOf(() => m.open('missing.aof', Geometry.open()))).toBe('ERR_AOF_NOT_FOUND');
    expect(fs.existsSync(path.join(m.dir, 'missing.aof'))).toBe(false);
    await m.close();
  });

  it('ERR_AOF_CORRUPTED: a torn tail with no checkpoint, and the file is left untouched', async () => {
    const dir = tmpDir();
    const torn = Buffer.alloc(2 * PAGE);
    torn.write('partial record without any marker');
    fs.writeFileSync(path.join(dir, 'torn.aof'), torn);
    const m = new Manager(dir);
    expect(codeOf(() => m.open('torn.aof'))).toBe('ERR_AOF_CORRUPTED');
    expect(fs.readFileSync(path.join(dir, 'torn.aof')).equals(torn)).toBe(true);
    // a recovery function of the caller's may decide otherwise
    const aof = m.open('torn.aof', Geometry.create(), (fileSize) => ({
      kind: 2, tail: 7, checkpoint: -1, end: 7, fileSize,
    }));
    expect(aof.size).toBe(7);
    expect(aof.view().toString()).toBe('partial');
    await m.close();
  });

  it('ERR_AOF_CORRUPTED: a recovery function that throws is a Panic, reported with its error as cause', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const boom = new Error('recovery exploded');
    let err: unknown;
    try {
      m.open('x.aof', Geometry.create(), () => {
        throw boom;
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AofError);
    expect(err).toMatchObject({ code: 'ERR_AOF_CORRUPTED', cause: boom });
    // nothing was left open: the same manager can open the name again
    expect(m.open('x.aof').size).toBe(0);
    await m.close();
  });

  it('ERR_AOF_SHRINK: an existing file past geometry.sizeUpper is not shrunk', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('big.aof', Geometry.create().with(8 * PAGE, 8 * PAGE, PAGE));
    aof.write('data');
    await aof.close();
    expect(codeOf(() => m.open('big.aof', Geometry.create().with(PAGE, 4 * PAGE, PAGE)))).toBe('ERR_AOF_SHRINK');
    expect(fs.statSync(path.join(dir, 'big.aof')).size).toBe(8 * PAGE);
    await m.close();
  });

  it('ERR_AOF_EMPTY_FILE: an empty file that cannot be written has nothing to open', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'empty.aof');
    fs.writeFileSync(file, '');
    fs.chmodSync(file, 0o444);
    const m = new Manager(dir);
    expect(codeOf(() => m.open('empty.aof'))).toBe('ERR_AOF_EMPTY_FILE');
    await m.close();
  });

  it('ERR_AOF_READ_ONLY: a file without write permission opens read-only and refuses writes', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('ro.aof');
    aof.write('content');
    await aof.close();
    const file = path.join(dir, 'ro.aof');
    fs.chmodSync(file, 0o444);
    const before = fs.readFileSync(file);
    const again = m.open('ro.aof');
    expect(again.readOnly).toBe(true);
    expect(again.state).toBe(FileState.Opened);
    expect(again.view().toString()).toBe('content');
    expect(codeOf(() => again.write('x'))).toBe('ERR_AOF_READ_ONLY');
    expect(codeOf(() => again.append(1, () => 1))).toBe('ERR_AOF_READ_ONLY');
    expect(codeOf(() => again.checkpoint())).toBe('ERR_AOF_READ_ONLY');
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    await m.close();
  });

  it('ERR_AOF_READ_ONLY: writing a finished file', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('f.aof');
    await aof.finish();
    expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_READ_ONLY');
    await m.close();
  });

  it('ERR_AOF_CLOSED: every use after close', async () => {
    const m = new Manager(tmpDir());
    const aof = m.open('c.aof');
    await aof.close();
    expect(codeOf(() => aof.write('x'))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.writeNonBlocking('x'))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.append(1, () => 1))).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.checkpoint())).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.view())).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.flushSync())).toBe('ERR_AOF_CLOSED');
    expect(codeOf(() => aof.finish())).toBe('ERR_AOF_CLOSED');
    await expect(aof.sync()).rejects.toMatchObject({ code: 'ERR_AOF_CLOSED' });
    await m.close();
    expect(codeOf(() => m.open('other.aof'))).toBe('ERR_AOF_CLOSED');
  });

  it('ERR_AOF_LOCKED: a second writer on the same file', async () => {
    const dir = tmpDir();
    const m1 = new Manager(dir);
    const m2 = new Manager(dir);
    const aof = m1.open('l.aof');
    aof.write('first');
    expect(codeOf(() => m2.open('l.aof'))).toBe('ERR_AOF_LOCKED');
    expect(aof.view().toString()).toBe('first');
    await m1.close();
    expect(m2.open('l.aof').size).toBe(5);
    await m2.close();
  });

  it('ERR_AOF_LOCKED: Log.open waits up to lockTimeout for the log\'s writer to let go, gives up after it, and a signal ends the wait', async () => {
    const dir = tmpDir();
    const first = await Log.open(dir);
    first.append(Buffer.from('one'));
    await expect(Log.open(dir)).rejects.toMatchObject({ code: 'ERR_AOF_LOCKED' });
    const started = performance.now();
    await expect(Log.open(dir, { lockTimeout: 40 })).rejects.toMatchObject({ code: 'ERR_AOF_LOCKED' });
    expect(performance.now() - started, 'it waited before giving up').toBeGreaterThanOrEqual(39);
    const controller = new AbortController();
    const aborted = Log.open(dir, { lockTimeout: Infinity, signal: controller.signal });
    controller.abort(new Error('stop waiting'));
    await expect(aborted).rejects.toThrow('stop waiting');
    await expect(Log.open(dir, { lockTimeout: -1 })).rejects.toMatchObject({ code: 'ERR_AOF_INVALID_ARG' });
    const waiting = Log.open(dir, { lockTimeout: Infinity });
    await first.close();
    const second = await waiting;
    expect(second.lastId).toBe(1);
    expect(second.append(Buffer.from('two'))).toBe(2);
    await second.close();
  });

  it('ERR_AOF_LOCKED: a writer in another process holds the file until it exits', async () => {
    const dir = tmpDir();
    const script = path.join(dir, 'hold.mjs');
    fs.writeFileSync(script, `
      const { Manager } = await import(${JSON.stringify(DIST)});
      const m = new Manager(process.argv[2]);
      m.open('l.aof').write('child');
      console.log('locked');
      await new Promise((r) => process.stdin.once('data', r));
      await m.close();
    `);
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [script, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const m = new Manager(dir);
    expect(codeOf(() => m.open('l.aof'))).toBe('ERR_AOF_LOCKED');
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end('go\n');
    expect(await exited).toBe(0);
    expect(m.open('l.aof').view().toString()).toBe('child');
    await m.close();
  });

  it('ERR_AOF_INVALID_ARG: names that would escape the directory, bad geometry, bad data, bad ranges', async () => {
    const m = new Manager(tmpDir());
    for (const name of ['', '.', '..', '../x.aof', 'a/b.aof', '/etc/passwd', 'nul\0.aof', 42]) {
      expect(codeOf(() => m.open(name as string))).toBe('ERR_AOF_INVALID_ARG');
    }
    expect(codeOf(() => m.open('g.aof', {} as Geometry))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => m.open('g.aof', Geometry.create().with(8 * PAGE, PAGE, PAGE)))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => Geometry.create().with(-1, 0, 0))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => new Manager(''))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => new Manager(m.dir, { writeMode: -1 }))).toBe('ERR_AOF_INVALID_ARG');
    const aof = m.open('ok.aof');
    aof.write('abc');
    expect(codeOf(() => aof.write(123 as unknown as string))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.write([1, 2] as unknown as Uint8Array))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.append(-1, () => 0))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.append(NaN, () => 0))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.append(1, 'fn' as unknown as () => number))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.view(-1))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.view(0, 4))).toBe('ERR_AOF_INVALID_ARG');
    expect(codeOf(() => aof.view(2, 1))).toBe('ERR_AOF_INVALID_ARG');
    expect(aof.view().toString()).toBe('abc');
    expect(fs.readdirSync(m.dir).sort()).toEqual(['ok.aof', 'ok.aof-shm']);
    await m.close();
  });

  it('ERR_AOF_INVALID_ARG: the manager directory is a file', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, 'x');
    expect(codeOf(() => new Manager(file))).toBe('ERR_AOF_INVALID_ARG');
  });

  it('argument errors say what was expected and what was given', () => {
    const m = new Manager(tmpDir());
    expect(() => m.open('../up')).toThrow(/name: expected .* got "\.\.\/up"/);
    return m.close();
  });
});

// NOTE: these run only as root: they mount a tmpfs (disk full) or drop to uid "nobody" (permission
// errors; root itself bypasses file modes). CI runs as root, so they run there.
describe.runIf(isRoot)(skipTitle(isRoot, 'error codes that need root to set up', 'needs root'), () => {
  let mnt: string;

  beforeAll(() => {
    mnt = mountTmpfs('256k');
  });

  afterAll(() => {
    unmountTmpfs(mnt);
  });

  it('ERR_AOF_NO_SPACE: growing on a full disk is an error (never SIGBUS) and nothing written is lost', async () => {
    const m = new Manager(mnt);
    const aof = m.open('fill.aof', Geometry.create().with(PAGE, 16 * 1024 * 1024, 16 * PAGE));
    const chunk = Buffer.alloc(1000, 7);
    let written = 0;
    let err: AofError | undefined;
    try {
      for (;;) written += aof.write(chunk);
    } catch (e) {
      err = e as AofError;
    }
    expect(err?.code).toBe('ERR_AOF_NO_SPACE');
    expect((err?.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect((err?.cause as NodeJS.ErrnoException).syscall).toBe('fallocate');
    expect(written).toBeGreaterThan(100_000);
    expect(aof.size).toBe(written);
    await m.close();
    const again = new Manager(mnt).open('fill.aof', Geometry.create().with(PAGE, 16 * 1024 * 1024, 16 * PAGE));
    expect(again.size).toBe(written);
    expect(again.view().every((b) => b === 7)).toBe(true);
    await again.close();
    fs.rmSync(path.join(mnt, 'fill.aof'));
  });

  it('ERR_AOF_READ_PERMISSION and ERR_AOF_READ_ONLY for a process without permission', async () => {
    const dir = tmpDir();
    fs.chmodSync(dir, 0o755);
    const m = new Manager(dir);
    m.open('secret.aof').write('root only');
    m.open('shared.aof').write('readable');
    await m.close();
    fs.chmodSync(path.join(dir, 'secret.aof'), 0o600);
    fs.chmodSync(path.join(dir, 'shared.aof'), 0o644);
    const script = path.join(dir, 'probe.mjs');
    fs.writeFileSync(script, `
      const { Manager } = await import(${JSON.stringify(DIST)});
      const m = new Manager(process.argv[2]);
      const out = {};
      try { m.open('secret.aof'); } catch (e) { out.secret = e.code; }
      const shared = m.open('shared.aof');
      out.sharedReadOnly = shared.readOnly;
      out.sharedContent = shared.view().toString();
      try { shared.write('x'); } catch (e) { out.write = e.code; }
      try { m.open('new.aof'); } catch (e) { out.create = e.code; }
      await m.close();
      console.log(JSON.stringify(out));
    `);
    fs.chmodSync(script, 0o644);
    const r = await runNode(script, [dir], { uid: 65534, gid: 65534 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      secret: 'ERR_AOF_READ_PERMISSION',
      sharedReadOnly: true,
      sharedContent: 'readable',
      write: 'ERR_AOF_READ_ONLY',
      create: 'ERR_AOF_READ_ONLY',
    });
  });
});

describe('system errors from the addon', () => {
  it('carry code, errno, syscall and path', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      native.fallocate(987654, 0, PAGE, '/no/such/file');
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'fallocate', path: '/no/such/file' });
    expect(err?.message).toMatch(/^EBADF: .*fallocate '\/no\/such\/file'$/);
  });

  it('mapping a descriptor that is not open fails with EBADF instead of crashing', () => {
    const region = new native.Region(PAGE, '/x');
    expect(() => region.mapFile(987654, 0, PAGE, true)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'mmap' }));
    region.release();
  });
});

describe('tail magic', () => {
  it('stands right after the content on disk after every write', async () => {
    const dir = tmpDir();
    const m = new Manager(dir);
    const aof = m.open('t.aof');
    for (const s of ['a', 'bc', '', 'def']) {
      aof.write(s);
      const onDisk = fs.readFileSync(path.join(dir, 't.aof'));
      expect(onDisk.subarray(aof.size, aof.size + 8).equals(TAIL)).toBe(true);
    }
    await m.close();
  });
});
