// Runs every benchmark in bench/ (each file named *.bench.mjs), one child process per file so
// their heaps, JIT state and page-cache use don't mix. Prints an environment header, streams each
// benchmark's output, and saves header + output to bench/results/<name>.txt.
//
//   npm run bench                  (builds dist/ first)
//   node bench/run.mjs [name…]     (only the named benchmarks, e.g. `write`)
//
// Environment: BENCH_NO_SAVE=1 skips writing bench/results/; every BENCH_* variable is passed on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { environmentLines } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(here, 'results');
const SUFFIX = '.bench.mjs';

const wanted = process.argv.slice(2);
const all = fs.readdirSync(here).filter((f) => f.endsWith(SUFFIX)).sort();
const files = wanted.length ? all.filter((f) => wanted.includes(f.slice(0, -SUFFIX.length)) || wanted.includes(f)) : all;
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}; there are: ${all.map((f) => f.slice(0, -SUFFIX.length)).join(', ')}`);
  process.exit(2);
}

const script = `node ${path.relative(process.cwd(), fileURLToPath(import.meta.url))}${wanted.length ? ' ' + wanted.join(' ') : ''}`;
const command = process.env.npm_lifecycle_event === 'bench' ? `npm run bench (${script})` : script;
const header = environmentLines(command);
for (const l of header) console.log(l);

let failed = 0;
for (const file of files) {
  const name = file.slice(0, -SUFFIX.length);
  console.log(`\n=== ${name} (bench/${file}) ===`);
  const child = spawn(process.execPath, ['--expose-gc', '--allow-natives-syntax', path.join(here, file)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_CHILD: '1' },
  });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    output += chunk;
    process.stdout.write(chunk);
  });
  const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(signal ? 128 : c)));
  if (code !== 0) {
    failed++;
    console.error(`bench/${file} failed (exit ${code}); bench/results/${name}.txt left as it was`);
    continue;
  }
  if (!process.env.BENCH_NO_SAVE) {
    fs.mkdirSync(resultsDir, { recursive: true });
    const saved = path.join(resultsDir, `${name}.txt`);
    fs.writeFileSync(saved, [...header, `benchmark: bench/${file}`, '', output.replace(/^\n+/, '')].join('\n'));
    console.log(`(saved to ${path.relative(process.cwd(), saved)})`);
  }
}
process.exitCode = failed ? 1 : 0;
