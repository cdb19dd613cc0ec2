import type { BackfillState } from '../backfill/types.js';
import type { Queryable } from '../db/database.js';
import { readController } from '../health/controller-state.js';
import type { Colour } from '../health/thresholds.js';
import { lintMigration } from '../lint/index.js';
import type { Risk } from '../lint/types.js';
import { listArchived, loadMigration, type Migration } from '../migration/loader.js';
import type { Project } from '../project/config.js';
import { listFlags } from '../rollout/flags.js';
import { stageIndexAt, stagesOf } from '../rollout/schedule.js';
import type { Phase } from './gate.js';
import { projectLoadOptions } from './plan-state.js';
import { type MigrationStatus, migrationStatus } from './status.js';

export { type MigrationDetail, migrationDetail, type StepDetail, type StepScript, type TimelineEvent, timelineEvent } from './dashboard-detail.js';
export { type CheckEntry, type VerifyResults, verifyResults } from './dashboard-verify.js';

// What `ferry serve`'s overview shows of each migration: cheap reads only (the state, the flags, the
// controllers' last colours, the lint report of the files), no Prometheus query and no live catalog.

/** The eight steps of the workflow ferry executes (DESIGN.md, "The workflow ferry executes"), in order. */
export const WORKFLOW_STEPS = [
  'plan & assess',
  'backwards compatibility',
  'rollback plan',
  'scripts',
  'canary',
  'expansion',
  'full rollout & verification',
  'cleanup',
] as const;

/**
 * The one table from lifecycle phases (docs/lifecycle.md) to the workflow step a migration in that
 * phase is at (1-based). Step 3, the rollback plan, has no phase of its own: it is rendered and rehearsed
 * beside the others. `paused` is canary at the first stage and expansion beyond it (see {@link ladderOf});
 * `rolled-back` is off the ladder.
 */
export const PHASE_STEP: Readonly<Record<Phase, number | null>> = {
  planned: 1,
  approved: 1,
  expanded: 2,
  backfilling: 4,
  backfilled: 4,
  canary: 5,
  paused: 5,
  rolling: 6,
  'rolled-out': 7,
  verified: 7,
  contracted: 8,
  archived: 8,
  'rolled-back': null,
};

/** One rung of the ladder: done, the current one, or still to come. */
export interface LadderRung {
  step: number;
  name: (typeof WORKFLOW_STEPS)[number];
  state: 'done' | 'current' | 'todo';
}

/** The eight workflow steps with the one a migration is at (null: rolled back, off the ladder). */
export interface Ladder {
  current: number | null;
  rungs: LadderRung[];
}

/** The ladder of a migration in `phase` (null: never seen, i.e. planned); `pausedAt` is the flag's percentage, for `paused`. */
export function ladderOf(phase: string | null, m: Migration, pausedAt: number | null): Ladder {
  const p = (phase ?? 'planned') as Phase;
  let current = PHASE_STEP[p] ?? null;
  if (p === 'paused' && pausedAt !== null && stageIndexAt(stagesOf(m.manifest.rollout), pausedAt) > 0) current = 6;
  // A finished migration has done its last step: every rung is done.
  const finished = p === 'archived';
  const rungs = WORKFLOW_STEPS.map((name, i): LadderRung => {
    const step = i + 1;
    const state = current === null ? 'todo' : step < current || (finished && step === current) ? 'done' : step === current ? 'current' : 'todo';
    return { step, name, state };
  });
  return { current, rungs };
}

/** The flag a migration's manifest names, as stored (a flag not set yet reads as off). */
export interface OverviewFlag {
  key: string;
  stored: boolean;
  enabled: boolean;
  /** The stored percentage (kept while the flag is off). */
  percentage: number;
  /** What units see: the percentage when enabled, else 0. */
  effectivePercentage: number;
  graduated: boolean;
}

/** Where the declared checks stand: their latest results all passed, one failed, none ran, some did not run, or none are declared. */
export type VerifyState = 'passed' | 'failed' | 'never-ran' | 'partial' | 'none';

/** One row of the dashboard's overview. */
export interface OverviewRow {
  id: string;
  title: string;
  type: string;
  strategy: string;
  /** The risk the linter infers from the statements (the manifest declares none). */
  risk: Risk;
  /** The type the linter infers; differs from `type` when the manifest declares another. */
  inferredType: string;
  /** Lifecycle phase; null when the database has never seen the migration (planned). */
  phase: string | null;
  ladder: Ladder;
  steps: { applied: number; total: number };
  flag: OverviewFlag | null;
  /** The rollout controller's last colour; null before any controller judged it. */
  health: { colour: Colour; state: string; at: string } | null;
  backfills: { stepId: string; state: BackfillState; rowsDone: number; rowsTotal: number }[];
  verify: { state: VerifyState; passed: number; failed: number; pending: number; dataErrors: number };
  drift: number;
  /** Not archived (here, or its folder in the archive), and not rolled back with nothing left applied. */
  active: boolean;
  archived: boolean;
}

/** What {@link migrationOverview} returns. */
export interface Overview {
  migrations: OverviewRow[];
  /** Drift found in the database for migrations without a folder (those of the rows are counted in each row). */
  orphanDrift: number;
}

/** The ids of a project's archived migrations (folders under migrations/archive), read afresh. */
export function archivedIds(project: Project): string[] {
  return listArchived(project.migrationsDir).map((a) => a.id);
}

/** The archived migrations of a project (folders under migrations/archive), loaded. */
export async function archivedMigrations(project: Project): Promise<Migration[]> {
  const opts = projectLoadOptions(project);
  return Promise.all(listArchived(project.migrationsDir).map((a) => loadMigration(a.dir, a.id, opts)));
}

function verifyOf(s: MigrationStatus, declared: number): OverviewRow['verify'] {
  const failed = s.checks.filter((c) => !c.ok).length;
  const passed = s.checks.length - failed;
  const pending = s.checksPending.length;
  const state: VerifyState = declared === 0 ? 'none' : failed > 0 ? 'failed' : pending === 0 ? 'passed' : passed === 0 ? 'never-ran' : 'partial';
  return { state, passed, failed, pending, dataErrors: s.dataErrors };
}

/**
 * The overview of every migration, the archived ones (`archived`, see {@link archivedMigrations}) last:
 * phase and ladder, type, strategy and risk, flag, health colour, backfill progress, verify state and drift.
 * Built on {@link migrationStatus}; reads only.
 */
export async function migrationOverview(db: Queryable, migrations: readonly Migration[], opts: { archived?: readonly Migration[] } = {}): Promise<Overview> {
  const current = new Set(migrations.map((m) => m.id));
  const archived = (opts.archived ?? []).filter((m) => !current.has(m.id));
  const all = [...migrations, ...archived];
  const archivedIds = new Set(archived.map((m) => m.id));
  const status = await migrationStatus(db, all, { archived: [...archivedIds] });
  const flags = new Map((await listFlags(db)).map((f) => [f.key, f]));
  const rows: OverviewRow[] = [];
  for (const [i, s] of status.migrations.entries()) {
    const m = all[i] as Migration;
    const lint = lintMigration(m).classification;
    const key = m.manifest.flag;
    const f = key === undefined ? undefined : flags.get(key);
    const flag: OverviewFlag | null =
      key === undefined
        ? null
        : {
            key,
            stored: f !== undefined,
            enabled: f?.enabled ?? false,
            percentage: f?.percentage ?? 0,
            effectivePercentage: f?.enabled ? f.percentage : 0,
            graduated: f?.graduatedAt != null,
          };
    const c = s.phase === null ? undefined : await readController(db, m.id);
    rows.push({
      id: m.id,
      title: s.title,
      type: s.type,
      strategy: s.strategy,
      risk: lint.risk,
      inferredType: lint.inferred,
      phase: s.phase,
      ladder: ladderOf(s.phase, m, flag?.percentage ?? null),
      steps: { applied: s.appliedCount, total: s.steps.length },
      flag,
      health: c?.lastColour ? { colour: c.lastColour as Colour, state: c.state, at: c.updatedAt.toISOString() } : null,
      backfills: s.backfills.map((b) => ({ stepId: b.stepId, state: b.state, rowsDone: b.rowsDone, rowsTotal: b.rowsTotal })),
      verify: verifyOf(s, m.manifest.checks.length),
      drift: s.drift.length,
      active: !(archivedIds.has(m.id) || s.phase === 'archived' || (s.phase === 'rolled-back' && s.appliedCount === 0)),
      archived: archivedIds.has(m.id),
    });
  }
  const own = new Set(all.map((m) => m.id));
  return { migrations: rows, orphanDrift: status.drift.filter((d) => !own.has(d.migrationId)).length };
}
