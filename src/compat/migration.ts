import type { CompatRuntime } from './runtime.js';
import type { MigrationStage } from './stages.js';

/** The two sides of one change: how to read and write each, and how to compare two reads. */
export interface MigrationOptions<TArgs extends unknown[], TRead, TWrite> {
  readOld: (...args: TArgs) => TRead | Promise<TRead>;
  readNew: (...args: TArgs) => TRead | Promise<TRead>;
  writeOld: (...args: TArgs) => TWrite | Promise<TWrite>;
  writeNew: (...args: TArgs) => TWrite | Promise<TWrite>;
  /** Whether two reads agree; default deep equality of their JSON values. */
  check?: (oldRead: TRead, newRead: TRead) => boolean;
  /** Share (0–1) of units outside the new cohort whose reads are compared too in `shadow` and `live`; default 0. */
  sample?: number;
  /** The compared (non-authoritative) read is ignored, and counted as a timeout, after this long; default 1,000 ms. */
  timeoutMs?: number;
}

/** One change's reads and writes, routed by its stage (`ferry rollout <id> stage <name>`) and the unit's cohort. */
export interface MigrationRunner<TArgs extends unknown[], TRead, TWrite> {
  /** Read for `unit` as the stage says; the authoritative side's result (or exception) is returned. */
  read(unit: string, ...args: TArgs): Promise<TRead>;
  /** Write for `unit` as the stage says: the authoritative side first; when it fails the other is not written. */
  write(unit: string, ...args: TArgs): Promise<TWrite>;
  /** The stage now (from the flag's snapshot; `off` until one is set). */
  stage(): MigrationStage;
}

/** The runner of migration flag `key`. */
export function migration<TArgs extends unknown[], TRead, TWrite>(
  rt: CompatRuntime,
  key: string,
  opts: MigrationOptions<TArgs, TRead, TWrite>,
): MigrationRunner<TArgs, TRead, TWrite> {
  void rt;
  void key;
  void opts;
  throw new Error('not implemented');
}
