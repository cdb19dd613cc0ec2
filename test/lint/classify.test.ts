import { describe, expect, it } from 'vitest';
import { lintMigration } from '../../src/lint/index.js';
import { migrationOf } from './fixtures.js';

const mismatch = (r: ReturnType<typeof lintMigration>) => r.findings.filter((f) => f.rule === 'type-mismatch');

describe('classification: type and risk', () => {
  it('an additive migration matches "schema-additive" at low risk', async () => {
    const r = lintMigration(
      await migrationOf([
        { id: 'create', up: 'CREATE TABLE t (id int PRIMARY KEY); CREATE INDEX t_id ON t (id);' },
        { id: 'add', up: 'ALTER TABLE users ADD COLUMN note text;' },
      ]),
    );
    expect(r.classification).toMatchObject({ declared: 'schema-additive', inferred: 'schema-additive', risk: 'low', matchesDeclared: true });
    expect(mismatch(r)).toEqual([]);
  });

  it('dropping a column of an existing table declared as additive is a type-mismatch warning with the reasons, at critical risk', async () => {
    const r = lintMigration(await migrationOf([{ id: 'drop', up: 'ALTER TABLE users DROP COLUMN legacy;' }], { type: 'schema-additive' }));
    expect(r.classification).toMatchObject({ inferred: 'schema-destructive', risk: 'critical', matchesDeclared: false });
    const [f] = mismatch(r);
    expect(f).toMatchObject({ severity: 'warning', status: 'active', migrationId: '0002_change' });
    expect(f?.message).toContain('declared "schema-additive" but the statements make it "schema-destructive"');
    expect(f?.message).toContain('DROP COLUMN legacy from users');
    expect(f?.file).toMatch(/migration\.json$/);
  });

  it('renames and type changes are api-breaking and data-format; system changes are system', async () => {
    const rename = lintMigration(await migrationOf([{ id: 'r', up: 'ALTER TABLE users RENAME COLUMN a TO b;' }], { type: 'api-breaking' }));
    expect(rename.classification).toMatchObject({ inferred: 'api-breaking', risk: 'high', matchesDeclared: true });
    const type = lintMigration(await migrationOf([{ id: 't', up: 'ALTER TABLE users ALTER COLUMN a TYPE bigint;' }], { type: 'data-format' }));
    expect(type.classification).toMatchObject({ inferred: 'data-format', matchesDeclared: true });
    const sys = lintMigration(await migrationOf([{ id: 'x', up: 'CREATE EXTENSION IF NOT EXISTS pgcrypto;' }], { type: 'system' }));
    expect(sys.classification).toMatchObject({ inferred: 'system', risk: 'medium', matchesDeclared: true });
  });

  it('an expand/contract data-format change stays data-format although its contract step drops the old column', async () => {
    const m = await migrationOf(
      [
        { id: 'expand', up: 'ALTER TABLE users ADD COLUMN first_name text, ADD COLUMN last_name text;' },
        { id: 'fill', kind: 'backfill', table: 'users', set: { first_name: "split_part(full_name, ' ', 1)" }, where: 'first_name IS NULL' },
        { id: 'contract', up: 'ALTER TABLE users DROP COLUMN full_name;' },
      ],
      { type: 'data-format', lint: { acknowledge: ['contract:drop-column'] } },
    );
    const contract = m.steps[2] as (typeof m.steps)[2];
    contract.phase = 'contract';
    const r = lintMigration(m);
    expect(r.classification).toMatchObject({ declared: 'data-format', inferred: 'data-format', matchesDeclared: true });
    expect(r.classification.risk).toBe('high');
    expect(r.classification.reasons.join('\n')).toContain('removes the old shape of an expand/contract change');
    expect(mismatch(r)).toEqual([]);
  });

  it('the same drop outside a contract phase makes the migration destructive', async () => {
    const m = await migrationOf(
      [
        { id: 'expand', up: 'ALTER TABLE users ADD COLUMN first_name text;' },
        { id: 'fill', kind: 'backfill', table: 'users', set: { first_name: 'full_name' }, where: 'first_name IS NULL' },
        { id: 'drop', up: 'ALTER TABLE users DROP COLUMN full_name;' },
      ],
      { type: 'data-format' },
    );
    const r = lintMigration(m);
    expect(r.classification).toMatchObject({ inferred: 'schema-destructive', risk: 'critical', matchesDeclared: false });
    expect(mismatch(r)).toHaveLength(1);
  });

  it('a TypeScript step cannot be analysed, so a stronger declared type is accepted', async () => {
    const m = await migrationOf([{ id: 'code', kind: 'ts', module: 'code.ts' }], { type: 'api-breaking' });
    const r = lintMigration(m);
    expect(r.classification).toMatchObject({ inferred: 'data-format', matchesDeclared: true });
  });

  it('type-mismatch can be disabled in the manifest and is then listed as disabled', async () => {
    const m = await migrationOf([{ id: 'u', up: 'UPDATE users SET a = 1 WHERE id = 2;' }], { lint: { disable: ['type-mismatch'] } });
    expect(mismatch(lintMigration(m))).toMatchObject([{ status: 'disabled' }]);
  });
  it('DROP CONSTRAINT and DROP INDEX of existing objects are schema-destructive, DROP DEFAULT api-breaking: none is additive', async () => {
    const of = async (up: string) => lintMigration(await migrationOf([{ id: 's', up }])).classification;
    expect(await of('ALTER TABLE users DROP CONSTRAINT users_email_key;')).toMatchObject({ inferred: 'schema-destructive', matchesDeclared: false });
    expect((await of('ALTER TABLE users DROP CONSTRAINT users_email_key;')).reasons.join('\n')).toContain('DROP CONSTRAINT users_email_key on users');
    expect(await of('DROP INDEX CONCURRENTLY users_email_idx;')).toMatchObject({ inferred: 'schema-destructive', matchesDeclared: false });
    expect((await of('DROP INDEX CONCURRENTLY users_email_idx;')).reasons.join('\n')).toContain('DROP INDEX users_email_idx (schema-destructive)');
    const noDefault = await of('ALTER TABLE users ALTER COLUMN status DROP DEFAULT;');
    expect(noDefault).toMatchObject({ inferred: 'api-breaking', risk: 'high', matchesDeclared: false });
    expect(noDefault.reasons.join('\n')).toContain('DROP DEFAULT of status on users (api-breaking)');
    // Setting a default stays additive.
    expect(await of("ALTER TABLE users ALTER COLUMN status SET DEFAULT 'new';")).toMatchObject({ inferred: 'schema-additive', matchesDeclared: true });
  });

  it('the same drops of objects created earlier in the migration stay additive', async () => {
    const r = lintMigration(
      await migrationOf([
        { id: 'create', up: 'CREATE TABLE t (id int PRIMARY KEY, a int DEFAULT 0 CHECK (a >= 0)); CREATE INDEX t_a ON t (a);' },
        { id: 'drop', up: 'ALTER TABLE t DROP CONSTRAINT t_a_check; ALTER TABLE t ALTER COLUMN a DROP DEFAULT; DROP INDEX t_a;' },
      ]),
    );
    expect(r.classification).toMatchObject({ inferred: 'schema-additive', matchesDeclared: true });
    expect(mismatch(r)).toEqual([]);
  });

  it('a DROP CONSTRAINT in the contract step of an expand/contract migration removes the old shape and is not counted', async () => {
    const m = await migrationOf(
      [
        { id: 'expand', up: 'ALTER TABLE users ADD CONSTRAINT users_email_key2 UNIQUE USING INDEX users_email_idx2;' },
        { id: 'contract', up: 'ALTER TABLE users DROP CONSTRAINT users_email_key;' },
      ],
      { type: 'schema-additive' },
    );
    (m.steps[1] as (typeof m.steps)[1]).phase = 'contract';
    expect(lintMigration(m).classification).toMatchObject({ inferred: 'schema-additive', matchesDeclared: true });
  });
});
