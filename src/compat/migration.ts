import type { Cohort, Sample } from '../sdk/metrics.js';
import { jsonEqual } from './equal.js';
import type { CompatRuntime } from './runtime.js';
import { runShadow, sampled } from './shadow.js';
import { type MigrationStage, type Side, STAGE_PLANS, stageOf } from './stages.js';

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

/** What one read does for one unit now. */
interface ReadRoute {
  side: Side;
  /** The other side is read too and compared. */
  compare: boolean;
}

/**
 * The runner of migration flag `key`. The stage is read from the flag's snapshot at every call, so
 * `ferry rollout <id> stage <name>` takes effect with the SDK's next refresh. Each stage follows
 * {@link STAGE_PLANS}, refined by the unit's cohort:
 *
 * - `live`: units in the new cohort read new (returned) and compare old; units in the old cohort still read
 *   old and compare new (both sides are written in `live`, so both answers are valid).
 * - The flag switched off (`enabled = false`, the quick rollback): `live` and `rampdown` read old for
 *   everyone and compare nothing (old is still written in those stages); writes follow the stage.
 * - Comparisons (`shadow`, `live`) run for the new cohort and a `sample` share of the old one, concurrently
 *   and bounded by `timeoutMs`, as {@link runShadow} does: they never change the caller's result or latency.
 * - Units on the flag's exclude list read and write as the old cohort does and are never compared nor counted.
 *
 * Writes run one after another, the authoritative side first: when it fails the other is not written and
 * the error goes to the caller; a failed non-authoritative write is counted (a failed write, a data error)
 * and not thrown. Every read and write records one sample for the unit's cohort.
 */
export function migration<TArgs extends unknown[], TRead, TWrite>(
  rt: CompatRuntime,
  key: string,
  opts: MigrationOptions<TArgs, TRead, TWrite>,
): MigrationRunner<TArgs, TRead, TWrite> {
  const check = opts.check ?? jsonEqual;
  const stage = (): MigrationStage => stageOf(rt.flags.flag(key)?.stage);
  const cohortOf = (unit: string): Cohort | null => {
    try {
      return rt.flags.cohort(key, unit);
    } catch {
      return 'old';
    }
  };

  const route = (s: MigrationStage, cohort: Cohort | null): ReadRoute => {
    const plan = STAGE_PLANS[s];
    const off = rt.flags.flag(key)?.enabled === false;
    if (off && (s === 'live' || s === 'rampdown')) return { side: 'old', compare: false };
    const side: Side = s === 'live' && cohort !== 'new' ? 'old' : plan.read;
    return { side, compare: plan.compare && sampled(cohort, opts.sample) };
  };

  const readOf = (side: Side) => (side === 'old' ? opts.readOld : opts.readNew);
  const writeOf = (side: Side) => (side === 'old' ? opts.writeOld : opts.writeNew);

  return {
    stage,
    read(unit, ...args) {
      const cohort = cohortOf(unit);
      const r = route(stage(), cohort);
      const own = readOf(r.side);
      const other = readOf(r.side === 'old' ? 'new' : 'old');
      return runShadow<TRead>(rt, {
        key,
        unit,
        cohort,
        control: () => own(...args),
        candidate: r.compare ? () => other(...args) : undefined,
        compare: r.side === 'old' ? (a, b) => check(a, b) : (a, b) => check(b, a),
        timeoutMs: opts.timeoutMs ?? 1000,
      });
    },
    async write(unit, ...args) {
      const cohort = cohortOf(unit);
      const [first, ...rest] = STAGE_PLANS[stage()].writes;
      const started = performance.now();
      const count = (extra: Partial<Sample>) => {
        if (cohort === null) return;
        try {
          rt.flags.record(key, unit, { cohort, latencyMs: performance.now() - started, ...extra });
        } catch {
          // Counting must never fail the application's request.
        }
      };
      let result: TWrite;
      try {
        result = await writeOf(first ?? 'old')(...args);
      } catch (err) {
        count({ error: true });
        throw err;
      }
      let failed = false;
      for (const side of rest) {
        try {
          await writeOf(side)(...args);
        } catch {
          failed = true;
        }
      }
      count(failed ? { writeFailure: true } : {});
      return result;
    },
  };
}
