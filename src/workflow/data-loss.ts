import type { Database, Queryable } from '../db/database.js';
import { findTable, type TableRef } from '../db/table-copy.js';
import { FerryError, sqlState } from '../errors.js';
import type { Step } from '../migration/loader.js';
import { operationNamed } from '../operations/index.js';
import { droppedByStatements } from '../operations/rollback-loss.js';
import type { RollbackLoss } from '../operations/types.js';

/** How long counting the rows one rollback would lose may run before ferry gives up (a plain SELECT; it blocks no writer). */
export const LOSS_COUNT_TIMEOUT_MS = 300_000;

/** The rows of one table (or one column) that rolling back a step would lose: values the old shape cannot regenerate. */
export interface LossCount {
  /** The step whose rollback drops them. */
  stepId: string;
  /** The table as the step names it: `users` or `app.users`. */
  table: string;
  /** The column dropped; absent when the whole table is. */
  column?: string;
  /** Rows holding such values (every row, for a table). */
  rows: number;
}

/** `users.preferences` or `table audit_log`: how messages name what is lost. */
export const lossName = (l: { table: string; column?: string | undefined }): string => (l.column === undefined ? `table ${l.table}` : `${l.table}.${l.column}`);

/**
 * What rolling back `step` drops that the old shape cannot regenerate: its
 * operation's own answer (see `Operation.rollbackLoss`); for hand-written SQL
 * (SQL steps), every row of a dropped table and every non-null value of a
 * dropped column. TypeScript and backfill steps drop nothing ferry can see.
 */
export function stepRollbackLoss(step: Step): RollbackLoss[] {
  const op = step.operation;
  if (op !== undefined) {
    if (op.op === 'raw-sql') return droppedByStatements(step.rollback?.statements ?? []);
    return operationNamed(op.op)?.rollbackLoss?.(op.spec, op.part) ?? [];
  }
  return step.kind === 'sql' ? droppedByStatements(step.rollback?.statements ?? []) : [];
}

/** The table and column a loss is about, if they exist now; a rollback of something already gone loses nothing. */
export async function lossTarget(db: Queryable, loss: RollbackLoss): Promise<TableRef | undefined> {
  const t = await findTable(db, loss.table);
  if (!t || loss.column === undefined) return t;
  const { rows } = await db.query('SELECT 1 FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped', [t.oid, loss.column]);
  return rows.length > 0 ? t : undefined;
}

/**
 * Count, for each of `steps` (in the order `down` undoes them), the rows its
 * rollback would lose. Read-only: plain SELECTs in a read-only transaction with
 * a lock and statement timeout, so it waits behind no DDL for long and blocks no writer.
 */
export async function countRollbackLoss(db: Database, steps: readonly Step[], lockTimeoutMs: number): Promise<LossCount[]> {
  const out: LossCount[] = [];
  const count = async (tx: Queryable) => {
    await tx.query('SET TRANSACTION READ ONLY');
    await tx.query('SELECT set_config($1, $2, true), set_config($3, $4, true)', [
      'lock_timeout',
      `${lockTimeoutMs}ms`,
      'statement_timeout',
      `${LOSS_COUNT_TIMEOUT_MS}ms`,
    ]);
    for (const step of steps) {
      for (const loss of stepRollbackLoss(step)) {
        const t = await lossTarget(tx, loss);
        if (!t) continue;
        // The table name comes from the catalog, quoted; the predicate is the operation's own SQL over quoted identifiers.
        const { rows } = await tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t.qualified} WHERE ${loss.where}`);
        const n = Number(rows[0]?.n ?? 0);
        if (n > 0) out.push({ stepId: step.id, table: loss.table, ...(loss.column === undefined ? {} : { column: loss.column }), rows: n });
      }
    }
  };
  try {
    await db.transaction(count);
  } catch (err) {
    const state = sqlState(err);
    if (state === '57014' || state === '55P03') {
      throw new FerryError(
        'E_LOCKED',
        `could not count the rows the rollback would lose: ${state === '57014' ? `the count ran longer than ${LOSS_COUNT_TIMEOUT_MS / 1000} s` : 'a lock was held too long'}`,
        'run it again when the tables are quieter; nothing was changed',
      );
    }
    throw err;
  }
  return out;
}

/** Refuse `down` when it would lose values and the caller did not accept that, naming the count per table and column. */
export function refuseDataLoss(migrationId: string, losses: readonly LossCount[], command: string): void {
  if (losses.length === 0) return;
  const total = losses.reduce((n, l) => n + l.rows, 0);
  throw new FerryError(
    'E_DATA_LOSS',
    `rolling back ${migrationId} would lose ${total} row${total === 1 ? '' : 's'} of values the old shape cannot regenerate: ${losses
      .map((l) => `${lossName(l)} ${l.rows} row${l.rows === 1 ? '' : 's'} (step ${l.stepId})`)
      .join(', ')}; nothing was changed`,
    `\`${command} --accept-data-loss\` saves them first (restore them with \`ferry restore <backup-id>\` once \`ferry up\` has re-added the column or table)`,
    { dataLoss: losses },
  );
}
