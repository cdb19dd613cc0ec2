import { expect, it } from 'vitest';
import type { Queryable } from '../../src/db/database.js';
import { STATE_SCHEMA_VERSIONS } from '../../src/state/schema.js';
import { ensureState } from '../../src/state/store.js';
import { forEachDriver } from '../helpers/databases.js';

/** What schema `ferry` holds: columns, indexes, constraints, triggers and functions, in a stable order. */
async function shapeOfState(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ item: string }>(
    `SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS item
       FROM information_schema.columns WHERE table_schema = 'ferry'
     UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'ferry'
     UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'ferry'::regnamespace
     UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'ferry.%'
     UNION ALL SELECT 'function ' || p.oid::regprocedure || ' ' || md5(p.prosrc) FROM pg_proc p WHERE p.pronamespace = 'ferry'::regnamespace
     ORDER BY 1`,
  );
  return rows.map((r) => r.item);
}

/** The state as an older ferry left it: versions 1..`upTo`, each recorded, as that ferry ran them. */
async function stateAt(db: Queryable, upTo: number): Promise<void> {
  await db.exec(`CREATE SCHEMA ferry;
    CREATE TABLE ferry.state_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  for (let v = 1; v <= upTo; v++) {
    await db.exec(STATE_SCHEMA_VERSIONS[v - 1] as string);
    await db.query('INSERT INTO ferry.state_version (version) VALUES ($1)', [v]);
  }
}

const versions = async (db: Queryable) => (await db.query<{ v: number }>('SELECT version AS v FROM ferry.state_version ORDER BY 1')).rows.map((r) => r.v);

forEachDriver('state schema', (suite) => {
  it('creates the state on a new database and upgrades every older state to the same schema, recording each version once', async () => {
    const n = STATE_SCHEMA_VERSIONS.length;
    const all = Array.from({ length: n }, (_, i) => i + 1);
    const fresh = await (await suite.fresh()).open();
    let expected: string[];
    try {
      await ensureState(fresh);
      expected = await shapeOfState(fresh);
      expect(await versions(fresh)).toEqual(all);
      // Again: nothing to do, nothing changes.
      await ensureState(fresh);
      expect(await shapeOfState(fresh)).toEqual(expected);
      expect(await versions(fresh)).toEqual(all);
    } finally {
      await fresh.close();
    }
    for (const from of [1, Math.floor(n / 2), n - 1]) {
      const db = await (await suite.fresh()).open();
      try {
        await stateAt(db, from);
        await ensureState(db);
        expect({ from, shape: await shapeOfState(db) }).toEqual({ from, shape: expected });
        expect(await versions(db)).toEqual(all);
      } finally {
        await db.close();
      }
    }
  }, 120_000);
});
