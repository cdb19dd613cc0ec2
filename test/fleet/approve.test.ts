import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetApproveReport, FleetRunReport } from '../../src/workflow/fleet.js';
import { serverAvailable } from '../helpers/databases.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { createDatabases, fleetProject, mapLimit, query, schemaDumps, urlOf } from './fixtures.js';

// A fleet that requires approval (the default for servers): `up` is refused on each database until the migration is
// approved there, and `ferry approve <id> --as <role> --env <fleet>` approves it on every database at once.

const PREFIX = `ferry_fa_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
const CTL = `${PREFIX}_ctl`;
const TENANTS = Array.from({ length: 5 }, (_, i) => `${PREFIX}_t${i}`);
const MISSING = `${PREFIX}_gone`;
const ID = '0001_orders';
const idOf = (name: string) => `postgres://postgres@127.0.0.1:5432/${name}`;

const serverUp = await serverAvailable();
let drop: (() => Promise<void>) | undefined;
afterAll(async () => {
  await drop?.();
});

/** Each tenant's phase of the migration (null: no record), and how many approvals it holds. */
const phases = () =>
  mapLimit(TENANTS, 5, async (db) => {
    const state = await query<{ ok: boolean }>(db, "SELECT to_regclass('ferry.migrations') IS NOT NULL AS ok");
    if (!state[0]?.ok) return { phase: null, approvals: 0 };
    const [m] = await query<{ phase: string }>(db, 'SELECT phase FROM ferry.migrations WHERE id = $1', [ID]);
    const [a] = await query<{ n: number }>(db, 'SELECT count(*)::int AS n FROM ferry.approvals WHERE migration_id = $1', [ID]);
    return { phase: m?.phase ?? null, approvals: a?.n ?? 0 };
  });

describe.runIf(serverUp)('approving a migration on a fleet that requires approval', () => {
  const project = fleetProject({
    ctl: { url: urlOf(CTL), requireApproval: false },
    tenants: { fleet: { control: 'ctl', targets: { urls: TENANTS.map(urlOf) }, lease: '2s' } },
    // The same databases and one that does not exist: a database an approval cannot reach.
    widened: { fleet: { control: 'ctl', targets: { urls: [...TENANTS.map(urlOf), urlOf(MISSING)] } } },
  });
  const ferry = (...args: string[]) => runFerry(project.root, args);

  beforeAll(async () => {
    drop = await createDatabases([CTL, ...TENANTS]);
    project.migration(ID, [{ id: 'create', up: 'CREATE TABLE orders (id int PRIMARY KEY);\n', down: 'DROP TABLE orders;\n' }], {
      plan: { approvals: ['Tech Lead', 'Product Owner'] },
    });
    expect((await ferry('fleet', 'init', '--env', 'tenants')).code).toBe(0);
  }, 60_000);

  it('refuses up on the canary with E_GATE naming the fleet-wide approve command, and changes no schema', async () => {
    const before = await schemaDumps(TENANTS);
    const r = await runFerryJson<FleetRunReport>(project.root, ['up', '--env', 'tenants']);
    expect(r.code).toBe(20);
    expect(r.json).toMatchObject({ status: 'failed', wave: 1, counts: { total: 5, done: 0, failed: 1, untouched: 4 } });
    const error = r.json.failed[0]?.error ?? '';
    expect(error).toMatch(new RegExp(`^E_GATE: migration ${ID} is planned but not approved in this database, and fleet "tenants" requires approval`));
    expect(error).toContain(`\`ferry approve ${ID} --as "Tech Lead" --env tenants\``);
    expect(error).toContain(`\`ferry approve ${ID} --as "Product Owner" --env tenants\``);
    expect(error).toContain('run the same command again: the run resumes');

    // The text output names the database and the way out.
    const text = await ferry('up', '--env', 'tenants');
    expect(text.code).toBe(20);
    expect(text.stderr).toContain(`${idOf(TENANTS[0] as string)} (wave 1): E_GATE: migration ${ID} is planned but not approved`);
    expect(text.stderr).toContain(`--as "Tech Lead" --env tenants`);
    expect(await schemaDumps(TENANTS)).toEqual(before);
  }, 60_000);

  it('approves as one role on every database; up is still refused, naming only the role still missing', async () => {
    const r = await runFerryJson<FleetApproveReport>(project.root, ['approve', ID, '--as', 'tech lead', '--env', 'tenants', '--by', 'Ada']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ fleet: 'tenants', migrationId: ID, role: 'Tech Lead', counts: { total: 5, approved: 5, already: 0, failed: 0 } });
    expect(r.json.missing).toEqual(['Product Owner']);
    expect(r.json.databases.map((d) => d.target)).toEqual(TENANTS.map(idOf));
    expect(r.json.databases.every((d) => d.status === 'approved' && d.phase === 'planned' && !d.moved)).toBe(true);
    expect(await phases()).toEqual(TENANTS.map(() => ({ phase: 'planned', approvals: 1 })));

    const up = await runFerryJson<FleetRunReport>(project.root, ['up', '--env', 'tenants']);
    expect(up.code).toBe(20);
    const error = up.json.failed[0]?.error ?? '';
    expect(error).toContain(`\`ferry approve ${ID} --as "Product Owner" --env tenants\``);
    expect(error).not.toContain('"Tech Lead" --env');

    // A role the plan does not name: a usage error before any database is touched.
    const wrong = await ferry('approve', ID, '--as', 'Janitor', '--env', 'tenants');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('"Janitor" is not an approving role');
    expect(await phases()).toEqual(TENANTS.map(() => ({ phase: 'planned', approvals: 1 })));
  }, 60_000);

  it('names each database it could not approve (exit 20); run again, it skips the databases already approved', async () => {
    const r = await runFerryJson<FleetApproveReport>(project.root, ['approve', ID, '--as', 'Product Owner', '--env', 'widened']);
    expect(r.code).toBe(20);
    expect(r.json.counts).toEqual({ total: 6, approved: 5, already: 0, failed: 1 });
    const gone = r.json.databases.find((d) => d.status === 'failed');
    expect(gone?.target).toBe(idOf(MISSING));
    expect(gone?.error).toMatch(/^E_CONNECT: /);
    expect(r.json.databases.filter((d) => d.status === 'approved').every((d) => d.moved && d.phase === 'approved')).toBe(true);
    const text = await ferry('approve', ID, '--as', 'Product Owner', '--env', 'widened');
    expect(text.code).toBe(20);
    expect(text.stderr).toContain(`could not be approved in 1 of 6 database(s) of fleet "widened"`);
    expect(text.stderr).toContain(`${idOf(MISSING)}: E_CONNECT`);
    expect(text.stdout).toContain('already approved');

    const again = await runFerryJson<FleetApproveReport>(project.root, ['approve', ID, '--as', 'Product Owner', '--env', 'tenants']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json.counts).toEqual({ total: 5, approved: 0, already: 5, failed: 0 });
    expect(again.json.missing).toEqual([]);
    // One approval per role in each database: the skipped ones recorded nothing twice.
    expect(await phases()).toEqual(TENANTS.map(() => ({ phase: 'approved', approvals: 2 })));
  }, 60_000);

  it('up then resumes the stopped run and applies every database', async () => {
    const [stopped] = await query<{ id: number }>(CTL, "SELECT run_id::int AS id FROM ferry_fleet.runs WHERE fleet = 'tenants' AND status = 'failed'");
    const r = await runFerryJson<FleetRunReport>(project.root, ['up', '--env', 'tenants']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ runId: stopped?.id, resumed: true, status: 'done', counts: { total: 5, done: 5, failed: 0 } });
    expect(await phases()).toEqual(TENANTS.map(() => ({ phase: 'expanded', approvals: 2 })));
    const tables = await mapLimit(TENANTS, 5, async (db) => (await query(db, "SELECT 1 FROM pg_class WHERE relname = 'orders'")).length);
    expect(tables).toEqual(TENANTS.map(() => 1));
  }, 60_000);
});
