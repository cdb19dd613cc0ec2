import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { ensureState } from '../../src/state/store.js';
import { emptyServerTarget } from '../helpers/databases.js';

/** The state as a ferry of version 13 left it: the bucket index of version 14 not there, nor its record. */
async function stateAt13(db: Database): Promise<void> {
  await ensureState(db);
  await db.exec('DROP INDEX ferry.metrics_bucket_idx');
  await db.query('DELETE FROM ferry.state_version WHERE version = 14');
}

const bucketIndex = async (db: Database) =>
  (await db.query<{ valid: boolean }>(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass('ferry.metrics_bucket_idx')`)).rows[0];
const recorded = async (db: Database) => (await db.query('SELECT 1 FROM ferry.state_version WHERE version = 14')).rows.length;

it("upgrading to the metrics bucket index never makes the SDK's inserts into ferry.metrics wait for the build", async () => {
  const target = await emptyServerTarget();
  if (!target) return;
  const runner = await target.open();
  const writer = await target.open();
  const other = await target.open();
  try {
    await stateAt13(runner);
    // An application transaction that has written metrics and is still open: the index build waits for it to end.
    await writer.exec(`BEGIN; LOCK TABLE ferry.metrics IN ROW EXCLUSIVE MODE`);
    const { rows: pid } = await runner.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const upgrading = ensureState(runner);
    // Should an assertion below fail first, closing the sessions ends the upgrade: no unhandled rejection on top.
    upgrading.catch(() => {});
    // Until the runner waits on a lock (for the open transaction).
    for (let i = 0; ; i++) {
      const { rows } = await other.query<{ waiting: boolean }>(`SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1`, [
        pid[0]?.pid,
      ]);
      if (rows[0]?.waiting) break;
      if (i > 500) throw new Error('the upgrade never waited for the open transaction');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Meanwhile another SDK process writes its metrics: it gets its lock at once (a plain CREATE INDEX would queue it behind its SHARE lock).
    await other.exec(`BEGIN; SET LOCAL lock_timeout = '1s'; LOCK TABLE ferry.metrics IN ROW EXCLUSIVE MODE; COMMIT`);
    expect(await recorded(other)).toBe(0);
    await writer.exec('COMMIT');
    await upgrading;
    expect(await bucketIndex(other)).toEqual({ valid: true });
    expect(await recorded(other)).toBe(1);
  } finally {
    await writer.exec('ROLLBACK').catch(() => {});
    await Promise.all([runner.close(), writer.close(), other.close()]);
  }
});

it('a bucket index build that was killed (INVALID) is dropped and built again, and recorded once', async () => {
  const target = await emptyServerTarget();
  if (!target) return;
  const db = await target.open();
  try {
    await stateAt13(db);
    // What a killed CREATE INDEX CONCURRENTLY leaves: the index, marked invalid, and no record.
    await db.exec('CREATE INDEX metrics_bucket_idx ON ferry.metrics (bucket_start)');
    await db.exec(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ferry.metrics_bucket_idx'::regclass`);
    expect(await bucketIndex(db)).toEqual({ valid: false });
    await ensureState(db);
    expect(await bucketIndex(db)).toEqual({ valid: true });
    expect(await recorded(db)).toBe(1);
    await ensureState(db);
    expect(await recorded(db)).toBe(1);
  } finally {
    await db.close();
  }
});
