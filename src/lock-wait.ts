/**
 * Waiting for another writer's lock: `Manager.openAsync` and `Log.open` with a `lockTimeout`.
 * The lock is flock(2), which has no blocking wait that a timeout or an AbortSignal can end from
 * JavaScript without a thread: so the open is tried again with a short backoff.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AofError, ErrorCode } from './errors.js';
import { validateNonNegative, validateSignal } from './validate.js';

/** Longest pause between two tries for a held writer lock. */
const LOCK_RETRY_MAX_MS = 25;

/**
 * Runs `open`, and while it fails with ERR_AOF_LOCKED tries again (pauses of 1 ms doubling to
 * 25 ms) until `lockTimeout` ms have passed (0: once; Infinity: until the lock is free). `signal`
 * aborts the wait with its reason. Any other failure is thrown at once.
 */
export async function openWhileLocked<T>(open: () => T | Promise<T>, lockTimeout = 0, signal?: AbortSignal): Promise<T> {
  validateNonNegative(lockTimeout, 'options.lockTimeout', 'a non-negative number of milliseconds (or Infinity)', true);
  validateSignal(signal, 'options.signal');
  const deadline = performance.now() + lockTimeout;
  for (let pause = 1; ; pause = Math.min(pause * 2, LOCK_RETRY_MAX_MS)) {
    signal?.throwIfAborted();
    try {
      return await open();
    } catch (e) {
      const left = deadline - performance.now();
      if (!(e instanceof AofError) || e.code !== ErrorCode.LOCKED || left <= 0) throw e;
      try {
        await sleep(Math.min(pause, left), undefined, { signal });
      } catch (abort) {
        signal?.throwIfAborted(); // the signal's reason, not the timer's AbortError
        throw abort;
      }
    }
  }
}
