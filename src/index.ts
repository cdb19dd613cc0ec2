/**
 * ferry's library API: the same building blocks the CLI uses, for scripts and
 * tests that drive migrations from TypeScript.
 */
export { openConnection } from './db/connect.js';
export type { Database, DriverKind, Queryable, QueryResult } from './db/database.js';
export { openPglite } from './db/pglite.js';
export { quoteIdent, quoteLiteral, quoteQualified } from './db/quote.js';
export { openServer } from './db/server.js';
export { FerryError, type FerryErrorCode, isFerryError } from './errors.js';
export * from './health/index.js';
export { type LoadOptions, loadAll, loadMigration, type Migration, type Step } from './migration/loader.js';
export { defineMigration, type Manifest, type ManifestInput, MIGRATION_TYPES, STRATEGIES } from './migration/manifest.js';
export { ParseCache, projectParseCache } from './migration/parse-cache.js';
export { readEvents, readState } from './migration/state.js';
export type { StepContext, StepModule } from './migration/step-kinds.js';
export { OPERATIONS, type Operation, type OpPart, operationNamed } from './operations/index.js';
export { loadProject, resolveConnection } from './project/config.js';
export { baseline, type RunReport, type UpOptions, up } from './workflow/apply.js';
export { dataErrors } from './workflow/check-results.js';
export { runChecks } from './workflow/checks.js';
export { contract } from './workflow/contract.js';
export { type Acknowledgement, acknowledgeEdits, type Forgotten, forget } from './workflow/drift.js';
export type { ProgressEvent, RunOptions, StepReport } from './workflow/execute.js';
export { addGate, type Gate, type GateRefusal, PHASES, type Phase, TRANSITIONS, transition } from './workflow/lifecycle.js';
export type { Drift, DriftKind } from './workflow/plan-state.js';
export { type RehearsalReport, rehearse } from './workflow/rehearse.js';
export { type DownOptions, down } from './workflow/rollback.js';
export { migrationStatus } from './workflow/status.js';
export { verifyMigrations } from './workflow/verify.js';
