import type { Queryable } from './database.js';

/**
 * A relation-level lock held by the current session. A relation dropped in the
 * same transaction no longer has a name there; `relation` is then the name it had
 * (`public.users (dropped)`) when the caller took {@link relationNames} before, else
 * `(dropped relation <oid>)`, and `oid` lets the caller name it after rolling back.
 */
export interface LockHeld {
  /** Schema-qualified relation name (table, index, sequence, view). */
  relation: string;
  /** PostgreSQL's lock mode name, e.g. `AccessExclusiveLock`. */
  mode: string;
  oid: number;
}

/** PostgreSQL's table-level lock modes, weakest first, as in its lock conflict table. */
export const LOCK_MODES = [
  'AccessShareLock',
  'RowShareLock',
  'RowExclusiveLock',
  'ShareUpdateExclusiveLock',
  'ShareLock',
  'ShareRowExclusiveLock',
  'ExclusiveLock',
  'AccessExclusiveLock',
] as const;

/** One PostgreSQL table-level lock mode name. */
export type LockMode = (typeof LOCK_MODES)[number];

const LOCK_STRENGTH: readonly string[] = LOCK_MODES;

const WHAT_IT_BLOCKS: Record<string, string> = {
  AccessShareLock: 'blocks only ACCESS EXCLUSIVE (DROP, most ALTER TABLE), not reads or writes',
  RowShareLock: 'blocks EXCLUSIVE and ACCESS EXCLUSIVE locks (most DDL), not reads or writes',
  RowExclusiveLock: 'blocks DDL only',
  ShareUpdateExclusiveLock: 'blocks DDL and VACUUM, not reads or writes',
  ShareLock: 'blocks writes',
  ShareRowExclusiveLock: 'blocks writes, and another ShareRowExclusiveLock',
  ExclusiveLock: 'blocks writes and SELECT FOR UPDATE/SHARE, allows plain reads',
  AccessExclusiveLock: 'blocks all reads and writes',
};

/** What other sessions cannot do while this lock mode is held on a table, from PostgreSQL's lock conflict table. */
export function describeLockMode(mode: string): string {
  return WHAT_IT_BLOCKS[mode] ?? `unknown lock mode ${mode}`;
}

/**
 * The relation locks this session holds right now, deduplicated and sorted by
 * relation, strongest mode first. Locks on system catalogs, temporary and TOAST
 * relations and ferry's own schema are left out. Call it inside the open
 * transaction whose locks you want to see (dry-run does, before rolling back).
 * A relation dropped in the transaction is named from `named` (see {@link relationNames}), taken before the drop.
 */
export async function locksHeld(tx: Queryable, named: ReadonlyMap<number, string> = new Map()): Promise<LockHeld[]> {
  const { rows } = await tx.query<{ oid: number | string; schema: string | null; name: string | null; mode: string }>(
    `SELECT DISTINCT l.relation AS oid, n.nspname AS schema, c.relname AS name, l.mode
       FROM pg_locks l
       LEFT JOIN pg_class c ON c.oid = l.relation
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation'
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND (n.nspname IS NULL OR (left(n.nspname, 3) <> 'pg_' AND n.nspname NOT IN ('information_schema', 'ferry')))`,
  );
  return rows
    .map((r) => ({
      relation: r.schema === null || r.name === null ? droppedName(Number(r.oid), named) : `${r.schema}.${r.name}`,
      mode: r.mode,
      oid: Number(r.oid),
    }))
    .sort((a, b) => byCodeUnit(a.relation, b.relation) || LOCK_STRENGTH.indexOf(b.mode) - LOCK_STRENGTH.indexOf(a.mode));
}

/** Code-unit order, independent of locale and collation. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * SQL for the size in bytes of relation `oid` that never waits for a lock:
 * `pg_total_relation_size` (which opens the relation) unless another session
 * holds or waits for an ACCESS EXCLUSIVE lock on it — a migration running now —
 * and then the planner's page counts of the relation, its TOAST table and its
 * indexes times the block size.
 */
export function sizeWithoutWaiting(oid: string): string {
  const pages = `(SELECT coalesce(sum(r.relpages), 0) FROM pg_class r WHERE r.oid = ${oid}
      OR r.oid = (SELECT t.reltoastrelid FROM pg_class t WHERE t.oid = ${oid})
      OR r.oid IN (SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = ${oid}))`;
  return `CASE WHEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'relation' AND l.relation = ${oid}
      AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid())
    THEN ${pages}::bigint * current_setting('block_size')::bigint
    ELSE pg_total_relation_size(${oid}) END`;
}

/** A dropped relation by the name it had (from `named`), else by its oid. */
function droppedName(oid: number, named: ReadonlyMap<number, string>): string {
  const name = named.get(oid);
  return name ? `${name} (dropped)` : `(dropped relation ${oid})`;
}

/**
 * The schema-qualified name of every relation outside PostgreSQL's and ferry's
 * schemas, by oid: taken before a step runs, it names what the step drops.
 */
export async function relationNames(tx: Queryable): Promise<Map<number, string>> {
  const { rows } = await tx.query<{ oid: number | string; schema: string; name: string }>(
    `SELECT c.oid AS oid, n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE left(n.nspname, 3) <> 'pg_' AND n.nspname NOT IN ('information_schema', 'ferry')`,
  );
  return new Map(rows.map((r) => [Number(r.oid), `${r.schema}.${r.name}`]));
}
