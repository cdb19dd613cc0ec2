import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../../scripts/chromium.js';
import type { Database } from '../../src/db/database.js';
import { findMigration, loadWorkspace, openWorkspace, setRolloutPercentage, up } from '../../src/index.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { createServerDatabase, serverAvailable, type TestTarget } from '../helpers/databases.js';
import { createProject, type TestProject } from '../helpers/project.js';
import { actionState, recordSplitMetrics, serveProject, TEST_TOKEN, type TestServer } from '../helpers/serve.js';

// The dashboard in a real Chromium (Debian's, driven by playwright-core) against a real `ferry serve` on a
// PostgreSQL server: what the pages show is what the database holds, and what their buttons do the database shows.

/** The slow backfill: 20,000 rows in batches of at most 20, sleeping ten times each batch's duration between batches. */
const FILL = '0003_fill_name_length';
const PLANNED = '0004_planned_index';
const USERS = '0001_users';

/** The demo's shape: users, the split (rolled out to its first stage), a backfill waiting to start, and a planned migration. */
function dashboardProject(target: TestTarget): TestProject {
  const p = createProject(target);
  splitProject(p);
  const fill = join(p.root, 'migrations', FILL);
  mkdirSync(fill);
  writeFileSync(
    join(fill, 'migration.json'),
    JSON.stringify({
      title: 'fill name_length',
      summary: 'a column of the name length, filled in small batches',
      type: 'schema-additive',
      strategy: 'incremental',
      pointOfNoReturn: null,
      steps: [
        { id: 'add-table', transaction: true },
        {
          id: 'fill',
          kind: 'backfill',
          table: 'people',
          set: { name_length: 'length(name)' },
          where: 'name_length IS NULL',
          batchSize: { initial: 20, min: 10, max: 20 },
          sleepRatio: 10,
        },
      ],
    }),
  );
  writeFileSync(
    join(fill, 'add-table.up.sql'),
    `CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, name_length int);
     INSERT INTO people (name) SELECT 'Person ' || g FROM generate_series(1, 20000) g;`,
  );
  writeFileSync(join(fill, 'add-table.down.sql'), 'DROP TABLE people;');
  p.migration(PLANNED, [{ id: 'index', up: 'CREATE INDEX users_full_name ON users (full_name);', down: 'DROP INDEX users_full_name;' }]);
  return p;
}

/** Apply users and the split, roll the split out to its first stage (50 %), and expand the backfill migration up to its backfill. */
async function prepare(root: string): Promise<void> {
  const ws = await loadWorkspace({ root, actor: 'setup' });
  const db = await openWorkspace(ws, 'test setup');
  try {
    const run = { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: false };
    await up(db, ws.migrations, { ...run, only: USERS });
    await up(db, ws.migrations, { ...run, only: SPLIT });
    await setRolloutPercentage(db, await findMigration(ws, SPLIT), 50, { actor: 'setup', lockWaitMs: ws.lockWaitMs });
    await up(db, ws.migrations, { ...run, only: FILL, until: 'add-table' });
  } finally {
    await db.close();
  }
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const chromiumThere = existsSync(CHROMIUM);
// In CI a missing browser fails the file loudly; on a developer's machine the tests are skipped with the reason.
if (!chromiumThere && process.env.CI)
  throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium package (apt-get install chromium) for the browser tests`);
if (!chromiumThere) process.stderr.write(`browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)\n`);

describe('the dashboard in Chromium', async () => {
  const serverUp = await serverAvailable();
  describe.runIf(serverUp && chromiumThere)('', () => {
    let target: TestTarget;
    let server: TestServer;
    let db: Database;
    let browser: Browser;
    let signedIn: BrowserContext;
    let anonymous: BrowserContext;

    beforeAll(async () => {
      const created = await createServerDatabase();
      target = { kind: 'server', url: created.url, open: async () => (await import('../../src/db/server.js')).openServer({ url: created.url }) };
      const p = dashboardProject(target);
      await prepare(p.root);
      server = await serveProject(p);
      db = await target.open();
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
      signedIn = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      anonymous = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      // Sign in once through the page, as a person would.
      const page = await signedIn.newPage();
      await page.goto(`${server.url}/signin`);
      await page.fill('#token', TEST_TOKEN);
      await page.fill('#name', 'Grace');
      await Promise.all([page.waitForURL(`${server.url}/`), page.click('#signin-form button[type=submit]')]);
      await page.close();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await db?.close();
    });

    // Script errors and anything the CSP refused, on any page of a test, fail it.
    const pageErrors: string[] = [];
    afterEach(() => {
      expect(pageErrors.splice(0)).toEqual([]);
    });

    const open = async (context: BrowserContext, path: string): Promise<Page> => {
      const page = await context.newPage();
      page.on('dialog', (d) => void d.accept());
      page.on('pageerror', (err) => pageErrors.push(`${path}: ${err.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${path}: ${m.text()}`);
      });
      await page.goto(`${server.url}${path}`);
      // The live stream is connected once its hello arrived.
      await page.waitForSelector('#live-state[data-state="on"]');
      return page;
    };

    it('the overview lists the demo’s migrations with the right phases', async () => {
      const page = await open(anonymous, '/');
      const { rows } = await db.query<{ id: string; phase: string }>('SELECT id, phase FROM ferry.migrations');
      const phases = new Map(rows.map((r) => [r.id, r.phase]));
      expect(Object.fromEntries(phases)).toEqual({ [USERS]: 'expanded', [SPLIT]: 'canary', [FILL]: 'approved' });
      for (const id of [USERS, SPLIT, FILL, PLANNED]) {
        const row = page.locator(`#overview tr[data-id="${id}"]`);
        await expect(row.locator('[data-phase]').getAttribute('data-phase')).resolves.toBe(phases.get(id) ?? 'new');
      }
      // The split's ladder marks step 5 (canary); its flag shows 50 %.
      await expect(page.locator(`#overview tr[data-id="${SPLIT}"] .rung.current`).textContent()).resolves.toBe('5');
      await expect(page.locator(`#overview tr[data-id="${SPLIT}"] [data-flag-percentage]`).getAttribute('data-flag-percentage')).resolves.toBe('50');
      // Sorting by phase and the "active only" filter work in the page.
      await page.click('#overview th:nth-child(3)');
      const sorted = await page.locator('#overview tbody td.phase').evaluateAll((tds) => tds.map((td) => td.getAttribute('data-value') ?? ''));
      expect(sorted).toEqual([...sorted].sort((a, b) => a.localeCompare(b)));
      expect(await page.locator('#overview th:nth-child(3)').getAttribute('data-sorted')).toBe('asc');
      await page.close();
    });

    it('the health page shows the matrix of a migration with recorded metrics', async () => {
      await recordSplitMetrics(target);
      const page = await open(anonymous, `/migrations/${SPLIT}#health`);
      const matrix = page.locator('#health-matrix');
      await matrix.waitFor();
      expect(await matrix.locator('tr.traffic td:nth-child(2)').textContent()).toBe('300');
      expect(await matrix.locator('tr.traffic td:nth-child(3)').textContent()).toBe('300');
      const errorRate = matrix.locator('tr[data-metric="errorRate"]');
      expect(await errorRate.locator('td:nth-child(2)').textContent()).toBe('1 %');
      expect(await errorRate.locator('td:nth-child(3)').textContent()).toBe('0 %');
      expect(await errorRate.locator('[data-colour]').getAttribute('data-colour')).toBe('yellow');
      expect(await matrix.locator('tr[data-metric="latencyP99"] [data-colour]').getAttribute('data-colour')).toBe('green');
      expect(await matrix.locator('tr[data-metric="dataErrors"]').count()).toBe(1);
      expect(await matrix.getAttribute('data-colour')).toBe('yellow');
      // uPlot drew both charts (error rate and p99 per cohort).
      await page.waitForSelector('#chart-error-rate canvas');
      await page.waitForSelector('#chart-p99 canvas');
      await page.close();
    });

    it('pause on the backfill page pauses the backfill, as the database shows', async () => {
      const page = await open(signedIn, `/migrations/${FILL}#backfill`);
      await page.click('#backfill-start');
      await page.waitForSelector('#backfill-island [data-backfill-state="running"]');
      await page.click('#backfill-pause');
      const state = await until(
        async () => (await db.query<{ state: string }>('SELECT state FROM ferry.backfills WHERE migration_id = $1', [FILL])).rows[0]?.state,
        (s) => s === 'paused',
        'the backfill to pause',
      );
      expect(state).toBe('paused');
      // The page shows it too, without a reload.
      await page.waitForSelector('#backfill-island [data-backfill-state="paused"]');
      const { rows } = await db.query<{ actor: string }>(
        `SELECT actor FROM ferry.events WHERE migration_id = $1 AND kind = 'backfill-pause' ORDER BY id DESC LIMIT 1`,
        [FILL],
      );
      expect(rows[0]?.actor).toBe('Grace');
      await page.close();
    });

    it('without the token every action is refused (403) and nothing changes', async () => {
      const page = await open(anonymous, `/migrations/${SPLIT}`);
      // The buttons say why they are disabled.
      for (const id of ['#rollout-kill', '#rollout-advance', '#backfill-start']) expect(await page.locator(id).isDisabled()).toBe(true);
      expect(await page.locator('#rollout-island .hint').textContent()).toContain('sign in to act');
      const before = await actionState(db);
      const api = (id: string, path: string) => `/api/v1/migrations/${id}/${path}`;
      const actions: [string, unknown][] = [
        [api(FILL, 'backfill/start'), {}],
        [api(FILL, 'backfill/pause'), {}],
        [api(FILL, 'backfill/resume'), {}],
        [api(FILL, 'backfill/cancel'), {}],
        [api(SPLIT, 'rollout/advance'), {}],
        [api(SPLIT, 'rollout/resume'), {}],
        [api(SPLIT, 'rollout/set'), { percentage: 100, now: true, reason: 'x' }],
        [api(SPLIT, 'rollout/kill'), {}],
        [api(SPLIT, 'approvals'), { role: 'Tech Lead' }],
      ];
      const answers = await page.evaluate(
        async (list) =>
          Promise.all(
            list.map(async ([url, body]) => {
              const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
              return { url, status: r.status, code: ((await r.json()) as { code: string }).code };
            }),
          ),
        actions,
      );
      for (const a of answers) expect(a, a.url).toMatchObject({ status: 403, code: 'E_FORBIDDEN' });
      // A button forced on shows the API's refusal: its detail and its hint.
      await page.locator('#rollout-kill').evaluate((b) => b.removeAttribute('disabled'));
      await page.click('#rollout-kill');
      const problem = page.locator('#rollout-island .problem');
      await problem.waitFor({ state: 'visible' });
      expect(await problem.textContent()).toMatch(/E_FORBIDDEN: .*needs ferry serve's token.*hint: sign in on the dashboard/s);
      expect(await actionState(db)).toBe(before);
      await page.close();
    });

    it('the kill switch turns the flag off in the database, and a second open page shows it within 1 s', async () => {
      const watcher = await open(anonymous, `/migrations/${SPLIT}#rollout`);
      const page = await open(signedIn, `/migrations/${SPLIT}#rollout`);
      expect(await watcher.locator('#rollout-island .rollout').getAttribute('data-killed')).toBe('false');
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/rollout/kill')), page.click('#rollout-kill')]);
      expect(response.status()).toBe(200);
      // The flag is off in the database once the action answered; from then on the other page has 1 s.
      const shown = watcher.waitForSelector('#rollout-island .rollout[data-killed="true"]', { timeout: 1000 });
      const { rows } = await db.query<{ enabled: boolean }>(`SELECT enabled FROM ferry.flags WHERE key = 'split-names'`);
      expect(rows[0]?.enabled).toBe(false);
      await shown;
      expect(await watcher.locator('#rollout-island [data-flag]').getAttribute('data-flag')).toBe('off');
      await page.waitForSelector('#rollout-island .rollout[data-killed="true"]', { timeout: 1000 });
      const { rows: ev } = await db.query<{ actor: string }>(`SELECT actor FROM ferry.events WHERE migration_id = $1 ORDER BY id DESC LIMIT 1`, [SPLIT]);
      expect(ev[0]?.actor).toBe('Grace');
      await watcher.close();
      await page.close();
    });
  });
});
