import type { Database, Queryable } from '../db/database.js';
import { quoteLiteral } from '../db/quote.js';
import { sqlState } from '../errors.js';

/** How the two sides of a comparison were read. */
export type SnapshotMode =
  /** Both sides in one transaction of one session. */
  | 'one-session'
  /** Two sessions of one server database, the second importing the first's exported snapshot: one instant. */
  | 'shared'
  /** Two databases, each read in its own REPEATABLE READ transaction. */
  | 'per-side';

/** A consistent pair of read sessions, as handed to the function given to {@link withSnapshot}. */
export interface SnapshotPair {
  source: Queryable;
  target: Queryable;
  mode: SnapshotMode;
}

/** Settings that make text output identical on both sides, whatever each server's defaults. */
const SESSION_SETTINGS = `SET LOCAL datestyle = 'ISO, YMD'; SET LOCAL intervalstyle = 'postgres'; SET LOCAL timezone = 'UTC';
  SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'`;

async function begin(tx: Queryable, snapshot?: string): Promise<void> {
  await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  if (snapshot) await tx.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshot)}`);
  await tx.exec(SESSION_SETTINGS);
}

/** Whether two server sessions are on the same database of the same cluster: the target sees the source's very session. */
async function sameServerDatabase(source: Database, target: Database): Promise<boolean> {
  if (source.kind !== 'server' || target.kind !== 'server') return false;
  const me = await source.query<{ pid: number; started: string; db: string }>(
    `SELECT pg_backend_pid() AS pid, current_database() AS db,
            (SELECT extract(epoch FROM backend_start)::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS started`,
  );
  const s = me.rows[0];
  if (!s?.started) return false;
  const seen = await target.query<{ same: boolean }>(
    `SELECT current_database() = $3 AND EXISTS (
       SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND datname = $3 AND extract(epoch FROM backend_start)::text = $2) AS same`,
    [s.pid, s.started, s.db],
  );
  return seen.rows[0]?.same === true;
}

/**
 * Run `fn` with both sides open in REPEATABLE READ transactions, so every read
 * of one comparison sees one snapshot per side — and, when both sides are
 * sessions of the same server database, the very same snapshot (exported by
 * the source, imported by the target). The same `Database` on both sides is
 * read in one transaction. Both transactions commit when `fn` resolves.
 */
export async function withSnapshot<T>(source: Database, target: Database, fn: (pair: SnapshotPair) => Promise<T>): Promise<T> {
  if (source === target) {
    return source.transaction(async (tx) => {
      await begin(tx);
      return fn({ source: tx, target: tx, mode: 'one-session' });
    });
  }
  const share = await sameServerDatabase(source, target);
  return source.transaction(async (s) => {
    await s.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    let snapshot: string | undefined;
    if (share) snapshot = (await s.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]?.id;
    await s.exec(SESSION_SETTINGS);
    const run = (id: string | undefined) =>
      target.transaction(async (t) => {
        await begin(t, id);
        return fn({ source: s, target: t, mode: id ? 'shared' : 'per-side' });
      });
    try {
      return await run(snapshot);
    } catch (err) {
      // 0A000 / 22023: the snapshot cannot be imported here after all; read the target on its own.
      if (snapshot && (sqlState(err) === '0A000' || sqlState(err) === '22023') && /snapshot/i.test(String(err))) return run(undefined);
      throw err;
    }
  });
}
