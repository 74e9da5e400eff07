/**
 * `aof ship` and `aof mirror`: src/nats (loaded only by these commands, as the NATS client is an
 * optional peer) from the shell, until SIGINT or SIGTERM; then the shipper settles what it has in
 * flight (the mirror makes what it appended durable and acknowledges it) and the command prints
 * where it stopped and exits 0. A failure (ERR_AOF_CONFLICT, a record over the server's max
 * payload, a server that cannot be reached at start…) ends it with exit 1. On a terminal, a
 * progress line counts the records.
 */
import { interruptible } from '../interrupt.js';
import { writeOut } from '../output.js';
import { Progress } from '../progress.js';

export interface ShipCommandOptions {
  servers: string;
  stream: string;
  subject: string;
  window?: number;
  from?: number;
}

export interface MirrorCommandOptions {
  servers: string;
  stream: string;
  durable?: string;
}

/** Runs `aof ship`. */
export async function shipCommand(dir: string, options: ShipCommandOptions): Promise<void> {
  const { ship } = await import('../../nats/index.js');
  await interruptible(async (signal) => {
    const shipper = ship(dir, {
      servers: options.servers.split(','), stream: options.stream, subject: options.subject, signal,
      ...(options.window !== undefined ? { window: options.window } : {}),
      ...(options.from !== undefined ? { from: options.from } : {}),
    });
    await showProgress(`shipping to ${options.subject}`, shipper.done, () => shipper.stats().shipped);
    const s = shipper.stats();
    await writeOut(`shipped ${s.shipped} records to ${options.subject}; the stream holds up to id ${s.lastId} (sequence ${s.lastSequence})\n`);
  });
}

/** Runs `aof mirror`. */
export async function mirrorCommand(dir: string, options: MirrorCommandOptions): Promise<void> {
  const { mirror } = await import('../../nats/index.js');
  await interruptible(async (signal) => {
    const m = mirror({
      dir, servers: options.servers.split(','), stream: options.stream, signal,
      ...(options.durable !== undefined ? { durable: options.durable } : {}),
    });
    await showProgress(`mirroring ${options.stream}`, m.done, () => m.stats().mirrored);
    const s = m.stats();
    await writeOut(`mirrored ${s.mirrored} records of ${options.stream} into ${dir}; durable up to id ${s.durableId}\n`);
  });
}

/** Counts `count()` on a terminal's progress line until `done` settles (its failure is thrown). */
async function showProgress(label: string, done: Promise<void>, count: () => number): Promise<void> {
  const progress = new Progress({ label, total: 0, unit: 'count' });
  const timer = setInterval(() => progress.update(count()), 100);
  try {
    await done;
  } finally {
    clearInterval(timer);
    progress.finish();
  }
}
