import { expect, it } from 'vitest';
import { describeSize, readLintCatalog } from '../../src/lint/index.js';
import { forEachDriver } from '../helpers/databases.js';

forEachDriver('the catalog the linter reads', (suite) => {
  it('reads tables with column types (typmod, collation), estimated rows and size, indexes by schema, and the search path', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await db.exec(`
        CREATE SCHEMA app;
        CREATE TABLE public.users (id int PRIMARY KEY, email varchar(100), code varchar(10) COLLATE "C", price numeric(10,2), at timestamp(3));
        CREATE TABLE app."Orders" (id bigint, total numeric);
        CREATE INDEX users_email_idx ON public.users (email);
        CREATE INDEX orders_total_idx ON app."Orders" (total);
        INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 500) g;
        ANALYZE users;`);
      const c = await readLintCatalog(db);
      expect(c.searchPath).toEqual(['public']);
      const users = c.tables.find((t) => t.schema === 'public' && t.name === 'users');
      expect(users).toMatchObject({ kind: 'table', rows: 500 });
      expect(users?.bytes).toBeGreaterThan(8192);
      expect(users?.columns.email).toEqual({ type: 'character varying(100)', typeName: 'varchar', typeSchema: 'pg_catalog', typmod: 104, collation: null });
      expect(users?.columns.code?.collation).toBe('C');
      expect(users?.columns.price).toMatchObject({ type: 'numeric(10,2)', typmod: (10 << 16) + 2 + 4 });
      expect(users?.columns.at).toMatchObject({ type: 'timestamp(3) without time zone', typeName: 'timestamp', typmod: 3 });
      expect(users?.columns.id).toMatchObject({ type: 'integer', typeName: 'int4', typmod: -1 });
      const orders = c.tables.find((t) => t.name === 'Orders');
      expect(orders).toMatchObject({ schema: 'app', rows: null });
      expect(c.indexes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ schema: 'public', name: 'users_email_idx', table: 'users' }),
          expect.objectContaining({ schema: 'public', name: 'users_pkey', table: 'users' }),
          expect.objectContaining({ schema: 'app', name: 'orders_total_idx', table: 'Orders' }),
        ]),
      );
      expect(describeSize(users as NonNullable<typeof users>)).toMatch(/^~500 rows, \d+(\.\d)? kB$/);
      expect(describeSize(orders as NonNullable<typeof orders>)).toMatch(/^row count not yet analysed, /);
    } finally {
      await db.close();
    }
  });
});
