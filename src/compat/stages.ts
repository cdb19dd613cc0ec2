/**
 * The six stages of one change moving from an old store (or code path) to a new one, named as
 * LaunchDarkly's migration flags name them. Each stage says which side reads answer from, whether
 * the other side is read too and compared, and which sides are written in which order (the
 * authoritative side first; when it fails, the other is not written).
 */

/** The stages in order: off → dualwrite → shadow → live → rampdown → complete. */
export const MIGRATION_STAGES = ['off', 'dualwrite', 'shadow', 'live', 'rampdown', 'complete'] as const;

/** One stage of a migration. */
export type MigrationStage = (typeof MIGRATION_STAGES)[number];

/** The old or the new side of a migration. */
export type Side = 'old' | 'new';

/** What one stage does with reads and writes. */
export interface StagePlan {
  /** The side whose read result is returned (the authoritative side for reads). */
  read: Side;
  /** The other side is read too and the two results compared (counted per cohort). */
  compare: boolean;
  /** The sides written, authoritative first; a failed first write skips the rest. */
  writes: readonly Side[];
}

/** Each stage's reads, returned result, writes and comparisons. */
export const STAGE_PLANS: Readonly<Record<MigrationStage, StagePlan>> = {
  off: { read: 'old', compare: false, writes: ['old'] },
  dualwrite: { read: 'old', compare: false, writes: ['old', 'new'] },
  shadow: { read: 'old', compare: true, writes: ['old', 'new'] },
  live: { read: 'new', compare: true, writes: ['new', 'old'] },
  rampdown: { read: 'new', compare: false, writes: ['new', 'old'] },
  complete: { read: 'new', compare: false, writes: ['new'] },
};

/** Whether `text` names a stage. */
export function isMigrationStage(text: unknown): text is MigrationStage {
  return typeof text === 'string' && (MIGRATION_STAGES as readonly string[]).includes(text);
}

/** A stored stage (null or unknown: never set) as the stage it means: `off` unless set. */
export function stageOf(stored: string | null | undefined): MigrationStage {
  return isMigrationStage(stored) ? stored : 'off';
}
