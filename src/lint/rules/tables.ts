import { droppedRelations } from '../context.js';
import { blocksWrites } from '../locks.js';
import { asList, rangeVar, relationName } from '../tree.js';
import { onTable, type Rule } from './rule.js';

/** ALTER TABLE … RENAME TO on an existing table. */
export const renameTable: Rule = {
  id: 'rename-table',
  severity: 'error',
  why: 'every running application instance that uses the old name fails at once.',
  fix: 'use the rename-table operation (rename, and keep the old name as an updatable view until the contract phase)',
  check({ statement, n, state }) {
    if (statement.node !== 'RenameStmt' || n.renameType !== 'OBJECT_TABLE') return [];
    const table = rangeVar(n.relation);
    return table && !state.isNew(table) ? [`RENAME ${relationName(table)} TO ${String(n.newname)}`] : [];
  },
};

/** DROP TABLE of an existing table. */
export const dropTable: Rule = {
  id: 'drop-table',
  severity: 'error',
  why: 'the data is gone and cannot be rolled back, and code still using the table fails at once.',
  fix: 'use the drop-table operation (the table hidden behind a view of its old name until contract); or stop using the table first, keep it (or a backup) through the deprecation period, and drop it in a contract step after verification (a contract-step DROP TABLE of a table renamed away in expand is shown as handled)',
  check({ statement, n, state }) {
    if (statement.node !== 'DropStmt' || n.removeType !== 'OBJECT_TABLE') return [];
    return droppedRelations(n)
      .filter((t) => !state.isNew(t))
      .map((t) =>
        // The advice followed: the table was renamed away in expand (applications stopped using it) and is dropped in contract, after verification.
        state.phase === 'contract' && state.wasRenamedAway(t)
          ? { message: `DROP TABLE ${relationName(t)}`, handled: 'a contract step dropping the table an expand step renamed away' }
          : `DROP TABLE ${relationName(t)}`,
      );
  },
};

/** TRUNCATE of an existing table. */
export const truncateTable: Rule = {
  id: 'truncate-table',
  severity: 'error',
  why: 'TRUNCATE takes ACCESS EXCLUSIVE (blocks all reads and writes) and removes every row; a rollback cannot bring them back once committed.',
  fix: 'delete in batches with a backfill step, or archive the rows first; if the table really is disposable, disable the rule for this statement with a reason',
  check({ statement, n, state }) {
    if (statement.node !== 'TruncateStmt') return [];
    return asList(n.relations)
      .map((r) => rangeVar(r))
      .filter((t) => t !== undefined && !state.isNew(t))
      .map((t) => `TRUNCATE ${relationName(t as NonNullable<typeof t>)}`);
  },
};

/** An explicit LOCK TABLE that blocks writes, on an existing table. */
export const lockTable: Rule = {
  id: 'lock-table',
  severity: 'error',
  why: 'an explicit LOCK TABLE in a write-blocking mode stops the application for as long as the transaction lasts, and waits behind every running query meanwhile.',
  fix: 'take the weakest lock the change needs (often none: the statements lock what they touch) and keep the transaction short; if the lock is really needed, acknowledge the finding in the manifest ("lint": { "acknowledge": ["step:lock-table"] })',
  check({ statement, analysis, state, n }) {
    if (statement.node !== 'LockStmt') return [];
    return asList(n.relations)
      .map((r) => rangeVar(r))
      .filter((t) => t !== undefined && !state.isNew(t))
      .flatMap((t) => {
        const table = t as NonNullable<typeof t>;
        const lock = analysis.locks.find((l) => l.relation === relationName(table));
        return lock && blocksWrites(lock.mode) ? [onTable(state, table, `LOCK TABLE ${lock.relation} takes ${lock.mode} (${lock.blocks})`)] : [];
      });
  },
};

/** A statement that rewrites an existing table (VACUUM FULL, CLUSTER, SET LOGGED, SET TABLESPACE, a stored generated column …). */
export const tableRewrite: Rule = {
  id: 'table-rewrite',
  severity: 'error',
  why: 'the whole table is copied while ACCESS EXCLUSIVE is held, so reads and writes stop for as long as the copy takes (minutes to hours on a large table), and it needs the disk space twice.',
  fix: 'avoid the rewrite: pg_repack instead of VACUUM FULL/CLUSTER; a plain column filled by a backfill instead of a stored generated column; schedule SET LOGGED/TABLESPACE in a maintenance window',
  check({ analysis, state }) {
    return analysis.rewrites.flatMap((r, i) => {
      const target = analysis.rewriteTargets[i];
      if (r.cause === 'column-type' || r.cause === 'volatile-default' || !target || state.isNew(target)) return [];
      return [onTable(state, target, `${r.relation}: ${r.reason}`)];
    });
  },
};

/** UPDATE or DELETE without WHERE on an existing table. */
export const unboundedDml: Rule = {
  id: 'unbounded-dml',
  severity: 'warning',
  why: 'an UPDATE or DELETE without WHERE touches every row in one transaction: it row-locks the whole table against concurrent writers, writes WAL for all of it and bloats the table; on a large table it runs for a long time and cannot be resumed.',
  fix: 'use a backfill step (keyset batches, checkpointed, resumable), or add a WHERE clause',
  check({ statement, n, state }) {
    if ((statement.node !== 'UpdateStmt' && statement.node !== 'DeleteStmt') || n.whereClause !== undefined) return [];
    const table = rangeVar(n.relation);
    if (!table || state.isNew(table)) return [];
    return [onTable(state, table, `${statement.node === 'UpdateStmt' ? 'UPDATE' : 'DELETE FROM'} ${relationName(table)} without WHERE`)];
  },
};

/** The table rules. */
export const tableRules: Rule[] = [renameTable, dropTable, truncateTable, lockTable, tableRewrite, unboundedDml];
