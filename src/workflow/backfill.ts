import {
  type BackfillAction,
  type BackfillProgress,
  type BatchPoint,
  backfillBatchSeries,
  backfillProgress,
  controlBackfill,
  runBackfill,
} from '../backfill/index.js';
import type { Database } from '../db/database.js';
import { FerryError, isFerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { sleep } from '../sleep.js';
import { type RunReport, type UpOptions, up } from './apply.js';
import { backfillTarget } from './backfill-step.js';

// `ferry backfill` as library actions: run a migration up to and including its backfill steps (or join a
// backfill another runner leads), pause / resume / cancel it, read its progress.

/** The backfill steps of `m` (only `stepId` when given); E_NOT_FOUND when it has none. */
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

/** How to join a backfill: who works, and how long to wait for one to start. */
export interface JoinOptions {
  stepId?: string;
  /** How long to wait for a backfill to start before giving up (E_NOT_FOUND). */
  lockWaitMs: number;
  lockTimeoutMs: number;
  /** Shown in the checkpoint table as the worker. */
  workerId: string;
}

/** Work on the backfill(s) of `m` another runner leads (it applies and records the steps); resolves to their progress when done. */
export async function joinBackfill(db: Database, m: Migration, opts: JoinOptions): Promise<BackfillProgress[]> {
  const out: BackfillProgress[] = [];
  for (const step of backfillSteps(m, opts.stepId)) {
    const deadline = Date.now() + opts.lockWaitMs;
    while ((await backfillProgress(db, m.id, step.id)).length === 0) {
      if (Date.now() > deadline) {
        throw new FerryError(
          'E_NOT_FOUND',
          `no backfill of ${m.id}/${step.id} has started to join`,
          `start it with \`ferry backfill ${m.id}\` (or \`ferry up\`) first`,
        );
      }
      await sleep(250);
    }
    out.push(await runBackfill(db, backfillTarget(m, step), { lockTimeoutMs: opts.lockTimeoutMs, workerId: opts.workerId }));
  }
  return out;
}

/** How to run a migration's backfill: `up`'s options (the lock wait also bounds how long a join waits), and one step or all. */
export interface BackfillOptions extends Omit<UpOptions, 'until' | 'only'> {
  stepId?: string;
  /** Shown in the checkpoint table when this process joins another runner's backfill. */
  workerId?: string;
}

/** What `backfill` did: led the run (`report`), or joined another runner's backfill as a worker (`joined`). */
export interface BackfillResult {
  report?: RunReport;
  joined?: true;
  progress: BackfillProgress[];
}

/**
 * Apply `m` up to and including its (last selected) backfill step. When another runner holds the
 * migration lock on a server, join its backfill as a worker instead of waiting for the lock.
 */
export async function backfill(db: Database, migrations: Migration[], m: Migration, opts: BackfillOptions): Promise<BackfillResult> {
  const steps = backfillSteps(m, opts.stepId);
  const { stepId, workerId, ...upOptions } = opts;
  try {
    const report = await up(db, migrations, { ...upOptions, lockWaitMs: 0, until: steps.at(-1)?.id as string, only: m.id });
    return { report, progress: await backfillProgress(db, m.id, stepId) };
  } catch (err) {
    if (!isFerryError(err, 'E_LOCKED') || db.kind !== 'server') throw err;
    const progress = await joinBackfill(db, m, {
      ...(stepId === undefined ? {} : { stepId }),
      lockWaitMs: opts.lockWaitMs,
      lockTimeoutMs: opts.lockTimeoutMs,
      workerId: workerId ?? `${opts.actor} pid ${process.pid}`,
    });
    return { joined: true, progress };
  }
}

/** Pause, resume or cancel the backfill(s) of `m` between batches; resolves to each step's progress after the change. */
export async function controlBackfills(
  db: Database,
  m: Migration,
  action: BackfillAction,
  opts: { stepId?: string; actor: string },
): Promise<BackfillProgress[]> {
  const out: BackfillProgress[] = [];
  for (const s of backfillSteps(m, opts.stepId)) out.push(await controlBackfill(db, m.id, s.id, action, opts.actor));
  return out;
}

/** The progress of `m`'s backfills from the checkpoint table (empty before one started). */
export function backfillStatus(db: Database, m: Migration, stepId?: string): Promise<BackfillProgress[]> {
  return backfillProgress(db, m.id, stepId);
}

/** Most points a backfill chart gets per step; longer runs are averaged into this many. */
export const BACKFILL_HISTORY_POINTS = 500;

/** The batch history of one backfill step, for a chart of batch duration and size over time. */
export interface BackfillStepHistory {
  stepId: string;
  /** Batches committed so far (of the backfill as it stands; a rolled-back one starts again). */
  batches: number;
  /** At most {@link BACKFILL_HISTORY_POINTS} points, oldest first. */
  series: BatchPoint[];
}

/** Per backfill step of `m`, its committed batches over time (rows, batch size, duration, worker), newest last. */
export async function backfillHistory(db: Database, m: Migration, opts: { stepId?: string; points?: number } = {}): Promise<BackfillStepHistory[]> {
  const out: BackfillStepHistory[] = [];
  for (const step of m.steps.filter((s) => s.kind === 'backfill' && (opts.stepId === undefined || s.id === opts.stepId))) {
    const { batches, points } = await backfillBatchSeries(db, m.id, step.id, opts.points ?? BACKFILL_HISTORY_POINTS);
    out.push({ stepId: step.id, batches, series: points });
  }
  return out;
}
