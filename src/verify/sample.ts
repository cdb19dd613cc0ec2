import type { Queryable } from '../db/database.js';
import { counted, newStats, type QueryStats, type RowDifference } from './result.js';
import { compareKeys } from './rows.js';
import { keyOfRow, keySelect, Params, planSide } from './side.js';
import type { KeyedSpec } from './spec.js';

/** Options of {@link sampleRows}. */
export interface SampleOptions {
  /** How many random source keys to compare. */
  size: number;
  /** Differences whose values are fetched; more are only counted. Default 1,000. */
  maxDifferences?: number;
}

/** The outcome of a sample check. */
export interface SampleResult {
  check: 'sample';
  ok: boolean;
  /** Keys drawn from the source. */
  sampled: number;
  differenceCount: number;
  differences: RowDifference[];
  stats: QueryStats;
}

/**
 * Compare `size` random source rows with their target rows, by key: rows
 * changed or missing in the target are found (rows only in the target are not:
 * the sample is drawn from the source). Only the keys are sorted randomly.
 */
export async function sampleRows(source: Queryable, target: Queryable, spec: KeyedSpec, opts: SampleOptions): Promise<SampleResult> {
  const stats = newStats();
  const s = counted(source, stats);
  const t = source === target ? s : counted(target, stats);
  const sourcePlan = await planSide(s, spec, 'source');
  const targetPlan = await planSide(t, spec, 'target');
  const params = new Params();
  const where = sourcePlan.filters.length ? `WHERE ${sourcePlan.filters.join(' AND ')}` : '';
  const { rows } = await s.query<Record<string, unknown>>(
    `SELECT ${keySelect(sourcePlan)} FROM ${sourcePlan.relation} ${where} ORDER BY random() LIMIT ${params.add(Math.max(0, Math.floor(opts.size)))}`,
    params.values,
  );
  const keys = rows.map((r) => keyOfRow(sourcePlan, r));
  const c = {
    source: s,
    target: t,
    sourcePlan,
    targetPlan,
    parallel: source !== target,
    maxDifferences: Math.max(0, Math.floor(opts.maxDifferences ?? 1000)),
    differences: [],
    differenceCount: 0,
  };
  await compareKeys(c, keys);
  return { check: 'sample', ok: c.differenceCount === 0, sampled: keys.length, differenceCount: c.differenceCount, differences: c.differences, stats };
}
