/*
 * Key ranges are claimed with row locks (FOR UPDATE SKIP LOCKED) on ferry's own
 * range table, not through a job queue such as pg-boss or graphile-worker: it
 * needs no extra schema or dependency in the target database, works the same on
 * PGlite, and — what matters most — a range's checkpoint and its claim live in
 * the row the batch transaction updates, so claim, data and progress commit
 * atomically. A dead worker's range is reclaimed once its lease
 * (heartbeat_at + lease_ms) has expired; every batch first re-reads its range
 * FOR UPDATE and proceeds only while the claim is still its own.
 */
import type { Queryable } from '../db/database.js';
import { quoteIdent } from '../db/quote.js';
import type { Pacing } from './pacer.js';
import { type BackfillPlan, keyList } from './plan.js';
import { OWN_STATEMENT_TAG } from './statements.js';
import type { BackfillTarget } from './types.js';

/** A range of the key space one worker holds, with its committed checkpoint. */
export interface ClaimedRange {
  rangeNo: number;
  lowerKey: string[] | null;
  upperKey: string[] | null;
  lastKey: string[] | null;
  /** The size its last batch used, to resume at a sensible size; 0 when none ran. */
  batchSize: number;
}

/** What the batch transaction reads before it touches data: the checkpoint, if the claim is still ours. */
export interface RangeCheckpoint {
  lastKey: string[] | null;
  lowerKey: string[] | null;
  upperKey: string[] | null;
  /** The backfill's control state (pause, cancel… are honoured between batches). */
  state: string;
}

/** Figures of one committed batch. */
export interface BatchCheckpoint {
  lastKey: string[] | null;
  updated: number;
  walked: number;
  retries: number;
  batchSize: number;
  elapsedMs: number;
  throttledBy: string | null;
  /** The pacer's decision this batch ran under. */
  pacing: Pacing | null;
  /** The range is exhausted. */
  done: boolean;
}

const ID = 'migration_id = $1 AND step_id = $2';

/**
 * Create the backfill row and its key ranges, once: concurrent callers wait on
 * the primary key and find it made. Boundaries are the keys at evenly spaced
 * ranks (of a sample on big tables); the last range is open-ended so rows
 * appended while the backfill runs are walked too.
 */
export async function createRanges(tx: Queryable, plan: BackfillPlan, rowsTotal: number): Promise<boolean> {
  const t = plan.target;
  const { rows: made } = await tx.query(
    `INSERT INTO ferry.backfills (migration_id, step_id, table_name, key_columns, rows_total) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (migration_id, step_id) DO NOTHING RETURNING 1`,
    [t.migrationId, t.stepId, plan.tableName, plan.key.map((k) => k.name), rowsTotal],
  );
  if (made.length === 0) return false;
  const { rows: est } = await tx.query<{ n: number }>('SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1', [plan.tableOid]);
  const estimate = est[0]?.n ?? 0;
  // Boundaries from a sample of ~50,000 rows on big tables: ranges need not be equal, and reading all keys costs seconds.
  const sample = estimate > 250_000 ? ` TABLESAMPLE SYSTEM (${Math.max(0.01, Math.min(100, (100 * 50_000) / estimate)).toFixed(4)})` : '';
  const desc = plan.key.map((k) => `${quoteIdent(k.name)} DESC`).join(', ');
  const keyText = `ARRAY[${plan.key.map((k) => `${quoteIdent(k.name)}::text`).join(', ')}]`;
  const { rows } = await tx.query<{ key: string[] }>(
    `${OWN_STATEMENT_TAG} SELECT DISTINCT ON (bucket) key FROM (
       SELECT ${keyText} AS key, ${keyList(plan)}, ntile($1) OVER (ORDER BY ${keyList(plan)}) AS bucket FROM ${plan.table}${sample}
     ) s ORDER BY bucket, ${desc}`,
    [t.spec.ranges],
  );
  const uppers: (string[] | null)[] = rows.slice(0, -1).map((r) => r.key);
  uppers.push(null);
  let lower: string[] | null = null;
  for (const [i, upper] of uppers.entries()) {
    await tx.query('INSERT INTO ferry.backfill_ranges (migration_id, step_id, range_no, lower_key, upper_key) VALUES ($1, $2, $3, $4, $5)', [
      t.migrationId,
      t.stepId,
      i + 1,
      lower,
      upper,
    ]);
    lower = upper;
  }
  return true;
}

/** Claim a range nobody holds (or whose holder's lease expired, or that this worker held before a restart). */
export async function claimRange(db: Queryable, t: BackfillTarget, workerId: string, leaseMs: number): Promise<ClaimedRange | undefined> {
  const { rows } = await db.query<{ range_no: number; lower_key: string[] | null; upper_key: string[] | null; last_key: string[] | null; batch_size: number }>(
    `UPDATE ferry.backfill_ranges r SET claimed_by = $3, heartbeat_at = clock_timestamp(), lease_ms = $4
      WHERE (r.migration_id, r.step_id, r.range_no) = (
        SELECT migration_id, step_id, range_no FROM ferry.backfill_ranges
         WHERE ${ID} AND NOT done
           AND (claimed_by IS NULL OR claimed_by = $3 OR heartbeat_at + lease_ms * interval '1 millisecond' < clock_timestamp())
         ORDER BY claimed_by IS NOT DISTINCT FROM $3 DESC, range_no
         LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING range_no, lower_key, upper_key, last_key, batch_size`,
    [t.migrationId, t.stepId, workerId, leaseMs],
  );
  const r = rows[0];
  return r && { rangeNo: r.range_no, lowerKey: r.lower_key, upperKey: r.upper_key, lastKey: r.last_key, batchSize: r.batch_size };
}

/**
 * Inside a batch's transaction, before any data: lock the range row and read
 * its checkpoint — undefined when another worker has taken the range over.
 */
export async function lockCheckpoint(tx: Queryable, t: BackfillTarget, rangeNo: number, workerId: string): Promise<RangeCheckpoint | undefined> {
  const { rows } = await tx.query<{ last_key: string[] | null; lower_key: string[] | null; upper_key: string[] | null; state: string }>(
    `SELECT r.last_key, r.lower_key, r.upper_key, b.state FROM ferry.backfill_ranges r JOIN ferry.backfills b USING (migration_id, step_id)
      WHERE r.migration_id = $1 AND r.step_id = $2 AND r.range_no = $3 AND r.claimed_by = $4 AND NOT r.done FOR UPDATE OF r`,
    [t.migrationId, t.stepId, rangeNo, workerId],
    { prepare: true },
  );
  const r = rows[0];
  return r && { lastKey: r.last_key, lowerKey: r.lower_key, upperKey: r.upper_key, state: r.state };
}

/**
 * In the batch's transaction, after the data: advance the checkpoint (and release the range when it is
 * exhausted), and log the batch (rows, size, duration, worker) for the dashboard's chart — committed with it.
 */
export async function writeCheckpoint(tx: Queryable, t: BackfillTarget, rangeNo: number, c: BatchCheckpoint, workerId: string): Promise<void> {
  // One statement, prepared: it runs once per batch, between the batch's data and its commit.
  await tx.query(
    `WITH cp AS (
       UPDATE ferry.backfill_ranges SET last_key = coalesce($4, last_key), rows_done = rows_done + $5, keys_walked = keys_walked + $6,
              batches = batches + 1, retries = retries + $7, batch_size = $8, last_batch_ms = $9, longest_batch_ms = greatest(longest_batch_ms, $9),
              throttled_by = $10, done = $11, claimed_by = CASE WHEN $11 THEN NULL ELSE claimed_by END, pacing = coalesce($12::jsonb, pacing),
              heartbeat_at = clock_timestamp(), updated_at = clock_timestamp()
        WHERE ${ID} AND range_no = $3)
     INSERT INTO ferry.backfill_batches (migration_id, step_id, range_no, rows, batch_size, duration_ms, worker) VALUES ($1, $2, $3, $5, $8, $9, $13)`,
    [
      t.migrationId,
      t.stepId,
      rangeNo,
      c.lastKey,
      c.updated,
      c.walked,
      c.retries,
      c.batchSize,
      c.elapsedMs,
      c.throttledBy,
      c.done,
      c.pacing && JSON.stringify(c.pacing),
      workerId,
    ],
    { prepare: true },
  );
}

/** Keep a claim alive while the worker sleeps or is throttled. */
export async function heartbeat(db: Queryable, t: BackfillTarget, workerId: string): Promise<void> {
  await db.query(`UPDATE ferry.backfill_ranges SET heartbeat_at = clock_timestamp() WHERE ${ID} AND claimed_by = $3 AND NOT done`, [
    t.migrationId,
    t.stepId,
    workerId,
  ]);
}

/** Give back this worker's unfinished range, so another can take it at once. */
export async function releaseClaims(db: Queryable, t: BackfillTarget, workerId: string): Promise<void> {
  await db.query(`UPDATE ferry.backfill_ranges SET claimed_by = NULL WHERE ${ID} AND claimed_by = $3 AND NOT done`, [t.migrationId, t.stepId, workerId]);
}

/** Whether ranges are left, and whether some are held by live workers. */
export async function openRanges(db: Queryable, t: BackfillTarget): Promise<{ left: number; held: number }> {
  const { rows } = await db.query<{ left: number; held: number }>(
    `SELECT count(*)::int AS left,
            count(*) FILTER (WHERE claimed_by IS NOT NULL AND heartbeat_at + lease_ms * interval '1 millisecond' >= clock_timestamp())::int AS held
       FROM ferry.backfill_ranges WHERE ${ID} AND NOT done`,
    [t.migrationId, t.stepId],
  );
  return rows[0] ?? { left: 0, held: 0 };
}
