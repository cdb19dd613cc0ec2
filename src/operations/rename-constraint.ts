import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import type { Operation } from './types.js';
import { quoted, tableProblems } from './virtual-schema.js';

/** The fields of a `rename-constraint` step. */
export const renameConstraintSchema = z
  .strictObject({
    table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    from: identifierSchema.describe("The constraint's current name."),
    to: identifierSchema.describe("The constraint's new name (a UNIQUE or PRIMARY KEY constraint's index takes it too)."),
  })
  .refine((s) => s.from !== s.to, 'from and to must differ');

/** A `rename-constraint` step's spec. */
export type RenameConstraintSpec = z.infer<typeof renameConstraintSchema>;

/** Rename a constraint (and the index behind a UNIQUE or PRIMARY KEY one): catalog only, undone by renaming it back. */
export const renameConstraint: Operation<RenameConstraintSpec> = {
  name: 'rename-constraint',
  schema: renameConstraintSchema,
  describe: (spec) => `rename constraint ${spec.from} of ${spec.table} to ${spec.to}`,
  expand(spec) {
    const t = tableRef(spec.table);
    const rename = (a: string, b: string) => `ALTER TABLE ${t.sql} RENAME CONSTRAINT ${quoteIdent(a)} TO ${quoteIdent(b)}`;
    const named = (n: string) => `EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.regclass} AND conname = ${quoteLiteral(n)})`;
    return [
      {
        kind: 'sql',
        name: 'rename',
        description: `rename constraint ${spec.from} of ${spec.table} to ${spec.to}`,
        transaction: true,
        forward: [rename(spec.from, spec.to)],
        rollback: [rename(spec.to, spec.from)],
        verify: [`SELECT ${named(spec.to)} AND NOT ${named(spec.from)}`],
        locks: [{ relation: spec.table, mode: 'AccessExclusiveLock', held: 'catalog only, milliseconds' }],
      },
    ];
  },
  contract: () => [],
  check(spec, schema) {
    const problems = tableProblems(schema, spec.table);
    const key = schema.keyOf(spec.table);
    const t = schema.known(key);
    if (problems.length > 0 || !t) return problems;
    if (!t.constraints.has(spec.from)) problems.push(`table ${key} has no constraint ${quoted(spec.from)}`);
    if (t.constraints.has(spec.to)) problems.push(`table ${key} already has a constraint ${quoted(spec.to)}`);
    const index = `${tableRef(spec.table).schema}.${spec.to}`;
    if (t.uniqueKeys.has(spec.from) && schema.relations.has(index))
      problems.push(`${index} already exists: the index of constraint ${quoted(spec.from)} cannot take its name`);
    return problems;
  },
  apply(spec, schema) {
    const t = schema.tables.get(schema.keyOf(spec.table));
    if (!t) return;
    if (t.constraints.delete(spec.from)) t.constraints.add(spec.to);
    // A UNIQUE or PRIMARY KEY constraint's index is renamed with it.
    if (t.uniqueKeys.has(spec.from)) schema.rename(`${tableRef(spec.table).schema}.${spec.from}`, spec.to);
    if (t.primaryKey?.name === spec.from) t.primaryKey = { ...t.primaryKey, name: spec.to };
  },
};
