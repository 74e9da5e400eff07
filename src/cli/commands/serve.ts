/**
 * `aof serve [--dir ./data] [--port 8080] [--host H] [--body-limit SIZE] [--heartbeat MS] …`: the HTTP service over the AOFs in a
 * directory (src/service/server.ts, loaded only by this command), until SIGINT or SIGTERM; then
 * it closes the service (in-flight requests finish, files close) and exits 0.
 */
import type { ShipEntry } from '../arguments.js';
import { interruptible } from '../interrupt.js';
import { writeOut } from '../output.js';

export interface ServeOptions {
  dir: string;
  port: number;
  host?: string;
  bodyLimit?: number;
  heartbeat?: number;
  statsInterval?: number;
  shutdownTimeout?: number;
  /** --ship, once per record stream to ship to NATS JetStream. */
  ship?: ShipEntry[];
  /** NATS servers for --ship, comma-separated. */
  nats?: string;
}


/** Runs `aof serve`. */
export async function serve(options: ServeOptions): Promise<void> {
  const { startService } = await import('../../service/server.js');
  await interruptible(async (signal) => {
    const running = await startService({
      dir: options.dir,
      port: options.port,
      ...(options.host ? { host: options.host } : {}),
      ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
      ...(options.heartbeat !== undefined ? { heartbeatMs: options.heartbeat } : {}),
      ...(options.statsInterval !== undefined ? { statsIntervalMs: options.statsInterval } : {}),
      ...(options.shutdownTimeout !== undefined ? { shutdownTimeoutMs: options.shutdownTimeout } : {}),
      ...(options.ship?.length ? { ship: { streams: options.ship, ...(options.nats ? { servers: options.nats.split(',') } : {}) } } : {}),
    });
    await writeOut(`serving ${options.dir} on ${running.url}\n`);
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await running.close();
  });
}
