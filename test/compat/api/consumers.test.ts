import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ANONYMOUS, byApiKey, byFirstOf, byHeader, byUserAgent, defaultConsumer, keyFingerprint } from '../../../src/compat/api/consumers.js';
import type { VersionedApi } from '../../../src/compat/api/core.js';
import type { ApiRequest } from '../../../src/compat/api/request.js';
import { type Compat, createCompat } from '../../../src/compat/index.js';
import type { Database } from '../../../src/db/database.js';
import { openServer } from '../../../src/db/server.js';
import { createFlags } from '../../../src/sdk/index.js';
import { ensureState } from '../../../src/state/store.js';
import { createServerDatabase, serverAvailable } from '../../helpers/databases.js';
import { setFlag } from '../../helpers/flags.js';
import { usersModule } from './users-adapter.js';

const API = { name: 'users', versions: [{ version: 'v1' }, { version: 'v2' }] };
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const req = (headers: Record<string, string>): ApiRequest => ({ method: 'GET', url: '/v1/users/1', headers });

/** A node:http server over `api` answering every version with `{}`; returns its base URL. */
async function serveApi(api: VersionedApi): Promise<string> {
  const server: Server = createServer(
    api.node((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end('{"id":1}');
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function calls(base: string, n: number, path: string, headers: Record<string, string>): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}${path}`, { headers });
    await res.arrayBuffer();
  }
}

async function rows(db: Database): Promise<{ version: string; consumer: string; calls: number; first_seen: Date; last_seen: Date }[]> {
  const { rows } = await db.query<{ version: string; consumer: string; calls: string; first_seen: Date; last_seen: Date }>(
    `SELECT version, consumer, calls::text AS calls, first_seen, last_seen FROM ferry.api_consumers WHERE api = 'users' ORDER BY version, consumer`,
  );
  return rows.map((r) => ({ ...r, calls: Number(r.calls), first_seen: new Date(r.first_seen), last_seen: new Date(r.last_seen) }));
}

describe('consumer extractors', () => {
  it('name the consumer by a header, the user agent product, or an API key', () => {
    expect(byHeader('X-Partner')(req({ 'x-partner': ' acme ' }))).toBe('acme');
    expect(byHeader('X-Partner')(req({}))).toBeUndefined();
    expect(byUserAgent()(req({ 'user-agent': 'partner-sdk/2.1 (linux) node/22' }))).toBe('partner-sdk');
    expect(byUserAgent()(req({ 'user-agent': '(weird)' }))).toBeUndefined();
    expect(defaultConsumer(req({ 'x-api-consumer': 'billing', 'user-agent': 'curl/8.5' }))).toBe('billing');
    expect(defaultConsumer(req({ 'user-agent': 'curl/8.5' }))).toBe('curl');
    expect(defaultConsumer(req({}))).toBeUndefined();
    expect(byFirstOf(byHeader('a'), byHeader('b'))(req({ b: 'second' }))).toBe('second');
    expect(ANONYMOUS).toBe('anonymous');
  });

  it('names a known API key by its owner and an unknown one by a fingerprint, never by the key', () => {
    const byKey = byApiKey('Authorization', { 'sk-live-known': 'partner' });
    expect(byKey(req({ authorization: 'Bearer sk-live-known' }))).toBe('partner');
    const secret = 'sk-live-0123456789abcdef';
    const named = byKey(req({ authorization: `Bearer ${secret}` })) as string;
    expect(named).toBe(`key:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`);
    expect(named).toMatch(/^key:[0-9a-f]{12}$/);
    expect(named).toBe(keyFingerprint(secret));
    expect(byApiKey('X-Api-Key')(req({ 'x-api-key': secret }))).toBe(named);
    expect(byKey(req({}))).toBeUndefined();
  });
});

describe('consumer counts in ferry.api_consumers', async () => {
  const up = await serverAvailable();

  it.runIf(up)('add up the calls of two compat clients, 410s included, seen when they happened whatever clock the timeline is judged by', async () => {
    const target = await createServerDatabase();
    cleanups.push(target.drop);
    const db = await openServer({ url: target.url });
    cleanups.push(() => db.close());
    await ensureState(db);
    await setFlag(db, 'split-name', true, 100);
    const t1 = new Date('2026-05-01T10:00:00Z');
    const t2 = new Date('2026-05-02T10:00:00Z');
    const clients: Compat[] = [];
    const bases: string[] = [];
    for (const now of [t1, t2]) {
      const flags = createFlags({ url: target.url }, { metrics: false });
      cleanups.push(() => flags.close());
      await flags.ready();
      const compat = createCompat(flags, { now: () => now, flushIntervalMs: 3_600_000, onLog: () => {} });
      cleanups.push(() => compat.close());
      clients.push(compat);
      // v1 is disabled on 2026-05-02: the second client's v1 calls are 410s, and still counted.
      bases.push(await serveApi(compat.api({ api: { ...API, timeline: { disable: '2026-05-02' } } }, { adapters: usersModule })));
    }
    const [a, b] = bases as [string, string];
    const start = new Date();
    await calls(a, 3, '/v1/users/1', { 'x-api-consumer': 'billing' });
    await calls(a, 2, '/v2/users/1', { 'x-api-consumer': 'billing' });
    const between = new Date();
    await calls(b, 4, '/v1/users/1', { 'x-api-consumer': 'billing' });
    await calls(b, 1, '/users/1', { 'user-agent': 'crm-sync/1.0' });
    expect((await fetch(`${b}/v1/users/1`, { headers: { 'x-api-consumer': 'probe' } })).status).toBe(410);

    const end = new Date();
    expect(await clients[0]?.flush()).toBe(true);
    expect(await clients[1]?.flush()).toBe(true);
    const got = await rows(db);
    expect(got.map(({ version, consumer, calls }) => ({ version, consumer, calls }))).toEqual([
      { version: 'v1', consumer: 'billing', calls: 7 },
      { version: 'v1', consumer: 'crm-sync', calls: 1 },
      { version: 'v1', consumer: 'probe', calls: 1 },
      { version: 'v2', consumer: 'billing', calls: 2 },
    ]);
    // The wall clock, not the compat clocks (t1, t2): the earliest first call and the latest last call of both clients.
    const billing = got.find((r) => r.version === 'v1' && r.consumer === 'billing');
    expect(billing?.first_seen.getTime()).toBeGreaterThanOrEqual(start.getTime() - 1);
    expect(billing?.first_seen.getTime()).toBeLessThanOrEqual(between.getTime() + 1);
    expect(billing?.last_seen.getTime()).toBeGreaterThanOrEqual(between.getTime() - 1);
    for (const r of got) {
      expect(r.first_seen.getTime()).toBeLessThanOrEqual(r.last_seen.getTime());
      expect(r.last_seen.getTime()).toBeLessThanOrEqual(end.getTime() + 1);
      expect([t1.getTime(), t2.getTime()]).not.toContain(r.last_seen.getTime());
    }
    // A second round adds to the same rows.
    await calls(a, 5, '/v1/users/1', { 'x-api-consumer': 'billing' });
    expect(await clients[0]?.flush()).toBe(true);
    expect((await rows(db)).find((r) => r.version === 'v1' && r.consumer === 'billing')?.calls).toBe(12);
  });

  it.runIf(up)('never stores a raw API key: known keys under their owner, others under their fingerprint', async () => {
    const target = await createServerDatabase();
    cleanups.push(target.drop);
    const db = await openServer({ url: target.url });
    cleanups.push(() => db.close());
    await ensureState(db);
    const flags = createFlags({ db }, { metrics: false });
    cleanups.push(() => flags.close());
    await flags.ready();
    const logged: string[] = [];
    const compat = createCompat(flags, { now: () => new Date('2030-01-01'), onLog: (m, d) => logged.push(m, JSON.stringify(d)), flushIntervalMs: 3_600_000 });
    cleanups.push(() => compat.close());
    const api = compat.api(
      { api: { ...API, timeline: { log: '2029-01-01', respond: '2029-06-01', disable: '2031-01-01' } } },
      {
        consumer: byApiKey('Authorization', { 'sk-known-secret-1': 'partner' }),
      },
    );
    const base = await serveApi(api);
    await calls(base, 2, '/v1/users/1', { authorization: 'Bearer sk-known-secret-1' });
    await calls(base, 3, '/v1/users/1', { authorization: 'Bearer sk-unknown-secret-2' });
    expect(await compat.flush()).toBe(true);
    expect((await rows(db)).map((r) => [r.consumer, r.calls])).toEqual([
      [keyFingerprint('sk-unknown-secret-2'), 3],
      ['partner', 2],
    ]);
    const { rows: leaked } = await db.query(`SELECT * FROM ferry.api_consumers WHERE consumer LIKE '%secret%'`);
    expect(leaked).toEqual([]);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join('\n')).not.toContain('secret');
  });
});

describe('a failed flush', async () => {
  const up = await serverAvailable();
  it.runIf(up)('keeps the counts it could not write and writes them, once, on the next flush', async () => {
    const target = await createServerDatabase();
    cleanups.push(target.drop);
    const db = await openServer({ url: target.url }); // no ferry schema yet: the INSERT fails
    cleanups.push(() => db.close());
    const flags = createFlags({ db }, { metrics: false });
    cleanups.push(() => flags.close());
    await flags.ready();
    const compat = createCompat(flags, { db, flushIntervalMs: 3_600_000 });
    cleanups.push(() => compat.close());
    const api = compat.api({ api: API });
    const base = await serveApi(api);
    await calls(base, 3, '/v1/users/1', { 'x-api-consumer': 'billing' });
    expect(await compat.flush()).toBe(false);
    expect(api.pendingCalls()).toMatchObject([{ version: 'v1', consumer: 'billing', calls: 3 }]);
    await calls(base, 1, '/v1/users/1', { 'x-api-consumer': 'billing' });
    await ensureState(db);
    expect(await compat.flush()).toBe(true);
    expect(api.pendingCalls()).toEqual([]);
    expect((await rows(db)).map((r) => [r.consumer, r.calls])).toEqual([['billing', 4]]);
    expect(await compat.flush()).toBe(true);
    expect((await rows(db)).map((r) => [r.consumer, r.calls])).toEqual([['billing', 4]]);
  });
});
