import type { Queryable } from '../db/database.js';
import { type Flags, sessionOf } from '../sdk/flags.js';
import { type ApiOptions, type ApiSource, type VersionedApi, versionedApi } from './api/core.js';
import { type MigrationOptions, type MigrationRunner, migration } from './migration.js';
import type { CompatRuntime, FlushPart } from './runtime.js';
import { type AppShape, searchPath } from './search-path.js';
import { type DualWriteOptions, dualWrite, type MismatchSample, recentMismatches, type ShadowOptions, shadow } from './shadow.js';

/** Tuning of {@link createCompat}; every field has a default. */
export interface CompatOptions {
  /** The clock for the deprecation timeline (a test or a demo sets it); default `new Date()`. */
  now?: () => Date;
  /** Where mismatch samples and API consumer counts are written; default the flags client's own session (none on a relay: kept in memory). */
  db?: Queryable;
  /** How often they are written; default 5,000 ms. */
  flushIntervalMs?: number;
  /** Differing values kept in memory per flag, and written per flag per flush, at most; default 20. */
  mismatchSamples?: number;
  /** Deprecation warnings; default `console.warn`. */
  onLog?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * `ferry/compat`: what applications need while the old and the new shape live side by side. Shadow reads,
 * dual writes and the six migration stages, measured per cohort into ferry's metrics (mismatches and failed
 * secondary writes are the cohort's data errors, so they gate the rollout); the shape an application version
 * reads; and versioned HTTP APIs with adapters, the deprecation timeline and consumer counts.
 */
export interface Compat {
  /** The control's outcome, always; the candidate runs beside it for the new cohort (and a sample) and is compared. */
  shadow<T>(key: string, unit: string, opts: ShadowOptions<T>): Promise<T>;
  /** The primary's outcome; the secondary's failure is counted, never thrown. */
  dualWrite<T>(key: string, unit: string, opts: DualWriteOptions<T>): Promise<T>;
  /** One change's reads and writes routed by its stage (`ferry rollout <id> stage <name>`). */
  migration<TArgs extends unknown[], TRead, TWrite>(key: string, opts: MigrationOptions<TArgs, TRead, TWrite>): MigrationRunner<TArgs, TRead, TWrite>;
  /** The search path of `unit`'s shape: `ferry_v2_users, public` in the new cohort. */
  searchPath(unit: string, shape: AppShape): string;
  /** A versioned API with middleware for Express, Fastify, Hono and plain `node:http`. */
  api(source: ApiSource, opts?: ApiOptions): VersionedApi;
  /** The last differing values kept in memory, newest last (of `key` when given). */
  mismatches(key?: string): MismatchSample[];
  /** Write mismatch samples and consumer counts now, and the flags client's metrics; resolves false (never rejects) when something is kept for later. */
  flush(): Promise<boolean>;
  /** Flush and stop the timer (the flags client stays open: it is the caller's). */
  close(): Promise<void>;
}

/** Start `ferry/compat` on an application's flags client. */
export function createCompat(flags: Flags, opts: CompatOptions = {}): Compat {
  const parts: FlushPart[] = [];
  const rt: CompatRuntime = {
    flags,
    mismatchSamples: opts.mismatchSamples ?? 20,
    now: opts.now ?? (() => new Date()),
    log(message, details) {
      try {
        (opts.onLog ?? ((m: string) => console.warn(m)))(message, details);
      } catch {
        // A failing logger must not fail the application's request.
      }
    },
    register(part) {
      parts.push(part);
    },
  };
  let flushing: Promise<boolean> = Promise.resolve(true);
  const flushOnce = async (): Promise<boolean> => {
    const db = opts.db ?? sessionOf(flags);
    let ok = true;
    for (const part of parts) {
      if (!part.pending()) continue;
      if (!db) {
        ok = false;
        continue;
      }
      if (!(await part.flush(db).catch(() => false))) ok = false;
    }
    return ok;
  };
  const flushParts = (): Promise<boolean> => {
    flushing = flushing.then(flushOnce);
    return flushing;
  };
  const timer = setInterval(() => void flushParts(), opts.flushIntervalMs ?? 5000);
  timer.unref();
  return {
    shadow: (key, unit, o) => shadow(rt, key, unit, o),
    dualWrite: (key, unit, o) => dualWrite(rt, key, unit, o),
    migration: (key, o) => migration(rt, key, o),
    searchPath: (unit, shape) => searchPath(flags, unit, shape),
    api: (source, o) => versionedApi(rt, source, o),
    mismatches: (key) => recentMismatches(rt, key),
    async flush() {
      // One after the other: both may use the flags client's one session.
      const own = await flushParts();
      const metrics = await flags.flush();
      return own && metrics;
    },
    async close() {
      clearInterval(timer);
      await flushParts();
    },
  };
}
