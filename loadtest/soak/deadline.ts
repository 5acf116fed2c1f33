/**
 * Bounded waits that leave no timer behind: the run ends with nothing
 * keeping the event loop alive.
 */

/** `p`'s value, or undefined once `ms` passed first; the timer is cleared either way. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleeps until `atMs` (Date.now clock) or the abort, whichever comes first. */
export async function sleepUntil(atMs: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, atMs - Date.now()));
    signal.addEventListener('abort', done, { once: true });
  });
}
