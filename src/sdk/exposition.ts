import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Cohort, Sample, ShadowOutcome } from './metrics.js';
import type { FlagState } from './snapshot.js';

/**
 * Upper bounds (seconds) of `ferry_latency_seconds`: 0.5 ms to 60 s, about 25 %
 * apart up to a second, so `histogram_quantile` tells +10 % from +50 %.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15,
  0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10, 30, 60,
];

interface CohortSeries {
  requests: Counter.Internal;
  errors: Counter.Internal;
  dataErrors: Counter.Internal;
  latency: Histogram.Internal<string>;
}

/** The shadow outcomes, in the order of {@link CompatSeries.comparisons}. */
const OUTCOMES: readonly ShadowOutcome[] = ['match', 'mismatch', 'error', 'timeout'];

/** A cohort's `ferry/compat` series, made on its first shadow comparison or dual write. */
interface CompatSeries {
  comparisons: Record<ShadowOutcome, Counter.Internal>;
  writeFailures: Counter.Internal;
}

/**
 * The SDK's metrics in Prometheus form (prom-client, a registry of its own):
 * `ferry_requests_total`, `ferry_errors_total`, `ferry_data_errors_total` and
 * `ferry_latency_seconds` by `flag` and `cohort` (and, once `ferry/compat` uses them,
 * `ferry_shadow_comparisons_total` by `outcome` too and `ferry_write_failures_total`), plus each flag's percentage and
 * the snapshot's age. Created on first use, so applications that never expose
 * `/metrics` pay nothing for it.
 */
export class Exposition {
  /** The registry the series live in; `metrics()` renders the text format. */
  readonly registry = new Registry();
  private readonly requests: Counter<'flag' | 'cohort'>;
  private readonly errors: Counter<'flag' | 'cohort'>;
  private readonly dataErrors: Counter<'flag' | 'cohort'>;
  private readonly latency: Histogram<'flag' | 'cohort'>;
  private readonly series = new Map<string, [CohortSeries, CohortSeries]>();
  private readonly comparisons: Counter<'flag' | 'cohort' | 'outcome'>;
  private readonly writeFailures: Counter<'flag' | 'cohort'>;
  private readonly compat = new Map<string, [CompatSeries | undefined, CompatSeries | undefined]>();

  constructor(flags: () => FlagState[], snapshotAgeMs: () => number) {
    const registers = [this.registry];
    const labelNames = ['flag', 'cohort'] as const;
    this.requests = new Counter({ name: 'ferry_requests_total', help: 'Requests measured by the ferry SDK, by flag and cohort', labelNames, registers });
    this.errors = new Counter({ name: 'ferry_errors_total', help: 'Failed requests measured by the ferry SDK, by flag and cohort', labelNames, registers });
    this.dataErrors = new Counter({
      name: 'ferry_data_errors_total',
      help: 'Data errors measured by the ferry SDK (shadow comparisons that disagreed, failed secondary writes), by flag and cohort',
      labelNames,
      registers,
    });
    this.comparisons = new Counter({
      name: 'ferry_shadow_comparisons_total',
      help: 'Shadow reads whose candidate ran (ferry/compat), by flag, cohort and outcome: match, mismatch, error, timeout',
      labelNames: ['flag', 'cohort', 'outcome'] as const,
      registers,
    });
    this.writeFailures = new Counter({
      name: 'ferry_write_failures_total',
      help: 'Dual writes whose secondary write failed (ferry/compat), by flag and cohort',
      labelNames,
      registers,
    });
    this.latency = new Histogram({
      name: 'ferry_latency_seconds',
      help: 'Latency of requests measured by the ferry SDK, by flag and cohort',
      labelNames,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    new Gauge({
      name: 'ferry_flag_percentage',
      help: "Share of units a flag lets in (0 when it is off), from the SDK's snapshot",
      labelNames: ['flag'],
      registers,
      collect() {
        this.reset();
        for (const f of flags()) this.set({ flag: f.key }, f.enabled ? f.percentage : 0);
      },
    });
    new Gauge({
      name: 'ferry_snapshot_age_seconds',
      help: "Age of the SDK's flag snapshot",
      registers,
      collect() {
        const age = snapshotAgeMs();
        this.set(Number.isFinite(age) ? age / 1000 : -1);
      },
    });
  }

  /**
   * Count one request (the hot path: label children are looked up once per flag). `compat` carries a shadow
   * comparison or a failed secondary write; a mismatch or a write failure is a data error too (one per request).
   */
  observe(flag: string, cohort: Cohort, latencyMs: number, error: boolean, dataError: boolean, compat?: Sample): void {
    const s = this.of(flag)[cohort === 'new' ? 0 : 1];
    s.requests.inc();
    if (error) s.errors.inc();
    let wrong = dataError;
    if (compat !== undefined && (compat.shadow !== undefined || compat.writeFailure === true)) {
      const c = this.compatOf(flag, cohort);
      if (compat.shadow !== undefined) c.comparisons[compat.shadow]?.inc();
      if (compat.writeFailure === true) c.writeFailures.inc();
      wrong ||= compat.shadow === 'mismatch' || compat.writeFailure === true;
    }
    if (wrong) s.dataErrors.inc();
    s.latency.observe(latencyMs > 0 ? latencyMs / 1000 : 0);
  }

  /** Expose zero-valued series for `flags` before their first request, so `increase()` sees them start. */
  zero(flags: readonly string[]): void {
    for (const f of flags) this.of(f);
  }

  /** The Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** A Node HTTP handler answering every request with the text format (mount it at `/metrics`). */
  handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (_req, res) => {
      this.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`ferry metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
    };
  }

  private compatOf(flag: string, cohort: Cohort): CompatSeries {
    let pair = this.compat.get(flag);
    if (!pair) {
      pair = [undefined, undefined];
      this.compat.set(flag, pair);
    }
    const i = cohort === 'new' ? 0 : 1;
    let c = pair[i];
    if (!c) {
      const comparisons = {} as Record<ShadowOutcome, Counter.Internal>;
      for (const outcome of OUTCOMES) {
        comparisons[outcome] = this.comparisons.labels(flag, cohort, outcome);
        comparisons[outcome].inc(0);
      }
      const writeFailures = this.writeFailures.labels(flag, cohort);
      writeFailures.inc(0);
      c = { comparisons, writeFailures };
      pair[i] = c;
    }
    return c;
  }

  private of(flag: string): [CohortSeries, CohortSeries] {
    let s = this.series.get(flag);
    if (!s) {
      const make = (cohort: Cohort): CohortSeries => {
        const requests = this.requests.labels(flag, cohort);
        const errors = this.errors.labels(flag, cohort);
        const dataErrors = this.dataErrors.labels(flag, cohort);
        for (const c of [requests, errors, dataErrors]) c.inc(0);
        this.latency.zero({ flag, cohort });
        return { requests, errors, dataErrors, latency: this.latency.labels(flag, cohort) };
      };
      s = [make('new'), make('old')];
      this.series.set(flag, s);
    }
    return s;
  }
}
