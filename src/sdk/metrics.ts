import { hostname } from 'node:os';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { Queryable } from '../db/database.js';
import { sqlState } from '../errors.js';

/** Which side of a flag a request ran on: `new` for units in the flag, `old` otherwise (the baseline). */
export type Cohort = 'new' | 'old';

/** One measured request for {@link MetricsRecorder.record}. */
export interface Sample {
  /** How long the code path took, in milliseconds. */
  latencyMs: number;
  /** The request failed. */
  error?: boolean;
  /** A shadow comparison of the old and the new path disagreed (a data error). */
  dataError?: boolean;
  /**
   * A shadow read's comparison (`ferry/compat`): the candidate agreed, disagreed (counted as a data error too),
   * threw, or was not done within its time limit. Absent: no candidate ran.
   */
  shadow?: ShadowOutcome;
  /** How long the shadow candidate took, in milliseconds (with `shadow`, unless it timed out). */
  candidateLatencyMs?: number;
  /** A dual write's secondary (non-authoritative) write failed (counted as a data error too). */
  writeFailure?: boolean;
}

/** What one shadow comparison found. */
export type ShadowOutcome = 'match' | 'mismatch' | 'error' | 'timeout';

/** Tuning of the SDK's metrics; every field has a default. */
export interface MetricsOptions {
  /** How often aggregates are written to `ferry.metrics`; default 5,000 ms. */
  flushIntervalMs?: number;
  /** Width of a time bucket; rows of all processes for one bucket add up. Default 10,000 ms. */
  bucketMs?: number;
  /** Unflushed buckets older than this are dropped (the database was away too long); default 600,000 ms. */
  retainMs?: number;
}

/** One flushed aggregate: a flag's cohort in one time bucket. */
export interface MetricRow {
  flag: string;
  cohort: Cohort;
  bucketStart: number;
  bucketMs: number;
  requests: number;
  errors: number;
  dataErrors: number;
  latency: Histogram;
  /** Shadow comparisons whose candidate ran (any outcome), and of them: mismatches, candidate errors, timeouts. */
  comparisons: number;
  mismatches: number;
  candidateErrors: number;
  candidateTimeouts: number;
  /** Dual writes whose secondary write failed. */
  writeFailures: number;
  /** The shadow candidates' latencies; null when no candidate finished (written as NULL). */
  candidateLatency: Histogram | null;
}

/** Microseconds; latencies above an hour still fit (the histogram resizes). */
const HIGHEST_US = 3_600_000_000;

/** A latency histogram: microseconds, 2 significant digits (1 % resolution), the same shape in every process so they merge. */
export function newLatencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 2, autoResize: true });
}

/** What a flag's cohort collected in one bucket (the candidate histogram only once a candidate finished). */
/** What a cohort counted in one bucket: a {@link MetricRow} without its flag, cohort and bucket. */
export type Cell = Omit<MetricRow, 'flag' | 'cohort' | 'bucketStart' | 'bucketMs'>;

/** Zero counts and an empty latency histogram: one cohort's cell before its first request (also the base of a test's hand-made row). */
export const newMetricCounts = (): Cell => ({
  requests: 0,
  errors: 0,
  dataErrors: 0,
  latency: newLatencyHistogram(),
  comparisons: 0,
  mismatches: 0,
  candidateErrors: 0,
  candidateTimeouts: 0,
  writeFailures: 0,
  candidateLatency: null,
});

const micros = (ms: number) => Math.min(ms > 0 ? Math.round(ms * 1000) : 0, HIGHEST_US);

/**
 * The in-memory aggregate: per time bucket, per flag, the two cohorts' counts and
 * latency histograms. `add` is the hot path (no I/O, no allocation after a flag's
 * first request in a bucket); `drain` hands everything over for a flush.
 */
export class MetricsAggregate {
  private buckets = new Map<number, Map<string, [Cell, Cell]>>();
  private currentStart = -1;
  private current: Map<string, [Cell, Cell]> | undefined;

  constructor(private readonly bucketMs: number) {}

  /**
   * Count one request of `flag`'s `cohort` now. `compat` carries a shadow comparison and a failed secondary
   * write; a mismatch or a write failure is a data error too (one per request at most).
   */
  add(flag: string, cohort: Cohort, latencyMs: number, error: boolean, dataError: boolean, compat?: Sample): void {
    const start = Math.floor(Date.now() / this.bucketMs) * this.bucketMs;
    if (start !== this.currentStart || !this.current) {
      this.currentStart = start;
      this.current = this.buckets.get(start);
      if (!this.current) {
        this.current = new Map();
        this.buckets.set(start, this.current);
      }
    }
    let cells = this.current.get(flag);
    if (!cells) {
      cells = [newMetricCounts(), newMetricCounts()];
      this.current.set(flag, cells);
    }
    const cell = cohort === 'new' ? cells[0] : cells[1];
    cell.requests++;
    if (error) cell.errors++;
    let wrong = dataError;
    if (compat !== undefined) {
      const outcome = compat.shadow;
      if (outcome !== undefined) {
        cell.comparisons++;
        if (outcome === 'mismatch') {
          cell.mismatches++;
          wrong = true;
        } else if (outcome === 'error') cell.candidateErrors++;
        else if (outcome === 'timeout') cell.candidateTimeouts++;
        const c = compat.candidateLatencyMs;
        if (outcome !== 'timeout' && typeof c === 'number' && Number.isFinite(c)) {
          cell.candidateLatency ??= newLatencyHistogram();
          cell.candidateLatency.recordValue(micros(c));
        }
      }
      if (compat.writeFailure === true) {
        cell.writeFailures++;
        wrong = true;
      }
    }
    if (wrong) cell.dataErrors++;
    cell.latency.recordValue(micros(latencyMs));
  }

  /** Everything collected so far, emptied; cohorts without requests are left out. */
  drain(): MetricRow[] {
    const rows: MetricRow[] = [];
    for (const [bucketStart, flags] of this.buckets) {
      for (const [flag, cells] of flags) {
        cells.forEach((c, i) => {
          if (c.requests > 0) rows.push({ flag, cohort: i === 0 ? 'new' : 'old', bucketStart, bucketMs: this.bucketMs, ...c });
        });
      }
    }
    this.buckets = new Map();
    this.current = undefined;
    this.currentStart = -1;
    return rows;
  }

  /** Put rows whose flush failed back, merged with what arrived since; rows older than `oldest` are dropped. */
  restore(rows: readonly MetricRow[], oldest: number): void {
    for (const r of rows) {
      if (r.bucketStart < oldest) continue;
      let flags = this.buckets.get(r.bucketStart);
      if (!flags) {
        flags = new Map();
        this.buckets.set(r.bucketStart, flags);
      }
      let cells = flags.get(r.flag);
      if (!cells) {
        cells = [newMetricCounts(), newMetricCounts()];
        flags.set(r.flag, cells);
      }
      const cell = r.cohort === 'new' ? cells[0] : cells[1];
      cell.requests += r.requests;
      cell.errors += r.errors;
      cell.dataErrors += r.dataErrors;
      cell.latency.add(r.latency);
      cell.comparisons += r.comparisons;
      cell.mismatches += r.mismatches;
      cell.candidateErrors += r.candidateErrors;
      cell.candidateTimeouts += r.candidateTimeouts;
      cell.writeFailures += r.writeFailures;
      if (r.candidateLatency) {
        cell.candidateLatency ??= newLatencyHistogram();
        cell.candidateLatency.add(r.candidateLatency);
      }
    }
  }
}

/** Names this process in `ferry.metrics.source`. */
export function metricsSourceName(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/** Rows per INSERT: 15 parameters each stays far below PostgreSQL's 65,535. */
const CHUNK = 1000;

/** SQLSTATE undefined_column: `ferry.metrics` of a state older than version 11 (no `ferry/compat` columns). */
const UNDEFINED_COLUMN = '42703';

/**
 * Append flushed aggregates to `ferry.metrics`, a parameterised INSERT per
 * 1,000 rows. Resolves to the rows not written (all from the failed chunk on),
 * with the error, so the caller can keep them for the next flush without counting any twice.
 * Against a ferry state older than version 11 the `ferry/compat` columns are left out (their
 * mismatches and failed writes are still in `data_errors`).
 */
export async function writeMetrics(db: Queryable, rows: readonly MetricRow[], source: string): Promise<{ unwritten: MetricRow[]; error?: unknown }> {
  for (let from = 0; from < rows.length; from += CHUNK) {
    const chunk = rows.slice(from, from + CHUNK);
    try {
      await db.query(...insertOf(chunk, source, true)).catch((err: unknown) => {
        if (sqlState(err) !== UNDEFINED_COLUMN) throw err;
        return db.query(...insertOf(chunk, source, false));
      });
    } catch (error) {
      return { unwritten: rows.slice(from), error };
    }
  }
  return { unwritten: [] };
}

const BASE_COLUMNS = 'flag_key, cohort, bucket_start, bucket_ms, requests, errors, data_errors, latency, source';
const COMPAT_COLUMNS = 'comparisons, mismatches, candidate_errors, candidate_timeouts, write_failures, candidate_latency';

/** The INSERT of `chunk`: with the `ferry/compat` columns (state version 11) or without. */
function insertOf(chunk: readonly MetricRow[], source: string, compat: boolean): [string, unknown[]] {
  const params: unknown[] = [];
  const values = chunk.map((r) => {
    const at = params.length;
    params.push(r.flag, r.cohort, r.bucketStart, r.bucketMs, r.requests, r.errors, r.dataErrors, encodeIntoCompressedBase64(r.latency), source);
    const p = (i: number) => `$${at + i}`;
    const base = `${p(1)}, ${p(2)}, to_timestamp(${p(3)}::float8 / 1000), ${p(4)}::int, ${p(5)}::bigint, ${p(6)}::bigint, ${p(7)}::bigint, ${p(8)}, ${p(9)}`;
    if (!compat) return `(${base})`;
    params.push(
      r.comparisons,
      r.mismatches,
      r.candidateErrors,
      r.candidateTimeouts,
      r.writeFailures,
      r.candidateLatency ? encodeIntoCompressedBase64(r.candidateLatency) : null,
    );
    return `(${base}, ${p(10)}::bigint, ${p(11)}::bigint, ${p(12)}::bigint, ${p(13)}::bigint, ${p(14)}::bigint, ${p(15)}::text)`;
  });
  const columns = compat ? `${BASE_COLUMNS}, ${COMPAT_COLUMNS}` : BASE_COLUMNS;
  return [`INSERT INTO ferry.metrics (${columns}) VALUES ${values.join(', ')}`, params];
}
