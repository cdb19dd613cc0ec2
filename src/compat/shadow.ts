import type { Cohort, Sample, ShadowOutcome } from '../sdk/metrics.js';
import { jsonEqual } from './equal.js';
import { existingMismatchLog, type MismatchSample, mismatchLogOf } from './mismatch-log.js';
import type { CompatRuntime } from './runtime.js';

export type { MismatchSample } from './mismatch-log.js';

/** How {@link shadow} runs and compares a candidate next to the control. */
export interface ShadowOptions<T> {
  /** The current path: its result (or exception) is what the caller gets, always. */
  control: () => T | Promise<T>;
  /** The new path, run concurrently for units in the new cohort (and a sampled share of the rest); its result is only compared. */
  candidate: () => T | Promise<T>;
  /** Whether the two results agree; default deep equality of their JSON values ({@link jsonEqual}). */
  compare?: (control: T, candidate: T) => boolean;
  /** A known, accepted difference: when it returns true the comparison is not counted as a mismatch (counted as a match). */
  ignore?: (control: T, candidate: T) => boolean;
  /** Share (0–1) of units outside the new cohort that run the candidate too; default 0. */
  sample?: number;
  /** A candidate still running after this long is counted as a timeout and its result ignored; default 1,000 ms. */
  timeoutMs?: number;
}

/** How {@link dualWrite} writes the secondary side after the primary. */
export interface DualWriteOptions<T> {
  /** The authoritative write: its result and exception go to the caller. */
  primary: () => T | Promise<T>;
  /** The other side's write, after the primary succeeded; its failure is counted (a data error), never thrown. */
  secondary: () => unknown;
  /** Return before the secondary finishes (it still runs and is counted); default false: the caller sees both writes done. */
  background?: boolean;
}

/** Default time limit of a candidate. */
const DEFAULT_TIMEOUT_MS = 1000;

/** `fn()` as a promise: a synchronous throw becomes a rejection; a returned promise is passed through as is. */
function invoke<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

/** One shadow read for the internals of {@link shadow} and the migration runner. */
export interface ShadowRun<T> {
  key: string;
  unit: string;
  /** null: an excluded unit (run the control, count nothing). */
  cohort: Cohort | null;
  control: () => T | Promise<T>;
  /** Absent: no candidate for this call (only the control is measured). */
  candidate?: (() => T | Promise<T>) | undefined;
  compare: (control: T, candidate: T) => boolean;
  ignore?: ((control: T, candidate: T) => boolean) | undefined;
  timeoutMs: number;
}

/**
 * Run the control now and hand back its own promise; start the candidate after it (on a zero timer, so
 * not even its synchronous part runs before the caller continues), bounded by `timeoutMs`; once both are
 * done (or the candidate timed out), record one sample and keep a mismatch. Nothing here throws or rejects
 * into the caller, and every candidate outcome is handled (no unhandled rejections).
 */
export function runShadow<T>(rt: CompatRuntime, run: ShadowRun<T>): Promise<T> {
  const started = performance.now();
  const control = invoke(run.control);
  const { cohort, candidate } = run;
  if (cohort === null) return control;
  if (candidate === undefined) {
    control.then(
      () => record(rt, run.key, run.unit, { cohort, latencyMs: performance.now() - started }),
      () => record(rt, run.key, run.unit, { cohort, latencyMs: performance.now() - started, error: true }),
    );
    return control;
  }
  const st = new Pair<T>(rt, run);
  control.then(
    (value) => st.controlDone(performance.now() - started, true, value),
    () => st.controlDone(performance.now() - started, false, undefined),
  );
  // A timer, not setImmediate: an in-process PGlite can hold the event loop's check phase back for as long as it
  // has queries queued, and the candidate would then start only after the caller's next database work.
  setTimeout(() => st.startCandidate(candidate), 0);
  return control;
}

/** The two sides of one shadow read while they run. */
class Pair<T> {
  private waiting = 2;
  private controlMs = 0;
  private controlOk = false;
  private controlValue: T | undefined;
  private candidateState: 'running' | 'ok' | 'error' | 'timeout' = 'running';
  private candidateValue: T | undefined;
  private candidateMs: number | undefined;

  constructor(
    private readonly rt: CompatRuntime,
    private readonly run: ShadowRun<T>,
  ) {}

  controlDone(ms: number, ok: boolean, value: T | undefined): void {
    this.controlMs = ms;
    this.controlOk = ok;
    this.controlValue = value;
    if (--this.waiting === 0) this.finish();
  }

  startCandidate(candidate: () => T | Promise<T>): void {
    const started = performance.now();
    const timer = setTimeout(() => this.candidateDone('timeout', undefined, undefined), this.run.timeoutMs);
    timer.unref();
    invoke(candidate).then(
      (value) => {
        clearTimeout(timer);
        this.candidateDone('ok', value, performance.now() - started);
      },
      () => {
        clearTimeout(timer);
        this.candidateDone('error', undefined, performance.now() - started);
      },
    );
  }

  private candidateDone(state: 'ok' | 'error' | 'timeout', value: T | undefined, ms: number | undefined): void {
    if (this.candidateState !== 'running') return; // settled after its time limit: ignored
    this.candidateState = state;
    this.candidateValue = value;
    this.candidateMs = ms;
    if (--this.waiting === 0) this.finish();
  }

  private finish(): void {
    const { key, unit, cohort } = this.run;
    if (cohort === null) return;
    let outcome: ShadowOutcome | undefined;
    if (this.candidateState === 'timeout') outcome = 'timeout';
    else if (this.candidateState === 'error') outcome = 'error';
    else if (this.controlOk) outcome = this.judge(this.controlValue as T, this.candidateValue as T);
    // The control threw and the candidate answered: nothing to compare against, so no comparison is counted.
    const sample: Sample & { cohort: Cohort } = { cohort, latencyMs: this.controlMs };
    if (!this.controlOk) sample.error = true;
    if (outcome !== undefined) sample.shadow = outcome;
    if (this.candidateMs !== undefined && outcome !== undefined) sample.candidateLatencyMs = this.candidateMs;
    record(this.rt, key, unit, sample);
    if (outcome === 'mismatch') {
      const m: MismatchSample = { flag: key, cohort, unit, control: this.controlValue, candidate: this.candidateValue, at: new Date() };
      mismatchLogOf(this.rt).add(m);
    }
  }

  /** Compare two answers; a throwing `compare` or `ignore` is the candidate's `error`, never the caller's. */
  private judge(control: T, candidate: T): ShadowOutcome {
    try {
      if (this.run.compare(control, candidate)) return 'match';
      return this.run.ignore?.(control, candidate) === true ? 'match' : 'mismatch';
    } catch {
      return 'error';
    }
  }
}

function record(rt: CompatRuntime, key: string, unit: string, sample: Sample & { cohort: Cohort }): void {
  try {
    rt.flags.record(key, unit, sample);
  } catch {
    // Counting must never fail the application's request.
  }
}

/** Whether a unit of `cohort` runs the candidate: the new cohort always, the old one for a `share` (0–1) of calls. */
export function sampled(cohort: Cohort | null, share: number | undefined): boolean {
  if (cohort === 'new') return true;
  return cohort === 'old' && share !== undefined && share > 0 && Math.random() < share;
}

/**
 * Run `opts.control` for `unit` and return its outcome — the control's own promise, result or exception
 * unchanged — and run and compare the candidate beside it as {@link ShadowOptions} says.
 *
 * One sample per call is recorded for the unit's cohort (`rt.flags.record`): the control's latency and
 * whether it threw, and when the candidate ran, the comparison's outcome (`match`, `mismatch` — also a data
 * error —, `error` when the candidate threw or rejected or `compare`/`ignore` threw, `timeout`) and its
 * latency. When the control threw, the candidate's error or timeout is still counted, but an answer is not
 * compared with anything (no comparison counted). Units on the flag's exclude list run the control only and
 * are not counted. Mismatches are kept in a bounded sample ({@link recentMismatches}, `ferry.shadow_mismatches`).
 */
export function shadow<T>(rt: CompatRuntime, key: string, unit: string, opts: ShadowOptions<T>): Promise<T> {
  let cohort: Cohort | null = null;
  try {
    cohort = rt.flags.cohort(key, unit);
  } catch {
    // No answer: run the control only.
  }
  return runShadow(rt, {
    key,
    unit,
    cohort,
    control: opts.control,
    candidate: sampled(cohort, opts.sample) ? opts.candidate : undefined,
    compare: opts.compare ?? jsonEqual,
    ignore: opts.ignore,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
}

/**
 * Write the primary, then the secondary; the caller gets the primary's result or exception. When the primary
 * fails the secondary is not run. The secondary's failure (a throw or a rejection) is counted as a failed
 * write — a data error of the unit's cohort — and never thrown. One sample per call: the latency of the
 * primary (plus the secondary's unless `background`), an error when the primary threw.
 */
export async function dualWrite<T>(rt: CompatRuntime, key: string, unit: string, opts: DualWriteOptions<T>): Promise<T> {
  let cohort: Cohort | null = null;
  try {
    cohort = rt.flags.cohort(key, unit);
  } catch {
    // No answer: write as usual, count nothing.
  }
  const started = performance.now();
  let result: T;
  try {
    result = await opts.primary();
  } catch (err) {
    if (cohort !== null) record(rt, key, unit, { cohort, latencyMs: performance.now() - started, error: true });
    throw err;
  }
  const primaryMs = performance.now() - started;
  const secondary = invoke(opts.secondary).then(
    () => false,
    () => true,
  );
  const count = (failed: boolean, latencyMs: number) => {
    if (cohort === null) return;
    const sample: Sample & { cohort: Cohort } = { cohort, latencyMs };
    if (failed) sample.writeFailure = true;
    record(rt, key, unit, sample);
  };
  if (opts.background === true) {
    void secondary.then((failed) => count(failed, primaryMs));
    return result;
  }
  count(await secondary, performance.now() - started);
  return result;
}

/** The last mismatches kept in memory (at most the client's `mismatchSamples`), newest last; of `key` when given. */
export function recentMismatches(rt: CompatRuntime, key?: string): MismatchSample[] {
  return existingMismatchLog(rt)?.recent(key) ?? [];
}
