import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parserReady, splitStatements } from '../../src/db/sql-script.js';
import { importedFolder, importedIds } from '../../src/import/folder.js';
import type { ForeignMigration } from '../../src/import/types.js';
import { migrationIdProblem } from '../../src/migration/ids.js';
import { loadAll, loadMigration } from '../../src/migration/loader.js';

beforeAll(parserReady);

function foreign(version: string, name: string, extra: Partial<ForeignMigration> = {}): ForeignMigration {
  return { version, name, files: [`${version}_${name}.sql`], up: 'SELECT 1;\n', transaction: true, ...extra };
}

const ids = (...versions: [string, string][]) => importedIds(versions.map(([v, n]) => foreign(v, n)));

/** Write the folders under a fresh migrations/ directory; returns that directory. */
function writeFolders(folders: Record<string, Record<string, string>>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'ferry-import-folder-')), 'migrations');
  for (const [id, files] of Object.entries(folders)) {
    mkdirSync(join(dir, id), { recursive: true });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, id, name), text);
  }
  return dir;
}

async function load(m: ForeignMigration, tool: 'dbmate' | 'golang-migrate' | 'flyway' = 'dbmate') {
  const files = importedFolder(tool, m, splitStatements(m.up));
  const [id] = importedIds([m]) as [string];
  const migration = await loadMigration(join(writeFolders({ [id]: files }), id), id);
  return { files, migration, manifest: JSON.parse(files['migration.json'] as string) as Record<string, unknown> };
}

describe('importedIds', () => {
  it('keeps 14-digit timestamps as the prefix', () => {
    expect(ids(['20240101120000', 'create_users'], ['20240102093000', 'add_index'])).toEqual(['20240101120000_create_users', '20240102093000_add_index']);
  });

  it('pads sequence numbers to the longest, at least 4 digits', () => {
    expect(ids(['1', 'init'], ['2', 'users'], ['10', 'posts'])).toEqual(['0001_init', '0002_users', '0010_posts']);
    expect(ids(['5', 'a'], ['123456', 'b'])).toEqual(['000005_a', '123456_b']);
  });

  it("numbers Flyway's dotted versions, and versions that do not rise, in the tool's order", () => {
    expect(ids(['1.1', 'first'], ['1.2', 'second'], ['2', 'third'])).toEqual(['0001_first', '0002_second', '0003_third']);
    expect(ids(['2', 'b'], ['1', 'a'])).toEqual(['0001_b', '0002_a']);
    expect(ids(['1', 'a'], ['01', 'b'])).toEqual(['0001_a', '0002_b']);
    expect(ids(['123456789012345', 'too_long_a_number'])).toEqual(['0001_too_long_a_number']);
  });

  it('an ordinal has more than 4 digits past 9999 migrations', () => {
    const many = importedIds(Array.from({ length: 10_000 }, (_, i) => foreign(`V${i}`, 'm')));
    expect(many[0]).toBe('00001_m');
    expect(many[9999]).toBe('10000_m_10000');
  });

  it('makes names ferry accepts out of odd characters', () => {
    expect(ids(['1', 'Add Users!!'], ['2', '--create-table--'], ['3', 'Ünïcode name'], ['4', ''], ['5', '***'], ['6', 'a.b/c'])).toEqual([
      '0001_add_users',
      '0002_create-table',
      '0003_n_code_name',
      '0004_migration',
      '0005_migration_2',
      '0006_a_b_c',
    ]);
  });

  it('gives duplicate names _2, _3, without colliding with a name that already ends so', () => {
    expect(ids(['1', 'x'], ['2', 'x'], ['3', 'x_2'], ['4', 'X'])).toEqual(['0001_x', '0002_x_2', '0003_x_2_2', '0004_x_3']);
  });

  it('cuts long names to 63 bytes, suffix included', () => {
    const long = 'a'.repeat(100);
    const [first, second] = ids(['1', long], ['2', long]) as [string, string];
    expect(first).toBe(`0001_${'a'.repeat(63)}`);
    expect(second).toBe(`0002_${'a'.repeat(61)}_2`);
  });

  it('any versions and names: valid, unique ids that sort in the given order', () => {
    const version = fc.oneof(fc.stringMatching(/^\d{1,16}$/), fc.string({ minLength: 1, maxLength: 20 }));
    const migration = fc.record({ version, name: fc.string({ unit: 'binary', maxLength: 120 }) });
    fc.assert(
      fc.property(fc.array(migration, { minLength: 1, maxLength: 30 }), (ms) => {
        const out = importedIds(ms.map((m) => foreign(m.version, m.name)));
        expect(out).toHaveLength(ms.length);
        for (const id of out) expect(migrationIdProblem(id)).toBeUndefined();
        expect(new Set(out.map((id) => id.replace(/^\d+_/, ''))).size).toBe(out.length);
        expect([...out].sort()).toEqual(out);
      }),
    );
  });
});

describe('importedFolder', () => {
  it('a transactional migration is one step with the exact forward SQL, its down and its verify; ferry loads it', async () => {
    const up = '-- create users\nCREATE TABLE users (id int PRIMARY KEY);\nCREATE INDEX users_id ON users (id);\n';
    const m = foreign('20240101120000', 'create_users', { up, down: 'DROP TABLE users;\n', files: ['20240101120000_create_users.sql'] });
    const { files, migration, manifest } = await load(m);
    expect(Object.keys(files).sort()).toEqual(['change.down.sql', 'change.up.sql', 'change.verify.sql', 'migration.json']);
    expect(files['change.up.sql']).toBe(up);
    expect(files['change.down.sql']).toBe('DROP TABLE users;\n');
    expect(files['change.verify.sql']).toContain(`SELECT to_regclass('"users_id"') IS NOT NULL;`);
    expect(manifest).toEqual({
      $schema: '../migration.schema.json',
      title: 'create users',
      summary: 'Imported from dbmate (20240101120000_create_users.sql), version 20240101120000.',
      type: 'schema-additive',
      strategy: 'big-bang',
      steps: [{ id: 'change' }],
    });
    expect(migration.steps.map((s) => [s.id, s.transaction, s.irreversible])).toEqual([['change', true, false]]);
    expect(migration.steps[0]?.verify?.statements.length).toBeGreaterThan(0);
  });

  it('names every file in the summary and drops make the migration destructive', async () => {
    const m = foreign('3', 'drop-old_things', {
      files: ['3_drop_old_things.up.sql', '3_drop_old_things.down.sql'],
      up: 'ALTER TABLE t DROP COLUMN c;',
      down: 'ALTER TABLE t ADD COLUMN c int;',
    });
    const { manifest } = await load(m, 'golang-migrate');
    expect(manifest.title).toBe('drop old things');
    expect(manifest.summary).toBe('Imported from golang-migrate (3_drop_old_things.up.sql, 3_drop_old_things.down.sql), version 3.');
    expect(manifest.type).toBe('schema-destructive');
    for (const up of ['DROP INDEX i', 'ALTER TABLE t DROP CONSTRAINT c', 'DROP TABLE IF EXISTS t']) {
      expect(JSON.parse(importedFolder('flyway', foreign('1', 'x', { up }), splitStatements(up))['migration.json'] as string).type).toBe('schema-destructive');
    }
  });

  it('irreversible, with no down file, when the tool has no down or an empty one', async () => {
    for (const down of [undefined, '', '-- nothing to undo\n']) {
      const m = foreign('1', 'seed', { up: 'INSERT INTO t VALUES (1);\nUPDATE t SET a = 2;\n', ...(down === undefined ? {} : { down }) });
      const { files, migration, manifest } = await load(m);
      expect(Object.keys(files).sort()).toEqual(['change.up.sql', 'migration.json']);
      expect(manifest.steps).toEqual([{ id: 'change', irreversible: true }]);
      expect(migration.steps[0]?.irreversible).toBe(true);
    }
  });

  it('a non-transactional migration: one step per statement, the whole down on the last step, verify on the last', async () => {
    const up =
      'CREATE INDEX CONCURRENTLY a_i ON t (a);\nCREATE INDEX CONCURRENTLY b_i ON t (b);\n-- last\nCREATE INDEX CONCURRENTLY c_i ON t (c); -- trailing note\n';
    const m = foreign('20240101120000', 'indexes', { up, down: 'DROP INDEX CONCURRENTLY IF EXISTS a_i, b_i, c_i;\n', transaction: false });
    const { files, migration, manifest } = await load(m);
    expect(manifest.steps).toEqual([
      { id: 'change-1', transaction: false },
      { id: 'change-2', transaction: false },
      { id: 'change-3', transaction: false },
    ]);
    expect(files['change-1.up.sql']).toBe('CREATE INDEX CONCURRENTLY a_i ON t (a);\n');
    expect(files['change-3.up.sql']).toContain('-- last\nCREATE INDEX CONCURRENTLY c_i ON t (c)');
    expect(files['change-3.down.sql']).toBe('DROP INDEX CONCURRENTLY IF EXISTS a_i, b_i, c_i;\n');
    expect(files['change-1.down.sql']).toBe('-- undone by change-3.down.sql (dbmate rolls this migration back as one script)\nSELECT 1;\n');
    expect(files['change-2.down.sql']).toBe(files['change-1.down.sql']);
    expect(Object.keys(files).filter((f) => f.endsWith('.verify.sql'))).toEqual(['change-3.verify.sql']);
    expect(files['change-3.verify.sql']).toContain('"a_i"');
    expect(migration.steps.map((s) => [s.id, s.transaction, s.forward?.statements.length, s.rollback?.statements.length])).toEqual([
      ['change-1', false, 1, 1],
      ['change-2', false, 1, 1],
      ['change-3', false, 1, 1],
    ]);
  });

  it('why earlier steps hold `SELECT 1`: ferry refuses a rollback file with only a comment', async () => {
    const files = importedFolder(
      'dbmate',
      foreign('1', 'x', { up: 'SELECT 1; SELECT 2;', down: 'SELECT 3;', transaction: false }),
      splitStatements('SELECT 1; SELECT 2;'),
    );
    const commentOnly = { ...files, 'change-1.down.sql': '-- undone by change-2.down.sql\n' };
    const err = await loadMigration(join(writeFolders({ '0001_x': commentOnly }), '0001_x'), '0001_x').catch((e: unknown) => e);
    expect(String(err)).toContain('change-1.down.sql: steps.0.rollback: contains no SQL statement');
  });

  it('a non-transactional down of several statements: one per step, run in the tool order by down', async () => {
    const m = foreign('7', 'two', {
      up: 'CREATE INDEX CONCURRENTLY a_i ON t (a);\n',
      down: 'DROP INDEX CONCURRENTLY a_i;\nDROP INDEX CONCURRENTLY IF EXISTS old_i;\n',
      transaction: false,
    });
    const { files, migration } = await load(m);
    // down runs change-2 then change-1: the tool's first down statement first.
    expect(files['change-2.down.sql']).toBe('DROP INDEX CONCURRENTLY a_i;\n');
    expect(files['change-1.down.sql']).toBe('DROP INDEX CONCURRENTLY IF EXISTS old_i;\n');
    expect(files['change-1.up.sql']).toBe('CREATE INDEX CONCURRENTLY a_i ON t (a);\n');
    expect(files['change-2.up.sql']).toMatch(/^-- no forward statement: this step holds statement 1 of dbmate's down script\nSELECT 1;\n$/);
    expect(migration.steps.every((s) => !s.transaction && s.rollback?.statements.length === 1)).toBe(true);
  });

  it('a non-transactional migration of one statement is one step `change`, irreversible without a down', async () => {
    const m = foreign('1', 'one', { up: 'CREATE INDEX CONCURRENTLY a_i ON t (a);', transaction: false });
    const { files, manifest } = await load(m);
    expect(manifest.steps).toEqual([{ id: 'change', transaction: false, irreversible: true }]);
    expect(files['change.up.sql']).toBe('CREATE INDEX CONCURRENTLY a_i ON t (a);\n');
  });

  it('a migration without any statement still loads: a no-op statement follows its text', async () => {
    const { files, migration } = await load(foreign('1', 'empty', { up: '-- nothing yet\n', down: '' }));
    expect(files['change.up.sql']).toMatch(/^-- nothing yet\n-- dbmate's migration holds no statement; a ferry step needs one\nSELECT 1;\n$/);
    expect(migration.steps[0]?.forward?.statements).toHaveLength(1);
  });

  it('a whole import loads with loadAll, in the tool order', async () => {
    const ms = [
      foreign('1', 'users', { up: 'CREATE TABLE users (id int);', down: 'DROP TABLE users;' }),
      foreign('2', 'users', { up: 'ALTER TABLE users ADD COLUMN email text;', down: 'ALTER TABLE users DROP COLUMN email;' }),
      foreign('10', 'idx', { up: 'CREATE INDEX CONCURRENTLY e ON users (email);', down: 'DROP INDEX e;', transaction: false }),
    ];
    const imported = importedIds(ms);
    const dir = writeFolders(Object.fromEntries(ms.map((m, i) => [imported[i] as string, importedFolder('golang-migrate', m, splitStatements(m.up))])));
    const loaded = await loadAll(dir);
    expect(loaded.map((m) => m.id)).toEqual(['0001_users', '0002_users_2', '0010_idx']);
  });
});
