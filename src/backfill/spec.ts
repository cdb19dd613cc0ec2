import { z } from 'zod';

const ident = z.string().min(1).max(63);

/**
 * A backfill step in a manifest: fill existing rows of `table` in keyset
 * batches, either with SQL expressions (`set`) or a TypeScript `transform`,
 * until no row matches `where` (the predicate for rows still to do).
 */
export const backfillStepSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "-" or "_" (at most 63), starting with a letter or digit'),
    kind: z.literal('backfill'),
    description: z.string().optional(),
    /** Table to fill: `users` or `schema.users`. */
    table: z.string().regex(/^[^.\s]+(\.[^.\s]+)?$/, 'must be a table name, optionally schema-qualified (schema.table)'),
    /** Key columns to walk in order (never OFFSET); default: the table's primary key. */
    key: z.array(ident).min(1).optional(),
    /** Column → SQL expression over the row's current columns, e.g. `{"first_name": "split_part(full_name, ' ', 1)"}`. */
    set: z.record(ident, z.string().min(1)).optional(),
    /** A TypeScript/JavaScript module exporting `transform(row)` → the new column values; instead of `set`. */
    module: z.string().min(1).optional(),
    /** SQL predicate true for rows still to do, e.g. `first_name IS NULL`. */
    where: z.string().min(1),
    /** Column → SQL expression that undoes the fill on `down` (e.g. NULL); without it, down leaves the values. */
    rollback: z.record(ident, z.string().min(1)).optional(),
    /** Batch size adapted toward `targetBatchMs`, within [min, max]. */
    batchSize: z
      .strictObject({ initial: z.number().int().min(1).default(1000), min: z.number().int().min(1).default(100), max: z.number().int().min(1).default(50_000) })
      .default({ initial: 1000, min: 100, max: 50_000 }),
    targetBatchMs: z.number().int().min(1).default(200),
    /** Sleep this fraction of each batch's duration between batches. */
    sleepRatio: z.number().min(0).max(100).default(0.2),
    /** Health thresholds; crossing one backs off (see docs). */
    throttle: z
      .strictObject({
        maxLockWaiters: z.number().int().min(0).default(0),
        maxXminAgeSeconds: z.number().min(0).default(300),
        maxReplayLagSeconds: z.number().min(0).default(10),
        maxWalBytesPerSecond: z
          .number()
          .min(0)
          .default(64 * 1024 * 1024),
        /** Back off when a batch takes this many times the recent median. */
        latencyTrendFactor: z.number().min(1).default(3),
        pauseOnAutovacuum: z.boolean().default(true),
      })
      .default({
        maxLockWaiters: 0,
        maxXminAgeSeconds: 300,
        maxReplayLagSeconds: 10,
        maxWalBytesPerSecond: 64 * 1024 * 1024,
        latencyTrendFactor: 3,
        pauseOnAutovacuum: true,
      }),
    /** Key ranges for parallel workers. */
    ranges: z.number().int().min(1).max(1024).default(16),
    transaction: z.literal(true).default(true),
    irreversible: z.boolean().default(false),
  })
  .refine((s) => (s.set === undefined) !== (s.module === undefined), {
    message: 'give either set (SQL expressions) or module (a TypeScript transform), not both',
    path: ['set'],
  })
  .refine((s) => s.batchSize.min <= s.batchSize.max, { message: 'batchSize.min must not exceed batchSize.max', path: ['batchSize'] });

/** A validated backfill step of a manifest. */
export type BackfillStepSpec = z.output<typeof backfillStepSchema>;
