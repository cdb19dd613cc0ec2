import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stateExists } from '../../src/state/store.js';
import { createServerDatabase, forEachDriver, SERVER_URL, serverAvailable, type TestTarget } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;

async function untouched(target: TestTarget): Promise<boolean> {
  const db = await target.open();
  try {
    if (!(await stateExists(db))) return (await db.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0]?.n === 0;
    return false;
  } finally {
    await db.close();
  }
}

function simple(target: TestTarget): TestProject {
  const p = createProject(target);
  p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
  return p;
}

/** Each kind of bad input: its exit code, its message, a fix, no stack trace, and the database as it was. */
forEachDriver('bad input', (suite) => {
  it('a manifest with several problems reports every one, with file and field (exit 4)', async () => {
    const target = await suite.fresh();
    const p = simple(target);
    const id = p.migration('0002_bad', [{ id: 'one', up: 'CREATE TABLE x (a int,, b int);', down: 'DROP TABLE x;' }], {
      type: 'schema-changing',
      pointOfNoReturn: 'nope',
    });
    writeFileSync(
      p.file(id, 'migration.json'),
      JSON.stringify({
        title: '',
        summary: 's',
        type: 'schema-changing',
        strategy: 'big-bang',
        steps: [{ id: 'one' }, { id: 'Bad Id' }],
        pointOfNoReturn: 'nope',
      }),
    );
    const r = await runFerry(p.root, ['up']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('[E_MANIFEST]');
    for (const field of ['title: must not be empty', 'type: Invalid option', 'steps.1.id: must be lowercase']) expect(r.stderr).toContain(field);
    expect(r.stderr).toContain(join('0002_bad', 'migration.json'));
    expect(r.stderr).toMatch(/fix\s+/);
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(await untouched(target)).toBe(true);
  });

  it('an SQL syntax error is reported with file and line before anything runs (exit 4)', async () => {
    const target = await suite.fresh();
    const p = simple(target);
    p.migration('0002_syntax', [{ id: 'one', up: 'CREATE TABLE y (a int);\nCREATE TABLE x (a int,, b int);', down: 'DROP TABLE x;' }]);
    const r = await runFerryJson<{ error: { code: string; message: string; hint: string } }>(p.root, ['up']);
    expect(r.code).toBe(4);
    expect(r.json.error.code).toBe('E_MANIFEST');
    expect(r.json.error.message).toMatch(/one\.up\.sql:2: steps\.0\.forward: syntax error at or near ","/);
    expect(await untouched(target)).toBe(true);
  });

  it('an unknown migration id says which ones exist (exit 5)', async () => {
    const target = await suite.fresh();
    const p = simple(target);
    const r = await runFerry(p.root, ['up', 'no_such_migration']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('no migration with id "no_such_migration"');
    expect(r.stderr).toContain('0001_create');
    expect(await untouched(target)).toBe(true);
  });

  it('an unknown flag or a bad choice is a usage error (exit 2)', async () => {
    const target = await suite.fresh();
    const p = simple(target);
    const r = await runFerry(p.root, ['up', '--dry-runn']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--dry-runn'");
    const n = await runFerry(p.root, ['new', 'x', '--type', 'schema-changing', '--strategy', 'big-bang']);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('Allowed choices are schema-additive, schema-destructive, data-format, api-breaking, system');
    expect(r.stderr + n.stderr).not.toMatch(NO_STACK);
    expect(await untouched(target)).toBe(true);
  });

  it('an unknown environment names the known ones (exit 3)', async () => {
    const target = await suite.fresh();
    const p = simple(target);
    const r = await runFerry(p.root, ['status', '--env', 'prod']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('unknown environment "prod"');
    expect(r.stderr).toContain('use one of: test');
  });

  it('--to past the point of no return is refused with the way forward (exit 10)', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration(
      '0001_contract',
      [
        { id: 'create', up: 'CREATE TABLE t (a int, b int);', down: 'DROP TABLE t;' },
        { id: 'drop-b', up: 'ALTER TABLE t DROP COLUMN b;', down: 'ALTER TABLE t ADD COLUMN b int;' },
      ],
      { pointOfNoReturn: 'drop-b' },
    );
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const r = await runFerry(p.root, ['down', '0001_contract']);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain('passed its point of no return');
    const s = await runFerryJson<{ migrations: { appliedCount: number }[] }>(p.root, ['status']);
    expect(s.json.migrations[0]?.appliedCount).toBe(2);
  });
});

describe('bad input without a database', () => {
  it('no project: says to run ferry init (exit 3)', async () => {
    const r = await runFerry('/', ['status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('run `ferry init`');
  });

  it('an invalid config reports every field (exit 3)', async () => {
    const p = createProject({ kind: 'pglite', dataDir: '/nonexistent', open: async () => Promise.reject(new Error('unused')) });
    writeFileSync(
      join(p.root, 'ferry.config.json'),
      JSON.stringify({ lockTimeout: 'soon', lockRetries: -1, environments: { local: { url: 'x', dataDir: 'y' } } }),
    );
    const r = await runFerry(p.root, ['status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('lockTimeout: must be a duration');
    expect(r.stderr).toContain('lockRetries');
    expect(r.stderr).toContain('environments.local: set either url');
  });

  it('an unreachable server is a connection error with a fix (exit 6)', async () => {
    const p = createProject({ kind: 'server', url: 'postgres://postgres@127.0.0.1:1/none', open: async () => Promise.reject(new Error('unused')) });
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
    const r = await runFerry(p.root, ['up']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('cannot reach the database at postgres://postgres@127.0.0.1:1/none');
    expect(r.stderr).toContain('is the server running');
    expect(r.stderr).not.toMatch(NO_STACK);
    const debug = await runFerry(p.root, ['up', '--debug']);
    expect(debug.stderr).toMatch(NO_STACK);
  });

  it('a password that is not accepted is an authentication error, the password never printed (exit 6)', async () => {
    if (!(await serverAvailable())) return;
    // The test server trusts local connections, so a role that may not log in stands in for a wrong password.
    const db = await createServerDatabase();
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    await c.query('DROP ROLE IF EXISTS ferry_nologin; CREATE ROLE ferry_nologin NOLOGIN PASSWORD $$s3cret$$');
    await c.end();
    try {
      const u = new URL(db.url);
      u.username = 'ferry_nologin';
      u.password = 's3cret';
      const p = createProject({ kind: 'server', url: u.toString(), open: async () => Promise.reject(new Error('unused')) });
      const r = await runFerry(p.root, ['status']);
      expect(r.code).toBe(6);
      expect(r.stderr).toContain('authentication failed');
      expect(r.stderr).not.toContain('s3cret');
    } finally {
      await db.drop();
    }
  });

  it('every command has --help', async () => {
    for (const cmd of [
      'init',
      'new',
      'up',
      'down',
      'verify',
      'status',
      'rehearse',
      'log',
      'baseline',
      'approve',
      'backfill',
      'flag',
      'flag set',
      'flag list',
      'flag get',
      'flag remove',
      'rollout',
    ]) {
      const r = await runFerry('/', [...cmd.split(' '), '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain(`Usage: ferry ${cmd}`);
      expect(r.stdout, cmd).toContain('Example');
    }
    const top = await runFerry('/', ['--help']);
    expect(top.stdout).toContain('Exit codes:');
    expect(existsSync('/ferry.config.json')).toBe(false);
  });
});
