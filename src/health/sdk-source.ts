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
  /** `ferry/compat`'s shadow comparisons (any outcome) and, of them, mismatches, candidate errors and timeouts (absent: no rows). */
  comparisons?: number;
  mismatches?: number;
  candidateErrors?: number;
  candidateTimeouts?: number;
  /** Dual writes whose secondary write failed (absent: no rows). */
  writeFailures?: number;
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
    `SELECT requests::text AS requests, errors::text AS errors, data_errors::text AS data_errors, latency,
            to_jsonb(m) ->> 'comparisons' AS comparisons, to_jsonb(m) ->> 'mismatches' AS mismatches,
            to_jsonb(m) ->> 'candidate_errors' AS candidate_errors, to_jsonb(m) ->> 'candidate_timeouts' AS candidate_timeouts,
            to_jsonb(m) ->> 'write_failures' AS write_failures
       FROM ferry.metrics m
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
  /** The `ferry/compat` counts (state version 11; read through `to_jsonb`, so absent or null on an older state). */
  comparisons?: string | null;
  mismatches?: string | null;
  candidate_errors?: string | null;
  candidate_timeouts?: string | null;
  write_failures?: string | null;
}

/** Add up rows of one cohort (any processes, any buckets) and merge their HdrHistograms exactly (same encoding in every process). */
export function mergeMetricRows(rows: readonly MetricRow[]): SdkTotals {
  if (rows.length === 0) return { requests: 0, errors: 0, dataErrors: 0, latencySamples: 0, p99Ms: null };
  const merged = newLatencyHistogram();
  let requests = 0;
  let errors = 0;
  let dataErrors = 0;
  const compat = { comparisons: 0, mismatches: 0, candidateErrors: 0, candidateTimeouts: 0, writeFailures: 0 };
  const n = (v: string | null | undefined) => (v ? Number(v) : 0);
  for (const r of rows) {
    requests += Number(r.requests);
    errors += Number(r.errors);
    dataErrors += Number(r.data_errors);
    compat.comparisons += n(r.comparisons);
    compat.mismatches += n(r.mismatches);
    compat.candidateErrors += n(r.candidate_errors);
    compat.candidateTimeouts += n(r.candidate_timeouts);
    compat.writeFailures += n(r.write_failures);
    merged.add(decodeFromCompressedBase64(r.latency));
  }
  const samples = merged.totalCount;
  return { requests, errors, dataErrors, latencySamples: samples, p99Ms: samples > 0 ? merged.getValueAtPercentile(99) / 1000 : null, ...compat };
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
