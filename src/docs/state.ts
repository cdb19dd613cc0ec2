import type { BackfillProgress } from '../backfill/types.js';
import type { DriverKind } from '../db/database.js';
import type { Thresholds } from '../health/thresholds.js';
import type { Classification } from '../lint/types.js';
import type { Migration } from '../migration/loader.js';
import type { Stage } from '../rollout/schedule.js';
import type { AppliedStep, MigrationEvent } from '../state/store.js';
import type { CheckResult } from '../verify/result.js';

/** One recorded approval: a role, who gave it, and the migration checksum it was given for. */
export interface Approval {
  role: string;
  by: string;
  checksum: string;
  at: string;
  reason: string | null;
}

/** Where a migration's approvals stand for one checksum. */
export interface ApprovalStatus {
  migrationId: string;
  checksum: string;
  required: string[];
  /** Approvals given for this checksum, the latest per role. */
  approved: Approval[];
  missing: string[];
  /** Approvals given for an earlier checksum: the migration was edited after them. */
  stale: Approval[];
  complete: boolean;
}

/** A table a migration touches, measured in the live database. */
export interface TableVolume {
  /** As the statements name it: `users` or `app.users`. */
  table: string;
  /** False when it is not a table in the database (not created yet, or a view …). */
  exists: boolean;
  rows: number;
  /** True when `rows` is the planner's estimate (large tables are not counted). */
  estimated: boolean;
  /** Table, indexes and TOAST, in bytes. */
  bytes: number;
  /** The steps that touch it. */
  steps: string[];
}

/** The lock one statement of a step takes on one relation. */
export interface StatementLock {
  stepId: string;
  phase: 'expand' | 'contract';
  statement: string;
  relation: string;
  mode: string;
  blocks: string;
}

/** A backup listed in schema ferry. */
export interface BackupRecord {
  id: string;
  migrationId: string;
  method: 'pg_dump' | 'copy';
  location: string;
  objects: { table: string; column?: string; rows: number; md5: string; columns: string[] }[];
  /** `rollback` for the values `down --accept-data-loss` saved before dropping them (restored into re-added columns); absent for whole tables. */
  purpose?: 'rollback';
  bytes: number;
  createdBy: string;
  createdAt: string;
}

/** One health evaluation the health controller recorded (event kind `health`), as documents show it. */
export interface HealthRecord {
  at: Date;
  percentage: number | null;
  colour: string;
  /** The metrics or reasons it logged, as `name: value`. */
  facts: string[];
}

/**
 * Everything a document is rendered from: the migration as its files are now,
 * and what the database recorded about it. Documents are pure functions of this.
 */
export interface DocState {
  migration: Migration;
  /** When the state was read; documents print it and compute "in progress" spans against it. */
  now: Date;
  env: string;
  driver: DriverKind;
  phase: string | null;
  events: MigrationEvent[];
  applied: AppliedStep[];
  volumes: TableVolume[];
  /** Problems of the pending steps checked against the live catalog (each naming the step and the object); absent when not checked. */
  preflight?: string[];
  locks: StatementLock[];
  /** The linter's type and risk for the migration, and whether they match what the manifest declares. */
  classification: Classification;
  backfills: BackfillProgress[];
  checks: CheckResult[];
  checksPending: string[];
  approvals: ApprovalStatus;
  backups: BackupRecord[];
  stages: readonly Stage[];
  thresholds: Thresholds;
  /** Health evaluations per the controller's events; empty when none were recorded (or the controller is not in use). */
  health: HealthRecord[];
  /** Rows a full `down` would lose now (values the old shape cannot regenerate), per step and column or table; absent when not counted. */
  rollbackLoss?: { stepId: string; table: string; column?: string; rows: number }[];
}
