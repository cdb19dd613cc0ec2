import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type SSEStreamingApi, streamSSE } from 'hono/streaming';
import { MIGRATION_STAGES } from '../compat/stages.js';
import type { FlagAnswers } from '../sdk/flags.js';
import { RELAY_HEARTBEAT_MS, type RelayChange, type RelayFlag, type RelayFreshness, type RelaySnapshot, snapshotTag } from '../sdk/relay.js';
import type { ServeApp, ServeEnv } from './context.js';
import { ProblemError } from './problem.js';
import { ProblemSchema } from './schemas.js';

// The flag relay: ferry serve's one listening database session (ctx.flags) serves the flags to every
// application instance over HTTP, so a fleet of a thousand costs the database one connection, and works
// behind PgBouncer in transaction mode (which does not pass LISTEN).

/**
 * Who may read the relay. Flags are not secret to applications (they only say which code path a unit
 * takes), so by default anyone who reaches the server may: {@link openToApps}. To require ferry serve's
 * token instead, mount with {@link tokenHolders}; SDK clients then pass `relayHeaders: { authorization: 'Bearer …' }`.
 */
export type RelayAccess = (c: Context<ServeEnv>) => boolean;
/** Every caller may read the flags (the default). */
export const openToApps: RelayAccess = () => true;
/** Only callers with the bearer token (or a signed-in browser) may read the flags. */
export const tokenHolders: RelayAccess = (c) => c.get('actor') !== null;

const RelayFlagSchema = z
  .object({
    key: z.string(),
    enabled: z.boolean(),
    percentage: z.number().openapi({ description: '0–100, to 0.01' }),
    version: z.number().int().openapi({ description: 'bumped by ferry on every change of the flag' }),
    migrationId: z.string().nullable(),
    updatedAt: z.string().nullable().openapi({ description: 'ISO 8601' }),
    graduated: z.boolean().optional().openapi({ description: 'its migration contracted: on for everyone for good' }),
    tombstone: z.boolean().optional().openapi({ description: 'its migration was cleaned up; code asking for it can drop the `if`' }),
    stage: z.enum(MIGRATION_STAGES).nullable().optional().openapi({ description: 'the migration stage `ferry/compat` follows; null: never set (off)' }),
    include: z.array(z.string()).optional().openapi({ description: 'units on the new path from the first stage while the flag is on' }),
    exclude: z.array(z.string()).optional().openapi({ description: 'units never on the new path and never counted (test accounts)' }),
    fullAt: z.string().nullable().optional().openapi({ description: 'when the flag first reached 100 % (ISO 8601)' }),
  })
  .openapi('RelayFlag');

const FreshnessSchema = z
  .object({
    state: z.enum(['connecting', 'connected', 'polling', 'stale']).openapi({ description: 'the state of the relay’s own database session' }),
    stale: z.boolean().openapi({ description: 'true when the relay’s database session is away or its snapshot too old: the flags are the last known' }),
    snapshotAgeMs: z.number().nullable().openapi({ description: 'milliseconds since the relay last read the flags' }),
    lastRefreshAt: z.string().nullable(),
  })
  .openapi('RelayFreshness');

const SnapshotSchema = z
  .object({
    etag: z.string().openapi({ description: 'the weak ETag of the flags, also the id of the stream’s snapshot events' }),
    flags: z.array(RelayFlagSchema).openapi({ description: 'every flag, sorted by key' }),
    relay: FreshnessSchema,
  })
  .openapi('FlagSnapshot');

const READ_ONLY_NOTE =
  'Readable without the token: flags are not secret to applications. Point `createFlags({ relay: "<this server>" })` of the SDK here instead of a database URL.';

/** The relay's freshness, from its own flag client's status. */
function freshness(flags: FlagAnswers): RelayFreshness {
  const s = flags.status();
  return {
    state: s.state,
    stale: s.state !== 'connected' && s.state !== 'polling',
    snapshotAgeMs: s.lastRefreshAt === null ? null : s.snapshotAgeMs,
    lastRefreshAt: s.lastRefreshAt === null ? null : s.lastRefreshAt.toISOString(),
  };
}

/** The flags part of the snapshot, built once per change of the flags however many streams send it. */
interface Rendered {
  etag: string;
  flags: RelayFlag[];
  /** `flags` as JSON, spliced into each stream's event. */
  json: string;
}

/** The last change as one encoded `change` event, written as is to every stream that holds its base. */
interface Delta {
  base: string;
  etag: string;
  frame: Uint8Array;
}

/** Per flag client (one per server): the rendered snapshot and the last change, kept by one onChange listener. */
interface Feed {
  current: Rendered | undefined;
  delta: Delta | undefined;
}
const feeds = new WeakMap<FlagAnswers, Feed>();

function renderNow(flags: FlagAnswers): Rendered {
  const states = flags.list().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const out = states.map((f) => ({
    ...f,
    updatedAt: f.updatedAt === null ? null : f.updatedAt.toISOString(),
    fullAt: f.fullAt ? f.fullAt.toISOString() : null,
  }));
  return { etag: snapshotTag(states), flags: out, json: JSON.stringify(out) };
}

function feedOf(flags: FlagAnswers): Feed {
  const known = feeds.get(flags);
  if (known) return known;
  const feed: Feed = { current: undefined, delta: undefined };
  // Runs before any stream resumes (streams only wake on a change), so they all find the change rendered.
  flags.onChange(({ changed }) => {
    const before = feed.current;
    const after = renderNow(flags);
    feed.current = after;
    feed.delta = undefined;
    if (!before) return;
    const keys = new Set(changed);
    const change: RelayChange = {
      base: before.etag,
      etag: after.etag,
      flags: after.flags.filter((f) => keys.has(f.key)),
      removed: changed.filter((k) => !after.flags.some((f) => f.key === k)),
      relay: freshness(flags),
    };
    feed.delta = {
      base: before.etag,
      etag: after.etag,
      frame: new TextEncoder().encode(`event: change\nid: ${after.etag}\ndata: ${JSON.stringify(change)}\n\n`),
    };
  });
  feeds.set(flags, feed);
  return feed;
}

function render(flags: FlagAnswers): Rendered {
  const feed = feedOf(flags);
  feed.current ??= renderNow(flags);
  return feed.current;
}

/** The snapshot document, or undefined before the relay's first read of the flags. */
export function relaySnapshot(flags: FlagAnswers): RelaySnapshot | undefined {
  const relay = freshness(flags);
  if (relay.lastRefreshAt === null) return undefined;
  const { etag, flags: states } = render(flags);
  return { etag, flags: states, relay };
}

/** {@link relaySnapshot} as the JSON of an event, without serialising the flags again for each stream. */
function snapshotEvent(flags: FlagAnswers): { etag: string; relay: RelayFreshness; data: string } | undefined {
  const relay = freshness(flags);
  if (relay.lastRefreshAt === null) return undefined;
  const { etag, json } = render(flags);
  return { etag, relay, data: `{"etag":${JSON.stringify(etag)},"flags":${json},"relay":${JSON.stringify(relay)}}` };
}

/** Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 §13.1.2). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag));
}

const noSnapshotYet = () =>
  new ProblemError(
    'E_CONNECT',
    'the flag relay has not read the flags yet: its database session is not connected',
    'retry in a moment; SDK clients keep answering from their last snapshot meanwhile',
  );

function allowed(access: RelayAccess, c: Context<ServeEnv>): void {
  if (!access(c))
    throw new ProblemError(
      'E_FORBIDDEN',
      'this flag relay requires ferry serve’s token',
      'pass relayHeaders: { authorization: "Bearer <token>" } to createFlags',
    );
}

/**
 * Mount the flag relay: `GET /api/v1/flags` (the snapshot, with an ETag) and `GET /api/v1/flags/stream`
 * (server-sent events: the snapshot, then each change). `access` decides who may read (see {@link RelayAccess}).
 */
export function mountRelay(app: ServeApp, access: RelayAccess = openToApps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/flags',
      summary: 'The flag snapshot, for application instances (the flag relay)',
      description: `Every flag's state and the relay's own freshness, with a weak ETag of the flags; If-None-Match answers 304 while they are unchanged. ${READ_ONLY_NOTE}`,
      request: { headers: z.object({ 'if-none-match': z.string().max(1000).optional() }) },
      responses: {
        200: {
          description: 'the snapshot',
          headers: z.object({ ETag: z.string(), 'Cache-Control': z.string().openapi({ example: 'no-cache' }) }),
          content: { 'application/json': { schema: SnapshotSchema } },
        },
        304: { description: 'the flags are those of the ETag sent in If-None-Match' },
        503: { description: 'the relay has not read the flags yet', content: { 'application/problem+json': { schema: ProblemSchema } } },
      },
    }),
    (c) => {
      allowed(access, c);
      const doc = relaySnapshot(c.get('ctx').flags);
      if (!doc) throw noSnapshotYet();
      c.header('ETag', doc.etag);
      c.header('Cache-Control', 'no-cache');
      if (matches(c.req.valid('header')['if-none-match'], doc.etag)) return c.body(null, 304);
      return c.json(doc, 200);
    },
  );

  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/api/v1/flags/stream',
    summary: 'The flag snapshot and its changes as server-sent events (the flag relay)',
    description: [
      'Events: `snapshot` (id: the ETag; data: the FlagSnapshot document) on connect;',
      '`change` (id: the new ETag; data: {base, etag, flags, removed, relay}: the flags changed since the snapshot of ETag `base`) after each change,',
      'or a full `snapshot` again to a client that does not hold `base`;',
      '`status` (data: RelayFreshness) when the relay’s own freshness changes, and on connect when no snapshot is sent;',
      'a `: keep-alive` comment every heartbeatMs. With Last-Event-ID equal to the current ETag the first snapshot is not sent again.',
      READ_ONLY_NOTE,
    ].join(' '),
    request: {
      query: z.object({
        heartbeatMs: z.coerce
          .number()
          .int()
          .optional()
          .openapi({ description: `keep-alive interval, ${RELAY_HEARTBEAT_MS.min}–${RELAY_HEARTBEAT_MS.max} ms; default ${RELAY_HEARTBEAT_MS.default}` }),
      }),
      headers: z.object({ 'last-event-id': z.string().optional() }),
    },
    responses: { 200: { description: 'the stream', content: { 'text/event-stream': { schema: z.string() } } } },
  });
  app.get('/api/v1/flags/stream', (c) => {
    allowed(access, c);
    const flags = c.get('ctx').flags;
    const asked = Number(c.req.query('heartbeatMs'));
    const heartbeatMs = Number.isFinite(asked)
      ? Math.min(RELAY_HEARTBEAT_MS.max, Math.max(RELAY_HEARTBEAT_MS.min, Math.round(asked)))
      : RELAY_HEARTBEAT_MS.default;
    return streamSSE(c, (stream) => sendFlags(stream, flags, heartbeatMs, c.req.header('last-event-id')));
  });
}

/**
 * One client's stream: the snapshot unless it holds it (`held`, its Last-Event-ID), then each change — the
 * shared `change` event when it holds the change's base, else the full snapshot — the relay's freshness
 * when it turns, and a keep-alive comment after `heartbeatMs` of quiet.
 */
async function sendFlags(stream: SSEStreamingApi, flags: FlagAnswers, heartbeatMs: number, held: string | undefined): Promise<void> {
  let sentTag = held;
  let sentStale: boolean | undefined;
  let wake: (() => void) | undefined;
  // A change during a write must not wait for the next keep-alive: remember it.
  let dirty = false;
  const off = flags.onChange(() => {
    dirty = true;
    wake?.();
  });
  stream.onAbort(() => {
    off();
    wake?.();
  });
  let idle = false;
  while (!stream.aborted) {
    dirty = false;
    const doc = snapshotEvent(flags);
    const fresh = doc?.relay ?? freshness(flags);
    const delta = feedOf(flags).delta;
    if (doc && delta !== undefined && doc.etag !== sentTag && delta.base === sentTag && delta.etag === doc.etag) {
      await stream.write(delta.frame);
      sentTag = doc.etag;
      sentStale = fresh.stale;
    } else if (doc && doc.etag !== sentTag) {
      await stream.writeSSE({ event: 'snapshot', id: doc.etag, data: doc.data, retry: 1000 });
      sentTag = doc.etag;
      sentStale = fresh.stale;
    } else if (fresh.stale !== sentStale) {
      await stream.writeSSE({ event: 'status', data: JSON.stringify(fresh), retry: 1000 });
      sentStale = fresh.stale;
    } else if (idle) {
      await stream.write(': keep-alive\n\n');
    }
    if (!doc) {
      // Before the relay's first read there is nothing to send: wait for it rather than for a keep-alive.
      idle = !(await flags.ready(heartbeatMs));
      continue;
    }
    if (dirty) {
      idle = false;
      continue;
    }
    idle = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(true), heartbeatMs);
      wake = () => {
        clearTimeout(t);
        resolve(false);
      };
    });
    wake = undefined;
  }
  off();
}
