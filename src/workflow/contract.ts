import type { Database, Queryable } from '../db/database.js';
import { findTable } from '../db/table-copy.js';
import type { BackupRecord } from '../docs/state.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { graduateFlag } from '../rollout/flags.js';
import { appendEvent, ensureState, readState } from '../state/store.js';
import type { RunReport, UpOptions } from './apply.js';
import { cleanupTargets, type DumpAccess, listBackups, takeBackup } from './backup.js';
import { CROSSING_EVENT, type CrossingVerdict, contractStarted, crossingGates, refuseCrossing } from './crossing.js';
import { applyStep, MIGRATION_LOCK_KEY, rehearseSteps } from './execute.js';
import { currentPhase, type Phase, phaseRefusal, transition } from './lifecycle.js';
import { refuseDrift, viewOf } from './plan-state.js';

/** Options of {@link contract}. */
export interface ContractOptions extends Omit<UpOptions, 'requireApproval'> {
  /** Where contract writes its backup (and how pg_dump reaches a server); without it, a recent backup must exist. */
  backup?: { dir: string; access?: DumpAccess };
  now?: Date;
}

/** What contract did: its steps and transitions, the backup guarding them, the crossing judged and the flag graduated. */
export interface ContractReport extends RunReport {
  /** The backup taken before the first contract step, or the recent one it relied on (`reused`); null when nothing is dropped or it was taken earlier. */
  backup: (BackupRecord & { skipped: string[]; reused: boolean }) | null;
  /** The crossing gates as judged (null when resuming an interrupted contract). */
  crossing: CrossingVerdict | null;
  /** The flag that graduated: on for everyone for good. */
  flagGraduated: string | null;
}

/**
 * A backup "recent" enough to cross on: one listed for this migration since it
 * last became verified (so after every step it applied, and after any failing
 * verification), its files still in place.
 */
export async function recentBackup(db: Queryable, m: Migration): Promise<BackupRecord | undefined> {
  const { rows } = await db.query<{ at: Date | string | null }>(
    `SELECT max(at) AS at FROM ferry.events WHERE migration_id = $1 AND kind = 'transition' AND to_phase = 'verified'`,
    [m.id],
  );
  const since = rows[0]?.at ? new Date(rows[0].at).getTime() : Number.POSITIVE_INFINITY;
  return (await listBackups(db, m.id)).filter((b) => b.purpose !== 'rollback' && new Date(b.createdAt).getTime() >= since).at(-1);
}

/** Take (or reuse a recent) backup of what the contract steps drop; null when they drop nothing that is still there. */
async function backupBeforeCrossing(db: Database, m: Migration, opts: ContractOptions): Promise<ContractReport['backup']> {
  let present = 0;
  for (const t of cleanupTargets(m)) if (await findTable(db, t)) present++;
  if (present === 0) return null;
  const recent = await recentBackup(db, m);
  if (recent) return { ...recent, skipped: [], reused: true };
  if (!opts.backup) {
    throw new FerryError(
      'E_GATE',
      `cannot contract ${m.id}: it drops data (${cleanupTargets(m).join(', ')}) and no backup was taken since it was verified`,
      `take one with \`ferry backup ${m.id}\`, or contract through the CLI (it takes one itself)`,
    );
  }
  const b = await takeBackup(db, m, {
    dir: opts.backup.dir,
    actor: opts.actor,
    ...(opts.backup.access ? { access: opts.backup.access } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { ...b, reused: false };
}

/**
 * The E_GATE for contracting or cleaning up (`what`) a migration that is not
 * verified, worded by the table's contract move; for a rolled-out one (e.g.
 * moved back by a failing verify) it adds what fails now: which check, how many
 * data errors, the health colour.
 */
export async function notVerified(db: Queryable, m: Migration, phase: Phase, what: string): Promise<FerryError> {
  const refused = phaseRefusal(m.id, phase, { action: 'contract', verb: what });
  if (!refused) throw new Error(`notVerified: ${m.id} is ${phase}, a phase contract starts from`);
  if (phase !== 'rolled-out') return refused;
  const v = await crossingGates(db, m);
  return new FerryError(
    'E_GATE',
    `${refused.message}${v.ok ? '' : ` (${v.problems.join('; ')})`}. Nothing was changed`,
    v.ok ? `run \`ferry verify ${m.id} --full\`: when every check passes it moves to verified` : v.fixes.join('; then '),
  );
}

/**
 * Contract a verified migration: check the crossing gates (checks, health, no
 * unresolved rollback; E_GATE before anything changes), take a backup of what
 * it drops (unless one was taken since it was verified), run its contract-phase
 * steps in order, graduate its flag and move it verified → contracted, its
 * point of no return. Crash-safe like `up`: each step commits with its record;
 * running it again reuses the backup, or finishes the steps once one was applied.
 */
export async function contract(db: Database, m: Migration, opts: ContractOptions): Promise<ContractReport> {
  const report: ContractReport = { dryRun: Boolean(opts.dryRun), steps: [], transitions: [], backup: null, crossing: null, flagGraduated: null };
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    const state = await readState(db);
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    refuseDrift([v]);
    const phase = v.record?.phase ?? 'planned';
    if (phase === 'contracted' || phase === 'archived') {
      if (v.contractPending.length === 0) return;
    } else if (phase !== 'verified') {
      throw await notVerified(db, m, phase as Phase, 'contract');
    }
    if (v.pending.length > 0) {
      throw new FerryError(
        'E_GATE',
        `migration ${m.id} has steps not applied (${v.pending.map((s) => s.id).join(', ')}); contract comes after them`,
        `run \`ferry up ${m.id}\` first`,
      );
    }
    const crossing = phase === 'verified' && !(await contractStarted(db, m.id));
    if (crossing) {
      report.crossing = await crossingGates(db, m);
      refuseCrossing(m, report.crossing, 'contract');
    }
    if (opts.dryRun) {
      report.steps.push(...(await rehearseSteps(db, m, v.contractPending, 'forward', opts)));
      return;
    }
    if (crossing) {
      report.backup = await backupBeforeCrossing(db, m, opts);
      await appendEvent(db, {
        migrationId: m.id,
        actor: opts.actor,
        kind: CROSSING_EVENT,
        reason: `crossing the point of no return: every check passes, health ${report.crossing?.health ?? 'not judged (no flag)'}, no unresolved rollback${report.backup ? `; backup ${report.backup.id}` : ''}`,
        details: { health: report.crossing?.health ?? null, backup: report.backup?.id ?? null },
      });
    }
    for (const step of v.contractPending) report.steps.push(await applyStep(db, m, step, opts));
    await db.transaction(async (tx) => {
      const from = await currentPhase(tx, m.id);
      const flag = m.manifest.flag;
      if (flag) {
        const change = await graduateFlag(tx, flag, {
          migrationId: m.id,
          actor: opts.actor,
          reason: `flag ${flag} graduated with the contract of ${m.id}: on for everyone for good, whatever default the code passes`,
        });
        if (change) report.flagGraduated = flag;
      }
      if (from !== 'verified') return;
      const n = m.steps.filter((s) => s.phase === 'contract').length;
      await transition(tx, m.id, 'contracted', {
        actor: opts.actor,
        reason: `old shape removed: ${n} contract step(s) applied; the point of no return is passed`,
        details: { backup: report.backup?.id ?? null },
      });
      report.transitions.push({ migrationId: m.id, from, to: 'contracted' });
    });
  });
  return report;
}
