import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runNode, tmpDir, type ChildResult } from './helpers.js';

/**
 * Runs examples/<name> from a scratch directory with `<dir>/data` as its argument. It imports
 * 'mmap-aof' as a user would: node_modules/mmap-aof there links to this checkout.
 */
async function runExample(name: string): Promise<{ dir: string; r: ChildResult }> {
  const dir = tmpDir();
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(nm);
  fs.symlinkSync(ROOT, path.join(nm, 'mmap-aof'));
  const script = path.join(dir, name);
  fs.copyFileSync(path.join(ROOT, 'examples', name), script);
  return { dir, r: await runNode(script, [path.join(dir, 'data')]) };
}

describe('README examples', () => {
  it('examples/quickstart.mjs runs as shown and prints what the README says', async () => {
    const { r } = await runExample('quickstart.mjs');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('size 64 checkpoint at 35');
    expect(r.stdout).toContain('{"event":"start"}\n{"event":"tick"}\n');
    expect(r.stdout).toContain('reopened: finished 64 bytes');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(fs.readFileSync(path.join(ROOT, 'examples', 'quickstart.mjs'), 'utf8').trim());
  });

  it('examples/follow.mjs: a reader in a worker receives every write and ends when the file is finished', async () => {
    const { dir, r } = await runExample('follow.mjs');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('reader got: {"event":1} {"event":2} {"event":3}\n');
    expect(fs.readdirSync(path.join(dir, 'data')), 'finish() removed the control block').toEqual(['events.aof']);
  });
});
