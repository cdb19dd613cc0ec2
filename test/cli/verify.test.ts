import { describe, expect, it } from 'vitest';
import { openServer } from '../../src/db/server.js';
import { corruptPeople, PEOPLE, peopleMigration, peopleOldSql } from '../helpers/checks.js';
import { createServerDatabase, forEachDriver, serverAvailable, type TestTarget, withDb } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

interface CheckJson {
  check: string;
  kind: string;
  ok: boolean;
  dataErrors: number;
  runId: string | null;
  figures: Record<string, unknown>;
  differences: { kind: string; key: { id: string } }[];
}
interface VerifyJson {
  ok: boolean;
  migrations: { migrationId: string; phase: string; checks: CheckJson[]; checksPending: string[] }[];
}
interface StatusJson {
  migrations: { id: string; checks: CheckJson[]; dataErrors: number }[];
}

const keys = (c: CheckJson | undefined) => new Set(c?.differences.map((d) => d.key.id));
const envOf = (t: TestTarget) => (t.kind === 'server' ? { url: t.url, requireApproval: false } : { dataDir: t.dataDir });

forEachDriver('ferry verify --full', (suite) => {
  it('passes on equal data; names exactly the corrupted keys with exit 12; stores the results and shows them in status', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    peopleMigration(p, { rows: 1_500 });
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const clean = await runFerryJson<VerifyJson>(p.root, ['verify', '--full']);
    expect(clean.code).toBe(0);
    expect(clean.json.migrations[0]?.checks.map((c) => [c.check, c.ok])).toEqual([
      ['row-count', true],
      ['names-match', true],
      ['people-data', true],
      ['people-schema', true],
    ]);

    const injected = await withDb(target, (db) => corruptPeople(db, [5, 300, 301, 999, 1200, 1499]));
    const bad = await runFerryJson<VerifyJson>(p.root, ['verify', PEOPLE, '--full']);
    expect(bad.code).toBe(12);
    const checks = new Map(bad.json.migrations[0]?.checks.map((c) => [c.check, c]));
    expect(checks.get('row-count')).toMatchObject({ ok: false, figures: { sourceRows: 1500, targetRows: 1498 } });
    expect(keys(checks.get('names-match'))).toEqual(injected);
    expect(keys(checks.get('people-data'))).toEqual(injected);
    expect(checks.get('people-data')?.dataErrors).toBe(injected.size);

    const human = await runFerry(p.root, ['verify', PEOPLE, '--full']);
    expect(human.code).toBe(12);
    expect(human.stdout).toContain('✘ fail  people-data');
    expect(human.stdout).toContain('changed id=5: first "Ada" → "Adax"');
    expect(human.stdout).toContain('missing in target id=300');
    expect(human.stdout).toContain('changed id=301: balance "43" → "43.01"'); // numeric(12,4) 43.0000 equals 43: only the change is reported
    expect(human.stderr).toContain('[E_VERIFY]');

    // --check and --sample choose what runs; an unknown check is a usage error.
    const one = await runFerryJson<VerifyJson>(p.root, ['verify', PEOPLE, '--check', 'people-schema']);
    expect(one.code).toBe(12); // the stored failing results still count
    expect((await runFerry(p.root, ['verify', PEOPLE, '--check', 'nope'])).code).toBe(2);

    const stored = await withDb(target, (db) =>
      db.query<{ check_name: string; ok: boolean; data_errors: number }>(
        `SELECT check_name, ok, data_errors::int AS data_errors FROM ferry.verify_results WHERE id IN (SELECT max(id) FROM ferry.verify_results GROUP BY check_name) ORDER BY check_name`,
      ),
    );
    expect(stored.rows).toEqual([
      { check_name: 'names-match', ok: false, data_errors: injected.size },
      { check_name: 'people-data', ok: false, data_errors: injected.size },
      { check_name: 'people-schema', ok: true, data_errors: 0 },
      { check_name: 'row-count', ok: false, data_errors: 2 },
    ]);
    const status = await runFerryJson<StatusJson>(p.root, ['status']);
    expect(status.code).toBe(0);
    expect(status.json.migrations[0]?.checks.map((c) => [c.check, c.ok])).toEqual([
      ['row-count', false],
      ['names-match', false],
      ['people-data', false],
      ['people-schema', true],
    ]);
    // The row count's 2, plus each corrupted row once although the diff and the checksum both found it.
    expect(status.json.migrations[0]?.dataErrors).toBe(2 + injected.size);
    const humanStatus = await runFerry(p.root, ['status']);
    expect(humanStatus.stdout).toContain('✘ fail  people-data');
  });
});

/** Cross-database: people_old lives in environment `legacy`, people in the migration's own database. */
async function crossDatabase(home: TestTarget, legacyUrl: string): Promise<void> {
  const legacy = await openServer({ url: legacyUrl });
  try {
    await legacy.exec(peopleOldSql(1_200));
  } finally {
    await legacy.close();
  }
  const p = createProject(home, { environments: { test: envOf(home), legacy: { url: legacyUrl, requireApproval: false } } });
  peopleMigration(p, { rows: 1_200, sourceEnv: 'legacy' });
  expect((await runFerry(p.root, ['up'])).code).toBe(0);
  const clean = await runFerryJson<VerifyJson>(p.root, ['verify', '--full']);
  expect(clean.code).toBe(0);
  expect(clean.json.migrations[0]?.checks.map((c) => [c.check, c.ok])).toEqual([
    ['row-count', true],
    ['people-data', true],
    ['people-schema', true],
  ]);
  const injected = await withDb(home, (db) => corruptPeople(db, [1, 600, 601, 1200]));
  const bad = await runFerryJson<VerifyJson>(p.root, ['verify', '--full']);
  expect(bad.code).toBe(12);
  const data = bad.json.migrations[0]?.checks.find((c) => c.check === 'people-data');
  expect(keys(data)).toEqual(injected);
  expect(data?.differences.find((d) => d.key.id === '600')?.kind).toBe('missing');
  expect(data?.figures).toMatchObject({ sourceRows: 1200, targetRows: 1199, snapshot: 'per-side' });
}

const serverUp = await serverAvailable();

forEachDriver('cross-database checks through the CLI (the home database vs a server database)', (suite) => {
  it.runIf(serverUp)('a check whose source is another environment (a server database) finds exactly the corrupted keys', async () => {
    const legacy = await createServerDatabase('ferry_legacy');
    try {
      await crossDatabase(await suite.fresh(), legacy.url);
    } finally {
      await legacy.drop();
    }
  });

  it('an unknown environment is a manifest problem naming the file and field', async () => {
    const p = createProject(await suite.fresh());
    peopleMigration(p, { rows: 10, sourceEnv: 'nowhere' });
    const r = await runFerry(p.root, ['status']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/migration\.json: checks\.0\.source\.env: no environment "nowhere"/);
    expect(r.stderr).toMatch(/migration\.json: checks\.1\.source\.env: no environment "nowhere"/);
  });
});

describe('resumable verification [server]', () => {
  it.runIf(serverUp)('ferry verify --full killed with SIGKILL mid-checksum resumes from its finished chunks and gives the same result', async () => {
    const created = await createServerDatabase();
    const target: TestTarget = { kind: 'server', url: created.url, open: () => openServer({ url: created.url }) };
    const p = createProject(target);
    peopleMigration(p, { rows: 200_000, chunkRows: 4_000 });
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const injected = await withDb(target, (db) => corruptPeople(db, [7, 50_001, 123_456, 199_999]));
    const watcher = await target.open();
    try {
      const chunks = async () => Number((await watcher.query<{ n: string }>(`SELECT count(*)::text AS n FROM ferry.verify_chunks`)).rows[0]?.n ?? 0);
      const tables = async () => (await watcher.query(`SELECT to_regclass('ferry.verify_chunks') IS NOT NULL AS t`)).rows[0]?.t === true;
      const run = startFerry(p.root, ['verify', PEOPLE, '--full', '--check', 'people-data']);
      await until('three finished chunks', async () => (await tables()) && (await chunks()) >= 3, run);
      run.kill('SIGKILL');
      const killed = await run.done;
      expect(killed.signal).toBe('SIGKILL');
      const done = await chunks();
      expect(done).toBeGreaterThanOrEqual(3);
      expect(done).toBeLessThan(51);

      const again = await runFerryJson<VerifyJson>(p.root, ['verify', PEOPLE, '--full', '--check', 'people-data']);
      expect(again.code).toBe(12);
      const data = again.json.migrations[0]?.checks.find((c) => c.check === 'people-data');
      expect(data?.figures).toMatchObject({ chunks: 51, sourceRows: 200_000, targetRows: 199_999, differenceCount: 4 });
      expect(data?.figures.chunksSkipped).toBeGreaterThanOrEqual(done);
      expect(keys(data)).toEqual(injected);
      expect(data?.runId).toBe(`${PEOPLE}/people-data/1`);

      // The run finished: its chunk records are gone, and the next run starts afresh (run 2) with the same answer.
      expect(await chunks()).toBe(0);
      const fresh = await runFerryJson<VerifyJson>(p.root, ['verify', PEOPLE, '--full', '--check', 'people-data']);
      const second = fresh.json.migrations[0]?.checks.find((c) => c.check === 'people-data');
      expect(second?.figures.chunksSkipped).toBe(0);
      expect(second?.runId).toBe(`${PEOPLE}/people-data/2`);
      expect(keys(second)).toEqual(injected);
      const attempts = await watcher.query<{ run_no: number; finished: boolean }>(
        `SELECT run_no, finished_at IS NOT NULL AS finished FROM ferry.verify_attempts WHERE check_name = 'people-data' ORDER BY run_no`,
      );
      expect(attempts.rows).toEqual([
        { run_no: 1, finished: true },
        { run_no: 2, finished: true },
      ]);
    } finally {
      await watcher.close();
      await created.drop();
    }
  });
});
