import { beforeAll, describe, expect, it } from 'vitest';
import { parserReady, splitStatements } from '../../src/db/sql-script.js';
import { operationNamed } from '../../src/operations/index.js';
import { applyStatement } from '../../src/operations/sql-effects.js';
import { canonicalType, tableProblems, VirtualSchema } from '../../src/operations/virtual-schema.js';

beforeAll(parserReady);

/** A virtual schema with public.users (id bigint primary key, email text), after `sql`. */
function schemaAfter(sql: string): VirtualSchema {
  const schema = new VirtualSchema(['public']);
  const users = schema.addTable('public.users', [
    ['id', { type: 'bigint', notNull: true }],
    ['email', { type: 'text', notNull: false }],
  ]);
  users.primaryKey = { name: 'users_pkey', columns: ['id'] };
  for (const s of sql ? splitStatements(sql) : []) applyStatement(schema, s);
  return schema;
}

const columns = (schema: VirtualSchema, key: string) => Object.fromEntries([...(schema.tables.get(key)?.columns ?? [])].map(([n, c]) => [n, c.type]));

describe('the virtual schema follows the SQL of earlier steps through its parse tree', () => {
  it('CREATE TABLE with column types, NOT NULL and keys', () => {
    const s = schemaAfter('CREATE TABLE app.orders (id int GENERATED ALWAYS AS IDENTITY, code varchar(12) NOT NULL UNIQUE, at timestamptz, PRIMARY KEY (id))');
    expect(columns(s, 'app.orders')).toEqual({ id: 'integer', code: 'character varying(12)', at: 'timestamp with time zone' });
    expect(s.tables.get('app.orders')?.primaryKey?.columns).toEqual(['id']);
    expect([...(s.tables.get('app.orders')?.uniqueKeys.values() ?? [])]).toEqual([['code']]);
  });

  it('ALTER TABLE ADD, DROP, ALTER TYPE and RENAME COLUMN', () => {
    const s = schemaAfter(`ALTER TABLE users ADD COLUMN name text NOT NULL DEFAULT '', ALTER COLUMN email TYPE varchar(200);
      ALTER TABLE users RENAME COLUMN name TO full_name; ALTER TABLE users DROP COLUMN IF EXISTS ghost`);
    expect(columns(s, 'public.users')).toEqual({ id: 'bigint', email: 'character varying(200)', full_name: 'text' });
    expect(tableProblems(s, 'users', { has: ['full_name'], lacks: ['name'] })).toEqual([]);
  });

  it('RENAME, SET SCHEMA and DROP of tables', () => {
    const s = schemaAfter('ALTER TABLE users RENAME TO people; CREATE SCHEMA crm; ALTER TABLE people SET SCHEMA crm; CREATE TABLE t (a int); DROP TABLE t');
    expect([...s.tables.keys()]).toEqual(['crm.people']);
    expect(tableProblems(s, 'users')).toEqual(['table public.users does not exist']);
    expect(tableProblems(s, 'crm.people', { has: ['email'] })).toEqual([]);
  });

  it('a unique index on plain columns is a key; dropping a key column drops the key', () => {
    const s = schemaAfter('CREATE UNIQUE INDEX users_email ON users (email); ALTER TABLE users DROP COLUMN id');
    const t = s.tables.get('public.users');
    expect(t?.primaryKey).toBeNull();
    expect([...(t?.uniqueKeys ?? [])]).toEqual([['users_email', ['email']]]);
    expect(s.relations.get('public.users_email')).toBe('index');
  });

  it('a table altered in a way ferry does not follow is forgotten, not judged', () => {
    const s = schemaAfter('ALTER TABLE users INHERIT parent');
    expect(s.tables.get('public.users')?.known).toBe(false);
    expect(tableProblems(s, 'users', { has: ['nothing'] })).toEqual([]);
  });

  it('a DO block or a CALL makes everything after it unknown', () => {
    for (const sql of ["DO $$ BEGIN EXECUTE 'DROP TABLE users'; END $$", 'CALL reshape()']) {
      const s = schemaAfter(sql);
      expect(s.unknown).toBeDefined();
      expect(tableProblems(s, 'ghosts')).toEqual([]);
    }
  });

  it('data, privileges and functions leave the tables as they are', () => {
    const s = schemaAfter(`INSERT INTO users (email) VALUES ('a'); GRANT SELECT ON users TO PUBLIC; COMMENT ON TABLE users IS 'x';
      CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
    expect(s.unknown).toBeUndefined();
    expect(columns(s, 'public.users')).toEqual({ id: 'bigint', email: 'text' });
  });
});

describe('operations check themselves against the virtual schema and record their effect', () => {
  it('rename-table moves the table and leaves a view under the old name', () => {
    const s = schemaAfter('');
    const op = operationNamed('rename-table');
    const spec = op?.schema.parse({ from: 'users', to: 'people' });
    expect(op?.check?.(spec, s)).toEqual([]);
    op?.apply?.(spec, s);
    expect(s.relations.get('public.people')).toBe('table');
    expect(tableProblems(s, 'users')).toEqual(['public.users is a view, not a table']);
    expect(op?.check?.(spec, s)).toEqual(['public.users is a view, not a table', 'public.people already exists']);
  });

  it('spellings of one type compare equal: a change to it is no change', () => {
    expect(canonicalType('int8')).toBe('bigint');
    expect(canonicalType('timestamptz(3)')).toBe('timestamp(3) with time zone');
    const s = schemaAfter('');
    const op = operationNamed('change-type');
    const spec = op?.schema.parse({ table: 'users', column: 'id', type: 'INT8', using: 'id', reverse: 'id' });
    expect(op?.check?.(spec, s)).toEqual(['column "id" of table public.users is already bigint']);
  });
});
