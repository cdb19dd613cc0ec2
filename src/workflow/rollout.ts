import { type MigrationStage, STAGE_PLANS, type StagePlan } from '../compat/stages.js';
import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { redHealthJudge } from '../health/controller.js';
import { type ControllerRecord, readController } from '../health/controller-state.js';
import { resumeRollout } from '../health/resume.js';
import { controllerTargetOf } from '../health/target.js';
import type { Migration } from '../migration/loader.js';
import { readFlag } from '../rollout/flags.js';
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
import { ensureState, stateTableExists } from '../state/store.js';
import { type AppGuidance, guidanceOf } from './app-guidance.js';
import { type AppShape, appShape } from './app-shape.js';
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

/** The migration stage the flag carries, with what it means for reads and writes. */
export interface StageReport {
  name: MigrationStage;
  plan: StagePlan;
  /** "reads old, compared with new; writes old, then new". */
  meaning: string;
}

/** Units listed by name on the flag: how many, and the first few. */
export interface UnitList {
  count: number;
  first: string[];
}

/** One cohort's traffic as the SDK counted it. */
export interface CohortTraffic {
  requests: number;
  errors: number;
  dataErrors: number;
  /** Shadow reads whose candidate ran, and those that differed. */
  comparisons: number;
  mismatches: number;
}

/** Who is in the canary: the share by bucket, the units always in and never in, and the last hour's traffic of each cohort. */
export interface CanaryComposition {
  /** The share of units in by bucket (0 while the flag is off). */
  percentage: number;
  include: UnitList;
  exclude: UnitList;
  /** The span the traffic covers (the last hour). */
  windowMs: number;
  /** Null when no metrics were ever recorded on this database. */
  traffic: { new: CohortTraffic; old: CohortTraffic } | null;
}

/** What `ferry rollout <id> status --json` prints: the rollout, its health controller (null before any ran), what the application should do now, the migration stage, the canary and the application's shape. */
export interface RolloutReport extends RolloutStatus {
  controller: ControllerRecord | null;
  guidance: AppGuidance & { phase: Phase };
  /** The migration stage (`stage` is the rollout's stage number). */
  migrationStage: StageReport;
  canary: CanaryComposition;
  /** The view schemas of each application shape; null when the migration publishes none. */
  shape: AppShape | null;
}

/** The rollout block's view of a loaded migration: id, flag, stage schedule, whether it backfills, checksum. */
export function rolloutTargetOf(m: Migration): RolloutTarget {
  return {
    id: m.id,
    flag: m.manifest.flag,
    stages: stagesOf(m.manifest.rollout),
    hasBackfill: m.steps.some((s) => s.kind === 'backfill'),
    checksum: m.checksum,
    include: m.manifest.rollout?.include ?? [],
    exclude: m.manifest.rollout?.exclude ?? [],
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

/** "reads old, compared with new; writes old, then new": a stage's plan in words. */
export function stageMeaning(plan: StagePlan): string {
  const other = plan.read === 'old' ? 'new' : 'old';
  return `reads ${plan.read}${plan.compare ? `, compared with ${other}` : ''}; writes ${plan.writes.join(', then ')}`;
}

const HOUR_MS = 3_600_000;
const FIRST_UNITS = 5;

const unitList = (units: readonly string[]): UnitList => ({ count: units.length, first: units.slice(0, FIRST_UNITS) });

/** Each cohort's traffic over the last hour for `flag`; null when there is no metrics table. Shadow columns are read through the row's JSON (state version 11 or not). */
async function cohortTraffic(db: Queryable, flag: string): Promise<CanaryComposition['traffic']> {
  if (!(await stateTableExists(db, 'metrics'))) return null;
  const { rows } = await db.query<{ cohort: string; requests: string; errors: string; data_errors: string; comparisons: string; mismatches: string }>(
    `SELECT cohort, sum(requests)::text AS requests, sum(errors)::text AS errors, sum(data_errors)::text AS data_errors,
            coalesce(sum((to_jsonb(m) ->> 'comparisons')::bigint), 0)::text AS comparisons,
            coalesce(sum((to_jsonb(m) ->> 'mismatches')::bigint), 0)::text AS mismatches
       FROM ferry.metrics m WHERE flag_key = $1 AND bucket_start >= now() - make_interval(secs => $2) GROUP BY cohort`,
    [flag, HOUR_MS / 1000],
  );
  const of = (cohort: string): CohortTraffic => {
    const r = rows.find((x) => x.cohort === cohort);
    return {
      requests: Number(r?.requests ?? 0),
      errors: Number(r?.errors ?? 0),
      dataErrors: Number(r?.data_errors ?? 0),
      comparisons: Number(r?.comparisons ?? 0),
      mismatches: Number(r?.mismatches ?? 0),
    };
  };
  return { new: of('new'), old: of('old') };
}

/** `ferry rollout <id> status`: where the rollout stands, its health controller, the application guidance for its phase, the migration stage, who is in the canary and the application's shape; changes nothing. */
export async function rolloutReport(db: Database, m: Migration): Promise<RolloutReport> {
  const t = rolloutTargetOf(m);
  const flag = t.flag ? await readFlag(db, t.flag) : undefined;
  const s = await rolloutStatus(db, t, { flag });
  const c = await readController(db, s.migrationId);
  const guidance = guidanceOf(s.phase, s.migrationId);
  const name: MigrationStage = flag?.stage ?? 'off';
  const plan = STAGE_PLANS[name];
  // What the flag carries once the rollout wrote it; before, what the manifest will write.
  const include = flag?.include.length ? flag.include : (t.include ?? []);
  const exclude = flag?.exclude.length ? flag.exclude : (t.exclude ?? []);
  const canary: CanaryComposition = {
    percentage: s.flagPercentage,
    include: unitList(include),
    exclude: unitList(exclude),
    windowMs: HOUR_MS,
    traffic: t.flag ? await cohortTraffic(db, t.flag) : null,
  };
  return { ...s, controller: c ?? null, guidance, migrationStage: { name, plan, meaning: stageMeaning(plan) }, canary, shape: appShape(m) };
}
