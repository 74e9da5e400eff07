/**
 * What `npm install mmap-aof` gets: `npm pack` of a copy of this tree (its prepack builds dist/ and
 * the prebuilt addon with prebuildify) holds the library, its types, the prebuild, the CLI and the
 * addon's sources, and no tests, benchmarks or build output. Installed with
 * `npm install --ignore-scripts` (as npm does when a project blocks dependency install scripts;
 * no compiler runs) into a fresh project, the prebuild loads: ESM imports, CommonJS `require`
 * (Node's require(esm)), the `aof` command and TypeScript types all work.
 *
 * The pack runs in a copy, not here: prebuildify rebuilds `build/`, which other tests load.
 * No step reaches the registry (the registry is set to a closed port, and every npm call is
 * `--offline`): the package's runtime dependencies are packed from this project's own
 * node_modules and installed as tarballs next to it, so npm resolves the package's dependency
 * ranges against them. This passes on a machine whose npm cache has never seen the project.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

/**
 * The declarations in TypeScript files under `dir`, as "file:Container.member" (top-level ones as
 * "file:name"); with `internal`, only those whose JSDoc says @internal. `file` is the path
 * relative to `dir` without its extension, so src/aof.ts and dist/aof.d.ts meet as "aof".
 */
function declarations(dir: string, internal: boolean): Set<string> {
  const found = new Set<string>();
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (!/\.ts$/.test(rel)) continue;
    const file = rel.replace(/(\.d)?\.ts$/, '');
    const source = ts.createSourceFile(rel, fs.readFileSync(path.join(dir, rel), 'utf8'), ts.ScriptTarget.ES2022, true);
    const nameOf = (node: ts.Node): string | undefined => {
      if (ts.isConstructorDeclaration(node)) return 'constructor';
      const name = (node as { name?: ts.Node }).name;
      return name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) ? name.text : undefined;
    };
    const note = (node: ts.Node, container: string): void => {
      const name = nameOf(node);
      if (name === undefined || name.startsWith('#')) return;
      if (internal && !ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal')) return;
      found.add(`${file}:${container ? `${container}.` : ''}${name}`);
    };
    for (const statement of source.statements) {
      const statements = ts.isVariableStatement(statement) ? statement.declarationList.declarations : [statement];
      for (const node of statements) {
        note(ts.isVariableDeclaration(node) ? statement : node, '');
        if (ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) {
          for (const member of node.members) note(member, node.name?.text ?? '');
        }
      }
    }
  }
  return found;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
function run(file: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Not the variables of an npm script this test may run under (`npm test`): they describe this tree, not `cwd`.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
      !/^npm_(package_|lifecycle_|config_local_prefix$)/.test(k) && k !== 'INIT_CWD'));
    Object.assign(env, {
      npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
      // Any request to a registry fails at once: this test must not depend on the network or the cache.
      npm_config_registry: 'http://127.0.0.1:9/', npm_config_offline: 'true',
    });
    execFile(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
    });
  });
}

async function ok(file: string, args: string[], cwd: string): Promise<Run> {
  const r = await run(file, args, cwd);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} (in ${cwd}) exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/**
 * The runtime dependencies of the package in this tree, and theirs, as installed in node_modules
 * (name → directory): what an install of the tarball needs besides it.
 */
function runtimeDependencies(): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (pkgDir: string): void => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      if (found.has(name)) continue;
      // Nested first (npm puts a conflicting version there), then the top level.
      const nested = path.join(pkgDir, 'node_modules', name);
      const dir = fs.existsSync(nested) ? nested : path.join(ROOT, 'node_modules', name);
      found.set(name, dir);
      visit(dir);
    }
  };
  visit(ROOT);
  return found;
}

/** Not copied into the staging tree: installed or built things, and this machine's leftovers. */
const NOT_COPIED = new Set(['node_modules', '.git', 'build', 'dist', 'prebuilds', '.tmp']);

let work: string;
let tarball: string;
let packed: string[];
let app: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'aof-package-'));
  const stage = path.join(work, 'stage');
  // Everything else of the tree is copied (tests and benchmarks too), so the tarball's exclusions are real.
  fs.cpSync(ROOT, stage, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(ROOT, src);
      if (rel === '') return true;
      const top = rel.split(path.sep)[0]!;
      return !NOT_COPIED.has(top) && !/\.(tgz|log)$/.test(rel) && !rel.startsWith(path.join('test', 'artifacts'));
    },
  });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  const out = path.join(work, 'out');
  fs.mkdirSync(out);
  const r = await ok('npm', ['pack', '--json', '--pack-destination', out], stage);
  // Script output (tsc, node-gyp) shares stdout with the JSON, which starts at a line holding only "[".
  const json = r.stdout.slice(r.stdout.search(/^\[$/m));
  const [result] = JSON.parse(json) as Array<{ filename: string; files: Array<{ path: string; size: number }> }>;
  tarball = path.join(out, result!.filename);
  packed = result!.files.map((f) => f.path).sort();

  app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  const dependencies = [...runtimeDependencies().values()];
  expect(dependencies.length).toBeGreaterThan(0);
  const depTarballs: string[] = [];
  for (const dir of dependencies) {
    const p = await ok('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out, dir], work);
    depTarballs.push(path.join(out, (JSON.parse(p.stdout) as Array<{ filename: string }>)[0]!.filename));
  }
  await ok('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball, ...depTarballs], app);
}, 600_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds dist/ (JS and .d.ts), the prebuilt addon, bin/aof.js and the addon sources, and no tests, benchmarks, sources or builds', () => {
    for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/pino.js', 'dist/pino.d.ts',
      'dist/write-stream.js', 'dist/write-stream.d.ts', 'dist/native.js', 'bin/aof.js', 'binding.gyp', 'native/addon.cc',
      'native/common.h']) {
      expect(packed, f).toContain(f);
    }
    const prebuilds = packed.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
    expect(prebuilds.length).toBeGreaterThanOrEqual(1);
    // Every source file binding.gyp compiles is shipped: a platform without a prebuild can still build.
    const gyp = fs.readFileSync(path.join(ROOT, 'binding.gyp'), 'utf8');
    for (const source of gyp.match(/native\/[\w.-]+\.cc/g)!) expect(packed, source).toContain(source);
    // Every compiled module has its declarations.
    for (const js of packed.filter((f) => f.startsWith('dist/') && f.endsWith('.js'))) {
      expect(packed, `${js} has no .d.ts`).toContain(js.replace(/\.js$/, '.d.ts'));
    }
    const unwanted = packed.filter((f) => /^(test|bench|build|src|examples|node_modules|\.ci)\//.test(f) || /\.(map|tgz|log)$/.test(f));
    expect(unwanted).toEqual([]);
  });

  it('installed with --ignore-scripts, loads the prebuilt addon (no build/) and writes and reads a file through the ESM entries, and serves HTTP', async () => {
    const installed = path.join(app, 'node_modules', 'mmap-aof');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    expect(fs.readdirSync(path.join(installed, 'prebuilds', 'linux-x64')).length).toBeGreaterThanOrEqual(1);
    fs.writeFileSync(path.join(app, 'check.mjs'), `
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Manager, Geometry } from 'mmap-aof';
import { createDestination } from 'mmap-aof/pino';
import { startService } from 'mmap-aof/service';
const require = createRequire(import.meta.url);
const root = path.dirname(require.resolve('mmap-aof/package.json'));
const addon = require('node-gyp-build').resolve(root);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aof-installed-'));
const m = new Manager(dir);
const aof = m.open('x.aof');
aof.write('hello\\n');
const ws = aof.createWriteStream();
ws.end('streamed\\n');
await new Promise((resolve) => ws.on('finish', resolve));
await m.close();
const dest = createDestination({ file: path.join(dir, 'log.aof') });
dest.write('{"msg":"logged"}\\n');
await dest.close();
const again = new Manager(dir);
const content = again.open('x.aof', Geometry.open()).view().toString() + again.open('log.aof', Geometry.open()).view().toString();
await again.close();
const service = await startService({ dir: path.join(dir, 'served'), port: 0 });
const served = (await fetch(new URL('/streams', service.url))).status;
await service.close();
fs.rmSync(dir, { recursive: true });
console.log(JSON.stringify({ addon: path.relative(root, addon), content, served }));
`);
    const r = await ok(process.execPath, ['check.mjs'], app);
    const result = JSON.parse(r.stdout) as { addon: string; content: string; served: number };
    expect(result.addon).toMatch(/^prebuilds\/linux-x64\/[^/]+\.node$/);
    expect(result.content).toBe('hello\nstreamed\n{"msg":"logged"}\n');
    expect(result.served).toBe(200);
    expect(r.stderr).toBe('');
  });

  it.runIf(process.features.require_module)('is required from CommonJS (require(esm)) without a warning', async () => {
    fs.writeFileSync(path.join(app, 'check.cjs'), `
const { Manager, Geometry } = require('mmap-aof');
const { createDestination } = require('mmap-aof/pino');
console.log(JSON.stringify([typeof Manager, typeof Geometry.create, typeof createDestination]));
`);
    const r = await ok(process.execPath, ['check.cjs'], app);
    expect(JSON.parse(r.stdout)).toEqual(['function', 'function', 'function']);
    expect(r.stderr).toBe('');
  });

  it('mmap-aof/nats without the NATS packages (optional peers, not installed): ERR_AOF_MISSING_PEER naming them, from the library and from `aof ship`', async () => {
    expect(fs.existsSync(path.join(app, 'node_modules', '@nats-io')), 'npm installs no optional peer').toBe(false);
    fs.writeFileSync(path.join(app, 'nats.mjs'), `
import { ship } from 'mmap-aof/nats';
const shipper = ship('log', { stream: 'S', subject: 's' });
try {
  await shipper.done;
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}
`);
    const r = await ok(process.execPath, ['nats.mjs'], app);
    expect(JSON.parse(r.stdout)).toEqual({ code: 'ERR_AOF_MISSING_PEER', message: expect.stringContaining('npm install @nats-io/transport-node @nats-io/jetstream') });
    const cli = spawnSync(process.execPath, [path.join(app, 'node_modules', '.bin', 'aof'), 'ship', 'log', '--stream', 'S', '--subject', 's'], { cwd: app, encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stderr).toMatch(/^aof: ERR_AOF_MISSING_PEER: mmap-aof\/nats needs the NATS client/);
  });

  it('installs the aof command, which runs', async () => {
    const bin = path.join(app, 'node_modules', '.bin', 'aof');
    expect(fs.existsSync(bin)).toBe(true);
    const r = await ok(process.execPath, [bin, '--help'], app);
    expect(r.stdout).toMatch(/aof/);
  });

  it('leaves every declaration marked @internal out of the published .d.ts files, and keeps the public ones', () => {
    const internal = declarations(path.join(ROOT, 'src'), true);
    expect(internal.size, 'src marks internals with @internal').toBeGreaterThan(10);
    const published = declarations(path.join(app, 'node_modules', 'mmap-aof', 'dist'), false);
    expect([...internal].filter((d) => published.has(d))).toEqual([]);
    for (const d of ['aof:AOF.write', 'aof:AOF.view', 'reader:Reader.close', 'tailer:Followable.subscribe', 'manager:Manager.open']) {
      expect(published, d).toContain(d);
    }
  });

  it('gives TypeScript consumers the types of the three entries (strict, without skipLibCheck)', async () => {
    fs.writeFileSync(path.join(app, 'check.ts'), `
import { Manager, Geometry, type AOF, type WriteStreamOptions } from 'mmap-aof';
import { createDestination, type AofDestination, type DestinationOptions } from 'mmap-aof/pino';
import { startService } from 'mmap-aof/service';
const started: Promise<{ url: string; close(): Promise<void> }> = startService({ dir: '/tmp/x', port: 0 });
void started;
const m: Manager = new Manager('/tmp/x');
const aof: AOF = m.open('x', Geometry.create());
const options: WriteStreamOptions = { sync: true };
aof.createWriteStream(options).write('x');
const o: DestinationOptions = { file: 'x.log', fsync: false };
const d: AofDestination = createDestination(o);
const n: number = d.aof.size;
// @ts-expect-error: write takes a string or bytes
d.write(42);
void n;
`);
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await ok(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
      '--target', 'es2022', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--types', 'node',
      'check.ts'], app);
  });
});
