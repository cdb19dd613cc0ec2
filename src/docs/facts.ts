import { holdAt, type Stage } from '../rollout/schedule.js';
import type { MigrationEvent } from '../state/store.js';
import { countDataErrors } from '../verify/data-errors.js';
import { when } from './markdown.js';
import { DEFAULT_PHASE_DURATIONS, type Proof, planDurationMs, WORKFLOW_PHASES, type WorkflowPhase } from './plan-spec.js';
import type { DocState } from './state.js';

/** How far along the lifecycle each phase is; a workflow phase ends when a phase of its end rank is first reached. */
const RANK: Record<string, number> = {
  planned: 0,
  approved: 1,
  expanded: 2,
  backfilling: 3,
  backfilled: 4,
  canary: 5,
  rolling: 6,
  paused: 6,
  'rolled-out': 7,
  verified: 8,
  contracted: 9,
  archived: 10,
};

/** The lifecycle rank at which each workflow phase is over: approved, rollout started, verified, archived. */
export const PHASE_END_RANK: Record<WorkflowPhase, number> = { plan: 1, preparation: 5, rollout: 8, cleanup: 10 };

/** The lifecycle rank of a phase (rolled-back and unknown: -1). */
export function rankOf(phase: string | null | undefined): number {
  return phase ? (RANK[phase] ?? -1) : -1;
}

/** One workflow phase of the timeline: planned duration and, once they happened, its actual start and end. */
export interface TimelineRow {
  phase: WorkflowPhase;
  plannedMs: number;
  start: Date | null;
  end: Date | null;
  /** end − start, or now − start while it runs. */
  actualMs: number | null;
}

const transitions = (events: MigrationEvent[]) => events.filter((e) => e.kind === 'transition' && e.toPhase !== null);

/** The first event that moved the migration to a phase of at least `rank`. */
export function firstReaching(events: MigrationEvent[], rank: number): MigrationEvent | undefined {
  return transitions(events).find((e) => rankOf(e.toPhase) >= rank);
}

/** The planned duration of each workflow phase: the plan's, else rollout = the stage holds, cleanup = the deprecation period. */
export function plannedDurations(s: Pick<DocState, 'migration' | 'stages'>): Record<WorkflowPhase, number> {
  const plan = s.migration.manifest.plan;
  return {
    plan: planDurationMs(plan.timeline.plan ?? DEFAULT_PHASE_DURATIONS.plan),
    preparation: planDurationMs(plan.timeline.preparation ?? DEFAULT_PHASE_DURATIONS.preparation),
    rollout: plan.timeline.rollout ? planDurationMs(plan.timeline.rollout) : s.stages.reduce((n, st) => n + st.holdMs, 0),
    cleanup: planDurationMs(plan.timeline.cleanup ?? plan.deprecationPeriod),
  };
}

/** The timeline as it happened: each workflow phase starts when the one before ended (the plan starts with the first event). */
export function timeline(s: Pick<DocState, 'migration' | 'stages' | 'events' | 'now'>): TimelineRow[] {
  const planned = plannedDurations(s);
  let start: Date | null = s.events[0]?.at ?? null;
  return WORKFLOW_PHASES.map((phase) => {
    const end = start ? (firstReaching(s.events, PHASE_END_RANK[phase])?.at ?? null) : null;
    const row: TimelineRow = {
      phase,
      plannedMs: planned[phase],
      start,
      end,
      actualMs: start ? (end ?? s.now).getTime() - start.getTime() : null,
    };
    start = end;
    return row;
  });
}

/** One stage of the rollout as it happened: the flag's percentage, from when, and how long it was held. */
export interface StageRun {
  percentage: number;
  start: Date;
  end: Date | null;
  heldMs: number;
  plannedHoldMs: number;
  /** Advanced before its hold elapsed (`--now`), with the reason. */
  early: string | null;
}

/** The rollout's stages from the flag changes in the log (a quick rollback shows as 0 %). */
export function stageRuns(s: Pick<DocState, 'events' | 'stages' | 'now'>): StageRun[] {
  const changes = s.events.filter((e) => e.kind === 'flag');
  return changes.flatMap((e, i) => {
    const d = (e.details ?? {}) as { to?: number | null; removed?: boolean };
    if (d.removed || d.to === null || d.to === undefined) return [];
    const next = changes[i + 1];
    const end = next?.at ?? null;
    const reason = next?.reason ?? '';
    return [
      {
        percentage: d.to,
        start: e.at,
        end,
        heldMs: (end ?? s.now).getTime() - e.at.getTime(),
        plannedHoldMs: holdAt(s.stages as Stage[], d.to),
        early: reason.startsWith('advanced early') ? reason : null,
      },
    ];
  });
}

/** Phases in which the rollout had started: a move to rolled-back from one of them undoes the rollout. */
const ROLLOUT_STARTED: readonly string[] = ['canary', 'rolling', 'paused', 'rolled-out', 'verified'];

/** Rollbacks of the rollout: quick rollbacks (flag switched off) and moves to rolled-back once the canary had started. */
export function rollbacks(events: MigrationEvent[]): MigrationEvent[] {
  return events.filter(
    (e) =>
      (e.kind === 'transition' && e.toPhase === 'rolled-back' && ROLLOUT_STARTED.includes(e.fromPhase ?? '')) ||
      (e.kind === 'flag' && (e.details as { quickRollback?: boolean } | null)?.quickRollback),
  );
}

/** `down`s before the rollout started (the canary): moves to rolled-back from expanded, backfilled …; not rollout rollbacks. */
export function downsBeforeRollout(events: MigrationEvent[]): MigrationEvent[] {
  return events.filter((e) => e.kind === 'transition' && e.toPhase === 'rolled-back' && !ROLLOUT_STARTED.includes(e.fromPhase ?? ''));
}

/** The colour a health event records (the controller logs `colour`), or null when it names none. */
function healthColour(e: MigrationEvent): string | null {
  const d = (e.details ?? {}) as { colour?: unknown; overall?: unknown };
  const c = d.colour ?? d.overall;
  return typeof c === 'string' ? c : null;
}

/** One recorded verification run: the verify SQL of the steps (`verify`) or the declared checks (`checks`), passed or failed. */
export interface VerificationRun {
  at: Date;
  by: string;
  what: 'verify SQL' | 'checks (full)' | 'checks (sample)';
  ok: boolean;
  /** What failed (steps, checks with their data errors), or what passed. */
  detail: string;
}

/** The verification run an event records (kinds `verify` and `checks`), or undefined for other events. */
function runOf(e: MigrationEvent): VerificationRun | undefined {
  if (e.kind === 'verify') {
    const d = (e.details ?? {}) as { steps?: { result?: string }[] };
    const failed = (d.steps ?? []).some((x) => x.result === 'fail');
    return { at: e.at, by: e.actor, what: 'verify SQL', ok: !failed && !/failed/.test(e.reason ?? ''), detail: e.reason ?? '' };
  }
  if (e.kind !== 'checks') return undefined;
  const d = (e.details ?? {}) as { mode?: string; checks?: { name?: string; ok?: boolean; dataErrors?: number; error?: string | null }[] };
  const checks = d.checks ?? [];
  const failed = checks.filter((c) => c.ok === false);
  const detail = failed.length
    ? failed.map((c) => `${c.name}: ${c.error ? c.error : `${c.dataErrors ?? 0} data error(s)`}`).join('; ')
    : `${checks.length} check(s) passed`;
  return { at: e.at, by: e.actor, what: d.mode === 'sample' ? 'checks (sample)' : 'checks (full)', ok: failed.length === 0, detail };
}

/** Every verification run in the log, failed ones included, oldest first. */
export function verificationRuns(events: MigrationEvent[]): VerificationRun[] {
  return events.flatMap((e) => runOf(e) ?? []);
}

/** Incidents: failed rehearsals, pauses, rollbacks of the rollout, failed verification runs and red health, in log order (green evaluations are not incidents). */
export function incidents(s: Pick<DocState, 'events'>): MigrationEvent[] {
  const rollout = new Set(rollbacks(s.events));
  return s.events.filter((e) => {
    if (e.kind === 'rehearse') return (e.details as { ok?: boolean } | null)?.ok === false;
    if (e.kind === 'transition') return e.toPhase === 'paused' || rollout.has(e);
    if (e.kind === 'flag') return rollout.has(e);
    if (e.kind === 'health') return healthColour(e) === 'red';
    if (e.kind === 'verify' || e.kind === 'checks') return runOf(e)?.ok === false;
    return /fail/i.test(e.kind);
  });
}

/** The forced cleanup in the log (event `cleanup-forced`), with its reason; undefined when cleanup was not forced. */
export function forcedCleanup(events: MigrationEvent[]): MigrationEvent | undefined {
  return events.filter((e) => e.kind === 'cleanup-forced').at(-1);
}

/** Steps applied out of all the migration's steps (contract steps included). */
export function stepCount(s: Pick<DocState, 'migration' | 'applied'>): { applied: number; total: number; contract: number } {
  const ids = new Set(s.applied.map((a) => a.stepId));
  return {
    applied: s.migration.steps.filter((x) => ids.has(x.id)).length,
    total: s.migration.steps.length,
    contract: s.migration.steps.filter((x) => x.phase === 'contract').length,
  };
}

/** The latest rehearsal in the log, with its date and outcome. */
export function lastRehearsal(events: MigrationEvent[]): { at: Date; ok: boolean; reason: string; copy: string | null } | undefined {
  const e = events.filter((x) => x.kind === 'rehearse').at(-1);
  if (!e) return undefined;
  const d = (e.details ?? {}) as { ok?: boolean; copy?: string };
  return { at: e.at, ok: d.ok === true, reason: e.reason ?? '', copy: d.copy ?? null };
}

/** Data errors found by the latest result of each check, each differing row of a table once (see `countDataErrors`). */
export function dataErrorsOf(s: Pick<DocState, 'checks'>): number {
  return countDataErrors(s.checks).total;
}

/** Whether the recorded state proves `proof`, and the fact that does (for the report's checklist). */
export function proven(s: DocState, proof: Proof): { ok: boolean; by: string } {
  const reached = (phase: string) => {
    const e = firstReaching(s.events, rankOf(phase));
    return e ? { ok: true, by: `${e.toPhase} on ${e.at.toISOString().slice(0, 10)} by ${e.actor}` } : { ok: false, by: `never reached ${phase}` };
  };
  switch (proof) {
    case 'applied': {
      // Expand steps are due before the rollout, contract steps once contracted; the count is always of every step.
      const ids = new Set(s.applied.map((a) => a.stepId));
      const contracted = rankOf(s.phase) >= rankOf('contracted');
      const due = s.migration.steps.filter((x) => x.phase !== 'contract' || contracted);
      const c = stepCount(s);
      const pending = c.contract && !contracted ? ` (${c.contract} contract step(s) run at cleanup)` : '';
      return { ok: due.every((x) => ids.has(x.id)), by: `${c.applied}/${c.total} steps applied${pending}` };
    }
    case 'backfilled': {
      if (s.backfills.length === 0) return { ok: s.migration.steps.every((x) => x.kind !== 'backfill'), by: 'no backfill recorded' };
      const done = s.backfills.filter((b) => b.state === 'done');
      return { ok: done.length === s.backfills.length, by: done.map((b) => `${b.stepId}: ${b.rowsDone} rows`).join(', ') || 'not done' };
    }
    case 'rolled-out':
      return reached('rolled-out');
    case 'verified':
      return reached('verified');
    case 'contracted':
      return reached('contracted');
    case 'archived':
      return reached('archived');
    case 'no-data-errors': {
      if (s.checks.length === 0) return { ok: false, by: 'no check results recorded' };
      const n = dataErrorsOf(s);
      // The latest results say where the data is now; earlier failing runs are part of the record and are said too.
      const earlier = verificationRuns(s.events).filter((r) => !r.ok && r.what.startsWith('checks'));
      const history = earlier.length
        ? `; ${earlier.length} earlier failing run(s), the last on ${when(earlier.at(-1)?.at ?? s.now)}: ${earlier.at(-1)?.detail}`
        : '';
      return { ok: n === 0 && s.checksPending.length === 0, by: `${n} data error(s) in the latest results of ${s.checks.length} check(s)${history}` };
    }
    case 'no-rollbacks': {
      const n = rollbacks(s.events).length;
      const done = rankOf(s.phase) >= rankOf('rolled-out');
      return { ok: n === 0 && done, by: done ? `${n} rollback(s) in the log` : 'rollout not finished' };
    }
    case 'rehearsed': {
      const r = lastRehearsal(s.events);
      return r ? { ok: r.ok, by: `rehearsal ${r.ok ? 'passed' : 'failed'} on ${r.at.toISOString().slice(0, 10)}` } : { ok: false, by: 'never rehearsed' };
    }
  }
}

/** The criteria ferry always checks from its own records, whatever the plan adds. */
export const BUILT_IN_CRITERIA: { text: string; proof: Proof }[] = [
  { text: 'every step applied', proof: 'applied' },
  { text: 'the rollback was rehearsed and passed', proof: 'rehearsed' },
  { text: 'every backfill finished', proof: 'backfilled' },
  { text: 'rolled out to 100 %', proof: 'rolled-out' },
  { text: 'every declared check passed with zero data errors', proof: 'no-data-errors' },
  { text: 'verified', proof: 'verified' },
  { text: 'no rollback during the rollout', proof: 'no-rollbacks' },
];
