import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { problemOf } from '../../src/server/problem.js';
import { emptyPgliteTarget } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { serveProject, TEST_TOKEN, type TestServer } from '../helpers/serve.js';

// ferry serve is read-only without its token; every change needs it, from a browser only from the dashboard's own
// origin; errors are problem documents; loopback servers answer loopback host names only.

async function server(): Promise<TestServer> {
  const p = createProject(await emptyPgliteTarget());
  return serveProject(p);
}

/** A raw request with a Host header of our choosing (fetch does not let a test forge Host). */
function rawGet(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ferry serve security', () => {
  it('answers reads without the token and refuses every change without it (403, problem+json, E_FORBIDDEN)', async () => {
    const s = await server();
    const read = await s.request('/api/v1/session');
    expect(read.status).toBe(200);
    expect(read.json).toEqual({ signedIn: false, actor: null });
    for (const [method, path] of [
      ['POST', '/api/v1/migrations/0001_x/backfill/pause'],
      ['POST', '/api/v1/anything'],
      ['PUT', '/api/v1/session/else'],
      ['DELETE', '/api/v1/migrations/0001_x'],
    ] as const) {
      const r = await s.request<{ code: string; status: number; hint: string }>(path, { method, body: {} });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.json.code).toBe('E_FORBIDDEN');
      expect(r.json.status).toBe(403);
      expect(r.json.hint).toMatch(/token/);
    }
    const wrong = await s.request('/api/v1/anything', { method: 'POST', body: {}, headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(403);
  });

  it('signs a browser in with the token: an HttpOnly, SameSite=Strict cookie naming who acts', async () => {
    const s = await server();
    const bad = await s.request<{ code: string }>('/api/v1/session', { method: 'POST', body: { token: 'wrong-token-wrong-token', name: 'ada' } });
    expect(bad.status).toBe(403);
    expect(bad.json.code).toBe('E_FORBIDDEN');
    expect(bad.headers.get('set-cookie')).toBeNull();
    const ok = await s.request<{ actor: string }>('/api/v1/session', { method: 'POST', body: { token: TEST_TOKEN, name: 'Ada Lovelace' } });
    expect(ok.status).toBe(200);
    expect(ok.json.actor).toBe('Ada Lovelace');
    const cookie = ok.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^ferry_session=[\w-]{40,};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = cookie.split(';')[0] as string;
    const who = await s.request<{ actor: string; signedIn: boolean }>('/api/v1/session', { headers: { cookie: session } });
    expect(who.json).toEqual({ signedIn: true, actor: 'Ada Lovelace' });
    const unknownField = await s.request<{ code: string }>('/api/v1/session', { method: 'POST', body: { token: TEST_TOKEN, admin: true } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.code).toBe('E_USAGE');
  });

  it('accepts a signed-in browser’s change only from its own origin (CSRF)', async () => {
    const s = await server();
    const ok = await s.request('/api/v1/session', { method: 'POST', body: { token: TEST_TOKEN, name: 'ada' } });
    const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const foreign = await s.request<{ code: string; detail: string }>('/api/v1/nothing-here', {
      method: 'POST',
      body: {},
      headers: { cookie, origin: 'http://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.json.detail).toMatch(/Origin/);
    const noOrigin = await s.request('/api/v1/nothing-here', { method: 'POST', body: {}, headers: { cookie } });
    expect(noOrigin.status).toBe(403);
    // From its own origin the request passes security and reaches routing: an unknown path is then 404.
    const own = await s.request<{ code: string }>('/api/v1/nothing-here', { method: 'POST', body: {}, headers: { cookie, origin: s.url } });
    expect(own.status).toBe(404);
    expect(own.json.code).toBe('E_NOT_FOUND');
    // A bearer token is not ambient: no Origin needed.
    const bearer = await s.request('/api/v1/nothing-here', { method: 'POST', body: {}, auth: true });
    expect(bearer.status).toBe(404);
  });

  it('refuses oversized bodies (413) and other content types (415) as problems', async () => {
    const s = await server();
    const big = await s.request<{ code: string; exitCode: number }>('/api/v1/nothing-here', {
      method: 'POST',
      auth: true,
      body: { pad: 'x'.repeat(70 * 1024) },
    });
    expect(big.status).toBe(413);
    expect(big.json.code).toBe('E_USAGE');
    expect(big.json.exitCode).toBe(2);
    const text = await s.request<{ code: string }>('/api/v1/nothing-here', {
      method: 'POST',
      auth: true,
      body: 'pause',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.json.code).toBe('E_USAGE');
  });

  it('sends a strict Content-Security-Policy and no framing', async () => {
    const s = await server();
    const r = await s.request('/api/v1/session');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers only loopback host names when bound to loopback (no DNS rebinding)', async () => {
    const s = await server();
    const port = new URL(s.url).port;
    const rebound = await rawGet(`${s.url}/api/v1/session`, `evil.example:${port}`);
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body).code).toBe('E_FORBIDDEN');
    expect((await rawGet(`${s.url}/api/v1/session`, `localhost:${port}`)).status).toBe(200);
  });

  it('answers unknown pages with a 404 problem and never leaks a database URL or password', async () => {
    const s = await server();
    const r = await s.request<{ code: string; exitCode: number }>('/nope');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ code: 'E_NOT_FOUND', exitCode: 5 });
    const doc = await s.request('/api/v1/openapi.json');
    expect(doc.text).not.toMatch(/postgres(ql)?:\/\//);
    // An error naming the database (E_CONNECT names its URL to a CLI user) reaches the API without it.
    const p = problemOf('E_CONNECT', 'cannot reach the database at postgres://app@db.internal:5432/app: refused', {
      hint: 'check postgresql://app@db.internal/app and pglite:/srv/ferry/.ferry/local',
    });
    expect(p.detail).toBe('cannot reach the database at <database>: refused');
    expect(p.hint).toBe('check <database> and <database>');
    expect(p).toMatchObject({ status: 503, exitCode: 6 });
  });
});
