/**
 * Verification: is the migrated data what it should be?
 *
 * - {@link countRows}`(source, target, spec)` — row counts of two tables or queries.
 * - {@link diffRows}`(db, spec, { limit })` — two tables of one database joined on
 *   the key, mapped expressions compared: the first N differing keys with both
 *   values and the total.
 * - {@link checksum}`(source, target, spec, opts)` / {@link checksumTables}`(sourceDb, targetDb, spec, opts)` —
 *   both sides cut into the same key ranges (split points from the source, row-value
 *   bounds, text keys `COLLATE "C"`), each range's count and sum of 64-bit md5 row
 *   hashes computed inside its database, differing ranges bisected until small, then
 *   only keys and hashes fetched to name the differing rows (and only their values).
 *   Works across databases; `checksumTables` reads through {@link withSnapshot} and,
 *   with `runId`, records finished chunks in `ferry.verify_chunks` on the target.
 * - {@link sampleRows}`(source, target, spec, { size })` — N random source keys compared.
 * - {@link assertSchema}`(db, assertions)` — columns, indexes, constraints.
 *
 * Specs are typed (and parseable with the exported zod schemas); a `cohort`
 * limits a keyed check to a flag's rollout cohort via `ferry.bucket`. Every
 * result has `ok`, its figures, the differences and `stats` (queries, rows fetched).
 */
export { type ChecksumOptions, type ChecksumProgress, type ChecksumResult, type ChecksumRunOptions, checksum, checksumTables } from './checksum.js';
export { type CountResult, countRows } from './count.js';
export { countDataErrors, type DataErrorCount, type DataErrorSource, type TableDataErrors } from './data-errors.js';
export { type DiffOptions, type DiffResult, diffRows } from './diff.js';
export { fingerprint, type TableFingerprint } from './fingerprint.js';
export { normalised, rowHash, type ValueType } from './normalize.js';
export type { KeyValues, QueryStats, RowDifference, RowValues } from './result.js';
export { type SampleOptions, type SampleResult, sampleRows } from './sample.js';
export { type AssertionResult, assertSchema, type SchemaResult } from './schema.js';
export { type SnapshotMode, type SnapshotPair, withSnapshot } from './snapshot.js';
export {
  type Cohort,
  type ColumnMapping,
  type CountSide,
  type CountSpec,
  cohortSchema,
  columnMappingSchema,
  countSideSchema,
  countSpecSchema,
  type KeyedSpec,
  keyedSpecSchema,
  type SchemaAssertion,
  schemaAssertionSchema,
  type TableSide,
  tableSideSchema,
} from './spec.js';
export { dropRun, ensureVerifyState } from './state.js';
