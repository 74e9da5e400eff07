/**
 * Helpers for the bytes of a mapping: page rounding, how long a buffer over a reservation to make,
 * and the tail magic written as plain stores (the write path's own cost).
 */
import { native } from './native.js';

const PAGE = native.pageSize;

export function pageUp(n: number): number {
  return Math.ceil(n / PAGE) * PAGE;
}

export function pageDown(n: number): number {
  return Math.floor(n / PAGE) * PAGE;
}

/**
 * How long a buffer over the reservation to make. Each new external ArrayBuffer counts its whole
 * length as external memory for V8, which collects when that grows: one buffer per growth step
 * cost a full GC per grow, one buffer over a 4 GiB reservation a full GC per open
 * (bench/grow.bench.mjs, bench/tail.bench.mjs). Doubling lengths keep it to a few buffers per file,
 * none much larger than the file. Past the file the reservation reads zeros, so a longer buffer
 * is safe; every access stays below the file size.
 */
export function bufferLength(capacity: number, needed: number, previous: number): number {
  return Math.min(capacity, Math.max(pageUp(needed), previous * 2, 1024 * 1024));
}

// The tail magic as 8 stores: a TypedArray#set of 8 bytes costs more than the record copy.
export function putTailMagic(b: Uint8Array, at: number): void {
  b[at] = 0xaa;
  b[at + 1] = 0x24;
  b[at + 2] = 0x75;
  b[at + 3] = 0x54;
  b[at + 4] = 0x63;
  b[at + 5] = 0x9c;
  b[at + 6] = 0x9b;
  b[at + 7] = 0x41;
}

export function hasTailMagic(b: Uint8Array, at: number): boolean {
  return b[at] === 0xaa && b[at + 1] === 0x24 && b[at + 2] === 0x75 && b[at + 3] === 0x54 &&
    b[at + 4] === 0x63 && b[at + 5] === 0x9c && b[at + 6] === 0x9b && b[at + 7] === 0x41;
}
