/** Copying a range of an AOF's content (a Reader's view of the mapping) to stdout. */
import type { Reader } from '../reader.js';
import { writeOut } from './output.js';
import { Progress, progressAllowed } from './progress.js';

/** Bytes per write to stdout (each awaited, so the view under it stays mapped). */
const CHUNK = 1024 * 1024;

/** Writes content bytes [from, to) of `reader` to stdout; a bar shows the bytes written on a terminal. */
export async function writeRange(reader: Reader, from: number, to: number, label: string): Promise<void> {
  const progress = new Progress({ label, total: to - from, enabled: progressAllowed(true) });
  try {
    for (let at = from; at < to; at += CHUNK) {
      const end = Math.min(to, at + CHUNK);
      await writeOut(reader.view(at, end));
      progress.update(end - from);
    }
  } finally {
    progress.finish();
  }
}
