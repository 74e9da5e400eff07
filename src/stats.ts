/**
 * Manager-wide counters (the list in docs/api.md). The Manager owns one {@link StatsRecorder}; its
 * AOFs and tailers record into it. `stats()` hands out a plain snapshot.
 */

/** How often something happened and how long it took. */
export interface TimeCounter {
  count: number;
  totalNs: number;
  maxNs: number;
}

export interface Stats {
  /** Files created by open. */
  creates: number;
  /** Successful opens (file-backed and anonymous). */
  opens: number;
  openErrors: number;
  /** AOFs closed. */
  closes: number;
  /** Mappings alive (an AOF closed while tailers read it stays mapped until they detach). */
  activeMaps: number;
  /** Sum of the open files' sizes on disk. */
  activeFileSize: number;
  /** File-backed bytes mapped now. */
  activeMappedMemory: number;
  /** Anonymous (openAnonymous) bytes mapped now. */
  activeAnonymousMemory: number;
  /** Every byte ever mapped, file-backed or anonymous. */
  lifetimeMemory: number;
  flushes: TimeCounter;
  flushErrors: number;
  finishes: TimeCounter;
  finishErrors: number;
  syncs: TimeCounter;
  syncErrors: number;
  /** mmap calls: the first mapping of a file and each growth. */
  maps: number;
  mapErrors: number;
  /** Mappings released (close). */
  unmaps: number;
  unmapErrors: number;
  /** ftruncate calls (finish). */
  truncates: number;
  truncateErrors: number;
  /** chmod calls (finish, and completing an interrupted finish at open). */
  chmods: number;
  chmodErrors: number;
  /** Calls of write/append/checkpoint that committed bytes. */
  writes: number;
  bytesWritten: number;
  /** Growth the writer waited for (the headroom ran out before background growth). */
  blockingGrows: TimeCounter;
  /** Growth done ahead of the writer, off the event loop. */
  backgroundGrows: TimeCounter;
  growErrors: number;
  /** Tailers attached now. */
  tailers: number;
  /** Polls delivered to tailers' consumers. */
  tailerWakes: number;
  /** Bytes tailers' consumers accepted (the sum of their position advances). */
  tailerBytesRead: number;
}

type Plain = { [K in keyof Stats as Stats[K] extends number ? K : never]: number };
type Timed = { [K in keyof Stats as Stats[K] extends TimeCounter ? K : never]: TimeCounter };

const TIMED = ['flushes', 'finishes', 'syncs', 'blockingGrows', 'backgroundGrows'] as const satisfies readonly (keyof Timed)[];

function zeroTimer(): TimeCounter {
  return { count: 0, totalNs: 0, maxNs: 0 };
}

/** The mutable counters behind {@link Stats}. */
export class StatsRecorder {
  readonly counts: Plain = {
    creates: 0, opens: 0, openErrors: 0, closes: 0, activeMaps: 0, activeFileSize: 0,
    activeMappedMemory: 0, activeAnonymousMemory: 0, lifetimeMemory: 0, flushErrors: 0,
    finishErrors: 0, syncErrors: 0, maps: 0, mapErrors: 0, unmaps: 0, unmapErrors: 0,
    truncates: 0, truncateErrors: 0, chmods: 0, chmodErrors: 0, writes: 0, bytesWritten: 0,
    growErrors: 0, tailers: 0, tailerWakes: 0, tailerBytesRead: 0,
  };

  readonly timers: Timed = {
    flushes: zeroTimer(), finishes: zeroTimer(), syncs: zeroTimer(), blockingGrows: zeroTimer(),
    backgroundGrows: zeroTimer(),
  };

  /** Records one timed event that started at `startNs` (from {@link now}). */
  time(which: keyof Timed, startNs: bigint): void {
    const ns = Number(process.hrtime.bigint() - startNs);
    const t = this.timers[which];
    t.count++;
    t.totalNs += ns;
    if (ns > t.maxNs) t.maxNs = ns;
  }

  /** Times a promise: success counts in `which`, failure in `errors`. */
  async timed<T>(which: keyof Timed, errors: keyof Plain, work: () => Promise<T>): Promise<T> {
    const start = now();
    try {
      const result = await work();
      this.time(which, start);
      return result;
    } catch (e) {
      this.counts[errors]++;
      throw e;
    }
  }

  /** A plain copy; `extra` adds counters kept elsewhere (per-AOF write counts). */
  snapshot(extra: Partial<Plain> = {}): Stats {
    const out = { ...this.counts } as Stats;
    for (const [k, v] of Object.entries(extra) as [keyof Plain, number][]) out[k] += v;
    for (const k of TIMED) out[k] = { ...this.timers[k] };
    return out;
  }
}

/** `a` and `b` added up: counters and gauges summed; time counters summed, their max the larger. */
export function addStats(a: Stats, b: Stats): Stats {
  const out = { ...a };
  for (const key of Object.keys(b) as (keyof Stats)[]) {
    const x = a[key];
    const y = b[key];
    if (typeof x === 'number' && typeof y === 'number') (out[key] as number) = x + y;
    else if (typeof x === 'object' && typeof y === 'object') {
      (out[key] as TimeCounter) = { count: x.count + y.count, totalNs: x.totalNs + y.totalNs, maxNs: Math.max(x.maxNs, y.maxNs) };
    }
  }
  return out;
}

export function now(): bigint {
  return process.hrtime.bigint();
}
