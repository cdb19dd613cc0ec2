import { bucketOf, inRollout } from '../bucket.js';
import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { deleteFlag, type Flag, type FlagChange, graduatedRefusal, listFlags, readFlag, unknownFlag, writeFlag } from '../rollout/flags.js';
import { effectivePercentage, type FlagValue } from '../rollout/percentage.js';
import { createFlags, type Flags } from '../sdk/flags.js';
import { ensureCheckState } from './check-store.js';
import { transition } from './lifecycle.js';

/** Phases in which a migration no longer needs its flag to be removable (graduated flags never are). */
const COMPLETE = new Set(['verified', 'contracted', 'archived']);

/** Options of {@link setFlag} and {@link removeFlag}. */
export interface FlagOptions {
  actor: string;
  /** Why, for the migration's log. */
  reason?: string;
  /** How long to wait for the migration lock when ferry's state needs an upgrade. */
  lockWaitMs: number;
}

const owners = (migrations: readonly Migration[], key: string) => migrations.filter((m) => m.manifest.flag === key);

/** Every flag key known: stored, or named by a migration's manifest. */
export function knownFlags(migrations: readonly Migration[], stored: readonly Flag[]): string[] {
  return [...new Set([...stored.map((f) => f.key), ...migrations.flatMap((m) => m.manifest.flag ?? [])])].sort();
}

/**
 * `ferry flag set`: set a flag stored or named by a migration, logged in its
 * migration's log. Switching it off is the quick rollback and pauses a running
 * rollout. A graduated flag (its migration contracted) cannot go below 100 %:
 * E_POINT_OF_NO_RETURN, since it would send units to a dropped column.
 */
export async function setFlag(db: Database, migrations: readonly Migration[], key: string, value: FlagValue, opts: FlagOptions): Promise<FlagChange> {
  const stored = await readFlag(db, key);
  const owner = owners(migrations, key).at(-1);
  if (!stored && !owner) throw unknownFlag(key, knownFlags(migrations, await listFlags(db)));
  await ensureCheckState(db, opts.lockWaitMs);
  return db.transaction(async (tx) => {
    const reason = opts.reason ?? (value.enabled ? undefined : `quick rollback: flag ${key} switched off, everyone back on the old path`);
    const c = await writeFlag(tx, key, value, { migrationId: owner?.id ?? null, actor: opts.actor, ...(reason ? { reason } : {}) });
    // A switched-off rollout is halted: pause it so `rollout advance` cannot carry on regardless.
    if (c.quickRollback && c.migrationId) {
      const { rows } = await tx.query<{ phase: string }>('SELECT phase FROM ferry.migrations WHERE id = $1 FOR UPDATE', [c.migrationId]);
      const phase = rows[0]?.phase;
      if (phase === 'canary' || phase === 'rolling') await transition(tx, c.migrationId, 'paused', { actor: opts.actor, reason: reason ?? 'quick rollback' });
    }
    return c;
  });
}

/**
 * `ferry flag remove`: delete a flag once every migration naming it is verified,
 * contracted or archived (E_GATE before). A graduated flag is never removed
 * (E_POINT_OF_NO_RETURN): SDKs would answer their default, the dropped path;
 * cleanup leaves it as a tombstone instead.
 */
export async function removeFlag(db: Database, migrations: readonly Migration[], key: string, opts: FlagOptions): Promise<FlagChange> {
  const f = await readFlag(db, key);
  if (!f) throw unknownFlag(key, knownFlags(migrations, await listFlags(db)));
  if (f.graduatedAt) throw graduatedRefusal(f, 'remove');
  return db.transaction(async (tx) => {
    const needs: string[] = [];
    for (const m of owners(migrations, key)) {
      const { rows } = await tx.query<{ phase: string }>('SELECT phase FROM ferry.migrations WHERE id = $1 FOR SHARE', [m.id]);
      const phase = rows[0]?.phase ?? 'planned';
      if (!COMPLETE.has(phase)) needs.push(`${m.id} (${phase})`);
    }
    if (needs.length)
      throw new FerryError(
        'E_GATE',
        `cannot remove flag ${key}: ${needs.length === 1 ? 'migration' : 'migrations'} ${needs.join(', ')} still ${needs.length === 1 ? 'needs' : 'need'} it`,
        `a flag can go once every migration naming it is verified, contracted or archived; to turn it off now use \`ferry flag set ${key} false\``,
      );
    return deleteFlag(tx, key, { actor: opts.actor, ...(opts.reason ? { reason: opts.reason } : {}) });
  });
}

/** `ferry flag list`: every stored flag with its percentage, migration, version and graduation. */
export function flagList(db: Database): Promise<Flag[]> {
  return listFlags(db);
}

/** What `ferry flag get` answers: the flag's value, and for a unit its bucket and whether it is in. */
export interface FlagLookup {
  flag: string;
  /** Whether the flag is stored (a migration's flag not set yet reads as off). */
  stored: boolean;
  enabled: boolean;
  percentage: number;
  graduatedAt?: Date | null;
  tombstone?: boolean;
  unit?: string;
  /** The unit's bucket, 0..9999: the same as the SDK's and `ferry.bucket(key, unit)` in SQL. */
  bucket?: number;
  in?: boolean;
}

/**
 * `ferry flag get`: a flag stored or named by a migration (E_NOT_FOUND otherwise, listing the known ones);
 * with `unit`, where that unit falls. Resolves to the answer and the stored row (undefined when not set yet).
 */
export async function lookupFlag(
  db: Database,
  migrations: readonly Migration[],
  key: string,
  opts: { unit?: string } = {},
): Promise<{ lookup: FlagLookup; record: Flag | undefined }> {
  const f = await readFlag(db, key);
  if (!f && owners(migrations, key).length === 0) throw unknownFlag(key, knownFlags(migrations, await listFlags(db)));
  const value = f ?? { enabled: false, percentage: 0 };
  const lookup: FlagLookup = { flag: key, stored: f !== undefined, enabled: value.enabled, percentage: value.percentage };
  if (f) Object.assign(lookup, { graduatedAt: f.graduatedAt, tombstone: f.tombstone });
  if (opts.unit !== undefined) {
    const bucket = bucketOf(key, opts.unit);
    Object.assign(lookup, { unit: opts.unit, bucket, in: inRollout(bucket, effectivePercentage(value)) });
  }
  return { lookup, record: f };
}

/**
 * The flags as an application sees them, kept fresh from `db` (LISTEN/NOTIFY, or polling on PGlite):
 * what `ferry serve`'s relay hands on to many application instances over one database session.
 */
export function flagFeed(db: Database): Flags {
  return createFlags({ db }, { metrics: false, onWarning: () => {} });
}
