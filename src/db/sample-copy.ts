import type { Queryable } from './database.js';
import { type ForeignKey, foreignKeys, parentsFirst, withReferenced } from './foreign-keys.js';
import { quoteIdent } from './quote.js';
import { findTable, insertRows, resetSequences, type SavedColumn, savedColumns, type TableRef } from './table-copy.js';

/** How many rows of each table to copy: up to N (a table that small is copied whole), or all of them. */
export type SampleSize = number | 'all';

/** What was copied of one table. */
export interface CopiedTable {
  /** `schema.table`. */
  table: string;
  /** Rows in the source; the planner's estimate when `sourceRowsEstimated` (tables over a million rows are not counted). */
  sourceRows: number;
  sourceRowsEstimated: boolean;
  /** Rows now in the copy. */
  copied: number;
  /** Every source row was copied. */
  complete: boolean;
  /** Of `copied`, rows added beyond the sample because copied rows of another table reference them. */
  referenced: number;
  /** Source rows the copy refused (a NOT VALID constraint they break, a referenced row not found): counted and named, never dropped silently. */
  skipped: number;
  skippedReason?: string;
}

/** Tables above this many rows get the planner's estimate instead of a count. */
const COUNT_CAP = 1_000_000;

type Row = { at: string; values: (string | null)[] };

interface Plan {
  ref: TableRef;
  columns: SavedColumn[];
  /** The tables holding its rows: itself, or a partitioned table's leaves. */
  leaves: number[];
  sourceRows: number;
  estimated: boolean;
  complete: boolean;
  rows: Map<string, (string | null)[]>;
  referenced: number;
}

const valueList = (columns: readonly SavedColumn[]) => columns.map((c, i) => `${quoteIdent(c.name)}::text AS c${i}`).join(', ');
const valuesOf = (r: Record<string, unknown>, n: number) => Array.from({ length: n }, (_, i) => (r[`c${i}`] ?? null) as string | null);

/** A table's rows: counted by a plain SELECT stopped past a million rows (never reading a big table to its end), above that the planner's estimate. */
export async function countTableRows(db: Queryable, ref: TableRef): Promise<{ rows: number; estimated: boolean }> {
  const counted = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM (SELECT 1 FROM ${ref.qualified} LIMIT ${COUNT_CAP + 1}) x`);
  const rows = Number(counted.rows[0]?.n ?? 0);
  if (rows <= COUNT_CAP) return { rows, estimated: false };
  const est = await db.query<{ n: string }>(
    `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint::text AS n FROM pg_class c
      WHERE c.oid = ANY($1::oid[])`,
    [await leavesOf(db, ref)],
  );
  return { rows: Math.max(Number(est.rows[0]?.n ?? 0), COUNT_CAP + 1), estimated: true };
}

/** The tables holding a table's rows: a partitioned table's leaf partitions, or the table itself. */
async function leavesOf(db: Queryable, ref: TableRef): Promise<number[]> {
  const { rows } = await db.query<{ oid: number }>(`SELECT relid::int AS oid FROM pg_partition_tree($1::regclass) WHERE isleaf ORDER BY level, relid`, [
    ref.oid,
  ]);
  return rows.length ? rows.map((l) => l.oid) : [ref.oid];
}

async function planTable(db: Queryable, ref: TableRef): Promise<Omit<Plan, 'complete' | 'rows' | 'referenced'>> {
  const { rows: sourceRows, estimated } = await countTableRows(db, ref);
  return { ref, columns: await savedColumns(db, ref), leaves: await leavesOf(db, ref), sourceRows, estimated };
}

/** Up to `limit` rows of `p` in physical order, read by plain SELECTs of `batch` rows (keyset on ctid, leaf by leaf); `each` gets every batch. */
async function readRows(db: Queryable, p: Pick<Plan, 'columns' | 'leaves'>, limit: number, batch: number, each: (rows: Row[]) => Promise<void>): Promise<void> {
  let left = limit;
  for (const leaf of p.leaves) {
    const name = await db.query<{ q: string }>(`SELECT $1::regclass::text AS q`, [leaf]);
    const q = name.rows[0]?.q as string;
    let after = '(0,0)';
    while (left > 0) {
      const take = Math.min(batch, left);
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ctid::text AS at, ${valueList(p.columns)} FROM ${q} WHERE ctid > $1::tid ORDER BY ctid LIMIT ${take}`,
        [after],
      );
      if (rows.length === 0) break;
      after = String(rows.at(-1)?.at);
      left -= rows.length;
      await each(rows.map((r) => ({ at: `${leaf}:${r.at}`, values: valuesOf(r, p.columns.length) })));
      if (rows.length < take) break;
    }
  }
}

/** Add to `parent` the rows that the copied rows of `child` reference through `k` and it lacks; returns how many were added. */
async function fetchReferenced(db: Queryable, k: ForeignKey, child: Plan, parent: Plan, batch: number): Promise<number> {
  const ci = k.childColumns.map((c) => child.columns.findIndex((x) => x.name === c));
  const pi = k.parentColumns.map((c) => parent.columns.findIndex((x) => x.name === c));
  if (ci.some((i) => i < 0) || pi.some((i) => i < 0)) return 0;
  const have = new Set([...parent.rows.values()].map((v) => JSON.stringify(pi.map((i) => v[i]))));
  const wanted = new Map<string, (string | null)[]>();
  for (const v of child.rows.values()) {
    const tuple = ci.map((i) => v[i] ?? null);
    const key = JSON.stringify(tuple);
    if (!tuple.includes(null) && !have.has(key)) wanted.set(key, tuple);
  }
  const tuples = [...wanted.values()];
  const cols = pi.map((i) => quoteIdent(parent.columns[i]?.name as string)).join(', ');
  const casts = pi.map((i, n) => `(r->>${n})::${parent.columns[i]?.type}`).join(', ');
  let added = 0;
  for (let i = 0; i < tuples.length; i += batch) {
    const { rows } = await db.query<Record<string, unknown>>(
      `SELECT tableoid::int::text || ':' || ctid::text AS at, ${valueList(parent.columns)} FROM ${parent.ref.qualified}
        WHERE (${cols}) IN (SELECT ${casts} FROM json_array_elements($1::json) r)`,
      [JSON.stringify(tuples.slice(i, i + batch))],
    );
    for (const r of rows) {
      const at = String(r.at);
      if (parent.rows.has(at)) continue;
      parent.rows.set(at, valuesOf(r, parent.columns.length));
      added++;
    }
  }
  parent.referenced += added;
  return added;
}

/** Run `fn` with the target table's enabled user triggers disabled: the rows were written (and their triggers fired) in the source already. */
async function withoutTriggers<T>(db: Queryable, t: TableRef, fn: () => Promise<T>): Promise<T> {
  const { rows } = await db.query<{ name: string; enabled: string }>(
    `SELECT tgname AS name, tgenabled AS enabled FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal AND tgparentid = 0 AND tgenabled <> 'D'`,
    [t.oid],
  );
  for (const r of rows) await db.query(`ALTER TABLE ${t.qualified} DISABLE TRIGGER ${quoteIdent(r.name)}`);
  try {
    return await fn();
  } finally {
    for (const r of rows) {
      const how = r.enabled === 'A' ? 'ENABLE ALWAYS' : r.enabled === 'R' ? 'ENABLE REPLICA' : 'ENABLE';
      await db.query(`ALTER TABLE ${t.qualified} ${how} TRIGGER ${quoteIdent(r.name)}`);
    }
  }
}

const integrity = (err: unknown) => /^2[23]/.test(String((err as { code?: unknown }).code ?? ''));

/** Insert `rows`; a batch the copy refuses is retried row by row, and the refused rows are counted with the first reason. */
async function insertChecked(db: Queryable, t: TableRef, columns: readonly SavedColumn[], rows: readonly (string | null)[][], out: CopiedTable): Promise<void> {
  try {
    await insertRows(db, t.qualified, columns, rows);
    out.copied += rows.length;
  } catch (err) {
    if (!integrity(err)) throw err;
    for (const row of rows) {
      try {
        await insertRows(db, t.qualified, columns, [row]);
        out.copied++;
      } catch (e) {
        if (!integrity(e)) throw e;
        out.skipped++;
        out.skippedReason ??= (e as Error).message;
      }
    }
  }
}

/**
 * Copy rows of `tables` (and of every table they reference through foreign
 * keys) from `source` into the same tables of `target`, which has the schema
 * already: up to `size` rows of each in physical order (all of a table that
 * small), plus the rows of referenced tables that copied rows point to, so
 * foreign keys hold. The source is read by short plain SELECTs, never locked
 * beyond one batch. Rows the target refuses are counted in `skipped`.
 */
export async function copyRows(
  source: Queryable,
  target: Queryable,
  tables: readonly { schema: string; name: string }[],
  size: SampleSize,
  opts: { batch?: number } = {},
): Promise<CopiedTable[]> {
  const batch = opts.batch ?? 1000;
  const roots = new Set<number>();
  for (const t of tables) {
    const ref = await findTable(source, t);
    if (!ref) continue;
    const { rows } = await source.query<{ oid: number }>(`SELECT coalesce(pg_partition_root($1::regclass), $1::regclass)::oid::int AS oid`, [ref.oid]);
    roots.add(rows[0]?.oid ?? ref.oid);
  }
  const keys = await foreignKeys(source);
  const order = parentsFirst(withReferenced([...roots], keys), keys);
  const plans = new Map<number, Plan>();
  for (const oid of order) {
    const { rows } = await source.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
      [oid],
    );
    const ref = rows[0] && (await findTable(source, rows[0]));
    if (!ref) continue;
    const p = await planTable(source, ref);
    plans.set(oid, { ...p, complete: size === 'all' || (!p.estimated && p.sourceRows <= size), rows: new Map(), referenced: 0 });
  }
  const results: CopiedTable[] = [];
  const targetRefs = new Map<number, TableRef>();
  for (const [oid, p] of plans) {
    const t = await findTable(target, { schema: p.ref.schema, name: p.ref.name });
    if (t) targetRefs.set(oid, t);
  }
  const resultOf = (p: Plan): CopiedTable => ({
    table: `${p.ref.schema}.${p.ref.name}`,
    sourceRows: p.sourceRows,
    sourceRowsEstimated: p.estimated,
    copied: 0,
    complete: p.complete,
    referenced: 0,
    skipped: 0,
  });
  if (size === 'all') {
    // Everything, streamed batch by batch, referenced tables first.
    for (const [oid, p] of plans) {
      const t = targetRefs.get(oid);
      const out = resultOf(p);
      if (t)
        await withoutTriggers(target, t, () =>
          readRows(source, p, Number.POSITIVE_INFINITY, batch, (rows) =>
            insertChecked(
              target,
              t,
              p.columns,
              rows.map((r) => r.values),
              out,
            ),
          ),
        );
      results.push(out);
    }
  } else {
    for (const p of plans.values()) {
      await readRows(source, p, p.complete ? Number.POSITIVE_INFINITY : size, batch, async (rows) => {
        for (const r of rows) p.rows.set(r.at, r.values);
      });
    }
    // Referenced rows until nothing is missing (a chain or a self-reference needs several rounds).
    for (let round = 0, added = 1; added > 0 && round < 20; round++) {
      added = 0;
      for (const k of keys) {
        const child = plans.get(k.child);
        const parent = plans.get(k.parent);
        if (child && parent && !parent.complete) added += await fetchReferenced(source, k, child, parent, batch);
      }
    }
    for (const [oid, p] of plans) {
      const t = targetRefs.get(oid);
      const out = { ...resultOf(p), referenced: p.referenced };
      const all = [...p.rows.values()];
      // A table referencing itself goes in one statement: its keys are checked at the statement's end, whatever the order.
      const step = keys.some((k) => k.child === oid && k.parent === oid) ? Math.max(all.length, 1) : batch;
      if (t)
        await withoutTriggers(target, t, async () => {
          for (let i = 0; i < all.length; i += step) await insertChecked(target, t, p.columns, all.slice(i, i + step), out);
        });
      p.rows.clear();
      results.push(out);
    }
  }
  for (const t of targetRefs.values()) {
    await resetSequences(target, t);
    await target.query(`ANALYZE ${t.qualified}`);
  }
  return results;
}
