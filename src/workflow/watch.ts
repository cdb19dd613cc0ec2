import type { Database } from '../db/database.js';
import { sqlState } from '../errors.js';

/** What changed: the state table a NOTIFY named (`events`, `backfill_ranges` …), `flags`, or `poll` when only the digest saw it. */
export type StateTopic = string;

/** Options for {@link watchState}. */
export interface WatchOptions {
  /** How often the digest of ferry's state is compared, catching changes no notification announced; default 500 ms on PGlite, 2,000 ms on a server. */
  pollMs?: number;
  /** Changes arriving within this long are reported together; default 50 ms. */
  debounceMs?: number;
}

// Every table a NOTIFY on ferry_state names (state version 10) also moves this digest, so polling alone
// (PGlite, a server whose notifications were lost, an older state) sees the same changes, only later.
const DIGEST_SQL = `SELECT concat_ws('/',
  (SELECT max(id) FROM ferry.events), (SELECT sum(version) FROM ferry.flags), (SELECT count(*) FROM ferry.flags),
  (SELECT max(updated_at) FROM ferry.backfills), (SELECT max(updated_at) FROM ferry.backfill_ranges),
  (SELECT max(stage_started_at) FROM ferry.rollouts), (SELECT max(id) FROM ferry.verify_results),
  (SELECT max(id) FROM ferry.approvals), (SELECT max(id) FROM ferry.metrics),
  (SELECT max(updated_at) FROM ferry.controllers), (SELECT count(*) FROM ferry.applied_steps),
  (SELECT max(updated_at) FROM ferry.migrations)) AS digest`;

/** undefined_table, invalid_schema_name: ferry's state (or part of it) is not installed yet. */
const NOT_INSTALLED = new Set(['42P01', '3F000']);

/** One string that changes whenever ferry's state does; empty before the state exists. */
export async function stateDigest(db: Database): Promise<string> {
  try {
    const { rows } = await db.query<{ digest: string }>(DIGEST_SQL);
    return rows[0]?.digest ?? '';
  } catch (err) {
    if (NOT_INSTALLED.has(sqlState(err) ?? '')) return '';
    throw err;
  }
}

/**
 * Call `onChange` whenever ferry's state or flags change: at once on LISTEN/NOTIFY
 * (channels ferry_state and ferry_flags), and from a periodic digest of the state
 * for what no notification reached. Resolves to a function that stops watching.
 * A failing digest query (the database away) is reported to `onError` and retried at the next tick.
 */
export async function watchState(
  db: Database,
  onChange: (topics: ReadonlySet<StateTopic>) => void,
  opts: WatchOptions & { onError?: (err: unknown) => void } = {},
): Promise<() => Promise<void>> {
  const pollMs = opts.pollMs ?? (db.kind === 'pglite' ? 500 : 2000);
  const debounceMs = opts.debounceMs ?? 50;
  let pending = new Set<StateTopic>();
  let flushTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let notified = false;
  const note = (topic: StateTopic) => {
    if (stopped) return;
    if (topic !== 'poll') notified = true;
    pending.add(topic);
    flushTimer ??= setTimeout(() => {
      flushTimer = undefined;
      const topics = pending;
      pending = new Set();
      onChange(topics);
    }, debounceMs);
  };
  const offState = await db.listen('ferry_state', (table) => note(table || 'state'));
  const offFlags = await db.listen('ferry_flags', () => note('flags'));
  let last = await stateDigest(db).catch(() => '');
  let polling: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      const sawNotification = notified;
      notified = false;
      const now = await stateDigest(db);
      if (now !== last) {
        last = now;
        // A notification normally got there first (topics naming the tables); the digest then only confirms it.
        if (!sawNotification && !notified) note('poll');
      }
    } catch (err) {
      opts.onError?.(err);
    }
    if (!stopped) polling = setTimeout(tick, pollMs);
  };
  polling = setTimeout(tick, pollMs);
  return async () => {
    stopped = true;
    clearTimeout(polling);
    clearTimeout(flushTimer);
    await offState();
    await offFlags();
  };
}

/** Whether `db`'s session still answers (a cheap round trip); false once its connection is gone. */
export async function sessionAlive(db: Database): Promise<boolean> {
  try {
    await db.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
