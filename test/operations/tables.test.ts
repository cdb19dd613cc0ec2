import { describe, expect, it } from 'vitest';
import { diffSchemas, locksHeld, snapshotSchema } from '../../src/db/catalog.js';
import { addForeignKey } from '../../src/operations/add-foreign-key.js';
import { addIndex } from '../../src/operations/add-index.js';
import { addUnique } from '../../src/operations/add-unique.js';
import { createTable } from '../../src/operations/create-table.js';
import { rawSql } from '../../src/operations/raw-sql.js';
import { renameTable } from '../../src/operations/rename-table.js';
import type { Operation, OpPart } from '../../src/operations/types.js';
import { forEachDriver, serverAvailable } from '../helpers/databases.js';
import { expectCleanLoad, type LoadStatement, runLikeFerry, serverDb, session, sqlParts, startLoad, waitingOnLock, warm } from '../helpers/op-load.js';
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
const serverDbWithFixture = () => serverDb(FIXTURE);

/** The application's mix on `table()`: inserts, updates and reads by id. */
const loadOn =
  (table: () => string): LoadStatement =>
  (i, k) => {
    const id = 1 + Math.floor(Math.random() * ROWS);
    const t = table();
    if (i % 3 === 0) return { sql: `INSERT INTO ${t} (parent_id, email) VALUES ($1, $2)`, params: [1 + (i % 100), `load-${k}-${i}-${Math.random()}`] };
    if (i % 3 === 1) return { sql: `UPDATE ${t} SET n = n + 1 WHERE id = $1`, params: [id] };
    return { sql: `SELECT email FROM ${t} WHERE id = $1`, params: [id] };
  };

describe.runIf(serverUp)('table operations under a concurrent write load [server]', () => {
  for (const c of CASES) {
    it(`${c.title}: four writing sessions see no failed statement during forward, rollback${c.contract.length ? ' and contract' : ''}`, async () => {
      const { db, url } = await serverDbWithFixture();
      const renamed = c.title === 'rename-table';
      let table = '"Order Items"';
      const load = await startLoad(
        url,
        loadOn(() => table),
      );
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
        await expectCleanLoad(load, phases);
      } finally {
        await load.stop();
      }
    });
  }

  it('rename-table: a statement on the old name that waits for the rename runs on the view, never on a missing name', async () => {
    const { db, url } = await serverDbWithFixture();
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
    const { db, url } = await serverDbWithFixture();
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
      const { db } = await serverDbWithFixture();
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
