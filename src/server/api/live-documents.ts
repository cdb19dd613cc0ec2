import type { BackfillProgress } from '../../backfill/index.js';
import type { HealthSeries } from '../../health/index.js';
import type { Stage } from '../../rollout/index.js';
import { type ApprovalStatus, approvalStatus } from '../../workflow/approvals.js';
import { type BackfillStepHistory, backfillHistory, backfillStatus, backfillSteps } from '../../workflow/backfill.js';
import { type HealthReport, healthReport, healthSeries } from '../../workflow/health.js';
import { type RolloutReport, rolloutReport } from '../../workflow/rollout.js';
import type { ServeContext } from '../context.js';

// The documents of a migration's live sections — backfill, rollout, health, approvals — built once for the
// JSON API and the pages alike: the CLI's --json document of the same read, plus what a page needs beside it.

/** The background job of a backfill started from the dashboard. */
export interface BackfillJob {
  running: boolean;
  /** Why the last one failed; null when it did not (or none ran). */
  lastError: string | null;
}

/** GET /api/v1/migrations/{id}/backfill. */
export interface BackfillDocument {
  migrationId: string;
  /** The migration's backfill steps, in order. */
  steps: string[];
  /** Per started step, as `ferry backfill <id> --status --json` prints it. */
  progress: BackfillProgress[];
  /** Per step, its batches over time (duration, size, rows, worker), for the chart. */
  history: BackfillStepHistory[];
  /** Over every step: rows done and to do, the rate of the running ones, the time left, live workers. */
  totals: { rowsDone: number; rowsTotal: number; ratePerSec: number; etaSeconds: number | null; workers: number };
  job: BackfillJob;
}

/** A stage of the ladder and where the rollout stands against it. */
export interface LadderStage extends Stage {
  state: 'done' | 'current' | 'next' | 'pending';
}

/** GET /api/v1/migrations/{id}/rollout: `ferry rollout <id> status --json`, plus the ladder and the pause / kill state. */
export interface RolloutDocument extends RolloutReport {
  ladder: LadderStage[];
  /** Paused: by the phase (a quick rollback, yellow health) or by the controller. */
  paused: boolean;
  /** The rollout has started and its flag is off: the kill switch (quick rollback) was pressed. */
  killed: boolean;
  /** What moves the migration on, and the gate it must pass. */
  nextGate: string;
}

/** GET /api/v1/migrations/{id}/health: `ferry health --json` and the phase, plus the charts (null for a Prometheus source). */
export interface HealthDocument extends HealthReport {
  series: HealthSeries | null;
}

/** GET /api/v1/migrations/{id}/approvals: the plan's roles and who approved the migration as its files are now. */
export type ApprovalsDocument = ApprovalStatus;

/** The key of a migration's dashboard-started backfill in `ctx.jobs`. */
export const backfillJobKey = (migrationId: string) => `backfill:${migrationId}`;

/** The dashboard's backfill job of `migrationId`. */
export function backfillJob(ctx: ServeContext, migrationId: string): BackfillJob {
  const key = backfillJobKey(migrationId);
  return { running: ctx.jobs.running(key), lastError: ctx.jobs.lastError(key) ?? null };
}

function totalsOf(progress: readonly BackfillProgress[]): BackfillDocument['totals'] {
  const rowsDone = progress.reduce((n, p) => n + p.rowsDone, 0);
  const rowsTotal = progress.reduce((n, p) => n + p.rowsTotal, 0);
  const running = progress.filter((p) => p.state === 'running');
  const ratePerSec = running.reduce((n, p) => n + p.ratePerSec, 0);
  const allDone = progress.length > 0 && progress.every((p) => p.state === 'done');
  const etaSeconds = allDone ? 0 : ratePerSec > 0 ? Math.max(0, rowsTotal - rowsDone) / ratePerSec : null;
  return { rowsDone, rowsTotal, ratePerSec, etaSeconds, workers: progress.reduce((n, p) => n + p.workers, 0) };
}

/** The backfill document of migration `id`; E_NOT_FOUND for an unknown migration or one without a backfill step. */
export async function backfillDocument(ctx: ServeContext, id: string): Promise<BackfillDocument> {
  const m = await ctx.migration(id);
  const steps = backfillSteps(m).map((s) => s.id);
  const { progress, history } = await ctx.withDb(async (db) => ({ progress: await backfillStatus(db, m), history: await backfillHistory(db, m) }));
  return { migrationId: m.id, steps, progress, history, totals: totalsOf(progress), job: backfillJob(ctx, m.id) };
}

/** Each stage of `r` marked done, current, next or pending. */
function ladderOf(r: RolloutReport): LadderStage[] {
  return r.stages.map((s, i) => {
    const n = i + 1;
    const state = r.started && n < r.stage ? 'done' : r.started && n === r.stage ? 'current' : n === r.stage + 1 ? 'next' : 'pending';
    return { ...s, state };
  });
}

/** The rollout document of migration `id`; E_NOT_FOUND for an unknown migration. */
export async function rolloutDocument(ctx: ServeContext, id: string): Promise<RolloutDocument> {
  const m = await ctx.migration(id);
  const r = await ctx.withDb((db) => rolloutReport(db, m));
  return {
    ...r,
    ladder: ladderOf(r),
    paused: r.phase === 'paused' || r.controller?.state === 'paused',
    killed: r.started && !r.flagEnabled,
    nextGate: r.guidance.nextGate,
  };
}

/**
 * The health document of migration `id`: the decision matrix of `windowMs` (default the manifest's
 * `health.window`) and, from the SDK's metrics, each cohort's error rate and p99 over the same span.
 * E_GATE when the migration names no flag; a Prometheus source that cannot be reached fails as `ferry health` does.
 */
export async function healthDocument(ctx: ServeContext, id: string, opts: { windowMs?: number; points?: number } = {}): Promise<HealthDocument> {
  const m = await ctx.migration(id);
  const windowMs = opts.windowMs === undefined ? {} : { windowMs: opts.windowMs };
  return ctx.withDb(async (db) => {
    const report = await healthReport(db, m, windowMs);
    const series =
      report.matrix.source === 'sdk' ? await healthSeries(db, m, { ...windowMs, ...(opts.points === undefined ? {} : { points: opts.points }) }) : null;
    return { ...report, series };
  });
}

/** The approvals document of migration `id`, for its checksum as its files are now; E_NOT_FOUND for an unknown migration. */
export async function approvalsDocument(ctx: ServeContext, id: string): Promise<ApprovalsDocument> {
  const m = await ctx.migration(id);
  return ctx.withDb((db) => approvalStatus(db, m.id, m.checksum, m.manifest.plan.approvals));
}
