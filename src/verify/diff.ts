import type { Queryable } from '../db/database.js';
import { quoteIdent } from '../db/quote.js';
import { counted, newStats, type QueryStats, type RowDifference, type RowValues } from './result.js';
import { planSide, type SidePlan } from './side.js';
import type { KeyedSpec } from './spec.js';

/** Options of {@link diffRows}. */
export interface DiffOptions {
  /** How many differing keys to return (in key order). Default 20. */
  limit?: number;
}

/** The outcome of a diff check. */
export interface DiffResult {
  check: 'diff';
  /** No row differs. */
  ok: boolean;
  /** Every differing key, even beyond `limit`. */
  differenceCount: number;
  /** The first `limit` differences, with both sides' values. */
  differences: RowDifference[];
  stats: QueryStats;
}

/** A side as a subquery with its key as k0… and normalised columns as c0… (expressions resolve in the side's own table). */
function sideQuery(p: SidePlan): string {
  const keys = p.keyNames.map((k, i) => `${quoteIdent(k)} AS k${i}`);
  const cols = p.values.map((v, i) => `${v} AS c${i}`);
  return `SELECT ${[...keys, ...cols].join(', ')} FROM ${p.relation}${p.filters.length ? ` WHERE ${p.filters.join(' AND ')}` : ''}`;
}

/**
 * Join source and target (tables of ONE database) on the key and compare the
 * mapped expressions' normalised values: the first `limit` differing keys with
 * both values, and how many differ in all — one statement.
 */
export async function diffRows(db: Queryable, spec: KeyedSpec, opts: DiffOptions = {}): Promise<DiffResult> {
  const stats = newStats();
  const q = counted(db, stats);
  const sp = await planSide(q, spec, 'source');
  const tp = await planSide(q, spec, 'target');
  const limit = Math.max(0, Math.floor(opts.limit ?? 20));
  const on = sp.keyNames.map((_, i) => `s.k${i} = t.k${i}`).join(' AND ');
  const differs = ['s.k0 IS NULL', 't.k0 IS NULL', ...sp.values.map((_, i) => `s.c${i} IS DISTINCT FROM t.c${i}`)].join(' OR ');
  const keyOut = sp.keyNames.map((_, i) => `coalesce(s.k${i}, t.k${i})::text AS k${i}`);
  const order = sp.keyNames.map((_, i) => `coalesce(s.k${i}, t.k${i})${sp.keyTypes[i]?.collatable ? ' COLLATE "C"' : ''}`);
  const valsOut = sp.values.flatMap((_, i) => [`s.c${i} AS s${i}`, `t.c${i} AS t${i}`]);
  const { rows } = await q.query<Record<string, unknown>>(
    `SELECT CASE WHEN t.k0 IS NULL THEN 'missing' WHEN s.k0 IS NULL THEN 'extra' ELSE 'changed' END AS kind,
            ${[...keyOut, ...valsOut].join(', ')}, count(*) OVER ()::text AS total
       FROM (${sideQuery(sp)}) s FULL JOIN (${sideQuery(tp)}) t ON ${on}
      WHERE ${differs}
      ORDER BY ${order.join(', ')} LIMIT $1`,
    [limit],
  );
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const differences = rows.map((r): RowDifference => {
    const kind = r.kind as RowDifference['kind'];
    const source: RowValues = {};
    const target: RowValues = {};
    sp.columns.forEach((name, i) => {
      source[name] = text(r[`s${i}`]);
      target[name] = text(r[`t${i}`]);
    });
    return {
      kind,
      key: Object.fromEntries(sp.keyNames.map((k, i) => [k, String(r[`k${i}`])])),
      columns: kind === 'changed' ? sp.columns.filter((n) => source[n] !== target[n]) : [...sp.columns],
      source: kind === 'extra' ? null : source,
      target: kind === 'missing' ? null : target,
    };
  });
  const differenceCount = Number(rows[0]?.total ?? 0);
  // With limit 0 no row comes back to carry the total: count on its own.
  const total =
    limit > 0 || rows.length > 0
      ? differenceCount
      : Number(
          (await q.query<{ n: string }>(`SELECT count(*)::text AS n FROM (${sideQuery(sp)}) s FULL JOIN (${sideQuery(tp)}) t ON ${on} WHERE ${differs}`))
            .rows[0]?.n ?? 0,
        );
  return { check: 'diff', ok: total === 0, differenceCount: total, differences, stats };
}
