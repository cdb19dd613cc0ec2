import { parseSync } from 'libpg-query';
import type { Queryable } from '../db/database.js';
import { quoteIdent, quoteQualified } from '../db/quote.js';
import { parserReady } from '../db/sql-script.js';
import { FerryError } from '../errors.js';
import type { BackfillTarget } from './types.js';

/** One column of the key the backfill walks, with its SQL type as the catalog spells it. */
export interface KeyColumn {
  name: string;
  /** `format_type()` of the column, used to cast key values sent as text parameters. */
  type: string;
}

/** A backfill resolved against the live catalog: what every batch statement is built from. */
export interface BackfillPlan {
  target: BackfillTarget;
  /** The table's oid, for health signals on it. */
  tableOid: number;
  /** `schema.table` as resolved. */
  tableName: string;
  /** The quoted, schema-qualified table. */
  table: string;
  key: KeyColumn[];
  /** Every column of the table, in order. */
  columns: string[];
}

const manifestError = (t: BackfillTarget, message: string, hint: string) =>
  new FerryError('E_MANIFEST', `backfill ${t.migrationId}/${t.stepId}: ${message}`, hint, { migrationId: t.migrationId, stepId: t.stepId });

/**
 * Check that `sql` is exactly one SQL expression, so it can be inlined where an
 * expression goes: parsed as `SELECT (<sql>)`, it must be a single SELECT with
 * one target and nothing else (no FROM, no second statement smuggled with `;`).
 */
export async function checkExpression(t: BackfillTarget, what: string, sql: string): Promise<void> {
  await parserReady();
  let stmts: { stmt?: Record<string, unknown> }[];
  try {
    stmts = (parseSync(`SELECT (\n${sql}\n)`) as { stmts?: { stmt?: Record<string, unknown> }[] }).stmts ?? [];
  } catch (err) {
    throw manifestError(t, `${what} "${sql}" does not parse: ${(err as Error).message}`, 'write one SQL expression, as it would appear after SELECT');
  }
  const select = stmts.length === 1 ? (stmts[0]?.stmt?.SelectStmt as Record<string, unknown> | undefined) : undefined;
  const extra = select ? Object.keys(select).filter((k) => !['targetList', 'limitOption', 'op'].includes(k)) : [];
  const targets = (select?.targetList as unknown[] | undefined)?.length ?? 0;
  if (select?.op !== 'SETOP_NONE' || extra.length > 0 || targets !== 1) {
    throw manifestError(t, `${what} "${sql}" is not exactly one SQL expression`, 'write one expression per column (no ";", no second statement, no FROM)');
  }
}

/** Resolve the table, the key and the columns; reject what cannot be backfilled safely. */
export async function resolvePlan(db: Queryable, t: BackfillTarget): Promise<BackfillPlan> {
  const parts = t.spec.table.split('.');
  const { rows: rel } = await db.query<{ oid: number; schema: string; name: string; kind: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`,
    [quoteQualified(...parts)],
  );
  const r = rel[0];
  if (!r) throw manifestError(t, `table ${t.spec.table} does not exist`, 'check the table name (and its schema); an earlier expand step must create it');
  if (r.kind !== 'r' && r.kind !== 'p') throw manifestError(t, `${t.spec.table} is not a table`, 'backfill a table, not a view or other relation');
  const { rows: cols } = await db.query<{ name: string; type: string; notnull: boolean; generated: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull, attgenerated::text AS generated
       FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [r.oid],
  );
  const byName = new Map(cols.map((c) => [c.name, c]));
  let keyNames = t.spec.key;
  if (!keyNames) {
    // The primary key, else the narrowest unique index on plain NOT NULL columns (by name, so every run picks the same).
    const { rows: pk } = await db.query<{ cols: string[] }>(
      `SELECT array_agg(a.attname ORDER BY k.ord)::text[] AS cols
         FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND (i.indisprimary OR (i.indisunique AND i.indisvalid AND i.indpred IS NULL AND NOT (0 = ANY (i.indkey::int2[]))))
        GROUP BY i.indexrelid, i.indisprimary, x.relname HAVING bool_and(a.attnotnull)
        ORDER BY i.indisprimary DESC, count(*), x.relname LIMIT 1`,
      [r.oid],
    );
    keyNames = pk[0]?.cols;
    if (!keyNames)
      throw manifestError(
        t,
        `${t.spec.table} has no primary key and the step gives no key (nor has the table a unique NOT NULL key to walk)`,
        'add "key": ["col", …] naming unique, NOT NULL columns',
      );
  }
  for (const k of keyNames) {
    const c = byName.get(k);
    if (!c) throw manifestError(t, `key column ${k} does not exist in ${t.spec.table}`, 'name existing columns in "key"');
    if (!c.notnull) throw manifestError(t, `key column ${k} is nullable`, 'a keyset walk skips NULL keys: use NOT NULL columns as the key');
  }
  // Keyset pagination with ">" skips rows when the key repeats, so some unique index must lie within the key.
  const { rows: unique } = await db.query(
    `SELECT 1 FROM pg_index i WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
        AND NOT (0 = ANY (i.indkey::int2[]))
        AND (SELECT bool_and(a.attname = ANY ($2::text[])) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]))`,
    [r.oid, keyNames],
  );
  if (unique.length === 0)
    throw manifestError(t, `key (${keyNames.join(', ')}) of ${t.spec.table} is not unique`, 'use the primary key, or columns covered by a unique index');
  const writes = [...Object.keys(t.spec.set ?? {}), ...Object.keys(t.spec.rollback ?? {})];
  for (const c of writes) {
    const col = byName.get(c);
    if (!col) throw manifestError(t, `column ${c} does not exist in ${t.spec.table}`, 'an earlier expand step must add it; check the spelling');
    if (keyNames.includes(c)) throw manifestError(t, `column ${c} is part of the key; a backfill must not change the key it walks`, 'fill other columns');
    if (col.generated) throw manifestError(t, `column ${c} is a generated column`, 'PostgreSQL computes it; drop it from the step');
  }
  for (const [c, e] of Object.entries(t.spec.set ?? {})) await checkExpression(t, `set.${c}`, e);
  for (const [c, e] of Object.entries(t.spec.rollback ?? {})) await checkExpression(t, `rollback.${c}`, e);
  await checkExpression(t, 'where', t.spec.where);
  return {
    target: t,
    tableOid: r.oid,
    tableName: `${r.schema}.${r.name}`,
    table: quoteQualified(r.schema, r.name),
    key: keyNames.map((k) => ({ name: k, type: (byName.get(k) as { type: string }).type })),
    columns: cols.map((c) => c.name),
  };
}

/** The key columns, quoted and comma-separated, optionally qualified by `alias`. */
export function keyList(plan: BackfillPlan, alias?: string): string {
  return plan.key.map((k) => (alias ? `${alias}.${quoteIdent(k.name)}` : quoteIdent(k.name))).join(', ');
}
