import { type BackfillStepSpec, type BackfillTarget, backfillStepSchema } from '../../src/backfill/index.js';
import type { Database } from '../../src/db/database.js';
import { ensureState } from '../../src/state/store.js';

/** The example: fill first_name / last_name from full_name; `touched` counts how often a row was transformed. */
export const SPLIT_NAME = {
  id: 'split-name',
  kind: 'backfill',
  table: 'users',
  set: { first_name: "split_part(full_name, ' ', 1)", last_name: "split_part(full_name, ' ', 2)", touched: 'touched + 1' },
  where: 'first_name IS NULL',
} as const;

/** A parsed backfill spec: {@link SPLIT_NAME} with overrides. */
export function specOf(overrides: Record<string, unknown> = {}): BackfillStepSpec {
  return backfillStepSchema.parse({ ...SPLIT_NAME, ...overrides });
}

/** The target of a test backfill. */
export function targetOf(spec: BackfillStepSpec, moduleFile?: string): BackfillTarget {
  return moduleFile ? { migrationId: '0001_split', stepId: spec.id, spec, moduleFile } : { migrationId: '0001_split', stepId: spec.id, spec };
}

/** Create ferry's state schema and `table` with `n` users (id 1..n), as an expand step would leave it. */
export async function seedUsers(db: Database, n: number, table = 'users'): Promise<void> {
  await ensureState(db);
  await db.exec(`CREATE TABLE ${table} (id bigint PRIMARY KEY, full_name text NOT NULL, first_name text, last_name text, touched int NOT NULL DEFAULT 0, visits int NOT NULL DEFAULT 0);
    INSERT INTO ${table} (id, full_name) SELECT g, 'First' || g || ' Last' || (g % 97) FROM generate_series(1, ${n}) g;`);
}

/** md5 over every row of `table` in key order. */
export async function checksum(db: Database, table: string, order = 'id'): Promise<string> {
  const { rows } = await db.query<{ h: string | null }>(`SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY ${order}), '')) AS h FROM ${table} t`);
  return rows[0]?.h ?? '';
}

/** A copy of `table` with the same rows, then filled with one set-based UPDATE: the reference result. */
export async function setBasedReference(db: Database, table: string, set: Record<string, string>, where: string): Promise<string> {
  await db.exec(`CREATE TABLE ${table}_ref AS SELECT * FROM ${table}`);
  const assignments = Object.entries(set).map(([c, e]) => `${c} = ${e}`);
  await db.exec(`UPDATE ${table}_ref SET ${assignments.join(', ')} WHERE ${where}`);
  const h = await checksum(db, `${table}_ref`);
  await db.exec(`DROP TABLE ${table}_ref`);
  return h;
}

/** Rows of ferry's backfill state for any backfill (none must exist after a rejected prepare). */
export async function stateRows(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT (SELECT count(*) FROM ferry.backfills) + (SELECT count(*) FROM ferry.backfill_ranges) AS n');
  return Number(rows[0]?.n ?? 0);
}

/** Fast settings for tests: small batches, no sleep, no health back-off that a shared test server could trigger. */
export const FAST = {
  batchSize: { initial: 200, min: 50, max: 2000 },
  sleepRatio: 0,
  throttle: {
    maxLockWaiters: 1000,
    maxXminAgeSeconds: 100_000,
    maxReplayLagSeconds: 1000,
    maxWalBytesPerSecond: 1e12,
    latencyTrendFactor: 1000,
    pauseOnAutovacuum: false,
  },
};
