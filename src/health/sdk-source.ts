import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { Queryable } from '../db/database.js';
import { type Cohort, newLatencyHistogram } from '../sdk/metrics.js';
import { stateTableExists } from '../state/store.js';
import type { CohortFigures, MetricSource, Window } from './source.js';

/** Counts and merged latency histogram of one cohort in a window, as the SDK's processes flushed them. */
export interface SdkTotals {
  requests: number;
  errors: number;
  dataErrors: number;
  /** Latency samples in the merged histogram (equals `requests`). */
  latencySamples: number;
  p99Ms: number | null;
}

/** Whether `ferry.metrics` exists yet (before state version 7 nothing was flushed). */
export const metricsTable = (db: Queryable) => stateTableExists(db, 'metrics');

/**
 * Sum every process's rows of `flag`'s `cohort` whose time bucket overlaps the
 * window, and merge their HdrHistograms exactly (same encoding in every process).
 */
export async function sdkTotals(db: Queryable, flag: string, cohort: Cohort, window: Window): Promise<SdkTotals> {
  if (!(await metricsTable(db))) return mergeMetricRows([]);
  const { rows } = await db.query<MetricRow>(
    `SELECT requests::text AS requests, errors::text AS errors, data_errors::text AS data_errors, latency
       FROM ferry.metrics
      WHERE flag_key = $1 AND cohort = $2
        AND bucket_start <= $4::timestamptz AND bucket_start + bucket_ms * interval '1 millisecond' > $3::timestamptz`,
    [flag, cohort, window.from.toISOString(), window.to.toISOString()],
  );
  return mergeMetricRows(rows);
}

/** One row of `ferry.metrics` as read: counts as text (bigint), latency as the compressed HdrHistogram. */
export interface MetricRow {
  requests: string;
  errors: string;
  data_errors: string;
  latency: string;
}

/** Add up rows of one cohort (any processes, any buckets) and merge their HdrHistograms exactly (same encoding in every process). */
export function mergeMetricRows(rows: readonly MetricRow[]): SdkTotals {
  if (rows.length === 0) return { requests: 0, errors: 0, dataErrors: 0, latencySamples: 0, p99Ms: null };
  const merged = newLatencyHistogram();
  let requests = 0;
  let errors = 0;
  let dataErrors = 0;
  for (const r of rows) {
    requests += Number(r.requests);
    errors += Number(r.errors);
    dataErrors += Number(r.data_errors);
    merged.add(decodeFromCompressedBase64(r.latency));
  }
  const samples = merged.totalCount;
  return { requests, errors, dataErrors, latencySamples: samples, p99Ms: samples > 0 ? merged.getValueAtPercentile(99) / 1000 : null };
}

/** The SDK's metrics in the target database (`ferry.metrics`), summed over every process that flushed. */
export class SdkMetricSource implements MetricSource {
  readonly name = 'sdk' as const;

  constructor(private readonly db: Queryable) {}

  async read(flag: string, cohort: Cohort, window: Window): Promise<CohortFigures> {
    const t = await sdkTotals(this.db, flag, cohort, window);
    return {
      requests: t.requests,
      errorRate: t.requests > 0 ? t.errors / t.requests : null,
      p99Ms: t.p99Ms,
      dataErrors: t.dataErrors,
    };
  }
}
