import { z } from '@hono/zod-openapi';
import { MIGRATION_STAGES } from '../../compat/stages.js';
import { BackfillProgressSchema, MigrationIdParam } from './read-schemas.js';

// The inputs of the dashboard's actions (strict: an unknown field is refused) and the documents its
// backfill, rollout, health and approvals routes answer with — the CLI's --json documents, plus what a
// page needs beside them (chart series, the stage ladder, the background job).

/** `{id}`: a migration's full id or its name, as the CLI takes it. */
export const MigrationParams = z.object({ id: MigrationIdParam });

const reason = z.string().trim().min(1).max(1000).openapi({ description: "why, for the migration's log" });

/** Body of pause / resume / cancel / start of a backfill: optionally one step. */
export const BackfillActionBody = z
  .object({ step: z.string().min(1).max(200).optional().openapi({ description: 'only this backfill step' }) })
  .strict()
  .openapi('BackfillActionBody');

/** Body of `rollout/advance`: `now` cuts the hold short and needs a reason. */
export const RolloutAdvanceBody = z
  .object({
    now: z.boolean().optional().openapi({ description: 'advance before the hold has elapsed (needs reason)' }),
    reason: reason.optional(),
  })
  .strict()
  .openapi('RolloutAdvanceBody');

/** Body of `rollout/set`: a percentage 0–100 in steps of 0.01. */
export const RolloutSetBody = z
  .object({
    percentage: z
      .number()
      .min(0.01)
      .max(100)
      .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-9, 'at most two decimals')
      .openapi({
        description: 'the flag percentage, 0.01–100 (as `ferry rollout set`; the kill switch turns the flag off), at most two decimals',
        example: 25,
      }),
    now: z.boolean().optional().openapi({ description: 'skip stages or cut the hold short (needs reason)' }),
    reason: reason.optional(),
  })
  .strict()
  .openapi('RolloutSetBody');

/** Body of `rollout/resume` and `rollout/kill`: only a reason. */
export const ReasonBody = z.object({ reason: reason.optional() }).strict().openapi('ReasonBody');

/** Body of `approvals`: the approving role, one of the plan's. */
export const ApproveBody = z
  .object({
    role: z.string().trim().min(1).max(200).openapi({ description: 'one of the plan’s approvals, e.g. "Tech Lead"' }),
    reason: reason.optional(),
  })
  .strict()
  .openapi('ApproveBody');

/** `?window=5min` of the health document. */
export const HealthQuery = z.object({
  window: z
    .string()
    .max(20)
    .optional()
    .openapi({
      param: { name: 'window', in: 'query' },
      description: "judge and chart this long a window (default the manifest's health.window)",
      example: '5min',
    }),
  points: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .optional()
    .openapi({ param: { name: 'points', in: 'query' }, description: 'buckets of the charts (default 60)' }),
});

const BatchPointSchema = z.object({
  at: z.string(),
  rows: z.number(),
  batchSize: z.number(),
  durationMs: z.number(),
  maxDurationMs: z.number(),
  worker: z.string().nullable(),
  batches: z.number(),
});

const JobSchema = z
  .object({
    running: z.boolean().openapi({ description: 'a backfill started from the dashboard runs in the server' }),
    lastError: z.string().nullable().openapi({ description: 'why the last one started from the dashboard failed' }),
  })
  .openapi('BackfillJob');

/** GET …/backfill: progress per step (the CLI's `backfill --status --json`), batch history, totals and the dashboard's job. */
export const BackfillDocumentSchema = z
  .object({
    migrationId: z.string(),
    steps: z.array(z.string()),
    progress: z.array(BackfillProgressSchema),
    history: z.array(z.object({ stepId: z.string(), batches: z.number(), series: z.array(BatchPointSchema) })),
    totals: z.object({
      rowsDone: z.number(),
      rowsTotal: z.number(),
      ratePerSec: z.number(),
      etaSeconds: z.number().nullable(),
      workers: z.number(),
    }),
    job: JobSchema,
  })
  .openapi('BackfillDocument');

/** What pause / resume / cancel / start answer: the action, the progress after it, and the job. */
export const BackfillActionResultSchema = z
  .object({ action: z.enum(['pause', 'resume', 'cancel', 'start']), progress: z.array(BackfillProgressSchema), job: JobSchema })
  .openapi('BackfillActionResult');

const StageSchema = z.object({ percent: z.number(), holdMs: z.number() });

/** GET …/rollout: `ferry rollout <id> status --json` plus the ladder and the pause / kill state. */
const CohortTrafficSchema = z.object({
  requests: z.number(),
  errors: z.number(),
  dataErrors: z.number(),
  comparisons: z.number(),
  mismatches: z.number(),
});

export const RolloutDocumentSchema = z
  .object({
    migrationId: z.string(),
    phase: z.string().nullable(),
    flag: z.string().nullable(),
    started: z.boolean(),
    percentage: z.number(),
    flagPercentage: z.number(),
    flagEnabled: z.boolean(),
    stage: z.number(),
    stages: z.array(StageSchema).readonly(),
    heldMs: z.number(),
    holdMs: z.number(),
    remainingMs: z.number(),
    next: StageSchema.nullable(),
    controller: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'the health controller (null before one ran)' }),
    guidance: z.object({ now: z.string(), apps: z.string(), nextGate: z.string(), before: z.string(), phase: z.string() }),
    ladder: z.array(StageSchema.extend({ state: z.enum(['done', 'current', 'next', 'pending']) })),
    paused: z.boolean(),
    killed: z.boolean().openapi({ description: 'the flag is off (kill switch / quick rollback) while the rollout has started' }),
    nextGate: z.string(),
    migrationStage: z
      .object({
        name: z.enum(MIGRATION_STAGES),
        plan: z.object({ read: z.enum(['old', 'new']), compare: z.boolean(), writes: z.array(z.enum(['old', 'new'])).readonly() }),
        meaning: z.string(),
      })
      .openapi({ description: 'the migration stage `ferry/compat` follows (`ferry rollout <id> stage <name>`) and what it does with reads and writes' }),
    canary: z
      .object({
        percentage: z.number(),
        include: z.object({ count: z.number().int(), first: z.array(z.string()) }),
        exclude: z.object({ count: z.number().int(), first: z.array(z.string()) }),
        windowMs: z.number(),
        traffic: z
          .object({ new: CohortTrafficSchema, old: CohortTrafficSchema })
          .nullable()
          .openapi({ description: "each cohort's requests, errors, data errors and shadow comparisons over `windowMs`; null without metrics" }),
      })
      .openapi({
        description: "who is in the canary: the share by bucket, the units always in (include) and never in nor counted (exclude), the cohorts' traffic",
      }),
    shape: z
      .object({ flag: z.string(), old: z.array(z.string()), new: z.array(z.string()), base: z.array(z.string()) })
      .nullable()
      .openapi({ description: 'the view schemas of the old and new application shape (for `compat.searchPath`); null when the migration publishes none' }),
  })
  .openapi('RolloutDocument');

const FlagValueSchema = z.object({ enabled: z.boolean(), percentage: z.number() });
const FlagChangeSchema = z
  .object({
    key: z.string(),
    migrationId: z.string().nullable(),
    from: FlagValueSchema.nullable(),
    to: FlagValueSchema.nullable(),
    quickRollback: z.boolean(),
    graduated: z.enum(['graduated', 'tombstone']).optional(),
  })
  .openapi('FlagChange');

/** What advance / resume / set answer: the CLI's rollout move. */
export const RolloutMoveSchema = z
  .object({
    migrationId: z.string(),
    flag: z.string(),
    fromPercentage: z.number(),
    toPercentage: z.number(),
    phases: z.array(z.object({ from: z.string(), to: z.string() })),
    flagChange: FlagChangeSchema.nullable(),
    early: z.boolean(),
  })
  .openapi('RolloutMove');

/** What the kill switch answers: `ferry flag set KEY false --json`. */
export const KillResultSchema = z.object({ flag: z.string(), enabled: z.boolean(), percentage: z.number(), change: FlagChangeSchema }).openapi('KillResult');

const HealthPointSchema = z.object({ at: z.string(), requests: z.number(), errorRate: z.number().nullable(), p99Ms: z.number().nullable() });

/** GET …/health: `ferry health --json` (matrix and decision), the phase, and error rate / p99 per cohort over time. */
export const HealthDocumentSchema = z
  .object({
    matrix: z.record(z.string(), z.unknown()).openapi({ description: 'the decision matrix, as `ferry health --json` prints it' }),
    decision: z.object({ action: z.string(), reason: z.string(), down: z.boolean() }),
    phase: z.string().nullable(),
    series: z
      .object({
        flag: z.string(),
        source: z.literal('sdk'),
        window: z.object({ from: z.string(), to: z.string(), ms: z.number() }),
        stepMs: z.number(),
        cohorts: z.object({ new: z.array(HealthPointSchema), old: z.array(HealthPointSchema) }),
      })
      .nullable()
      .openapi({ description: 'charts from the SDK’s metrics; null for a Prometheus-sourced migration' }),
  })
  .openapi('HealthDocument');

const ApprovalSchema = z.object({ role: z.string(), by: z.string(), checksum: z.string(), at: z.string(), reason: z.string().nullable() });

/** GET …/approvals: the plan's roles and who approved the migration as its files are now. */
export const ApprovalsDocumentSchema = z
  .object({
    migrationId: z.string(),
    checksum: z.string(),
    required: z.array(z.string()),
    approved: z.array(ApprovalSchema),
    missing: z.array(z.string()),
    stale: z.array(ApprovalSchema),
    complete: z.boolean(),
  })
  .openapi('ApprovalsDocument');

/** What approving answers: `ferry approve --json`. */
export const ApproveResultSchema = z
  .object({
    migrationId: z.string(),
    approval: ApprovalSchema,
    phase: z.string(),
    moved: z.boolean(),
    missing: z.array(z.string()),
    approved: z.array(ApprovalSchema),
  })
  .openapi('ApproveResult');

export type BackfillActionInput = z.infer<typeof BackfillActionBody>;
export type RolloutAdvanceInput = z.infer<typeof RolloutAdvanceBody>;
export type RolloutSetInput = z.infer<typeof RolloutSetBody>;
export type ReasonInput = z.infer<typeof ReasonBody>;
export type ApproveInput = z.infer<typeof ApproveBody>;
