import type { Queryable } from '../db/database.js';
import { readRollout } from '../rollout/stages.js';
import type { HealthSettings } from './config.js';
import { type DecisionMatrix, evaluateMatrix } from './matrix.js';
import { PrometheusSource } from './prometheus.js';
import { judgeResources } from './resources.js';
import { SdkMetricSource } from './sdk-source.js';
import type { CohortFigures, MetricSource, Window } from './source.js';

/** What health needs to know about a migration: its id, flag and settings. */
export interface HealthTarget {
  id: string;
  flag: string;
  settings: HealthSettings;
}

/** The source a migration's manifest asks for: Prometheus when `health.prometheus` is set, else the SDK's metrics; `override` forces one. */
export function sourceFor(db: Queryable, settings: HealthSettings, override?: 'sdk' | 'prometheus'): MetricSource {
  const kind = override ?? (settings.prometheus ? 'prometheus' : 'sdk');
  if (kind === 'sdk') return new SdkMetricSource(db);
  if (!settings.prometheus) throw new Error('no health.prometheus in the manifest');
  return new PrometheusSource(settings.prometheus);
}

const enough = (f: CohortFigures, min: number) => (f.requests === null ? f.errorRate !== null : f.requests >= min);

/**
 * The matrix of the current stage: the sliding window (`health.window`, never
 * reaching before the stage began) up to the database's now. When the old cohort
 * has too little traffic in it (at 100 % it has none), its baseline comes from the
 * same length of time before the stage began. The resource row judges the
 * server's load readings the same way: the window's against those from before
 * the stage began; `unmeasured` says why there is no fresh one (see `sampleResources`).
 */
export async function assessHealth(
  db: Queryable,
  t: HealthTarget,
  source: MetricSource,
  opts: { checkDataErrors: number; window?: Window; unmeasured?: string },
): Promise<DecisionMatrix> {
  const { rows } = await db.query<{ now: Date | string }>('SELECT clock_timestamp() AS now');
  const now = new Date(rows[0]?.now ?? Date.now());
  const rollout = await readRollout(db, t.id);
  const windowMs = t.settings.windowMs;
  const stageStart = rollout?.stageStartedAt;
  const window: Window = opts.window ?? {
    from: new Date(Math.max(now.getTime() - windowMs, stageStart?.getTime() ?? 0)),
    to: now,
  };
  const [canary, sameWindow] = await Promise.all([source.read(t.flag, 'new', window), source.read(t.flag, 'old', window)]);
  let baseline = sameWindow;
  let baselineWindow: Window | null = null;
  if (!enough(sameWindow, t.settings.thresholds.minRequests) && stageStart && !opts.window) {
    const before: Window = { from: new Date(stageStart.getTime() - windowMs), to: stageStart };
    const earlier = await source.read(t.flag, 'old', before);
    if (enough(earlier, t.settings.thresholds.minRequests)) {
      baseline = earlier;
      baselineWindow = before;
    }
  }
  const resources = await judgeResources(db, {
    window,
    stageStart,
    windowMs,
    thresholds: t.settings.thresholds.resources,
    ...(opts.unmeasured === undefined ? {} : { unmeasured: opts.unmeasured }),
  });
  return evaluateMatrix({
    migrationId: t.id,
    flag: t.flag,
    source: source.name,
    percentage: rollout?.percentage ?? 0,
    window,
    baselineWindow,
    canary,
    baseline,
    dataErrors: opts.checkDataErrors + canary.dataErrors,
    thresholds: t.settings.thresholds,
    resources,
  });
}
