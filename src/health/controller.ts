import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { writeFlag } from '../rollout/flags.js';
import { formatPercentage } from '../rollout/percentage.js';
import type { RolloutPhase } from '../rollout/schedule.js';
import { completeRollout, type HealthJudge, type Lifecycle, type RolloutStatus, type RolloutTarget, rolloutStatus, setRollout } from '../rollout/stages.js';
import { sleep } from '../sleep.js';
import { appendEvent, ensureState } from '../state/store.js';
import { assessHealth, type HealthTarget, sourceFor } from './assess.js';
import { acquireLease, type ControllerState, fence, heartbeat, readController, releaseLease, saveProgress } from './controller-state.js';
import { type Action, type Decision, decide } from './decision.js';
import { type DecisionMatrix, explain, verdictNumbers } from './matrix.js';
import { sampleResources } from './resources.js';
import type { MetricSource } from './source.js';

/**
 * What the controller needs from the workflow (passed in, so health does not
 * import it): the lifecycle, the migration lock, the checks' data errors and `down`.
 */
export interface ControllerWorkflow extends Lifecycle {
  transition(
    tx: Queryable,
    migrationId: string,
    to: RolloutPhase | 'paused' | 'rolled-back',
    opts: { actor: string; reason: string; details?: unknown },
  ): Promise<unknown>;
  /** Run `fn` holding the lock every ferry runner takes to change migrations. */
  locked<T>(fn: () => Promise<T>): Promise<T>;
  /** Data errors of the migration's verification checks (`dataErrors()`). */
  dataErrors(db: Queryable, migrationId: string): Promise<number>;
  /** `down` of the migration's applied steps after step `to` (all when undefined); resolves to the steps rolled back. */
  rollBack(to: string | undefined): Promise<string[]>;
}

/** A migration as the controller sees it: its rollout, its health settings and its steps (for the last safe point). */
export interface ControllerTarget extends Omit<RolloutTarget, 'flag'>, HealthTarget {
  steps: readonly { id: string; irreversible: boolean }[];
  pointOfNoReturn: string | null;
}

/** Something the controller did, for live output. */
export type ControllerEvent =
  | { type: 'started'; migrationId: string; phase: string | null; percentage: number; resumed: boolean; owner: string }
  | { type: 'evaluation'; evaluation: number; matrix: DecisionMatrix; decision: Decision; heldMs: number; holdMs: number; stage: number; stages: number }
  | { type: 'moved'; action: Action | 'start'; from: number; to: number; reason: string }
  | { type: 'rolled-back'; stepsRolledBack: string[]; safePoint: string | null; reason: string };

/** Options of {@link runController}. */
export interface ControllerOptions {
  actor: string;
  workflow: ControllerWorkflow;
  source: MetricSource;
  /** How long to wait for another controller's lease before E_LOCKED. */
  lockWaitMs: number;
  /** Evaluation interval; default the manifest's `health.interval`. */
  intervalMs?: number;
  /** Lease length; default 3 intervals, at least 5 s. */
  leaseMs?: number;
  /** Aborting stops the controller after the current evaluation; it releases its lease. */
  signal?: AbortSignal;
  onEvent?: (e: ControllerEvent) => void;
}

/** How a controller run ended: rolled out to 100 % (`done`), `rolled-back`, or `stopped` (aborted; run it again to continue). */
export interface ControllerResult {
  migrationId: string;
  outcome: 'done' | 'rolled-back' | 'stopped';
  percentage: number;
  evaluations: number;
  reason: string;
  matrix: DecisionMatrix | null;
  stepsRolledBack: string[];
}

/**
 * The health judge of `rollout advance` at 100 %: the matrix of the stage (the
 * manifest's source, plus the checks' data errors); red refuses the move to rolled-out.
 */
export function redHealthJudge(t: ControllerTarget, dataErrors: (db: Queryable, migrationId: string) => Promise<number>): HealthJudge {
  return async (tx) => {
    const m = await assessHealth(tx, t, sourceFor(tx, t.settings), { checkDataErrors: await dataErrors(tx, t.id) });
    return m.colour === 'red' ? explain(m) : undefined;
  };
}

/** The last applied step `down` must stop at: the point of no return or an irreversible step; undefined: every step can be undone. */
export function lastSafePoint(t: Pick<ControllerTarget, 'steps' | 'pointOfNoReturn'>, applied: ReadonlySet<string>): string | undefined {
  let floor: string | undefined;
  for (const s of t.steps) if (applied.has(s.id) && (s.id === t.pointOfNoReturn || s.irreversible)) floor = s.id;
  return floor;
}

/** The numbers behind a decision, as logged with its event. */
export function decisionDetails(m: DecisionMatrix, d: Decision, evaluation: number): Record<string, unknown> {
  return {
    evaluation,
    action: d.action,
    down: d.down,
    colour: m.colour,
    source: m.source,
    percentage: m.percentage,
    window: m.window,
    baselineWindow: m.baselineWindow,
    traffic: m.traffic,
    metrics: m.metrics.map(verdictNumbers),
  };
}

/** One controller run: what every action needs besides the evaluation it acts on. */
interface Run {
  db: Database;
  t: ControllerTarget;
  opts: ControllerOptions;
  emit: (e: ControllerEvent) => void;
  /** Append to the migration's event log, outside a move. */
  log: (kind: string, reason: string, details: unknown) => Promise<void>;
  /** One change under the migration lock, in one transaction, only while the lease is ours. */
  move: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>;
}

/** One evaluation: where the rollout stood, the decision on its matrix, and whether colour or action changed since the last. */
interface Evaluation {
  status: RolloutStatus;
  phase: string;
  paused: boolean;
  decision: Decision;
  details: Record<string, unknown>;
  changed: boolean;
}

/** An action that ends the run: how, the steps `down` undid, and the event to emit once the controller row is saved. */
interface Ending {
  outcome: 'done' | 'rolled-back';
  stepsRolledBack: string[];
  event?: ControllerEvent;
}

/** What the controller does about one kind of decision; an {@link Ending} stops the run. */
type Act = (run: Run, e: Evaluation) => Promise<Ending | undefined>;

/** Log the decision with its numbers and make `change`, in one move. */
function moveLogged(run: Run, e: Evaluation, change: (tx: Queryable) => Promise<unknown>): Promise<void> {
  return run.move(async (tx) => {
    await appendEvent(tx, { migrationId: run.t.id, actor: run.opts.actor, kind: 'health', reason: e.decision.reason, details: e.details });
    await change(tx);
  });
}

/** Nothing to change now (hold, wait, stay paused): log the decision when colour or action changed. */
const note: Act = async (run, e) => {
  if (e.changed) await run.log('health', e.decision.reason, e.details);
  return undefined;
};

/** Green through the hold: set the next stage. */
const promote: Act = async (run, e) => {
  const s = e.status;
  if (!s.next) return note(run, e);
  const to = s.next.percent;
  await moveLogged(run, e, (tx) =>
    setRollout(tx, run.t, to, {
      actor: run.opts.actor,
      reason: `controller: ${formatPercentage(to)} after a green hold of ${formatPercentage(s.percentage)}`,
      life: run.opts.workflow,
    }),
  );
  run.emit({ type: 'moved', action: 'promote', from: s.percentage, to, reason: e.decision.reason });
  return undefined;
};

/** Green again while paused: resume at the same stage. */
const resume: Act = async (run, e) => {
  const s = e.status;
  await moveLogged(run, e, (tx) =>
    setRollout(tx, run.t, s.percentage, {
      actor: run.opts.actor,
      reason: `controller: resumed at ${formatPercentage(s.percentage)}, health green again`,
      life: run.opts.workflow,
    }),
  );
  run.emit({ type: 'moved', action: 'resume', from: s.percentage, to: s.percentage, reason: e.decision.reason });
  return undefined;
};

/** Yellow, or red but not severe: pause (a rollout already paused stays so, and is only noted). */
const pause: Act = async (run, e) => {
  if (e.paused) return note(run, e);
  await moveLogged(run, e, async (tx) => {
    // The lifecycle pauses canary and rolling (100 % included, until its hold is judged); rolled-out is not paused.
    if (e.phase === 'canary' || e.phase === 'rolling')
      await run.opts.workflow.transition(tx, run.t.id, 'paused', { actor: run.opts.actor, reason: e.decision.reason, details: e.details });
  });
  run.emit({ type: 'moved', action: 'pause', from: e.status.percentage, to: e.status.percentage, reason: e.decision.reason });
  return undefined;
};

/** Red and severe: the quick rollback, and `down` where data is involved; ends the run. */
const rollback: Act = async (run, e) => {
  const { steps, safePoint } = await rollBack(run, e.decision, e.details);
  const event: ControllerEvent = { type: 'rolled-back', stepsRolledBack: steps, safePoint: safePoint ?? null, reason: e.decision.reason };
  return { outcome: 'rolled-back', stepsRolledBack: steps, event };
};

/** Green through the 100 % hold: the migration becomes rolled-out; ends the run. */
const complete: Act = async (run, e) => {
  // Only now, after the 100 % hold was judged green, does the migration become rolled-out.
  await moveLogged(run, e, async (tx) => {
    if (e.phase !== 'rolled-out') await completeRollout(tx, run.t, { actor: run.opts.actor, life: run.opts.workflow });
  });
  return { outcome: 'done', stepsRolledBack: [] };
};

/** Each action of {@link decide}: what the controller does about it, and the state its row is saved in. */
const ACTIONS: Record<Action, { act: Act; state: ControllerState }> = {
  hold: { act: note, state: 'running' },
  wait: { act: note, state: 'waiting' },
  promote: { act: promote, state: 'running' },
  resume: { act: resume, state: 'running' },
  pause: { act: pause, state: 'paused' },
  rollback: { act: rollback, state: 'rolled-back' },
  complete: { act: complete, state: 'done' },
};

/** Expanded or backfilled, not rolled out yet: set the first stage (the canary). */
async function startCanary(run: Run, s: RolloutStatus): Promise<void> {
  const stage = run.t.stages[0] as { percent: number };
  const reason = `controller: canary at ${formatPercentage(stage.percent)}`;
  await run.move((tx) => setRollout(tx, run.t, stage.percent, { actor: run.opts.actor, reason, life: run.opts.workflow }));
  run.emit({ type: 'moved', action: 'start', from: s.percentage, to: stage.percent, reason });
}

/**
 * Walk a migration's stage schedule: set each stage, judge health every interval,
 * promote after a green hold, pause on yellow (and resume when green again),
 * roll back on red per the decision tree. Its state lives in `ferry.controllers`
 * and the rollout itself, so a killed controller started again continues at the
 * same stage; a lease lets only one run per migration.
 */
export async function runController(db: Database, t: ControllerTarget, opts: ControllerOptions): Promise<ControllerResult> {
  const interval = opts.intervalMs ?? t.settings.intervalMs;
  const leaseMs = opts.leaseMs ?? Math.max(3 * interval, 5000);
  const owner = `${opts.actor} (${hostname()} pid ${process.pid})`;
  const token = randomUUID();
  const w = opts.workflow;
  const run: Run = {
    db,
    t,
    opts,
    emit: (e) => opts.onEvent?.(e),
    log: (kind, reason, details) => appendEvent(db, { migrationId: t.id, actor: opts.actor, kind, reason, details }),
    move: (fn) =>
      w.locked(() =>
        db.transaction(async (tx) => {
          await fence(tx, t.id, token);
          return fn(tx);
        }),
      ),
  };
  await w.locked(() => ensureState(db));
  await acquireLease(db, t.id, owner, token, leaseMs, opts.lockWaitMs);
  // A reading before the first stage is set: the canary's resource baseline.
  await sampleResources(db, 'controller');
  let last: { colour: string; action: string } | undefined;
  let matrix: DecisionMatrix | null = null;
  let evaluations = 0;
  const result = (outcome: ControllerResult['outcome'], percentage: number, reason: string, stepsRolledBack: string[] = []): ControllerResult => ({
    migrationId: t.id,
    outcome,
    percentage,
    evaluations,
    reason,
    matrix,
    stepsRolledBack,
  });
  try {
    const first = await rolloutStatus(db, t);
    const resumed = first.started && ['canary', 'rolling', 'paused', 'rolled-out'].includes(first.phase ?? '');
    run.emit({ type: 'started', migrationId: t.id, phase: first.phase, percentage: first.percentage, resumed, owner });
    await run.log(
      'controller',
      resumed ? `controller started by ${owner}: continues at ${formatPercentage(first.percentage)} (${first.phase})` : `controller started by ${owner}`,
      { owner, intervalMs: interval, leaseMs, phase: first.phase, percentage: first.percentage, resumed },
    );
    for (;;) {
      if (opts.signal?.aborted) return result('stopped', (await rolloutStatus(db, t)).percentage, 'stopped by a signal; run again to continue');
      if (!(await heartbeat(db, t.id, token, leaseMs)))
        throw new FerryError('E_LOCKED', `this controller lost its lease on ${t.id}`, 'another controller took over');
      const s = await rolloutStatus(db, t);
      const phase = s.phase ?? 'planned';
      if (phase === 'expanded' || phase === 'backfilled') {
        await startCanary(run, s);
        continue;
      }
      if (phase === 'rolled-back') return result('rolled-back', s.percentage, `${t.id} was rolled back (not by this controller)`);
      if (!['canary', 'rolling', 'paused', 'rolled-out'].includes(phase)) {
        throw new FerryError('E_GATE', `cannot run the rollout of ${t.id}: it is ${phase}`, `see \`ferry status\` and \`ferry log ${t.id}\``);
      }
      // Evaluate: the health matrix of the stage.
      const row = await readController(db, t.id);
      const probe = await sampleResources(db, 'controller');
      matrix = await assessHealth(db, t, opts.source, { checkDataErrors: await w.dataErrors(db, t.id), ...probe });
      evaluations++;
      // Decide.
      const paused = phase === 'paused' || row?.state === 'paused';
      const decision = decide(matrix, {
        paused,
        holdElapsed: s.heldMs >= s.holdMs,
        acknowledged: row?.acknowledged === s.percentage,
        lastStage: s.next === null,
      });
      const evaluation = (row?.evaluations ?? 0) + 1;
      run.emit({ type: 'evaluation', evaluation, matrix, decision, heldMs: s.heldMs, holdMs: s.holdMs, stage: s.stage, stages: s.stages.length });
      const changed = !last || last.colour !== matrix.colour || last.action !== decision.action;
      last = { colour: matrix.colour, action: decision.action };
      // Look up the action, and act.
      const { act, state } = ACTIONS[decision.action];
      const ending = await act(run, { status: s, phase, paused, decision, details: decisionDetails(matrix, decision, evaluation), changed });
      // The controller row always carries this evaluation's numbers, with the state it ends in.
      await saveProgress(db, t.id, token, { state, percentage: s.percentage, reason: decision.reason, colour: matrix.colour, action: decision.action, matrix });
      if (ending) {
        if (ending.event) run.emit(ending.event);
        return result(ending.outcome, s.percentage, decision.reason, ending.stepsRolledBack);
      }
      await sleep(interval, opts.signal);
    }
  } finally {
    await releaseLease(db, t.id, token).catch(() => {});
    await run.log('controller', `controller of ${owner} ended`, { owner, evaluations }).catch(() => {});
  }
}

/**
 * The red branch of the decision tree: the quick rollback (flag off, phase
 * rolled-back) at once; where data is involved, `down` of the steps after the
 * last safe point too.
 */
async function rollBack(run: Run, decision: Decision, details: Record<string, unknown>): Promise<{ steps: string[]; safePoint: string | undefined }> {
  const { db, t, opts } = run;
  const flag = t.flag;
  await run.move(async (tx) => {
    await appendEvent(tx, { migrationId: t.id, actor: opts.actor, kind: 'health', reason: decision.reason, details });
    await writeFlag(
      tx,
      flag,
      { enabled: false, percentage: 0 },
      { migrationId: t.id, actor: opts.actor, reason: `quick rollback by the controller: ${decision.reason}` },
    );
    await opts.workflow.transition(tx, t.id, 'rolled-back', { actor: opts.actor, reason: `quick rollback (flag ${flag} off): ${decision.reason}`, details });
  });
  if (!decision.down) return { steps: [], safePoint: undefined };
  const { rows } = await db.query<{ step_id: string }>('SELECT step_id FROM ferry.applied_steps WHERE migration_id = $1', [t.id]);
  const safePoint = lastSafePoint(t, new Set(rows.map((r) => r.step_id)));
  const steps = await opts.workflow.rollBack(safePoint);
  await appendEvent(db, {
    migrationId: t.id,
    actor: opts.actor,
    kind: 'health',
    reason: `data involved: rolled back ${steps.length ? steps.join(', ') : 'no steps'}${safePoint ? ` (down to the last safe point, step ${safePoint})` : ''}`,
    details: { action: 'down', steps, safePoint: safePoint ?? null },
  });
  return { steps, safePoint };
}
