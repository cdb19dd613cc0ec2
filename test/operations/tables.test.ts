import { afterAll, describe, expect, it } from 'vitest';
import { diffSchemas, locksHeld, snapshotSchema } from '../../src/db/catalog.js';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { RETRYABLE_SQLSTATES, sqlState } from '../../src/errors.js';
import { addForeignKey } from '../../src/operations/add-foreign-key.js';
import { addIndex } from '../../src/operations/add-index.js';
import { addUnique } from '../../src/operations/add-unique.js';
import { createTable } from '../../src/operations/create-table.js';
import { rawSql } from '../../src/operations/raw-sql.js';
import { renameTable } from '../../src/operations/rename-table.js';
import type { Operation, OpPart, SqlPart } from '../../src/operations/types.js';
import { createServerDatabase, forEachDriver, serverAvailable } from '../helpers/databases.js';
import { applyParts, failingChecks, revertParts } from '../helpers/operations.js';

/** A table whose name needs quoting, in public, and a parent table in another schema. */
const FIXTURE = `
CREATE SCHEMA app;
CREATE TABLE app.parent (id int PRIMARY KEY);
INSERT INTO app.parent SELECT g FROM generate_series(1, 100) g;
CREATE TABLE "Order Items" (id bigserial PRIMARY KEY, parent_id int NOT NULL, email text, n int NOT NULL DEFAULT 0);
INSERT INTO "Order Items" (parent_id, email) SELECT 1 + g % 100, 'e' || g FROM generate_series(1, 20000) g;
GRANT SELECT, INSERT ON "Order Items" TO PUBLIC;
CREATE TABLE app."x""; DROP TABLE t; --$$'" ("a""b" int)`;
/** A name that ends a quoted identifier, a literal and a dollar quote if pasted unquoted. */
const NASTY = `x"; DROP TABLE t; --$$'`;
const ROWS = 20000;

interface Case {
  title: string;
  expand: OpPart[];
  contract: OpPart[];
}

/** Parse the spec as a manifest would, then compile it. */
function compile<S>(op: Operation<S>, spec: unknown, title = op.name): Case {
  const parsed = op.schema.parse(spec);
  return { title, expand: op.expand(parsed), contract: op.contract(parsed) };
}

const CASES: Case[] = [
  compile(addIndex, { table: 'Order Items', name: 'items by email', expression: 'lower(email)', where: 'n >= 0' }, 'add-index (expression, partial)'),
  compile(addIndex, { table: 'app.parent', name: 'parent_id_hash', columns: ['id'], using: 'hash' }, 'add-index (schema.table, hash)'),
  compile(addIndex, { table: `app.${NASTY}`, name: `${NASTY} idx`, columns: ['a"b'], unique: true }, 'add-index (names that need quoting)'),
  compile(addForeignKey, {
    table: 'Order Items',
    name: 'items_parent_fk',
    columns: ['parent_id'],
    references: { table: 'app.parent', columns: ['id'] },
    onDelete: 'cascade',
  }),
  compile(addUnique, { table: 'Order Items', name: 'items_email_key', columns: ['email'] }),
  compile(createTable, {
    table: 'app.audit',
    columns: [
      { name: 'item_id', type: 'bigint', primaryKey: true },
      { name: 'at', type: 'timestamptz', primaryKey: true, default: 'now()' },
      { name: 'note', type: 'varchar(200)', nullable: false, default: "''" },
    ],
  }),
  compile(createTable, { table: 'log', definition: 'id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, line text' }, 'create-table (definition)'),
  compile(renameTable, { from: 'Order Items', to: 'line_items' }),
  compile(rawSql, {
    forward: 'ALTER TABLE "Order Items" ADD COLUMN note text;',
    rollback: 'ALTER TABLE "Order Items" DROP COLUMN note;',
    verify: `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '"Order Items"'::regclass AND attname = 'note' AND NOT attisdropped)`,
    locks: [{ relation: 'Order Items', mode: 'AccessExclusiveLock', held: 'catalog only' }],
  }),
  compile(
    rawSql,
    {
      forward: 'CREATE INDEX CONCURRENTLY items_n ON "Order Items" (n)',
      rollback: 'DROP INDEX CONCURRENTLY IF EXISTS items_n',
      verify: `SELECT to_regclass('items_n') IS NOT NULL`,
      transaction: false,
      // A build that hit lock_timeout leaves an INVALID index behind; the retry drops it first.
      cleanup: 'DROP INDEX CONCURRENTLY IF EXISTS items_n',
    },
    'raw-sql (outside a transaction)',
  ),
];

const sqlParts = (parts: OpPart[]) => parts.filter((p): p is SqlPart => p.kind === 'sql');
const verifyCount = (parts: OpPart[]) => sqlParts(parts).reduce((n, p) => n + p.verify.length, 0);

describe('table operation specs', () => {
  it('reject ambiguous or unsafe specs before any SQL is made', () => {
    const bad: [Operation<unknown>, unknown][] = [
      [addIndex as Operation<unknown>, { table: 't', name: 'i', columns: ['a'], expression: 'lower(a)' }],
      [addIndex as Operation<unknown>, { table: 't', name: 'x'.repeat(64), columns: ['a'] }],
      [addIndex as Operation<unknown>, { table: 'a.b.c', name: 'i', columns: ['a'] }],
      [addForeignKey as Operation<unknown>, { table: 't', name: 'fk', columns: ['a', 'b'], references: { table: 'p', columns: ['id'] } }],
      [createTable as Operation<unknown>, { table: 't', columns: [{ name: 'a', type: 'int' }], definition: 'a int' }],
      [renameTable as Operation<unknown>, { from: 'app.t', to: 'other.t2' }],
      [rawSql as Operation<unknown>, { forward: 'SELECT 1', rollback: '' }],
    ];
    for (const [op, spec] of bad) expect(op.schema.safeParse(spec).success, `${op.name} ${JSON.stringify(spec)}`).toBe(false);
  });
});

forEachDriver('table operations', (suite) => {
  const open = async () => {
    const db = await (await suite.fresh()).open();
    await db.exec(FIXTURE);
    return db;
  };

  for (const c of CASES) {
    it(`${c.title}: forward passes its checks, rollback restores the schema exactly`, async () => {
      const db = await open();
      try {
        const before = await snapshotSchema(db);
        await applyParts(db, c.expand);
        expect(await failingChecks(db, c.expand)).toEqual([]);
        expect(diffSchemas(before, await snapshotSchema(db))).not.toEqual([]);
        await revertParts(db, c.expand);
        expect(diffSchemas(before, await snapshotSchema(db))).toEqual([]);
        // The checks are real: with the change gone, every one of them fails.
        expect(await failingChecks(db, c.expand)).toHaveLength(verifyCount(c.expand));
      } finally {
        await db.close();
      }
    });
  }

  it('rename-table: contract drops the compatibility view and keeps the table', async () => {
    const db = await open();
    try {
      const c = compile(renameTable, { from: 'Order Items', to: 'line_items' });
      await applyParts(db, c.expand);
      await applyParts(db, c.contract);
      expect(await failingChecks(db, c.contract)).toEqual([]);
      expect((await db.query(`SELECT count(*)::int AS n FROM line_items`)).rows).toEqual([{ n: ROWS }]);
      await expect(db.query('SELECT 1 FROM "Order Items"')).rejects.toThrow(/does not exist/);
    } finally {
      await db.close();
    }
  });

  it('rename-table: during expand, writes through either name are seen through both', async () => {
    const db = await open();
    try {
      await applyParts(db, compile(renameTable, { from: 'Order Items', to: 'line_items' }).expand);
      const old = (await db.query<{ id: string }>(`INSERT INTO "Order Items" (parent_id, email) VALUES (1, 'via old') RETURNING id`)).rows[0]?.id;
      const neu = (await db.query<{ id: string }>(`INSERT INTO line_items (parent_id, email) VALUES (2, 'via new') RETURNING id`)).rows[0]?.id;
      expect(Number(neu)).toBe(Number(old) + 1); // the view used the table's own id sequence
      await db.query(`UPDATE "Order Items" SET n = 7 WHERE id = $1`, [neu]);
      await db.query(`UPDATE line_items SET n = 8 WHERE id = $1`, [old]);
      for (const name of ['"Order Items"', 'line_items']) {
        const { rows } = await db.query(`SELECT email, n FROM ${name} WHERE id IN ($1, $2) ORDER BY id`, [old, neu]);
        expect(rows).toEqual([
          { email: 'via old', n: 8 },
          { email: 'via new', n: 7 },
        ]);
        expect((await db.query(`SELECT count(*)::int AS n FROM ${name}`)).rows).toEqual([{ n: ROWS + 2 }]);
      }
      await db.query(`DELETE FROM "Order Items" WHERE id = $1`, [neu]);
      expect((await db.query(`SELECT count(*)::int AS n FROM line_items`)).rows).toEqual([{ n: ROWS + 1 }]);
      // Roles granted on the table keep their access through the old name.
      const { rows } = await db.query(`SELECT has_table_privilege('public', '"Order Items"', 'INSERT') AS ok`);
      expect(rows).toEqual([{ ok: true }]);
    } finally {
      await db.close();
    }
  });

  it('add-index: a failed unique build leaves no INVALID index after cleanup, and succeeds once the data is fixed', async () => {
    const db = await open();
    try {
      const [part] = sqlParts(compile(addIndex, { table: 'Order Items', name: 'items_email_uq', columns: ['email'], unique: true }).expand);
      if (!part) throw new Error('no part');
      await db.exec(`INSERT INTO "Order Items" (parent_id, email) VALUES (1, 'e1')`);
      await expect(applyParts(db, [part])).rejects.toMatchObject({ code: '23505' });
      const invalid = async () => Object.values((await snapshotSchema(db)).indexes).filter((i) => !i.valid).length;
      if (suite.kind === 'server') expect(await invalid()).toBe(1);
      for (const s of part.cleanup ?? []) await db.exec(s);
      expect(await invalid()).toBe(0);
      expect(await failingChecks(db, [part])).toHaveLength(1);

      await db.exec(`DELETE FROM "Order Items" WHERE email = 'e1' AND id > ${ROWS}`);
      await applyParts(db, [part]);
      expect(await failingChecks(db, [part])).toEqual([]);
      // Cleanup refuses to drop a valid index (a retry after a name clash must not take someone's index).
      await expect(db.exec(part.cleanup?.join(';\n') ?? '')).rejects.toThrow(/is valid/);
      expect(await failingChecks(db, [part])).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

const serverUp = await serverAvailable();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function serverDb(): Promise<{ db: Database; url: string }> {
  const created = await createServerDatabase();
  cleanups.push(created.drop);
  const db = await openServer({ url: created.url });
  cleanups.push(() => db.close());
  await db.exec(FIXTURE);
  return { db, url: created.url };
}

/** Another application session on the same database, closed after the file. */
async function session(url: string, applicationName: string): Promise<Database> {
  const db = await openServer({ url, applicationName });
  cleanups.push(() => db.close());
  return db;
}

/** Wait until the session named `applicationName` is blocked on a lock. */
async function waitingOnLock(watch: Database, applicationName: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const { rows } = await watch.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND datname = current_database()`,
      [applicationName],
    );
    if (rows.length > 0) return;
    await sleep(10);
  }
  throw new Error(`${applicationName} never waited on a lock`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run parts as ferry does: each under a short lock_timeout, retried with backoff on lock timeouts, cleanup before a retry. */
async function runLikeFerry(db: Database, parts: OpPart[], direction: 'forward' | 'rollback'): Promise<number> {
  let retries = 0;
  for (const part of direction === 'forward' ? sqlParts(parts) : sqlParts(parts).reverse()) {
    const statements = direction === 'forward' ? part.forward : part.rollback;
    for (let attempt = 0; ; attempt++) {
      try {
        if (part.transaction) {
          await db.transaction(async (tx) => {
            await tx.exec(`SET LOCAL lock_timeout = '100ms'`);
            for (const s of statements) await tx.exec(s);
          });
        } else {
          await db.exec(`SET lock_timeout = '100ms'`);
          try {
            for (const s of statements) await db.exec(s);
          } finally {
            await db.exec('RESET lock_timeout');
          }
        }
        break;
      } catch (err) {
        if (!RETRYABLE_SQLSTATES.has(sqlState(err) ?? '') || attempt >= 40) throw err;
        retries++;
        if (direction === 'forward') for (const s of part.cleanup ?? []) await db.exec(s).catch(() => {});
        await sleep(10 * 2 ** Math.min(attempt, 4));
      }
    }
  }
  return retries;
}

/** Four application sessions reading and writing `table()` in a loop; every statement's start and end are kept. */
async function startLoad(url: string, table: () => string) {
  const sessions = await Promise.all([1, 2, 3, 4].map(() => openServer({ url, applicationName: 'app-load' })));
  const runs: { start: number; end: number }[] = [];
  const failures: string[] = [];
  let stopping = false;
  const loops = sessions.map(async (s, k) => {
    for (let i = 0; !stopping; i++) {
      const start = performance.now();
      const id = 1 + Math.floor(Math.random() * ROWS);
      const t = table();
      try {
        if (i % 3 === 0) await s.query(`INSERT INTO ${t} (parent_id, email) VALUES ($1, $2)`, [1 + (i % 100), `load-${k}-${i}-${Math.random()}`]);
        else if (i % 3 === 1) await s.query(`UPDATE ${t} SET n = n + 1 WHERE id = $1`, [id]);
        else await s.query(`SELECT email FROM ${t} WHERE id = $1`, [id]);
        runs.push({ start, end: performance.now() });
      } catch (err) {
        failures.push(`${t}: ${(err as Error).message}`);
      }
    }
  });
  let stopped: Promise<void> | undefined;
  return {
    failures,
    finished: () => runs.length,
    /** Statements whose run overlapped `during`, and how many finished inside it. */
    async around(during: () => Promise<unknown>): Promise<{ overlapping: number; finished: number }> {
      const from = performance.now();
      await during();
      const to = performance.now();
      return { overlapping: runs.filter((r) => r.end >= from && r.start <= to).length, finished: runs.filter((r) => r.end >= from && r.end <= to).length };
    },
    stop() {
      stopping = true;
      stopped ??= Promise.all(loops)
        .then(() => Promise.all(sessions.map((s) => s.close())))
        .then(() => {});
      return stopped;
    },
  };
}

/** Wait until `n` more load statements have finished, so the load is running before and after each phase. */
async function warm(load: Awaited<ReturnType<typeof startLoad>>, n = 20): Promise<void> {
  const target = load.finished() + n;
  for (let i = 0; i < 1000 && load.finished() < target; i++) await sleep(5);
  expect(load.finished()).toBeGreaterThanOrEqual(target);
}

describe.runIf(serverUp)('table operations under a concurrent write load [server]', () => {
  for (const c of CASES) {
    it(`${c.title}: four writing sessions see no failed statement during forward, rollback${c.contract.length ? ' and contract' : ''}`, async () => {
      const { db, url } = await serverDb();
      const renamed = c.title === 'rename-table';
      let table = '"Order Items"';
      const load = await startLoad(url, () => table);
      try {
        await warm(load);
        const phases: Record<string, { overlapping: number; finished: number }> = {};
        phases.forward = await load.around(() => runLikeFerry(db, c.expand, 'forward'));
        expect(await failingChecks(db, c.expand)).toEqual([]);
        await warm(load);
        phases.rollback = await load.around(() => runLikeFerry(db, c.expand, 'rollback'));
        if (c.contract.length > 0) {
          await runLikeFerry(db, c.expand, 'forward');
          // Old applications are gone once the migration contracts: the load moves to the new name.
          if (renamed) table = 'line_items';
          await warm(load);
          phases.contract = await load.around(() => runLikeFerry(db, c.contract, 'forward'));
          expect(await failingChecks(db, c.contract)).toEqual([]);
        }
        await warm(load);
        await load.stop();
        expect(load.failures).toEqual([]);
        for (const [phase, seen] of Object.entries(phases)) expect(seen.overlapping, `load statements during ${phase}`).toBeGreaterThan(0);
      } finally {
        await load.stop();
      }
    });
  }

  it('rename-table: a statement on the old name that waits for the rename runs on the view, never on a missing name', async () => {
    const { db, url } = await serverDb();
    const app = await session(url, 'old-app');
    const watch = await session(url, 'watch');
    const [part] = sqlParts(compile(renameTable, { from: 'Order Items', to: 'line_items' }).expand);
    if (!part) throw new Error('no part');
    expect(part.transaction).toBe(true);
    let inserted: Promise<unknown> | undefined;
    await db.transaction(async (tx) => {
      await tx.exec(part.forward[0] ?? '');
      // The old application writes while the table is renamed but the view is not there yet.
      inserted = app.query(`INSERT INTO "Order Items" (parent_id, email) VALUES (1, 'waited') RETURNING id`).then(
        (r) => r.rows,
        (err: Error) => err.message,
      );
      await waitingOnLock(watch, 'old-app');
      for (const s of part.forward.slice(1)) await tx.exec(s);
    });
    expect(await inserted).toHaveLength(1);
    expect((await db.query(`SELECT count(*)::int AS n FROM line_items WHERE email = 'waited'`)).rows).toEqual([{ n: 1 }]);
  });

  it('add-index: the concurrent build holds only ShareUpdateExclusiveLock on the table, and writes go on while it waits', async () => {
    const { db, url } = await serverDb();
    const builder = await session(url, 'builder');
    const writer = await session(url, 'writer');
    const [part] = sqlParts(compile(addIndex, { table: 'Order Items', name: 'items_n', columns: ['n'] }).expand);
    if (!part) throw new Error('no part');
    // An open write transaction the build must wait for.
    await db.exec(`BEGIN; UPDATE "Order Items" SET n = n + 1 WHERE id = 1`);
    const built = builder.exec(part.forward[0] ?? '').then(
      () => 'built',
      (err: Error) => err.message,
    );
    await waitingOnLock(writer, 'builder');
    const { rows } = await writer.query(
      `SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE a.application_name = 'builder' AND l.granted AND l.relation = '"Order Items"'::regclass`,
    );
    expect(rows).toEqual([{ mode: part.locks[0]?.mode }]);
    await writer.exec(`INSERT INTO "Order Items" (parent_id, email) VALUES (1, 'during build'); UPDATE "Order Items" SET n = 1 WHERE id = 2`);
    await db.exec('COMMIT');
    expect(await built).toBe('built');
    expect(await failingChecks(db, [part])).toEqual([]);
  });

  it('lock notes name the strongest lock each transactional forward statement takes', async () => {
    for (const c of CASES) {
      const { db } = await serverDb();
      for (const part of sqlParts(c.expand)) {
        if (!part.transaction) {
          for (const s of part.forward) await db.exec(s);
          continue;
        }
        await db.transaction(async (tx) => {
          for (const s of part.forward) await tx.exec(s);
          const held = await locksHeld(tx);
          for (const note of part.locks) {
            const relation = note.relation.includes('.') ? note.relation : `public.${note.relation}`;
            expect(held.find((l) => l.relation === relation)?.mode, `${c.title} ${part.name} on ${relation}`).toBe(note.mode);
          }
        });
      }
    }
  });
});
