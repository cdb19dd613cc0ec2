import { type BackfillProgress, backfillProgress, runBackfill } from '../backfill/index.js';
import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { backfillTarget } from './backfill-step.js';

/** The backfill steps of `m` (only `stepId` when given); refused (E_NOT_FOUND) when it has none. */
export function backfillSteps(m: Migration, stepId?: string): Step[] {
  const steps = m.steps.filter((s) => s.kind === 'backfill' && (stepId === undefined || s.id === stepId));
  if (steps.length === 0) {
    throw new FerryError(
      'E_NOT_FOUND',
      stepId ? `migration ${m.id} has no backfill step "${stepId}"` : `migration ${m.id} has no backfill step`,
      'add a step with "kind": "backfill" to its manifest',
    );
  }
  return steps;
}

/** Options of {@link joinBackfill}. */
export interface JoinBackfillOptions {
  /** Only this backfill step. */
  stepId?: string;
  /** How long to wait for another runner to start each backfill before giving up (E_NOT_FOUND). */
  waitMs: number;
  /** The lock_timeout of each batch. */
  lockTimeoutMs: number;
  /** Who this worker is, in the checkpoint table. */
  workerId: string;
}

/**
 * `ferry backfill --join`: work on the backfills of `m` another runner leads,
 * batch by batch, until they are done; neither applies nor records steps.
 * Resolves to the progress of each step joined.
 */
export async function joinBackfill(db: Database, m: Migration, opts: JoinBackfillOptions): Promise<BackfillProgress[]> {
  const out: BackfillProgress[] = [];
  for (const step of backfillSteps(m, opts.stepId)) {
    const deadline = Date.now() + opts.waitMs;
    while ((await backfillProgress(db, m.id, step.id)).length === 0) {
      if (Date.now() > deadline) {
        throw new FerryError(
          'E_NOT_FOUND',
          `no backfill of ${m.id}/${step.id} has started to join`,
          `start it with \`ferry backfill ${m.id}\` (or \`ferry up\`) first`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    out.push(await runBackfill(db, backfillTarget(m, step), { lockTimeoutMs: opts.lockTimeoutMs, workerId: opts.workerId }));
  }
  return out;
}
