import type { Pacing } from './pacer.js';
import type { BackfillStepSpec } from './spec.js';

/** Which backfill to work on: a manifest's backfill step, resolved. */
export interface BackfillTarget {
  migrationId: string;
  stepId: string;
  spec: BackfillStepSpec;
  /** Absolute path of the TypeScript transform module when `spec.module` is set. */
  moduleFile?: string;
}

/** Where a backfill stands; `state` is also the control that pause/resume/cancel set. */
export type BackfillState = 'pending' | 'running' | 'paused' | 'cancelled' | 'done' | 'failed';

/** A backfill's progress, read from its checkpoint rows: the same numbers for the runner, `ferry status` and `--json`. */
export interface BackfillProgress {
  migrationId: string;
  stepId: string;
  state: BackfillState;
  /** Rows transformed so far (committed with their batches). */
  rowsDone: number;
  /** Estimate of the rows to do when it started; raised when more are done, exact once done. */
  rowsTotal: number;
  ratePerSec: number;
  etaSeconds: number | null;
  batchSize: number;
  lastBatchMs: number;
  longestBatchMs: number;
  batches: number;
  retries: number;
  /** The health signal that made the last batch back off, e.g. `lock waiters 2 > 0`; null when none. */
  throttledBy: string | null;
  rangesDone: number;
  rangesTotal: number;
  /** Workers holding a live claim on a range. */
  workers: number;
  /** The latest pacer decision of this run, of any worker and range (rate, budget, measured impact, duty cycle); null before any, and once not running. */
  pacing: Pacing | null;
  updatedAt: string;
}
