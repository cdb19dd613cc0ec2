import { createHash } from 'node:crypto';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { FlagState } from './snapshot.js';

// The flag relay of `ferry serve`: one database session LISTENs for the whole fleet, and applications
// read the flags over HTTP instead (`createFlags({ relay })`). This module is the wire format both ends
// share (the snapshot document, its ETag) and the SDK's side: following the relay's stream of changes.

/** The stream's path under the relay's base URL (the snapshot alone is at `api/v1/flags`). */
export const RELAY_STREAM_PATH = 'api/v1/flags/stream';
/** Bounds of the keep-alive interval a client may ask the relay for (`?heartbeatMs=`). */
export const RELAY_HEARTBEAT_MS = { min: 1000, default: 5000, max: 60_000 } as const;

/** One flag on the wire: a {@link FlagState} with `updatedAt` and `fullAt` as ISO strings. */
export type RelayFlag = Omit<FlagState, 'updatedAt' | 'fullAt'> & { updatedAt: string | null; fullAt?: string | null };

/** How fresh the relay's own snapshot is (its one database session may be away too). */
export interface RelayFreshness {
  /** The relay's own {@link FlagsState}: `connected`/`polling` when fresh, `stale` when its database is away. */
  state: 'connecting' | 'connected' | 'polling' | 'stale';
  stale: boolean;
  /** Milliseconds since the relay last read the flags; null before its first read. */
  snapshotAgeMs: number | null;
  lastRefreshAt: string | null;
}

/** The document of `GET /api/v1/flags` and the data of each `snapshot` event of the stream. */
export interface RelaySnapshot {
  /** The weak ETag of the flags (the same as the stream's event id). */
  etag: string;
  /** Every flag, sorted by key. */
  flags: RelayFlag[];
  relay: RelayFreshness;
}

/**
 * The ETag of a set of flags: a hash of each flag's key, version and the fields the SDK compares,
 * so it changes exactly when an SDK would see a change. Weak (`W/"…"`): the document around the
 * flags (the relay's freshness) may differ while the flags are the same.
 */
export function snapshotTag(flags: readonly FlagState[]): string {
  const h = createHash('sha256');
  for (const f of [...flags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    h.update(
      `${f.key}\u0000${f.version}\u0000${f.enabled ? 1 : 0}\u0000${f.percentage}\u0000${f.graduated ? 1 : 0}${f.tombstone ? 1 : 0}\u0000${f.stage ?? ''}\n`,
    );
  }
  return `W/"${h.digest('base64url').slice(0, 22)}"`;
}

/**
 * The data of a `change` event: the flags that changed since the snapshot of ETag `base`, so a
 * fleet parses one flag rather than all of them. A client holding another snapshot reconnects for a full one.
 */
export interface RelayChange {
  base: string;
  etag: string;
  /** The changed and added flags. */
  flags: RelayFlag[];
  /** Keys of removed flags. */
  removed: string[];
  relay: RelayFreshness;
}

/** Parse a snapshot document; undefined when it is not one (a relay of another version, a proxy's page). */
export function parseSnapshot(text: string): { etag: string; flags: FlagState[]; relay: RelayFreshness } | undefined {
  const doc = parseJson(text);
  if (!doc || typeof doc.etag !== 'string' || !isObject(doc.relay)) return undefined;
  const flags = parseFlags(doc.flags);
  const relay = parseFreshness(doc.relay);
  return flags && relay && { etag: doc.etag, flags, relay };
}

/** Parse the data of a `change` event; undefined when it is not one. */
export function parseChange(text: string): { base: string; etag: string; flags: FlagState[]; removed: string[]; relay: RelayFreshness } | undefined {
  const doc = parseJson(text);
  if (!doc || typeof doc.base !== 'string' || typeof doc.etag !== 'string' || !isObject(doc.relay)) return undefined;
  if (!Array.isArray(doc.removed) || !doc.removed.every((k) => typeof k === 'string')) return undefined;
  const flags = parseFlags(doc.flags);
  const relay = parseFreshness(doc.relay);
  return flags && relay && { base: doc.base, etag: doc.etag, flags, removed: doc.removed as string[], relay };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const doc: unknown = JSON.parse(text);
    return isObject(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}

function parseFlags(list: unknown): FlagState[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const flags: FlagState[] = [];
  for (const f of list) {
    if (!isObject(f) || typeof f.key !== 'string' || typeof f.enabled !== 'boolean' || typeof f.percentage !== 'number' || typeof f.version !== 'number')
      return undefined;
    const updatedAt = typeof f.updatedAt === 'string' ? new Date(f.updatedAt) : null;
    const fullAt = typeof f.fullAt === 'string' ? new Date(f.fullAt) : null;
    const units = (v: unknown) => (Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : []);
    flags.push({
      key: f.key,
      enabled: f.enabled,
      percentage: f.percentage,
      version: f.version,
      migrationId: typeof f.migrationId === 'string' ? f.migrationId : null,
      updatedAt: updatedAt && !Number.isNaN(updatedAt.getTime()) ? updatedAt : null,
      graduated: f.graduated === true,
      tombstone: f.tombstone === true,
      stage: typeof f.stage === 'string' ? f.stage : null,
      include: units(f.include),
      exclude: units(f.exclude),
      fullAt: fullAt && !Number.isNaN(fullAt.getTime()) ? fullAt : null,
    });
  }
  return flags;
}

function parseFreshness(r: Record<string, unknown>): RelayFreshness | undefined {
  if (typeof r.stale !== 'boolean' || typeof r.state !== 'string') return undefined;
  const state = (['connecting', 'connected', 'polling', 'stale'] as const).find((s) => s === r.state);
  if (!state) return undefined;
  return {
    state,
    stale: r.stale,
    snapshotAgeMs: typeof r.snapshotAgeMs === 'number' ? r.snapshotAgeMs : null,
    lastRefreshAt: typeof r.lastRefreshAt === 'string' ? r.lastRefreshAt : null,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `base` (the relay's URL, maybe with a path prefix behind a proxy) joined with `path`. Throws on an unusable URL. */
export function relayUrl(base: string, path: string): URL {
  return new URL(path, base.endsWith('/') ? base : `${base}/`);
}

/** What {@link followRelay} reports to its client. */
export interface RelayEvents {
  /** A snapshot arrived: every flag. */
  snapshot(flags: FlagState[]): void;
  /** The stream spoke (an event or a keep-alive); `fresh` is whether the relay's own snapshot is fresh. */
  alive(fresh: boolean): void;
  /** The stream failed, ended or went silent; a reconnect follows after a backoff. */
  down(err: unknown): void;
}

/** How {@link followRelay} connects. */
export interface RelayConnection {
  /** The relay's base URL, e.g. http://relay.internal:4100 */
  base: string;
  /** Extra request headers (e.g. Authorization, should the relay require the token). */
  headers: Record<string, string>;
  /** The keep-alive interval asked of the relay. */
  heartbeatMs: number;
  /** Silence longer than this drops the stream (a half-open connection) and reconnects. */
  silenceMs: number;
  /** How long connecting may take before the response's headers. */
  connectTimeoutMs: number;
  /** The wait before reconnect attempt `n` (0 after a stream that worked). */
  backoff(attempt: number): number;
  signal: AbortSignal;
}

/**
 * Follow the relay's stream until `signal` aborts: connect, take the snapshot and each change, and on any
 * failure report `down`, back off and reconnect (sending Last-Event-ID, so an unchanged snapshot is not
 * sent again). Never rejects.
 */
export async function followRelay(conn: RelayConnection, on: RelayEvents): Promise<void> {
  let lastId: string | undefined;
  let held: Map<string, FlagState> | undefined;
  let attempt = 0;
  while (!conn.signal.aborted) {
    const ac = new AbortController();
    const stop = () => ac.abort(new Error('closed'));
    conn.signal.addEventListener('abort', stop, { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (ms: number, why: string) => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => ac.abort(new Error(why)), ms);
      watchdog.unref();
    };
    try {
      const url = relayUrl(conn.base, RELAY_STREAM_PATH);
      url.searchParams.set('heartbeatMs', String(conn.heartbeatMs));
      arm(conn.connectTimeoutMs, `the relay did not answer within ${conn.connectTimeoutMs} ms`);
      const res = await fetch(url, {
        headers: { ...conn.headers, accept: 'text/event-stream', ...(lastId === undefined ? {} : { 'last-event-id': lastId }) },
        signal: ac.signal,
      });
      const type = res.headers.get('content-type') ?? '';
      if (res.status !== 200 || !type.startsWith('text/event-stream') || !res.body) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`the relay answered ${res.status} ${type || '(no content type)'}, not a stream of flags`);
      }
      const silent = `no word from the relay for ${conn.silenceMs} ms`;
      arm(conn.silenceMs, silent);
      let fresh = false;
      const onEvent = (ev: EventSourceMessage) => {
        arm(conn.silenceMs, silent);
        if (ev.event !== 'snapshot' && ev.event !== 'status' && ev.event !== 'change') return;
        const got = readEvent(ev, held, lastId);
        if (got instanceof Error) return ac.abort(got);
        fresh = !got.relay.stale;
        attempt = 0;
        on.alive(fresh);
        if (got.flags) {
          held = got.flags;
          lastId = got.etag;
          on.snapshot([...held.values()]);
        }
      };
      const parser = createParser({
        onEvent,
        onComment: () => {
          arm(conn.silenceMs, silent);
          if (lastId !== undefined) on.alive(fresh);
        },
      });
      for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
      throw new Error('the relay closed the stream');
    } catch (err) {
      if (!conn.signal.aborted) on.down(describe(ac.signal.aborted ? ac.signal.reason : err, conn.base));
    } finally {
      clearTimeout(watchdog);
      conn.signal.removeEventListener('abort', stop);
    }
    if (conn.signal.aborted) break;
    await pause(conn.backoff(attempt++), conn.signal);
  }
}

/** One event of the stream as the flags it leaves the client with (undefined: freshness only), or an error when unreadable or out of step. */
function readEvent(ev: EventSourceMessage, held: Map<string, FlagState> | undefined, heldId: string | undefined) {
  if (ev.event === 'status') {
    const doc = parseJson(ev.data);
    const relay = doc && parseFreshness(doc);
    return relay ? { relay, flags: undefined } : new Error('the relay sent a status event ferry cannot read');
  }
  if (ev.event === 'snapshot') {
    const doc = parseSnapshot(ev.data);
    return doc
      ? { relay: doc.relay, etag: ev.id ?? doc.etag, flags: new Map(doc.flags.map((f) => [f.key, f])) }
      : new Error('the relay sent a snapshot ferry cannot read');
  }
  const doc = parseChange(ev.data);
  if (!doc) return new Error('the relay sent a change ferry cannot read');
  // A change applies to the snapshot it was made from; any other (a missed event) needs the full snapshot again.
  if (!held || doc.base !== heldId) return new Error('the relay sent a change to a snapshot this client does not hold; reloading');
  const flags = new Map(held);
  for (const key of doc.removed) flags.delete(key);
  for (const f of doc.flags) flags.set(f.key, f);
  return { relay: doc.relay, etag: ev.id ?? doc.etag, flags };
}

/** An error naming the relay and, for fetch's terse "fetch failed", its cause (ECONNREFUSED …). */
function describe(err: unknown, base: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  return new Error(`flag relay ${base}: ${e.message}${cause}`);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
