import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import { type FerryError, isFerryError, sqlState } from '../errors.js';
import { sleep } from '../sleep.js';
import { type BatchContext, type BatchResult, findFaultyRow, runBatch } from './batch.js';
import { nextBatchSize } from './batch-size.js';
import { type ClaimedRange, claimRange, heartbeat, openRanges, releaseClaims } from './claims.js';
import { startRun } from './control.js';
import { batchDataError, batchFailedError, dataFaultError, locksOutlastedError } from './errors.js';
import { DataFault, isDataError, RETRYABLE } from './faults.js';
import { HealthMonitor } from './health.js';
import { commitsWithoutFlush, type Pacing } from './pacer.js';
import { WorkerPacing } from './pacing.js';
import type { BackfillPlan } from './plan.js';
import { preparePlan, validateBackfill } from './prepare.js';
import { backfillProgress } from './progress.js';
import { loadTransform } from './transform.js';
import type { BackfillProgress, BackfillTarget } from './types.js';

/** Options of {@link runBackfill}. */
export interface RunBackfillOptions {
  /** Who holds claims; a restarted worker with the same id takes its range back at once. Default: host, pid and a random tag. */
  workerId?: string;
  lockTimeoutMs: number;
  /** A claim not renewed for this long is taken over by another worker. Default 30 s. */
  leaseMs?: number;
  onProgress?: (p: BackfillProgress) => void;
  /** Stop between batches (the range is released for others). */
  signal?: AbortSignal;
  /** Called with each pacer decision (one per batch; the record keeps only the latest and the changes of state). */
  onPacing?: (p: Pacing) => void;
}

/** How long a reading of the server's activity serves the batch health check (see HealthMonitor). */
const HEALTH_READ_EVERY_MS = 250;

/** Attempts of one batch on lock timeouts / deadlocks / serialisation failures; from the third on, each halves it. */
const MAX_ATTEMPTS = 10;

async function readState(db: Database, t: BackfillTarget): Promise<string | undefined> {
  const { rows } = await db.query<{ state: string }>('SELECT state FROM ferry.backfills WHERE migration_id = $1 AND step_id = $2', [t.migrationId, t.stepId]);
  return rows[0]?.state;
}

/** Mark the backfill failed (other workers stop at their next batch) and build the error to throw. */
async function fail(db: Database, plan: BackfillPlan, err: FerryError): Promise<FerryError> {
  await db
    .query(
      `UPDATE ferry.backfills SET state = 'failed', error = $3, updated_at = clock_timestamp() WHERE migration_id = $1 AND step_id = $2 AND state = 'running'`,
      [plan.target.migrationId, plan.target.stepId, err.message],
    )
    .catch(() => {});
  return err;
}

/** Every range is done: so is the backfill (unless another worker already ended it). */
async function markDone(db: Database, t: BackfillTarget): Promise<void> {
  await db.query(`UPDATE ferry.backfills SET state = 'done', updated_at = clock_timestamp() WHERE migration_id = $1 AND step_id = $2 AND state = 'running'`, [
    t.migrationId,
    t.stepId,
  ]);
}

async function showThrottle(db: Database, t: BackfillTarget, rangeNo: number, throttledBy: string | null): Promise<void> {
  await db.query(
    'UPDATE ferry.backfill_ranges SET throttled_by = $4, updated_at = clock_timestamp() WHERE migration_id = $1 AND step_id = $2 AND range_no = $3',
    [t.migrationId, t.stepId, rangeNo, throttledBy],
  );
}

/** A batch failed on its data: name the faulty row when one can be found (nothing is written while looking). */
async function dataError(ctx: BatchContext, range: ClaimedRange, limit: number, err: unknown, state: string | undefined): Promise<FerryError> {
  const fault = await findFaultyRow(ctx, range, limit);
  return fault ? dataFaultError(ctx.plan, fault) : batchDataError(ctx.plan, range.rangeNo, err, state);
}

/** One batch, retried with backoff on lock timeouts and the like, halved after repeated failure; a data error stops the backfill. */
async function batchWithRetries(ctx: BatchContext, range: ClaimedRange, size: number, throttledBy: string | null, signal?: AbortSignal) {
  let limit = size;
  for (let attempt = 0; ; attempt++) {
    try {
      return { result: await runBatch(ctx, range, limit, attempt, throttledBy), limit };
    } catch (err) {
      if (err instanceof DataFault) throw await fail(ctx.db, ctx.plan, dataFaultError(ctx.plan, err));
      const state = sqlState(err);
      if (state && RETRYABLE.has(state) && attempt + 1 < MAX_ATTEMPTS) {
        if (attempt >= 2) limit = Math.max(1, Math.floor(limit / 2));
        await sleep(Math.min(5000, 50 * 2 ** attempt) * (0.75 + Math.random() * 0.5), signal);
        continue;
      }
      if (state && RETRYABLE.has(state)) throw locksOutlastedError(ctx.plan, range.rangeNo, MAX_ATTEMPTS, err, state);
      if (isDataError(err)) throw await fail(ctx.db, ctx.plan, await dataError(ctx, range, limit, err, state));
      if (isFerryError(err)) throw err;
      throw batchFailedError(ctx.plan, range.rangeNo, err, state);
    }
  }
}

/**
 * Work on a backfill until no range is left (state `done`), it is paused,
 * cancelled or failed, or `signal` aborts: claim a range, run its batches
 * (adaptive size, paced by their measured impact, health back-off), checkpoint each with its data,
 * and take over ranges of workers whose lease expired. Any number of processes
 * may run it at once on one backfill. Prepares the backfill first if nobody has.
 * Returns the final progress.
 */
export async function runBackfill(db: Database, t: BackfillTarget, opts: RunBackfillOptions): Promise<BackfillProgress> {
  const plan = (await backfillProgress(db, t.migrationId, t.stepId)).length === 0 ? await preparePlan(db, t) : await validateBackfill(db, t);
  const ctx: BatchContext = {
    db,
    plan,
    workerId: opts.workerId ?? `${hostname()} pid ${process.pid} ${randomUUID().slice(0, 8)}`,
    lockTimeoutMs: opts.lockTimeoutMs,
  };
  if (t.spec.module) ctx.transform = await loadTransform(t);
  // A rerun after a data error is the retry; paused and cancelled backfills wait for an explicit resume.
  await startRun(db, t.migrationId, t.stepId, ['pending', 'failed']);
  const leaseMs = opts.leaseMs ?? 30_000;
  const { min, max, initial } = t.spec.batchSize;
  const monitor = new HealthMonitor(db, plan.tableOid, t.spec.throttle, HEALTH_READ_EVERY_MS);
  let size = Math.min(max, Math.max(min, initial));
  let range: ClaimedRange | undefined;
  let throttledBy: string | null = null;
  let throttledRuns = 0;
  let lastReport = 0;
  const report = async (force: boolean) => {
    if (!opts.onProgress || (!force && performance.now() - lastReport < 250)) return;
    lastReport = performance.now();
    // Up to four times a second from the worker's own session: prepared.
    const p = (await backfillProgress(db, t.migrationId, t.stepId, { prepare: true }))[0];
    if (p) opts.onProgress(p);
  };
  /** Sleep between batches, renewing the claim so a long back-off does not lose it. */
  const pause = async (ms: number) => {
    for (let left = ms; left > 0 && !opts.signal?.aborted; left -= leaseMs / 3) {
      await sleep(Math.min(left, leaseMs / 3), opts.signal);
      if (left > leaseMs / 3) await heartbeat(db, t, ctx.workerId);
    }
  };
  const pacing = await WorkerPacing.start(db, plan, ctx.workerId);
  /**
   * Claim the next range, like the batches without waiting for the WAL flush when nobody else works: a flush of the
   * last range's WAL cost each claim ~6 ms. A server crash that loses the claim loses the batches after it too (WAL
   * is replayed in order): the lease is taken again and they are redone.
   */
  const claim = () =>
    commitsWithoutFlush(pacing.current)
      ? db.transaction(async (tx) => {
          await tx.exec('SET LOCAL synchronous_commit = off');
          return claimRange(tx, t, ctx.workerId, leaseMs);
        })
      : claimRange(db, t, ctx.workerId, leaseMs);
  try {
    while (!opts.signal?.aborted) {
      if (!range) {
        if ((await readState(db, t)) !== 'running') break;
        range = await claim();
        if (!range) {
          if ((await openRanges(db, t)).left === 0) {
            await markDone(db, t);
            break;
          }
          // The ranges left are held by other workers: wait, to take over any whose lease expires.
          await report(false);
          await sleep(Math.min(1000, leaseMs / 4), opts.signal);
          continue;
        }
        if (range.batchSize > 0) size = Math.min(max, Math.max(min, range.batchSize));
      }
      ctx.pacing = pacing.current;
      pacing.inBatch(true);
      const { result, limit }: { result: BatchResult; limit: number } = await batchWithRetries(ctx, range, size, throttledBy, opts.signal).finally(() =>
        pacing.inBatch(false),
      );
      if (result.kind === 'lost') {
        range = undefined;
        continue;
      }
      if (result.kind === 'stopped') break;
      const cp = result.checkpoint;
      const rangeNo = range.rangeNo;
      if (cp.done) range = undefined;
      const previous: string | null = throttledBy;
      const health = await monitor.assess(cp.elapsedMs, t.spec.targetBatchMs, cp.walked, pacing.idle);
      throttledBy = health.reason;
      // Say so at once (not only with the next checkpoint), so the progress line shows why it slows down.
      if (throttledBy !== previous) await showThrottle(db, t, rangeNo, throttledBy);
      throttledRuns = health.backOff ? throttledRuns + 1 : 0;
      // The pacer's pause keeps the duty cycle (and the manifest's sleepRatio floor); health can ask for more.
      const paceWas = pacing.current.state;
      let rest = Math.max(await pacing.afterBatch(rangeNo, cp.updated, cp.elapsedMs), Math.min(10_000, health.pauseMs));
      opts.onPacing?.(pacing.current);
      size = nextBatchSize(limit, { walked: cp.walked, elapsedMs: cp.elapsedMs, throttled: health.backOff }, { min, max, targetMs: pacing.current.batchMs });
      if (health.backOff) rest = Math.max(rest, Math.min(10_000, 250 * 2 ** (throttledRuns - 1)));
      // A change of pacing state is shown at once, like a throttle.
      await report(pacing.current.state !== paceWas);
      if (rest > 0) {
        const rested = performance.now();
        await pause(rest);
        pacing.rested(performance.now() - rested);
      } else if (db.kind === 'pglite') {
        // The embedded database runs in this thread: let the process's other work (ferry serve's requests) in between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    await pacing.stop();
    await releaseClaims(db, t, ctx.workerId).catch(() => {});
  }
  const final = (await backfillProgress(db, t.migrationId, t.stepId))[0] as BackfillProgress;
  opts.onProgress?.(final);
  return final;
}
