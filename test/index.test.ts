import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import * as library from '../src/index.js';
// Everything below comes from the library's entry, as a program or the dashboard would use it: no src/cli, no deep imports.
import {
  advanceRolloutStage,
  approve,
  backfill,
  cleanup,
  contract,
  type Database,
  dumpAccess,
  findMigration,
  healthReport,
  loadWorkspace,
  migrationStatus,
  openWorkspace,
  readEvents,
  readState,
  rolloutReport,
  setRolloutPercentage,
  up,
  verify,
} from '../src/index.js';
import * as serverEntry from '../src/server/index.js';
import { SPLIT, splitProject } from './docs/fixtures.js';
import { forEachDriver, type TestTarget } from './helpers/databases.js';
import { createProject } from './helpers/project.js';
import { refusalCode } from './helpers/refusal.js';

/** A project whose environment requires approval, holding users (0001) and the split of full_name (0002, with a backfill, a check and a 1 s schedule). */
function project(target: TestTarget) {
  const env = target.kind === 'server' ? { url: target.url } : { dataDir: target.dataDir };
  const p = createProject(target, { environments: { test: { ...env, requireApproval: true } } });
  splitProject(p);
  return p;
}

const phaseOf = async (db: Database, id: string) => (await readState(db)).migrations.get(id)?.phase;

const hasColumn = async (db: Database, column: string) =>
  (await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = $1`, [column])).rows.length > 0;

forEachDriver('the whole lifecycle through the library alone', (suite) => {
  it('approve, up, backfill, rollout, health, verify, contract and cleanup, each one call, ending archived with every move in the log', async () => {
    const target = await suite.fresh();
    const p = project(target);
    const ws = await loadWorkspace({ root: p.root, actor: 'library-test' });
    const run = { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: ws.conn.requireApproval };
    const users = await findMigration(ws, '0001_users');
    const split = await findMigration(ws, 'split_full_name');
    expect(split.id).toBe(SPLIT);
    const db = await openWorkspace(ws, 'library lifecycle test');
    try {
      // Approval: the environment requires it, so nothing runs before every role of each plan approved.
      expect(await refusalCode(up(db, ws.migrations, run))).toBe('E_GATE');
      for (const m of [users, split]) {
        const roles = m.manifest.plan.approvals;
        for (const [i, role] of roles.entries()) {
          const a = await approve(db, m, { role, actor: `approver ${i}`, lockWaitMs: ws.lockWaitMs });
          expect(a.moved).toBe(i === roles.length - 1);
        }
        expect(await phaseOf(db, m.id)).toBe('approved');
      }

      // up applies users; backfill runs the split up to and including its backfill; up then applies the rest.
      const applied = await up(db, ws.migrations, { ...run, only: users.id });
      expect(applied.transitions).toEqual([{ migrationId: users.id, from: 'approved', to: 'expanded' }]);
      const filled = await backfill(db, ws.migrations, split, run);
      expect(filled.joined).toBeUndefined();
      expect(filled.report?.transitions.map((t) => t.to)).toEqual(['expanded', 'backfilling', 'backfilled']);
      expect(filled.progress).toHaveLength(1);
      expect(filled.progress[0]).toMatchObject({ state: 'done', rowsDone: 500 });
      const { rows: unsplit } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE first_name IS NULL');
      expect(unsplit[0]?.n).toBe(0);
      // up again applies the steps after the backfill (the compatibility views), short of the contract step.
      const rest = await up(db, ws.migrations, run);
      expect(rest.steps.map((s) => s.stepId)).toEqual(['split-name.compat-views']);
      expect(rest.transitions).toEqual([]);

      // Rollout: 50 %, then 100 % early (with a reason); rolled-out only once the 100 % hold (1 s) has passed.
      const canary = await setRolloutPercentage(db, split, 50, { actor: ws.actor, lockWaitMs: ws.lockWaitMs });
      expect(canary.phases).toEqual([{ from: 'backfilled', to: 'canary' }]);
      const full = await advanceRolloutStage(db, split, { actor: ws.actor, lockWaitMs: ws.lockWaitMs, now: { reason: 'library test' } });
      expect(full).toMatchObject({ fromPercentage: 50, toPercentage: 100, early: true });
      expect((await healthReport(db, split)).matrix.colour).toBe('no-data');
      await new Promise((r) => setTimeout(r, 1100));
      const out = await advanceRolloutStage(db, split, { actor: ws.actor, lockWaitMs: ws.lockWaitMs });
      expect(out.phases.at(-1)).toEqual({ from: 'rolling', to: 'rolled-out' });
      expect((await rolloutReport(db, split)).phase).toBe('rolled-out');

      // Verify with the declared checks: rolled-out → verified.
      const [verified] = await verify(db, [split], {
        actor: ws.actor,
        lockWaitMs: ws.lockWaitMs,
        project: ws.project,
        conn: ws.conn,
        checks: { mode: 'full' },
      });
      expect(verified?.ok).toBe(true);
      expect(await phaseOf(db, split.id)).toBe('verified');

      // Contract: a backup, the contract step (full_name dropped), the flag graduated: the point of no return.
      const backupDir = join(p.root, '.ferry', 'backups');
      const access = dumpAccess(ws);
      const crossed = await contract(db, split, { ...ws.run, lockWaitMs: ws.lockWaitMs, backup: { dir: backupDir, ...(access ? { access } : {}) } });
      expect(crossed.backup?.objects.map((o) => o.table)).toEqual(['public.users']);
      expect(crossed.flagGraduated).toBe('split-names');
      expect(await hasColumn(db, 'full_name')).toBe(false);
      expect(await hasColumn(db, 'first_name')).toBe(true);

      // Cleanup before the 30-day deprecation period needs a reason; it archives the folder.
      const cleaned = await cleanup(db, split, {
        run: ws.run,
        lockWaitMs: ws.lockWaitMs,
        backupDir,
        migrationsDir: ws.project.migrationsDir,
        force: { reason: 'library test' },
      });
      expect(cleaned.flagTombstone).toBe('split-names');
      expect(existsSync(join(ws.project.migrationsDir, SPLIT))).toBe(false);
      const archive = join(ws.project.migrationsDir, 'archive');
      expect(readdirSync(archive).flatMap((month) => readdirSync(join(archive, month)))).toEqual([SPLIT]);

      // The log holds every move, in order, each by the actor who made it.
      const moves = (await readEvents(db, split.id)).filter((e) => e.kind === 'transition').map((e) => `${e.fromPhase}→${e.toPhase}`);
      expect(moves).toEqual([
        'planned→approved',
        'approved→expanded',
        'expanded→backfilling',
        'backfilling→backfilled',
        'backfilled→canary',
        'canary→rolling',
        'rolling→rolled-out',
        'rolled-out→verified',
        'verified→contracted',
        'contracted→archived',
      ]);
      // Loaded again, the project knows the split as archived, and nothing drifts.
      const after = await loadWorkspace({ root: p.root });
      expect(after.run.archived).toEqual([SPLIT]);
      expect((await migrationStatus(db, after.migrations, { archived: after.run.archived ?? [] })).drift).toEqual([]);
      expect(await phaseOf(db, split.id)).toBe('archived');
    } finally {
      await db.close();
    }
  });
});

describe("README's Library section", () => {
  const readme = readFileSync(resolve(import.meta.dirname, '../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library'), readme.indexOf('## Tests'));
  const rows = section.split('\n').filter((l) => /^\| `ferry /.test(l));

  it('names a library function for every command of the CLI', () => {
    const listed = new Set(rows.flatMap((r) => [...(r.split(' | ')[0] as string).matchAll(/`ferry ([a-z-]+)|· `?([a-z-]+)`/g)].map((m) => m[1] ?? m[2])));
    const commands = buildProgram().commands.map((c) => c.name());
    expect(commands.filter((c) => !listed.has(c))).toEqual([]);
  });

  it('every function it names is exported from the library entry (or, where the row says so, from ferry/server)', () => {
    const cells = rows.map((r) => r.split(' | ')[1] as string);
    const namedIn = (cell: string) => [...cell.matchAll(/`([a-zA-Z]+)[(`]/g)].map((m) => m[1] as string);
    const named = cells.filter((c) => !c.includes('`ferry/server`')).flatMap(namedIn);
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((f) => typeof (library as Record<string, unknown>)[f] !== 'function')).toEqual([]);
    const served = cells.filter((c) => c.includes('`ferry/server`')).flatMap(namedIn);
    expect(served).toEqual(['startServer']);
    expect(served.filter((f) => typeof (serverEntry as Record<string, unknown>)[f] !== 'function')).toEqual([]);
  });
});
