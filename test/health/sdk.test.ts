import { expect, it } from 'vitest';
import { sdkTotals } from '../../src/health/index.js';
import { createFlags } from '../../src/sdk/index.js';
import { ensureState } from '../../src/state/store.js';
import { forEachDriver } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';

const wide = () => ({ from: new Date(Date.now() - 600_000), to: new Date(Date.now() + 600_000) });

forEachDriver('SDK metrics: observe, record, flush, /metrics', (suite) => {
  it('observe measures the code path per cohort, passes results and errors through, and flushes exact counts', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await ensureState(db);
      await setFlag(db, 'pay.v2', true, 50);
      const flags = createFlags({ db }, { metrics: { flushIntervalMs: 60_000, bucketMs: 1000 } });
      await flags.ready();
      const seen = { new: 0, old: 0, errors: 0 };
      for (let i = 0; i < 400; i++) {
        const unit = `u${i}`;
        const fail = i % 10 === 0;
        try {
          const r = flags.observe('pay.v2', unit, (enabled) => {
            expect(enabled).toBe(flags.isEnabled('pay.v2', unit));
            seen[enabled ? 'new' : 'old']++;
            if (fail) throw new Error('declined');
            return i;
          });
          expect(r).toBe(i);
        } catch (err) {
          expect((err as Error).message).toBe('declined');
          seen.errors++;
        }
      }
      // Async code paths: the promise passes through unchanged, a rejection counts as an error.
      await expect(flags.observe('pay.v2', 'async-ok', async () => 'done')).resolves.toBe('done');
      await expect(flags.observe('pay.v2', 'async-bad', async () => Promise.reject(new Error('late')))).rejects.toThrow('late');
      flags.record('pay.v2', 'x', { latencyMs: 12, cohort: 'new', dataError: true });
      flags.record('pay.v2', 'y', { latencyMs: Number.NaN, cohort: 'old', error: true });
      expect(seen.errors).toBe(40);
      expect(await flags.flush()).toBe(true);
      const asyncNew = flags.isEnabled('pay.v2', 'async-ok') ? 1 : 0;
      const badNew = flags.isEnabled('pay.v2', 'async-bad') ? 1 : 0;
      const n = await sdkTotals(db, 'pay.v2', 'new', wide());
      const o = await sdkTotals(db, 'pay.v2', 'old', wide());
      expect(n.requests + o.requests).toBe(400 + 2 + 2);
      expect(n.requests).toBe(seen.new + asyncNew + badNew + 1);
      expect(o.requests).toBe(seen.old + (1 - asyncNew) + (1 - badNew) + 1);
      expect(n.errors + o.errors).toBe(40 + 1 + 1);
      expect(n.dataErrors).toBe(1);
      expect(n.latencySamples).toBe(n.requests);
      await flags.close();
    } finally {
      await db.close();
    }
  });

  it('never throws when ferry.metrics is missing: keeps the counts and writes them once it exists', async () => {
    const db = await (await suite.fresh()).open();
    try {
      const flags = createFlags({ db }, { metrics: { flushIntervalMs: 60_000 } });
      await flags.ready();
      for (let i = 0; i < 50; i++) flags.record('late.v2', `u${i}`, { latencyMs: 5, error: i < 5 });
      expect(await flags.flush()).toBe(false);
      expect(flags.status().lastError?.message).toMatch(/metrics/);
      for (let i = 0; i < 25; i++) flags.record('late.v2', `v${i}`, { latencyMs: 5 });
      await ensureState(db);
      expect(await flags.flush()).toBe(true);
      expect(await sdkTotals(db, 'late.v2', 'old', wide())).toMatchObject({ requests: 75, errors: 5 });
      await flags.close();
    } finally {
      await db.close();
    }
  });

  it('metricsText: Prometheus series by flag and cohort, zero for every flag of the snapshot before traffic', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await ensureState(db);
      await setFlag(db, 'cart.v2', true, 100);
      const flags = createFlags({ db }, { metrics: false });
      await flags.ready();
      const before = await flags.metricsText();
      expect(before).toContain('ferry_requests_total{flag="cart.v2",cohort="new"} 0');
      expect(before).toContain('ferry_requests_total{flag="cart.v2",cohort="old"} 0');
      expect(before).toContain('ferry_flag_percentage{flag="cart.v2"} 100');
      for (let i = 0; i < 7; i++) flags.record('cart.v2', `u${i}`, { latencyMs: 30, error: i === 0 });
      const after = await flags.metricsText();
      expect(after).toContain('ferry_requests_total{flag="cart.v2",cohort="new"} 7');
      expect(after).toContain('ferry_errors_total{flag="cart.v2",cohort="new"} 1');
      expect(after).toContain('ferry_latency_seconds_bucket{le="0.03",flag="cart.v2",cohort="new"} 7');
      expect(after).toContain('ferry_latency_seconds_count{flag="cart.v2",cohort="new"} 7');
      // metrics: false keeps nothing for the database.
      expect(await flags.flush()).toBe(true);
      expect((await sdkTotals(db, 'cart.v2', 'new', wide())).requests).toBe(0);
      await flags.close();
    } finally {
      await db.close();
    }
  });
});
