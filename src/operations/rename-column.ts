import { z } from 'zod';
import { quoteIdent } from '../db/quote.js';
import {
  columnCheck,
  columnName,
  compatField,
  contractLocks,
  dropViews,
  tableName,
  tableRef,
  viewProblems,
  viewSchemas,
  viewsGone,
  viewsPart,
} from './compat.js';
import type { Operation } from './types.js';
import { tableProblems } from './virtual-schema.js';

const schema = z.strictObject({
  table: tableName.describe('The table: `users` or `schema.users`.'),
  from: columnName.describe("The column's current name."),
  to: columnName.describe('Its new name.'),
  compat: compatField,
});

/** The fields of a `rename-column` step. */
export type RenameColumnSpec = z.output<typeof schema>;

/**
 * Rename a column without breaking either version of the application: expand
 * publishes the old name (v1 view) and the new one (v2 view, `from AS to`) as
 * simple auto-updatable views of the same column; contract renames the column
 * itself and drops the views.
 */
export const renameColumn: Operation<RenameColumnSpec> = {
  name: 'rename-column',
  // The rename happens at contract, when the views have let every version move to the new name.
  handles: ['rename-column'],
  schema,
  describe: (s) => `rename column ${s.from} of ${s.table} to ${s.to}`,
  expand(s) {
    const t = tableRef(s.table);
    return [viewsPart(t, viewSchemas(t, s.compat), { hide: [] }, { hide: [], rename: { [s.from]: s.to } })];
  },
  contract(s) {
    const t = tableRef(s.table);
    const schemas = viewSchemas(t, s.compat);
    return [
      {
        kind: 'sql',
        name: 'rename',
        description: `rename ${s.table}.${s.from} to ${s.to} and drop the compat views`,
        transaction: true,
        forward: [
          ...dropViews(t, schemas).slice(0, 2),
          `ALTER TABLE ${t.sql} RENAME COLUMN ${quoteIdent(s.from)} TO ${quoteIdent(s.to)}`,
          ...dropViews(t, schemas).slice(2),
        ],
        rollback: [],
        verify: [columnCheck(t, s.to), columnCheck(t, s.from, false), viewsGone(t, schemas)],
        locks: contractLocks(t, schemas, 'RENAME COLUMN, until commit'),
        // Composed with other operations on the table, the rename is done last, from the table's column to its final name.
        compose: { role: 'reshape', statements: [] },
      },
    ];
  },
  columns: (s) => ({ table: s.table, views: true, compat: s.compat, hides: [], retypes: [], rename: { from: s.from, to: s.to }, adds: [] }),
  stored: (s, n) => ({ ...s, from: n.column(s.from) }),
  check: (s, schema) => [...tableProblems(schema, s.table, { has: [s.from], lacks: [s.to] }), ...viewProblems(schema, s.table, s.compat)],
  // Until contract the column keeps its name; only the new-shape view shows the new one.
  apply: () => {},
};
