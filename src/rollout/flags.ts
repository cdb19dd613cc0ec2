import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { appendEvent, stateTableExists } from '../migration/state.js';
import { effectivePercentage, type FlagValue, formatPercentage } from './percentage.js';

/** A feature flag as stored in `ferry.flags`. */
export interface Flag extends FlagValue {
  key: string;
  /** The migration whose manifest names the flag; its log records every change. */
  migrationId: string | null;
  updatedBy: string;
  updatedAt: Date;
  /** Bumped on every change; SDK snapshots compare it. */
  version: number;
}

/** One change of a flag, as written to the migration's log (event kind `flag`). */
export interface FlagChange {
  key: string;
  migrationId: string | null;
  from: FlagValue | null;
  to: FlagValue | null;
  /** The flag was switched off: everyone back on the old path at once. */
  quickRollback: boolean;
}

const toFlag = (r: Record<string, unknown>): Flag => ({
  key: r.key as string,
  enabled: r.enabled as boolean,
  percentage: Number(r.percentage),
  migrationId: (r.migration_id as string | null) ?? null,
  updatedBy: r.updated_by as string,
  updatedAt: new Date(r.updated_at as string),
  version: Number(r.version),
});

/** Whether `ferry.flags` exists yet (read-only commands must not create it). */
function flagsExist(db: Queryable): Promise<boolean> {
  return stateTableExists(db, 'flags');
}

const FLAG_COLUMNS = 'key, enabled, percentage::text AS percentage, migration_id, updated_by, updated_at, version';

/** Every flag, by key; empty when ferry never ran on this database. */
export async function listFlags(db: Queryable): Promise<Flag[]> {
  if (!(await flagsExist(db))) return [];
  const { rows } = await db.query(`SELECT ${FLAG_COLUMNS} FROM ferry.flags ORDER BY key`);
  return rows.map(toFlag);
}

/** One flag, or undefined when it is not stored; `forUpdate` locks its row until the transaction ends. */
export async function readFlag(db: Queryable, key: string, forUpdate = false): Promise<Flag | undefined> {
  if (!(await flagsExist(db))) return undefined;
  const { rows } = await db.query(`SELECT ${FLAG_COLUMNS} FROM ferry.flags WHERE key = $1${forUpdate ? ' FOR UPDATE' : ''}`, [key]);
  return rows[0] ? toFlag(rows[0]) : undefined;
}

function describeChange(c: FlagChange): string {
  const show = (v: FlagValue | null) => (v === null ? 'absent' : v.enabled ? formatPercentage(v.percentage) : 'off');
  return `flag ${c.key}: ${show(c.from)} → ${show(c.to)}${c.quickRollback ? ' (quick rollback: everyone back on the old path)' : ''}`;
}

async function logChange(tx: Queryable, c: FlagChange, actor: string, reason: string | undefined): Promise<void> {
  if (c.migrationId === null) return;
  await appendEvent(tx, {
    migrationId: c.migrationId,
    actor,
    kind: 'flag',
    reason: reason ?? describeChange(c),
    details: {
      flag: c.key,
      from: c.from === null ? null : effectivePercentage(c.from),
      to: c.to === null ? null : effectivePercentage(c.to),
      enabledFrom: c.from?.enabled ?? null,
      enabledTo: c.to?.enabled ?? null,
      ...(c.quickRollback ? { quickRollback: true } : {}),
      ...(c.to === null ? { removed: true } : {}),
    },
  });
}

/**
 * Set a flag (creating it for `migrationId` if new) and append the change to the
 * migration's log, in the caller's transaction. Switching an enabled flag off is
 * recorded as the quick rollback.
 */
export async function writeFlag(
  tx: Queryable,
  key: string,
  value: FlagValue,
  opts: { migrationId: string | null; actor: string; reason?: string },
): Promise<FlagChange> {
  const before = await readFlag(tx, key, true);
  const migrationId = before?.migrationId ?? opts.migrationId;
  await tx.query(
    `INSERT INTO ferry.flags (key, enabled, percentage, migration_id, updated_by) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage,
       migration_id = coalesce(ferry.flags.migration_id, EXCLUDED.migration_id),
       updated_by = EXCLUDED.updated_by, updated_at = now(), version = ferry.flags.version + 1`,
    [key, value.enabled, value.percentage.toFixed(2), migrationId, opts.actor],
  );
  const from = before ? { enabled: before.enabled, percentage: before.percentage } : null;
  const change: FlagChange = { key, migrationId, from, to: value, quickRollback: !value.enabled };
  await logChange(tx, change, opts.actor, opts.reason);
  return change;
}

/** Delete a stored flag and log it; E_NOT_FOUND when there is no such flag. The caller checks the migrations still need it. */
export async function deleteFlag(tx: Queryable, key: string, opts: { actor: string; reason?: string }): Promise<FlagChange> {
  const before = await readFlag(tx, key, true);
  if (!before) throw unknownFlag(key, []);
  await tx.query('DELETE FROM ferry.flags WHERE key = $1', [key]);
  const change: FlagChange = {
    key,
    migrationId: before.migrationId,
    from: { enabled: before.enabled, percentage: before.percentage },
    to: null,
    quickRollback: false,
  };
  await logChange(tx, change, opts.actor, opts.reason);
  return change;
}

/** The E_NOT_FOUND for a flag key neither stored nor named by any migration. */
export function unknownFlag(key: string, known: readonly string[]): FerryError {
  return new FerryError(
    'E_NOT_FOUND',
    `no flag "${key}"`,
    known.length ? `known flags: ${known.join(', ')}` : 'a flag comes from the "flag" field of a migration\'s manifest',
  );
}
