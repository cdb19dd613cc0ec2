/**
 * `ferry/compat`: backwards compatibility for applications and API consumers during a migration (step 2 of
 * the workflow). Shadow reads, dual writes and the six migration stages, measured per cohort into the SDK's
 * metrics (so they feed the health gates); the schema an application version reads; versioned HTTP APIs with
 * adapters, the deprecation timeline (Deprecation / Sunset headers, 410 at the end) and consumer tracking.
 * Built on `ferry/sdk`: `createCompat(createFlags(…))`.
 */

export { adaptRequest, adaptResponse } from './api/adapt.js';
export { ANONYMOUS, byApiKey, byFirstOf, byHeader, byUserAgent, defaultConsumer, keyFingerprint } from './api/consumers.js';
export type { ApiOptions, ApiRequest, ApiSource, ConsumerExtractor, VersionedApi } from './api/core.js';
export { type ApiCall, type ApiHeader, Call, Rejection } from './api/engine.js';
export type { ExpressApiMiddleware, ExpressApiRequest, ExpressApiResponse } from './api/express.js';
export type { FastifyApiInstance, FastifyApiPlugin, FastifyApiReply, FastifyApiRequest } from './api/fastify.js';
export { type DeprecationHeaders, deprecationHeaders, imfFixdate, sfDate } from './api/headers.js';
export type { ApiEnv } from './api/hono.js';
export type { NodeApiHandler, NodeApiOptions, NodeApiRequest } from './api/node.js';
export type { ApiProblem } from './api/problem.js';
export {
  assertRoundTrip,
  type PropertyMaker,
  type RoundTrip,
  type RoundTripDirection,
  type RoundTripOptions,
  roundTrip,
  roundTripProperty,
} from './api/round-trip.js';
export type { SelectedBy } from './api/select.js';
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
export { jsonEqual } from './equal.js';
export type { MigrationOptions, MigrationRunner } from './migration.js';
export { MISMATCH_ROWS_PER_FLAG, MISMATCH_VALUE_LIMIT } from './mismatch-log.js';
export { type AppShape, searchPath, shapedPool } from './search-path.js';
export type { DualWriteOptions, MismatchSample, ShadowOptions } from './shadow.js';
export { isMigrationStage, MIGRATION_STAGES, type MigrationStage, type Side, STAGE_PLANS, type StagePlan, stageOf } from './stages.js';
