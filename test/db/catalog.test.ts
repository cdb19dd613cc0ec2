import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeChange,
  describeLockMode,
  diffSchemas,
  type LockHeld,
  locksHeld,
  type SchemaChange,
  type SchemaSnapshot,
  snapshotSchema,
} from '../../src/db/catalog.js';
import type { Database, Queryable } from '../../src/db/database.js';
import { forEachDriver } from '../helpers/databases.js';

class Rollback extends Error {}

/** Run `fn` in a transaction that is always rolled back, returning what `fn` returned. */
async function rolledBack<T>(db: Database, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  let out: T | undefined;
  await db
    .transaction(async (tx) => {
      out = await fn(tx);
      throw new Rollback();
    })
    .catch((err: unknown) => {
      if (!(err instanceof Rollback)) throw err;
    });
  return out as T;
}

forEachDriver('schema catalog', (suite) => {
  let db: Database;
  let n = 0;
  /** A new schema per test, so tests do not see each other's objects change. */
  const schema = async (setup = '') => {
    const s = `cat${++n}`;
    await db.exec(`CREATE SCHEMA ${s}; ${setup.replaceAll('$s', s)}`);
    return s;
  };
  /** The changes `migration` makes, as describeChange lines. */
  const changesBy = async (s: string, migration: string) => {
    const before = await snapshotSchema(db);
    await db.exec(migration.replaceAll('$s', s));
    return diffSchemas(before, await snapshotSchema(db)).map(describeChange);
  };

  beforeAll(async () => {
    db = await (await suite.fresh()).open();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('takes the same snapshot twice and describes every kind of object', async () => {
    const s = await schema(`
      CREATE TYPE $s.mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TABLE $s.users (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        email varchar(100) NOT NULL UNIQUE,
        name text COLLATE "C" DEFAULT 'anon',
        mood $s.mood,
        score int CHECK (score >= 0),
        doubled int GENERATED ALWAYS AS (score * 2) STORED
      );
      CREATE TABLE $s.posts (id serial PRIMARY KEY, user_id bigint REFERENCES $s.users (id));
      CREATE INDEX posts_user_idx ON $s.posts (user_id);
      CREATE VIEW $s.happy AS SELECT id FROM $s.users WHERE mood = 'happy';
      CREATE MATERIALIZED VIEW $s.counts AS SELECT user_id, count(*) FROM $s.posts GROUP BY user_id;
      CREATE FUNCTION $s.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
      CREATE FUNCTION $s.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';
      CREATE FUNCTION $s.add(a text, b text) RETURNS text LANGUAGE sql AS 'SELECT a || b';
      CREATE PROCEDURE $s.noop() LANGUAGE sql AS 'SELECT 1';
      CREATE TRIGGER users_touch BEFORE UPDATE ON $s.users FOR EACH ROW EXECUTE FUNCTION $s.touch();
      CREATE SEQUENCE $s.tickets START 100 INCREMENT 5;
    `);
    const a = await snapshotSchema(db);
    const b = await snapshotSchema(db);
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(diffSchemas(a, b)).toEqual([]);

    expect(a.schemas).toContain(s);
    expect(a.enums[`${s}.mood`]).toEqual(['sad', 'ok', 'happy']);
    const users = a.tables[`${s}.users`];
    expect(Object.keys(users?.columns ?? {})).toEqual(['doubled', 'email', 'id', 'mood', 'name', 'score']);
    expect(users?.columns.id).toMatchObject({ type: 'bigint', notNull: true, identity: 'always' });
    expect(users?.columns.email).toMatchObject({ type: 'character varying(100)', notNull: true, default: null });
    expect(users?.columns.name).toMatchObject({ collation: '"C"', default: "'anon'::text", notNull: false });
    expect(users?.columns.doubled).toMatchObject({ generated: 'stored', default: '(score * 2)' });
    expect(a.constraints[`${s}.users.users_pkey`]).toMatchObject({ type: 'primary key', definition: 'PRIMARY KEY (id)' });
    expect(a.constraints[`${s}.posts.posts_user_id_fkey`]?.type).toBe('foreign key');
    expect(a.indexes[`${s}.posts_user_idx`]).toEqual({
      table: `${s}.posts`,
      definition: `CREATE INDEX posts_user_idx ON ${s}.posts USING btree (user_id)`,
      valid: true,
    });
    expect(a.views[`${s}.happy`]?.materialized).toBe(false);
    expect(a.views[`${s}.counts`]?.materialized).toBe(true);
    expect(Object.keys(a.functions).filter((k) => k.startsWith(`${s}.`))).toEqual([
      `${s}.add(a integer, b integer)`,
      `${s}.add(a text, b text)`,
      `${s}.noop()`,
      `${s}.touch()`,
    ]);
    expect(a.functions[`${s}.noop()`]?.kind).toBe('procedure');
    expect(a.functions[`${s}.touch()`]?.md5).toMatch(/^[0-9a-f]{32}$/);
    expect(a.triggers[`${s}.users.users_touch`]?.enabled).toBe('origin');
    expect(a.sequences[`${s}.tickets`]).toMatchObject({ start: '100', increment: '5', ownedBy: null });
    expect(a.sequences[`${s}.posts_id_seq`]?.ownedBy).toBe(`${s}.posts.id`);
    expect(a.sequences[`${s}.users_id_seq`]?.ownedBy).toBe(`${s}.users.id`);
    // PostgreSQL 18 (PGlite) catalogues validated NOT NULL constraints; they must not show up.
    expect(Object.values(a.constraints).map((c) => c.type)).not.toContain('not null');
  });

  it('leaves out system schemas, ferry and excluded schemas', async () => {
    await db.exec('CREATE SCHEMA IF NOT EXISTS ferry; CREATE TABLE IF NOT EXISTS ferry.state (id int);');
    const s = await schema('CREATE TABLE $s.hidden (id int)');
    const all = await snapshotSchema(db);
    const some = await snapshotSchema(db, { excludeSchemas: [s] });
    expect(all.schemas).not.toContain('ferry');
    expect(all.schemas.some((x) => x.startsWith('pg_') || x === 'information_schema')).toBe(false);
    expect(Object.keys(all.tables).some((k) => k.startsWith('ferry.'))).toBe(false);
    expect(all.tables[`${s}.hidden`]).toBeDefined();
    expect(some.tables[`${s}.hidden`]).toBeUndefined();
    expect(some.schemas).not.toContain(s);
  });

  it('reports added, removed and changed columns', async () => {
    const s = await schema('CREATE TABLE $s.users (id int PRIMARY KEY, email varchar(100) NOT NULL, nick text)');
    expect(await changesBy(s, 'ALTER TABLE $s.users ADD COLUMN first_name text')).toEqual([`+ column ${s}.users.first_name text NULL`]);
    expect(await changesBy(s, 'ALTER TABLE $s.users DROP COLUMN nick')).toEqual([`- column ${s}.users.nick`]);
    expect(await changesBy(s, 'ALTER TABLE $s.users ALTER COLUMN email TYPE text')).toEqual([
      `~ column ${s}.users.email: character varying(100) NOT NULL → text NOT NULL`,
    ]);
    expect(await changesBy(s, "ALTER TABLE $s.users ALTER COLUMN first_name SET DEFAULT 'x'")).toEqual([
      `~ column ${s}.users.first_name: text NULL → text NULL DEFAULT 'x'::text`,
    ]);
  });

  it('ignores column order: dropping and re-adding a column restores the snapshot', async () => {
    const s = await schema('CREATE TABLE $s.t (a int, b text NOT NULL, c int)');
    expect(await changesBy(s, 'ALTER TABLE $s.t DROP COLUMN a; ALTER TABLE $s.t ADD COLUMN a int')).toEqual([]);
  });

  it('folds the columns of an added or removed table into the table', async () => {
    const s = await schema();
    expect(await changesBy(s, 'CREATE TABLE $s.t (b text, a int NOT NULL)')).toEqual([`+ table ${s}.t table (a integer NOT NULL, b text NULL)`]);
    expect(await changesBy(s, 'DROP TABLE $s.t')).toEqual([`- table ${s}.t`]);
  });

  it('reports indexes, including one a failed CONCURRENTLY build left invalid', async () => {
    const s = await schema('CREATE TABLE $s.users (id int, email text); INSERT INTO $s.users VALUES (1, $$a$$), (2, $$a$$);');
    expect(await changesBy(s, 'CREATE INDEX users_id_idx ON $s.users (id)')).toEqual([
      `+ index ${s}.users_id_idx CREATE INDEX users_id_idx ON ${s}.users USING btree (id)`,
    ]);
    const before = await snapshotSchema(db);
    await expect(db.query(`CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON ${s}.users (email)`)).rejects.toThrow();
    const after = await snapshotSchema(db);
    expect(after.indexes[`${s}.users_email_key`]?.valid).toBe(false);
    expect(diffSchemas(before, after).map(describeChange)).toEqual([
      `+ index ${s}.users_email_key CREATE UNIQUE INDEX users_email_key ON ${s}.users USING btree (email) INVALID`,
    ]);
    await db.exec(`DELETE FROM ${s}.users WHERE id = 2`);
    expect(await changesBy(s, 'REINDEX INDEX $s.users_email_key')).toEqual([
      `~ index ${s}.users_email_key: CREATE UNIQUE INDEX users_email_key ON ${s}.users USING btree (email) INVALID → ` +
        `CREATE UNIQUE INDEX users_email_key ON ${s}.users USING btree (email)`,
    ]);
    expect(await changesBy(s, 'DROP INDEX $s.users_id_idx')).toEqual([`- index ${s}.users_id_idx`]);
  });

  it('tells a NOT VALID constraint from a validated one', async () => {
    const s = await schema('CREATE TABLE $s.t (n int)');
    expect(await changesBy(s, 'ALTER TABLE $s.t ADD CONSTRAINT n_positive CHECK (n > 0) NOT VALID')).toEqual([
      `+ constraint ${s}.t.n_positive CHECK ((n > 0)) NOT VALID`,
    ]);
    expect(await changesBy(s, 'ALTER TABLE $s.t VALIDATE CONSTRAINT n_positive')).toEqual([
      `~ constraint ${s}.t.n_positive: CHECK ((n > 0)) NOT VALID → CHECK ((n > 0))`,
    ]);
    expect((await snapshotSchema(db)).constraints[`${s}.t.n_positive`]?.validated).toBe(true);
    expect(await changesBy(s, 'ALTER TABLE $s.t DROP CONSTRAINT n_positive')).toEqual([`- constraint ${s}.t.n_positive`]);
  });

  it('reports views by their definition', async () => {
    const s = await schema('CREATE TABLE $s.t (a int, b int)');
    const added = await changesBy(s, 'CREATE VIEW $s.v AS SELECT a FROM $s.t');
    expect(added).toHaveLength(1);
    // PostgreSQL 15 prints `t.a`, 16 and later just `a`: compare snapshots from one engine only.
    expect(added[0]).toMatch(new RegExp(`^\\+ view ${s}\\.v SELECT (t\\.)?a FROM ${s}\\.t;$`));
    const changed = await changesBy(s, 'CREATE OR REPLACE VIEW $s.v AS SELECT a, b FROM $s.t');
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatch(new RegExp(`^~ view ${s}\\.v: SELECT (t\\.)?a FROM .* → SELECT (t\\.)?a, (t\\.)?b FROM `));
    expect(await changesBy(s, 'DROP VIEW $s.v')).toEqual([`- view ${s}.v`]);
  });

  it('reports functions by signature and body hash', async () => {
    const s = await schema("CREATE FUNCTION $s.f(x int) RETURNS int LANGUAGE sql AS 'SELECT x'");
    const changed = await changesBy(s, "CREATE OR REPLACE FUNCTION $s.f(x int) RETURNS int LANGUAGE sql AS 'SELECT x + 1'");
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatch(
      new RegExp(`^~ function ${s}\\.f\\(x integer\\): RETURNS integer LANGUAGE sql md5 [0-9a-f]{32} → RETURNS integer LANGUAGE sql md5 [0-9a-f]{32}$`),
    );
    expect(await changesBy(s, "CREATE FUNCTION $s.f(x text) RETURNS text LANGUAGE sql AS 'SELECT x'")).toEqual([
      expect.stringMatching(new RegExp(`^\\+ function ${s}\\.f\\(x text\\) RETURNS text LANGUAGE sql md5 `)),
    ]);
    expect(await changesBy(s, 'DROP FUNCTION $s.f(int)')).toEqual([`- function ${s}.f(x integer)`]);
  });

  it('reports triggers, including disabling one', async () => {
    const s = await schema(`
      CREATE TABLE $s.t (a int);
      CREATE FUNCTION $s.tg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';`);
    const def = `CREATE TRIGGER t_tg BEFORE INSERT ON ${s}.t FOR EACH ROW EXECUTE FUNCTION ${s}.tg()`;
    expect(await changesBy(s, 'CREATE TRIGGER t_tg BEFORE INSERT ON $s.t FOR EACH ROW EXECUTE FUNCTION $s.tg()')).toEqual([`+ trigger ${s}.t.t_tg ${def}`]);
    expect(await changesBy(s, 'ALTER TABLE $s.t DISABLE TRIGGER t_tg')).toEqual([`~ trigger ${s}.t.t_tg: ${def} → ${def} (DISABLED)`]);
    expect(await changesBy(s, 'DROP TRIGGER t_tg ON $s.t')).toEqual([`- trigger ${s}.t.t_tg`]);
  });

  it('reports enum types and their labels', async () => {
    const s = await schema();
    expect(await changesBy(s, "CREATE TYPE $s.mood AS ENUM ('sad', 'happy')")).toEqual([`+ enum ${s}.mood ('sad', 'happy')`]);
    expect(await changesBy(s, "ALTER TYPE $s.mood ADD VALUE 'ok' BEFORE 'happy'")).toEqual([`~ enum ${s}.mood: ('sad', 'happy') → ('sad', 'ok', 'happy')`]);
    expect(await changesBy(s, 'DROP TYPE $s.mood')).toEqual([`- enum ${s}.mood`]);
  });

  it('reports the AccessExclusiveLock that ADD COLUMN takes', async () => {
    const s = await schema('CREATE TABLE $s.t (a int)');
    const locks = await rolledBack(db, async (tx) => {
      await tx.query(`ALTER TABLE ${s}.t ADD COLUMN b int`);
      return locksHeld(tx);
    });
    expect(locks).toContainEqual(expect.objectContaining({ relation: `${s}.t`, mode: 'AccessExclusiveLock' }));
    expect(locks.some((l) => l.relation.startsWith('pg_') || l.relation.startsWith('information_schema.'))).toBe(false);
    expect(new Set(locks.map((l) => `${l.relation} ${l.mode}`)).size).toBe(locks.length);
    expect((await snapshotSchema(db)).tables[`${s}.t`]?.columns.b).toBeUndefined();
  });

  it('reports the ShareLock that a plain CREATE INDEX takes, strongest mode first', async () => {
    const s = await schema('CREATE TABLE $s.t (a int); CREATE TABLE $s.u (a int)');
    const locks = await rolledBack(db, async (tx) => {
      await tx.query(`SELECT * FROM ${s}.u`);
      await tx.query(`CREATE INDEX t_a_idx ON ${s}.t (a)`);
      await tx.query(`SELECT * FROM ${s}.t`);
      return locksHeld(tx);
    });
    const on = (rel: string) => locks.filter((l) => l.relation === rel).map((l) => l.mode);
    expect(on(`${s}.t`)).toEqual(['ShareLock', 'AccessShareLock']);
    expect(on(`${s}.u`)).toEqual(['AccessShareLock']);
    const relations = locks.map((l) => l.relation);
    expect(relations).toEqual([...relations].sort());
  });

  it('still reports the lock on a table dropped in the transaction, by oid', async () => {
    const s = await schema('CREATE TABLE $s.gone (a int)');
    const { rows } = await db.query<{ oid: number | string }>(`SELECT '${s}.gone'::regclass::oid AS oid`);
    const locks: LockHeld[] = await rolledBack(db, async (tx) => {
      await tx.query(`DROP TABLE ${s}.gone`);
      return locksHeld(tx);
    });
    const oid = Number(rows[0]?.oid);
    expect(locks).toContainEqual({ relation: `(dropped relation ${oid})`, mode: 'AccessExclusiveLock', oid });
  });

  it('ignores ferry’s own schema in locks', async () => {
    await db.exec('CREATE SCHEMA IF NOT EXISTS ferry; CREATE TABLE IF NOT EXISTS ferry.state (id int);');
    const locks = await rolledBack(db, async (tx) => {
      await tx.query('LOCK TABLE ferry.state IN ACCESS EXCLUSIVE MODE');
      return locksHeld(tx);
    });
    expect(locks.some((l) => l.relation.startsWith('ferry.'))).toBe(false);
  });
});

describe('describing changes and locks', () => {
  const snap = (over: Partial<SchemaSnapshot> = {}): SchemaSnapshot => ({
    schemas: ['public'],
    extensions: {},
    enums: {},
    sequences: {},
    tables: {},
    indexes: {},
    constraints: {},
    views: {},
    functions: {},
    triggers: {},
    ...over,
  });

  it('prints one line per change, collapsing multi-line definitions', () => {
    const change: SchemaChange = { kind: 'changed', object: 'view public.v', before: ' SELECT a\n   FROM t;', after: ' SELECT a,\n    b\n   FROM t;' };
    expect(describeChange(change)).toBe('~ view public.v: SELECT a FROM t; → SELECT a, b FROM t;');
    expect(describeChange({ kind: 'added', object: 'schema app', after: '' })).toBe('+ schema app');
    expect(describeChange({ kind: 'removed', object: 'index public.users_prefs_gin', before: 'CREATE INDEX …' })).toBe('- index public.users_prefs_gin');
  });

  it('orders changes by kind, then name, independent of locale', () => {
    const changes = diffSchemas(snap(), snap({ schemas: ['app', 'public', 'Zed'], enums: { 'public.b': ['x'], 'public.B': ['y'] } }));
    expect(changes.map((c) => c.object)).toEqual(['schema Zed', 'schema app', 'enum public.B', 'enum public.b']);
  });

  it('says what each lock mode blocks', () => {
    expect(describeLockMode('AccessExclusiveLock')).toBe('blocks all reads and writes');
    expect(describeLockMode('ShareLock')).toBe('blocks writes');
    expect(describeLockMode('ShareUpdateExclusiveLock')).toBe('blocks DDL and VACUUM, not reads or writes');
    expect(describeLockMode('RowExclusiveLock')).toBe('blocks DDL only');
    expect(describeLockMode('AccessShareLock')).toMatch(/not reads or writes/);
    expect(describeLockMode('NoSuchLock')).toBe('unknown lock mode NoSuchLock');
  });
});
