import { expect, it } from 'vitest';
import { backfillProgress, runBackfill } from '../../src/backfill/index.js';
import type { Database } from '../../src/db/database.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { checksum, FAST, SPLIT_NAME, seedUsers, setBasedReference, specOf, targetOf } from './fixtures.js';
import { type Child, finalOf, startWorker, startWriter } from './processes.js';

const MIGRATION = '0001_split';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Slow enough that kills and writers land while it runs. */
const SLOW = { ...FAST, batchSize: { initial: 100, min: 50, max: 100 }, sleepRatio: 1 };

const where = (t: TestTarget) => (t.kind === 'server' ? { url: t.url } : { dataDir: t.dataDir });

async function filledAndTouched(db: Database) {
  const { rows } = await db.query<{ filled: number; bad: number }>(
    'SELECT count(first_name)::int AS filled, count(*) FILTER (WHERE touched <> (first_name IS NOT NULL)::int)::int AS bad FROM users',
  );
  return rows[0] as { filled: number; bad: number };
}

/** Kill a running worker with SIGKILL; true when it was still working (had not finished). */
async function killNow(w: Child): Promise<boolean> {
  w.proc.kill('SIGKILL');
  await w.done;
  return finalOf(w) === undefined;
}

forEachDriver('backfill across processes', (suite) => {
  if (suite.kind === 'server') {
    it('resumes exactly from the checkpoint after 20+ kill -9 at random points: checksum equal to the set-based UPDATE', async () => {
      const target = await suite.fresh();
      const db = await target.open();
      try {
        await seedUsers(db, 60_000);
        const expected = await setBasedReference(db, 'users', SPLIT_NAME.set, SPLIT_NAME.where);
        const spec = specOf({ ...SLOW, ranges: 4 });
        let landed = 0;
        for (let i = 0; landed < 20 && i < 60; i++) {
          const w = startWorker({ ...where(target), migrationId: MIGRATION, spec, workerId: 'restarted' });
          // Half the kills land anywhere from start-up on (prepare included), half once batches run:
          // on a loaded machine start-up alone can outlast the random delay, and the test must still see batches die.
          await w.waitFor(i % 2 === 0 ? /started/ : /progress [1-9]/);
          await sleep(Math.random() * 400);
          if (await killNow(w)) landed++;
          // After every kill the checkpoint is exactly what is in the data, and no row was transformed twice.
          const [p] = await backfillProgress(db, MIGRATION, spec.id);
          const now = await filledAndTouched(db);
          expect(now.bad).toBe(0);
          if (p) expect(p.rowsDone).toBe(now.filled);
        }
        expect(landed).toBe(20);
        const [mid] = await backfillProgress(db, MIGRATION, spec.id);
        expect(mid?.state).toBe('running');
        expect(mid?.rowsDone).toBeGreaterThan(0);
        expect(mid?.rowsDone).toBeLessThan(60_000);
        const final = await runBackfill(db, targetOf(specOf({ ...FAST, ranges: 4 })), { lockTimeoutMs: 2000, workerId: 'restarted' });
        expect(final).toMatchObject({ state: 'done', rowsDone: 60_000 });
        expect(await checksum(db, 'users')).toBe(expected);
      } finally {
        await db.close();
      }
    });

    it('shares one backfill among 3 worker processes; one killed mid-way, its range is reclaimed; every row done exactly once', async () => {
      const target = await suite.fresh();
      const db = await target.open();
      try {
        await seedUsers(db, 30_000);
        const expected = await setBasedReference(db, 'users', SPLIT_NAME.set, SPLIT_NAME.where);
        const spec = specOf({ ...SLOW, ranges: 12 });
        await runBackfill(db, targetOf(spec), { lockTimeoutMs: 2000, signal: AbortSignal.abort() }); // prepares, does no batch
        const workers = ['w1', 'w2', 'w3'].map((id) => startWorker({ ...where(target), migrationId: MIGRATION, spec, workerId: id, leaseMs: 1500 }));
        const [w1, w2, w3] = workers as [Child, Child, Child];
        await w2.waitFor(/progress [1-9]/);
        const held = async () =>
          Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ferry.backfill_ranges WHERE claimed_by = 'w2' AND NOT done`)).rows[0]?.n);
        while ((await held()) === 0) await sleep(5);
        expect(await killNow(w2)).toBe(true);
        // w2 died holding a range: only an expired lease lets the others finish it.
        expect(await held()).toBe(1);
        expect([await w1.done, await w3.done]).toEqual([0, 0]);
        expect(finalOf(w1)?.state).toBe('done');
        expect(finalOf(w3)?.state).toBe('done');
        const [p] = await backfillProgress(db, MIGRATION, spec.id);
        expect(p).toMatchObject({ state: 'done', rowsDone: 30_000, rangesDone: 12, rangesTotal: 12, workers: 0 });
        expect(await filledAndTouched(db)).toEqual({ filled: 30_000, bad: 0 });
        expect(await checksum(db, 'users')).toBe(expected);
      } finally {
        await db.close();
      }
    });

    it('loses no concurrent application write: inserted rows are filled by the predicate, updates of other columns survive', async () => {
      const target = await suite.fresh();
      const db = await target.open();
      try {
        await seedUsers(db, 20_000);
        await db.exec('CREATE SEQUENCE users_new_id START 1000001');
        const spec = specOf({ ...SLOW, ranges: 3 });
        const backfill = runBackfill(db, targetOf(spec), { lockTimeoutMs: 500 });
        const writer = startWriter({ url: target.url as string, ops: 300, maxId: 20_000 });
        expect(await writer.done).toBe(0);
        const counts = JSON.parse(/counts (.*)/.exec(writer.out())?.[1] ?? '{}') as { inserted: number; visits: number; renamed: number };
        // The writer finished before the backfill walked its last, open-ended range (where new keys land),
        // so the rows it inserted are the backfill's to fill through its predicate; later inserts are the expand trigger's job.
        const check = await target.open();
        try {
          const { rows: last } = await check.query('SELECT done FROM ferry.backfill_ranges WHERE upper_key IS NULL');
          expect(last).toEqual([{ done: false }]);
        } finally {
          await check.close();
        }
        const final = await backfill;
        expect(final.state).toBe('done');
        expect(counts.inserted).toBe(300);
        const { rows } = await db.query(
          `SELECT count(*)::int AS n, sum(visits)::int AS visits,
                  count(*) FILTER (WHERE first_name IS DISTINCT FROM split_part(full_name, ' ', 1) OR last_name IS DISTINCT FROM split_part(full_name, ' ', 2))::int AS wrong,
                  count(*) FILTER (WHERE full_name LIKE 'Renamed%')::int AS renamed, count(*) FILTER (WHERE touched <> 1)::int AS not_once
             FROM users`,
        );
        expect(rows[0]).toEqual({ n: 20_300, visits: counts.visits, wrong: 0, renamed: counts.renamed, not_once: 0 });
        expect(final.rowsDone).toBe(20_300);
      } finally {
        await db.close();
      }
    });
  } else {
    it('resumes exactly from the checkpoint after kill -9 of the worker process: checksum equal to the set-based UPDATE', async () => {
      const target = await suite.fresh();
      let db = await target.open();
      const spec = specOf({ ...SLOW, ranges: 2 });
      let expected: string;
      try {
        await seedUsers(db, 20_000);
        expected = await setBasedReference(db, 'users', SPLIT_NAME.set, SPLIT_NAME.where);
      } finally {
        await db.close();
      }
      const w = startWorker({ ...where(target), migrationId: MIGRATION, spec, workerId: 'restarted' });
      await w.waitFor(/progress [1-9]\d{2}/);
      expect(await killNow(w)).toBe(true);
      db = await target.open();
      try {
        const [p] = await backfillProgress(db, MIGRATION, spec.id);
        expect(p?.state).toBe('running');
        expect(p?.rowsDone).toBe((await filledAndTouched(db)).filled);
        expect(p?.rowsDone).toBeLessThan(20_000);
        const final = await runBackfill(db, targetOf(specOf({ ...FAST, ranges: 2 })), { lockTimeoutMs: 2000, workerId: 'restarted' });
        expect(final).toMatchObject({ state: 'done', rowsDone: 20_000 });
        expect(await checksum(db, 'users')).toBe(expected);
      } finally {
        await db.close();
      }
    });

    it('loses no write made between batches: rows inserted while it runs are filled by the predicate', async () => {
      const db = await (await suite.fresh()).open();
      try {
        await seedUsers(db, 5000);
        const spec = specOf({ ...SLOW, ranges: 2 });
        let next = 100_000;
        let visits = 0;
        const backfill = runBackfill(db, targetOf(spec), {
          lockTimeoutMs: 2000,
          // PGlite is one session: the "application" writes between the backfill's batches, from the same process.
          onProgress: (p) => {
            // One worker walks the ranges in order: below 2000 rows it is still in the first, so the
            // last, open-ended range — where the new keys land — is yet to be walked.
            if (p.state !== 'running' || p.rowsDone >= 2000) return;
            void db.query('INSERT INTO users (id, full_name) VALUES ($1, $2)', [next, `New${next} Writer`]);
            next++;
            void db.query('UPDATE users SET visits = visits + 1 WHERE id = $1', [1 + (next % 5000)]).then((r) => {
              visits += r.affectedRows ?? 0;
            });
          },
        });
        expect((await backfill).state).toBe('done');
        const { rows } = await db.query(
          `SELECT count(*)::int AS n, sum(visits)::int AS visits,
                  count(*) FILTER (WHERE first_name IS DISTINCT FROM split_part(full_name, ' ', 1))::int AS wrong FROM users`,
        );
        expect(next).toBeGreaterThan(100_000);
        expect(rows[0]).toEqual({ n: 5000 + (next - 100_000), visits, wrong: 0 });
      } finally {
        await db.close();
      }
    });
  }
});
