/**
 * The NATS client, loaded on first use: `@nats-io/transport-node` and `@nats-io/jetstream` are
 * optional peer dependencies, so an application that never ships or mirrors does not install them.
 */
import { AofError, ErrorCode, invalidArg } from '../errors.js';
import { validateSignal } from '../validate.js';

type Transport = typeof import('@nats-io/transport-node');
type JetStream = typeof import('@nats-io/jetstream');
export type NatsConnection = Awaited<ReturnType<Transport['connect']>>;
export type ConnectionOptions = Parameters<Transport['connect']>[0];

export interface NatsClient {
  transport: Transport;
  jetstream: JetStream;
}

let loaded: Promise<NatsClient> | undefined;

/** The two packages, or ERR_AOF_MISSING_PEER naming what to install. */
export function loadNats(): Promise<NatsClient> {
  loaded ??= Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')])
    .then(([transport, jetstream]) => ({ transport, jetstream }), (e: unknown) => {
      loaded = undefined;
      throw new AofError(ErrorCode.MISSING_PEER, 'mmap-aof/nats needs the NATS client: npm install @nats-io/transport-node @nats-io/jetstream', { cause: e });
    });
  return loaded;
}

/** How ship() and mirror() reach the server. */
export interface ConnectOptions {
  /** NATS servers (default `127.0.0.1:4222`); not with `connection`. */
  servers?: string | string[];
  /** Use this connection instead (left open when done). */
  connection?: NatsConnection;
}

/** ship()'s and mirror()'s common options: one of `servers` and `connection`; a valid `signal`. */
export function validateConnectOptions(options: ConnectOptions & { signal?: AbortSignal }): void {
  if (options.servers !== undefined && options.connection !== undefined) {
    throw invalidArg('options.servers', 'nothing when options.connection is given', options.servers);
  }
  validateSignal(options.signal, 'options.signal');
}

/** Aborts `stop` (with its reason) when the caller's `signal` aborts. */
export function stopWith(stop: AbortController, signal: AbortSignal | undefined): void {
  if (!signal) return;
  if (signal.aborted) stop.abort(signal.reason);
  else signal.addEventListener('abort', () => stop.abort(signal.reason), { once: true });
}

/** The connection to use and how to let it go: a given one stays open, one made here is closed. */
export async function openConnection(client: NatsClient, options: ConnectOptions): Promise<{ nc: NatsConnection; release(): Promise<void> }> {
  const given = options.connection;
  if (given) return { nc: given, release: () => Promise.resolve() };
  const nc = await connectTo(client, options.servers ?? '127.0.0.1:4222');
  return { nc, release: () => nc.close().catch(() => {}) };
}

/** Connects (reconnecting for ever once connected); a server that cannot be reached at first is ERR_AOF_REMOTE. */
async function connectTo(client: NatsClient, servers: string | string[], options: ConnectionOptions = {}): Promise<NatsConnection> {
  try {
    return await client.transport.connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...options });
  } catch (e) {
    throw new AofError(ErrorCode.REMOTE, `cannot connect to NATS at ${String(servers)}: ${(e as Error).message}`, { cause: e });
  }
}

/** JetStream's API error codes for a publish whose expected last sequence / message id did not match. */
export const WRONG_LAST_SEQUENCE = 10071;
export const WRONG_LAST_MSG_ID = 10070;

/** A JetStream API error's numeric code (e.g. {@link WRONG_LAST_SEQUENCE}), if `e` is one. */
export function apiErrorCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
