import type { Cohort } from '../sdk/metrics.js';

/** The time span a matrix judges, by the database's clock. */
export interface Window {
  from: Date;
  to: Date;
}

/** What one cohort of one flag did in a window. */
export interface CohortFigures {
  /** Requests seen; null when the source cannot count them (a Prometheus source without a `requests` query). */
  requests: number | null;
  /** Failed requests over requests, as a fraction; null without requests. */
  errorRate: number | null;
  /** p99 latency in milliseconds; null without requests. */
  p99Ms: number | null;
  /** Shadow comparisons that disagreed (data errors the application reported). */
  dataErrors: number;
}

/**
 * A metric source: where the canary's and the baseline's numbers come from.
 * Two implement it: the SDK's rows in `ferry.metrics` and Prometheus queries.
 */
export interface MetricSource {
  /** `sdk` or `prometheus`, for reports. */
  readonly name: 'sdk' | 'prometheus';
  /** The figures of `flag`'s `cohort` in `window`. */
  read(flag: string, cohort: Cohort, window: Window): Promise<CohortFigures>;
}
