import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import type { ServeEnv } from './context.js';
import { problem } from './problem.js';

// ferry serve is read-only without its token. Every request that changes anything needs it: as a bearer
// token (scripts), or as the session cookie a browser got by signing in with it once. Cookie-authenticated
// changes must also come from the dashboard's own origin (CSRF). Loopback servers accept only loopback
// Host headers, so a DNS-rebinding page cannot read them either.

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 64 * 1024;
/** The session cookie's name. */
export const SESSION_COOKIE = 'ferry_session';
const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** A bearer token: FERRY_SERVE_TOKEN when set (at least 16 characters), else a fresh random one. */
export function serveToken(given: string | undefined): { token: string; generated: boolean } {
  if (given !== undefined && given !== '') return { token: given, generated: false };
  return { token: randomBytes(24).toString('base64url'), generated: true };
}

/** Whether `given` is the token, compared in constant time. */
export function tokenMatches(token: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Signed-in browsers: session id → who, until when. In memory: a restarted server signs everyone out. */
export class Sessions {
  private readonly open = new Map<string, { actor: string; until: number }>();
  create(actor: string): string {
    const id = randomBytes(32).toString('base64url');
    this.open.set(id, { actor, until: Date.now() + SESSION_TTL_MS });
    return id;
  }
  actorOf(id: string | undefined): string | null {
    if (id === undefined) return null;
    const s = this.open.get(id);
    if (!s) return null;
    if (s.until < Date.now()) {
      this.open.delete(id);
      return null;
    }
    return s.actor;
  }
  end(id: string | undefined): void {
    if (id !== undefined) this.open.delete(id);
  }
  /** The Set-Cookie attributes of a session cookie. */
  static readonly cookieOptions = { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: SESSION_TTL_MS / 1000 } as const;
}

/** A name for the event log: 1–100 printable characters, trimmed; undefined when absent or unusable. */
export function actorName(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const name = raw.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (name === '' || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) return undefined;
  return name;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;

/** Content-Security-Policy: only the server's own scripts, styles and connections; no framing, no inline script. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/**
 * The security middleware, in order: Host check (loopback servers), security headers with the CSP,
 * body size and content type, who acts (bearer token or session cookie), and the rule that every
 * request but a safe one or a sign-in needs the token — from a browser, from the dashboard's own origin.
 */
export function security(opts: { sessions: Sessions; loopback: boolean; publicPaths: ReadonlySet<string> }): MiddlewareHandler<ServeEnv>[] {
  const hostCheck: MiddlewareHandler<ServeEnv> = async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (opts.loopback && !LOOPBACK.test(host)) {
      return problem(c, 'E_FORBIDDEN', `this server listens on a loopback address and answers only loopback host names, not ${JSON.stringify(host)}`, {
        hint: 'open it as http://127.0.0.1:<port> or http://localhost:<port>, or start ferry serve with --host to serve other names',
      });
    }
    await next();
  };
  const headers = secureHeaders({ contentSecurityPolicy: CONTENT_SECURITY_POLICY, referrerPolicy: 'no-referrer', crossOriginResourcePolicy: 'same-origin' });
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => problem(c, 'E_USAGE', `the request body is larger than ${MAX_BODY_BYTES} bytes`, { status: 413, hint: 'send a smaller body' }),
  });
  const contentType: MiddlewareHandler<ServeEnv> = async (c, next) => {
    if (!SAFE_METHODS.has(c.req.method) && hasBody(c.req.raw)) {
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const form = type === 'application/x-www-form-urlencoded' && opts.publicPaths.has(c.req.path);
      if (type !== 'application/json' && !form) {
        return problem(c, 'E_USAGE', `unsupported content type ${JSON.stringify(type || '(none)')}`, {
          status: 415,
          hint: 'send the body as application/json',
        });
      }
    }
    await next();
  };
  const who: MiddlewareHandler<ServeEnv> = async (c, next) => {
    const ctx = c.get('ctx');
    const auth = c.req.header('authorization');
    let viaCookie = false;
    let actor: string | null = null;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (m && tokenMatches(ctx.token, m[1])) actor = actorName(c.req.header('x-ferry-actor')) ?? ctx.ws.actor;
    } else {
      actor = opts.sessions.actorOf(getCookie(c, SESSION_COOKIE));
      viaCookie = actor !== null;
    }
    c.set('actor', actor);
    if (SAFE_METHODS.has(c.req.method) || opts.publicPaths.has(c.req.path)) return next();
    if (actor === null) {
      return problem(c, 'E_FORBIDDEN', `${c.req.method} ${c.req.path} changes state and needs ferry serve's token`, {
        hint: 'sign in on the dashboard with the token ferry serve printed, or send it as "Authorization: Bearer <token>"',
      });
    }
    if (viaCookie && !sameOrigin(c.req.raw)) {
      return problem(c, 'E_FORBIDDEN', 'a signed-in browser may change state only from the dashboard itself (Origin check)', {
        hint: 'use the dashboard’s own pages, or send the token as a bearer token from a script',
      });
    }
    await next();
  };
  return [hostCheck, headers, limit, contentType, who];
}

function hasBody(req: Request): boolean {
  const length = req.headers.get('content-length');
  if (length !== null) return Number(length) > 0;
  return req.headers.has('transfer-encoding');
}

/** A cookie-carrying change is accepted only with an Origin (or Sec-Fetch-Site) proving it came from this server's own pages. */
function sameOrigin(req: Request): boolean {
  const origin = req.headers.get('origin');
  const own = new URL(req.url).origin;
  if (origin !== null) return origin === own;
  return req.headers.get('sec-fetch-site') === 'same-origin';
}
