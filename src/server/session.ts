import { createRoute, z } from '@hono/zod-openapi';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { FerryError } from '../errors.js';
import type { ServeApp } from './context.js';
import { ProblemError } from './problem.js';
import { ProblemSchema } from './schemas.js';
import { actorName, SESSION_COOKIE, Sessions, tokenMatches } from './security.js';

const SignIn = z
  .object({
    token: z.string().min(1).max(1000).openapi({ description: 'the token ferry serve printed at start (or FERRY_SERVE_TOKEN)' }),
    name: z.string().min(1).max(100).optional().openapi({ description: 'who you are, for the event log; default: the user running ferry serve' }),
  })
  .strict()
  .openapi('SignIn');

const WhoAmI = z.object({ signedIn: z.boolean(), actor: z.string().nullable() }).openapi('WhoAmI');

/** `POST /api/v1/session` (sign in with the token: an HttpOnly, SameSite=Strict cookie), `GET` (who am I) and `DELETE` (sign out). */
export function mountSession(app: ServeApp, sessions: Sessions): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/session',
      summary: 'Sign in with the token; sets the session cookie',
      request: { body: { content: { 'application/json': { schema: SignIn } }, required: true } },
      responses: {
        200: { description: 'signed in', content: { 'application/json': { schema: WhoAmI } } },
        400: { description: 'invalid input', content: { 'application/problem+json': { schema: ProblemSchema } } },
        403: { description: 'wrong token', content: { 'application/problem+json': { schema: ProblemSchema } } },
      },
    }),
    (c) => {
      const body = c.req.valid('json');
      const ctx = c.get('ctx');
      if (!tokenMatches(ctx.token, body.token)) {
        throw new ProblemError(
          'E_FORBIDDEN',
          'that is not the token of this server',
          'use the token ferry serve printed when it started (or FERRY_SERVE_TOKEN)',
        );
      }
      const actor = body.name === undefined ? ctx.ws.actor : actorName(body.name);
      if (actor === undefined) throw new FerryError('E_USAGE', 'name must be 1–100 printable characters', 'give the name the event log should show');
      setCookie(c, SESSION_COOKIE, sessions.create(actor), Sessions.cookieOptions);
      return c.json({ signedIn: true, actor }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/session',
      summary: 'Who acts: the signed-in name, or null (read-only)',
      responses: { 200: { description: 'the session', content: { 'application/json': { schema: WhoAmI } } } },
    }),
    (c) => {
      const actor = c.get('actor');
      return c.json({ signedIn: actor !== null, actor }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/session',
      summary: 'Sign out',
      responses: { 200: { description: 'signed out', content: { 'application/json': { schema: WhoAmI } } } },
    }),
    (c) => {
      sessions.end(getCookie(c, SESSION_COOKIE));
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.json({ signedIn: false, actor: null }, 200);
    },
  );
}
