import type { Database } from '../db/database.js';
import type { Approval } from '../docs/state.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { ensureMigrationRecord, ensureState } from '../state/store.js';
import { approvalStatus, recordApproval, roleOf } from './approvals.js';
import { MIGRATION_LOCK_KEY } from './execute.js';
import type { Phase } from './gate.js';
import { currentPhase, transition } from './lifecycle.js';

/** Options of {@link approve}. */
export interface ApproveOptions {
  /** The approving role, one of the plan's `approvals` (matched case-insensitively). */
  role: string;
  /** Who approves; recorded with the approval and in the log. */
  actor: string;
  /** A note for the log. */
  reason?: string;
  /** How long to wait for the migration lock. */
  lockWaitMs: number;
}

/** What {@link approve} did: the approval recorded, and whether it completed the plan's roles (planned → approved). */
export interface ApproveResult {
  migrationId: string;
  approval: Approval;
  /** The phase after the approval. */
  phase: Phase;
  /** Whether this approval moved the migration planned → approved. */
  moved: boolean;
  /** The roles still to approve the migration as its files are now. */
  missing: string[];
  approved: Approval[];
}

/** The role as `m`'s plan spells it; a role the plan does not name is refused (E_USAGE) with the roles it names. */
export function checkRole(m: Migration, role: string): string {
  const named = roleOf(m, role);
  if (named) return named;
  throw new FerryError(
    'E_USAGE',
    `"${role}" is not an approving role of ${m.id}`,
    `its plan names: ${m.manifest.plan.approvals.map((r) => `"${r}"`).join(', ')}`,
  );
}

/**
 * `ferry approve`: record one role's approval of `m` as its files are now, under
 * the migration lock; once every role of the plan has approved, a planned
 * migration moves to approved. Editing the migration afterwards voids it.
 */
export async function approve(db: Database, m: Migration, opts: ApproveOptions): Promise<ApproveResult> {
  checkRole(m, opts.role);
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    return db.transaction(async (tx) => {
      await ensureMigrationRecord(tx, m.id, m.manifest.title, m.checksum);
      const phase = await currentPhase(tx, m.id);
      const approval = await recordApproval(tx, m, { role: opts.role, actor: opts.actor, ...(opts.reason ? { reason: opts.reason } : {}) });
      const status = await approvalStatus(tx, m.id, m.checksum, m.manifest.plan.approvals);
      let moved = false;
      if (phase === 'planned' && status.complete) {
        await transition(tx, m.id, 'approved', {
          actor: opts.actor,
          reason: `approved by ${status.approved.map((a) => `${a.role} (${a.by})`).join(', ')}`,
          details: { checksum: m.checksum },
        });
        moved = true;
      }
      return { migrationId: m.id, approval, phase: moved ? 'approved' : phase, moved, missing: status.missing, approved: status.approved };
    });
  });
}
