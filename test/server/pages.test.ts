import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkspace, openWorkspace, up } from '../../src/index.js';
import { renderMarkdown } from '../../src/server/pages/markdown.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { emptyPgliteTarget } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { serveProject, type TestServer } from '../helpers/serve.js';

// The dashboard's HTML as the server sends it (the browser tests drive it in Chromium): every page and
// fragment renders, nothing inline that the CSP would block, the packaged assets, and safe Markdown.

const SECTIONS = ['summary', 'backfill', 'rollout', 'health', 'verify', 'timeline', 'approvals', 'steps', 'documents'];

/** Script or style the CSP (script-src 'self', style-src 'self') would refuse: inline scripts, style attributes, event handlers. */
function inlineViolations(page: string): string[] {
  const found: string[] = [];
  for (const m of page.matchAll(/<script\b[^>]*>/gi)) if (!/\ssrc="\/assets\//.test(m[0])) found.push(m[0]);
  for (const m of page.matchAll(/<style\b|\sstyle=|\son[a-z]+=/gi)) found.push(m[0]);
  return found;
}

describe('the dashboard pages', () => {
  let server: TestServer;
  beforeAll(async () => {
    const p = createProject(await emptyPgliteTarget());
    splitProject(p);
    const ws = await loadWorkspace({ root: p.root, actor: 'setup' });
    const db = await openWorkspace(ws, 'test setup');
    try {
      await up(db, ws.migrations, { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: false, only: '0001_users' });
    } finally {
      await db.close();
    }
    server = await serveProject(p);
  });
  afterAll(async () => server?.close());

  it('renders the overview, a migration page and every fragment, with nothing inline for the CSP to block', async () => {
    // The split (flag, backfill, checks, approvals) and users (none of them, applied).
    const pages = ['0001_users', SPLIT].flatMap((id) => [`/migrations/${id}`, ...SECTIONS.map((s) => `/fragments/migrations/${id}/${s}`)]);
    for (const path of ['/', '/signin', '/fragments/overview', ...pages]) {
      const r = await server.request(path);
      expect(r.status, `${path}: ${r.text.slice(0, 300)}`).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(inlineViolations(r.text), path).toEqual([]);
    }
    const page = await server.request(`/migrations/${SPLIT}`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).toContain('<meta name="htmx-config" content="{&quot;includeIndicatorStyles&quot;:false,&quot;allowEval&quot;:false');
    // Signed out: every action button is disabled and says why.
    const buttons = [...page.text.matchAll(/<button[^>]*data-action="[^"]*"[^>]*>/g)].map((m) => m[0]);
    expect(buttons.length).toBeGreaterThanOrEqual(8);
    for (const b of buttons) expect(b).toMatch(/ disabled title="sign in to act"/);
    const overview = await server.request('/');
    expect(overview.text).toContain(`data-id="${SPLIT}"`);
    expect(overview.text).toContain('data-id="0001_users"');
  });

  it('answers an unknown migration with a page carrying the problem, and an unknown section or asset with 404', async () => {
    const r = await server.request('/migrations/no_such_migration');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toContain('E_NOT_FOUND');
    expect((await server.request(`/fragments/migrations/${SPLIT}/nothing`)).status).toBe(404);
    const asset = await server.request('/assets/..%2Fpackage.json');
    expect(asset.status).toBe(404);
    expect((asset.json as { code: string }).code).toBe('E_NOT_FOUND');
  });

  it('serves the packaged assets (no CDN) with their types', async () => {
    const types: Record<string, RegExp> = {
      'htmx.min.js': /^text\/javascript/,
      'uPlot.iife.min.js': /^text\/javascript/,
      'uPlot.min.css': /^text\/css/,
      'app.js': /^text\/javascript/,
      'app.css': /^text\/css/,
      'favicon.svg': /^image\/svg\+xml/,
    };
    for (const [name, type] of Object.entries(types)) {
      const r = await server.request(`/assets/${name}`);
      expect(r.status, name).toBe(200);
      expect(r.headers.get('content-type'), name).toMatch(type);
      expect(r.text.length, name).toBeGreaterThan(100);
    }
    expect((await server.request('/assets/htmx.min.js')).text).toContain('htmx');
  });

  it('renders Markdown with raw HTML shown as text and only safe links', () => {
    const out = renderMarkdown(
      '# Plan\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> and [bad](javascript:alert(1)) and [good](https://example.com) and ![i](data:x)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n',
    );
    expect(out).not.toMatch(/<script|<img|javascript:/i);
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('<a href="https://example.com" rel="noopener noreferrer">good</a>');
    expect(out).toContain('<table>');
    expect(out).toContain('<h1>Plan</h1>');
  });
});
