import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { emptyServerTarget, type TestTarget } from '../helpers/databases.js';
import { fingerprint, schemaDump } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

// The real Drizzle Kit (`drizzle-kit migrate`) applies a fixture in its layout (NNNN_tag.sql with
// statement breakpoints, meta/_journal.json); ferry imports the folder and drizzle.__drizzle_migrations,
// whose hashes Drizzle computed, applies a new migration alone and rolls it back to Drizzle's schema.

const DRIZZLE_KIT = resolve(import.meta.dirname, '../../node_modules/.bin/drizzle-kit');

const MIGRATIONS = [
  ['0000_create_users', 'CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);'],
  ['0001_add_email', 'ALTER TABLE users ADD COLUMN email text;'],
  ['0002_index_email', 'CREATE INDEX users_email_idx ON users (email);'],
  [
    '0003_fill_emails',
    "INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace');\n--> statement-breakpoint\nUPDATE users SET email = name || '@example.com';",
  ],
  ['0004_create_orders', 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id));'],
] as const;

/** Drizzle's folder and a drizzle.config.mjs for `url`; returns the config file. */
function writeDrizzleProject(root: string, url: string): string {
  mkdirSync(join(root, 'drizzle', 'meta'), { recursive: true });
  for (const [tag, sql] of MIGRATIONS) writeFileSync(join(root, 'drizzle', `${tag}.sql`), `${sql}\n`);
  const entries = MIGRATIONS.map(([tag], idx) => ({ idx, version: '7', when: 1_700_000_000_000 + idx * 1000, tag, breakpoints: true }));
  writeFileSync(join(root, 'drizzle', 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }, null, 2));
  const config = join(root, 'drizzle.config.mjs');
  writeFileSync(config, `export default ${JSON.stringify({ dialect: 'postgresql', out: './drizzle', dbCredentials: { url } })};\n`);
  return config;
}

async function drizzleMigrate(root: string, config: string): Promise<void> {
  await promisify(execFile)(DRIZZLE_KIT, ['migrate', '--config', config], { cwd: root });
}

/** What the application sees: the schema dump without ferry's own schema. */
const appSchema = (url: string) => schemaDump(url, { withoutFerry: true });

/** The ferry id of each: Drizzle's `when` (what it records as created_at) and the tag's name. */
const IDS = MIGRATIONS.map(([tag], idx) => `${1_700_000_000_000 + idx * 1000}_${tag.slice(5)}`);

const target = await emptyServerTarget();
if (!target) console.log('skipping the Drizzle Kit import tests: no PostgreSQL server at FERRY_TEST_DATABASE_URL (they run in CI)');

describe.runIf(target !== undefined)('ferry import --from drizzle, with the real Drizzle Kit', () => {
  it('imports the folder and the hashes Drizzle recorded, applies a new migration alone, and rolls it back to the schema Drizzle left', async () => {
    const server = target as TestTarget & { url: string };
    const p = createProject(server);
    await drizzleMigrate(p.root, writeDrizzleProject(p.root, server.url));
    const afterTool = await appSchema(server.url);

    const imported = await runFerryJson<{ table: string; problems: unknown[]; migrations: { id: string; recorded: boolean; irreversible: boolean }[] }>(
      p.root,
      ['import', '--from', 'drizzle', '--env', 'test', '--json'],
    );
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.json.table).toBe('drizzle.__drizzle_migrations');
    expect(imported.json.problems).toEqual([]);
    expect(imported.json.migrations.map((m) => [m.id, m.recorded, m.irreversible])).toEqual(IDS.map((id) => [id, true, true]));
    expect(await appSchema(server.url)).toBe(afterTool);

    const status = await runFerryJson<{ migrations: { id: string; appliedCount: number; steps: unknown[] }[] }>(p.root, ['status', '--json']);
    expect(status.json.migrations.map((m) => [m.id, m.appliedCount === m.steps.length && m.appliedCount > 0])).toEqual(IDS.map((id) => [id, true]));

    p.migration('20991231000000_add_notes', [{ id: 'notes', up: 'ALTER TABLE users ADD COLUMN notes text;', down: 'ALTER TABLE users DROP COLUMN notes;' }]);
    const up = await runFerryJson<{ steps: { migrationId: string }[] }>(p.root, ['up', '--json']);
    expect(up.code).toBe(0);
    expect(up.json.steps.map((s) => s.migrationId)).toEqual(['20991231000000_add_notes']);
    expect((await runFerry(p.root, ['down', '20991231000000_add_notes'])).code).toBe(0);
    expect(await appSchema(server.url)).toBe(afterTool);

    // Drizzle keeps no down SQL: the imported step is irreversible, and down stops before it.
    const down = await runFerry(p.root, ['down', IDS[4] as string]);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/irreversible/);
    expect(await appSchema(server.url)).toBe(afterTool);
  });

  it('refuses, writing and recording nothing, a file edited after Drizzle applied it (its recorded hash)', async () => {
    const fresh = (await emptyServerTarget()) as TestTarget & { url: string };
    const p = createProject(fresh);
    await drizzleMigrate(p.root, writeDrizzleProject(p.root, fresh.url));
    writeFileSync(join(p.root, 'drizzle', '0001_add_email.sql'), 'ALTER TABLE users ADD COLUMN email varchar(200);\n');
    const before = await fingerprint(fresh);
    const r = await runFerry(p.root, ['import', '--from', 'drizzle', '--env', 'test']);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/0001_add_email\.sql was edited after it was applied: drizzle\.__drizzle_migrations records checksum [0-9a-f]{64}/);
    expect(readdirSync(join(p.root, 'migrations'))).toEqual([]);
    expect(await fingerprint(fresh)).toBe(before);
  });
});
