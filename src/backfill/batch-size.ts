/** Bounds and target of the adaptive batch size (a backfill step's `batchSize` and `targetBatchMs`). */
export interface BatchSizeLimits {
  min: number;
  max: number;
  targetMs: number;
}

/** What the last batch measured. */
export interface BatchOutcome {
  /** Keys walked (the batch's size as used); fewer than asked means the range ended. */
  walked: number;
  elapsedMs: number;
  /** A health signal crossed its threshold: shrink regardless of the timing. */
  throttled: boolean;
}

/** Largest step up or down in one batch, so one noisy timing cannot swing the size far. */
const MAX_GROWTH = 1.5;
const MAX_SHRINK = 0.5;

/**
 * The next batch size: scaled by target ÷ measured duration (at most ×1.5 or
 * ÷2 per batch, and by at least one row), halved when throttled, always within
 * [min, max]. Under a linear cost it moves toward the target without overshooting it
 * by more than one row. Pure.
 */
export function nextBatchSize(current: number, last: BatchOutcome, limits: BatchSizeLimits): number {
  const clamp = (n: number) => Math.min(limits.max, Math.max(limits.min, Math.round(n)));
  if (last.throttled) return clamp(Math.min(current, last.walked || current) * MAX_SHRINK);
  // A short batch at the end of a range says little about the size: keep it.
  if (last.walked < current) return clamp(current);
  const ratio = Math.min(MAX_GROWTH, Math.max(MAX_SHRINK, limits.targetMs / Math.max(last.elapsedMs, 0.001)));
  // At least one row toward the target: rounding alone must not hold a small batch where it is
  // (two rows at 0.95 stays two, short of the minimum a target the overhead alone exceeds asks for).
  const scaled = Math.round(current * ratio);
  const moved = ratio > 1 ? Math.max(scaled, current + 1) : ratio < 1 ? Math.min(scaled, current - 1) : current;
  return clamp(moved);
}
