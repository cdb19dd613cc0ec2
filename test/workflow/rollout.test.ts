import { expect, it } from 'vitest';
import { advanceRolloutStage, healthReport, type Migration, resumePausedRollout, rolloutReport, setFlag, setRolloutPercentage, up } from '../../src/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';
import { refusalCode } from '../helpers/refusal.js';

const FLAG = 'orders.new-path';
const opts = { actor: 'test', lockWaitMs: 10_000 };

forEachDriver('rollout actions as library functions', (suite) => {
  it('set, advance early, pause and resume, with status and health reports, without the CLI', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_add', [{ id: 'add', up: 'CREATE TABLE t (id int);', down: 'DROP TABLE t;' }], {
      flag: FLAG,
      rollout: { stages: [5, 25, 50, 75, 100].map((percent) => ({ percent, hold: '1h' })) },
    });
    const ms = await migrationsOf(p);
    const m = ms[0] as Migration;
    const db = await target.open();
    try {
      await up(db, ms, testRun);
      const start = await setRolloutPercentage(db, m, 5, opts);
      expect(start).toMatchObject({ migrationId: m.id, flag: FLAG, fromPercentage: 0, toPercentage: 5, early: false });
      expect(start.phases).toEqual([{ from: 'expanded', to: 'canary' }]);

      // The hold is enforced; skipping it needs a reason.
      expect(await refusalCode(advanceRolloutStage(db, m, opts))).toBe('E_GATE');
      expect(await refusalCode(advanceRolloutStage(db, m, { ...opts, now: { reason: ' ' } }))).toBe('E_USAGE');
      const early = await advanceRolloutStage(db, m, { ...opts, now: { reason: 'metrics green' } });
      expect(early).toMatchObject({ fromPercentage: 5, toPercentage: 25, early: true });
      expect(await refusalCode(resumePausedRollout(db, m, opts))).toBe('E_GATE');

      // The quick rollback pauses the rollout; resume accepts it at the same stage.
      await setFlag(db, ms, FLAG, { enabled: false, percentage: 25 }, opts);
      const resumed = await resumePausedRollout(db, m, { ...opts, reason: 'explained' });
      expect(resumed).toMatchObject({ fromPercentage: 25, toPercentage: 25, phases: [{ from: 'paused', to: 'rolling' }] });

      const report = await rolloutReport(db, m);
      expect(report).toMatchObject({ migrationId: m.id, phase: 'rolling', percentage: 25, stage: 2, flagEnabled: true });
      expect(report.controller?.state).toBe('running');
      // No controller ever ran for it: the resume still records that this stage's yellow was accepted.
      expect(report.controller?.acknowledged).toBe(25);
      expect(report.guidance.phase).toBe('rolling');

      const health = await healthReport(db, m, { windowMs: 60_000 });
      expect(health.phase).toBe('rolling');
      expect(health.matrix.colour).toBe('no-data');
      expect(health.matrix.window.ms).toBeLessThanOrEqual(60_000);
      expect(await refusalCode(healthReport(db, m, { source: 'prometheus' }))).toBe('E_USAGE');
    } finally {
      await db.close();
    }
  });
});
