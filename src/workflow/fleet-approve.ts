import type { Database } from '../db/database.js';
import type { FleetTarget } from '../fleet/targets.js';
import type { Migration } from '../migration/loader.js';
import { readState } from '../state/store.js';
import { approvalStatus } from './approvals.js';
import { approve, checkRole } from './approve.js';
import { type FleetOptions, openFleet } from './fleet-open.js';
import { eachDatabase } from './fleet-target.js';
import { findMigration } from './workspace.js';

// `ferry approve <id> --as <role> --env <fleet>`: one role's approval recorded in every database of the fleet,
// each through the single-database `approve` (its own lock, state and log). An approval is a decision about the
// migration, not a change rolled out to the databases, so it takes no waves and no ledger run: it is one pass over
// every database (up to the fleet's concurrency at once) that skips the databases where the role already approved
// the migration as its files are now. Run it again after a failure and it approves only the rest. Being no run, it
// never conflicts with the fleet's unfinished run (an `up` stopped for want of this approval resumes after it).

/** What a fleet approval asks of every database: the migration, the role, and a note for the log. */
export interface FleetApproveArgs {
  id: string;
  role: string;
  reason?: string | undefined;
}

/** One database's outcome: approved now, already approved by the role (skipped), or failed with its error. */
export interface FleetApproval {
  target: string;
  status: 'approved' | 'already' | 'failed';
  /** The migration's phase there after the pass (null when it failed or has no record). */
  phase: string | null;
  /** Whether this approval moved it planned → approved there. */
  moved: boolean;
  /** The roles still to approve it there. */
  missing: string[];
  error: string | null;
}

/** What a fleet approval came to: every database's outcome, in the fleet's order, and the counts. */
export interface FleetApproveReport {
  fleet: string;
  migrationId: string;
  role: string;
  databases: FleetApproval[];
  counts: { total: number; approved: number; already: number; failed: number };
  /** The roles still missing on some database (after this pass). */
  missing: string[];
}

/**
 * Approve migration `args.id` as `args.role` in every database of the fleet; databases where the role already
 * approved it (at its current checksum) are skipped. A database that fails (unreachable …) is reported with its
 * error and does not stop the others. E_USAGE for a role the plan does not name, before any database is opened.
 */
export async function fleetApprove(opts: FleetOptions, args: FleetApproveArgs, onEvent: (d: FleetApproval) => void = () => {}): Promise<FleetApproveReport> {
  const { fleet, control } = await openFleet(opts, true);
  // The ledger is not used: the control database only gave the targets.
  await control.close();
  const m = await findMigration(fleet.ws, args.id);
  const role = checkRole(m, args.role);
  const databases = await eachDatabase(
    fleet,
    'ferry fleet approve',
    (db, t) => approveOne(db, t, m, { role, actor: fleet.ws.actor, lockWaitMs: fleet.ws.lockWaitMs, reason: args.reason }),
    (t, error): FleetApproval => ({ target: t.id, status: 'failed', phase: null, moved: false, missing: [], error }),
    onEvent,
  );
  const count = (s: FleetApproval['status']) => databases.filter((d) => d.status === s).length;
  return {
    fleet: fleet.name,
    migrationId: m.id,
    role,
    databases,
    counts: { total: databases.length, approved: count('approved'), already: count('already'), failed: count('failed') },
    missing: [...new Set(databases.flatMap((d) => d.missing))],
  };
}

/** Approve `m` in one database unless the role already approved it as its files are now. */
async function approveOne(
  db: Database,
  t: FleetTarget,
  m: Migration,
  o: { role: string; actor: string; lockWaitMs: number; reason?: string | undefined },
): Promise<FleetApproval> {
  const before = await approvalStatus(db, m.id, m.checksum, m.manifest.plan.approvals);
  if (before.approved.some((a) => a.role === o.role)) {
    const phase = (await readState(db)).migrations.get(m.id)?.phase ?? null;
    return { target: t.id, status: 'already', phase, moved: false, missing: before.missing, error: null };
  }
  const r = await approve(db, m, { role: o.role, actor: o.actor, lockWaitMs: o.lockWaitMs, ...(o.reason ? { reason: o.reason } : {}) });
  return { target: t.id, status: 'approved', phase: r.phase, moved: r.moved, missing: r.missing, error: null };
}
