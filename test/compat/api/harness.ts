import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import type { VersionedApi } from '../../../src/compat/api/core.js';
import type { ApiCall } from '../../../src/compat/api/engine.js';
import type { ExpressApiRequest } from '../../../src/compat/api/express.js';
import type { ApiEnv } from '../../../src/compat/api/hono.js';
import type { NodeApiRequest } from '../../../src/compat/api/node.js';

/** The frameworks the versioned API's middleware is tested on, each as a real server on loopback. */
export const FRAMEWORKS = ['express', 'fastify', 'hono', 'node'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** A running app: its base URL, how often a handler ran, and its close. */
export interface AppServer {
  url: string;
  ran: () => number;
  close: () => Promise<void>;
}

/** The one handler, written against v2: a user, and an echo of the created user with the keys the handler saw. */
const getUser = (id: string, call: ApiCall | null | undefined) => ({
  id,
  firstName: 'Ada',
  lastName: 'Lovelace',
  emailAddress: 'ada@example.com',
  asked: call?.version ?? null,
});
const created = (body: unknown) => ({ id: 1, ...(body as object), saw: Object.keys((body ?? {}) as object).sort() });

const listen = (server: Server): Promise<string> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
const closeServer = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** Start `api`'s app on `kind`: GET /users/:id and POST /users on every version's path and the bare path. */
export async function startApp(kind: Framework, api: VersionedApi): Promise<AppServer> {
  let ran = 0;
  const count = () => ran;
  if (kind === 'express') {
    const app = express();
    app.use(express.json({ type: ['application/json', 'application/*+json'] }));
    app.use(api.express());
    app.get(api.paths('/users/:id'), (req, res) => {
      ran++;
      res.json(getUser(String(req.params.id), (req as unknown as ExpressApiRequest).ferryApi));
    });
    app.post(api.paths('/users'), (req, res) => {
      ran++;
      res.status(201).json(created(req.body));
    });
    const server = createServer(app);
    return { url: await listen(server), ran: count, close: () => closeServer(server) };
  }
  if (kind === 'fastify') {
    const app = Fastify();
    await app.register(api.fastify());
    for (const path of api.paths('/users/:id'))
      app.get<{ Params: { id: string } }>(path, async (request) => {
        ran++;
        return getUser(request.params.id, (request as unknown as { ferryApi: ApiCall | null }).ferryApi);
      });
    for (const path of api.paths('/users'))
      app.post(path, async (request, reply) => {
        ran++;
        reply.code(201);
        return created(request.body);
      });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return { url, ran: count, close: () => app.close() };
  }
  if (kind === 'hono') {
    const app = new Hono<ApiEnv>();
    app.use(api.hono());
    app.on('GET', api.paths('/users/:id'), (c) => {
      ran++;
      return c.json(getUser(c.req.param('id') as string, c.get('ferryApi')));
    });
    app.on('POST', api.paths('/users'), async (c) => {
      ran++;
      return c.json(created(await c.req.json()), 201);
    });
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s as Server));
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ran: count, close: () => closeServer(server) };
  }
  const server = createServer(
    api.node((req: NodeApiRequest, res) => {
      const call = req.ferryApi as ApiCall;
      const user = /^\/users\/([^/]+)$/.exec(call.path);
      const send = (status: number, body: unknown) => {
        res.statusCode = status;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(body));
      };
      if (req.method === 'GET' && user) {
        ran++;
        return send(200, getUser(user[1] as string, call));
      }
      if (req.method === 'POST' && call.path === '/users') {
        ran++;
        return send(201, created(req.body));
      }
      send(404, { error: 'not found' });
    }),
  );
  return { url: await listen(server), ran: count, close: () => closeServer(server) };
}
