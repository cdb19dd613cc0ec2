import type { Cohort } from '../sdk/metrics.js';
import type { CompatRuntime } from './runtime.js';

/** How {@link shadow} runs and compares a candidate next to the control. */
export interface ShadowOptions<T> {
  /** The current path: its result (or exception) is what the caller gets, always. */
  control: () => T | Promise<T>;
  /** The new path, run concurrently for units in the new cohort (and a sampled share of the rest); its result is only compared. */
  candidate: () => T | Promise<T>;
  /** Whether the two results agree; default deep equality of their JSON values. */
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

/** One shadow read that differed, kept in a bounded sample (and flushed to `ferry.shadow_mismatches`). */
export interface MismatchSample {
  flag: string;
  cohort: Cohort;
  unit: string;
  control: unknown;
  candidate: unknown;
  at: Date;
}

/** Run `opts.control` for `unit` and return its outcome; run and compare the candidate beside it as {@link ShadowOptions} says. */
export function shadow<T>(rt: CompatRuntime, key: string, unit: string, opts: ShadowOptions<T>): Promise<T> {
  void rt;
  void key;
  void unit;
  void opts;
  throw new Error('not implemented');
}

/** Write the primary, then the secondary; the caller gets the primary's result or exception. */
export function dualWrite<T>(rt: CompatRuntime, key: string, unit: string, opts: DualWriteOptions<T>): Promise<T> {
  void rt;
  void key;
  void unit;
  void opts;
  throw new Error('not implemented');
}

/** The last mismatches kept in memory (at most the client's `mismatchSamples`), newest last; of `key` when given. */
export function recentMismatches(rt: CompatRuntime, key?: string): MismatchSample[] {
  void rt;
  void key;
  throw new Error('not implemented');
}
