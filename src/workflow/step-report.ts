import type { BackfillProgress } from '../backfill/index.js';
import type { LockHeld } from '../db/catalog.js';
import type { Migration, Step } from '../migration/loader.js';
import type { StatementRun } from '../migration/step-runners.js';

// How steps are run and what a run reports: shared by execute.ts and backfill-step.ts, which execute.ts calls
// (execute.ts re-exports all of it).

/** How steps are run: who runs them, lock_timeout and retries, dry-run. */
export interface RunOptions {
  actor: string;
  lockTimeoutMs: number;
  lockRetries: number;
  /** First backoff after a lock timeout; doubles each retry. */
  retryBaseMs?: number;
  /** Called as each step finishes (or is retried), for progress output. */
  onProgress?: (e: ProgressEvent) => void;
  /** Ids of the project's archived migration folders (`migrations/archive/`): applied migrations there are not missing. */
  archived?: readonly string[];
  /** Start `n` extra backfill workers (other processes) for a backfill step; the CLI spawns them. */
  startBackfillWorkers?: (migrationId: string, stepId: string) => Promise<() => Promise<void>>;
}

/** Progress of a run, as it happens. */
export type ProgressEvent =
  | { type: 'step'; report: StepReport }
  | { type: 'retry'; migrationId: string; stepId: string; attempt: number; waitMs: number; reason: string }
  | { type: 'log'; migrationId: string; stepId: string; message: string }
  | { type: 'backfill'; progress: BackfillProgress };

/** What happened to one step in one direction. */
export interface StepReport {
  migrationId: string;
  stepId: string;
  direction: 'forward' | 'rollback';
  status: 'applied' | 'rolled-back' | 'baseline' | 'dry-run' | 'skipped-in-dry-run' | 'recovered';
  durationMs: number;
  retries: number;
  statements: StatementRun[];
  /** Dry-run only: the schema changes the step made and the locks it took. */
  changes?: string[];
  locks?: (LockHeld & { blocks: string })[];
  note?: string;
}

/** Build a step's report (its duration measured from `started`) and hand it to the progress listener. */
export function announceStep(
  opts: RunOptions,
  m: Migration,
  step: Step,
  started: number,
  fields: Omit<StepReport, 'migrationId' | 'stepId' | 'durationMs'>,
): StepReport {
  const r: StepReport = { migrationId: m.id, stepId: step.id, durationMs: performance.now() - started, ...fields };
  opts.onProgress?.({ type: 'step', report: r });
  return r;
}
