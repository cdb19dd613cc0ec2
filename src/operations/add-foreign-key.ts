import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { copyModeFields, copyModeProblems, foreignKeyLocks } from './alter-column-constraints.js';
import { type CopyChange, compatCopy, copyContract, copyExpand } from './alter-column-copy.js';
import { shadowColumn } from './change-type.js';
import { viewProblems } from './compat.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import type { ColumnEffect, Operation } from './types.js';
import { addColumns, canonicalType, quoted, tableProblems, typeFamily, type VirtualSchema } from './virtual-schema.js';

/** What happens to referencing rows when the referenced row is deleted. */
export const ON_DELETE_ACTIONS = ['no action', 'restrict', 'cascade', 'set null', 'set default'] as const;

/** The fields of an `add-foreign-key` step. */
export const addForeignKeySchema = z
  .strictObject({
    table: tableNameSchema.describe('The referencing table.'),
    name: identifierSchema.describe("The constraint's name."),
    columns: z.array(identifierSchema).min(1).describe('The referencing columns.'),
    references: z
      .strictObject({
        table: tableNameSchema.describe('The referenced table.'),
        columns: z
          .array(identifierSchema)
          .min(1)
          .describe('Columns with a primary key or unique constraint on the referenced table, in the order of `columns`.'),
      })
      .describe('The referenced table and its columns.'),
    onDelete: z.enum(ON_DELETE_ACTIONS).optional().describe('What happens to referencing rows when the referenced row is deleted; default NO ACTION.'),
    ...copyModeFields,
  })
  .refine((s) => s.columns.length === s.references.columns.length, 'columns and references.columns must have the same length')
  .superRefine((s, ctx) => {
    for (const message of copyModeProblems(s)) ctx.addIssue({ code: 'custom', message });
  });

/** An `add-foreign-key` step's spec. */
export type AddForeignKeySpec = z.infer<typeof addForeignKeySchema>;

/** Problems the catalog shows: columns on both sides, a key on the referenced side, comparable types, a free constraint name. */
function fitProblems(spec: AddForeignKeySpec, schema: VirtualSchema): string[] {
  const problems = [
    ...tableProblems(schema, spec.table, { has: spec.columns }),
    ...tableProblems(schema, spec.references.table, { has: spec.references.columns }),
  ];
  const key = schema.keyOf(spec.table);
  const refKey = schema.keyOf(spec.references.table);
  const t = schema.known(key);
  const ref = schema.known(refKey);
  if (t?.constraints.has(spec.name)) problems.push(`table ${key} already has a constraint ${quoted(spec.name)}`);
  if (problems.length > 0 || !t || !ref) return problems;
  const want = [...spec.references.columns].sort().join(',');
  const keys = [ref.primaryKey?.columns ?? [], ...ref.uniqueKeys.values()];
  if (!keys.some((k) => [...k].sort().join(',') === want)) {
    problems.push(
      `table ${refKey} has no primary key or unique constraint on (${spec.references.columns.map(quoted).join(', ')}) for the foreign key to reference`,
    );
  }
  spec.columns.forEach((c, i) => {
    const r = spec.references.columns[i] as string;
    const a = t.columns.get(c)?.type ?? '';
    const b = ref.columns.get(r)?.type ?? '';
    if (typeFamily(a) !== typeFamily(b))
      problems.push(`column ${quoted(c)} of table ${key} is ${a} but ${quoted(r)} of table ${refKey} is ${b}: a foreign key needs comparable types`);
  });
  return problems;
}

/** The copy-mode change of a `compat: true` spec: the foreign key put on a copy of its one column. */
const copyOf = (spec: AddForeignKeySpec): CopyChange =>
  compatCopy(spec, {
    foreignKey: { name: spec.name, references: { table: spec.references.table, column: spec.references.columns[0] as string }, onDelete: spec.onDelete },
  });

/**
 * Add a foreign key in two steps: `NOT VALID` (catalog only, new writes are
 * checked from then on), then `VALIDATE CONSTRAINT`, which scans existing rows
 * under a lock that lets reads and writes go on. With `compat: true`, the key
 * is put on a copy of the column that only the new shape sees (see
 * alter-column), so old writers' dangling references are fixed by `up`
 * instead of refused, and contract swaps the copy in.
 */
export const addForeignKey: Operation<AddForeignKeySpec> = {
  name: 'add-foreign-key',
  schema: addForeignKeySchema,
  describe: (spec) =>
    `add foreign key ${spec.name}: ${spec.table} (${spec.columns.join(', ')}) references ${spec.references.table} (${spec.references.columns.join(', ')})`,
  expand(spec) {
    if (spec.compat) return copyExpand(copyOf(spec));
    const t = tableRef(spec.table);
    const ref = tableRef(spec.references.table);
    const name = quoteIdent(spec.name);
    const onDelete = spec.onDelete ? ` ON DELETE ${spec.onDelete.toUpperCase()}` : '';
    const add = `ALTER TABLE ${t.sql} ADD CONSTRAINT ${name} FOREIGN KEY (${spec.columns.map(quoteIdent).join(', ')}) REFERENCES ${ref.sql} (${spec.references.columns.map(quoteIdent).join(', ')})${onDelete} NOT VALID`;
    const drop = `ALTER TABLE ${t.sql} DROP CONSTRAINT ${name}`;
    const constraint = `SELECT 1 FROM pg_constraint WHERE conrelid = ${t.regclass} AND conname = ${quoteLiteral(spec.name)} AND contype = 'f'`;
    return [
      {
        kind: 'sql',
        name: 'add-not-valid',
        description: `add foreign key ${spec.name} as NOT VALID: new and updated rows of ${spec.table} are checked from now on`,
        transaction: true,
        forward: [add],
        rollback: [drop],
        verify: [`SELECT EXISTS (${constraint})`],
        locks: foreignKeyLocks('add', spec.table, spec.references.table),
      },
      {
        kind: 'sql',
        name: 'validate',
        description: `check the existing rows of ${spec.table} against foreign key ${spec.name}`,
        transaction: true,
        forward: [`ALTER TABLE ${t.sql} VALIDATE CONSTRAINT ${name}`],
        // PostgreSQL cannot mark a constraint unvalidated again: drop it and add it back NOT VALID (catalog only).
        rollback: [drop, add],
        verify: [`SELECT EXISTS (${constraint} AND convalidated)`],
        locks: foreignKeyLocks('validate', spec.table, spec.references.table),
      },
    ];
  },
  contract: (spec) => (spec.compat ? copyContract(copyOf(spec)) : []),
  columns(spec): ColumnEffect {
    const retypes = spec.compat ? [{ column: spec.columns[0] as string, shadow: shadowColumn(spec.columns[0] as string), type: spec.type as string }] : [];
    return { table: spec.table, views: spec.compat === true, hides: [], retypes, adds: [] };
  },
  check: (spec, schema) => [
    ...fitProblems(spec, schema),
    ...(spec.compat ? [...tableProblems(schema, spec.table, { lacks: spec.columns.map(shadowColumn) }), ...viewProblems(schema, spec.table, undefined)] : []),
  ],
  apply(spec, schema) {
    if (spec.compat) addColumns(schema, spec.table, [[shadowColumn(spec.columns[0] as string), { type: canonicalType(spec.type as string), notNull: false }]]);
    schema.tables.get(schema.keyOf(spec.table))?.constraints.add(spec.name);
  },
};
