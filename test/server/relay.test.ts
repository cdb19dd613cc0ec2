import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { createFlags, type Flags, type RelayChange, type RelaySnapshot } from '../../src/sdk/index.js';
import { snapshotTag } from '../../src/sdk/relay.js';
import { newServeApp } from '../../src/server/app.js';
import { errorProblem } from '../../src/server/problem.js';
import { mountRelay, tokenHolders } from '../../src/server/relay.js';
import { ensureState } from '../../src/state/store.js';
import { emptyPgliteTarget, emptyServerTarget, type TestTarget } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { until } from '../helpers/process.js';
import { createProject } from '../helpers/project.js';
import { serveProject, type TestServer } from '../helpers/serve.js';
import { firstEvent, openSse } from '../helpers/sse.js';

// The flag relay: ferry serve's one listening session serves the flags to a fleet of SDK clients over HTTP.

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function track(flags: Flags): Flags {
  cleanups.push(() => flags.close());
  return flags;
}

/** A target with ferry's state and flag `checkout` at 25 %, and a session on it for the test's own changes. */
async function seeded(target: TestTarget): Promise<Database> {
  const db = await target.open();
  cleanups.push(() => db.close());
  await ensureState(db);
  await setFlag(db, 'checkout', true, 25);
  await setFlag(db, 'search', false, 0);
  return db;
}

describe('flag relay [server]', async () => {
  const target = await emptyServerTarget();

  it.runIf(target)('500 relay clients receive a flag change within 1 s while the database sees one listening session', async () => {
    if (!target?.url) return;
    const db = await seeded(target);
    const s = await serveProject(createProject(target), { sessions: 2 });
    const clients = Array.from({ length: 500 }, () => track(createFlags({ relay: s.url }, { metrics: false })));
    expect(await Promise.all(clients.map((f) => f.ready(30_000)))).toEqual(clients.map(() => true));
    expect(clients.every((f) => f.status().state === 'connected' && f.flag('checkout')?.percentage === 25)).toBe(true);

    for (const [enabled, percentage] of [
      [true, 50],
      [false, 50],
    ] as const) {
      const arrived: number[] = [];
      const offs = clients.map((f) => f.onChange(() => arrived.push(performance.now())));
      const start = performance.now();
      await setFlag(db, 'checkout', enabled, percentage);
      await until('every relay client to see the change', () => arrived.length === clients.length, undefined, 10_000);
      for (const off of offs) off();
      // The one timing requirement: the whole fleet has the change within a second.
      expect(Math.max(...arrived) - start).toBeLessThan(1000);
      expect(clients.every((f) => f.flag('checkout')?.enabled === enabled && f.flag('checkout')?.percentage === percentage)).toBe(true);
    }

    // pg_stat_activity has no LISTEN column and pg_listening_channels() speaks only for the session calling it.
    // So: hold every pooled session of the server at once and ask each for its channels (none), then check that the
    // database's sessions are exactly those, the test's own (no channels either) and ONE more of ferry serve: the
    // listening session. The 500 relay clients opened no session at all.
    const pooled = new Map<number, string[]>();
    let arrive: () => void = () => {};
    const everyone = new Promise<void>((r) => {
      arrive = r;
    });
    await Promise.all(
      [0, 1].map(() =>
        s.ctx.withDb(async (pool) => {
          const { rows } = await pool.query<{ pid: number; channels: string[] }>(
            'SELECT pg_backend_pid() AS pid, ARRAY(SELECT pg_listening_channels()) AS channels',
          );
          pooled.set(rows[0]?.pid ?? 0, rows[0]?.channels ?? []);
          if (pooled.size === 2) arrive();
          await everyone;
        }),
      ),
    );
    expect([...pooled.values()]).toEqual([[], []]);
    const own = await db.query<{ pid: number; channels: string[] }>('SELECT pg_backend_pid() AS pid, ARRAY(SELECT pg_listening_channels()) AS channels');
    expect(own.rows[0]?.channels).toEqual([]);
    const { rows } = await db.query<{ pid: number; application_name: string }>(
      'SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() ORDER BY pid',
    );
    const others = rows.filter((r) => !pooled.has(r.pid) && r.pid !== own.rows[0]?.pid);
    // openWorkspace names each session "ferry <purpose> <host> pid <pid>": this is the server in this very process.
    expect(others).toEqual([{ pid: expect.any(Number), application_name: expect.stringMatching(new RegExp(`ferry serve .*pid ${process.pid}$`)) }]);
    expect(rows.length).toBe(4);
  });

  it.runIf(target)('keeps answering from the last snapshot while the relay is away, and catches up when it is back', async () => {
    if (!target?.url) return;
    const other = await emptyServerTarget();
    if (!other?.url) return;
    const db = await seeded(other);
    const p = createProject(other);
    const first = await serveProject(p);
    const port = new URL(first.url).port;
    const flags = track(createFlags({ relay: first.url }, { reconnectMinMs: 50, reconnectMaxMs: 200, metrics: false }));
    expect(await flags.ready(10_000)).toBe(true);
    const before = clientsAnswers(flags);

    await first.close();
    await until('the client to notice the relay is gone', () => flags.status().state === 'stale', undefined, 10_000);
    expect(flags.status().lastError?.message).toMatch(/flag relay http:\/\/127\.0\.0\.1:\d+/);
    expect(clientsAnswers(flags)).toEqual(before);
    expect(flags.flag('checkout')).toMatchObject({ enabled: true, percentage: 25 });

    await setFlag(db, 'checkout', true, 75);
    const second = await serveProject(p, { port: Number(port) });
    await until('the client to reconnect and see 75 %', () => flags.flag('checkout')?.percentage === 75, undefined, 10_000);
    expect(flags.status()).toMatchObject({ state: 'connected', lastError: null, flags: 2 });
    await second.close();
  });

  it.runIf(target)('replaces its own database session when it is lost: clients keep their answers, then see changes again', async () => {
    const away = await emptyServerTarget();
    if (!away?.url) return;
    const db = await seeded(away);
    const s = await serveProject(createProject(away), { sessions: 1 });
    const flags = track(createFlags({ relay: s.url }, { heartbeatMs: 1000, metrics: false }));
    expect(await flags.ready(10_000)).toBe(true);
    const before = clientsAnswers(flags);
    // The relay's one listening session is the server's session outside its pool; end it from the database side.
    const pooled = await s.ctx.withDb((pool) => pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'));
    const listening = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name ~ ('ferry serve .*pid ' || $2 || '$') AND pid <> $1`;
    const ended = await db.query<{ pid: number }>(`${listening} AND pg_terminate_backend(pid)`, [pooled.rows[0]?.pid, process.pid]);
    expect(ended.rows.length).toBe(1);
    expect(clientsAnswers(flags)).toEqual(before);
    // A change made while the relay has no session reaches the clients once it has opened a new one.
    await setFlag(db, 'checkout', true, 60);
    await until('the relay to reopen its session and pass the change on', () => flags.flag('checkout')?.percentage === 60, undefined, 30_000);
    expect(flags.status()).toMatchObject({ state: 'connected' });
    const r = await s.request<RelaySnapshot>('/api/v1/flags');
    expect(r.json.relay).toMatchObject({ stale: false });
    expect(r.json.flags.map((f) => f.key)).toEqual(['checkout', 'search']);
    const now = await db.query<{ pid: number }>(listening, [pooled.rows[0]?.pid, process.pid]);
    expect(now.rows.length).toBe(1);
    expect(now.rows[0]?.pid).not.toBe(ended.rows[0]?.pid);
  });
});

describe('flag relay client', () => {
  it('drops a stream that goes silent (a half-open connection) and reconnects', async () => {
    const flag = { key: 'checkout', enabled: true, percentage: 25, version: 1, migrationId: null, updatedAt: null, graduated: false, tombstone: false };
    const doc = {
      etag: snapshotTag([{ ...flag }]),
      flags: [flag],
      relay: { state: 'connected', stale: false, snapshotAgeMs: 0, lastRefreshAt: new Date().toISOString() },
    };
    let connections = 0;
    // A peer that speaks the relay's protocol once and then says nothing, as a connection whose far end vanished.
    const silent = createServer((_req, res) => {
      connections += 1;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: snapshot\nid: ${doc.etag}\ndata: ${JSON.stringify(doc)}\n\n`);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())).then(() => silent.closeAllConnections()));
    const { port } = silent.address() as AddressInfo;
    const flags = track(createFlags({ relay: `http://127.0.0.1:${port}` }, { heartbeatMs: 1000, staleAfterMs: 1500, reconnectMinMs: 20, metrics: false }));
    expect(await flags.ready(5000)).toBe(true);
    expect(flags.status().state).toBe('connected');
    // The snapshot's age can report stale a moment before the watchdog drops the stream and names why: wait for the
    // drop, and judge that one status (a reconnect soon after clears it again).
    let dropped = flags.status();
    await until(
      'the client to give up on the silent stream',
      () => {
        dropped = flags.status();
        return dropped.lastError !== null;
      },
      undefined,
      10_000,
    );
    expect(dropped.state).toBe('stale');
    expect(dropped.lastError?.message).toMatch(/no word from the relay for 1500 ms/);
    expect(flags.flag('checkout')).toMatchObject({ enabled: true, percentage: 25 });
    await until('the client to reconnect', () => connections >= 2, undefined, 10_000);
  });
});

/** What the client answers for a spread of units, to compare before and after an outage. */
function clientsAnswers(flags: Flags): boolean[] {
  return Array.from({ length: 200 }, (_, i) => flags.isEnabled('checkout', `user-${i}`));
}

describe('flag relay [pglite]', () => {
  let s: TestServer;
  let db: Database;

  it('serves the snapshot with a weak ETag and answers 304 to If-None-Match until a flag changes', async () => {
    const target = await emptyPgliteTarget();
    await seeded(target).then((d) => d.close());
    s = await serveProject(createProject(target));
    const r = await s.request<RelaySnapshot>('/api/v1/flags');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-cache');
    const etag = r.headers.get('etag') ?? '';
    expect(etag).toMatch(/^W\/".+"$/);
    expect(r.json.etag).toBe(etag);
    expect(r.json.flags.map((f) => [f.key, f.enabled, f.percentage, f.version])).toEqual([
      ['checkout', true, 25, 1],
      ['search', false, 0, 1],
    ]);
    expect(r.json.flags[0]).toMatchObject({ migrationId: null, graduated: false, tombstone: false, updatedAt: expect.stringMatching(/^\d{4}-/) });
    expect(r.json.relay).toMatchObject({ state: 'polling', stale: false, snapshotAgeMs: expect.any(Number) });

    const same = await s.request('/api/v1/flags', { headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    expect(same.text).toBe('');
    expect(same.headers.get('etag')).toBe(etag);
    expect((await s.request('/api/v1/flags', { headers: { 'if-none-match': 'W/"other", "x"' } })).status).toBe(200);

    // On the embedded database the serving process owns the only session: change the flag through it.
    await s.ctx.withDb((own) => setFlag(own, 'checkout', true, 30));
    await until('the relay to see 30 %', () => s.ctx.flags.flag('checkout')?.percentage === 30, undefined, 10_000);
    const changed = await s.request<RelaySnapshot>('/api/v1/flags', { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.json.etag).not.toBe(etag);
    expect(changed.json.flags[0]).toMatchObject({ key: 'checkout', percentage: 30, version: 2 });

    const api = await s.request<{ paths: Record<string, { get?: { responses: Record<string, unknown> } }> }>('/api/v1/openapi.json');
    expect(Object.keys(api.json.paths['/api/v1/flags']?.get?.responses ?? {}).sort()).toEqual(['200', '304', '503']);
    expect(api.json.paths['/api/v1/flags/stream']?.get?.responses).toHaveProperty('200');
  });

  it('streams the snapshot on connect, and only its freshness to a client that already has it (Last-Event-ID)', async () => {
    const doc = (await s.request<RelaySnapshot>('/api/v1/flags')).json;
    const fresh = await firstEvent(`${s.url}/api/v1/flags/stream`);
    expect(fresh.event).toBe('snapshot');
    expect(fresh.id).toBe(doc.etag);
    expect((JSON.parse(fresh.data) as RelaySnapshot).flags).toEqual(doc.flags);
    const known = await firstEvent(`${s.url}/api/v1/flags/stream`, { 'last-event-id': doc.etag });
    expect(known.event).toBe('status');
    expect(JSON.parse(known.data)).toMatchObject({ state: 'polling', stale: false });
    const outdated = await firstEvent(`${s.url}/api/v1/flags/stream`, { 'last-event-id': 'W/"old"' });
    expect(outdated.event).toBe('snapshot');

    // After the snapshot, a change carries only the flags that changed, based on the ETag the client holds.
    const stream = await openSse(`${s.url}/api/v1/flags/stream`, { 'last-event-id': doc.etag });
    expect((await stream.next()).event).toBe('status');
    await s.ctx.withDb((own) => setFlag(own, 'checkout', true, 35));
    const change = await stream.next();
    expect(change.event).toBe('change');
    const body = JSON.parse(change.data) as RelayChange;
    expect(body).toMatchObject({ base: doc.etag, etag: change.id, removed: [], relay: { stale: false } });
    expect(body.flags.map((f) => [f.key, f.percentage, f.version])).toEqual([['checkout', 35, 3]]);
    expect((await s.request<RelaySnapshot>('/api/v1/flags')).json.etag).toBe(change.id);
    stream.close();
  });

  it('follows changes through the SDK on the embedded database too', async () => {
    const flags = track(createFlags({ relay: `${s.url}/` }, { metrics: { flushIntervalMs: 600_000 } }));
    expect(await flags.ready(10_000)).toBe(true);
    const seen: string[][] = [];
    flags.onChange((c) => seen.push(c.changed));
    await s.ctx.withDb(async (own) => {
      db = own;
      await setFlag(db, 'search', true, 10);
    });
    await until('the relay client to see search on', () => flags.flag('search')?.enabled === true, undefined, 10_000);
    expect(seen).toEqual([['search']]);
    expect(flags.status().state).toBe('connected');
    expect(await flags.flush()).toBe(true);
    await flags.metricsText(); // Prometheus series count from the first scrape on
    flags.record('search', 'u1', { latencyMs: 3 });
    // No database session on a relay: the count stays in memory (for /metrics) and flush says it wrote nothing.
    expect(await flags.flush()).toBe(false);
    expect(await flags.metricsText()).toMatch(/ferry_requests_total\{[^}]*flag="search"[^}]*\} 1/);
  });

  it('can be mounted to require the token (the RelayAccess seam)', async () => {
    const app = newServeApp();
    app.use('*', async (c, next) => {
      c.set('ctx', s.ctx);
      c.set('actor', c.req.header('authorization') === 'Bearer right' ? 'app' : null);
      await next();
    });
    app.onError((err, c) => errorProblem(c, err));
    mountRelay(app, tokenHolders);
    for (const path of ['/api/v1/flags', '/api/v1/flags/stream']) {
      const refused = await app.request(path);
      expect(refused.status, path).toBe(403);
      expect(((await refused.json()) as { code: string }).code).toBe('E_FORBIDDEN');
    }
    const ok = await app.request('/api/v1/flags', { headers: { authorization: 'Bearer right' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as RelaySnapshot).flags.length).toBe(2);
  });

  it('never throws on a bad relay URL: default answers, stale status naming the problem, and close resolves', async () => {
    const cases: [string, RegExp][] = [
      ['not a url', /flag relay not a url: /],
      ['http://127.0.0.1:1', /ECONNREFUSED|fetch failed/],
      [`${s.url}/nothing-here`, /answered 404/],
    ];
    for (const [relay, why] of cases) {
      const flags = createFlags({ relay }, { reconnectMinMs: 20, reconnectMaxMs: 50, metrics: false });
      expect(flags.isEnabled('checkout', 'u1')).toBe(false);
      expect(flags.isEnabled('checkout', 'u1', true)).toBe(true);
      expect(await flags.ready(300)).toBe(false);
      await until(`an error for ${relay}`, () => flags.status().lastError !== null, undefined, 5000);
      expect(flags.status()).toMatchObject({ state: 'stale', lastRefreshAt: null, flags: 0 });
      expect(flags.status().lastError?.message).toMatch(why);
      await flags.close();
    }
  });
});
