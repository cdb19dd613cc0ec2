import type { ColumnSnapshot, ConstraintSnapshot, FunctionSnapshot, SchemaSnapshot, TriggerSnapshot } from './catalog-snapshot.js';
import type { Queryable } from './database.js';

export { describeChange, diffSchemas, type SchemaChange } from './catalog-diff.js';
export { describeLockMode, type LockHeld, locksHeld, relationNames, sizeWithoutWaiting } from './catalog-locks.js';
export type {
  ColumnSnapshot,
  ConstraintSnapshot,
  ExtensionSnapshot,
  FunctionSnapshot,
  IndexSnapshot,
  SchemaSnapshot,
  SequenceSnapshot,
  TableSnapshot,
  TriggerSnapshot,
  ViewSnapshot,
} from './catalog-snapshot.js';

/** Schemas that are never part of a snapshot: PostgreSQL's own and ferry's state schema (`pg_*` is always skipped). */
export const ALWAYS_EXCLUDED_SCHEMAS: readonly string[] = ['information_schema', 'ferry'];

/** Options for {@link snapshotSchema}. */
export interface SnapshotOptions {
  /** More schemas to leave out, besides PostgreSQL's own and `ferry`. */
  excludeSchemas?: string[];
}

/** Code-unit order, independent of locale and collation. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sorted<T>(entries: [string, T][]): Record<string, T> {
  return Object.fromEntries(entries.sort((a, b) => byCodeUnit(a[0], b[0])));
}

// $1 is the excluded schema list; `n` the object's namespace.
const IN_SCOPE = `left(n.nspname, 3) <> 'pg_' AND n.nspname <> ALL($1::text[])`;
// Objects that belong to an extension are the extension's business, not the schema's.
const notInExtension = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

type Row = Record<string, string | boolean | null>;

const SQL = {
  schemas: `SELECT n.nspname AS schema FROM pg_namespace n WHERE ${IN_SCOPE} AND ${notInExtension('pg_namespace', 'n.oid')}`,
  extensions: `SELECT x.extname AS name, x.extversion AS version, n.nspname AS schema
      FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace WHERE n.nspname <> ALL($1::text[])`,
  enums: `SELECT n.nspname AS schema, t.typname AS name, x.enumlabel AS label
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum x ON x.enumtypid = t.oid
     WHERE t.typtype = 'e' AND ${IN_SCOPE} AND ${notInExtension('pg_type', 't.oid')}
     ORDER BY t.oid, x.enumsortorder`,
  sequences: `SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS type,
           s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min,
           s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
           (SELECT tn.nspname || '.' || t.relname || '.' || a.attname
              FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
              JOIN pg_namespace tn ON tn.oid = t.relnamespace
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
               AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') LIMIT 1) AS owned_by
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${IN_SCOPE} AND ${notInExtension('pg_class', 'c.oid')}`,
  tables: `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
           c.relpersistence = 'u' AS unlogged, c.relrowsecurity AS row_security,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
           CASE WHEN c.relispartition THEN
             (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid LIMIT 1)
             || ' ' || pg_get_expr(c.relpartbound, c.oid) END AS partition_of
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND ${IN_SCOPE} AND ${notInExtension('pg_class', 'c.oid')}`,
  columns: `SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
           format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
           pg_get_expr(ad.adbin, ad.adrelid) AS default, a.attidentity::text AS identity,
           a.attgenerated::text AS generated,
           CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(co.collname) END AS collation
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      LEFT JOIN pg_collation co ON co.oid = a.attcollation
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
       AND ${IN_SCOPE} AND ${notInExtension('pg_class', 'c.oid')}`,
  indexes: `SELECT n.nspname AS schema, i.relname AS name, tn.nspname || '.' || t.relname AS table,
           pg_get_indexdef(i.oid) AS definition, x.indisvalid AS valid
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
      JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
     WHERE ${IN_SCOPE} AND ${notInExtension('pg_class', 't.oid')}`,
  // PostgreSQL 18 catalogues NOT NULL as constraints; the column's notNull already says that, so
  // only an unvalidated one (which 15 cannot have) is worth reporting.
  constraints: `SELECT n.nspname AS schema, t.relname AS table, k.conname AS name, k.contype::text AS type,
           pg_get_constraintdef(k.oid) AS definition, k.convalidated AS validated
      FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE (k.contype <> 'n' OR NOT k.convalidated) AND ${IN_SCOPE} AND ${notInExtension('pg_class', 't.oid')}`,
  views: `SELECT n.nspname AS schema, c.relname AS name, c.relkind = 'm' AS materialized,
           pg_get_viewdef(c.oid, true) AS definition
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('v', 'm') AND ${IN_SCOPE} AND ${notInExtension('pg_class', 'c.oid')}`,
  // pg_get_functiondef refuses aggregates, so they are left out.
  functions: `SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
           p.prokind::text AS kind, pg_get_function_result(p.oid) AS returns, l.lanname AS language,
           md5(pg_get_functiondef(p.oid)) AS md5
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
     WHERE p.prokind <> 'a' AND ${IN_SCOPE} AND ${notInExtension('pg_proc', 'p.oid')}`,
  triggers: `SELECT n.nspname AS schema, c.relname AS table, g.tgname AS name,
           pg_get_triggerdef(g.oid) AS definition, g.tgenabled::text AS enabled
      FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT g.tgisinternal AND ${IN_SCOPE} AND ${notInExtension('pg_class', 'c.oid')}`,
} as const;

const CONSTRAINT_TYPES: Record<string, ConstraintSnapshot['type']> = {
  c: 'check',
  f: 'foreign key',
  p: 'primary key',
  u: 'unique',
  x: 'exclusion',
  t: 'trigger',
  n: 'not null',
};
const FUNCTION_KINDS: Record<string, FunctionSnapshot['kind']> = { f: 'function', p: 'procedure', w: 'window function' };
const TRIGGER_STATES: Record<string, TriggerSnapshot['enabled']> = { O: 'origin', D: 'disabled', R: 'replica', A: 'always' };

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

/**
 * Describe every user object of the database `db` is connected to, leaving out
 * PostgreSQL's own schemas, `ferry` and `excludeSchemas`. Two snapshots compare
 * meaningfully only when taken with the same search_path (names visible on it are
 * printed unqualified by PostgreSQL).
 */
export async function snapshotSchema(db: Queryable, opts: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  const excluded = [...ALWAYS_EXCLUDED_SCHEMAS, ...(opts.excludeSchemas ?? [])];
  const run = async (sql: string) => (await db.query<Row>(sql, [excluded])).rows;
  // One statement at a time: a Queryable may be a single session or an open transaction.
  const r = {
    schemas: await run(SQL.schemas),
    extensions: await run(SQL.extensions),
    enums: await run(SQL.enums),
    sequences: await run(SQL.sequences),
    tables: await run(SQL.tables),
    columns: await run(SQL.columns),
    indexes: await run(SQL.indexes),
    constraints: await run(SQL.constraints),
    views: await run(SQL.views),
    functions: await run(SQL.functions),
    triggers: await run(SQL.triggers),
  };
  const q = (row: Row, name = 'name') => `${str(row.schema)}.${str(row[name])}`;

  const labels = new Map<string, string[]>();
  for (const row of r.enums) {
    const key = q(row);
    labels.set(key, [...(labels.get(key) ?? []), str(row.label)]);
  }
  const columns = new Map<string, [string, ColumnSnapshot][]>();
  for (const row of r.columns) {
    const key = q(row, 'table');
    const identity = row.identity === 'a' ? 'always' : row.identity === 'd' ? 'by default' : null;
    const generated = row.generated === 's' ? 'stored' : row.generated === 'v' ? 'virtual' : null;
    const column: ColumnSnapshot = {
      type: str(row.type),
      notNull: row.not_null === true,
      default: strOrNull(row.default),
      identity,
      generated,
      collation: strOrNull(row.collation),
    };
    columns.set(key, [...(columns.get(key) ?? []), [str(row.name), column]]);
  }

  return {
    schemas: r.schemas.map((row) => str(row.schema)).sort(byCodeUnit),
    extensions: sorted(r.extensions.map((row) => [str(row.name), { version: str(row.version), schema: str(row.schema) }])),
    enums: sorted([...labels]),
    sequences: sorted(
      r.sequences.map((row) => [
        q(row),
        {
          type: str(row.type),
          start: str(row.start),
          increment: str(row.increment),
          min: str(row.min),
          max: str(row.max),
          cache: str(row.cache),
          cycle: row.cycle === true,
          ownedBy: strOrNull(row.owned_by),
        },
      ]),
    ),
    tables: sorted(
      r.tables.map((row) => [
        q(row),
        {
          kind: row.kind === 'p' ? 'partitioned table' : 'table',
          unlogged: row.unlogged === true,
          rowSecurity: row.row_security === true,
          partitionKey: strOrNull(row.partition_key),
          partitionOf: strOrNull(row.partition_of),
          columns: sorted(columns.get(q(row)) ?? []),
        },
      ]),
    ),
    indexes: sorted(r.indexes.map((row) => [q(row), { table: str(row.table), definition: str(row.definition), valid: row.valid === true }])),
    constraints: sorted(
      r.constraints.map((row) => [
        `${q(row, 'table')}.${str(row.name)}`,
        {
          table: q(row, 'table'),
          type: CONSTRAINT_TYPES[str(row.type)] ?? 'check',
          definition: str(row.definition),
          validated: row.validated === true,
        },
      ]),
    ),
    views: sorted(r.views.map((row) => [q(row), { materialized: row.materialized === true, definition: str(row.definition) }])),
    functions: sorted(
      r.functions.map((row) => [
        `${q(row)}(${str(row.args)})`,
        {
          kind: FUNCTION_KINDS[str(row.kind)] ?? 'function',
          returns: strOrNull(row.returns),
          language: str(row.language),
          md5: str(row.md5),
        },
      ]),
    ),
    triggers: sorted(
      r.triggers.map((row) => [
        `${q(row, 'table')}.${str(row.name)}`,
        { table: q(row, 'table'), definition: str(row.definition), enabled: TRIGGER_STATES[str(row.enabled)] ?? 'origin' },
      ]),
    ),
  };
}
