import { isMigrationStage, MIGRATION_STAGES, type MigrationStage } from '../compat/stages.js';
import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import { redHealthJudge } from '../health/controller.js';
import { controllerTargetOf } from '../health/target.js';
import type { Migration } from '../migration/loader.js';
import { moveMigrationStage, type StageMove } from '../rollout/migration-stage.js';
import { ensureState } from '../state/store.js';
import { dataErrors } from './check-store.js';
import { MIGRATION_LOCK_KEY } from './execute.js';
import { currentPhase } from './lifecycle.js';
import type { RolloutActionOptions } from './rollout.js';

export { isMigrationStage, MIGRATION_STAGES, type MigrationStage, STAGE_PLANS, type StagePlan } from '../compat/stages.js';
export type { StageMove } from '../rollout/migration-stage.js';

/** Options of {@link setMigrationStage}. */
export interface StageOptions extends RolloutActionOptions {
  /** Why, for the migration's log. */
  reason?: string;
  /** Skip stages forward on purpose; the reason is logged. Gates of the stages passed still apply. */
  now?: { reason: string };
}

/** The E_USAGE for a name that is not a migration stage, listing the six. */
export function unknownStage(name: string): FerryError {
  return new FerryError('E_USAGE', `"${name}" is not a migration stage`, `the stages are, in order: ${MIGRATION_STAGES.join(', ')}`);
}

/**
 * `ferry rollout <id> stage <name>`: move the migration stage its flag carries (off → dualwrite → shadow →
 * live → rampdown → complete), under the migration lock in one transaction, logged as a `stage` event.
 * Forward one at a time (further with `now` and a reason); `live` needs the rollout started and health not
 * red; `rampdown` and `complete` need the migration rolled out; back is allowed, except out of `complete`.
 */
export async function setMigrationStage(db: Database, m: Migration, stage: MigrationStage | string, opts: StageOptions): Promise<StageMove> {
  if (!isMigrationStage(stage)) throw unknownStage(stage);
  if (opts.now && !opts.now.reason.trim())
    throw new FerryError('E_USAGE', 'skipping stages needs a reason', 'say why stages are skipped; it goes into the log');
  if (!m.manifest.flag)
    throw new FerryError(
      'E_GATE',
      `migration ${m.id} names no flag to carry its stage`,
      'add "flag": "<key>" to its manifest; the stage is stored with the flag',
    );
  const health = redHealthJudge(controllerTargetOf(m), dataErrors);
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    return db.transaction((tx) =>
      moveMigrationStage(tx, { id: m.id, flag: m.manifest.flag }, stage, {
        actor: opts.actor,
        life: { currentPhase },
        health,
        ...(opts.reason ? { reason: opts.reason } : {}),
        ...(opts.now ? { now: opts.now } : {}),
      }),
    );
  });
}
