import { droppedRelations } from '../context.js';
import { alterCommands, hasOption, type RangeVar, rangeVar, relationName, unwrap } from '../tree.js';
import { onTable, type Rule, type RuleInput } from './rule.js';

/** CREATE INDEX without CONCURRENTLY on an existing table. */
export const indexNotConcurrent: Rule = {
  id: 'index-not-concurrent',
  severity: 'error',
  why: 'CREATE INDEX holds a SHARE lock on the table for the whole build, which blocks every INSERT, UPDATE and DELETE until it finishes (minutes on a large table).',
  fix: 'use the add-index operation, or CREATE INDEX CONCURRENTLY in its own step with "transaction": false',
  check({ statement, n, state }) {
    if (statement.node !== 'IndexStmt' || n.concurrent) return [];
    const table = rangeVar(n.relation);
    if (!table || state.isNew(table)) return [];
    if (n.if_not_exists && typeof n.idxname === 'string' && state.indexAlreadyExists(n.idxname, table)) return [];
    return [
      onTable(
        state,
        table,
        `CREATE ${n.unique ? 'UNIQUE ' : ''}INDEX ${typeof n.idxname === 'string' ? `${n.idxname} ` : ''}on ${relationName(table)} without CONCURRENTLY`,
      ),
    ];
  },
};

/** DROP INDEX without CONCURRENTLY of an existing index (not one created earlier in the script). */
export const dropIndexNotConcurrent: Rule = {
  id: 'drop-index-not-concurrent',
  severity: 'error',
  why: "DROP INDEX takes ACCESS EXCLUSIVE on the index's table: brief, but it waits behind running queries and blocks every read and write queued behind it.",
  fix: 'DROP INDEX CONCURRENTLY in its own step with "transaction": false',
  check({ statement, n, state }) {
    if (statement.node !== 'DropStmt' || n.removeType !== 'OBJECT_INDEX' || n.concurrent) return [];
    return droppedRelations(n)
      .filter((i) => !state.isNewIndex(i) && !(n.missing_ok && state.isAbsentIndex(i)))
      .map((i) => indexHit(state, i, `DROP INDEX ${relationName(i)} without CONCURRENTLY`));
  },
};

/** A problem on an existing index: with a catalog, sized by the index's table. */
function indexHit(state: RuleInput['state'], index: RangeVar, message: string) {
  const known = state.catalogIndex(index);
  return known ? onTable(state, { schemaname: known.schema, relname: known.table }, message) : message;
}

/** REINDEX without CONCURRENTLY of an existing table or index, a schema, the database or the system catalogs. */
export const reindexNotConcurrent: Rule = {
  id: 'reindex-not-concurrent',
  severity: 'error',
  why: 'REINDEX blocks writes to the table (and reads that use the index) while it rebuilds, for as long as the build takes on a large table.',
  fix: 'REINDEX … CONCURRENTLY in its own step with "transaction": false',
  check({ statement, n, state }) {
    if (statement.node !== 'ReindexStmt' || hasOption(n.params, 'concurrently')) return [];
    const rv = rangeVar(n.relation);
    const text = `REINDEX ${rv ? relationName(rv) : String(n.name ?? '')} without CONCURRENTLY`.replace('  ', ' ');
    if (rv && n.kind === 'REINDEX_OBJECT_TABLE') return state.isNew(rv) ? [] : [onTable(state, rv, text)];
    if (rv && n.kind === 'REINDEX_OBJECT_INDEX') return state.isNewIndex(rv) ? [] : [indexHit(state, rv, text)];
    return [text];
  },
};

/** ADD UNIQUE / PRIMARY KEY constraint that builds its index under ACCESS EXCLUSIVE. */
export const uniqueConstraintWithoutIndex: Rule = {
  id: 'unique-without-index',
  severity: 'error',
  why: 'ADD CONSTRAINT … UNIQUE / PRIMARY KEY builds its index while holding ACCESS EXCLUSIVE, blocking all reads and writes for the whole build.',
  fix: 'use the add-unique operation: CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … UNIQUE USING INDEX (a catalog-only change)',
  check({ statement, n, state }) {
    if (statement.node !== 'AlterTableStmt') return [];
    const table = rangeVar(n.relation);
    if (!table || state.isNew(table)) return [];
    return alterCommands(n).flatMap((cmd) => {
      const con = unwrap(cmd.def, 'Constraint');
      if (cmd.subtype !== 'AT_AddConstraint' || !con || con.indexname !== undefined) return [];
      if (con.contype !== 'CONSTR_UNIQUE' && con.contype !== 'CONSTR_PRIMARY' && con.contype !== 'CONSTR_EXCLUSION') return [];
      const kind = { CONSTR_UNIQUE: 'UNIQUE', CONSTR_PRIMARY: 'PRIMARY KEY', CONSTR_EXCLUSION: 'EXCLUDE' }[con.contype];
      return [onTable(state, table, `ADD ${kind} constraint on ${relationName(table)} builds its index under ACCESS EXCLUSIVE`)];
    });
  },
};

/** The index rules. */
export const indexRules: Rule[] = [indexNotConcurrent, dropIndexNotConcurrent, reindexNotConcurrent, uniqueConstraintWithoutIndex];
