import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../src/backfill/health.js';
import { readActivity } from '../../src/db/activity.js';
import type { Database } from '../../src/db/database.js';
import { FAST } from '../backfill/fixtures.js';
import { serverAvailable } from '../helpers/databases.js';
import { serverDb, waitingOnLock } from '../helpers/op-load.js';

const cleanups: (() => Promise<unknown>)[] = [];
/** A plain session named `name`, closed after the file. */
async function session(url: string, name: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: name, options: '-c statement_timeout=60000' });
  await c.connect();
  cleanups.push(() => c.end());
  return c;
}

const haveServer = await serverAvailable();
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** `name` opens a session that waits for `table`'s lock behind `holder`; the wait ends when the holder commits. */
async function waiter(url: string, name: string, watch: Database): Promise<{ done: Promise<unknown> }> {
  const s = await session(url, name);
  const done = s.query('SELECT count(*) FROM t').catch(() => undefined);
  await waitingOnLock(watch, name);
  return { done };
}

describe.skipIf(!haveServer)('readActivity and the batch health check: whose lock waits count', () => {
  it("a backfill's own sessions waiting on the table are not load; an application's are", async () => {
    const { db, url } = await serverDb('CREATE TABLE t (id int PRIMARY KEY)');
    const oid = (await db.query<{ oid: number }>(`SELECT 't'::regclass::oid::int AS oid`)).rows[0]?.oid as number;
    const holder = await session(url, 'holder');
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const own = await Promise.all([waiter(url, 'ferry backfill worker 1', db), waiter(url, 'ferry backfill worker 2', db)]);

    const ownOnly = await readActivity(db, { tableOid: oid, excludeApplication: 'ferry backfill' });
    expect(ownOnly.tableLockWaiters).toBe(0);
    expect(ownOnly.lockWaiters).toBe(0);
    // The batch health check reads the same way: two workers queued on the table's extension lock do not make it back off.
    const monitor = new HealthMonitor(db, oid, { ...FAST.throttle, maxLockWaiters: 0 });
    expect((await monitor.read()).lockWaiters).toBe(0);
    // Without an exclusion every waiter counts, as the health matrix's whole-database reading wants.
    const all = await readActivity(db, { tableOid: oid });
    expect(all.tableLockWaiters).toBe(2);
    expect(all.lockWaiters).toBe(2);

    const app = await waiter(url, 'app', db);
    const withApp = await readActivity(db, { tableOid: oid, excludeApplication: 'ferry backfill' });
    expect(withApp.tableLockWaiters).toBe(1);
    expect(withApp.lockWaiters).toBe(1);
    expect((await monitor.read()).lockWaiters).toBe(1);

    await holder.query('COMMIT');
    await Promise.all([...own, app].map((w) => w.done));
  });
});

describe.skipIf(!haveServer)('readActivity: a load of short statements', () => {
  it('is seen by one reading through the sessions that ran a statement lately, though none is running at that instant', async () => {
    const { db, url } = await serverDb('CREATE TABLE t (id int PRIMARY KEY)');
    const app = await session(url, 'app');
    const own = await session(url, 'ferry backfill worker 1');
    await app.query('SELECT 1');
    await own.query('SELECT 1');
    const lately = await readActivity(db, { excludeApplication: 'ferry backfill', recentMs: 60_000 });
    expect(lately.activeSessions).toBe(0);
    expect(lately.recentSessions).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect((await readActivity(db, { excludeApplication: 'ferry backfill', recentMs: 200 })).recentSessions).toBe(0);
  });
});
