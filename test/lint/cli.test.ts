import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import type { Finding } from '../../src/lint/index.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

interface LintJson {
  ok: boolean;
  refused: number;
  catalog?: { env: string; target: string; tables: number; indexes: number };
  reports: {
    target: string;
    findings: Finding[];
    refused: Finding[];
    classification: { inferred: string; risk: string };
    statements: { locks: { mode: string }[] }[];
    catalog?: { searchPath: string[]; tables: number; indexes: number };
  }[];
}

/** Run `sql` on the test target directly (between CLI runs, so PGlite's directory is free). */
async function onTarget(target: TestTarget, sql: string): Promise<void> {
  const db = target.kind === 'pglite' ? await openPglite({ dataDir: target.dataDir as string }) : await target.open();
  try {
    await db.exec(sql);
  } finally {
    await db.close();
  }
}

/** Set the manifest's `lint.acknowledge` of a test migration. */
function acknowledge(p: TestProject, id: string, rules: string[]): void {
  const manifest = p.file(id, 'migration.json');
  const m = JSON.parse(readFileSync(manifest, 'utf8'));
  writeFileSync(manifest, JSON.stringify({ ...m, lint: { acknowledge: rules } }, null, 2));
}

describe('ferry lint', () => {
  it('lints a .sql file without a project or database: exit 15 on an error finding, 0 once disabled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-lint-file-'));
    const file = join(dir, 'hotfix.sql');
    writeFileSync(file, "SET lock_timeout = '2s';\nCREATE INDEX users_email_idx ON users (email);\n");
    const r = await runFerryJson<LintJson>(dir, ['lint', file]);
    expect(r.code).toBe(15);
    expect(r.json.ok).toBe(false);
    expect(r.json.reports[0]?.refused.map((f) => [f.rule, f.line])).toEqual([['index-not-concurrent', 2]]);
    expect(r.json.reports[0]?.statements[1]?.locks[0]?.mode).toBe('ShareLock');
    const human = await runFerry(dir, ['lint', file]);
    expect(human.code).toBe(15);
    expect(human.stdout).toContain('index-not-concurrent');
    expect(human.stdout).toContain('fix: use the add-index operation');
    expect(human.stderr).toContain('[E_LINT]');

    writeFileSync(
      file,
      "SET lock_timeout = '2s';\n-- ferry-lint-disable index-not-concurrent -- lookup table, 12 rows\nCREATE INDEX users_email_idx ON users (email);\n",
    );
    const ok = await runFerryJson<LintJson>(dir, ['lint', file]);
    expect(ok.code).toBe(0);
    expect(ok.json.reports[0]?.findings.map((f) => [f.rule, f.status])).toEqual([['index-not-concurrent', 'disabled']]);
  });

  it('--help shows examples and the exit codes', async () => {
    const r = await runFerry(process.cwd(), ['lint', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ferry lint scripts/hotfix.sql --json');
    expect(r.stdout).toContain('15 error findings not acknowledged');
  });
});

forEachDriver('ferry lint and ferry up', (suite) => {
  it('lints one migration by id with --json, and up refuses it (exit 15, database unchanged) until acknowledged', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_accounts', [{ id: 'create', up: 'CREATE TABLE accounts (id int PRIMARY KEY, email text);', down: 'DROP TABLE accounts;' }]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const id = p.migration('0002_email_index', [
      { id: 'index', up: 'CREATE INDEX accounts_email_idx ON accounts (email);', down: 'DROP INDEX accounts_email_idx;' },
      { id: 'note', up: 'ALTER TABLE accounts ADD COLUMN note text;', down: 'ALTER TABLE accounts DROP COLUMN note;' },
    ]);

    const all = await runFerryJson<LintJson>(p.root, ['lint']);
    expect(all.code).toBe(15);
    expect(all.json.reports.map((r) => r.target)).toEqual(['0001_accounts', id]);
    const one = await runFerryJson<LintJson>(p.root, ['lint', id]);
    expect(one.code).toBe(15);
    expect(one.json.reports).toHaveLength(1);
    expect(one.json.reports[0]?.refused).toMatchObject([{ rule: 'index-not-concurrent', stepId: 'index', severity: 'error' }]);
    expect(one.json.reports[0]?.classification).toMatchObject({ inferred: 'schema-additive', risk: 'high' });
    expect((await runFerryJson<LintJson>(p.root, ['lint', '0001_accounts'])).code).toBe(0);

    const before = await runFerryJson<{ migrations: { id: string; appliedCount: number; phase: string }[] }>(p.root, ['status']);
    const refused = await runFerry(p.root, ['up']);
    expect(refused.code).toBe(15);
    expect(refused.stderr).toContain(`${id}/index.up.sql:1 [index-not-concurrent]`);
    expect(refused.stderr).toContain('-- ferry-lint-disable index-not-concurrent');
    expect(refused.stderr).toContain('"acknowledge": ["index:index-not-concurrent"]');
    const after = await runFerryJson<typeof before.json>(p.root, ['status']);
    expect(after.json).toEqual(before.json);
    const db = target.kind === 'pglite' ? await openPglite({ dataDir: target.dataDir as string }) : await target.open();
    try {
      const cols = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'`,
      );
      expect(cols.rows[0]?.n).toBe(0);
      const idx = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'accounts_email_idx'`);
      expect(idx.rows[0]?.n).toBe(0);
    } finally {
      await db.close();
    }

    const manifest = p.file(id, 'migration.json');
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    writeFileSync(manifest, JSON.stringify({ ...m, lint: { acknowledge: ['index:index-not-concurrent'] } }, null, 2));
    expect((await runFerry(p.root, ['lint', id])).code).toBe(0);
    const ok = await runFerryJson<{ steps: { stepId: string; status: string }[] }>(p.root, ['up']);
    expect(ok.code).toBe(0);
    expect(ok.json.steps.map((s) => [s.stepId, s.status])).toEqual([
      ['index', 'applied'],
      ['note', 'applied'],
    ]);
  });

  it('lint --env reads the catalog: a widening is not flagged, int → bigint is, with the table measured; up judges the same way', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_accounts', [
      {
        id: 'create',
        up: "CREATE TABLE accounts (id int PRIMARY KEY, email varchar(50), n int); INSERT INTO accounts SELECT g, 'a' || g, g FROM generate_series(1, 100) g;",
        down: 'DROP TABLE accounts;',
      },
    ]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    await onTarget(target, 'ANALYZE accounts');
    const id = p.migration('0002_widen', [
      { id: 'widen', up: 'ALTER TABLE accounts ALTER COLUMN email TYPE text;', down: 'ALTER TABLE accounts ALTER COLUMN email TYPE varchar(50);' },
      { id: 'grow', up: 'ALTER TABLE accounts ALTER COLUMN n TYPE bigint;', down: 'ALTER TABLE accounts ALTER COLUMN n TYPE int;' },
    ]);

    const offline = await runFerryJson<LintJson>(p.root, ['lint', id]);
    expect(offline.code).toBe(15);
    expect(offline.json.catalog).toBeUndefined();
    expect(offline.json.reports[0]?.refused.map((f) => [f.stepId, f.rule, f.catalog])).toEqual([
      ['widen', 'column-type-change', undefined],
      ['grow', 'column-type-change', undefined],
    ]);

    const live = await runFerryJson<LintJson>(p.root, ['lint', id, '--env', 'test']);
    expect(live.code).toBe(15);
    expect(live.json.catalog).toMatchObject({ env: 'test', tables: 1, indexes: 1 });
    expect(live.json.reports[0]?.catalog).toEqual({ searchPath: ['public'], tables: 1, indexes: 1 });
    const [grow, ...others] = live.json.reports[0]?.refused ?? [];
    expect(others).toEqual([]);
    expect(grow).toMatchObject({ stepId: 'grow', rule: 'column-type-change' });
    expect(grow?.catalog).toMatchObject({ table: 'public.accounts', found: true, rows: 100, column: { name: 'n', type: 'integer' } });
    expect(grow?.catalog?.bytes).toBeGreaterThan(0);
    expect(grow?.message).toMatch(/integer → bigint is not binary-coercible \(public\.accounts: ~100 rows, [\d.]+ kB\)$/);
    const human = await runFerry(p.root, ['lint', id, '--env', 'test']);
    expect(human.stdout).toMatch(/catalog of test \(.+\): 1 tables, 1 indexes/);
    expect(human.stdout).toContain('~100 rows');

    const refused = await runFerry(p.root, ['up']);
    expect(refused.code).toBe(15);
    expect(refused.stderr).toContain(`${id}/grow.up.sql:1 [column-type-change]`);
    expect(refused.stderr).toContain('~100 rows');
    expect(refused.stderr).not.toContain('widen.up.sql');
    acknowledge(p, id, ['grow:column-type-change']);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
  });

  it('up refuses REINDEX, LOCK TABLE and DROP INDEX on existing objects (exit 15, nothing run) until acknowledged', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_accounts', [
      {
        id: 'create',
        up: 'CREATE TABLE accounts (id int PRIMARY KEY, email text); CREATE INDEX accounts_email_idx ON accounts (email);',
        down: 'DROP TABLE accounts;',
      },
    ]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const id = p.migration('0002_maintenance', [
      { id: 'reindex', up: 'REINDEX TABLE accounts;', down: 'SELECT 1;' },
      { id: 'lock', up: 'LOCK TABLE accounts IN SHARE MODE;', down: 'SELECT 1;' },
      { id: 'dropidx', up: 'DROP INDEX accounts_email_idx;', down: 'CREATE INDEX accounts_email_idx ON accounts (email);' },
    ]);
    const refused = await runFerry(p.root, ['up']);
    expect(refused.code).toBe(15);
    expect(refused.stderr).toContain('refusing to run: 3 error-level lint findings not acknowledged');
    for (const [step, rule] of [
      ['reindex', 'reindex-not-concurrent'],
      ['lock', 'lock-table'],
      ['dropidx', 'drop-index-not-concurrent'],
    ])
      expect(refused.stderr).toContain(`${id}/${step}.up.sql:1 [${rule}]`);
    const status = await runFerryJson<{ migrations: { id: string; appliedCount: number }[] }>(p.root, ['status']);
    expect(status.json.migrations.find((m) => m.id === id)?.appliedCount).toBe(0);

    acknowledge(p, id, ['reindex:reindex-not-concurrent', 'lock:lock-table', 'dropidx:drop-index-not-concurrent']);
    const ok = await runFerryJson<{ steps: { stepId: string; status: string }[] }>(p.root, ['up']);
    expect(ok.code).toBe(0);
    expect(ok.json.steps.map((s) => s.status)).toEqual(['applied', 'applied', 'applied']);
  });

  it('plan reads the catalog: a migration that only widens a varchar is schema-additive, low risk', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_accounts', [{ id: 'create', up: 'CREATE TABLE accounts (id int PRIMARY KEY, email varchar(50));', down: 'DROP TABLE accounts;' }]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const id = p.migration('0002_widen', [{ id: 'widen', up: 'ALTER TABLE accounts ALTER COLUMN email TYPE varchar(320);', down: 'SELECT 1;' }]);
    const plan = await runFerryJson<{ markdown: string }>(p.root, ['plan', id]);
    expect(plan.code).toBe(0);
    expect(plan.json.markdown).toContain('inferred schema-additive, risk low');
    const offline = await runFerryJson<LintJson>(p.root, ['lint', id]);
    expect(offline.json.reports[0]?.classification).toMatchObject({ inferred: 'data-format', risk: 'high' });
  });
});
