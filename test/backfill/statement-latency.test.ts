import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pacing, runBackfill } from '../../src/backfill/index.js';
import { StatementLatency } from '../../src/backfill/statement-latency.js';
import { OWN_STATEMENT_TAG } from '../../src/backfill/statements.js';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { ensureState } from '../../src/state/store.js';
import { type OwnServer, startOwnServer } from '../helpers/own-server.js';
import { FAST, seedUsers, specOf, targetOf } from './fixtures.js';

/*
 * pg_stat_statements must be loaded at server start (shared_preload_libraries), which the shared test server is
 * not: these tests start a server of their own with it.
 */
let server: OwnServer | undefined;
beforeAll(async () => {
  server = await startOwnServer({ shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'top' });
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

/** A fresh database on the test's own server, with pg_stat_statements installed and its counters reset. */
async function freshDb(name: string): Promise<{ db: Database; url: string }> {
  const admin = await openServer({ url: (server as OwnServer).url });
  await admin.exec(`DROP DATABASE IF EXISTS ${name}`);
  await admin.exec(`CREATE DATABASE ${name}`);
  await admin.close();
  const url = (server as OwnServer).url.replace(/\/postgres$/, `/${name}`);
  const db = await openServer({ url });
  await db.exec('CREATE EXTENSION pg_stat_statements');
  await db.query('SELECT pg_stat_statements_reset()');
  return { db, url };
}

const sleeps = async (db: Database, n: number, seconds: number) => {
  for (let i = 0; i < n; i++) await db.query('SELECT pg_sleep($1)', [seconds]);
};

describe('the application statements signal (pg_stat_statements)', () => {
  it('reads the time of the application statements against their means before the run, leaving the backfill own statements out', async () => {
    if (!server) return;
    const { db, url } = await freshDb('statements_signal');
    const app = await openServer({ url });
    try {
      await sleeps(app, 40, 0.002);
      const signal = await StatementLatency.start(db);
      expect(signal).toBeDefined();
      const since = Date.now();
      // The backfill's own statements, however slow, are not the application's: no reading from them. (A statement of
      // the same shape as one of the application's would share its entry: PostgreSQL's statement ids ignore comments.)
      for (let i = 0; i < 150; i++) await app.query(`${OWN_STATEMENT_TAG} SELECT pg_sleep($1), 'own'`, [0.005]);
      expect(await signal?.impactSince(since, Date.now())).toBeNull();
      // The application's statements at their usual speed: about no change.
      await sleeps(app, 120, 0.002);
      const same = (await signal?.impactSince(since, Date.now() + 2000)) as number;
      expect(same).not.toBeNull();
      expect(Math.abs(same)).toBeLessThan(1);
      // Fifteen times slower: the reading says so.
      await sleeps(app, 120, 0.03);
      const slow = (await signal?.impactSince(since, Date.now() + 4000)) as number;
      expect(slow).toBeGreaterThan(3);
      // A new window (the pacer slowed down) starts from the counters as they are then.
      const later = Date.now();
      expect(await signal?.impactSince(later, Date.now() + 6000)).toBeNull();
      await sleeps(app, 120, 0.002);
      expect(Math.abs((await signal?.impactSince(later, Date.now() + 8000)) as number)).toBeLessThan(1);
    } finally {
      await app.close();
      await db.close();
    }
  }, 60_000);

  it('is no signal where pg_stat_statements is not installed', async () => {
    if (!server) return;
    const { db } = await freshDb('statements_absent');
    try {
      await db.exec('DROP EXTENSION pg_stat_statements');
      expect(await StatementLatency.start(db)).toBeUndefined();
    } finally {
      await db.close();
    }
  });

  it("slows the backfill down when the application's statements slow down past the budget while the probe sees none of it", async () => {
    if (!server) return;
    const { db, url } = await freshDb('statements_pacing');
    const app = await openServer({ url });
    let appSeconds = 0.002;
    let appStopped = false;
    try {
      await seedUsers(db, 1600);
      await ensureState(db);
      await sleeps(app, 40, appSeconds);
      // The application keeps a session busy (so the probe measures), and touches nothing of the table.
      const appLoop = (async () => {
        while (!appStopped) await app.query('SELECT pg_sleep($1)', [appSeconds]);
      })();
      const decisions: Pacing[] = [];
      try {
        const spec = specOf({
          ...FAST,
          set: {
            first_name: `split_part(full_name, ' ', 1) || left(pg_sleep(0.001)::text, 0)`,
            last_name: "split_part(full_name, ' ', 2)",
            touched: 'touched + 1',
          },
          batchSize: { initial: 40, min: 40, max: 40 },
          ranges: 1,
          impact: { minDutyCycle: 0.2 },
        });
        const final = await runBackfill(db, targetOf(spec), {
          lockTimeoutMs: 5000,
          onPacing: (p) => {
            // The baseline was read as the run started: from its first batch on, the application's statements are slow.
            appSeconds = 0.03;
            decisions.push(p);
          },
        });
        expect(final.state).toBe('done');
      } finally {
        appStopped = true;
        await appLoop;
      }
      const at = decisions.findIndex((p) => p.reason.startsWith("the application's statement time"));
      expect(at).toBeGreaterThan(0);
      const by = decisions[at] as Pacing;
      expect(by.reason).toMatch(/^the application's statement time \(pg_stat_statements\) \+\d+ % > budget \+10 %/);
      expect(by.dutyCycle).toBeLessThan((decisions[at - 1] as Pacing).dutyCycle);
      const { rows } = await db.query<{ reason: string }>(`SELECT reason FROM ferry.events WHERE kind = 'backfill-pacing' ORDER BY id`);
      expect(rows.some((e) => /the application's statement time \(pg_stat_statements\) \+\d+ % > budget \+10 %/.test(e.reason))).toBe(true);
    } finally {
      appStopped = true;
      await app.close();
      await db.close();
    }
  }, 120_000);
});
