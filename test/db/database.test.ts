import { expect, it } from 'vitest';
import { forEachDriver } from '../helpers/databases.js';

forEachDriver('Database', (suite) => {
  it('commits a transaction that resolves and rolls back one that throws', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await db.exec('CREATE TABLE t (a int)');
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO t VALUES ($1)', [1]);
      });
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES ($1)', [2]);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect((await db.query('SELECT a FROM t')).rows).toEqual([{ a: 1 }]);
      const [ins, sel] = await db.exec('INSERT INTO t VALUES (3), (4); SELECT count(*)::int AS n FROM t');
      expect(ins?.affectedRows).toBe(2);
      expect(sel?.rows).toEqual([{ n: 3 }]);
    } finally {
      await db.close();
    }
  });

  it('runs a statement marked prepare like any other, and a server session parses it once, across rolled-back transactions', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await db.exec('CREATE TABLE t (a int)');
      const insert = 'INSERT INTO t VALUES ($1) RETURNING a';
      await expect(
        db.transaction(async (tx) => {
          expect((await tx.query(insert, [1], { prepare: true })).rows).toEqual([{ a: 1 }]);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      for (const v of [2, 3]) await db.transaction(async (tx) => tx.query(insert, [v], { prepare: true }));
      expect((await db.query('SELECT a FROM t ORDER BY a')).rows).toEqual([{ a: 2 }, { a: 3 }]);
      if (suite.kind === 'server') {
        const { rows } = await db.query<{ name: string }>('SELECT name FROM pg_prepared_statements WHERE statement = $1', [insert]);
        expect(rows).toHaveLength(1);
        expect(rows[0]?.name).toMatch(/^ferry_[0-9a-f]{24}$/);
      }
    } finally {
      await db.close();
    }
  });

  it('delivers NOTIFY payloads to listeners until they unsubscribe', async () => {
    const db = await (await suite.fresh()).open();
    try {
      const got: string[] = [];
      const off = await db.listen('ferry_test', (p) => got.push(p));
      await db.query(`SELECT pg_notify('ferry_test', 'héllo')`);
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual(['héllo']);
      await off();
      await db.query(`SELECT pg_notify('ferry_test', 'after')`);
      await db.query('SELECT 1');
      expect(got).toEqual(['héllo']);
    } finally {
      await db.close();
    }
  });

  it('runs work under the advisory lock one caller at a time', async () => {
    const db = await (await suite.fresh()).open();
    try {
      const order: string[] = [];
      const job = (name: string) =>
        db.withAdvisoryLock(42n, 5000, async () => {
          order.push(`${name} start`);
          await new Promise((r) => setTimeout(r, 30));
          order.push(`${name} end`);
        });
      if (suite.kind === 'pglite') {
        await Promise.all([job('a'), job('b')]);
        expect(order).toEqual(['a start', 'a end', 'b start', 'b end']);
      } else {
        // On the server the lock is per session: a second session waits, then gives up naming the holder.
        const target = await suite.fresh();
        const one = await target.open();
        const two = await target.open();
        try {
          let release = () => {};
          const held = one.withAdvisoryLock(42n, 1000, () => new Promise<void>((r) => (release = r)));
          await new Promise((r) => setTimeout(r, 100));
          await expect(two.withAdvisoryLock(42n, 300, async () => {})).rejects.toThrow(/holds the migration lock.*pid \d+/);
          release();
          await held;
          await two.withAdvisoryLock(42n, 300, async () => order.push('two'));
          expect(order).toEqual(['two']);
        } finally {
          await one.close();
          await two.close();
        }
      }
    } finally {
      await db.close();
    }
  });
});
