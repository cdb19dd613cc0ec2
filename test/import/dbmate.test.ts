import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { emptyServerTarget, type TestTarget } from '../helpers/databases.js';
import { fingerprint, schemaDump } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

// The real dbmate (its npm package ships the binary) applies a fixture; ferry imports its folder and its
// history, applies one new migration alone, and rolls back with the imported down SQL.

const DBMATE = resolve(import.meta.dirname, '../../node_modules/.bin/dbmate');

/** Five dbmate migrations: a table, a column, a concurrent index (outside a transaction), a data update, a second table. */
const FIXTURE: Record<string, string> = {
  '20250101000001_create_users.sql': '-- migrate:up\nCREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n\n-- migrate:down\nDROP TABLE users;\n',
  '20250101000002_add_email.sql': '-- migrate:up\nALTER TABLE users ADD COLUMN email text;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN email;\n',
  '20250101000003_index_email.sql':
    '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\n-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY users_email_idx;\n',
  '20250101000004_fill_emails.sql':
    "-- migrate:up\nINSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace');\nUPDATE users SET email = name || '@example.com' WHERE email IS NULL;\n\n-- migrate:down\nUPDATE users SET email = NULL;\nDELETE FROM users WHERE id IN (1, 2);\n",
  '20250101000005_create_orders.sql':
    '-- migrate:up\nCREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id), total numeric(10, 2));\n\n-- migrate:down\nDROP TABLE orders;\n',
};

async function dbmate(url: string, dir: string, ...args: string[]): Promise<void> {
  await promisify(execFile)(DBMATE, ['--url', `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`, '--migrations-dir', dir, '--no-dump-schema', ...args]);
}

/** What the application sees: the schema dump without ferry's own schema. */
const appSchema = (url: string) => schemaDump(url, { withoutFerry: true });

function writeFixture(root: string): string {
  const dir = join(root, 'db', 'migrations');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(FIXTURE)) writeFileSync(join(dir, name), text);
  return dir;
}

const target = await emptyServerTarget();
if (!target) console.log('skipping the dbmate import tests: no PostgreSQL server at FERRY_TEST_DATABASE_URL (they run in CI)');

describe.runIf(target !== undefined)('ferry import --from dbmate, with the real dbmate', () => {
  const server = target as TestTarget & { url: string };

  it('imports the folder and its history, applies a new migration alone, and rolls back with the imported down SQL', async () => {
    const p = createProject(server);
    const dir = writeFixture(p.root);
    await dbmate(server.url, dir, 'up');
    const afterTool = await appSchema(server.url);

    const dry = await runFerryJson<{ migrations: { id: string; applied: boolean; folder: string }[] }>(p.root, [
      'import',
      '--from',
      'dbmate',
      '--env',
      'test',
      '--dry-run',
      '--json',
    ]);
    expect(dry.code).toBe(0);
    expect(dry.json.migrations.map((m) => [m.applied, m.folder])).toEqual(Array(5).fill([true, 'written']));
    expect(readdirSync(join(p.root, 'migrations'))).toEqual([]);

    const imported = await runFerryJson<{ table: string; migrations: { id: string; recorded: boolean; steps: number }[] }>(p.root, [
      'import',
      '--from',
      'dbmate',
      '--env',
      'test',
      '--json',
    ]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.json.table).toBe('public.schema_migrations');
    const ids = imported.json.migrations.map((m) => m.id);
    expect(ids).toEqual([
      '20250101000001_create_users',
      '20250101000002_add_email',
      '20250101000003_index_email',
      '20250101000004_fill_emails',
      '20250101000005_create_orders',
    ]);
    expect(imported.json.migrations.every((m) => m.recorded)).toBe(true);
    // Nothing ran: the application's schema is the tool's, and dbmate's own table still lists its five versions.
    expect(await appSchema(server.url)).toBe(afterTool);

    const status = await runFerryJson<{ migrations: { id: string; appliedCount: number; steps: unknown[] }[] }>(p.root, ['status', '--json']);
    expect(status.code).toBe(0);
    expect(status.json.migrations.map((m) => [m.id, m.appliedCount === m.steps.length && m.appliedCount > 0])).toEqual(ids.map((id) => [id, true]));

    // Importing again changes nothing.
    const again = await runFerryJson<{ migrations: { folder: string; recorded: boolean }[] }>(p.root, [
      'import',
      '--from',
      'dbmate',
      '--env',
      'test',
      '--json',
    ]);
    expect(again.json.migrations.map((m) => [m.folder, m.recorded])).toEqual(Array(5).fill(['unchanged', false]));

    p.migration('20991231000000_add_notes', [{ id: 'notes', up: 'ALTER TABLE users ADD COLUMN notes text;', down: 'ALTER TABLE users DROP COLUMN notes;' }]);
    const up = await runFerryJson<{ steps: { migrationId: string }[] }>(p.root, ['up', '--json']);
    expect(up.code).toBe(0);
    expect(up.json.steps.map((s) => s.migrationId)).toEqual(['20991231000000_add_notes']);

    const down = await runFerry(p.root, ['down', '20991231000000_add_notes']);
    expect(down.code).toBe(0);
    expect(await appSchema(server.url)).toBe(afterTool);

    // The last imported migration rolls back with dbmate's own down SQL: the schema dbmate's rollback leaves.
    const own = await emptyServerTarget();
    const ownUrl = (own as TestTarget & { url: string }).url;
    await dbmate(ownUrl, dir, 'up');
    await dbmate(ownUrl, dir, 'rollback');
    const rolledBack = await runFerry(p.root, ['down', '20250101000005_create_orders']);
    expect(rolledBack.stderr).toBe('');
    expect(rolledBack.code).toBe(0);
    const withoutHistory = (s: string) => s.replace(/schema_migrations[\s\S]*?;/g, '');
    expect(withoutHistory(await appSchema(server.url))).toBe(withoutHistory(await appSchema(ownUrl)));
  });

  it('refuses, writing and recording nothing, when a migration dbmate applied has no file', async () => {
    const p = createProject(server);
    const fresh = (await emptyServerTarget()) as TestTarget & { url: string };
    writeFileSync(
      join(p.root, 'ferry.config.json'),
      JSON.stringify({ defaultEnv: 'test', environments: { test: { url: fresh.url, requireApproval: false } } }),
    );
    const dir = writeFixture(p.root);
    await dbmate(fresh.url, dir, 'up');
    rmSync(join(dir, '20250101000002_add_email.sql'));
    const before = await fingerprint(fresh);
    const r = await runFerry(p.root, ['import', '--from', 'dbmate', '--env', 'test']);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain('public.schema_migrations records 20250101000002 as applied, but no migration file has that version');
    expect(r.stderr).toContain('nothing was written');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(join(p.root, 'migrations'))).toEqual([]);
    expect(await fingerprint(fresh)).toBe(before);
  });

  it('without --env writes the migrations only, and says which tool and files each came from', async () => {
    const p = createProject(server);
    writeFixture(p.root);
    const r = await runFerry(p.root, ['import', '--from', 'dbmate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('+ 20250101000003_index_email  20250101000003_index_email.sql  written; 1 step');
    expect(readdirSync(join(p.root, 'migrations')).filter((f) => !f.endsWith('.json'))).toHaveLength(5);
  });
});
