import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { isFerryError } from '../../src/errors.js';
import { parseDbmateBlocks } from '../../src/import/tools/dbmate.js';
import { drizzleHash, withoutBreakpoints } from '../../src/import/tools/drizzle.js';
import { flywayChecksum } from '../../src/import/tools/flyway.js';
import { READERS } from '../../src/import/tools/index.js';
import { IMPORT_TOOLS } from '../../src/import/types.js';
import { createServerDatabase } from '../helpers/databases.js';

/** A fresh fixture folder holding `files` (relative path → content). */
function fixture(files: Record<string, string | Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-import-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The E_USAGE message `fn` throws. */
function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isFerryError(err, 'E_USAGE')) return err.message;
    throw err;
  }
  throw new Error('expected an E_USAGE error');
}

/** The five changes every fixture holds: a table, a column (table change), an index, a data update, a second table. */
const SQL = {
  users: 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\n',
  column: 'ALTER TABLE users ADD COLUMN name text;\n',
  index: 'CREATE INDEX users_email_idx ON users (email);\n',
  update: "UPDATE users SET name = 'unknown' WHERE name IS NULL;\n",
  orders: 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n',
};

let db: Database;
let drop: () => Promise<void>;
beforeAll(async () => {
  const created = await createServerDatabase('ferry_import');
  drop = created.drop;
  db = await openServer({ url: created.url });
});
afterAll(async () => {
  await db?.close();
  await drop?.();
});

/** A schema of its own for one tool's history table, made the search_path for the test; dropped after. */
async function inSchema<T>(schema: string, fn: () => Promise<T>): Promise<T> {
  await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}; SET search_path = ${schema}`);
  try {
    return await fn();
  } finally {
    await db.exec(`RESET search_path; DROP SCHEMA ${schema} CASCADE`);
  }
}

describe('READERS', () => {
  it('has one reader per import tool, each naming its tool', () => {
    expect(Object.keys(READERS).sort()).toEqual([...IMPORT_TOOLS].sort());
    for (const tool of IMPORT_TOOLS) expect(READERS[tool].tool).toBe(tool);
  });
});

describe('dbmate reader', () => {
  const reader = READERS.dbmate;
  const file = (up: string, down: string, options = '') => `-- migrate:up${options}\n${up}\n-- migrate:down\n${down}`;

  it('(fixture: dbmate layout) reads versions, names, blocks and transaction:false', () => {
    const dir = fixture({
      '20240101000000_create_users.sql': file(SQL.users, 'DROP TABLE users;\n'),
      '20240102000000_add_name.sql': file(SQL.column, 'ALTER TABLE users DROP COLUMN name;\n'),
      '20240103000000_email_index.sql': file(SQL.index.replace('INDEX', 'INDEX CONCURRENTLY'), 'DROP INDEX users_email_idx;\n', ' transaction:false'),
      '20240104000000_fill_names.sql': file(SQL.update, '-- nothing to undo\n\n'),
      '20240105000000_create_orders.sql': `-- migrate:up\n${SQL.orders}`,
      'README.md': 'not a migration',
    });
    const ms = reader.read(dir);
    expect(ms.map((m) => [m.version, m.name, m.transaction, m.down === undefined])).toEqual([
      ['20240101000000', 'create_users', true, false],
      ['20240102000000', 'add_name', true, false],
      ['20240103000000', 'email_index', false, false],
      ['20240104000000', 'fill_names', true, true],
      ['20240105000000', 'create_orders', true, true],
    ]);
    expect(ms[0]).toMatchObject({ files: ['20240101000000_create_users.sql'], up: `${SQL.users}\n`, down: 'DROP TABLE users;\n' });
    expect(ms[4]?.up).toBe(SQL.orders);
    expect(ms.every((m) => m.toolChecksum === undefined)).toBe(true);
  });

  it('refuses a bad name, a duplicate version, a missing up block and statements before it', () => {
    expect(usageError(() => reader.read(fixture({ 'create_users.sql': file(SQL.users, '') })))).toMatch(/create_users\.sql: is not named/);
    const dup = fixture({ '1_a.sql': file(SQL.users, ''), '1_b.sql': file(SQL.column, '') });
    expect(usageError(() => reader.read(dup))).toMatch(/1_b\.sql: has the same version 1 as 1_a\.sql/);
    expect(usageError(() => reader.read(fixture({ '1_a.sql': SQL.users })))).toMatch(/1_a\.sql: has no `-- migrate:up` line/);
    expect(usageError(() => reader.read(fixture({ '1_a.sql': `${SQL.users}${file(SQL.column, '')}` })))).toMatch(/statements before/);
    expect(usageError(() => reader.read(fixture({ '1_a.sql': `-- migrate:down\nx;\n${file(SQL.column, '')}` })))).toMatch(/comes before/);
    expect(usageError(() => reader.read(join(tmpdir(), 'no-such-folder')))).toMatch(/no-such-folder: cannot be read: does not exist/);
  });

  it('round-trips any up and down bodies without marker lines (property)', () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('migrate:') && !/[\n\r]/.test(s));
    const body = fc.array(line, { maxLength: 6 }).map((lines) => lines.map((l) => `${l}\n`).join(''));
    fc.assert(
      fc.property(body, body, fc.boolean(), (up, down, noTx) => {
        const parsed = parseDbmateBlocks('x.sql', `-- migrate:up${noTx ? ' transaction:false' : ''}\n${up}-- migrate:down\n${down}`);
        expect(parsed.up).toBe(up);
        expect(parsed.transaction).toBe(!noTx);
        const blank = down.split('\n').every((l) => /^\s*(--.*)?$/.test(l));
        expect(parsed.down).toBe(blank ? undefined : down);
      }),
    );
  });

  it('(fixture: dbmate history) reads schema_migrations, and nothing when it is missing', async () => {
    await inSchema('dbmate_h', async () => {
      expect(await reader.history(db)).toBeUndefined();
      // As dbmate creates and fills it (pkg/driver/postgres).
      await db.exec(`CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);
        INSERT INTO schema_migrations (version) VALUES ('20240101000000'), ('20240102000000');`);
      expect(await reader.history(db)).toEqual({
        table: 'dbmate_h.schema_migrations',
        rows: [
          { version: '20240101000000', status: 'applied' },
          { version: '20240102000000', status: 'applied' },
        ],
      });
    });
  });
});

describe('golang-migrate reader', () => {
  const reader = READERS['golang-migrate'];

  it('(fixture: golang-migrate layout) pairs up and down files by version, in version order', () => {
    const dir = fixture({
      '000001_create_users.up.sql': SQL.users,
      '000001_create_users.down.sql': 'DROP TABLE users;\n',
      '000002_add_name.up.sql': SQL.column,
      '000002_add_name.down.sql': 'ALTER TABLE users DROP COLUMN name;\n',
      '000003_email_index.up.sql': SQL.index,
      '000004_fill_names.up.sql': SQL.update,
      '000010_create_orders.up.sql': SQL.orders,
      '000010_create_orders.down.sql': 'DROP TABLE orders;\n',
    });
    const ms = reader.read(dir);
    expect(ms.map((m) => [m.version, m.name, m.files])).toEqual([
      ['1', 'create_users', ['000001_create_users.up.sql', '000001_create_users.down.sql']],
      ['2', 'add_name', ['000002_add_name.up.sql', '000002_add_name.down.sql']],
      ['3', 'email_index', ['000003_email_index.up.sql']],
      ['4', 'fill_names', ['000004_fill_names.up.sql']],
      ['10', 'create_orders', ['000010_create_orders.up.sql', '000010_create_orders.down.sql']],
    ]);
    expect(ms[0]).toMatchObject({ up: SQL.users, down: 'DROP TABLE users;\n', transaction: true });
    expect(ms[2]?.down).toBeUndefined();
  });

  it('refuses a bad name, two titles for one version, a second up and a down without an up', () => {
    expect(usageError(() => reader.read(fixture({ '1_a.sql': SQL.users })))).toMatch(/1_a\.sql: is not named/);
    expect(usageError(() => reader.read(fixture({ '1_a.up.sql': SQL.users, '1_b.down.sql': 'x' })))).toMatch(
      /1_b\.down\.sql: has version 1 like .*1_a\.up\.sql but another title/,
    );
    expect(usageError(() => reader.read(fixture({ '1_a.up.sql': SQL.users, '01_a.up.sql': SQL.users })))).toMatch(/is a second up file for version 1/);
    expect(usageError(() => reader.read(fixture({ '2_b.down.sql': 'x' })))).toMatch(/2_b\.down\.sql: is a down file without an up file for version 2/);
  });

  it('(fixture: golang-migrate history) reads the one current version, dirty or not', async () => {
    await inSchema('golang_h', async () => {
      expect(await reader.history(db)).toBeUndefined();
      // As golang-migrate's postgres driver creates it and SetVersion writes it.
      await db.exec(
        'CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (4, false)',
      );
      expect(await reader.history(db)).toEqual({ table: 'golang_h.schema_migrations', rows: [{ version: '4', status: 'applied' }], upTo: '4' });
      await db.exec('TRUNCATE schema_migrations; INSERT INTO schema_migrations VALUES (10, true)');
      expect(await reader.history(db)).toEqual({ table: 'golang_h.schema_migrations', rows: [{ version: '10', status: 'dirty' }], upTo: '10' });
      await db.exec('TRUNCATE schema_migrations');
      expect(await reader.history(db)).toEqual({ table: 'golang_h.schema_migrations', rows: [] });
    });
  });
});

describe('prisma reader', () => {
  const reader = READERS.prisma;
  const names = [
    '20240101000000_create_users',
    '20240102000000_add_name',
    '20240103000000_email_index',
    '20240104000000_fill_names',
    '20240105000000_create_orders',
  ];
  const bodies = [SQL.users, SQL.column, SQL.index, SQL.update, `\uFEFF${SQL.orders.replace('\n', '\r\n')}`];

  it('(fixture: Prisma layout) reads folders in order with the SHA-256 of each migration.sql as it is on disk', () => {
    const files: Record<string, string> = { 'migration_lock.toml': 'provider = "postgresql"\n' };
    names.forEach((n, i) => {
      files[`${n}/migration.sql`] = bodies[i] as string;
    });
    const ms = reader.read(fixture(files));
    expect(ms.map((m) => [m.version, m.name, m.files[0]])).toEqual(names.map((n) => [n, n.slice(15), `${n}/migration.sql`]));
    ms.forEach((m, i) => {
      expect(m.toolChecksum).toBe(sha256(Buffer.from(bodies[i] as string, 'utf8')));
      expect(m.down).toBeUndefined();
    });
    expect(ms[0]?.up).toBe(SQL.users);
    // Prisma's own test value (schema-engine checksum.rs: render_checksum("hello")).
    const hello = reader.read(fixture({ '1_hello/migration.sql': 'hello' }));
    expect(hello[0]?.toolChecksum).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });

  it('refuses a migration folder without migration.sql', () => {
    expect(usageError(() => reader.read(fixture({ '1_a/migration.sql': SQL.users, '2_b/notes.txt': 'x' })))).toMatch(/2_b: has no migration\.sql/);
  });

  it('(fixture: Prisma history) reads every attempt: failed, rolled back, applied', async () => {
    await inSchema('prisma_h', async () => {
      expect(await reader.history(db)).toBeUndefined();
      // As Prisma's schema engine creates _prisma_migrations.
      await db.exec(`CREATE TABLE "_prisma_migrations" (
          "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
          "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
          "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0);
        INSERT INTO "_prisma_migrations" VALUES
          ('a', 'c1', '2024-01-01 00:00:01', '20240101000000_create_users', NULL, NULL, '2024-01-01', 1),
          ('b', 'c2', NULL, '20240102000000_add_name', 'error', '2024-01-02 00:00:05', '2024-01-02', 0),
          ('c', 'c2', '2024-01-02 00:00:11', '20240102000000_add_name', NULL, NULL, '2024-01-02 00:00:10', 1),
          ('d', 'c3', NULL, '20240103000000_email_index', 'error', NULL, '2024-01-03', 0);`);
      expect(await reader.history(db)).toEqual({
        table: 'prisma_h._prisma_migrations',
        rows: [
          { version: '20240101000000_create_users', status: 'applied', checksum: 'c1' },
          { version: '20240102000000_add_name', status: 'rolled-back', checksum: 'c2' },
          { version: '20240102000000_add_name', status: 'applied', checksum: 'c2' },
          { version: '20240103000000_email_index', status: 'failed', checksum: 'c3' },
        ],
      });
    });
  });
});

describe('drizzle reader', () => {
  const reader = READERS.drizzle;
  const tags = ['0000_create_users', '0001_add_name', '0002_email_index', '0003_fill_names', '0004_create_orders'];
  const journal = (entries: string[], when = (i: number) => 1700000000000 + i) =>
    JSON.stringify({
      version: '7',
      dialect: 'postgresql',
      entries: entries.map((tag, idx) => ({ idx, version: '7', when: when(idx), tag, breakpoints: true })),
    });
  const bodies = [
    SQL.users,
    SQL.column,
    SQL.index,
    SQL.update,
    `${SQL.orders.trimEnd()}\n--> statement-breakpoint\nCREATE INDEX orders_user_idx ON orders (user_id);\r\n`,
  ];

  const layout = () => {
    const files: Record<string, string> = { 'meta/_journal.json': journal(tags), 'meta/0000_snapshot.json': '{}' };
    tags.forEach((t, i) => {
      files[`${t}.sql`] = bodies[i] as string;
    });
    return files;
  };

  it('(fixture: Drizzle Kit layout) reads the journal order, `when` as version and drizzle-orm’s hash', () => {
    const ms = reader.read(fixture(layout()));
    expect(ms.map((m) => [m.version, m.name, m.files])).toEqual(tags.map((t, i) => [String(1700000000000 + i), t.slice(5), [`${t}.sql`]]));
    ms.forEach((m, i) => {
      // drizzle-orm's readMigrationFiles: sha256 of the file's text with CRLF turned into LF.
      expect(m.toolChecksum).toBe(sha256((bodies[i] as string).replace(/\r\n/g, '\n')));
      expect(m.down).toBeUndefined();
    });
    expect(ms[4]?.up).toBe(`${SQL.orders}CREATE INDEX orders_user_idx ON orders (user_id);\r\n`);
    expect(drizzleHash(Buffer.from('a\r\nb'))).toBe(sha256('a\nb'));
    expect(withoutBreakpoints('CREATE TABLE a ();--> statement-breakpoint\nCREATE TABLE b ();')).toBe('CREATE TABLE a ();\nCREATE TABLE b ();');
  });

  it('refuses a missing journal file, a file not in the journal, a duplicate `when` and a broken journal', () => {
    const missing = layout();
    delete missing['0002_email_index.sql'];
    expect(usageError(() => reader.read(fixture(missing)))).toMatch(/_journal\.json: lists 0002_email_index, but .*0002_email_index\.sql does not exist/);
    expect(usageError(() => reader.read(fixture({ ...layout(), '0005_stray.sql': 'x' })))).toMatch(/0005_stray\.sql: is not in .*_journal\.json/);
    expect(usageError(() => reader.read(fixture({ ...layout(), 'meta/_journal.json': journal(tags, () => 5) })))).toMatch(
      /gives 0001_add_name the same `when` \(5\) as 0000_create_users/,
    );
    expect(usageError(() => reader.read(fixture({ ...layout(), 'meta/_journal.json': '{"entries": [{"tag": 1}]}' })))).toMatch(
      /_journal\.json: is not a drizzle-kit journal/,
    );
    expect(usageError(() => reader.read(fixture({ '0000_a.sql': 'x' })))).toMatch(/_journal\.json: cannot be read: does not exist/);
  });

  it('(fixture: Drizzle history) reads drizzle.__drizzle_migrations', async () => {
    await inSchema('drizzle', async () => {
      await db.exec('DROP TABLE IF EXISTS drizzle.__drizzle_migrations');
      expect(await reader.history(db)).toBeUndefined();
      // As drizzle-orm's pg migrator creates and fills it.
      await db.exec(`CREATE TABLE IF NOT EXISTS "drizzle"."__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
        INSERT INTO "drizzle"."__drizzle_migrations" ("hash", "created_at") VALUES ('h0', 1700000000000), ('h1', 1700000000001);`);
      expect(await reader.history(db)).toEqual({
        table: 'drizzle.__drizzle_migrations',
        rows: [
          { version: '1700000000000', status: 'applied', checksum: 'h0' },
          { version: '1700000000001', status: 'applied', checksum: 'h1' },
        ],
      });
    });
  });
});

describe('flyway reader', () => {
  const reader = READERS.flyway;

  it('computes Flyway’s checksum: CRC-32 over the lines without terminators, BOM dropped, signed', () => {
    // CRC-32 of "123456789" is the algorithm's published check value 0xCBF43926 (signed: -873187034).
    expect(flywayChecksum('123\r\n456\n789\n')).toBe('-873187034');
    expect(flywayChecksum('\uFEFF123456789')).toBe('-873187034');
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !/[\r\n]/.test(s))),
        fc.constantFrom('\n', '\r\n', '\r'),
        (lines, eol) => {
          const joined = Buffer.from(lines.join(''), 'utf8');
          expect(flywayChecksum(lines.join(eol))).toBe(String(crc32(joined) | 0));
        },
      ),
    );
  });

  it('(fixture: Flyway layout) reads V, U and R files, in numeric version order, repeatables last', () => {
    const dir = fixture({
      'V1__create_users.sql': SQL.users,
      'U1__create_users.sql': 'DROP TABLE users;\n',
      'V1_1__add_name.sql': SQL.column,
      'V2__email_index.sql': SQL.index,
      'V2__email_index.sql.conf': 'executeInTransaction=false\n',
      'data/V10__fill_names.sql': SQL.update,
      'V9.1__create_orders.sql': SQL.orders,
      'R__users_view.sql': 'CREATE OR REPLACE VIEW user_names AS SELECT name FROM users;\n',
    });
    const ms = reader.read(dir);
    expect(ms.map((m) => [m.version, m.name, m.transaction])).toEqual([
      ['1', 'create_users', true],
      ['1.1', 'add_name', true],
      ['2', 'email_index', false],
      ['9.1', 'create_orders', true],
      ['10', 'fill_names', true],
      ['R__users_view', 'users_view', true],
    ]);
    expect(ms[0]).toMatchObject({
      files: ['V1__create_users.sql', 'U1__create_users.sql'],
      up: SQL.users,
      down: 'DROP TABLE users;\n',
      toolChecksum: flywayChecksum(SQL.users),
    });
    expect(ms[4]?.files).toEqual([join('data', 'V10__fill_names.sql')]);
    expect(ms[1]?.down).toBeUndefined();
  });

  it('refuses a bad name, a duplicate version (1 and 1.0) and an undo without its V file', () => {
    expect(usageError(() => reader.read(fixture({ 'v1_create.sql': SQL.users })))).toMatch(/v1_create\.sql: is not named/);
    expect(usageError(() => reader.read(fixture({ 'V1__a.sql': SQL.users, 'V1.0__b.sql': SQL.column })))).toMatch(
      /V1__a\.sql: has the same version 1 as .*V1\.0__b\.sql/,
    );
    expect(usageError(() => reader.read(fixture({ 'V1__a.sql': SQL.users, 'U2__b.sql': 'x' })))).toMatch(/U2__b\.sql: undoes version 2, which has no V file/);
  });

  it('(fixture: Flyway history) skips SCHEMA rows, keeps BASELINE as upTo, marks failures and repeatables', async () => {
    await inSchema('flyway_h', async () => {
      expect(await reader.history(db)).toBeUndefined();
      // As Flyway's PostgreSQL createMetaDataTable.sql creates it.
      await db.exec(`CREATE TABLE flyway_schema_history (
          installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL,
          script VARCHAR(1000) NOT NULL, checksum INTEGER, installed_by VARCHAR(100) NOT NULL,
          installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL);
        INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES
          (1, '0', '<< Flyway Schema Creation >>', 'SCHEMA', '"app"', NULL, 'me', 0, true),
          (2, '1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', NULL, 'me', 0, true),
          (3, '1.1', 'add name', 'SQL', 'V1_1__add_name.sql', -12345, 'me', 3, true),
          (4, '2', 'email index', 'SQL', 'V2__email_index.sql', 777, 'me', 3, false),
          (5, NULL, 'users view', 'SQL', 'R__users_view.sql', 42, 'me', 1, true);`);
      expect(await reader.history(db)).toEqual({
        table: 'flyway_h.flyway_schema_history',
        rows: [
          { version: '1', status: 'applied' },
          { version: '1.1', status: 'applied', checksum: '-12345' },
          { version: '2', status: 'failed', checksum: '777' },
          { version: 'R__users_view', status: 'applied', checksum: '42' },
        ],
        upTo: '1',
      });
      // A successful undo (Flyway Teams) takes back the runs of its version before it.
      await db.exec(`INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
        VALUES (6, '1.1', 'add name', 'UNDO_SQL', 'U1_1__add_name.sql', 99, 'me', 1, true)`);
      expect((await reader.history(db))?.rows[1]).toEqual({ version: '1.1', status: 'rolled-back', checksum: '-12345' });
    });
  });
});
