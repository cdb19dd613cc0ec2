import type { Pool, PoolClient } from 'pg';
import type { FlagAnswers } from '../sdk/flags.js';

/**
 * Which shape an application version reads: the flag that switches it, the schemas of the old and the new
 * shape's views (`ferry_v1_users`, `ferry_v2_users`), and the schemas after them (default `public`).
 * `ferry rollout <id> status --json` prints a migration's shape as `shape`.
 */
export interface AppShape {
  flag: string;
  old: readonly string[];
  new: readonly string[];
  /** Default ["public"]. */
  base?: readonly string[];
}

/** The search path for `unit`: the new shape's schemas first for units in the flag's new cohort, else the old shape's, then `base` (quoted identifiers, comma-separated). */
export function searchPath(flags: FlagAnswers, unit: string, shape: AppShape): string {
  void flags;
  void unit;
  void shape;
  throw new Error('not implemented');
}

/**
 * A `pg` pool whose `connect()` hands out clients with `SET search_path` already run for the unit's shape
 * (and reset when released). Connection-string options are not used: PgBouncer refuses them.
 */
export function shapedPool(pool: Pool, flags: FlagAnswers, shape: AppShape): { connect(unit: string): Promise<PoolClient> } {
  void pool;
  void flags;
  void shape;
  throw new Error('not implemented');
}
