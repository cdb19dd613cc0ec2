import { z } from 'zod';
import { quoteIdent } from '../db/quote.js';
import { boundedName, relationIsSql, type TableRef, tableName as tableNameSchema, tableRef } from './names.js';
import { copyGrantsSql } from './table-view.js';
import type { Operation } from './types.js';
import { tableProblems } from './virtual-schema.js';

/** The fields of a `drop-table` step. */
export const dropTableSchema = z.strictObject({
  table: tableNameSchema.describe('The table: `users` or `schema.users`; until contract it lives on under a hidden name, seen through a view.'),
});

/** A `drop-table` step's spec. */
export type DropTableSpec = z.infer<typeof dropTableSchema>;

/** The name the table hides under until contract, in its own schema: `_ferry_dropped_<table>`, at most 63 bytes. */
export const droppedName = (table: string): string => boundedName('_ferry_dropped', tableRef(table).name);

function names(spec: DropTableSpec): { table: TableRef; hidden: TableRef } {
  const table = tableRef(spec.table);
  return { table, hidden: tableRef(`${table.schema}.${droppedName(spec.table)}`) };
}

/**
 * Drop a table without breaking running applications: `expand` renames it to a
 * hidden name and leaves an auto-updatable view under its old name, in one
 * transaction, so old versions keep reading and writing it; rollback renames it
 * back, with nothing lost. `contract` drops the view and the table: the point of no return.
 */
export const dropTable: Operation<DropTableSpec> = {
  name: 'drop-table',
  // Expand renames the table (behind a view); contract drops it after verification.
  handles: ['rename-table', 'drop-table'],
  schema: dropTableSchema,
  describe(spec) {
    const { hidden } = names(spec);
    return `drop table ${spec.table}: hidden as ${hidden.name} behind a view of its old name until contract, then dropped`;
  },
  expand(spec) {
    const { table, hidden } = names(spec);
    return [
      {
        kind: 'sql',
        name: 'hide-table',
        description: `rename ${spec.table} to ${hidden.name} and create the view ${table.name} over it, in one transaction`,
        transaction: true,
        forward: [
          `ALTER TABLE ${table.sql} RENAME TO ${quoteIdent(hidden.name)}`,
          `CREATE VIEW ${table.sql} AS SELECT * FROM ${hidden.sql}`,
          copyGrantsSql(hidden.sql, table.sql),
        ],
        rollback: [`DROP VIEW ${table.sql}`, `ALTER TABLE ${hidden.sql} RENAME TO ${quoteIdent(table.name)}`],
        verify: [relationIsSql(hidden.regclass, ['r', 'p']), relationIsSql(table.regclass, ['v'])],
        locks: [
          {
            relation: spec.table,
            mode: 'AccessExclusiveLock',
            held: 'catalog only, milliseconds; statements waiting on it then resolve the old name to the view',
          },
        ],
      },
    ];
  },
  contract(spec) {
    const { table, hidden } = names(spec);
    return [
      {
        kind: 'sql',
        name: 'drop-table',
        description: `drop the view ${table.name} and the table ${hidden.name} with its rows (cannot be undone)`,
        transaction: true,
        // The view first: writers through it lock the view, then the table, and so does this.
        forward: [`DROP VIEW ${table.sql}`, `DROP TABLE ${hidden.sql}`],
        rollback: [],
        verify: [`SELECT ${table.regclass} IS NULL AND ${hidden.regclass} IS NULL`],
        locks: [
          { relation: spec.table, mode: 'AccessExclusiveLock', held: 'DROP VIEW, until commit; catalog only, milliseconds' },
          {
            relation: `${hidden.schema}.${hidden.name}`,
            mode: 'AccessExclusiveLock',
            held: 'DROP TABLE, until commit; milliseconds. Tables it references by foreign key are locked ACCESS EXCLUSIVE as briefly',
          },
        ],
      },
    ];
  },
  check(spec, schema) {
    const { hidden } = names(spec);
    const key = `${hidden.schema}.${hidden.name}`;
    const taken = schema.unknown === undefined && schema.relations.has(key);
    return [...tableProblems(schema, spec.table), ...(taken ? [`${key} already exists: an earlier drop-table of ${spec.table} is not contracted yet`] : [])];
  },
  apply(spec, schema) {
    const { table, hidden } = names(spec);
    // The table is gone for later steps; its old name is a view until contract.
    schema.rename(`${table.schema}.${table.name}`, hidden.name);
    schema.relations.set(`${table.schema}.${table.name}`, 'view');
  },
};
