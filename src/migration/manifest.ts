import { z } from 'zod';
import { backfillStepSchema } from '../backfill/spec.js';
import { apiSchema } from '../compat/api/spec.js';
import { planSchema } from '../docs/plan-spec.js';
import { healthSchema } from '../health/config.js';
import { rolloutScheduleSchema } from '../rollout/schedule.js';
import { declaredChecksSchema } from '../verify/declared.js';

/** The kinds of change of the workflow, which set how careful the rollout must be. */
export const MIGRATION_TYPES = ['schema-additive', 'schema-destructive', 'data-format', 'api-breaking', 'system'] as const;
/** How the change reaches users. */
export const STRATEGIES = ['big-bang', 'incremental', 'blue-green', 'strangler-fig'] as const;

/** A migration's kind of change. */
export type MigrationType = (typeof MIGRATION_TYPES)[number];
/** A migration's rollout strategy. */
export type Strategy = (typeof STRATEGIES)[number];

const stepId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "-" or "_" (at most 63), starting with a letter or digit');
const stepIdField = stepId.describe(
  'Step id, unique in the migration: lowercase letters, digits, "-" or "_", at most 63, starting with a letter or digit. Names the step\'s files.',
);
const description = z.string().optional().describe('For humans: what the step does.');
const transaction = z
  .boolean()
  .default(true)
  .describe('False for statements PostgreSQL refuses inside a transaction block (CREATE INDEX CONCURRENTLY …); such a step holds exactly one statement.');
const irreversible = z.boolean().default(false).describe('The step cannot be undone: it needs no rollback, and `down` stops before it.');

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the migration folder');

const sqlStep = z.strictObject({
  id: stepIdField,
  kind: z.literal('sql').describe('"sql" (the default when `kind` is left out): SQL files forward, rollback, verify.'),
  description,
  transaction,
  forward: relPath.optional().describe('Forward SQL file, relative to the migration folder (no absolute path, no ".."); default `<id>.up.sql`.'),
  rollback: relPath.optional().describe('Rollback SQL file that undoes exactly the forward SQL; default `<id>.down.sql` (required unless `irreversible`).'),
  verify: relPath
    .optional()
    .describe('Verify SQL file: each query returns no rows, or rows whose first column is true; default `<id>.verify.sql` when present.'),
  cleanup: relPath
    .optional()
    .describe('Run before retrying a step outside a transaction that was interrupted (e.g. drop an INVALID index); default `<id>.cleanup.sql` when present.'),
  irreversible,
  phase: z
    .enum(['expand', 'contract'])
    .default('expand')
    .describe('"contract": a step that removes the old shape; `ferry up` leaves it to `ferry contract`, after verification, and it is never rolled back.'),
});

/**
 * A zero-downtime operation (`"op": "split-column"` …) with its own fields;
 * they are checked against the operation's schema when the migration loads.
 */
const opStep = z.looseObject({
  id: stepIdField,
  kind: z.literal('op').describe('"op": a zero-downtime operation; ferry generates its SQL, rollback and verify (docs/operations.md).'),
  op: z
    .string()
    .min(1)
    .describe(
      'The operation: add-column, drop-column, rename-column, split-column, merge-columns, change-type, alter-column, add-index, add-foreign-key, add-unique, add-primary-key, drop-constraint, rename-constraint, drop-index, set-replica-identity, create-table, rename-table, drop-table, create-enum, add-enum-value, create-type or raw-sql; its other fields are those of the operation (docs/operations.md).',
    ),
  description,
});

const tsStep = z.strictObject({
  id: stepIdField,
  kind: z.literal('ts').describe('"ts": a TypeScript or JavaScript module.'),
  description,
  transaction,
  module: relPath.describe('The .ts or .js module exporting `forward`, `rollback` and optionally `verify`, relative to the migration folder.'),
  irreversible,
});

/** Steps without a `kind` are SQL steps. */
function defaultKind(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !('kind' in v) ? { ...v, kind: 'sql' } : v;
}

/** The manifest schema: `migration.json` (or the default export of `migration.ts`). */
export const manifestSchema = z
  .strictObject({
    $schema: z
      .string()
      .optional()
      .describe('The JSON Schema of this file, for editors (`ferry schema --output migrations/migration.schema.json`); ignored by ferry.'),
    title: z.string().min(1, 'must not be empty').describe("Short name; stored with the migration's record in the database."),
    summary: z.string().min(1, 'must not be empty').describe('What changes, for whom, and why.'),
    type: z.enum(MIGRATION_TYPES).describe('The kind of change; the linter compares it with what the SQL does. Shown by `ferry status`.'),
    strategy: z.enum(STRATEGIES).describe('How the change reaches users. Shown by `ferry status` and the plan.'),
    flag: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'must be lowercase letters, digits, ".", "-" or "_"')
      .optional()
      .describe(
        'The feature flag that switches applications to the new path (lowercase letters, digits, ".", "-", "_"). `ferry rollout` moves it through the stages, `ferry health` compares its cohorts, checks with a cohort bucket by it; at contract it graduates (on for everyone) and cleanup leaves a graduated tombstone.',
      ),
    rollout: rolloutScheduleSchema.optional().describe("The flag's stage schedule (needs `flag`); default 5, 25, 50, 75, 100 %, each held 24 h."),
    health: healthSchema
      .optional()
      .describe(
        'Health gates of the rollout (needs `flag`): decision-matrix thresholds, evaluation interval and window, optional Prometheus source (`ferry health`, `ferry rollout <id> run`).',
      ),
    api: apiSchema
      .optional()
      .describe(
        'The HTTP API versions this migration changes (needs `flag`): how requests name a version, the deprecation timeline of the old ones (T+0 announce, T+30 d logs, T+60 d headers, T+90 d 410) counted from the day the flag reached 100 %, consumers allowed to stay longer, and the upgrade guide. Served by `ferry/compat`; read by `ferry consumers`, `ferry upgrade-guide` and cleanup.',
      ),
    lint: z
      .strictObject({
        disable: z.array(z.string().min(1)).default([]).describe('Rule names switched off for every statement of this migration.'),
        acknowledge: z
          .array(z.string().min(1))
          .default([])
          .describe('Error-level findings accepted after review, as `rule` or `step:rule`; `ferry up` refuses the others (exit 15).'),
      })
      .default({ disable: [], acknowledge: [] })
      .describe('Linter settings for this migration (`ferry lint`, docs/lint.md).'),
    checks: declaredChecksSchema
      .default([])
      .describe(
        "Data checks `ferry verify --full` runs (count, diff, checksum, schema), names unique. rolled-out → verified, and verified → contracted, need every check's latest result passing.",
      ),
    plan: planSchema
      .prefault({})
      .describe('The plan `ferry plan` renders: scope, timeline, risks, criteria, approving roles, deprecation period; every part defaulted.'),
    pointOfNoReturn: stepId.nullable().default(null).describe('A step id, or null. Once that step is applied, `down` will not undo it or anything before it.'),
    steps: z
      .array(z.preprocess(defaultKind, z.discriminatedUnion('kind', [sqlStep, tsStep, backfillStepSchema, opStep])))
      .min(1, 'a migration needs at least one step')
      .describe('The steps, in order; at least one, ids unique. A step without `kind` is an SQL step.'),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.steps.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'id'], message: `duplicate step id "${s.id}"` });
      seen.add(s.id);
    });
    if (m.rollout && !m.flag) ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a rollout schedule needs a "flag" to roll out' });
    if (m.api && !m.flag)
      ctx.addIssue({ code: 'custom', path: ['api'], message: 'an API section needs a "flag": its timeline counts from the day the flag reached 100 %' });
    if (m.health && !m.flag) ctx.addIssue({ code: 'custom', path: ['health'], message: 'health gates need a "flag" whose cohorts they compare' });
    if (m.pointOfNoReturn !== null && !seen.has(m.pointOfNoReturn)) {
      ctx.addIssue({ code: 'custom', path: ['pointOfNoReturn'], message: `names no step of this migration ("${m.pointOfNoReturn}")` });
    }
  });

/** A manifest as written by its author, before defaults. */
export type ManifestInput = z.input<typeof manifestSchema>;
/** A validated manifest with defaults filled in. */
export type Manifest = z.output<typeof manifestSchema>;
/** One validated step of a manifest. */
export type ManifestStep = Manifest['steps'][number];

/** Type helper for `migration.ts` manifests: `export default defineMigration({ … })`. */
export function defineMigration(m: ManifestInput): ManifestInput {
  return m;
}
