import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, type DecisionContext, decide, evaluateMatrix, healthSchema, healthSettingsOf, thresholdsOf } from '../../src/health/index.js';
import type { CohortFigures } from '../../src/health/source.js';
import { manifestSchema } from '../../src/migration/manifest.js';

const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-01T00:05:00Z') };
const figures = (requests: number | null, errorRate: number | null, p99Ms: number | null, dataErrors = 0): CohortFigures => ({
  requests,
  errorRate,
  p99Ms,
  dataErrors,
});
const baseline = figures(10_000, 0.0005, 100);

function matrix(canary: CohortFigures, dataErrors = 0, old = baseline) {
  return evaluateMatrix({
    migrationId: 'm',
    flag: 'f',
    source: 'sdk',
    percentage: 5,
    window,
    baselineWindow: null,
    canary,
    baseline: old,
    dataErrors,
    thresholds: DEFAULT_THRESHOLDS,
  });
}
const colours = (m: ReturnType<typeof matrix>) => Object.fromEntries(m.metrics.map((v) => [v.metric, v.colour]));
const running: DecisionContext = { paused: false, holdElapsed: true, acknowledged: false, lastStage: false };

describe('the decision matrix (workflow defaults)', () => {
  it('error rate: < 0.1 % green, 0.1–1 % yellow, > 1 % red', () => {
    expect(colours(matrix(figures(1000, 0.0009, 100))).errorRate).toBe('green');
    expect(colours(matrix(figures(1000, 0.001, 100))).errorRate).toBe('yellow');
    expect(colours(matrix(figures(1000, 0.01, 100))).errorRate).toBe('yellow');
    expect(colours(matrix(figures(1000, 0.0101, 100))).errorRate).toBe('red');
  });

  it('p99 latency against the old cohort: < +10 % green, +10–50 % yellow, > +50 % red', () => {
    expect(colours(matrix(figures(1000, 0, 109))).latencyP99).toBe('green');
    expect(colours(matrix(figures(1000, 0, 130))).latencyP99).toBe('yellow');
    expect(colours(matrix(figures(1000, 0, 150))).latencyP99).toBe('yellow');
    expect(colours(matrix(figures(1000, 0, 151))).latencyP99).toBe('red');
    const m = matrix(figures(1000, 0, 130));
    expect(m.metrics.find((v) => v.metric === 'latencyP99')).toMatchObject({ value: 130, baseline: 100, threshold: { yellow: 0.1, red: 0.5 } });
    expect(m.metrics.find((v) => v.metric === 'latencyP99')?.compared).toBeCloseTo(0.3);
  });

  it('data errors: 0 green, 1–5 yellow, > 5 red', () => {
    expect([0, 1, 5, 6].map((n) => colours(matrix(figures(1000, 0, 100), n)).dataErrors)).toEqual(['green', 'yellow', 'yellow', 'red']);
  });

  it('too little traffic is "no data", never green: in the new cohort, or without a baseline', () => {
    const few = matrix(figures(99, 0, 100));
    expect(few.colour).toBe('no-data');
    expect(colours(few)).toEqual({ errorRate: 'no-data', latencyP99: 'no-data', dataErrors: 'green' });
    expect(matrix(figures(0, null, null)).colour).toBe('no-data');
    expect(matrix(figures(1000, 0, 100), 0, figures(10, 0, 100)).colour).toBe('no-data');
    // A source that cannot count requests (Prometheus without a requests query) judges on whether it has values.
    expect(matrix(figures(null, 0, 100), 0, figures(null, 0, 100)).colour).toBe('green');
    expect(matrix(figures(null, null, null)).colour).toBe('no-data');
  });

  it('overall colour: red > yellow > no data > green', () => {
    expect(matrix(figures(1000, 0, 100)).colour).toBe('green');
    expect(matrix(figures(1000, 0.002, 100)).colour).toBe('yellow');
    expect(matrix(figures(10, 0, 100), 2).colour).toBe('yellow');
    expect(matrix(figures(10, 0, 100), 6).colour).toBe('red');
    expect(matrix(figures(1000, 0.002, 200)).colour).toBe('red');
  });

  it('thresholds are overridable per migration', () => {
    const t = thresholdsOf({ errorRate: { yellow: 0.01, red: 0.05 }, minRequests: 10 });
    expect(t).toEqual({ ...DEFAULT_THRESHOLDS, errorRate: { yellow: 0.01, red: 0.05 }, minRequests: 10 });
    expect(healthSettingsOf(healthSchema.parse({ interval: '5s', window: '1min' }))).toMatchObject({ intervalMs: 5000, windowMs: 60_000 });
    expect(healthSettingsOf(undefined)).toMatchObject({ intervalMs: 30_000, windowMs: 300_000, prometheus: undefined });
    expect(healthSchema.safeParse({ interval: '0s' }).success).toBe(false);
    expect(healthSchema.safeParse({ thresholds: { errorRate: { yellow: 0.1, red: 0.01 } } }).success).toBe(false);
    expect(healthSchema.safeParse({ prometheus: { url: 'not a url' } }).success).toBe(false);
    const base = { title: 't', summary: 's', type: 'schema-additive', strategy: 'incremental', steps: [{ id: 'a' }] };
    expect(manifestSchema.safeParse({ ...base, health: { interval: '1s' } }).success).toBe(false);
    expect(manifestSchema.safeParse({ ...base, flag: 'f', health: { interval: '1s', prometheus: { url: 'http://127.0.0.1:9090' } } }).success).toBe(true);
  });
});

describe('the decision tree', () => {
  it('red on the error rate: quick rollback (flag off), no down without data errors', () => {
    expect(decide(matrix(figures(1000, 0.05, 100)), running)).toMatchObject({ action: 'rollback', down: false });
  });

  it('red on data errors, or red while data errors were found: rollback with down', () => {
    expect(decide(matrix(figures(1000, 0, 100), 6), running)).toMatchObject({ action: 'rollback', down: true });
    expect(decide(matrix(figures(1000, 0.05, 100), 2), running)).toMatchObject({ action: 'rollback', down: true });
  });

  it('red on latency only (degraded, not severe): pause and investigate', () => {
    const d = decide(matrix(figures(1000, 0, 200)), running);
    expect(d).toMatchObject({ action: 'pause', down: false });
    expect(d.reason).toMatch(/not severe/);
  });

  it('yellow pauses, unless an operator acknowledged it for this stage', () => {
    const yellow = matrix(figures(1000, 0, 130));
    expect(decide(yellow, running).action).toBe('pause');
    expect(decide(yellow, { ...running, acknowledged: true }).action).toBe('promote');
    expect(decide(yellow, { ...running, acknowledged: true, holdElapsed: false }).action).toBe('hold');
  });

  it('no data waits and never promotes; a paused rollout stays paused until green', () => {
    const none = matrix(figures(5, 0, 100));
    expect(decide(none, running).action).toBe('wait');
    expect(decide(none, { ...running, paused: true }).action).toBe('pause');
  });

  it('green: hold until the hold elapsed, then promote (complete at 100 %); resume a paused rollout', () => {
    const green = matrix(figures(1000, 0, 100));
    expect(decide(green, { ...running, holdElapsed: false }).action).toBe('hold');
    expect(decide(green, running).action).toBe('promote');
    expect(decide(green, { ...running, lastStage: true }).action).toBe('complete');
    expect(decide(green, { ...running, paused: true }).action).toBe('resume');
  });
});
