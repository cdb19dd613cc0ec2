import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { observable } from '../helpers/engine.js';
import { createProject, runFerry, type TestProject } from '../helpers/project.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;

function writeMigration(p: TestProject, id: string, steps: Record<string, unknown>[]): void {
  const dir = join(p.root, 'migrations', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'migration.json'), JSON.stringify({ title: id, summary: 'cli test', type: 'data-format', strategy: 'incremental', steps }));
}

async function fingerprint(target: TestTarget): Promise<string> {
  const db = await target.open();
  try {
    return await observable(db, true);
  } finally {
    await db.close();
  }
}

forEachDriver('ferry up and ferry plan check operations against the live catalog', (suite) => {
  it('up and up --dry-run exit 4 naming each step and object, plan lists the problems, and the database is unchanged', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_users', [{ id: 'users', up: 'CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL);', down: 'DROP TABLE users;' }]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    writeMigration(p, '0002_split', [
      {
        id: 'split-name',
        kind: 'op',
        op: 'split-column',
        table: 'users',
        column: 'full_nme',
        into: { first_name: { type: 'text', expr: 'full_nme' } },
        merge: 'first_name',
      },
      { id: 'add-status', kind: 'op', op: 'add-column', table: 'accounts', column: 'status', type: 'text' },
    ]);
    const before = await fingerprint(target);
    for (const args of [['up'], ['up', '--dry-run']]) {
      const r = await runFerry(p.root, args);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('[E_MANIFEST] migration 0002_split does not fit this database (2 problems)');
      expect(r.stderr).toContain('step split-name: table public.users has no column "full_nme"');
      expect(r.stderr).toContain('step add-status: table public.accounts does not exist');
      expect(r.stderr).not.toMatch(NO_STACK);
    }
    const plan = await runFerry(p.root, ['plan', '0002_split']);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('- step split-name: table public.users has no column "full_nme"');
    expect(await fingerprint(target)).toBe(before);
  });

  it('a migration whose operations on one table cannot compose is refused when it loads (exit 4), naming both steps', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_users', [{ id: 'users', up: 'CREATE TABLE users (id bigint PRIMARY KEY, amount int NOT NULL);', down: 'DROP TABLE users;' }]);
    writeMigration(p, '0002_amount', [
      { id: 'widen', kind: 'op', op: 'change-type', table: 'users', column: 'amount', type: 'bigint', using: 'amount::bigint', reverse: 'amount::int' },
      { id: 'drop-amount', kind: 'op', op: 'drop-column', table: 'users', column: 'amount' },
    ]);
    const r = await runFerry(p.root, ['up']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/steps "widen" and "drop-amount": both change column "amount" of public\.users/);
    expect(r.stderr).not.toMatch(NO_STACK);
    const db = await target.open();
    try {
      expect((await db.query(`SELECT to_regclass('public.users') IS NULL AS none`)).rows[0]).toEqual({ none: true });
    } finally {
      await db.close();
    }
  });
});
