import { invalidArg } from './errors.js';
import { native } from './native.js';

/**
 * CRC-32C (Castagnoli) of `data`, with the CPU's instruction where it has one. Pass the previous
 * result as `previous` to continue over data split in pieces.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  if (!(data instanceof Uint8Array)) throw invalidArg('data', 'a Uint8Array', data);
  if (typeof previous !== 'number' || !Number.isInteger(previous) || previous < 0 || previous > 0xffffffff) {
    throw invalidArg('previous', 'a CRC-32C (an integer from 0 to 4294967295)', previous);
  }
  return native.crc32c(data, previous >>> 0);
}
