import type { Queryable } from '../db/database.js';
import { quoteIdent, quoteQualified } from '../db/quote.js';
import type { SchemaAssertion } from './spec.js';

/** The outcome of one schema assertion. */
export interface AssertionResult {
  assertion: SchemaAssertion;
  ok: boolean;
  /** What was found, for a human. */
  detail: string;
}

/** The outcome of a list of schema assertions. */
export interface SchemaResult {
  check: 'schema';
  ok: boolean;
  results: AssertionResult[];
}

const nameOf = (schema: string | undefined, name: string) => (schema ? quoteQualified(schema, name) : quoteIdent(name));

async function regclass(db: Queryable, schema: string | undefined, name: string): Promise<string | null> {
  const { rows } = await db.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [nameOf(schema, name)]);
  return rows[0]?.oid ?? null;
}

async function columnExists(db: Queryable, rel: string, column: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM pg_attribute WHERE attrelid = $1::oid AND attname = $2 AND attnum > 0 AND NOT attisdropped', [rel, column]);
  return rows.length > 0;
}

async function check(db: Queryable, a: SchemaAssertion): Promise<Omit<AssertionResult, 'assertion'>> {
  if (a.kind === 'index-valid') {
    const rel = await regclass(db, a.schema, a.index);
    if (!rel) return { ok: false, detail: `index ${a.index} does not exist` };
    const { rows } = await db.query<{ valid: boolean; ready: boolean }>(
      'SELECT indisvalid AS valid, indisready AS ready FROM pg_index WHERE indexrelid = $1::oid',
      [rel],
    );
    const r = rows[0];
    if (!r) return { ok: false, detail: `${a.index} is not an index` };
    return r.valid && r.ready
      ? { ok: true, detail: `index ${a.index} is valid` }
      : { ok: false, detail: `index ${a.index} is INVALID (a failed concurrent build?)` };
  }
  const rel = await regclass(db, a.schema, a.table);
  if (!rel) return { ok: false, detail: `table ${a.table} does not exist` };
  switch (a.kind) {
    case 'column-exists':
    case 'column-gone': {
      const exists = await columnExists(db, rel, a.column);
      const ok = exists === (a.kind === 'column-exists');
      return { ok, detail: `column ${a.table}.${a.column} ${exists ? 'exists' : 'does not exist'}` };
    }
    case 'constraint-validated': {
      const { rows } = await db.query<{ v: boolean }>('SELECT convalidated AS v FROM pg_constraint WHERE conrelid = $1::oid AND conname = $2', [
        rel,
        a.constraint,
      ]);
      const r = rows[0];
      if (!r) return { ok: false, detail: `constraint ${a.constraint} on ${a.table} does not exist` };
      return r.v ? { ok: true, detail: `constraint ${a.constraint} is validated` } : { ok: false, detail: `constraint ${a.constraint} is NOT VALID` };
    }
    case 'no-invalid-constraints': {
      const { rows } = await db.query<{ n: string }>('SELECT conname::text AS n FROM pg_constraint WHERE conrelid = $1::oid AND NOT convalidated ORDER BY 1', [
        rel,
      ]);
      return rows.length === 0
        ? { ok: true, detail: `every constraint on ${a.table} is validated` }
        : { ok: false, detail: `NOT VALID constraints left on ${a.table}: ${rows.map((r) => r.n).join(', ')}` };
    }
  }
}

/** Check schema assertions against `db`'s catalog: columns present or gone, indexes valid, constraints validated. */
export async function assertSchema(db: Queryable, assertions: readonly SchemaAssertion[]): Promise<SchemaResult> {
  const results: AssertionResult[] = [];
  for (const assertion of assertions) results.push({ assertion, ...(await check(db, assertion)) });
  return { check: 'schema', ok: results.every((r) => r.ok), results };
}
