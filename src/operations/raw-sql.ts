import { z } from 'zod';
import { LOCK_MODES } from '../db/catalog-locks.js';
import { splitStatements } from '../db/sql-script.js';
import { tableName as tableNameSchema } from './names.js';
import { droppedByStatements } from './rollback-loss.js';
import type { Operation } from './types.js';

const sql = z.string().trim().min(1);

/**
 * The fields of a `raw-sql` step: the user's own SQL with its exact undo. With
 * `transaction: false`, `forward` must be exactly one statement (CREATE INDEX CONCURRENTLY …).
 */
export const rawSqlSchema = z.strictObject({
  forward: sql.describe('The SQL `up` runs; with `transaction: false` exactly one statement.'),
  rollback: sql.describe('The SQL that undoes `forward` exactly.'),
  verify: sql.optional().describe('A query returning one row whose first column is true when `forward` took effect.'),
  transaction: z.boolean().optional().describe('Default true: the statements run in one transaction.'),
  cleanup: sql.optional().describe('Run before retrying a non-transactional `forward` that failed or was interrupted.'),
  locks: z
    .array(
      z.strictObject({
        relation: tableNameSchema.describe('The table (or index) locked.'),
        mode: z.enum(LOCK_MODES).describe("PostgreSQL's lock mode name, e.g. AccessExclusiveLock."),
        held: z.string().trim().min(1).describe('How long it is held, in words: "catalog only, milliseconds".'),
      }),
    )
    .optional()
    .describe('The locks `forward` takes, {relation, mode, held}, as you describe them; ferry cannot work them out from arbitrary SQL.'),
});

/** A `raw-sql` step's spec. */
export type RawSqlSpec = z.infer<typeof rawSqlSchema>;

/** The statement text without the final semicolon a user naturally writes. */
function statement(text: string): string {
  return text.trim().replace(/;\s*$/, '').trimEnd();
}

/** Hand-written SQL with its rollback, as one operation among the others. */
export const rawSql: Operation<RawSqlSpec> = {
  name: 'raw-sql',
  schema: rawSqlSchema,
  describe(spec) {
    const first = statement(spec.forward).split('\n')[0] ?? '';
    return `run SQL${spec.transaction === false ? ' outside a transaction' : ''}: ${first.length > 80 ? `${first.slice(0, 77)}...` : first}`;
  },
  expand(spec) {
    return [
      {
        kind: 'sql',
        name: 'sql',
        description: 'hand-written SQL',
        transaction: spec.transaction ?? true,
        forward: [statement(spec.forward)],
        rollback: [statement(spec.rollback)],
        verify: spec.verify === undefined ? [] : [statement(spec.verify)],
        ...(spec.cleanup === undefined ? {} : { cleanup: [statement(spec.cleanup)] }),
        locks: (spec.locks ?? []).map((l) => ({ relation: l.relation, mode: l.mode, held: l.held })),
      },
    ];
  },
  contract: () => [],
  rollbackLoss: (spec) => droppedByStatements(splitStatements(statement(spec.rollback))),
};
