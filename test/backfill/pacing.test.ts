import { expect, it } from 'vitest';
import { type BackfillProgress, backfillProgress, type Pacing, runBackfill } from '../../src/backfill/index.js';
import { backfillLine } from '../../src/cli/progress.js';
import type { Database } from '../../src/db/database.js';
import { MetricsAggregate, writeMetrics } from '../../src/sdk/metrics.js';
import { ensureState } from '../../src/state/store.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { FAST, seedUsers, specOf, targetOf } from './fixtures.js';

/**
 * Each row costs the batch a few ms (pg_sleep in the fill), so a batch holds
 * its rows' locks long enough for the load and the probe to notice on any
 * machine: the impact comes from the backfill itself, not from timing luck.
 */
const slowFill = (ms: number) => ({
  first_name: `split_part(full_name, ' ', 1) || left(pg_sleep(${ms / 1000})::text, 0)`,
  last_name: "split_part(full_name, ' ', 2)",
  touched: 'touched + 1',
});

/**
 * An application session writing one random row at a time, each write in a
 * transaction that first locks the table in EXCLUSIVE mode (as a job that
 * serialises its writes might): it waits for every running batch, and
 * anything else touching the table queues behind it — a load the backfill
 * unmistakably slows down, on a busy machine too.
 */
async function startLoad(target: TestTarget, maxId: number): Promise<() => Promise<number>> {
  const s = await target.open();
  let stopping = false;
  let writes = 0;
  const loop = (async () => {
    while (!stopping) {
      await s.transaction(async (tx) => {
        await tx.query('LOCK TABLE users IN EXCLUSIVE MODE');
        await tx.query('UPDATE users SET visits = visits + 1 WHERE id = $1', [1 + Math.floor(Math.random() * maxId)]);
      });
      writes++;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return async () => {
    stopping = true;
    await loop;
    await s.close();
    return writes;
  };
}

async function pacingEvents(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ reason: string }>(`SELECT reason FROM ferry.events WHERE kind = 'backfill-pacing' ORDER BY id`);
  return rows.map((r) => r.reason);
}

forEachDriver('backfill pacing by measured impact', (suite) => {
  if (suite.kind === 'pglite') {
    it('runs at full speed on an embedded database, where no other session can be', async () => {
      const db = await (await suite.fresh()).open();
      try {
        await seedUsers(db, 300);
        const decisions: Pacing[] = [];
        const spec = specOf({ ...FAST, batchSize: { initial: 50, min: 50, max: 50 }, ranges: 1 });
        expect((await runBackfill(db, targetOf(spec), { lockTimeoutMs: 5000, onPacing: (p) => decisions.push(p) })).state).toBe('done');
        expect(decisions.every((p) => p.state === 'full' && p.pausedMs === 0)).toBe(true);
      } finally {
        await db.close();
      }
    });
    return;
  }

  it('backs off under a load its batches slow down, and runs at full speed again once the load stops', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      // 40 batches of ~160 ms: long enough to measure the load, then to see it gone.
      await seedUsers(db, 1600);
      const spec = specOf({ ...FAST, set: slowFill(4), batchSize: { initial: 40, min: 40, max: 40 }, ranges: 1, impact: { minDutyCycle: 0.02 } });
      const stopLoad = await startLoad(target, 1600);
      let loadStopped: Promise<number> | undefined;
      const decisions: Pacing[] = [];
      let final: BackfillProgress;
      try {
        final = await runBackfill(db, targetOf(spec), {
          lockTimeoutMs: 5000,
          onPacing: (p) => {
            decisions.push(p);
            // Stop the load once the pacer has measured it and slowed down.
            if (!loadStopped && p.impact !== null && p.impact > 0.1) loadStopped = stopLoad();
          },
        });
      } finally {
        loadStopped ??= stopLoad();
      }
      expect(decisions.some((p) => p.impact !== null && p.impact > 0.1)).toBe(true);
      expect(await loadStopped).toBeGreaterThan(0);
      expect(final.state).toBe('done');
      const backedOff = decisions.findIndex((p) => p.state !== 'full' && p.impact !== null && p.impact > 0.1);
      expect(backedOff).toBeGreaterThanOrEqual(0);
      const slowed = decisions[backedOff] as Pacing;
      expect(slowed.dutyCycle).toBeLessThan(0.5);
      expect(slowed.batchMs).toBeLessThan(200);
      // After the load stopped: full speed, no pause asked.
      const after = decisions.slice(backedOff).find((p) => p.state === 'full');
      expect(after).toMatchObject({ state: 'full', dutyCycle: 1, reason: 'no concurrent load' });
      expect(decisions.at(-1)?.state).toBe('full');
      const events = await pacingEvents(db);
      expect(events[0]).toMatch(/^full → paced: /);
      expect(events.at(-1)).toMatch(/ → full: no concurrent load$/);
    } finally {
      await db.close();
    }
  });

  it("slows down when the application's own p99, as ferry's SDK reports it, rises past the budget while the probe sees none of it", async () => {
    const target = await suite.fresh();
    const db = await target.open();
    // The application: its requests counted by the SDK's aggregate in 200-ms buckets and flushed to ferry.metrics, 2 ms each before the backfill, 60 ms once it runs.
    const metrics = new MetricsAggregate(200);
    const flush = async () => {
      const { unwritten, error } = await writeMetrics(db, metrics.drain(), 'test-app');
      if (unwritten.length) throw error;
    };
    const app = await target.open();
    let latencyMs = 2;
    let appStopped = false;
    const appLoop = (async () => {
      while (!appStopped) {
        // A session of the application stays busy, so the probe measures (it finds load), yet nothing it does touches the table.
        await app.query('SELECT pg_sleep(0.01)');
        for (let i = 0; i < 100; i++) metrics.add('checkout', 'new', latencyMs, false, false);
      }
    })();
    try {
      await seedUsers(db, 1600);
      await ensureState(db);
      // One second of baseline, flushed; the buckets it filled have ended before the backfill starts.
      await new Promise((r) => setTimeout(r, 1000));
      await flush();
      await new Promise((r) => setTimeout(r, 250));
      const flusher = setInterval(() => void flush().catch(() => {}), 100);
      const decisions: Pacing[] = [];
      let final: BackfillProgress;
      try {
        // Batches of ~40 ms that nobody waits for: the probe reads little, the application (by its own account) a lot.
        const spec = specOf({ ...FAST, set: slowFill(1), batchSize: { initial: 40, min: 40, max: 40 }, ranges: 1, impact: { minDutyCycle: 0.2 } });
        final = await runBackfill(db, targetOf(spec), {
          lockTimeoutMs: 5000,
          onPacing: (p) => {
            // The baseline was read when the run started: from its first batch on, the application is slow.
            latencyMs = 60;
            decisions.push(p);
          },
        });
      } finally {
        clearInterval(flusher);
      }
      expect(final.state).toBe('done');
      const at = decisions.findIndex((p) => p.reason.startsWith("the application's p99"));
      const byApp = decisions[at] as Pacing;
      expect(byApp.reason).toMatch(/^the application's p99 \+\d+ % > budget \+10 %/);
      expect(byApp.impact).toBeGreaterThan(5);
      expect(byApp.dutyCycle).toBeLessThan((decisions[at - 1] as Pacing).dutyCycle);
      expect((await pacingEvents(db)).some((e) => /the application's p99 \+\d+ % > budget \+10 %/.test(e))).toBe(true);
    } finally {
      appStopped = true;
      await appLoop;
      await app.close();
      await db.close();
    }
  });

  it('slows to its minimum when the budget cannot be met, says so in the progress, the events and --json, and still finishes', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      // Batches of ~320 ms the load waits for: even at the floor, over budget; enough of them that the floor is
      // reached (after ~800 probes) well before the last one, however slowly a loaded machine probes.
      await seedUsers(db, 1600);
      const spec = specOf({ ...FAST, set: slowFill(4), batchSize: { initial: 80, min: 80, max: 80 }, ranges: 1, impact: { minDutyCycle: 0.4 } });
      const stopLoad = await startLoad(target, 1600);
      const decisions: Pacing[] = [];
      const seen: BackfillProgress[] = [];
      let final: BackfillProgress;
      try {
        final = await runBackfill(db, targetOf(spec), {
          lockTimeoutMs: 5000,
          onPacing: (p) => decisions.push(p),
          onProgress: (p) => seen.push(p),
        });
      } finally {
        await stopLoad();
      }
      expect(final.state).toBe('done');
      const floor = decisions.find((p) => p.state === 'minimum');
      expect(floor).toMatchObject({ state: 'minimum', dutyCycle: 0.4, budget: 0.1 });
      expect(floor?.reason).toMatch(/budget cannot be met/);
      expect((await pacingEvents(db)).some((e) => / → minimum: impact \+\d+ % > budget \+10 % at the minimum duty cycle/.test(e))).toBe(true);
      const shown = seen.find((p) => p.pacing?.state === 'minimum') as BackfillProgress;
      expect(shown.pacing).toMatchObject({ state: 'minimum', budget: 0.1 });
      expect(JSON.parse(JSON.stringify(shown)).pacing.impact).toBeGreaterThan(0.1);
      expect(backfillLine(shown)).toMatch(/at minimum duty 40 %: budget \+10 % not met, impact \+\d+ %, still running/);
    } finally {
      await db.close();
    }
  });

  it("shows the pacer's latest decision of the run while it runs, also when one range has ended and the next has no batch yet", async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      await seedUsers(db, 2000);
      const spec = specOf({ ...FAST, batchSize: { initial: 100, min: 100, max: 100 }, ranges: 8 });
      const final = await runBackfill(db, targetOf(spec), { lockTimeoutMs: 5000 });
      expect(final.state).toBe('done');
      expect(final.pacing).toBeNull();
      // The moment a worker finished its first range and claimed the next, before that one's first batch: still running.
      await db.query(`UPDATE ferry.backfills SET state = 'running'`);
      await db.query(
        'UPDATE ferry.backfill_ranges SET done = false, rows_done = 0, batches = 0, pacing = NULL WHERE range_no > (SELECT min(range_no) FROM ferry.backfill_ranges)',
      );
      const [between] = await backfillProgress(db);
      expect(between).toMatchObject({ state: 'running', rangesDone: 1 });
      expect(between?.pacing).toMatchObject({ state: 'full', dutyCycle: 1, reason: 'no concurrent load' });
      // A decision recorded before this run began is not this run's.
      await db.query(`UPDATE ferry.backfills SET run_started_at = clock_timestamp() + interval '1 minute'`);
      expect((await backfillProgress(db))[0]?.pacing).toBeNull();
    } finally {
      await db.close();
    }
  });

  it('does not pause at all without concurrent load', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      await seedUsers(db, 5000);
      const decisions: Pacing[] = [];
      const spec = specOf({ ...FAST, batchSize: { initial: 100, min: 100, max: 100 }, ranges: 2 });
      const final = await runBackfill(db, targetOf(spec), { lockTimeoutMs: 5000, onPacing: (p) => decisions.push(p) });
      expect(final.state).toBe('done');
      expect(decisions.length).toBeGreaterThanOrEqual(50);
      expect(decisions.every((p) => p.state === 'full' && p.dutyCycle === 1 && p.pausedMs === 0 && p.impact === null)).toBe(true);
      const { rows } = await db.query<{ pacing: Pacing }>('SELECT pacing FROM ferry.backfill_ranges ORDER BY range_no');
      expect(rows.map((r) => [r.pacing.state, r.pacing.pausedMs])).toEqual([
        ['full', 0],
        ['full', 0],
      ]);
      expect(await pacingEvents(db)).toEqual([]);
      // The worker's session has its own name back.
      const { rows: name } = await db.query<{ n: string }>(`SELECT current_setting('application_name') AS n`);
      expect(name[0]?.n).toBe('ferry');
    } finally {
      await db.close();
    }
  });
});
