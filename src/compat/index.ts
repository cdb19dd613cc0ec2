/**
 * `ferry/compat`: backwards compatibility for applications and API consumers during a migration (step 2 of
 * the workflow). Shadow reads, dual writes and the six migration stages, measured per cohort into the SDK's
 * metrics (so they feed the health gates); the schema an application version reads; versioned HTTP APIs with
 * adapters, the deprecation timeline (Deprecation / Sunset headers, 410 at the end) and consumer tracking.
 * Built on `ferry/sdk`: `createCompat(createFlags(…))`.
 */

export { adaptRequest, adaptResponse } from './api/adapt.js';
export type { ApiOptions, ApiRequest, ApiSource, ConsumerExtractor, VersionedApi } from './api/core.js';
export {
  type ApiSpec,
  type ApiSpecInput,
  apiSchema,
  currentVersion,
  DEFAULT_TIMELINE,
  type DeprecationState,
  deprecationState,
  oldVersions,
  parseApiSpec,
  type VersionTimeline,
  versionTimeline,
} from './api/spec.js';
export type { AdapterContext, ApiExample, ApiModule, VersionAdapter } from './api/types.js';
export { type Compat, type CompatOptions, createCompat } from './client.js';
export type { MigrationOptions, MigrationRunner } from './migration.js';
export { type AppShape, searchPath, shapedPool } from './search-path.js';
export type { DualWriteOptions, MismatchSample, ShadowOptions } from './shadow.js';
export { isMigrationStage, MIGRATION_STAGES, type MigrationStage, type Side, STAGE_PLANS, type StagePlan, stageOf } from './stages.js';
