/**
 * ferry's application SDK (`ferry/sdk`): ask whether a flag is on for a unit,
 * answered from an in-memory snapshot of `ferry.flags` kept fresh by LISTEN/NOTIFY, polling,
 * or the flag relay of `ferry serve` (`createFlags({ relay: 'http://…' })`, no database connection);
 * and measure the code path behind a flag per cohort (`observe`, `record`) for ferry's health gates.
 */

export { BUCKETS, bucketOf, inRollout } from '../bucket.js';
export type { Database } from '../db/database.js';
export { LATENCY_BUCKETS_SECONDS } from './exposition.js';
export {
  createFlags,
  type FlagAnswers,
  type FlagMetrics,
  type Flags,
  type FlagsChange,
  type FlagsOptions,
  type FlagsSource,
  type FlagsState,
  type FlagsStatus,
} from './flags.js';
export type { Cohort, MetricsOptions, Sample } from './metrics.js';
export type { RelayChange, RelayFlag, RelayFreshness, RelaySnapshot } from './relay.js';
export type { FlagState } from './snapshot.js';
