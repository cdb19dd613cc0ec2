/**
 * Wait `ms` milliseconds, or less when `signal` aborts: the promise then resolves
 * early (it never rejects), so a caller that must stop checks `signal.aborted`
 * afterwards. An already aborted signal resolves at once. The timer and the abort
 * listener are both removed when the wait ends, whichever way it ends.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
