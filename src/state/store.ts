import { hostname, userInfo } from 'node:os';
import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { CONCURRENT_INDEX_VERSIONS, STATE_SCHEMA_VERSIONS } from './schema.js';

/**
 * What an applied step is, split by what may change after it ran: `body` is
 * everything that made its effect (kind, transaction, forward SQL, module,
 * backfill, irreversible, phase) and can never change; `rollback` and
 * `verify` (with the cleanup script) may be fixed, but only through a
 * recorded acknowledgement.
 */
export interface StepDefinition {
  body: string;
  rollback: string;
  verify: string;
}

/**
 * The rollback of a step as it was when the step was applied, kept in the
 * database so `down` runs what was reviewed with the step, not what the file
 * says today.
 */
export type RecordedRollback =
  | { kind: 'sql'; file: string; text: string }
  | { kind: 'none' }
  | { kind: 'backfill'; rollback: Record<string, string> | null }
  | { kind: 'module' };

/** A step recorded as applied in the target database. */
export interface AppliedStep {
  migrationId: string;
  stepId: string;
  position: number;
  checksum: string;
  appliedAt: Date;
  appliedBy: string;
  durationMs: number;
  /** Recorded by `ferry baseline` without running it. */
  baseline: boolean;
  /** The step's definition as applied (or as last acknowledged); null when applied before ferry recorded definitions. */
  definition: StepDefinition | null;
  /** The rollback as applied (or as last acknowledged): what `down` runs; null when not recorded. */
  rollback: RecordedRollback | null;
  /** Whether the step was irreversible when applied; null when not recorded. */
  irreversible: boolean | null;
  /** `contract` when it was a contract step; null when not recorded. */
  phase: 'expand' | 'contract' | null;
}

/** A migration as the target database knows it. */
export interface MigrationRecord {
  id: string;
  phase: string;
  title: string;
  checksum: string | null;
  updatedAt: Date;
  /** Each manifest field's checksum when the first step was applied (or as last acknowledged); null while none is applied. */
  definition: Record<string, string> | null;
  /** The point of no return recorded with the definition. */
  pointOfNoReturn: string | null;
}

/** One row of the append-only event log. */
export interface MigrationEvent {
  id: number;
  migrationId: string;
  at: Date;
  actor: string;
  kind: string;
  fromPhase: string | null;
  toPhase: string | null;
  stepId: string | null;
  reason: string | null;
  details: unknown;
}

/** Who is acting: $FERRY_ACTOR, or user@host. */
export function currentActor(): string {
  if (process.env.FERRY_ACTOR) return process.env.FERRY_ACTOR;
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return `${user}@${hostname()}`;
}

/**
 * Whether table `ferry.<table>` exists yet: read-only commands must not create
 * ferry's state, and a table of a later state version may not be there.
 */
export async function stateTableExists(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`ferry.${table}`]);
  return rows[0]?.t != null;
}

/** Whether ferry's schema exists yet (read-only commands must not create it). */
export function stateExists(db: Queryable): Promise<boolean> {
  return stateTableExists(db, 'migrations');
}

/**
 * Apply the missing state versions in the caller's transaction, in order, up
 * to the first for which `stopAt` says yes: the version it stopped at, or
 * undefined once none is missing.
 */
async function upgradeIn(tx: Queryable, stopAt?: (version: number) => boolean): Promise<number | undefined> {
  const results = await tx.exec(`CREATE SCHEMA IF NOT EXISTS ferry;
    CREATE TABLE IF NOT EXISTS ferry.state_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
    SELECT max(version) AS v FROM ferry.state_version`);
  const current = Number((results.at(-1)?.rows[0] as { v: number | null } | undefined)?.v ?? 0);
  // Every missing version and its record in one script: a first run on a new database is one round trip, not two per version.
  const upgrade: string[] = [];
  let stopped: number | undefined;
  for (let v = current + 1; v <= STATE_SCHEMA_VERSIONS.length; v++) {
    if (stopAt?.(v)) {
      stopped = v;
      break;
    }
    upgrade.push(`${STATE_SCHEMA_VERSIONS[v - 1] as string}\n;\nINSERT INTO ferry.state_version (version) VALUES (${v})`);
  }
  if (upgrade.length > 0) await tx.exec(upgrade.join(';\n'));
  return stopped;
}

/** Create or upgrade schema `ferry` inside the caller's transaction. Call under the migration lock. */
export async function ensureStateIn(tx: Queryable): Promise<void> {
  await upgradeIn(tx);
}

/**
 * Build the index of a {@link CONCURRENT_INDEX_VERSIONS} version without
 * blocking the application's writes, and record the version. A build that
 * was killed leaves an INVALID index behind: it is dropped and built again.
 */
async function buildIndexVersion(db: Database, version: number): Promise<void> {
  const { index, sql } = CONCURRENT_INDEX_VERSIONS.get(version) as { index: string; sql: string };
  const { rows } = await db.query<{ valid: boolean }>('SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)', [index]);
  if (rows[0] && !rows[0].valid) await db.exec(`DROP INDEX CONCURRENTLY IF EXISTS ${index}`);
  await db.exec(sql);
  await db.query('INSERT INTO ferry.state_version (version) VALUES ($1) ON CONFLICT (version) DO NOTHING', [version]);
}

/**
 * Create or upgrade schema `ferry`: its versions in one transaction, except,
 * on a server, an index on a table the application writes to, which is built
 * concurrently on its own (see {@link CONCURRENT_INDEX_VERSIONS}). Call under the migration lock.
 */
export async function ensureState(db: Database): Promise<void> {
  const concurrently = db.kind === 'server' ? (v: number) => CONCURRENT_INDEX_VERSIONS.has(v) : undefined;
  for (;;) {
    const stopped = await db.transaction((tx) => upgradeIn(tx, concurrently));
    if (stopped === undefined) return;
    await buildIndexVersion(db, stopped);
  }
}

const toApplied = (r: Record<string, unknown>): AppliedStep => ({
  migrationId: r.migration_id as string,
  stepId: r.step_id as string,
  position: r.position as number,
  checksum: r.checksum as string,
  appliedAt: new Date(r.applied_at as string),
  appliedBy: r.applied_by as string,
  durationMs: r.duration_ms as number,
  baseline: r.baseline as boolean,
  definition: (r.definition as StepDefinition | null) ?? null,
  rollback: (r.rollback as RecordedRollback | null) ?? null,
  irreversible: (r.irreversible as boolean | null) ?? null,
  phase: (r.phase as 'expand' | 'contract' | null) ?? null,
});

/** Every migration record and applied step; empty when ferry never ran on this database. */
export async function readState(db: Queryable): Promise<{ migrations: Map<string, MigrationRecord>; applied: Map<string, AppliedStep[]> }> {
  const migrations = new Map<string, MigrationRecord>();
  const applied = new Map<string, AppliedStep[]>();
  if (!(await stateExists(db))) return { migrations, applied };
  const m = await db.query('SELECT id, phase, title, checksum, updated_at, definition, point_of_no_return FROM ferry.migrations ORDER BY id');
  for (const r of m.rows) {
    migrations.set(r.id as string, {
      id: r.id as string,
      phase: r.phase as string,
      title: r.title as string,
      checksum: r.checksum as string | null,
      updatedAt: new Date(r.updated_at as string),
      definition: (r.definition as Record<string, string> | null) ?? null,
      pointOfNoReturn: (r.point_of_no_return as string | null) ?? null,
    });
  }
  const s = await db.query('SELECT * FROM ferry.applied_steps ORDER BY migration_id, position');
  for (const r of s.rows) {
    const a = toApplied(r);
    const list = applied.get(a.migrationId) ?? [];
    list.push(a);
    applied.set(a.migrationId, list);
  }
  return { migrations, applied };
}

/**
 * Register a migration in phase `planned` if the database does not know it yet.
 * Resolves to its phase; its row stays locked until the transaction ends.
 */
export async function ensureMigrationRecord(db: Queryable, id: string, title: string, checksum: string): Promise<string> {
  const { rows } = await db.query<{ phase: string }>(
    `INSERT INTO ferry.migrations (id, phase, title, checksum) VALUES ($1, 'planned', $2, $3)
     ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, checksum = EXCLUDED.checksum
     RETURNING phase`,
    [id, title, checksum],
  );
  return rows[0]?.phase as string;
}

/** Move a migration from phase `from` to `to` and append the transition's event, in one statement. */
export async function recordTransition(
  db: Queryable,
  e: { migrationId: string; actor: string; from: string; to: string; reason: string; details?: unknown },
): Promise<void> {
  await db.query(
    `WITH moved AS (UPDATE ferry.migrations SET phase = $4::text, updated_at = now() WHERE id = $1 RETURNING id)
     INSERT INTO ferry.events (migration_id, actor, kind, from_phase, to_phase, reason, details)
     SELECT id, $2, 'transition', $3::text, $4::text, $5, $6::jsonb FROM moved`,
    [e.migrationId, e.actor, e.from, e.to, e.reason, e.details === undefined ? null : JSON.stringify(e.details)],
  );
}

/** Append one event to the log. */
export async function appendEvent(
  db: Queryable,
  e: { migrationId: string; actor: string; kind: string; from?: string; to?: string; stepId?: string; reason?: string; details?: unknown },
): Promise<void> {
  await db.query(
    `INSERT INTO ferry.events (migration_id, actor, kind, from_phase, to_phase, step_id, reason, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)`,
    [
      e.migrationId,
      e.actor,
      e.kind,
      e.from ?? null,
      e.to ?? null,
      e.stepId ?? null,
      e.reason ?? null,
      e.details === undefined ? null : JSON.stringify(e.details),
    ],
  );
}

/** The event log, oldest first; of one migration or all. */
export async function readEvents(db: Queryable, migrationId?: string): Promise<MigrationEvent[]> {
  if (!(await stateExists(db))) return [];
  const { rows } = await db.query(
    `SELECT id, migration_id, at, actor, kind, from_phase, to_phase, step_id, reason, details
       FROM ferry.events WHERE $1::text IS NULL OR migration_id = $1 ORDER BY id`,
    [migrationId ?? null],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    migrationId: r.migration_id as string,
    at: new Date(r.at as string),
    actor: r.actor as string,
    kind: r.kind as string,
    fromPhase: r.from_phase as string | null,
    toPhase: r.to_phase as string | null,
    stepId: r.step_id as string | null,
    reason: r.reason as string | null,
    details: r.details,
  }));
}

/** What is recorded of one applied step: where it is, who applied it, and its definition as applied. */
export interface AppliedRecord {
  migrationId: string;
  stepId: string;
  position: number;
  checksum: string;
  actor: string;
  durationMs: number;
  baseline: boolean;
  definition: StepDefinition;
  rollback: RecordedRollback;
  irreversible: boolean;
  phase: 'expand' | 'contract';
  /** Delete the non-transactional step's marker in the same transaction. */
  clearMarker?: boolean;
}

/** The columns an applied step is recorded in, and their values after migration_id (both writers use them). */
const APPLIED_COLUMNS = '(migration_id, step_id, position, checksum, applied_by, duration_ms, baseline, definition, rollback, irreversible, phase)';
const appliedValues = (a: AppliedRecord): unknown[] => [
  a.stepId,
  a.position,
  a.checksum,
  a.actor,
  Math.round(a.durationMs),
  a.baseline,
  JSON.stringify(a.definition),
  JSON.stringify(a.rollback),
  a.irreversible,
  a.phase,
];

/**
 * Record a step as applied, with its definition (in the same transaction as its forward SQL). With
 * `migration`, also record the manifest's definition and point of no return when this is the
 * migration's first applied step: from then on they are what `down` obeys, and only `ferry acknowledge`
 * changes the definition. One statement either way.
 */
export async function recordApplied(
  db: Queryable,
  a: AppliedRecord,
  migration?: { definition: Record<string, string>; pointOfNoReturn: string | null },
): Promise<void> {
  const first = migration
    ? `WITH first AS (UPDATE ferry.migrations SET definition = $12::jsonb, point_of_no_return = $13
                       WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ferry.applied_steps WHERE migration_id = $1))\n     `
    : '';
  await db.query(
    `${first}INSERT INTO ferry.applied_steps ${APPLIED_COLUMNS}
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11)`,
    [a.migrationId, ...appliedValues(a), ...(migration ? [JSON.stringify(migration.definition), migration.pointOfNoReturn] : [])],
    { prepare: true },
  );
  if (a.clearMarker) await db.query('DELETE FROM ferry.step_runs WHERE migration_id = $1 AND step_id = $2', [a.migrationId, a.stepId]);
}

/** A phase move to record with its event, already checked against the lifecycle's table and gates. */
export interface PhaseMove {
  from: string;
  to: string;
  reason: string;
  details?: unknown;
}

/** What {@link recordProgress} writes about one migration. */
export interface Progress {
  migrationId: string;
  title: string;
  checksum: string;
  /** The phase the caller read under the migration lock; null: the migration has no record yet. */
  expected: string | null;
  actor: string;
  /** The moves from `expected`, in order; each gets a transition event. */
  moves: PhaseMove[];
  /** A step applied in this transaction, with the manifest's definition recorded when it is the migration's first. */
  applied?: AppliedRecord;
  manifest?: { definition: Record<string, string>; pointOfNoReturn: string | null };
}

/**
 * Everything a step's transaction records about its migration, in one statement:
 * register the migration (or refresh its title and checksum), move it through
 * `moves` with one event each, and record the applied step (see {@link recordApplied}).
 * When the row is no longer in the `expected` phase, nothing is written and this throws.
 */
export async function recordProgress(db: Queryable, p: Progress): Promise<void> {
  const a = p.applied;
  const phase = p.moves.at(-1)?.to ?? p.expected ?? 'planned';
  const definition = a && p.manifest ? JSON.stringify(p.manifest.definition) : null;
  // The manifest's definition goes with the first applied step only; a sibling CTE does not see this statement's own rows.
  const firstStep = 'EXCLUDED.definition IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ferry.applied_steps s WHERE s.migration_id = x.id)';
  const step = a
    ? `, step AS (
         INSERT INTO ferry.applied_steps ${APPLIED_COLUMNS}
         SELECT id, $10, $11, $12, $13, $14, $15, $16::jsonb, $17::jsonb, $18, $19 FROM m),
       cleared AS (DELETE FROM ferry.step_runs WHERE $20 AND migration_id = $1 AND step_id = $10 AND EXISTS (SELECT 1 FROM m))`
    : '';
  const { rows } = await db.query<{ n: number; was: string | null }>(
    `WITH m AS (
       INSERT INTO ferry.migrations AS x (id, phase, title, checksum, definition, point_of_no_return)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, checksum = EXCLUDED.checksum, phase = EXCLUDED.phase,
         updated_at = CASE WHEN x.phase = EXCLUDED.phase THEN x.updated_at ELSE now() END,
         definition = CASE WHEN ${firstStep} THEN EXCLUDED.definition ELSE x.definition END,
         point_of_no_return = CASE WHEN ${firstStep} THEN EXCLUDED.point_of_no_return ELSE x.point_of_no_return END
       WHERE x.phase = $7
       RETURNING id),
     moved AS (
       INSERT INTO ferry.events (migration_id, actor, kind, from_phase, to_phase, reason, details)
       SELECT m.id, $8, 'transition', e.from_phase, e.to_phase, e.reason, e.details
         FROM m, ROWS FROM (jsonb_to_recordset($9::jsonb) AS ("from" text, "to" text, reason text, details jsonb)) WITH ORDINALITY
              AS e(from_phase, to_phase, reason, details, ord)
        ORDER BY e.ord)${step}
     SELECT (SELECT count(*)::int FROM m) AS n, (SELECT phase FROM ferry.migrations WHERE id = $1) AS was`,
    [
      p.migrationId,
      phase,
      p.title,
      p.checksum,
      definition,
      a && p.manifest ? p.manifest.pointOfNoReturn : null,
      p.expected,
      p.actor,
      JSON.stringify(p.moves.map((mv) => ({ from: mv.from, to: mv.to, reason: mv.reason, details: mv.details ?? null }))),
      ...(a ? [...appliedValues(a), a.clearMarker ?? false] : []),
    ],
    { prepare: true },
  );
  if (rows[0]?.n !== 1) {
    throw new FerryError(
      'E_LOCKED',
      `migration ${p.migrationId} is ${rows[0]?.was ?? 'unrecorded'}, not ${p.expected ?? 'unrecorded'} as this run read it under the migration lock; nothing of this step was kept`,
      'something wrote to ferry.migrations without the lock; run the command again, and let only ferry change ferry.* tables',
    );
  }
}

/** Replace the recorded definition and rollback of an applied step (an acknowledged edit). */
export async function rerecordStep(db: Queryable, migrationId: string, stepId: string, definition: StepDefinition, rollback: RecordedRollback): Promise<void> {
  await db.query('UPDATE ferry.applied_steps SET definition = $3::jsonb, rollback = $4::jsonb WHERE migration_id = $1 AND step_id = $2', [
    migrationId,
    stepId,
    JSON.stringify(definition),
    JSON.stringify(rollback),
  ]);
}

/** Replace a migration's recorded manifest definition (an acknowledged edit); the point of no return stays as recorded. */
export async function rerecordDefinition(db: Queryable, migrationId: string, definition: Record<string, string>): Promise<void> {
  await db.query('UPDATE ferry.migrations SET definition = $2::jsonb WHERE id = $1', [migrationId, JSON.stringify(definition)]);
}

/** Forget a migration's applied steps and its record (`ferry forget`); the event log keeps its history. */
export async function forgetMigration(db: Queryable, migrationId: string): Promise<void> {
  await db.query('DELETE FROM ferry.step_runs WHERE migration_id = $1', [migrationId]);
  await db.query('DELETE FROM ferry.applied_steps WHERE migration_id = $1', [migrationId]);
  await db.query('DELETE FROM ferry.migrations WHERE id = $1', [migrationId]);
}

/** Forget an applied step (in the same transaction as its rollback SQL). */
export async function removeApplied(db: Queryable, migrationId: string, stepId: string): Promise<void> {
  await db.query('DELETE FROM ferry.applied_steps WHERE migration_id = $1 AND step_id = $2', [migrationId, stepId]);
  await db.query('DELETE FROM ferry.step_runs WHERE migration_id = $1 AND step_id = $2', [migrationId, stepId]);
}
