#!/usr/bin/env node
// Screenshots of `ferry serve`'s dashboard for the README and docs/: builds a demo-like project on an
// embedded database (users, the split of full_name rolled out to 25 % with recorded cohort metrics and
// a failing check, a slow backfill started from the dashboard, a planned migration), starts the server
// from dist/, drives Debian's Chromium through playwright-core at 1280 px, and writes docs/screenshots/*.png.
//
//   npm run build && node scripts/screenshots.js [--keep]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { advanceRolloutStage, approve, loadWorkspace, openPglite, runRollout, setRolloutPercentage, up, verify } from '../dist/index.js';
import { createFlags } from '../dist/sdk/index.js';
import { startServer } from '../dist/server/index.js';
import { CHROMIUM_ARGS as ARGS, CHROMIUM } from './chromium.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs', 'screenshots');
const TOKEN = 'screenshot-token-0123456789';
const ACTOR = 'ada@ops';
const SPLIT = '20261201090000_split_full_name';
const FILL = '20261201100000_fill_name_length';
const keep = process.argv.includes('--keep');

const project = mkdtempSync(join(tmpdir(), 'ferry-screens-'));
const dataDir = join(project, '.ferry', 'local');
const log = (s) => console.log(`screenshots: ${s}`);

function write(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** The project: config, users, the split (flag, stages, health window, checks, approvals), the slow backfill, a planned index. */
function writeProject() {
  write(
    join(project, 'ferry.config.json'),
    JSON.stringify({ defaultEnv: 'local', environments: { local: { dataDir: '.ferry/local', requireApproval: false } } }, null, 2),
  );
  const m = (id, manifest, files) => {
    write(join(project, 'migrations', id, 'migration.json'), JSON.stringify(manifest, null, 2));
    for (const [f, sql] of Object.entries(files)) write(join(project, 'migrations', id, f), sql);
  };
  m(
    '20261130120000_create_users',
    { title: 'create users', summary: 'the users table of the accounts service', type: 'schema-additive', strategy: 'big-bang', steps: [{ id: 'create' }] },
    {
      'create.up.sql': `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text NOT NULL, email text);
INSERT INTO users (full_name, email) SELECT (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Ken'])[1 + g % 6] || ' ' || (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Thompson'])[1 + g % 6], 'user' || g || '@example.com' FROM generate_series(1, 3000) g;\n`,
      'create.down.sql': 'DROP TABLE users;\n',
    },
  );
  m(
    SPLIT,
    {
      title: 'split full_name into first_name and last_name',
      summary: 'first_name and last_name beside full_name, kept in sync; full_name goes at cleanup',
      type: 'data-format',
      strategy: 'incremental',
      flag: 'split-names',
      rollout: { stages: [5, 25, 50, 75, 100].map((percent) => ({ percent, hold: '30min' })) },
      health: { interval: '10s', window: '1min', thresholds: { minRequests: 50 } },
      plan: {
        scope: { systems: ['accounts API', 'billing export'], users: 'every signed-in user' },
        risks: [{ risk: 'names without a space split badly', likelihood: 'medium', impact: 'low', mitigation: 'last_name empty; reviewed by support' }],
        successCriteria: [{ text: 'names split for every user', proof: 'no-data-errors' }],
        approvals: ['Tech Lead', 'Product Owner'],
        deprecationPeriod: '30d',
      },
      steps: [
        {
          id: 'split-name',
          kind: 'op',
          op: 'split-column',
          table: 'users',
          column: 'full_name',
          into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
          merge: "first_name || ' ' || last_name",
        },
      ],
      checks: [
        {
          name: 'first-names-match',
          kind: 'checksum',
          source: { table: 'users' },
          target: { table: 'users' },
          key: ['id'],
          columns: [{ name: 'first_name', source: "split_part(full_name, ' ', 1)", target: 'first_name' }],
        },
      ],
    },
    {},
  );
  m(
    FILL,
    {
      title: 'fill name_length of people',
      summary: 'a derived column, filled in keyset batches beside live traffic',
      type: 'data-format',
      strategy: 'incremental',
      steps: [
        { id: 'add-column' },
        {
          id: 'fill',
          kind: 'backfill',
          table: 'people',
          set: { name_length: 'length(name)' },
          where: 'name_length IS NULL',
          batchSize: { initial: 100, min: 50, max: 400 },
          targetBatchMs: 40,
          sleepRatio: 3,
        },
      ],
    },
    {
      'add-column.up.sql': `CREATE TABLE people (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
INSERT INTO people (name) SELECT 'Person ' || g FROM generate_series(1, 200000) g;
ALTER TABLE people ADD COLUMN name_length int;\n`,
      'add-column.down.sql': 'DROP TABLE people;\n',
    },
  );
  m(
    '20261202080000_index_user_email',
    {
      title: 'index users by email',
      summary: 'sign-in looks users up by email',
      type: 'schema-additive',
      strategy: 'big-bang',
      steps: [{ id: 'index', transaction: false }],
    },
    { 'index.up.sql': 'CREATE INDEX CONCURRENTLY users_email ON users (email);\n', 'index.down.sql': 'DROP INDEX CONCURRENTLY users_email;\n' },
  );
}

/** Bring the migrations to their phases and record what the pages show (metrics over ~20 s, a failing check, an approval). */
async function prepare() {
  const ws = await loadWorkspace({ root: project, actor: ACTOR });
  const { migrations } = ws;
  const byId = (id) => migrations.find((m) => m.id === id);
  const run = { ...ws.run, lockWaitMs: 5000, requireApproval: false };
  const db = await openPglite({ dataDir });
  try {
    await approve(db, byId(SPLIT), { role: 'Tech Lead', actor: 'grace@eng', reason: 'reviewed the plan and the rollback plan', lockWaitMs: 5000 });
    await up(db, migrations, { ...run, only: '20261130120000_create_users' });
    await up(db, migrations, { ...run, only: SPLIT });
    await setRolloutPercentage(db, byId(SPLIT), 5, { actor: ACTOR, lockWaitMs: 5000, reason: 'canary' });
    await advanceRolloutStage(db, byId(SPLIT), { actor: ACTOR, lockWaitMs: 5000, now: { reason: 'canary green for an hour in staging' } });
    await up(db, migrations, { ...run, only: FILL, until: 'add-column' });
    // Three rows whose first_name disagrees with full_name (the sync trigger bypassed), for the verify section.
    await db.query('SET session_replication_role = replica');
    await db.query("UPDATE users SET first_name = 'Adah' WHERE id IN (7, 61, 1203)");
    await db.query('SET session_replication_role = DEFAULT');
    await verify(db, migrations, { actor: ACTOR, lockWaitMs: 5000, project: ws.project, conn: ws.conn, checks: { mode: 'full' } });
    log('recording cohort metrics for 20 s …');
    const flags = createFlags({ db }, { metrics: { flushIntervalMs: 1000, bucketMs: 1000 } });
    for (let t = 0; t < 40; t++) {
      for (let i = 0; i < 30; i++) {
        const slow = t > 25 ? 6 : 0;
        flags.record('split-names', `n${t}-${i}`, { latencyMs: 22 + ((i * 7) % 15) + slow, cohort: 'new', error: (t * 30 + i) % 180 === 0 });
        flags.record('split-names', `o${t}-${i}`, { latencyMs: 20 + ((i * 5) % 14), cohort: 'old', error: (t * 30 + i) % 400 === 0 });
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await flags.flush();
    await flags.close();
    // One judgement of the health controller (`ferry rollout <id> run`), stopped after its first evaluation: yellow pauses.
    const stop = new AbortController();
    await runRollout(db, migrations, byId(SPLIT), {
      actor: ACTOR,
      lockWaitMs: 5000,
      intervalMs: 1000,
      run: ws.run,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'evaluation') stop.abort();
      },
    });
  } finally {
    await db.close();
  }
}

/** Screenshot one element of the page with a margin, from the full page (the sticky header never covers it). */
async function shoot(page, selector, file) {
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`nothing to screenshot at ${selector}`);
  const m = 12;
  await page.screenshot({
    path: join(out, file),
    fullPage: true,
    clip: { x: Math.max(0, box.x - m), y: Math.max(0, box.y - m), width: box.width + 2 * m, height: box.height + 2 * m },
  });
}

async function main() {
  writeProject();
  await prepare();
  const server = await startServer({ root: project, port: 0, token: TOKEN, actor: ACTOR });
  log(`serving ${server.url}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${server.url}/signin`);
    await page.fill('#token', TOKEN);
    await page.fill('#name', 'Ada');
    await Promise.all([page.waitForURL(`${server.url}/`), page.click('#signin-form button[type=submit]')]);
    // The slow backfill runs in the server, started as the dashboard's button does.
    const started = await page.evaluate(
      async (id) =>
        (await fetch(`/api/v1/migrations/${id}/backfill/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status,
      FILL,
    );
    if (started !== 202 && started !== 200) throw new Error(`backfill start answered ${started}`);
    await new Promise((r) => setTimeout(r, 8000));
    mkdirSync(out, { recursive: true });
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#live-state[data-state="on"]');
    await page.screenshot({ path: join(out, 'overview.png'), fullPage: true });
    await page.goto(`${server.url}/migrations/${FILL}`);
    await page.waitForSelector('#live-state[data-state="on"]');
    await page.waitForTimeout(400);
    await shoot(page, '#backfill', 'migration-backfill.png');
    // Pause the backfill (as its button does), so the other pages hold still while they are taken.
    await page.evaluate(
      async (id) => fetch(`/api/v1/migrations/${id}/backfill/pause`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      FILL,
    );
    await page.waitForTimeout(1500);
    for (const section of ['rollout', 'health', 'verify', 'documents', 'steps']) {
      await page.goto(`${server.url}/migrations/${SPLIT}`);
      await page.waitForSelector('#live-state[data-state="on"]');
      await page.waitForTimeout(400);
      await shoot(page, `#${section}`, `migration-${section}.png`);
    }
    await page.goto(`${server.url}/migrations/${SPLIT}`);
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(out, 'migration.png') });
    await shoot(page, '.grid2', 'migration-timeline.png');
    log(`wrote ${out}`);
  } finally {
    await browser.close();
    await server.close();
    if (!keep) rmSync(project, { recursive: true, force: true });
    else log(`project kept: ${project}`);
  }
}

main().catch((err) => {
  console.error(`screenshots FAILED: ${err.stack ?? err}`);
  process.exit(1);
});
