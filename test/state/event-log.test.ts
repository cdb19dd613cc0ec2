import { describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import { appendEvent, ensureState } from '../../src/state/store.js';

describe('event log', () => {
  it('is append-only', async () => {
    const db = await openPglite();
    try {
      await ensureState(db);
      await appendEvent(db, { migrationId: 'm', actor: 'a', kind: 'note' });
      await expect(db.query('UPDATE ferry.events SET actor = $1', ['b'])).rejects.toThrow(/append-only/);
      await expect(db.query('DELETE FROM ferry.events')).rejects.toThrow(/append-only/);
      await expect(db.query('TRUNCATE ferry.events')).rejects.toThrow(/append-only/);
    } finally {
      await db.close();
    }
  });
});
