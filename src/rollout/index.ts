/** Staged rollout: flags with sticky percentages, the stage schedule and the kill switch (issue 5, server side). */
export { BUCKET_SQL, BUCKETS, bucketOf, inRollout } from '../bucket.js';
export { deleteFlag, type Flag, type FlagChange, graduatedRefusal, graduateFlag, listFlags, readFlag, unknownFlag, writeFlag } from './flags.js';
export { effectivePercentage, type FlagValue, formatPercentage, isPercentage, parseFlagValue, parsePercentage } from './percentage.js';
export {
  DEFAULT_STAGES,
  formatHold,
  holdAt,
  nextStage,
  parseHold,
  phaseAt,
  phasePath,
  type RolloutPhase,
  type RolloutScheduleInput,
  rolloutScheduleSchema,
  type Stage,
  stageIndexAt,
  stagesOf,
} from './schedule.js';
export {
  advanceRollout,
  completeRollout,
  type HealthJudge,
  type Lifecycle,
  type RolloutMove,
  type RolloutRecord,
  type RolloutStatus,
  type RolloutTarget,
  readRollout,
  rolloutStatus,
  setRollout,
  setRolloutByHand,
} from './stages.js';
