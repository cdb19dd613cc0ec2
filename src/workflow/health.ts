import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import { assessHealth, sourceFor } from '../health/assess.js';
import { type ControllerEvent, type ControllerResult, type ControllerTarget, type ControllerWorkflow, runController } from '../health/controller.js';
import { readController } from '../health/controller-state.js';
import { type Decision, decide } from '../health/decision.js';
import type { DecisionMatrix } from '../health/matrix.js';
import { sampleResources } from '../health/resources.js';
import { type HealthSeries, sdkHealthSeries } from '../health/series.js';
import type { MetricSource } from '../health/source.js';
import { controllerTargetOf } from '../health/target.js';
import type { Migration } from '../migration/loader.js';
import { rolloutStatus } from '../rollout/stages.js';
import { dataErrors } from './check-store.js';
import { MIGRATION_LOCK_KEY, type RunOptions } from './execute.js';
import { currentPhase, transition } from './lifecycle.js';
import { down } from './rollback.js';

/** Where health metrics come from: the application's SDK (stored in ferry's tables) or Prometheus. */
export type MetricSourceKind = 'sdk' | 'prometheus';

/** Options of {@link healthReport}. */
export interface HealthReportOptions {
  /** Force a metric source; default Prometheus when the manifest has `health.prometheus`, else the SDK. */
  source?: MetricSourceKind;
  /** Judge this long a window instead of the manifest's `health.window` (never before the stage began). */
  windowMs?: number;
}

/** What `ferry health` shows: the current stage's decision matrix, what the controller would decide, and the migration's phase. */
export interface HealthReport {
  matrix: DecisionMatrix;
  decision: Decision;
  phase: string | null;
}

/** Options of {@link runRollout}. */
export interface RolloutRunOptions {
  actor: string;
  /** How long to wait for the migration lock and for another controller's lease. */
  lockWaitMs: number;
  /** Force a metric source; default Prometheus when the manifest has `health.prometheus`, else the SDK. */
  source?: MetricSourceKind;
  /** Evaluation interval; default the manifest's `health.interval`. */
  intervalMs?: number;
  /** Aborting stops the controller after the current evaluation; `runRollout` then resolves `stopped`. */
  signal?: AbortSignal;
  /** Called for each thing the controller does, for live output. */
  onEvent?: (e: ControllerEvent) => void;
  /** How the unattended `down` after red data errors runs its steps (lock timeout, retries, progress). */
  run: RunOptions;
  /** Where that `down` saves values only the new shape holds (its rollback copy); default `.ferry/backups` under the current directory. */
  backupDir?: string;
}

/** The metric source for a migration; E_USAGE when Prometheus is asked for and its manifest has no `health.prometheus`. */
export function metricSourceOf(db: Database, t: ControllerTarget, source: MetricSourceKind | undefined): MetricSource {
  if (source === 'prometheus' && !t.settings.prometheus)
    throw new FerryError('E_USAGE', `migration ${t.id} has no health.prometheus`, 'add health.prometheus.url to its manifest, or use --source sdk');
  return sourceFor(db, t.settings, source);
}

/**
 * `ferry health <id>`: the decision matrix of the current stage (new cohort vs
 * old, and the server's load against its baseline) and what the controller would
 * decide now; changes nothing but storing a reading of the load. E_GATE when the
 * migration names no flag.
 */
export async function healthReport(db: Database, m: Migration, opts: HealthReportOptions = {}): Promise<HealthReport> {
  const t = controllerTargetOf(m);
  if (opts.windowMs !== undefined) t.settings = { ...t.settings, windowMs: opts.windowMs };
  const source = metricSourceOf(db, t, opts.source);
  // Judging takes a reading too: it is the resource row's now, and a later stage's baseline.
  const probe = await sampleResources(db, 'health');
  const matrix = await assessHealth(db, t, source, { checkDataErrors: await dataErrors(db, m.id), ...probe });
  const s = await rolloutStatus(db, t);
  const c = await readController(db, m.id);
  const decision = decide(matrix, {
    paused: s.phase === 'paused' || c?.state === 'paused',
    holdElapsed: s.started && s.heldMs >= s.holdMs,
    acknowledged: c?.acknowledged === s.percentage,
    lastStage: s.next === null,
  });
  return { matrix, decision, phase: s.phase };
}

/** The workflow as the controller needs it: lifecycle, migration lock, checks' data errors and `down`. */
function controllerWorkflow(db: Database, migrations: Migration[], m: Migration, opts: RolloutRunOptions): ControllerWorkflow {
  return {
    currentPhase,
    transition,
    locked: (fn) => db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, fn),
    dataErrors,
    rollBack: async (to) => {
      // Unattended: values only the new shape holds are saved into a rollback copy (`ferry restore` puts them back), never lost.
      const report = await down(db, migrations, m.id, {
        ...opts.run,
        lockWaitMs: opts.lockWaitMs,
        dataLoss: 'save',
        ...(opts.backupDir === undefined ? {} : { backupDir: opts.backupDir }),
        ...(to === undefined ? {} : { to }),
      });
      return report.steps.map((s) => s.stepId);
    },
  };
}

/**
 * `ferry rollout <id> run`: the health controller walks the migration's stages,
 * judging health every interval: green through a hold advances, yellow pauses,
 * red rolls back (flag off, plus `down` to the last safe point on data errors).
 * Resolves when rolled out, rolled back, or stopped by `signal`.
 */
export async function runRollout(db: Database, migrations: Migration[], m: Migration, opts: RolloutRunOptions): Promise<ControllerResult> {
  const t = controllerTargetOf(m);
  const source = metricSourceOf(db, t, opts.source);
  return runController(db, t, {
    actor: opts.actor,
    workflow: controllerWorkflow(db, migrations, m, opts),
    source,
    lockWaitMs: opts.lockWaitMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    ...(opts.intervalMs === undefined ? {} : { intervalMs: opts.intervalMs }),
  });
}

/** Buckets of a health chart unless asked otherwise. */
export const HEALTH_SERIES_POINTS = 60;

/**
 * Error rate and p99 latency of `m`'s new and old cohorts over time, for charts: the SDK's metrics over the
 * last `windowMs` (default the manifest's `health.window`) in `points` buckets. E_GATE when `m` names no flag.
 */
export function healthSeries(db: Database, m: Migration, opts: { windowMs?: number; points?: number } = {}): Promise<HealthSeries> {
  const t = controllerTargetOf(m);
  return sdkHealthSeries(db, t.flag, { windowMs: opts.windowMs ?? t.settings.windowMs, points: opts.points ?? HEALTH_SERIES_POINTS });
}
