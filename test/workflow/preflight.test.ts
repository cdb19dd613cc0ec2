import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { renderPlan } from '../../src/docs/plan.js';
import { isFerryError } from '../../src/errors.js';
import { up } from '../../src/workflow/apply.js';
import { loadDocState } from '../../src/workflow/doc-state.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { migrationsOf, observable, testRun } from '../helpers/engine.js';
import { createProject, type TestProject } from '../helpers/project.js';

const BASE = '0001_base';
const CHANGE = '0002_change';

/** users (with a primary key), orders, and logs (without any key), applied. */
const BASE_SQL = `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text NOT NULL, email text);
CREATE TABLE orders (id bigint PRIMARY KEY, user_ref text);
CREATE TABLE logs (line text NOT NULL, at timestamptz);
INSERT INTO users (full_name) VALUES ('Ada Lovelace'), ('Alan Turing');
INSERT INTO logs VALUES ('started', NULL);`;

/** Write migration `id` with manifest `steps`; `sql` holds the files of its SQL steps (`<step>.up.sql` …). */
function writeMigration(p: TestProject, id: string, steps: Record<string, unknown>[], sql: Record<string, string> = {}): void {
  const dir = join(p.root, 'migrations', id);
  mkdirSync(dir, { recursive: true });
  // The SQL steps here build small test tables; the linter's advice on big ones is beside the point.
  const lint = { acknowledge: ['unique-without-index'] };
  writeFileSync(
    join(dir, 'migration.json'),
    JSON.stringify({ title: id, summary: 'preflight test', type: 'schema-additive', strategy: 'big-bang', lint, steps }),
  );
  for (const [file, text] of Object.entries(sql)) writeFileSync(join(dir, file), text);
}

async function project(target: TestTarget): Promise<TestProject> {
  const p = createProject(target);
  writeMigration(p, BASE, [{ id: 'tables' }], { 'tables.up.sql': BASE_SQL, 'tables.down.sql': 'DROP TABLE users, orders, logs;' });
  const db = await target.open();
  try {
    await up(db, await migrationsOf(p), testRun);
  } finally {
    await db.close();
  }
  return p;
}

/** The error `up` refuses with, or undefined when it runs. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (!isFerryError(err)) throw err;
    return { code: err.code, message: err.message };
  }
}

/** Each kind of problem: the steps of a migration that does not fit, and the line naming the step and the object. */
const MISFITS: { title: string; steps: Record<string, unknown>[]; problem: string }[] = [
  {
    title: 'a missing table',
    steps: [{ id: 'add-status', kind: 'op', op: 'add-column', table: 'ghosts', column: 'status', type: 'text' }],
    problem: 'step add-status: table public.ghosts does not exist',
  },
  {
    title: 'a missing column',
    steps: [
      {
        id: 'split-name',
        kind: 'op',
        op: 'split-column',
        table: 'users',
        column: 'full_nme',
        into: { first_name: { type: 'text', expr: "split_part(full_nme, ' ', 1)" } },
        merge: 'first_name',
      },
    ],
    problem: 'step split-name: table public.users has no column "full_nme"',
  },
  {
    title: 'a column of the wrong type for a foreign key',
    steps: [
      {
        id: 'orders-user',
        kind: 'op',
        op: 'add-foreign-key',
        table: 'orders',
        name: 'orders_user_fk',
        columns: ['user_ref'],
        references: { table: 'users', columns: ['id'] },
      },
    ],
    problem:
      'step orders-user: column "user_ref" of table public.orders is text but "id" of table public.users is bigint: a foreign key needs comparable types',
  },
  {
    title: 'a type change to the type the column already has',
    steps: [{ id: 'email-text', kind: 'op', op: 'change-type', table: 'users', column: 'email', type: 'TEXT', using: 'email', reverse: 'email' }],
    problem: 'step email-text: column "email" of table public.users is already text',
  },
  {
    title: 'a new column that is already there',
    steps: [{ id: 'add-email', kind: 'op', op: 'add-column', table: 'users', column: 'email', type: 'text' }],
    problem: 'step add-email: table public.users already has a column "email"',
  },
  {
    title: 'a backfill of a table without a primary key',
    steps: [{ id: 'fill-logs', kind: 'backfill', table: 'logs', set: { at: 'now()' }, where: 'at IS NULL' }],
    problem: 'step fill-logs: table public.logs has no primary key or unique NOT NULL key for the backfill to walk',
  },
  {
    title: 'a backfill whose key is not unique',
    steps: [{ id: 'fill-logs', kind: 'backfill', table: 'logs', key: ['line'], set: { at: 'now()' }, where: 'at IS NULL' }],
    problem: 'step fill-logs: backfill key ("line") of table public.logs is not unique: no primary key or unique index lies within it',
  },
];

/** Migrations whose steps depend on earlier steps of the same migration, or on SQL ferry does not follow. */
const FITS: { title: string; steps: Record<string, unknown>[]; sql?: Record<string, string>; check: string }[] = [
  {
    title: 'create-table, then operations on the new table',
    steps: [
      { id: 'create-tags', kind: 'op', op: 'create-table', table: 'tags', columns: [{ name: 'id', type: 'bigint', primaryKey: true }] },
      { id: 'add-label', kind: 'op', op: 'add-column', table: 'tags', column: 'label', type: 'text', default: "'none'", notNull: true },
      { id: 'label-index', kind: 'op', op: 'add-index', table: 'tags', name: 'tags_label', columns: ['label'] },
    ],
    check: `SELECT count(*) = 1 FROM pg_indexes WHERE indexname = 'tags_label'`,
  },
  {
    title: 'CREATE TABLE in an SQL step, then an operation and a backfill on that table',
    steps: [
      { id: 'notes' },
      { id: 'add-title', kind: 'op', op: 'add-column', table: 'notes', column: 'title', type: 'text' },
      { id: 'fill-title', kind: 'backfill', table: 'notes', set: { title: 'left(body, 3)' }, where: 'title IS NULL' },
    ],
    sql: {
      'notes.up.sql': "CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);\nINSERT INTO notes VALUES (1, 'hello');",
      'notes.down.sql': 'DROP TABLE notes;',
    },
    check: `SELECT title = 'hel' FROM notes`,
  },
  {
    title: 'a backfill of a table whose only key is a unique NOT NULL one (added by an earlier step)',
    steps: [{ id: 'line-key' }, { id: 'fill-logs', kind: 'backfill', table: 'logs', set: { at: "'2026-01-01'" }, where: 'at IS NULL' }],
    sql: {
      'line-key.up.sql': 'ALTER TABLE logs ADD CONSTRAINT logs_line_key UNIQUE (line);',
      'line-key.down.sql': 'ALTER TABLE logs DROP CONSTRAINT logs_line_key;',
    },
    check: `SELECT bool_and(at IS NOT NULL) FROM logs`,
  },
  {
    title: 'a table made by SQL ferry does not follow (a DO block), then an operation on it',
    steps: [{ id: 'made' }, { id: 'add-note', kind: 'op', op: 'add-column', table: 'made_in_do', column: 'note', type: 'text' }],
    sql: {
      'made.up.sql': "DO $$ BEGIN EXECUTE 'CREATE TABLE made_in_do (id int PRIMARY KEY)'; END $$;",
      'made.down.sql': 'DROP TABLE made_in_do;',
    },
    check: `SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'made_in_do' AND column_name = 'note'`,
  },
];

forEachDriver('operations checked against the live catalog before anything runs', (suite) => {
  for (const m of MISFITS) {
    it(`up and up --dry-run refuse ${m.title}, naming the step and the object, and change nothing`, async () => {
      const target = await suite.fresh();
      const p = await project(target);
      writeMigration(p, CHANGE, m.steps);
      const ms = await migrationsOf(p);
      const db = await target.open();
      try {
        const before = await observable(db, true);
        for (const dryRun of [true, false]) {
          const r = await refusal(up(db, ms, { ...testRun, dryRun }));
          expect(r?.code).toBe('E_MANIFEST');
          expect(r?.message).toContain(`migration ${CHANGE} does not fit this database (1 problem)`);
          expect(r?.message).toContain(m.problem);
        }
        expect(await observable(db, true)).toBe(before);
      } finally {
        await db.close();
      }
    });
  }

  for (const f of FITS) {
    it(`${f.title} is not refused`, async () => {
      const target = await suite.fresh();
      const p = await project(target);
      writeMigration(p, CHANGE, f.steps, f.sql);
      const ms = await migrationsOf(p);
      const db = await target.open();
      try {
        await up(db, ms, { ...testRun, dryRun: true });
        await up(db, ms, testRun);
        const { rows } = await db.query<Record<string, unknown>>(f.check);
        expect(Object.values(rows[0] ?? {})[0]).toBe(true);
      } finally {
        await db.close();
      }
    });
  }

  it('a migration checked after a pending earlier one sees the tables the earlier one creates', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    writeMigration(p, BASE, [{ id: 'tables' }], { 'tables.up.sql': BASE_SQL, 'tables.down.sql': 'DROP TABLE users, orders, logs;' });
    writeMigration(p, CHANGE, [{ id: 'add-status', kind: 'op', op: 'add-column', table: 'users', column: 'status', type: 'text' }]);
    const db = await target.open();
    try {
      const report = await up(db, await migrationsOf(p), testRun);
      expect(report.steps.map((s) => s.stepId)).toEqual(['tables', 'add-status.add-column']);
    } finally {
      await db.close();
    }
  });

  it('plan lists the problems, or says that all operations fit the database', async () => {
    const target = await suite.fresh();
    const p = await project(target);
    writeMigration(p, CHANGE, [...(MISFITS[0]?.steps ?? []), ...(MISFITS[1]?.steps ?? [])]);
    const db = await target.open();
    try {
      const ms = await migrationsOf(p);
      const bad = renderPlan(await loadDocState(db, ms[1] as (typeof ms)[1], { env: 'test', migrations: ms }));
      expect(bad).toContain('### Fit with the database');
      expect(bad).toContain('2 problems found checking the pending steps');
      expect(bad).toContain(`- ${MISFITS[0]?.problem}`);
      expect(bad).toContain(`- ${MISFITS[1]?.problem}`);
      writeMigration(p, CHANGE, FITS[0]?.steps ?? []);
      const fixed = await migrationsOf(p);
      const good = renderPlan(await loadDocState(db, fixed[1] as (typeof fixed)[1], { env: 'test', migrations: fixed }));
      expect(good).toContain('All operations fit the database');
      expect(good).not.toContain('problem');
    } finally {
      await db.close();
    }
  });
});
