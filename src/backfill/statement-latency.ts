/*
 * The application's statements as PostgreSQL times them, where the database
 * has pg_stat_statements (installed, and loaded by shared_preload_libraries).
 * Per statement, the mean execution time since the pacer last slowed down is
 * set against that statement's mean over everything recorded before the run;
 * the reading is the time the statements took over the time they would have
 * taken at their old means, minus 1 (frequent statements weigh in by their
 * calls). Only other sessions' statements count: the backfill's own statements
 * begin with OWN_STATEMENT_TAG, ferry's bookkeeping names its schema, and the
 * activity and settings reads of its sessions, and utility statements (BEGIN,
 * COMMIT, SET …, pooled together for every session), are left out (an
 * application statement of exactly the shape of one of the backfill's would
 * share its entry, as statement ids ignore comments). It is a
 * mean, which moves less than the p99 the budget is about, so like the SDK's
 * signal it can only add to the probe: the pacer goes by whichever reads higher.
 */

import type { Queryable } from '../db/database.js';
import { OWN_STATEMENT_TAG } from './statements.js';

/** A statement with fewer calls than this before the run has no baseline mean worth comparing with. */
const MIN_BASELINE_CALLS = 20;
/** Fewer calls than this (of statements with a baseline) since the window began: no reading yet. */
const MIN_WINDOW_CALLS = 100;
/** How often pg_stat_statements is read: it holds up to pg_stat_statements.max rows (5,000 by default). */
const READ_EVERY_MS = 1000;

/** calls and total execution time (ms) per statement (queryid). */
type Counters = Map<string, { calls: number; ms: number }>;

/** Utility statements: pooled by text for every session, the backfill's own among them (LOCK is kept: its waits are the application's). */
const UTILITY = '^\\s*(BEGIN|COMMIT|ROLLBACK|END|ABORT|START|SET|RESET|SHOW|SAVEPOINT|RELEASE|PREPARE|EXECUTE|DEALLOCATE|DISCARD|LISTEN|UNLISTEN|NOTIFY)\\M';

/**
 * Every top-level statement's counters in this database, without its text:
 * with texts, each read loads PostgreSQL's whole file of them, and this one runs every second.
 */
const COUNTERS = `SELECT queryid::text AS id, sum(calls)::float8 AS calls, sum(total_exec_time)::float8 AS ms
   FROM pg_stat_statements(false)
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel AND queryid IS NOT NULL
  GROUP BY queryid`;

/** Of the statements `$1`, the application's, by their text: not the backfill's own, not ferry's, not utility statements. */
const APPLICATION = `SELECT DISTINCT queryid::text AS id FROM pg_stat_statements(true)
  WHERE queryid::text = ANY ($1::text[]) AND left(query, length($2)) <> $2 AND query !~* $3
    AND query !~* '\\mferry\\.|\\mpg_stat_|\\mpg_locks\\M|\\mset_config\\s*\\(|\\mpg_relation_size\\s*\\('`;

/** The application's statements' execution time against their means before the run; see the file's comment. */
export class StatementLatency {
  /** Mean ms per call of each statement before the run (those with enough calls). */
  private readonly baseline = new Map<string, number>();
  /** Whether each statement seen is the application's, judged once by its text. */
  private readonly application = new Map<string, boolean>();
  private windowStart: Counters = new Map();
  private windowSince: number | undefined;
  private lastRead = Number.NEGATIVE_INFINITY;
  private lastImpact: number | null = null;

  private constructor(private readonly db: Queryable) {}

  /** The signal for a run that starts now; undefined when pg_stat_statements cannot be read here, or holds no statement with a baseline. */
  static async start(db: Queryable): Promise<StatementLatency | undefined> {
    const { rows } = await db.query<{ installed: boolean }>(`SELECT to_regclass('pg_stat_statements') IS NOT NULL AS installed`);
    if (!rows[0]?.installed) return undefined;
    const s = new StatementLatency(db);
    // Installed but not loaded (shared_preload_libraries), or not readable by this role: the view refuses, and there is no such signal.
    const start = await s.counters().catch(() => undefined);
    if (!start) return undefined;
    for (const [id, c] of start) if (c.calls >= MIN_BASELINE_CALLS && c.ms > 0) s.baseline.set(id, c.ms / c.calls);
    s.windowStart = start;
    return s.baseline.size > 0 ? s : undefined;
  }

  /**
   * The increase of the statements' time since `since` (epoch ms; the pacer's
   * last slowdown) over their baseline means, as a fraction: null while too
   * few calls are in. The run's first window starts at the counters read as it
   * started; a later `since` starts a new one from the counters as they are
   * then. Read at most every {@link READ_EVERY_MS}.
   */
  async impactSince(since: number, now = Date.now()): Promise<number | null> {
    if (this.windowSince !== undefined && since !== this.windowSince) {
      this.windowSince = since;
      this.windowStart = await this.counters();
      this.lastRead = now;
      this.lastImpact = null;
      return null;
    }
    this.windowSince = since;
    if (now - this.lastRead < READ_EVERY_MS) return this.lastImpact;
    this.lastRead = now;
    let calls = 0;
    let took = 0;
    let expected = 0;
    for (const [id, c] of await this.counters()) {
      const mean = this.baseline.get(id);
      const before = this.windowStart.get(id) ?? { calls: 0, ms: 0 };
      const n = c.calls - before.calls;
      // A statement without a baseline, or whose counters were reset meanwhile, says nothing.
      if (mean === undefined || n <= 0 || c.ms < before.ms) continue;
      calls += n;
      took += c.ms - before.ms;
      expected += n * mean;
    }
    this.lastImpact = calls >= MIN_WINDOW_CALLS && expected > 0 ? took / expected - 1 : null;
    return this.lastImpact;
  }

  /** The application's statements' counters now; the texts of statements not seen before are read once, to judge them. */
  private async counters(): Promise<Counters> {
    const { rows } = await this.db.query<{ id: string; calls: number; ms: number }>(COUNTERS, [], { prepare: true });
    const unseen = rows.filter((r) => !this.application.has(r.id)).map((r) => r.id);
    if (unseen.length > 0) {
      const { rows: app } = await this.db.query<{ id: string }>(APPLICATION, [unseen, OWN_STATEMENT_TAG, UTILITY]);
      const ids = new Set(app.map((r) => r.id));
      for (const id of unseen) this.application.set(id, ids.has(id));
    }
    return new Map(rows.filter((r) => this.application.get(r.id)).map((r) => [r.id, { calls: r.calls, ms: r.ms }]));
  }
}
