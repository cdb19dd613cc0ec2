import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, type FerryErrorCode } from '../../src/errors.js';
import type { EventsDocument, MarkdownDocument, MigrationDocument, OverviewDocument, StatusDocument, VerifyDocument } from '../../src/server/api/documents.js';
import { emptyPgliteTarget, forEachDriver } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { serveProject, type TestServer } from '../helpers/serve.js';
import { FIXTURE_ACTOR, NOTES, OLD, SPLIT, servedProject, TAGS, USERS } from './reads-fixture.js';

// The read side of ferry serve's JSON API over the project of reads-fixture.ts, on both drivers.

/** A problem document with ferry's code and the CLI's exit status for it. */
const expectProblem = (r: { status: number; headers: Headers; json: unknown }, status: number, code: FerryErrorCode) => {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.json).toMatchObject({ status, code, exitCode: EXIT_CODES[code] });
};

forEachDriver('the read API', (suite) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await servedProject(await suite.fresh());
  }, 60_000);

  it('GET /api/v1/migrations lists every migration with its phase, ladder, flag, backfill, verify state and risk; active=true leaves out the rolled-back one', async () => {
    const r = await s.request<OverviewDocument>('/api/v1/migrations');
    expect(r.status).toBe(200);
    const rows = new Map(r.json.migrations.map((m) => [m.id, m]));
    expect([...rows.keys()]).toEqual([USERS, SPLIT, NOTES, TAGS, OLD]);
    expect([...rows.values()].map((m) => [m.phase, m.ladder.current, m.active, m.archived])).toEqual([
      ['expanded', 2, true, false],
      ['canary', 5, true, false],
      ['rolled-back', null, false, false],
      [null, 1, true, false],
      [null, 1, false, true],
    ]);
    const split = rows.get(SPLIT);
    expect(split).toMatchObject({
      type: 'data-format',
      strategy: 'incremental',
      risk: 'medium',
      flag: { key: 'split-names', stored: true, enabled: true, percentage: 50, effectivePercentage: 50, graduated: false },
      backfills: [{ stepId: 'split-name.backfill', state: 'done', rowsDone: 500, rowsTotal: 500 }],
      verify: { state: 'failed', passed: 0, failed: 1, pending: 0, dataErrors: 1 },
      health: { colour: 'no-data', state: 'stopped' },
      drift: 0,
      archived: false,
      steps: { applied: 4, total: 5 },
    });
    expect(split?.ladder.rungs.map((x) => x.state)).toEqual(['done', 'done', 'done', 'done', 'current', 'todo', 'todo', 'todo']);
    expect(rows.get(TAGS)).toMatchObject({ flag: null, health: null, backfills: [], verify: { state: 'none' }, risk: 'low' });

    const active = await s.request<OverviewDocument>('/api/v1/migrations?active=true');
    expect(active.status).toBe(200);
    expect(active.json.migrations.map((m) => m.id)).toEqual([USERS, SPLIT, TAGS]);
    expectProblem(await s.request('/api/v1/migrations?active=maybe'), 400, 'E_USAGE');
  });

  it("GET /api/v1/migrations/{id} (id or name) gives the status, the timeline and each step's SQL, rollback, verify and locks", async () => {
    const r = await s.request<MigrationDocument>('/api/v1/migrations/split_full_name');
    expect(r.status).toBe(200);
    const d = r.json;
    expect(d.migration).toMatchObject({ id: SPLIT, phase: 'canary' });
    expect(d.status).toMatchObject({ id: SPLIT, phase: 'canary', appliedCount: 4, contractPendingCount: 1 });
    expect(d.timeline.filter((e) => e.kind === 'transition').map((e) => `${e.fromPhase}→${e.toPhase}`)).toContain('backfilled→canary');
    expect(d.timeline.every((e) => typeof e.at === 'string' && e.actor !== '')).toBe(true);
    const byId = new Map(d.steps.map((x) => [x.id, x]));
    const add = byId.get('split-name.add-columns');
    expect(add).toMatchObject({
      kind: 'sql',
      phase: 'expand',
      applied: true,
      appliedBy: FIXTURE_ACTOR,
      operation: { op: 'split-column', part: 'add-columns' },
    });
    expect(add?.forward?.text).toContain('ADD COLUMN "first_name"');
    expect(add?.rollback?.text).toContain('DROP COLUMN IF EXISTS "first_name"');
    expect(add?.verify?.text).toContain('pg_attribute');
    expect(add?.locks).toEqual([expect.objectContaining({ relation: 'public.users', mode: 'AccessExclusiveLock' })]);
    expect(add?.forward?.statements[0]?.locks[0]?.mode).toBe('AccessExclusiveLock');
    expect(byId.get('split-name.backfill')).toMatchObject({
      kind: 'backfill',
      forward: null,
      backfill: { table: 'users', set: { first_name: "split_part(full_name, ' ', 1)" } },
      locks: [{ relation: 'users', mode: 'RowExclusiveLock' }],
    });
    expect(byId.get('split-name.drop-old-column')).toMatchObject({ phase: 'contract', applied: false, appliedAt: null });
    expect(byId.get('split-name.drop-old-column')?.locks.map((l) => l.mode)).toContain('AccessExclusiveLock');

    const old = await s.request<MigrationDocument>(`/api/v1/migrations/${OLD}`);
    expect(old.status).toBe(200);
    expect(old.json.migration).toMatchObject({ id: OLD, title: 'an old flag dropped', archived: true, active: false });
  });

  it('GET /api/v1/migrations/{id}/events is the log as ferry log --json prints it', async () => {
    const r = await s.request<EventsDocument>(`/api/v1/migrations/${NOTES}/events`);
    expect(r.status).toBe(200);
    const moves = r.json.events.filter((e) => e.kind === 'transition').map((e) => [e.fromPhase, e.toPhase, e.actor]);
    expect(moves.at(-1)).toEqual(['expanded', 'rolled-back', FIXTURE_ACTOR]);
    expect(r.json.events.every((e) => e.migrationId === NOTES)).toBe(true);
  });

  it('GET /api/v1/migrations/{id}/verify shows the failed check with the differing key and both values', async () => {
    const r = await s.request<VerifyDocument>(`/api/v1/migrations/${SPLIT}/verify`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ migrationId: SPLIT, pending: [], dataErrors: { total: 1 } });
    const [check] = r.json.checks;
    expect(check).toMatchObject({ check: 'names-match', kind: 'checksum', ran: true, current: true, ok: false, mode: 'full', dataErrors: 1 });
    expect(check?.rows).toEqual([
      { kind: 'changed', key: { id: '7' }, columns: ['first_name'], source: { first_name: 'Person' }, target: { first_name: 'Wrong' } },
    ]);
    const none = await s.request<VerifyDocument>(`/api/v1/migrations/${TAGS}/verify`);
    expect(none.json).toMatchObject({ checks: [], pending: [], dataErrors: { total: 0 } });
  });

  it('GET /api/v1/migrations/{id}/documents/{kind} renders the Markdown as JSON, or as text/markdown when asked', async () => {
    const j = await s.request<MarkdownDocument>(`/api/v1/migrations/${SPLIT}/documents/plan`);
    expect(j.status).toBe(200);
    expect(j.json).toMatchObject({ migrationId: SPLIT, document: 'plan' });
    expect(j.json.markdown).toContain('split full_name');
    const md = await s.request(`/api/v1/migrations/${SPLIT}/documents/rollback-plan`, { headers: { accept: 'text/markdown' } });
    expect(md.status).toBe(200);
    expect(md.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(md.text).toMatch(/^# /);
    expectProblem(await s.request(`/api/v1/migrations/${SPLIT}/documents/memo`), 400, 'E_USAGE');
    // Every kind renders for a migration in any state: rolled out in part, never applied, archived elsewhere.
    for (const id of [SPLIT, TAGS, OLD]) {
      for (const kind of ['plan', 'rollback-plan', 'report', 'retro']) {
        const r = await s.request<MarkdownDocument>(`/api/v1/migrations/${id}/documents/${kind}`);
        expect([r.status, r.json.migrationId, r.json.document], `${kind} of ${id}`).toEqual([200, id, kind]);
      }
    }
  });

  it('GET /api/v1/status is the document of ferry status --json', async () => {
    const r = await s.request<StatusDocument>('/api/v1/status');
    expect(r.status).toBe(200);
    expect(r.json.drift).toEqual([]);
    // Only the current migrations, as the CLI lists them: not the archived one.
    expect(r.json.migrations.map((m) => [m.id, m.phase, m.guidance.phase])).toEqual([
      [USERS, 'expanded', 'expanded'],
      [SPLIT, 'canary', 'canary'],
      [NOTES, 'rolled-back', 'rolled-back'],
      [TAGS, null, 'planned'],
    ]);
    const detail = await s.request<MigrationDocument>(`/api/v1/migrations/${SPLIT}`);
    expect(r.json.migrations[1]).toEqual(detail.json.status);
  });

  it('refuses a malformed id (400 E_USAGE) and an unknown one (404 E_NOT_FOUND) on every route, as problem documents', async () => {
    for (const suffix of ['', '/events', '/verify', '/documents/plan']) {
      const bad = await s.request<{ detail: string }>(`/api/v1/migrations/Not_A_Migration${suffix}`);
      expectProblem(bad, 400, 'E_USAGE');
      expect(bad.json.detail).toContain('not a migration id or name');
      const unknown = await s.request<{ detail: string }>(`/api/v1/migrations/9999_no_such_thing${suffix}`);
      expectProblem(unknown, 404, 'E_NOT_FOUND');
    }
  });
});

describe('the read API without migrations', () => {
  it('answers an empty overview and status', async () => {
    const s = await serveProject(createProject(await emptyPgliteTarget()));
    expect((await s.request<OverviewDocument>('/api/v1/migrations')).json).toEqual({ env: 'test', migrations: [], orphanDrift: 0 });
    expect((await s.request<StatusDocument>('/api/v1/status')).json).toEqual({ migrations: [], drift: [] });
  });
});
