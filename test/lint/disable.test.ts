import { describe, expect, it } from 'vitest';
import { lintMigration, lintSql, refusedFindings } from '../../src/lint/index.js';
import { migrationOf } from './fixtures.js';

const rules = (r: { findings: { rule: string; status: string }[] }, status = 'active') => r.findings.filter((f) => f.status === status).map((f) => f.rule);

describe('disabling by comment', () => {
  it('a comment just before the statement disables the rules it names, with its reason', async () => {
    const r = await lintSql(
      "SET lock_timeout = '1s';\n-- ferry-lint-disable index-not-concurrent, rename-column -- 20 rows, built in ms\nCREATE INDEX i ON users (email);\nCREATE INDEX j ON users (name);",
    );
    expect(rules(r, 'disabled')).toEqual(['index-not-concurrent']);
    expect(r.findings.find((f) => f.status === 'disabled')?.note).toBe('disabled by comment: 20 rows, built in ms');
    expect(rules(r)).toEqual(['index-not-concurrent']);
    expect(r.findings.find((f) => f.status === 'active')?.line).toBe(4);
    expect(r.counts).toMatchObject({ error: 1, disabled: 1 });
    expect(refusedFindings(r)).toHaveLength(1);
  });

  it('a block comment inside the statement works too; other rules stay on', async () => {
    const r = await lintSql("SET lock_timeout = '1s'; ALTER TABLE users /* ferry-lint-disable drop-column */ DROP COLUMN a, ALTER COLUMN b TYPE text;");
    expect(rules(r, 'disabled')).toEqual(['drop-column']);
    expect(rules(r)).toEqual(['column-type-change']);
  });

  it('text that only looks like a directive, inside a string or identifier, disables nothing', async () => {
    const r = await lintSql(`SET lock_timeout = '1s'; UPDATE users SET note = '-- ferry-lint-disable unbounded-dml', "-- ferry-lint-disable all" = 1;`);
    expect(rules(r)).toEqual(['unbounded-dml']);
  });

  it('a bare directive disables every rule of the statement', async () => {
    const r = await lintSql('-- ferry-lint-disable\nALTER TABLE users DROP COLUMN a, ALTER COLUMN b TYPE text;');
    expect(rules(r)).toEqual([]);
    expect(rules(r, 'disabled').sort()).toEqual(['column-type-change', 'drop-column', 'missing-lock-timeout']);
  });
});

describe('disabling and acknowledging in the manifest', () => {
  it('lint.disable switches a rule off for the migration (also as step:rule), listed as disabled', async () => {
    const m = await migrationOf(
      [
        { id: 'one', up: 'CREATE INDEX i ON users (email);' },
        { id: 'two', up: 'CREATE INDEX j ON users (name); ALTER TABLE users DROP COLUMN legacy;' },
      ],
      { type: 'schema-destructive', lint: { disable: ['one:index-not-concurrent', 'drop-column'] } },
    );
    const r = lintMigration(m);
    expect(r.findings.filter((f) => f.status === 'disabled').map((f) => `${f.stepId}:${f.rule}`)).toEqual(['one:index-not-concurrent', 'two:drop-column']);
    expect(refusedFindings(r, m.manifest).map((f) => `${f.stepId}:${f.rule}`)).toEqual(['two:index-not-concurrent']);
  });

  it('lint.acknowledge accepts error findings (rule or step:rule) without hiding them', async () => {
    const steps = [
      { id: 'one', up: 'CREATE INDEX i ON users (email);' },
      { id: 'two', up: 'ALTER TABLE users RENAME COLUMN a TO b;' },
    ];
    const m = await migrationOf(steps, { type: 'api-breaking', lint: { acknowledge: ['index-not-concurrent', 'one:rename-column'] } });
    const r = lintMigration(m);
    expect(r.findings.map((f) => [f.rule, f.status])).toEqual([
      ['index-not-concurrent', 'acknowledged'],
      ['rename-column', 'active'],
    ]);
    expect(refusedFindings(r, m.manifest).map((f) => f.rule)).toEqual(['rename-column']);
    expect(r.counts.error).toBe(2);
  });

  it('findings an operation handles are info, "handled by operation"', async () => {
    const m = await migrationOf([{ id: 'rename', up: 'ALTER TABLE users RENAME COLUMN a TO b;' }], { type: 'api-breaking' });
    const step = m.steps[0] as (typeof m.steps)[0];
    step.operation = { op: 'rename-column', part: 'rename', handles: ['rename-column'] };
    const r = lintMigration(m);
    expect(r.findings).toMatchObject([{ rule: 'rename-column', severity: 'info', status: 'handled', note: 'handled by operation rename-column' }]);
    expect(refusedFindings(r, m.manifest)).toEqual([]);
  });
});

describe('lock_timeout and transactions', () => {
  it('a standalone script taking strong locks without lock_timeout is warned once; ferry migrations are not', async () => {
    const sql = 'ALTER TABLE users ADD COLUMN a text; ALTER TABLE users ADD COLUMN b text;';
    expect(rules(await lintSql(sql))).toEqual(['missing-lock-timeout']);
    expect(rules(await lintSql(`SET lock_timeout TO '3s'; ${sql}`))).toEqual([]);
    expect(rules(await lintSql(`SET lock_timeout = 0; ${sql}`))).toEqual(['missing-lock-timeout']);
    expect(rules(lintMigration(await migrationOf([{ id: 'add', up: sql }])))).toEqual([]);
    expect(rules(lintMigration(await migrationOf([{ id: 'add', up: `RESET lock_timeout; ${sql}` }])))).toEqual(['lock-timeout-overridden']);
  });

  it('CREATE INDEX CONCURRENTLY is refused in a transactional step and fine in a non-transactional one', async () => {
    const up = 'CREATE INDEX CONCURRENTLY i ON users (email);';
    expect(rules(lintMigration(await migrationOf([{ id: 'ix', up }])))).toEqual(['transaction-incompatible']);
    expect(rules(lintMigration(await migrationOf([{ id: 'ix', up, transaction: false }])))).toEqual([]);
  });

  it('an enum value added in a step cannot be used in the same step, but can in the next', async () => {
    const m = await migrationOf(
      [
        { id: 'add', up: "ALTER TYPE status ADD VALUE 'gone'; UPDATE orders SET status = 'gone' WHERE id = 1;" },
        { id: 'use', up: "UPDATE orders SET status = 'gone' WHERE id = 2;" },
      ],
      { type: 'data-format' },
    );
    expect(lintMigration(m).findings.map((f) => `${f.stepId}:${f.rule}`)).toEqual(['add:enum-value-in-transaction']);
  });

  it('BEGIN/COMMIT inside a ferry step is an error', async () => {
    expect(rules(lintMigration(await migrationOf([{ id: 'tx', up: 'BEGIN; CREATE TABLE t (a int); COMMIT;' }])))).toEqual([
      'transaction-control-in-step',
      'transaction-control-in-step',
    ]);
  });

  it('tables created by an earlier step of the migration are new for later steps', async () => {
    const m = await migrationOf([
      { id: 'create', up: 'CREATE TABLE t (a int);' },
      { id: 'index', up: 'CREATE INDEX t_a ON t (a); ALTER TABLE t ADD COLUMN b int NOT NULL, ALTER COLUMN a TYPE bigint;' },
    ]);
    expect(lintMigration(m).findings).toEqual([]);
  });
});
