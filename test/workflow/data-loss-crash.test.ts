import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { forEachDriver } from '../helpers/databases.js';
import { startFerry } from '../helpers/process.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';
import { rowsOf as sql } from '../helpers/rows.js';

const PREFS = '0002_prefs';

const PREFERENCES = `SELECT id::int AS id, preferences::text AS p FROM users ORDER BY id`;
const ROLLBACK_COPIES = `SELECT id, location, objects::text AS objects FROM ferry.backups WHERE objects @> '[{"purpose": "rollback"}]'::jsonb`;

forEachDriver('down --accept-data-loss killed between the save and the drop', (suite) => {
  it('the rerun finishes, nothing is lost, and the one saved copy holds each of the 378 values once', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_users', [
      {
        id: 'users',
        up: `CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL);
             INSERT INTO users SELECT g, 'User ' || g FROM generate_series(1, 500) g;`,
        down: 'DROP TABLE users;',
      },
    ]);
    const dir = join(p.root, 'migrations', PREFS);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'migration.json'),
      JSON.stringify({
        title: 'preferences',
        summary: 'crash test',
        type: 'schema-additive',
        strategy: 'incremental',
        steps: [
          { id: 'prefs', kind: 'op', op: 'add-column', table: 'users', column: 'preferences', type: 'jsonb' },
          // Rolled back first, after the save and before the drop: the kill lands while it sleeps.
          { id: 'slow', kind: 'op', op: 'raw-sql', forward: 'SELECT 1', rollback: 'SELECT pg_sleep(4)' },
        ],
      }),
    );
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    await sql(target, `UPDATE users SET preferences = jsonb_build_object('n', id, 'note', E'tab\\there "quoted"') WHERE id <= 378`);
    const written = await sql<{ id: number; p: string | null }>(target, PREFERENCES);

    const run = startFerry(p.root, ['down', PREFS, '--accept-data-loss']);
    await run.waitForOutput('before dropping them');
    run.kill('SIGKILL');
    const killed = await run.done;
    expect(killed.signal).toBe('SIGKILL');
    const first = await sql<{ id: string; location: string; objects: string }>(target, ROLLBACK_COPIES);
    expect(first).toHaveLength(1);
    expect(await sql(target, PREFERENCES)).toEqual(written);

    const rerun = await runFerryJson<{ saved: { id: string; resumed: boolean } }>(p.root, ['down', PREFS, '--accept-data-loss']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.json.saved).toMatchObject({ id: first[0]?.id, resumed: true });
    const copies = await sql<{ id: string; location: string; objects: string }>(target, ROLLBACK_COPIES);
    expect(copies.map((c) => c.id)).toEqual([first[0]?.id]);
    const [object] = JSON.parse(copies[0]?.objects ?? '[]') as { file: string; rows: number }[];
    const lines = readFileSync(join(copies[0]?.location ?? '', object?.file ?? ''), 'utf8')
      .trim()
      .split('\n');
    const keys = lines.map((l) => (JSON.parse(l) as string[])[0]);
    expect(object?.rows).toBe(378);
    expect(lines).toHaveLength(378);
    expect(new Set(keys).size).toBe(378);
    expect(
      (
        await sql<{ n: number }>(target, `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'preferences'`)
      )[0]?.n,
    ).toBe(0);

    expect((await runFerry(p.root, ['up', PREFS])).code).toBe(0);
    const restored = await runFerryJson<{ values: { restored: number }[] }>(p.root, ['restore', first[0]?.id ?? '']);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.json.values.map((v) => v.restored)).toEqual([378]);
    expect(await sql(target, PREFERENCES)).toEqual(written);
  });
});
