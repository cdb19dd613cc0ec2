/*
 * The pacer keeps a backfill inside its latency budget: AIMD (as TCP does) on
 * the duty cycle, the fraction of wall time a worker spends in batches. Over
 * budget, it halves the duty cycle; under, it adds a step. Batches shrink with
 * the duty cycle too, because the rows a batch locks delay the application's
 * writes to them for as long as the batch runs: fewer, shorter lock holds cut
 * the tail the budget is about. With no concurrent load it runs at full speed
 * and never pauses. At its floor it keeps going and says the budget cannot be
 * met, rather than stopping silently.
 */

/** Where a worker's pacing stands: what `ferry status`, the progress line and the events show. */
export type PacingState = 'full' | 'paced' | 'minimum';

/** A worker's pacer decision, recorded in `ferry.backfill_ranges.pacing` with its checkpoints. */
export interface Pacing {
  state: PacingState;
  /** Fraction of wall time spent in batches, in (0, 1]; 1 never pauses. */
  dutyCycle: number;
  /** How long one batch should take now, in ms. */
  batchMs: number;
  /** The budget: how much the rest of the database's p99 may rise, as a fraction; null when unlimited. */
  budget: number | null;
  /** The p99 increase measured over the last window, as a fraction; null when nothing is measured (no load, no probe). */
  impact: number | null;
  /** Why the pacer is where it is, for humans. */
  reason: string;
  /** Rows per second this worker filled over its last window. */
  rowsPerSec: number;
  /** Time this worker paused between batches in this run, in ms (a run without load pauses 0). */
  pausedMs: number;
}

/** What the pacer works within: a backfill step's `impact` and `targetBatchMs`. */
export interface PacerLimits {
  budget: number | null;
  minDutyCycle: number;
  targetBatchMs: number;
}

/** What was measured since the last decision. */
export interface ImpactWindow {
  /** Other sessions ran statements on the database lately. */
  loaded: boolean;
  /** The probe's p99 over the window ÷ its baseline p99, minus 1; null when too few samples for a decision yet. */
  impact: number | null;
  /**
   * What `impact` was measured on: the probe (the default); the application's own p99 from the SDK's metrics, or its
   * statements' time from pg_stat_statements, when that read higher.
   */
  signal?: 'probe' | 'application' | 'statements';
}

/** Multiplicative decrease over budget; additive increase under it. */
const DECREASE = 0.5;
const INCREASE = 0.1;
/** Where pacing starts when load appears: cautious, the budget is not measured yet. */
const FIRST_LOADED_DUTY = 0.25;
/** Under load some pause is kept, so the probe's baseline is re-taken while the backfill rests. */
const MAX_LOADED_DUTY = 0.9;
/** Shortest batch the pacer asks for: below it, a batch's round trips cost more than its rows. */
const MIN_BATCH_MS = 5;
/**
 * Under load a batch lasts this share of `targetBatchMs × duty cycle`: what the
 * application feels is each batch's burst (its locks, its WAL flushed with their
 * commits), so the pacer keeps bursts short and lets the duty cycle set the rate.
 */
const LOADED_BATCH_SHARE = 0.25;

/** How a decision's reason names what it measured. */
const SIGNAL_WORDS: Record<NonNullable<ImpactWindow['signal']>, string> = {
  probe: 'impact',
  application: "the application's p99",
  statements: "the application's statement time (pg_stat_statements)",
};

const pct = (f: number) => `${f >= 0 ? '+' : ''}${Math.round(f * 100)} %`;

/**
 * Whether a worker's commits may skip waiting for their WAL flush: at full speed nobody else works (or no budget asks
 * to protect them). Under load they wait, so the application's next commits do not have to flush the backfill's WAL.
 */
export const commitsWithoutFlush = (p: Pacing | undefined): boolean => p === undefined || p.state === 'full';

/** The decision before any measurement: full speed. */
export function initialPacing(limits: PacerLimits): Pacing {
  const reason = limits.budget === null ? 'unlimited budget' : 'no concurrent load';
  return { state: 'full', dutyCycle: 1, batchMs: limits.targetBatchMs, budget: limits.budget, impact: null, reason, rowsPerSec: 0, pausedMs: 0 };
}

/** Batch duration for a duty cycle under load: shrinks with it, within [MIN_BATCH_MS, target]. */
const loadedBatchMs = (duty: number, target: number) =>
  Math.max(Math.min(MIN_BATCH_MS, target), Math.min(target, Math.round(target * duty * LOADED_BATCH_SHARE)));

/**
 * The next decision from the last one and what the window measured. Pure;
 * the duty cycle always stays within [minDutyCycle, 1].
 */
export function nextPacing(prev: Pacing, w: ImpactWindow, limits: PacerLimits): Pacing {
  const keep = { budget: limits.budget, rowsPerSec: prev.rowsPerSec, pausedMs: prev.pausedMs };
  if (limits.budget === null || !w.loaded) {
    return { ...initialPacing(limits), ...keep, impact: w.loaded ? w.impact : null };
  }
  const floor = Math.min(limits.minDutyCycle, MAX_LOADED_DUTY);
  const paced = (duty: number, impact: number | null, reason: string, state: PacingState = 'paced'): Pacing => {
    const d = Math.min(MAX_LOADED_DUTY, Math.max(floor, duty));
    return { ...keep, state, dutyCycle: d, batchMs: loadedBatchMs(d, limits.targetBatchMs), impact, reason };
  };
  const base = prev.state === 'full' ? FIRST_LOADED_DUTY : prev.dutyCycle;
  if (w.impact === null) return prev.state === 'full' ? paced(base, null, 'concurrent load: measuring its latency') : { ...prev, ...keep };
  const budget = limits.budget;
  const impact = `${SIGNAL_WORDS[w.signal ?? 'probe']} ${pct(w.impact)}`;
  if (w.impact > budget) {
    const duty = base * DECREASE;
    if (duty <= floor) {
      return paced(floor, w.impact, `${impact} > budget ${pct(budget)} at the minimum duty cycle: the budget cannot be met`, 'minimum');
    }
    return paced(duty, w.impact, `${impact} > budget ${pct(budget)}: slowing down`);
  }
  return paced(base + INCREASE, w.impact, `${impact} within budget ${pct(budget)}`);
}

/**
 * How long to rest after a batch of `batchMs`, so batches take `dutyCycle` of
 * the wall time; never less than `sleepRatio` of the batch (the manifest's floor).
 */
export function pauseAfter(batchMs: number, p: Pacing, sleepRatio: number): number {
  const duty = Math.max(0.001, Math.min(1, p.dutyCycle));
  return Math.max(sleepRatio * batchMs, (batchMs * (1 - duty)) / duty);
}

/** One line for the progress output: rate, budget and measured impact. */
export function describePacing(p: Pacing): string {
  const budget = p.budget === null ? 'no budget' : `budget ${pct(p.budget)}`;
  const impact = p.impact === null ? '' : `, impact ${pct(p.impact)}`;
  if (p.state === 'full') return `full speed (${p.reason}; ${budget}${impact})`;
  const duty = `duty ${Math.round(p.dutyCycle * 100)} %`;
  if (p.state === 'minimum') return `at minimum ${duty}: ${budget} not met${impact}, still running`;
  return `paced ${duty} (${budget}${impact})`;
}
