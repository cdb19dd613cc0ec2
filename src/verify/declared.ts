import { createHash } from 'node:crypto';
import { z } from 'zod';
import { countSideSchema, keyedSpecSchema, schemaAssertionSchema, tableSideSchema } from './spec.js';

/** An environment of `ferry.config.json` a side is read from; absent means the migration's own database. */
const envField = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, 'must name an environment of ferry.config.json')
  .optional()
  .describe("An environment of ferry.config.json this side is read from; default the migration's own database.");

const checkName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "-" or "_" (at most 63), starting with a letter or digit');

/** A table side of a declared check, optionally in another environment. */
const tableSide = z.strictObject({ ...tableSideSchema.shape, env: envField });
/** A count side: a table or a query, optionally in another environment. */
const countSide = z.union([tableSide, z.strictObject({ ...countSideSchema.options[1].shape, env: envField })]);

/**
 * Which rollout cohort a check covers: `"current"` (the migration's flag at its
 * current percentage, units in the key column), or explicit fields (any left
 * out default the same way).
 */
export const declaredCohortSchema = z.union([
  z.literal('current'),
  z.strictObject({
    flag: z.string().min(1).optional().describe("The flag whose cohort is compared; default the manifest's `flag`."),
    unitColumn: z
      .string()
      .min(1)
      .optional()
      .describe('The column (same name on both sides) holding the unit id the flag buckets by; default the key when it is one column.'),
    percent: z
      .union([z.literal('current'), z.number().min(0).max(100)])
      .default('current')
      .describe('The cohort\'s percentage, or "current" (the rollout\'s current percentage).'),
  }),
]);
/** A cohort as declared in a manifest. */
export type DeclaredCohort = z.output<typeof declaredCohortSchema>;

const common = {
  name: checkName.describe("The check's name, unique in the migration (`ferry verify <id> --check NAME`)."),
  description: z.string().optional().describe('For humans: what the check proves.'),
};
const cohort = declaredCohortSchema
  .optional()
  .describe('Limit the check to the units of a rollout cohort: "current" (the manifest\'s flag at its current percentage) or {flag, unitColumn, percent}.');
const keyed = {
  ...common,
  source: tableSide.describe('The source table, optionally narrowed by `where`, in `env` when given.'),
  target: tableSide.describe('The target table, optionally narrowed by `where`, in `env` when given.'),
  key: keyedSpecSchema.shape.key,
  columns: keyedSpecSchema.shape.columns,
  cohort,
};

/** A check as declared in a manifest's `checks` (what `ferry verify --full` runs). */
export const declaredCheckSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...common,
    kind: z.literal('count').describe('"count": the row counts of both sides are equal.'),
    source: countSide.describe('A table {table, schema?, where?, env?} or a query {query, env?} whose rows are counted.'),
    target: countSide.describe('A table {table, schema?, where?, env?} or a query {query, env?} whose rows are counted.'),
    cohort,
  }),
  z.strictObject({
    ...keyed,
    kind: z.literal('diff').describe('"diff": join both tables of ONE database on the key and compare the columns row by row.'),
    limit: z.number().int().min(0).max(10_000).optional().describe('Differing keys reported with both values (all are counted); default 20.'),
  }),
  z.strictObject({
    ...keyed,
    kind: z.literal('checksum').describe('"checksum": hash key ranges inside each database (across databases too) and bisect the ranges that differ.'),
    chunkRows: z.number().int().min(1).optional().describe('Source rows per top-level chunk (the unit of progress and resume); default 10,000.'),
    maxDifferences: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .optional()
      .describe('Differences whose values are fetched and reported; more are only counted. Default 100.'),
  }),
  z.strictObject({
    ...common,
    kind: z.literal('schema').describe('"schema": assertions about the catalog of one database.'),
    env: envField.describe("The environment of ferry.config.json whose catalog is checked; default the migration's own database."),
    assertions: z
      .array(schemaAssertionSchema)
      .min(1, 'a schema check needs assertions')
      .describe(
        'Each {kind, …}: column-exists / column-gone {table, column}, index-valid {index}, constraint-validated {table, constraint}, no-invalid-constraints {table}; each with an optional schema.',
      ),
  }),
]);
/** One declared check. */
export type DeclaredCheck = z.output<typeof declaredCheckSchema>;
/** The kinds of check. */
export type CheckKind = DeclaredCheck['kind'];

/** The manifest's `checks` field: named checks, names unique. */
export const declaredChecksSchema = z.array(declaredCheckSchema).superRefine((checks, ctx) => {
  const seen = new Set<string>();
  checks.forEach((c, i) => {
    if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate check name "${c.name}"` });
    seen.add(c.name);
  });
});

/** The environments a check reads, by side (undefined: the migration's own database). */
export function envsOf(c: DeclaredCheck): { source: string | undefined; target: string | undefined } {
  if (c.kind === 'schema') return { source: c.env, target: c.env };
  return { source: c.source.env, target: c.target.env };
}

/** The unit column of a check's cohort: the declared one, or the key when it is a single column. */
export function unitColumnOf(c: DeclaredCheck, cohort: Exclude<DeclaredCohort, 'current'> | 'current'): string | undefined {
  if (cohort !== 'current' && cohort.unitColumn) return cohort.unitColumn;
  if (c.kind === 'diff' || c.kind === 'checksum') return c.key.length === 1 ? c.key[0] : undefined;
  return undefined;
}

/**
 * What the manifest's schema cannot say on its own: a cohort needs a flag and a
 * unit column, a count cohort needs table sides, a diff reads one database, and
 * every `env` names an environment of the project (when `environments` is known).
 * Returns `file: checks.N.field: message` lines.
 */
export function declaredCheckProblems(
  file: string,
  checks: readonly DeclaredCheck[],
  flag: string | undefined,
  environments: readonly string[] | undefined,
): string[] {
  const problems: string[] = [];
  checks.forEach((c, i) => {
    const at = (field: string, msg: string) => problems.push(`${file}: checks.${i}.${field}: ${msg}`);
    const envs = envsOf(c);
    if (environments) {
      for (const [side, env] of Object.entries(envs)) {
        if (env !== undefined && !environments.includes(env)) {
          at(c.kind === 'schema' ? 'env' : `${side}.env`, `no environment "${env}" in ferry.config.json (known: ${environments.join(', ') || 'none'})`);
          if (c.kind === 'schema') break;
        }
      }
    }
    if (c.kind === 'diff' && envs.source !== envs.target) {
      at('target.env', 'a diff joins two tables of ONE database; compare across databases with a "checksum" check');
    }
    if (c.kind === 'schema' || c.cohort === undefined) return;
    if (!(c.cohort !== 'current' && c.cohort.flag) && !flag) at('cohort', 'a cohort needs a flag: set the manifest\'s "flag" or "cohort.flag"');
    if (!unitColumnOf(c, c.cohort)) at('cohort.unitColumn', 'name the column holding the unit id the flag buckets by');
    if (c.kind === 'count' && ('query' in c.source || 'query' in c.target)) at('cohort', 'a cohort applies to table sides only, not to queries');
  });
  return problems;
}

/**
 * {@link declaredCheckProblems} for a manifest. `environments` are the environment names of the project's
 * ferry.config.json, passed in by whoever loaded the config; undefined leaves the `env` names unchecked.
 */
export function manifestCheckProblems(
  file: string,
  manifest: { checks: readonly DeclaredCheck[]; flag?: string | undefined },
  environments: readonly string[] | undefined,
): string[] {
  if (manifest.checks.length === 0) return [];
  return declaredCheckProblems(file, manifest.checks, manifest.flag, environments);
}

/** A stable hash of a check's declaration: a stored result counts for the gate only while the manifest still declares the same check. */
export function declarationHash(c: DeclaredCheck): string {
  return createHash('sha256').update(canonicalJson(c)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted, so equal declarations hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
