/** Shared test helpers: temporary directories and child processes running the compiled library. */
import { execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { AofError, Manager, type ManagerOptions } from '../src/index.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The compiled library (test/global-setup.ts builds it); child processes import this. */
export const DIST = path.join(ROOT, 'dist', 'index.js');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, removed after the current test. */
export function tmpDir(prefix = 'aof-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node script ...args` and resolves when it exits (never rejects on a non-zero exit). */
export function runNode(script: string, args: string[] = [], options: SpawnOptions = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A fixture script under test/fixtures. */
export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export { pseudoRandomBytes } from './fixtures/prng.mjs';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Resolves on the next event-loop turn (the granularity of tailer wakes). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

/** Awaits event-loop turns until `cond()` holds; fails after `maxTurns` (never waits on a clock). */
export async function turnsUntil(cond: () => boolean, what: string, maxTurns = 500_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await nextTurn();
  }
  throw new Error(`${what}: not seen within ${maxTurns} event-loop turns`);
}

/** True when `p` settles (either way) within `n` event-loop turns: a hang fails fast. */
export async function settlesWithin(p: Promise<unknown>, n = 10_000): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < n && !settled; i++) await nextTurn();
  return settled;
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The `code` of the AofError `fn` throws; undefined when it does not throw; anything else fails. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AofError);
    return (e as AofError).code;
  }
  return undefined;
}

/** Mounts a tmpfs of `size` (e.g. '256k') on a new directory; root only. */
export function mountTmpfs(size: string, prefix = 'aof-tmpfs-'): string {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
  return mnt;
}

export function unmountTmpfs(mnt: string): void {
  execFileSync('umount', [mnt]);
  fs.rmdirSync(mnt);
}

/**
 * A Manager with no background work (no flush timer, no growth ahead, no populate jobs) unless a
 * test asks for it: nothing flushes or grows behind a test's back, and closing depends only on
 * what the test started.
 */
export function quietManager(dir = tmpDir(), options: ManagerOptions = {}): Manager {
  return new Manager(dir, { flushIntervalMs: 0, growAhead: false, populate: false, ...options });
}
