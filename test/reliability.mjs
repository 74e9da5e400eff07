// `npm run test:reliability`: the reliability suite at its long size. Every knob can be set from
// the environment; what is not set gets the long-run default below. The same files run in
// `npm test` with their small CI defaults.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const LONG = {
  AOF_TORTURE_KILLS: '1000', // kill -9 tortures: raw AOF (checkpoints / control block), record log
  AOF_FUZZ_CASES: '100000', // corruption fuzzing, cases over all targets
  AOF_DISKFULL_ROUNDS: '50', // disk full: fill / free rounds per target
  AOF_SOAK_SECONDS: '600', // soak: a writer and 4 tailers
  AOF_POWERLOSS_IMAGES: '100000', // power-loss simulator: crash images over all workloads
  AOF_NATS_KILLS: '1000', // mmap-aof/nats: kill -9 of the shipper (and a fifth as many of the mirror)
};

const FILES = [
  'test/crash-kill.test.ts',
  'test/crash-kill-control.test.ts',
  'test/log-crash.test.ts',
  'test/fuzz-corruption.test.ts',
  'test/disk-full.test.ts',
  'test/stale-view.test.ts',
  'test/bad-input.test.ts',
  'test/soak.test.ts',
  'test/power-loss.test.ts',
  'test/nats.test.ts',
];

const env = { ...process.env };
for (const [key, value] of Object.entries(LONG)) env[key] ??= value;
console.log(`reliability suite: ${Object.keys(LONG).map((k) => `${k}=${env[k]}`).join(' ')}`);

// vitest's bin, found next to its package.json (the bin file is not in its exports).
const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const args = [vitest, 'run', ...FILES, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env });
process.exit(r.status ?? 1);
