import { z } from 'zod';
import { parseHold } from '../rollout/schedule.js';
import { type Thresholds, thresholdsOf, thresholdsSchema } from './thresholds.js';

const duration = (what: string) =>
  z.string().refine((h) => parseHold(h) !== undefined, `${what} must be a duration of at least one second, like "5s", "30s", "5min" or "1h"`);

/** PromQL with placeholders `{{flag}}`, `{{cohort}}` (`new` | `old`) and `{{window}}` (e.g. `300s`). */
const promql = z.string().min(1, 'must not be empty');

/**
 * A manifest's `health.prometheus`: where Prometheus answers and the queries for
 * each cohort. Omitted queries default to the metrics the SDK exposes
 * (`ferry_requests_total`, `ferry_errors_total`, `ferry_latency_seconds`, `ferry_data_errors_total`).
 */
export const prometheusSchema = z.strictObject({
  url: z.url().describe('Base URL of the Prometheus server, e.g. `http://prometheus:9090`.'),
  errorRate: promql.optional().describe('PromQL: error rate of one cohort as a fraction (0.01 = 1 %); placeholders {{flag}}, {{cohort}}, {{window}}.'),
  latencyP99: promql.optional().describe('PromQL: p99 latency of one cohort, in seconds.'),
  requests: promql.optional().describe('PromQL: requests of one cohort in the window; without it, "no data" is an error-rate query without a value.'),
  dataErrors: promql.optional().describe("PromQL: shadow-comparison mismatches of one cohort in the window (added to the verification checks' data errors)."),
  timeout: duration('timeout').optional().describe('How long one query may take; default "10s".'),
});

/** The manifest's `health` field: thresholds, how often and over how long the controller judges, and an optional Prometheus source. */
export const healthSchema = z.strictObject({
  thresholds: thresholdsSchema.optional().describe("Overrides of the decision matrix's defaults."),
  interval: duration('interval').optional().describe('How often the controller evaluates health, like "30s" (the default).'),
  window: duration('window').optional().describe('The sliding window a matrix covers (never reaching before the stage began); default "5min".'),
  prometheus: prometheusSchema
    .optional()
    .describe("Judge on Prometheus instead of the SDK's metrics in the database; queries default to the SDK's exported metrics."),
});

/** The manifest's `health` field as written. */
export type HealthInput = z.input<typeof healthSchema>;
/** A manifest's Prometheus settings, validated. */
export type PrometheusSettings = z.output<typeof prometheusSchema>;

/** Everything health needs from a manifest, with defaults applied. */
export interface HealthSettings {
  thresholds: Thresholds;
  intervalMs: number;
  windowMs: number;
  prometheus: PrometheusSettings | undefined;
}

/** Default evaluation interval: 30 s. */
export const DEFAULT_INTERVAL_MS = 30_000;
/** Default window: 5 minutes. */
export const DEFAULT_WINDOW_MS = 300_000;

/** The settings of a validated `health` field (or the defaults when it is absent). */
export function healthSettingsOf(health: z.output<typeof healthSchema> | undefined): HealthSettings {
  return {
    thresholds: thresholdsOf(health?.thresholds),
    intervalMs: (health?.interval && parseHold(health.interval)) || DEFAULT_INTERVAL_MS,
    windowMs: (health?.window && parseHold(health.window)) || DEFAULT_WINDOW_MS,
    prometheus: health?.prometheus,
  };
}
