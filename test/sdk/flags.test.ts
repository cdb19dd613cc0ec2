import { afterAll, describe, expect, it } from 'vitest';
import { bucketOf, inRollout } from '../../src/bucket.js';
import type { Database } from '../../src/db/database.js';
import { openPglite } from '../../src/db/pglite.js';
import { openServer } from '../../src/db/server.js';
import { createFlags, type Flags } from '../../src/sdk/index.js';
import { ensureState } from '../../src/state/store.js';
import { createServerDatabase, serverAvailable } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { until } from '../helpers/process.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function pglite(): Promise<Database> {
  const db = await openPglite();
  cleanups.push(() => db.close());
  return db;
}

function track(flags: Flags): Flags {
  cleanups.push(() => flags.close());
  return flags;
}

const units = Array.from({ length: 5000 }, (_, i) => `user-${i}`);

describe('SDK on PGlite (polling, same process)', () => {
  it('has an empty snapshot, not an error, before schema ferry exists; unknown flags give the default', async () => {
    const flags = track(createFlags({ db: await pglite() }, { pollIntervalMs: 50 }));
    expect(await flags.ready(30_000)).toBe(true);
    expect(flags.status()).toMatchObject({ state: 'polling', lastError: null, flags: 0 });
    expect(flags.isEnabled('nope', 'u1')).toBe(false);
    expect(flags.isEnabled('nope', 'u1', true)).toBe(true);
    expect(flags.bucket('nope', 'u1')).toBe(bucketOf('nope', 'u1'));
  });

  it('picks up flag changes by polling and answers exactly enabled AND inRollout(bucketOf)', async () => {
    const db = await pglite();
    await ensureState(db);
    await setFlag(db, 'checkout', true, 25);
    const flags = track(createFlags({ db }, { mode: 'poll', pollIntervalMs: 50 }));
    await flags.ready();
    const seen: string[][] = [];
    flags.onChange((c) => seen.push(c.changed));
    for (const u of units) expect(flags.isEnabled('checkout', u)).toBe(inRollout(bucketOf('checkout', u), 25));

    await setFlag(db, 'checkout', true, 50);
    await until('the SDK to see 50 %', () => flags.flag('checkout')?.percentage === 50);
    for (const u of units) expect(flags.isEnabled('checkout', u)).toBe(inRollout(bucketOf('checkout', u), 50));
    expect(seen).toContainEqual(['checkout']);

    await setFlag(db, 'checkout', false, 50);
    await until('the SDK to see the kill switch', () => flags.flag('checkout')?.enabled === false);
    expect(units.some((u) => flags.isEnabled('checkout', u))).toBe(false);

    await db.query(`DELETE FROM ferry.flags WHERE key = 'checkout'`);
    await until('the SDK to drop the flag', () => flags.flag('checkout') === undefined);
    expect(flags.isEnabled('checkout', 'u1', true)).toBe(true);
  });

  it('never throws when its database goes away: keeps the last snapshot and reports stale', async () => {
    const db = await openPglite();
    await ensureState(db);
    await setFlag(db, 'k', true, 100);
    const flags = track(createFlags({ db }, { pollIntervalMs: 30, reconnectMaxMs: 50 }));
    await flags.ready();
    await db.close();
    await until('the SDK to report stale', () => flags.status().state === 'stale');
    expect(flags.isEnabled('k', 'anyone')).toBe(true);
    expect(flags.status().lastError).not.toBeNull();
  });
});

describe('SDK hot path', async () => {
  const up = await serverAvailable();
  it.runIf(up)('evaluates a million times without one query', async () => {
    const target = await createServerDatabase();
    cleanups.push(target.drop);
    const real = await openServer({ url: target.url });
    cleanups.push(() => real.close());
    await ensureState(real);
    await setFlag(real, 'hot', true, 37.5);
    let queries = 0;
    const counted: Database = {
      ...real,
      query: (sql, params) => {
        queries++;
        return real.query(sql, params);
      },
    };
    const flags = track(createFlags({ db: counted }, { heartbeatMs: 600_000 }));
    await flags.ready();
    const before = queries;
    let on = 0;
    // Spread over many event-loop turns, so background work would have had its chance to run.
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 10_000; i++) if (flags.isEnabled('hot', `unit-${round}-${i}`)) on++;
      await new Promise((r) => setImmediate(r));
    }
    expect(queries - before).toBe(0);
    expect(Math.abs(on / 1e6 - 0.375)).toBeLessThan(0.005);
  });
});
