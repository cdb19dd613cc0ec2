import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import { openServer } from '../../src/db/server.js';
import { createServerDatabase, serverAvailable, type TestTarget } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { createProject, runFerry } from '../helpers/project.js';

/** ferry's migration lock: advisory lock key "ferry" in ASCII. Other tools may rely on it, so it is pinned here. */
const FERRY_LOCK_KEY = 0x6665727279n;

/** Undone last-first: clients end before their database is dropped. */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function freshServer(): Promise<TestTarget & { url: string }> {
  const db = await createServerDatabase();
  cleanups.push(db.drop);
  return { kind: 'server', url: db.url, open: () => openServer({ url: db.url }) };
}

/** A plain client on `url` (not ferry's driver), as another application would connect. */
async function client(url: string, applicationName = 'ferry-test'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: applicationName });
  c.on('error', () => {});
  await c.connect();
  cleanups.push(() => c.end());
  return c;
}

async function column(c: pg.Client, sql: string, params: unknown[] = []): Promise<unknown[]> {
  const { rows } = await c.query(sql, params);
  return rows.map((r) => Object.values(r)[0]);
}

/** A step that waits until `n` `ferry up` sessions are connected, so the runners really overlap. */
function barrier(n: number): string {
  return `CREATE TABLE ledger (step text PRIMARY KEY);
INSERT INTO ledger VALUES ('barrier');
DO $$
BEGIN
  FOR i IN 1..1200 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ferry up %') >= ${n} THEN RETURN; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RAISE EXCEPTION 'the other ferry runners never connected';
END $$;`;
}

/**
 * A process that takes the lock file with ferry's own code once told "go" on stdin, and
 * prints "alone", or "shared" when another process held it at the same time.
 */
const CONTENDER = `
import { closeSync, openSync, unlinkSync } from 'node:fs';
const { acquireFileLock } = await import(process.argv[1]);
const dir = process.argv[2];
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
const release = await acquireFileLock(dir + '/db.lock', 60000, 'the test database');
let alone = true;
try { closeSync(openSync(dir + '/holder', 'wx')); } catch { alone = false; }
await new Promise((r) => setTimeout(r, 50));
if (alone) unlinkSync(dir + '/holder');
release();
process.stdout.write(alone ? 'alone' : 'shared');
process.exit(0);
`;
const FILE_LOCK_MODULE = resolve(import.meta.dirname, '../../dist/db/file-lock.js');

/** Start `n` contenders on `dir`, release them together once all are ready, and collect what each saw. */
async function contend(dir: string, n: number): Promise<string[]> {
  const kids = Array.from({ length: n }, () => spawn(process.execPath, ['--input-type=module', '-e', CONTENDER, FILE_LOCK_MODULE, dir]));
  const outcomes = kids.map(
    (k) =>
      new Promise<string>((done, fail) => {
        let out = '';
        let err = '';
        k.stdout.on('data', (d) => {
          out += d;
        });
        k.stderr.on('data', (d) => {
          err += d;
        });
        k.on('close', (code) => (code === 0 ? done(out.replace('ready\n', '')) : fail(new Error(`contender exited ${code}: ${err}`))));
      }),
  );
  await Promise.all(kids.map((k) => new Promise((ready) => k.stdout.once('data', ready))));
  for (const k of kids) k.stdin.write('go\n');
  return Promise.all(outcomes);
}

/** The pid of a process that was killed with SIGKILL and is gone. */
async function killedPid(): Promise<number> {
  const victim = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  const gone = new Promise((r) => victim.on('exit', r));
  victim.kill('SIGKILL');
  await gone;
  return victim.pid as number;
}

const serverUp = await serverAvailable();

describe.runIf(serverUp)('concurrent runners on a server', () => {
  it('three concurrent ferry up processes apply each step exactly once', async () => {
    const target = await freshServer();
    const p = createProject(target);
    const slow = ['s1', 's2', 's3', 's4'].map((id) => ({
      id,
      up: `CREATE TABLE ${id} (id int);\nINSERT INTO ledger VALUES ('${id}');\nSELECT pg_sleep(0.3);`,
      down: `DROP TABLE ${id};`,
    }));
    const id = p.migration('0001_four_tables', [{ id: 'barrier', up: barrier(3), down: 'DROP TABLE ledger;' }, ...slow]);

    const actors = ['runner-1', 'runner-2', 'runner-3'];
    const runners = actors.map((actor) => startFerry(p.root, ['up'], { FERRY_ACTOR: actor }));
    const results = await Promise.all(runners.map((r) => r.done));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const winners = actors.filter((_, i) => results[i]?.stdout.includes(`${id}/barrier  applied`));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.stdout.includes('nothing to apply'))).toHaveLength(2);
    for (const step of ['s1', 's2', 's3', 's4']) expect(results.filter((r) => r.stdout.includes(`${id}/${step}  applied`))).toHaveLength(1);

    const c = await client(target.url);
    expect(await column(c, 'SELECT step FROM ledger ORDER BY step')).toEqual(['barrier', 's1', 's2', 's3', 's4']);
    expect(await column(c, 'SELECT step_id FROM ferry.applied_steps ORDER BY position')).toEqual(['barrier', 's1', 's2', 's3', 's4']);
    expect(await column(c, 'SELECT DISTINCT applied_by FROM ferry.applied_steps')).toEqual(winners);
    expect(await column(c, `SELECT from_phase || ' → ' || to_phase FROM ferry.events WHERE kind = 'transition' ORDER BY id`)).toEqual([
      'planned → approved',
      'approved → expanded',
    ]);
  });

  it('a runner that finds the lock taken and cannot wait says who holds it, and changes nothing', async () => {
    const target = await freshServer();
    const p = createProject(target);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (id int);', down: 'DROP TABLE t;' }]);
    const holder = await client(target.url, 'holder-test');
    await holder.query('SELECT pg_advisory_lock($1::bigint)', [FERRY_LOCK_KEY.toString()]);
    const [holderPid] = await column(holder, 'SELECT pg_backend_pid()');

    const r = await runFerry(p.root, ['up', '--lock-wait', '1s']);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('[E_LOCKED]');
    expect(r.stderr).toContain('holder-test');
    expect(r.stderr).toContain(`pid ${holderPid}`);
    expect(r.stdout).toBe('');
    const c = await client(target.url);
    expect(await column(c, `SELECT to_regclass('ferry.migrations') IS NULL AND to_regclass('public.t') IS NULL`)).toEqual([true]);

    await holder.query('SELECT pg_advisory_unlock($1::bigint)', [FERRY_LOCK_KEY.toString()]);
    expect((await runFerry(p.root, ['up', '--lock-wait', '1s'])).code).toBe(0);
  });

  it('a step that hits lock_timeout is retried with backoff and then succeeds', async () => {
    const target = await freshServer();
    const p = createProject(target, { lockTimeout: '200ms', lockRetries: 6 });
    const id = p.migration('0001_widen', [
      // The INSERT comes first: were a timed-out attempt not rolled back, the next one would hit the primary key.
      { id: 'widen', up: `INSERT INTO ledger VALUES ('widen');\nALTER TABLE t ADD COLUMN note text;`, down: 'ALTER TABLE t DROP COLUMN note;' },
    ]);
    const c = await client(target.url);
    await c.query('CREATE TABLE t (id int); CREATE TABLE ledger (step text PRIMARY KEY)');
    const holder = await client(target.url, 'holder-test');
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');

    const runner = startFerry(p.root, ['up']);
    const retriesLogged = async () => {
      if ((await column(c, `SELECT to_regclass('ferry.events') IS NOT NULL`))[0] !== true) return 0;
      return Number((await column(c, `SELECT count(*) FROM ferry.events WHERE kind = 'retry'`))[0]);
    };
    // Two retries, so the backoff between them shows; then the lock is released.
    await until('two retries to be logged', async () => (await retriesLogged()) >= 2, runner);
    await holder.query('COMMIT');
    const r = await runner.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    const logged = await c.query<{ step_id: string; reason: string; attempt: number; wait_ms: number }>(
      `SELECT step_id, reason, (details->>'attempt')::int AS attempt, (details->>'waitMs')::int AS wait_ms FROM ferry.events WHERE kind = 'retry' ORDER BY id`,
    );
    expect(logged.rows.length).toBeGreaterThanOrEqual(2);
    logged.rows.forEach((e, i) => {
      expect(e).toMatchObject({ step_id: 'widen', attempt: i + 1 });
      expect(e.reason).toContain('55P03');
    });
    const waits = logged.rows.map((e) => e.wait_ms);
    for (let i = 1; i < waits.length; i++) expect(waits[i], 'each backoff is longer than the one before').toBeGreaterThan(waits[i - 1] as number);
    expect(r.stdout.match(/⟳ \S+\/widen: .*lock timeout/g)).toHaveLength(logged.rows.length);
    expect(r.stdout).toContain(`${id}/widen  applied`);
    expect(r.stdout).toContain(`(${logged.rows.length} retries`);
    expect(await column(c, 'SELECT step FROM ledger')).toEqual(['widen']);
    expect(await column(c, 'SELECT step_id FROM ferry.applied_steps')).toEqual(['widen']);
    expect(await column(c, `SELECT count(*)::int FROM information_schema.columns WHERE table_name = 't' AND column_name = 'note'`)).toEqual([1]);
  });
});

describe('the lock file of an embedded database', () => {
  it('a second process that cannot wait for the PGlite directory names the pid holding it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-pglite-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'db');
    const p = createProject({ kind: 'pglite', dataDir, open: () => openPglite({ dataDir }) });
    // The step says it is running with a file in its data directory, then waits for the test's `release` file.
    p.migration('0001_hold', [
      {
        id: 'hold',
        up: `CREATE TABLE held (id int);
DO $$
BEGIN
  EXECUTE format('COPY (SELECT 1) TO %L', current_setting('data_directory') || '/inside-hold');
  FOR i IN 1..1200 LOOP
    IF EXISTS (SELECT FROM pg_ls_dir('.') f WHERE f = 'release') THEN RETURN; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RAISE EXCEPTION 'the test never released this step';
END $$;`,
        down: 'DROP TABLE held;',
      },
    ]);

    const holder = startFerry(p.root, ['up']);
    await until('the holder to be inside its step', () => existsSync(join(dataDir, 'inside-hold')), holder);
    expect(JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8')).pid).toBe(holder.pid);

    const refused = await runFerry(p.root, ['status', '--lock-wait', '1s']);
    expect(refused.code).toBe(7);
    expect(refused.stderr).toContain('[E_LOCKED]');
    expect(refused.stderr).toContain(`is in use by pid ${holder.pid}`);
    expect(refused.stdout).toBe('');

    writeFileSync(join(dataDir, 'release'), '');
    const held = await holder.done;
    expect(held.stderr).toBe('');
    expect(held.code).toBe(0);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    const after = await runFerry(p.root, ['status', '--lock-wait', '1s']);
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('0001_hold  expanded  1/1 steps');
  });

  it('when the holder died, processes racing to take over its lock file get it one at a time', async () => {
    const dead = await killedPid();
    // Each round: contenders find the dead process's lock file at the same moment; none may hold it alongside another.
    for (let round = 0; round < 10; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-lockfile-'));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'db.lock'), JSON.stringify({ pid: dead, host: hostname(), command: 'ferry up (killed)', since: new Date().toISOString() }));
      const outcomes = await contend(dir, 8);
      expect(
        outcomes.filter((o) => o !== 'alone'),
        `round ${round}: two processes held ${dir}/db.lock at once`,
      ).toEqual([]);
    }
  });
});
