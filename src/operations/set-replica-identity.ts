import { z } from 'zod';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { identifier as identifierSchema, type TableRef, tableName as tableNameSchema, tableRef } from './names.js';
import { alterTableSql, forgetDefinitionSql, isSavedSql, literalDoBlock, saveDefinitionSql, savedDefinition, savedDefinitionSql } from './saved-definitions.js';
import type { Operation } from './types.js';
import { quoted, tableProblems } from './virtual-schema.js';

/** The fields of a `set-replica-identity` step. */
export const setReplicaIdentitySchema = z.strictObject({
  table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
  identity: z
    .union([
      z.enum(['default', 'full', 'nothing']),
      z.strictObject({ index: identifierSchema.describe('A unique, non-partial, non-deferrable index on NOT NULL columns of the table.') }),
    ])
    .describe(
      'What logical replication logs to identify an updated or deleted row: `default` (the primary key), `full` (the whole row), `nothing`, or `{"index": name}`.',
    ),
});

/** A `set-replica-identity` step's spec. */
export type SetReplicaIdentitySpec = z.infer<typeof setReplicaIdentitySchema>;

/** The `REPLICA IDENTITY` clause of an identity. */
function clause(identity: SetReplicaIdentitySpec['identity']): string {
  return typeof identity === 'string' ? identity.toUpperCase() : `USING INDEX ${quoteIdent(identity.index)}`;
}

/** SQL: the table's replica identity now, as the clause that sets it back. */
const currentClauseSql = (t: TableRef) => `SELECT CASE c.relreplident WHEN 'd' THEN 'DEFAULT' WHEN 'f' THEN 'FULL' WHEN 'n' THEN 'NOTHING'
    ELSE 'USING INDEX ' || quote_ident((SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident)) END
  FROM pg_class c WHERE c.oid = ${t.oid}`;

/** A verify query: true when the table's replica identity is `identity`. */
function isIdentitySql(t: TableRef, identity: SetReplicaIdentitySpec['identity']): string {
  if (typeof identity === 'string')
    return `SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = ${t.regclass} AND relreplident = ${quoteLiteral(identity.charAt(0))})`;
  const index = quoteLiteral(quoteQualified(t.schema, identity.index));
  return `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_index x ON x.indrelid = c.oid WHERE c.oid = ${t.regclass} AND c.relreplident = 'i' AND x.indexrelid = to_regclass(${index}) AND x.indisreplident)`;
}

/**
 * Set what logical replication logs to identify changed rows (`ALTER TABLE …
 * REPLICA IDENTITY`, catalog only). The previous identity is only known when the
 * step runs, so it is saved in `ferry.saved_definitions` (under the identity the
 * step sets) and rollback sets it back exactly, index included.
 */
export const setReplicaIdentity: Operation<SetReplicaIdentitySpec> = {
  name: 'set-replica-identity',
  schema: setReplicaIdentitySchema,
  describe: (spec) => `set the replica identity of ${spec.table} to ${typeof spec.identity === 'string' ? spec.identity : `index ${spec.identity.index}`}`,
  expand(spec) {
    const t = tableRef(spec.table);
    const target = clause(spec.identity);
    const saved = savedDefinition('replica-identity', t, target);
    const restore = literalDoBlock(
      `  IF d IS NULL THEN
    RAISE EXCEPTION 'the replica identity of table % cannot be set back: it is not in ferry.saved_definitions', ${quoteLiteral(t.display)};
  END IF;
  ${alterTableSql(t, 'REPLICA IDENTITY %s', 'd')}
  ${forgetDefinitionSql(saved)};`,
      `d text := ${savedDefinitionSql(saved)};`,
    );
    return [
      {
        kind: 'sql',
        name: 'set-identity',
        description: `save the replica identity of ${spec.table} in ferry.saved_definitions, then set it to ${target}`,
        transaction: true,
        forward: [saveDefinitionSql(saved, currentClauseSql(t)), `ALTER TABLE ${t.sql} REPLICA IDENTITY ${target}`],
        rollback: [restore],
        verify: [isIdentitySql(t, spec.identity), isSavedSql(saved)],
        locks: [{ relation: spec.table, mode: 'AccessExclusiveLock', held: 'catalog only, milliseconds' }],
      },
    ];
  },
  contract: () => [],
  check(spec, schema) {
    const problems = tableProblems(schema, spec.table);
    const key = schema.keyOf(spec.table);
    const t = schema.known(key);
    if (problems.length > 0 || !t || typeof spec.identity === 'string') return problems;
    const columns = t.uniqueKeys.get(spec.identity.index);
    if (!columns) problems.push(`table ${key} has no unique, non-partial index ${quoted(spec.identity.index)} on plain columns to use as its replica identity`);
    const nullable = (columns ?? []).filter((c) => !t.columns.get(c)?.notNull);
    if (nullable.length > 0)
      problems.push(`index ${quoted(spec.identity.index)} cannot be the replica identity of table ${key}: ${nullable.map(quoted).join(', ')} may be NULL`);
    return problems;
  },
};
