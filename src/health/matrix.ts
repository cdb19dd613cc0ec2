import type { ResourceSignal } from './resource-row.js';
import type { CohortFigures, Window } from './source.js';
import { bandColour, type Colour, type Thresholds } from './thresholds.js';

export { bandColour };

/** The metrics of the decision matrix; `resources` is the server's load ("resource usage acceptable"). */
export type MetricName = 'errorRate' | 'latencyP99' | 'dataErrors' | 'resources';

/** One row of the matrix: the canary's value, the baseline's, what was compared and against which band. */
export interface MetricVerdict {
  metric: MetricName;
  /** The new cohort's value: error rate (fraction), p99 (ms), data errors (count); null without enough traffic. */
  value: number | null;
  /** The old cohort's value (the baseline); null when there is none. */
  baseline: number | null;
  /** What the band applies to: the error rate, the p99 increase over the baseline (fraction), the data errors. */
  compared: number | null;
  /** Green below `yellow`, yellow from `yellow` up to and including `red`, red above. */
  threshold: { yellow: number; red: number };
  colour: Colour;
  /** Why, for people: "0.52 % ≤ 1 %", "new cohort 12 requests < 100". */
  note: string;
  /** The resource row's signals; its value, baseline, compared and threshold are those of the signal that decided its colour. */
  signals?: ResourceSignal[];
}

/** Traffic of one cohort in the window. */
export interface CohortTraffic {
  requests: number | null;
  errorRate: number | null;
  p99Ms: number | null;
}

/** The decision matrix of one migration's stage: every metric's verdict and the overall colour. */
export interface DecisionMatrix {
  migrationId: string;
  flag: string;
  source: 'sdk' | 'prometheus';
  /** The stage's percentage (0 before the rollout started). */
  percentage: number;
  window: { from: string; to: string; ms: number };
  /** Where the baseline came from: the same window, or (no old traffic left, e.g. at 100 %) the window before the stage began. */
  baselineWindow: { from: string; to: string } | null;
  traffic: { new: CohortTraffic; old: CohortTraffic; minRequests: number };
  metrics: MetricVerdict[];
  /** Worst of the metrics that count (see {@link counts}): red > yellow > no-data > green. */
  colour: Colour;
  thresholds: Thresholds;
}

const RANK: Record<Colour, number> = { green: 0, 'no-data': 1, yellow: 2, red: 3 };

/** The worse of colours: red > yellow > no-data > green (no data is never green). */
export function worst(colours: readonly Colour[]): Colour {
  return colours.reduce<Colour>((w, c) => (RANK[c] > RANK[w] ? c : w), 'green');
}

/**
 * Whether a row takes part in the overall colour. The resource row does only
 * when it measured something: it can hold or stop a rollout, but an engine that
 * cannot see the server's load (PGlite) or a stage without a baseline yet must not
 * keep the rollout waiting on "no data" for ever.
 */
export function counts(v: MetricVerdict): boolean {
  return v.metric !== 'resources' || v.colour !== 'no-data';
}

const pct = (f: number) => `${Number((f * 100).toFixed(2))} %`;
const signedPct = (f: number) => `${f >= 0 ? '+' : ''}${pct(f)}`;
const ms = (n: number) => `${Number(n.toFixed(2))} ms`;

/** What the matrix is judged on. */
export interface MatrixInput {
  migrationId: string;
  flag: string;
  source: 'sdk' | 'prometheus';
  percentage: number;
  window: Window;
  baselineWindow: Window | null;
  canary: CohortFigures;
  baseline: CohortFigures;
  /** Data errors: the verification checks' plus the shadow comparisons' of the new cohort. */
  dataErrors: number;
  thresholds: Thresholds;
  /** The resource row, judged from the server's load readings; absent: the matrix has no such row. */
  resources?: MetricVerdict;
}

/** Whether a cohort has enough traffic to judge: `minRequests` requests, or a value at all when the source cannot count. */
function enough(f: CohortFigures, min: number): boolean {
  return f.requests === null ? f.errorRate !== null : f.requests >= min;
}

function shortOf(f: CohortFigures, cohort: string, min: number): string {
  return f.requests === null ? `no ${cohort}-cohort traffic in the window` : `${cohort} cohort ${Math.round(f.requests)} requests < ${min}`;
}

/**
 * The decision matrix (DESIGN.md defaults, per-migration overrides): the new
 * cohort's error rate against absolute bands, its p99 against the old cohort's
 * (the baseline), and the data errors. Too little traffic is "no data", never green.
 */
export function evaluateMatrix(i: MatrixInput): DecisionMatrix {
  const t = i.thresholds;
  const canaryOk = enough(i.canary, t.minRequests);
  const baselineOk = enough(i.baseline, t.minRequests);

  const errorRate: MetricVerdict = {
    metric: 'errorRate',
    value: null,
    baseline: i.baseline.errorRate,
    compared: null,
    threshold: t.errorRate,
    colour: 'no-data',
    note: '',
  };
  if (!canaryOk || i.canary.errorRate === null) errorRate.note = shortOf(i.canary, 'new', t.minRequests);
  else {
    errorRate.value = errorRate.compared = i.canary.errorRate;
    errorRate.colour = bandColour(i.canary.errorRate, t.errorRate);
    errorRate.note = `${pct(i.canary.errorRate)} (${errorRate.colour === 'green' ? '<' : errorRate.colour === 'yellow' ? '≤' : '>'} ${pct(errorRate.colour === 'green' ? t.errorRate.yellow : t.errorRate.red)})`;
  }

  const latency: MetricVerdict = {
    metric: 'latencyP99',
    value: canaryOk ? i.canary.p99Ms : null,
    baseline: baselineOk ? i.baseline.p99Ms : null,
    compared: null,
    threshold: t.latencyP99Increase,
    colour: 'no-data',
    note: '',
  };
  if (!canaryOk) latency.note = shortOf(i.canary, 'new', t.minRequests);
  else if (!baselineOk) latency.note = `no baseline: ${shortOf(i.baseline, 'old', t.minRequests)}`;
  else if (latency.value === null || latency.baseline === null || latency.baseline <= 0) latency.note = 'no latency reported';
  else {
    const increase = latency.value / latency.baseline - 1;
    latency.compared = increase;
    latency.colour = bandColour(increase, t.latencyP99Increase);
    latency.note = `${ms(latency.value)} vs ${ms(latency.baseline)}: ${signedPct(increase)}`;
  }

  const data: MetricVerdict = {
    metric: 'dataErrors',
    value: i.dataErrors,
    baseline: null,
    compared: i.dataErrors,
    threshold: t.dataErrors,
    colour: bandColour(i.dataErrors, t.dataErrors),
    note: `${i.dataErrors} data error${i.dataErrors === 1 ? '' : 's'}`,
  };

  const metrics = i.resources ? [errorRate, latency, data, i.resources] : [errorRate, latency, data];
  const traffic = (f: CohortFigures): CohortTraffic => ({ requests: f.requests, errorRate: f.errorRate, p99Ms: f.p99Ms });
  return {
    migrationId: i.migrationId,
    flag: i.flag,
    source: i.source,
    percentage: i.percentage,
    window: { from: i.window.from.toISOString(), to: i.window.to.toISOString(), ms: i.window.to.getTime() - i.window.from.getTime() },
    baselineWindow: i.baselineWindow ? { from: i.baselineWindow.from.toISOString(), to: i.baselineWindow.to.toISOString() } : null,
    traffic: { new: traffic(i.canary), old: traffic(i.baseline), minRequests: t.minRequests },
    metrics,
    colour: worst(metrics.filter(counts).map((m) => m.colour)),
    thresholds: t,
  };
}

/** The verdict of one metric. */
export function verdictOf(m: DecisionMatrix, metric: MetricName): MetricVerdict {
  return m.metrics.find((v) => v.metric === metric) as MetricVerdict;
}

/** A verdict's numbers without its notes (the resource row's signals too), as logged with each decision. */
export function verdictNumbers({ metric, value, baseline, compared, threshold, colour, signals }: MetricVerdict): Record<string, unknown> {
  const numbers = { metric, value, baseline, compared, threshold, colour };
  return signals ? { ...numbers, signals: signals.map(({ note, ...s }) => s) } : numbers;
}

/** Each metric's name for people. */
export const METRIC_NAMES: Record<MetricName, string> = {
  errorRate: 'error rate',
  latencyP99: 'p99 latency',
  dataErrors: 'data errors',
  resources: 'resource usage',
};

/** One line per metric that counts and is not green, for reasons and events. */
export function explain(m: DecisionMatrix): string {
  const judged = m.metrics.filter(counts);
  const bad = judged.filter((v) => v.colour !== 'green');
  const list = (bad.length ? bad : judged).map((v) => `${METRIC_NAMES[v.metric]} ${v.colour}: ${v.note}`);
  return list.join('; ');
}
