import { z } from 'zod';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { boundedName, identifier, type TableRef, tableRef } from './names.js';
import { doBlock } from './plpgsql.js';
import { dropSync, previousContract } from './sync.js';
import type { LockNote, SqlPart } from './types.js';
import type { VirtualSchema } from './virtual-schema.js';

export { boundedName, type TableRef, tableName, tableRef } from './names.js';
export { doBlock, dollarQuote } from './plpgsql.js';
export { dropSync, previousContract, syncPart } from './sync.js';
export type { SyncTrigger } from './types.js';

/** A column or other identifier as PostgreSQL stores it (unquoted, case kept). */
export const columnName = identifier;

/** An SQL type as the migration author writes it (`bigint`, `varchar(100)`, `numeric(12,2)[]`); no statement separators. */
export const sqlType = z
  .string()
  .regex(/^[A-Za-z_][\w\s.,()"[\]]*$/, 'must be an SQL type name such as bigint or varchar(100)')
  .describe('An SQL type, e.g. `text`, `bigint` or `varchar(100)`.');

/** One SQL expression of the migration author's own code, over the row's columns. */
export const sqlExpression = z.string().min(1).describe("An SQL expression over the row's columns.");

/** Optional names of the schemas that hold the old-shape and new-shape views. */
export const compatField = z
  .strictObject({
    old: columnName.optional().describe('Schema of the old-shape view; default `ferry_v1_<table>`.'),
    new: columnName.optional().describe('Schema of the new-shape view; default `ferry_v2_<table>`.'),
  })
  .optional()
  .describe(
    'Names of the schemas holding the old- and new-shape views. The views list the table\'s columns as they are when the views are created: a column added later does not appear in them until they are recreated (docs/manifest.md, "Compat views freeze the column list").',
  );

/** The `compat` field of a spec: where the versioned views go. */
export type CompatNames = z.output<typeof compatField>;

/** The two view schemas of a table: `ferry_v1_<table>` (old shape) and `ferry_v2_<table>` (new shape), unless `compat` names them. */
export function viewSchemas(t: TableRef, compat: CompatNames): { old: string; new: string } {
  const base = t.schema === 'public' ? [t.name] : [t.schema, t.name];
  return { old: compat?.old ?? boundedName('ferry_v1', ...base), new: compat?.new ?? boundedName('ferry_v2', ...base) };
}

/**
 * What a view shows of its table: every column but `hide`, with `rename`
 * (column → shown name) and `replace` (column → the column shown in its place,
 * under its name, or under its new name when it is renamed too) applied in place.
 */
export interface ViewShape {
  hide: string[];
  rename?: Record<string, string>;
  replace?: Record<string, string>;
}

/** `CREATE VIEW` of `shape` over `t` in `schema`, with the column list read from pg_attribute when it runs. */
export function createView(t: TableRef, schema: string, shape: ViewShape): string {
  const replace = shape.replace ?? {};
  // A replaced column that is also renamed shows its source under the new name.
  const cases = [
    ...Object.entries(shape.rename ?? {})
      .filter(([from]) => !(from in replace))
      .map(([from, to]) => `WHEN ${quoteLiteral(from)} THEN format('%I AS %I', a.attname, ${quoteLiteral(to)})`),
    ...Object.entries(replace).map(([at, source]) => {
      const to = shape.rename?.[at];
      return `WHEN ${quoteLiteral(at)} THEN format('%I AS %I', ${quoteLiteral(source)}, ${to === undefined ? 'a.attname' : quoteLiteral(to)})`;
    }),
  ];
  const item = cases.length ? `CASE a.attname ${cases.join(' ')} ELSE format('%I', a.attname) END` : `format('%I', a.attname)`;
  const hidden = shape.hide.length ? `AND a.attname <> ALL (ARRAY[${shape.hide.map(quoteLiteral).join(', ')}]::name[])` : '';
  return doBlock(
    `  SELECT string_agg(${item}, ', ' ORDER BY a.attnum) INTO cols FROM pg_attribute a
   WHERE a.attrelid = ${t.oid} AND a.attnum > 0 AND NOT a.attisdropped ${hidden};
  EXECUTE format('CREATE VIEW %I.%I AS SELECT %s FROM %I.%I', ${quoteLiteral(schema)}, ${quoteLiteral(t.name)}, cols, ${quoteLiteral(t.schema)}, ${quoteLiteral(t.name)});`,
    'cols text;',
  );
}

/** Drop a view schema if nothing but ferry's views was ever in it and they are gone. */
export const dropSchemaIfEmpty = (schema: string): string =>
  doBlock(`  DROP SCHEMA IF EXISTS ${quoteIdent(schema)} RESTRICT;
EXCEPTION WHEN dependent_objects_still_exist THEN NULL;`);

/** Statements removing both compat views of `t` and their schemas once empty. */
export function dropViews(t: TableRef, schemas: { old: string; new: string }): string[] {
  return [
    `DROP VIEW IF EXISTS ${quoteQualified(schemas.new, t.name)}`,
    `DROP VIEW IF EXISTS ${quoteQualified(schemas.old, t.name)}`,
    dropSchemaIfEmpty(schemas.new),
    dropSchemaIfEmpty(schemas.old),
  ];
}

/** True when relation `schema.name` exists. */
export const relationExists = (schema: string, name: string): string => `SELECT to_regclass(${quoteLiteral(quoteQualified(schema, name))}) IS NOT NULL`;

/** An SQL condition: `t` has column `column`. */
export const hasColumn = (t: TableRef, column: string): string =>
  `EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = ${t.oid} AND attname = ${quoteLiteral(column)} AND attnum > 0 AND NOT attisdropped)`;

/** True when `t` has (or, with `present` false, lacks) column `column`. */
export const columnCheck = (t: TableRef, column: string, present = true): string => `SELECT ${present ? '' : 'NOT '}${hasColumn(t, column)}`;

/**
 * The part that publishes both shapes as plain auto-updatable views: `old` in
 * the old-shape schema, `fresh` in the new-shape one. `extraVerify` checks more
 * than that the views exist; `extraRollback` runs on down after the views are gone.
 */
export function viewsPart(
  t: TableRef,
  schemas: { old: string; new: string },
  old: ViewShape,
  fresh: ViewShape,
  extraVerify: string[] = [],
  extraRollback: string[] = [],
): SqlPart {
  return {
    kind: 'sql',
    name: 'compat-views',
    description: `views ${schemas.old}.${t.name} (old shape) and ${schemas.new}.${t.name} (new shape) over ${t.display}`,
    transaction: true,
    forward: [
      `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schemas.old)}`,
      `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schemas.new)}`,
      createView(t, schemas.old, old),
      createView(t, schemas.new, fresh),
    ],
    rollback: [...dropViews(t, schemas), ...extraRollback],
    verify: [relationExists(schemas.old, t.name), relationExists(schemas.new, t.name), ...extraVerify],
    locks: [{ relation: t.display, mode: 'AccessShareLock', held: 'CREATE VIEW reads the table definition; catalog only, milliseconds' }],
    compose: { role: 'views', verify: extraVerify, rollback: extraRollback },
  };
}

/** Lock notes of a contract that drops the views and alters the table, views first so writers through a view never deadlock with it. */
export function contractLocks(t: TableRef, schemas: { old: string; new: string }, what: string): LockNote[] {
  return [
    { relation: `${schemas.new}.${t.name}`, mode: 'AccessExclusiveLock', held: 'DROP VIEW, until commit; catalog only, milliseconds' },
    { relation: `${schemas.old}.${t.name}`, mode: 'AccessExclusiveLock', held: 'DROP VIEW, until commit; catalog only, milliseconds' },
    { relation: t.display, mode: 'AccessExclusiveLock', held: `${what}; catalog only, milliseconds` },
  ];
}

const plainRow = (cols: string[]) => `ROW(${cols.map(quoteIdent).join(', ')})`;

/** The backfill predicate of rows whose new columns were never computed: all new columns NULL while some old one is not. */
export const unsyncedRows = (oldColumns: string[], newColumns: string[]): string => `${plainRow(newColumns)} IS NULL AND NOT ${plainRow(oldColumns)} IS NULL`;

/** True when both compat views of `t` are gone. */
export const viewsGone = (t: TableRef, schemas: { old: string; new: string }): string =>
  `SELECT ${[schemas.old, schemas.new].map((v) => `to_regclass(${quoteLiteral(quoteQualified(v, t.name))}) IS NULL`).join(' AND ')}`;

/** The contract part of a column operation: drop both views, the sync trigger (when there is one) and the old column(s), views first. */
export function dropOldShapePart(t: TableRef, compat: CompatNames, o: { name: string; columns: string[]; syncKey?: string }): SqlPart {
  const schemas = viewSchemas(t, compat);
  const views = dropViews(t, schemas);
  const sync = o.syncKey === undefined ? [] : dropSync({ t, key: o.syncKey });
  const drop = `ALTER TABLE ${t.sql} ${o.columns.map((c) => `DROP COLUMN ${quoteIdent(c)}`).join(', ')}`;
  const part: SqlPart = {
    kind: 'sql',
    name: o.name,
    description: `drop the views${sync.length ? ', the sync trigger' : ''} and ${o.columns.join(', ')} of ${t.display}`,
    transaction: true,
    forward: [...views.slice(0, 2), ...sync, drop, ...views.slice(2)],
    rollback: [],
    verify: [...o.columns.map((c) => columnCheck(t, c, false)), viewsGone(t, schemas)],
    locks: contractLocks(t, schemas, `${sync.length ? 'DROP TRIGGER and ' : ''}DROP COLUMN, until commit`),
    compose: { role: 'reshape', statements: [drop] },
  };
  return o.syncKey === undefined ? part : { ...part, previous: previousContract(part, { t, key: o.syncKey }) };
}

/** Problems with publishing compat views of `table`: views of that name must not exist yet (another migration's, not contracted). */
export function viewProblems(schema: VirtualSchema, table: string, compat: CompatNames): string[] {
  const t = tableRef(table);
  const v = viewSchemas(t, compat);
  return [v.old, v.new]
    .filter((s) => schema.relations.has(`${s}.${t.name}`))
    .map((s) => `view ${s}.${t.name} already exists: another migration's compat views of ${t.schema}.${t.name} are not contracted yet`);
}
