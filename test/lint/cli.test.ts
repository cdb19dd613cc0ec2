import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import type { Finding } from '../../src/lint/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

interface LintJson {
  ok: boolean;
  refused: number;
  reports: {
    target: string;
    findings: Finding[];
    refused: Finding[];
    classification: { inferred: string; risk: string };
    statements: { locks: { mode: string }[] }[];
  }[];
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
});
