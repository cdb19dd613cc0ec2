import type { FlagAnswers, Flags, FlagsChange } from '../sdk/flags.js';
import { flagFeed } from '../workflow/flags.js';
import { sessionAlive, watchState } from '../workflow/watch.js';
import type { Database } from '../workflow/workspace.js';
import type { changeHub } from './live.js';

/** How long to wait between attempts to reopen a lost listening session: from 0.5 s, doubling to 10 s. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
const CHANGE_BATCH_MS = 250;

/** The listening side of ferry serve: the one session that LISTENs (live updates and the flag relay), reopened when lost. */
export interface LiveSource {
  /** The flags the relay serves; the same object for the server's life, whatever session feeds it. */
  readonly flags: FlagAnswers;
  close(): Promise<void>;
}

/**
 * Watch ferry's state and feed the flags from `first` — the server's listening session. On a server, a
 * session that stops answering (a PostgreSQL restart, a killed backend) is replaced by a fresh one from
 * `reopen`; until then the flags answer from their last snapshot, stale, and pages keep what they show.
 */
export async function openLiveSource(first: Database, reopen: () => Promise<Database>, hub: ReturnType<typeof changeHub>): Promise<LiveSource> {
  const listeners = new Set<(c: FlagsChange) => void>();
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  interface Session {
    db: Database;
    flags: Flags;
    stopWatch: () => Promise<void>;
    offChange: () => void;
  }

  const emit = (c: FlagsChange) => {
    for (const fn of listeners) fn(c);
  };

  async function start(db: Database): Promise<Session> {
    const flags = flagFeed(db);
    // Only the session that answers passes its changes on; a replacement's first read is announced at the swap.
    const offChange = flags.onChange((c) => {
      if (current?.flags === flags) emit(c);
    });
    // Changes within 250 ms go out as one event: a fast backfill commits many batches a second, and each open
    // page refetches what changed, at most four times a second (a kill switch still shows within a second).
    const stopWatch = await watchState(db, (topics) => hub.publish(topics), {
      debounceMs: CHANGE_BATCH_MS,
      onError: () => void checkSession(),
    });
    return { db, flags, stopWatch, offChange };
  }

  async function stop(s: Session): Promise<void> {
    s.offChange();
    await s.stopWatch().catch(() => {});
    await s.flags.close().catch(() => {});
    await s.db.close().catch(() => {});
  }

  let current: Session | undefined;
  current = await start(first);
  let replacing = false;
  const live = () => current as Session;

  async function checkSession(): Promise<void> {
    if (closed || replacing || first.kind === 'pglite') return;
    if (await sessionAlive(live().db)) return;
    replacing = true;
    let wait = RETRY_MIN_MS;
    const attempt = async () => {
      if (closed) return;
      try {
        const next = await start(await reopen());
        // The new feed answers once it has read the flags; until then the old one answers, stale.
        await next.flags.ready(RETRY_MAX_MS);
        const old = current as Session;
        current = next;
        replacing = false;
        await stop(old);
        // Whatever changed while no session listened: every flag either side knows counts as changed.
        const keys = new Set([...old.flags.list(), ...next.flags.list()].map((f) => f.key));
        emit({ changed: [...keys].sort() });
        hub.publish(new Set(['reconnected']));
      } catch {
        wait = Math.min(wait * 2, RETRY_MAX_MS);
        retryTimer = setTimeout(attempt, wait);
      }
    };
    await attempt();
  }

  const flags: FlagAnswers = {
    isEnabled: (key, unit, dflt) => live().flags.isEnabled(key, unit, dflt),
    bucket: (key, unit) => live().flags.bucket(key, unit),
    cohort: (key, unit) => live().flags.cohort(key, unit),
    flag: (key) => live().flags.flag(key),
    list: () => live().flags.list(),
    snapshotAgeMs: () => live().flags.snapshotAgeMs(),
    status: () => live().flags.status(),
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    ready: (timeoutMs) => live().flags.ready(timeoutMs),
  };

  return {
    flags,
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await stop(live());
    },
  };
}
