import { type ActivityReading, readActivity, walRate } from '../db/activity.js';
import type { Database, Queryable } from '../db/database.js';
import { OWN_SESSIONS } from './probe.js';
import type { BackfillStepSpec } from './spec.js';

/** The health thresholds of a backfill step. */
export type Thresholds = BackfillStepSpec['throttle'];

/** One reading of the server's health, between batches. */
export interface HealthReading {
  lockWaiters: number | null;
  autovacuum: boolean | null;
  xminAgeSeconds: number | null;
  walBytesPerSecond: number | null;
  replayLagSeconds: number | null;
}

/** What the health says to do before the next batch. */
export interface HealthVerdict {
  /** The first signal over its threshold, described for the progress line; null when all is well. */
  reason: string | null;
  /** Shrink the batch and pause with a growing delay. */
  backOff: boolean;
  /** Pause at least this long (the WAL rate's pacing). */
  pauseMs: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/**
 * Measures the health signals a backfill backs off on, live on the server:
 * sessions waiting for locks on the table (pg_locks, not granted), a vacuum
 * running on it (pg_stat_progress_vacuum), the oldest transaction holding back
 * the xmin horizon (pg_stat_activity), the WAL rate (pg_current_wal_lsn
 * deltas), replay lag (pg_stat_replication, when a replica exists), and the
 * batch's own latency against the recent median. Signals an engine does not
 * have (PGlite is one embedded session) are skipped.
 */
export class HealthMonitor {
  /** The last reading with a WAL position, for the WAL rate. */
  private last: ActivityReading | undefined;
  /** The span the last WAL rate was measured over, in ms. */
  private walSpanMs = 0;
  private readonly recent: number[] = [];
  private serverSignals: boolean;
  /** The last server reading and when it was taken, reused for `readEveryMs`. */
  private cached: { at: number; reading: HealthReading } | undefined;

  /**
   * `readEveryMs` reuses a server reading that recent: the engine reads at
   * most a few times a second, not before every batch — under load batches
   * are a few ms long, and the activity views (pg_locks, pg_stat_activity)
   * cost the server more than such a batch should. 0 reads every time.
   */
  constructor(
    private readonly db: Database,
    private readonly tableOid: number,
    private readonly limits: Thresholds,
    private readonly readEveryMs = 0,
  ) {
    this.serverSignals = db.kind === 'server';
  }

  /** Read the server-side signals; null where a signal does not exist here. */
  async read(q: Queryable = this.db): Promise<HealthReading> {
    const none: HealthReading = { lockWaiters: null, autovacuum: null, xminAgeSeconds: null, walBytesPerSecond: null, replayLagSeconds: null };
    if (!this.serverSignals) return none;
    const now = performance.now();
    // The WAL rate of a reused reading was acted on already (its pause): only the states repeat.
    if (this.cached && now - this.cached.at < this.readEveryMs) return { ...this.cached.reading, walBytesPerSecond: null };
    let a: ActivityReading;
    try {
      // The backfill's own workers queue on the table's extension lock among themselves: that is no reason to back off.
      a = await readActivity(q, { tableOid: this.tableOid, excludeApplication: OWN_SESSIONS, prepare: true });
    } catch {
      // A server without these views or functions (or without the rights to read them): skip the signals.
      this.serverSignals = false;
      return none;
    }
    const last = this.last;
    const rate = last ? walRate(last, a) : null;
    if (a.walBytes !== null) {
      if (last && rate !== null) this.walSpanMs = a.at - last.at;
      this.last = a;
    }
    const reading: HealthReading = {
      lockWaiters: a.tableLockWaiters,
      autovacuum: a.vacuumOnTable,
      xminAgeSeconds: a.xminAgeSeconds,
      walBytesPerSecond: rate,
      replayLagSeconds: a.replayLagSeconds,
    };
    this.cached = { at: now, reading };
    return reading;
  }

  /**
   * Judge the last batch (its duration against the recent median, when over
   * `targetMs`) and the current health: the first signal over its threshold,
   * described for the progress line, or null when all is well.
   */
  async check(lastBatchMs: number, targetMs: number): Promise<string | null> {
    return (await this.assess(lastBatchMs, targetMs)).reason;
  }

  /**
   * {@link check}, with what to do about it. A signal over its threshold asks
   * to back off (smaller batches, growing pauses) — except the WAL rate, which
   * a smaller batch does not lower: over its threshold, it asks for the pause
   * that brings the WAL written since the last reading down to the threshold
   * on average — unless the database is `idle` (no other session, by the
   * pacer's probe) and no replica lags. With `keys` (the keys the batch walked)
   * the latency trend is judged per key, so a batch slower only because it is
   * bigger is no slowdown.
   */
  async assess(lastBatchMs: number, targetMs: number, keys?: number, idle = false): Promise<HealthVerdict> {
    const l = this.limits;
    const h = await this.read();
    const perKey = keys !== undefined && keys > 0;
    const cost = perKey ? lastBatchMs / keys : lastBatchMs;
    const trend = this.recent.length >= 5 ? median(this.recent) : null;
    this.recent.push(cost);
    if (this.recent.length > 20) this.recent.shift();
    const backOff = (reason: string): HealthVerdict => ({ reason, backOff: true, pauseMs: 0 });
    if (h.lockWaiters !== null && h.lockWaiters > l.maxLockWaiters) return backOff(`lock waiters ${h.lockWaiters} > ${l.maxLockWaiters}`);
    if (h.autovacuum && l.pauseOnAutovacuum) return backOff('vacuum running on the table');
    if (h.xminAgeSeconds !== null && h.xminAgeSeconds > l.maxXminAgeSeconds)
      return backOff(`oldest transaction ${Math.round(h.xminAgeSeconds)} s > ${l.maxXminAgeSeconds} s`);
    if (h.replayLagSeconds !== null && h.replayLagSeconds > l.maxReplayLagSeconds)
      return backOff(`replay lag ${h.replayLagSeconds.toFixed(1)} s > ${l.maxReplayLagSeconds} s`);
    // Idle (the pacer's probe sees no other session) and no replica lagging: the WAL rate hurts nobody, so the backfill runs at full speed.
    const walMatters = !idle || h.replayLagSeconds !== null;
    if (walMatters && h.walBytesPerSecond !== null && h.walBytesPerSecond > l.maxWalBytesPerSecond) {
      const mib = (n: number) => (n / 1048576).toFixed(1);
      return {
        reason: `WAL ${mib(h.walBytesPerSecond)} MiB/s > ${mib(l.maxWalBytesPerSecond)} MiB/s`,
        backOff: false,
        pauseMs: this.walSpanMs * (h.walBytesPerSecond / Math.max(1, l.maxWalBytesPerSecond) - 1),
      };
    }
    // Only a batch over its target counts: batches growing toward the target are meant to get slower,
    // and smaller batches after a back-off must not look like a new slowdown.
    if (trend !== null && lastBatchMs > targetMs && cost > l.latencyTrendFactor * trend) {
      if (!perKey) return backOff(`batch ${Math.round(lastBatchMs)} ms > ${l.latencyTrendFactor} × recent median ${Math.round(trend)} ms`);
      const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
      return backOff(`batch ${Math.round(lastBatchMs)} ms, ${us(cost)} per key > ${l.latencyTrendFactor} × recent median ${us(trend)}`);
    }
    return { reason: null, backOff: false, pauseMs: 0 };
  }
}
