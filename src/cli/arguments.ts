/** Parsers for the `aof` command's option values: a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from 'commander';

const SUFFIXES: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A non-negative safe integer (`--from 100`). */
export function parseCount(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

/** A size in bytes, with an optional binary suffix: `4096`, `64k`, `16m`, `1g`. */
export function parseSize(value: string): number {
  const m = /^(\d+)([kmg]?)(?:i?b)?$/i.exec(value.trim());
  const n = m ? Number(m[1]) * SUFFIXES[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a size in bytes (e.g. 4096, 64k, 16m, 1g), got "${value}"`);
  return n;
}

/** A TCP port, 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new InvalidArgumentError(`expected a port from 0 to 65535, got "${value}"`);
  return n;
}

/** A count for `tail -n` / `-c`: the last `n`, or with a leading "+" (as GNU tail), from the `n`th on (1-based). */
export interface TailCount {
  n: number;
  fromStart: boolean;
}

/** `tail -n`: `10` (the last 10 lines) or `+28` (from line 28 on). */
export function parseLineCount(value: string): TailCount {
  const fromStart = value.startsWith('+');
  return { n: parseCount(fromStart ? value.slice(1) : value), fromStart };
}

/** `tail -c`: `4096`, `1k` (the last bytes) or `+100` (from byte 100 on, 1-based), with units as parseSize. */
export function parseByteCount(value: string): TailCount {
  const fromStart = value.startsWith('+');
  return { n: parseSize(fromStart ? value.slice(1) : value), fromStart };
}


/** One `--ship NAME=STREAM:SUBJECT` of `aof serve`. */
export interface ShipEntry {
  name: string;
  stream: string;
  subject: string;
}

/** `--ship NAME=STREAM:SUBJECT`, repeatable: each adds to `previous`. */
export function parseShip(value: string, previous: ShipEntry[] = []): ShipEntry[] {
  const m = /^([^=\s]+)=([^:\s]+):(\S+)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected NAME=STREAM:SUBJECT (a record stream, a JetStream stream, a subject), got "${value}"`);
  return [...previous, { name: m[1]!, stream: m[2]!, subject: m[3]! }];
}
