import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep } from '../src/sleep.js';

describe('sleep', () => {
  it('resolves after the time has passed', async () => {
    const start = performance.now();
    await sleep(60);
    // Timers may fire a millisecond early on some platforms.
    expect(performance.now() - start).toBeGreaterThanOrEqual(55);
  });

  it('an abort ends the wait early, resolving (not rejecting)', async () => {
    const ac = new AbortController();
    const start = performance.now();
    const waiting = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await expect(waiting).resolves.toBeUndefined();
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('an already aborted signal resolves at once and adds no listener', async () => {
    const ac = new AbortController();
    ac.abort();
    const start = performance.now();
    await sleep(10_000, ac.signal);
    expect(performance.now() - start).toBeLessThan(1_000);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener on the signal, whether the time passed or the signal aborted', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);

    const waiting = sleep(10_000, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort();
    await waiting;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('clears its timer when aborted, so nothing keeps the process waiting', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const ac = new AbortController();
    const waiting = sleep(10_000, ac.signal);
    expect(timers()).toBe(before + 1);
    ac.abort();
    await waiting;
    // An uncleared 10 s timer would still be listed among the active resources.
    expect(timers()).toBe(before);
  });
});
