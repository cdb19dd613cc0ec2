import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../db/database.js';
import type { BackupRecord } from '../docs/state.js';
import { FerryError } from '../errors.js';
import { ARCHIVE_DIR, type Migration } from '../migration/loader.js';
import { graduateFlag } from '../rollout/flags.js';
import { formatHold } from '../rollout/schedule.js';
import { appendEvent, ensureState, readState } from '../state/store.js';
import { type DumpAccess, listBackups } from './backup.js';
import { apiTrafficDetails, describeRecentCalls, recentOldCalls } from './consumers.js';
import { type ContractReport, contract, notVerified } from './contract.js';
import { contractStarted, crossingGates, refuseCrossing } from './crossing.js';
import { type DeprecationDetails, deprecationOf } from './deprecation.js';
import { MIGRATION_LOCK_KEY, type RunOptions } from './execute.js';
import { currentPhase, type Phase, phaseRefusal, refusal, transition } from './lifecycle.js';

/** Options of {@link cleanup}. */
export interface CleanupOptions {
  run: RunOptions;
  lockWaitMs: number;
  /** The folder backups are written to. */
  backupDir: string;
  /** The migrations folder (the migration is archived under `archive/YYYYMM/`). */
  migrationsDir: string;
  access?: DumpAccess;
  /** Clean up before the deprecation period has passed, or while an old API version still has traffic; the reason is recorded. */
  force?: { reason: string };
  now?: Date;
}

/** What cleanup did, in order. */
export interface CleanupReport {
  migrationId: string;
  forced: string | null;
  deprecation: { since: string | null; periodMs: number; elapsedMs: number };
  /** Calls to an old version of the migration's API within its consumer window when cleanup ran (only a forced cleanup gets past them). */
  oldApiCalls: { consumer: string; version: string; calls: number; lastSeen: string }[];
  /** The backup contract took (or relied on) before crossing; when cleanup resumes after contract, the migration's latest backup (`reused`). */
  backup: (BackupRecord & { skipped: string[]; reused: boolean }) | null;
  contract: ContractReport;
  /** The flag left as a graduated tombstone (SDKs still asking get true, and a warning). */
  flagTombstone: string | null;
  archivedTo: string;
  transitions: { from: string; to: string }[];
}

/**
 * Check cleanup's gates without changing anything: the migration is verified
 * (or contracted, resuming an interrupted cleanup); a verified one passes the
 * crossing gates of contract (checks, health, no unresolved rollback; `--force`
 * does not skip them); and the gates of the archive move in the transition
 * table (its deprecation period, counted from reaching 100 %, has passed, and
 * no old version of its API had a call within the consumer window, unless
 * forced with a reason) hold.
 */
export async function cleanupGates(
  db: Database,
  m: Migration,
  opts: Pick<CleanupOptions, 'force' | 'now' | 'run'>,
): Promise<{ phase: string; since: Date | null; periodMs: number; elapsedMs: number; oldApiCalls: CleanupReport['oldApiCalls'] }> {
  const phase = ((await readState(db)).migrations.get(m.id)?.phase ?? 'planned') as Phase;
  // Cleanup ends in the archive move, after contract's: the table words both refusals (archived; not verified).
  if (phase === 'archived') throw phaseRefusal(m.id, phase, { action: 'archive', verb: 'clean up' });
  if (phase !== 'verified' && phase !== 'contracted') throw await notVerified(db, m, phase, 'clean up');
  if (phase === 'verified' && !(await contractStarted(db, m.id))) refuseCrossing(m, await crossingGates(db, m), 'clean up');
  const now = opts.now ?? new Date();
  const archive = await refusal(db, m.id, {
    action: 'archive',
    verb: 'clean up',
    actor: opts.run.actor,
    details: deprecationDetails(m, now, opts.force?.reason ?? null),
    asFrom: 'contracted',
  });
  if (archive) throw archive;
  const api = apiTrafficDetails(m);
  const calls = api ? await recentOldCalls(db, api, now) : [];
  const oldApiCalls = calls.map((c) => ({ consumer: c.consumer, version: c.version, calls: c.calls, lastSeen: c.lastSeen.toISOString() }));
  return { phase, ...(await deprecationOf(db, m.id, m.manifest.plan.deprecationPeriod, now)), oldApiCalls };
}

/** What the archive move's deprecation gate reads: the manifest's period, cleanup's clock and the `--force` reason. */
const deprecationDetails = (m: Migration, now: Date, forced: string | null): DeprecationDetails => {
  const api = apiTrafficDetails(m);
  return { deprecationPeriod: m.manifest.plan.deprecationPeriod, now: now.toISOString(), forced, ...(api ? { api } : {}) };
};

/** Move `m`'s folder to `archive/YYYYMM/<id>` under the migrations folder; returns where it is. */
function archiveFolder(m: Migration, migrationsDir: string, now: Date): string {
  const month = now.toISOString().slice(0, 7).replace('-', '');
  const target = join(migrationsDir, ARCHIVE_DIR, month, m.id);
  if (m.dir === target || !existsSync(m.dir)) return existsSync(target) ? target : m.dir;
  if (existsSync(target)) throw new FerryError('E_GATE', `cannot archive ${m.id}: ${target} already exists`, 'move or remove it, then run cleanup again');
  mkdirSync(join(migrationsDir, ARCHIVE_DIR, month), { recursive: true });
  renameSync(m.dir, target);
  return target;
}

/**
 * Clean up a verified migration after its deprecation period: contract it (its
 * crossing gates, a backup of what it drops, its contract steps: the point of
 * no return, its flag graduated), leave the flag as a graduated tombstone,
 * archive its folder and move it contracted → archived. Each part is
 * resumable: run it again after a failure and it finishes the rest.
 */
export async function cleanup(db: Database, m: Migration, opts: CleanupOptions): Promise<CleanupReport> {
  const now = opts.now ?? new Date();
  const gates = await cleanupGates(db, m, { ...opts, now });
  const actor = opts.run.actor;
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    if (opts.force) {
      const early = gates.elapsedMs < gates.periodMs || gates.oldApiCalls.length === 0;
      const what = [
        early ? `before the deprecation period passed (${formatHold(gates.elapsedMs)} of ${m.manifest.plan.deprecationPeriod})` : '',
        gates.oldApiCalls.length
          ? `while the old API still had traffic: ${describeRecentCalls(
              gates.oldApiCalls.map((c) => ({ ...c, lastSeen: new Date(c.lastSeen) })),
              now,
            )}`
          : '',
      ].filter(Boolean);
      await appendEvent(db, {
        migrationId: m.id,
        actor,
        kind: 'cleanup-forced',
        reason: `cleanup ${what.join(', and ')}: ${opts.force.reason}`,
        details: { elapsedMs: gates.elapsedMs, periodMs: gates.periodMs, ...(gates.oldApiCalls.length ? { oldApiCalls: gates.oldApiCalls } : {}) },
      });
    }
  });
  const report: CleanupReport = {
    migrationId: m.id,
    forced: opts.force?.reason ?? null,
    deprecation: { since: gates.since?.toISOString() ?? null, periodMs: gates.periodMs, elapsedMs: gates.elapsedMs },
    oldApiCalls: gates.oldApiCalls,
    backup: null,
    contract: { dryRun: false, steps: [], transitions: [], backup: null, crossing: null, flagGraduated: null },
    flagTombstone: null,
    archivedTo: m.dir,
    transitions: [],
  };
  // Contract takes the backup (one per crossing): cleanup never takes a second.
  report.contract = await contract(db, m, {
    ...opts.run,
    lockWaitMs: opts.lockWaitMs,
    backup: { dir: opts.backupDir, ...(opts.access ? { access: opts.access } : {}) },
    now,
  });
  report.backup = report.contract.backup;
  if (!report.backup && gates.phase !== 'verified') {
    const last = (await listBackups(db, m.id)).at(-1);
    if (last) report.backup = { ...last, skipped: [], reused: true };
  }
  report.transitions.push(...report.contract.transitions);
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    const flag = m.manifest.flag;
    if (flag) {
      const change = await db.transaction((tx) =>
        graduateFlag(tx, flag, {
          migrationId: m.id,
          actor,
          tombstone: true,
          reason: `cleanup of ${m.id}: flag ${flag} stays as a graduated tombstone, so code still asking for it gets true (and a warning that the if can go)`,
        }),
      );
      if (change) report.flagTombstone = flag;
    }
    report.archivedTo = archiveFolder(m, opts.migrationsDir, now);
    await db.transaction(async (tx) => {
      const from = await currentPhase(tx, m.id);
      if (from !== 'contracted') return;
      await transition(tx, m.id, 'archived', {
        actor,
        reason: `cleaned up${report.backup ? ` after backup ${report.backup.id}` : ''}; folder archived to ${report.archivedTo}`,
        details: { backup: report.backup?.id ?? null, archivedTo: report.archivedTo, ...deprecationDetails(m, now, report.forced) },
      });
      report.transitions.push({ from, to: 'archived' });
    });
  });
  return report;
}
