import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetRunReport } from '../../src/workflow/fleet.js';
import { serverAvailable } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { createDatabases, fleetProject, mapLimit, query, urlOf } from './fixtures.js';

// Ctrl-C during a fleet run: the runner gives its unfinished claims back (pending again, the attempt not counted)
// instead of leaving them to its lease, so a rerun takes them at once.

const PREFIX = `ferry_fli_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const CTL = `${PREFIX}_ctl`;
const TENANTS = Array.from({ length: 5 }, (_, i) => `${PREFIX}_t${i}`);
const ID = '0001_slow';

const serverUp = await serverAvailable();
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await drop?.();
});

interface Row {
  target: string;
  status: string;
  attempts: number;
  claimed_by: string | null;
  lease_until: Date | null;
}

const rowsOf = (runId: number) =>
  query<Row>(CTL, 'SELECT target, status, attempts, claimed_by, lease_until FROM ferry_fleet.targets WHERE run_id = $1 ORDER BY position', [runId]);

describe.runIf(serverUp)('a fleet runner stopped by SIGINT', () => {
  const project = fleetProject({
    ctl: { url: urlOf(CTL), requireApproval: false },
    // One wave, two databases at a time, and a lease far longer than the test: only a release frees the claims.
    tenants: {
      requireApproval: false,
      fleet: { control: 'ctl', targets: { urls: TENANTS.map(urlOf) }, waves: [{ percent: 100 }], concurrency: 2, lease: '10min' },
    },
  });

  beforeAll(async () => {
    drop = await createDatabases([CTL, ...TENANTS]);
    project.migration(ID, [
      {
        id: 'create',
        up: 'CREATE TABLE slow (id int);\nSELECT pg_sleep(3);\nINSERT INTO slow VALUES (1);\n',
        down: 'DROP TABLE slow;\n',
      },
    ]);
    expect((await runFerry(project.root, ['fleet', 'init', '--env', 'tenants'])).code).toBe(0);
  }, 60_000);

  it('gives back its claims in flight (pending, no attempt counted); the rerun resumes and applies each database once', async () => {
    const runner = startFerry(project.root, ['up', '--env', 'tenants', '--json']);
    let runId = 0;
    await until(
      'two databases to be claimed',
      async () => {
        const [r] = await query<{ id: number | null }>(CTL, "SELECT max(run_id)::int AS id FROM ferry_fleet.runs WHERE fleet = 'tenants'");
        runId = r?.id ?? 0;
        return runId > 0 && (await rowsOf(runId)).filter((x) => x.status === 'claimed').length === 2;
      },
      runner,
    );
    const claimed = (await rowsOf(runId)).filter((x) => x.status === 'claimed').map((x) => x.target);
    runner.kill('SIGINT');
    const end = await runner.done;
    expect(end.code, end.stderr).toBe(20);
    expect(end.signal).toBeNull();
    const report = JSON.parse(end.stdout) as FleetRunReport;
    expect(report).toMatchObject({ runId, interrupted: true, status: 'running', counts: { done: 0, failed: 0 } });
    expect(report.released).toEqual(claimed);

    // Nothing is left to the lease: every database pending, unclaimed, with no attempt counted.
    const rows = await rowsOf(runId);
    expect(rows.map((x) => ({ status: x.status, attempts: x.attempts, claimedBy: x.claimed_by, lease: x.lease_until }))).toEqual(
      TENANTS.map(() => ({ status: 'pending', attempts: 0, claimedBy: null, lease: null })),
    );
    const runs = await query<{ status: string }>(CTL, 'SELECT status FROM ferry_fleet.runs WHERE run_id = $1', [runId]);
    expect(runs).toEqual([{ status: 'running' }]);

    const rerun = await runFerryJson<FleetRunReport>(project.root, ['up', '--env', 'tenants']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.json).toMatchObject({ runId, resumed: true, interrupted: false, status: 'done', handled: 5, counts: { done: 5, failed: 0 } });
    expect((await rowsOf(runId)).every((x) => x.status === 'done' && x.attempts === 1)).toBe(true);
    // Each database has the migration once, whether or not the interrupted attempt had got anywhere.
    const applied = await mapLimit(TENANTS, 5, async (db) => {
      const [s] = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM ferry.applied_steps WHERE migration_id = $1', [ID]);
      const [r] = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM slow');
      return { steps: s?.n, rows: r?.n };
    });
    expect(applied).toEqual(TENANTS.map(() => ({ steps: 1, rows: 1 })));
  }, 90_000);
});
