import { expect, it } from 'vitest';
import { backfillBatches, backfillBatchSeries, rollbackBackfill, runBackfill } from '../../src/backfill/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { FAST, seedUsers, specOf, targetOf } from './fixtures.js';

const opts = { lockTimeoutMs: 2000 };
const ID = '0001_split';

forEachDriver('backfill batch log', (suite) => {
  it('logs every committed batch with its checkpoint; the chart series averages them into at most N points', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 2000);
      const spec = specOf({ ...FAST, batchSize: { initial: 100, min: 100, max: 100 }, ranges: 2 });
      const p = await runBackfill(db, targetOf(spec), { ...opts, workerId: 'worker-a' });
      expect(p).toMatchObject({ state: 'done', rowsDone: 2000 });

      // Each batch is logged in its own transaction: the log agrees with the checkpoints exactly.
      const all = await backfillBatches(db, ID, spec.id, 1000);
      expect(all).toHaveLength(p.batches);
      expect(all.reduce((n, b) => n + b.rows, 0)).toBe(2000);
      expect(all.every((b) => b.batchSize === 100 && b.worker === 'worker-a' && b.durationMs >= 0 && (b.rangeNo === 1 || b.rangeNo === 2))).toBe(true);
      expect(all.map((b) => b.at)).toEqual([...all.map((b) => b.at)].sort());

      const last = await backfillBatches(db, ID, undefined, 3);
      expect(last).toEqual(all.slice(-3));

      const whole = await backfillBatchSeries(db, ID, spec.id, 500);
      expect(whole.batches).toBe(p.batches);
      expect(whole.points.map((x) => x.rows)).toEqual(all.map((b) => b.rows));

      const seven = await backfillBatchSeries(db, ID, spec.id, 7);
      expect(seven.batches).toBe(p.batches);
      expect(seven.points).toHaveLength(7);
      expect(seven.points.reduce((n, x) => n + x.batches, 0)).toBe(p.batches);
      expect(Math.round(seven.points.reduce((n, x) => n + x.rows * x.batches, 0))).toBe(2000);
      expect(seven.points.every((x) => x.maxDurationMs >= x.durationMs)).toBe(true);
      expect(seven.points.at(-1)?.at).toBe(all.at(-1)?.at);

      // Rolled back and run again, the backfill starts a new log.
      await rollbackBackfill(db, targetOf(spec), opts);
      expect(await backfillBatches(db, ID)).toEqual([]);
      expect(await backfillBatchSeries(db, ID, spec.id, 10)).toEqual({ batches: 0, points: [] });
      await db.exec('UPDATE users SET first_name = NULL, last_name = NULL');
      const again = await runBackfill(db, targetOf(spec), { ...opts, workerId: 'worker-b' });
      const fresh = await backfillBatches(db, ID, spec.id, 1000);
      expect(fresh).toHaveLength(again.batches);
      expect(fresh.every((b) => b.worker === 'worker-b')).toBe(true);
    } finally {
      await db.close();
    }
  });
});
