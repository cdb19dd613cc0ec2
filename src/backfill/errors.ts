import { FerryError } from '../errors.js';
import type { DataFault } from './faults.js';
import type { BackfillPlan } from './plan.js';
import { describeKey } from './statements.js';

/** How a failed batch is named in messages: `backfill <migration>/<step>: a batch of range <n>`. */
function batchOf(plan: BackfillPlan, rangeNo: number): string {
  return `backfill ${plan.target.migrationId}/${plan.target.stepId}: a batch of range ${rangeNo}`;
}

/** The error a data fault stops the backfill with: the key, the row, the cause, and how to go on. */
export function dataFaultError(plan: BackfillPlan, f: DataFault): FerryError {
  const t = plan.target;
  return new FerryError(
    'E_BACKFILL',
    `backfill ${t.migrationId}/${t.stepId} stopped at ${plan.tableName} key ${describeKey(plan, f.key)}: ${f.message}; row: ${f.row}`,
    'nothing of that batch was written and the rows before it stay done; fix the row or the expression, then run the backfill again (or `ferry backfill <id> --resume`)',
    { migrationId: t.migrationId, stepId: t.stepId, key: f.key, row: f.row },
  );
}

/** A batch kept failing on lock timeouts, deadlocks or serialisation failures: wait for the lock holder, then resume. */
export function locksOutlastedError(plan: BackfillPlan, rangeNo: number, attempts: number, err: unknown, state: string): FerryError {
  return new FerryError(
    'E_LOCKED',
    `${batchOf(plan, rangeNo)} failed ${attempts} times on locks: ${(err as Error).message} [SQLSTATE ${state}]`,
    'something holds locks on the table for long; run the backfill again later (it resumes at its checkpoint), or raise lockTimeout in ferry.config.json; pg_locks and pg_stat_activity show who holds the lock',
    undefined,
    { cause: err },
  );
}

/** A batch failed on its data, but no single row could be named: fix the data or the expression. */
export function batchDataError(plan: BackfillPlan, rangeNo: number, err: unknown, state: string | undefined): FerryError {
  return new FerryError(
    'E_BACKFILL',
    `${batchOf(plan, rangeNo)} failed: ${(err as Error).message} [SQLSTATE ${state}]`,
    'nothing of that batch was written; fix the data or the expression and run it again',
  );
}

/** A batch failed for any other reason (the session, the server): nothing was written, rerun to resume. */
export function batchFailedError(plan: BackfillPlan, rangeNo: number, err: unknown, state: string | undefined): FerryError {
  return new FerryError(
    'E_BACKFILL',
    `${batchOf(plan, rangeNo)} failed: ${(err as Error).message}${state ? ` [SQLSTATE ${state}]` : ''}`,
    'nothing of that batch was written; run the backfill again to resume from its checkpoint',
    undefined,
    { cause: err },
  );
}
