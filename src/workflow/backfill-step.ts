import { type BackfillProgress, type BackfillTarget, prepareBackfill, rollbackBackfill, runBackfill } from '../backfill/index.js';
import type { BackfillStepSpec } from '../backfill/spec.js';
import type { Database, Queryable } from '../db/database.js';
import { quoteQualified } from '../db/quote.js';
import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { removeApplied } from '../state/store.js';
import { recordStep } from './recorded.js';
import { announceStep, type RunOptions, type StepReport } from './step-report.js';

/** The engine's view of a manifest's backfill step. */
export function backfillTarget(m: Migration, step: Step): BackfillTarget {
  const spec = step.backfill as BackfillStepSpec;
  return step.module ? { migrationId: m.id, stepId: step.id, spec, moduleFile: step.module } : { migrationId: m.id, stepId: step.id, spec };
}

/** The quoted table of a backfill spec (`users` or `schema.users`). */
export function backfillTable(spec: BackfillStepSpec): string {
  return quoteQualified(...spec.table.split('.'));
}

/** One line describing a backfill's figures, for reports. */
export function describeBackfill(p: BackfillProgress): string {
  return `${p.rowsDone} rows in ${p.batches} batches (longest ${Math.round(p.longestBatchMs)} ms, ${Math.round(p.ratePerSec)} rows/s, ${p.retries} retries)`;
}

/**
 * Run a backfill step in its place in `up`: validate it before any data is
 * touched, fill the rows in batches (with extra worker processes when asked),
 * and record the step as applied only once every range is done.
 */
export async function applyBackfillStep(db: Database, m: Migration, step: Step, opts: RunOptions): Promise<StepReport> {
  const started = performance.now();
  const target = backfillTarget(m, step);
  await prepareBackfill(db, target);
  const stopWorkers = opts.startBackfillWorkers ? await opts.startBackfillWorkers(m.id, step.id) : async () => {};
  let final: BackfillProgress;
  try {
    final = await runBackfill(db, target, {
      lockTimeoutMs: opts.lockTimeoutMs,
      onProgress: (progress) => opts.onProgress?.({ type: 'backfill', progress }),
    });
  } finally {
    await stopWorkers();
  }
  if (final.state !== 'done') {
    const how =
      final.state === 'paused' ? `ferry backfill ${m.id} --resume` : `ferry backfill ${m.id} --resume (a cancelled backfill starts over where it stopped)`;
    throw new FerryError(
      'E_BACKFILL',
      `backfill ${m.id}/${step.id} is ${final.state} after ${final.rowsDone} of ~${final.rowsTotal} rows; the step is not applied yet`,
      `resume it with \`${how}\`, then run \`ferry up\` again to continue`,
      { progress: final },
    );
  }
  await db.transaction((tx) => recordStep(tx, m, step, opts.actor, { durationMs: performance.now() - started }));
  return announceStep(opts, m, step, started, {
    direction: 'forward',
    status: 'applied',
    retries: final.retries,
    statements: [],
    note: describeBackfill(final),
  });
}

/** Roll back a backfill step: undo the fill in batches when the manifest says how, and forget the step. */
export async function revertBackfillStep(db: Database, m: Migration, step: Step, opts: RunOptions): Promise<StepReport> {
  const started = performance.now();
  const spec = step.backfill as BackfillStepSpec;
  await rollbackBackfill(db, backfillTarget(m, step), { lockTimeoutMs: opts.lockTimeoutMs });
  await db.transaction((tx) => removeApplied(tx, m.id, step.id));
  return announceStep(opts, m, step, started, {
    direction: 'rollback',
    status: 'rolled-back',
    retries: 0,
    statements: [],
    note: spec.rollback
      ? `reset ${Object.keys(spec.rollback).join(', ')} in batches`
      : 'no rollback expressions: the filled values stay until an earlier step drops them',
  });
}

/** Dry-run view of a backfill: the statement it repeats per batch and how many rows it would fill now. */
export async function describeBackfillInTransaction(
  tx: Queryable,
  step: Step,
  direction: 'forward' | 'rollback',
): Promise<Pick<StepReport, 'status' | 'statements' | 'note'>> {
  const spec = step.backfill as BackfillStepSpec;
  const table = backfillTable(spec);
  const set = direction === 'forward' ? spec.set : spec.rollback;
  const assignments = set ? Object.entries(set).map(([c, e]) => `${c} = ${e}`) : [];
  const sql = set
    ? `UPDATE ${table} SET ${assignments.join(', ')} WHERE ${direction === 'forward' ? `(${spec.where}) AND ` : ''}<key in next batch>`
    : direction === 'forward'
      ? `-- TypeScript transform ${step.module}: rows of ${table} WHERE ${spec.where}, in key order`
      : '-- nothing to undo in data';
  let todo = 'an unknown number of';
  if (direction === 'forward') {
    // The predicate is the migration author's SQL, like a migration file; it is checked by the engine before any real run.
    const { rows } = await tx.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${table} WHERE ${spec.where}`);
    todo = String(rows[0]?.n ?? 0);
  }
  return {
    status: 'skipped-in-dry-run',
    statements: [{ sql }],
    note:
      direction === 'forward'
        ? `backfill: would fill ${todo} rows in keyset batches (start ${spec.batchSize.initial}, target ${spec.targetBatchMs} ms each), each its own transaction`
        : 'backfill rollback runs in batches outside this dry-run',
  };
}
