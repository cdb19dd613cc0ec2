#!/usr/bin/env node
// The workflow's own example, end to end, on an embedded database (no server):
// a users table, then split_full_name as four reversible, verified steps.
// Every command is a real `ferry` child process; any failure exits non-zero,
// so `npm run demo` doubles as a smoke test. `--clean` deletes the project at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ferryBin = join(root, 'bin', 'ferry.js');
const clean = process.argv.includes('--clean');
const project = mkdtempSync(join(tmpdir(), 'ferry-demo-'));
const TOTAL = 20;
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

const column = (name) =>
  `SELECT count(*) = 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = '${name}';`;

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

const split = newMigration(
  'split_full_name',
  'data-format',
  'incremental',
  {
    title: 'split full_name',
    summary: 'Split users.full_name into first_name and last_name, and give users a preferences document; full_name stays until cleanup.',
    type: 'data-format',
    strategy: 'incremental',
    flag: 'split-full-name',
    pointOfNoReturn: null,
    rollout: {
      stages: [
        { percent: 5, hold: '2s' },
        { percent: 25, hold: '2s' },
        { percent: 50, hold: '2s' },
        { percent: 75, hold: '2s' },
        { percent: 100, hold: '2s' },
      ],
    },
    steps: [
      { id: 'add-columns', description: 'nullable first_name and last_name: a catalog-only change' },
      {
        id: 'fill-names',
        kind: 'backfill',
        description: 'backfill both columns from full_name in keyset batches, checkpointed, with a progress bar',
        table: 'users',
        set: {
          first_name: "split_part(full_name, ' ', 1)",
          last_name: "nullif(substr(full_name, length(split_part(full_name, ' ', 1)) + 2), '')",
        },
        where: 'first_name IS NULL',
        rollback: { first_name: 'NULL', last_name: 'NULL' },
      },
      { id: 'add-preferences', description: "preferences jsonb NOT NULL DEFAULT '{}' (no table rewrite on PostgreSQL 11+)" },
      { id: 'index-preferences', description: 'GIN index built without blocking writes', transaction: false },
    ],
  },
  {
    'add-columns.up.sql': 'ALTER TABLE users ADD COLUMN first_name text, ADD COLUMN last_name text;',
    'add-columns.down.sql': 'ALTER TABLE users DROP COLUMN first_name, DROP COLUMN last_name;',
    'add-columns.verify.sql': `${column('first_name')}\n${column('last_name')}`,
    'add-preferences.up.sql': "ALTER TABLE users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}';",
    'add-preferences.down.sql': 'ALTER TABLE users DROP COLUMN preferences;',
    'add-preferences.verify.sql': `
${column('preferences')}
SELECT count(*) = 0 FROM users WHERE preferences IS NULL;`,
    'index-preferences.up.sql': 'CREATE INDEX CONCURRENTLY users_preferences_gin ON users USING gin (preferences);',
    'index-preferences.down.sql': 'DROP INDEX CONCURRENTLY IF EXISTS users_preferences_gin;',
    'index-preferences.verify.sql': `
SELECT count(*) = 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname = 'users_preferences_gin' AND i.indisvalid;`,
  },
);

ferry(['up', seed], 'apply only the seed migration: create users and insert 300,000 rows');
ferry(['up', split, '--dry-run'], 'run split_full_name in a transaction that is rolled back: SQL, rows touched, schema changes and locks — nothing changes');
ferry(
  ['up'],
  'apply the pending steps for real: each SQL step with its record in one transaction, the backfill in checkpointed batches with a progress bar, the index outside a transaction',
);
ferry(['verify', '--status'], "run every applied step's verify SQL; --status also says whether each migration is complete");
ferry(['rehearse', split], 'on a scratch copy of the database: down → up → compare the schema → verify; proves the rollback');
ferry(['down', split], 'roll split_full_name back for real, last step first: the index, preferences, the names, the columns');
ferry(['status'], 'seed_users stays expanded; split_full_name is rolled-back with 0 of 4 steps applied');
ferry(['up'], 'apply split_full_name again: rolled-back → expanded → backfilling → backfilled');
ferry(['verify', '--status'], 'both migrations complete again and every check passes');
ferry(['rollout', split, 'set', '5'], 'canary: turn the new path on for a sticky 5 % of units (backfilled → canary)');
ferry(['flag', 'get', 'split-full-name', '--unit', 'user-42'], "a unit's bucket (0..9999) and whether it is in; the SDK and ferry.bucket() in SQL agree");
for (const stage of ['25', '50', '75', '100']) {
  waitForHold();
  ferry(['rollout', split, 'advance'], `the 2 s hold has elapsed: advance to ${stage} %${stage === '100' ? ' (rolling → rolled-out)' : ''}`);
}
ferry(['rollout', split, 'status'], 'the stage schedule, the current percentage and how long it has been held');
ferry(['log', split], 'the append-only event log: every phase change, verify, rehearsal and flag change, by whom and why');

console.log(`\n${bold('demo passed')} — ${n} ferry commands, each exited 0.`);
console.log(
  'shown: init, new, up (one migration), up --dry-run, up with a backfill, verify --status, rehearse, down, status, up again, verify, rollout 5 → 25 → 50 → 75 → 100 %, flag get, log',
);
if (clean) {
  rmSync(project, { recursive: true, force: true });
  console.log(`removed ${project}`);
} else {
  console.log(`project kept at ${project}  (try: node bin/ferry.js status --project ${project})`);
  console.log(dim('run with --clean to delete it afterwards: npm run demo -- --clean'));
}
