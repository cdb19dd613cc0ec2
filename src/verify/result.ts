import type { Queryable, QueryOptions, QueryResult } from '../db/database.js';
import type { CheckKind } from './declared.js';

/** How much a check asked of the databases: statements sent and rows they returned. */
export interface QueryStats {
  queries: number;
  rowsFetched: number;
}

/** A row's key, column name → its text. */
export type KeyValues = Record<string, string>;
/** A row's compared values, column name → normalised text (null for SQL NULL). */
export type RowValues = Record<string, string | null>;

/**
 * One differing row. `missing`: in the source, not in the target; `extra`: only
 * in the target; `changed`: on both sides with different values in `columns`.
 */
export interface RowDifference {
  kind: 'missing' | 'extra' | 'changed';
  key: KeyValues;
  /** The compared columns whose values differ (all of them for missing/extra rows). */
  columns: string[];
  source: RowValues | null;
  target: RowValues | null;
}

/** Start counting: a fresh, zeroed {@link QueryStats}. */
export function newStats(): QueryStats {
  return { queries: 0, rowsFetched: 0 };
}

/** `q`, counting every statement and returned row into `stats` (how the engine proves it never ships whole tables). */
export function counted(q: Queryable, stats: QueryStats): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<R>> {
      stats.queries++;
      const r = await q.query<R>(sql, params, opts);
      stats.rowsFetched += r.rows.length;
      return r;
    },
    async exec(sql: string) {
      const r = await q.exec(sql);
      stats.queries += r.length;
      for (const x of r) stats.rowsFetched += x.rows.length;
      return r;
    },
  };
}

/** How a check was run: everything compared (`--full`), or a random sample of keys (`--sample N`). */
export type CheckMode = 'full' | 'sample';

/** One stored outcome of one check of one migration (a row of `ferry.verify_results`). */
export interface CheckResult {
  migrationId: string;
  check: string;
  kind: CheckKind;
  mode: CheckMode;
  ok: boolean;
  /** Row counts, chunks, queries … as the kind reports them. */
  figures: Record<string, unknown>;
  /** The first differing rows (both sides' values), or the failed schema assertions. */
  differences: unknown[];
  /** Differing rows (or failed assertions) this check found; the health matrix counts rows found by several checks once (`countDataErrors`). */
  dataErrors: number;
  /** Why the check could not run (a missing table …); such a check fails. */
  error: string | null;
  /** Hash of the declaration it ran; it counts for the gate only while the manifest declares the same. */
  declaration: string;
  runId: string | null;
  startedAt: string;
  finishedAt: string;
  by: string;
}
