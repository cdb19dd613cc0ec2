import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { writeFlag } from '../../src/rollout/flags.js';
import { appendEvent, ensureState } from '../../src/state/store.js';
import { CROSSING_EVENT } from '../../src/workflow/crossing.js';
import { transition } from '../../src/workflow/lifecycle.js';
import { forEachDriver } from '../helpers/databases.js';

const ID = '0001_split';

async function toContracted(db: Database): Promise<string> {
  return db
    .transaction((tx) => transition(tx, ID, 'contracted', { actor: 'test', reason: 'test' }))
    .then(
      () => 'moved',
      (err) => (isFerryError(err, 'E_GATE') ? err.message : String(err)),
    );
}

forEachDriver('the verified → contracted gate in the transition table', (suite) => {
  it('refuses without a crossing judged since verified, with red health, or with a quick rollback in force; a failing verify moves verified back to rolled-out', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await ensureState(db);
      await db.query(`INSERT INTO ferry.migrations (id, phase, title) VALUES ($1, 'rolled-out', 'split')`, [ID]);
      await db.transaction((tx) => writeFlag(tx, 'split-names', { enabled: true, percentage: 100 }, { migrationId: ID, actor: 'test' }));
      await db.transaction((tx) => transition(tx, ID, 'verified', { actor: 'test', reason: 'checks pass' }));

      expect(await toContracted(db)).toContain('the crossing gates were not judged since it became verified');
      await appendEvent(db, { migrationId: ID, actor: 'test', kind: CROSSING_EVENT, details: { health: 'red' } });
      expect(await toContracted(db)).toContain('health was red');

      // verify-failed: back to rolled-out; verified again needs a new crossing judgement.
      await db.transaction((tx) => transition(tx, ID, 'rolled-out', { actor: 'test', reason: 'verify failed' }));
      await db.transaction((tx) => transition(tx, ID, 'verified', { actor: 'test', reason: 'checks pass again' }));
      expect(await toContracted(db)).toContain('not judged since it became verified');

      await appendEvent(db, { migrationId: ID, actor: 'test', kind: CROSSING_EVENT, details: { health: 'no-data' } });
      await db.transaction((tx) => writeFlag(tx, 'split-names', { enabled: false, percentage: 0 }, { migrationId: ID, actor: 'test' }));
      expect(await toContracted(db)).toContain('flag split-names is off');
      await db.transaction((tx) => writeFlag(tx, 'split-names', { enabled: true, percentage: 100 }, { migrationId: ID, actor: 'test' }));
      expect(await toContracted(db)).toBe('moved');
    } finally {
      await db.close();
    }
  });
});
