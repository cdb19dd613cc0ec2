import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Database, DriverKind } from '../../src/db/database.js';
import { openPglite } from '../../src/db/pglite.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { type RunningFerry, startFerry, until } from '../helpers/process.js';
import { createProject, runFerry, runFerryJson, type StepFiles } from '../helpers/project.js';

const ID = '0001_reshape_items';
const STEPS = ['setup', 'add-col', 'fill', 'index', 'constrain', 'finish'];
/** The steps that insert their name into `ledger` (all but the non-transactional index). */
const LEDGER = ['add-col', 'constrain', 'fill', 'finish', 'setup'];

/**
 * How a step tells the test "I am running now". PGlite writes a file into its
 * data directory (the test cannot connect while the CLI has it open); on a
 * server the session renames itself, which pg_stat_activity shows at once.
 */
function signalBody(kind: DriverKind): string {
  return kind === 'pglite'
    ? `EXECUTE format('COPY (SELECT 1) TO %L', current_setting('data_directory') || '/inside-' || what);`
    : `PERFORM set_config('application_name', 'inside-' || what, false);`;
}

/** Six steps; `add-col` sleeps inside its transaction and `index` is a slow CREATE INDEX CONCURRENTLY. */
function reshapeItems(kind: DriverKind): StepFiles[] {
  return [
    {
      id: 'setup',
      up: `CREATE TABLE ledger (step text PRIMARY KEY);
CREATE TABLE items (id int PRIMARY KEY);
INSERT INTO items SELECT g FROM generate_series(1, 20) g;
CREATE FUNCTION signal_inside(what text) RETURNS void LANGUAGE plpgsql VOLATILE AS $$ BEGIN ${signalBody(kind)} END $$;
CREATE FUNCTION slow_key(k int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM public.signal_inside('index'); PERFORM pg_sleep(0.2); RETURN k; END $$;
INSERT INTO ledger VALUES ('setup');`,
      down: 'DROP TABLE items, ledger; DROP FUNCTION slow_key(int); DROP FUNCTION signal_inside(text);',
    },
    {
      id: 'add-col',
      up: `ALTER TABLE items ADD COLUMN note text;\nINSERT INTO ledger VALUES ('add-col');\nSELECT signal_inside('add-col'), pg_sleep(4);`,
      down: `ALTER TABLE items DROP COLUMN note;\nDELETE FROM ledger WHERE step = 'add-col';`,
    },
    {
      id: 'fill',
      up: `UPDATE items SET note = 'item ' || id;\nINSERT INTO ledger VALUES ('fill');`,
      down: `UPDATE items SET note = NULL;\nDELETE FROM ledger WHERE step = 'fill';`,
      verify: 'SELECT count(*) = 0 FROM items WHERE note IS NULL;',
    },
    {
      id: 'index',
      transaction: false,
      up: 'CREATE INDEX CONCURRENTLY items_slow_idx ON items (slow_key(id));',
      down: 'DROP INDEX CONCURRENTLY IF EXISTS items_slow_idx;',
    },
    {
      id: 'constrain',
      up: `ALTER TABLE items ADD CONSTRAINT items_note_present CHECK (note IS NOT NULL);\nINSERT INTO ledger VALUES ('constrain');`,
      down: `ALTER TABLE items DROP CONSTRAINT items_note_present;\nDELETE FROM ledger WHERE step = 'constrain';`,
    },
    {
      id: 'finish',
      up: `CREATE VIEW item_notes AS SELECT id, note FROM items;\nINSERT INTO ledger VALUES ('finish');`,
      down: `DROP VIEW item_notes;\nDELETE FROM ledger WHERE step = 'finish';`,
      verify: 'SELECT count(*) = 20 FROM item_notes;',
    },
  ];
}

/** Where the kill lands, and what must be committed at that moment. */
interface KillPoint {
  name: string;
  /** Kill while this step runs (it has signalled), or right after this step's ✔ line. */
  inside?: 'add-col' | 'index';
  after?: string;
  committed: string[];
  /** ferry.step_runs markers of interrupted non-transactional steps; unchecked when absent. */
  markers?: string[];
  /** Server only: the dead runner's session is terminated too, as when its host dies. */
  terminate?: boolean;
}

const KILL_POINTS: KillPoint[] = [
  { name: 'inside a transactional step, after its DDL and INSERT ran', inside: 'add-col', committed: ['setup'], markers: [] },
  { name: 'inside the non-transactional CREATE INDEX CONCURRENTLY', inside: 'index', committed: ['setup', 'add-col', 'fill'], markers: ['index'] },
  { name: 'right after a step committed, between steps', after: 'fill', committed: ['setup', 'add-col', 'fill'] },
];

const SERVER_KILL_POINTS: KillPoint[] = [
  {
    name: 'inside CREATE INDEX CONCURRENTLY, and its server session is terminated too',
    inside: 'index',
    committed: ['setup', 'add-col', 'fill'],
    markers: ['index'],
    terminate: true,
  },
];

/** What has committed: applied steps in order, ledger rows, markers of interrupted steps. */
async function progress(db: Database): Promise<{ applied: string[]; ledger: string[]; markers: string[] }> {
  const col = async (sql: string, params: unknown[] = []) => (await db.query<{ v: string }>(sql, params)).rows.map((r) => r.v);
  return {
    applied: await col('SELECT step_id AS v FROM ferry.applied_steps WHERE migration_id = $1 ORDER BY position', [ID]),
    ledger: await col('SELECT step AS v FROM ledger ORDER BY step'),
    markers: await col('SELECT step_id AS v FROM ferry.step_runs ORDER BY step_id'),
  };
}

/** Read the target as the kill left it; for PGlite from a copy, so the next `ferry up` is the first to reopen it. */
async function asKilled<T>(target: TestTarget, fn: (db: Database) => Promise<T>): Promise<T> {
  if (target.kind === 'server') {
    const db = await target.open();
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }
  const tmp = mkdtempSync(join(tmpdir(), 'ferry-killed-'));
  try {
    cpSync(target.dataDir as string, join(tmp, 'db'), { recursive: true });
    const db = await openPglite({ dataDir: join(tmp, 'db') });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Wait until the runner is inside `step`; on a server, returns the pid of its session. */
async function reachInside(target: TestTarget, runner: RunningFerry, step: string): Promise<number | undefined> {
  if (target.kind === 'pglite') {
    await until(`step ${step} to start`, () => existsSync(join(target.dataDir as string, `inside-${step}`)), runner);
    return undefined;
  }
  const db = await target.open();
  try {
    let pid: number | undefined;
    await until(
      `step ${step} to start`,
      async () => {
        const { rows } = await db.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND state = 'active'`,
          [`inside-${step}`],
        );
        pid = rows[0]?.pid;
        return pid !== undefined;
      },
      runner,
    );
    return pid;
  } finally {
    await db.close();
  }
}

async function terminate(target: TestTarget, pid: number): Promise<void> {
  const db = await target.open();
  try {
    await db.query('SELECT pg_terminate_backend($1, 30000)', [pid]);
  } finally {
    await db.close();
  }
}

forEachDriver('ferry up after kill -9', (suite) => {
  const points = suite.kind === 'server' ? [...KILL_POINTS, ...SERVER_KILL_POINTS] : KILL_POINTS;

  for (const point of points) {
    it(`killed ${point.name}: the next ferry up finishes, every step applied exactly once`, async () => {
      const target = await suite.fresh();
      const p = createProject(target);
      p.migration(ID, reshapeItems(target.kind));

      const first = startFerry(p.root, ['up']);
      let backend: number | undefined;
      if (point.inside) backend = await reachInside(target, first, point.inside);
      else await first.waitForOutput(`${ID}/${point.after}  applied`);
      first.kill('SIGKILL');
      expect((await first.done).signal).toBe('SIGKILL');
      if (point.terminate && backend !== undefined) await terminate(target, backend);

      // The kill landed where intended: exactly these steps had committed.
      const killed = await asKilled(target, progress);
      expect(killed.applied).toEqual(point.committed);
      expect(killed.ledger).toEqual([...point.committed].sort());
      if (point.markers) expect(killed.markers).toEqual(point.markers);

      const args = ['up'];
      if (target.kind === 'pglite') {
        // The dead process's lock file is still there, and must not make the next run wait.
        expect(JSON.parse(readFileSync(`${target.dataDir}.lock`, 'utf8')).pid).toBe(first.pid);
        args.push('--lock-wait', '1s');
      }
      const again = await runFerry(p.root, args);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      // Only what had not committed runs again.
      for (const step of STEPS) expect(again.stdout.includes(`${ID}/${step}  `), step).toBe(!point.committed.includes(step));
      if (target.kind === 'pglite') expect(existsSync(`${target.dataDir}.lock`)).toBe(false);

      const status = await runFerryJson<{ migrations: { id: string; phase: string; appliedCount: number }[]; drift: unknown[] }>(p.root, ['status']);
      expect(status.code).toBe(0);
      expect(status.json.migrations).toMatchObject([{ id: ID, phase: 'expanded', appliedCount: STEPS.length }]);
      expect(status.json.drift).toEqual([]);
      const verified = await runFerry(p.root, ['verify', '--status']);
      expect(verified.code, verified.stderr).toBe(0);

      const db = await target.open();
      try {
        expect(await progress(db)).toEqual({ applied: STEPS, ledger: LEDGER, markers: [] });
        const indexes = await db.query<{ name: string; valid: boolean }>(
          `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1`,
        );
        expect(indexes.rows).toEqual([
          { name: 'items_pkey', valid: true },
          { name: 'items_slow_idx', valid: true },
          { name: 'ledger_pkey', valid: true },
        ]);
        const events = (
          await db.query<{ kind: string; step: string | null; to: string | null; reason: string | null }>(
            `SELECT kind, step_id AS step, to_phase AS to, reason FROM ferry.events WHERE migration_id = $1 ORDER BY id`,
            [ID],
          )
        ).rows;
        expect(events.filter((e) => e.kind === 'transition').map((e) => e.to)).toEqual(['approved', 'expanded']);
        if (point.inside === 'index') {
          const cleanups = events.filter((e) => e.kind === 'cleanup').map((e) => `${e.step}: ${e.reason}`);
          if (target.kind === 'server' && !point.terminate) {
            // The runner's session outlived it and finished the build; the next run only records it.
            expect(again.stdout).toContain(`${ID}/index  recovered`);
            expect(cleanups).toEqual([]);
          } else {
            expect(cleanups).toEqual(['index: dropped INVALID index public.items_slow_idx']);
          }
        }
      } finally {
        await db.close();
      }
    }, 240_000);
  }
});
