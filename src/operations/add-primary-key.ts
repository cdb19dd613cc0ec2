import { z } from 'zod';
import { indexConstraintParts } from './add-unique.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import type { Operation } from './types.js';
import { quoted, relationNameProblems, tableProblems, type VirtualSchema } from './virtual-schema.js';

/** The fields of an `add-primary-key` step. */
export const addPrimaryKeySchema = z
  .strictObject({
    table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    name: identifierSchema.describe("The constraint's name, also the name of the index behind it."),
    columns: z.array(identifierSchema).min(1).describe('The key columns, in order; each must already be NOT NULL.'),
  })
  .refine((s) => new Set(s.columns).size === s.columns.length, 'columns must not repeat');

/** An `add-primary-key` step's spec. */
export type AddPrimaryKeySpec = z.infer<typeof addPrimaryKeySchema>;

/** Problems the catalog shows: no primary key yet, NOT NULL key columns (else SET NOT NULL would scan under the lock), free names. */
function keyProblems(spec: AddPrimaryKeySpec, schema: VirtualSchema): string[] {
  const problems = [...tableProblems(schema, spec.table, { has: spec.columns }), ...relationNameProblems(schema, spec.table, spec.name, 'primary key index')];
  const key = schema.keyOf(spec.table);
  const t = schema.known(key);
  if (!t) return problems;
  if (t.primaryKey) problems.push(`table ${key} already has a primary key ${quoted(t.primaryKey.name)}`);
  if (t.constraints.has(spec.name)) problems.push(`table ${key} already has a constraint ${quoted(spec.name)}`);
  const nullable = spec.columns.filter((c) => t.columns.get(c)?.notNull === false);
  if (nullable.length > 0) {
    problems.push(
      `column${nullable.length > 1 ? 's' : ''} ${nullable.map(quoted).join(', ')} of table ${key} ${nullable.length > 1 ? 'are' : 'is'} nullable: ` +
        'the primary key would SET NOT NULL, scanning the table under an ACCESS EXCLUSIVE lock; make them NOT NULL first (alter-column set NOT NULL), in an earlier step',
    );
  }
  return problems;
}

/**
 * Add a primary key without blocking writes for a table scan: build the unique
 * index concurrently, then attach it as the primary key (catalog only, as the
 * key columns are already NOT NULL). Rolling back drops the constraint and its index.
 */
export const addPrimaryKey: Operation<AddPrimaryKeySpec> = {
  name: 'add-primary-key',
  schema: addPrimaryKeySchema,
  describe: (spec) => `add primary key ${spec.name} on ${spec.table} (${spec.columns.join(', ')})`,
  expand: (spec) => indexConstraintParts(spec, 'primary key'),
  contract: () => [],
  check: keyProblems,
  apply(spec, schema) {
    const t = schema.tables.get(schema.keyOf(spec.table));
    schema.relations.set(`${tableRef(spec.table).schema}.${spec.name}`, 'index');
    if (!t) return;
    t.primaryKey = { name: spec.name, columns: spec.columns };
    t.uniqueKeys.set(spec.name, spec.columns);
    t.constraints.add(spec.name);
  },
};
