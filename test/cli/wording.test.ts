import { describe, expect, it } from 'vitest';
import { createServerDatabase, forEachDriver, serverAvailable, type TestTarget } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('not opened')) };

/** The project's `test` environment for `target`, with extra fields. */
function environment(target: TestTarget, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { environments: { test: { ...(target.kind === 'server' ? { url: target.url } : { dataDir: target.dataDir }), ...extra } } };
}

/** A step that fails the way a lock timeout does, on both drivers (PGlite has one session, so no real lock can be held against it). */
const LOCK_TIMEOUT = `DO $$ BEGIN RAISE EXCEPTION 'canceling statement due to lock timeout' USING ERRCODE = '55P03'; END $$`;

interface ErrorDocument {
  error: { code: string; message: string; hint: string };
}

forEachDriver('the words of errors', (suite) => {
  it('a failing rollback is reported as the rollback of the step, not its forward (exit 11), and changes nothing', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE no_such_table;' }]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const before = await fingerprint(target);
    const r = await runFerryJson<ErrorDocument>(p.root, ['down']);
    expect(r.code).toBe(11);
    expect(r.json.error.message).toMatch(/^rollback of step 0001_create\/create failed \(.*create\.down\.sql:1\): table "no_such_table" does not exist/);
    expect(r.json.error.message).not.toContain('forward');
    expect(r.json.error.hint).toContain('fix the SQL or the data');
    expect(await fingerprint(target)).toBe(before);
  });

  it('a lock timeout that outlasts the retries says another session holds a lock, how to find it, and the lockTimeout/lockRetries settings', async () => {
    const target = await suite.fresh();
    const p = createProject(target, { lockTimeout: '250ms', lockRetries: 1 });
    p.migration('0001_locked', [{ id: 'alter', up: LOCK_TIMEOUT, down: 'SELECT 1' }]);
    const r = await runFerryJson<ErrorDocument>(p.root, ['up']);
    expect(r.code).toBe(11);
    expect(r.json.error.message).toMatch(
      /^forward of step 0001_locked\/alter failed \(.*alter\.up\.sql:1; lock_timeout 250ms, retried 1 time\): .*\[SQLSTATE 55P03, lock timeout\]/,
    );
    const hint = r.json.error.hint;
    expect(hint).toContain('another session holds a lock this step needs');
    expect(hint).toContain('pg_locks');
    expect(hint).toContain('pg_stat_activity');
    expect(hint).toMatch(/lockTimeout and lockRetries in ferry\.config\.json/);
    expect(hint).not.toContain('fix the SQL');
    const log = await runFerryJson<{ events: { kind: string }[] }>(p.root, ['log', '0001_locked']);
    expect(log.json.events.filter((e) => e.kind === 'retry')).toHaveLength(1);
    const status = await runFerryJson<{ migrations: { appliedCount: number }[] }>(p.root, ['status']);
    expect(status.json.migrations[0]?.appliedCount).toBe(0);
  });

  it('up refused for want of approval names the command with --as ROLE for each role (exit 9)', async () => {
    const target = await suite.fresh();
    const p = createProject(target, environment(target, { requireApproval: true }));
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }], {
      plan: { approvals: ['Tech Lead', 'DBA'] },
    });
    const before = await fingerprint(target);
    const r = await runFerryJson<ErrorDocument>(p.root, ['up']);
    expect(r.code).toBe(9);
    expect(r.json.error.hint).toBe(
      'each role of its plan approves first: `ferry approve 0001_create --as "Tech Lead"`, `ferry approve 0001_create --as "DBA"`',
    );
    expect(await fingerprint(target)).toBe(before);
  });
});

describe('the words of errors, without a database', () => {
  it('an 80-character ferry new name is refused naming the 63-byte limit (exit 2)', async () => {
    const p = createProject(noDb);
    const r = await runFerry(p.root, ['new', 'a'.repeat(80), '--type', 'system', '--strategy', 'big-bang']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`"${'a'.repeat(80)}" is 80 bytes long; a migration name is at most 63 bytes`);
    const ok = await runFerryJson<{ id: string }>(p.root, ['new', 'a'.repeat(63), '--type', 'system', '--strategy', 'big-bang']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json.id).toMatch(/^\d{14}_a{63}$/);
  });

  it('the connection hint names only options that exist (--env, never --url)', async () => {
    const p = createProject({ kind: 'server', url: 'postgres://postgres@127.0.0.1:1/none', open: async () => Promise.reject(new Error('unused')) });
    const r = await runFerryJson<ErrorDocument>(p.root, ['status']);
    expect(r.code).toBe(6);
    expect(r.json.error.hint).not.toContain('--url');
    expect(r.json.error.hint).toContain('--env NAME');
    expect(r.json.error.hint).toContain('urlEnv');
    const help = await runFerry(p.root, ['--help']);
    expect(help.stdout).not.toContain('--url');
  });

  it('--lock-wait forever, and every other duration or number flag given nonsense, is a usage error naming the flag and the format (exit 2)', async () => {
    const p = createProject(noDb);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
    const cases: [string[], string[]][] = [
      [
        ['status', '--lock-wait', 'forever'],
        ["option '--lock-wait <duration>' argument 'forever' is invalid", '500ms, 30s or 2min'],
      ],
      [['--lock-wait=1h', 'up'], ["'--lock-wait <duration>' argument '1h' is invalid"]],
      [['up', '--workers', 'many'], ['--workers must be a whole number from 1 to 64, not "many"']],
      [['backfill', '0001_create', '--workers', '0'], ['--workers must be a whole number from 1 to 64, not "0"']],
      [['verify', '--sample', 'lots'], ['--sample (keys to compare) must be a whole number of at least 1, not "lots"']],
      [
        ['health', '0001_create', '--window', 'forever'],
        ['--window "forever" is not a duration', '30s, 5min or 1h'],
      ],
      [
        ['rollout', '0001_create', 'run', '--interval', 'forever'],
        ['--interval "forever" is not a duration', '5s, 30s or 1min'],
      ],
      [['rollout', '0001_create', 'set', 'half'], ['not a percentage']],
      [['ticket', 'close', 'first'], ['a ticket number must be a whole number of at least 1, not "first"']],
    ];
    for (const [args, words] of cases) {
      const r = await runFerryJson<ErrorDocument>(p.root, args);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).toBe(2);
      expect(r.json.error.code).toBe('E_USAGE');
      for (const w of words) expect(`${r.json.error.message} ${r.json.error.hint}`, args.join(' ')).toContain(w);
    }
  });
});

describe('a real lock held by another session (server)', () => {
  it('ferry up behind a held ACCESS EXCLUSIVE lock gives up with the lock hint, and the table is unchanged', async () => {
    if (!(await serverAvailable())) return;
    const db = await createServerDatabase();
    const { default: pg } = await import('pg');
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('CREATE TABLE t (a int)');
      const target: TestTarget = { kind: 'server', url: db.url, open: () => Promise.reject(new Error('unused')) };
      const p = createProject(target, { lockTimeout: '100ms', lockRetries: 1 });
      p.migration('0001_widen', [{ id: 'widen', up: 'ALTER TABLE t ADD COLUMN b int;', down: 'ALTER TABLE t DROP COLUMN b;' }]);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
      const r = await runFerryJson<ErrorDocument>(p.root, ['up']);
      await holder.query('ROLLBACK');
      expect(r.code).toBe(11);
      expect(r.json.error.message).toContain('[SQLSTATE 55P03, lock timeout]');
      expect(r.json.error.hint).toContain('another session holds a lock this step needs');
      const cols = await holder.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 't' ORDER BY 1`);
      expect(cols.rows.map((c) => c.column_name)).toEqual(['a']);
    } finally {
      await holder.end();
      await db.drop();
    }
  });
});
