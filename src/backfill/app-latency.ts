/*
 * The application's own latency, as ferry's SDK reports it: every process
 * using the SDK flushes a latency histogram per flag, cohort and time bucket
 * (10 s by default) to `ferry.metrics`. Merged over every flag and cohort, the
 * buckets that ended before the backfill started are the baseline; those that
 * began after the pacer last slowed down, and have ended, are what the
 * application felt at the current pace. Slower to arrive than the probe (a bucket counts once it has
 * ended and been flushed) but it is what the budget is about, so the pacer
 * judges by whichever of the two reads higher. Without the SDK's metrics, or
 * with too few requests either side, it says nothing.
 */

import type { Queryable } from '../db/database.js';
import { type MetricRow, mergeMetricRows, metricsTable } from '../health/sdk-source.js';

/** Buckets that ended this long before the run are the baseline. */
const BASELINE_SPAN_MS = 5 * 60_000;
/** Fewer requests than this in the baseline: no application signal for this run. */
const MIN_BASELINE_REQUESTS = 1000;
/** Fewer requests than this in the window judged: no reading yet (the p99 of 500 is the 5th slowest). */
const MIN_WINDOW_REQUESTS = 500;
/** The window judged reaches back at most this far. */
const WINDOW_SPAN_MS = 60_000;
/** How often `ferry.metrics` is read; the buckets change every few seconds. */
const READ_EVERY_MS = 2000;

/** The p99 of every request the SDK reported in the buckets that began at `from` or later and ended by `to` (epoch ms). */
async function p99Between(db: Queryable, from: number, to: number): Promise<{ requests: number; p99Ms: number | null }> {
  const { rows } = await db.query<MetricRow>(
    `SELECT requests::text AS requests, errors::text AS errors, data_errors::text AS data_errors, latency
       FROM ferry.metrics
      WHERE bucket_start >= $1::timestamptz AND bucket_start + bucket_ms * interval '1 millisecond' <= $2::timestamptz`,
    [new Date(from).toISOString(), new Date(to).toISOString()],
  );
  const totals = mergeMetricRows(rows);
  return { requests: totals.requests, p99Ms: totals.p99Ms };
}

/** The application's p99 against its baseline, from `ferry.metrics`; see the file's comment. */
export class AppLatency {
  private lastRead = Number.NEGATIVE_INFINITY;
  private lastImpact: number | null = null;
  private lastSince = Number.NaN;

  private constructor(
    private readonly db: Queryable,
    /** The baseline p99 in ms. */
    readonly baselineMs: number,
  ) {}

  /** The signal for a run that starts now, or undefined when the SDK reported too little before it (or never). */
  static async start(db: Queryable, now = Date.now()): Promise<AppLatency | undefined> {
    if (!(await metricsTable(db))) return undefined;
    const base = await p99Between(db, now - BASELINE_SPAN_MS, now);
    if (base.requests < MIN_BASELINE_REQUESTS || !base.p99Ms) return undefined;
    return new AppLatency(db, base.p99Ms);
  }

  /**
   * The application's p99 increase over the buckets that began at `since` or
   * later (epoch ms; at most a minute back) and have ended, as a fraction: null
   * while too few requests are in.
   * Read at most every {@link READ_EVERY_MS}; in between, the last reading.
   */
  async impactSince(since: number, now = Date.now()): Promise<number | null> {
    if (since === this.lastSince && now - this.lastRead < READ_EVERY_MS) return this.lastImpact;
    this.lastRead = now;
    this.lastSince = since;
    const w = await p99Between(this.db, Math.max(since, now - WINDOW_SPAN_MS), now);
    this.lastImpact = w.requests >= MIN_WINDOW_REQUESTS && w.p99Ms !== null ? w.p99Ms / this.baselineMs - 1 : null;
    return this.lastImpact;
  }
}
