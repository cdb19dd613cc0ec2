import type { Queryable } from './database.js';

/**
 * One reading of what the rest of the server is doing: the load signals the
 * backfill paces itself by and the health matrix's resource row judges.
 * Every figure is null where this engine or these rights cannot see it
 * (PGlite is one embedded session; a role without pg_monitor sees only its
 * own sessions' details).
 */
export interface ActivityReading {
  /** performance.now() when read, for rates between two readings. */
  at: number;
  /** Sessions of this database running a statement (not idle), this one excluded. */
  activeSessions: number | null;
  /**
   * Sessions of this database that ran a statement within the last `recentMs`
   * (running one now, or their state changed since), this one excluded: a
   * load of short statements is seen by one reading, where `activeSessions`
   * catches each session only in the moments its statement runs.
   */
  recentSessions: number | null;
  /** Sessions of this database waiting for a lock (any relation), the excluded sessions left out. */
  lockWaiters: number | null;
  /** Sessions waiting for a lock on `tableOid`, when one was given, the excluded sessions left out (a backfill's workers queue on the table's extension lock among themselves). */
  tableLockWaiters: number | null;
  /** A vacuum (auto or manual) is running on `tableOid`. */
  vacuumOnTable: boolean | null;
  /** Age of the oldest transaction holding back the xmin horizon, in seconds. */
  xminAgeSeconds: number | null;
  /** The current WAL position as a byte count (null on a standby). */
  walBytes: bigint | null;
  /** The largest replay lag of a replica, in seconds; null without replicas. */
  replayLagSeconds: number | null;
  /** Checkpoints the server had to request (WAL filled max_wal_size) since stats reset; null from PostgreSQL 17 on, which moved the count to pg_stat_checkpointer. */
  requestedCheckpoints: number | null;
}

/** A reading with nothing in it: the engine has no such views. */
export const NO_ACTIVITY = (at = performance.now()): ActivityReading => ({
  at,
  activeSessions: null,
  recentSessions: null,
  lockWaiters: null,
  tableLockWaiters: null,
  vacuumOnTable: null,
  xminAgeSeconds: null,
  walBytes: null,
  replayLagSeconds: null,
  requestedCheckpoints: null,
});

/** `X/Y` → bytes. */
export const lsnBytes = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi ?? '0'}`) << 32n) + BigInt(`0x${lo ?? '0'}`);
};

/**
 * Read the activity of the server `q` is connected to (one round trip).
 * Sessions named `exclude` by application_name prefix are left out of the
 * session and lock-waiter counts (a backfill's own workers are not load on the
 * database, and their waits on each other are not the application's).
 * Throws where the views or functions do not exist or may not be read; the
 * caller decides to stop asking.
 */
export async function readActivity(
  q: Queryable,
  opts: { tableOid?: number; excludeApplication?: string; recentMs?: number; prepare?: boolean } = {},
): Promise<ActivityReading> {
  const { rows } = await q.query<{
    active: number;
    recent: number;
    waiters: number;
    table_waiters: number | null;
    vacuum: boolean | null;
    xmin_age: number | null;
    lsn: string | null;
    lag: number | null;
    ckpt: string | null;
  }>(
    `WITH me AS (SELECT oid AS dboid FROM pg_database WHERE datname = current_database()),
          waiting AS (SELECT l.pid, l.relation FROM pg_locks l, me WHERE NOT l.granted AND l.database = me.dboid
                         AND ($2::text IS NULL OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid AND a.application_name LIKE $2 || '%')))
     SELECT (SELECT count(*)::int FROM pg_stat_activity a
              WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state IS NOT NULL AND a.state <> 'idle'
                AND a.backend_type = 'client backend' AND ($2::text IS NULL OR a.application_name NOT LIKE $2 || '%')) AS active,
            (SELECT count(*)::int FROM pg_stat_activity a
              WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state IS NOT NULL
                AND (a.state <> 'idle' OR a.state_change > clock_timestamp() - make_interval(secs => $3::float8 / 1000))
                AND a.backend_type = 'client backend' AND ($2::text IS NULL OR a.application_name NOT LIKE $2 || '%')) AS recent,
            (SELECT count(DISTINCT l.pid)::int FROM waiting l) AS waiters,
            CASE WHEN $1::oid IS NULL THEN NULL ELSE (SELECT count(DISTINCT l.pid)::int FROM waiting l WHERE l.relation = $1::oid) END AS table_waiters,
            CASE WHEN $1::oid IS NULL THEN NULL ELSE
              EXISTS (SELECT 1 FROM pg_stat_progress_vacuum v WHERE v.relid = $1::oid AND v.datname = current_database()) END AS vacuum,
            (SELECT extract(epoch FROM clock_timestamp() - min(a.xact_start))::float8 FROM pg_stat_activity a
              WHERE a.backend_xmin IS NOT NULL AND a.pid <> pg_backend_pid() AND a.datname = current_database()) AS xmin_age,
            CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn,
            (SELECT extract(epoch FROM max(r.replay_lag))::float8 FROM pg_stat_replication r) AS lag,
            (SELECT to_jsonb(b) ->> 'checkpoints_req' FROM pg_stat_bgwriter b) AS ckpt`,
    [opts.tableOid ?? null, opts.excludeApplication ?? null, opts.recentMs ?? 1000],
    // A backfill reads it a few times a second from sessions of its own: there, planning it each time cost more (~2.5 ms) than running it (~0.3 ms).
    { prepare: opts.prepare ?? false },
  );
  const r = rows[0];
  if (!r) return NO_ACTIVITY();
  return {
    at: performance.now(),
    activeSessions: r.active,
    recentSessions: r.recent,
    lockWaiters: r.waiters,
    tableLockWaiters: r.table_waiters,
    vacuumOnTable: r.vacuum,
    xminAgeSeconds: r.xmin_age,
    walBytes: r.lsn ? lsnBytes(r.lsn) : null,
    replayLagSeconds: r.lag,
    requestedCheckpoints: r.ckpt === null ? null : Number(r.ckpt),
  };
}

/** WAL written per second between two readings; null when either lacks a position or no time passed. Pure. */
export function walRate(before: ActivityReading, after: ActivityReading): number | null {
  if (before.walBytes === null || after.walBytes === null || after.at <= before.at) return null;
  return (Number(after.walBytes - before.walBytes) * 1000) / (after.at - before.at);
}
