import { native } from './native.js';
import { validateBytes, validateInteger } from './validate.js';

/**
 * CRC-32C (Castagnoli) of `data`, with the CPU's instruction where it has one. Pass the previous
 * result as `previous` to continue over data split in pieces.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  validateBytes(data, 'data');
  validateInteger(previous, 'previous', 0, 0xffffffff, 'a CRC-32C (an integer from 0 to 4294967295)');
  return native.crc32c(data, previous >>> 0);
}
