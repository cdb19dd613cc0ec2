import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { transition } from '../../src/workflow/lifecycle.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';
import { rowsOf as sql } from '../helpers/rows.js';

const USERS = '0001_users';
const PREFS = '0002_prefs';

/** A migration folder whose manifest lists `steps` (operations). */
function writeMigration(p: TestProject, id: string, steps: Record<string, unknown>[]): void {
  const dir = join(p.root, 'migrations', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'migration.json'), JSON.stringify({ title: id, summary: 'data loss test', type: 'schema-additive', strategy: 'incremental', steps }));
}

/** 500 users, then the preferences column the new app writes. */
function usersWithPreferences(p: TestProject, extra: Record<string, unknown>[] = []): void {
  p.migration(USERS, [
    {
      id: 'users',
      up: `CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL);
           INSERT INTO users SELECT g, 'First' || g || ' Last' || g FROM generate_series(1, 500) g;`,
      down: 'DROP TABLE users;',
    },
  ]);
  writeMigration(p, PREFS, [
    { id: 'prefs', kind: 'op', op: 'add-column', table: 'users', column: 'preferences', type: 'jsonb', default: `'{}'::jsonb` },
    ...extra,
  ]);
}

/** The new app writes preferences for 378 of the 500 users. */
const APP_WRITES = `UPDATE users SET preferences = jsonb_build_object('theme', CASE WHEN id % 2 = 0 THEN 'dark' ELSE 'light' END, 'id', id) WHERE id <= 378`;
const PREFERENCES = `SELECT id::int AS id, preferences::text AS p FROM users ORDER BY id`;
const hasColumn = async (t: TestTarget, c: string) =>
  (await sql<{ n: number }>(t, `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = '${c}'`))[0]?.n === 1;

interface DownJson {
  dataLoss: { stepId: string; table: string; column?: string; rows: number }[];
  saved?: { id: string; resumed: boolean; objects: { rows: number; file: string }[] };
}

forEachDriver('down counts, refuses, saves and restores values the old shape cannot regenerate', (suite) => {
  it('down of an add-column with app-written values: refused (exit 19, schema unchanged), done with --accept-data-loss, and ferry restore puts the 378 values back after up', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    usersWithPreferences(p);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    await sql(target, APP_WRITES);
    const written = await sql<{ id: number; p: string }>(target, PREFERENCES);

    const refused = await runFerry(p.root, ['down', PREFS]);
    expect(refused.code, refused.stderr).toBe(19);
    expect(refused.stderr).toContain('[E_DATA_LOSS]');
    expect(refused.stderr).toContain('users.preferences 378 rows (step prefs.add-column)');
    expect(refused.stderr).toContain('--accept-data-loss');
    expect(await hasColumn(target, 'preferences')).toBe(true);
    expect(await sql(target, PREFERENCES)).toEqual(written);

    const done = await runFerryJson<DownJson>(p.root, ['down', PREFS, '--accept-data-loss']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.json.dataLoss).toEqual([{ stepId: 'prefs.add-column', table: 'users', column: 'preferences', rows: 378 }]);
    expect(done.json.saved?.objects.map((o) => o.rows)).toEqual([378]);
    expect(await hasColumn(target, 'preferences')).toBe(false);
    const id = done.json.saved?.id as string;

    const early = await runFerry(p.root, ['restore', id]);
    expect(early.code).toBe(9);
    expect(early.stderr).toContain('column preferences of public.users does not exist');
    expect(early.stderr).toContain(`ferry up ${PREFS}`);

    expect((await runFerry(p.root, ['up', PREFS])).code).toBe(0);
    const restored = await runFerryJson<{ values: { restored: number; saved: number; notRestored: number }[] }>(p.root, ['restore', id]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.json.values).toEqual([{ table: 'users', column: 'preferences', saved: 378, restored: 378, notRestored: 0 }]);
    expect(await sql(target, PREFERENCES)).toEqual(written);
  });

  it('a create-table rollback with rows is counted and refused', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    writeMigration(p, '0001_audit', [
      {
        id: 'audit',
        kind: 'op',
        op: 'create-table',
        table: 'audit_log',
        columns: [
          { name: 'id', type: 'bigint', primaryKey: true },
          { name: 'note', type: 'text' },
        ],
      },
    ]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    await sql(target, `INSERT INTO audit_log SELECT g, 'event ' || g FROM generate_series(1, 7) g`);
    const r = await runFerry(p.root, ['down']);
    expect(r.code).toBe(19);
    expect(r.stderr).toContain('table audit_log 7 rows (step audit.create-table)');
    expect((await sql<{ n: number }>(target, 'SELECT count(*)::int AS n FROM audit_log'))[0]?.n).toBe(7);
  });

  it('a split-column rollback loses nothing (the sync trigger wrote the new values back): no refusal', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    usersWithPreferences(p);
    writeMigration(p, PREFS, [
      {
        id: 'split',
        kind: 'op',
        op: 'split-column',
        table: 'users',
        column: 'full_name',
        into: { first_name: { type: 'text', expr: `split_part(full_name, ' ', 1)` }, last_name: { type: 'text', expr: `split_part(full_name, ' ', 2)` } },
        merge: `first_name || ' ' || last_name`,
      },
    ]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    await sql(target, `UPDATE users SET first_name = 'Zed' WHERE id <= 10`);
    const r = await runFerryJson<DownJson>(p.root, ['down', PREFS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.dataLoss).toEqual([]);
    expect(r.json.saved).toBeUndefined();
    expect(await sql(target, `SELECT full_name FROM users WHERE id = 3`)).toEqual([{ full_name: 'Zed Last3' }]);
  });

  it('a raw-sql rollback that drops a column is counted; down --dry-run and rollback-plan show the count and change nothing', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    usersWithPreferences(p, [
      { id: 'nick', kind: 'op', op: 'raw-sql', forward: 'ALTER TABLE users ADD COLUMN nickname text', rollback: 'ALTER TABLE users DROP COLUMN nickname;' },
    ]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    await sql(target, `UPDATE users SET nickname = 'n' || id WHERE id IN (1, 2, 3)`);
    await sql(target, `UPDATE users SET preferences = '{"a": 1}' WHERE id <= 4`);

    const dry = await runFerryJson<DownJson & { dryRun: boolean }>(p.root, ['down', PREFS, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json.dataLoss).toEqual([
      { stepId: 'nick.sql', table: 'users', column: 'nickname', rows: 3 },
      { stepId: 'prefs.add-column', table: 'users', column: 'preferences', rows: 4 },
    ]);
    const human = await runFerry(p.root, ['down', PREFS, '--dry-run']);
    expect(human.stdout).toContain('data loss users.nickname: 3 rows of values the old shape cannot regenerate (step nick.sql); down needs --accept-data-loss');
    expect(await hasColumn(target, 'nickname')).toBe(true);

    const plan = await runFerry(p.root, ['rollback-plan', PREFS]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('| nick.sql | `users.nickname` | 3 |');
    expect(plan.stdout).toContain('| prefs.add-column | `users.preferences` | 4 |');
    expect(plan.stdout).toContain(`ferry down ${PREFS} --accept-data-loss`);
    expect((await runFerry(p.root, ['down', PREFS])).code).toBe(19);
  });

  it('the rollback plan of a contracted migration shows only the restore tier, and why', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    usersWithPreferences(p);
    writeMigration(p, PREFS, [
      { id: 'prefs', kind: 'op', op: 'add-column', table: 'users', column: 'preferences', type: 'jsonb' },
      { id: 'drop-name', kind: 'op', op: 'drop-column', table: 'users', column: 'full_name' },
    ]);
    const dir = join(p.root, 'migrations', PREFS);
    const manifest = JSON.parse(readFileSync(join(dir, 'migration.json'), 'utf8'));
    writeFileSync(join(dir, 'migration.json'), JSON.stringify({ ...manifest, flag: 'prefs-on' }));
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    expect((await runFerry(p.root, ['backup', PREFS])).code).toBe(0);
    const db = await target.open();
    try {
      // The lifecycle's own moves up to verified, without the rollout: the gates on the way are not what this test is about.
      for (const to of ['canary', 'rolled-out', 'verified'] as const) {
        await db.transaction((tx) => transition(tx, PREFS, to, { actor: 'test', reason: `test: ${to}` }));
      }
    } finally {
      await db.close();
    }
    const contracted = await runFerry(p.root, ['contract', PREFS]);
    expect(contracted.code, contracted.stderr).toBe(0);
    const plan = await runFerry(p.root, ['rollback-plan', PREFS]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('## Only the full rollback remains');
    expect(plan.stdout).toContain('the point of no return is passed');
    expect(plan.stdout).toContain('the flag `prefs-on` graduated at contract');
    expect(plan.stdout).toMatch(/ferry restore \S+_prefs_\S+ --replace/);
    expect(plan.stdout).not.toContain('ferry flag set');
    expect(plan.stdout).not.toContain(`ferry down ${PREFS}`);
    expect(plan.stdout).not.toContain('Quick rollback (');
  });
});
