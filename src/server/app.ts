import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { FerryError } from '../errors.js';
import { mountApi } from './api/index.js';
import type { ServeApp, ServeContext, ServeEnv } from './context.js';
import { mountLiveStream } from './live.js';
import { mountMetrics } from './metrics.js';
import { mountPages } from './pages/index.js';
import { errorProblem, ProblemError, problem } from './problem.js';
import { mountRelay } from './relay.js';
import { Sessions, security } from './security.js';
import { mountSession } from './session.js';

/** Paths that change state without the token: signing in. */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/api/v1/session']);

/** One place that turns a failed validation into the problem the CLI's E_USAGE would be. */
export function newServeApp(): ServeApp {
  return new OpenAPIHono<ServeEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = result.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
      return problem(c, 'E_USAGE', `invalid ${result.target}: ${issues.join('; ')}`, { hint: 'see /api/v1/openapi.json for the expected input' });
    },
  });
}

/**
 * The whole server: security first, then sign-in, the JSON API (with its OpenAPI document),
 * the live stream, the flag relay, /metrics, and the pages. Every module holds no SQL: each
 * handler calls one workflow function through `ctx.withDb`.
 */
export function createApp(ctx: ServeContext, opts: { loopback: boolean; sessions?: Sessions }): ServeApp {
  const sessions = opts.sessions ?? new Sessions();
  const app = newServeApp();
  app.use('*', async (c, next) => {
    c.set('ctx', ctx);
    await next();
  });
  for (const m of security({ sessions, loopback: opts.loopback, publicPaths: PUBLIC_PATHS })) app.use('*', m);
  app.onError((err, c) => {
    // Hono's own refusals (a body that is not JSON …) are the client's mistake, not ferry's.
    if (err instanceof HTTPException && err.status < 500) {
      return problem(c, 'E_USAGE', err.message, { status: err.status as ContentfulStatusCode, hint: 'send a JSON body as /api/v1/openapi.json describes' });
    }
    if (!(err instanceof FerryError || err instanceof ProblemError))
      process.stderr.write(`ferry serve: ${c.req.method} ${c.req.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return errorProblem(c, err);
  });
  app.notFound((c) =>
    problem(c, 'E_NOT_FOUND', `no such page or endpoint: ${c.req.method} ${c.req.path}`, { hint: 'the API is described at /api/v1/openapi.json' }),
  );
  mountSession(app, sessions);
  mountLiveStream(app);
  mountMetrics(app);
  for (const mount of ROUTE_MODULES) mount(app);
  app.doc31('/api/v1/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'ferry serve',
      version: '1',
      description:
        'The JSON API of `ferry serve`: the documents of the CLI’s --json and its actions. Reads need no token; every action needs the bearer token (or a signed-in browser session). Errors are RFC 9457 problem documents carrying the CLI’s error code and exit status.',
    },
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: 'ferry_session' });
  return app;
}

/** The route modules after the core ones; each adds its routes to the app (see api/, pages/, relay.ts). */
const ROUTE_MODULES: ((app: ServeApp) => void)[] = [mountApi, mountRelay, mountPages];
