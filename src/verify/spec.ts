import { z } from 'zod';

/** A table on one side of a comparison, optionally narrowed by the user's own SQL condition. */
export const tableSideSchema = z.object({
  table: z.string().min(1).describe('The table.'),
  schema: z.string().min(1).optional().describe("The table's schema; default the search path (public)."),
  where: z.string().min(1).optional().describe("An SQL condition over the table's columns that narrows the rows compared (e.g. `deleted_at IS NULL`)."),
});
/** A table on one side of a comparison. */
export type TableSide = z.infer<typeof tableSideSchema>;

/**
 * One compared column: a name, or a name with SQL expressions per side
 * (e.g. source `split_part(full_name, ' ', 1)` vs target `first_name`).
 * An omitted expression means the column of that name.
 */
export const columnMappingSchema = z.union([
  z.string().min(1),
  z.object({
    name: z.string().min(1).describe("The compared column's name in reports (and the column of both sides unless an expression is given)."),
    source: z.string().min(1).optional().describe('SQL expression on the source side; default the column `name`.'),
    target: z.string().min(1).optional().describe('SQL expression on the target side; default the column `name`.'),
  }),
]);
/** One compared column, by name or by per-side expressions. */
export type ColumnMapping = z.infer<typeof columnMappingSchema>;

/**
 * Limit a check to the units inside a flag's rollout cohort: `ferry.bucket(flag, unit) < percent × 100`, plus the
 * flag's `include` units (while the percentage is above 0, as the SDK does), minus its `exclude` units (never in).
 */
export const cohortSchema = z.object({
  flag: z.string().min(1),
  /** The column (same name on both sides) holding the unit id the flag buckets by. */
  unitColumn: z.string().min(1),
  percent: z.number().min(0).max(100),
  /** Units in the cohort whatever their bucket (the flag's include list). */
  include: z.array(z.string()).optional(),
  /** Units never in the cohort (the flag's exclude list). */
  exclude: z.array(z.string()).optional(),
});
/** A rollout cohort filter. */
export type Cohort = z.infer<typeof cohortSchema>;

/** A keyed comparison of two tables: checksum, diff and sample all take this. */
export const keyedSpecSchema = z.object({
  source: tableSideSchema,
  target: tableSideSchema,
  key: z.array(z.string().min(1)).min(1).describe('Key columns, the same names on both sides; together unique on each side.'),
  columns: z
    .array(columnMappingSchema)
    .describe('Compared columns, in order (the key is always compared too): a name, or {name, source, target} with an SQL expression per side.'),
  cohort: cohortSchema.optional(),
});
/** A keyed comparison of two tables. */
export type KeyedSpec = z.infer<typeof keyedSpecSchema>;

/** One side of a count: a (filtered) table or an SQL query whose rows are counted. */
export const countSideSchema = z.union([tableSideSchema, z.object({ query: z.string().min(1).describe('An SQL query whose rows are counted.') })]);
/** One side of a count. */
export type CountSide = z.infer<typeof countSideSchema>;

/** Row counts of two sides must be equal. A cohort applies to table sides only. */
export const countSpecSchema = z.object({ source: countSideSchema, target: countSideSchema, cohort: cohortSchema.optional() });
/** A count check. */
export type CountSpec = z.infer<typeof countSpecSchema>;

const assertionSchema = z.string().optional().describe("The object's schema; default the search path (public).");
const assertionTable = z.string().min(1).describe('The table.');
const assertionColumn = z.string().min(1).describe('The column.');

/** A schema assertion checked against the catalog of one database. */
export const schemaAssertionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('column-exists').describe('The column exists.'), schema: assertionSchema, table: assertionTable, column: assertionColumn }),
  z.object({
    kind: z.literal('column-gone').describe('The column no longer exists.'),
    schema: assertionSchema,
    table: assertionTable,
    column: assertionColumn,
  }),
  z.object({
    kind: z.literal('index-valid').describe('The index exists and is valid (usable by the planner).'),
    schema: assertionSchema,
    index: z.string().min(1).describe('The index.'),
  }),
  z.object({
    kind: z.literal('constraint-validated').describe('The constraint exists and is validated.'),
    schema: assertionSchema,
    table: assertionTable,
    constraint: z.string().min(1).describe('The constraint.'),
  }),
  z.object({ kind: z.literal('no-invalid-constraints').describe('No constraint of the table is NOT VALID.'), schema: assertionSchema, table: assertionTable }),
]);
/** A schema assertion. */
export type SchemaAssertion = z.infer<typeof schemaAssertionSchema>;

/** A compared column with its name and the SQL expression of each side. */
export interface ResolvedColumn {
  name: string;
  source: string;
  target: string;
}
