/** Copying a range of an AOF's content (a Reader's view of the mapping) to stdout. */
import type { Reader } from '../reader.js';
import { writeOut } from './output.js';
import { Progress, progressAllowed } from './progress.js';

/** Bytes per write to stdout (each awaited, so the view under it stays mapped). */
const CHUNK = 1024 * 1024;

/** Writes content bytes [from, to) of `reader` to stdout; a bar shows the bytes written on a terminal. */
export function writeRange(reader: Reader, from: number, to: number, label: string): Promise<void> {
  return writeRanges(reader, [[from, to]], label);
}

/** Writes each of `ranges` of `reader`'s content to stdout, in order (one bar for them all). */
export async function writeRanges(reader: Reader, ranges: ReadonlyArray<readonly [number, number]>, label: string): Promise<void> {
  const total = ranges.reduce((n, [a, b]) => n + b - a, 0);
  const progress = new Progress({ label, total, enabled: progressAllowed(true) });
  let done = 0;
  try {
    for (const [from, to] of ranges) {
      for (let at = from; at < to; at += CHUNK) {
        const end = Math.min(to, at + CHUNK);
        await writeOut(reader.view(at, end));
        done += end - at;
        progress.update(done);
      }
    }
  } finally {
    progress.finish();
  }
}
