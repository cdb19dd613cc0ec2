import { expect, it } from 'vitest';
import { HealthMonitor, runBackfill } from '../../src/backfill/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { FAST, seedUsers, specOf, targetOf } from './fixtures.js';

const CALM = FAST.throttle;

forEachDriver('backfill health signals', (suite) => {
  if (suite.kind === 'server') {
    it('reads lock waiters on the table and the oldest open transaction live from the server', async () => {
      const target = await suite.fresh();
      const [db, holder, waiter] = [await target.open(), await target.open(), await target.open()];
      try {
        await seedUsers(db, 10);
        const { rows } = await db.query<{ oid: number }>(`SELECT 'users'::regclass::oid::int AS oid`);
        const oid = rows[0]?.oid as number;
        expect(await new HealthMonitor(db, oid, CALM).check(10, 200)).toBeNull();

        await holder.exec('BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
        const blocked = waiter.query('SELECT count(*) FROM users');
        let reading = await new HealthMonitor(db, oid, { ...CALM, maxLockWaiters: 0 }).read();
        for (let i = 0; i < 200 && reading.lockWaiters === 0; i++) reading = await new HealthMonitor(db, oid, CALM).read();
        expect(reading.lockWaiters).toBe(1);
        expect(await new HealthMonitor(db, oid, { ...CALM, maxLockWaiters: 0 }).check(10, 200)).toBe('lock waiters 1 > 0');
        await holder.exec('COMMIT');
        await blocked;

        await holder.exec('BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM users');
        await new Promise((r) => setTimeout(r, 1100));
        expect(await new HealthMonitor(db, oid, { ...CALM, maxXminAgeSeconds: 1 }).check(10, 200)).toMatch(/^oldest transaction \d+ s > 1 s$/);
        // While it lasts, the backfill backs off and says why in its progress; it still finishes.
        const throttled: (string | null)[] = [];
        const spec = specOf({ ...FAST, throttle: { ...CALM, maxXminAgeSeconds: 1 }, batchSize: { initial: 100, min: 100, max: 100 }, ranges: 1 });
        const p = await runBackfill(db, targetOf(spec), { lockTimeoutMs: 2000, onProgress: (x) => throttled.push(x.throttledBy) });
        expect(p.state).toBe('done');
        expect(throttled).toContainEqual(expect.stringMatching(/^oldest transaction/));
        await holder.exec('COMMIT');
      } finally {
        for (const d of [waiter, holder, db]) await d.close();
      }
    });
  }

  if (suite.kind === 'server') {
    it('over the WAL limit asks for a pause while others work, and none on an idle database with no replica lagging', async () => {
      const db = await (await suite.fresh()).open();
      try {
        await seedUsers(db, 10);
        const { rows } = await db.query<{ oid: number }>(`SELECT 'users'::regclass::oid::int AS oid`);
        const h = new HealthMonitor(db, rows[0]?.oid as number, { ...CALM, maxWalBytesPerSecond: 1 });
        const writeWal = () => db.exec('UPDATE users SET full_name = full_name');
        await h.read();
        await writeWal();
        const loaded = await h.assess(10, 200, 10, false);
        expect(loaded.reason).toMatch(/^WAL \d+\.\d MiB\/s > 0\.0 MiB\/s$/);
        expect(loaded.backOff).toBe(false);
        expect(loaded.pauseMs).toBeGreaterThan(0);
        await writeWal();
        expect(await h.assess(10, 200, 10, true)).toEqual({ reason: null, backOff: false, pauseMs: 0 });
      } finally {
        await db.close();
      }
    });
  }

  it('backs off on a batch far slower than the recent median and over its target, and skips the signals this engine does not have', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 10);
      const { rows } = await db.query<{ oid: number }>(`SELECT 'users'::regclass::oid::int AS oid`);
      const h = new HealthMonitor(db, rows[0]?.oid as number, { ...CALM, latencyTrendFactor: 3 });
      const reading = await h.read();
      if (suite.kind === 'pglite')
        expect(reading).toEqual({ lockWaiters: null, autovacuum: null, xminAgeSeconds: null, walBytesPerSecond: null, replayLagSeconds: null });
      for (let i = 0; i < 5; i++) expect(await h.check(20, 200)).toBeNull();
      // Growing toward the target is no slowdown, however many times the median; past the target it is.
      expect(await h.check(150, 200)).toBeNull();
      expect(await h.check(250, 200)).toBe('batch 250 ms > 3 × recent median 20 ms');
    } finally {
      await db.close();
    }
  });

  it('judges the latency trend per key when told the keys walked: a bigger batch is no slowdown, a slower key is', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 10);
      const { rows } = await db.query<{ oid: number }>(`SELECT 'users'::regclass::oid::int AS oid`);
      const h = new HealthMonitor(db, rows[0]?.oid as number, { ...CALM, latencyTrendFactor: 3 });
      for (let i = 0; i < 5; i++) expect(await h.assess(20, 200, 1000)).toEqual({ reason: null, backOff: false, pauseMs: 0 });
      // 12.5 times the median batch, but cheaper per key: growing toward (and past) the target is fine.
      expect(await h.assess(250, 200, 20_000)).toEqual({ reason: null, backOff: false, pauseMs: 0 });
      expect(await h.assess(250, 200, 1000)).toEqual({ reason: 'batch 250 ms, 250.0 µs per key > 3 × recent median 20.0 µs', backOff: true, pauseMs: 0 });
    } finally {
      await db.close();
    }
  });
});
