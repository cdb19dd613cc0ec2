import { expect, it } from 'vitest';
import { approve, isFerryError, migrationLog } from '../../src/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';

forEachDriver('approve, as a library action', (suite) => {
  it('records each role, refuses a role the plan does not name, and moves planned → approved with the last one', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_people', [{ id: 'create-people', up: 'CREATE TABLE people (id int);', down: 'DROP TABLE people;' }]);
    const [m] = await migrationsOf(p);
    if (!m) throw new Error('no migration');
    const db = await target.open();
    try {
      const opts = { actor: 'Ada', lockWaitMs: 10_000 };
      const first = await approve(db, m, { ...opts, role: 'tech lead', reason: 'reviewed' });
      expect(first).toMatchObject({ migrationId: m.id, phase: 'planned', moved: false, missing: ['Product Owner', 'Stakeholders'] });
      expect(first.approval).toMatchObject({ role: 'Tech Lead', by: 'Ada', reason: 'reviewed' });

      const refused = await approve(db, m, { ...opts, role: 'Janitor' }).catch((err: unknown) => err);
      expect(isFerryError(refused, 'E_USAGE')).toBe(true);
      expect((refused as Error).message).toBe(`"Janitor" is not an approving role of ${m.id}`);

      await approve(db, m, { ...opts, role: 'Product Owner' });
      const last = await approve(db, m, { ...opts, role: 'Stakeholders' });
      expect(last).toMatchObject({ phase: 'approved', moved: true, missing: [] });
      expect(last.approved.map((a) => a.role)).toEqual(['Tech Lead', 'Product Owner', 'Stakeholders']);

      const { events } = await migrationLog(db, m.id);
      expect(events.filter((e) => e.kind === 'approval')).toHaveLength(3);
      expect(events.at(-1)).toMatchObject({ kind: 'transition', fromPhase: 'planned', toPhase: 'approved', actor: 'Ada' });
    } finally {
      await db.close();
    }
  });
});
