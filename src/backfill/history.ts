import type { Queryable } from '../db/database.js';
import { stateTableExists } from '../state/store.js';

/** One committed batch of a backfill, as its transaction logged it. */
export interface BackfillBatch {
  /** When it committed (ISO 8601, UTC). */
  at: string;
  rangeNo: number;
  /** Rows it filled. */
  rows: number;
  /** The batch size (keys) it was given. */
  batchSize: number;
  durationMs: number;
  worker: string | null;
}

/** A point of a backfill's chart: one batch, or the mean of consecutive batches when there are more than the chart shows. */
export interface BatchPoint {
  /** When the (last) batch of the point committed. */
  at: string;
  /** Rows filled per batch (mean over the point's batches). */
  rows: number;
  batchSize: number;
  durationMs: number;
  /** The longest batch of the point. */
  maxDurationMs: number;
  /** The worker of the point's last batch. */
  worker: string | null;
  /** Batches the point stands for. */
  batches: number;
}

const AT = `to_char(x.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// Only batches of the backfill as it stands: one rolled back and started again begins a new log.
const CURRENT = `FROM ferry.backfill_batches x JOIN ferry.backfills f USING (migration_id, step_id)
  WHERE x.migration_id = $1 AND ($2::text IS NULL OR x.step_id = $2) AND x.at >= f.created_at`;

/** Whether the batch log exists (state version 10); read-only callers must not create it. */
const batchLogExists = (db: Queryable) => stateTableExists(db, 'backfill_batches');

/** The last `limit` batches of a migration's backfill (one step's, or all), oldest first. */
export async function backfillBatches(db: Queryable, migrationId: string, stepId?: string, limit = 500): Promise<(BackfillBatch & { stepId: string })[]> {
  if (!(await batchLogExists(db))) return [];
  const { rows } = await db.query<{
    step_id: string;
    at: string;
    range_no: number;
    rows: string;
    batch_size: number;
    duration_ms: number;
    worker: string | null;
  }>(
    `SELECT * FROM (
       SELECT x.id, x.step_id, ${AT} AS at, x.range_no, x.rows::text AS rows, x.batch_size, x.duration_ms, x.worker
       ${CURRENT} ORDER BY x.id DESC LIMIT $3) s
     ORDER BY id`,
    [migrationId, stepId ?? null, limit],
  );
  return rows.map((r) => ({
    stepId: r.step_id,
    at: r.at,
    rangeNo: r.range_no,
    rows: Number(r.rows),
    batchSize: r.batch_size,
    durationMs: r.duration_ms,
    worker: r.worker,
  }));
}

/**
 * Every batch of one backfill step as at most `points` chart points, oldest first: one point per batch
 * while they fit, else consecutive batches averaged into equal groups (the whole run stays visible).
 * Resolves to the points and the number of batches they stand for.
 */
export async function backfillBatchSeries(
  db: Queryable,
  migrationId: string,
  stepId: string,
  points: number,
): Promise<{ batches: number; points: BatchPoint[] }> {
  if (!(await batchLogExists(db))) return { batches: 0, points: [] };
  const { rows } = await db.query<{
    at: string;
    rows: number;
    batch_size: number;
    duration_ms: number;
    max_duration_ms: number;
    worker: string | null;
    batches: number;
    total: string;
  }>(
    `WITH b AS (SELECT x.id, x.at, x.rows, x.batch_size, x.duration_ms, x.worker ${CURRENT}),
          g AS (SELECT b.*, count(*) OVER () AS total, ((row_number() OVER (ORDER BY id) - 1) * $3::bigint) / count(*) OVER () AS bucket FROM b)
     SELECT to_char(max(g.at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, avg(g.rows)::float8 AS rows,
            avg(g.batch_size)::float8 AS batch_size, avg(g.duration_ms)::float8 AS duration_ms, max(g.duration_ms)::float8 AS max_duration_ms,
            (array_agg(g.worker ORDER BY g.id DESC))[1] AS worker, count(*)::int AS batches, max(g.total)::text AS total
       FROM g GROUP BY g.bucket ORDER BY g.bucket`,
    [migrationId, stepId, points],
  );
  return {
    batches: Number(rows[0]?.total ?? 0),
    points: rows.map((r) => ({
      at: r.at,
      rows: r.rows,
      batchSize: r.batch_size,
      durationMs: r.duration_ms,
      maxDurationMs: r.max_duration_ms,
      worker: r.worker,
      batches: r.batches,
    })),
  };
}
