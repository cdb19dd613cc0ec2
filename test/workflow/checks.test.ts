import { expect, test } from 'vitest';
import { bucketOf, inRollout } from '../../src/bucket.js';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import type { Migration } from '../../src/migration/loader.js';
import { stagesOf } from '../../src/rollout/schedule.js';
import { setRollout } from '../../src/rollout/stages.js';
import { readEvents, readState } from '../../src/state/store.js';
import { up } from '../../src/workflow/apply.js';
import { dataErrors, latestResults } from '../../src/workflow/check-store.js';
import { homeOnly } from '../../src/workflow/environments.js';
import { currentPhase, transition } from '../../src/workflow/lifecycle.js';
import { runChecks } from '../../src/workflow/run-checks.js';
import { migrationStatus } from '../../src/workflow/status.js';
import { verifyMigrations } from '../../src/workflow/verify.js';
import { corruptPeople, PEOPLE, peopleMigration, repairPeople } from '../helpers/checks.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';

const ROWS = 2_000;
const keysOf = (ds: unknown[]) => new Set(ds.map((d) => (d as { key: { id: string } }).key.id));
const phaseOf = async (db: Database, id: string) => (await readState(db)).migrations.get(id)?.phase;

async function rollTo(db: Database, m: Migration, percent: number): Promise<void> {
  await db.transaction(async (tx) => {
    await setRollout(tx, { id: m.id, flag: m.manifest.flag, stages: stagesOf(m.manifest.rollout), hasBackfill: false }, percent, {
      actor: 'test',
      life: { currentPhase, transition },
    });
    // 100 % is rolled out once its hold is judged; these tests do not wait for the hold.
    if (percent === 100) await transition(tx, m.id, 'rolled-out', { actor: 'test', reason: 'test: the 100 % hold passed' });
  });
}

forEachDriver('declared checks and the verify gate', (suite) => {
  test('equal data passes; corrupted rows are named by every check; rolled-out → verified waits until all checks pass', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    peopleMigration(p, { rows: ROWS });
    const ms = await migrationsOf(p);
    const m = ms[0] as Migration;
    const db = await target.open();
    try {
      await up(db, ms, testRun);
      const full = { mode: 'full' as const, databases: homeOnly(db), lockWaitMs: 10_000 };

      // Equal data: every check passes, though people stores balance as numeric(12,4) and the names are split.
      const clean = await runChecks(m, { ...full, actor: 'test' });
      expect(clean.results.map((r) => [r.check, r.ok])).toEqual([
        ['row-count', true],
        ['names-match', true],
        ['people-data', true],
        ['people-schema', true],
      ]);
      expect(clean.results[2]?.figures).toMatchObject({ sourceRows: ROWS, targetRows: ROWS, chunks: 9, chunksSkipped: 0 });

      // Gate: rolled out, but the checks must pass again after the data is corrupted.
      await rollTo(db, m, 25);
      const injected = await corruptPeople(db, [17, 42, 1000, 1501, 3, 77, 500, 1999, 1234, 808, 606, 404]);
      // --check: one check alone.
      const one = await runChecks(m, { ...full, actor: 'test', only: ['people-data'] });
      expect(one.results.map((x) => [x.check, x.dataErrors])).toEqual([['people-data', injected.size]]);

      await rollTo(db, m, 100);
      expect(await phaseOf(db, PEOPLE)).toBe('rolled-out');
      const refused = await verifyMigrations(db, ms, { actor: 'test', record: true, checks: full });
      const r = refused[0];
      expect(r).toMatchObject({ ok: false, complete: true, phase: 'rolled-out' });
      expect(r?.verified).toBeUndefined();
      expect(r?.notVerified).toMatch(/E_GATE|check names-match failed|check people-data failed/);
      const byName = new Map(r?.checks.map((c) => [c.check, c]));
      expect(byName.get('row-count')).toMatchObject({ ok: false, figures: { sourceRows: ROWS, targetRows: ROWS - 3 }, dataErrors: 3 });
      expect(keysOf(byName.get('names-match')?.differences ?? [])).toEqual(injected);
      expect(keysOf(byName.get('people-data')?.differences ?? [])).toEqual(injected);
      expect(byName.get('people-data')?.dataErrors).toBe(injected.size);
      expect(byName.get('people-schema')?.ok).toBe(true);
      const changed = byName.get('people-data')?.differences.find((d) => (d as { key: { id: string } }).key.id === '17') as {
        kind: string;
        columns: string[];
        source: Record<string, string>;
        target: Record<string, string>;
      };
      expect(changed).toMatchObject({ kind: 'changed', columns: ['first'], source: { first: 'Ada' }, target: { first: 'Adax' } });
      // names-match and people-data find the same rows: each counts once (distinct keys per table); row-count has no keys, so its 3 count on their own.
      expect(await dataErrors(db, PEOPLE)).toBe(3 + injected.size);
      expect(await phaseOf(db, PEOPLE)).toBe('rolled-out');
      // The transition itself is refused by the gate while the stored results fail.
      await expect(db.transaction((tx) => transition(tx, PEOPLE, 'verified', { actor: 'test', reason: 'try' }))).rejects.toSatisfy(
        (e: unknown) => isFerryError(e, 'E_GATE') && /people-data failed/.test((e as Error).message),
      );

      const status = (await migrationStatus(db, ms)).migrations[0];
      expect(status?.checks.map((c) => [c.check, c.ok])).toEqual([
        ['row-count', false],
        ['names-match', false],
        ['people-data', false],
        ['people-schema', true],
      ]);
      expect(status?.dataErrors).toBe(3 + injected.size);

      // A sample is quick but never verifies.
      await repairPeople(db);
      const sampled = await verifyMigrations(db, ms, { actor: 'test', record: true, checks: { ...full, mode: 'sample', sampleSize: 50 } });
      expect(sampled[0]?.checks.find((c) => c.check === 'people-data')).toMatchObject({ mode: 'sample', ok: true, figures: { sampled: 50 } });
      expect(sampled[0]?.notVerified).toMatch(/people-data failed/);

      // Fixed and verified with --full: the gate opens.
      const passed = await verifyMigrations(db, ms, { actor: 'test', record: true, checks: full });
      expect(passed[0]).toMatchObject({ ok: true, verified: true, phase: 'verified' });
      expect(await dataErrors(db, PEOPLE)).toBe(0);
      const events = await readEvents(db, PEOPLE);
      expect(events.filter((e) => e.kind === 'checks').map((e) => e.reason)).toHaveLength(5);
      expect(events.at(-1)).toMatchObject({ kind: 'transition', fromPhase: 'rolled-out', toPhase: 'verified' });
      const stored = (await latestResults(db, { migrationId: PEOPLE, mode: 'full' })).get(PEOPLE) ?? [];
      expect(stored.every((s) => s.ok)).toBe(true);
    } finally {
      await db.close();
    }
  });

  test('a cohort check covers only the units of the current rollout stage', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    peopleMigration(p, { rows: ROWS });
    const ms0 = await migrationsOf(p);
    const db = await target.open();
    try {
      await up(db, ms0, testRun);
      const m0 = ms0[0] as Migration;
      const cohortCheck = { ...(m0.manifest.checks[2] as object), name: 'cohort-data', cohort: 'current' as const };
      const m: Migration = { ...m0, manifest: { ...m0.manifest, checks: [cohortCheck as Migration['manifest']['checks'][number]] } };
      const injected = [
        ...(await corruptPeople(
          db,
          Array.from({ length: 40 }, (_, i) => 11 + i * 47),
        )),
      ];
      await rollTo(db, m, 25);
      const run = await runChecks(m, { mode: 'full', databases: homeOnly(db), lockWaitMs: 10_000, actor: 'test' });
      const inCohort = injected.filter((k) => inRollout(bucketOf('split-people', k), 25));
      expect(inCohort.length).toBeGreaterThan(0);
      expect(inCohort.length).toBeLessThan(injected.length);
      expect(keysOf(run.results[0]?.differences ?? [])).toEqual(new Set(inCohort));
      expect(run.results[0]?.figures).toMatchObject({ cohort: { flag: 'split-people', unitColumn: 'id', percent: 25 } });
    } finally {
      await db.close();
    }
  });
});
