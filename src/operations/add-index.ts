import { z } from 'zod';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { identifier as identifierSchema, type TableRef, tableName as tableNameSchema, tableRef } from './names.js';
import type { Operation, SqlPart } from './types.js';
import { relationNameProblems, tableProblems } from './virtual-schema.js';

/** The index access methods PostgreSQL ships with. */
export const INDEX_METHODS = ['btree', 'hash', 'gist', 'spgist', 'gin', 'brin'] as const;

/** An operator class, optionally schema-qualified: `text_pattern_ops`, `public.gin_trgm_ops`; each part is quoted as written. */
const opclassSchema = z
  .string()
  .regex(/^[^.\0]+(\.[^.\0]+)?$/, 'must be an operator class name, optionally schema-qualified (schema.opclass)')
  .refine((s) => s.split('.').every((p) => Buffer.byteLength(p, 'utf8') <= 63), 'each part of an operator class name is at most 63 bytes');

/** One key column: its name, or its name with an operator class, a sort order and where NULLs sort. */
const indexColumnSchema = z.union([
  identifierSchema,
  z.strictObject({
    name: identifierSchema.describe('The column.'),
    opclass: opclassSchema.optional().describe('Operator class, e.g. `text_pattern_ops` or `public.gin_trgm_ops`.'),
    order: z.enum(['asc', 'desc']).optional().describe('Sort order (btree); default asc.'),
    nulls: z.enum(['first', 'last']).optional().describe('Where NULLs sort (btree); default last for asc, first for desc.'),
  }),
]);

/** A key column of an `add-index` spec: a name, or a name with options. */
export type IndexColumn = z.infer<typeof indexColumnSchema>;

/** A storage parameter's value: a number, a boolean or a simple word (`on`, `auto`); always written as a quoted literal. */
const storageValueSchema = z.union([
  z.number().finite(),
  z.boolean(),
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a storage parameter value is a number, a boolean or a simple word'),
]);

/** The index methods that take INCLUDE columns. */
const INCLUDE_METHODS = new Set(['btree', 'gist', 'spgist']);

/** The fields of an `add-index` step: key `columns`, or one key `expression` (SQL, e.g. `lower(email)`). */
export const addIndexSchema = z
  .strictObject({
    table: tableNameSchema.describe('The table: `users` or `schema.users`.'),
    name: identifierSchema.describe("The index's name; it lives in the table's schema."),
    columns: z
      .array(indexColumnSchema)
      .min(1)
      .optional()
      .describe('Key columns, each a name or {name, opclass?, order?, nulls?}; give `columns` or `expression`.'),
    expression: z.string().trim().min(1).optional().describe('One key expression as SQL, e.g. `lower(email)`; instead of `columns`.'),
    using: z.enum(INDEX_METHODS).optional().describe('Index access method; default btree.'),
    unique: z.boolean().optional().describe('A unique index.'),
    include: z.array(identifierSchema).min(1).optional().describe('Non-key columns stored in the index (INCLUDE), for index-only scans; btree, gist, spgist.'),
    nullsNotDistinct: z.boolean().optional().describe('A unique index that treats NULLs as equal (NULLS NOT DISTINCT, PostgreSQL 15+).'),
    with: z
      .record(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a storage parameter is a lowercase identifier: fillfactor, deduplicate_items …'), storageValueSchema)
      .optional()
      .describe('Storage parameters, e.g. `{ "fillfactor": 70 }`.'),
    where: z.string().trim().min(1).optional().describe('Partial index predicate, as SQL: `deleted_at IS NULL`.'),
  })
  .refine((s) => (s.columns === undefined) !== (s.expression === undefined), 'give either columns or expression, not both')
  .refine((s) => s.include === undefined || INCLUDE_METHODS.has(s.using ?? 'btree'), {
    message: 'INCLUDE needs a btree, gist or spgist index',
    path: ['include'],
  })
  .refine((s) => !s.nullsNotDistinct || s.unique === true, { message: 'nullsNotDistinct is for unique indexes', path: ['nullsNotDistinct'] })
  .refine(
    (s) => (s.using ?? 'btree') === 'btree' || (s.columns ?? []).every((c) => typeof c === 'string' || (c.order === undefined && c.nulls === undefined)),
    {
      message: 'order and nulls are for btree indexes',
      path: ['columns'],
    },
  );

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

/** A key column's name, whether given bare or with options. */
export const indexColumnName = (c: IndexColumn): string => (typeof c === 'string' ? c : c.name);

/** One key column as SQL: `"email"`, or `"email" "text_pattern_ops" DESC NULLS LAST`; a bare name gives the SQL ferry always gave. */
function keyColumnSql(c: IndexColumn): string {
  if (typeof c === 'string') return quoteIdent(c);
  const opclass = c.opclass === undefined ? [] : [quoteQualified(...c.opclass.split('.'))];
  const order = c.order === undefined ? [] : [c.order.toUpperCase()];
  const nulls = c.nulls === undefined ? [] : [`NULLS ${c.nulls.toUpperCase()}`];
  return [quoteIdent(c.name), ...opclass, ...order, ...nulls].join(' ');
}

/** `WITH ("fillfactor" = '70')`: names quoted, every value a quoted literal (PostgreSQL parses it for the parameter). */
function storageSql(params: Record<string, number | boolean | string>): string {
  const pairs = Object.entries(params).map(([k, v]) => `${quoteIdent(k)} = ${quoteLiteral(String(v))}`);
  return pairs.length === 0 ? '' : ` WITH (${pairs.join(', ')})`;
}

/** Everything after `ON table` in the CREATE INDEX of a spec; specs without the newer options give the same text as before. */
export function indexDefinition(spec: AddIndexSpec): string {
  const key = spec.columns ? spec.columns.map(keyColumnSql).join(', ') : `(${spec.expression})`;
  const using = spec.using ? `USING ${spec.using} ` : '';
  const include = spec.include === undefined ? '' : ` INCLUDE (${spec.include.map(quoteIdent).join(', ')})`;
  const nulls = spec.nullsNotDistinct ? ' NULLS NOT DISTINCT' : '';
  const where = spec.where === undefined ? '' : ` WHERE (${spec.where})`;
  return `${using}(${key})${include}${nulls}${storageSql(spec.with ?? {})}${where}`;
}

/** Add an index without blocking writes (`CREATE INDEX CONCURRENTLY`). */
export const addIndex: Operation<AddIndexSpec> = {
  name: 'add-index',
  schema: addIndexSchema,
  describe(spec) {
    const key = spec.columns?.map(indexColumnName).join(', ') ?? spec.expression;
    return `add ${spec.unique ? 'unique ' : ''}${spec.using ?? 'btree'} index ${spec.name} on ${spec.table} (${key})${spec.where ? ` where ${spec.where}` : ''}`;
  },
  expand(spec) {
    return [buildIndexPart({ table: spec.table, name: spec.name, unique: spec.unique === true, definition: indexDefinition(spec), part: 'build-index' })];
  },
  contract: () => [],
  check: (spec, schema) => [
    ...tableProblems(schema, spec.table, { has: [...(spec.columns ?? []).map(indexColumnName), ...(spec.include ?? [])] }),
    ...relationNameProblems(schema, spec.table, spec.name, 'index'),
  ],
  apply(spec, schema) {
    const key = schema.keyOf(spec.table);
    schema.relations.set(`${tableRef(spec.table).schema}.${spec.name}`, 'index');
    if (spec.unique && spec.columns && spec.where === undefined) schema.tables.get(key)?.uniqueKeys.set(spec.name, spec.columns.map(indexColumnName));
  },
};
