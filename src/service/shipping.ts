/**
 * Streams the service ships to NATS JetStream (`ServiceOptions.ship`): one shipper per configured
 * record stream, started once the stream exists (it waits for its first append, here or by
 * another process), stopped with the service. Its counters and lag are in `/stats`, `/metrics`
 * and on the dashboard. The NATS client is loaded only when something is configured.
 */
import type { Shipper } from '../nats/ship.js';
import { invalidArg } from '../errors.js';
import { validateObject } from '../validate.js';
import type { Streams } from './streams.js';

/** What to ship (see {@link ServiceOptions.ship}). */
export interface ShipConfig {
  /** NATS servers (default `127.0.0.1:4222`). */
  servers?: string | string[];
  /** Record streams of the service, each to a JetStream stream and subject. */
  streams: Array<{ name: string; stream: string; subject: string; window?: number }>;
}

/** One configured stream's shipping, as `/stats` shows it. */
export interface ShippingInfo {
  name: string;
  stream: string;
  subject: string;
  /** 'waiting' for the stream to exist, then the shipper's state; 'failed' with `error`. */
  state: string;
  shipped: number;
  lastId: number;
  lagRecords: number;
  lagSeconds: number;
  retries: number;
  error?: string;
}

interface Entry {
  config: ShipConfig['streams'][number];
  shipper?: Shipper;
  error?: string;
}

export class Shipping {
  readonly #entries: Entry[];
  readonly #servers: string | string[] | undefined;
  readonly #stop = new AbortController();
  readonly #running: Array<Promise<void>> = [];

  constructor(config: ShipConfig | undefined) {
    if (config === undefined) {
      this.#entries = [];
      this.#servers = undefined;
      return;
    }
    validateObject(config, 'options.ship');
    if (!Array.isArray(config.streams)) throw invalidArg('options.ship.streams', 'an array of { name, stream, subject }', config.streams);
    this.#entries = config.streams.map((s, i) => {
      validateObject(s, `options.ship.streams[${i}]`);
      return { config: s };
    });
    this.#servers = config.servers;
  }

  /** Starts every configured stream's shipper once its stream exists. */
  start(streams: Streams): void {
    for (const entry of this.#entries) this.#running.push(this.#run(entry, streams));
  }

  async #run(entry: Entry, streams: Streams): Promise<void> {
    const { name, stream, subject, window } = entry.config;
    try {
      await streams.created(name, this.#stop.signal);
      if (streams.kindOf(name) !== 'records') throw new Error(`stream ${name} holds raw bytes: only record streams are shipped`);
      const { ship } = await import('../nats/index.js');
      this.#stop.signal.throwIfAborted();
      entry.shipper = ship(streams.logPath(name), {
        stream, subject, signal: this.#stop.signal,
        ...(this.#servers !== undefined ? { servers: this.#servers } : {}),
        ...(window !== undefined ? { window } : {}),
      });
      await entry.shipper.done;
    } catch (e) {
      if (this.#stop.signal.aborted) return;
      const code = (e as { code?: unknown }).code;
      entry.error = `${typeof code === 'string' ? `${code}: ` : ''}${(e as Error).message}`;
    }
  }

  info(): ShippingInfo[] {
    return this.#entries.map(({ config, shipper, error }) => {
      const s = shipper?.stats();
      return {
        name: config.name, stream: config.stream, subject: config.subject,
        state: error !== undefined ? 'failed' : s?.state ?? 'waiting',
        shipped: s?.shipped ?? 0, lastId: s?.lastId ?? 0, lagRecords: s?.lagRecords ?? 0, lagSeconds: s?.lagSeconds ?? 0,
        retries: s?.retries ?? 0,
        ...(error !== undefined ? { error } : {}),
      };
    });
  }

  /** Stops every shipper (their in-flight publishes settle). */
  async close(): Promise<void> {
    this.#stop.abort(new Error('the service closed'));
    await Promise.all(this.#running);
  }
}
