/**
 * The online backfill engine: keyset batches adapted to a target duration,
 * throttled on live health signals, checkpointed with each batch, resumable
 * after a crash, shared by several workers through ferry's range table.
 */
export { type BatchOutcome, type BatchSizeLimits, nextBatchSize } from './batch-size.js';
export { type BackfillAction, controlBackfill } from './control.js';
export { type RunBackfillOptions, runBackfill } from './engine.js';
export { HealthMonitor, type HealthReading, type HealthVerdict, type Thresholds } from './health.js';
export { type BackfillBatch, type BatchPoint, backfillBatches, backfillBatchSeries } from './history.js';
export { describePacing, type Pacing, type PacingState } from './pacer.js';
export { checkExpression } from './plan.js';
export { prepareBackfill, validateBackfill } from './prepare.js';
export { backfillProgress, backfillStateExists } from './progress.js';
export { type RollbackBackfillOptions, rollbackBackfill } from './rollback.js';
export { type BackfillStepSpec, backfillStepSchema } from './spec.js';
export type { TransformFn } from './transform.js';
export type { BackfillProgress, BackfillState, BackfillTarget } from './types.js';
