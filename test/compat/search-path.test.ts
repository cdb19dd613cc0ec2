import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppShape, searchPath, shapedPool } from '../../src/compat/search-path.js';
import { openServer } from '../../src/db/server.js';
import { createFlags } from '../../src/sdk/index.js';
import { ensureState } from '../../src/state/store.js';
import { emptyPgliteTarget, emptyServerTarget, serverAvailable } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const SHAPE: AppShape = { flag: 'users.v2', old: ['ferry_v1_users'], new: ['ferry_v2_users'] };

describe('compat.searchPath', () => {
  it('puts the new shape first for the new cohort, the old shape otherwise (excluded units too), then base', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    await ensureState(db);
    await setFlag(db, 'users.v2', true, 50);
    await db.query(`UPDATE ferry.flags SET exclude_units = '{qa}', include_units = '{vip}', version = version + 1 WHERE key = 'users.v2'`);
    const flags = createFlags({ db }, { metrics: false });
    cleanups.push(() => flags.close());
    await flags.ready();
    const units = Array.from({ length: 200 }, (_, i) => `u${i}`);
    for (const u of units) {
      const expected = flags.cohort('users.v2', u) === 'new' ? '"ferry_v2_users", "public"' : '"ferry_v1_users", "public"';
      expect(searchPath(flags, u, SHAPE)).toBe(expected);
    }
    expect(searchPath(flags, 'vip', SHAPE)).toBe('"ferry_v2_users", "public"');
    expect(searchPath(flags, 'qa', SHAPE)).toBe('"ferry_v1_users", "public"');
    expect(searchPath(flags, 'vip', { ...SHAPE, new: ['v2', 'Odd "name"'], base: ['app', 'public'] })).toBe('"v2", "Odd ""name""", "app", "public"');
    expect(searchPath(flags, 'u1', { flag: 'unknown', old: ['a'], new: ['b'], base: [] })).toBe('"a"');
  });
});

describe.runIf(await serverAvailable())('compat.shapedPool on the server', () => {
  it('hands out pg clients reading their unit’s shape, and resets the search path on release', async () => {
    const target = await emptyServerTarget();
    if (!target?.url) throw new Error('no server');
    const db = await openServer({ url: target.url });
    cleanups.push(() => db.close());
    await ensureState(db);
    await db.exec(`
      CREATE TABLE public.users (id int PRIMARY KEY, first_name text, last_name text);
      INSERT INTO public.users VALUES (1, 'Ada', 'Lovelace');
      CREATE SCHEMA ferry_v1_users;
      CREATE VIEW ferry_v1_users.users AS SELECT id, first_name || ' ' || last_name AS full_name FROM public.users;
      CREATE SCHEMA ferry_v2_users;
      CREATE VIEW ferry_v2_users.users AS SELECT id, first_name, last_name FROM public.users;
    `);
    await setFlag(db, 'users.v2', true, 50);
    const flags = createFlags({ db }, { metrics: false });
    cleanups.push(() => flags.close());
    await flags.ready();
    const units = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const newUnit = units.find((u) => flags.cohort('users.v2', u) === 'new') as string;
    const oldUnit = units.find((u) => flags.cohort('users.v2', u) === 'old') as string;

    // One connection, so each checkout reuses the client the previous one released.
    const pool = new pg.Pool({ connectionString: target.url, max: 1 });
    // A client a failed assertion left checked out would hold pool.end() forever.
    cleanups.push(() => Promise.race([pool.end(), new Promise<void>((r) => setTimeout(r, 1000))]));
    const shaped = shapedPool(pool, flags, SHAPE);
    const statements: string[] = [];
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
        statements.push(typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: string }).text));
        return query(...a);
      };
    });

    const a = await shaped.connect(newUnit);
    expect((await a.query('SELECT * FROM users')).rows).toEqual([{ id: 1, first_name: 'Ada', last_name: 'Lovelace' }]);
    expect((await a.query('SHOW search_path')).rows[0]?.search_path).toBe('"ferry_v2_users", "public"');
    a.release();

    const b = await shaped.connect(oldUnit);
    expect(b).toBe(a); // the same connection, now with the old shape
    expect((await b.query('SELECT * FROM users')).rows).toEqual([{ id: 1, full_name: 'Ada Lovelace' }]);
    b.release();

    // Released clients go back to the pool with the server's default search path.
    const plain = await pool.connect();
    expect(plain).toBe(a);
    expect((await plain.query('SHOW search_path')).rows[0]?.search_path).toBe('"$user", public');
    plain.release();

    // Set with a parameter, never by pasting the path into SQL; reset before going back.
    expect(statements.filter((s) => /search_path/.test(s))).toEqual([
      `SELECT set_config('search_path', $1, false)`,
      'SHOW search_path',
      'RESET search_path',
      `SELECT set_config('search_path', $1, false)`,
      'RESET search_path',
      'SHOW search_path',
    ]);
    expect(() => a.release()).toThrow(/already been released/);
  });
});
