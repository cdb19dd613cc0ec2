import fc from 'fast-check';
import { expect, it } from 'vitest';
import { BUCKET_SQL, bucketOf } from '../../src/bucket.js';
import { type Migration, rolloutReport, setRolloutPercentage, up } from '../../src/index.js';
import { readFlag } from '../../src/rollout/flags.js';
import { createFlags } from '../../src/sdk/index.js';
import { cohortFilter } from '../../src/verify/side.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { until } from '../helpers/process.js';
import { createProject } from '../helpers/project.js';

const FLAG = 'accounts.cohort';
const opts = { actor: 'cohort-test', lockWaitMs: 10_000 };
const units = Array.from({ length: 400 }, (_, i) => `acct-${i}`);
// At 5 % (buckets below 500): an edge case far outside, and a test account that would be inside.
const edge = units.find((u) => bucketOf(FLAG, u) >= 5000) as string;
const tester = units.find((u) => bucketOf(FLAG, u) < 500) as string;
const include = [edge, 'internal-1', 'internal-2', 'internal-3', 'internal-4', 'internal-5'];
const exclude = [tester, 'qa-bot'];

forEachDriver('canary include and exclude lists', (suite) => {
  it('reach ferry.flags with the rollout; the SDK and the verify cohort honour them; full_at is stamped once at 100 %', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_accounts', [{ id: 'add', up: 'CREATE TABLE accounts (id text PRIMARY KEY);', down: 'DROP TABLE accounts;' }], {
      flag: FLAG,
      rollout: { stages: [5, 50, 100].map((percent) => ({ percent, hold: '1h' })), include, exclude },
    });
    const ms = await migrationsOf(p);
    const m = ms[0] as Migration;
    const db = await target.open();
    const flags = createFlags({ db }, { pollIntervalMs: 50 });
    try {
      await up(db, ms, testRun);
      const planned = await rolloutReport(db, m);
      expect(planned.canary).toMatchObject({ percentage: 0, include: { count: 6, first: include.slice(0, 5) }, exclude: { count: 2, first: exclude } });

      await setRolloutPercentage(db, m, 5, opts);
      const f = await readFlag(db, FLAG);
      expect(f).toMatchObject({ include, exclude, fullAt: null, stage: 'off' });

      // The real SDK: the edge case is in at the first stage, the test account never.
      expect(await flags.ready(30_000)).toBe(true);
      await until('the SDK sees 5 %', () => flags.flag(FLAG)?.percentage === 5, undefined, 30_000);
      expect(flags.isEnabled(FLAG, edge)).toBe(true);
      expect(flags.isEnabled(FLAG, tester)).toBe(false);
      expect(flags.cohort(FLAG, tester)).toBeNull();

      // The verify cohort in SQL picks exactly the units the SDK puts on the new path.
      await db.query('INSERT INTO accounts (id) SELECT unnest($1::text[])', [[...units, ...include.slice(1), 'qa-bot']]);
      const cohort = { flag: FLAG, unitColumn: 'id', percent: 5, include: f?.include ?? [], exclude: f?.exclude ?? [] };
      const { rows } = await db.query<{ id: string }>(`SELECT id FROM accounts WHERE ${cohortFilter(cohort)} ORDER BY id`);
      const all = [...units, ...include.slice(1), 'qa-bot'];
      expect(rows.map((r) => r.id)).toEqual(all.filter((u) => flags.isEnabled(FLAG, u)).sort());
      expect(rows.map((r) => r.id)).toContain(edge);
      expect(rows.map((r) => r.id)).not.toContain(tester);

      // The status shows the canary's composition.
      const report = await rolloutReport(db, m);
      expect(report.canary).toMatchObject({
        percentage: 5,
        include: { count: 6 },
        exclude: { count: 2 },
        traffic: { new: { requests: 0 }, old: { requests: 0 } },
      });

      // T+0 of the API timeline: the first time at 100 %, never moved by going back and up again.
      await setRolloutPercentage(db, m, 100, { ...opts, now: { reason: 'test' } });
      const fullAt = (await readFlag(db, FLAG))?.fullAt;
      expect(fullAt).toBeInstanceOf(Date);
      await setRolloutPercentage(db, m, 50, opts);
      expect((await readFlag(db, FLAG))?.fullAt).toEqual(fullAt);
      await setRolloutPercentage(db, m, 100, { ...opts, now: { reason: 'again' } });
      expect((await readFlag(db, FLAG))?.fullAt).toEqual(fullAt);
    } finally {
      await flags.close();
      await db.close();
    }
  });
});

forEachDriver('the verify cohort in SQL', (suite) => {
  it('is the SDK rule for any percentage and lists: never excluded, included while above 0 %, else bucket below the percentage', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      await db.exec(`CREATE SCHEMA ferry; ${BUCKET_SQL}`);
      const pool = Array.from({ length: 40 }, (_, i) => `u-${i}`);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100),
          fc.subarray(pool),
          fc.subarray(pool),
          async (percent, inc, exc) => {
            const cohort = { flag: FLAG, unitColumn: 'id', percent, include: inc, exclude: exc };
            const { rows } = await db.query<{ id: string }>(`SELECT id FROM unnest($1::text[]) AS u(id) WHERE ${cohortFilter(cohort)} ORDER BY id`, [pool]);
            const threshold = Math.round(percent * 100);
            const sdk = pool.filter((u) => !exc.includes(u) && threshold > 0 && (inc.includes(u) || bucketOf(FLAG, u) < threshold));
            expect(rows.map((r) => r.id)).toEqual([...sdk].sort());
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await db.close();
    }
  });
});
