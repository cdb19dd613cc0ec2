import { z } from '@hono/zod-openapi';
import { isMigrationReference, MIGRATION_ID_RULE } from '../../migration/ids.js';
import { DOCUMENT_KINDS } from '../../workflow/documents.js';

// The documents the read side of the API answers with, as zod schemas: the OpenAPI document is generated
// from them, and documents.ts types its builders by them, so the two cannot drift apart.

const iso = z.string().openapi({ format: 'date-time' });

/** A table-level lock one statement takes (from PostgreSQL's parse of it). */
export const LockSchema = z
  .object({
    relation: z.string(),
    mode: z.string().openapi({ description: 'PostgreSQL lock mode, e.g. AccessExclusiveLock' }),
    blocks: z.string().openapi({ description: 'what other sessions cannot do meanwhile' }),
    why: z.string().openapi({ description: 'which part of the statement takes it' }),
  })
  .openapi('Lock');

/** The eight workflow steps with the current one. */
export const LadderSchema = z
  .object({
    current: z.number().int().min(1).max(8).nullable().openapi({ description: 'the workflow step (1–8) the migration is at; null when rolled back' }),
    rungs: z.array(z.object({ step: z.number().int(), name: z.string(), state: z.enum(['done', 'current', 'todo']) })),
  })
  .openapi('Ladder');

/** One row of the overview. */
export const OverviewRowSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    type: z.string(),
    strategy: z.string(),
    risk: z.enum(['low', 'medium', 'high', 'critical']).openapi({ description: 'as the linter infers it from the statements' }),
    inferredType: z.string(),
    phase: z.string().nullable().openapi({ description: 'lifecycle phase; null when the database never saw the migration (planned)' }),
    ladder: LadderSchema,
    steps: z.object({ applied: z.number().int(), total: z.number().int() }),
    flag: z
      .object({
        key: z.string(),
        stored: z.boolean(),
        enabled: z.boolean(),
        percentage: z.number(),
        effectivePercentage: z.number(),
        graduated: z.boolean(),
      })
      .nullable(),
    health: z
      .object({ colour: z.enum(['green', 'yellow', 'red', 'no-data']), state: z.string(), at: iso })
      .nullable()
      .openapi({ description: "the rollout controller's last colour; null before any controller judged" }),
    backfills: z.array(z.object({ stepId: z.string(), state: z.string(), rowsDone: z.number(), rowsTotal: z.number() })),
    verify: z.object({
      state: z.enum(['passed', 'failed', 'never-ran', 'partial', 'none']),
      passed: z.number().int(),
      failed: z.number().int(),
      pending: z.number().int(),
      dataErrors: z.number().int(),
    }),
    drift: z.number().int(),
    active: z.boolean(),
    archived: z.boolean(),
  })
  .openapi('OverviewRow');

/** The overview: every migration, archived ones last. */
export const OverviewSchema = z
  .object({
    env: z.string(),
    migrations: z.array(OverviewRowSchema),
    orphanDrift: z.number().int().openapi({ description: 'drift recorded for migrations without a folder' }),
  })
  .openapi('Overview');

const DriftSchema = z
  .object({ migrationId: z.string(), stepId: z.string().optional(), kind: z.string(), problem: z.string(), acknowledgeable: z.boolean() })
  .openapi('Drift');

/** The pacer's latest decision for a backfill (docs/backfill.md, "Pacing by measured impact"). */
const PacingSchema = z
  .object({
    state: z.enum(['full', 'paced', 'minimum']),
    dutyCycle: z.number().describe('Fraction of wall time spent in batches; 1 never pauses.'),
    batchMs: z.number(),
    budget: z.number().nullable().describe('How much the p99 may rise, as a fraction; null when unlimited.'),
    impact: z.number().nullable().describe('The p99 rise measured over the last window; null when nothing is measured.'),
    reason: z.string(),
    rowsPerSec: z.number(),
    pausedMs: z.number(),
  })
  .openapi('BackfillPacing');

/** A backfill step's progress (`ferry backfill --status --json`). */
export const BackfillProgressSchema = z
  .object({
    migrationId: z.string(),
    stepId: z.string(),
    state: z.enum(['pending', 'running', 'paused', 'cancelled', 'done', 'failed']),
    rowsDone: z.number(),
    rowsTotal: z.number(),
    ratePerSec: z.number(),
    etaSeconds: z.number().nullable(),
    batchSize: z.number(),
    lastBatchMs: z.number(),
    longestBatchMs: z.number(),
    batches: z.number(),
    retries: z.number(),
    throttledBy: z.string().nullable(),
    pacing: PacingSchema.nullable(),
    rangesDone: z.number(),
    rangesTotal: z.number(),
    workers: z.number(),
    updatedAt: z.string(),
  })
  .openapi('BackfillProgress');

const CheckResultSchema = z
  .object({
    migrationId: z.string(),
    check: z.string(),
    kind: z.string(),
    mode: z.enum(['full', 'sample']),
    ok: z.boolean(),
    figures: z.record(z.string(), z.unknown()),
    differences: z.array(z.unknown()),
    dataErrors: z.number(),
    error: z.string().nullable(),
    declaration: z.string(),
    runId: z.string().nullable(),
    startedAt: iso,
    finishedAt: iso,
    by: z.string(),
  })
  .openapi('CheckResult');

/** One migration of `ferry status --json`. */
export const MigrationStatusSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    type: z.string(),
    strategy: z.string(),
    phase: z.string().nullable(),
    steps: z.array(z.object({ id: z.string(), applied: z.boolean(), appliedAt: iso.nullable(), baseline: z.boolean(), phase: z.enum(['expand', 'contract']) })),
    appliedCount: z.number().int(),
    pendingCount: z.number().int(),
    contractPendingCount: z.number().int(),
    pointOfNoReturn: z.string().nullable(),
    drift: z.array(DriftSchema),
    backfills: z.array(BackfillProgressSchema),
    checks: z.array(CheckResultSchema),
    checksPending: z.array(z.string()),
    dataErrors: z.number().int(),
    guidance: z.object({ phase: z.string(), now: z.string(), apps: z.string(), nextGate: z.string(), before: z.string() }),
  })
  .openapi('MigrationStatus');

/** `ferry status --json`. */
export const StatusSchema = z.object({ migrations: z.array(MigrationStatusSchema), drift: z.array(DriftSchema) }).openapi('Status');

/** An event of the log, as `ferry log --json` prints it. */
export const EventSchema = z
  .object({
    id: z.number().int(),
    migrationId: z.string(),
    at: iso,
    actor: z.string(),
    kind: z.string().openapi({ description: 'transition, step, flag, approval …' }),
    fromPhase: z.string().nullable(),
    toPhase: z.string().nullable(),
    stepId: z.string().nullable(),
    reason: z.string().nullable(),
    details: z.unknown(),
  })
  .openapi('Event');

/** A migration's event log, oldest first (`ferry log <id> --json`). */
export const EventsSchema = z.object({ events: z.array(EventSchema) }).openapi('Events');

const ScriptSchema = z
  .object({
    file: z.string(),
    text: z.string(),
    statements: z.array(z.object({ line: z.number().int(), text: z.string(), locks: z.array(LockSchema) })),
  })
  .openapi('StepScript');

/** A step with its SQL, rollback and verify, the locks it takes and when it was applied. */
export const StepDetailSchema = z
  .object({
    id: z.string(),
    index: z.number().int(),
    kind: z.enum(['sql', 'ts', 'backfill']),
    phase: z.enum(['expand', 'contract']),
    description: z.string().nullable(),
    operation: z.object({ op: z.string(), part: z.string(), step: z.string().nullable() }).nullable(),
    transaction: z.boolean(),
    irreversible: z.boolean(),
    forward: ScriptSchema.nullable(),
    rollback: ScriptSchema.nullable(),
    verify: ScriptSchema.nullable(),
    module: z.string().nullable(),
    backfill: z
      .object({
        table: z.string(),
        key: z.array(z.string()).nullable(),
        set: z.record(z.string(), z.string()).nullable(),
        where: z.string(),
        rollback: z.record(z.string(), z.string()).nullable(),
      })
      .nullable(),
    locks: z.array(LockSchema),
    findings: z.array(z.object({ rule: z.string(), severity: z.string(), status: z.string(), line: z.number().int(), message: z.string(), fix: z.string() })),
    applied: z.boolean(),
    appliedAt: iso.nullable(),
    appliedBy: z.string().nullable(),
    durationMs: z.number().nullable(),
    baseline: z.boolean(),
  })
  .openapi('StepDetail');

/** A migration's page: its overview row, its status, its timeline and its steps. */
export const MigrationDetailSchema = z
  .object({
    migration: OverviewRowSchema,
    status: MigrationStatusSchema,
    timeline: z.array(EventSchema),
    steps: z.array(StepDetailSchema),
  })
  .openapi('MigrationDetail');

const RowValuesSchema = z.record(z.string(), z.string().nullable()).nullable();

/** The latest result of each declared check, with the differing keys and both values. */
export const VerifySchema = z
  .object({
    migrationId: z.string(),
    checks: z.array(
      z.object({
        check: z.string(),
        kind: z.string(),
        ran: z.boolean(),
        current: z.boolean().openapi({ description: 'false: the check was edited since this result' }),
        ok: z.boolean().nullable(),
        mode: z.enum(['full', 'sample']).nullable(),
        figures: z.record(z.string(), z.unknown()),
        dataErrors: z.number(),
        error: z.string().nullable(),
        rows: z.array(
          z.object({
            kind: z.enum(['missing', 'extra', 'changed']),
            key: z.record(z.string(), z.string()),
            columns: z.array(z.string()),
            source: RowValuesSchema,
            target: RowValuesSchema,
          }),
        ),
        other: z.array(z.unknown()).openapi({ description: 'failed schema assertions and other differences as stored' }),
        startedAt: iso.nullable(),
        finishedAt: iso.nullable(),
        by: z.string().nullable(),
      }),
    ),
    pending: z.array(z.string()),
    dataErrors: z.object({
      total: z.number(),
      perCheckSum: z.number(),
      tables: z.array(
        z.object({ table: z.string(), distinct: z.number(), exact: z.boolean(), checks: z.array(z.object({ check: z.string(), dataErrors: z.number() })) }),
      ),
    }),
  })
  .openapi('VerifyResults');

/** A rendered Markdown document, as `ferry <kind> <id> --json` prints it. */
export const MarkdownSchema = z.object({ migrationId: z.string(), document: z.enum(DOCUMENT_KINDS), markdown: z.string() }).openapi('RenderedDocument');

/** The migration in a path: its whole id or its name, by the CLI's rule (E_USAGE otherwise). */
export const MigrationIdParam = z
  .string()
  .refine(isMigrationReference, { message: `not a migration id or name: ${MIGRATION_ID_RULE}` })
  .openapi({
    param: { name: 'id', in: 'path' },
    description: 'the migration id (e.g. 20261127093000_split_full_name) or its name without the timestamp',
    pattern: '^[a-z0-9][a-z0-9_-]*$',
    maxLength: 78,
    example: 'split_full_name',
  });
