import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

async function ok(p: TestProject, args: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

const phaseOf = async (p: TestProject, id: string, env = p.env) =>
  (await runFerryJson<{ migrations: { id: string; phase: string }[] }>(p.root, ['status', '--env', env])).json.migrations.find((m) => m.id === id)?.phase;

/** Wait until the current stage's hold has elapsed. */
async function holdElapsed(p: TestProject, id: string, env = p.env): Promise<void> {
  while ((await runFerryJson<{ remainingMs: number }>(p.root, ['rollout', id, 'status', '--env', env])).json.remainingMs > 0)
    await new Promise((r) => setTimeout(r, 200));
}

const envOf = (t: TestTarget) => (t.kind === 'server' ? { url: t.url, requireApproval: false } : { dataDir: t.dataDir });

forEachDriver('small but misleading output', (suite) => {
  it('the plan counts users and public.users as one table; down --dry-run names the table it drops', async () => {
    const p = createProject(await suite.fresh());
    p.migration('0001_users', [
      { id: 'create', up: 'CREATE TABLE users (id int); INSERT INTO users SELECT g FROM generate_series(1, 200) g;', down: 'DROP TABLE users;' },
    ]);
    p.migration('0002_cols', [
      { id: 'add-a', up: 'ALTER TABLE users ADD COLUMN a int;', down: 'ALTER TABLE users DROP COLUMN a;' },
      { id: 'add-b', up: 'ALTER TABLE public.users ADD COLUMN b int;', down: 'ALTER TABLE public.users DROP COLUMN b;' },
    ]);
    await ok(p, ['up', '0001_users']);
    const plan = await ok(p, ['plan', '0002_cols']);
    expect(plan).toContain('| `users` | 200 |');
    expect(plan.match(/\| 200 \|/g)).toHaveLength(1);
    expect(plan).not.toContain('Total:');
    expect(plan).toMatch(/\| `users` \| 200 \| [^|]+ \| add-a, add-b \|/);

    const dry = await ok(p, ['down', '0001_users', '--dry-run']);
    expect(dry).toContain('AccessExclusiveLock on public.users (dropped)');
    expect(dry).not.toContain('(dropped relation');
  });

  it('approvals voided by an edit: the refusal gives the approve commands', async () => {
    const target = await suite.fresh();
    const p = createProject(target, { environments: { test: { ...envOf(target), requireApproval: true } } });
    splitProject(p);
    const approvals = (file: string) => ({ ...JSON.parse(readFileSync(file, 'utf8')), plan: { approvals: ['Tech Lead'] } });
    writeFileSync(p.file('0001_users', 'migration.json'), JSON.stringify(approvals(p.file('0001_users', 'migration.json'))));
    await ok(p, ['approve', '0001_users', '--as', 'Tech Lead']);
    await ok(p, ['approve', SPLIT, '--as', 'Tech Lead']);
    await ok(p, ['approve', SPLIT, '--as', 'Product Owner']);
    await ok(p, ['up']);
    await ok(p, ['rollout', SPLIT, 'set', '50']);
    const file = p.file(SPLIT, 'migration.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), summary: 'edited after approval' }));
    const before = await fingerprint(target);
    const refused = await runFerry(p.root, ['rollout', SPLIT, 'advance', '--now', '--reason', 'go']);
    expect(refused.code).toBe(9);
    expect(refused.stderr).toContain('its approvals no longer hold');
    expect(refused.stderr).toContain(`ferry approve ${SPLIT} --as "Tech Lead"`);
    expect(refused.stderr).toContain(`ferry approve ${SPLIT} --as "Product Owner"`);
    expect(refused.stderr).not.toContain('meet the condition above');
    expect(await fingerprint(target)).toBe(before);
  });

  it('rolled-out only after the 100 % hold, with health not red: advance at 100 % is refused before the hold and while data errors are red', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    splitProject(p);
    const file = p.file(SPLIT, 'migration.json');
    const stages = [
      { percent: 50, hold: '1s' },
      { percent: 100, hold: '1h' },
    ];
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), rollout: { stages } }));
    await ok(p, ['up']);
    await ok(p, ['rollout', SPLIT, 'set', '100', '--now', '--reason', 'hotfix must reach everyone']);
    expect(await phaseOf(p, SPLIT)).toBe('rolling');
    for (const args of [[], ['--now', '--reason', 'skip the last hold']]) {
      const early = await runFerry(p.root, ['rollout', SPLIT, 'advance', ...args]);
      expect(early.code, early.stderr).toBe(9);
      expect(early.stderr).toMatch(/cannot mark .* rolled out: the 100 % stage has been held .* of 1h/);
    }
    expect(await phaseOf(p, SPLIT)).toBe('rolling');

    // The same with a 1 s hold: red data errors (more than 5) refuse it; once repaired it is rolled out.
    stages[1] = { percent: 100, hold: '1s' };
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), rollout: { stages } }));
    await ok(p, ['acknowledge', SPLIT, '--reason', 'shorter last hold']);
    const db = await target.open();
    try {
      await db.transaction(async (tx) => {
        await tx.query("SET LOCAL session_replication_role = 'replica'");
        await tx.query("UPDATE users SET first_name = 'Corrupted' WHERE id <= 8");
      });
    } finally {
      await db.close();
    }
    expect((await runFerry(p.root, ['verify', SPLIT, '--full'])).code).toBe(12);
    await holdElapsed(p, SPLIT);
    const red = await runFerry(p.root, ['rollout', SPLIT, 'advance']);
    expect(red.code, red.stderr).toBe(9);
    expect(red.stderr).toMatch(/cannot mark .* rolled out: health is red \(.*data errors/);
    expect(await phaseOf(p, SPLIT)).toBe('rolling');

    const again = await target.open();
    try {
      await again.query("UPDATE users SET first_name = split_part(full_name, ' ', 1) WHERE id <= 8");
    } finally {
      await again.close();
    }
    await ok(p, ['verify', SPLIT, '--full']);
    const done = await ok(p, ['rollout', SPLIT, 'advance']);
    expect(done).toContain('rolling → rolled-out');
    expect(await phaseOf(p, SPLIT)).toBe('rolled-out');
  }, 900_000);

  it('an environment contracted but not archived reports no drift after another environment archived the migration', async () => {
    const a = await suite.fresh();
    const b = await suite.fresh();
    const p = createProject(a, { defaultEnv: 'a', environments: { a: envOf(a), b: envOf(b) } });
    p.migration('0001_t', [{ id: 'create', up: 'CREATE TABLE t (id int, old int);', down: 'DROP TABLE t;' }]);
    p.migration(
      '0002_drop_old',
      [
        { id: 'add', up: 'ALTER TABLE t ADD COLUMN new int;', down: 'ALTER TABLE t DROP COLUMN new;' },
        { id: 'drop-old', up: 'ALTER TABLE t DROP COLUMN old;', down: 'ALTER TABLE t ADD COLUMN old int;' },
      ],
      {
        flag: 'new-column',
        rollout: { stages: [{ percent: 100, hold: '1s' }] },
        steps: [
          { id: 'add', transaction: true },
          { id: 'drop-old', transaction: true, phase: 'contract' },
        ],
      },
    );
    const id = '0002_drop_old';
    for (const env of ['a', 'b']) {
      await ok(p, ['up', '--env', env]);
      await ok(p, ['rollout', id, 'set', '100', '--env', env]);
      await holdElapsed(p, id, env);
      await ok(p, ['rollout', id, 'advance', '--env', env]);
      await ok(p, ['verify', id, '--full', '--env', env]);
    }
    await ok(p, ['contract', id, '--env', 'b']);
    await ok(p, ['cleanup', id, '--force', '--reason', 'test: archive in a', '--env', 'a']);
    const inB = await b.open();
    try {
      expect((await inB.query<{ phase: string }>('SELECT phase FROM ferry.migrations WHERE id = $1', [id])).rows).toEqual([{ phase: 'contracted' }]);
    } finally {
      await inB.close();
    }

    const status = await runFerryJson<{ drift: unknown[] }>(p.root, ['status', '--env', 'b']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json.drift).toEqual([]);
    expect((await runFerry(p.root, ['up', '--env', 'b'])).code).toBe(0);
  }, 900_000);
});

describe('the README documents flag --reason', () => {
  it('names --reason for flag set and flag remove and says what it does', () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const row = readme.split('\n').find((l) => l.startsWith('| `ferry flag set')) ?? '';
    expect(row).toContain('`ferry flag set <key> <true\\|false\\|PERCENT> [--reason TEXT]`');
    expect(row).toContain('`flag remove <key> [--reason TEXT]`');
    expect(row).toContain("`--reason` says why: it is recorded with the change in the migration's log");
    expect(row).toContain('`ferry flag set split-full-name false --reason "error rate up"`');
  });
});
