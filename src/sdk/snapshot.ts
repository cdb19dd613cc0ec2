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
}

/** Every flag by key; replaced whole on each refresh, never mutated. */
export type Snapshot = ReadonlyMap<string, CompiledFlag>;

/** Prepare one flag for the hot path. */
export function compileFlag(state: FlagState): CompiledFlag {
  const threshold = state.graduated === true ? BUCKETS : state.enabled ? Math.min(BUCKETS, Math.max(0, Math.round(state.percentage * 100))) : 0;
  return { state, prefix: flagPrefixState(state.key), threshold };
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
}

/** SQLSTATEs meaning "ferry's flags are not installed here yet": undefined_table, invalid_schema_name. */
const NOT_INSTALLED = new Set(['42P01', '3F000']);

/**
 * Read every flag with one SELECT (needs only read access). A database without
 * schema `ferry` or table `ferry.flags` yet has no flags: an empty snapshot.
 * The graduation columns (state version 9) are read through `to_jsonb` of the
 * row, so the same query works against an older ferry state (no graduation).
 */
export async function loadSnapshot(db: Queryable, previous: Snapshot): Promise<Snapshot> {
  let rows: FlagRow[];
  try {
    ({ rows } = await db.query<FlagRow>(
      `SELECT key, enabled, percentage::float8 AS percentage, version::text AS version, migration_id, updated_at,
              to_jsonb(f) ->> 'graduated_at' AS graduated_at, (to_jsonb(f) ->> 'tombstone')::boolean AS tombstone
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
  return a.enabled === b.enabled && a.percentage === b.percentage && a.version === b.version && a.graduated === b.graduated && a.tombstone === b.tombstone;
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
