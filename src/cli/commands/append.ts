/**
 * `aof append FILE`: stdin → the end of FILE, chunk by chunk as it arrives (never all of stdin in
 * memory), through a Manager on FILE's directory (both created if missing); synced at the end.
 * `aof append --records DIR`: each stdin line (without its "\n") → one record of the record log in
 * DIR; each chunk's whole lines are one batch.
 */
import * as nodePath from 'node:path';
import { FileState } from '../../file-state.js';
import { AofError, ErrorCode } from '../../errors.js';
import { Geometry, MAX_FILE_SIZE } from '../../geometry.js';
import { Log } from '../../log/log.js';
import { Manager } from '../../manager.js';
import { interruptible } from '../interrupt.js';
import { writeOut } from '../output.js';

export interface AppendOptions {
  records?: boolean;
  sync?: boolean;
  finish?: boolean;
  maxSize?: number;
  segmentSize?: number;
  maxRecordSize?: number;
  quiet?: boolean;
  /** Wait for another writer to let go: ms, or true for as long as it takes (until SIGINT/SIGTERM). */
  wait?: number | boolean;
}

/** Runs `aof append`. */
export async function append(target: string, options: AppendOptions, input: AsyncIterable<Buffer> = process.stdin): Promise<void> {
  const line = options.records ? await appendRecords(target, options, input) : await appendBytes(target, options, input);
  if (!options.quiet) await writeOut(`${line}\n`);
}

/** How long --wait waits for the writer lock (ms; 0 without it). */
function waitMs(options: AppendOptions): number {
  return options.wait === true ? Infinity : typeof options.wait === 'number' ? options.wait : 0;
}

async function appendBytes(file: string, options: AppendOptions, input: AsyncIterable<Buffer>): Promise<string> {
  const path = nodePath.resolve(file);
  const manager = new Manager(nodePath.dirname(path));
  try {
    const geometry = Geometry.create().with(0, options.maxSize ?? MAX_FILE_SIZE, 0);
    const aof = await interruptible((signal) => manager.openAsync(nodePath.basename(path), { geometry, lockTimeout: waitMs(options), signal }));
    if (aof.readOnly) {
      throw new AofError(ErrorCode.READ_ONLY, `${file} is ${aof.state === FileState.EOF ? 'finished' : 'not writable'}: nothing can be appended`);
    }
    const before = aof.size;
    for await (const chunk of input) {
      aof.write(chunk);
      if (options.sync) await aof.sync();
    }
    if (options.finish) await aof.finish();
    else await aof.sync();
    return `appended ${aof.size - before} bytes to ${file} (size ${aof.size}${options.finish ? ', finished' : ''})`;
  } finally {
    await manager.close();
  }
}

async function appendRecords(dir: string, options: AppendOptions, input: AsyncIterable<Buffer>): Promise<string> {
  const log = await interruptible((signal) => Log.open(dir, {
    sync: options.sync ?? false,
    ...(options.segmentSize !== undefined ? { segmentSize: options.segmentSize } : {}),
    ...(options.maxRecordSize !== undefined ? { maxRecordSize: options.maxRecordSize } : {}),
    lockTimeout: waitMs(options),
    signal,
  }));
  try {
    let first = 0;
    let count = 0;
    const add = (lines: Buffer[]) => {
      if (lines.length === 0) return;
      const ids = log.append(lines);
      if (count === 0) first = ids[0]!;
      count += ids.length;
    };
    let partial: Buffer[] = [];
    for await (const chunk of input) {
      const lines: Buffer[] = [];
      let at = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, at)) {
        const piece = chunk.subarray(at, nl);
        lines.push(partial.length > 0 ? Buffer.concat([...partial, piece]) : piece);
        partial = [];
        at = nl + 1;
      }
      if (at < chunk.length) partial.push(chunk.subarray(at));
      add(lines);
    }
    if (partial.length > 0) add([Buffer.concat(partial)]);
    await log.sync();
    return count === 0 ? `appended 0 records to ${dir}` : `appended ${count} records to ${dir} (ids ${first}-${first + count - 1})`;
  } finally {
    await log.close();
  }
}
