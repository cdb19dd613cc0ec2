import { expect, it } from 'vitest';
import { advanceRolloutStage, type Database, type Migration, readEvents, rolloutReport, setMigrationStage, setRolloutPercentage, up } from '../../src/index.js';
import { newMetricCounts, writeMetrics } from '../../src/sdk/metrics.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';
import { refusalCode } from '../helpers/refusal.js';

const FLAG = 'orders.stage';
const opts = { actor: 'stage-test', lockWaitMs: 10_000 };

/** What a refused move must leave alone: the stored stage and version of the flag, and the migration's log. */
async function snapshot(db: Database, id: string): Promise<string> {
  const { rows } = await db.query('SELECT stage, version::text AS version FROM ferry.flags WHERE key = $1', [FLAG]);
  return JSON.stringify({ flag: rows[0] ?? null, events: (await readEvents(db, id)).length });
}

/** Error-heavy traffic in the new cohort over the last seconds: the decision matrix turns red. */
async function redTraffic(db: Database): Promise<void> {
  const row = (cohort: 'new' | 'old', errors: number) => ({
    flag: FLAG,
    cohort,
    bucketStart: Date.now() - 1000,
    bucketMs: 1000,
    ...newMetricCounts(),
    requests: 5000,
    errors,
  });
  const rows = [row('new', 2500), row('old', 0)];
  for (const r of rows) r.latency.recordValue(10_000);
  const { error } = await writeMetrics(db, rows, 'stage-test');
  if (error) throw error;
}

forEachDriver('migration stages', (suite) => {
  it('move forward one at a time behind their gates, back except from complete, each logged with the flag version bumped', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_orders', [{ id: 'add', up: 'CREATE TABLE orders (id int);', down: 'DROP TABLE orders;' }], {
      flag: FLAG,
      rollout: { stages: [5, 100].map((percent) => ({ percent, hold: '1s' })) },
    });
    const ms = await migrationsOf(p);
    const m = ms[0] as Migration;
    const db = await target.open();
    try {
      // Before up: planned, nothing to carry a stage yet.
      expect(await refusalCode(setMigrationStage(db, m, 'dualwrite', opts))).toBe('E_GATE');
      await up(db, ms, testRun);
      expect(await refusalCode(setMigrationStage(db, m, 'sideways', opts))).toBe('E_USAGE');
      expect((await rolloutReport(db, m)).migrationStage.name).toBe('off');

      const dual = await setMigrationStage(db, m, 'dualwrite', opts);
      expect(dual).toMatchObject({ from: 'off', to: 'dualwrite', skipped: [], moved: true, phase: 'expanded' });
      const v1 = dual.flagVersion;

      // Skipping ahead needs --now with a reason; a refused move changes nothing.
      const before = await snapshot(db, m.id);
      expect(await refusalCode(setMigrationStage(db, m, 'live', opts))).toBe('E_GATE');
      expect(await refusalCode(setMigrationStage(db, m, 'live', { ...opts, now: { reason: ' ' } }))).toBe('E_USAGE');
      expect(await snapshot(db, m.id)).toBe(before);

      const shadow = await setMigrationStage(db, m, 'shadow', opts);
      expect(shadow.flagVersion).toBeGreaterThan(v1);

      // live reads the new side: refused before the canary, and while health is red.
      expect(await refusalCode(setMigrationStage(db, m, 'live', opts))).toBe('E_GATE');
      await setRolloutPercentage(db, m, 5, opts);
      await redTraffic(db);
      const red = await snapshot(db, m.id);
      const refused = await setMigrationStage(db, m, 'live', opts).catch((e: Error) => e);
      expect(refused).toMatchObject({ code: 'E_GATE' });
      expect((refused as Error).message).toContain('health is red');
      expect(await snapshot(db, m.id)).toBe(red);
      await db.query('DELETE FROM ferry.metrics');
      expect(await setMigrationStage(db, m, 'live', { ...opts, reason: 'shadow clean' })).toMatchObject({ from: 'shadow', to: 'live', phase: 'canary' });

      // rampdown and complete stop reading the old side: refused before rolled-out, even with --now.
      expect(await refusalCode(setMigrationStage(db, m, 'rampdown', opts))).toBe('E_GATE');
      expect(await refusalCode(setMigrationStage(db, m, 'complete', { ...opts, now: { reason: 'hurry' } }))).toBe('E_GATE');

      // Back is allowed, then forward again.
      expect(await setMigrationStage(db, m, 'shadow', opts)).toMatchObject({ from: 'live', to: 'shadow' });
      await setMigrationStage(db, m, 'live', opts);

      await setRolloutPercentage(db, m, 100, { ...opts, now: { reason: 'test' } });
      await new Promise((r) => setTimeout(r, 1100));
      await advanceRolloutStage(db, m, opts);
      expect((await rolloutReport(db, m)).phase).toBe('rolled-out');
      await setMigrationStage(db, m, 'rampdown', opts);
      const complete = await setMigrationStage(db, m, 'complete', opts);
      expect(complete).toMatchObject({ from: 'rampdown', to: 'complete', phase: 'rolled-out' });

      // Out of complete there is no way back: the old side has not been written since.
      const done = await snapshot(db, m.id);
      const back = await setMigrationStage(db, m, 'rampdown', opts).catch((e: Error) => e);
      expect(back).toMatchObject({ code: 'E_GATE' });
      expect((back as Error).message).toContain('old side has not been written since');
      expect(await snapshot(db, m.id)).toBe(done);
      // Staying is no move.
      expect(await setMigrationStage(db, m, 'complete', opts)).toMatchObject({ moved: false, flagVersion: complete.flagVersion });

      const stages = (await readEvents(db, m.id)).filter((e) => e.kind === 'stage');
      expect(stages.map((e) => `${(e.details as { from: string }).from}→${(e.details as { to: string }).to}`)).toEqual([
        'off→dualwrite',
        'dualwrite→shadow',
        'shadow→live',
        'live→shadow',
        'shadow→live',
        'live→rampdown',
        'rampdown→complete',
      ]);
      expect(stages.every((e) => e.actor === opts.actor)).toBe(true);
      expect(stages[2]?.reason).toBe('shadow clean');

      const report = await rolloutReport(db, m);
      expect(report.migrationStage).toEqual({ name: 'complete', plan: { read: 'new', compare: false, writes: ['new'] }, meaning: 'reads new; writes new' });
    } finally {
      await db.close();
    }
  });

  it('skips ahead with --now and a reason, logged with the stages passed', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_orders', [{ id: 'add', up: 'CREATE TABLE orders (id int);', down: 'DROP TABLE orders;' }], { flag: FLAG });
    const ms = await migrationsOf(p);
    const m = ms[0] as Migration;
    const db = await target.open();
    try {
      await up(db, ms, testRun);
      const move = await setMigrationStage(db, m, 'shadow', { ...opts, now: { reason: 'dual writes shipped with the expand' } });
      expect(move).toMatchObject({ from: 'off', to: 'shadow', skipped: ['dualwrite'] });
      const e = (await readEvents(db, m.id)).filter((x) => x.kind === 'stage');
      expect(e[0]?.reason).toBe('stage off → shadow early, past dualwrite: dual writes shipped with the expand');
      expect(e[0]?.details).toMatchObject({ skipped: ['dualwrite'], early: true });
    } finally {
      await db.close();
    }
  });
});
