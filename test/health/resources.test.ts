import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { readActivity } from '../../src/db/activity.js';
import type { Database } from '../../src/db/database.js';
import {
  assessHealth,
  type ControllerEvent,
  type DecisionMatrix,
  decide,
  healthSettingsOf,
  judgeResources,
  type MetricSource,
  sampleResources,
  thresholdsOf,
} from '../../src/health/index.js';
import { type Migration, runRollout, up } from '../../src/index.js';
import { ensureState } from '../../src/state/store.js';
import { emptyPgliteTarget, serverAvailable } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { until } from '../helpers/process.js';
import { cleanups, healthProject, SHARED_SERVER_RESOURCES, serverTarget, startService, where } from './fixtures.js';

const resources = (m: DecisionMatrix) => m.metrics.find((v) => v.metric === 'resources');
const signal = (v: ReturnType<typeof resources>, name: string) => v?.signals?.find((s) => s.signal === name);
const dbNow = async (db: Database) => new Date((await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]?.now ?? 0);

/** A session of the application's: its own name, and statements that give up by themselves. */
async function appSession(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'app', options: '-c statement_timeout=60000' });
  await c.connect();
  cleanups.push(() => c.end());
  return c;
}

/** One session holds an exclusive lock on `table`; `waiters` more wait for it until `release`. */
async function lockQueue(url: string, table: string, waiters: number): Promise<{ release: () => Promise<void> }> {
  const holder = await appSession(url);
  await holder.query('BEGIN');
  await holder.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  const waiting = await Promise.all(Array.from({ length: waiters }, () => appSession(url)));
  const done = waiting.map((c) => c.query(`SELECT count(*) FROM ${table}`).catch(() => undefined));
  return {
    release: async () => {
      await holder.query('ROLLBACK');
      await Promise.all(done);
    },
  };
}

/** Figures of a healthy canary, from a stand-in source: the PGlite test is about the resource row, not the SDK. */
const healthyTraffic: MetricSource = {
  name: 'sdk',
  read: async () => ({ requests: 1000, errorRate: 0, p99Ms: 10, dataErrors: 0 }),
};

describe('the resource row on PGlite', () => {
  it('is not measured and says why, without an error, and does not keep SDK metrics from going green', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    await ensureState(db);
    const probe = await sampleResources(db, 'health');
    expect(probe.unmeasured).toMatch(/PGlite is one embedded session/);
    const m = await assessHealth(db, { id: 'm', flag: 'f', settings: healthSettingsOf(undefined) }, healthyTraffic, { checkDataErrors: 0, ...probe });
    expect(resources(m)).toMatchObject({ colour: 'no-data', note: probe.unmeasured, signals: [] });
    expect(m.colour).toBe('green');
    expect(decide(m, { paused: false, holdElapsed: true, acknowledged: false, lastStage: false }).action).toBe('promote');
  });
});

describe.runIf(await serverAvailable())('the resource row on the server', () => {
  it('keeps its readings bounded: readings older than a week go as new ones are taken', async () => {
    const { db } = await serverTarget();
    await ensureState(db);
    await db.query(`INSERT INTO ferry.resource_samples (at, source, active_sessions) VALUES (clock_timestamp() - interval '8 days', 'old', 1)`);
    expect(await sampleResources(db, 'health')).toEqual({});
    const { rows } = await db.query<{ source: string; active_sessions: number; wal: string | null }>(
      'SELECT source, active_sessions, wal_bytes::text AS wal FROM ferry.resource_samples',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ source: 'health', active_sessions: 0 });
    expect(Number(rows[0]?.wal)).toBeGreaterThan(0);
  });

  it('sessions above the baseline turn it yellow, a queue of lock waiters red; manifest thresholds decide', async () => {
    const { db, url } = await serverTarget();
    await ensureState(db);
    await db.query('CREATE TABLE busy (id int)');
    // The baseline: an idle database, read twice (the WAL rate needs two readings).
    await sampleResources(db, 'test');
    await sampleResources(db, 'test');
    // Windows are whole milliseconds: the stage begins in a later one than the baseline's last reading.
    await sleep(5);
    const stageStart = await dbNow(db);
    const thresholds = thresholdsOf({
      resources: { activeSessions: { yellow: 1.5, red: 2, floor: 2 }, lockWaiters: { yellow: 1, red: 3 }, walRate: { yellow: 1000, red: 1000 } },
    }).resources;
    const judge = async (from: Date) => judgeResources(db, { window: { from, to: await dbNow(db) }, stageStart, windowMs: 60_000, thresholds });

    const sleepers = await Promise.all([1, 2, 3].map(() => appSession(url)));
    for (const c of sleepers) c.query('SELECT pg_sleep(30)').catch(() => undefined);
    await until('three sessions to be running', async () => (await readActivity(db, { excludeApplication: 'ferry ' })).activeSessions === 3);
    await sampleResources(db, 'test');
    const busy = await judge(stageStart);
    expect(signal(busy, 'activeSessions')).toMatchObject({ value: 3, baseline: 0, compared: 1.5, colour: 'yellow' });
    expect(signal(busy, 'activeSessions')?.note).toBe('active sessions 3 vs 0 before the stage (counted as 2): ×1.5 ≥ ×1.5');
    expect(busy.colour).toBe('yellow');

    await sleep(5);
    const queued = await dbNow(db);
    const queue = await lockQueue(url, 'busy', 4);
    await until('four sessions to wait for the lock', async () => (await readActivity(db)).lockWaiters === 4);
    await sampleResources(db, 'test');
    const locked = await judge(queued);
    expect(signal(locked, 'lockWaiters')).toMatchObject({ value: 4, baseline: 0, compared: 4, colour: 'red' });
    expect(locked.colour).toBe('red');
    expect(locked.note).toContain('lock waiters 4 vs 0 before the stage: +4 > +3');
    await queue.release();
  });

  it('the controller pauses a rollout on a lock-wait storm and resumes it once the load is gone', async () => {
    const { url, db, target } = await serverTarget();
    const health = {
      interval: '1s',
      window: '3s',
      thresholds: { minRequests: 30, resources: { ...SHARED_SERVER_RESOURCES, lockWaiters: { yellow: 1, red: 2 } } },
    };
    const { p, id, flag } = healthProject(target, { holds: ['1h', '1h', '1h', '1h', '1h'], health });
    const ms = await migrationsOf(p);
    await up(db, ms, testRun);
    await startService(url, flag);
    const evaluations: Extract<ControllerEvent, { type: 'evaluation' }>[] = [];
    const abort = new AbortController();
    const run = runRollout(db, ms, ms[0] as Migration, {
      actor: 'test',
      lockWaitMs: 10_000,
      run: testRun,
      signal: abort.signal,
      onEvent: (e) => e.type === 'evaluation' && evaluations.push(e),
    });
    cleanups.push(async () => {
      abort.abort();
      await run.catch(() => undefined);
    });
    const last = () => evaluations.at(-1);
    await until('a green evaluation with the load measured against its baseline', () => {
      const e = last();
      return e?.matrix.colour === 'green' && resources(e.matrix)?.colour === 'green';
    });

    const queue = await lockQueue(url, 't1', 5);
    await until('the controller to pause', () => last()?.decision.action === 'pause');
    const paused = last() as Extract<ControllerEvent, { type: 'evaluation' }>;
    // The evaluation is reported before the controller acts on it.
    await until('the rollout to be paused', async () => (await where(db, id)).phase === 'paused');
    expect(resources(paused.matrix)?.colour).toMatch(/yellow|red/);
    expect(paused.matrix.metrics.find((v) => v.metric === 'errorRate')?.colour).toBe('green');
    expect(paused.decision.reason).toMatch(/resource usage (yellow|red): lock waiters/);
    expect((await where(db, id)).percentage).toBe(5);

    await queue.release();
    await until('the controller to resume', () => last()?.decision.action === 'resume');
    await until('the rollout to run again', async () => (await where(db, id)).phase === 'canary');
    abort.abort();
    expect((await run).outcome).toBe('stopped');
  });
});
