import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { sleep } from '../sleep.js';
import { stateTableExists } from '../state/store.js';

/** What a controller is doing: judging a stage (`running`), waiting for traffic, `paused`, finished (`done`, `rolled-back`), or `stopped` by a signal. */
export type ControllerState = 'running' | 'waiting' | 'paused' | 'rolled-back' | 'done' | 'stopped';

/** One migration's controller as stored in `ferry.controllers`. */
export interface ControllerRecord {
  migrationId: string;
  state: ControllerState;
  /** The stage it last judged. */
  percentage: number | null;
  reason: string | null;
  /** Who runs it now (null: nobody), and when it last said so. */
  owner: string | null;
  heartbeatAt: Date | null;
  leaseMs: number;
  /** Milliseconds since the last heartbeat, by the database's clock; null without one. */
  heartbeatAgeMs: number | null;
  /** The stage at which an operator resumed despite yellow. */
  acknowledged: number | null;
  evaluations: number;
  lastColour: string | null;
  lastAction: string | null;
  updatedAt: Date;
}

const tableExists = (db: Queryable) => stateTableExists(db, 'controllers');

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** The controller of a migration, or undefined when none ever ran; `forUpdate` locks its row. */
export async function readController(db: Queryable, migrationId: string, forUpdate = false): Promise<ControllerRecord | undefined> {
  if (!(await tableExists(db))) return undefined;
  const { rows } = await db.query(
    `SELECT migration_id, state, percentage::text AS percentage, reason, owner, heartbeat_at, lease_ms, acknowledged::text AS acknowledged,
            evaluations::text AS evaluations, last_colour, last_action, updated_at,
            (extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)::float8 AS heartbeat_age_ms
       FROM ferry.controllers WHERE migration_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [migrationId],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    migrationId: r.migration_id as string,
    state: r.state as ControllerState,
    percentage: num(r.percentage),
    reason: (r.reason as string | null) ?? null,
    owner: (r.owner as string | null) ?? null,
    heartbeatAt: r.heartbeat_at ? new Date(r.heartbeat_at as string) : null,
    leaseMs: Number(r.lease_ms),
    heartbeatAgeMs: num(r.heartbeat_age_ms),
    acknowledged: num(r.acknowledged),
    evaluations: Number(r.evaluations),
    lastColour: (r.last_colour as string | null) ?? null,
    lastAction: (r.last_action as string | null) ?? null,
    updatedAt: new Date(r.updated_at as string),
  };
}

/**
 * Take the controller lease of a migration: free, or its holder's heartbeat is
 * older than its lease (a killed controller). Returns false when another holds it.
 */
export async function tryAcquire(db: Queryable, migrationId: string, owner: string, token: string, leaseMs: number): Promise<boolean> {
  const { rows } = await db.query<{ token: string }>(
    `INSERT INTO ferry.controllers (migration_id, state, owner, token, heartbeat_at, lease_ms)
     VALUES ($1, 'running', $2, $3, clock_timestamp(), $4)
     ON CONFLICT (migration_id) DO UPDATE
       SET owner = EXCLUDED.owner, token = EXCLUDED.token, heartbeat_at = EXCLUDED.heartbeat_at, lease_ms = EXCLUDED.lease_ms,
           started_at = clock_timestamp(), updated_at = clock_timestamp()
     WHERE ferry.controllers.token IS NULL
        OR ferry.controllers.heartbeat_at + ferry.controllers.lease_ms * interval '1 millisecond' < clock_timestamp()
     RETURNING token`,
    [migrationId, owner, token, leaseMs],
  );
  return rows[0]?.token === token;
}

/** Take the lease, waiting up to `waitMs` for a running (or killed) controller's lease; E_LOCKED naming the holder after that. */
export async function acquireLease(db: Queryable, migrationId: string, owner: string, token: string, leaseMs: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await tryAcquire(db, migrationId, owner, token, leaseMs)) return;
    if (Date.now() >= deadline) {
      const c = await readController(db, migrationId);
      const age =
        c?.heartbeatAgeMs === null || c?.heartbeatAgeMs === undefined ? 'no heartbeat' : `last heartbeat ${(c.heartbeatAgeMs / 1000).toFixed(1)}s ago`;
      throw new FerryError(
        'E_LOCKED',
        `another controller is running the rollout of ${migrationId}: ${c?.owner ?? 'unknown'} (${age}, lease ${((c?.leaseMs ?? 0) / 1000).toFixed(0)}s)`,
        'only one controller runs per migration; stop it, or wait for its lease to expire if it was killed (raise --lock-wait)',
      );
    }
    await sleep(Math.min(250, Math.max(10, deadline - Date.now())));
  }
}

/** Renew the lease (optionally with a new length); false when it is no longer ours. */
export async function heartbeat(db: Queryable, migrationId: string, token: string, leaseMs?: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE ferry.controllers SET heartbeat_at = clock_timestamp(), lease_ms = coalesce($3, lease_ms) WHERE migration_id = $1 AND token = $2`,
    [migrationId, token, leaseMs ?? null],
  );
  return (r.affectedRows ?? 0) > 0;
}

/** Inside a transaction: lock the controller row and refuse (E_LOCKED) unless the lease is still ours. */
export async function fence(tx: Queryable, migrationId: string, token: string): Promise<void> {
  const { rows } = await tx.query<{ token: string | null }>('SELECT token FROM ferry.controllers WHERE migration_id = $1 FOR UPDATE', [migrationId]);
  if (rows[0]?.token !== token) {
    throw new FerryError(
      'E_LOCKED',
      `this controller lost its lease on ${migrationId} to another`,
      'the other controller carries on; nothing was changed by this one',
    );
  }
}

/** Record what the controller judged and did (after each evaluation), renewing the lease. */
export async function saveProgress(
  db: Queryable,
  migrationId: string,
  token: string,
  p: { state: ControllerState; percentage: number; reason: string; colour: string; action: string; matrix: unknown },
): Promise<void> {
  await db.query(
    `UPDATE ferry.controllers SET state = $3, percentage = $4, reason = $5, last_colour = $6, last_action = $7, last_matrix = $8::jsonb,
            evaluations = evaluations + 1, heartbeat_at = clock_timestamp(), updated_at = clock_timestamp(),
            acknowledged = CASE WHEN $3 IN ('rolled-back', 'done') THEN NULL ELSE acknowledged END
      WHERE migration_id = $1 AND token = $2`,
    [migrationId, token, p.state, p.percentage.toFixed(2), p.reason, p.colour, p.action, JSON.stringify(p.matrix)],
  );
}

/** Set the state (and reason) without an evaluation. */
export async function setState(
  db: Queryable,
  migrationId: string,
  state: ControllerState,
  reason: string,
  extra: { acknowledged?: number | null } = {},
): Promise<void> {
  await db.query(
    `INSERT INTO ferry.controllers (migration_id, state, reason, acknowledged) VALUES ($1, $2, $3, CASE WHEN $4::boolean THEN $5::numeric END)
     ON CONFLICT (migration_id) DO UPDATE SET state = EXCLUDED.state, reason = EXCLUDED.reason, updated_at = clock_timestamp(),
       acknowledged = CASE WHEN $4::boolean THEN $5::numeric ELSE ferry.controllers.acknowledged END`,
    [migrationId, state, reason, extra.acknowledged !== undefined, extra.acknowledged?.toFixed(2) ?? null],
  );
}

/** Give the lease up (a stopped or finished controller); a running state becomes `stopped`. */
export async function releaseLease(db: Queryable, migrationId: string, token: string): Promise<void> {
  await db.query(
    `UPDATE ferry.controllers SET token = NULL, owner = NULL, heartbeat_at = NULL, updated_at = clock_timestamp(),
            state = CASE WHEN state IN ('running', 'waiting') THEN 'stopped' ELSE state END
      WHERE migration_id = $1 AND token = $2`,
    [migrationId, token],
  );
}
