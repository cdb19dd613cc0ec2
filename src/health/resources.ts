import { readActivity } from '../db/activity.js';
import type { Database, Queryable } from '../db/database.js';
import { stateTableExists } from '../state/store.js';
import { type MetricVerdict, worst } from './matrix.js';
import { type ResourceSample, type ResourceSignal, resourceSignals, type SampleSpan } from './resource-row.js';
import type { Window } from './source.js';
import type { ResourceThresholds } from './thresholds.js';

/** Readings older than this are deleted as new ones are taken: a week covers any stage's baseline. */
const KEEP_DAYS = 7;
/** At most this many readings are kept, whatever their age (a dashboard refreshing often takes many). */
const KEEP_ROWS = 20_000;
/** ferry's own sessions are named `ferry <command> <host> pid <n>`: they are not the load the rollout is judged on. */
const FERRY_SESSIONS = 'ferry ';

/** Why the server's load could not be read now, when it could not; shown when the window has no reading at all. */
export interface ResourceProbe {
  unmeasured?: string;
}

/**
 * Take one reading of the server's load and store it in `ferry.resource_samples`
 * (pruning old ones), for the resource row to judge now and as a later stage's
 * baseline. Never throws: an engine or role that cannot read the load says why.
 */
export async function sampleResources(db: Database, source: string): Promise<ResourceProbe> {
  if (db.kind === 'pglite') return { unmeasured: 'not measured: PGlite is one embedded session, with no other sessions, lock waits or replicas to see' };
  try {
    if (!(await stateTableExists(db, 'resource_samples'))) return { unmeasured: 'not measured: ferry.resource_samples does not exist yet (state version 12)' };
    const r = await readActivity(db, { excludeApplication: FERRY_SESSIONS });
    await db.query(
      `WITH taken AS (
         INSERT INTO ferry.resource_samples (source, active_sessions, lock_waiters, replay_lag_seconds, wal_bytes, requested_checkpoints)
         VALUES ($1, $2, $3, $4, $5::numeric, $6) RETURNING id)
       DELETE FROM ferry.resource_samples
        WHERE at < clock_timestamp() - make_interval(days => $7) OR id <= (SELECT id FROM taken) - $8`,
      [source, r.activeSessions, r.lockWaiters, r.replayLagSeconds, r.walBytes?.toString() ?? null, r.requestedCheckpoints, KEEP_DAYS, KEEP_ROWS],
    );
    return {};
  } catch (err) {
    return { unmeasured: `not measured: the server's load could not be read (${err instanceof Error ? err.message : String(err)})` };
  }
}

/**
 * The stored readings taken from `fromMs` to `toMs` (inclusive), oldest first.
 * Windows come as JavaScript dates, whole milliseconds, while readings are stamped
 * to the microsecond: a reading counts as taken in its millisecond, so one taken
 * in the same millisecond as the window's end (just before the judging) is in it.
 */
export async function readSamples(q: Queryable, fromMs: number, toMs: number): Promise<ResourceSample[]> {
  if (!(await stateTableExists(q, 'resource_samples'))) return [];
  const { rows } = await q.query<{ at_ms: number; active: number | null; waiters: number | null; lag: number | null; wal: string | null }>(
    `SELECT floor(extract(epoch FROM at) * 1000)::float8 AS at_ms, active_sessions AS active, lock_waiters AS waiters,
            replay_lag_seconds AS lag, wal_bytes::text AS wal
       FROM ferry.resource_samples
      WHERE at >= $1::timestamptz AND at < $2::timestamptz + interval '1 millisecond'
      ORDER BY at, id`,
    [new Date(fromMs).toISOString(), new Date(toMs).toISOString()],
  );
  return rows.map((r) => ({
    atMs: Number(r.at_ms),
    activeSessions: r.active,
    lockWaiters: r.waiters,
    replayLagSeconds: r.lag,
    walBytes: r.wal === null ? null : Number(r.wal),
  }));
}

/** What the resource row is judged on: the matrix's window, when the stage began, and the thresholds. */
export interface ResourceInput {
  window: Window;
  /** When the current stage began; undefined before the rollout started (then there is no baseline). */
  stageStart: Date | undefined;
  windowMs: number;
  thresholds: ResourceThresholds;
  /** Why the load could not be read now (see {@link sampleResources}). */
  unmeasured?: string;
}

/**
 * The row from its signals: the worst measured signal decides its colour; none
 * measured is `no-data` (which does not count). Its note names the signals of its
 * colour (all of them when none was measured), for decisions' reasons.
 */
export function resourceRow(signals: ResourceSignal[], t: ResourceThresholds, empty: string): MetricVerdict {
  const measured = signals.filter((s) => s.colour !== 'no-data');
  const colour = measured.length ? worst(measured.map((s) => s.colour)) : 'no-data';
  const decider = measured.find((s) => s.colour === colour);
  return {
    metric: 'resources',
    value: decider?.value ?? null,
    baseline: decider?.baseline ?? null,
    compared: decider?.compared ?? null,
    threshold: decider?.threshold ?? { yellow: t.activeSessions.yellow, red: t.activeSessions.red },
    colour,
    note: signals.length ? (measured.length ? measured.filter((s) => s.colour === colour) : signals).map((s) => s.note).join('; ') : empty,
    signals,
  };
}

/**
 * The resource row of a matrix: the readings in the window against those taken
 * in the same length of time before the stage began (the baseline).
 */
export async function judgeResources(q: Queryable, i: ResourceInput): Promise<MetricVerdict> {
  const current: SampleSpan = { fromMs: i.window.from.getTime(), toMs: i.window.to.getTime(), endInclusive: true };
  const start = i.stageStart?.getTime();
  const baseline: SampleSpan | null = start === undefined ? null : { fromMs: start - i.windowMs, toMs: start, endInclusive: false };
  // One window further back for each span: the WAL rate of its first reading is measured from the reading before it.
  // Two reads once the stage is older than the window, so a day-long stage does not read a day of readings each time.
  const recentFrom = current.fromMs - i.windowMs;
  const earlierFrom = baseline ? baseline.fromMs - i.windowMs : recentFrom;
  const apart = baseline !== null && baseline.toMs < recentFrom;
  const samples = [
    ...(apart ? await readSamples(q, earlierFrom, baseline.toMs) : []),
    ...(await readSamples(q, apart ? recentFrom : Math.min(recentFrom, earlierFrom), current.toMs)),
  ];
  if (!samples.some((s) => s.atMs >= current.fromMs)) return resourceRow([], i.thresholds, i.unmeasured ?? "no reading of the server's load in the window");
  return resourceRow(resourceSignals(samples, current, baseline, i.thresholds, i.windowMs), i.thresholds, '');
}
