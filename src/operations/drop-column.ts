import { z } from 'zod';
import { quoteLiteral } from '../db/quote.js';
import {
  boundedName,
  columnName,
  compatField,
  doBlock,
  dropOldShapePart,
  type TableRef,
  tableName,
  tableRef,
  viewProblems,
  viewSchemas,
  viewsPart,
} from './compat.js';
import type { Operation } from './types.js';
import { tableProblems } from './virtual-schema.js';

const schema = z.strictObject({
  table: tableName.describe('The table: `users` or `schema.users`.'),
  column: columnName.describe('The column dropped at contract; until then the new-shape view hides it.'),
  compat: compatField,
});

/** The fields of a `drop-column` step. */
export type DropColumnSpec = z.output<typeof schema>;

/** An always-true unvalidated check that remembers the column was NOT NULL, so rollback knows to restore it; it goes with the column. */
const markerName = (t: TableRef, column: string) => boundedName(t.name, column, 'ferry_was_nn');
const checkName = (t: TableRef, column: string) => boundedName(t.name, column, 'ferry_nn');
const exists = (t: TableRef, name: string, extra = '') =>
  `EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.oid} AND conname = ${quoteLiteral(name)}${extra})`;
const alter = (t: TableRef, what: string, ...args: string[]) => `EXECUTE format('ALTER TABLE %s ${what}', ${[t.sql, ...args].map(quoteLiteral).join(', ')});`;

/**
 * Drop a column in two phases: expand hides it from the new shape (v2 view
 * without it; made nullable if it was NOT NULL so new-shape inserts work) while
 * the old application still sees it (v1 view, or the table); contract drops it
 * for good. Rolling back restores NOT NULL through a validated check, never a
 * scan under an exclusive lock.
 */
export const dropColumn: Operation<DropColumnSpec> = {
  name: 'drop-column',
  // The column is dropped at contract, after the new shape has hidden it through the deprecation period.
  handles: ['drop-column'],
  schema,
  describe: (s) => `drop column ${s.column} of ${s.table}`,
  expand(s) {
    const t = tableRef(s.table);
    const schemas = viewSchemas(t, s.compat);
    const marker = markerName(t, s.column);
    const check = checkName(t, s.column);
    const notNull = `(SELECT attnotnull FROM pg_attribute WHERE attrelid = ${t.oid} AND attname = ${quoteLiteral(s.column)})`;
    const views = viewsPart(
      t,
      schemas,
      { hide: [] },
      { hide: [s.column] },
      [],
      [
        doBlock(`  IF ${exists(t, marker)} AND NOT ${exists(t, check)} THEN
    ${alter(t, 'ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID', check, s.column)}
  END IF;`),
      ],
    );
    return [
      {
        kind: 'sql',
        name: 'nullable',
        description: `if ${s.column} is NOT NULL: drop NOT NULL (remembered) so inserts without it work`,
        transaction: true,
        forward: [
          doBlock(`  IF ${notNull} THEN
    ${alter(t, 'ADD CONSTRAINT %I CHECK (%I IS NULL OR %I IS NOT NULL) NOT VALID', marker, s.column, s.column)}
    ${alter(t, 'ALTER COLUMN %I DROP NOT NULL', s.column)}
  END IF;`),
        ],
        rollback: [
          doBlock(`  IF ${exists(t, marker)} THEN
    ${alter(t, 'ALTER COLUMN %I SET NOT NULL', s.column)}
    ${alter(t, 'DROP CONSTRAINT IF EXISTS %I', check)}
    ${alter(t, 'DROP CONSTRAINT %I', marker)}
  END IF;`),
        ],
        verify: [`SELECT NOT ${notNull}`],
        locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'DROP NOT NULL, until commit; catalog only, milliseconds' }],
      },
      {
        kind: 'sql',
        name: 'not-null-restore',
        description: 'nothing on up; on down, validates the NOT NULL check (a scan that does not block writes) before NOT NULL is set again',
        transaction: true,
        forward: [],
        rollback: [doBlock(`  IF ${exists(t, check, ' AND NOT convalidated')} THEN\n    ${alter(t, 'VALIDATE CONSTRAINT %I', check)}\n  END IF;`)],
        verify: [],
        locks: [],
      },
      views,
    ];
  },
  contract: (s) => [dropOldShapePart(tableRef(s.table), s.compat, { name: 'drop-column', columns: [s.column] })],
  columns: (s) => ({ table: s.table, views: true, compat: s.compat, hides: [s.column], retypes: [], adds: [] }),
  stored: (s, n) => ({ ...s, column: n.column(s.column) }),
  check: (s, schema) => [...tableProblems(schema, s.table, { has: [s.column] }), ...viewProblems(schema, s.table, s.compat)],
  apply(s, schema) {
    const column = schema.known(schema.keyOf(s.table))?.columns.get(s.column);
    if (column) column.notNull = false;
  },
};
