/**
 * ferry's library API: the same building blocks the CLI uses, for scripts and
 * tests that drive migrations from TypeScript.
 */
export type { BackfillBatch, BatchPoint } from './backfill/index.js';
export { renderAnnotations } from './check/annotations.js';
export { renderSarif } from './check/sarif.js';
export { renderSummary } from './check/summary.js';
export { type DatabaseTarget, openConnection } from './db/connect.js';
export type { Database, DriverKind, Queryable, QueryResult } from './db/database.js';
export { openPglite } from './db/pglite.js';
export { quoteIdent, quoteLiteral, quoteQualified } from './db/quote.js';
export { type CopiedTable, copyRows, type SampleSize } from './db/sample-copy.js';
export { openServer } from './db/server.js';
export type { GuideExample, UpgradeGuideInput } from './docs/upgrade-guide.js';
export { FerryError, type FerryErrorCode, isFerryError } from './errors.js';
export * from './health/index.js';
export { IMPORT_TOOLS, type ImportTool } from './import/types.js';
export { type Finding, type LintReport, lintMigration, lintSql } from './lint/index.js';
export { configJsonSchema, type JsonSchema, manifestJsonSchema } from './migration/json-schema.js';
export { type LoadOptions, loadAll, loadMigration, type Migration, type Step } from './migration/loader.js';
export { defineMigration, type Manifest, type ManifestInput, MIGRATION_TYPES, STRATEGIES } from './migration/manifest.js';
export { ParseCache, projectParseCache } from './migration/parse-cache.js';
export type { StepContext, StepModule } from './migration/step-runners.js';
export { droppedByStatements, OPERATIONS, type Operation, type OpPart, operationNamed, type RollbackLoss } from './operations/index.js';
export { type Connection, type FleetConfig, loadProject, type Project, resolveConnection } from './project/config.js';
export { initProject, type NewMigrationOptions, newMigration, writeSchema } from './project/scaffold.js';
export { closeTicket, createTicket, listTickets } from './project/tickets.js';
export { readEvents, readState } from './state/store.js';
export { countDataErrors, type DataErrorCount, type DataErrorSource } from './verify/data-errors.js';
export { APP_GUIDANCE, type AppGuidance, guidanceFor, guidanceOf, TRANSITION_GUIDE, type TransitionGuide } from './workflow/app-guidance.js';
export { type AppShape, appShape } from './workflow/app-shape.js';
export { baseline, type RunReport, type UpOptions, up } from './workflow/apply.js';
export { type Approval, type ApprovalStatus, approvalStatus } from './workflow/approvals.js';
export { type ApproveOptions, type ApproveResult, approve, checkRole } from './workflow/approve.js';
export {
  BACKFILL_HISTORY_POINTS,
  type BackfillOptions,
  type BackfillResult,
  type BackfillStepHistory,
  backfill,
  backfillHistory,
  backfillStatus,
  backfillSteps,
  controlBackfills,
  type JoinOptions,
  joinBackfill,
} from './workflow/backfill.js';
export { backup, backupTargets, type DumpAccess, type RestoreReport, restore, type TakeBackupOptions, type TakenBackup } from './workflow/backup.js';
export { dataErrors } from './workflow/check-store.js';
export { type CleanupOptions, type CleanupReport, cleanup } from './workflow/cleanup.js';
export {
  type ApiTrafficDetails,
  apiConsumers,
  type ConsumersReport,
  type ConsumerUse,
} from './workflow/consumers.js';
export { type ContractOptions, type ContractReport, contract, recentBackup } from './workflow/contract.js';
export { type CrossingVerdict, crossingGates, unresolvedRollback } from './workflow/crossing.js';
export {
  archivedIds,
  archivedMigrations,
  type CheckEntry,
  type Ladder,
  type LadderRung,
  ladderOf,
  type MigrationDetail,
  migrationDetail,
  migrationOverview,
  type Overview,
  type OverviewFlag,
  type OverviewRow,
  PHASE_STEP,
  type StepDetail,
  type StepScript,
  type TimelineEvent,
  timelineEvent,
  type VerifyResults,
  type VerifyState,
  verifyResults,
  WORKFLOW_STEPS,
} from './workflow/dashboard.js';
export { countRollbackLoss, type LossCount, lossName, refuseDataLoss, stepRollbackLoss } from './workflow/data-loss.js';
export { DOCUMENT_KINDS, type DocumentKind, type RenderedDocument, renderDocument } from './workflow/documents.js';
export { type Acknowledgement, acknowledgeEdits, type Forgotten, forget } from './workflow/drift.js';
export { openEnvironment } from './workflow/environments.js';
export type { ProgressEvent, RunOptions, StepReport } from './workflow/execute.js';
export { type FlagLookup, type FlagOptions, flagList, lookupFlag, removeFlag, setFlag } from './workflow/flags.js';
export {
  type FleetApproval,
  type FleetApproveArgs,
  type FleetApproveReport,
  type FleetArgs,
  type FleetDatabaseStatus,
  type FleetEvent,
  type FleetOptions,
  type FleetRunOptions,
  type FleetRunReport,
  type FleetStatus,
  fleetAbandon,
  fleetApprove,
  fleetInit,
  fleetRun,
  fleetStatus,
  isFleet,
} from './workflow/fleet.js';
export {
  HEALTH_SERIES_POINTS,
  type HealthReport,
  type HealthReportOptions,
  healthReport,
  healthSeries,
  type MetricSourceKind,
  metricSourceOf,
  type RolloutRunOptions,
  runRollout,
} from './workflow/health.js';
export { type ImportedMigration, type ImportOptions, type ImportProblem, type ImportReport, importMigrations } from './workflow/import.js';
export { type Gate, type GateContext, type GateRefusal, PHASES, type Phase, TRANSITIONS, transition } from './workflow/lifecycle.js';
export {
  type EnvironmentCatalog,
  isSqlTarget,
  type LintProjectOptions,
  type LintResult,
  lintProject,
  lintRefusal,
  type ProjectLint,
} from './workflow/lint.js';
export { type FiledTicket, openPhaseTickets, syncPhaseTickets } from './workflow/phase-tickets.js';
export { type Drift, type DriftKind, projectLoadOptions } from './workflow/plan-state.js';
export { type PrCheckOptions, type PrCheckReport, prCheck, prCheckRefusal } from './workflow/pr-check.js';
export { DEFAULT_SAMPLE_ROWS, type RehearsalReport, type RehearseOptions, rehearse } from './workflow/rehearse.js';
export type { RehearsalData, RehearsalStepData, TouchedTable } from './workflow/rehearse-data.js';
export { type DownOptions, type DownReport, down } from './workflow/rollback.js';
export { type RestoredValues, restoreRollbackValues, type SavedCopy, type SavedValues, saveRollbackValues } from './workflow/rollback-copy.js';
export {
  advanceRolloutStage,
  type CanaryComposition,
  type CohortTraffic,
  type RolloutActionOptions,
  type RolloutAdvanceOptions,
  type RolloutReport,
  type RolloutResumeOptions,
  type RolloutSetOptions,
  resumePausedRollout,
  rolloutLifecycle,
  rolloutReport,
  rolloutTargetOf,
  type StageReport,
  setRolloutPercentage,
  stageMeaning,
  type UnitList,
} from './workflow/rollout.js';
export { runChecks } from './workflow/run-checks.js';
export { MIGRATION_STAGES, type MigrationStage, type StageMove, type StageOptions, setMigrationStage } from './workflow/stage.js';
export { migrationLog, migrationStatus } from './workflow/status.js';
export { type UpgradeGuide, upgradeGuide } from './workflow/upgrade-guide.js';
export { type MigrationVerification, type VerifyActionOptions, verify, verifyMigrations } from './workflow/verify.js';
export { dumpAccess, findMigration, loadWorkspace, openWorkspace, type Workspace, type WorkspaceOptions } from './workflow/workspace.js';
