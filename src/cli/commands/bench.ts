/**
 * `aof bench [NAME...]`: runs the benchmarks (`node bench/run.mjs [NAME...]` in the package root:
 * each `bench/<NAME>.bench.mjs`, all of them by default), their output on stdout, results saved
 * under bench/results/ as `npm run bench` does. bench/ ships with the source, not in the npm
 * package: there it is ERR_AOF_NOT_FOUND. Exits with run.mjs's status.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as os from 'node:os';
import { AofError, ErrorCode } from '../../errors.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { Progress, progressAllowed } from '../progress.js';

const SUFFIX = '.bench.mjs';

/** Runs `aof bench`; resolves to the exit status. */
export async function bench(names: string[], root = PACKAGE_ROOT): Promise<number> {
  const dir = nodePath.join(root, 'bench');
  const runner = nodePath.join(dir, 'run.mjs');
  if (!fs.existsSync(runner)) {
    throw new AofError(ErrorCode.NOT_FOUND,
      `${runner} is missing: the benchmarks are not in the published package; run "aof bench" from a clone of the source repository`);
  }
  // The benchmarks run.mjs will run (its own rule), for the bar: one step per "=== name" header.
  const all = fs.readdirSync(dir).filter((f) => f.endsWith(SUFFIX));
  const total = names.length ? all.filter((f) => names.includes(f.slice(0, -SUFFIX.length)) || names.includes(f)).length : all.length;
  const progress = new Progress({ label: 'bench', total, unit: 'count', enabled: progressAllowed(true) });
  const child = spawn(process.execPath, [runner, ...names], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let started = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    started += chunk.toString('latin1').split('\n=== ').length - 1;
    progress.update(Math.max(0, started - 1));
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve(signal ? 128 + (os.constants.signals[signal] ?? 0) : code ?? 1));
    });
  } finally {
    progress.finish();
  }
}
