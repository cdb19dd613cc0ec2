import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { nodePgMigrateReader } from '../../src/import/tools/node-pg-migrate.js';
import { loadAll } from '../../src/migration/loader.js';
import { loadProject } from '../../src/project/config.js';
import { readState } from '../../src/state/store.js';
import { up } from '../../src/workflow/apply.js';
import { type ImportReport, importMigrations } from '../../src/workflow/import.js';
import { down } from '../../src/workflow/rollback.js';
import { emptyServerTarget, type TestTarget } from '../helpers/databases.js';
import { testRun } from '../helpers/engine.js';
import { fingerprint, schemaDump } from '../helpers/fingerprint.js';
import { createProject } from '../helpers/project.js';

// The real node-pg-migrate and Knex apply a fixture of code migrations; ferry imports them as TypeScript
// steps that run the original modules' up and down on ferry's transaction, applies one new migration
// alone, and rolls the last imported migration back through the tool's own down.

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'node_modules', '.bin');

type CodeTool = 'node-pg-migrate' | 'knex';

/** node-pg-migrate's five: a table (CommonJS), a column (no down: node-pg-migrate reverses up), an index (.sql), a data update (.ts), a second table (ESM). */
const NODE_PG_MIGRATE: Record<string, string> = {
  '1700000000001_create-users.js': `exports.up = (pgm) => {
  pgm.createTable('users', { id: { type: 'bigint', primaryKey: true }, name: { type: 'text', notNull: true } });
};
exports.down = (pgm) => {
  pgm.dropTable('users');
};
`,
  '1700000000002_add-email.js': `exports.up = (pgm) => {
  pgm.addColumns('users', { email: { type: 'text' } });
};
`,
  '1700000000003_index-email.sql': '-- Up Migration\nCREATE INDEX users_email_idx ON users (email);\n\n-- Down Migration\nDROP INDEX users_email_idx;\n',
  '1700000000004_fill-emails.ts': `import type { MigrationBuilder } from 'node-pg-migrate';

export async function up(pgm: MigrationBuilder): Promise<void> {
  pgm.sql("INSERT INTO users (id, name) VALUES (1, 'ada'), (2, 'grace')");
  pgm.sql("UPDATE users SET email = name || '@example.com' WHERE email IS NULL");
}

export async function down(pgm: MigrationBuilder): Promise<void> {
  pgm.sql('UPDATE users SET email = NULL');
  pgm.sql('DELETE FROM users WHERE id IN (1, 2)');
}
`,
  '1700000000005_create-orders.js': `export const up = (pgm) => {
  pgm.createTable('orders', {
    id: { type: 'bigint', primaryKey: true },
    user_id: { type: 'bigint', notNull: true, references: 'users' },
    total: { type: 'numeric(10, 2)' },
  });
  pgm.createIndex('orders', 'user_id');
};
export const down = (pgm) => {
  pgm.dropTable('orders');
};
`,
};

/** Knex's five (Knex loads .js and .cjs without a TypeScript loader), with bindings and a query builder update. */
const KNEX: Record<string, string> = {
  '20250101000001_create_users.js': `exports.up = (knex) => knex.schema.createTable('users', (t) => {
  t.bigInteger('id').primary();
  t.text('name').notNullable();
});
exports.down = (knex) => knex.schema.dropTable('users');
`,
  '20250101000002_add_email.js': `exports.up = (knex) => knex.schema.alterTable('users', (t) => {
  t.text('email');
});
exports.down = (knex) => knex.schema.alterTable('users', (t) => {
  t.dropColumn('email');
});
`,
  '20250101000003_index_email.cjs': `module.exports = {
  up: (knex) => knex.schema.alterTable('users', (t) => t.index(['email'], 'users_email_idx')),
  down: (knex) => knex.schema.alterTable('users', (t) => t.dropIndex(['email'], 'users_email_idx')),
};
`,
  '20250101000004_fill_emails.js': `exports.up = async (knex) => {
  await knex('users').insert([{ id: 1, name: 'ada' }, { id: 2, name: 'grace' }]);
  const n = await knex('users').whereNull('email').update({ email: knex.raw("name || ?", ['@example.com']) });
  if (n !== 2) throw new Error('expected 2 rows updated, got ' + n);
};
exports.down = async (knex) => {
  await knex('users').update({ email: null });
  await knex('users').whereIn('id', [1, 2]).del();
};
`,
  '20250101000005_create_orders.js': `exports.up = async (knex) => {
  await knex.schema.createTable('orders', (t) => {
    t.bigInteger('id').primary();
    t.bigInteger('user_id').notNullable().references('id').inTable('users');
    t.decimal('total', 10, 2);
  });
  const rows = await knex('users').select('id').orderBy('id');
  await knex('orders').insert(rows.map((r, i) => ({ id: i + 1, user_id: r.id, total: 10 })));
};
exports.down = (knex) => knex.schema.dropTable('orders');
`,
};

const FIXTURES: Record<CodeTool, { dir: string; files: Record<string, string> }> = {
  'node-pg-migrate': { dir: 'pg-migrations', files: NODE_PG_MIGRATE },
  knex: { dir: 'knex-migrations', files: KNEX },
};

const KNEXFILE = `module.exports = { client: 'pg', connection: process.env.DATABASE_URL, migrations: { directory: './knex-migrations' } };\n`;

/** Run the tool's own CLI in `root` on the database at `url`: `up` / `latest`, or `down` one migration. */
async function runTool(tool: CodeTool, root: string, url: string, direction: 'up' | 'down'): Promise<void> {
  const env = { ...process.env, DATABASE_URL: url };
  if (tool === 'node-pg-migrate') {
    await promisify(execFile)(join(BIN, 'node-pg-migrate'), [direction, '-m', FIXTURES[tool].dir, '--database-url-var', 'DATABASE_URL'], { cwd: root, env });
  } else {
    const command = direction === 'up' ? 'migrate:latest' : 'migrate:down';
    await promisify(execFile)(join(BIN, 'knex'), [command, '--knexfile', join(root, 'knexfile.cjs')], { cwd: root, env });
  }
}

/** What the application sees: the schema dump without ferry's own schema. */
const appSchema = (url: string) => schemaDump(url, { withoutFerry: true });

/**
 * A project whose tool folder holds the fixture (with `replace` written over it), the project's
 * node_modules being the repository's (a project using the tool has it installed); the tool applied it.
 */
async function appliedByTool(tool: CodeTool, target: TestTarget & { url: string }, replace: Record<string, string> = {}) {
  const p = createProject(target);
  symlinkSync(join(REPO, 'node_modules'), join(p.root, 'node_modules'), 'dir');
  writeFileSync(join(p.root, 'knexfile.cjs'), KNEXFILE);
  const dir = join(p.root, FIXTURES[tool].dir);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(FIXTURES[tool].files)) writeFileSync(join(dir, name), text);
  await runTool(tool, p.root, target.url, 'up');
  for (const [name, text] of Object.entries(replace)) writeFileSync(join(dir, name), text);
  return { p, project: loadProject(p.root) };
}

const options = (tool: CodeTool) => ({ tool, dir: FIXTURES[tool].dir, dryRun: false, force: false, run: testRun, lockWaitMs: 10_000 });
const downOpts = { ...testRun, lockWaitMs: 10_000, dryRun: false, dataLoss: 'refuse' as const };

const server = await emptyServerTarget();
if (!server) console.log('skipping the code-migration import tests: no PostgreSQL server at FERRY_TEST_DATABASE_URL (they run in CI)');

describe.runIf(server !== undefined)('ferry import of code migrations, with the real tools', () => {
  for (const tool of ['node-pg-migrate', 'knex'] as const) {
    it(`(${tool}) records every migration, applies a new one alone, and rolls the last back through the tool's own down`, async () => {
      const target = (await emptyServerTarget()) as TestTarget & { url: string };
      const { p, project } = await appliedByTool(tool, target);
      const afterTool = await appSchema(target.url);
      const db: Database = await target.open();
      try {
        const report = await importMigrations(project, db, options(tool));
        expect(report.problems).toEqual([]);
        expect(report.migrations.map((m) => [m.applied, m.recorded, m.folder, m.steps, m.irreversible, m.opaque])).toEqual(
          Array(5).fill([true, true, 'written', 1, false, undefined]),
        );
        expect(report.migrations.map((m) => m.version)).toEqual(Object.keys(FIXTURES[tool].files).map((f) => (tool === 'knex' ? f : f.replace(/\.\w+$/, ''))));
        const ms = await loadAll(project.migrationsDir);
        const state = await readState(db);
        expect(ms.map((m) => state.applied.get(m.id)?.length ?? 0)).toEqual([1, 1, 1, 1, 1]);
        // A code migration is one TypeScript step whose module imports the original by a relative path.
        const last = ms[4]?.id as string;
        const manifest = JSON.parse(readFileSync(join(project.migrationsDir, last, 'migration.json'), 'utf8'));
        expect(manifest.steps).toEqual([{ id: 'change', kind: 'ts', module: 'change.mjs' }]);
        const module = readFileSync(join(project.migrationsDir, last, 'change.mjs'), 'utf8');
        expect(module).toContain(`from "../../${FIXTURES[tool].dir}/${Object.keys(FIXTURES[tool].files)[4]}"`);
        // Nothing ran: the schema is the tool's.
        expect(await appSchema(target.url)).toBe(afterTool);

        p.migration('20991231000000_add_notes', [
          { id: 'notes', up: 'ALTER TABLE users ADD COLUMN notes text;', down: 'ALTER TABLE users DROP COLUMN notes;' },
        ]);
        const all = await loadAll(project.migrationsDir);
        const applied = await up(db, all, testRun);
        expect(applied.steps.map((s) => s.migrationId)).toEqual(['20991231000000_add_notes']);
        await down(db, all, '20991231000000_add_notes', downOpts);
        expect(await appSchema(target.url)).toBe(afterTool);

        // The last imported migration rolls back through the tool's own down, as the tool's rollback leaves it.
        const own = (await emptyServerTarget()) as TestTarget & { url: string };
        await runTool(tool, p.root, own.url, 'up');
        await runTool(tool, p.root, own.url, 'down');
        const undone = await down(db, all, last, downOpts);
        expect(undone.steps).toHaveLength(1);
        expect(await appSchema(target.url)).toBe(await appSchema(own.url));
        // And forward again through the tool's up.
        await up(db, all, { ...testRun, only: last });
        expect(await appSchema(target.url)).toBe(afterTool);
        expect((await db.query('SELECT count(*)::int AS n FROM users WHERE email IS NOT NULL')).rows).toEqual([{ n: 2 }]);

        // Rolling back four of five through the generated steps (node-pg-migrate: a .ts module, a .sql file, and a
        // module without `down`, reversed as node-pg-migrate reverses it) leaves what the tool's four rollbacks leave.
        for (const m of ms.slice(1).reverse()) await down(db, all, m.id, downOpts);
        for (let i = 0; i < 3; i++) await runTool(tool, p.root, own.url, 'down');
        expect(await appSchema(target.url)).toBe(await appSchema(own.url));
        expect((await db.query("SELECT to_regclass('users_email_idx') AS idx")).rows).toEqual([{ idx: null }]);
      } finally {
        await db.close();
      }
    });
  }

  it('(knex) imports a module that no longer loads as an opaque applied step, reports it, and `down` stops before it', async () => {
    const target = (await emptyServerTarget()) as TestTarget & { url: string };
    const broken = "const helpers = require('./helpers/gone.js');\nexports.up = (knex) => helpers.createOrders(knex);\n";
    const { project } = await appliedByTool('knex', target, { '20250101000005_create_orders.js': broken });
    const db = await target.open();
    try {
      const report = await importMigrations(project, db, options('knex'));
      expect(report.problems).toEqual([]);
      const opaque = report.migrations[4];
      expect([opaque?.recorded, opaque?.irreversible]).toEqual([true, true]);
      expect(opaque?.opaque).toMatch(/gone\.js/);
      expect(report.migrations.slice(0, 4).map((m) => m.opaque)).toEqual(Array(4).fill(undefined));
      const all = await loadAll(project.migrationsDir);
      const before = await fingerprint(target);
      const refused = await down(db, all, all[4]?.id, downOpts).catch((e: unknown) => e);
      expect(isFerryError(refused)).toBe(true);
      expect((refused as Error).message).toMatch(/irreversible/);
      expect(await fingerprint(target)).toBe(before);
      // Its step says which file and why, should anything run it.
      const step = await import(pathToFileURL(join(project.migrationsDir, all[4]?.id as string, 'change.mjs')).href);
      expect(() => step.forward()).toThrow(/^cannot run 20250101000005_create_orders\.js: .*gone\.js/);
      expect(() => step.rollback()).toThrow(/^cannot run 20250101000005_create_orders\.js: /);
    } finally {
      await db.close();
    }
  });

  it('(knex) refuses while knex_migrations_lock is held, writing and recording nothing', async () => {
    const target = (await emptyServerTarget()) as TestTarget & { url: string };
    const { project } = await appliedByTool('knex', target);
    const db = await target.open();
    try {
      await db.exec('UPDATE knex_migrations_lock SET is_locked = 1');
      const before = await fingerprint(target);
      const err = await importMigrations(project, db, options('knex')).catch((e: unknown) => e);
      expect(isFerryError(err, 'E_DRIFT')).toBe(true);
      const report = (err as { details: { report: ImportReport } }).details.report;
      expect(report.problems.map((x) => x.kind)).toEqual(['dirty']);
      expect(report.problems[0]?.message).toMatch(/public\.knex_migrations_lock is locked .*a Knex migration is running, or one died holding its lock/);
      expect(readdirSync(project.migrationsDir)).toEqual([]);
      expect(await fingerprint(target)).toBe(before);
    } finally {
      await db.close();
    }
  });
});

describe('node-pg-migrate modules as ferry reads them', () => {
  it('learns from each module whether it runs, rolls back and wants a transaction; a .sql file is SQL', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-npm-'));
    symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
    const dir = join(root, 'migrations');
    mkdirSync(dir);
    const files: Record<string, string> = {
      '10_concurrent-index.js': "exports.up = (pgm) => { pgm.noTransaction(); pgm.createIndex('users', 'email', { concurrently: true }); };\n",
      '2_no-way-back.js': "exports.up = (pgm) => pgm.sql('SELECT 1');\nexports.down = false;\n",
      '3_broken.ts': "import { helper } from './nowhere';\nexport const up = helper;\n",
      '4_only-up.sql': '-- Up Migration\nCREATE TABLE t (id int);\n',
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const read = nodePgMigrateReader.read(dir);
    // node-pg-migrate orders by the numeric prefix, not by the name.
    expect(read.map((m) => m.version)).toEqual(['2_no-way-back', '3_broken', '4_only-up', '10_concurrent-index']);
    const inspect = nodePgMigrateReader.inspect as NonNullable<typeof nodePgMigrateReader.inspect>;
    const [noWayBack, broken, onlyUp, concurrent] = await Promise.all(read.map((m) => inspect(m)));
    expect([noWayBack?.transaction, noWayBack?.code?.reversible, noWayBack?.code?.opaque]).toEqual([true, false, undefined]);
    expect(broken?.code?.opaque).toMatch(/nowhere/);
    expect([onlyUp?.code, onlyUp?.up, onlyUp?.down]).toEqual([undefined, '-- Up Migration\nCREATE TABLE t (id int);\n', undefined]);
    expect([concurrent?.transaction, concurrent?.code?.reversible]).toEqual([false, true]);
  });
});
