/**
 * Argument validation, in one place (like Node's internal validators): each `validateX(value,
 * name, …)` returns nothing when `value` is acceptable and throws `ERR_AOF_INVALID_ARG` otherwise,
 * with the message "<name>: expected <what>, got <the value>". Defaults are applied by the
 * caller (`options.x ?? default`) before validating, so a default never needs checking.
 */
import { invalidArg } from './errors.js';

/** The longest delay setTimeout/setInterval take: a longer one is silently 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** An options bag (or fields object): anything but null that `typeof` calls an object. */
export function validateObject(value: unknown, name: string): asserts value is object {
  if (value === null || typeof value !== 'object') throw invalidArg(name, 'an object', value);
}

export function validateBoolean(value: unknown, name: string): asserts value is boolean {
  if (typeof value !== 'boolean') throw invalidArg(name, 'a boolean', value);
}

export function validateFunction(value: unknown, name: string): asserts value is Function {
  if (typeof value !== 'function') throw invalidArg(name, 'a function', value);
}

export function validateBytes(value: unknown, name: string, expected = 'a Uint8Array'): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArg(name, expected, value);
}

/** What "an integer from min to max" is called in messages for the common ranges. */
function integerRange(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) {
    if (min === 0) return 'a non-negative safe integer';
    if (min === 1) return 'a positive safe integer';
    if (min === Number.MIN_SAFE_INTEGER) return 'a safe integer';
  }
  return `an integer from ${min} to ${max}`;
}

/** A safe integer in [min, max]; `expected` replaces the range in the message. */
export function validateInteger(
  value: unknown,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
  expected?: string,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArg(name, expected ?? integerRange(min, max), value);
  }
}

/** Any safe integer (ids: below the first one means "from the start"). */
export function validateSafeInteger(value: unknown, name: string): asserts value is number {
  validateInteger(value, name, Number.MIN_SAFE_INTEGER);
}

/**
 * A delay for a timer: a number of milliseconds, at least 0 (more than 0 when `positive`) and at
 * most {@link MAX_TIMER_MS}.
 */
export function validateTimerMs(value: unknown, name: string, positive = false): asserts value is number {
  if (typeof value !== 'number' || !(positive ? value > 0 : value >= 0) || !(value <= MAX_TIMER_MS)) {
    throw invalidArg(name, `a ${positive ? 'positive' : 'non-negative'} number of milliseconds up to ${MAX_TIMER_MS}`, value);
  }
}

/**
 * A number of at least 0, finite unless `infinite` (a duration or a rate; not for timers: see
 * validateTimerMs).
 */
export function validateNonNegative(
  value: unknown,
  name: string,
  expected = 'a non-negative number',
  infinite = false,
): asserts value is number {
  if (typeof value !== 'number' || !(value >= 0) || (!infinite && !Number.isFinite(value))) {
    throw invalidArg(name, expected, value);
  }
}

/** An AbortSignal, or undefined. */
export function validateSignal(value: unknown, name: string): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) throw invalidArg(name, 'an AbortSignal', value);
}

/** A non-empty path without NUL bytes; `expected` says which kind ("a file path", "a directory path"). */
export function validatePath(value: unknown, name: string, expected: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) throw invalidArg(name, expected, value);
}

/** Longest file name: NAME_MAX (255 bytes) less the control block's `-shm` suffix. */
const MAX_NAME_BYTES = 251;

/** A file name inside a directory: no separators, no `.`/`..`, nothing that escapes it. */
export function validateFileName(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value === '.' || value === '..' ||
      value.includes('/') || value.includes('\\') || value.includes('\0') || Buffer.byteLength(value) > MAX_NAME_BYTES) {
    throw invalidArg(name, `a plain file name of at most ${MAX_NAME_BYTES} bytes (no "/", "\\\\", NUL, "." or "..")`, value);
  }
}

/** One of the given strings. */
export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    const list = allowed.map((v) => `'${v}'`);
    throw invalidArg(name, list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list.at(-1)}` : list[0]!, value);
  }
}

/** An instance of `type` (called `expected` in the message: "a Geometry"). */
export function validateInstance<T>(
  value: unknown,
  name: string,
  type: abstract new (...args: any[]) => T,
  expected: string,
): asserts value is T {
  if (!(value instanceof type)) throw invalidArg(name, expected, value);
}

/** A range [begin, end) of content of `size` bytes (a `view()`'s arguments). */
export function validateRange(begin: unknown, end: unknown, size: number): void {
  validateInteger(begin, 'begin', 0, size, `an integer from 0 to size (${size})`);
  validateInteger(end, 'end', begin, size, `an integer from begin (${begin}) to size (${size})`);
}
