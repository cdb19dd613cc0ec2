import {
  type ApiSpec,
  currentVersion,
  type DeprecationState,
  deprecationState,
  oldVersions,
  type VersionTimeline,
  versionTimeline,
} from '../compat/api/spec.js';
import type { Queryable } from '../db/database.js';
import { parseHold } from '../duration.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { readFlag } from '../rollout/flags.js';
import { formatHold } from '../rollout/schedule.js';
import { stateTableExists } from '../state/store.js';

/** One consumer's calls to one version of the migration's API, as the applications' compat middleware counted them. */
export interface ConsumerUse {
  consumer: string;
  version: string;
  /** Whether `version` is an old (deprecated) version. */
  old: boolean;
  calls: number;
  firstSeen: Date;
  lastSeen: Date;
  /** Its timeline for this consumer (allow-list overrides applied); null for the current version. */
  timeline: VersionTimeline | null;
  /** What the version does for this consumer now. */
  state: DeprecationState;
  /** Whether the last call falls within the manifest's `api.consumerWindow` (what the cleanup gate looks at). */
  recent: boolean;
}

/** What `ferry consumers <id> --json` prints. */
export interface ConsumersReport {
  migrationId: string;
  api: string;
  current: string;
  oldVersions: string[];
  /** T+0 of the timeline: when the migration's flag first reached 100 %; null: not yet. */
  releasedAt: Date | null;
  /** `api.consumerWindow` in milliseconds. */
  windowMs: number;
  now: Date;
  /** Sorted by last seen, most recent first. */
  consumers: ConsumerUse[];
}

/** The `api` section of `m`, or E_USAGE with the fix when it has none. */
export function apiOf(m: Migration): ApiSpec {
  const api = m.manifest.api;
  if (!api)
    throw new FerryError(
      'E_USAGE',
      `migration ${m.id} has no "api" section`,
      'name the API versions it changes in its manifest\'s "api" field (see docs/manifest.md); consumers, upgrade guides and the cleanup gate read it',
    );
  return api;
}

/** `api.consumerWindow` in milliseconds (default 7 days). */
export function consumerWindowMs(api: Pick<ApiSpec, 'consumerWindow'>): number {
  return parseHold(api.consumerWindow) ?? 7 * 86_400_000;
}

/** Counted calls to `versions` of API `api`, most recent first; empty when ferry's state (or the table) is not there. */
async function callsTo(db: Queryable, api: string, versions: readonly string[]) {
  if (!(await stateTableExists(db, 'api_consumers'))) return [];
  const { rows } = await db.query<{ version: string; consumer: string; calls: string; first_seen: string | Date; last_seen: string | Date }>(
    `SELECT version, consumer, calls::text AS calls, first_seen, last_seen FROM ferry.api_consumers
      WHERE api = $1 AND version = ANY($2::text[]) ORDER BY last_seen DESC, consumer, version`,
    [api, [...versions]],
  );
  return rows.map((r) => ({
    version: r.version,
    consumer: r.consumer,
    calls: Number(r.calls),
    firstSeen: new Date(r.first_seen),
    lastSeen: new Date(r.last_seen),
  }));
}

/** Every consumer's use of `versions` of `api` at `now`, with its timeline from `releasedAt`. */
export async function consumerUses(db: Queryable, api: ApiSpec, versions: readonly string[], releasedAt: Date | null, now: Date): Promise<ConsumerUse[]> {
  const old = new Set(oldVersions(api));
  const windowMs = consumerWindowMs(api);
  return (await callsTo(db, api.name, versions)).map((c) => {
    const timeline = old.has(c.version) ? versionTimeline(api, c.version, releasedAt, c.consumer) : null;
    return { ...c, old: old.has(c.version), timeline, state: deprecationState(timeline, now), recent: now.getTime() - c.lastSeen.getTime() <= windowMs };
  });
}

/** When `m`'s flag first reached 100 % (T+0 of its API timeline), read without changing anything; null before. */
export async function releasedAtOf(db: Queryable, m: Migration): Promise<Date | null> {
  const flag = m.manifest.flag;
  return flag ? ((await readFlag(db, flag))?.fullAt ?? null) : null;
}

/**
 * `ferry consumers <id>`: who calls the old versions of the migration's API (with `all`, the current one
 * too), how often, first and last seen, and where each old version's timeline stands for them. Read-only:
 * a database without ferry's state has no consumers. E_USAGE when the manifest has no `api` section.
 */
export async function apiConsumers(db: Queryable, m: Migration, opts: { now?: Date; all?: boolean } = {}): Promise<ConsumersReport> {
  const api = apiOf(m);
  const now = opts.now ?? new Date();
  const releasedAt = await releasedAtOf(db, m);
  const versions = opts.all ? api.versions.map((v) => v.version) : oldVersions(api);
  return {
    migrationId: m.id,
    api: api.name,
    current: currentVersion(api),
    oldVersions: oldVersions(api),
    releasedAt,
    windowMs: consumerWindowMs(api),
    now,
    consumers: await consumerUses(db, api, versions, releasedAt, now),
  };
}

/** What the cleanup gate is told about the API (its transition details): the API's name, its old versions and the consumer window. */
export interface ApiTrafficDetails {
  name: string;
  oldVersions: string[];
  consumerWindow: string;
}

/** The API details of `m` for the cleanup gate; undefined when it has no `api` section. */
export function apiTrafficDetails(m: Migration): ApiTrafficDetails | undefined {
  const api = m.manifest.api;
  return api ? { name: api.name, oldVersions: oldVersions(api), consumerWindow: api.consumerWindow } : undefined;
}

/** The calls to old versions within the consumer window before `now`, most recent first. */
export async function recentOldCalls(
  db: Queryable,
  d: ApiTrafficDetails,
  now: Date,
): Promise<{ consumer: string; version: string; lastSeen: Date; calls: number }[]> {
  const windowMs = parseHold(d.consumerWindow) ?? 7 * 86_400_000;
  return (await callsTo(db, d.name, d.oldVersions)).filter((c) => now.getTime() - c.lastSeen.getTime() <= windowMs);
}

/** "partner-a (v1, 2 h ago), app-ios (v1, 3 d ago) and 2 more": consumers named with when they were last seen. */
export function describeRecentCalls(calls: readonly { consumer: string; version: string; lastSeen: Date }[], now: Date, shown = 5): string {
  const named = calls
    .slice(0, shown)
    .map(
      (c) =>
        `${c.consumer} (${c.version}, last seen ${c.lastSeen.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${formatHold(now.getTime() - c.lastSeen.getTime(), 2)} ago)`,
    );
  return `${named.join(', ')}${calls.length > shown ? ` and ${calls.length - shown} more` : ''}`;
}
