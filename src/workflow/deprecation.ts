import type { Queryable } from '../db/database.js';
import { planDurationMs } from '../docs/plan-spec.js';
import { formatHold } from '../rollout/schedule.js';
import { readEvents } from '../state/store.js';
import { type ApiTrafficDetails, describeRecentCalls, recentOldCalls } from './consumers.js';
import type { GateContext, GateRefusal } from './gate.js';

/** How far a migration is into its deprecation period, counted from when it first reached 100 % (rolled-out). */
export interface Deprecation {
  /** When it first reached rolled-out; null when it never did (then nothing has elapsed). */
  since: Date | null;
  periodMs: number;
  elapsedMs: number;
}

/** What cleanup tells the archive move (its transition details): the manifest's period, the clock it judges by, and the `--force` reason. */
export interface DeprecationDetails {
  deprecationPeriod: string;
  /** ISO time the period is judged at (cleanup's `now`). */
  now: string;
  /** The reason cleanup was forced before the period passed; null when it was not. */
  forced: string | null;
  /** The migration's API (its `api` section): cleanup waits until no old version had a call within its consumer window. */
  api?: ApiTrafficDetails;
}

/** Where `migrationId` stands in a deprecation period of `period` (a manifest duration) at `now`. */
export async function deprecationOf(db: Queryable, migrationId: string, period: string, now: Date): Promise<Deprecation> {
  const reached = (await readEvents(db, migrationId)).find((e) => e.kind === 'transition' && e.toPhase === 'rolled-out');
  const since = reached?.at ?? null;
  return { since, periodMs: planDurationMs(period), elapsedMs: since ? now.getTime() - since.getTime() : 0 };
}

/**
 * Gate of contracted → archived (cleanup): the deprecation period has passed
 * since the migration first reached 100 %, and no old version of its API (if
 * it has one) had a call within the consumer window, unless cleanup was forced
 * with a reason. Refuses when the caller did not say the period.
 */
export async function deprecationPassed(ctx: GateContext): Promise<GateRefusal | undefined> {
  const d = ctx.details as Partial<DeprecationDetails> | undefined;
  if (typeof d?.forced === 'string') return undefined;
  if (typeof d?.deprecationPeriod !== 'string' || typeof d.now !== 'string')
    return { why: 'its deprecation period was not given', hint: `archive it with \`ferry cleanup ${ctx.migrationId}\`` };
  const { since, periodMs, elapsedMs } = await deprecationOf(ctx.tx, ctx.migrationId, d.deprecationPeriod, new Date(d.now));
  if (elapsedMs < periodMs) {
    const until = since ? new Date(since.getTime() + periodMs).toISOString().slice(0, 16).replace('T', ' ') : 'unknown';
    const why = `its deprecation period of ${d.deprecationPeriod} has not passed (${formatHold(elapsedMs)} since it reached 100 %; ends ${until} UTC)`;
    return {
      why,
      hint: `wait, or clean up early with \`ferry cleanup ${ctx.migrationId} --force --reason "…"\` (recorded in the log)`,
      message: `cannot clean up ${ctx.migrationId}: ${why}`,
    };
  }
  return d.api ? oldApiQuiet(ctx.tx, ctx.migrationId, d.api, new Date(d.now)) : undefined;
}

/** Refuses while an old version of `api` had a call within its consumer window: cleanup drops what those consumers read. */
export async function oldApiQuiet(tx: Queryable, migrationId: string, api: ApiTrafficDetails, now: Date): Promise<GateRefusal | undefined> {
  const calls = await recentOldCalls(tx, api, now);
  if (calls.length === 0) return undefined;
  const why = `the old version of API ${api.name} still has traffic within the last ${api.consumerWindow}: ${describeRecentCalls(calls, now)}`;
  return {
    why,
    hint: `see \`ferry consumers ${migrationId}\`; send the upgrade guide (\`ferry upgrade-guide ${migrationId}\`) and wait until they moved, or clean up anyway with \`ferry cleanup ${migrationId} --force --reason "…"\` (recorded in the log)`,
    message: `cannot clean up ${migrationId}: ${why}`,
  };
}
