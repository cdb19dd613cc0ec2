import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { buildIndexPart } from './add-index.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import type { Operation } from './types.js';
import { relationNameProblems, tableProblems } from './virtual-schema.js';

/** The fields of an `add-unique` step. */
export const addUniqueSchema = z
  .strictObject({
    table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    name: identifierSchema.describe("The constraint's name, also the name of the index behind it."),
    columns: z.array(identifierSchema).min(1).describe('The columns that must be unique together.'),
  })
  .refine((s) => new Set(s.columns).size === s.columns.length, 'columns must not repeat');

/** An `add-unique` step's spec. */
export type AddUniqueSpec = z.infer<typeof addUniqueSchema>;

/**
 * Add a UNIQUE constraint without blocking writes for a table scan: build the
 * unique index concurrently, then attach it as the constraint (catalog only).
 */
export const addUnique: Operation<AddUniqueSpec> = {
  name: 'add-unique',
  schema: addUniqueSchema,
  describe: (spec) => `add unique constraint ${spec.name} on ${spec.table} (${spec.columns.join(', ')})`,
  expand(spec) {
    const t = tableRef(spec.table);
    const name = quoteIdent(spec.name);
    const build = buildIndexPart({
      table: spec.table,
      name: spec.name,
      unique: true,
      definition: `(${spec.columns.map(quoteIdent).join(', ')})`,
      part: 'build-index',
    });
    return [
      build,
      {
        kind: 'sql',
        name: 'attach-constraint',
        description: `make index ${spec.name} the unique constraint ${spec.name} of ${spec.table}`,
        transaction: true,
        forward: [`ALTER TABLE ${t.sql} ADD CONSTRAINT ${name} UNIQUE USING INDEX ${name}`],
        // Dropping the constraint drops its index too; the build part's rollback then finds nothing left to drop.
        rollback: [`ALTER TABLE ${t.sql} DROP CONSTRAINT ${name}`],
        verify: [
          `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.regclass} AND conname = ${quoteLiteral(spec.name)} AND contype = 'u' AND convalidated)`,
        ],
        locks: [{ relation: spec.table, mode: 'AccessExclusiveLock', held: 'catalog only, milliseconds: the index is already built and checked' }],
      },
    ];
  },
  contract: () => [],
  check: (spec, schema) => [
    ...tableProblems(schema, spec.table, { has: spec.columns }),
    ...relationNameProblems(schema, spec.table, spec.name, 'unique index'),
  ],
  apply(spec, schema) {
    const t = schema.tables.get(schema.keyOf(spec.table));
    schema.relations.set(`${tableRef(spec.table).schema}.${spec.name}`, 'index');
    t?.uniqueKeys.set(spec.name, spec.columns);
    t?.constraints.add(spec.name);
  },
};
