import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import type { Operation } from './types.js';

/** What happens to referencing rows when the referenced row is deleted. */
export const ON_DELETE_ACTIONS = ['no action', 'restrict', 'cascade', 'set null', 'set default'] as const;

/** The fields of an `add-foreign-key` step. */
export const addForeignKeySchema = z
  .strictObject({
    table: tableNameSchema,
    name: identifierSchema,
    columns: z.array(identifierSchema).min(1),
    references: z.strictObject({
      table: tableNameSchema,
      /** Columns with a primary key or unique constraint on the referenced table. */
      columns: z.array(identifierSchema).min(1),
    }),
    onDelete: z.enum(ON_DELETE_ACTIONS).optional(),
  })
  .refine((s) => s.columns.length === s.references.columns.length, 'columns and references.columns must have the same length');

/** An `add-foreign-key` step's spec. */
export type AddForeignKeySpec = z.infer<typeof addForeignKeySchema>;

/**
 * Add a foreign key in two steps: `NOT VALID` (catalog only, new writes are
 * checked from then on), then `VALIDATE CONSTRAINT`, which scans existing rows
 * under a lock that lets reads and writes go on.
 */
export const addForeignKey: Operation<AddForeignKeySpec> = {
  name: 'add-foreign-key',
  schema: addForeignKeySchema,
  describe: (spec) =>
    `add foreign key ${spec.name}: ${spec.table} (${spec.columns.join(', ')}) references ${spec.references.table} (${spec.references.columns.join(', ')})`,
  expand(spec) {
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
        locks: [
          { relation: spec.table, mode: 'ShareRowExclusiveLock', held: 'catalog only, milliseconds (NOT VALID skips the scan); blocks writes while held' },
          {
            relation: spec.references.table,
            mode: 'ShareRowExclusiveLock',
            held: 'catalog only, milliseconds (adds the referential triggers); blocks writes while held',
          },
        ],
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
        locks: [
          { relation: spec.table, mode: 'ShareUpdateExclusiveLock', held: 'for the whole validating scan; reads and writes go on, other DDL waits' },
          { relation: spec.references.table, mode: 'RowShareLock', held: 'for the whole validating scan; reads and writes go on' },
        ],
      },
    ];
  },
  contract: () => [],
};
