import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetRunReport } from '../../src/workflow/fleet.js';
import { serverAvailable } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { createDatabases, fleetProject, mapLimit, query, schemaDumps, urlOf } from './fixtures.js';

// One fleet of 50 databases on the local server, driven through the CLI as an operator would: the tests run in
// order, each taking the fleet from where the previous one left it, and the last one rolls everything back.

const PREFIX = `ferry_fl_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const CTL = `${PREFIX}_ctl`;
const TENANTS = Array.from({ length: 50 }, (_, i) => `${PREFIX}_t${String(i).padStart(2, '0')}`);
const SHARDS = Array.from({ length: 6 }, (_, i) => `${PREFIX}_s${i}`);
const CANARIES = [TENANTS[7] as string, TENANTS[23] as string];
const idOf = (name: string) => `postgres://postgres@127.0.0.1:5432/${name}`;
const nameOf = (id: string) => id.slice(id.lastIndexOf('/') + 1);

const serverUp = await serverAvailable();
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await drop?.();
});

interface LedgerRow {
  target: string;
  wave: number;
  status: string;
  attempts: number;
  last_error: string | null;
  finished_at: Date | null;
}

const ledger = <R = LedgerRow>(sql: string, params: unknown[] = []) => query<R>(CTL, sql, params);
const rowsOf = (runId: number) => ledger('SELECT target, wave, status, attempts, last_error, finished_at FROM ferry_fleet.targets WHERE run_id = $1', [runId]);
const latestRunId = async () => (await ledger<{ id: number | null }>('SELECT max(run_id)::int AS id FROM ferry_fleet.runs'))[0]?.id ?? 0;

/** Per wave, every database's time (ledger finish or applied_at) is before every time of the next wave. */
function inWaveOrder(rows: { wave: number; at: Date }[]): boolean {
  const waves = [...new Set(rows.map((r) => r.wave))].sort((a, b) => a - b);
  for (let i = 1; i < waves.length; i++) {
    const last = Math.max(...rows.filter((r) => r.wave === waves[i - 1]).map((r) => r.at.getTime()));
    const first = Math.min(...rows.filter((r) => r.wave === waves[i]).map((r) => r.at.getTime()));
    if (last > first) return false;
  }
  return true;
}

const sizes = (rows: LedgerRow[]) => [...new Set(rows.map((r) => r.wave))].sort((a, b) => a - b).map((w) => rows.filter((r) => r.wave === w).length);

/** How many times each database ran migration `id`: its row in ferry.applied_steps, and the marker row its SQL inserts. */
const appliedCounts = (id: string) =>
  mapLimit(TENANTS, 8, async (db) => {
    const [steps] = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM ferry.applied_steps WHERE migration_id = $1', [id]);
    const [marks] = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM applies WHERE migration = $1', [id]);
    return { steps: steps?.n, marks: marks?.n };
  });

const step = (id: string, table: string, sleep = 0) => ({
  id: 'create',
  up: `${sleep ? `SELECT pg_sleep(${sleep});\n` : ''}CREATE TABLE ${table} (id int);\nINSERT INTO applies VALUES ('${id}');\n`,
  down: `DROP TABLE ${table};\nDELETE FROM applies WHERE migration = '${id}';\n`,
});

describe.runIf(serverUp)('a fleet of 50 databases', () => {
  const project = fleetProject({
    ctl: { url: urlOf(CTL), requireApproval: false },
    tenants: {
      requireApproval: false,
      fleet: { targets: { query: { env: 'ctl', sql: 'SELECT url FROM tenants ORDER BY n' } }, canaries: CANARIES, concurrency: 8, lease: '2s' },
    },
    dups: {
      fleet: {
        targets: {
          query: { env: 'ctl', sql: "SELECT url FROM tenants UNION ALL SELECT replace(url, 'postgres@', 'postgres:secret@') FROM tenants WHERE n = 3" },
        },
      },
    },
    empty: { fleet: { targets: { query: { env: 'ctl', sql: 'SELECT url FROM tenants WHERE false' } } } },
    mixed: { fleet: { control: 'ctl', targets: { urls: [urlOf(TENANTS[0] as string), 'mysql://root@127.0.0.1/shop'] } } },
  });
  const ferry = (...args: string[]) => runFerry(project.root, args);
  const ferryJson = (...args: string[]) => runFerryJson<FleetRunReport>(project.root, args);
  let dumpsBefore: string[] = [];
  let lastRun = 0;

  beforeAll(async () => {
    drop = await createDatabases([CTL, ...TENANTS, ...SHARDS]);
    await query(CTL, 'CREATE TABLE tenants (n int PRIMARY KEY, url text NOT NULL)');
    await query(CTL, 'INSERT INTO tenants SELECT i, u FROM unnest($1::text[]) WITH ORDINALITY AS t(u, i)', [TENANTS.map(urlOf)]);
    project.migration('0001_base', [
      {
        id: 'create',
        up: "CREATE TABLE applies (migration text);\nCREATE TABLE items (id int PRIMARY KEY, name text);\nINSERT INTO applies VALUES ('0001_base');\n",
        down: 'DROP TABLE items;\nDROP TABLE applies;\n',
      },
    ]);
    dumpsBefore = await schemaDumps(TENANTS);
  }, 120_000);

  it('refuses bad input before anything changes: no ledger, duplicates from the query, an empty fleet, a URL that is not PostgreSQL', async () => {
    const noLedger = await ferry('up', '--env', 'tenants');
    expect(noLedger.code).toBe(5);
    expect(noLedger.stderr).toContain('no fleet ledger');
    expect(noLedger.stderr).toContain('ferry fleet init --env tenants');

    const dups = await ferry('up', '--env', 'dups');
    expect(dups.code).toBe(3);
    expect(dups.stderr).toContain(`${idOf(TENANTS[2] as string)} (2 times)`);
    expect(dups.stderr).not.toContain('secret');
    const empty = await ferry('up', '--env', 'empty');
    expect(empty.code).toBe(3);
    expect(empty.stderr).toContain('fleet "empty" has no databases');
    const mixed = await ferry('verify', '--env', 'mixed');
    expect(mixed.code).toBe(3);
    expect(mixed.stderr).toContain('"mysql://root@127.0.0.1/shop"');

    // Nothing changed anywhere: no ledger, and no database has ferry's schema.
    expect(await ledger("SELECT 1 FROM pg_namespace WHERE nspname = 'ferry_fleet'")).toEqual([]);
    const touched = await mapLimit(TENANTS, 8, async (db) => (await query(db, "SELECT 1 FROM pg_namespace WHERE nspname = 'ferry'")).length);
    expect(touched.every((n) => n === 0)).toBe(true);

    const init = await runFerryJson<{ created: boolean }>(project.root, ['fleet', 'init', '--env', 'tenants']);
    expect(init.code).toBe(0);
    expect(init.json.created).toBe(true);
    const again = await runFerryJson<{ created: boolean }>(project.root, ['fleet', 'init', '--env', 'tenants']);
    expect(again.json.created).toBe(false);
    expect((await ferry('up', '--env', 'dups')).code).toBe(3);
    expect(await ledger('SELECT run_id FROM ferry_fleet.runs')).toEqual([]);
  }, 60_000);

  it('goes in waves, canaries first, each wave only after the previous one is done', async () => {
    const r = await ferryJson('up', '--env', 'tenants');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ status: 'done', resumed: false, handled: 50, counts: { total: 50, done: 50, failed: 0 } });
    expect(r.json.peakConnections).toBeLessThanOrEqual(9);
    lastRun = r.json.runId;
    const rows = await rowsOf(lastRun);
    expect(sizes(rows)).toEqual([1, 2, 10, 12, 25]);
    expect(rows.filter((x) => x.wave === 1).map((x) => x.target)).toEqual([idOf(CANARIES[0] as string)]);
    expect(rows.filter((x) => x.wave === 2).map((x) => x.target)).toContain(idOf(CANARIES[1] as string));
    expect(inWaveOrder(rows.map((x) => ({ wave: x.wave, at: x.finished_at as Date })))).toBe(true);
    // The databases' own record agrees: each applied the step after every database of the earlier waves.
    const applied = await mapLimit(rows, 8, async (x) => {
      const [a] = await query<{ at: Date }>(nameOf(x.target), "SELECT applied_at AS at FROM ferry.applied_steps WHERE migration_id = '0001_base'");
      return { wave: x.wave, at: a?.at as Date };
    });
    expect(inWaveOrder(applied)).toBe(true);
    expect(await appliedCounts('0001_base')).toEqual(TENANTS.map(() => ({ steps: 1, marks: 1 })));
  }, 60_000);

  it('stops after wave 2 when a database of it fails, leaves the later waves untouched, and resumes once fixed', async () => {
    project.migration('0002_extra', [step('0002_extra', 'extra')]);
    const wave2 = (await rowsOf(lastRun)).filter((x) => x.wave === 2).map((x) => nameOf(x.target));
    const broken = wave2.find((n) => !CANARIES.includes(n)) as string;
    await query(broken, 'CREATE TABLE extra (in_the_way int)');
    const before = await schemaDumps(TENANTS, true);

    const r = await ferryJson('up', '--env', 'tenants');
    expect(r.code).toBe(20);
    expect(r.json).toMatchObject({ status: 'failed', wave: 2, counts: { done: 2, failed: 1, untouched: 47 } });
    expect(r.json.failed).toHaveLength(1);
    expect(r.json.failed[0]).toMatchObject({ target: idOf(broken), wave: 2 });
    expect(r.json.failed[0]?.error).toMatch(/^E_STEP: .*already exists/);
    const rows = await rowsOf(r.json.runId);
    const later = rows.filter((x) => x.wave > 2);
    expect(later.every((x) => x.status === 'pending' && x.attempts === 0)).toBe(true);
    const after = await schemaDumps(TENANTS, true);
    for (const x of later) {
      const i = TENANTS.indexOf(nameOf(x.target));
      expect(after[i]).toBe(before[i]);
    }

    // Another plan cannot start while this run is unfinished: refused, naming the run and the way out.
    const other = await ferry('down', '0001_base', '--env', 'tenants');
    expect(other.code).toBe(7);
    expect(other.stderr).toContain(`unfinished run ${r.json.runId} (up 0001_base, 0002_extra, failed`);
    expect(other.stderr).toContain('ferry fleet abandon --env tenants');

    await query(broken, 'DROP TABLE extra');
    const resumed = await ferryJson('up', '--env', 'tenants');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json).toMatchObject({ runId: r.json.runId, resumed: true, status: 'done', counts: { done: 50, failed: 0 } });
    expect(resumed.json.handled).toBe(48);
    expect(await appliedCounts('0002_extra')).toEqual(TENANTS.map(() => ({ steps: 1, marks: 1 })));
    lastRun = resumed.json.runId;
  }, 60_000);

  it('applies every database exactly once after kill -9 of the runner mid-wave and a rerun', async () => {
    project.migration('0003_slow', [step('0003_slow', 'slow', 0.4)]);
    const runner = startFerry(project.root, ['up', '--env', 'tenants']);
    let runId = 0;
    await until(
      'wave 4 to be under way',
      async () => {
        runId = await latestRunId();
        if (runId <= lastRun) return false;
        const [c] = await ledger<{ n: number }>("SELECT count(*)::int AS n FROM ferry_fleet.targets WHERE run_id = $1 AND status = 'done'", [runId]);
        return (c?.n ?? 0) >= 14;
      },
      runner,
    );
    runner.kill('SIGKILL');
    await runner.done;
    const killed = await rowsOf(runId);
    const claimed = killed.filter((x) => x.status === 'claimed');
    expect(killed.filter((x) => x.status === 'done').length).toBeLessThan(50);
    expect(claimed.length).toBeGreaterThan(0);

    const rerun = await ferryJson('up', '--env', 'tenants');
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.json).toMatchObject({ runId, resumed: true, status: 'done', counts: { done: 50 } });
    const rows = await rowsOf(runId);
    // The dead runner's claims expired and were taken over: a second attempt each, and still one application.
    expect(
      rows
        .filter((x) => x.attempts === 2)
        .map((x) => x.target)
        .sort(),
    ).toEqual(claimed.map((x) => x.target).sort());
    expect(await appliedCounts('0003_slow')).toEqual(TENANTS.map(() => ({ steps: 1, marks: 1 })));
    lastRun = runId;
  }, 90_000);

  it('shares one run between two runner processes, no database done twice', async () => {
    project.migration('0004_shared', [step('0004_shared', 'shared', 0.2)]);
    const runners = [0, 1].map(() => startFerry(project.root, ['up', '--env', 'tenants', '--json']));
    const results = await Promise.all(runners.map((x) => x.done));
    for (const x of results) expect(x.code, x.stderr).toBe(0);
    const [a, b] = results.map((x) => JSON.parse(x.stdout) as FleetRunReport) as [FleetRunReport, FleetRunReport];
    expect(a.runId).toBe(b.runId);
    expect(a.handled + b.handled).toBe(50);
    expect(a.handled).toBeGreaterThan(0);
    expect(b.handled).toBeGreaterThan(0);
    const rows = await rowsOf(a.runId);
    expect(rows.every((x) => x.status === 'done' && x.attempts === 1)).toBe(true);
    expect(await appliedCounts('0004_shared')).toEqual(TENANTS.map(() => ({ steps: 1, marks: 1 })));
    lastRun = a.runId;
  }, 60_000);

  it("holds the next wave until the previous one's verify SQL passes, and checks it again on the rerun", async () => {
    project.migration('0005_checked', [{ ...step('0005_checked', 'checked'), verify: "SELECT count(*) = 0 FROM applies WHERE migration = 'poison';\n" }]);
    const wave3 = (await rowsOf(lastRun)).filter((x) => x.wave === 3).map((x) => nameOf(x.target));
    const poisoned = wave3[4] as string;
    await query(poisoned, "INSERT INTO applies VALUES ('poison')");
    const r = await ferryJson('up', '--env', 'tenants');
    expect(r.code).toBe(20);
    expect(r.json).toMatchObject({ status: 'failed', wave: 3, counts: { done: 12, failed: 1, untouched: 37 } });
    expect(r.json.failed[0]).toMatchObject({ target: idOf(poisoned), wave: 3 });
    expect(r.json.failed[0]?.error).toMatch(
      /^E_VERIFY: applied, but the verify SQL fails: 0005_checked: .*create\.verify\.sql:1: .* returned \?column\? = false/,
    );

    await query(poisoned, "DELETE FROM applies WHERE migration = 'poison'");
    const resumed = await ferryJson('up', '--env', 'tenants');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.json).toMatchObject({ runId: r.json.runId, resumed: true, status: 'done', counts: { done: 50 } });
    expect(await appliedCounts('0005_checked')).toEqual(TENANTS.map(() => ({ steps: 1, marks: 1 })));
  }, 60_000);

  it('shows every database in fleet status: version, phase and a summary per migration', async () => {
    const s = await runFerryJson<{ databases: { target: string; version: string; phase: string }[]; summary: Record<string, unknown> }>(project.root, [
      'fleet',
      'status',
      '--env',
      'tenants',
    ]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.json.databases).toHaveLength(50);
    expect(s.json.databases.every((d) => d.version === '0005_checked' && d.phase === 'expanded')).toBe(true);
    expect(s.json.summary).toMatchObject({ total: 50, byVersion: { '0005_checked': 50 }, failed: 0, drifted: 0, unreachable: 0 });
    const same = await runFerryJson<{ summary: unknown }>(project.root, ['status', '--env', 'tenants']);
    expect(same.json.summary).toEqual(s.json.summary);
  }, 60_000);

  it('goes down in reverse waves, canaries last, and restores every schema dump', async () => {
    let down: FleetRunReport | undefined;
    for (const id of ['0005_checked', '0004_shared', '0003_slow', '0002_extra', '0001_base']) {
      // The last one drops the marker table, whose rows the old shape cannot regenerate: saved first, per database.
      const r = await ferryJson('down', id, '--env', 'tenants', ...(id === '0001_base' ? ['--accept-data-loss'] : []));
      expect(r.code, `${id}: ${JSON.stringify(r.json.failed?.slice(0, 2))}`).toBe(0);
      expect(r.json).toMatchObject({ status: 'done', counts: { done: 50, failed: 0 } });
      down = r.json;
    }
    const rows = await rowsOf(down?.runId as number);
    expect(sizes(rows)).toEqual([25, 12, 10, 2, 1]);
    expect(rows.filter((x) => x.wave === 5).map((x) => x.target)).toEqual([idOf(CANARIES[0] as string)]);
    expect(rows.filter((x) => x.wave === 4).map((x) => x.target)).toContain(idOf(CANARIES[1] as string));
    expect(inWaveOrder(rows.map((x) => ({ wave: x.wave, at: x.finished_at as Date })))).toBe(true);
    expect(await schemaDumps(TENANTS)).toEqual(dumpsBefore);
  }, 90_000);

  it('counts a database unreachable mid-run against the failure budget, with a clear error', async () => {
    const shards = fleetProject({
      ctl: { url: urlOf(CTL), requireApproval: false },
      shards: {
        requireApproval: false,
        fleet: {
          control: 'ctl',
          targets: { file: 'shards.txt' },
          canaries: [SHARDS[0]],
          waves: [{ count: 1 }, { percent: 50 }, { percent: 100 }],
          failureBudget: 1,
          concurrency: 2,
          lease: '2s',
        },
      },
    });
    const nowhere = 'postgres://postgres@127.0.0.1:1/nowhere';
    writeFileSync(join(shards.root, 'shards.txt'), `# the shards\n${SHARDS.map(urlOf).join('\n')}\n${nowhere}   # retired host\n`);
    shards.migration('0001_a', [{ id: 'create', up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE a;\n' }]);
    const first = await runFerryJson<FleetRunReport>(shards.root, ['up', '--env', 'shards']);
    // One unreachable database is within the budget: the run finishes, and says which one failed and why.
    expect(first.code).toBe(20);
    expect(first.json).toMatchObject({ status: 'done', counts: { done: 6, failed: 1 } });
    expect(first.json.failed[0]?.target).toBe('postgres://postgres@127.0.0.1:1/nowhere');
    expect(first.json.failed[0]?.error).toMatch(/^E_CONNECT: cannot reach the database at postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere/);

    shards.migration('0002_b', [{ id: 'create', up: 'SELECT pg_sleep(0.5);\nCREATE TABLE b (id int);\n', down: 'DROP TABLE b;\n' }]);
    const runner = startFerry(shards.root, ['up', '--env', 'shards', '--json']);
    await until(
      'the canary to be done',
      async () => {
        const [r] = await ledger<{ n: number }>(
          "SELECT count(*)::int AS n FROM ferry_fleet.targets t JOIN ferry_fleet.runs r USING (run_id) WHERE r.fleet = 'shards' AND r.run_id > $1 AND t.status = 'done'",
          [first.json.runId],
        );
        return (r?.n ?? 0) >= 1;
      },
      runner,
    );
    const gone = SHARDS[5] as string;
    await query('test', `DROP DATABASE "${gone}" WITH (FORCE)`);
    const end = await runner.done;
    expect(end.code).toBe(20);
    const second = JSON.parse(end.stdout) as FleetRunReport;
    expect(second).toMatchObject({ status: 'failed', counts: { done: 5, failed: 2 } });
    const errors = Object.fromEntries(second.failed.map((f) => [f.target, f.error]));
    expect(errors[idOf(gone)]).toMatch(/^E_CONNECT: database does not exist: .*database "ferry_fl_.*_s5" does not exist/);
    expect(errors[nowhere]).toMatch(/^E_CONNECT: cannot reach/);
    const text = await runFerry(shards.root, ['up', '--env', 'shards']);
    expect(text.code).toBe(20);
    expect(text.stderr).toContain(`${idOf(gone)} (wave 3): E_CONNECT`);

    const status = await runFerryJson<{ summary: Record<string, unknown>; databases: { target: string; error: string | null }[] }>(shards.root, [
      'fleet',
      'status',
      '--env',
      'shards',
    ]);
    expect(status.code).toBe(6);
    expect(status.json.summary).toMatchObject({ total: 7, byVersion: { '0002_b': 5 }, failed: 2, unreachable: 2 });
    const abandoned = await runFerryJson<{ abandoned: { runId: number } | null }>(shards.root, ['fleet', 'abandon', '--env', 'shards']);
    expect(abandoned.json.abandoned?.runId).toBe(second.runId);
    const fresh = await runFerryJson<FleetRunReport>(shards.root, ['up', '--env', 'shards']);
    expect(fresh.json).toMatchObject({ resumed: false, status: 'failed' });
    expect(fresh.json.runId).toBeGreaterThan(second.runId);
  }, 90_000);
});
