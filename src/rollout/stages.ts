import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { stateExists, stateTableExists } from '../state/store.js';
import { type Flag, type FlagChange, readFlag, writeFlag } from './flags.js';
import { effectivePercentage, type FlagValue, formatPercentage } from './percentage.js';
import { formatHold, holdAt, nextStage, phasePath, type RolloutPhase, type Stage, stageIndexAt } from './schedule.js';

/** What a rollout needs to know about its migration: id, flag, schedule, and whether it backfills. */
export interface RolloutTarget {
  id: string;
  /** The manifest's `flag`; undefined when the migration names none. */
  flag: string | undefined;
  stages: readonly Stage[];
  hasBackfill: boolean;
  /** The migration files' checksum, passed to the phase gates (approvals are void once it changes). */
  checksum?: string;
  /** The manifest's `rollout.include`: units on the new path from the first stage; written to the flag with each move. */
  include?: readonly string[];
  /** The manifest's `rollout.exclude`: units never on the new path nor counted; written to the flag with each move. */
  exclude?: readonly string[];
}

/**
 * The lifecycle seam (workflow/lifecycle.ts): rollout moves phases through it
 * so the transition table and its gates stay the only authority.
 */
export interface Lifecycle {
  /**
   * The migration's phase, locked until the transaction ends. With `asking`, the
   * table refuses (E_GATE, worded `cannot <verb> <id>: …`) when the move named
   * `action` does not start from it: the rollout asks before it does any work.
   */
  currentPhase(tx: Queryable, migrationId: string, asking?: { action: string; verb: string }): Promise<string>;
  /** Move to `to` (table and gates checked) and log the transition. */
  transition(tx: Queryable, migrationId: string, to: RolloutPhase | 'paused', opts: { actor: string; reason: string; details?: unknown }): Promise<unknown>;
}

/** A started rollout as stored in `ferry.rollouts`. */
export interface RolloutRecord {
  migrationId: string;
  flagKey: string;
  /** The stage's percentage (the flag may differ after a quick rollback). */
  percentage: number;
  startedAt: Date;
  stageStartedAt: Date;
  /** How long the current percentage has been held, by the database's clock. */
  heldMs: number;
  updatedBy: string;
}

/** What one `rollout set` / `advance` did. */
export interface RolloutMove {
  migrationId: string;
  flag: string;
  fromPercentage: number;
  toPercentage: number;
  phases: { from: string; to: string }[];
  /** Null when the flag was left as it was (the move to rolled-out after the 100 % hold). */
  flagChange: FlagChange | null;
  early: boolean;
}

/** The stored rollout of a migration, or undefined before it started. */
export async function readRollout(db: Queryable, migrationId: string, forUpdate = false): Promise<RolloutRecord | undefined> {
  if (!(await stateTableExists(db, 'rollouts'))) return undefined;
  const { rows } = await db.query(
    `SELECT migration_id, flag_key, percentage::text AS percentage, started_at, stage_started_at, updated_by,
            (extract(epoch FROM clock_timestamp() - stage_started_at) * 1000)::float8 AS held_ms
       FROM ferry.rollouts WHERE migration_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [migrationId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    migrationId: r.migration_id as string,
    flagKey: r.flag_key as string,
    percentage: Number(r.percentage),
    startedAt: new Date(r.started_at as string),
    stageStartedAt: new Date(r.stage_started_at as string),
    heldMs: Number(r.held_ms),
    updatedBy: r.updated_by as string,
  };
}

function flagOf(t: RolloutTarget): string {
  if (t.flag) return t.flag;
  throw new FerryError('E_GATE', `migration ${t.id} names no flag to roll out`, 'add "flag": "<key>" to its manifest');
}

async function registeredPhase(tx: Queryable, t: RolloutTarget, life: Lifecycle, asking?: { action: string; verb: string }): Promise<string> {
  const { rows } = await tx.query('SELECT 1 FROM ferry.migrations WHERE id = $1', [t.id]);
  if (rows.length === 0)
    throw new FerryError('E_GATE', `cannot roll out ${t.id}: it is planned and has not been applied yet`, `run \`ferry up ${t.id}\` first`);
  return life.currentPhase(tx, t.id, asking);
}

/**
 * Set a migration's rollout to `percentage`: move its phase (expanded|backfilled →
 * canary → rolling → rolled-out, as the percentage requires), set its flag and
 * restart the stage's hold, all in the caller's transaction. Out-of-order requests are E_GATE.
 */
export async function setRollout(
  tx: Queryable,
  t: RolloutTarget,
  percentage: number,
  opts: { actor: string; reason?: string; early?: boolean; life: Lifecycle },
): Promise<RolloutMove> {
  const flag = flagOf(t);
  const phase = await registeredPhase(tx, t, opts.life);
  const path = phasePath(phase, percentage, t);
  const before = await readRollout(tx, t.id, true);
  const fromPercentage = before?.percentage ?? 0;
  const reason = opts.reason ?? `rollout ${formatPercentage(fromPercentage)} → ${formatPercentage(percentage)}`;
  const phases: RolloutMove['phases'] = [];
  let from = phase;
  for (const to of path) {
    await opts.life.transition(tx, t.id, to, { actor: opts.actor, reason, details: { flag, percentage, ...(t.checksum ? { checksum: t.checksum } : {}) } });
    phases.push({ from, to });
    from = to;
  }
  const value: FlagValue = { enabled: true, percentage };
  const flagChange = await writeFlag(tx, flag, value, {
    migrationId: t.id,
    actor: opts.actor,
    reason,
    ...(t.include ? { include: t.include } : {}),
    ...(t.exclude ? { exclude: t.exclude } : {}),
  });
  await tx.query(
    `INSERT INTO ferry.rollouts (migration_id, flag_key, percentage, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (migration_id) DO UPDATE SET flag_key = EXCLUDED.flag_key, percentage = EXCLUDED.percentage,
       stage_started_at = now(), updated_by = EXCLUDED.updated_by`,
    [t.id, flag, percentage.toFixed(2), opts.actor],
  );
  return { migrationId: t.id, flag, fromPercentage, toPercentage: percentage, phases, flagChange, early: opts.early ?? false };
}

/**
 * `ferry rollout <id> set <pct>`: going back (or staying) is always allowed, and
 * so is going up to the next stage once the current stage's hold has elapsed.
 * Going past the next stage, or up before the hold has elapsed, needs `now`
 * with a reason — exactly like `advance --now` — and the reason is recorded in
 * the log; without it the request is refused (E_GATE) naming the next stage
 * and the hold left.
 */
export async function setRolloutByHand(
  tx: Queryable,
  t: RolloutTarget,
  percentage: number,
  opts: { actor: string; reason?: string; now?: { reason: string }; life: Lifecycle },
): Promise<RolloutMove> {
  flagOf(t);
  const rec = await readRollout(tx, t.id, true);
  const current = rec?.percentage ?? 0;
  const next = nextStage(t.stages, current);
  const plain = { actor: opts.actor, life: opts.life, ...(opts.reason ? { reason: opts.reason } : opts.now ? { reason: opts.now.reason } : {}) };
  if (percentage <= current || !next) return setRollout(tx, t, percentage, plain);
  const hold = rec ? holdAt(t.stages, current) : 0;
  const left = rec ? Math.max(0, hold - rec.heldMs) : 0;
  const skipped = t.stages.filter((s) => s.percent > current && s.percent < percentage);
  if (percentage <= next.percent && left === 0) return setRollout(tx, t, percentage, plain);
  const held = left > 0 ? `the ${formatPercentage(current)} stage has ${formatHold(left)} of its ${formatHold(hold)} hold left` : '';
  const past = percentage > next.percent ? `the next stage is ${formatPercentage(next.percent)} (then held ${formatHold(next.holdMs)})` : '';
  if (!opts.now) {
    const why = rec ? [past, held].filter(Boolean).join(', and ') : `a rollout starts at its first stage, ${formatPercentage(next.percent)}`;
    throw new FerryError(
      'E_GATE',
      `cannot set ${t.id} to ${formatPercentage(percentage)}: ${why}`,
      `go to ${formatPercentage(next.percent)} ${left > 0 ? 'once the hold has elapsed ' : ''}with \`ferry rollout ${t.id} set ${next.percent}\`${rec ? ' (or `advance`)' : ''}, or skip ahead on purpose with \`ferry rollout ${t.id} set ${percentage} --now --reason "…"\``,
    );
  }
  const passed = skipped.length ? `past ${skipped.map((s) => formatPercentage(s.percent)).join(', ')}` : '';
  const cut = left > 0 ? `after ${formatHold(rec?.heldMs ?? 0)} of the ${formatPercentage(current)} stage's ${formatHold(hold)} hold` : '';
  const reason = `set early to ${formatPercentage(percentage)}${[passed, cut].filter(Boolean).length ? ` ${[passed, cut].filter(Boolean).join(', ')}` : ''}: ${opts.now.reason}`;
  return setRollout(tx, t, percentage, { actor: opts.actor, reason, early: true, life: opts.life });
}

/**
 * Move a started rollout to its next stage; at 100 %, to rolled-out (see {@link completeRollout}).
 * Refused (E_GATE) before any rollout, while paused, once rolled out, and before
 * the current stage's hold has elapsed unless `now` is given with a reason.
 */
export async function advanceRollout(
  tx: Queryable,
  t: RolloutTarget,
  opts: { actor: string; now?: { reason: string }; life: Lifecycle; health?: HealthJudge },
): Promise<RolloutMove> {
  flagOf(t);
  const phase = await registeredPhase(tx, t, opts.life);
  const rec = await readRollout(tx, t.id, true);
  const first = t.stages[0] as Stage;
  if (!rec || phase === 'expanded' || phase === 'backfilled')
    throw new FerryError(
      'E_GATE',
      `cannot advance ${t.id}: its rollout has not started (phase ${phase})`,
      `start the canary with \`ferry rollout ${t.id} set ${first.percent}\``,
    );
  if (phase === 'paused')
    throw new FerryError('E_GATE', `cannot advance ${t.id}: its rollout is paused`, `set a percentage to resume: \`ferry rollout ${t.id} set <pct>\``);
  // Advancing ends in the move to rolled-out: the table refuses every phase that move does not start from.
  await opts.life.currentPhase(tx, t.id, { action: 'complete-rollout', verb: 'advance' });
  const next = nextStage(t.stages, rec.percentage);
  if (!next) return completeRollout(tx, t, { actor: opts.actor, life: opts.life, ...(opts.health ? { health: opts.health } : {}) });
  const hold = holdAt(t.stages, rec.percentage);
  if (rec.heldMs < hold && !opts.now) {
    throw new FerryError(
      'E_GATE',
      `cannot advance ${t.id} to ${formatPercentage(next.percent)}: the ${formatPercentage(rec.percentage)} stage has been held ${formatHold(rec.heldMs)} of ${formatHold(hold)} (${formatHold(hold - rec.heldMs)} remaining)`,
      `wait, or advance early with \`ferry rollout ${t.id} advance --now --reason "…"\``,
    );
  }
  const early = rec.heldMs < hold;
  const reason = early
    ? `advanced early to ${formatPercentage(next.percent)} after ${formatHold(rec.heldMs)} of ${formatHold(hold)}: ${opts.now?.reason}`
    : `advanced to ${formatPercentage(next.percent)}: the ${formatPercentage(rec.percentage)} stage was held ${formatHold(rec.heldMs)}`;
  return setRollout(tx, t, next.percent, { actor: opts.actor, reason, early, life: opts.life });
}

/** Why health forbids completing the rollout (it is red), or undefined when it does not; judged in the caller's transaction (see src/health). */
export type HealthJudge = (tx: Queryable) => Promise<string | undefined>;

/**
 * At 100 %: move the migration to rolled-out, only once the 100 % stage's hold
 * has passed and health is not red. The hold cannot be cut short: it is where
 * health is judged with everyone on the new path. Refused (E_GATE) otherwise.
 */
export async function completeRollout(tx: Queryable, t: RolloutTarget, opts: { actor: string; life: Lifecycle; health?: HealthJudge }): Promise<RolloutMove> {
  const flag = flagOf(t);
  const phase = await registeredPhase(tx, t, opts.life, { action: 'complete-rollout', verb: 'complete the rollout of' });
  const rec = await readRollout(tx, t.id, true);
  // Canary or rolling without a stored rollout: moved there by hand, so there is no stage or hold to judge.
  if (!rec) throw new FerryError('E_GATE', `cannot complete the rollout of ${t.id}: it is ${phase}`, `see \`ferry rollout ${t.id} status\``);
  if (nextStage(t.stages, rec.percentage))
    throw new FerryError(
      'E_GATE',
      `cannot complete the rollout of ${t.id}: it is at ${formatPercentage(rec.percentage)}, not 100 %`,
      `advance through the stages: \`ferry rollout ${t.id} advance\``,
    );
  const hold = holdAt(t.stages, rec.percentage);
  if (rec.heldMs < hold)
    throw new FerryError(
      'E_GATE',
      `cannot mark ${t.id} rolled out: the 100 % stage has been held ${formatHold(rec.heldMs)} of ${formatHold(hold)} (${formatHold(hold - rec.heldMs)} remaining)`,
      `wait for the hold, then \`ferry rollout ${t.id} advance\`; the last hold is where health is judged with everyone on the new path, so it cannot be cut short`,
    );
  const red = await opts.health?.(tx);
  if (red)
    throw new FerryError(
      'E_GATE',
      `cannot mark ${t.id} rolled out: health is red (${red})`,
      `see \`ferry health ${t.id}\`; roll back with \`ferry flag set ${flag} false\`, or fix it and advance once health is not red`,
    );
  const reason = `rolled out: the 100 % stage was held ${formatHold(rec.heldMs)} of ${formatHold(hold)}${opts.health ? ' and health is not red' : ''}`;
  await opts.life.transition(tx, t.id, 'rolled-out', {
    actor: opts.actor,
    reason,
    details: { flag, percentage: rec.percentage, ...(t.checksum ? { checksum: t.checksum } : {}) },
  });
  return {
    migrationId: t.id,
    flag,
    fromPercentage: rec.percentage,
    toPercentage: rec.percentage,
    phases: [{ from: phase, to: 'rolled-out' }],
    flagChange: null,
    early: false,
  };
}

/** Where a migration's rollout stands: phase, stage, flag, time held and remaining, next stage. */
export interface RolloutStatus {
  migrationId: string;
  phase: string | null;
  flag: string | null;
  started: boolean;
  /** The stage's percentage (0 before the rollout starts). */
  percentage: number;
  /** What the flag lets in now: 0 when it is off (after a quick rollback). */
  flagPercentage: number;
  flagEnabled: boolean;
  /** 1-based stage number, 0 below the first stage. */
  stage: number;
  stages: readonly Stage[];
  heldMs: number;
  holdMs: number;
  remainingMs: number;
  next: Stage | null;
}

/** Read a migration's rollout without changing anything; `known` is its flag when the caller has read it already (undefined: none stored). */
export async function rolloutStatus(db: Queryable, t: RolloutTarget, known?: { flag: Flag | undefined }): Promise<RolloutStatus> {
  const phaseRows = (await stateExists(db))
    ? await db.query<{ phase: string }>('SELECT phase FROM ferry.migrations WHERE id = $1', [t.id])
    : { rows: [] as { phase: string }[] };
  const rec = await readRollout(db, t.id);
  const flag = known ? known.flag : t.flag ? await readFlag(db, t.flag) : undefined;
  const percentage = rec?.percentage ?? 0;
  const holdMs = holdAt(t.stages, percentage);
  const heldMs = rec?.heldMs ?? 0;
  return {
    migrationId: t.id,
    phase: phaseRows.rows[0]?.phase ?? null,
    flag: t.flag ?? null,
    started: rec !== undefined,
    percentage,
    flagPercentage: flag ? effectivePercentage(flag) : 0,
    flagEnabled: flag?.enabled ?? false,
    stage: stageIndexAt(t.stages, percentage) + 1,
    stages: t.stages,
    heldMs,
    holdMs,
    remainingMs: rec ? Math.max(0, holdMs - heldMs) : 0,
    next: nextStage(t.stages, percentage) ?? null,
  };
}
