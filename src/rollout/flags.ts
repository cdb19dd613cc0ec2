import { type MigrationStage, stageOf } from '../compat/stages.js';
import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { appendEvent, stateTableExists } from '../state/store.js';
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
  /** When the flag graduated (its migration contracted): on for everyone for good; null before (or before state version 9). */
  graduatedAt: Date | null;
  /** Its migration was cleaned up; the row stays so SDKs still answer true. */
  tombstone: boolean;
  /** The migration stage `ferry/compat` follows (`off` when never set, or before state version 11). */
  stage: MigrationStage;
  /** Units on the new path from the first stage while the flag is on (the manifest's `rollout.include`). */
  include: string[];
  /** Units never on the new path and never counted in the cohort metrics (the manifest's `rollout.exclude`). */
  exclude: string[];
  /** When the flag first reached 100 % (T+0 of its API's deprecation timeline); null before. */
  fullAt: Date | null;
}

/** One change of a flag, as written to the migration's log (event kind `flag`). */
export interface FlagChange {
  key: string;
  migrationId: string | null;
  from: FlagValue | null;
  to: FlagValue | null;
  /** The flag was switched off: everyone back on the old path at once. */
  quickRollback: boolean;
  /** The flag graduated (on for everyone for good), or became a tombstone, with this change. */
  graduated?: 'graduated' | 'tombstone';
}

const toFlag = (r: Record<string, unknown>): Flag => ({
  key: r.key as string,
  enabled: r.enabled as boolean,
  percentage: Number(r.percentage),
  migrationId: (r.migration_id as string | null) ?? null,
  updatedBy: r.updated_by as string,
  updatedAt: new Date(r.updated_at as string),
  version: Number(r.version),
  graduatedAt: r.graduated_at ? new Date(r.graduated_at as string) : null,
  tombstone: r.tombstone === true,
  stage: stageOf(r.stage as string | null | undefined),
  include: (r.include_units as string[] | undefined) ?? [],
  exclude: (r.exclude_units as string[] | undefined) ?? [],
  fullAt: r.full_at ? new Date(r.full_at as string) : null,
});

/** Whether `ferry.flags` exists yet (read-only commands must not create it). */
function flagsExist(db: Queryable): Promise<boolean> {
  return stateTableExists(db, 'flags');
}

/** Which later columns `ferry.flags` has: graduation (state version 9), compat (11); read-only commands must not upgrade it. */
async function laterColumns(db: Queryable): Promise<{ graduation: boolean; compat: boolean }> {
  const { rows } = await db.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('ferry.flags') AND attname IN ('graduated_at', 'stage') AND NOT attisdropped`,
  );
  const has = new Set(rows.map((r) => r.attname));
  return { graduation: has.has('graduated_at'), compat: has.has('stage') };
}

const FLAG_COLUMNS = 'key, enabled, percentage::text AS percentage, migration_id, updated_by, updated_at, version';
const columnsOf = async (db: Queryable) => {
  const later = await laterColumns(db);
  return `${FLAG_COLUMNS}${later.graduation ? ', graduated_at, tombstone' : ''}${later.compat ? ', stage, include_units, exclude_units, full_at' : ''}`;
};

/** Every flag, by key; empty when ferry never ran on this database. */
export async function listFlags(db: Queryable): Promise<Flag[]> {
  if (!(await flagsExist(db))) return [];
  const { rows } = await db.query(`SELECT ${await columnsOf(db)} FROM ferry.flags ORDER BY key`);
  return rows.map(toFlag);
}

/** One flag, or undefined when it is not stored; `forUpdate` locks its row until the transaction ends. */
export async function readFlag(db: Queryable, key: string, forUpdate = false): Promise<Flag | undefined> {
  if (!(await flagsExist(db))) return undefined;
  const { rows } = await db.query(`SELECT ${await columnsOf(db)} FROM ferry.flags WHERE key = $1${forUpdate ? ' FOR UPDATE' : ''}`, [key]);
  return rows[0] ? toFlag(rows[0]) : undefined;
}

function describeChange(c: FlagChange): string {
  const show = (v: FlagValue | null) => (v === null ? 'absent' : v.enabled ? formatPercentage(v.percentage) : 'off');
  const grad = c.graduated === 'graduated' ? ' (graduated: on for everyone for good)' : c.graduated === 'tombstone' ? ' (graduated tombstone)' : '';
  return `flag ${c.key}: ${show(c.from)} → ${show(c.to)}${c.quickRollback ? ' (quick rollback: everyone back on the old path)' : ''}${grad}`;
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
      ...(c.graduated ? { graduated: c.graduated } : {}),
    },
  });
}

/** E_POINT_OF_NO_RETURN for lowering (or removing) a graduated flag: its migration dropped the old path. */
export function graduatedRefusal(f: Flag, what: string): FerryError {
  return new FerryError(
    'E_POINT_OF_NO_RETURN',
    `cannot ${what} flag ${f.key}: it graduated when ${f.migrationId ?? 'its migration'} was contracted, so the old path it would send units to (a dropped column) is gone`,
    `it stays on for everyone; remove the flag check from the code. To go back, write a new migration (or restore a backup with \`ferry restore\`)`,
  );
}

/**
 * Set a flag (creating it for `migrationId` if new) and append the change to the
 * migration's log, in the caller's transaction. Switching an enabled flag off is
 * recorded as the quick rollback. A graduated flag can only stay on for everyone
 * (E_POINT_OF_NO_RETURN otherwise).
 */
export async function writeFlag(
  tx: Queryable,
  key: string,
  value: FlagValue,
  opts: { migrationId: string | null; actor: string; reason?: string; include?: readonly string[]; exclude?: readonly string[] },
): Promise<FlagChange> {
  const before = await readFlag(tx, key, true);
  if (before?.graduatedAt && effectivePercentage(value) < 100)
    throw graduatedRefusal(before, `set ${value.enabled ? formatPercentage(value.percentage) : 'off'}`);
  const migrationId = before?.migrationId ?? opts.migrationId;
  const base = [key, value.enabled, value.percentage.toFixed(2), migrationId, opts.actor];
  if ((await laterColumns(tx)).compat) {
    // One statement, so SDKs are notified once. The unit lists come from the manifest (absent: kept); T+0 of the
    // API timeline is the first time at 100 %, never moved.
    await tx.query(
      `INSERT INTO ferry.flags (key, enabled, percentage, migration_id, updated_by, include_units, exclude_units, full_at)
       VALUES ($1, $2, $3, $4, $5, coalesce($6::text[], '{}'), coalesce($7::text[], '{}'), CASE WHEN $2 AND $3::numeric >= 100 THEN now() END)
       ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage,
         migration_id = coalesce(ferry.flags.migration_id, EXCLUDED.migration_id),
         updated_by = EXCLUDED.updated_by, updated_at = now(), version = ferry.flags.version + 1,
         include_units = coalesce($6::text[], ferry.flags.include_units), exclude_units = coalesce($7::text[], ferry.flags.exclude_units),
         full_at = coalesce(ferry.flags.full_at, EXCLUDED.full_at)`,
      [...base, opts.include ? [...opts.include] : null, opts.exclude ? [...opts.exclude] : null],
    );
  } else {
    await tx.query(
      `INSERT INTO ferry.flags (key, enabled, percentage, migration_id, updated_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage,
         migration_id = coalesce(ferry.flags.migration_id, EXCLUDED.migration_id),
         updated_by = EXCLUDED.updated_by, updated_at = now(), version = ferry.flags.version + 1`,
      base,
    );
  }
  const from = before ? { enabled: before.enabled, percentage: before.percentage } : null;
  const change: FlagChange = { key, migrationId, from, to: value, quickRollback: !value.enabled };
  await logChange(tx, change, opts.actor, opts.reason);
  return change;
}

/**
 * Graduate a flag at contract: on for everyone for good (created so if missing),
 * logged as a flag event. `tombstone` (at cleanup) marks it as left only for
 * SDKs that still ask. Idempotent: nothing is written when it already is so.
 */
export async function graduateFlag(
  tx: Queryable,
  key: string,
  opts: { migrationId: string; actor: string; tombstone?: boolean; reason?: string },
): Promise<FlagChange | null> {
  const before = await readFlag(tx, key, true);
  const tombstone = opts.tombstone ?? false;
  // Never back from a tombstone to a plain graduated flag.
  if (before?.graduatedAt && before.enabled && before.percentage === 100 && (before.tombstone || !tombstone)) return null;
  await tx.query(
    `INSERT INTO ferry.flags (key, enabled, percentage, migration_id, updated_by, graduated_at, tombstone) VALUES ($1, true, 100, $2, $3, now(), $4)
     ON CONFLICT (key) DO UPDATE SET enabled = true, percentage = 100, migration_id = coalesce(ferry.flags.migration_id, EXCLUDED.migration_id),
       updated_by = EXCLUDED.updated_by, updated_at = now(), version = ferry.flags.version + 1,
       graduated_at = coalesce(ferry.flags.graduated_at, EXCLUDED.graduated_at), tombstone = EXCLUDED.tombstone`,
    [key, opts.migrationId, opts.actor, tombstone],
  );
  // Graduating is on for everyone: the first time at 100 % if it never was (no second notification when it was).
  if ((await laterColumns(tx)).compat) await tx.query('UPDATE ferry.flags SET full_at = now() WHERE key = $1 AND full_at IS NULL', [key]);
  const change: FlagChange = {
    key,
    migrationId: before?.migrationId ?? opts.migrationId,
    from: before ? { enabled: before.enabled, percentage: before.percentage } : null,
    to: { enabled: true, percentage: 100 },
    quickRollback: false,
    graduated: tombstone ? 'tombstone' : 'graduated',
  };
  await logChange(tx, change, opts.actor, opts.reason);
  return change;
}

/**
 * Delete a stored flag and log it; E_NOT_FOUND when there is no such flag, and
 * E_POINT_OF_NO_RETURN for a graduated one (SDKs would answer their default, the
 * dropped path). The caller checks the migrations still need it.
 */
export async function deleteFlag(tx: Queryable, key: string, opts: { actor: string; reason?: string }): Promise<FlagChange> {
  const before = await readFlag(tx, key, true);
  if (!before) throw unknownFlag(key, []);
  if (before.graduatedAt) throw graduatedRefusal(before, 'remove');
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
