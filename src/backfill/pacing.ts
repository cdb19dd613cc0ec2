import type { Database } from '../db/database.js';
import { appendEvent } from '../state/store.js';
import { AppLatency } from './app-latency.js';
import { type ImpactWindow, initialPacing, nextPacing, type PacerLimits, type Pacing, pauseAfter } from './pacer.js';
import type { BackfillPlan } from './plan.js';
import { BASELINE_REST_MS, ImpactProbe, OWN_SESSIONS } from './probe.js';
import { StatementLatency } from './statement-latency.js';
import type { BackfillTarget } from './types.js';

/**
 * One worker's pacing through a run: the probe beside its batches, the
 * pacer's decisions, and their record — in the range row with each
 * checkpoint, and as an event when the pacer's state changes (full speed,
 * paced, at the minimum), not per batch.
 */
export class WorkerPacing {
  /** The decision in force; written with each checkpoint. */
  current: Pacing;
  private readonly limits: PacerLimits;
  private windowStart = performance.now();
  private windowRows = 0;
  /** When the pacer last lowered the duty cycle (epoch ms): the application's buckets since then show the current pace. */
  private slowedAt = Date.now();
  private restoreName: (() => Promise<void>) | undefined;

  private constructor(
    private readonly db: Database,
    private readonly t: BackfillTarget,
    private readonly workerId: string,
    private readonly probe: ImpactProbe | undefined,
    private readonly app: AppLatency | undefined = undefined,
    private readonly statements: StatementLatency | undefined = undefined,
  ) {
    const impact = t.spec.impact;
    this.limits = {
      budget: impact.p99Increase === 'unlimited' ? null : impact.p99Increase,
      minDutyCycle: impact.minDutyCycle,
      targetBatchMs: t.spec.targetBatchMs,
    };
    this.current = initialPacing(this.limits);
  }

  /**
   * Name the worker's session as the backfill's own (so other workers do not
   * count it as load) and start the probe on a session of its own when there
   * is a budget and a server (which opens the probe's session). Without them
   * nothing is measured: the backfill runs at full speed under its health back-off.
   */
  static async start(db: Database, plan: BackfillPlan, workerId: string): Promise<WorkerPacing> {
    const t = plan.target;
    // The worker's own session is named first: the probe's first look for load must not find the worker's statements.
    let restoreName: (() => Promise<void>) | undefined;
    if (db.kind === 'server') {
      const { rows } = await db.query<{ name: string }>(`SELECT current_setting('application_name') AS name, set_config('application_name', $1, false)`, [
        `${OWN_SESSIONS} ${workerId}`.slice(0, 63),
      ]);
      const name = rows[0]?.name ?? '';
      restoreName = async () => {
        await db.query(`SELECT set_config('application_name', $1, false)`, [name]);
      };
    }
    let probe: ImpactProbe | undefined;
    try {
      if (db.openSession && t.spec.impact.p99Increase !== null && t.spec.impact.p99Increase !== 'unlimited') {
        const session = await db.openSession(`${OWN_SESSIONS} probe`);
        probe = new ImpactProbe(session, plan.table, plan.tableOid);
        await probe.start();
      }
    } catch (err) {
      await probe?.stop().catch(() => {});
      await restoreName?.().catch(() => {});
      throw err;
    }
    // The application's own latency, when ferry's SDK reports it: judged beside the probe (a failed read means no such signal).
    const app = probe ? await AppLatency.start(db).catch(() => undefined) : undefined;
    // And its statements as pg_stat_statements times them, where the database has it.
    const statements = probe ? await StatementLatency.start(db).catch(() => undefined) : undefined;
    const pacing = new WorkerPacing(db, t, workerId, probe, app, statements);
    if (restoreName) pacing.restoreName = restoreName;
    return pacing;
  }

  /** A batch starts (true) or ended (false): the probe's baseline is what it measures while the worker rests. */
  inBatch(running: boolean): void {
    this.probe?.markBatch(running);
  }

  /**
   * After a committed batch: decide the pacing from what the probe measured,
   * record a change of state (event and range row), and return the pause the
   * duty cycle asks for after this batch.
   */
  async afterBatch(rangeNo: number, rows: number, batchMs: number): Promise<number> {
    this.windowRows += rows;
    let window: ImpactWindow = this.probe ? this.probe.take() : { loaded: false, impact: null };
    // At each of the probe's decisions, the application's own p99 and its statements' time since the pacer last slowed down:
    // the pacer goes by whichever reads highest.
    if (window.impact !== null) {
      let highest = window.impact;
      for (const [signal, source] of [
        ['application', this.app],
        ['statements', this.statements],
      ] as const) {
        const impact = source ? await source.impactSince(this.slowedAt).catch(() => null) : null;
        if (impact !== null && impact > highest) {
          highest = impact;
          window = { loaded: window.loaded, impact, signal };
        }
      }
    }
    const previous = this.current;
    const next = nextPacing(previous, window, this.limits);
    if (next.dutyCycle < previous.dutyCycle) this.slowedAt = Date.now();
    const now = performance.now();
    // A measured decision closes a window; without one, a window is a second.
    if (window.impact !== null || now - this.windowStart >= 1000) {
      next.rowsPerSec = now > this.windowStart ? (this.windowRows * 1000) / (now - this.windowStart) : 0;
      this.windowStart = now;
      this.windowRows = 0;
    }
    this.current = next;
    if (next.state !== previous.state) await this.record(rangeNo, previous, next);
    const pause = pauseAfter(batchMs, next, this.t.spec.sleepRatio);
    // Under load the baseline is re-measured in a rest long enough to be one, however high the duty cycle.
    return next.state !== 'full' && this.probe?.wantsBaselineRest() ? Math.max(pause, BASELINE_REST_MS) : pause;
  }

  /** Whether the probe measures and sees no other session working: nobody to protect, full speed. */
  get idle(): boolean {
    return this.probe !== undefined && this.current.state === 'full';
  }

  /** The worker rested this long (shown as `pausedMs`: a backfill without load rests 0). */
  rested(ms: number): void {
    this.current = { ...this.current, pausedMs: this.current.pausedMs + ms };
  }

  /** Stop the probe and give the session its name back. */
  async stop(): Promise<void> {
    await this.probe?.stop().catch(() => {});
    await this.restoreName?.().catch(() => {});
  }

  private async record(rangeNo: number, from: Pacing, to: Pacing): Promise<void> {
    const t = this.t;
    await this.db.transaction(async (tx) => {
      await tx.query(
        'UPDATE ferry.backfill_ranges SET pacing = $4::jsonb, updated_at = clock_timestamp() WHERE migration_id = $1 AND step_id = $2 AND range_no = $3',
        [t.migrationId, t.stepId, rangeNo, JSON.stringify(to)],
      );
      await appendEvent(tx, {
        migrationId: t.migrationId,
        actor: this.workerId,
        kind: 'backfill-pacing',
        stepId: t.stepId,
        reason: `${from.state} → ${to.state}: ${to.reason}`,
        details: { rangeNo, ...to },
      });
    });
  }
}
