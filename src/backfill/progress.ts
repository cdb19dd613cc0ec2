import type { Queryable, QueryOptions } from '../db/database.js';
import { stateTableExists } from '../state/store.js';
import type { Pacing } from './pacer.js';
import type { BackfillProgress, BackfillState } from './types.js';

interface ProgressRow {
  migration_id: string;
  step_id: string;
  state: BackfillState;
  rows_total: string | number;
  rows_done: string | number;
  rows_at_run_start: string | number;
  run_seconds: number | null;
  batches: number;
  retries: number;
  ranges_done: number;
  ranges_total: number;
  workers: number;
  longest_batch_ms: number | null;
  last_batch_ms: number | null;
  batch_size: number | null;
  throttled_by: string | null;
  pacing: Pacing | null;
  updated_at: string;
}

/** Whether ferry's backfill tables exist (read-only callers must not create them). */
export function backfillStateExists(db: Queryable): Promise<boolean> {
  return stateTableExists(db, 'backfill_ranges');
}

/**
 * Progress of backfills (all, one migration's, or one step's), computed from
 * the checkpoint rows alone, so every process — the runner, `ferry status`,
 * another machine — sees the same numbers.
 */
export async function backfillProgress(db: Queryable, migrationId?: string, stepId?: string, opts: QueryOptions = {}): Promise<BackfillProgress[]> {
  if (!(await backfillStateExists(db))) return [];
  const { rows } = await db.query<ProgressRow>(
    `SELECT b.migration_id, b.step_id, b.state, b.rows_total, b.rows_at_run_start,
            coalesce(sum(r.rows_done), 0) AS rows_done,
            extract(epoch FROM max(r.updated_at) - b.run_started_at)::float8 AS run_seconds,
            coalesce(sum(r.batches), 0)::int AS batches, coalesce(sum(r.retries), 0)::int AS retries,
            count(r.range_no) FILTER (WHERE r.done)::int AS ranges_done, count(r.range_no)::int AS ranges_total,
            count(DISTINCT r.claimed_by) FILTER (WHERE NOT r.done AND r.heartbeat_at + r.lease_ms * interval '1 millisecond' >= clock_timestamp())::int AS workers,
            max(r.longest_batch_ms) AS longest_batch_ms,
            (array_agg(r.last_batch_ms ORDER BY r.updated_at DESC) FILTER (WHERE r.batches > 0))[1] AS last_batch_ms,
            (array_agg(r.batch_size ORDER BY r.updated_at DESC) FILTER (WHERE r.batches > 0))[1] AS batch_size,
            (array_agg(r.throttled_by ORDER BY r.updated_at DESC) FILTER (WHERE r.batches > 0))[1] AS throttled_by,
            (array_agg(r.pacing ORDER BY r.updated_at DESC) FILTER (WHERE r.pacing IS NOT NULL AND r.updated_at >= b.run_started_at))[1] AS pacing,
            to_char(greatest(b.updated_at, max(r.updated_at)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS updated_at
       FROM ferry.backfills b LEFT JOIN ferry.backfill_ranges r USING (migration_id, step_id)
      WHERE ($1::text IS NULL OR b.migration_id = $1) AND ($2::text IS NULL OR b.step_id = $2)
      GROUP BY b.migration_id, b.step_id ORDER BY b.migration_id, b.step_id`,
    [migrationId ?? null, stepId ?? null],
    opts,
  );
  return rows.map((r) => {
    const rowsDone = Number(r.rows_done);
    const ranThisRun = rowsDone - Number(r.rows_at_run_start);
    const ratePerSec = r.run_seconds && r.run_seconds > 0 && ranThisRun > 0 ? ranThisRun / r.run_seconds : 0;
    const rowsTotal = r.state === 'done' ? rowsDone : Math.max(Number(r.rows_total), rowsDone);
    const etaSeconds = r.state === 'done' ? 0 : r.state === 'running' && ratePerSec > 0 ? (rowsTotal - rowsDone) / ratePerSec : null;
    return {
      migrationId: r.migration_id,
      stepId: r.step_id,
      state: r.state,
      rowsDone,
      rowsTotal,
      ratePerSec,
      etaSeconds,
      batchSize: r.batch_size ?? 0,
      lastBatchMs: r.last_batch_ms ?? 0,
      longestBatchMs: r.longest_batch_ms ?? 0,
      batches: r.batches,
      retries: r.retries,
      throttledBy: r.state === 'running' ? r.throttled_by : null,
      rangesDone: r.ranges_done,
      rangesTotal: r.ranges_total,
      workers: r.workers,
      pacing: r.state === 'running' ? r.pacing : null,
      updatedAt: r.updated_at,
    };
  });
}
