/**
 * The NATS client, loaded on first use: `@nats-io/transport-node` and `@nats-io/jetstream` are
 * optional peer dependencies, so an application that never ships or mirrors does not install them.
 */
import { AofError, ErrorCode } from '../errors.js';

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

/** Connects (reconnecting for ever once connected); a server that cannot be reached at first is ERR_AOF_REMOTE. */
export async function connectTo(client: NatsClient, servers: string | string[], options: ConnectionOptions = {}): Promise<NatsConnection> {
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
