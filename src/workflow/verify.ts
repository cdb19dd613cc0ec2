import type { Database } from '../db/database.js';
import { FerryError, isFerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { kindOf } from '../migration/step-runners.js';
import type { Connection, Project } from '../project/config.js';
import { appendEvent, readState, stateExists, stateTableExists } from '../state/store.js';
import { countDataErrors, type DataErrorCount } from '../verify/data-errors.js';
import { type CheckMode, type CheckResult, ensureCheckState, latestResults, resultsFor, syncDeclaredChecks } from './check-store.js';
import { contractStarted } from './crossing.js';
import { projectDatabases } from './environments.js';
import { currentPhase, transition } from './lifecycle.js';
import { viewOf } from './plan-state.js';
import { type CheckProgress, type ChecksRun, type RunChecksOptions, runChecks } from './run-checks.js';

/** The verify result of one step. */
export interface StepVerification {
  stepId: string;
  applied: boolean;
  /** 'pass' | 'fail' | 'no-check' (the step has no verify) | 'not-applied'. */
  result: 'pass' | 'fail' | 'no-check' | 'not-applied';
  failures: string[];
  /** A contract step: not applied until `ferry contract`, after verification. */
  contract?: boolean;
}

/** The verify result of one migration. */
export interface MigrationVerification {
  migrationId: string;
  phase: string | null;
  steps: StepVerification[];
  /** Every applied step's verify passed. */
  ok: boolean;
  /** Every step `up` runs is applied and passes: the migration is complete (contract steps wait for `ferry contract`). */
  complete: boolean;
  /** Set when this verification moved the migration rolled-out → verified. */
  verified?: boolean;
  /** The latest result of each check the manifest declares (run now with `checks`, or stored by an earlier run). */
  checks: CheckResult[];
  /** Declared checks with no result for their current declaration yet. */
  checksPending: string[];
  /** The checks' data errors, each differing row of a table once (`total`), with the per-check sum and the figures per table. */
  dataErrors: DataErrorCount;
  /** When the migration is rolled out but stays so: why the verify gate refused. */
  notVerified?: string;
  /** Set when this failing run moved a verified migration back to rolled-out (verify-failed): why. */
  unverified?: string;
}

/** Options of {@link verifyMigrations}. */
export interface VerifyOptions {
  actor: string;
  /** Log the verification and move rolled-out migrations whose gates hold to verified. */
  record?: boolean;
  /** Also run the migrations' declared checks (`ferry verify --full` / `--sample N`) before the gate is asked. */
  checks?: Omit<RunChecksOptions, 'actor'>;
  /** How long to wait for the migration lock when ferry's state needs an upgrade. Default 30 s. */
  lockWaitMs?: number;
}

/** Run the checks of `m` that `opts` selects; undefined when it declares none of them. */
async function runDeclaredChecks(m: Migration, opts: VerifyOptions): Promise<ChecksRun | undefined> {
  if (!opts.checks) return undefined;
  const only = opts.checks.only;
  if (m.manifest.checks.length === 0 || (only?.length && !m.manifest.checks.some((c) => only.includes(c.name)))) return undefined;
  const names = only?.length ? m.manifest.checks.map((c) => c.name).filter((n) => only.includes(n)) : undefined;
  return runChecks(m, { ...opts.checks, actor: opts.actor, ...(names ? { only: names } : {}) });
}

/** The latest stored result of each declared check of `m` (for its current declaration), and the checks without one. */
async function currentChecks(db: Database, m: Migration): Promise<{ checks: CheckResult[]; pending: string[] }> {
  if (m.manifest.checks.length === 0) return { checks: [], pending: [] };
  return resultsFor(m, (await latestResults(db, { migrationId: m.id })).get(m.id) ?? []);
}

/** Move a rolled-out migration to verified, its declared checks recorded for the gate; returns the gate's refusal, if any. */
async function moveToVerified(db: Database, m: Migration, opts: VerifyOptions): Promise<string | undefined> {
  if (m.manifest.checks.length) await ensureCheckState(db, opts.lockWaitMs ?? 30_000);
  try {
    await db.transaction(async (tx) => {
      if (m.manifest.checks.length || (await stateTableExists(tx, 'verify_checks'))) {
        await syncDeclaredChecks(tx, m);
      }
      await transition(tx, m.id, 'verified', { actor: opts.actor, reason: 'rolled out to 100 % and every check passes' });
    });
    return undefined;
  } catch (err) {
    if (isFerryError(err, 'E_GATE')) return err.message;
    throw err;
  }
}

/**
 * A failing run after verified: move the migration back to rolled-out
 * (verify-failed), so contract and cleanup wait until a passing `verify --full`
 * moves it to verified again. Not once a contract step is applied (the point of
 * no return is crossed; the checks may compare what is gone). Returns the reason, or undefined.
 */
async function moveBackToRolledOut(db: Database, m: Migration, actor: string, failed: string[]): Promise<string | undefined> {
  if (await contractStarted(db, m.id)) return undefined;
  const reason = `verify failed after verified (${failed.join(', ')}): back to rolled-out until \`ferry verify ${m.id} --full\` passes`;
  return db.transaction(async (tx) => {
    if ((await currentPhase(tx, m.id)) !== 'verified') return undefined;
    await transition(tx, m.id, 'rolled-out', { actor, reason, details: { action: 'verify-failed', failed } });
    return reason;
  });
}

/**
 * Run the verify checks of every applied step of `migrations`, each in a
 * read-only transaction that is rolled back, so verification changes nothing;
 * with `checks`, also run their declared data checks (results stored). With
 * `record`, a rolled-out migration moves to verified when its gates hold
 * (every declared check's latest `--full` result passes), and a verified one
 * whose run fails moves back to rolled-out.
 */
export async function verifyMigrations(db: Database, migrations: Migration[], opts: VerifyOptions): Promise<MigrationVerification[]> {
  const ran = new Map<string, ChecksRun>();
  for (const m of migrations) {
    const r = await runDeclaredChecks(m, opts);
    if (r) ran.set(m.id, r);
  }
  const state = await readState(db);
  const out: MigrationVerification[] = [];
  for (const m of migrations) {
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    const appliedIds = new Set(v.applied.map((a) => a.stepId));
    const steps: StepVerification[] = [];
    for (const step of m.steps) {
      if (!appliedIds.has(step.id)) {
        steps.push({ stepId: step.id, applied: false, result: 'not-applied', failures: [], ...(step.phase === 'contract' ? { contract: true } : {}) });
        continue;
      }
      const outcome = await db
        .transaction(async (tx) => {
          await tx.query('SET TRANSACTION READ ONLY');
          const r = await kindOf(step).verify(step, tx, () => {});
          throw new VerifyDone(r);
        })
        .catch((err) => {
          if (err instanceof VerifyDone) return err.outcome;
          return { ok: false, failures: [`${step.id}: verify raised ${(err as Error).message}`] };
        });
      steps.push({
        stepId: step.id,
        applied: true,
        result: outcome === undefined ? 'no-check' : outcome.ok ? 'pass' : 'fail',
        failures: outcome?.failures ?? [],
      });
    }
    const stepsOk = steps.every((s) => s.result !== 'fail');
    const contractIds = new Set(v.contractPending.map((s) => s.id));
    const complete = stepsOk && steps.every((s) => s.applied || contractIds.has(s.stepId)) && v.drift.length === 0;
    const checks = await currentChecks(db, m);
    const ok = stepsOk && checks.checks.every((c) => c.ok);
    const result: MigrationVerification = {
      migrationId: m.id,
      phase: v.record?.phase ?? null,
      steps,
      ok,
      complete,
      checks: checks.checks,
      checksPending: checks.pending,
      dataErrors: countDataErrors(checks.checks),
    };
    out.push(result);
    if (opts.record && v.record && (await stateExists(db))) {
      const failed = [...steps.filter((s) => s.result === 'fail').map((s) => s.stepId), ...checks.checks.filter((c) => !c.ok).map((c) => `check ${c.check}`)];
      await appendEvent(db, {
        migrationId: m.id,
        actor: opts.actor,
        kind: 'verify',
        reason: ok ? `verify passed (${steps.filter((s) => s.result === 'pass').length} checks)` : `verify failed: ${failed.join(', ')}`,
        details: { steps, checks: checks.checks.map((c) => ({ name: c.check, ok: c.ok, dataErrors: c.dataErrors })), checksPending: checks.pending },
      });
      if (!ok && v.record.phase === 'verified') {
        const back = await moveBackToRolledOut(db, m, opts.actor, failed);
        if (back) {
          result.phase = 'rolled-out';
          result.unverified = back;
        }
      } else if (complete && v.record.phase === 'rolled-out') {
        const refused = await moveToVerified(db, m, opts);
        if (refused) result.notVerified = refused;
        else {
          result.phase = 'verified';
          result.verified = true;
        }
      }
    }
  }
  return out;
}

/** Carries a verify outcome out of a transaction that must be rolled back. */
class VerifyDone extends Error {
  constructor(readonly outcome: Awaited<ReturnType<ReturnType<typeof kindOf>['verify']>>) {
    super('verify done');
  }
}

/** How `ferry verify` runs: who, the project (checks may name other environments), and the data checks to run. */
export interface VerifyActionOptions {
  actor: string;
  lockWaitMs: number;
  /** The project and the connection of `db`: a check naming another environment opens it from the project's config. */
  project: Project;
  conn: Connection;
  /** Run the declared data checks too: every key (`full`) or `sampleSize` random keys (`sample`); `only` these names. */
  checks?: { mode: CheckMode; sampleSize?: number; only?: readonly string[]; onProgress?: (p: CheckProgress) => void };
}

/**
 * `ferry verify`: verify `migrations` (steps, and the declared checks when `checks` is given), record the
 * results and move phases as {@link verifyMigrations} does. Opens the other environments the checks name,
 * and closes them. E_USAGE when `checks.only` names a check no migration declares.
 */
export async function verify(db: Database, migrations: Migration[], opts: VerifyActionOptions): Promise<MigrationVerification[]> {
  const only = opts.checks?.only;
  if (only?.length) {
    const known = new Set(migrations.flatMap((m) => m.manifest.checks.map((c) => c.name)));
    const unknown = only.filter((c) => !known.has(c));
    if (unknown.length) {
      throw new FerryError(
        'E_USAGE',
        `no selected migration declares check ${unknown.map((c) => `"${c}"`).join(', ')}`,
        `declared: ${[...known].join(', ') || 'none'}`,
      );
    }
  }
  const databases = projectDatabases(opts.project, { conn: opts.conn, db }, { lockWaitMs: opts.lockWaitMs });
  try {
    const c = opts.checks;
    const checks = c && {
      mode: c.mode,
      databases,
      lockWaitMs: opts.lockWaitMs,
      ...(c.sampleSize === undefined ? {} : { sampleSize: c.sampleSize }),
      ...(only?.length ? { only } : {}),
      ...(c.onProgress ? { onProgress: c.onProgress } : {}),
    };
    return await verifyMigrations(db, migrations, { actor: opts.actor, record: true, lockWaitMs: opts.lockWaitMs, ...(checks ? { checks } : {}) });
  } finally {
    await databases.close();
  }
}
