import { existsSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../../scripts/chromium.js';
import { fleetInit, fleetRun, loadWorkspace, openWorkspace, up } from '../../src/index.js';
import type { FleetDocument, FleetListDocument } from '../../src/server/api/fleets.js';
import { createDatabases, fleetProject, query, urlOf } from '../fleet/fixtures.js';
import { serverAvailable } from '../helpers/databases.js';
import type { TestProject } from '../helpers/project.js';
import { serveProject, type TestServer } from '../helpers/serve.js';

// The dashboard's fleet view against a real fleet of four databases on the local server: one `ferry up` through
// the fleet leaves three applied, one failed (its SQL raises) and one unreachable; then the API documents,
// the overview's fleet card and the fleet page show it; Chromium reads the fleet page's table.

const PREFIX = `ferry_fv_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const CTL = `${PREFIX}_ctl`;
const TENANTS = Array.from({ length: 4 }, (_, i) => `${PREFIX}_t${i}`);
const BROKEN = TENANTS[2] as string;
const DRIFTED = TENANTS[0] as string;
/** A fifth database nothing listens for, with a password in its URL that nothing the server sends may show. */
const UNREACHABLE_URL = 'postgres://postgres:hunter2@127.0.0.1:1/ferry_fv_nowhere';
const UNREACHABLE = 'postgres://postgres@127.0.0.1:1/ferry_fv_nowhere';
const idOf = (name: string) => `postgres://postgres@127.0.0.1:5432/${name}`;
const MIGRATION = '0001_accounts';

const serverUp = await serverAvailable();
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await drop?.();
});

describe.runIf(serverUp)('the fleet view of ferry serve', () => {
  let server: TestServer;

  beforeAll(async () => {
    drop = await createDatabases([CTL, ...TENANTS]);
    const project = fleetProject({
      ctl: { url: urlOf(CTL), requireApproval: false },
      tenants: {
        requireApproval: false,
        fleet: { targets: { urls: [...TENANTS.map(urlOf), UNREACHABLE_URL] }, control: 'ctl', concurrency: 2, waves: [{ count: 1 }, { percent: 100 }] },
      },
      // Its control environment is unknown: the list says why instead of a count.
      orphans: { fleet: { targets: { urls: [urlOf(CTL)] }, control: 'nowhere' } },
    });
    // It fails where a table "poison" exists, with a message a page must escape.
    const create = {
      id: 'create',
      up: `DO $$ BEGIN IF to_regclass('poison') IS NOT NULL THEN RAISE EXCEPTION '<img src=x> tenant is poisoned'; END IF; END $$;
           CREATE TABLE accounts (id int PRIMARY KEY);`,
      down: 'DROP TABLE accounts;',
    };
    project.migration(MIGRATION, [create]);
    await query(BROKEN, 'CREATE TABLE poison (id int)');
    const opts = { root: project.root, env: 'tenants', actor: 'fleet-view-test' };
    await fleetInit(opts);
    const report = await fleetRun(opts, { command: 'up' });
    expect(report.status).toBe('failed');
    expect(report.failed.map((f) => f.target).sort()).toEqual([idOf(BROKEN), UNREACHABLE].sort());
    // One applied database then takes a migration the project does not have (applied alone): drift.
    const alone = fleetProject({ ctl: { url: urlOf(DRIFTED), requireApproval: false } });
    alone.migration(MIGRATION, [create]);
    alone.migration('0002_stray', [{ id: 'create', up: 'CREATE TABLE stray (id int);', down: 'DROP TABLE stray;' }]);
    const ws = await loadWorkspace({ root: alone.root, actor: 'fleet-view-test' });
    const db = await openWorkspace(ws, 'test setup');
    try {
      await up(db, ws.migrations, { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: false });
    } finally {
      await db.close();
    }
    server = await serveProject({ root: project.root } as TestProject, { env: 'ctl' });
  }, 60_000);

  it('lists the fleets with their database count, or why they cannot be resolved', async () => {
    const r = await server.request<FleetListDocument>('/api/v1/fleets');
    expect(r.status).toBe(200);
    expect(r.json.fleets).toEqual([
      { name: 'tenants', control: 'ctl', databases: 5, error: null },
      { name: 'orphans', control: 'nowhere', databases: null, error: expect.stringContaining('nowhere') },
    ]);
  });

  it("answers a fleet's status: the latest run, every database and the counts", async () => {
    const r = await server.request<FleetDocument>('/api/v1/fleets/tenants');
    expect(r.status).toBe(200);
    const doc = r.json;
    expect(doc.fleet).toBe('tenants');
    expect(doc.control).toBe('ctl');
    expect(doc.run).toMatchObject({ command: 'up', status: 'failed', waves: 2, currentWave: 2, startedBy: 'fleet-view-test' });
    expect(doc.databases.map((d) => d.target)).toEqual([...TENANTS.map(idOf), UNREACHABLE]);
    const unreachable = doc.databases.find((d) => d.target === UNREACHABLE);
    expect(unreachable).toMatchObject({ version: null, error: expect.stringMatching(/^E_CONNECT: /), ledger: { status: 'failed' } });
    const broken = doc.databases.find((d) => d.target === idOf(BROKEN));
    expect(broken).toMatchObject({
      version: null,
      error: null,
      ledger: { status: 'failed', lastError: expect.stringContaining('<img src=x> tenant is poisoned') },
    });
    for (const d of doc.databases.filter((x) => x.target !== idOf(BROKEN) && x.target !== UNREACHABLE)) {
      expect(d).toMatchObject({ version: MIGRATION, error: null, ledger: { status: 'done', lastError: null } });
      expect(d.drift.length > 0, d.target).toBe(d.target === idOf(DRIFTED));
    }
    expect(doc.summary).toEqual({ total: 5, byVersion: { [MIGRATION]: 3, '(none)': 1 }, failed: 2, drifted: 1, unreachable: 1 });
    // No password in anything the server sends.
    expect(r.text).not.toContain('hunter2');
  });

  it('describes both reads in the OpenAPI document, answers what it documents, and refuses an unknown fleet with a problem', async () => {
    const spec = await server.request<Record<string, unknown>>('/api/v1/openapi.json');
    const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { 'media-range': true } });
    addFormats.default(ajv);
    ajv.addSchema({ ...spec.json, $id: 'https://ferry.invalid/openapi.json' });
    for (const [path, url] of [
      ['/api/v1/fleets', '/api/v1/fleets'],
      ['/api/v1/fleets/{name}', '/api/v1/fleets/tenants'],
    ] as const) {
      const ref = `https://ferry.invalid/openapi.json#/paths/${path.replaceAll('/', '~1')}/get/responses/200/content/application~1json/schema`;
      const validate = ajv.compile({ $ref: ref });
      const body = (await server.request(url)).json;
      expect(validate(body), `${url}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
      expect(validate({ ...(body as object), fleets: 'x', databases: 'x' }), 'a wrong body is refused').toBe(false);
    }
    const r = await server.request<{ code: string }>('/api/v1/fleets/nope');
    expect(r.status).toBe(404);
    expect(r.json.code).toBe('E_NOT_FOUND');
    const page = await server.request('/fleets/nope');
    expect(page.status).toBe(404);
    expect(page.text).toContain('no fleet named &quot;nope&quot;');
  });

  it("shows each fleet's counts on the overview, linking to its page", async () => {
    const r = await server.request('/');
    expect(r.status).toBe(200);
    const row = r.text.match(/<tr data-fleet="tenants">[\s\S]*?<\/tr>/)?.[0] ?? '';
    expect(row).toContain('href="/fleets/tenants"');
    expect(row).toContain('data-count="total">5<');
    expect(row).toMatch(/data-count="failed"><span class="pill red">2</);
    expect(row).toMatch(/data-count="drifted"><span class="pill yellow">1</);
    expect(row).toMatch(/data-count="unreachable"><span class="pill red">1</);
    expect(r.text).not.toContain('hunter2');
    expect(row).toContain(`${MIGRATION}: 3`);
    expect(row).toContain('(none): 1');
    expect(row).toContain('data-run-status="failed"');
    expect(r.text).toMatch(/<tr data-fleet="orphans">[\s\S]*?data-fleet-error>[^<]*nowhere/);
  });

  it('shows the fleet page: the run, the counts, and the failed database first with its error', async () => {
    const r = await server.request('/fleets/tenants');
    expect(r.status).toBe(200);
    expect(r.text).toContain('data-wave>2/2<');
    expect(r.text).toContain('fleet-view-test');
    expect(r.text).toContain('data-count="failed" class="c-red">2<');
    expect(r.text).toContain('data-count="drifted" class="c-yellow">1<');
    expect(r.text).toContain('data-count="unreachable" class="c-red">1<');
    // Failed (or unreachable) first, then drifted, then the rest, each group in the fleet's order.
    const targets = [...r.text.matchAll(/<tr data-target="([^"]+)"/g)].map((m) => m[1]);
    expect(targets).toEqual([idOf(BROKEN), UNREACHABLE, ...[DRIFTED, TENANTS[1], TENANTS[3]].map((n) => idOf(n as string))]);
    const brokenRow = r.text.match(/<tr data-target="[^"]+" data-rank="0">[\s\S]*?<\/tr>/)?.[0] ?? '';
    expect(brokenRow).toContain('&lt;img src=x&gt; tenant is poisoned');
    expect(r.text).not.toContain('<img src=x>');
    expect(r.text).not.toContain('hunter2');
  });

  it.runIf(existsSync(CHROMIUM))(
    'renders the fleet page in Chromium, failed database first, with nothing refused',
    async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
        });
        await page.goto(`${server.url}/fleets/tenants`);
        const tr = page.locator('#fleet-databases tbody tr');
        const rows: string[][] = [];
        for (let i = 0; i < (await tr.count()); i++) rows.push((await tr.nth(i).locator('td').allInnerTexts()).map((t) => t.trim().replace(/\s+/g, ' ')));
        expect(rows).toHaveLength(5);
        expect(rows[0]?.[0]).toBe(idOf(BROKEN));
        expect(rows[0]?.[3]).toBe('failed');
        expect(rows[0]?.[5]).toContain('<img src=x> tenant is poisoned');
        expect(rows[1]?.[5]).toMatch(/^E_CONNECT: /);
        expect(rows[2]?.[0]).toBe(idOf(DRIFTED));
        expect(rows[2]?.[4]).toMatch(/^1 drift/);
        expect(rows.slice(2).map((cells) => cells[1])).toEqual([MIGRATION, MIGRATION, MIGRATION]);
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
