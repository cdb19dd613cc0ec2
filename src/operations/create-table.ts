import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { splitStatements } from '../db/sql-script.js';
import { identifier as identifierSchema, relationIsSql, tableName as tableNameSchema, tableRef } from './names.js';
import { applyStatement } from './sql-effects.js';
import type { Operation, SqlPart } from './types.js';

const columnSchema = z.strictObject({
  name: identifierSchema.describe("The column's name."),
  type: z.string().trim().min(1).describe("The column's type as SQL: `bigint`, `varchar(100)`, `timestamptz`."),
  nullable: z.boolean().optional().describe('Defaults to true, except for primary key columns.'),
  default: z.string().trim().min(1).optional().describe("Default expression as SQL: `now()`, `'pending'`."),
  primaryKey: z.boolean().optional().describe('Part of the (possibly composite) primary key.'),
  unique: z.boolean().optional().describe('A UNIQUE constraint on this column alone (named `<table>_<column>_key`).'),
  check: z.string().trim().min(1).optional().describe('A CHECK expression as SQL, e.g. `price >= 0` (named `<table>_<column>_check`).'),
  comment: z.string().min(1).optional().describe("The column's comment (COMMENT ON COLUMN)."),
});

/** The fields of a `create-table` step: structured `columns`, or a raw `definition` (the SQL between the parentheses). */
export const createTableSchema = z
  .strictObject({
    table: tableNameSchema.describe('The new table: `name` or `schema.name`.'),
    columns: z
      .array(columnSchema)
      .min(1)
      .optional()
      .describe('Structured columns {name, type, nullable?, default?, primaryKey?, unique?, check?, comment?}; give `columns` or `definition`.'),
    comment: z.string().min(1).optional().describe("The table's comment (COMMENT ON TABLE)."),
    definition: z.string().trim().min(1).optional().describe('The SQL between the parentheses of CREATE TABLE; instead of `columns`.'),
  })
  .refine((s) => (s.columns === undefined) !== (s.definition === undefined), 'give either columns or definition, not both')
  .refine((s) => new Set((s.columns ?? []).map((c) => c.name)).size === (s.columns ?? []).length, 'column names must be unique');

/** A `create-table` step's spec. */
export type CreateTableSpec = z.infer<typeof createTableSchema>;

function body(spec: CreateTableSpec): string {
  if (spec.definition !== undefined) return spec.definition;
  const columns = spec.columns ?? [];
  const lines = columns.map((c) => {
    const notNull = c.primaryKey === true || c.nullable === false;
    return [
      quoteIdent(c.name),
      c.type,
      notNull ? 'NOT NULL' : '',
      c.default === undefined ? '' : `DEFAULT ${c.default}`,
      c.unique ? 'UNIQUE' : '',
      c.check === undefined ? '' : `CHECK (${c.check})`,
    ]
      .filter(Boolean)
      .join(' ');
  });
  const key = columns.filter((c) => c.primaryKey === true).map((c) => quoteIdent(c.name));
  if (key.length > 0) lines.push(`PRIMARY KEY (${key.join(', ')})`);
  return lines.join(',\n  ');
}

/** The COMMENT statements of the table and its columns; they run in the CREATE TABLE's transaction, and DROP TABLE removes them. */
function commentsSql(spec: CreateTableSpec): string[] {
  const t = tableRef(spec.table);
  const table = spec.comment === undefined ? [] : [`COMMENT ON TABLE ${t.sql} IS ${quoteLiteral(spec.comment)}`];
  const columns = (spec.columns ?? []).flatMap((c) =>
    c.comment === undefined ? [] : [`COMMENT ON COLUMN ${t.sql}.${quoteIdent(c.name)} IS ${quoteLiteral(c.comment)}`],
  );
  return [...table, ...columns];
}

/** Create a new table. Nothing else can see it until the step commits, so its locks block no one. */
export const createTable: Operation<CreateTableSpec> = {
  name: 'create-table',
  schema: createTableSchema,
  describe(spec) {
    const n = spec.columns?.length;
    return n === undefined ? `create table ${spec.table} from its SQL definition` : `create table ${spec.table} with ${n} column${n === 1 ? '' : 's'}`;
  },
  expand(spec) {
    const t = tableRef(spec.table);
    const part: SqlPart = {
      kind: 'sql',
      name: 'create-table',
      description: `create table ${spec.table}`,
      transaction: true,
      forward: [`CREATE TABLE ${t.sql} (\n  ${body(spec)}\n)`, ...commentsSql(spec)],
      rollback: [`DROP TABLE ${t.sql}`],
      verify: [relationIsSql(t.regclass, ['r', 'p'])],
      locks: [
        {
          relation: spec.table,
          mode: 'AccessExclusiveLock',
          held:
            spec.definition === undefined
              ? 'on the new table only, until commit; no other session can see it yet'
              : 'on the new table only, until commit; tables its definition references (foreign keys) are locked too',
        },
      ],
    };
    return [part];
  },
  contract: () => [],
  check(spec, schema) {
    const key = schema.keyOf(spec.table);
    return schema.unknown === undefined && schema.relations.has(key) ? [`${key} already exists`] : [];
  },
  // The old shape has no such table: every row is lost.
  rollbackLoss: (spec, part) => (part === 'create-table' ? [{ table: spec.table, where: 'true' }] : []),
  apply(spec, schema) {
    for (const s of splitStatements(`CREATE TABLE ${tableRef(spec.table).sql} (\n  ${body(spec)}\n)`)) applyStatement(schema, s);
  },
};
