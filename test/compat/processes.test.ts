import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openServer } from '../../src/db/server.js';
import { ensureState } from '../../src/state/store.js';
import { createServerDatabase, serverAvailable } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { runReporter } from '../helpers/process.js';

const WORKER = fileURLToPath(new URL('./shadow-worker.mjs', import.meta.url));

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

interface WorkerTotals {
  calls: number;
  mismatches: { new: number; old: number };
  comparisons: { new: number; old: number };
}

/** Run one worker process to its end; resolves to what it says it did. */
function runWorker(args: string[]): Promise<WorkerTotals> {
  return runReporter<WorkerTotals>(WORKER, args, 'done ', (kill) => cleanups.push(async () => kill()));
}

describe.runIf(await serverAvailable())('shadow reads of 3 processes add up in ferry.metrics', () => {
  it('mismatches, comparisons and data errors summed over the processes equal exactly what they did', async () => {
    const target = await createServerDatabase();
    cleanups.push(target.drop);
    const db = await openServer({ url: target.url });
    cleanups.push(() => db.close());
    await ensureState(db);
    await setFlag(db, 'names.v2', true, 40);
    const plans = [
      { calls: 300, every: 7 },
      { calls: 250, every: 11 },
      { calls: 400, every: 13 },
    ];
    const done = await Promise.all(plans.map((p, w) => runWorker([target.url, 'names.v2', String(w), String(p.calls), String(p.every)])));
    const sum = (f: (t: WorkerTotals) => number) => done.reduce((a, t) => a + f(t), 0);
    expect(sum((t) => t.calls)).toBe(950);
    const expectedMismatches = plans.reduce((a, p) => a + Math.ceil(p.calls / p.every), 0);
    expect(sum((t) => t.mismatches.new + t.mismatches.old)).toBe(expectedMismatches);

    const { rows } = await db.query<{ cohort: 'new' | 'old'; sources: number; requests: number; comparisons: number; mismatches: number; data_errors: number }>(
      `SELECT cohort, count(DISTINCT source)::int AS sources, sum(requests)::int AS requests, sum(comparisons)::int AS comparisons,
              sum(mismatches)::int AS mismatches, sum(data_errors)::int AS data_errors
         FROM ferry.metrics WHERE flag_key = 'names.v2' GROUP BY cohort ORDER BY cohort`,
    );
    for (const cohort of ['new', 'old'] as const) {
      const row = rows.find((r) => r.cohort === cohort);
      const mismatches = sum((t) => t.mismatches[cohort]);
      const comparisons = sum((t) => t.comparisons[cohort]);
      expect(row, cohort).toMatchObject({ sources: 3, requests: comparisons, comparisons, mismatches, data_errors: mismatches });
    }
    const samples = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ferry.shadow_mismatches WHERE flag_key = 'names.v2'`);
    // Each process writes at most 20 differing values per flag per flush (the default sample).
    expect(samples.rows[0]?.n).toBe(3 * 20);
  });
});
