import { z } from 'zod';
import { quoteIdent } from '../db/quote.js';
import {
  columnCheck,
  columnName,
  compatField,
  dropOldShapePart,
  sqlExpression,
  sqlType,
  syncPart,
  tableName,
  tableRef,
  unsyncedRows,
  viewProblems,
  viewSchemas,
  viewsPart,
} from './compat.js';
import type { Operation } from './types.js';
import { addColumns, canonicalType, tableProblems } from './virtual-schema.js';

const schema = z
  .strictObject({
    table: tableName.describe('The table: `users` or `schema.users`.'),
    columns: z.array(columnName).min(1).describe('The columns merged into one (dropped at contract).'),
    into: z
      .strictObject({ name: columnName.describe("The new column's name."), type: sqlType, expr: sqlExpression })
      .describe('The new column: {name, type, expr}, expr computing it from the old columns.'),
    split: z.record(columnName, sqlExpression).describe('Each old column → the expression over the new column that rebuilds it.'),
    compat: compatField,
  })
  .refine((s) => s.columns.every((c) => c in s.split) && Object.keys(s.split).every((c) => s.columns.includes(c)), {
    message: 'split must give exactly one expression for each of columns',
    path: ['split'],
  });

/** The fields of a `merge-columns` step. */
export type MergeColumnsSpec = z.output<typeof schema>;

/**
 * Merge several columns into one, the mirror of split-column: expand adds the
 * new column, keeps both sides in sync with a trigger, backfills, and publishes
 * the old shape (v1 view) and the new one (v2 view, without the old columns);
 * contract drops the trigger, the views and the old columns.
 */
export const mergeColumns: Operation<MergeColumnsSpec> = {
  name: 'merge-columns',
  // Its contract drops the old columns after verification, once no running version uses them.
  handles: ['drop-column'],
  schema,
  describe: (s) => `merge ${s.columns.join(', ')} of ${s.table} into ${s.into.name}`,
  expand(s) {
    const t = tableRef(s.table);
    const n = s.into.name;
    return [
      {
        kind: 'sql',
        name: 'add-column',
        description: `add nullable ${n} to ${s.table}`,
        transaction: true,
        forward: [`ALTER TABLE ${t.sql} ADD COLUMN ${quoteIdent(n)} ${s.into.type}`],
        rollback: [`ALTER TABLE ${t.sql} DROP COLUMN IF EXISTS ${quoteIdent(n)}`],
        verify: [columnCheck(t, n)],
        locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'ADD COLUMN without default, until commit; catalog only, milliseconds' }],
      },
      syncPart({
        t,
        key: n,
        oldColumns: s.columns,
        forward: [{ column: n, type: s.into.type, expr: s.into.expr }],
        backward: s.columns.map((c) => ({ column: c, expr: s.split[c] ?? 'NULL' })),
      }),
      {
        kind: 'backfill',
        name: 'backfill',
        description: `compute ${n} of existing rows from ${s.columns.join(', ')}`,
        // No rollback: the column goes with add-column's rollback, and NULLing it first would sync back into the old columns.
        backfill: { table: s.table, set: { [n]: s.into.expr }, where: unsyncedRows(s.columns, [n]) },
      },
      viewsPart(t, viewSchemas(t, s.compat), { hide: [n] }, { hide: s.columns }, [
        `SELECT NOT EXISTS (SELECT 1 FROM ${t.sql} WHERE ${unsyncedRows(s.columns, [n])})`,
      ]),
    ];
  },
  contract: (s) => [dropOldShapePart(tableRef(s.table), s.compat, { name: 'drop-old-columns', columns: s.columns, syncKey: s.into.name })],
  columns: (s) => ({ table: s.table, views: true, compat: s.compat, hides: s.columns, retypes: [], adds: [s.into.name] }),
  stored: (s, n) => ({
    ...s,
    columns: s.columns.map((c) => n.column(c)),
    into: { ...s.into, expr: n.expression(s.into.expr) },
    split: Object.fromEntries(Object.entries(s.split).map(([c, e]) => [n.column(c), n.expression(e)])),
  }),
  check: (s, schema) => [...tableProblems(schema, s.table, { has: s.columns, lacks: [s.into.name] }), ...viewProblems(schema, s.table, s.compat)],
  apply: (s, schema) => addColumns(schema, s.table, [[s.into.name, { type: canonicalType(s.into.type), notNull: false }]]),
  // The sync trigger writes every new-shape value back into the old column(s): rolling back loses nothing.
  rollbackLoss: () => [],
};
