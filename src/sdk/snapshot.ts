import { BUCKETS } from '../bucket.js';
import type { Queryable } from '../db/database.js';
import { sqlState } from '../errors.js';
import { flagPrefixState } from './hash.js';

/** One flag as the target database holds it in `ferry.flags`. */
export interface FlagState {
  key: string;
  enabled: boolean;
  /** 0–100, to 0.01. */
  percentage: number;
  /** Bumped by ferry on every change of the row. */
  version: number;
  migrationId: string | null;
  updatedAt: Date | null;
  /** Its migration contracted: on for everyone for good, whatever default the code passes (absent: false). */
  graduated?: boolean;
  /** Its migration was cleaned up; code still asking for it can drop the `if` (the SDK warns once). */
  tombstone?: boolean;
  /** The migration stage `ferry/compat`'s `migration()` follows (`off`, `dualwrite`, `shadow`, `live`, `rampdown`, `complete`); absent or null: never set, i.e. `off`. */
  stage?: string | null;
  /** Units on the new path from the first stage while the flag is on (edge-case accounts, internal users); absent: none. */
  include?: string[];
  /** Units never on the new path and never counted in the cohort metrics (test accounts); absent: none. */
  exclude?: string[];
  /** When the flag first reached 100 % (T+0 of its API versions' deprecation timeline); absent or null: not yet. */
  fullAt?: Date | null;
}

/**
 * A flag prepared for evaluation: the hash state of `key + ":"` and the bucket
 * threshold (`enabled ? round(percentage × 100) : 0`, everyone when graduated),
 * so a check is one hash of the unit id and one comparison — the same rule as `inRollout`.
 */
export interface CompiledFlag {
  readonly state: FlagState;
  readonly prefix: number;
  readonly threshold: number;
  /** `state.include` as a set; null when empty (the common case costs one comparison). */
  readonly include: ReadonlySet<string> | null;
  /** `state.exclude` as a set; null when empty. */
  readonly exclude: ReadonlySet<string> | null;
}

/** Every flag by key; replaced whole on each refresh, never mutated. */
export type Snapshot = ReadonlyMap<string, CompiledFlag>;

/** Prepare one flag for the hot path. */
export function compileFlag(state: FlagState): CompiledFlag {
  const threshold = state.graduated === true ? BUCKETS : state.enabled ? Math.min(BUCKETS, Math.max(0, Math.round(state.percentage * 100))) : 0;
  const set = (units: readonly string[] | undefined) => (units && units.length > 0 ? new Set(units) : null);
  return { state, prefix: flagPrefixState(state.key), threshold, include: set(state.include), exclude: set(state.exclude) };
}

interface FlagRow {
  key: string;
  enabled: boolean;
  percentage: number | string;
  version: string;
  migration_id: string | null;
  updated_at: Date | string | null;
  graduated_at: string | null;
  tombstone: boolean | null;
  stage: string | null;
  include_units: string[] | null;
  exclude_units: string[] | null;
  full_at: string | null;
}

/** SQLSTATEs meaning "ferry's flags are not installed here yet": undefined_table, invalid_schema_name. */
const NOT_INSTALLED = new Set(['42P01', '3F000']);

/**
 * Read every flag with one SELECT (needs only read access). A database without
 * schema `ferry` or table `ferry.flags` yet has no flags: an empty snapshot.
 * The graduation columns (state version 9) and the compat columns (11) are read through `to_jsonb` of
 * the row, so the same query works against an older ferry state (no graduation, no stage).
 */
export async function loadSnapshot(db: Queryable, previous: Snapshot): Promise<Snapshot> {
  let rows: FlagRow[];
  try {
    ({ rows } = await db.query<FlagRow>(
      `SELECT key, enabled, percentage::float8 AS percentage, version::text AS version, migration_id, updated_at,
              to_jsonb(f) ->> 'graduated_at' AS graduated_at, (to_jsonb(f) ->> 'tombstone')::boolean AS tombstone,
              to_jsonb(f) ->> 'stage' AS stage, to_jsonb(f) ->> 'full_at' AS full_at,
              ARRAY(SELECT jsonb_array_elements_text(coalesce(to_jsonb(f) -> 'include_units', '[]'))) AS include_units,
              ARRAY(SELECT jsonb_array_elements_text(coalesce(to_jsonb(f) -> 'exclude_units', '[]'))) AS exclude_units
         FROM ferry.flags f`,
    ));
  } catch (err) {
    if (NOT_INSTALLED.has(sqlState(err) ?? '')) return new Map();
    throw err;
  }
  return snapshotOf(
    rows.map((r) => ({
      key: r.key,
      enabled: r.enabled === true,
      percentage: Number(r.percentage),
      version: Number(r.version),
      migrationId: r.migration_id,
      updatedAt: r.updated_at === null ? null : new Date(r.updated_at),
      graduated: r.graduated_at !== null && r.graduated_at !== undefined,
      tombstone: r.tombstone === true,
      stage: r.stage ?? null,
      include: r.include_units ?? [],
      exclude: r.exclude_units ?? [],
      fullAt: r.full_at ? new Date(r.full_at) : null,
    })),
    previous,
  );
}

/** A snapshot of `states` (as read from the database or a relay), reusing `previous`'s compiled entries of unchanged flags. */
export function snapshotOf(states: readonly FlagState[], previous: Snapshot): Snapshot {
  const next = new Map<string, CompiledFlag>();
  for (const state of states) {
    const old = previous.get(state.key);
    // Keep the compiled entry when nothing that matters changed, so unchanged flags cost nothing.
    next.set(state.key, old && sameFlag(old.state, state) ? old : compileFlag(state));
  }
  return next;
}

function sameFlag(a: FlagState, b: FlagState): boolean {
  return (
    a.enabled === b.enabled &&
    a.percentage === b.percentage &&
    a.version === b.version &&
    a.graduated === b.graduated &&
    a.tombstone === b.tombstone &&
    (a.stage ?? null) === (b.stage ?? null) &&
    sameUnits(a.include, b.include) &&
    sameUnits(a.exclude, b.exclude) &&
    (a.fullAt?.getTime() ?? null) === (b.fullAt?.getTime() ?? null)
  );
}

function sameUnits(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((u, i) => u === y[i]);
}

/** Keys added, removed or changed between two snapshots, sorted. */
export function changedKeys(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [key, flag] of after) {
    const old = before.get(key);
    if (!old || !sameFlag(old.state, flag.state)) out.push(key);
  }
  for (const key of before.keys()) if (!after.has(key)) out.push(key);
  return out.sort();
}
