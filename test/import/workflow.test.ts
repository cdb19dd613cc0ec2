import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { flywayChecksum } from '../../src/import/tools/flyway.js';
import type { ImportTool } from '../../src/import/types.js';
import { loadAll } from '../../src/migration/loader.js';
import { loadProject } from '../../src/project/config.js';
import { readState } from '../../src/state/store.js';
import { up } from '../../src/workflow/apply.js';
import { type ImportReport, importMigrations } from '../../src/workflow/import.js';
import { down } from '../../src/workflow/rollback.js';
import { emptyServerTarget, type TestTarget } from '../helpers/databases.js';
import { testRun } from '../helpers/engine.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject } from '../helpers/project.js';

// The tools whose binaries are not installed here: each fixture is the tool's documented layout, applied
// the way the tool applies it (its forward SQL, then its history rows as the tool writes them). Then the
// import, a new ferry migration applied alone, and its rollback back to the tool's schema.

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Five migrations: a table, a column, an index, a data update, a second table. */
const UP = [
  'CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n',
  'ALTER TABLE users ADD COLUMN email text;\n',
  'CREATE INDEX users_email_idx ON users (email);\n',
  "INSERT INTO users (id, name) VALUES (1, 'ada');\nUPDATE users SET email = name || '@example.com';\n",
  'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id));\n',
];
const NAMES = ['create_users', 'add_email', 'index_email', 'fill_emails', 'create_orders'];

interface Fixture {
  /** The tool's folder, relative to the project root. */
  dir: string;
  files: Record<string, string>;
  /** The tool's history table and its rows, after the tool applied all five (`applied`: how many). */
  history(applied: number): string;
  /** The tool keeps rollback SQL (the fixture has one for the last migration). */
  down?: boolean;
}

const FIXTURES: Record<Exclude<ImportTool, 'dbmate' | 'node-pg-migrate' | 'knex'>, Fixture> = {
  'golang-migrate': {
    dir: 'migrations-go',
    files: { ...Object.fromEntries(UP.map((sql, i) => [`00000${i + 1}_${NAMES[i]}.up.sql`, sql])), '000005_create_orders.down.sql': 'DROP TABLE orders;\n' },
    down: true,
    history: (n) =>
      `CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (${n}, false);`,
  },
  prisma: {
    dir: 'prisma/migrations',
    files: Object.fromEntries(UP.map((sql, i) => [`2024010${i + 1}000000_${NAMES[i]}/migration.sql`, sql])),
    history: (n) =>
      `CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
         "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ, "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
         "applied_steps_count" INTEGER NOT NULL DEFAULT 0);
       INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES
       ${UP.slice(0, n)
         .map((sql, i) => `('m${i}', '${sha256(sql)}', now(), '2024010${i + 1}000000_${NAMES[i]}', 1)`)
         .join(',\n')};`,
  },
  drizzle: {
    dir: 'drizzle',
    files: {
      ...Object.fromEntries(UP.map((sql, i) => [`000${i}_${NAMES[i]}.sql`, sql])),
      'meta/_journal.json': JSON.stringify({
        version: '7',
        dialect: 'postgresql',
        entries: UP.map((_, i) => ({ idx: i, version: '7', when: 1700000000000 + i, tag: `000${i}_${NAMES[i]}`, breakpoints: true })),
      }),
    },
    history: (n) =>
      `CREATE SCHEMA drizzle; CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
       INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ${UP.slice(0, n)
         .map((sql, i) => `('${sha256(sql)}', ${1700000000000 + i})`)
         .join(', ')};`,
  },
  flyway: {
    dir: 'sql',
    files: { ...Object.fromEntries(UP.map((sql, i) => [`V1_${i + 1}__${NAMES[i]}.sql`, sql])), 'U1_5__create_orders.sql': 'DROP TABLE orders;\n' },
    down: true,
    history: (n) =>
      `CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL,
         type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INTEGER, installed_by VARCHAR(100) NOT NULL,
         installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL);
       INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES
       ${UP.slice(0, n)
         .map((sql, i) => `(${i + 1}, '1.${i + 1}', '${NAMES[i]}', 'SQL', 'V1_${i + 1}__${NAMES[i]}.sql', ${flywayChecksum(sql)}, 'me', 1, true)`)
         .join(',\n')};`,
  },
};

function writeFiles(root: string, dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, dir, name)), { recursive: true });
    writeFileSync(join(root, dir, name), text);
  }
}

/** A project on a fresh database where `tool` applied the first `applied` migrations of its fixture. */
async function appliedByTool(tool: Exclude<ImportTool, 'dbmate' | 'node-pg-migrate' | 'knex'>, applied = UP.length) {
  const target = (await emptyServerTarget()) as TestTarget;
  const p = createProject(target);
  writeFiles(p.root, FIXTURES[tool].dir, FIXTURES[tool].files);
  const db = await target.open();
  for (const sql of UP.slice(0, applied)) await db.exec(sql);
  await db.exec(FIXTURES[tool].history(applied));
  return { target, p, db, project: loadProject(p.root) };
}

const options = (tool: Exclude<ImportTool, 'dbmate' | 'node-pg-migrate' | 'knex'>, more: { force?: boolean; dryRun?: boolean } = {}) => ({
  tool,
  dir: FIXTURES[tool].dir,
  dryRun: false,
  force: false,
  ...more,
  run: testRun,
  lockWaitMs: 10_000,
});

/** The refusal's E_DRIFT and its report; the test fails if the import did not refuse. */
async function refused(
  db: Database,
  project: ReturnType<typeof loadProject>,
  tool: Exclude<ImportTool, 'dbmate' | 'node-pg-migrate' | 'knex'>,
): Promise<ImportReport> {
  const err = await importMigrations(project, db, options(tool)).catch((e: unknown) => e);
  expect(isFerryError(err, 'E_DRIFT')).toBe(true);
  return (err as { details: { report: ImportReport } }).details.report;
}

const server = await emptyServerTarget();
if (!server) console.log('skipping the import workflow tests: no PostgreSQL server at FERRY_TEST_DATABASE_URL (they run in CI)');

describe.runIf(server !== undefined)('ferry import of the tools not installed here', () => {
  for (const tool of Object.keys(FIXTURES) as Exclude<ImportTool, 'dbmate' | 'node-pg-migrate' | 'knex'>[]) {
    it(`(fixture: ${tool}) records what the tool applied, applies a new migration alone, and rolls back to the tool's schema`, async () => {
      const { target, p, db, project } = await appliedByTool(tool);
      try {
        const before = await fingerprint(target);
        const report = await importMigrations(project, db, options(tool));
        expect(report.problems).toEqual([]);
        expect(report.migrations.map((m) => [m.applied, m.recorded, m.folder])).toEqual(Array(5).fill([true, true, 'written']));
        const ms = await loadAll(project.migrationsDir);
        const state = await readState(db);
        expect(ms.map((m) => state.applied.get(m.id)?.length ?? 0)).toEqual([1, 1, 1, 1, 1]);
        // `up` applies only what neither tool applied.
        p.migration('20991231000000_add_notes', [
          { id: 'notes', up: 'ALTER TABLE users ADD COLUMN notes text;', down: 'ALTER TABLE users DROP COLUMN notes;' },
        ]);
        const all = await loadAll(project.migrationsDir);
        const applied = await up(db, all, testRun);
        expect(applied.steps.map((s) => s.migrationId)).toEqual(['20991231000000_add_notes']);
        const downOpts = { ...testRun, lockWaitMs: 10_000, dryRun: false, dataLoss: 'refuse' as const };
        await down(db, all, '20991231000000_add_notes', downOpts);
        // The last imported migration rolls back with the tool's own down SQL, where the tool has one.
        const last = ms[4]?.id as string;
        const undone = await down(db, all, last, downOpts).catch((e: unknown) => e);
        if (FIXTURES[tool].down) {
          expect((undone as { steps: unknown[] }).steps).toHaveLength(1);
          expect((await db.query("SELECT to_regclass('orders') AS t")).rows[0]).toEqual({ t: null });
          await up(db, all, { ...testRun, only: last });
        } else {
          expect(isFerryError(undone)).toBe(true);
          expect((undone as Error).message).toMatch(/irreversible/);
        }
        // ferry's own schema aside, the database is as the tool left it.
        await db.exec('DROP SCHEMA ferry CASCADE');
        expect(await fingerprint(target)).toBe(before);
      } finally {
        await db.close();
      }
    });
  }

  it('(fixture: golang-migrate) refuses a dirty history, writing and recording nothing; --force imports and records only the clean part', async () => {
    const { target, db, project } = await appliedByTool('golang-migrate', 3);
    try {
      await db.exec('UPDATE schema_migrations SET dirty = true');
      const before = await fingerprint(target);
      const report = await refused(db, project, 'golang-migrate');
      expect(report.problems.map((x) => [x.kind, x.version])).toEqual([['dirty', '3']]);
      expect(report.problems[0]?.message).toMatch(/public\.schema_migrations is dirty at version 3: the tool stopped inside that migration/);
      expect(readdirSync(project.migrationsDir)).toEqual([]);
      expect(await fingerprint(target)).toBe(before);

      const forced = await importMigrations(project, db, options('golang-migrate', { force: true }));
      expect(forced.migrations.map((m) => m.recorded)).toEqual([true, true, false, false, false]);
    } finally {
      await db.close();
    }
  });

  it('(fixture: prisma) refuses a failed run and an edited file, writing and recording nothing', async () => {
    const { target, p, db, project } = await appliedByTool('prisma', 3);
    try {
      await db.exec(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs) VALUES ('f', 'x', '20240104000000_fill_emails', 'boom')`);
      writeFileSync(join(p.root, 'prisma/migrations/20240102000000_add_email/migration.sql'), 'ALTER TABLE users ADD COLUMN email varchar(200);\n');
      const before = await fingerprint(target);
      const report = await refused(db, project, 'prisma');
      expect(report.problems.map((x) => [x.kind, x.version])).toEqual([
        ['edited', '20240102000000_add_email'],
        ['failed', '20240104000000_fill_emails'],
      ]);
      expect(report.problems[0]?.message).toContain('was edited after it was applied');
      expect(readdirSync(project.migrationsDir)).toEqual([]);
      expect(await fingerprint(target)).toBe(before);
    } finally {
      await db.close();
    }
  });

  it('(fixture: flyway) refuses a repeatable migration, which ferry has no step for', async () => {
    const { target, p, db, project } = await appliedByTool('flyway', 5);
    try {
      writeFileSync(join(p.root, 'sql', 'R__users_view.sql'), 'CREATE OR REPLACE VIEW user_names AS SELECT name FROM users;\n');
      const before = await fingerprint(target);
      const report = await refused(db, project, 'flyway');
      expect(report.problems.map((x) => x.kind)).toEqual(['repeatable']);
      expect(readdirSync(project.migrationsDir)).toEqual([]);
      expect(await fingerprint(target)).toBe(before);
    } finally {
      await db.close();
    }
  });
});
