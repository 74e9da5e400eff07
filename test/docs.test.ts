/**
 * The documentation is real: every example a reader can copy runs, and every link resolves.
 *
 * - Every ```js block of README.md and docs/*.md runs as an ES module (top-level await allowed)
 *   in a fresh scratch directory whose node_modules links `mmap-aof` to this checkout (and `pino`
 *   to ours, when the block imports it), with TMPDIR inside that directory. It must exit 0 with
 *   nothing on stderr; blocks check their own results with node:assert. Blocks that must not run
 *   (signatures, fragments) are fenced ```ts or ```text.
 * - The ```sh blocks of each file run in order in one bash session (`set -euo pipefail`), started
 *   in an empty scratch directory with `aof` (bin/aof.js) first on PATH; each must exit 0.
 *   Commands for the checkout itself (npm install, npm test, long test runs) are fenced ```shell
 *   and are not run.
 * - Every relative link of README.md, docs/*.md and bench/README.md points to a file inside the
 *   repository (and, for `#anchor` links to Markdown, to a heading there); no text points outside
 *   it (`../shared`) or mentions issue numbers.
 *
 * The library's dist/ is built by the global setup (tsc), as for every test that runs children.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

/** The Markdown files whose examples run. */
const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
/** The Markdown files whose links and wording are checked. */
const CHECKED = [...DOCS, 'bench/README.md'];

/** Scratch directories of this file, removed at the end (blocks run concurrently: not per test). */
const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'aof-docs-'));
afterAll(() => fs.rmSync(SCRATCH, { recursive: true, force: true }));

/** `aof` on PATH: a bin directory with a link to bin/aof.js. */
const BIN = path.join(SCRATCH, 'bin');
fs.mkdirSync(BIN);
fs.symlinkSync(path.join(ROOT, 'bin', 'aof.js'), path.join(BIN, 'aof'));

const HAS_CURL = spawnSync('sh', ['-c', 'command -v curl'], { stdio: 'ignore' }).status === 0;

interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
}

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}

/** The fenced code blocks of a Markdown file (``` or longer fences, possibly indented). */
function codeBlocks(file: string): Block[] {
  const lines = read(file).split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)(`{3,})([\w-]*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^ *${fence}\\s*$`).test(lines[j]!); j++) {
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!);
    }
    out.push({ file, line: i + 1, lang: lang!, code: `${body.join('\n')}\n` });
    i = j;
  }
  return out;
}

/** The lines of a Markdown file, those inside fenced code blocks blanked. */
function outsideFences(file: string): string[] {
  let fence: string | undefined;
  return read(file).split('\n').map((line) => {
    const m = /^ *(`{3,})/.exec(line);
    if (fence === undefined && m) {
      fence = m[1];
      return '';
    }
    if (fence !== undefined) {
      if (new RegExp(`^ *${fence}\\s*$`).test(line)) fence = undefined;
      return '';
    }
    return line;
  });
}

/** The text of a Markdown file outside code blocks and inline code. */
function prose(file: string): string {
  return outsideFences(file).join('\n').replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length));
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (a repeated heading gets -1, -2, …). */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of outsideFences(file)) {
    const m = /^#{1,6} +(.+?)(?: +#+)? *$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command in a process group of its own, and kills the whole group when it ends or times
 * out: a background job a failed example left running (`aof serve &`) cannot outlive the test or
 * hold its pipes open.
 */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    };
    const timer = setTimeout(killGroup, timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', killGroup);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function scratch(name: string): string {
  const dir = fs.mkdtempSync(path.join(SCRATCH, `${name.replace(/[^\w]+/g, '-')}-`));
  fs.mkdirSync(path.join(dir, 'tmp'));
  return dir;
}

function numbered(code: string): string {
  return code.trimEnd().split('\n').map((l, i) => `${String(i + 1).padStart(3)}  ${l}`).join('\n');
}

const jsBlocks = DOCS.flatMap((file) => codeBlocks(file).filter((b) => b.lang === 'js'));
const shSessions = DOCS.map((file) => ({ file, blocks: codeBlocks(file).filter((b) => b.lang === 'sh') })).filter((s) => s.blocks.length > 0);

// One concurrent suite: the slowest example (a page's shell session) starts first and the
// others run beside it (vitest's maxConcurrency, 5 by default).
describe.concurrent('examples', () => {
  describe.concurrent('```sh examples run in order, one bash session per file', () => {
    it.for(shSessions)('$file', async ({ file, blocks }, { expect, skip }) => {
      // NOTE: a page whose examples call curl is skipped where curl is missing (.ci/run installs it).
      if (!HAS_CURL && blocks.some((b) => /\bcurl\b/.test(b.code))) skip('curl is not installed');
      const dir = scratch(file);
      const work = path.join(dir, 'work');
      fs.mkdirSync(work);
      const mark = path.join(dir, 'block');
      // Each block is preceded by a line recording its index, so a failure names its block.
      const script = [
        'set -euo pipefail',
        `trap 'kill $(jobs -p) 2>/dev/null || true' EXIT`,
        ...blocks.flatMap((b, i) => [`echo ${i} > "$DOCS_BLOCK_MARK"`, b.code]),
        'echo done > "$DOCS_BLOCK_MARK"',
      ].join('\n');
      const env = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}`, TMPDIR: path.join(dir, 'tmp'), DOCS_BLOCK_MARK: mark };
      const r = await run('bash', ['-c', script], work, env, 25_000);
      const reached = fs.existsSync(mark) ? fs.readFileSync(mark, 'utf8').trim() : '0';
      const failed = blocks[Number(reached)] ?? blocks.at(-1)!;
      const report = `${file}:${failed.line} failed (exit ${r.code}, signal ${r.signal}):\n${numbered(failed.code)}\n` +
        `--- stderr:\n${r.stderr}--- stdout (whole session):\n${r.stdout}`;
      expect(r.code, report).toBe(0);
      expect(reached, report).toBe('done');
    });
  });

  describe.concurrent('```js examples run as ES modules against the built library', () => {
    it.for(jsBlocks.map((block) => ({ where: `${block.file}:${block.line}`, block })))('$where', async ({ where, block }, { expect }) => {
      const dir = scratch(where);
      const modules = path.join(dir, 'node_modules');
      fs.mkdirSync(modules);
      fs.symlinkSync(ROOT, path.join(modules, 'mmap-aof'));
      if (/from ['"]pino['"]/.test(block.code)) fs.symlinkSync(path.join(ROOT, 'node_modules', 'pino'), path.join(modules, 'pino'));
      fs.writeFileSync(path.join(dir, 'block.mjs'), block.code);
      const r = await run(process.execPath, ['block.mjs'], dir, { ...process.env, TMPDIR: path.join(dir, 'tmp') }, 25_000);
      const report = `${where} failed (exit ${r.code}, signal ${r.signal}):\n${numbered(block.code)}\n--- stderr:\n${r.stderr}--- stdout:\n${r.stdout}`;
      expect(r.stderr, report).toBe('');
      expect(r.code, report).toBe(0);
    });
  });
});

describe('links and wording', () => {
  it.each(CHECKED)('%s: every relative link points to a file in the repository (and a heading there)', (file) => {
    const problems: string[] = [];
    for (const m of prose(file).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [pathPart, anchor] = target.split('#') as [string, string | undefined];
      const resolved = pathPart === '' ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), decodeURIComponent(pathPart));
      const relative = path.relative(ROOT, resolved);
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        problems.push(`${target}: outside the repository`);
        continue;
      }
      if (!fs.existsSync(resolved)) {
        problems.push(`${target}: ${relative} does not exist`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchors(relative).has(anchor)) {
        problems.push(`${target}: no heading #${anchor} in ${relative}`);
      }
    }
    expect(problems, `${file}:\n${problems.join('\n')}`).toEqual([]);
  });

  it.each(CHECKED)('%s: nothing outside the repository, no issue numbers', (file) => {
    const text = read(file);
    const lines = text.split('\n');
    const bad = lines.map((l, i) => ({ l, n: i + 1 }))
      .filter(({ l }) => l.includes('../shared') || /\bissues? #?\d+|(?<![\w&])#\d+\b|\bthe issue\b|\bissue's\b/i.test(l));
    expect(bad.map(({ l, n }) => `${file}:${n}: ${l}`)).toEqual([]);
  });

  it('README.md: the install and test commands come first, the quick start is examples/quickstart.mjs', () => {
    const readme = read('README.md');
    const head = readme.split('\n').slice(0, 40).join('\n');
    expect(head).toMatch(/^npm install\b/m);
    expect(head).toMatch(/^npm test\b/m);
    expect(readme).toContain(fs.readFileSync(path.join(ROOT, 'examples', 'quickstart.mjs'), 'utf8').trim());
    for (const page of ['docs/api.md', 'docs/cli.md', 'docs/service.md', 'docs/format.md', 'docs/design.md', 'docs/testing.md', 'bench/README.md']) {
      expect(readme, `README links ${page}`).toContain(`](${page}`);
    }
  });

  it('the extraction finds what the pages hold', () => {
    // A parser that found nothing would make every check above pass vacuously.
    expect(jsBlocks.length).toBeGreaterThan(20);
    expect(shSessions.map((s) => s.file)).toEqual(expect.arrayContaining(['docs/cli.md']));
    expect(anchors('docs/api.md').has('manageropenname-geometry-recovery')).toBe(true);
  });
});
