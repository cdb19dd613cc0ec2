import type { Queryable } from '../db/database.js';
import { counted, newStats, type QueryStats } from './result.js';
import { filtersOf, relationOf } from './side.js';
import type { Cohort, CountSide, CountSpec } from './spec.js';

/** The outcome of a count check. */
export interface CountResult {
  check: 'count';
  /** Both sides have the same number of rows. */
  ok: boolean;
  sourceRows: number;
  targetRows: number;
  /** targetRows − sourceRows. */
  difference: number;
  stats: QueryStats;
}

function countSql(side: CountSide, cohort: Cohort | undefined): string {
  if ('query' in side) return `SELECT count(*)::text AS n FROM (${side.query}) AS ferry_counted`;
  const filters = filtersOf(side, cohort);
  return `SELECT count(*)::text AS n FROM ${relationOf(side)}${filters.length ? ` WHERE ${filters.join(' AND ')}` : ''}`;
}

/** Count the rows of both sides (a table, optionally filtered and limited to a cohort, or a query). */
export async function countRows(source: Queryable, target: Queryable, spec: CountSpec): Promise<CountResult> {
  const stats = newStats();
  const one = async (q: Queryable, side: CountSide) => Number((await counted(q, stats).query<{ n: string }>(countSql(side, spec.cohort))).rows[0]?.n ?? 0);
  const sourceRows = await one(source, spec.source);
  const targetRows = await one(target, spec.target);
  return { check: 'count', ok: sourceRows === targetRows, sourceRows, targetRows, difference: targetRows - sourceRows, stats };
}
