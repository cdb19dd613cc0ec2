import { z } from 'zod';
import { quoteLiteral, quoteQualified } from '../db/quote.js';
import { indexIsValidSql } from './add-index.js';
import { identifier as identifierSchema, tableName as tableNameSchema, tableRef } from './names.js';
import { forgetDefinitionSql, isSavedSql, literalDoBlock, saveDefinitionSql, savedDefinition } from './saved-definitions.js';
import type { Operation } from './types.js';
import { quoted, tableProblems } from './virtual-schema.js';

/** The fields of a `drop-index` step. */
export const dropIndexSchema = z.strictObject({
  table: tableNameSchema.describe('The table of the index: `users` or `schema.users`.'),
  name: identifierSchema.describe("The index's name; it lives in the table's schema."),
});

/** A `drop-index` step's spec. */
export type DropIndexSpec = z.infer<typeof dropIndexSchema>;

/**
 * Drop an index without blocking reads or writes (`DROP INDEX CONCURRENTLY`).
 *
 * Its undo would be `CREATE INDEX CONCURRENTLY`, which no rollback can run from
 * a definition read at run time: it refuses to run inside a transaction block,
 * a DO block or a function, so dynamic SQL cannot issue it, and the definition
 * is not known when the step is compiled. So, as pgroll does, expand only
 * checks the index is there and saves its `pg_get_indexdef` in
 * `ferry.saved_definitions` (rolling back expand forgets it: nothing else to
 * undo), and the drop runs at contract, the point of no return. The saved
 * definition stays after contract, for rebuilding the index by hand.
 */
export const dropIndex: Operation<DropIndexSpec> = {
  name: 'drop-index',
  schema: dropIndexSchema,
  describe: (spec) => `drop index ${spec.name} of ${spec.table} at contract`,
  expand(spec) {
    const t = tableRef(spec.table);
    const qualified = quoteLiteral(quoteQualified(t.schema, spec.name));
    const saved = savedDefinition('index', t, spec.name);
    const mustExist = literalDoBlock(`  IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(${qualified}) AND indrelid = ${t.oid}) THEN
    RAISE EXCEPTION 'table % has no index %', ${quoteLiteral(t.display)}, ${quoteLiteral(spec.name)};
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = to_regclass(${qualified}) AND conrelid = ${t.oid} AND contype IN ('p', 'u', 'x')) THEN
    RAISE EXCEPTION 'index % of table % belongs to a constraint: use drop-constraint', ${quoteLiteral(spec.name)}, ${quoteLiteral(t.display)};
  END IF;`);
    return [
      {
        kind: 'sql',
        name: 'save-definition',
        description: `check index ${spec.name} of ${spec.table} exists and save its definition in ferry.saved_definitions; contract drops it`,
        transaction: true,
        forward: [mustExist, saveDefinitionSql(saved, `SELECT pg_get_indexdef(to_regclass(${qualified}))`)],
        rollback: [forgetDefinitionSql(saved)],
        verify: [indexIsValidSql(t, spec.name), isSavedSql(saved)],
        locks: [],
      },
    ];
  },
  contract(spec) {
    const t = tableRef(spec.table);
    const qualified = quoteQualified(t.schema, spec.name);
    return [
      {
        kind: 'sql',
        name: 'drop-index',
        description: `drop index ${spec.name} of ${spec.table} without blocking reads or writes; its definition stays in ferry.saved_definitions`,
        transaction: false,
        // IF EXISTS: a retry after a crash mid-drop finishes it, or finds it done.
        forward: [`DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`],
        rollback: [],
        verify: [`SELECT to_regclass(${quoteLiteral(qualified)}) IS NULL`],
        locks: [
          {
            relation: spec.table,
            mode: 'ShareUpdateExclusiveLock',
            held: 'for the drop, which waits for every transaction using the index; reads and writes go on, other DDL and VACUUM wait',
          },
        ],
      },
    ];
  },
  check(spec, schema) {
    const problems = tableProblems(schema, spec.table);
    if (problems.length > 0 || schema.unknown !== undefined) return problems;
    const index = `${tableRef(spec.table).schema}.${spec.name}`;
    const kind = schema.relations.get(index);
    if (kind !== 'index') return [`${index} is not an index${kind === undefined ? ': nothing of that name exists' : ` but a ${kind}`}`];
    const t = schema.known(schema.keyOf(spec.table));
    if (t?.constraints.has(spec.name) && t.uniqueKeys.has(spec.name))
      problems.push(`index ${quoted(spec.name)} belongs to a constraint of table ${schema.keyOf(spec.table)}: use drop-constraint`);
    return problems;
  },
};
