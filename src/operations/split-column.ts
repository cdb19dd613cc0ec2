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

const schema = z.strictObject({
  table: tableName.describe('The table: `users` or `schema.users`.'),
  column: columnName.describe('The column split up (dropped at contract).'),
  into: z
    .record(columnName, z.strictObject({ type: sqlType, expr: sqlExpression }))
    .refine((m) => Object.keys(m).length > 0, 'name at least one new column')
    .describe('Each new column → {type, expr}: its SQL type and the expression computing it from the old column(s).'),
  merge: sqlExpression.describe('The expression over the new columns that rebuilds the old column (for old-shape readers).'),
  compat: compatField,
});

/** The fields of a `split-column` step. */
export type SplitColumnSpec = z.output<typeof schema>;

const newColumns = (s: SplitColumnSpec) => Object.entries(s.into).map(([column, c]) => ({ column, type: c.type, expr: c.expr }));

/**
 * Split one column into several: expand adds the new columns, keeps both sides
 * in sync with a trigger, backfills existing rows, and publishes the old shape
 * (v1 view) and the new one (v2 view, without the old column); contract drops
 * the trigger, the views and the old column.
 */
export const splitColumn: Operation<SplitColumnSpec> = {
  name: 'split-column',
  // Its contract drops the old column after verification, once no running version uses it.
  handles: ['drop-column'],
  schema,
  describe: (s) => `split ${s.table}.${s.column} into ${Object.keys(s.into).join(', ')}`,
  expand(s) {
    const t = tableRef(s.table);
    const fresh = newColumns(s);
    const names = fresh.map((f) => f.column);
    return [
      {
        kind: 'sql',
        name: 'add-columns',
        description: `add nullable ${names.join(', ')} to ${s.table}`,
        transaction: true,
        forward: [`ALTER TABLE ${t.sql} ${fresh.map((f) => `ADD COLUMN ${quoteIdent(f.column)} ${f.type}`).join(', ')}`],
        rollback: [`ALTER TABLE ${t.sql} ${names.map((c) => `DROP COLUMN IF EXISTS ${quoteIdent(c)}`).join(', ')}`],
        verify: names.map((c) => columnCheck(t, c)),
        locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'ADD COLUMN without default, until commit; catalog only, milliseconds' }],
      },
      syncPart({ t, key: s.column, oldColumns: [s.column], forward: fresh, backward: [{ column: s.column, expr: s.merge }] }),
      {
        kind: 'backfill',
        name: 'backfill',
        description: `compute ${names.join(', ')} of existing rows from ${s.column}`,
        // No rollback: the new columns go with add-columns' rollback, and NULLing them first would sync back into the old column.
        backfill: { table: s.table, set: Object.fromEntries(fresh.map((f) => [f.column, f.expr])), where: unsyncedRows([s.column], names) },
      },
      viewsPart(t, viewSchemas(t, s.compat), { hide: names }, { hide: [s.column] }, [
        `SELECT NOT EXISTS (SELECT 1 FROM ${t.sql} WHERE ${unsyncedRows([s.column], names)})`,
      ]),
    ];
  },
  contract: (s) => [dropOldShapePart(tableRef(s.table), s.compat, { name: 'drop-old-column', columns: [s.column], syncKey: s.column })],
  columns: (s) => ({ table: s.table, views: true, compat: s.compat, hides: [s.column], retypes: [], adds: Object.keys(s.into) }),
  stored: (s, n) => ({
    ...s,
    column: n.column(s.column),
    into: Object.fromEntries(Object.entries(s.into).map(([c, d]) => [c, { ...d, expr: n.expression(d.expr) }])),
    merge: n.expression(s.merge),
  }),
  check: (s, schema) => [...tableProblems(schema, s.table, { has: [s.column], lacks: Object.keys(s.into) }), ...viewProblems(schema, s.table, s.compat)],
  apply: (s, schema) =>
    addColumns(
      schema,
      s.table,
      Object.entries(s.into).map(([c, d]) => [c, { type: canonicalType(d.type), notNull: false }]),
    ),
  // The sync trigger writes every new-shape value back into the old column(s): rolling back loses nothing.
  rollbackLoss: () => [],
};
