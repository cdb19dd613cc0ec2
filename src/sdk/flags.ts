import type { IncomingMessage, ServerResponse } from 'node:http';
import { BUCKETS } from '../bucket.js';
import type { Database, Queryable } from '../db/database.js';
import { openServer } from '../db/server.js';
import { bucketFromPrefix, flagPrefixState } from './hash.js';
import type { Cohort, MetricsOptions, Sample } from './metrics.js';
import { MetricsRecorder } from './recorder.js';
import { followRelay } from './relay.js';
import { changedKeys, type FlagState, loadSnapshot, type Snapshot, snapshotOf } from './snapshot.js';

/**
 * Where the flags live: a PostgreSQL URL (the SDK opens and re-opens its own session), an open
 * {@link Database} the caller owns, or the base URL of a `ferry serve` flag relay (e.g.
 * `http://relay.internal:4100`): the SDK then follows the relay's stream of changes over HTTP and
 * opens no database connection, so a thousand instances cost the database one listening session.
 */
export type FlagsSource = { url: string } | { db: Database } | { relay: string };

/** Tuning for {@link createFlags}; every field has a sensible default. */
export interface FlagsOptions {
  /**
   * `listen` (default on a server): LISTEN on channel `ferry_flags` and refresh on each notification.
   * `poll` (default on PGlite, where other processes cannot notify): refresh every `pollIntervalMs`.
   * Ignored on a relay, which always pushes its changes.
   */
  mode?: 'listen' | 'poll';
  /** Refresh interval when polling; default 1,000 ms. */
  pollIntervalMs?: number;
  /**
   * While listening, a full refresh this often checks the session and catches a lost notification; default 5,000 ms.
   * On a relay: the keep-alive interval asked of the relay (1,000–60,000 ms); a stream silent for `staleAfterMs` is dropped and reopened.
   */
  heartbeatMs?: number;
  /** The snapshot counts as stale once older than this; default three refresh intervals. */
  staleAfterMs?: number;
  /** First and longest wait between reconnect attempts; default 100 ms and 5,000 ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Shown in pg_stat_activity; default `ferry-sdk`. */
  applicationName?: string;
  /** How long one connection attempt may take; default 5,000 ms. */
  connectTimeoutMs?: number;
  /** On a relay: extra headers of each request to it (e.g. `Authorization: Bearer …` should the relay require the token). */
  relayHeaders?: Record<string, string>;
  /**
   * Canary/baseline metrics of `observe` and `record`, flushed to `ferry.metrics`; `false` keeps them in memory only (for `/metrics`).
   * On a relay there is no database session: metrics stay in memory for `metricsText()`/`metricsHandler()` (Prometheus scrapes them)
   * and `flush()` resolves false while any are waiting, writing nothing.
   */
  metrics?: MetricsOptions | false;
  /**
   * Called once per flag key when code asks for a graduated tombstone (its migration
   * was cleaned up: the flag is on for good and the `if` can go); default `console.warn`.
   */
  onWarning?: (message: string, flag: { key: string; migrationId: string | null }) => void;
}

/**
 * How fresh the snapshot is: `connected` (listening, or following a relay whose own snapshot is fresh), `polling`,
 * `stale` (database or relay away, the relay's database away, or the snapshot too old), `connecting` (no snapshot yet).
 */
export type FlagsState = 'connecting' | 'connected' | 'polling' | 'stale';

/** What {@link FlagAnswers.status} reports. */
export interface FlagsStatus {
  state: FlagsState;
  /** When the snapshot was last read successfully, or null before the first read. */
  lastRefreshAt: Date | null;
  /** Milliseconds since `lastRefreshAt`; Infinity before the first read. */
  snapshotAgeMs: number;
  /** The last failure talking to the database, cleared by the next success. */
  lastError: { message: string; at: Date } | null;
  /** Number of flags in the snapshot. */
  flags: number;
}

/** Passed to {@link FlagAnswers.onChange} listeners when a refresh changes the snapshot. */
export interface FlagsChange {
  /** Keys added, removed or changed, sorted. */
  changed: string[];
}

/** The answers half of {@link Flags}: whether a flag is on for a unit, from memory, kept fresh in the background, never throwing when the database is away. */
export interface FlagAnswers {
  /**
   * Whether `key` is on for `unitId`: enabled and the unit's bucket below percentage × 100.
   * A graduated flag (its migration contracted) is true for everyone, whatever `defaultValue`;
   * its tombstone (after cleanup) too, with a one-time warning. Unknown flag → `defaultValue` (false). No I/O.
   */
  isEnabled(key: string, unitId: string, defaultValue?: boolean): boolean;
  /** The unit's sticky bucket (0..9999) for `key`, whether or not the flag exists. */
  bucket(key: string, unitId: string): number;
  /**
   * The unit's cohort for `key`: `new` when the flag is on for it, `old` otherwise, and null for a unit on the
   * flag's exclude list (a test account: never on the new path and never counted in the cohort metrics). No I/O.
   */
  cohort(key: string, unitId: string): Cohort | null;
  /** The flag as last read, or undefined when the snapshot does not have it. */
  flag(key: string): FlagState | undefined;
  /** Every flag in the snapshot. */
  list(): FlagState[];
  /** Milliseconds since the snapshot was last read; Infinity before the first read. */
  snapshotAgeMs(): number;
  /** Connection state, snapshot age and the last error. */
  status(): FlagsStatus;
  /** Call `fn` after each refresh that changes the snapshot; returns an unsubscribe function. */
  onChange(fn: (change: FlagsChange) => void): () => void;
  /** Resolves true once the first snapshot is in, or false after `timeoutMs` (default: wait as long as it takes). Never rejects. */
  ready(timeoutMs?: number): Promise<boolean>;
}

/** The metrics half of {@link Flags}: the code path behind a flag measured per cohort, for ferry's health gates. */
export interface FlagMetrics {
  /**
   * Run `fn` (the code path behind flag `key`) for `unitId` and measure it: latency,
   * and an error when it throws or rejects, counted for the unit's cohort (`new` when
   * the flag is on for it). `fn` gets `isEnabled(key, unitId)`; its result or error
   * passes through unchanged. Counting never throws and does no I/O.
   */
  observe<T>(key: string, unitId: string, fn: (enabled: boolean) => T): T;
  /**
   * Count one request measured by the application itself; the cohort comes from the flag unless given (an
   * excluded unit is not counted). A shadow comparison's outcome and a failed secondary write (`ferry/compat`)
   * ride on the same sample. Never throws.
   */
  record(key: string, unitId: string, sample: Sample & { cohort?: Cohort }): void;
  /**
   * Write what was counted so far to `ferry.metrics` now; resolves false (never rejects) when the database refused it (kept for the next flush).
   * On a relay (no database session) it writes nothing and resolves false while anything was counted.
   */
  flush(): Promise<boolean>;
  /** This process's metrics in the Prometheus text format (`ferry_requests_total`, `ferry_errors_total`, `ferry_latency_seconds` …). */
  metricsText(): Promise<string>;
  /** A Node HTTP handler serving {@link FlagMetrics.metricsText} for Prometheus to scrape; mount it at `/metrics`. */
  metricsHandler(): (req: IncomingMessage, res: ServerResponse) => void;
}

/** An application's view of ferry's flags: its answers and its metrics, and `close` for both. */
export interface Flags extends FlagAnswers, FlagMetrics {
  /** Flush the metrics, stop refreshing and close the session the SDK opened (not a caller's `db`). */
  close(): Promise<void>;
}

/**
 * Start a {@link Flags} client. It returns at once; the snapshot loads in the
 * background (await `ready()` when the first answers matter).
 */
export function createFlags(source: FlagsSource, opts: FlagsOptions = {}): Flags {
  return new FlagsClient(source, opts);
}

const CHANNEL = 'ferry_flags';

const sessions = new WeakMap<object, () => Queryable | undefined>();

/**
 * The database session a flags client reads and flushes through (the caller's `db`, or the one it opened),
 * or undefined while disconnected and always in relay mode. For `ferry/compat`, which flushes its own rows
 * (mismatch samples, API consumer counts) through the same session; not part of the public SDK.
 */
export function sessionOf(flags: FlagAnswers): Queryable | undefined {
  return sessions.get(flags)?.();
}

class FlagsClient implements Flags {
  private snapshot: Snapshot = new Map();
  private loaded = false;
  private live = false;
  private closed = false;
  private lastRefreshAt = 0;
  private lastError: { message: string; at: Date } | null = null;
  private readonly listeners = new Set<(c: FlagsChange) => void>();
  private readonly waiters = new Set<() => void>();
  private db: Database | undefined;
  private inflight: Promise<void> | undefined;
  private pending = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private fail: ((err: unknown) => void) | undefined;
  private readonly stopRelay = new AbortController();
  private readonly loop: Promise<void>;
  private readonly metrics: MetricsRecorder;
  private readonly warned = new Set<string>();

  constructor(
    private readonly source: FlagsSource,
    private readonly opts: FlagsOptions,
  ) {
    this.metrics = new MetricsRecorder(opts.metrics ?? {}, {
      db: () => ('db' in this.source ? this.source.db : this.db),
      flags: () => this.list(),
      snapshotAgeMs: () => this.snapshotAgeMs(),
      onError: (err) => this.recordError(err),
    });
    sessions.set(this, () => ('db' in this.source ? this.source.db : this.db));
    this.loop = ('relay' in source ? this.followRelay(source.relay) : this.run()).catch(() => {});
  }

  observe<T>(key: string, unitId: string, fn: (enabled: boolean) => T): T {
    const cohort = this.cohort(key, unitId);
    const enabled = cohort === 'new';
    // An excluded unit (a test account) runs the old path and is not counted.
    if (cohort === null) return fn(false);
    const started = performance.now();
    let out: T;
    try {
      out = fn(enabled);
    } catch (err) {
      this.metrics.count(key, cohort, performance.now() - started, true, false);
      throw err;
    }
    if (out !== null && typeof out === 'object' && typeof (out as { then?: unknown }).then === 'function') {
      (out as unknown as PromiseLike<unknown>).then(
        () => this.metrics.count(key, cohort, performance.now() - started, false, false),
        () => this.metrics.count(key, cohort, performance.now() - started, true, false),
      );
      return out;
    }
    this.metrics.count(key, cohort, performance.now() - started, false, false);
    return out;
  }

  record(key: string, unitId: string, sample: Sample & { cohort?: Cohort }): void {
    try {
      const cohort = sample.cohort ?? this.cohort(key, unitId);
      if (cohort === null) return;
      this.metrics.count(key, cohort, Number(sample.latencyMs) || 0, sample.error === true, sample.dataError === true, sample);
    } catch {
      // Counting must never fail the application's request.
    }
  }

  flush(): Promise<boolean> {
    return this.metrics.flush();
  }

  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  metricsHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.metrics.handler();
  }

  isEnabled(key: string, unitId: string, defaultValue = false): boolean {
    const f = this.snapshot.get(key);
    if (f === undefined) return defaultValue;
    if (f.state.tombstone === true && !this.warned.has(key)) this.warnTombstone(f.state);
    const t = f.threshold;
    if (t >= BUCKETS) return f.exclude === null || f.state.graduated === true || !f.exclude.has(String(unitId));
    if (t <= 0) return false;
    const id = typeof unitId === 'string' ? unitId : String(unitId);
    if (f.exclude?.has(id)) return false;
    if (f.include?.has(id)) return true;
    return bucketFromPrefix(f.prefix, id) < t;
  }

  cohort(key: string, unitId: string): Cohort | null {
    const f = this.snapshot.get(key);
    const id = typeof unitId === 'string' ? unitId : String(unitId);
    if (f?.exclude?.has(id) && f.state.graduated !== true) return null;
    return this.isEnabled(key, id) ? 'new' : 'old';
  }

  bucket(key: string, unitId: string): number {
    const f = this.snapshot.get(key);
    const id = typeof unitId === 'string' ? unitId : String(unitId);
    return bucketFromPrefix(f ? f.prefix : flagPrefixState(key), id);
  }

  flag(key: string): FlagState | undefined {
    return this.snapshot.get(key)?.state;
  }

  list(): FlagState[] {
    return [...this.snapshot.values()].map((f) => f.state);
  }

  snapshotAgeMs(): number {
    return this.loaded ? Date.now() - this.lastRefreshAt : Number.POSITIVE_INFINITY;
  }

  status(): FlagsStatus {
    const age = this.snapshotAgeMs();
    let state: FlagsState;
    if (!this.loaded && this.lastError === null) state = 'connecting';
    else if (!this.live || age > this.staleAfterMs()) state = 'stale';
    else state = this.mode() === 'listen' ? 'connected' : 'polling';
    return {
      state,
      lastRefreshAt: this.loaded ? new Date(this.lastRefreshAt) : null,
      snapshotAgeMs: age,
      lastError: this.lastError,
      flags: this.snapshot.size,
    };
  }

  onChange(fn: (change: FlagsChange) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  ready(timeoutMs?: number): Promise<boolean> {
    if (this.loaded) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.loaded);
      };
      this.waiters.add(done);
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return this.loop;
    await this.metrics.stop();
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.wake?.();
    this.fail?.(new Error('closed'));
    this.stopRelay.abort();
    for (const w of [...this.waiters]) w();
    await this.loop;
  }

  private mode(): 'listen' | 'poll' {
    if ('relay' in this.source) return 'listen';
    if (this.opts.mode) return this.opts.mode;
    return 'db' in this.source && this.source.db.kind === 'pglite' ? 'poll' : 'listen';
  }

  private intervalMs(): number {
    return this.mode() === 'listen' ? (this.opts.heartbeatMs ?? 5000) : (this.opts.pollIntervalMs ?? 1000);
  }

  private staleAfterMs(): number {
    return this.opts.staleAfterMs ?? 3 * this.intervalMs();
  }

  /** Connect, subscribe, load; hold until the session fails; back off; repeat until closed. */
  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      let unlisten: (() => Promise<void>) | undefined;
      const failed = new Promise<void>((resolve) => {
        this.fail = (err) => {
          if (!this.closed) this.recordError(err);
          resolve();
        };
      });
      try {
        const db = await this.open();
        if (this.mode() === 'listen' || db.kind === 'pglite') unlisten = await db.listen(CHANNEL, () => this.refreshInBackground());
        await this.refresh();
        attempt = 0;
        this.timer = setInterval(() => this.refreshInBackground(), this.intervalMs());
        this.timer.unref();
        await failed;
      } catch (err) {
        if (!this.closed) this.recordError(err);
      }
      this.live = false;
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      await unlisten?.().catch(() => {});
      if ('url' in this.source) {
        await this.db?.close().catch(() => {});
        this.db = undefined;
      }
      if (this.closed) break;
      await this.sleep(this.backoff(attempt++));
    }
  }

  /** Relay mode: follow the relay's stream until closed; each snapshot it sends replaces ours. */
  private followRelay(base: string): Promise<void> {
    const stale = `the flag relay ${base} reports its own snapshot stale (its database session is away)`;
    return followRelay(
      {
        base,
        headers: this.opts.relayHeaders ?? {},
        heartbeatMs: this.intervalMs(),
        silenceMs: this.staleAfterMs(),
        connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000,
        backoff: (n) => this.backoff(n),
        signal: this.stopRelay.signal,
      },
      {
        snapshot: (flags) => {
          const error = this.lastError;
          this.install(snapshotOf(flags, this.snapshot));
          // A stale relay's snapshot is still the best answer, but the reason it is stale stays visible.
          if (!this.live) this.lastError = error;
        },
        alive: (fresh) => {
          this.live = fresh;
          if (!fresh) return this.recordError(new Error(stale));
          if (this.loaded) this.lastRefreshAt = Date.now();
          this.lastError = null;
        },
        down: (err) => {
          this.live = false;
          this.recordError(err);
        },
      },
    );
  }

  private async open(): Promise<Database> {
    if ('db' in this.source) return this.source.db;
    if (!('url' in this.source)) throw new Error('no database in relay mode');
    this.db ??= await openServer({
      url: this.source.url,
      applicationName: this.opts.applicationName ?? 'ferry-sdk',
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 5000,
    });
    return this.db;
  }

  private backoff(attempt: number): number {
    const min = this.opts.reconnectMinMs ?? 100;
    const max = this.opts.reconnectMaxMs ?? 5000;
    const ms = Math.min(max, min * 2 ** Math.min(attempt, 16));
    return ms / 2 + Math.random() * (ms / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private refreshInBackground(): void {
    if (this.closed) return;
    this.refresh().catch((err) => this.fail?.(err));
  }

  /** Reload the snapshot; calls that arrive during a reload coalesce into one more. */
  private refresh(): Promise<void> {
    if (this.inflight) {
      this.pending = true;
      return this.inflight;
    }
    this.inflight = (async () => {
      try {
        do {
          this.pending = false;
          await this.loadOnce();
        } while (this.pending && !this.closed);
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  private async loadOnce(): Promise<void> {
    const db = 'db' in this.source ? this.source.db : this.db;
    if (!db) throw new Error('not connected');
    const after = await loadSnapshot(db, this.snapshot);
    this.live = true;
    this.install(after);
  }

  /** Take a new snapshot as current: answers switch to it at once, then `ready()` waiters and `onChange` listeners hear of it. */
  private install(after: Snapshot): void {
    const before = this.snapshot;
    this.snapshot = after;
    this.lastRefreshAt = Date.now();
    this.lastError = null;
    const first = !this.loaded;
    this.loaded = true;
    if (first) for (const w of [...this.waiters]) w();
    this.metrics.zero([...after.keys()]);
    const changed = first ? [] : changedKeys(before, after);
    if (changed.length === 0) return;
    for (const fn of [...this.listeners]) {
      try {
        fn({ changed });
      } catch {
        // A listener's failure is the application's; it must not stop the refresh loop.
      }
    }
  }

  private warnTombstone(flag: FlagState): void {
    this.warned.add(flag.key);
    const message = `[ferry] flag "${flag.key}" graduated${flag.migrationId ? ` with ${flag.migrationId}` : ''} and its migration was cleaned up: it is on for everyone for good, so the code asking for it (and its old path) can be removed`;
    try {
      (this.opts.onWarning ?? ((msg: string) => console.warn(msg)))(message, { key: flag.key, migrationId: flag.migrationId });
    } catch {
      // A failing logger must not fail the application's request.
    }
  }

  private recordError(err: unknown): void {
    this.lastError = { message: err instanceof Error ? err.message : String(err), at: new Date() };
  }
}
