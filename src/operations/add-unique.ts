import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { buildIndexPart } from './add-index.js';
import { copyModeFields, copyModeProblems } from './alter-column-constraints.js';
import { type CopyChange, compatCopy, copyContract, copyExpand } from './alter-column-copy.js';
import { shadowColumn } from './change-type.js';
import { viewProblems } from './compat.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import type { ColumnEffect, Operation, OpPart } from './types.js';
import { addColumns, canonicalType, relationNameProblems, tableProblems } from './virtual-schema.js';

/** The fields of an `add-unique` step. */
export const addUniqueSchema = z
  .strictObject({
    table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    name: identifierSchema.describe("The constraint's name, also the name of the index behind it."),
    columns: z.array(identifierSchema).min(1).describe('The columns that must be unique together.'),
    ...copyModeFields,
  })
  .refine((s) => new Set(s.columns).size === s.columns.length, 'columns must not repeat')
  .superRefine((s, ctx) => {
    for (const message of copyModeProblems(s)) ctx.addIssue({ code: 'custom', message });
  });

/** An `add-unique` step's spec. */
export type AddUniqueSpec = z.infer<typeof addUniqueSchema>;

/** What {@link indexConstraintParts} attaches: the kind of constraint and what its lock note says. */
const INDEX_CONSTRAINTS = {
  unique: {
    sql: 'UNIQUE',
    contype: 'u',
    part: 'attach-constraint',
    what: 'the unique constraint',
    held: 'catalog only, milliseconds: the index is already built and checked',
  },
  'primary key': {
    sql: 'PRIMARY KEY',
    contype: 'p',
    part: 'attach-primary-key',
    what: 'the primary key',
    held: 'catalog only, milliseconds: the index is already built and the key columns are already NOT NULL',
  },
} as const;

/**
 * A UNIQUE or PRIMARY KEY constraint without blocking writes for a table scan:
 * build the unique index concurrently, then attach it as the constraint
 * (catalog only). Rolling back drops the constraint and its index.
 */
export function indexConstraintParts(spec: { table: string; name: string; columns: string[] }, kind: keyof typeof INDEX_CONSTRAINTS): OpPart[] {
  const c = INDEX_CONSTRAINTS[kind];
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
      name: c.part,
      description: `make index ${spec.name} ${c.what} ${spec.name} of ${spec.table}`,
      transaction: true,
      forward: [`ALTER TABLE ${t.sql} ADD CONSTRAINT ${name} ${c.sql} USING INDEX ${name}`],
      // Dropping the constraint drops its index too; the build part's rollback then finds nothing left to drop.
      rollback: [`ALTER TABLE ${t.sql} DROP CONSTRAINT ${name}`],
      verify: [
        `SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.regclass} AND conname = ${quoteLiteral(spec.name)} AND contype = '${c.contype}' AND convalidated)`,
      ],
      locks: [{ relation: spec.table, mode: 'AccessExclusiveLock', held: c.held }],
    },
  ];
}

/** The copy-mode change of a `compat: true` spec: the unique index built on a copy of its one column. */
const copyOf = (spec: AddUniqueSpec): CopyChange => compatCopy(spec, { unique: { name: spec.name } });

/**
 * Add a UNIQUE constraint without blocking writes for a table scan: build the
 * unique index concurrently, then attach it as the constraint (catalog only).
 * With `compat: true`, the index is built on a copy of the column that only
 * the new shape sees (see alter-column), so old writers' duplicates are fixed
 * by `up` instead of refused, and contract swaps the copy in.
 */
export const addUnique: Operation<AddUniqueSpec> = {
  name: 'add-unique',
  schema: addUniqueSchema,
  describe: (spec) => `add unique constraint ${spec.name} on ${spec.table} (${spec.columns.join(', ')})`,
  expand(spec) {
    if (spec.compat) return copyExpand(copyOf(spec));
    return indexConstraintParts(spec, 'unique');
  },
  contract: (spec) => (spec.compat ? copyContract(copyOf(spec)) : []),
  columns(spec): ColumnEffect {
    const retypes = spec.compat ? [{ column: spec.columns[0] as string, shadow: shadowColumn(spec.columns[0] as string), type: spec.type as string }] : [];
    return { table: spec.table, views: spec.compat === true, hides: [], retypes, adds: [] };
  },
  check: (spec, schema) => [
    ...tableProblems(schema, spec.table, { has: spec.columns, ...(spec.compat ? { lacks: spec.columns.map(shadowColumn) } : {}) }),
    ...(spec.compat ? viewProblems(schema, spec.table, undefined) : []),
    ...relationNameProblems(schema, spec.table, spec.name, 'unique index'),
  ],
  apply(spec, schema) {
    if (spec.compat) addColumns(schema, spec.table, [[shadowColumn(spec.columns[0] as string), { type: canonicalType(spec.type as string), notNull: false }]]);
    const t = schema.tables.get(schema.keyOf(spec.table));
    schema.relations.set(`${tableRef(spec.table).schema}.${spec.name}`, 'index');
    t?.uniqueKeys.set(spec.name, spec.columns);
    t?.constraints.add(spec.name);
  },
};
