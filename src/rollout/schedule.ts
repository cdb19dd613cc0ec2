import { z } from 'zod';
import { parseHold } from '../duration.js';
import { FerryError } from '../errors.js';
import { formatPercentage, isPercentage } from './percentage.js';

export { parseHold };

/** One stage of a rollout: the flag's percentage and how long it is held before the next. */
export interface Stage {
  percent: number;
  /** Hold before advancing, in milliseconds (whole seconds). */
  holdMs: number;
}

/**
 * "1d 2h", "24h", "1m 30s", "0.4s": a hold or elapsed time for people; with
 * `maxParts`, only the largest units (`3d 4h` rather than `3d 4h 12m 5s`).
 */
export function formatHold(ms: number, maxParts = 4): string {
  if (ms < 10_000) return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
  const parts: string[] = [];
  let s = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n) parts.push(`${n}${unit}`);
    if (parts.length === maxParts) break;
  }
  return parts.join(' ');
}

/** The workflow's default schedule: 5, 25, 50, 75, 100 %, each held 24 h. */
export const DEFAULT_STAGES: readonly Stage[] = [5, 25, 50, 75, 100].map((percent) => ({ percent, holdMs: 86_400_000 }));

/** The manifest's `rollout` field: `{ stages: [{ percent: 5, hold: "24h" }, …] }`, increasing and ending at 100. */
export const rolloutScheduleSchema = z
  .strictObject({
    stages: z
      .array(
        z.strictObject({
          percent: z
            .number()
            .refine((n) => isPercentage(n, 0.01), 'must be a percentage from 0.01 to 100 with at most two decimals')
            .describe('The share of units on the new path in this stage: a number from 0.01 to 100, at most two decimals (12.5 is 12.5 %).'),
          hold: z
            .string()
            .refine((h) => parseHold(h) !== undefined, 'must be a duration of at least one second, like "30s", "15min", "24h" or "2d"')
            .describe(
              'How long the stage is held before the next: whole numbers with units s, m or min, h, d, concatenated without spaces ("30s", "15min", "24h", "1h30m", "2d"); at least one second.',
            ),
        }),
      )
      .min(1, 'a rollout needs at least one stage')
      .describe(
        'The stages in order, e.g. [{"percent": 5, "hold": "24h"}, {"percent": 25, "hold": "24h"}, …, {"percent": 100, "hold": "24h"}]: percentages strictly increasing, the last exactly 100. The first stage is the canary, the stages between are rolling, 100 % is rolled-out.',
      ),
    include: z
      .array(z.string().min(1).max(200))
      .max(10_000)
      .default([])
      .describe(
        'Units on the new path from the first stage while the flag is on, whatever their bucket: known edge-case accounts, internal users. Counted in the new cohort.',
      ),
    exclude: z
      .array(z.string().min(1).max(200))
      .max(10_000)
      .default([])
      .describe('Units never on the new path and never counted in the cohort metrics: test accounts. A graduated flag is on for them too.'),
  })
  .superRefine((r, ctx) => {
    r.stages.forEach((s, i) => {
      const prev = r.stages[i - 1];
      if (prev && s.percent <= prev.percent)
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'percent'], message: `stages must increase (${s.percent} after ${prev.percent})` });
    });
    if (r.stages.at(-1)?.percent !== 100) ctx.addIssue({ code: 'custom', path: ['stages'], message: 'the last stage must be 100' });
  });

/** The manifest's rollout schedule as written. */
export type RolloutScheduleInput = z.input<typeof rolloutScheduleSchema>;

/** The stages of a validated `rollout` field, or the default schedule when it is absent. */
export function stagesOf(rollout: RolloutScheduleInput | undefined): readonly Stage[] {
  if (!rollout) return DEFAULT_STAGES;
  return rollout.stages.map((s) => ({ percent: s.percent, holdMs: parseHold(s.hold) ?? 0 }));
}

/** Index of the stage a percentage sits in: the last stage at or below it; -1 below the first stage. */
export function stageIndexAt(stages: readonly Stage[], percentage: number): number {
  let at = -1;
  stages.forEach((s, i) => {
    if (s.percent <= percentage) at = i;
  });
  return at;
}

/** The first stage above `percentage`, or undefined at 100 %. */
export function nextStage(stages: readonly Stage[], percentage: number): Stage | undefined {
  return stages.find((s) => s.percent > percentage);
}

/** How long the rollout must stay at `percentage` before advancing: its stage's hold (the first stage's below it). */
export function holdAt(stages: readonly Stage[], percentage: number): number {
  return (stages[Math.max(0, stageIndexAt(stages, percentage))] as Stage).holdMs;
}

/** The lifecycle phases a rollout moves through. */
export type RolloutPhase = 'canary' | 'rolling' | 'rolled-out';

/**
 * Which phase a percentage belongs to: up to the first stage is the canary, above it rolling (100 % included).
 * Rolled out is not a percentage: it is reached only once the 100 % stage's hold has passed (see `completeRollout`).
 */
export function phaseAt(stages: readonly Stage[], percentage: number): RolloutPhase {
  return percentage <= (stages[0] as Stage).percent ? 'canary' : 'rolling';
}

const WHY_NOT: Record<string, string> = {
  planned: 'it has not been applied yet; run `ferry up` first',
  approved: 'it has not been applied yet; run `ferry up` first',
  backfilling: 'its backfill is still running; wait until it is backfilled',
  verified: 'it is already rolled out and verified',
  contracted: 'it is already contracted',
  archived: 'it is archived',
  'rolled-back': 'it was rolled back; run `ferry up` to expand it again first',
};

/**
 * The phases a migration in phase `from` passes through when its rollout is set
 * to `percentage`, in order (empty: it stays). Throws E_GATE for an out-of-order
 * request: before the migration is expanded (and backfilled, when it has a backfill),
 * or after it is rolled out.
 */
export function phasePath(from: string, percentage: number, t: { id: string; stages: readonly Stage[]; hasBackfill: boolean }): RolloutPhase[] {
  const to = phaseAt(t.stages, percentage);
  const refuse = (why: string, hint: string) => new FerryError('E_GATE', `cannot roll out ${t.id} to ${formatPercentage(percentage)}: ${why}`, hint);
  switch (from) {
    case 'expanded':
      if (t.hasBackfill) throw refuse('it is expanded but not backfilled', `run \`ferry backfill ${t.id}\` first`);
      return to === 'canary' ? ['canary'] : ['canary', to];
    case 'backfilled':
      return to === 'canary' ? ['canary'] : ['canary', to];
    case 'canary':
      return to === 'canary' ? [] : [to];
    case 'rolling':
      return to === 'rolled-out' ? ['rolled-out'] : [];
    case 'paused':
      return [to];
    case 'rolled-out':
      if (percentage >= 100) return [];
      throw refuse('it is already rolled out to 100 %', `to send everyone back to the old path use the quick rollback: \`ferry flag set <flag> false\``);
    default:
      throw refuse(WHY_NOT[from] ?? `it is ${from}`, `see \`ferry status\` and \`ferry log ${t.id}\``);
  }
}
