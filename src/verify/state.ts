import type { Queryable } from '../db/database.js';
import { sqlState } from '../errors.js';
import type { RowDifference } from './result.js';

/**
 * Resume state of checksum runs, kept in schema `ferry` of the TARGET database:
 * one row per run (its fingerprint and top-level chunk bounds) and one per
 * finished top-level chunk (its counts and the differences found in it).
 */
const VERIFY_STATE_SQL = `CREATE SCHEMA IF NOT EXISTS ferry;
CREATE TABLE IF NOT EXISTS ferry.verify_runs (
  run_id text PRIMARY KEY,
  fingerprint text NOT NULL,
  bounds jsonb NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ferry.verify_chunks (
  run_id text NOT NULL REFERENCES ferry.verify_runs ON DELETE CASCADE,
  chunk integer NOT NULL,
  source_rows bigint NOT NULL,
  target_rows bigint NOT NULL,
  difference_count bigint NOT NULL,
  differences jsonb NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, chunk)
)`;

/** A finished top-level chunk of a run. */
export interface ChunkRecord {
  chunk: number;
  sourceRows: number;
  targetRows: number;
  differenceCount: number;
  /** The differences found in the chunk, as many as the run kept. */
  differences: RowDifference[];
}

/** A run as recorded: what it compares, how it was cut, which chunks are done. */
export interface RunRecord {
  fingerprint: string;
  bounds: string[][];
  chunks: Map<number, ChunkRecord>;
}

/** Create the resume tables if missing (idempotent; safe when two runs race to create them). */
export async function ensureVerifyState(db: Queryable): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await db.exec(VERIFY_STATE_SQL);
      return;
    } catch (err) {
      // Concurrent CREATE … IF NOT EXISTS can still collide on the catalog's unique indexes.
      if (attempt < 3 && (sqlState(err) === '23505' || sqlState(err) === '42P07')) continue;
      throw err;
    }
  }
}

/** The recorded run `runId`, or undefined when it has not started. */
export async function loadRun(db: Queryable, runId: string): Promise<RunRecord | undefined> {
  const run = await db.query<{ fingerprint: string; bounds: string | string[][] }>(
    'SELECT fingerprint, bounds::text AS bounds FROM ferry.verify_runs WHERE run_id = $1',
    [runId],
  );
  const r = run.rows[0];
  if (!r) return undefined;
  const { rows } = await db.query<{ chunk: number; s: string; t: string; n: string; d: string }>(
    `SELECT chunk, source_rows::text AS s, target_rows::text AS t, difference_count::text AS n, differences::text AS d
       FROM ferry.verify_chunks WHERE run_id = $1`,
    [runId],
  );
  const chunks = new Map<number, ChunkRecord>();
  for (const c of rows) {
    chunks.set(c.chunk, {
      chunk: c.chunk,
      sourceRows: Number(c.s),
      targetRows: Number(c.t),
      differenceCount: Number(c.n),
      differences: JSON.parse(c.d) as RowDifference[],
    });
  }
  return { fingerprint: r.fingerprint, bounds: JSON.parse(String(r.bounds)) as string[][], chunks };
}

/** Record the start of run `runId` with the bounds every later attempt must reuse. */
export async function startRun(db: Queryable, runId: string, fingerprint: string, bounds: string[][]): Promise<void> {
  await db.query('INSERT INTO ferry.verify_runs (run_id, fingerprint, bounds) VALUES ($1, $2, $3::jsonb) ON CONFLICT (run_id) DO NOTHING', [
    runId,
    fingerprint,
    JSON.stringify(bounds),
  ]);
}

/** Record one finished top-level chunk (inside the transaction that read it, so it commits with the reads). */
export async function recordChunk(db: Queryable, runId: string, rec: ChunkRecord): Promise<void> {
  await db.query(
    `INSERT INTO ferry.verify_chunks (run_id, chunk, source_rows, target_rows, difference_count, differences)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (run_id, chunk) DO NOTHING`,
    [runId, rec.chunk, rec.sourceRows, rec.targetRows, rec.differenceCount, JSON.stringify(rec.differences)],
  );
}

/** Forget run `runId` and its chunks. */
export async function dropRun(db: Queryable, runId: string): Promise<void> {
  await db.query('DELETE FROM ferry.verify_runs WHERE run_id = $1', [runId]);
}
