import type { Database } from '../db/database.js';
import { FerryError, sqlState } from '../errors.js';
import { sleep } from '../sleep.js';
import { fillRange } from './batch.js';
import { nextBatchSize } from './batch-size.js';
import { isDataError, RETRYABLE } from './faults.js';
import { validateBackfill } from './prepare.js';
import { backfillStateExists } from './progress.js';
import { doneRowsPredicate, type KeyBounds } from './statements.js';
import type { BackfillProgress, BackfillTarget } from './types.js';

/** Options of {@link rollbackBackfill}. */
export interface RollbackBackfillOptions {
  lockTimeoutMs: number;
  onProgress?: (p: BackfillProgress) => void;
}

/**
 * Undo a backfill on `down`: stop its workers (state `cancelled`), apply the
 * step's `rollback` expressions in keyset batches to the rows the fill has
 * done (those its predicate no longer matches) — nothing to undo in data when
 * the step has none — then forget its state, so a later `up` starts over.
 * Idempotent: run again after a crash, it redoes only what is left.
 */
export async function rollbackBackfill(db: Database, t: BackfillTarget, opts: RollbackBackfillOptions): Promise<void> {
  const hasState = await backfillStateExists(db);
  if (hasState) {
    await db.query(
      `UPDATE ferry.backfills SET state = 'cancelled', updated_at = clock_timestamp() WHERE migration_id = $1 AND step_id = $2 AND state <> 'done'`,
      [t.migrationId, t.stepId],
    );
  }
  const rollback = t.spec.rollback;
  if (rollback) {
    const plan = await validateBackfill(db, t);
    const { min, max, initial } = t.spec.batchSize;
    let size = Math.min(max, Math.max(min, initial));
    let after: string[] | null = null;
    let rowsDone = 0;
    let batches = 0;
    let retries = 0;
    let longest = 0;
    for (;;) {
      const started = performance.now();
      const b: KeyBounds = { after, upTo: null };
      let r: { updated: number; walked: number; lastKey: string[] | null };
      try {
        r = await db.transaction(async (tx) => {
          await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${opts.lockTimeoutMs}ms`]);
          return fillRange(tx, plan, rollback, doneRowsPredicate(t.spec.where), b, size);
        });
      } catch (err) {
        const state = sqlState(err);
        if (state && RETRYABLE.has(state) && retries < 20) {
          retries++;
          size = Math.max(1, Math.floor(size / 2));
          await sleep(Math.min(5000, 50 * 2 ** Math.min(retries, 7)));
          continue;
        }
        throw new FerryError(
          isDataError(err) ? 'E_BACKFILL' : 'E_STEP',
          `rollback of backfill ${t.migrationId}/${t.stepId} failed after ${rowsDone} rows: ${(err as Error).message}${state ? ` [SQLSTATE ${state}]` : ''}`,
          'the rows undone so far stay undone; fix the cause and run ferry down again (it continues)',
          undefined,
          { cause: err },
        );
      }
      const elapsedMs = performance.now() - started;
      rowsDone += r.updated;
      batches++;
      longest = Math.max(longest, elapsedMs);
      opts.onProgress?.({
        migrationId: t.migrationId,
        stepId: t.stepId,
        state: 'running',
        rowsDone,
        rowsTotal: rowsDone,
        ratePerSec: 0,
        etaSeconds: null,
        batchSize: size,
        lastBatchMs: elapsedMs,
        longestBatchMs: longest,
        batches,
        retries,
        throttledBy: null,
        rangesDone: 0,
        rangesTotal: 1,
        workers: 1,
        pacing: null,
        updatedAt: new Date().toISOString(),
      });
      if (r.walked < size || !r.lastKey) break;
      after = r.lastKey;
      size = nextBatchSize(size, { walked: r.walked, elapsedMs, throttled: false }, { min, max, targetMs: t.spec.targetBatchMs });
      await sleep(t.spec.sleepRatio * elapsedMs);
    }
  }
  if (hasState) await db.query('DELETE FROM ferry.backfills WHERE migration_id = $1 AND step_id = $2', [t.migrationId, t.stepId]);
}
