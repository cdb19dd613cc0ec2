#!/usr/bin/env node
// The workflow's own example, end to end, on an embedded database (no server):
// a users table, then split_full_name done with zero-downtime operations, with an
// old and a new version of a tiny application (scripts/demo-app.js) reading and
// writing while the migration expands, backfills and contracts.
// Every ferry command is a real `ferry` child process. The embedded database is
// one process's at a time, so the stretches where the applications run beside the
// migration drive ferry's library (the same code the CLI runs) in this process.
// Any failure exits non-zero, so `npm run demo` doubles as a smoke test.
// `--clean` deletes the project at the end; `--serve` leaves `ferry serve` running on it (URL and token printed) until Ctrl-C.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contract, loadAll, openPglite, up } from '../dist/index.js';
import { createFlags } from '../dist/sdk/index.js';
import { describeApp, startApp } from './demo-app.js';
import { compatDemo } from './demo-compat.js';
import { healthDemo } from './demo-health.js';
import * as usersApi from './demo-users-api.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ferryBin = join(root, 'bin', 'ferry.js');
const clean = process.argv.includes('--clean');
const serveAtEnd = process.argv.includes('--serve');
const project = mkdtempSync(join(tmpdir(), 'ferry-demo-'));
const TOTAL = 39;
let n = 0;
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);

function fail(message) {
  process.stderr.write(`\ndemo FAILED: ${message}\nproject kept for inspection: ${project}\n`);
  process.exit(1);
}

/** Run `ferry <args> --project <dir>` with inherited stdio; stop the demo unless it exits with `expect`. */
function ferry(args, what, { expect = 0 } = {}) {
  n += 1;
  console.log(`\n${bold(`── ${n}/${TOTAL}  ferry ${args.join(' ')} ──`)}`);
  console.log(dim(what));
  const r = spawnSync(process.execPath, [ferryBin, ...args, '--project', project], { stdio: 'inherit', env: { ...process.env, FERRY_ACTOR: 'demo' } });
  if (r.error) fail(`could not start ferry ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== expect) fail(`\`ferry ${args.join(' ')}\` exited with ${r.status ?? r.signal} (expected ${expect})`);
}

/** A numbered step that runs in this process (the applications and ferry's library on one embedded database). */
async function inProcess(title, what, fn) {
  n += 1;
  console.log(`\n${bold(`── ${n}/${TOTAL}  ${title} ──`)}`);
  console.log(dim(what));
  const db = await openPglite({ dataDir: join(project, '.ferry', 'local') });
  try {
    await fn(db);
  } catch (err) {
    fail(`${title}: ${err.message}`);
  } finally {
    await db.close();
  }
}

/** The demo's stages are held 2 s; wait them out rather than skip them with --now. */
function waitForHold() {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2100);
}

/** `ferry new …`, then replace the skeleton's files with ours; returns the migration id. */
function newMigration(name, type, strategy, manifest, files) {
  ferry(['new', name, '--type', type, '--strategy', strategy], `scaffold migrations/<timestamp>_${name}, then write its manifest and SQL files`);
  const migrations = join(project, 'migrations');
  const id = readdirSync(migrations).find((d) => d.endsWith(`_${name}`));
  if (!id) fail(`ferry new did not create a folder for ${name}`);
  const dir = join(migrations, id);
  for (const f of readdirSync(dir)) rmSync(join(dir, f));
  writeFileSync(join(dir, 'migration.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), `${sql.trim()}\n`);
  console.log(dim(`  wrote ${['migration.json', ...Object.keys(files)].join(', ')}`));
  return id;
}

console.log(bold(`ferry demo — throwaway project in ${project}`));

ferry(['init'], 'make the folder a ferry project: ferry.config.json, migrations/, and the embedded "local" database in .ferry/local');

const seed = newMigration(
  'seed_users',
  'schema-additive',
  'big-bang',
  {
    title: 'seed users',
    summary: 'The starting point of the example: a users table with one full_name column and 300,000 rows.',
    type: 'schema-additive',
    strategy: 'big-bang',
    steps: [{ id: 'create-users', description: 'users(id, full_name, email) with 300,000 rows, some with non-ASCII names' }],
  },
  {
    'create-users.up.sql': `
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  full_name text NOT NULL,
  email text NOT NULL
);
INSERT INTO users (full_name, email)
SELECT (ARRAY['José Álvarez', 'Zoë Brontë', 'Ada Lovelace', 'Grace Brewster Hopper', 'Björk', 'Søren Kierkegaard', '王 小明'])[1 + i % 7],
       'user' || i || '@example.com'
  FROM generate_series(1, 300000) AS i;`,
    'create-users.down.sql': 'DROP TABLE users;',
    'create-users.verify.sql': `
SELECT to_regclass('public.users') IS NOT NULL;
SELECT count(*) >= 300000 FROM users;`,
  },
);

const LAST_NAME = "nullif(substr(full_name, length(split_part(full_name, ' ', 1)) + 2), '')";
const split = newMigration(
  'split_full_name',
  'data-format',
  'incremental',
  {
    title: 'split full_name',
    summary: 'Split users.full_name into first_name and last_name, and give users a preferences document, without downtime.',
    type: 'data-format',
    strategy: 'incremental',
    flag: 'split-full-name',
    pointOfNoReturn: null,
    plan: {
      scope: { systems: ['users service', 'account page'], users: 'every user; the new path first for a sticky 5 %' },
      risks: [
        {
          risk: 'the backfill slows writes to users',
          likelihood: 'low',
          impact: 'medium',
          mitigation: 'batches sized to 200 ms, throttled on lock waits; pause with ferry backfill --pause',
        },
        { risk: 'names split wrongly for some rows', likelihood: 'medium', impact: 'high', mitigation: 'the names-match checksum check before verified' },
      ],
      successCriteria: [
        { text: 'every user has first_name and last_name', proof: 'backfilled' },
        { text: 'the split names match full_name for every row', proof: 'verified' },
        { text: 'no data errors left in the verified data', proof: 'no-data-errors' },
      ],
      rollbackCriteria: ['any red health matrix', 'a failing names-match check'],
      deprecationPeriod: '30d',
    },
    rollout: {
      stages: [
        { percent: 5, hold: '2s' },
        { percent: 25, hold: '2s' },
        { percent: 50, hold: '2s' },
        { percent: 75, hold: '2s' },
        { percent: 100, hold: '2s' },
      ],
      include: ['user-7', 'user-1001'],
      exclude: ['user-test-1', 'user-test-2'],
    },
    api: {
      name: 'users',
      versions: [{ version: 'v1' }, { version: 'v2' }],
      guide: 'https://docs.example.com/users/upgrade-to-v2',
      mapping: [
        { old: 'name', new: 'firstName + lastName', note: 'split at the first space; a one-word name has lastName null' },
        { old: 'email', new: 'emailAddress' },
      ],
      allow: [{ consumer: 'partner-acme', version: 'v1', until: '2099-12-31' }],
      module: 'api.js',
    },
    steps: [
      {
        id: 'split-name',
        kind: 'op',
        op: 'split-column',
        description: 'first_name and last_name beside full_name, kept in sync both ways, backfilled, with v1 and v2 views',
        table: 'users',
        column: 'full_name',
        into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: LAST_NAME } },
        merge: "concat_ws(' ', first_name, last_name)",
      },
      {
        id: 'preferences',
        kind: 'op',
        op: 'add-column',
        description: "preferences jsonb NOT NULL DEFAULT '{}': a catalog-only change",
        table: 'users',
        column: 'preferences',
        type: 'jsonb',
        default: "'{}'",
        notNull: true,
      },
      { id: 'preferences-index', kind: 'op', op: 'add-index', table: 'users', name: 'users_preferences_gin', columns: ['preferences'], using: 'gin' },
    ],
    checks: [
      {
        name: 'names-match',
        kind: 'checksum',
        source: { table: 'users' },
        target: { table: 'users' },
        key: ['id'],
        columns: [
          { name: 'first_name', source: "split_part(full_name, ' ', 1)", target: 'first_name' },
          { name: 'last_name', source: LAST_NAME, target: 'last_name' },
        ],
      },
    ],
  },
  { 'api.js': readFileSync(join(root, 'scripts', 'demo-users-api.js'), 'utf8') },
);

/** The run options the CLI would use, for the stretches driven from this process. */
const runOpts = { actor: 'demo', lockTimeoutMs: 2000, lockRetries: 5, retryBaseMs: 100, requireApproval: false, lockWaitMs: 30_000 };
const loadSplit = async () => (await loadAll(join(project, 'migrations'))).find((m) => m.id === split);

ferry(['lint', split], "the linter parses the SQL the operations generate with PostgreSQL's own parser: locks per statement, findings, type and risk");
ferry(['up', seed], 'apply only the seed migration: create users and insert 300,000 rows');
ferry(['up', split, '--dry-run'], 'run split_full_name in a transaction that is rolled back: SQL, rows touched, schema changes and locks — nothing changes');

await inProcess(
  'expand and backfill while app v1 runs; then app v2 joins',
  'app v1 reads and writes full_name the whole time; ferry up adds the columns, the sync trigger, backfills 300,000 rows and publishes the v1 and v2 views',
  async (db) => {
    const v1 = startApp(db, 1);
    const report = await up(db, await loadAll(join(project, 'migrations')), { ...runOpts, only: split });
    console.log(`  ferry up: ${report.steps.map((s) => s.stepId).join(', ')}`);
    const v2 = startApp(db, 2);
    await new Promise((r) => setTimeout(r, 1500));
    const [s1, s2] = [await v1.stop(), await v2.stop()];
    console.log(`  ${describeApp(s1)}\n  ${describeApp(s2)}`);
    if (s1.failures.length + s2.failures.length > 0) throw new Error('an application statement failed');
    const { rows: byV1 } = await db.query('SELECT full_name, first_name, last_name FROM users WHERE id = $1', [s1.insertedIds.at(-1)]);
    const { rows: byV2 } = await db.query('SELECT full_name, first_name, last_name FROM users WHERE id = $1', [s2.insertedIds.at(-1)]);
    console.log(`  a row app v1 wrote (full_name only), seen by v2: ${JSON.stringify(byV1[0])}`);
    console.log(`  a row app v2 wrote (first/last only), seen by v1: ${JSON.stringify(byV2[0])}`);
    if (!byV1[0]?.first_name || !byV2[0]?.full_name) throw new Error('the two shapes are not in sync');
  },
);

ferry(['status'], 'split_full_name is backfilled; its contract step waits for ferry contract');
ferry(
  ['verify', '--status', '--full'],
  "after the backfill: every applied step's verify SQL, and the manifest's checks (a checksum of the split names against full_name); --status says whether each migration is complete",
);
ferry(['rehearse', split], 'on a scratch copy of the database: down → up → compare the schema → verify; proves the rollback');
ferry(['down', split], 'roll split_full_name back for real, last step first: the index, preferences, views, backfill, trigger, columns');
ferry(['up'], 'apply split_full_name again with a progress bar: rolled-back → expanded → backfilling → backfilled');
ferry(['rollout', split, 'set', '5'], 'canary: turn the new path on for a sticky 5 % of units (backfilled → canary)');
ferry(['flag', 'get', 'split-full-name', '--unit', 'user-42'], "a unit's bucket (0..9999) and whether it is in; the SDK and ferry.bucket() in SQL agree");
ferry(
  ['rollout', split, 'status'],
  "the canary's size and composition: 5 % by bucket, two edge-case users always in, two test accounts never in nor counted; the migration stage; the shape each app version reads",
);
for (const stage of ['25', '50', '75', '100']) {
  waitForHold();
  ferry(['rollout', split, 'advance'], `the 2 s hold has elapsed: advance to ${stage} %`);
}
waitForHold();
ferry(['rollout', split, 'advance'], 'the 100 % hold has passed and health is not red: rolling → rolled-out');

ferry(['verify', split, '--full'], "every applied step's verify SQL and the names-match checksum pass: rolled-out → verified");

await inProcess('corrupt three rows on purpose', 'a buggy bulk load that bypasses the sync trigger writes wrong first names into three rows', async (db) => {
  await db.transaction(async (tx) => {
    await tx.query("SET LOCAL session_replication_role = 'replica'");
    await tx.query("UPDATE users SET first_name = 'Corrupted' WHERE id IN (4242, 123456, 299999)");
  });
});
ferry(
  ['verify', split, '--full'],
  'the checksum check cuts users into key ranges, hashes each inside the database, bisects the ranges that differ and names exactly the three rows; a failing run after verified moves the migration back: verified → rolled-out',
  { expect: 12 },
);
ferry(
  ['contract', split],
  "refused (exit 9), nothing changed: the names-match check's latest result failed, and full_name — the only source to repair the three rows from — must not be dropped",
  { expect: 9 },
);
await inProcess('repair the three rows', 'recompute them from full_name', async (db) => {
  await db.query("UPDATE users SET first_name = split_part(full_name, ' ', 1) WHERE first_name = 'Corrupted'");
});
ferry(['verify', split, '--full'], 'every check passes again: rolled-out → verified');

ferry(
  ['rollout', split, 'stage', 'dualwrite'],
  'the migration stage of ferry/compat: off → dualwrite (writes go to the old side, then the new), logged like every rollout move',
);
ferry(['rollout', split, 'stage', 'shadow'], 'dualwrite → shadow: reads still answer from the old side; the new side is read beside it and compared');
await inProcess(
  'ferry/compat: a shadow read and the users API in two versions',
  'a shadow read compares the new first/last-name path with full_name for 400 users (mismatches would be data errors that stop a rollout); then /v1 and /v2 of one handler, with the clock set past T+60 d (deprecation headers) and T+90 d (410 Gone), counted from the day the flag reached 100 %',
  (db) => compatDemo({ db, manifest: JSON.parse(readFileSync(join(project, 'migrations', split, 'migration.json'), 'utf8')), usersApi }),
);
ferry(
  ['consumers', split],
  "who still calls the old version, how often and when last seen, with each consumer's timeline; cleanup is refused while one called it within 7 days",
);
ferry(
  ['upgrade-guide', split],
  "the consumers' upgrade guide from the manifest: field mapping, dates, headers, and v1/v2 examples produced by the adapters of api.js",
);

await inProcess(
  'contract while app v2 and the flag-reading app run',
  'app v1 is retired; app v2 and the version that asks the flag per user (default false) keep reading and writing while ferry contract checks its gates, backs up users, drops the views, the trigger and full_name (the point of no return) and graduates the flag',
  async (db) => {
    const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 200, metrics: false });
    await flags.ready();
    const v2 = startApp(db, 2);
    const byFlag = startApp(db, flags);
    await new Promise((r) => setTimeout(r, 300));
    const report = await contract(db, await loadSplit(), { ...runOpts, backup: { dir: join(project, '.ferry', 'backups') } });
    await new Promise((r) => setTimeout(r, 300));
    const [s2, sf] = [await v2.stop(), await byFlag.stop()];
    await flags.close();
    if (report.backup) console.log(`  backup ${report.backup.id}: ${report.backup.objects.map((o) => `${o.table} ${o.rows} rows`).join(', ')}`);
    console.log(`  ferry contract: ${report.steps.map((s) => s.stepId).join(', ')}; ${report.transitions.map((t) => `${t.from} → ${t.to}`).join(', ')}`);
    if (report.flagGraduated) console.log(`  flag ${report.flagGraduated} graduated: on for everyone for good, whatever default the code passes`);
    console.log(`  ${describeApp(s2)}\n  ${describeApp(sf)}`);
    if (s2.failures.length + sf.failures.length > 0) throw new Error('an application statement failed');
  },
);

await inProcess(
  'health gates and the rollout controller',
  'a simulated service sends traffic through the SDK; the controller (ferry rollout <id> run) promotes a healthy change to 100 % and rolls back one whose new cohort fails',
  (db) => healthDemo({ db, project }),
);

ferry(['status'], 'split_full_name is contracted: full_name, the views and the trigger are gone; checkout-v2 rolled out, search-v2 rolled back');
ferry(['log', split], 'the append-only event log: every phase change, verify, rehearsal and flag change, by whom and why');
ferry(
  ['report', split],
  'the migration report, rendered from the recorded state: timeline, stages, backfill, checks, incidents; success criteria ticked only from the log',
);
ferry(
  ['cleanup', split, '--force', '--reason', 'demo: the 90-day deprecation period cannot pass in a demo'],
  'forced past the deprecation period and the consumer gate (mobile-app called v1 minutes ago): the contract (already done above, with its backup — no second one), the flag kept as a graduated tombstone, folder archived to migrations/archive/YYYYMM/, contracted → archived',
);
await inProcess(
  'the flag-reading app after cleanup',
  'the flag is a graduated tombstone: the SDK answers true even though the code passes false as its default, and warns once that the `if` can go',
  async (db) => {
    const warnings = [];
    const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 200, metrics: false, onWarning: (message) => warnings.push(message) });
    await flags.ready();
    const app = startApp(db, flags);
    await new Promise((r) => setTimeout(r, 1000));
    const s = await app.stop();
    await flags.close();
    console.log(`  ${describeApp(s)}`);
    for (const w of warnings) console.log(`  SDK warning: ${w}`);
    if (s.failures.length > 0) throw new Error('an application statement failed after cleanup');
    if (s.newPath !== s.reads) throw new Error(`${s.reads - s.newPath} requests went to the old path after cleanup`);
    if (warnings.length !== 1) throw new Error(`expected one graduation warning, got ${warnings.length}`);
  },
);
ferry(['retro', split], "the retrospective's five questions with this migration's numbers");

console.log(`\n${bold('demo passed')} — ${n} steps, each as expected.`);
console.log(
  "shown: init, new, lint, up (one migration), up --dry-run, expand + backfill with two app versions running, status, verify --status --full, rehearse, down, up again, rollout 5 → 25 → 50 → 75 → 100 %, flag get, the canary's composition, verify --full finding corrupted rows by bisection (verified → rolled-out), contract refused on failing data, migration stages, a shadow read, a versioned API with its deprecation headers and 410, consumers, the upgrade guide, contract with backup and flag graduation while the apps run, health gates promoting and rolling back, log, report, cleanup leaving a graduated tombstone, retro, the flag-reading app still serving after cleanup",
);
if (serveAtEnd) await serveDemo();
if (clean) {
  rmSync(project, { recursive: true, force: true });
  console.log(`removed ${project}`);
} else {
  console.log(`project kept at ${project}  (try: node bin/ferry.js status --project ${project})`);
  console.log(dim('run with --clean to delete it afterwards: npm run demo -- --clean'));
}

/** `--serve`: the dashboard on the demo's project, until Ctrl-C (port 4100, or a free one when it is taken). */
async function serveDemo() {
  const { startServer } = await import('../dist/server/index.js');
  const options = { root: project, actor: 'demo' };
  let server;
  try {
    server = await startServer({ ...options, port: 4100 });
  } catch (err) {
    if (!/already in use/.test(err.message)) fail(`ferry serve: ${err.message}`);
    server = await startServer({ ...options, port: 0 });
  }
  console.log(`\n${bold('ferry serve')} — the dashboard on the demo's project: ${bold(server.url)}`);
  console.log(`token ${bold(server.token)}  ${dim('(sign in with it on the dashboard to act; without it the dashboard is read-only)')}`);
  console.log(dim(`the same as: FERRY_SERVE_TOKEN=${server.token} node bin/ferry.js serve --project ${project}`));
  console.log(dim('Ctrl-C stops it'));
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
}
