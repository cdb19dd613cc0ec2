import { afterAll, describe, expect, it } from 'vitest';
import { openServer } from '../../src/db/server.js';
import { createServerDatabase, forEachDriver, serverAvailable, type TestTarget } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const ROWS = 30_000;

/** The workflow's example with a backfill step between the expand step and an index. */
function project(target: TestTarget, rows = ROWS, where = 'first_name IS NULL', sleepRatio = 0.5): { p: TestProject; id: string } {
  const p = createProject(target);
  p.migration('0001_seed', [
    {
      id: 'create',
      up: `CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL); INSERT INTO users SELECT g, 'Ann' || g || ' Lee' || g FROM generate_series(1, ${rows}) g;`,
      down: 'DROP TABLE users;',
    },
  ]);
  const id = p.migration(
    '0002_split',
    [
      {
        id: 'add-columns',
        up: 'ALTER TABLE users ADD COLUMN first_name text, ADD COLUMN last_name text;',
        down: 'ALTER TABLE users DROP COLUMN first_name, DROP COLUMN last_name;',
      },
    ],
    {
      type: 'data-format',
      strategy: 'incremental',
      steps: [
        { id: 'add-columns' },
        {
          id: 'fill',
          kind: 'backfill',
          table: 'users',
          set: { first_name: "split_part(full_name, ' ', 1)", last_name: "split_part(full_name, ' ', 2)" },
          where,
          rollback: { first_name: 'NULL', last_name: 'NULL' },
          batchSize: { initial: 500, min: 100, max: 2000 },
          sleepRatio,
        },
      ],
    },
  );
  return { p, id };
}

interface StatusJson {
  migrations: { id: string; phase: string; backfills: { state: string; rowsDone: number; rowsTotal: number }[] }[];
}

async function count(target: TestTarget, sql: string): Promise<number> {
  const db = await target.open();
  try {
    return Number((await db.query<{ n: string }>(sql)).rows[0]?.n);
  } finally {
    await db.close();
  }
}

forEachDriver('ferry backfill', (suite) => {
  it('up runs the backfill in its place: expanded → backfilling → backfilled, progress in status, down undoes it', async () => {
    const target = await suite.fresh();
    const { p, id } = project(target);
    const up = await runFerry(p.root, ['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(new RegExp(`backfill ${id}/fill done: ${ROWS}/${ROWS} rows`));
    const s = await runFerryJson<StatusJson>(p.root, ['status']);
    const m = s.json.migrations.find((x) => x.id === id);
    expect(m?.phase).toBe('backfilled');
    expect(m?.backfills).toEqual([expect.objectContaining({ state: 'done', rowsDone: ROWS, rowsTotal: ROWS })]);
    expect(await count(target, `SELECT count(*) AS n FROM users WHERE first_name || ' ' || last_name = full_name`)).toBe(ROWS);
    expect((await runFerry(p.root, ['verify', id, '--status'])).code).toBe(0);
    const log = await runFerryJson<{ events: { kind: string; toPhase: string | null }[] }>(p.root, ['log', id]);
    expect(log.json.events.filter((e) => e.kind === 'transition').map((e) => e.toPhase)).toEqual(['approved', 'expanded', 'backfilling', 'backfilled']);

    const down = await runFerry(p.root, ['down', id, '--to', 'add-columns']);
    expect(down.code, down.stderr).toBe(0);
    expect(await count(target, 'SELECT count(*) AS n FROM users WHERE first_name IS NOT NULL')).toBe(0);
    const again = await runFerry(p.root, ['backfill', id]);
    expect(again.code, again.stderr).toBe(0);
    expect(await count(target, 'SELECT count(*) AS n FROM users WHERE first_name IS NULL')).toBe(0);
  });

  it('a backfill expression that smuggles a second statement is refused before anything runs (exit 4)', async () => {
    const target = await suite.fresh();
    const { p } = project(target, 10, 'first_name IS NULL; DROP TABLE users');
    const r = await runFerry(p.root, ['up']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('steps.1.where');
    const db = await target.open();
    try {
      expect((await db.query(`SELECT to_regclass('ferry.migrations') AS t, to_regclass('public.users') AS u`)).rows).toEqual([{ t: null, u: null }]);
    } finally {
      await db.close();
    }
    const w = await runFerry(p.root, ['up', '--workers', 'many']);
    expect(w.code).toBe(2);
    expect(w.stderr).toContain('--workers must be a whole number');
  });
});

describe('ferry backfill control (server: a second terminal needs a second process on the same database)', async () => {
  const up = await serverAvailable();
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });
  it.runIf(up)('pause from another terminal stops up between batches; resume finishes with every row filled', async () => {
    const db = await createServerDatabase();
    drops.push(db.drop);
    const target: TestTarget = { kind: 'server', url: db.url, open: () => openServer({ url: db.url }) };
    // Sleeping 4× each batch's duration gives the second terminal time to start on a loaded machine; the pause cuts it short.
    const { p, id } = project(target, 200_000, 'first_name IS NULL', 4);
    expect((await runFerry(p.root, ['up', '0001_seed'])).code).toBe(0);
    const running = startFerry(p.root, ['up']);
    // The column appears with the expand step; until then the query fails and the backfill has not started.
    const filled = () => count(target, 'SELECT count(*) AS n FROM users WHERE first_name IS NOT NULL').catch(() => 0);
    await until('the backfill has filled some rows', async () => (await filled()) > 0, running);
    const pause = await runFerry(p.root, ['backfill', id, '--pause']);
    expect(pause.code, pause.stderr).toBe(0);
    const result = await running.done;
    expect(result.code).toBe(14);
    expect(result.stderr).toContain('is paused after');
    expect(await count(target, 'SELECT count(*) AS n FROM users WHERE first_name IS NULL')).toBeGreaterThan(0);
    const s = await runFerryJson<StatusJson>(p.root, ['status']);
    expect(s.json.migrations.find((x) => x.id === id)?.backfills[0]?.state).toBe('paused');
    const resume = await runFerry(p.root, ['backfill', id, '--resume', '--workers', '2']);
    expect(resume.code, resume.stderr).toBe(0);
    expect(await count(target, 'SELECT count(*) AS n FROM users WHERE first_name IS NULL')).toBe(0);
    const after = await runFerryJson<StatusJson>(p.root, ['status']);
    expect(after.json.migrations.find((x) => x.id === id)?.phase).toBe('backfilled');
  });
});
