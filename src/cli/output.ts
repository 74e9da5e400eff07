/** Writing the `aof` command's output: stdout with backpressure, aligned tables, one-line errors. */
import * as fs from 'node:fs';
import { AofError } from '../errors.js';
import { native } from '../native.js';

/**
 * Writes to stdout and resolves once the chunk has been handed to the system, so the caller
 * may reuse (or unmap) its memory afterwards; rejects with the write's error (EPIPE: the reader
 * of the pipe went away).
 */
export function writeOut(chunk: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (e) => (e ? reject(e) : resolve()));
  });
}

/** How often a following command looks whether the reader of its stdout went away. */
const OUTPUT_CHECK_MS = 100;

/**
 * An AbortSignal that aborts once the reader of stdout goes away (`aof tail -f f | head -1`: head
 * exits after its line), checked every 100 ms while stdout is a pipe or socket. GNU tail exits
 * then; without this the command would wait for the next append to find out (the write's EPIPE).
 */
export function outputClosedSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.fstatSync(1);
  } catch {
    // No stdout at all: nothing to watch.
  }
  if (stat && (stat.isFIFO() || stat.isSocket())) {
    timer = setInterval(() => {
      if (native.writeEndClosed(1)) {
        clearInterval(timer);
        controller.abort(Object.assign(new Error('the reader of stdout went away'), { code: 'EPIPE' }));
      }
    }, OUTPUT_CHECK_MS).unref();
  }
  return { signal: controller.signal, dispose: () => clearInterval(timer) };
}

/** Gathers copies of small chunks (records) and writes them to stdout about a MiB at a time. */
export class OutBuffer {
  #parts: Buffer[] = [];
  #bytes = 0;

  /** Copies `chunk`; flushes once a MiB has gathered. */
  async push(...chunks: Array<Uint8Array | string>): Promise<void> {
    for (const c of chunks) {
      const b = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c);
      this.#parts.push(b);
      this.#bytes += b.length;
    }
    if (this.#bytes >= 1024 * 1024) await this.flush();
  }

  /** Writes what has gathered. */
  async flush(): Promise<void> {
    if (this.#bytes === 0 && this.#parts.length === 0) return;
    const all = Buffer.concat(this.#parts);
    this.#parts = [];
    this.#bytes = 0;
    await writeOut(all);
  }
}

/** Rows as text columns padded to the widest cell; columns listed in `right` are right-aligned. */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n') + '\n';
}

/** `key: value` lines with the values aligned. */
export function fields(pairs: Array<[string, string | number]>, indent = ''): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)} ${v}`).join('\n') + '\n';
}

/** The code an error is printed with: an AofError's or a system error's code, else `ERR`. */
export function errorCode(e: unknown): string {
  if (e instanceof AofError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'ERR';
}

/** `aof: <code>: <message>` on one line. */
export function errorLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return `aof: ${errorCode(e)}: ${message.replace(/\s*\n\s*/g, ' ').trim()}\n`;
}
