import { z } from 'zod';
import { quoteIdent } from '../db/quote.js';
import { relationIsSql, tableName as tableNameSchema, tableRef } from './names.js';
import { copyGrantsSql } from './table-view.js';
import type { Operation } from './types.js';
import { tableProblems } from './virtual-schema.js';

/** The fields of a `rename-table` step; `to` stays in `from`'s schema (it may repeat that schema, not name another). */
export const renameTableSchema = z
  .strictObject({
    from: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    to: tableNameSchema.describe(
      'Its new name, in the same schema (it may repeat that schema, not name another); a view under the old name stays until contract.',
    ),
  })
  .refine((s) => !s.to.includes('.') || tableRef(s.to).schema === tableRef(s.from).schema, {
    message: 'a table is renamed within its schema: `to` must name the same schema as `from`, or none',
    path: ['to'],
  })
  .refine((s) => tableRef(s.from).name !== tableRef(s.to).name, { message: '`to` must differ from `from`', path: ['to'] });

/** A `rename-table` step's spec. */
export type RenameTableSpec = z.infer<typeof renameTableSchema>;

function names(spec: RenameTableSpec) {
  const from = tableRef(spec.from);
  const to = tableRef(`${from.schema}.${tableRef(spec.to).name}`);
  return { from, to };
}

/**
 * Rename a table without breaking running applications: `expand` renames it and
 * leaves an auto-updatable view under the old name in the same transaction, so
 * both names read and write the same rows; `contract` drops the view.
 */
export const renameTable: Operation<RenameTableSpec> = {
  name: 'rename-table',
  // The old name stays a view over the renamed table until contract.
  handles: ['rename-table'],
  schema: renameTableSchema,
  describe(spec) {
    const { from, to } = names(spec);
    return `rename table ${spec.from} to ${to.name}, keeping ${from.name} as a view until contract`;
  },
  expand(spec) {
    const { from, to } = names(spec);
    return [
      {
        kind: 'sql',
        name: 'rename-and-view',
        description: `rename ${spec.from} to ${to.name} and create the view ${from.name} over it, in one transaction`,
        transaction: true,
        forward: [
          `ALTER TABLE ${from.sql} RENAME TO ${quoteIdent(to.name)}`,
          `CREATE VIEW ${from.sql} AS SELECT * FROM ${to.sql}`,
          copyGrantsSql(to.sql, from.sql),
        ],
        rollback: [`DROP VIEW ${from.sql}`, `ALTER TABLE ${to.sql} RENAME TO ${quoteIdent(from.name)}`],
        verify: [relationIsSql(to.regclass, ['r', 'p']), relationIsSql(from.regclass, ['v'])],
        locks: [
          {
            relation: spec.from,
            mode: 'AccessExclusiveLock',
            held: 'catalog only, milliseconds; statements waiting on it then resolve the old name to the view',
          },
        ],
      },
    ];
  },
  contract(spec) {
    const { from, to } = names(spec);
    return [
      {
        kind: 'sql',
        name: 'drop-compat-view',
        description: `drop the compatibility view ${from.name}; only the name ${to.name} is left`,
        transaction: true,
        forward: [`DROP VIEW ${from.sql}`],
        rollback: [],
        verify: [`SELECT ${from.regclass} IS NULL`, relationIsSql(to.regclass, ['r', 'p'])],
        locks: [{ relation: spec.from, mode: 'AccessExclusiveLock', held: 'on the view only, catalog only, milliseconds' }],
      },
    ];
  },
  check(spec, schema) {
    const { to } = names(spec);
    const taken = schema.unknown === undefined && schema.relations.has(`${to.schema}.${to.name}`);
    return [...tableProblems(schema, spec.from), ...(taken ? [`${to.schema}.${to.name} already exists`] : [])];
  },
  apply(spec, schema) {
    const { from, to } = names(spec);
    schema.rename(`${from.schema}.${from.name}`, to.name);
    schema.relations.set(`${from.schema}.${from.name}`, 'view');
  },
};
