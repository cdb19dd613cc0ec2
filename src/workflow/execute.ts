import { describeChange, describeLockMode, diffSchemas, locksHeld, relationNames, snapshotSchema } from '../db/catalog.js';
import type { Database, Queryable } from '../db/database.js';
import { quoteLiteral, quoteQualified } from '../db/quote.js';
import { FerryError, isFerryError, RETRYABLE_SQLSTATES, sqlState } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { kindOf, StatementError, type StatementRun } from '../migration/step-runners.js';
import { sleep } from '../sleep.js';
import { appendEvent, removeApplied } from '../state/store.js';
import { applyBackfillStep, describeBackfillInTransaction, revertBackfillStep } from './backfill-step.js';
import { recordStep } from './recorded.js';
import { announceStep, type RunOptions, type StepReport } from './step-report.js';

/** The advisory lock every ferry runner takes on the target database ("ferry" in ASCII). */
export const MIGRATION_LOCK_KEY = 0x6665727279n;

export { announceStep, type ProgressEvent, type RunOptions, type StepReport } from './step-report.js';

const LOCK_WORDS: Record<string, string> = { '55P03': 'lock timeout', '40P01': 'deadlock', '40001': 'serialization failure' };

/** Why a step failed, and the fix: a lock conflict that outlasted the retries is waited out, not fixed in the SQL. */
function stepFailure(m: Migration, step: Step, direction: 'forward' | 'rollback', err: unknown, lockTimeoutMs: number, retried: number): FerryError {
  if (isFerryError(err)) return err;
  const state = sqlState(err instanceof StatementError ? err.cause : err);
  const cause = err instanceof Error ? err.message : String(err);
  const undone = step.transaction ? 'its transaction was rolled back; nothing of this step was applied' : 'it ran outside a transaction';
  const lock = state ? LOCK_WORDS[state] : undefined;
  const at = [
    err instanceof StatementError && err.statement.file ? `${err.statement.file}:${err.statement.line}` : '',
    lock ? `lock_timeout ${lockTimeoutMs}ms${retried ? `, retried ${retried} ${retried === 1 ? 'time' : 'times'}` : ''}` : '',
  ].filter(Boolean);
  const where = at.length ? ` (${at.join('; ')})` : '';
  const hint = lock
    ? `another session holds a lock this step needs: find it with \`SELECT a.pid, a.state, a.query_start, left(a.query, 60) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.granted AND a.pid <> pg_backend_pid()\`, let it finish (or end it), then run the command again; or give the step more time with lockTimeout and lockRetries in ferry.config.json`
    : `fix the SQL or the data, then run the command again; ${direction === 'forward' ? 'steps before this one stay applied' : 'steps rolled back before this one stay rolled back'}`;
  return new FerryError(
    'E_STEP',
    `${direction} of step ${m.id}/${step.id} failed${where}: ${cause}${state ? ` [SQLSTATE ${state}${lock ? `, ${lock}` : ''}]` : ''}; ${undone}`,
    hint,
    { migrationId: m.id, stepId: step.id, sqlState: state },
    { cause: err },
  );
}

/** Run `fn` again after lock timeouts, deadlocks and serialisation failures, with doubling backoff. */
async function retrying<T>(
  m: Migration,
  step: Step,
  direction: 'forward' | 'rollback',
  opts: RunOptions,
  db: Queryable,
  fn: () => Promise<T>,
): Promise<{ value: T; retries: number }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { value: await fn(), retries: attempt };
    } catch (err) {
      const state = sqlState(err instanceof StatementError ? err.cause : err);
      if (!state || !RETRYABLE_SQLSTATES.has(state) || attempt >= opts.lockRetries) throw stepFailure(m, step, direction, err, opts.lockTimeoutMs, attempt);
      const waitMs = Math.round((opts.retryBaseMs ?? 250) * 2 ** attempt * (0.75 + Math.random() * 0.5));
      const reason = `${(err as Error).message} [SQLSTATE ${state}]`;
      opts.onProgress?.({ type: 'retry', migrationId: m.id, stepId: step.id, attempt: attempt + 1, waitMs, reason });
      await appendEvent(db, { migrationId: m.id, actor: opts.actor, kind: 'retry', stepId: step.id, reason, details: { attempt: attempt + 1, waitMs } });
      await sleep(waitMs);
    }
  }
}

/** The statement that sets lock_timeout for the transaction (`local`) or the session. */
const lockTimeoutSql = (ms: number, local: boolean) => `SET ${local ? 'LOCAL ' : ''}lock_timeout = ${quoteLiteral(`${Math.round(ms)}ms`)}`;

/** Set lock_timeout for the transaction (`local`) or the session; a script, not a parameterised query, so a transaction's BEGIN can go with it. */
async function setLockTimeout(q: Queryable, ms: number, local: boolean): Promise<void> {
  await q.exec(lockTimeoutSql(ms, local));
}

/**
 * `tx` with one statement (`prelude`) that rides with its first script, as the
 * transaction's BEGIN does: a step's `SET LOCAL lock_timeout`, its BEGIN and its
 * first statement cost one round trip. Sent alone before a first parameterised query.
 */
function withPrelude(tx: Queryable, prelude: string): Queryable {
  let sent = false;
  return {
    async query(sql, params, opts) {
      if (!sent) await tx.exec(prelude);
      sent = true;
      return tx.query(sql, params, opts);
    },
    async exec(sql) {
      if (sent) return tx.exec(sql);
      sent = true;
      return (await tx.exec(`${prelude};\n${sql}`)).slice(1);
    },
  };
}

/** Indexes named by the step's CREATE INDEX statements that exist but are INVALID (a failed concurrent build). */
async function invalidIndexes(db: Queryable, step: Step): Promise<string[]> {
  const out: string[] = [];
  for (const s of step.forward?.statements ?? []) {
    const idx = s.tree.IndexStmt as { idxname?: string; relation?: { schemaname?: string } } | undefined;
    if (!idx?.idxname) continue;
    const { rows } = await db.query<{ name: string }>(
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT i.indisvalid AND c.relname = $1 AND n.nspname = coalesce($2, current_schema())`,
      [idx.idxname, idx.relation?.schemaname ?? null],
    );
    for (const r of rows) out.push(r.name);
  }
  return out;
}

/** Drop what an interrupted or failed non-transactional step left behind, before it runs again. */
async function cleanupNonTransactional(db: Database, m: Migration, step: Step, opts: RunOptions): Promise<string[]> {
  const done: string[] = [];
  if (step.cleanup) {
    for (const s of step.cleanup.statements) await db.exec(s.text);
    done.push(`ran ${step.cleanup.file}`);
  }
  for (const name of await invalidIndexes(db, step)) {
    const [schema, index] = name.split('.') as [string, string];
    await db.exec(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(schema, index)}`);
    done.push(`dropped INVALID index ${name}`);
  }
  if (done.length) {
    await appendEvent(db, { migrationId: m.id, actor: opts.actor, kind: 'cleanup', stepId: step.id, reason: done.join('; ') });
  }
  return done;
}

async function wasInterrupted(db: Queryable, m: Migration, step: Step, direction: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM ferry.step_runs WHERE migration_id = $1 AND step_id = $2 AND direction = $3', [m.id, step.id, direction]);
  return rows.length > 0;
}

/** Whether a non-transactional forward step's effect is fully there (its verify, or a valid index). */
async function alreadyDone(db: Database, step: Step): Promise<boolean> {
  const v = await kindOf(step).verify(step, db, () => {});
  if (v) return v.ok;
  const idx = step.forward?.statements[0]?.tree.IndexStmt as { idxname?: string } | undefined;
  if (!idx?.idxname) return false;
  const { rows } = await db.query(
    `SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1 AND i.indisvalid AND c.relnamespace = ANY (current_schemas(false)::regnamespace[])`,
    [idx.idxname],
  );
  return rows.length > 0;
}

/**
 * Bookkeeping that commits in a step's own transaction with its SQL (the
 * lifecycle moves of the migration's first and last step): one commit per step
 * instead of three. `before` judges, before the step's SQL runs, what `record`
 * writes after it, in place of the plain record of the step. What `record`
 * returns in the attempt that committed goes to `committed` (a retried
 * attempt's is dropped).
 */
export interface AlongWithStep<T> {
  before?(tx: Queryable): Promise<void>;
  record(tx: Queryable, durationMs: number): Promise<T[]>;
  committed(items: T[]): void;
}

/** Whether `applyStep` runs the step in one transaction, so bookkeeping can commit with it (else it needs transactions of its own). */
export const commitsInOneTransaction = (step: Step): boolean => step.transaction && step.kind !== 'backfill';

/**
 * Apply one step: its SQL and the record that it is applied commit together,
 * under lock_timeout, retried with backoff. Non-transactional steps leave a
 * marker first, so a crash is noticed and cleaned up on the next run.
 * `along` joins the step's transaction; only for {@link commitsInOneTransaction} steps.
 */
export async function applyStep<T>(db: Database, m: Migration, step: Step, opts: RunOptions, along?: AlongWithStep<T>): Promise<StepReport> {
  if (step.kind === 'backfill') return applyBackfillStep(db, m, step, opts);
  const started = performance.now();
  const log = (message: string) => opts.onProgress?.({ type: 'log', migrationId: m.id, stepId: step.id, message });
  const record = (q: Queryable, durationMs: number) => recordStep(q, m, step, opts.actor, { durationMs });
  const report = (status: StepReport['status'], statements: StatementRun[], retries: number, note?: string): StepReport => {
    const r: StepReport = { migrationId: m.id, stepId: step.id, direction: 'forward', status, durationMs: performance.now() - started, retries, statements };
    if (note) r.note = note;
    opts.onProgress?.({ type: 'step', report: r });
    return r;
  };

  if (along && !commitsInOneTransaction(step)) throw new Error(`step ${step.id} does not run in one transaction; its bookkeeping cannot join it`);
  if (step.transaction) {
    const { value, retries } = await retrying(m, step, 'forward', opts, db, () =>
      db.transaction(async (begun) => {
        const tx = withPrelude(begun, lockTimeoutSql(opts.lockTimeoutMs, true));
        await along?.before?.(tx);
        const statements = await kindOf(step).forward(step, tx, log);
        if (along) return { statements, items: await along.record(tx, performance.now() - started) };
        await record(tx, performance.now() - started);
        return { statements, items: [] };
      }),
    );
    along?.committed(value.items);
    return report('applied', value.statements, retries);
  }

  let note: string | undefined;
  if (await wasInterrupted(db, m, step, 'forward')) {
    if (await alreadyDone(db, step)) {
      await db.transaction((tx) => record(tx, performance.now() - started));
      return report('recovered', [], 0, 'an earlier run was interrupted after the statement finished; recorded it as applied');
    }
    note = `an earlier run was interrupted: ${(await cleanupNonTransactional(db, m, step, opts)).join('; ') || 'nothing to clean up'}`;
  }
  await db.query(
    `INSERT INTO ferry.step_runs (migration_id, step_id, direction, started_by) VALUES ($1, $2, 'forward', $3)
     ON CONFLICT (migration_id, step_id, direction) DO UPDATE SET started_at = now(), started_by = EXCLUDED.started_by`,
    [m.id, step.id, opts.actor],
  );
  const { value, retries } = await retrying(m, step, 'forward', opts, db, async () => {
    try {
      await setLockTimeout(db, opts.lockTimeoutMs, false);
      return await kindOf(step).forward(step, db, log);
    } catch (err) {
      await cleanupNonTransactional(db, m, step, opts).catch(() => {});
      throw err;
    } finally {
      await db.query('RESET lock_timeout').catch(() => {});
    }
  });
  await db.transaction((tx) => record(tx, performance.now() - started));
  return report('applied', value, retries, note);
}

/** Roll back one step: its rollback SQL and forgetting it commit together. */
export async function revertStep(db: Database, m: Migration, step: Step, opts: RunOptions): Promise<StepReport> {
  if (step.kind === 'backfill') return revertBackfillStep(db, m, step, opts);
  const started = performance.now();
  const log = (message: string) => opts.onProgress?.({ type: 'log', migrationId: m.id, stepId: step.id, message });
  let statements: StatementRun[];
  let retries: number;
  if (step.transaction) {
    ({ value: statements, retries } = await retrying(m, step, 'rollback', opts, db, () =>
      db.transaction(async (tx) => {
        await setLockTimeout(tx, opts.lockTimeoutMs, true);
        const s = await kindOf(step).rollback(step, tx, log);
        await removeApplied(tx, m.id, step.id);
        return s;
      }),
    ));
  } else {
    ({ value: statements, retries } = await retrying(m, step, 'rollback', opts, db, async () => {
      try {
        await setLockTimeout(db, opts.lockTimeoutMs, false);
        return await kindOf(step).rollback(step, db, log);
      } catch (err) {
        // A rollback interrupted after its statement finished finds the object already gone.
        if (sqlState(err instanceof StatementError ? err.cause : err) === '42704') return [];
        throw err;
      } finally {
        await db.query('RESET lock_timeout').catch(() => {});
      }
    }));
    await db.transaction((tx) => removeApplied(tx, m.id, step.id));
  }
  return announceStep(opts, m, step, started, { direction: 'rollback', status: 'rolled-back', retries, statements });
}

/** Inside a dry-run's transaction, record the step as the real run would, so later steps see the same state. */
function recordDryRunStep(tx: Queryable, m: Migration, step: Step, direction: 'forward' | 'rollback', actor: string): Promise<void> {
  return direction === 'forward' ? recordStep(tx, m, step, actor) : removeApplied(tx, m.id, step.id);
}

/**
 * Dry-run one step inside the caller's transaction (which the caller rolls
 * back): runs it, and reports the schema changes and the locks it took.
 */
export async function rehearseStepInTransaction(
  tx: Queryable,
  m: Migration,
  step: Step,
  direction: 'forward' | 'rollback',
  opts: RunOptions,
): Promise<StepReport> {
  const started = performance.now();
  const base = { migrationId: m.id, stepId: step.id, direction, retries: 0 } as const;
  const script = direction === 'forward' ? step.forward : step.rollback;
  if (step.kind === 'backfill') {
    const r: StepReport = { ...base, ...(await describeBackfillInTransaction(tx, step, direction)), durationMs: performance.now() - started };
    opts.onProgress?.({ type: 'step', report: r });
    await recordDryRunStep(tx, m, step, direction, opts.actor);
    return r;
  }
  if (!step.transaction) {
    const r: StepReport = {
      ...base,
      status: 'skipped-in-dry-run',
      durationMs: 0,
      statements: (script?.statements ?? []).map((s) => ({ sql: s.text, file: script?.file as string, line: s.line })),
      note: 'not executed: this step runs outside a transaction, so a dry-run cannot undo it',
    };
    opts.onProgress?.({ type: 'step', report: r });
    return r;
  }
  const log = (message: string) => opts.onProgress?.({ type: 'log', migrationId: m.id, stepId: step.id, message });
  const before = await snapshotSchema(tx);
  const locksBefore = new Set((await locksHeld(tx)).map((l) => `${l.oid}\0${l.mode}`));
  // Names by oid before the step runs: a relation it drops has no name in the catalog afterwards.
  const named = await relationNames(tx);
  await tx.query('SAVEPOINT ferry_step');
  let statements: StatementRun[];
  try {
    await setLockTimeout(tx, opts.lockTimeoutMs, true);
    statements = direction === 'forward' ? await kindOf(step).forward(step, tx, log) : await kindOf(step).rollback(step, tx, log);
  } catch (err) {
    await tx.query('ROLLBACK TO SAVEPOINT ferry_step');
    throw stepFailure(m, step, direction, err, opts.lockTimeoutMs, 0);
  }
  await recordDryRunStep(tx, m, step, direction, opts.actor);
  const locks = (await locksHeld(tx, named)).filter((l) => !locksBefore.has(`${l.oid}\0${l.mode}`)).map((l) => ({ ...l, blocks: describeLockMode(l.mode) }));
  const changes = diffSchemas(before, await snapshotSchema(tx)).map(describeChange);
  const r: StepReport = { ...base, status: 'dry-run', durationMs: performance.now() - started, statements, changes, locks };
  opts.onProgress?.({ type: 'step', report: r });
  return r;
}

/**
 * Steps rehearsed in order in one dry-run transaction (`up`, `down` and
 * `contract --dry-run`). A step that runs outside a transaction (CREATE INDEX
 * CONCURRENTLY …) cannot be rehearsed and is skipped; a later step may need
 * what it would have made (a constraint on that index), so once one was
 * skipped, a later step that fails is reported as not verified, with its error
 * and the step it may need, and the rehearsal goes on. Before any skip, a
 * failure ends the dry run as it would end the real run.
 */
export function rehearsalInOrder(tx: Queryable, direction: 'forward' | 'rollback', opts: RunOptions): (m: Migration, step: Step) => Promise<StepReport> {
  let skipped: string | undefined;
  return async (m, step) => {
    const started = performance.now();
    try {
      const r = await rehearseStepInTransaction(tx, m, step, direction, opts);
      if (r.status === 'skipped-in-dry-run') skipped ??= `${r.migrationId}/${r.stepId}`;
      return r;
    } catch (err) {
      // Only a failure inside the step's savepoint leaves the transaction usable for the steps after it.
      if (skipped === undefined || step.kind === 'backfill' || !step.transaction || !isFerryError(err) || err.code !== 'E_STEP') throw err;
      const script = direction === 'forward' ? step.forward : step.rollback;
      const r: StepReport = {
        migrationId: m.id,
        stepId: step.id,
        direction,
        retries: 0,
        status: 'skipped-in-dry-run',
        durationMs: performance.now() - started,
        statements: (script?.statements ?? []).map((s) => ({ sql: s.text, file: script?.file as string, line: s.line })),
        note: `not verified: it failed in the dry run (${err.cause instanceof Error ? err.cause.message : err.message}), and it comes after ${skipped}, which the dry run could not run and which it may need`,
      };
      opts.onProgress?.({ type: 'step', report: r });
      return r;
    }
  };
}

/** Thrown to end a dry run's transaction, so that everything in it is rolled back. */
class DryRunRollback extends Error {}

/** Run `fn` in one transaction that is always rolled back (a dry run), and return what it returned. */
export async function inRolledBackTransaction<T>(db: Database, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  let out: { value: T } | undefined;
  try {
    await db.transaction(async (tx) => {
      out = { value: await fn(tx) };
      throw new DryRunRollback();
    });
  } catch (err) {
    if (!(err instanceof DryRunRollback)) throw err;
  }
  return (out as { value: T }).value;
}

/** Rehearse `steps` of `m` in order ({@link rehearsalInOrder}) in one transaction that is rolled back. */
export function rehearseSteps(db: Database, m: Migration, steps: readonly Step[], direction: 'forward' | 'rollback', opts: RunOptions): Promise<StepReport[]> {
  return inRolledBackTransaction(db, async (tx) => {
    const rehearse = rehearsalInOrder(tx, direction, opts);
    const reports: StepReport[] = [];
    for (const step of steps) reports.push(await rehearse(m, step));
    return reports;
  });
}
