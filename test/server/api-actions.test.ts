import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareBackfill } from '../../src/backfill/index.js';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { findMigration, loadWorkspace, openWorkspace, up } from '../../src/index.js';
import { backfillTarget } from '../../src/workflow/backfill-step.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { createServerDatabase, emptyPgliteTarget, serverAvailable, type TestTarget } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { type ApiResponse, actionState, recordSplitMetrics, serveProject, TEST_TOKEN, type TestServer } from '../helpers/serve.js';

// The dashboard's backfill, rollout, health and approvals API against a real server: each action's success as
// the database shows it (with the actor in the event log), and each refusal as a problem that changed nothing.

const API = `/api/v1/migrations/${SPLIT}`;
const AS_ADA = { 'x-ferry-actor': 'Ada' };

/** Apply users and the split up to (not including) its backfill step, and create the backfill's ranges (pending). */
async function expandSplit(root: string, prepare: boolean): Promise<void> {
  const ws = await loadWorkspace({ root, actor: 'setup' });
  const m = await findMigration(ws, SPLIT);
  const i = m.steps.findIndex((s) => s.kind === 'backfill');
  const before = m.steps[i - 1];
  const step = m.steps[i];
  if (!before || !step) throw new Error('the split migration has no step before its backfill');
  const db = await openWorkspace(ws, 'test setup');
  try {
    const run = { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: false };
    await up(db, ws.migrations, { ...run, only: '0001_users' });
    await up(db, ws.migrations, { ...run, only: SPLIT, until: before.id });
    if (prepare) await prepareBackfill(db, backfillTarget(m, step));
  } finally {
    await db.close();
  }
}

const lastEvent = async (db: Database, kind: string) =>
  (await db.query<{ actor: string; reason: string | null }>('SELECT actor, reason FROM ferry.events WHERE kind = $1 ORDER BY id DESC LIMIT 1', [kind])).rows[0];

function expectProblem(r: ApiResponse, status: number, code: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect((r.json as { code: string }).code).toBe(code);
}

async function waitFor<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface BackfillDoc {
  progress: { state: string; rowsDone: number; pacing: { state: string; dutyCycle: number; pausedMs: number; reason: string } | null }[];
  history: { stepId: string; batches: number; series: { rows: number; batchSize: number; durationMs: number; worker: string | null }[] }[];
  totals: { rowsDone: number; rowsTotal: number; etaSeconds: number | null };
  job: { running: boolean; lastError: string | null };
}

describe('the actions API on a server', async () => {
  const serverUp = await serverAvailable();
  describe.runIf(serverUp)('', () => {
    let target: TestTarget;
    let server: TestServer;
    let db: Database;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      const made = await createServerDatabase();
      drop = made.drop;
      target = { kind: 'server', url: made.url, open: () => openServer({ url: made.url }) };
      const p = createProject(target);
      splitProject(p);
      await expandSplit(p.root, true);
      server = await serveProject(p);
      db = await target.open();
    });
    afterAll(async () => {
      await db?.close();
      await server?.close();
      await drop?.();
    });

    it('pause and cancel the backfill; resume continues it in the server to done, batch by batch in the history', async () => {
      const paused = await server.request(`${API}/backfill/pause`, { method: 'POST', auth: true, headers: AS_ADA });
      expect(paused.status, paused.text).toBe(200);
      expect(paused.json).toMatchObject({ action: 'pause', progress: [{ state: 'paused' }] });
      expect((await db.query('SELECT state FROM ferry.backfills')).rows).toEqual([{ state: 'paused' }]);
      expect(await lastEvent(db, 'backfill-pause')).toMatchObject({ actor: 'Ada', reason: 'pending → paused' });

      const cancelled = await server.request(`${API}/backfill/cancel`, { method: 'POST', auth: true, headers: AS_ADA, body: {} });
      expect(cancelled.json).toMatchObject({ action: 'cancel', progress: [{ state: 'cancelled' }] });
      expect(await lastEvent(db, 'backfill-cancel')).toMatchObject({ actor: 'Ada' });

      const resumed = await server.request(`${API}/backfill/resume`, { method: 'POST', auth: true, headers: AS_ADA });
      expect(resumed.status, resumed.text).toBe(200);
      expect(await lastEvent(db, 'backfill-resume')).toMatchObject({ actor: 'Ada', reason: 'cancelled → running' });
      const doc = await waitFor(
        async () => (await server.request<BackfillDoc>(`${API}/backfill`)).json,
        (d) => !d.job.running,
      );
      expect(doc.job.lastError).toBeNull();
      expect(doc.progress).toEqual([expect.objectContaining({ state: 'done', rowsDone: 500 })]);
      expect(doc.totals).toMatchObject({ rowsDone: 500, rowsTotal: 500, etaSeconds: 0 });
      const [history] = doc.history;
      expect(history?.batches).toBeGreaterThan(0);
      expect(history?.series).toHaveLength(history?.batches ?? -1);
      expect(history?.series.reduce((n, p) => n + p.rows, 0)).toBe(500);
      expect(history?.series.every((p) => p.batchSize > 0 && p.durationMs >= 0 && typeof p.worker === 'string')).toBe(true);
      const { rows } = await db.query<{ n: number; rows: string }>('SELECT count(*)::int AS n, sum(rows)::text AS rows FROM ferry.backfill_batches');
      expect(rows[0]).toEqual({ n: history?.batches, rows: '500' });
      expect((await db.query('SELECT phase FROM ferry.migrations WHERE id = $1', [SPLIT])).rows).toEqual([{ phase: 'backfilled' }]);
    });

    it('advance, the kill switch and resume move the flag as the database shows, each an event with the actor', async () => {
      // Before the rollout started there is nothing to advance: the CLI's refusal, as a problem.
      expectProblem(await server.request(`${API}/rollout/advance`, { method: 'POST', auth: true }), 409, 'E_GATE');
      const started = await server.request(`${API}/rollout/set`, { method: 'POST', auth: true, headers: AS_ADA, body: { percentage: 50 } });
      expect(started.status, started.text).toBe(200);
      expect(started.json).toMatchObject({ fromPercentage: 0, toPercentage: 50, phases: [{ from: 'backfilled', to: 'canary' }] });
      expect((await db.query('SELECT enabled, percentage::float8 AS p, updated_by FROM ferry.flags')).rows).toEqual([
        { enabled: true, p: 50, updated_by: 'Ada' },
      ]);

      const status = await server.request<Record<string, unknown>>(`${API}/rollout`);
      expect(status.json).toMatchObject({
        phase: 'canary',
        percentage: 50,
        stage: 1,
        ladder: [
          { percent: 50, holdMs: 1000, state: 'current' },
          { percent: 100, holdMs: 1000, state: 'next' },
        ],
        paused: false,
        killed: false,
      });
      expect(status.json.remainingMs).toBeLessThanOrEqual(1000);
      expect(typeof status.json.nextGate).toBe('string');

      const killed = await server.request(`${API}/rollout/kill`, { method: 'POST', auth: true, headers: AS_ADA, body: { reason: 'error rate up' } });
      expect(killed.status, killed.text).toBe(200);
      expect(killed.json).toMatchObject({ flag: 'split-names', enabled: false, percentage: 0, change: { quickRollback: true } });
      expect((await db.query('SELECT enabled FROM ferry.flags WHERE key = $1', ['split-names'])).rows).toEqual([{ enabled: false }]);
      expect((await db.query('SELECT actor, reason FROM ferry.events WHERE to_phase = $1', ['paused'])).rows).toEqual([
        { actor: 'Ada', reason: 'error rate up' },
      ]);
      expect((await server.request(`${API}/rollout`)).json).toMatchObject({ phase: 'paused', paused: true, killed: true });

      const resumed = await server.request(`${API}/rollout/resume`, { method: 'POST', auth: true, body: { reason: 'fixed' } });
      expect(resumed.status, resumed.text).toBe(200);
      expect((await db.query('SELECT enabled, percentage::float8 AS p FROM ferry.flags')).rows).toEqual([{ enabled: true, p: 50 }]);
      expect(await lastEvent(db, 'health')).toMatchObject({ actor: 'serve-test' });

      const advanced = await server.request(`${API}/rollout/advance`, {
        method: 'POST',
        auth: true,
        headers: AS_ADA,
        body: { now: true, reason: 'hotfix' },
      });
      expect(advanced.status, advanced.text).toBe(200);
      expect(advanced.json).toMatchObject({ fromPercentage: 50, toPercentage: 100, early: true, phases: [{ from: 'canary', to: 'rolling' }] });
      expect((await db.query('SELECT updated_by FROM ferry.flags')).rows).toEqual([{ updated_by: 'Ada' }]);
      expect((await db.query('SELECT percentage::float8 AS p FROM ferry.rollouts')).rows).toEqual([{ p: 100 }]);
    });

    it('approvals: the roles for the current checksum, approving as a signed-in name', async () => {
      const before = await server.request(`${API}/approvals`);
      expect(before.json).toMatchObject({ required: ['Tech Lead', 'Product Owner'], approved: [], missing: ['Tech Lead', 'Product Owner'], complete: false });

      const session = await server.request('/api/v1/session', { method: 'POST', body: { token: TEST_TOKEN, name: 'Grace' } });
      const cookie = session.headers.get('set-cookie')?.split(';')[0] ?? '';
      const approved = await server.request(`${API}/approvals`, {
        method: 'POST',
        body: { role: 'tech lead', reason: 'reviewed' },
        headers: { cookie, origin: server.url },
      });
      expect(approved.status, approved.text).toBe(200);
      expect(approved.json).toMatchObject({ approval: { role: 'Tech Lead', by: 'Grace' }, missing: ['Product Owner'] });
      expect((await db.query('SELECT role, approved_by FROM ferry.approvals')).rows).toEqual([{ role: 'Tech Lead', approved_by: 'Grace' }]);
      expect(await lastEvent(db, 'approval')).toMatchObject({ actor: 'Grace', reason: 'approved as Tech Lead: reviewed' });
      expect((await server.request(`${API}/approvals`)).json).toMatchObject({ approved: [{ role: 'Tech Lead', by: 'Grace' }], missing: ['Product Owner'] });
    });

    it('health: the decision matrix of recorded SDK metrics and error rate / p99 per cohort over time', async () => {
      await recordSplitMetrics(target);
      const r = await server.request<{
        matrix: {
          source: string;
          traffic: { new: { requests: number }; old: { requests: number } };
          metrics: { metric: string; value: number | null }[];
          colour: string;
        };
        decision: { action: string };
        series: { stepMs: number; cohorts: Record<'new' | 'old', { requests: number; errorRate: number | null; p99Ms: number | null }[]> };
      }>(`${API}/health?window=5min&points=30`);
      expect(r.status, r.text).toBe(200);
      expect(r.json.matrix.source).toBe('sdk');
      expect(r.json.matrix.traffic.new.requests).toBe(300);
      expect(r.json.matrix.metrics.find((m) => m.metric === 'errorRate')?.value).toBeCloseTo(3 / 300);
      expect(['green', 'yellow', 'red', 'no-data']).toContain(r.json.matrix.colour);
      expect(typeof r.json.decision.action).toBe('string');
      expect(r.json.series.stepMs).toBe(10_000);
      for (const cohort of ['new', 'old'] as const) {
        const points = r.json.series.cohorts[cohort];
        expect(points).toHaveLength(30);
        expect(points.reduce((n, p) => n + p.requests, 0)).toBe(300);
        const busy = points.filter((p) => p.requests > 0);
        expect(busy.every((p) => p.p99Ms !== null && p.p99Ms >= 20 && p.p99Ms < 31)).toBe(true);
      }
      const newErrors = r.json.series.cohorts.new.reduce((n, p) => n + (p.errorRate ?? 0) * p.requests, 0);
      expect(Math.round(newErrors)).toBe(3);
      expectProblem(await server.request(`${API}/health?window=soon`), 400, 'E_USAGE');
    });

    it('refuses actions without the token and bad input as problems, changing nothing', async () => {
      const before = await actionState(db);
      const actions: [string, unknown][] = [
        ['backfill/pause', {}],
        ['backfill/resume', {}],
        ['backfill/cancel', {}],
        ['backfill/start', {}],
        ['rollout/advance', {}],
        ['rollout/resume', {}],
        ['rollout/set', { percentage: 50 }],
        ['rollout/kill', {}],
        ['approvals', { role: 'Product Owner' }],
      ];
      for (const [path, body] of actions) expectProblem(await server.request(`${API}/${path}`, { method: 'POST', body }), 403, 'E_FORBIDDEN');
      // A wrong token is no token.
      expectProblem(await server.request(`${API}/rollout/kill`, { method: 'POST', headers: { authorization: 'Bearer not-the-token' } }), 403, 'E_FORBIDDEN');

      const bad: [string, Parameters<TestServer['request']>[1], number, string][] = [
        ['rollout/set', { body: { percentage: 150 } }, 400, 'E_USAGE'],
        ['rollout/set', {}, 400, 'E_USAGE'],
        ['rollout/set', { body: { percentage: 12.345 } }, 400, 'E_USAGE'],
        ['rollout/set', { body: { percentage: 50, force: true } }, 400, 'E_USAGE'],
        ['rollout/kill', { body: { reason: 'x', flag: 'other' } }, 400, 'E_USAGE'],
        ['rollout/advance', { body: { now: true } }, 400, 'E_USAGE'],
        ['approvals', { body: { role: 'Janitor' } }, 400, 'E_USAGE'],
        ['approvals', { body: {} }, 400, 'E_USAGE'],
        ['backfill/pause', { body: { step: 'nope' } }, 404, 'E_NOT_FOUND'],
        ['rollout/kill', { body: 'reason=x', headers: { 'content-type': 'text/plain' } }, 415, 'E_USAGE'],
        ['rollout/set', { body: { percentage: 50, reason: 'x'.repeat(70 * 1024) } }, 413, 'E_USAGE'],
      ];
      for (const [path, init, status, code] of bad)
        expectProblem(await server.request(`${API}/${path}`, { method: 'POST', auth: true, ...init }), status, code);
      expectProblem(await server.request('/api/v1/migrations/9999_nope/rollout/kill', { method: 'POST', auth: true }), 404, 'E_NOT_FOUND');
      expectProblem(await server.request('/api/v1/migrations/9999_nope/backfill'), 404, 'E_NOT_FOUND');
      expectProblem(await server.request('/api/v1/migrations/0001_users/backfill'), 404, 'E_NOT_FOUND');
      expect(await actionState(db)).toBe(before);
    });

    it('answers a body that is not JSON with E_USAGE, changing nothing', async () => {
      const before = await actionState(db);
      expectProblem(await server.request(`${API}/rollout/set`, { method: 'POST', auth: true, body: '{"percentage": 5' }), 400, 'E_USAGE');
      expect(await actionState(db)).toBe(before);
    });

    it('describes every route in the OpenAPI document, actions with the token as their security', async () => {
      const doc = (await server.request<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>('/api/v1/openapi.json')).json;
      for (const action of [
        'backfill/pause',
        'backfill/resume',
        'backfill/cancel',
        'backfill/start',
        'rollout/advance',
        'rollout/resume',
        'rollout/set',
        'rollout/kill',
        'approvals',
      ])
        expect(doc.paths[`/api/v1/migrations/{id}/${action}`]?.post?.security).toEqual([{ bearer: [] }, { session: [] }]);
      for (const read of ['backfill', 'rollout', 'health', 'approvals']) expect(doc.paths[`/api/v1/migrations/{id}/${read}`]?.get).toBeDefined();
    });
  });
});

describe('the backfill job on the embedded database', () => {
  it('start runs the backfill inside ferry serve (which owns the database); a second start while it runs is refused', async () => {
    const target = await emptyPgliteTarget();
    const p = createProject(target);
    // Enough rows for many batches: the second start arrives while the first one's job runs (and the job lets it in between batches).
    const users = 100_000;
    splitProject(p, {}, users);
    // Its health comes from a Prometheus that is not there.
    const manifest = join(p.root, 'migrations', SPLIT, 'migration.json');
    writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), health: { prometheus: { url: 'http://127.0.0.1:9/' } } }));
    await expandSplit(p.root, false);
    const server = await serveProject(p);
    const [a, b] = await Promise.all([
      server.request(`${API}/backfill/start`, { method: 'POST', auth: true, headers: AS_ADA }),
      server.request(`${API}/backfill/start`, { method: 'POST', auth: true, headers: AS_ADA }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expectProblem(a.status === 409 ? a : b, 409, 'E_LOCKED');
    expect((a.status === 200 ? a : b).json).toMatchObject({ action: 'start', job: { running: true } });
    // While it runs, the pacer's decision is in the document and on the page (the job lets requests in between
    // batches). Each is polled on its own, as often as the job lets it: a request of several queries waits for a pause
    // between batches for each, so a page read after the document came batches later, and on a loaded machine after the
    // last batch, when nothing is paced any more.
    let pacing: BackfillDoc['progress'][number]['pacing'] = null;
    let page = '';
    let running = true;
    const readDocs = waitFor(
      async () => {
        const d = (await server.request<BackfillDoc>(`${API}/backfill`)).json;
        if (d.progress[0]?.pacing) pacing = d.progress[0].pacing;
        return d;
      },
      (d) => !d.job.running,
    ).finally(() => {
      running = false;
    });
    const readPages = (async () => {
      while (running && !page) {
        const island = (await server.request(`/fragments/migrations/${SPLIT}/backfill`)).text;
        if (island.includes('data-pacing=')) page = island;
      }
    })();
    const [doc] = await Promise.all([readDocs, readPages]);
    expect(doc.job.lastError).toBeNull();
    expect(doc.progress).toEqual([expect.objectContaining({ state: 'done', rowsDone: users })]);
    expect(doc.history[0]?.series.reduce((n, p) => n + p.rows, 0)).toBe(users);
    // One embedded session, nobody to protect: full speed, no pause.
    expect(pacing).toMatchObject({ state: 'full', dutyCycle: 1, pausedMs: 0, reason: 'no concurrent load' });
    expect(page).toContain('data-pacing="full"');
    expect(page).toContain('pacing: full speed (no concurrent load; budget +10 %)');
    const events = await server.ctx.withDb((db) =>
      db.query<{ actor: string; to_phase: string }>('SELECT actor, to_phase FROM ferry.events WHERE migration_id = $1 AND to_phase IS NOT NULL ORDER BY id', [
        SPLIT,
      ]),
    );
    expect(events.rows.map((e) => e.to_phase)).toContain('backfilled');
    expect(events.rows.filter((e) => e.to_phase === 'backfilled').map((e) => e.actor)).toEqual(['Ada']);
    const health = await server.request(`${API}/health`);
    expectProblem(health, 503, 'E_CONNECT');
    expect((health.json as { detail: string }).detail).toMatch(/cannot query Prometheus at http:\/\/127\.0\.0\.1:9\//);
    await server.close();
  });
});
