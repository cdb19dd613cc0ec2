import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetRunReport } from '../../src/workflow/fleet.js';
import { serverAvailable } from '../helpers/databases.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { createDatabases, fleetProject, mapLimit, query, urlOf } from './fixtures.js';

// The expand/contract lifecycle on a fleet of 5 databases: `ferry backfill <id> --env <fleet>` fills every
// database; contract is refused by its gate until each database is rolled out (per database: the fleet has no
// rollout) and verified with `ferry verify --full --env <fleet>`; then `ferry contract <id> --env <fleet>` backs up
// and contracts each one.

const PREFIX = `ferry_flc_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const CTL = `${PREFIX}_ctl`;
const TENANTS = Array.from({ length: 5 }, (_, i) => `${PREFIX}_t${i}`);
const SPLIT = '0002_split';
const ROWS = 2500;

const serverUp = await serverAvailable();
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await drop?.();
});

/** Each tenant's phase of the split, the users' columns, the rows not filled (or filled wrong), and its backups. */
const states = () =>
  mapLimit(TENANTS, 5, async (db) => {
    const [m] = await query<{ phase: string }>(db, 'SELECT phase FROM ferry.migrations WHERE id = $1', [SPLIT]);
    const columns = (
      await query<{ c: string }>(db, "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position")
    ).map((r) => r.c);
    const [bad] = columns.includes('full_name')
      ? await query<{ n: number }>(db, "SELECT count(*)::int AS n FROM users WHERE first_name IS DISTINCT FROM split_part(full_name, ' ', 1)")
      : await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM users WHERE first_name IS NULL');
    const [b] = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM ferry.backups WHERE migration_id = $1', [SPLIT]);
    return { phase: m?.phase, columns, unfilled: bad?.n, backups: b?.n };
  });

describe.runIf(serverUp)('backfill and contract on a fleet of 5 databases', () => {
  const single = Object.fromEntries(TENANTS.map((t, i) => [`db${i}`, { url: urlOf(t), requireApproval: false }]));
  const project = fleetProject({
    ctl: { url: urlOf(CTL), requireApproval: false },
    ...single,
    tenants: { requireApproval: false, fleet: { control: 'ctl', targets: { urls: TENANTS.map(urlOf) }, concurrency: 3, lease: '2s' } },
  });
  const ferry = (...args: string[]) => runFerry(project.root, args);
  const fleetJson = (...args: string[]) => runFerryJson<FleetRunReport>(project.root, args);

  beforeAll(async () => {
    drop = await createDatabases([CTL, ...TENANTS]);
    project.migration('0001_users', [
      {
        id: 'create',
        up: `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text NOT NULL);
             INSERT INTO users (full_name) SELECT 'Person' || g || ' Tenant' FROM generate_series(1, ${ROWS}) g;\n`,
        down: 'DROP TABLE users;\n',
      },
    ]);
    project.migration(
      SPLIT,
      [
        { id: 'add', up: 'ALTER TABLE users ADD COLUMN first_name text;\n', down: 'ALTER TABLE users DROP COLUMN first_name;\n' },
        { id: 'drop-old', up: 'ALTER TABLE users DROP COLUMN full_name;\n', down: 'ALTER TABLE users ADD COLUMN full_name text;\n' },
      ],
      {
        type: 'data-format',
        strategy: 'incremental',
        flag: 'split-names',
        rollout: { stages: [{ percent: 100, hold: '1s' }] },
        steps: [
          { id: 'add', transaction: true },
          {
            id: 'fill',
            kind: 'backfill',
            table: 'users',
            set: { first_name: "split_part(full_name, ' ', 1)" },
            where: 'first_name IS NULL',
            rollback: { first_name: 'NULL' },
            batchSize: { initial: 500, min: 100, max: 1000 },
          },
          { id: 'drop-old', transaction: true, phase: 'contract' },
        ],
        checks: [
          {
            name: 'first-names',
            kind: 'checksum',
            source: { table: 'users' },
            target: { table: 'users' },
            key: ['id'],
            columns: [{ name: 'first_name', source: "split_part(full_name, ' ', 1)", target: 'first_name' }],
          },
        ],
      },
    );
    expect((await ferry('fleet', 'init', '--env', 'tenants')).code).toBe(0);
    const base = await fleetJson('up', '0001_users', '--env', 'tenants');
    expect(base.code, base.stderr).toBe(0);
  }, 60_000);

  it('backfill --env <fleet> applies the expand steps and fills every database, leaving the contract step', async () => {
    const r = await fleetJson('backfill', SPLIT, '--env', 'tenants');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ command: 'backfill', status: 'done', counts: { total: 5, done: 5, failed: 0 } });
    expect(await states()).toEqual(TENANTS.map(() => ({ phase: 'backfilled', columns: ['id', 'full_name', 'first_name'], unfilled: 0, backups: 0 })));
    const filled = await mapLimit(
      TENANTS,
      5,
      async (db) => (await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM users WHERE first_name IS NOT NULL'))[0]?.n,
    );
    expect(filled).toEqual(TENANTS.map(() => ROWS));
    const fill = await mapLimit(
      TENANTS,
      5,
      async (db) => (await query(db, "SELECT 1 FROM ferry.applied_steps WHERE migration_id = $1 AND step_id = 'fill'", [SPLIT])).length,
    );
    expect(fill).toEqual(TENANTS.map(() => 1));
  }, 60_000);

  it('contract --env <fleet> is refused by its gate on the canary before verification, and changes nothing', async () => {
    const r = await fleetJson('contract', SPLIT, '--env', 'tenants');
    expect(r.code).toBe(20);
    expect(r.json).toMatchObject({ command: 'contract', status: 'failed', wave: 1, counts: { done: 0, failed: 1, untouched: 4 } });
    expect(r.json.failed[0]?.error).toMatch(new RegExp(`^E_GATE: cannot contract ${SPLIT}: it is backfilled.*verified`));
    expect((await states()).every((s) => s.phase === 'backfilled' && s.columns.includes('full_name') && s.backups === 0)).toBe(true);
    // The stopped contract run is the fleet's unfinished run: given up, so verify can run.
    const abandoned = await runFerryJson<{ abandoned: { runId: number } | null }>(project.root, ['fleet', 'abandon', '--env', 'tenants']);
    expect(abandoned.json.abandoned?.runId).toBe(r.json.runId);
  }, 60_000);

  it('after a rollout on each database, verify --full --env <fleet> verifies each, and contract --env <fleet> backs up and contracts each', async () => {
    // The fleet has no rollout command: each database's flag is rolled out on its own environment.
    const ok = async (args: string[]) => {
      const x = await ferry(...args);
      expect(x.code, `ferry ${args.join(' ')}\n${x.stdout}\n${x.stderr}`).toBe(0);
    };
    await mapLimit(TENANTS, 3, (_, i) => ok(['rollout', SPLIT, 'set', '100', '--env', `db${i}`]));
    await new Promise((r) => setTimeout(r, 1500));
    await mapLimit(TENANTS, 3, (_, i) => ok(['rollout', SPLIT, 'advance', '--env', `db${i}`]));
    expect((await states()).every((s) => s.phase === 'rolled-out')).toBe(true);

    const verified = await fleetJson('verify', SPLIT, '--full', '--env', 'tenants');
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json).toMatchObject({ command: 'verify', status: 'done', counts: { done: 5, failed: 0 } });
    expect((await states()).every((s) => s.phase === 'verified')).toBe(true);
    // Each database ran the declared check in full, and it passed.
    const checks = await mapLimit(TENANTS, 5, (db) =>
      query<{ ok: boolean; mode: string }>(db, "SELECT ok, mode FROM ferry.verify_results WHERE migration_id = $1 AND check_name = 'first-names'", [SPLIT]),
    );
    expect(checks).toEqual(TENANTS.map(() => [{ ok: true, mode: 'full' }]));

    const contracted = await fleetJson('contract', SPLIT, '--env', 'tenants');
    expect(contracted.code, contracted.stderr).toBe(0);
    expect(contracted.json).toMatchObject({ command: 'contract', status: 'done', resumed: false, counts: { done: 5, failed: 0 } });
    expect(await states()).toEqual(TENANTS.map(() => ({ phase: 'contracted', columns: ['id', 'first_name'], unfilled: 0, backups: 1 })));
    // Each database's backup in its own folder below the project's, named by the fleet and the database.
    for (const db of TENANTS) {
      const dir = join(project.root, '.ferry', 'backups', 'tenants', db);
      expect(existsSync(dir) && readdirSync(dir).length > 0, dir).toBe(true);
    }

    // Again: nothing left to contract anywhere; a new run that changes nothing.
    const again = await fleetJson('contract', SPLIT, '--env', 'tenants');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json).toMatchObject({ status: 'done', counts: { done: 5, failed: 0 } });
    expect((await states()).every((s) => s.phase === 'contracted' && s.backups === 1)).toBe(true);
  }, 120_000);
});
