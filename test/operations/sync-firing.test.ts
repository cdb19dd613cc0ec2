import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parserReady } from '../../src/db/sql-script.js';
import { changeType } from '../../src/operations/change-type.js';
import { composeOperations } from '../../src/operations/compose.js';
import { splitColumn } from '../../src/operations/split-column.js';
import type { Operation, SqlPart } from '../../src/operations/types.js';
import { createServerDatabase } from '../helpers/databases.js';

/** When the sync trigger function runs, counted by PostgreSQL itself, and how triggers of an earlier ferry are taken over and removed. */

const SPLIT = {
  table: 'users',
  column: 'full_name',
  into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
  merge: "first_name || ' ' || last_name",
};
const RETYPE = { table: 'users', column: 'amount', type: 'bigint', using: 'amount::bigint * 100', reverse: '(amount / 100)::int' };

/** The sync parts of split-column then change-type of `users`, composed; and split-column's contract. */
function parts(): { sync: SqlPart[]; contract: SqlPart } {
  const steps = [
    { id: 'split', op: splitColumn as Operation<unknown>, spec: splitColumn.schema.parse(SPLIT) },
    { id: 'retype', op: changeType as Operation<unknown>, spec: changeType.schema.parse(RETYPE) },
  ];
  const out = [...composeOperations(steps).steps.values()];
  const sqlParts = (ps: { kind: string }[]) => ps.filter((p): p is SqlPart => p.kind === 'sql');
  return {
    sync: out.flatMap((s) => sqlParts(s.expand).filter((p) => p.name === 'sync-trigger')),
    contract: sqlParts(splitColumn.contract(splitColumn.schema.parse(SPLIT)))[0] as SqlPart,
  };
}

let db: Awaited<ReturnType<typeof createServerDatabase>>;
let client: pg.Client;
beforeAll(async () => {
  await parserReady();
  db = await createServerDatabase('ferry_firing');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const run = async (statements: string[]) => {
  for (const s of statements) await client.query(s);
};
const value = async (sql: string): Promise<unknown> => Object.values((await client.query(sql)).rows[0] ?? {})[0];
const verified = async (p: SqlPart) => {
  for (const v of p.verify) expect(await value(v), v).toBe(true);
};
const triggers = async () =>
  (await client.query<{ tgname: string }>("SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass AND NOT tgisinternal ORDER BY 1")).rows.map(
    (r) => r.tgname,
  );
const functionExists = () => value("SELECT to_regprocedure('public.ferry_sync_users_full_name()') IS NOT NULL");

async function table(): Promise<void> {
  await client.query('DROP TABLE IF EXISTS users CASCADE; DROP FUNCTION IF EXISTS ferry_sync_users_full_name()');
  await client.query(
    'CREATE TABLE users (id int PRIMARY KEY, note text, full_name text, first_name text, last_name text, amount int, amount__ferry_new bigint)',
  );
}

describe('sync trigger firing', () => {
  it('a write that touches neither shape does not run the function (pg_stat_user_functions.calls)', async () => {
    await table();
    const [split] = parts().sync as [SqlPart];
    await run(split.forward);
    await client.query("SET track_functions = 'pl'");
    const calls = async () => {
      await client.query('SELECT pg_stat_force_next_flush()');
      return Number(await value("SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'ferry_sync_users_full_name'"));
    };
    const start = await calls();
    const countsAfter = async (sql: string, more: number) => {
      const before = await calls();
      await client.query(sql);
      expect(await calls(), sql).toBe(before + more);
    };
    await countsAfter("INSERT INTO users (id, full_name, note) VALUES (1, 'Ann Bee', 'a'), (2, 'Cy Dee', 'b')", 2);
    expect((await client.query('SELECT first_name, last_name FROM users WHERE id = 1')).rows).toEqual([{ first_name: 'Ann', last_name: 'Bee' }]);
    await countsAfter("UPDATE users SET note = 'unrelated'", 0);
    await countsAfter('UPDATE users SET amount = 5, note = NULL', 0);
    // Named in SET: the function runs, finds nothing changed, and leaves the rows as they were.
    await countsAfter('UPDATE users SET full_name = full_name, first_name = first_name', 2);
    expect((await client.query('SELECT first_name, last_name FROM users WHERE id = 2')).rows).toEqual([{ first_name: 'Cy', last_name: 'Dee' }]);
    await countsAfter("UPDATE users SET full_name = 'Eve Fox' WHERE id = 1", 1);
    await countsAfter("UPDATE users SET last_name = 'Gee' WHERE id = 2", 1);
    expect((await client.query('SELECT full_name FROM users ORDER BY id')).rows).toEqual([{ full_name: 'Eve Fox' }, { full_name: 'Cy Gee' }]);
    expect(await calls()).toBe(start + 6);
  });

  it('installs two triggers, verifies, and composes: the UPDATE trigger covers every block and goes back on rollback', async () => {
    await table();
    const [split, retype] = parts().sync as [SqlPart, SqlPart];
    await run(split.forward);
    await verified(split);
    expect(await triggers()).toEqual(['ferry_sync_full_name_insert', 'ferry_sync_full_name_update']);
    const updateColumns = () =>
      value("SELECT array_length(tgattr, 1) FROM pg_trigger WHERE tgrelid = 'users'::regclass AND tgname = 'ferry_sync_full_name_update'");
    expect(await updateColumns()).toBe(3);
    await run(retype.forward);
    await verified(retype);
    expect(await updateColumns()).toBe(5);
    await client.query("INSERT INTO users (id, full_name, amount) VALUES (1, 'Ann Bee', 7)");
    expect((await client.query('SELECT first_name, amount__ferry_new FROM users')).rows).toEqual([{ first_name: 'Ann', amount__ferry_new: '700' }]);
    await run(retype.rollback);
    expect(await updateColumns()).toBe(3);
    await run(split.rollback);
    expect(await triggers()).toEqual([]);
    expect(await functionExists()).toBe(false);
  });

  it("takes over an earlier ferry's single trigger: verify accepts it, a composed step keeps it, and every rollback and contract removes it", async () => {
    await table();
    const { sync, contract } = parts();
    const [split, retype] = sync as [SqlPart, SqlPart];
    const legacy = split.previous as NonNullable<SqlPart['previous']>;
    // Expand applied by the earlier ferry, rolled back by this one.
    await run(legacy.forward);
    expect(await triggers()).toEqual(['ferry_sync_full_name']);
    await verified(split);
    await run(split.rollback);
    expect(await triggers()).toEqual([]);
    expect(await functionExists()).toBe(false);
    // The first step applied by the earlier ferry, the composed one by this: one trigger still, and the earlier ferry's recorded rollback still works.
    await run(legacy.forward);
    await run(retype.forward);
    await verified(retype);
    expect(await triggers()).toEqual(['ferry_sync_full_name']);
    await client.query("INSERT INTO users (id, full_name, amount) VALUES (1, 'Ann Bee', 7)");
    expect((await client.query('SELECT last_name, amount__ferry_new FROM users')).rows).toEqual([{ last_name: 'Bee', amount__ferry_new: '700' }]);
    await run(retype.rollback);
    await run(legacy.rollback);
    expect(await triggers()).toEqual([]);
    expect(await functionExists()).toBe(false);
    // Contract by this ferry after an expand by the earlier one.
    await run(legacy.forward);
    await client.query('CREATE SCHEMA IF NOT EXISTS ferry_v1_users; CREATE SCHEMA IF NOT EXISTS ferry_v2_users');
    await run(contract.forward);
    expect(await triggers()).toEqual([]);
    expect(await functionExists()).toBe(false);
  });
});
