import { ALWAYS_EXCLUDED_SCHEMAS, sizeWithoutWaiting } from '../db/catalog.js';
import type { Queryable } from '../db/database.js';
import { quoteLiteral } from '../db/quote.js';

/** One column of a table as the catalog has it: enough to tell whether a type change rewrites the table. */
export interface CatalogColumn {
  /** `format_type` of the column, e.g. `character varying(100)`. */
  type: string;
  /** The type's own name (`varchar`, `numeric`, `_int4` for an array) and its schema. */
  typeName: string;
  typeSchema: string;
  /** `pg_attribute.atttypmod`: -1 when the type has no modifier. */
  typmod: number;
  /** The column's collation when it differs from its type's default (`C`), else null. */
  collation: string | null;
}

/** A table (or materialized view) with its size and columns. */
export interface CatalogTable {
  schema: string;
  name: string;
  kind: 'table' | 'partitioned table' | 'materialized view';
  /** The planner's row estimate (`pg_class.reltuples`); null when the table was never analysed. */
  rows: number | null;
  /** Table, indexes and TOAST, in bytes (`pg_total_relation_size`). */
  bytes: number;
  columns: Record<string, CatalogColumn>;
}

/** An index, in its table's schema. */
export interface CatalogIndex {
  schema: string;
  name: string;
  /** The table it indexes (same schema). */
  table: string;
  bytes: number;
}

/**
 * What the linter knows of a live database, read once before linting: the
 * search path (to resolve unqualified names), every user table with its size
 * and column types, and every index. A plain value, so rules stay pure.
 */
export interface LintCatalog {
  /** `current_schemas(false)`: where unqualified names are looked up, and the first is where new ones go. */
  searchPath: string[];
  tables: CatalogTable[];
  indexes: CatalogIndex[];
}

/** The user's schemas: not PostgreSQL's own, not ferry's state. */
const USER_SCHEMAS = `n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN (${ALWAYS_EXCLUDED_SCHEMAS.map(quoteLiteral).join(', ')})`;
const KINDS: Record<string, CatalogTable['kind']> = { r: 'table', p: 'partitioned table', m: 'materialized view' };

/** Read the catalog the linter needs (three queries, read-only) from `db`. */
export async function readLintCatalog(db: Queryable): Promise<LintCatalog> {
  const path = await db.query<{ s: string }>('SELECT s::text AS s FROM unnest(current_schemas(false)) WITH ORDINALITY AS u(s, i) ORDER BY i');
  const tables = await db.query<{ schema: string; name: string; kind: string; reltuples: number; bytes: string }>(
    `SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind, c.reltuples::float8 AS reltuples,
            (${sizeWithoutWaiting('c.oid')})::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'm') AND ${USER_SCHEMAS}
      ORDER BY 1, 2`,
  );
  const columns = await db.query<{
    schema: string;
    table: string;
    column: string;
    type: string;
    type_name: string;
    type_schema: string;
    typmod: number;
    collation: string | null;
  }>(
    `SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS column, format_type(a.atttypid, a.atttypmod) AS type,
            t.typname::text AS type_name, tn.nspname::text AS type_schema, a.atttypmod AS typmod,
            CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END AS collation
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_type t ON t.oid = a.atttypid
       JOIN pg_namespace tn ON tn.oid = t.typnamespace
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm') AND ${USER_SCHEMAS}
      ORDER BY 1, 2, a.attnum`,
  );
  const indexes = await db.query<{ schema: string; name: string; table: string; bytes: string }>(
    `SELECT n.nspname::text AS schema, ic.relname::text AS name, tc.relname::text AS table, (${sizeWithoutWaiting('ic.oid')})::text AS bytes
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class tc ON tc.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = ic.relnamespace
      WHERE ${USER_SCHEMAS}
      ORDER BY 1, 2`,
  );
  const byKey = new Map<string, CatalogTable>();
  const out: LintCatalog = { searchPath: path.rows.map((r) => r.s), tables: [], indexes: [] };
  for (const r of tables.rows) {
    const t: CatalogTable = {
      schema: r.schema,
      name: r.name,
      kind: KINDS[r.kind] ?? 'table',
      rows: r.reltuples < 0 ? null : Math.round(r.reltuples),
      bytes: Number(r.bytes),
      columns: {},
    };
    byKey.set(`${r.schema}\0${r.name}`, t);
    out.tables.push(t);
  }
  for (const r of columns.rows) {
    const t = byKey.get(`${r.schema}\0${r.table}`);
    if (t) t.columns[r.column] = { type: r.type, typeName: r.type_name, typeSchema: r.type_schema, typmod: Number(r.typmod), collation: r.collation };
  }
  for (const r of indexes.rows) out.indexes.push({ schema: r.schema, name: r.name, table: r.table, bytes: Number(r.bytes) });
  return out;
}

/** Bytes for people: `8 kB`, `12.3 MB`. */
function size(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A table's measured size in a few words: `~12,000 rows, 1.4 MB` (rows `not yet analysed` when unknown). */
export function describeSize(t: Pick<CatalogTable, 'rows' | 'bytes'>): string {
  const rows = t.rows === null ? 'row count not yet analysed' : `~${t.rows.toLocaleString('en-US')} row${t.rows === 1 ? '' : 's'}`;
  return `${rows}, ${size(t.bytes)}`;
}
