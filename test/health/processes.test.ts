import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sdkTotals } from '../../src/health/index.js';
import { ensureState } from '../../src/state/store.js';
import { serverAvailable } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { runReporter } from '../helpers/process.js';
import { cleanups, serverTarget } from './fixtures.js';

const TRAFFIC = fileURLToPath(new URL('./traffic.mjs', import.meta.url));

type Totals = Record<string, Record<'new' | 'old', { requests: number; errors: number; dataErrors: number }>>;

/** Run one traffic process to its end; resolves to what it says it sent. */
function traffic(url: string, plan: unknown): Promise<{ flushed: boolean; totals: Totals }> {
  return runReporter(TRAFFIC, [url, JSON.stringify(plan)], 'sent ', (kill) => cleanups.push(async () => kill()));
}

describe.runIf(await serverAvailable())('SDK metrics from many processes', () => {
  it('3 processes flushing to one database add up exactly: counts equal what was sent', async () => {
    const { url, db } = await serverTarget();
    await ensureState(db);
    await setFlag(db, 'orders.v2', true, 50);
    await setFlag(db, 'search.v2', true, 10);
    const since = new Date(Date.now() - 60_000);
    const plans = [0, 1, 2].map((k) => ({
      flags: [
        { key: 'orders.v2', observe: { requests: 3000 + 500 * k, errorEvery: 7 } },
        {
          key: 'search.v2',
          new: { requests: 200 * (k + 1), errorEvery: 11, dataErrorEvery: 13, latencyFactor: 1.5 },
          old: { requests: 1000 * (k + 1), errorEvery: 101 },
        },
      ],
    }));
    const results = await Promise.all(plans.map((p) => traffic(url, p)));
    expect(results.every((r) => r.flushed)).toBe(true);
    const window = { from: since, to: new Date(Date.now() + 60_000) };
    for (const flag of ['orders.v2', 'search.v2']) {
      for (const cohort of ['new', 'old'] as const) {
        const sent = results.reduce(
          (a, r) => {
            const c = r.totals[flag]?.[cohort];
            return { requests: a.requests + (c?.requests ?? 0), errors: a.errors + (c?.errors ?? 0), dataErrors: a.dataErrors + (c?.dataErrors ?? 0) };
          },
          { requests: 0, errors: 0, dataErrors: 0 },
        );
        expect(sent.requests, `${flag} ${cohort}`).toBeGreaterThan(0);
        const stored = await sdkTotals(db, flag, cohort, window);
        expect({ requests: stored.requests, errors: stored.errors, dataErrors: stored.dataErrors }, `${flag} ${cohort}`).toEqual(sent);
        // The merged HdrHistograms hold exactly one latency per request.
        expect(stored.latencySamples, `${flag} ${cohort}`).toBe(sent.requests);
      }
    }
    const { rows } = await db.query<{ n: string }>('SELECT count(DISTINCT source)::text AS n FROM ferry.metrics');
    expect(Number(rows[0]?.n)).toBe(3);
    // Every process saw the same cohorts for orders.v2 (50 %): about half the units in each.
    const orders = await sdkTotals(db, 'orders.v2', 'new', window);
    expect(orders.requests / (3000 + 3500 + 4000)).toBeGreaterThan(0.4);
    expect(orders.requests / (3000 + 3500 + 4000)).toBeLessThan(0.6);
    // search.v2's new cohort was 1.5 × slower: p99 19 ms × 1.5, within the histogram's 1 % resolution.
    const search = await sdkTotals(db, 'search.v2', 'new', window);
    expect(search.p99Ms).toBeGreaterThan(28.5 * 0.99);
    expect(search.p99Ms).toBeLessThan(28.5 * 1.01);
  });
});
