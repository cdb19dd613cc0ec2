import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, quoteQualified } from '../../src/db/quote.js';
import { parserReady, splitStatements } from '../../src/db/sql-script.js';
import { verifySqlFor } from '../../src/import/verify-sql.js';
import { createServerDatabase } from '../helpers/databases.js';

const drops: (() => Promise<void>)[] = [];

beforeAll(parserReady);
afterAll(async () => {
  for (const drop of drops.splice(0)) await drop();
});

/** A client on a fresh database of the test server, closed and dropped after the file. */
async function freshDatabase(): Promise<pg.Client> {
  const db = await createServerDatabase('ferry_import_verify');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  drops.push(async () => {
    await client.end();
    await db.drop();
  });
  return client;
}

/** Each verify query's first column, as ferry's verify reads it. */
async function outcomes(client: pg.Client, verify: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const s of splitStatements(verify)) {
    const r = await client.query({ text: s.text, rowMode: 'array' });
    expect(r.rows).toHaveLength(1);
    out.push((r.rows[0] as unknown[])[0]);
  }
  return out;
}

/**
 * Derive the verify SQL of `forward`, check it fails before `forward` runs
 * (after `setup`), then passes after; returns it for assertions on its text.
 */
async function checkRoundTrip(forward: string, setup = ''): Promise<string> {
  const verify = verifySqlFor(splitStatements(forward));
  expect(verify).not.toBe('');
  const client = await freshDatabase();
  if (setup) await client.query(setup);
  expect(await outcomes(client, verify)).toContain(false);
  await client.query(forward);
  const after = await outcomes(client, verify);
  expect(after.length).toBeGreaterThan(0);
  expect(after.every((v) => v === true)).toBe(true);
  return verify;
}

describe('verifySqlFor', () => {
  it('CREATE TABLE: the table and its columns exist, odd names included', async () => {
    const verify = await checkRoundTrip('CREATE TABLE users (id int, "Mixed Case" text, "it\'s ""quoted"".x" int)');
    expect(verify).toContain(`-- table "users" exists\nSELECT to_regclass('"users"') IS NOT NULL;`);
    expect(verify).toContain(`attname = 'it''s "quoted".x'`);
  });

  it('CREATE TABLE IF NOT EXISTS in a schema with dots and quotes in its name', async () => {
    const verify = await checkRoundTrip('CREATE TABLE IF NOT EXISTS "s.p"."t.q" ("we""ird" int)', 'CREATE SCHEMA "s.p"');
    expect(verify).toContain(`SELECT to_regclass('"s.p"."t.q"') IS NOT NULL;`);
  });

  it('CREATE TABLE AS and CREATE UNLOGGED TABLE', async () => {
    await checkRoundTrip('CREATE UNLOGGED TABLE u (a int); CREATE TABLE "Copy" AS SELECT 1 AS a');
  });

  it("CREATE INDEX: a named index, found in its table's schema", async () => {
    const verify = await checkRoundTrip('CREATE UNIQUE INDEX "Idx A" ON app.t (a)', 'CREATE SCHEMA app; CREATE TABLE app.t (a int)');
    expect(verify).toContain(`-- index "app"."Idx A" exists`);
  });

  it('CREATE INDEX without a name, and data changes, have nothing to check', () => {
    const sql = 'CREATE INDEX ON t (a); INSERT INTO t VALUES (1); UPDATE t SET a = 2; DELETE FROM t; SELECT 1';
    expect(verifySqlFor(splitStatements(sql))).toBe('');
  });

  it('ALTER TABLE … ADD COLUMN: the column exists', async () => {
    const verify = await checkRoundTrip('ALTER TABLE t ADD COLUMN "New Col" int, ADD COLUMN IF NOT EXISTS b text', 'CREATE TABLE t (a int)');
    expect(verify).toContain(`-- column "New Col" of "t" exists`);
  });

  it('ALTER TABLE … ADD CONSTRAINT: a named constraint exists; an unnamed one is not checked', async () => {
    const verify = await checkRoundTrip(
      `ALTER TABLE t ADD CONSTRAINT "pos'itive" CHECK (a > 0), ADD CONSTRAINT t_pk PRIMARY KEY (a), ADD UNIQUE (b)`,
      'CREATE TABLE t (a int, b int)',
    );
    expect(verify.match(/^SELECT /gm)).toHaveLength(2);
    expect(verify).toContain(`conname = 'pos''itive'`);
  });

  it('CREATE VIEW and MATERIALIZED VIEW', async () => {
    await checkRoundTrip('CREATE VIEW "V" AS SELECT 1 AS x; CREATE OR REPLACE VIEW v2 AS SELECT 2 AS y; CREATE MATERIALIZED VIEW "m.v" AS SELECT 1 AS x');
  });

  it('CREATE SEQUENCE', async () => {
    await checkRoundTrip('CREATE SEQUENCE "Seq.1"; CREATE SEQUENCE app.s2', 'CREATE SCHEMA app');
  });

  it('CREATE TYPE (enum, composite) and CREATE DOMAIN', async () => {
    const verify = await checkRoundTrip(
      `CREATE TYPE mood AS ENUM ('a', 'b'); CREATE TYPE app."Pair" AS (a int, b text); CREATE DOMAIN pos AS int CHECK (VALUE > 0)`,
      'CREATE SCHEMA app',
    );
    expect(verify).toContain(`SELECT to_regtype('"app"."Pair"') IS NOT NULL;`);
  });

  it('CREATE FUNCTION and PROCEDURE, by name and schema (any overload)', async () => {
    const verify = await checkRoundTrip(
      `CREATE FUNCTION fns."Add"(a int, b int) RETURNS int LANGUAGE sql AS $$ SELECT a + b $$;
       CREATE FUNCTION plain() RETURNS int LANGUAGE sql AS 'SELECT 1';
       CREATE PROCEDURE "do it"() LANGUAGE sql AS $$ SELECT 1 $$`,
      'CREATE SCHEMA fns',
    );
    expect(verify).toContain('(any overload)');
  });

  it('CREATE SCHEMA and CREATE EXTENSION', async () => {
    await checkRoundTrip('CREATE SCHEMA "My Schema"; CREATE SCHEMA IF NOT EXISTS other; CREATE EXTENSION IF NOT EXISTS citext');
  });

  it('CREATE SCHEMA AUTHORIZATION names the schema after the role', () => {
    expect(verifySqlFor(splitStatements('CREATE SCHEMA AUTHORIZATION bob'))).toContain(`WHERE nspname = 'bob'`);
  });

  it('renames: the new table, column, index and constraint names exist and the old are gone', async () => {
    const verify = await checkRoundTrip(
      `ALTER TABLE old RENAME TO "New"; ALTER TABLE "New" RENAME COLUMN a TO "B"; ALTER INDEX old_i RENAME TO new_i;
       ALTER TABLE "New" RENAME CONSTRAINT c TO "C2"; ALTER SCHEMA s1 RENAME TO s2`,
      'CREATE TABLE old (a int CONSTRAINT c CHECK (a > 0)); CREATE INDEX old_i ON old (a); CREATE SCHEMA s1',
    );
    expect(verify).toContain(`-- table "old" is gone`);
    expect(verify).toContain(`-- column "B" of "New" exists`);
  });

  it('a table created then renamed: its columns are checked on the new name', async () => {
    const verify = await checkRoundTrip('CREATE TABLE a (x int); ALTER TABLE a RENAME TO b');
    expect(verify).toContain(`-- column "x" of "b" exists`);
    expect(verify).not.toContain(`of "a"`);
  });

  it('DROP TABLE, INDEX, VIEW, SEQUENCE, TYPE, SCHEMA, EXTENSION and DROP COLUMN / CONSTRAINT: the objects are gone', async () => {
    const verify = await checkRoundTrip(
      `DROP INDEX i; ALTER TABLE t DROP COLUMN b, DROP CONSTRAINT t_a; DROP TABLE IF EXISTS "Gone", nothing;
       DROP VIEW v; DROP SEQUENCE q; DROP TYPE mood; DROP SCHEMA s; DROP EXTENSION citext`,
      `CREATE TABLE t (a int CONSTRAINT t_a CHECK (a > 0), b int); CREATE INDEX i ON t (a); CREATE TABLE "Gone" (x int);
       CREATE VIEW v AS SELECT 1; CREATE SEQUENCE q; CREATE TYPE mood AS ENUM ('a'); CREATE SCHEMA s; CREATE EXTENSION citext`,
    );
    expect(verify).toContain('-- table "Gone" is gone\nSELECT to_regclass(\'"Gone"\') IS NULL;');
    expect(verify).toContain('-- column "b" of "t" is gone');
  });

  it('a table created and dropped in the same script: only the end state is checked', async () => {
    const verify = await checkRoundTrip('CREATE TABLE tmp (a int); CREATE INDEX tmp_i ON tmp (a); DROP TABLE tmp; CREATE TABLE keep (a int)');
    expect(verify).toContain('-- table "tmp" is gone');
    expect(verify).not.toContain('"tmp" exists');
    expect(verify).not.toContain('tmp_i');
  });

  it('a column added then dropped: checked as gone', () => {
    const verify = verifySqlFor(splitStatements('ALTER TABLE t ADD COLUMN c int; ALTER TABLE t DROP COLUMN c'));
    expect(verify).toContain('-- column "c" of "t" is gone');
    expect(verify).not.toContain('exists');
  });

  it('DROP … CASCADE: objects the cascade may have taken are no longer checked', async () => {
    const verify = await checkRoundTrip('CREATE TABLE a (x int); CREATE VIEW va AS SELECT x FROM a; DROP TABLE a CASCADE; CREATE TABLE keep (a int)');
    expect(verify).not.toContain('"va"');
  });

  it('a name on several lines stays inside its literal, not in the comment', async () => {
    const verify = await checkRoundTrip('CREATE TABLE "line\none" ("a\r\nb" int)');
    expect(verify).toContain('-- table "line\\none" exists');
  });

  it('any table and column name PostgreSQL accepts: CREATE TABLE then its verify passes', async () => {
    const client = await freshDatabase();
    const ident = fc.string({ unit: 'binary', minLength: 1, maxLength: 63 }).filter((s) => !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= 63);
    await fc.assert(
      fc.asyncProperty(ident, ident, fc.option(ident, { nil: undefined }), async (table, column, schema) => {
        const forward =
          schema === undefined
            ? `CREATE TABLE ${quoteIdent(table)} (${quoteIdent(column)} int)`
            : `CREATE SCHEMA ${quoteIdent(schema)}; CREATE TABLE ${quoteQualified(schema, table)} (${quoteIdent(column)} int)`;
        const verify = verifySqlFor(splitStatements(forward));
        await client.query('BEGIN');
        try {
          await client.query(forward);
          expect((await outcomes(client, verify)).every((v) => v === true)).toBe(true);
        } finally {
          await client.query('ROLLBACK');
        }
      }),
      { numRuns: 100 },
    );
  });
});
