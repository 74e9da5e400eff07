/**
 * The closing line of `npm test` never says "0 failed" for a run vitest fails: each case runs
 * vitest in a child process on one file of test/fixtures/reporter/ (a failing hook, a file that
 * does not load, an unhandled rejection, a failing test, a passing file) with this project's
 * summary reporter, and checks the line against vitest's own exit code.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const CONFIG = path.join(ROOT, 'test', 'fixtures', 'reporter', 'vitest.config.ts');
const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

function runCase(file: string): Promise<{ code: number; line: string | undefined; output: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [VITEST, 'run', '--config', CONFIG], {
      cwd: ROOT,
      env: { ...process.env, REPORTER_CASE: file, CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' },
    }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      const output = stdout + stderr;
      resolve({ code: error ? (error.code as unknown as number) : 0, line: /^tests: .*$/m.exec(stdout)?.[0], output });
    });
  });
}

describe('the summary reporter', () => {
  it.each([
    ['passing.check.ts', 0, 'tests: 1 passed, 0 failed, 1 skipped'],
    ['hook-fails.check.ts', 1, 'tests: 0 passed, 1 failed, 2 skipped'],
    ['load-fails.check.ts', 1, 'tests: 0 passed, 1 failed, 0 skipped'],
    ['unhandled.check.ts', 1, 'tests: 1 passed, 1 failed, 0 skipped'],
    ['test-fails.check.ts', 1, 'tests: 1 passed, 1 failed, 0 skipped'],
  ])('%s: vitest exits %i and the closing line is "%s"', async (file, code, line) => {
    const r = await runCase(file);
    expect(r.code, r.output).toBe(code);
    expect(r.line, r.output).toBe(line);
  });
});
