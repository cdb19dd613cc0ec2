import { z } from 'zod';
import { backfillStepSchema } from '../backfill/spec.js';
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

const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the migration folder');

const sqlStep = z.strictObject({
  id: stepId,
  kind: z.literal('sql'),
  description: z.string().optional(),
  /** False for statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY …). */
  transaction: z.boolean().default(true),
  /** Files, relative to the migration folder; default `<id>.up.sql`, `<id>.down.sql`, `<id>.verify.sql`. */
  forward: relPath.optional(),
  rollback: relPath.optional(),
  verify: relPath.optional(),
  /** Run before retrying a non-transactional step that was interrupted; default `<id>.cleanup.sql` when present. */
  cleanup: relPath.optional(),
  /** A step that cannot be undone has no rollback file; `down` stops before it. */
  irreversible: z.boolean().default(false),
  /** `contract`: a cleanup step that removes the old shape; `up` leaves it to `ferry contract`, after verification. */
  phase: z.enum(['expand', 'contract']).default('expand'),
});

/**
 * A zero-downtime operation (`"op": "split-column"` …) with its own fields;
 * they are checked against the operation's schema when the migration loads.
 */
const opStep = z.looseObject({
  id: stepId,
  kind: z.literal('op'),
  op: z.string().min(1),
  description: z.string().optional(),
});

const tsStep = z.strictObject({
  id: stepId,
  kind: z.literal('ts'),
  description: z.string().optional(),
  transaction: z.boolean().default(true),
  /** A TypeScript or JavaScript module exporting `forward`, `rollback` and optionally `verify`. */
  module: relPath,
  irreversible: z.boolean().default(false),
});

/** Steps without a `kind` are SQL steps. */
function defaultKind(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !('kind' in v) ? { ...v, kind: 'sql' } : v;
}

/** The manifest schema: `migration.json` (or the default export of `migration.ts`). */
export const manifestSchema = z
  .strictObject({
    $schema: z.string().optional(),
    title: z.string().min(1, 'must not be empty'),
    summary: z.string().min(1, 'must not be empty'),
    type: z.enum(MIGRATION_TYPES),
    strategy: z.enum(STRATEGIES),
    /** The feature flag that switches applications to the new path. */
    flag: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'must be lowercase letters, digits, ".", "-" or "_"')
      .optional(),
    /** The flag's stage schedule; default 5, 25, 50, 75, 100 %, each held 24 h. */
    rollout: rolloutScheduleSchema.optional(),
    /** Health gates of the rollout: matrix thresholds, evaluation interval and window, optional Prometheus source (`ferry health`, `ferry rollout run`). */
    health: healthSchema.optional(),
    /** Linter settings for this migration (see `ferry lint`). */
    lint: z
      .strictObject({
        /** Rules switched off for every statement of this migration. */
        disable: z.array(z.string().min(1)).default([]),
        /** Error-level findings accepted after review, as `rule` or `step:rule`; `ferry up` refuses the others. */
        acknowledge: z.array(z.string().min(1)).default([]),
      })
      .default({ disable: [], acknowledge: [] }),
    /** Data checks `ferry verify --full` runs (count, diff, checksum, schema); rolled-out → verified needs all of them passing. */
    checks: declaredChecksSchema.default([]),
    /** The plan `ferry plan` renders: scope, timeline, risks, criteria, approving roles, deprecation period (all defaulted). */
    plan: planSchema.prefault({}),
    /** The step after which `down` can no longer undo the migration. */
    pointOfNoReturn: stepId.nullable().default(null),
    steps: z
      .array(z.preprocess(defaultKind, z.discriminatedUnion('kind', [sqlStep, tsStep, backfillStepSchema, opStep])))
      .min(1, 'a migration needs at least one step'),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.steps.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['steps', i, 'id'], message: `duplicate step id "${s.id}"` });
      seen.add(s.id);
    });
    if (m.rollout && !m.flag) ctx.addIssue({ code: 'custom', path: ['rollout'], message: 'a rollout schedule needs a "flag" to roll out' });
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
