/*
 * The impact probe runs on a session of its own, beside the worker's batches,
 * and times what the application's writes go through: one row of the table,
 * picked at random by its physical position (any key type works), locked FOR
 * SHARE in its own short statement. A row the running batch holds makes the
 * probe wait exactly as an application UPDATE of it would; a busy CPU or disk
 * slows it like any other query. Samples taken while the worker rests are the
 * baseline (re-taken all along, so background noise cancels out; when the
 * rests are too short to count, the worker takes a longer one); samples over
 * the whole window, batches and rests mixed, are what the application sees.
 * The probe locks nothing longer than its own statement, and only probes while
 * other sessions are active: with no load there is nobody to protect.
 */

import { type ActivityReading, readActivity } from '../db/activity.js';
import type { Database } from '../db/database.js';
import { sleep } from '../sleep.js';
import type { ImpactWindow } from './pacer.js';
import { OWN_STATEMENT_TAG } from './statements.js';

/** Sessions whose application_name starts with this are the backfill's own (workers, probes): not load. */
export const OWN_SESSIONS = 'ferry backfill';

/** Gap between probes: ~150 a second, a few % of one core. */
const PROBE_GAP_MS = 5;
/** How often the load is looked for (pg_stat_activity, pg_locks): a few times a second costs the server little. */
const ACTIVITY_EVERY_MS = 250;
/** How far back the first look for load reaches: two looks' worth. */
const FIRST_LOOK_MS = 2 * ACTIVITY_EVERY_MS;
/** Load seen this recently still counts: sessions of a paced load are active only part of the time. */
const LOAD_MEMORY_MS = 2000;
/** New samples between two decisions (about 1.5 s of probing). */
const WINDOW_SAMPLES = 200;
/**
 * Samples a decision judges, the newest: a p99 of fewer is mostly noise (of
 * 600, the 6th slowest), and a sliding window of them lets one stall of a busy
 * machine weigh in no more than it does in the application's own p99.
 */
const WINDOW_KEEP = 600;
/** The quantile judged: the p99 the budget is about. */
const JUDGED = 0.99;
const BASELINE_SAMPLES = 100;
/** How long into a rest samples start to count as the baseline: a batch's after-effects (its WAL written out, its dirty pages) fade first. */
const SETTLE_MS = 50;
const BASELINE_KEEP = 600;
/**
 * A baseline older than this is stale: the load changes, and short rests
 * (a high duty cycle) give no sample past {@link SETTLE_MS}, so the worker
 * takes a rest of {@link BASELINE_REST_MS} to measure it again.
 */
const BASELINE_STALE_MS = 5000;
/** A rest long enough for the baseline: settled, then ~60 probes. */
export const BASELINE_REST_MS = 400;
/** A probe that waits this long counts as this long. */
const PROBE_TIMEOUT_MS = 2000;

/** The q-quantile of samples (nearest rank). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

/** Measures the backfill's impact on the rest of the database; see the file's comment. */
export class ImpactProbe {
  private inBatch = false;
  /** When the worker's current rest began. */
  private restSince = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** The last WINDOW_KEEP samples, batches and rests mixed: what the application sees. */
  private window: number[] = [];
  /** Samples taken since the last decision. */
  private fresh = 0;
  private readonly baseline: number[] = [];
  private lastLoadAt = Number.NEGATIVE_INFINITY;
  private lastBaselineAt = Number.NEGATIVE_INFINITY;
  private lastActivityAt = Number.NEGATIVE_INFINITY;
  private pages = 0;
  private perPage = 1;

  constructor(
    private readonly session: Database,
    private readonly table: string,
    private readonly tableOid: number,
  ) {}

  /** Start probing in the background; resolves once the first load reading (and, under load, a baseline) is taken. */
  async start(): Promise<void> {
    await this.session.query(
      `SELECT set_config('application_name', $1, false), set_config('statement_timeout', $2, false), set_config('lock_timeout', $2, false)`,
      [`${OWN_SESSIONS} probe`, `${PROBE_TIMEOUT_MS}ms`],
    );
    await this.readSize();
    // A paced load is idle between its statements most of the time: the first look counts the sessions that ran one in the last
    // FIRST_LOOK_MS (the worker waits for it), later ones those since the look before.
    await this.readLoad(FIRST_LOOK_MS);
    if (this.loaded()) while (this.baseline.length < BASELINE_SAMPLES && !this.stopped) await this.probeOnce();
    this.loop = this.run();
  }

  /** The worker is in a batch (true) or resting (false): samples taken at rest are the baseline. */
  markBatch(running: boolean): void {
    this.inBatch = running;
    if (!running) this.restSince = performance.now();
  }

  /** What was measured since the last decision; impact is null until the window holds enough samples. */
  take(): ImpactWindow {
    const loaded = this.loaded();
    if (!loaded) {
      this.window = [];
      this.fresh = 0;
    }
    if (!loaded || this.fresh < WINDOW_SAMPLES || this.window.length < WINDOW_KEEP || this.baseline.length < BASELINE_SAMPLES) return { loaded, impact: null };
    this.fresh = 0;
    return { loaded, impact: quantile(this.window, JUDGED) / Math.max(0.001, quantile(this.baseline, JUDGED)) - 1 };
  }

  /** Under load, the baseline is stale: the worker should rest {@link BASELINE_REST_MS} so the probe measures the load without it. */
  wantsBaselineRest(): boolean {
    return this.loaded() && performance.now() - this.lastBaselineAt > BASELINE_STALE_MS;
  }

  /** Stop probing and close the probe's session. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop?.catch(() => {});
    await this.session.close();
  }

  private loaded(): boolean {
    return performance.now() - this.lastLoadAt <= LOAD_MEMORY_MS;
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        if (performance.now() - this.lastActivityAt >= ACTIVITY_EVERY_MS) await this.readLoad();
        if (this.loaded()) await this.probeOnce();
        await sleep(this.loaded() ? PROBE_GAP_MS : ACTIVITY_EVERY_MS);
      }
    } catch {
      // The activity views cannot be read here (rights, engine): nothing is measured, the pacer sees no load.
      this.lastLoadAt = Number.NEGATIVE_INFINITY;
    }
  }

  private async readLoad(recentMs = ACTIVITY_EVERY_MS): Promise<void> {
    const a: ActivityReading = await readActivity(this.session, { tableOid: this.tableOid, excludeApplication: OWN_SESSIONS, recentMs, prepare: true });
    this.lastActivityAt = a.at;
    // Sessions that ran a statement since the last look: a load of short statements is idle at most instants.
    if ((a.recentSessions ?? a.activeSessions ?? 0) > 0 || (a.tableLockWaiters ?? 0) > 0) this.lastLoadAt = a.at;
    if (Math.random() < 0.05) await this.readSize();
  }

  /**
   * The table's size in pages and rows per page, to pick random rows by
   * position (it grows as rows get new versions). Rows per page come from the
   * statistics, or from the width of a few rows when the table was never analysed.
   */
  private async readSize(): Promise<void> {
    const { rows } = await this.session.query<{ pages: number; per_page: number | null; block: number }>(
      `SELECT (pg_relation_size($1::oid) / current_setting('block_size')::int)::int AS pages, current_setting('block_size')::int AS block,
              CASE WHEN c.reltuples > 0 AND c.relpages > 0 THEN ceil(c.reltuples / c.relpages)::int END AS per_page
         FROM pg_class c WHERE c.oid = $1::oid`,
      [this.tableOid],
    );
    const r = rows[0];
    this.pages = r?.pages ?? 0;
    let perPage = r?.per_page ?? null;
    if (perPage === null && this.pages > 0) {
      const { rows: w } = await this.session.query<{ w: number | null }>(
        `SELECT avg(pg_column_size(s.*))::float8 AS w FROM (SELECT * FROM ${this.table} LIMIT 50) s`,
      );
      // 24 bytes of tuple header and 4 of line pointer per row; pages are rarely filled to the last byte.
      perPage = Math.floor((0.9 * (r?.block ?? 8192)) / ((w[0]?.w ?? 100) + 28));
    }
    this.perPage = Math.max(1, Math.min(291, perPage ?? 1));
  }

  private async probeOnce(): Promise<void> {
    // A batch's after-effects (its WAL written out, its dead rows) last a little into the rest: not yet baseline.
    const atRest = !this.inBatch && performance.now() - this.restSince >= SETTLE_MS;
    const tid = `(${Math.floor(Math.random() * Math.max(1, this.pages))},${1 + Math.floor(Math.random() * this.perPage)})`;
    const t0 = performance.now();
    try {
      await this.session.query(`${OWN_STATEMENT_TAG} SELECT 1 FROM ${this.table} WHERE ctid = $1::tid FOR SHARE`, [tid]);
    } catch {
      // A timeout is a very slow sample; anything else (the table dropped…) too: the pacer errs toward slowing down.
    }
    const ms = performance.now() - t0;
    this.window.push(ms);
    if (this.window.length > WINDOW_KEEP) this.window.shift();
    this.fresh++;
    // A sample that started at rest but overlapped a batch is no baseline.
    if (atRest && !this.inBatch) {
      this.lastBaselineAt = performance.now();
      this.baseline.push(ms);
      if (this.baseline.length > BASELINE_KEEP) this.baseline.shift();
    }
  }
}
