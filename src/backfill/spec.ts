import { z } from 'zod';

const ident = z.string().min(1).max(63);

/**
 * A backfill step in a manifest: fill existing rows of `table` in keyset
 * batches, either with SQL expressions (`set`) or a TypeScript `transform`,
 * until no row matches `where` (the predicate for rows still to do).
 */
export const backfillStepSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "-" or "_" (at most 63), starting with a letter or digit')
      .describe('Step id, unique in the migration: lowercase letters, digits, "-" or "_", at most 63, starting with a letter or digit.'),
    kind: z.literal('backfill').describe('"backfill": fill existing rows in keyset batches beside live traffic (docs/backfill.md).'),
    description: z.string().optional().describe('For humans: what the step does.'),
    table: z
      .string()
      .regex(/^[^.\s]+(\.[^.\s]+)?$/, 'must be a table name, optionally schema-qualified (schema.table)')
      .describe('Table to fill: `users` or `schema.users`.'),
    key: z.array(ident).min(1).optional().describe("Key columns walked in order (never OFFSET); default the table's primary key, else a unique NOT NULL key."),
    set: z
      .record(ident, z.string().min(1))
      .optional()
      .describe('Column → SQL expression over the row\'s current columns, e.g. {"first_name": "split_part(full_name, \' \', 1)"}; give `set` or `module`.'),
    module: z.string().min(1).optional().describe('A TypeScript/JavaScript module exporting `transform(row)` → the new column values; instead of `set`.'),
    where: z.string().min(1).describe('SQL predicate true for rows still to do, e.g. `first_name IS NULL`; the backfill ends when no row matches.'),
    rollback: z
      .record(ident, z.string().min(1))
      .optional()
      .describe('Column → SQL expression that undoes the fill on `down` (e.g. NULL); without it, down leaves the values.'),
    batchSize: z
      .strictObject({
        initial: z.number().int().min(1).default(1000).describe('Rows in the first batch.'),
        min: z.number().int().min(1).default(100).describe('Smallest batch.'),
        max: z.number().int().min(1).default(50_000).describe('Largest batch.'),
      })
      .default({ initial: 1000, min: 100, max: 50_000 })
      .describe('Batch size, adapted toward `targetBatchMs` within [min, max].'),
    targetBatchMs: z.number().int().min(1).default(200).describe('How long one batch should take, in milliseconds.'),
    sleepRatio: z
      .number()
      .min(0)
      .max(100)
      .default(0)
      .describe("Sleep at least this fraction of each batch's duration between batches; the pacer decides the rest (`impact`)."),
    impact: z
      .strictObject({
        p99Increase: z
          .union([z.number().min(0.001).max(100), z.literal('unlimited'), z.null()])
          .default(0.1)
          .describe(
            'How much the rest of the database\'s p99 latency may rise while the backfill runs, as a fraction (0.1 = +10 %); "unlimited" or null: do not pace.',
          ),
        minDutyCycle: z
          .number()
          .min(0.001)
          .max(1)
          .default(0.05)
          .describe('The floor: the least fraction of wall time spent in batches; a budget not met there is reported, the backfill keeps going.'),
      })
      .default({ p99Increase: 0.1, minDutyCycle: 0.05 })
      .describe('The latency budget the backfill paces itself by, measured while it runs (docs/backfill.md).'),
    throttle: z
      .strictObject({
        maxLockWaiters: z.number().int().min(0).default(0).describe('Back off while more sessions than this wait for a lock on the table.'),
        maxXminAgeSeconds: z.number().min(0).default(300).describe('Back off while the oldest transaction is older than this (seconds).'),
        maxReplayLagSeconds: z.number().min(0).default(10).describe('Back off while a replica lags more than this (seconds).'),
        maxWalBytesPerSecond: z
          .number()
          .min(0)
          .default(64 * 1024 * 1024)
          .describe('Back off while WAL is written faster than this (bytes per second).'),
        latencyTrendFactor: z.number().min(1).default(3).describe('Back off when a batch takes this many times the recent median.'),
        pauseOnAutovacuum: z.boolean().default(true).describe('Back off while a vacuum (autovacuum or manual) runs on the table.'),
      })
      .default({
        maxLockWaiters: 0,
        maxXminAgeSeconds: 300,
        maxReplayLagSeconds: 10,
        maxWalBytesPerSecond: 64 * 1024 * 1024,
        latencyTrendFactor: 3,
        pauseOnAutovacuum: true,
      })
      .describe('Live health thresholds; crossing one backs the backfill off (docs/backfill.md).'),
    ranges: z.number().int().min(1).max(1024).default(16).describe('Key ranges the table is split into for parallel workers.'),
    transaction: z.literal(true).default(true).describe('Always true: each batch is one short transaction with its checkpoint.'),
    irreversible: z.boolean().default(false).describe('The fill cannot be undone; `down` stops before it.'),
  })
  .refine((s) => (s.set === undefined) !== (s.module === undefined), {
    message: 'give either set (SQL expressions) or module (a TypeScript transform), not both',
    path: ['set'],
  })
  .refine((s) => s.batchSize.min <= s.batchSize.max, { message: 'batchSize.min must not exceed batchSize.max', path: ['batchSize'] });

/** A validated backfill step of a manifest. */
export type BackfillStepSpec = z.output<typeof backfillStepSchema>;

/**
 * `spec` as a ferry before pacing read the same manifest step: no `impact`, and
 * `sleepRatio` 0.2 unless its author wrote one. A step recorded that way was not
 * edited: only ferry's defaults are new (src/migration/definition.ts, `previous`).
 */
export function unpacedBackfillSpec<S extends BackfillStepSpec>(spec: S, sleepRatioWritten: boolean): Omit<S, 'impact'> {
  const { impact: _impact, ...earlier } = spec;
  // Assigning an existing key keeps its place, so the JSON the checksum hashes is key for key the earlier one.
  return sleepRatioWritten ? earlier : { ...earlier, sleepRatio: 0.2 };
}
