import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VersionedApi } from '../../../src/compat/api/core.js';
import type { ApiCall } from '../../../src/compat/api/engine.js';
import type { ExpressApiRequest } from '../../../src/compat/api/express.js';
import type { ApiEnv } from '../../../src/compat/api/hono.js';
import { type ApiSpecInput, type Compat, createCompat } from '../../../src/compat/index.js';
import type { Database } from '../../../src/db/database.js';
import { isFerryError } from '../../../src/errors.js';
import { createFlags, type Flags } from '../../../src/sdk/index.js';
import { emptyPgliteTarget } from '../../helpers/databases.js';
import { usersModule } from './users-adapter.js';

const API: ApiSpecInput = { name: 'users', versions: [{ version: 'v1' }, { version: 'v2' }] };
let db: Database;
let flags: Flags;
let compat: Compat;
const logs: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  db = await (await emptyPgliteTarget()).open();
  flags = createFlags({ db }, { metrics: false });
  await flags.ready();
  compat = createCompat(flags, { onLog: (m) => logs.push(m), flushIntervalMs: 3_600_000 });
});
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await compat?.close();
  await flags?.close();
  await db?.close();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = async (res: Response) => ({ status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> });

describe('version selection in the core', () => {
  const decide = (api: VersionedApi, url: string, headers: Record<string, string> = {}) => {
    const d = api.decide({ method: 'GET', url, headers });
    return 'status' in d ? d.status : `${d.version} ${d.by} ${d.path}`;
  };

  it('reads the whole first segment of the path, the media type case-insensitively, and the header trimmed', () => {
    const api = compat.api({ api: { name: 'shop.api', versions: [{ version: 'v1' }, { version: 'v1.5' }, { version: 'v10' }], defaultVersion: 'v1.5' } });
    expect(decide(api, '/v1')).toBe('v1 path /');
    expect(decide(api, '/v1?x=1')).toBe('v1 path /');
    expect(decide(api, '/v10/orders/1?x=1')).toBe('v10 path /orders/1');
    expect(decide(api, '/v1.5/orders')).toBe('v1.5 path /orders');
    expect(decide(api, '/v1x/orders')).toBe('v1.5 default /v1x/orders');
    expect(decide(api, '/v2/orders')).toBe(400);
    expect(decide(api, '/orders', { accept: 'text/html, APPLICATION/VND.SHOP.API.V1.5+JSON;q=0.9' })).toBe('v1.5 media-type /orders');
    expect(decide(api, '/orders', { 'content-type': 'application/vnd.shop.api.v10+json' })).toBe('v10 media-type /orders');
    expect(decide(api, '/orders', { accept: 'application/vnd.other.v3+json' })).toBe('v1.5 default /orders');
    expect(decide(api, '/orders', { 'api-version': ' v10 ' })).toBe('v10 header /orders');
    expect(decide(api, '/orders', { 'api-version': 'v2' })).toBe(400);
  });

  it('honours a select section that turns ways off', () => {
    const api = compat.api({ api: { ...API, select: { path: false, mediaType: false, header: 'X-Version' } } });
    expect(decide(api, '/v9/users', { accept: 'application/vnd.users.v7+json' })).toBe('v1 default /v9/users');
    expect(decide(api, '/users', { 'x-version': 'v2' })).toBe('v2 header /users');
    expect(api.paths('/users')).toEqual(['/users']);
    expect(compat.api({ api: API }).paths('/users/:id')).toEqual(['/v1/users/:id', '/v2/users/:id', '/users/:id']);
    expect(compat.api({ api: API }).paths('users', { bare: false })).toEqual(['/v1/users', '/v2/users']);
  });

  it('applies only dated points while the flag has not reached 100 % (no release, no T+0)', () => {
    const offsets = compat.api({ api: API, flag: 'never-released' });
    expect(offsets.timeline('v1')).toMatchObject({ announce: null, log: null, respond: null, disable: null });
    expect(offsets.state('v1')).toBe('active');
    expect(decide(offsets, '/v1/users')).toBe('v1 path /users');
    const dated = compat.api({ api: { ...API, timeline: { respond: '2020-01-01', disable: '2999-01-01' } }, flag: 'never-released' });
    expect(dated.state('v1')).toBe('warning');
    expect(dated.state('v2')).toBe('active');
    const d = dated.decide({ method: 'GET', url: '/v1/users', headers: {} });
    expect('headers' in d && Object.fromEntries(d.headers)).toEqual({
      'Api-Version': 'v1',
      Deprecation: `@${Date.parse('2020-01-01') / 1000}`,
      Sunset: 'Tue, 01 Jan 2999 00:00:00 GMT',
    });
  });

  it('refuses an invalid api section or adapters that skip a version, as E_MANIFEST', () => {
    const fail = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isFerryError(err, 'E_MANIFEST') ? err.message : `other: ${String(err)}`;
      }
      return 'no error';
    };
    expect(fail(() => compat.api({ api: { name: 'users', versions: [{ version: 'v1' }] } }))).toMatch(/api section is invalid/);
    expect(
      fail(() =>
        compat.api({ api: { name: 'users', versions: [{ version: 'v1' }, { version: 'v2' }, { version: 'v3' }] } }, { adapters: [{ from: 'v1', to: 'v3' }] }),
      ),
    ).toMatch(/does not join two consecutive versions/);
  });
});

describe('framework details', () => {
  it('Express: converts req.body when the JSON parser runs after the middleware, on the route', async () => {
    const api = compat.api({ api: API }, { adapters: usersModule });
    const app = express();
    app.use(api.express());
    app.post(api.paths('/users'), express.json(), (req, res) => {
      res.status(201).send({ ...req.body, asked: (req as unknown as ExpressApiRequest).ferryApi?.version });
    });
    app.get(api.paths('/missing'), (_req, res) => {
      res.status(404).json({ firstName: 'not converted: an error body' });
    });
    const base = await listen(createServer(app));
    const created = await json(
      await fetch(`${base}/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Ada Lovelace","email":"a@x"}' }),
    );
    expect(created).toMatchObject({ status: 201, body: { name: 'Ada Lovelace', email: 'a@x', asked: 'v1' } });
    expect(created.headers.get('api-version')).toBe('v1');
    expect((await json(await fetch(`${base}/v1/missing`))).body).toEqual({ firstName: 'not converted: an error body' });
  });

  it('Fastify: hooks apply only inside the encapsulated context the plugin is registered in', async () => {
    const api = compat.api({ api: API }, { adapters: usersModule });
    const app = Fastify();
    app.get('/health', async () => ({ ok: true }));
    await app.register(async (scope) => {
      await scope.register(api.fastify());
      for (const path of api.paths('/users/:id'))
        scope.get(path, async (request) => ({ firstName: 'Ada', lastName: 'L', asked: (request as unknown as { ferryApi: ApiCall }).ferryApi.version }));
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const health = await fetch(`${base}/health`, { headers: { 'api-version': 'v9' } });
    expect(health.status).toBe(200);
    expect(health.headers.get('api-version')).toBeNull();
    const user = await json(await fetch(`${base}/v1/users/1`));
    expect(user).toMatchObject({ status: 200, body: { name: 'Ada L', asked: 'v1' } });
    expect((await fetch(`${base}/users/1`, { headers: { 'api-version': 'v9' } })).status).toBe(400);
  });

  it('Hono: converts a JSON Response the handler built itself, and keeps the headers on it', async () => {
    const api = compat.api({ api: API }, { adapters: usersModule });
    const app = new Hono<ApiEnv>();
    app.use(api.hono());
    app.on(
      'GET',
      api.paths('/users/:id'),
      (c) =>
        new Response(JSON.stringify({ firstName: 'Ada', lastName: 'L', asked: c.get('ferryApi').version }), {
          headers: { 'content-type': 'application/json' },
        }),
    );
    app.on('GET', api.paths('/gone'), (c) => {
      c.status(404);
      return c.json({ firstName: 'kept: not 2xx' });
    });
    const own = await json(await app.request('/v1/users/1', { headers: { accept: 'application/json' } }));
    expect(own).toMatchObject({ status: 200, body: { name: 'Ada L', asked: 'v1' } });
    expect(own.headers.get('api-version')).toBe('v1');
    expect(own.headers.get('content-length')).toBeNull();
    expect((await json(await app.request('/v1/gone'))).body).toEqual({ firstName: 'kept: not 2xx' });
  });

  it('node:http: 400 for bad JSON, 413 past the limit, 500 (logged) when the handler throws, and writeHead/write held for conversion', async () => {
    const api = compat.api({ api: API }, { adapters: usersModule });
    const base = await listen(
      createServer(
        api.node(
          (req, res) => {
            if (req.url?.endsWith('/boom')) throw new Error('kaboom');
            res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '999' });
            res.write('{"firstName":"Ada",');
            res.end(`"lastName":"L","got":${JSON.stringify(req.body ?? null)}}`);
          },
          { bodyLimit: 64 },
        ),
      ),
    );
    const post = (path: string, body: string) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('/v1/users', '{not json')).status).toBe(400);
    expect((await post('/v1/users', JSON.stringify({ name: 'x'.repeat(100) }))).status).toBe(413);
    const before = logs.length;
    const boom = await fetch(`${base}/v1/boom`);
    expect(boom.status).toBe(500);
    expect(logs.slice(before).join()).toContain('kaboom');
    const ok = await json(await post('/v1/users', '{"name":"Bo Di","email":"b@x"}'));
    expect(ok).toMatchObject({ status: 200, body: { name: 'Ada L', got: { firstName: 'Bo', lastName: 'Di', emailAddress: 'b@x' } } });
    expect(ok.headers.get('api-version')).toBe('v1');
  });
});
