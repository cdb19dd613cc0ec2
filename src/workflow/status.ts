import { type BackfillProgress, backfillProgress } from '../backfill/index.js';
import type { Queryable } from '../db/database.js';
import type { Migration } from '../migration/loader.js';
import { type MigrationEvent, readEvents, readState } from '../state/store.js';
import { countDataErrors } from '../verify/data-errors.js';
import { type AppGuidance, guidanceOf } from './app-guidance.js';
import { type CheckResult, latestResults, resultsFor } from './check-store.js';
import { type Drift, missingFolders, viewOf } from './plan-state.js';

/** One line of `ferry status`. */
export interface MigrationStatus {
  id: string;
  title: string;
  type: string;
  strategy: string;
  /** Lifecycle phase, or null when the database has never seen it. */
  phase: string | null;
  steps: { id: string; applied: boolean; appliedAt: string | null; baseline: boolean; phase: 'expand' | 'contract' }[];
  appliedCount: number;
  pendingCount: number;
  /** Contract steps not applied yet (`ferry contract` runs them after verification). */
  contractPendingCount: number;
  pointOfNoReturn: string | null;
  drift: Drift[];
  /** Progress of each backfill step that has started, from the checkpoint table. */
  backfills: BackfillProgress[];
  /** The latest result of each check the manifest declares (`ferry verify --full`). */
  checks: CheckResult[];
  /** Declared checks that have not run (for their current declaration). */
  checksPending: string[];
  /** Differing rows and failed assertions of those latest results (the health matrix's data errors). */
  dataErrors: number;
  /** What the application may run now, the next gate and what it must do before the next step (docs/lifecycle.md). */
  guidance: AppGuidance & { phase: string };
}

/**
 * Every migration with its phase, applied steps and drift; reads only. With
 * `only`, just those migrations are listed (drift of the others is still found by `up`/`down`).
 */
export async function migrationStatus(
  db: Queryable,
  migrations: Migration[],
  opts: { archived?: readonly string[]; only?: readonly string[] } = {},
): Promise<{ migrations: MigrationStatus[]; drift: Drift[] }> {
  const state = await readState(db);
  const backfills = state.migrations.size > 0 ? await backfillProgress(db) : [];
  const latest = state.migrations.size > 0 ? await latestResults(db) : new Map<string, CheckResult[]>();
  const shown = opts.only ? migrations.filter((m) => opts.only?.includes(m.id)) : migrations;
  const list = shown.map((m): MigrationStatus => {
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    const byStep = new Map(v.applied.map((a) => [a.stepId, a]));
    const checks = resultsFor(m, latest.get(m.id) ?? []);
    return {
      id: m.id,
      title: m.manifest.title,
      type: m.manifest.type,
      strategy: m.manifest.strategy,
      phase: v.record?.phase ?? null,
      steps: m.steps.map((s) => {
        const a = byStep.get(s.id);
        return {
          id: s.id,
          applied: a !== undefined,
          appliedAt: a ? a.appliedAt.toISOString() : null,
          baseline: a?.baseline ?? false,
          phase: s.phase ?? 'expand',
        };
      }),
      appliedCount: v.applied.length,
      pendingCount: v.pending.length,
      contractPendingCount: v.contractPending.length,
      pointOfNoReturn: m.manifest.pointOfNoReturn,
      drift: v.drift,
      backfills: backfills.filter((b) => b.migrationId === m.id),
      checks: checks.checks,
      checksPending: checks.pending,
      dataErrors: countDataErrors(checks.checks).total,
      guidance: guidanceOf(v.record?.phase ?? null, m.id),
    };
  });
  const orphans = opts.only ? [] : missingFolders(state, migrations, opts.archived);
  return { migrations: list, drift: [...list.flatMap((s) => s.drift), ...orphans] };
}

/** `ferry log`: the event log (who did what, when, from which phase to which, and why) of one migration, or of all; oldest first. */
export async function migrationLog(db: Queryable, migrationId?: string): Promise<{ events: MigrationEvent[] }> {
  return { events: await readEvents(db, migrationId) };
}
