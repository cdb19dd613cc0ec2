import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { Database, Queryable } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { ensureMigrationRecord, ensureState, readEvents, readState, recordProgress } from '../../src/state/store.js';
import { up } from '../../src/workflow/apply.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, observable, testRun } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';

// `up` commits a migration's lifecycle moves with the step they go with (approved with its first
// step, expanded with its last): these tests pin what that must not cost — each step still
// commits alone with its record, its checksum and its events, and a failed step leaves nothing.

/** The transaction that created table `name` (its catalog row's xmin). */
async function createdBy(db: Queryable, name: string): Promise<string | undefined> {
  const { rows } = await db.query<{ x: string }>('SELECT xmin::text AS x FROM pg_class WHERE oid = to_regclass($1)', [name]);
  return rows[0]?.x;
}

/** The transaction of each ferry row about migration `id`: its record, its applied steps, its transition events. */
async function bookkeepingTxns(db: Database, id: string) {
  const one = async (sql: string) => (await db.query<{ x: string; what: string }>(sql, [id])).rows;
  return {
    record: (await one('SELECT xmin::text AS x, phase AS what FROM ferry.migrations WHERE id = $1'))[0]?.x,
    steps: await one('SELECT xmin::text AS x, step_id AS what FROM ferry.applied_steps WHERE migration_id = $1 ORDER BY position'),
    moves: await one(
      `SELECT xmin::text AS x, from_phase || '→' || to_phase AS what FROM ferry.events WHERE migration_id = $1 AND kind = 'transition' ORDER BY id`,
    ),
  };
}

forEachDriver('a step commits alone with its record and the moves it goes with', (suite) => {
  it('a one-step migration is one transaction: its SQL, its record with checksums, and both lifecycle moves', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const id = p.migration('0001_one', [{ id: 'create', up: 'CREATE TABLE one (a int);', down: 'DROP TABLE one;' }]);
    const ms = await migrationsOf(p);
    const db = await target.open();
    try {
      const report = await up(db, ms, testRun);
      expect(report.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['planned→approved', 'approved→expanded']);
      const txn = await createdBy(db, 'one');
      const b = await bookkeepingTxns(db, id);
      expect(b.record).toBe(txn);
      expect(b.steps).toEqual([{ x: txn, what: 'create' }]);
      expect(b.moves).toEqual([
        { x: txn, what: 'planned→approved' },
        { x: txn, what: 'approved→expanded' },
      ]);
      const state = await readState(db);
      expect(state.migrations.get(id)).toMatchObject({ phase: 'expanded', checksum: ms[0]?.checksum });
      expect(state.migrations.get(id)?.definition).toEqual(ms[0]?.definition);
      expect(state.applied.get(id)?.map((a) => a.checksum)).toEqual([ms[0]?.steps[0]?.checksum]);
    } finally {
      await db.close();
    }
  });

  it('each step of a longer migration is its own transaction; approved commits with the first, expanded with the last', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const id = p.migration('0001_three', [
      { id: 'a', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;' },
      { id: 'b', up: 'CREATE TABLE b (x int);\nINSERT INTO b VALUES (1);', down: 'DROP TABLE b;' },
      { id: 'c', up: 'CREATE TABLE c (x int);', down: 'DROP TABLE c;' },
    ]);
    const db = await target.open();
    try {
      await up(db, await migrationsOf(p), testRun);
      const [a, b, c] = [await createdBy(db, 'a'), await createdBy(db, 'b'), await createdBy(db, 'c')];
      expect(new Set([a, b, c]).size).toBe(3);
      const txns = await bookkeepingTxns(db, id);
      expect(txns.steps).toEqual([
        { x: a, what: 'a' },
        { x: b, what: 'b' },
        { x: c, what: 'c' },
      ]);
      expect(txns.moves).toEqual([
        { x: a, what: 'planned→approved' },
        { x: c, what: 'approved→expanded' },
      ]);
    } finally {
      await db.close();
    }
  });

  it('a first step that fails leaves neither its effect, nor its record, nor a move; the next run applies it once', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const id = p.migration('0001_fails', [
      { id: 'first', up: 'CREATE TABLE first_t (x int);\nINSERT INTO missing VALUES (1);', down: 'DROP TABLE first_t;' },
      { id: 'second', up: 'CREATE TABLE second_t (x int);', down: 'DROP TABLE second_t;' },
    ]);
    const db = await target.open();
    try {
      const err = await up(db, await migrationsOf(p), testRun).catch((e: unknown) => e);
      expect(isFerryError(err, 'E_STEP')).toBe(true);
      expect((err as Error).message).toMatch(/first\.up\.sql:2\): relation "missing" does not exist/);
      expect(await createdBy(db, 'first_t')).toBeUndefined();
      const state = await readState(db);
      expect(state.applied.get(id) ?? []).toEqual([]);
      expect(state.migrations.get(id)?.phase ?? 'planned').toBe('planned');
      expect(await readEvents(db, id)).toEqual([]);

      writeFileSync(p.file(id, 'first.up.sql'), 'CREATE TABLE first_t (x int);\n');
      const report = await up(db, await migrationsOf(p), testRun);
      expect(report.steps.map((s) => s.stepId)).toEqual(['first', 'second']);
      expect(report.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['planned→approved', 'approved→expanded']);
      expect((await bookkeepingTxns(db, id)).moves.map((m) => m.what)).toEqual(['planned→approved', 'approved→expanded']);
    } finally {
      await db.close();
    }
  });

  it('a last step that fails keeps the earlier steps and the approval, and moves to expanded only when it is applied', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const id = p.migration('0001_last_fails', [
      { id: 'first', up: 'CREATE TABLE first_t (x int);', down: 'DROP TABLE first_t;' },
      { id: 'last', up: 'CREATE TABLE last_t (x int);\nSELECT 1 / 0;', down: 'DROP TABLE last_t;' },
    ]);
    const db = await target.open();
    try {
      expect(isFerryError(await up(db, await migrationsOf(p), testRun).catch((e: unknown) => e), 'E_STEP')).toBe(true);
      expect(await createdBy(db, 'last_t')).toBeUndefined();
      const state = await readState(db);
      expect(state.applied.get(id)?.map((a) => a.stepId)).toEqual(['first']);
      expect(state.migrations.get(id)?.phase).toBe('approved');

      writeFileSync(p.file(id, 'last.up.sql'), 'CREATE TABLE last_t (x int);\n');
      const report = await up(db, await migrationsOf(p), testRun);
      expect(report.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['approved→expanded']);
      const txns = await bookkeepingTxns(db, id);
      expect(txns.moves.at(-1)).toEqual({ x: await createdBy(db, 'last_t'), what: 'approved→expanded' });
    } finally {
      await db.close();
    }
  });

  it('runs every step under the migration lock: a second runner waiting for it then finds nothing to apply', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    // On a server each step notes whether its own session holds ferry's advisory lock; PGlite's lock lives in the process.
    const held =
      suite.kind === 'server'
        ? `INSERT INTO seen SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid();`
        : `INSERT INTO seen VALUES (1);`;
    p.migration('0001_seen', [{ id: 'setup', up: `CREATE TABLE seen (locks int);\n${held}`, down: 'DROP TABLE seen;' }]);
    p.migration('0002_seen', [{ id: 'again', up: `SELECT pg_sleep(0.2);\n${held}`, down: 'DELETE FROM seen;' }]);
    const ms = await migrationsOf(p);
    const first = await target.open();
    // PGlite is one session per process: both runners share it, as two runners in one process would.
    const second = suite.kind === 'server' ? await target.open() : first;
    try {
      const [a, b] = await Promise.all([up(first, ms, testRun), up(second, ms, testRun)]);
      expect([a.steps.length, b.steps.length].sort()).toEqual([0, 2]);
      expect((await first.query<{ locks: number }>('SELECT locks FROM seen')).rows.map((r) => Number(r.locks))).toEqual([1, 1]);
    } finally {
      if (second !== first) await second.close();
      await first.close();
    }
  });

  it('a one-statement step is one script (BEGIN, its lock_timeout and its SQL) and one bookkeeping statement in its transaction', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_timed', [{ id: 'create', up: "CREATE TABLE timed AS SELECT current_setting('lock_timeout') AS t;", down: 'DROP TABLE timed;' }]);
    p.migration('0002_plain', [
      { id: 'a', up: 'CREATE TABLE plain_a (x int);', down: 'DROP TABLE plain_a;' },
      { id: 'b', up: 'CREATE TABLE plain_b (x int);', down: 'DROP TABLE plain_b;' },
    ]);
    const ms = await migrationsOf(p);
    const db = await target.open();
    try {
      // The same database, with each transaction's calls counted: scripts (exec) and parameterised statements (query).
      const calls: { exec: number; query: number }[] = [];
      const counted: Database = {
        ...db,
        transaction: (fn) =>
          db.transaction((tx) => {
            const n = { exec: 0, query: 0 };
            calls.push(n);
            return fn({
              exec(sql) {
                n.exec++;
                return tx.exec(sql);
              },
              query(sql, params) {
                n.query++;
                return tx.query(sql, params);
              },
            });
          }),
      };
      const report = await up(counted, ms, { ...testRun, lockTimeoutMs: 1234 });
      expect(report.steps.map((x) => x.stepId)).toEqual(['create', 'a', 'b']);
      // ensureState's transaction first, then one per step.
      expect(calls.slice(-3)).toEqual([
        { exec: 1, query: 1 },
        { exec: 1, query: 1 },
        { exec: 1, query: 1 },
      ]);
      // The step ran under the lock_timeout set in its own transaction, and it was local to it.
      expect((await db.query<{ t: string }>('SELECT t FROM timed')).rows).toEqual([{ t: '1234ms' }]);
      expect((await db.query<{ t: string }>("SELECT current_setting('lock_timeout') AS t")).rows[0]?.t).not.toBe('1234ms');
      expect((await bookkeepingTxns(db, '0002_plain')).moves.map((m) => m.what)).toEqual(['planned→approved', 'approved→expanded']);
    } finally {
      await db.close();
    }
  });

  it('the bookkeeping writes nothing, and says why, when the migration is not in the phase the run read', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      await ensureState(db);
      await ensureMigrationRecord(db, '0001_moved', 'moved', 'c1');
      await db.query(`UPDATE ferry.migrations SET phase = 'approved' WHERE id = '0001_moved'`);
      const before = await observable(db, true);
      const err = await recordProgress(db, {
        migrationId: '0001_moved',
        title: 'moved',
        checksum: 'c2',
        expected: 'planned',
        actor: 'test',
        moves: [{ from: 'planned', to: 'approved', reason: 'test' }],
      }).catch((e: unknown) => e);
      expect(isFerryError(err, 'E_LOCKED')).toBe(true);
      expect((err as Error).message).toBe(
        'migration 0001_moved is approved, not planned as this run read it under the migration lock; nothing of this step was kept',
      );
      expect(await observable(db, true)).toBe(before);
    } finally {
      await db.close();
    }
  });
});
