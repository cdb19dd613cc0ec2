import type { Queryable } from '../db/database.js';
import type { Cohort } from '../sdk/metrics.js';
import { type MetricRow, mergeMetricRows, metricsTable } from './sdk-source.js';

/** One time bucket of a cohort's chart. */
export interface HealthPoint {
  /** Start of the bucket (ISO 8601, UTC). */
  at: string;
  requests: number;
  /** Failed requests over requests, as a fraction; null without requests. */
  errorRate: number | null;
  /** p99 latency in milliseconds of the bucket's merged histogram; null without requests. */
  p99Ms: number | null;
}

/** Error rate and p99 latency of a flag's two cohorts over time, from the SDK's metrics. */
export interface HealthSeries {
  flag: string;
  source: 'sdk';
  /** The span charted, up to the database's now. */
  window: { from: string; to: string; ms: number };
  /** Length of one point's bucket. */
  stepMs: number;
  /** Per cohort, `points` buckets, oldest first; buckets without traffic have zero requests and null values. */
  cohorts: Record<Cohort, HealthPoint[]>;
}

/** Options of {@link sdkHealthSeries}. */
export interface HealthSeriesOptions {
  /** How far back the chart reaches. */
  windowMs: number;
  /** Buckets the window is cut into (1–500). */
  points: number;
}

/**
 * Error rate and p99 per cohort of `flag` over the last `windowMs`, cut into `points` buckets: the SDK's rows
 * (every process's) are assigned to the bucket their own time bucket starts in, and merged as for the matrix.
 */
export async function sdkHealthSeries(db: Queryable, flag: string, opts: HealthSeriesOptions): Promise<HealthSeries> {
  const points = Math.max(1, Math.min(500, Math.floor(opts.points)));
  const { rows: clock } = await db.query<{ now: Date | string }>('SELECT clock_timestamp() AS now');
  const to = new Date(clock[0]?.now ?? Date.now()).getTime();
  const from = to - opts.windowMs;
  const stepMs = opts.windowMs / points;
  const buckets: Record<Cohort, MetricRow[][]> = {
    new: Array.from({ length: points }, () => []),
    old: Array.from({ length: points }, () => []),
  };
  if (await metricsTable(db)) {
    const { rows } = await db.query<MetricRow & { cohort: Cohort; start_ms: number }>(
      `SELECT cohort, (extract(epoch FROM bucket_start) * 1000)::float8 AS start_ms,
              requests::text AS requests, errors::text AS errors, data_errors::text AS data_errors, latency
         FROM ferry.metrics
        WHERE flag_key = $1
          AND bucket_start <= $3::timestamptz AND bucket_start + bucket_ms * interval '1 millisecond' > $2::timestamptz`,
      [flag, new Date(from).toISOString(), new Date(to).toISOString()],
    );
    for (const r of rows) {
      const i = Math.max(0, Math.min(points - 1, Math.floor((r.start_ms - from) / stepMs)));
      buckets[r.cohort][i]?.push(r);
    }
  }
  const chart = (cohort: Cohort): HealthPoint[] =>
    buckets[cohort].map((rows, i) => {
      const t = mergeMetricRows(rows);
      return {
        at: new Date(from + i * stepMs).toISOString(),
        requests: t.requests,
        errorRate: t.requests > 0 ? t.errors / t.requests : null,
        p99Ms: t.p99Ms,
      };
    });
  return {
    flag,
    source: 'sdk',
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ms: opts.windowMs },
    stepMs,
    cohorts: { new: chart('new'), old: chart('old') },
  };
}
