import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { identifier as identifierSchema, type TableRef, tableName as tableNameSchema, tableRef } from './names.js';
import {
  alterTableSql,
  forgetDefinitionSql,
  isSavedSql,
  literalDoBlock,
  type SavedDefinition,
  saveDefinitionSql,
  savedDefinition,
  savedDefinitionSql,
} from './saved-definitions.js';
import type { Operation } from './types.js';
import { quoted, tableProblems } from './virtual-schema.js';

/** The fields of a `drop-constraint` step. */
export const dropConstraintSchema = z.strictObject({
  table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
  name: identifierSchema.describe("The constraint's name."),
});

/** A `drop-constraint` step's spec. */
export type DropConstraintSpec = z.infer<typeof dropConstraintSchema>;

/**
 * The constraint's definition as `ADD CONSTRAINT` takes it back: `pg_get_constraintdef`, with the
 * storage parameters of a UNIQUE or PRIMARY KEY index (which it leaves out) put before DEFERRABLE.
 */
function definitionQuery(t: TableRef, name: string): string {
  const options = `(SELECT string_agg(quote_ident(o.option_name) || '=' || quote_literal(o.option_value), ', ') FROM pg_options_to_table(i.reloptions) o)`;
  return `SELECT CASE WHEN k.contype IN ('u', 'p') AND i.reloptions IS NOT NULL
    THEN regexp_replace(pg_get_constraintdef(k.oid), '( DEFERRABLE( INITIALLY DEFERRED)?)?$', ' WITH (' || ${options} || ')\\1')
    ELSE pg_get_constraintdef(k.oid) END
  FROM pg_constraint k LEFT JOIN pg_class i ON i.oid = k.conindid
 WHERE k.conrelid = ${t.oid} AND k.conname = ${quoteLiteral(name)}`;
}

/** PL/pgSQL: true when the saved definition `d` is a validated CHECK or FOREIGN KEY (one that comes back NOT VALID, then validated). */
const VALIDATED_LATER = `d ~ '^(CHECK|FOREIGN KEY) ' AND d !~ ' NOT VALID$'`;

/** The rollback that re-adds the constraint from its saved definition: NOT VALID for a validated CHECK or FOREIGN KEY. */
function readdSql(t: TableRef, name: string, saved: SavedDefinition): string {
  return literalDoBlock(
    `  IF d IS NULL THEN
    RAISE EXCEPTION 'constraint % of table % cannot be re-added: its definition is not in ferry.saved_definitions', ${quoteLiteral(name)}, ${quoteLiteral(t.display)};
  END IF;
  IF ${VALIDATED_LATER} THEN
    ${alterTableSql(t, 'ADD CONSTRAINT %I %s NOT VALID', quoteLiteral(name), 'd')}
  ELSE
    ${alterTableSql(t, 'ADD CONSTRAINT %I %s', quoteLiteral(name), 'd')}
  END IF;`,
    `d text := ${savedDefinitionSql(saved)};`,
  );
}

/** The rollback that validates the re-added constraint (when it was validated before the drop), then forgets the saved definition. */
function validateSql(t: TableRef, name: string, saved: SavedDefinition): string {
  return literalDoBlock(
    `  IF ${VALIDATED_LATER} AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.oid} AND conname = ${quoteLiteral(name)} AND NOT convalidated) THEN
    ${alterTableSql(t, 'VALIDATE CONSTRAINT %I', quoteLiteral(name))}
  END IF;
  ${forgetDefinitionSql(saved)};`,
    `d text := ${savedDefinitionSql(saved)};`,
  );
}

/**
 * Drop a constraint, keeping what is needed to put it back. The definition is
 * only known when the step runs, so the drop first saves `pg_get_constraintdef`
 * in `ferry.saved_definitions`. Rolling back re-adds a CHECK or FOREIGN KEY
 * `NOT VALID` (catalog only), then validates it in a transaction of its own
 * (a scan that lets reads and writes go on); a UNIQUE, PRIMARY KEY or EXCLUDE
 * constraint is re-added as it was, rebuilding its index under the table lock.
 */
export const dropConstraint: Operation<DropConstraintSpec> = {
  name: 'drop-constraint',
  schema: dropConstraintSchema,
  describe: (spec) => `drop constraint ${spec.name} of ${spec.table}`,
  expand(spec) {
    const t = tableRef(spec.table);
    const saved = savedDefinition('constraint', t, spec.name);
    return [
      {
        kind: 'sql',
        name: 'validate-on-rollback',
        description: `nothing on up; on down, validates the re-added constraint ${spec.name} in a transaction of its own (ShareUpdateExclusiveLock: reads and writes go on)`,
        transaction: true,
        // A part that runs nothing forward and exists for its rollback, which runs after the re-add below.
        forward: [],
        rollback: [validateSql(t, spec.name, saved)],
        verify: [],
        locks: [],
      },
      {
        kind: 'sql',
        name: 'drop',
        description: `save the definition of constraint ${spec.name} in ferry.saved_definitions, then drop it from ${spec.table}`,
        transaction: true,
        forward: [saveDefinitionSql(saved, definitionQuery(t, spec.name)), `ALTER TABLE ${t.sql} DROP CONSTRAINT ${quoteIdent(spec.name)}`],
        rollback: [readdSql(t, spec.name, saved)],
        verify: [`SELECT NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.regclass} AND conname = ${quoteLiteral(spec.name)})`, isSavedSql(saved)],
        locks: [
          {
            relation: spec.table,
            mode: 'AccessExclusiveLock',
            held: 'catalog only, milliseconds (dropping a foreign key takes it on the referenced table too). Rolling back a UNIQUE or PRIMARY KEY rebuilds its index under this lock, a full scan that blocks reads and writes: fine for small tables only',
          },
        ],
      },
    ];
  },
  contract: () => [],
  check(spec, schema) {
    const problems = tableProblems(schema, spec.table);
    const key = schema.keyOf(spec.table);
    const t = schema.known(key);
    if (problems.length === 0 && t && !t.constraints.has(spec.name)) problems.push(`table ${key} has no constraint ${quoted(spec.name)}`);
    return problems;
  },
  apply(spec, schema) {
    const key = schema.keyOf(spec.table);
    const t = schema.tables.get(key);
    if (!t) return;
    t.constraints.delete(spec.name);
    // A UNIQUE or PRIMARY KEY constraint takes its index with it.
    if (t.uniqueKeys.delete(spec.name)) schema.relations.delete(`${tableRef(spec.table).schema}.${spec.name}`);
    if (t.primaryKey?.name === spec.name) t.primaryKey = null;
  },
};
