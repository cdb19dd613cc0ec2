import type { Queryable } from './database.js';
import { quoteIdent } from './quote.js';

/** A table found in the catalog: its quoted name and oid. */
export interface TableRef {
  oid: number;
  /** `"schema"."table"`, quoted. */
  qualified: string;
  schema: string;
  name: string;
}

/** A table's columns as saved: name and SQL type; generated columns are recomputed, not saved. */
export interface SavedColumn {
  name: string;
  type: string;
}

/** Find a table by the name a statement used (`users`, `app.users`) or by its exact schema and name; undefined when it is not a table. */
export async function findTable(db: Queryable, table: string | { schema: string; name: string }): Promise<TableRef | undefined> {
  const dot = typeof table === 'string' ? table.indexOf('.') : -1;
  const schema = typeof table !== 'string' ? table.schema : dot > 0 ? table.slice(0, dot) : null;
  const name = typeof table !== 'string' ? table.name : dot > 0 ? table.slice(dot + 1) : table;
  const { rows } = await db.query<{ oid: number; schema: string; name: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END) AND c.relkind IN ('r', 'p')`,
    [schema, name],
  );
  const r = rows[0];
  return r ? { ...r, qualified: `${quoteIdent(r.schema)}.${quoteIdent(r.name)}` } : undefined;
}

/** The columns of a table that hold data (not generated), in order. */
export async function savedColumns(db: Queryable, t: TableRef): Promise<SavedColumn[]> {
  const { rows } = await db.query<SavedColumn>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [t.oid],
  );
  return rows;
}

/** Row count and an order-independent md5 of a table's saved columns: equal before backup and after restore when the data is identical. */
export async function tableChecksum(db: Queryable, qualified: string, columns: readonly SavedColumn[]): Promise<{ rows: number; md5: string }> {
  const list = columns.map((c) => quoteIdent(c.name)).join(', ');
  // Names come from the catalog and are quoted.
  const { rows } = await db.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM (SELECT ${list} FROM ${qualified}) x`,
  );
  return { rows: Number(rows[0]?.n ?? 0), md5: rows[0]?.h ?? '' };
}

/** The DDL that recreates a table: columns, defaults, identity, constraints, indexes and owned sequences (not triggers, policies or grants). */
export async function tableDdl(db: Queryable, t: TableRef): Promise<string> {
  const cols = await db.query<{ name: string; type: string; notnull: boolean; def: string | null; identity: string; generated: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS def,
            a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [t.oid],
  );
  const seqs = await db.query<{ seq: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(s.relname) AS seq FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE d.refobjid = $1 AND d.deptype = 'a'`,
    [t.oid],
  );
  const cons = await db.query<{ name: string; def: string }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conrelid = $1 AND contype IN ('p', 'u', 'c', 'f', 'x') ORDER BY contype = 'f', conname`,
    [t.oid],
  );
  const idx = await db.query<{ def: string }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
      WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) ORDER BY 1`,
    [t.oid],
  );
  const columns = cols.rows.map((c) => {
    let s = `  ${quoteIdent(c.name)} ${c.type}`;
    if (c.generated === 's') s += ` GENERATED ALWAYS AS (${c.def}) STORED`;
    else if (c.def !== null && c.identity === '') s += ` DEFAULT ${c.def}`;
    if (c.notnull) s += ' NOT NULL';
    if (c.identity) s += ` GENERATED ${c.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
    return s;
  });
  return [
    ...seqs.rows.map((s) => `CREATE SEQUENCE IF NOT EXISTS ${s.seq};`),
    `CREATE TABLE ${t.qualified} (\n${columns.join(',\n')}\n);`,
    ...cons.rows.map((c) => `ALTER TABLE ${t.qualified} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.def};`),
    ...idx.rows.map((i) => `${i.def};`),
    '',
  ].join('\n');
}

/** Escape one value for COPY's text format. */
function copyValue(v: string | null): string {
  if (v === null) return '\\N';
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/** Parse one line of COPY's text format. */
function parseCopyLine(line: string): (string | null)[] {
  return line.split('\t').map((f) => {
    if (f === '\\N') return null;
    return f.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  });
}

/** A table's rows in COPY's text format (one line per row, tab-separated, `\N` for NULL), read in key order by batches of text values. */
export async function copyOut(db: Queryable, qualified: string, columns: readonly SavedColumn[]): Promise<string> {
  const list = columns.map((c) => `${quoteIdent(c.name)}::text`).join(', ');
  const { rows } = await db.query<Record<string, string | null>>(`SELECT ${list} FROM ${qualified}`);
  const names = columns.map((c) => c.name);
  return rows.map((r) => `${names.map((n) => copyValue(r[n] ?? null)).join('\t')}\n`).join('');
}

/** Load COPY text-format rows into a table (each value cast from text by its column's type), in batches. */
export async function copyIn(db: Queryable, qualified: string, columns: readonly SavedColumn[], text: string, batch = 1000): Promise<number> {
  const lines = text.split('\n').filter((l) => l.length > 0);
  for (let i = 0; i < lines.length; i += batch) await insertRows(db, qualified, columns, lines.slice(i, i + batch).map(parseCopyLine));
  return lines.length;
}

/** Insert rows given as text values (one per column of `columns`, null for NULL) in one statement, each value cast by its column's type. */
export async function insertRows(
  db: Queryable,
  qualified: string,
  columns: readonly SavedColumn[],
  rows: readonly (readonly (string | null)[])[],
): Promise<void> {
  if (rows.length === 0) return;
  const list = columns.map((c) => quoteIdent(c.name)).join(', ');
  // Types come from format_type in the catalog.
  const casts = columns.map((c, i) => `(r->>${i})::${c.type}`).join(', ');
  await db.query(`INSERT INTO ${qualified} (${list}) OVERRIDING SYSTEM VALUE SELECT ${casts} FROM json_array_elements($1::json) r`, [JSON.stringify(rows)]);
}

/** Move a table's identity and serial sequences past its highest value after a load. */
export async function resetSequences(db: Queryable, t: TableRef): Promise<void> {
  const { rows } = await db.query<{ col: string; seq: string }>(
    `SELECT attname AS col, pg_get_serial_sequence($2, attname) AS seq FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND pg_get_serial_sequence($2, attname) IS NOT NULL`,
    [t.oid, t.qualified],
  );
  for (const r of rows) {
    await db.query(`SELECT setval($1, coalesce((SELECT max(${quoteIdent(r.col)}) FROM ${t.qualified}), 0) + 1, false)`, [r.seq]);
  }
}
