import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { appendEvent } from '../state/store.js';
import { backfillProgress, backfillStateExists } from './progress.js';
import type { BackfillProgress, BackfillState } from './types.js';

/** What an operator can ask of a running backfill. */
export type BackfillAction = 'pause' | 'resume' | 'cancel';

const TRANSITIONS: Record<BackfillAction, { to: BackfillState; from: BackfillState[] }> = {
  pause: { to: 'paused', from: ['pending', 'running'] },
  // Resuming a failed backfill is the retry after its data was fixed.
  resume: { to: 'running', from: ['paused', 'cancelled', 'failed'] },
  cancel: { to: 'cancelled', from: ['pending', 'running', 'paused'] },
};

/**
 * Move a backfill to `running`, restarting its rate clock, when it is in one of `from`.
 * Returns whether it moved.
 */
export async function startRun(db: Queryable, migrationId: string, stepId: string, from: BackfillState[], actor?: string): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE ferry.backfills SET state = 'running', error = NULL, run_started_at = clock_timestamp(), updated_at = clock_timestamp(),
            rows_at_run_start = (SELECT coalesce(sum(rows_done), 0) FROM ferry.backfill_ranges r WHERE r.migration_id = $1 AND r.step_id = $2),
            control_by = coalesce($4, control_by), control_at = CASE WHEN $4::text IS NULL THEN control_at ELSE clock_timestamp() END
      WHERE migration_id = $1 AND step_id = $2 AND state = ANY ($3::text[]) RETURNING 1`,
    [migrationId, stepId, from, actor ?? null],
  );
  return rows.length > 0;
}

/**
 * Pause, resume or cancel a backfill from any process: its state row is the
 * control every worker reads between batches. Idempotent (pausing a paused
 * backfill changes nothing); each change is one event in the log.
 */
export async function controlBackfill(db: Database, migrationId: string, stepId: string, action: BackfillAction, actor: string): Promise<BackfillProgress> {
  const current = (await backfillStateExists(db)) ? (await backfillProgress(db, migrationId, stepId))[0] : undefined;
  if (!current) {
    throw new FerryError('E_NOT_FOUND', `backfill ${migrationId}/${stepId} has not started`, 'start it with `ferry up` or `ferry backfill <id>` first');
  }
  const { to, from } = TRANSITIONS[action];
  if (from.includes(current.state)) {
    await db.transaction(async (tx) => {
      const moved =
        to === 'running'
          ? await startRun(tx, migrationId, stepId, from, actor)
          : (
              await tx.query(
                `UPDATE ferry.backfills SET state = $3, control_by = $4, control_at = clock_timestamp(), updated_at = clock_timestamp()
                  WHERE migration_id = $1 AND step_id = $2 AND state = ANY ($5::text[]) RETURNING 1`,
                [migrationId, stepId, to, actor, from],
              )
            ).rows.length > 0;
      if (moved) {
        await appendEvent(tx, {
          migrationId,
          actor,
          kind: `backfill-${action}`,
          stepId,
          reason: `${current.state} → ${to}`,
          details: { rowsDone: current.rowsDone },
        });
      }
    });
  }
  return (await backfillProgress(db, migrationId, stepId))[0] as BackfillProgress;
}
