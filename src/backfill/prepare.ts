import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { createRanges } from './claims.js';
import { Rollback } from './faults.js';
import { type BackfillPlan, resolvePlan } from './plan.js';
import { backfillStateExists } from './progress.js';
import { batchEnd, doneRowsPredicate, type KeyBounds, OWN_STATEMENT_TAG, rangeUpdate, rowsBatch, type Sql, todoPredicate } from './statements.js';
import { loadTransform } from './transform.js';
import type { BackfillTarget } from './types.js';

/** The statements a backfill repeats, with both bounds set, for EXPLAIN. */
function statementsToPlan(plan: BackfillPlan): { what: string; sql: Sql }[] {
  const spec = plan.target.spec;
  // Null bounds plan like real ones: the parameters are typed by their casts.
  const nulls = plan.key.map(() => null) as unknown as string[];
  const b: KeyBounds = { after: nulls, upTo: nulls };
  const out: { what: string; sql: Sql }[] = [];
  if (spec.set) {
    out.push({ what: 'the batch key walk', sql: batchEnd(plan, b, 1) });
    out.push({ what: 'the batch UPDATE (set, where)', sql: rangeUpdate(plan, spec.set, todoPredicate(spec.where), b) });
  } else out.push({ what: 'the batch SELECT (where)', sql: rowsBatch(plan, todoPredicate(spec.where), b, 1) });
  if (spec.rollback) out.push({ what: 'the rollback UPDATE (rollback, where)', sql: rangeUpdate(plan, spec.rollback, doneRowsPredicate(spec.where), b) });
  return out;
}

/**
 * Validate a backfill against the live catalog without touching data: the
 * table, key and columns exist, every expression is one expression, and the
 * generated statements plan (EXPLAIN in a rolled-back transaction). Raises
 * E_MANIFEST naming what is wrong.
 */
export async function validateBackfill(db: Database, t: BackfillTarget): Promise<BackfillPlan> {
  const plan = await resolvePlan(db, t);
  if (t.spec.module) await loadTransform(t);
  for (const { what, sql } of statementsToPlan(plan)) {
    try {
      await db.transaction(async (tx) => {
        await tx.query(`SELECT set_config('lock_timeout', '5s', true)`);
        await tx.query(`EXPLAIN ${sql.text}`, sql.params);
        throw new Rollback();
      });
    } catch (err) {
      if (err instanceof Rollback) continue;
      throw new FerryError(
        'E_MANIFEST',
        `backfill ${t.migrationId}/${t.stepId}: ${what} does not plan: ${(err as Error).message}`,
        'check the column names and types in set / where / rollback against the table',
        { migrationId: t.migrationId, stepId: t.stepId },
        { cause: err },
      );
    }
  }
  return plan;
}

async function countTodo(db: Queryable, plan: BackfillPlan): Promise<number> {
  const { rows: est } = await db.query<{ n: number }>('SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1', [plan.tableOid]);
  const predicate = todoPredicate(plan.target.spec.where);
  // Counting reads the whole table: past a few hundred thousand rows it costs a visible share of the backfill itself.
  if ((est[0]?.n ?? 0) <= 250_000) {
    const { rows } = await db.query<{ n: string | number }>(`${OWN_STATEMENT_TAG} SELECT count(*) AS n FROM ${plan.table} WHERE ${predicate}`);
    return Number(rows[0]?.n ?? 0);
  }
  // Too big to count up front: the planner's estimate, refined as ranges finish.
  const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
    `${OWN_STATEMENT_TAG} EXPLAIN (FORMAT JSON) SELECT 1 FROM ${plan.table} WHERE ${predicate}`,
  );
  return Math.round(rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? 0);
}

/**
 * Validate the backfill (see {@link validateBackfill}) before any data is
 * touched, then create its state — the backfill row and its key ranges — once.
 * Safe when several processes call it at once. Needs ferry's state schema
 * (version 2 or later) to exist.
 */
export async function prepareBackfill(db: Database, t: BackfillTarget): Promise<void> {
  await preparePlan(db, t);
}

/** {@link prepareBackfill}, returning the validated plan. */
export async function preparePlan(db: Database, t: BackfillTarget): Promise<BackfillPlan> {
  const plan = await validateBackfill(db, t);
  if (!(await backfillStateExists(db))) {
    throw new FerryError(
      'E_INTERNAL',
      "ferry's state schema has no backfill tables yet",
      'run ferry up (it creates and upgrades schema ferry) before backfilling',
    );
  }
  const { rows } = await db.query<{ table_name: string; key_columns: string[] }>(
    'SELECT table_name, key_columns FROM ferry.backfills WHERE migration_id = $1 AND step_id = $2',
    [t.migrationId, t.stepId],
  );
  const existing = rows[0];
  if (!existing) {
    const total = await countTodo(db, plan);
    await db.transaction((tx) => createRanges(tx, plan, total));
    return plan;
  }
  const key = plan.key.map((k) => k.name);
  if (existing.table_name !== plan.tableName || existing.key_columns.join(',') !== key.join(',')) {
    throw new FerryError(
      'E_MANIFEST',
      `backfill ${t.migrationId}/${t.stepId} was started on ${existing.table_name} (${existing.key_columns.join(', ')}) but the step now names ${plan.tableName} (${key.join(', ')})`,
      'roll the step back (ferry down) so its ranges are forgotten, then run it again',
    );
  }
  return plan;
}
