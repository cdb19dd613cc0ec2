import { describe, expect, it } from 'vitest';
import { type LintCatalog, lintMigration, lintSql } from '../../src/lint/index.js';
import { migrationOf } from './fixtures.js';

/** A catalog as readLintCatalog returns it (test/lint/catalog.test.ts reads real ones): `app.orders` with index `app.orders_user_idx`, `public.users`. */
function catalog(searchPath = ['public']): LintCatalog {
  const column = { type: 'bigint', typeName: 'int8', typeSchema: 'pg_catalog', typmod: -1, collation: null };
  return {
    searchPath,
    tables: [
      { schema: 'app', name: 'orders', kind: 'table', rows: 50_000, bytes: 4_194_304, columns: { id: column, user_id: column } },
      { schema: 'public', name: 'users', kind: 'table', rows: 1_000, bytes: 131_072, columns: { id: column } },
    ],
    indexes: [
      { schema: 'app', name: 'orders_user_idx', table: 'orders', bytes: 1_048_576 },
      { schema: 'public', name: 'users_pkey', table: 'users', bytes: 40_960 },
    ],
  };
}

async function rules(sql: string, c?: LintCatalog): Promise<string[][]> {
  const r = await lintSql(sql, { ferryManaged: true, ...(c ? { catalog: c } : {}) });
  return r.statements.map((s) => s.findings.map((f) => f.rule));
}

describe('isNewIndex: an index created earlier in the script', () => {
  it('is matched in its table schema, not by name alone', async () => {
    const sql = 'CREATE TABLE app.t (a int); CREATE INDEX i ON app.t (a); DROP INDEX public.i; DROP INDEX app.i;';
    expect(await rules(sql)).toEqual([[], [], ['drop-index-not-concurrent'], []]);
  });

  it('stays the existing index after CREATE INDEX IF NOT EXISTS when the catalog has it', async () => {
    const sql = 'CREATE INDEX IF NOT EXISTS orders_user_idx ON app.orders (user_id); DROP INDEX app.orders_user_idx;';
    expect(await rules(sql, catalog())).toEqual([[], ['drop-index-not-concurrent']]);
    expect(await rules(sql)).toEqual([['index-not-concurrent'], []]);
  });

  it('is new once the existing one was dropped and a plain CREATE INDEX made it again', async () => {
    const sql = 'DROP INDEX app.orders_user_idx; CREATE INDEX orders_user_idx ON app.orders (user_id); DROP INDEX app.orders_user_idx;';
    expect(await rules(sql, catalog())).toEqual([['drop-index-not-concurrent'], ['index-not-concurrent'], []]);
  });

  it('resolves unqualified names through the catalog search path, until the script sets search_path', async () => {
    expect(await rules('DROP INDEX orders_user_idx;', catalog(['app', 'public']))).toEqual([['drop-index-not-concurrent']]);
    expect(await rules('DROP INDEX IF EXISTS orders_user_idx;', catalog(['public']))).toEqual([[]]);
    expect(await rules('DROP INDEX IF EXISTS orders_user_idx;', catalog(['app', 'public']))).toEqual([['drop-index-not-concurrent']]);
    const sql = 'CREATE TABLE t (a int); CREATE INDEX orders_user_idx ON t (a); DROP INDEX orders_user_idx;';
    expect(await rules(sql, catalog(['public']))).toEqual([[], [], []]);
    expect(await rules(`SET search_path = app, public; ${sql}`, catalog(['public']))).toEqual([[], [], [], []]);
  });

  it('carries across the steps of a migration: the catalog index stays the existing one', async () => {
    const m = await migrationOf([
      { id: 'ensure', up: 'CREATE INDEX IF NOT EXISTS orders_user_idx ON app.orders (user_id);' },
      { id: 'drop', up: 'DROP INDEX app.orders_user_idx;' },
    ]);
    const withCatalog = lintMigration(m, { catalog: catalog() });
    // Dropping the existing index also makes the migration (declared schema-additive) schema-destructive.
    expect(withCatalog.findings.map((f) => [f.stepId, f.rule, f.severity])).toEqual([
      ['drop', 'drop-index-not-concurrent', 'error'],
      [undefined, 'type-mismatch', 'warning'],
    ]);
    expect(withCatalog.findings[1]?.message).toContain('DROP INDEX orders_user_idx (schema-destructive)');
    expect(withCatalog.findings[0]?.catalog).toEqual({ table: 'app.orders', found: true, rows: 50_000, bytes: 4_194_304 });
    expect(withCatalog.findings[0]?.message).toBe('DROP INDEX app.orders_user_idx without CONCURRENTLY (app.orders: ~50,000 rows, 4.0 MB)');
    expect(lintMigration(m).findings.map((f) => f.rule)).toEqual(['index-not-concurrent']);
  });
});

describe('tables created earlier in the same script are new and empty', () => {
  it('even given a catalog; one dropped and created again is new; CREATE TABLE IF NOT EXISTS of an existing one is not', async () => {
    const sql = [
      'DROP TABLE public.users;',
      'CREATE TABLE users (id int);',
      'ALTER TABLE users ALTER COLUMN id TYPE bigint;',
      'CREATE TABLE IF NOT EXISTS app.orders (id int);',
      'ALTER TABLE app.orders ALTER COLUMN id TYPE int;',
      'CREATE INDEX orders_id ON app.orders (id);',
    ].join('\n');
    expect(await rules(sql, catalog())).toEqual([['drop-table'], [], [], [], ['column-type-change'], ['index-not-concurrent']]);
  });

  it('a table unknown to the catalog and not created in the script is still treated as existing', async () => {
    const r = await lintSql('LOCK TABLE elsewhere IN EXCLUSIVE MODE;', { ferryManaged: true, transaction: true, catalog: catalog() });
    expect(r.findings.map((f) => [f.rule, f.catalog])).toEqual([['lock-table', { table: 'elsewhere', found: false }]]);
    expect(r.findings[0]?.message).toMatch(/^LOCK TABLE elsewhere takes ExclusiveLock \(blocks writes.*\) \(elsewhere is not in the catalog\)$/);
  });
});

describe('REINDEX, LOCK TABLE and DROP INDEX', () => {
  it('are errors on existing objects, with or without a catalog, and not on new ones', async () => {
    const sql = [
      'REINDEX TABLE users;',
      'REINDEX INDEX users_pkey;',
      'REINDEX SCHEMA app;',
      'LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;',
      'DROP INDEX users_pkey;',
      'CREATE TABLE t (a int);',
      'CREATE INDEX t_a ON t (a);',
      'REINDEX TABLE t;',
      'REINDEX INDEX t_a;',
      'LOCK TABLE t;',
      'DROP INDEX t_a;',
    ].join('\n');
    const want = [
      ['reindex-not-concurrent'],
      ['reindex-not-concurrent'],
      ['reindex-not-concurrent'],
      ['lock-table'],
      ['drop-index-not-concurrent'],
      [],
      [],
      [],
      [],
      [],
      [],
    ];
    for (const c of [undefined, catalog()]) {
      const r = await lintSql(sql, { ferryManaged: true, ...(c ? { catalog: c } : {}) });
      expect(r.statements.map((s) => s.findings.map((f) => f.rule))).toEqual(want);
      expect(new Set(r.findings.map((f) => f.severity))).toEqual(new Set(['error']));
    }
  });
});
