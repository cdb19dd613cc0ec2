import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { redHealthJudge } from '../health/controller.js';
import { type ControllerRecord, readController } from '../health/controller-state.js';
import { resumeRollout } from '../health/resume.js';
import { controllerTargetOf } from '../health/target.js';
import type { Migration } from '../migration/loader.js';
import { stagesOf } from '../rollout/schedule.js';
import {
  advanceRollout,
  type Lifecycle,
  type RolloutMove,
  type RolloutStatus,
  type RolloutTarget,
  rolloutStatus,
  setRolloutByHand,
} from '../rollout/stages.js';
import { ensureState } from '../state/store.js';
import { type AppGuidance, guidanceOf } from './app-guidance.js';
import { dataErrors } from './check-store.js';
import { MIGRATION_LOCK_KEY } from './execute.js';
import { currentPhase, type Phase, transition } from './lifecycle.js';

/** The lifecycle as the rollout block needs it: phases move through the transition table and its gates only. */
export const rolloutLifecycle: Lifecycle = { currentPhase, transition };

/** Options every rollout move takes. */
export interface RolloutActionOptions {
  actor: string;
  /** How long to wait for another runner's migration lock. */
  lockWaitMs: number;
}

/** Options of {@link setRolloutPercentage}. */
export interface RolloutSetOptions extends RolloutActionOptions {
  /** Why, for the migration's log. */
  reason?: string;
  /** Skip stages, or cut the current hold short, on purpose; the reason is logged. */
  now?: { reason: string };
}

/** Options of {@link advanceRolloutStage}. */
export interface RolloutAdvanceOptions extends RolloutActionOptions {
  /** Advance before the current stage's hold has elapsed; the reason is logged. */
  now?: { reason: string };
}

/** Options of {@link resumePausedRollout}. */
export interface RolloutResumeOptions extends RolloutActionOptions {
  /** Why the pause is accepted, for the migration's log. */
  reason?: string;
}

/** What `ferry rollout <id> status --json` prints: the rollout, its health controller (null before any ran) and what the application should do now. */
export interface RolloutReport extends RolloutStatus {
  controller: ControllerRecord | null;
  guidance: AppGuidance & { phase: Phase };
}

/** The rollout block's view of a loaded migration: id, flag, stage schedule, whether it backfills, checksum. */
export function rolloutTargetOf(m: Migration): RolloutTarget {
  return {
    id: m.id,
    flag: m.manifest.flag,
    stages: stagesOf(m.manifest.rollout),
    hasBackfill: m.steps.some((s) => s.kind === 'backfill'),
    checksum: m.checksum,
  };
}

/** Hold the migration lock, make sure ferry's state exists, and move the rollout in one transaction. */
function moving(db: Database, lockWaitMs: number, fn: (tx: Queryable) => Promise<RolloutMove>): Promise<RolloutMove> {
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, lockWaitMs, async () => {
    await ensureState(db);
    return db.transaction(fn);
  });
}

/** Skipping ahead is logged with its reason, so an empty one is refused. */
function requireReason(now: { reason: string } | undefined, what: string): void {
  if (now && !now.reason.trim()) throw new FerryError('E_USAGE', `${what} early needs a reason`, 'say why stages or holds are skipped; it goes into the log');
}

/**
 * `ferry rollout <id> set <pct>`: back (or staying) freely, up to the next stage
 * once the current stage's hold has elapsed; further, or earlier, only with
 * `now` and a reason (E_GATE otherwise). Moves the phase as the percentage requires.
 */
export async function setRolloutPercentage(db: Database, m: Migration, percentage: number, opts: RolloutSetOptions): Promise<RolloutMove> {
  requireReason(opts.now, 'setting a rollout');
  const t = rolloutTargetOf(m);
  return moving(db, opts.lockWaitMs, (tx) =>
    setRolloutByHand(tx, t, percentage, {
      actor: opts.actor,
      life: rolloutLifecycle,
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    }),
  );
}

/**
 * `ferry rollout <id> advance`: the next stage once the current stage's hold
 * has elapsed (earlier with `now`); at 100 %, rolled-out once that hold has
 * passed and health is not red. E_GATE otherwise.
 */
export async function advanceRolloutStage(db: Database, m: Migration, opts: RolloutAdvanceOptions): Promise<RolloutMove> {
  requireReason(opts.now, 'advancing a rollout');
  const t = rolloutTargetOf(m);
  return moving(db, opts.lockWaitMs, (tx) =>
    advanceRollout(tx, t, {
      actor: opts.actor,
      life: rolloutLifecycle,
      // Judged inside the transaction; a migration without a flag is refused here (E_GATE), as before.
      health: redHealthJudge(controllerTargetOf(m), dataErrors),
      ...(opts.now ? { now: opts.now } : {}),
    }),
  );
}

/**
 * `ferry rollout <id> resume`: accept a paused rollout. The stage's hold starts
 * again and yellow no longer pauses it at this stage; E_GATE when not paused.
 */
export async function resumePausedRollout(db: Database, m: Migration, opts: RolloutResumeOptions): Promise<RolloutMove> {
  const t = rolloutTargetOf(m);
  return moving(db, opts.lockWaitMs, (tx) =>
    resumeRollout(tx, t, { actor: opts.actor, life: rolloutLifecycle, ...(opts.reason ? { reason: opts.reason } : {}) }),
  );
}

/** `ferry rollout <id> status`: where the rollout stands, its health controller and the application guidance for its phase; changes nothing. */
export async function rolloutReport(db: Database, m: Migration): Promise<RolloutReport> {
  const s = await rolloutStatus(db, rolloutTargetOf(m));
  const c = await readController(db, s.migrationId);
  const guidance = guidanceOf(s.phase, s.migrationId);
  return { ...s, controller: c ?? null, guidance };
}
