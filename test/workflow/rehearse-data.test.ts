import { describe, expect, it } from 'vitest';
import { openServer } from '../../src/db/server.js';
import { createServerDatabase, forEachDriver, serverAvailable } from '../helpers/databases.js';
import type { TestProject } from '../helpers/project.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

interface RehearseJson {
  ok: boolean;
  rehearsals: {
    ok: boolean;
    summary: string;
    data: {
      mode: string;
      sampleRows: number | null;
      tables: { table: string; sourceRows: number; copied: number; complete: boolean; referenced: number; skipped: number }[];
    };
    stages: { name: string; ok: boolean; detail: string[] }[];
    steps: { stepId: string; tables: { table: string; rehearsalRows: number; sourceRows: number }[]; rowsChanged: number | null; ranOnEmptyTables: boolean }[];
  }[];
}

const PEOPLE = 1_500;
const TEAMS = 3_000;

/** Tables with data (applied by migration 0001): teams, people referencing teams (some without a nickname), an empty archive. */
function tablesMigration(p: TestProject): void {
  p.migration('0001_tables', [
    {
      id: 'create',
      up: `CREATE TABLE teams (id int PRIMARY KEY, name text NOT NULL);
        INSERT INTO teams SELECT g, 'team ' || g FROM generate_series(1, ${TEAMS}) g;
        CREATE TABLE people (id int PRIMARY KEY, full_name text NOT NULL, nickname text, team_id int REFERENCES teams);
        INSERT INTO people SELECT g, 'Ada' || g || ' Person' || g, CASE WHEN g % 400 = 0 THEN NULL ELSE 'n' || g END, (g * 7) % ${TEAMS} + 1
          FROM generate_series(1, ${PEOPLE}) g;
        CREATE TABLE archive (id int PRIMARY KEY, note text);`,
      down: 'DROP TABLE archive; DROP TABLE people; DROP TABLE teams;',
    },
  ]);
}

/** The migration rehearsed: add a column, backfill it (a backfill step), add a column to the empty archive. */
function backfillMigration(p: TestProject): string {
  return p.migration(
    '0002_first_name',
    [
      { id: 'add-column', up: 'ALTER TABLE people ADD COLUMN first_name text;', down: 'ALTER TABLE people DROP COLUMN first_name;' },
      { id: 'archive-seen', up: 'ALTER TABLE archive ADD COLUMN seen boolean;', down: 'ALTER TABLE archive DROP COLUMN seen;' },
    ],
    {
      steps: [
        { id: 'add-column', transaction: true },
        {
          id: 'fill',
          kind: 'backfill',
          table: 'people',
          set: { first_name: "split_part(full_name, ' ', 1)" },
          where: 'first_name IS NULL',
          rollback: { first_name: 'NULL' },
          sleepRatio: 0,
        },
        { id: 'archive-seen', transaction: true },
      ],
    },
  );
}

const stepOf = (r: RehearseJson['rehearsals'][number] | undefined, id: string) => r?.steps.find((s) => s.stepId === id);

forEachDriver('ferry rehearse with data', (suite) => {
  it('copies a sample of the tables the steps touch (and the rows they reference), reports per step the rows it ran on, and names the steps that ran on empty tables', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    tablesMigration(p);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const id = backfillMigration(p);

    const r = await runFerryJson<RehearseJson>(p.root, ['rehearse', id, '--sample-rows', '500']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rh = r.json.rehearsals[0];
    const table = (name: string) => rh?.data.tables.find((t) => t.table === name);
    // PGlite copies the whole data directory: every row. A server copy holds the sample asked for.
    const copied = suite.kind === 'pglite' ? PEOPLE : 500;
    expect(rh?.data.mode).toBe(suite.kind === 'pglite' ? 'all' : 'sample');
    expect(table('public.people')).toMatchObject({ sourceRows: PEOPLE, copied, complete: suite.kind === 'pglite', skipped: 0 });
    expect(stepOf(rh, 'fill')).toMatchObject({
      tables: [{ table: 'public.people', rehearsalRows: copied, sourceRows: PEOPLE }],
      rowsChanged: copied,
      ranOnEmptyTables: false,
    });
    expect(stepOf(rh, 'add-column')).toMatchObject({ tables: [{ table: 'public.people', rehearsalRows: copied }], ranOnEmptyTables: false });
    expect(stepOf(rh, 'archive-seen')).toMatchObject({ tables: [{ table: 'public.archive', rehearsalRows: 0, sourceRows: 0 }], ranOnEmptyTables: true });
    expect(rh?.summary).toBe('rehearsal passed (1 step ran on empty tables)');
    if (suite.kind === 'server') {
      // teams is referenced by people: its sample plus every team the sampled people point to, so the foreign key holds.
      const teams = table('public.teams');
      expect(teams?.sourceRows).toBe(TEAMS);
      expect(teams?.referenced).toBeGreaterThan(0);
      expect(teams?.copied).toBe(500 + (teams?.referenced ?? 0));
      expect(teams?.skipped).toBe(0);
    }

    const human = await runFerry(p.root, ['rehearse', id, '--sample-rows', '500']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(
      `step fill: public.people ${copied.toLocaleString('en-US')} rows (source 1,500); changed ${copied.toLocaleString('en-US')} rows`,
    );
    expect(human.stdout).toMatch(/step archive-seen: public\.archive 0 rows \(source 0\)\n\s+ran on an empty table: proves the SQL, not the data/);
    expect(human.stdout).toContain('rehearsal passed (1 step ran on empty tables)');
    expect(human.stdout).not.toContain('rehearsal passed: the rollback restores the schema');

    if (suite.kind === 'server') {
      const schemaOnly = await runFerryJson<RehearseJson>(p.root, ['rehearse', id, '--sample-rows', '0']);
      expect(schemaOnly.code).toBe(0);
      expect(schemaOnly.json.rehearsals[0]?.summary).toBe('rehearsal passed (schema only: 3 steps ran on empty tables)');
      expect(stepOf(schemaOnly.json.rehearsals[0], 'fill')).toMatchObject({
        rowsChanged: 0,
        ranOnEmptyTables: true,
        tables: [{ rehearsalRows: 0, sourceRows: PEOPLE }],
      });

      const all = await runFerryJson<RehearseJson>(p.root, ['rehearse', id, '--all-rows']);
      expect(all.code).toBe(0);
      expect(all.json.rehearsals[0]?.data.tables.find((t) => t.table === 'public.teams')).toMatchObject({ copied: TEAMS, complete: true });
      expect(stepOf(all.json.rehearsals[0], 'fill')?.rowsChanged).toBe(PEOPLE);
    }
    // The target is unchanged: the column was added on the copies only.
    const db = await target.open();
    try {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'people' AND column_name = 'first_name'`,
      );
      expect(rows[0]?.n).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('a step that existing rows break (SET NOT NULL on a column with NULLs) fails the rehearsal with data, and passes schema only', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    tablesMigration(p);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const id = p.migration(
      '0002_nickname_required',
      [{ id: 'require', up: 'ALTER TABLE people ALTER COLUMN nickname SET NOT NULL;', down: 'ALTER TABLE people ALTER COLUMN nickname DROP NOT NULL;' }],
      { lint: { acknowledge: ['require:set-not-null-without-check'] } },
    );
    const r = await runFerryJson<RehearseJson>(p.root, ['rehearse', id]);
    expect(r.code, r.stdout + r.stderr).toBe(13);
    const rh = r.json.rehearsals[0];
    expect(rh?.summary).toBe('rehearsal FAILED at: up');
    expect(rh?.stages.find((s) => s.name === 'up')?.detail.join('\n')).toMatch(/null value/);
    expect(stepOf(rh, 'require')?.tables).toEqual([{ table: 'public.people', rehearsalRows: PEOPLE, sourceRows: PEOPLE, sourceRowsEstimated: false }]);
    if (suite.kind === 'server') {
      const schemaOnly = await runFerryJson<RehearseJson>(p.root, ['rehearse', id, '--sample-rows', '0']);
      expect(schemaOnly.code).toBe(0);
      expect(schemaOnly.json.rehearsals[0]?.summary).toBe('rehearsal passed (schema only: 1 step ran on empty tables)');
    }
  });
});

describe.runIf(await serverAvailable())('ferry rehearse: bad input', () => {
  it('refuses --all-rows with --sample-rows, and a --sample-rows that is not a whole number', async () => {
    const { url, drop } = await createServerDatabase();
    try {
      const p = createProject({ kind: 'server', url, open: () => openServer({ url }) });
      tablesMigration(p);
      const both = await runFerry(p.root, ['rehearse', '0001_tables', '--all-rows', '--sample-rows', '10']);
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('--all-rows and --sample-rows');
      const bad = await runFerry(p.root, ['rehearse', '0001_tables', '--sample-rows', 'lots']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--sample-rows must be a whole number');
    } finally {
      await drop();
    }
  });
});
