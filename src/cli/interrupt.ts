/** SIGINT and SIGTERM as an AbortSignal, for the commands that run until interrupted (tail -f, serve). */

/**
 * An AbortSignal that aborts on the first SIGINT or SIGTERM, replacing Node's default (exit)
 * while it is armed; `dispose()` puts the default back.
 */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => controller.abort(new Error(`interrupted by ${name}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Runs `work` with {@link interruptSignal}'s signal (the first SIGINT or SIGTERM aborts it), and
 * puts Node's default handling back when it settles.
 */
export async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = interruptSignal();
  try {
    return await work(interrupt.signal);
  } finally {
    interrupt.dispose();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects: the caller looks at the signal). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
