import { MIGRATION_STAGES, type MigrationStage } from '../compat/stages.js';
import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { appendEvent } from '../state/store.js';
import { readFlag } from './flags.js';
import type { HealthJudge, Lifecycle } from './stages.js';

/** What `ferry rollout <id> stage <name>` did: the migration stage of its flag, from → to. */
export interface StageMove {
  migrationId: string;
  flag: string;
  from: MigrationStage;
  to: MigrationStage;
  /** The migration's phase when it moved. */
  phase: string;
  /** Stages passed over on purpose (`--now --reason`); empty for a move of one stage or back. */
  skipped: MigrationStage[];
  /** The flag's version after the move (SDKs refresh on the change); unchanged when it already was at `to`. */
  flagVersion: number;
  /** False when the flag already was at `to`: nothing was written. */
  moved: boolean;
}

/** Phases a stage cannot move in: before the migration is applied, after a rollback, once archived. */
const FROZEN: Readonly<Record<string, string>> = {
  planned: 'it has not been applied yet; run `ferry up` first',
  approved: 'it has not been applied yet; run `ferry up` first',
  'rolled-back': 'it was rolled back; run `ferry up` to expand it again first',
  archived: 'it is archived',
};

/** Phases in which the rollout has started (units on the new path): `live` needs one. */
const ROLLOUT_STARTED = new Set(['canary', 'rolling', 'rolled-out', 'verified', 'contracted']);
/** Phases with everyone on the new path: `rampdown` and `complete` need one. */
const ROLLED_OUT = new Set(['rolled-out', 'verified', 'contracted']);

const indexOf = (s: MigrationStage) => MIGRATION_STAGES.indexOf(s);

/**
 * Why moving forward into `stage` is refused in `phase` (the gate of that stage), or undefined.
 * `live` reads the new side: the rollout must have started and health must not be red.
 * `rampdown` and `complete` stop reading (then writing) the old side: everyone must be on the new path.
 */
async function stageGate(
  tx: Queryable,
  id: string,
  stage: MigrationStage,
  phase: string,
  health: HealthJudge | undefined,
): Promise<{ why: string; hint: string } | undefined> {
  if (stage === 'live') {
    if (phase === 'paused')
      return { why: 'live reads the new side, and its rollout is paused', hint: `resume it first (\`ferry rollout ${id} resume\` or \`set <pct>\`)` };
    if (!ROLLOUT_STARTED.has(phase))
      return {
        why: `live reads the new side, and its rollout has not started (phase ${phase})`,
        hint: `start the canary first: \`ferry rollout ${id} set <pct>\``,
      };
    const red = await health?.(tx);
    if (red) return { why: `health is red (${red})`, hint: `see \`ferry health ${id}\`; fix the new path, then move to live once health is not red` };
  }
  if ((stage === 'rampdown' || stage === 'complete') && !ROLLED_OUT.has(phase))
    return {
      why: `${stage} stops reading the old side, and the migration is not rolled out (phase ${phase})`,
      hint: `finish the rollout first (\`ferry rollout ${id} status\`)`,
    };
  return undefined;
}

/**
 * Move the migration stage of `t`'s flag to `to` in the caller's transaction, and log it (event `stage`).
 * Forward one stage at a time (further only with `now` and a reason); every stage moved into passes its gate
 * (see {@link stageGate}); back freely, except out of `complete` (the old side has not been written since) and,
 * once contracted (the old side is gone), anywhere but `complete`. Refused (E_GATE) before the migration is
 * applied, after a rollback and once archived. The flag's version is bumped so SDKs pick the stage up.
 */
export async function moveMigrationStage(
  tx: Queryable,
  t: { id: string; flag: string | undefined },
  to: MigrationStage,
  opts: { actor: string; reason?: string; now?: { reason: string }; life: Pick<Lifecycle, 'currentPhase'>; health?: HealthJudge },
): Promise<StageMove> {
  const flag = t.flag;
  if (!flag)
    throw new FerryError(
      'E_GATE',
      `migration ${t.id} names no flag to carry its stage`,
      'add "flag": "<key>" to its manifest; the stage is stored with the flag',
    );
  const { rows } = await tx.query('SELECT 1 FROM ferry.migrations WHERE id = $1', [t.id]);
  if (rows.length === 0)
    throw new FerryError('E_GATE', `cannot move ${t.id} to stage ${to}: it is planned and has not been applied yet`, `run \`ferry up ${t.id}\` first`);
  const phase = await opts.life.currentPhase(tx, t.id);
  const refuse = (why: string, hint: string) => new FerryError('E_GATE', `cannot move ${t.id} to stage ${to}: ${why}`, hint);
  const frozen = FROZEN[phase];
  if (frozen) throw refuse(frozen, `see \`ferry status ${t.id}\``);
  const before = await readFlag(tx, flag, true);
  const from = before?.stage ?? 'off';
  const base = { migrationId: t.id, flag, from, to, phase };
  if (from === to) return { ...base, skipped: [], flagVersion: before?.version ?? 0, moved: false };
  if (indexOf(to) < indexOf(from) && from === 'complete')
    throw refuse(
      'it is complete: the old side has not been written since, so reading or writing it again would serve stale data',
      'stay at complete; to go back, write a new migration that brings the old side up to date first',
    );
  if (phase === 'contracted' && to !== 'complete')
    throw refuse('it is contracted: the old side is gone', `the only stage left is complete: \`ferry rollout ${t.id} stage complete\``);
  const skipped = indexOf(to) > indexOf(from) ? MIGRATION_STAGES.slice(indexOf(from) + 1, indexOf(to)) : [];
  if (skipped.length > 0 && !opts.now) {
    const next = MIGRATION_STAGES[indexOf(from) + 1] as MigrationStage;
    throw refuse(
      `stages move forward one at a time, and the next after ${from} is ${next}`,
      `move to ${next} with \`ferry rollout ${t.id} stage ${next}\`, or skip ahead on purpose with \`ferry rollout ${t.id} stage ${to} --now --reason "…"\``,
    );
  }
  if (indexOf(to) > indexOf(from)) {
    for (const s of [...skipped, to]) {
      const gate = await stageGate(tx, t.id, s, phase, opts.health);
      if (gate) throw refuse(s === to ? gate.why : `it would pass ${s}, and ${gate.why}`, gate.hint);
    }
  }
  const { rows: written } = await tx.query<{ version: string }>(
    `INSERT INTO ferry.flags (key, enabled, percentage, migration_id, updated_by, stage) VALUES ($1, false, 0, $2, $3, $4)
     ON CONFLICT (key) DO UPDATE SET stage = EXCLUDED.stage, migration_id = coalesce(ferry.flags.migration_id, EXCLUDED.migration_id),
       updated_by = EXCLUDED.updated_by, updated_at = now(), version = ferry.flags.version + 1
     RETURNING version::text AS version`,
    [flag, t.id, opts.actor, to],
  );
  const said = `stage ${from} → ${to}`;
  const reason = opts.now && skipped.length ? `${said} early, past ${skipped.join(', ')}: ${opts.now.reason}` : (opts.reason ?? opts.now?.reason ?? said);
  await appendEvent(tx, {
    migrationId: t.id,
    actor: opts.actor,
    kind: 'stage',
    reason,
    details: { flag, from, to, ...(skipped.length ? { skipped, early: true } : {}) },
  });
  return { ...base, skipped, flagVersion: Number(written[0]?.version ?? 0), moved: true };
}
