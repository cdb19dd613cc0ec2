import { z } from 'zod';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { identifier as identifierSchema, type TableRef, tableName as tableNameSchema, tableRef } from './names.js';
import type { Operation, SqlPart } from './types.js';
import { relationNameProblems, tableProblems } from './virtual-schema.js';

/** The index access methods PostgreSQL ships with. */
export const INDEX_METHODS = ['btree', 'hash', 'gist', 'spgist', 'gin', 'brin'] as const;

/** The fields of an `add-index` step: key `columns`, or one key `expression` (SQL, e.g. `lower(email)`). */
export const addIndexSchema = z
  .strictObject({
    table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    name: identifierSchema.describe("The index's name; it lives in the table's schema."),
    columns: z.array(identifierSchema).min(1).optional().describe('Key columns; give `columns` or `expression`.'),
    expression: z.string().trim().min(1).optional().describe('One key expression as SQL, e.g. `lower(email)`; instead of `columns`.'),
    using: z.enum(INDEX_METHODS).optional().describe('Index access method; default btree.'),
    unique: z.boolean().optional().describe('A unique index.'),
    where: z.string().trim().min(1).optional().describe('Partial index predicate, as SQL: `deleted_at IS NULL`.'),
  })
  .refine((s) => (s.columns === undefined) !== (s.expression === undefined), 'give either columns or expression, not both');

/** An `add-index` step's spec. */
export type AddIndexSpec = z.infer<typeof addIndexSchema>;

/** What {@link buildIndexPart} needs: the table, the index name and the text after `ON table`. */
export interface IndexBuild {
  table: string;
  name: string;
  unique: boolean;
  /** `USING gin ("a", "b") WHERE (…)`: everything after the table name. */
  definition: string;
  /** The step part's name. */
  part: string;
}

/** A verify query: true when the index exists on the table and is valid (usable by the planner). */
export function indexIsValidSql(t: TableRef, index: string): string {
  const idx = quoteLiteral(quoteQualified(t.schema, index));
  return `SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(${idx}) AND indrelid = ${t.regclass} AND indisvalid)`;
}

/**
 * Statements that drop the index left INVALID by a failed or killed concurrent
 * build: the first refuses (raises) when the index is valid, so a retry after,
 * say, a name clash never drops an index that was already there.
 */
function cleanupSql(t: TableRef, index: string): string[] {
  const qualified = quoteQualified(t.schema, index);
  const guard = `BEGIN
  IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass(${quoteLiteral(qualified)}) AND indisvalid) THEN
    RAISE EXCEPTION 'index % is valid: cleanup drops only an INVALID index left by a failed build', ${quoteLiteral(qualified)};
  END IF;
END`;
  // The DO body is a plain quoted literal, never dollar-quoted: user names cannot end it early.
  return [`DO ${quoteLiteral(guard)}`, `DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`];
}

/**
 * The non-transactional part that builds an index with `CREATE INDEX CONCURRENTLY`:
 * reads and writes go on during the build; a failed build is cleaned up before a retry.
 */
export function buildIndexPart(b: IndexBuild): SqlPart {
  const t = tableRef(b.table);
  const qualified = quoteQualified(t.schema, b.name);
  return {
    kind: 'sql',
    name: b.part,
    description: `build ${b.unique ? 'unique ' : ''}index ${b.name} on ${b.table} without blocking writes`,
    transaction: false,
    forward: [`CREATE ${b.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${quoteIdent(b.name)} ON ${t.sql} ${b.definition}`],
    rollback: [`DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`],
    verify: [indexIsValidSql(t, b.name)],
    cleanup: cleanupSql(t, b.name),
    locks: [
      {
        relation: b.table,
        mode: 'ShareUpdateExclusiveLock',
        held: 'for the whole build (two table scans, and waits for transactions older than the build); reads and writes go on, other DDL and VACUUM wait',
      },
    ],
  };
}

/** Add an index without blocking writes (`CREATE INDEX CONCURRENTLY`). */
export const addIndex: Operation<AddIndexSpec> = {
  name: 'add-index',
  schema: addIndexSchema,
  describe(spec) {
    const key = spec.columns?.join(', ') ?? spec.expression;
    return `add ${spec.unique ? 'unique ' : ''}${spec.using ?? 'btree'} index ${spec.name} on ${spec.table} (${key})${spec.where ? ` where ${spec.where}` : ''}`;
  },
  expand(spec) {
    const key = spec.columns ? spec.columns.map(quoteIdent).join(', ') : `(${spec.expression})`;
    const using = spec.using ? `USING ${spec.using} ` : '';
    const where = spec.where === undefined ? '' : ` WHERE (${spec.where})`;
    return [buildIndexPart({ table: spec.table, name: spec.name, unique: spec.unique === true, definition: `${using}(${key})${where}`, part: 'build-index' })];
  },
  contract: () => [],
  check: (spec, schema) => [...tableProblems(schema, spec.table, { has: spec.columns ?? [] }), ...relationNameProblems(schema, spec.table, spec.name, 'index')],
  apply(spec, schema) {
    const key = schema.keyOf(spec.table);
    schema.relations.set(`${tableRef(spec.table).schema}.${spec.name}`, 'index');
    if (spec.unique && spec.columns && spec.where === undefined) schema.tables.get(key)?.uniqueKeys.set(spec.name, spec.columns);
  },
};
