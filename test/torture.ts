/**
 * Shared by the kill -9 tortures: a fixture child (test/fixtures/*.mjs, run on the built dist) that
 * reports its progress one line at a time on file descriptor 3 and that the parent kills at seeded
 * random moments, the seeded PRNG, and a byte comparison that says where two buffers differ.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { DIST, fixture } from './helpers.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A fixture child that reports one line per event on fd 3 (a pipe), and that the test may kill. */
export class ReportingChild {
  readonly lines: string[] = [];
  readonly exited: Promise<Exit>;
  readonly #child: ChildProcess;
  #waiters: Array<() => void> = [];
  #exit: Exit | undefined;

  constructor(script: string, args: string[]) {
    this.#child = spawn(process.execPath, [fixture(script), DIST, ...args], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let partial = '';
    this.#child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const reports = this.#child.stdio[3] as NodeJS.ReadableStream;
    reports.setEncoding('utf8');
    reports.on('data', (d: string) => {
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.exited = new Promise((resolve, reject) => {
      this.#child.on('error', reject);
      this.#child.on('close', (code, signal) => {
        this.#exit = { code, signal, stderr };
        for (const wake of this.#waiters.splice(0)) wake();
        resolve(this.#exit);
      });
    });
  }

  /** The first report line starting with `prefix`, split into words; rejects if the child exits first. */
  async waitFor(prefix: string): Promise<string[]> {
    for (;;) {
      const line = this.lines.find((l) => l.startsWith(prefix));
      if (line !== undefined) return line.split(' ');
      if (this.#exit) {
        throw new Error(`child exited (code ${this.#exit.code}, signal ${this.#exit.signal}) before "${prefix}":\n` +
          `${this.#exit.stderr}\nreports: ${this.lines.slice(-5).join(' | ')}`);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }

  /** Waits for the SIGKILL death; fails if the child died any other way. */
  async killed(): Promise<void> {
    const exit = await this.exited;
    if (exit.signal !== 'SIGKILL') {
      throw new Error(`child did not die of SIGKILL (code ${exit.code}, signal ${exit.signal}):\n${exit.stderr}`);
    }
  }
}

export { prng } from './fixtures/prng.mjs';

/** Offset of the first byte where a and b differ, or -1 when equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(a, b) === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const at = firstDifference(actual, expected);
  if (at >= 0) {
    throw new Error(`${what}: differs at byte ${at} (lengths ${actual.length} vs ${expected.length}), ` +
      `got ${Buffer.from(actual.subarray(at, at + 16)).toString('hex')} ` +
      `expected ${Buffer.from(expected.subarray(at, at + 16)).toString('hex')}`);
  }
}
