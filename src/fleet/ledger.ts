import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';

// The fleet ledger, in the control environment's database (schema ferry_fleet): one row per run and one per
// database of the run. Runners share a run by claiming databases of its current wave with FOR UPDATE SKIP LOCKED
// and a lease; a wave moves on only when none of its databases is pending or claimed.

/** The commands a fleet run carries out on each database. */
export type FleetCommand = 'up' | 'down' | 'verify' | 'contract' | 'backfill';

/** A run's state: `running` (or resumable after a killed runner), `failed` (stopped; rerun it to resume), `done`, `abandoned`. */
export type RunStatus = 'running' | 'failed' | 'done' | 'abandoned';

/** A database's state in a run. */
export type TargetStatus = 'pending' | 'claimed' | 'done' | 'failed';

/** One run of the ledger. */
export interface FleetRunRow {
  runId: number;
  fleet: string;
  command: FleetCommand;
  fingerprint: string;
  args: Record<string, unknown>;
  status: RunStatus;
  waves: number;
  currentWave: number;
  failureBudget: number;
  startedAt: Date;
  startedBy: string;
  finishedAt: Date | null;
}

/** One database of a run. */
export interface FleetTargetRow {
  target: string;
  wave: number;
  position: number;
  status: TargetStatus;
  claimedBy: string | null;
  attempts: number;
  lastError: string | null;
  finishedAt: Date | null;
}

const LEDGER_DDL = `
CREATE SCHEMA IF NOT EXISTS ferry_fleet;
CREATE TABLE IF NOT EXISTS ferry_fleet.runs (
  run_id bigserial PRIMARY KEY,
  fleet text NOT NULL,
  command text NOT NULL,
  fingerprint text NOT NULL,
  args jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'failed', 'done', 'abandoned')),
  waves int NOT NULL,
  current_wave int NOT NULL DEFAULT 1,
  failure_budget int NOT NULL,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  started_by text NOT NULL,
  finished_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_unfinished ON ferry_fleet.runs (fleet) WHERE status IN ('running', 'failed');
CREATE TABLE IF NOT EXISTS ferry_fleet.targets (
  run_id bigint NOT NULL REFERENCES ferry_fleet.runs ON DELETE CASCADE,
  target text NOT NULL,
  wave int NOT NULL,
  position int NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'claimed', 'done', 'failed')),
  claimed_by text,
  lease_until timestamptz,
  attempts int NOT NULL DEFAULT 0,
  last_error text,
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (run_id, target)
);
CREATE INDEX IF NOT EXISTS targets_by_wave ON ferry_fleet.targets (run_id, wave, status);
`;

/** Create the ledger (schema ferry_fleet) if it is not there; safe to run again. */
export async function createLedger(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('ferry_fleet ledger'))");
    await tx.exec(LEDGER_DDL);
  });
}

/** Whether the control database holds the ledger. */
export async function hasLedger(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    "SELECT to_regclass('ferry_fleet.runs') IS NOT NULL AND to_regclass('ferry_fleet.targets') IS NOT NULL AS ok",
  );
  return rows[0]?.ok === true;
}

/** E_NOT_FOUND unless the ledger is there: nothing is created behind the user's back. */
export async function requireLedger(db: Queryable, fleet: string, control: string): Promise<void> {
  if (await hasLedger(db)) return;
  throw new FerryError(
    'E_NOT_FOUND',
    `the control database of fleet "${fleet}" (environment "${control}") has no fleet ledger (schema ferry_fleet)`,
    `create it once with \`ferry fleet init --env ${fleet}\`, then run the command again; nothing was changed`,
  );
}

const RUN_COLUMNS = `run_id::int AS "runId", fleet, command, fingerprint, args, status, waves, current_wave AS "currentWave",
  failure_budget AS "failureBudget", started_at AS "startedAt", started_by AS "startedBy", finished_at AS "finishedAt"`;

const TARGET_COLUMNS = `target, wave, position, status, claimed_by AS "claimedBy", attempts, last_error AS "lastError", finished_at AS "finishedAt"`;

/** What a new run is: its command, the plan's fingerprint, the waves of target ids, the budget and who starts it. */
export interface RunPlan {
  fleet: string;
  command: FleetCommand;
  fingerprint: string;
  args: Record<string, unknown>;
  waves: readonly (readonly string[])[];
  failureBudget: number;
  actor: string;
}

/**
 * Join the fleet's unfinished run when it carries the same command and plan (a failed one is resumed: its failed
 * databases go back to pending; databases added to the fleet since join its last wave), or start a new run.
 * Another unfinished run with a different plan is returned as `conflict`, and nothing changes.
 */
export async function openRun(db: Database, plan: RunPlan): Promise<{ run: FleetRunRow; resumed: boolean } | { conflict: FleetRunRow }> {
  return db.transaction(async (tx) => {
    // One runner at a time decides whether a run starts; the claims themselves need no such lock.
    await tx.query('LOCK TABLE ferry_fleet.runs IN SHARE ROW EXCLUSIVE MODE');
    const { rows } = await tx.query<FleetRunRow>(`SELECT ${RUN_COLUMNS} FROM ferry_fleet.runs WHERE fleet = $1 AND status IN ('running', 'failed')`, [
      plan.fleet,
    ]);
    const open = rows[0];
    if (open && (open.command !== plan.command || open.fingerprint !== plan.fingerprint)) return { conflict: open };
    if (open) {
      if (open.status === 'failed') {
        await tx.query(`UPDATE ferry_fleet.runs SET status = 'running', finished_at = NULL WHERE run_id = $1`, [open.runId]);
        await tx.query(`UPDATE ferry_fleet.targets SET status = 'pending', claimed_by = NULL, lease_until = NULL WHERE run_id = $1 AND status = 'failed'`, [
          open.runId,
        ]);
      }
      const all = plan.waves.flat();
      await tx.query(
        `INSERT INTO ferry_fleet.targets (run_id, target, wave, position)
         SELECT $1, t.id, $2, (SELECT coalesce(max(position), 0) FROM ferry_fleet.targets WHERE run_id = $1) + t.n
           FROM unnest($3::text[]) WITH ORDINALITY AS t(id, n)
         ON CONFLICT DO NOTHING`,
        [open.runId, open.waves, all],
      );
      return { run: { ...open, status: 'running' as const }, resumed: true };
    }
    const inserted = await tx.query<FleetRunRow>(
      `INSERT INTO ferry_fleet.runs (fleet, command, fingerprint, args, waves, failure_budget, started_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RUN_COLUMNS}`,
      [plan.fleet, plan.command, plan.fingerprint, JSON.stringify(plan.args), plan.waves.length, plan.failureBudget, plan.actor],
    );
    const run = inserted.rows[0] as FleetRunRow;
    const ids = plan.waves.flat();
    const waveOf = plan.waves.flatMap((w, i) => w.map(() => i + 1));
    await tx.query(
      `INSERT INTO ferry_fleet.targets (run_id, target, wave, position)
       SELECT $1, t.id, t.wave, t.n FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS t(id, wave, n)`,
      [run.runId, ids, waveOf],
    );
    return { run, resumed: false };
  });
}

/** A run by id. */
export async function readRun(db: Queryable, runId: number): Promise<FleetRunRow> {
  const { rows } = await db.query<FleetRunRow>(`SELECT ${RUN_COLUMNS} FROM ferry_fleet.runs WHERE run_id = $1`, [runId]);
  const run = rows[0];
  if (!run) throw new FerryError('E_NOT_FOUND', `fleet run ${runId} is not in the ledger`, 'was the ledger dropped? run `ferry fleet init` and start again');
  return run;
}

/** The fleet's latest run (unfinished or not), if any. */
export async function latestRun(db: Queryable, fleet: string): Promise<FleetRunRow | undefined> {
  const { rows } = await db.query<FleetRunRow>(`SELECT ${RUN_COLUMNS} FROM ferry_fleet.runs WHERE fleet = $1 ORDER BY run_id DESC LIMIT 1`, [fleet]);
  return rows[0];
}

/** Every database of a run, in plan order. */
export async function runTargets(db: Queryable, runId: number): Promise<FleetTargetRow[]> {
  const { rows } = await db.query<FleetTargetRow>(`SELECT ${TARGET_COLUMNS} FROM ferry_fleet.targets WHERE run_id = $1 ORDER BY wave, position`, [runId]);
  return rows;
}

/** Each database's row in the latest run (not abandoned) of the fleet that included it: its status there and its error, if it failed. */
export async function latestTargetRows(db: Queryable, fleet: string): Promise<Map<string, FleetTargetRow & { runId: number }>> {
  const { rows } = await db.query<FleetTargetRow & { runId: number }>(
    `SELECT DISTINCT ON (t.target) t.run_id::int AS "runId", t.target, t.wave, t.position, t.status, t.claimed_by AS "claimedBy",
            t.attempts, t.last_error AS "lastError", t.finished_at AS "finishedAt"
       FROM ferry_fleet.targets t JOIN ferry_fleet.runs r USING (run_id)
      WHERE r.fleet = $1 AND r.status <> 'abandoned'
      ORDER BY t.target, t.run_id DESC`,
    [fleet],
  );
  return new Map(rows.map((r) => [r.target, r]));
}

/**
 * Claim one database of the run's current wave (or an earlier one being retried) that nobody holds, or whose
 * holder's lease expired; undefined when there is none, or the run is not running that wave any more.
 */
export async function claimTarget(db: Queryable, runId: number, wave: number, runner: string, leaseMs: number): Promise<FleetTargetRow | undefined> {
  const { rows } = await db.query<FleetTargetRow>(
    `UPDATE ferry_fleet.targets t
        SET status = 'claimed', claimed_by = $3, lease_until = clock_timestamp() + $4 * interval '1 millisecond',
            attempts = attempts + 1, started_at = coalesce(started_at, clock_timestamp())
      WHERE (t.run_id, t.target) = (
        SELECT run_id, target FROM ferry_fleet.targets
         WHERE run_id = $1 AND wave <= $2
           AND (status = 'pending' OR (status = 'claimed' AND lease_until < clock_timestamp()))
           AND EXISTS (SELECT 1 FROM ferry_fleet.runs WHERE run_id = $1 AND status = 'running' AND current_wave = $2)
         ORDER BY wave, position
         LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING ${TARGET_COLUMNS}`,
    [runId, wave, runner, leaseMs],
  );
  return rows[0];
}

/** Claims other runners hold on databases of waves up to `wave`: who, and until when their lease lasts unless renewed. */
export async function heldClaims(
  db: Queryable,
  runId: number,
  wave: number,
  runner: string,
): Promise<{ target: string; claimedBy: string; leaseUntil: Date }[]> {
  const { rows } = await db.query<{ target: string; claimedBy: string; leaseUntil: Date }>(
    `SELECT target, claimed_by AS "claimedBy", lease_until AS "leaseUntil" FROM ferry_fleet.targets
      WHERE run_id = $1 AND wave <= $2 AND status = 'claimed' AND claimed_by <> $3 ORDER BY position`,
    [runId, wave, runner],
  );
  return rows;
}

/** Keep this runner's claim alive while it works on the database. */
export async function renewLease(db: Queryable, runId: number, target: string, runner: string, leaseMs: number): Promise<void> {
  await db.query(
    `UPDATE ferry_fleet.targets SET lease_until = clock_timestamp() + $4 * interval '1 millisecond'
      WHERE run_id = $1 AND target = $2 AND claimed_by = $3 AND status = 'claimed'`,
    [runId, target, runner, leaseMs],
  );
}

/** Record the outcome of this runner's claim: done (after the command committed), or failed with its error. */
export async function finishTarget(db: Queryable, runId: number, target: string, runner: string, error: string | undefined): Promise<void> {
  await db.query(
    `UPDATE ferry_fleet.targets SET status = $4, last_error = $5, claimed_by = NULL, lease_until = NULL, finished_at = clock_timestamp()
      WHERE run_id = $1 AND target = $2 AND claimed_by = $3 AND status = 'claimed'`,
    [runId, target, runner, error === undefined ? 'done' : 'failed', error ?? null],
  );
}

/**
 * Give back this runner's unfinished claims (a runner told to stop): pending again, their attempt not counted, so
 * another runner or a rerun takes them at once instead of after the lease. The databases given back, in plan order.
 */
export async function releaseClaims(db: Queryable, runId: number, runner: string): Promise<string[]> {
  const { rows } = await db.query<{ target: string; wave: number; position: number }>(
    `UPDATE ferry_fleet.targets
        SET status = 'pending', claimed_by = NULL, lease_until = NULL, attempts = greatest(attempts - 1, 0),
            started_at = CASE WHEN attempts <= 1 THEN NULL ELSE started_at END
      WHERE run_id = $1 AND claimed_by = $2 AND status = 'claimed'
      RETURNING target, wave, position`,
    [runId, runner],
  );
  return rows.sort((a, b) => a.wave - b.wave || a.position - b.position).map((r) => r.target);
}

/**
 * When no database of `wave` (or before it) is pending or claimed: stop the run (`failed`) if its failures exceed
 * the budget, finish it (`done`) after the last wave, or start the next wave. A no-op when another runner did it.
 */
export async function closeWave(db: Queryable, runId: number, wave: number): Promise<void> {
  await db.query(
    `UPDATE ferry_fleet.runs r
        SET status = CASE WHEN f.failed > r.failure_budget THEN 'failed' WHEN r.current_wave >= r.waves THEN 'done' ELSE 'running' END,
            current_wave = CASE WHEN f.failed > r.failure_budget OR r.current_wave >= r.waves THEN r.current_wave ELSE r.current_wave + 1 END,
            finished_at = CASE WHEN f.failed > r.failure_budget OR r.current_wave >= r.waves THEN clock_timestamp() END
       FROM (SELECT count(*) FILTER (WHERE status = 'failed') AS failed FROM ferry_fleet.targets WHERE run_id = $1) f
      WHERE r.run_id = $1 AND r.status = 'running' AND r.current_wave = $2
        AND NOT EXISTS (SELECT 1 FROM ferry_fleet.targets t WHERE t.run_id = $1 AND t.wave <= $2 AND t.status IN ('pending', 'claimed'))`,
    [runId, wave],
  );
}

/** Give up the fleet's unfinished run (so a run with another plan may start); the run abandoned, or undefined when there was none. */
export async function abandonRun(db: Queryable, fleet: string): Promise<FleetRunRow | undefined> {
  const { rows } = await db.query<FleetRunRow>(
    `UPDATE ferry_fleet.runs SET status = 'abandoned', finished_at = clock_timestamp()
      WHERE fleet = $1 AND status IN ('running', 'failed') RETURNING ${RUN_COLUMNS}`,
    [fleet],
  );
  return rows[0];
}
