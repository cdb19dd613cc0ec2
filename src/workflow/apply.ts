import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { lintRefusalIn } from '../lint/gate.js';
import type { Migration } from '../migration/loader.js';
import { kindOf } from '../migration/step-runners.js';
import { refuseMisfits } from '../operations/preflight.js';
import { appendEvent, ensureMigrationRecord, ensureState, ensureStateIn, type PhaseMove, type Progress, readState, recordProgress } from '../state/store.js';
import { refuseStaleApprovals } from './approvals.js';
import {
  applyStep,
  commitsInOneTransaction,
  inRolledBackTransaction,
  MIGRATION_LOCK_KEY,
  type RunOptions,
  rehearsalInOrder,
  type StepReport,
} from './execute.js';
import { checkMoves, currentPhase, type MoveAsked, type Phase, transition } from './lifecycle.js';
import { type Drift, type MigrationView, missingFolders, refuseDrift, viewOf } from './plan-state.js';
import { appliedRecordOf, recordStep } from './recorded.js';

/** Options of `up`. */
export interface UpOptions extends RunOptions {
  /** Whether a migration must be approved before it runs (per environment). */
  requireApproval: boolean;
  /** How long to wait for another runner's lock. */
  lockWaitMs: number;
  dryRun?: boolean;
  /** Stop after this step (e.g. `ferry backfill` stops after the backfill). */
  until?: string;
  /** Apply only this migration of those given; the others are still checked for missing folders. */
  only?: string;
}

/** What a run did: the steps, and the lifecycle transitions it made. */
export interface RunReport {
  dryRun: boolean;
  steps: StepReport[];
  transitions: { migrationId: string; from: Phase; to: Phase }[];
}

/**
 * The views of the migrations `up` works on (all of them, or `only` one) and
 * the drift of applied migrations whose folders are gone, which stops any run.
 */
async function views(
  db: Queryable,
  migrations: Migration[],
  only?: string,
  archived?: readonly string[],
): Promise<{ work: MigrationView[]; orphans: Drift[] }> {
  const state = await readState(db);
  const chosen = migrations.filter((m) => only === undefined || m.id === only);
  if (only !== undefined && chosen.length === 0)
    throw new FerryError('E_NOT_FOUND', `no migration with id "${only}"`, `known migrations: ${migrations.map((m) => m.id).join(', ') || '(none)'}`);
  const work = chosen.map((m) => viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []));
  return { work, orphans: missingFolders(state, migrations, archived) };
}

/** A lifecycle move a run made. */
type Moved = RunReport['transitions'][number];

/** Move to `to` inside `tx` (from `known`, when the caller holds the row locked in `tx`); the move made, or none when already there. */
async function moveIn(tx: Queryable, m: Migration, to: Phase, actor: string, reason: string, details?: unknown, known?: Phase): Promise<Moved[]> {
  const from = await transition(tx, m.id, to, { actor, reason, ...(details === undefined ? {} : { details }), ...(known ? { from: known } : {}) });
  return from === to ? [] : [{ migrationId: m.id, from, to }];
}

/** Move to `to` inside `tx` and note it in the report; no-op when already there. */
async function move(tx: Queryable, report: RunReport, m: Migration, to: Phase, actor: string, reason: string, details?: unknown): Promise<void> {
  report.transitions.push(...(await moveIn(tx, m, to, actor, reason, details)));
}

/** Before a backfill step: the expand steps before it are in, so the migration is expanded, then backfilling. */
async function enterBackfill(db: Database, report: RunReport, m: Migration, stepId: string, actor: string): Promise<void> {
  await db.transaction(async (tx) => {
    const phase = await currentPhase(tx, m.id);
    if (phase === 'approved' || phase === 'rolled-back') await move(tx, report, m, 'expanded', actor, `the steps before backfill ${stepId} are applied`);
    if ((await currentPhase(tx, m.id)) === 'expanded') await move(tx, report, m, 'backfilling', actor, `backfill ${stepId} started`);
  });
}

/** Refuse, before anything is written, a planned migration in an environment that requires approval. */
function refuseUnapproved(v: MigrationView, opts: UpOptions): void {
  const phase = v.record?.phase ?? 'planned';
  if (opts.requireApproval && phase === 'planned' && v.pending.length > 0) {
    throw new FerryError(
      'E_GATE',
      `migration ${v.migration.id} is planned but not approved, and this environment requires approval`,
      `each role of its plan approves first: ${v.migration.manifest.plan.approvals.map((r) => `\`ferry approve ${v.migration.id} --as ${JSON.stringify(r)}\``).join(', ')}`,
    );
  }
}

/** Refuse, before anything is written, pending steps with error-level lint findings the manifest does not acknowledge, judged against the target's catalog. */
async function refuseLint(db: Queryable, views: MigrationView[]): Promise<void> {
  const refusal = await lintRefusalIn(
    db,
    views.map((v) => ({ migration: v.migration, pending: v.pending })),
  );
  if (refusal) throw refusal;
}

/**
 * Apply the pending steps of one migration (up to `opts.until`) with its
 * lifecycle moves: approved as its first step starts, expanded (and
 * backfilled) as its last one ends. A move commits in the transaction of the
 * step it goes with, written with the step's record in one statement, so a
 * one-statement step costs three round trips (BEGIN, lock_timeout and its SQL;
 * the record; COMMIT). Steps that run outside one transaction (backfills,
 * CONCURRENTLY) get the moves in transactions of their own, as does a run with
 * no step to apply.
 */
async function applyMigration(db: Database, report: RunReport, v: MigrationView, opts: UpOptions, envNote: string): Promise<void> {
  const m = v.migration;
  const untilIndex = opts.until === undefined ? Number.POSITIVE_INFINITY : (m.steps.find((x) => x.id === opts.until)?.index ?? Number.POSITIVE_INFINITY);
  const steps = v.pending.filter((x) => x.index <= untilIndex);
  const stillPending = new Set(v.pending.filter((x) => x.index > untilIndex).map((x) => x.id));
  const backfills = m.steps.filter((x) => x.kind === 'backfill');
  // The phase as this run knows it: read under the migration lock as the run began, then as its own commits left it.
  // null: no record yet; undefined: read it again (a backfill or a step outside one transaction moved it by itself).
  let known: Phase | null | undefined = (v.record?.phase as Phase | undefined) ?? null;
  const startMoves = (from: Phase | null): MoveAsked[] =>
    from === null || from === 'planned' ? [{ to: 'approved', reason: `approval not required ${envNote}`, details: { approvalRequired: false } }] : [];
  const finishMoves = (from: Phase): MoveAsked[] => {
    const asked: MoveAsked[] = [];
    let phase = from;
    const to = (next: Phase, reason: string) => {
      asked.push({ to: next, reason });
      phase = next;
    };
    if (stillPending.size === 0 && (phase === 'approved' || phase === 'rolled-back')) to('expanded', `all ${m.steps.length} steps applied`);
    if (backfills.length > 0 && backfills.every((x) => !stillPending.has(x.id))) {
      if (phase === 'expanded') to('backfilling', 'backfill steps were applied before');
      if (phase === 'backfilling') to('backfilled', `all ${backfills.length} backfill step(s) done`);
    }
    return asked;
  };
  /** The bookkeeping of one transaction: `judge` checks its moves (the start's, the finish's) before anything runs; `write` records them. */
  const bookkeeping = (first: boolean, last: boolean) => {
    let judged: { expected: Phase | null; moves: PhaseMove[] } | undefined;
    return {
      async judge(tx: Queryable): Promise<void> {
        const expected = known === undefined ? await currentPhase(tx, m.id) : known;
        const asked = first ? startMoves(expected) : [];
        if (last) asked.push(...finishMoves(asked.at(-1)?.to ?? expected ?? 'planned'));
        judged = { expected, moves: await checkMoves(tx, m.id, expected ?? 'planned', asked, opts.actor) };
      },
      async write(tx: Queryable, applied?: Pick<Progress, 'applied' | 'manifest'>): Promise<Moved[]> {
        const { expected, moves } = judged as NonNullable<typeof judged>;
        await recordProgress(tx, { migrationId: m.id, title: m.manifest.title, checksum: m.checksum, expected, actor: opts.actor, moves, ...applied });
        return moves.map((x) => ({ migrationId: m.id, from: x.from as Phase, to: x.to as Phase }));
      },
      /** After the commit: the moves go in the report, and the phase they left is what the run knows. */
      committed(moved: Moved[]): void {
        report.transitions.push(...moved);
        known = moved.at(-1)?.to ?? judged?.expected;
      },
    };
  };
  const alone = async (first: boolean, last: boolean) => {
    const b = bookkeeping(first, last);
    b.committed(
      await db.transaction(async (tx) => {
        await b.judge(tx);
        return b.write(tx);
      }),
    );
  };
  if (v.pending.length > 0 && !(steps[0] && commitsInOneTransaction(steps[0]))) await alone(true, false);
  for (const [i, step] of steps.entries()) {
    const last = i === steps.length - 1;
    if (!commitsInOneTransaction(step)) {
      if (step.kind === 'backfill') await enterBackfill(db, report, m, step.id, opts.actor);
      report.steps.push(await applyStep(db, m, step, opts));
      known = undefined;
      if (last) await alone(false, true);
      continue;
    }
    const b = bookkeeping(i === 0, last);
    report.steps.push(
      await applyStep(db, m, step, opts, {
        before: (tx) => b.judge(tx),
        record: (tx, durationMs) => b.write(tx, appliedRecordOf(m, step, opts.actor, { durationMs })),
        committed: (moved) => b.committed(moved),
      }),
    );
  }
  if (steps.length === 0) await alone(false, true);
}

/**
 * Apply the pending steps of `migrations` in order, under the migration lock.
 * Running it again applies nothing. With `dryRun`, everything runs in one
 * transaction that is rolled back, and the report lists SQL, changes and locks.
 */
export async function up(db: Database, migrations: Migration[], opts: UpOptions & { envNote?: string }): Promise<RunReport> {
  const report: RunReport = { dryRun: Boolean(opts.dryRun), steps: [], transitions: [] };
  const envNote = opts.envNote ?? 'in this environment';
  if (opts.dryRun) {
    await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, () =>
      inRolledBackTransaction(db, async (tx) => {
        await ensureStateIn(tx);
        const { work: all, orphans } = await views(tx, migrations, opts.only, opts.archived);
        refuseDrift(all, orphans);
        await refuseLint(tx, all);
        await refuseMisfits(tx, all);
        const rehearse = rehearsalInOrder(tx, 'forward', opts);
        for (const v of all) {
          await ensureMigrationRecord(tx, v.migration.id, v.migration.manifest.title, v.migration.checksum);
          for (const step of v.pending) report.steps.push(await rehearse(v.migration, step));
        }
      }),
    );
    return report;
  }
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    const { work: all, orphans } = await views(db, migrations, opts.only, opts.archived);
    refuseDrift(all, orphans);
    for (const v of all) refuseUnapproved(v, opts);
    if (opts.requireApproval) await refuseStaleApprovals(db, all);
    await refuseLint(db, all);
    await refuseMisfits(db, all);
    const work = all.filter((v) => v.pending.length > 0 || v.record?.phase === 'approved' || v.record?.phase === 'rolled-back');
    if (work.length > 0) await ensureState(db);
    for (const v of work) await applyMigration(db, report, v, opts, envNote);
  });
  return report;
}

/**
 * Record that the database already has `migration`'s changes (adopting a live
 * system), without running them. Each step's verify must pass unless `skipVerify`.
 */
export async function baseline(db: Database, m: Migration, opts: UpOptions & { skipVerify?: boolean }): Promise<RunReport> {
  const report: RunReport = { dryRun: false, steps: [], transitions: [] };
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    const { work } = await views(db, [m]);
    const v = work[0] as MigrationView;
    refuseDrift([v]);
    const pending = v.pending;
    if (!opts.skipVerify) {
      const failures: string[] = [];
      for (const step of pending) {
        const outcome = await db.transaction(async (tx) => {
          await tx.query('SET TRANSACTION READ ONLY');
          return kindOf(step).verify(step, tx, () => {});
        });
        if (outcome && !outcome.ok) failures.push(...outcome.failures.map((f) => `${step.id}: ${f}`));
      }
      if (failures.length) {
        throw new FerryError(
          'E_VERIFY',
          `the database does not have the changes of ${m.id}, so it cannot be baselined:\n  ${failures.join('\n  ')}`,
          'apply it with `ferry up` instead, or pass --skip-verify if the verify SQL is what is wrong',
        );
      }
    }
    await ensureMigrationRecord(db, m.id, m.manifest.title, m.checksum);
    await db.transaction(async (tx) => {
      for (const step of pending) {
        await recordStep(tx, m, step, opts.actor, { baseline: true });
        await appendEvent(tx, { migrationId: m.id, actor: opts.actor, kind: 'baseline', stepId: step.id, reason: 'recorded as applied without running it' });
        report.steps.push({ migrationId: m.id, stepId: step.id, direction: 'forward', status: 'baseline', durationMs: 0, retries: 0, statements: [] });
      }
      const from = await currentPhase(tx, m.id);
      if (from === 'planned' || from === 'approved' || from === 'rolled-back') {
        await transition(tx, m.id, 'expanded', { actor: opts.actor, reason: 'baseline: the database already had these changes' });
        report.transitions.push({ migrationId: m.id, from, to: 'expanded' });
      }
    });
  });
  return report;
}
