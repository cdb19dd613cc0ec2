import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffSchemas, locksHeld, relationNames, snapshotSchema } from '../../src/db/catalog.js';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { lintMigration } from '../../src/lint/index.js';
import { loadMigration } from '../../src/migration/loader.js';
import { addEnumValue } from '../../src/operations/add-enum-value.js';
import { createEnum } from '../../src/operations/create-enum.js';
import { createType } from '../../src/operations/create-type.js';
import { droppedName, dropTable } from '../../src/operations/drop-table.js';
import type { Operation, OpPart } from '../../src/operations/types.js';
import { VirtualSchema } from '../../src/operations/virtual-schema.js';
import { up } from '../../src/workflow/apply.js';
import { down } from '../../src/workflow/rollback.js';
import { forEachDriver, serverAvailable } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { expectCleanLoad, type LoadStatement, runLikeFerry, serverDb, sqlParts, startLoad, warm } from '../helpers/op-load.js';
import { applyParts, failingChecks, revertParts } from '../helpers/operations.js';
import { createProject } from '../helpers/project.js';

/** A name that ends a quoted identifier, a literal and a dollar quote if pasted unquoted. */
const NASTY = `x"; DROP TABLE t; --$$'`;
const ROWS = 5000;

/**
 * A table whose name needs quoting, with a sequence it owns, indexes, constraints
 * of every kind and grants; an enum and a table of it; a table named NASTY.
 */
const FIXTURE = `
CREATE SCHEMA app;
CREATE TABLE app.parent (id int PRIMARY KEY);
INSERT INTO app.parent SELECT g FROM generate_series(1, 100) g;
CREATE TABLE "Order Items" (
  id bigserial PRIMARY KEY,
  parent_id int NOT NULL REFERENCES app.parent,
  email text UNIQUE,
  n int NOT NULL DEFAULT 0 CHECK (n >= 0)
);
CREATE INDEX "items by email" ON "Order Items" (lower(email)) WHERE n >= 0;
INSERT INTO "Order Items" (parent_id, email) SELECT 1 + g % 100, 'e' || g FROM generate_series(1, ${ROWS}) g;
GRANT SELECT, INSERT ON "Order Items" TO PUBLIC;
GRANT UPDATE ON "Order Items" TO pg_monitor WITH GRANT OPTION;
CREATE TYPE app.mood AS ENUM ('sad', 'ok');
CREATE TABLE app.feelings (id serial PRIMARY KEY, mood app.mood NOT NULL);
INSERT INTO app.feelings (mood) SELECT (ARRAY['sad', 'ok'])[1 + g % 2]::app.mood FROM generate_series(1, 100) g;
CREATE TABLE app."x""; DROP TABLE t; --$$'" (id int PRIMARY KEY, "a""b" int);
INSERT INTO app."x""; DROP TABLE t; --$$'" SELECT g, g FROM generate_series(1, 50) g`;

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

/** Operations whose rollback restores everything. */
const CASES: Case[] = [
  compile(createEnum, { name: 'status', values: ['new', 'paid', 'shipped'] }),
  compile(createEnum, { name: `app.${NASTY} type`, values: [NASTY, `${NASTY}2`, 'ok'] }, 'create-enum (names that need quoting)'),
  compile(createType, {
    name: 'app.address',
    attributes: [
      { name: 'street', type: 'text' },
      { name: NASTY, type: 'numeric(12,2)' },
      { name: 'tags', type: 'varchar(20)[]' },
      { name: 'mood', type: 'app.mood' },
    ],
  }),
  compile(createType, { name: NASTY, attributes: [{ name: 'a"b', type: 'timestamp with time zone' }] }, 'create-type (names that need quoting)'),
  compile(dropTable, { table: 'Order Items' }),
  compile(dropTable, { table: `app.${NASTY}` }, 'drop-table (names that need quoting)'),
];

const verifyCount = (parts: OpPart[]) => sqlParts(parts).reduce((n, p) => n + p.verify.length, 0);

/** What snapshotSchema leaves out and these operations touch: composite types and the privileges on relations. */
async function extraCatalog(db: Database): Promise<unknown[]> {
  const composites = await db.query(
    `SELECT format_type(y.oid, NULL) AS type, string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS attributes
       FROM pg_type y JOIN pg_class c ON c.oid = y.typrelid AND c.relkind = 'c'
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE y.typnamespace IN ('public'::regnamespace, 'app'::regnamespace) GROUP BY y.oid ORDER BY 1`,
  );
  const grants = await db.query(
    `SELECT c.oid::regclass::text AS relation, c.relkind::text AS kind, c.relacl::text AS acl
       FROM pg_class c WHERE c.relnamespace IN ('public'::regnamespace, 'app'::regnamespace) ORDER BY 1`,
  );
  return [composites.rows, grants.rows];
}

/** An order-independent checksum of every row of `table`, and how many there are. */
async function checksum(db: Database, table: string): Promise<{ n: number; md5: string }> {
  const { rows } = await db.query<{ n: number; md5: string }>(
    `SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS md5 FROM ${table} t`,
  );
  if (!rows[0]) throw new Error('no checksum');
  return rows[0];
}

const ITEMS = '"Order Items"';
const HIDDEN = `"${droppedName('Order Items')}"`;
const NASTY_TABLE = `app."x""; DROP TABLE t; --$$'"`;

describe('type and drop-table operation specs', () => {
  it('reject bad specs before any SQL is made', () => {
    const bad: [Operation<unknown>, unknown][] = [
      [createEnum as Operation<unknown>, { name: 'mood', values: [] }],
      [createEnum as Operation<unknown>, { name: 'mood', values: ['a', 'b', 'a'] }],
      [createEnum as Operation<unknown>, { name: 'mood', values: [''] }],
      [createEnum as Operation<unknown>, { name: 'mood', values: ['é'.repeat(32)] }],
      [createEnum as Operation<unknown>, { name: 'a.b.c', values: ['a'] }],
      [createEnum as Operation<unknown>, { name: 'mood', values: ['a'], extra: true }],
      [addEnumValue as Operation<unknown>, { type: 'mood', value: 'a', before: 'b', after: 'c' }],
      [addEnumValue as Operation<unknown>, { type: 'mood', value: 'a', after: 'a' }],
      [addEnumValue as Operation<unknown>, { type: 'mood', value: '' }],
      [addEnumValue as Operation<unknown>, { type: 'mood', value: 'a\0' }],
      [createType as Operation<unknown>, { name: 'address', attributes: [] }],
      [
        createType as Operation<unknown>,
        {
          name: 'address',
          attributes: [
            { name: 'a', type: 'int' },
            { name: 'a', type: 'text' },
          ],
        },
      ],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'a', type: 'int); DROP TABLE t; --' }] }],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'a', type: 'int, b text' }] }],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'a', type: 'int)' }] }],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'a', type: 'numeric(12,2' }] }],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'a', type: "text DEFAULT 'x'" }] }],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'a', type: '' }] }],
      [createType as Operation<unknown>, { name: 'address', attributes: [{ name: 'x'.repeat(64), type: 'int' }] }],
      [dropTable as Operation<unknown>, { table: 'a.b.c' }],
      [dropTable as Operation<unknown>, { table: 't', cascade: true }],
    ];
    for (const [op, spec] of bad) expect(op.schema.safeParse(spec).success, `${op.name} ${JSON.stringify(spec)}`).toBe(false);
  });

  it('accept the types an author writes', () => {
    for (const type of ['bigint', 'numeric(12,2)', 'varchar(100)[]', 'timestamp(3) with time zone', 'app.mood', 'app."My Type"', 'double precision']) {
      expect(createType.schema.safeParse({ name: 't', attributes: [{ name: 'a', type }] }).success, type).toBe(true);
    }
  });

  it('hide a dropped table under a name of at most 63 bytes, distinct for long names', () => {
    const long = 'é'.repeat(31);
    expect(Buffer.byteLength(droppedName(long))).toBeLessThanOrEqual(63);
    expect(droppedName(long)).not.toBe(droppedName(`${'é'.repeat(30)}a`));
    expect(droppedName('app.users')).toBe('_ferry_dropped_users');
  });

  it('add-enum-value is one statement outside a transaction, irreversible, with nothing to roll back', () => {
    const [part, ...rest] = sqlParts(compile(addEnumValue, { type: 'app.mood', value: 'happy', after: 'ok' }).expand);
    expect(rest).toEqual([]);
    expect(part).toMatchObject({ transaction: false, irreversible: true, rollback: [] });
    expect(part?.forward).toEqual([`ALTER TYPE "app"."mood" ADD VALUE IF NOT EXISTS 'happy' AFTER 'ok'`]);
  });

  it('preflight: drop-table needs an existing table and a free hidden name, and leaves a view behind', () => {
    const schema = new VirtualSchema();
    schema.addTable('public.orders', [['id', { type: 'integer', notNull: true }]]);
    schema.relations.set('public.report', 'view');
    expect(dropTable.check?.({ table: 'orders' }, schema)).toEqual([]);
    expect(dropTable.check?.({ table: 'missing' }, schema)).toEqual(['table public.missing does not exist']);
    expect(dropTable.check?.({ table: 'report' }, schema)).toEqual(['public.report is a view, not a table']);
    dropTable.apply?.({ table: 'orders' }, schema);
    expect(schema.relations.get('public.orders')).toBe('view');
    expect(schema.tables.has('public.orders')).toBe(false);
    expect(schema.relations.get('public._ferry_dropped_orders')).toBe('table');
    // Dropping a new table of the same name before contract would need the same hidden name.
    schema.addTable('public.orders');
    expect(dropTable.check?.({ table: 'orders' }, schema)).toEqual([
      'public._ferry_dropped_orders already exists: an earlier drop-table of orders is not contracted yet',
    ]);
  });

  it('preflight: a new type cannot take the name of a table, view or composite type', () => {
    const schema = new VirtualSchema();
    schema.addTable('app.orders');
    schema.relations.set('app.orders_pkey', 'index');
    expect(createEnum.check?.({ name: 'app.orders', values: ['a'] }, schema)).toEqual([
      'type app.orders cannot be created: app.orders is a table relation, whose row type has that name',
    ]);
    expect(createEnum.check?.({ name: 'app.orders_pkey', values: ['a'] }, schema)).toEqual([]);
    createType.apply?.({ name: 'app.address', attributes: [{ name: 'a', type: 'int' }] }, schema);
    expect(createType.check?.({ name: 'app.address', attributes: [{ name: 'a', type: 'int' }] }, schema)).toHaveLength(1);
  });
});

forEachDriver('type and drop-table operations', (suite) => {
  const open = async () => {
    const db = await (await suite.fresh()).open();
    await db.exec(FIXTURE);
    return db;
  };

  for (const c of CASES) {
    it(`${c.title}: forward passes its checks, rollback restores the schema, grants and rows exactly`, async () => {
      const db = await open();
      try {
        const before = await snapshotSchema(db);
        const extra = await extraCatalog(db);
        const rows = [await checksum(db, ITEMS), await checksum(db, NASTY_TABLE)];
        await applyParts(db, c.expand);
        expect(await failingChecks(db, c.expand)).toEqual([]);
        expect([diffSchemas(before, await snapshotSchema(db)), await extraCatalog(db)]).not.toEqual([[], extra]);
        await revertParts(db, c.expand);
        expect(diffSchemas(before, await snapshotSchema(db))).toEqual([]);
        expect(await extraCatalog(db)).toEqual(extra);
        expect([await checksum(db, ITEMS), await checksum(db, NASTY_TABLE)]).toEqual(rows);
        // The checks are real: with the change gone, every one of them fails.
        expect(await failingChecks(db, c.expand)).toHaveLength(verifyCount(c.expand));
      } finally {
        await db.close();
      }
    });
  }

  it('create-enum and create-type: the types work, and verify notices a type that differs from the spec', async () => {
    const db = await open();
    try {
      const e = compile(createEnum, { name: 'status', values: ['new', 'paid'] });
      const t = compile(createType, { name: 'app.address', attributes: [{ name: 'street', type: 'text' }] });
      await db.exec(`CREATE TYPE status AS ENUM ('paid', 'new'); CREATE TYPE app.address AS (street varchar(10))`);
      expect(await failingChecks(db, [...e.expand, ...t.expand])).toHaveLength(2);
      await db.exec('DROP TYPE status; DROP TYPE app.address');
      await applyParts(db, [...e.expand, ...t.expand]);
      const { rows } = await db.query(`SELECT 'paid'::status > 'new'::status AS ordered, (ROW('Main St')::app.address).street AS street`);
      expect(rows).toEqual([{ ordered: true, street: 'Main St' }]);
      await expect(applyParts(db, e.expand)).rejects.toThrow(/already exists/);
    } finally {
      await db.close();
    }
  });

  it('add-enum-value: the values land where asked, a retry is a no-op, and down has nothing to undo', async () => {
    const db = await open();
    try {
      const steps = [
        compile(addEnumValue, { type: 'app.mood', value: 'happy', after: 'ok' }),
        compile(addEnumValue, { type: 'app.mood', value: 'meh', before: 'ok' }),
        compile(addEnumValue, { type: 'app.mood', value: NASTY }),
      ].flatMap((c) => c.expand);
      const rows = await checksum(db, 'app.feelings');
      await applyParts(db, steps);
      expect(await failingChecks(db, steps)).toEqual([]);
      const labels = async () => (await db.query(`SELECT enum_range(NULL::app.mood)::text[] AS l`)).rows[0];
      expect(await labels()).toEqual({ l: ['sad', 'meh', 'ok', 'happy', NASTY] });
      // A retry after a crash finds the values there.
      await applyParts(db, steps);
      await db.query(`INSERT INTO app.feelings (mood) VALUES ('happy'), ($1)`, [NASTY]);
      const after = await snapshotSchema(db);
      await revertParts(db, steps);
      expect(diffSchemas(after, await snapshotSchema(db))).toEqual([]);
      await db.exec(`DELETE FROM app.feelings WHERE id > 100`);
      expect(await checksum(db, 'app.feelings')).toEqual(rows);
    } finally {
      await db.close();
    }
  });

  it('add-enum-value: verify fails when the value exists elsewhere than asked', async () => {
    const db = await open();
    try {
      const { expand } = compile(addEnumValue, { type: 'app.mood', value: 'sad', after: 'ok' });
      await applyParts(db, expand);
      expect(await failingChecks(db, expand)).toHaveLength(1);
    } finally {
      await db.close();
    }
  });

  it('drop-table: during expand the old name reads and writes the hidden table, and nothing is lost on rollback', async () => {
    const db = await open();
    try {
      const { expand } = compile(dropTable, { table: 'Order Items' });
      await applyParts(db, expand);
      const old = (await db.query<{ id: string }>(`INSERT INTO ${ITEMS} (parent_id, email) VALUES (1, 'via view') RETURNING id`)).rows[0]?.id;
      expect(Number(old)).toBe(ROWS + 1); // the view used the table's own sequence and defaults
      await db.query(`UPDATE ${ITEMS} SET n = 5 WHERE id = $1`, [old]);
      await db.query(`DELETE FROM ${ITEMS} WHERE id = 1`);
      expect((await db.query(`SELECT email, n FROM ${HIDDEN} WHERE id = $1`, [old])).rows).toEqual([{ email: 'via view', n: 5 }]);
      expect(await checksum(db, ITEMS)).toEqual(await checksum(db, HIDDEN));
      // The table's constraints still apply to writes through the view.
      await expect(db.query(`INSERT INTO ${ITEMS} (parent_id, email) VALUES (1, 'via view')`)).rejects.toMatchObject({ code: '23505' });
      // Roles granted on the table keep their access through the old name.
      const { rows } = await db.query(
        `SELECT has_table_privilege('public', '${ITEMS}', 'INSERT') AND has_table_privilege('pg_monitor', '${ITEMS}', 'UPDATE WITH GRANT OPTION') AS ok`,
      );
      expect(rows).toEqual([{ ok: true }]);
      const during = await checksum(db, HIDDEN);
      await revertParts(db, expand);
      expect(await checksum(db, ITEMS)).toEqual(during);
      expect((await db.query(`SELECT nextval(pg_get_serial_sequence('${ITEMS}', 'id'))::int AS id`)).rows).toEqual([{ id: ROWS + 3 }]); // the refused insert took one too;
    } finally {
      await db.close();
    }
  });

  it('drop-table: contract drops the view, the hidden table and its sequence, and nothing else', async () => {
    const db = await open();
    try {
      const c = compile(dropTable, { table: 'Order Items' });
      const before = await snapshotSchema(db);
      await applyParts(db, c.expand);
      await applyParts(db, c.contract);
      expect(await failingChecks(db, c.contract)).toEqual([]);
      await expect(db.query(`SELECT 1 FROM ${ITEMS}`)).rejects.toThrow(/does not exist/);
      await expect(db.query(`SELECT 1 FROM ${HIDDEN}`)).rejects.toThrow(/does not exist/);
      const changes = diffSchemas(before, await snapshotSchema(db)).map((ch) => JSON.stringify(ch));
      expect(changes.every((ch) => ch.includes('Order Items'))).toBe(true);
      expect(Object.keys((await snapshotSchema(db)).sequences)).toEqual([expect.stringContaining('feelings')]);
      expect((await db.query(`SELECT count(*)::int AS n FROM app.parent`)).rows).toEqual([{ n: 100 }]);
    } finally {
      await db.close();
    }
  });

  it('drop-table: contract refuses, dropping nothing, while another table references the hidden table', async () => {
    const db = await open();
    try {
      const c = compile(dropTable, { table: 'Order Items' });
      await db.exec(`CREATE TABLE app.notes (item_id bigint REFERENCES ${ITEMS})`);
      await applyParts(db, c.expand);
      await expect(applyParts(db, c.contract)).rejects.toThrow(/depend/);
      expect(await failingChecks(db, c.expand)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

/** The manifest steps of a migration that uses all four operations, the enum value in the middle. */
const MANIFEST_STEPS = [
  { id: 'status', kind: 'op', op: 'create-enum', name: 'app.status', values: ['new', 'paid'] },
  { id: 'shipped', kind: 'op', op: 'add-enum-value', type: 'app.status', value: 'shipped', after: 'paid' },
  { id: 'address', kind: 'op', op: 'create-type', name: 'app.address', attributes: [{ name: 'street', type: 'text' }] },
  { id: 'drop-items', kind: 'op', op: 'drop-table', table: 'Order Items' },
];

describe('type and drop-table operations in a manifest', () => {
  it('compile to steps: add-enum-value irreversible with no rollback, drop-table contracted (passes once registered in src/operations/index.ts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-types-ops-'));
    writeFileSync(
      join(dir, 'migration.json'),
      JSON.stringify({ title: 'types', summary: 'x', type: 'schema-additive', strategy: 'incremental', steps: MANIFEST_STEPS }),
    );
    const m = await loadMigration(dir, '0001_types');
    expect(
      m.steps.map((s) => ({
        id: s.id,
        irreversible: s.irreversible,
        rollback: s.rollback !== undefined,
        transaction: s.transaction,
        phase: s.phase ?? 'expand',
      })),
    ).toEqual([
      { id: 'status.create-enum', irreversible: false, rollback: true, transaction: true, phase: 'expand' },
      { id: 'shipped.add-enum-value', irreversible: true, rollback: false, transaction: false, phase: 'expand' },
      { id: 'address.create-type', irreversible: false, rollback: true, transaction: true, phase: 'expand' },
      { id: 'drop-items.hide-table', irreversible: false, rollback: true, transaction: true, phase: 'expand' },
      { id: 'drop-items.drop-table', irreversible: true, rollback: false, transaction: true, phase: 'contract' },
    ]);
    expect(m.steps.find((s) => s.id === 'drop-items.drop-table')?.operation?.handles).toEqual(['rename-table', 'drop-table']);
    // The rename behind the view and the contract's DROP TABLE are the operation's own, handled: no error is left to acknowledge.
    const report = lintMigration(m);
    expect(report.findings.filter((f) => f.severity === 'error' && f.status !== 'handled')).toEqual([]);
    expect(report.findings.filter((f) => f.rule === 'rename-table' || f.rule === 'drop-table').map((f) => `${f.stepId} ${f.rule} ${f.status}`)).toEqual([
      'drop-items.hide-table rename-table handled',
      'drop-items.drop-table drop-table handled',
    ]);
  });
});

forEachDriver('type and drop-table operations through up and down (pass once registered in src/operations/index.ts)', (suite) => {
  it('down stops before the enum value: refused past it, and --to it undoes the later steps exactly', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const dir = join(p.root, 'migrations', '0001_types');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'migration.json'),
      JSON.stringify({ title: 'types', summary: 'x', type: 'schema-additive', strategy: 'incremental', steps: MANIFEST_STEPS }),
    );
    const ms = await migrationsOf(p);
    const db = await target.open();
    try {
      await db.exec(FIXTURE);
      const rows = await checksum(db, ITEMS);
      await up(db, ms, testRun);
      const applied = await snapshotSchema(db);
      expect(applied.enums['app.status']).toEqual(['new', 'paid', 'shipped']);
      expect(Object.keys(applied.views)).toEqual(['public.Order Items']);
      const refused = await down(db, ms, '0001_types', testRun).catch((err: unknown) => err);
      expect(isFerryError(refused, 'E_POINT_OF_NO_RETURN') && refused.message).toMatch(/step shipped\.add-enum-value of 0001_types is irreversible/);
      expect(diffSchemas(applied, await snapshotSchema(db))).toEqual([]);
      await down(db, ms, '0001_types', { ...testRun, to: 'shipped.add-enum-value' });
      const back = await snapshotSchema(db);
      expect(back.views).toEqual({});
      expect(Object.keys(back.tables)).toContain('public.Order Items');
      expect(back.enums['app.status']).toEqual(['new', 'paid', 'shipped']);
      expect(await checksum(db, ITEMS)).toEqual(rows);
      expect((await db.query(`SELECT to_regtype('app.address') IS NULL AS gone`)).rows).toEqual([{ gone: true }]);
    } finally {
      await db.close();
    }
  });
});

const serverUp = await serverAvailable();

/** The application's mix on `table()`: inserts, updates and reads by id. */
const loadOn =
  (table: () => string): LoadStatement =>
  (i, k) => {
    const t = table();
    if (t === 'app.feelings') {
      const mood = i % 2 ? 'sad' : 'ok';
      return i % 3 === 0
        ? { sql: `INSERT INTO app.feelings (mood) VALUES ($1)`, params: [mood] }
        : { sql: `SELECT count(*) FROM app.feelings WHERE mood = $1`, params: [mood] };
    }
    const id = 1 + Math.floor(Math.random() * 100);
    if (t === 'app.parent') return { sql: `UPDATE app.parent SET id = id WHERE id = $1`, params: [id] };
    if (i % 3 === 0) return { sql: `INSERT INTO ${t} (parent_id, email) VALUES ($1, $2)`, params: [1 + (i % 100), `load-${k}-${i}-${Math.random()}`] };
    if (i % 3 === 1) return { sql: `UPDATE ${t} SET n = n + 1 WHERE id = $1`, params: [id] };
    return { sql: `SELECT email FROM ${t} WHERE id = $1`, params: [id] };
  };

const LOAD_CASES: (Case & { table: string })[] = [
  ...CASES.filter((c) => !c.title.includes('quoting')).map((c) => ({ ...c, table: ITEMS })),
  { ...compile(addEnumValue, { type: 'app.mood', value: 'happy', before: 'ok' }), table: 'app.feelings' },
];

describe.runIf(serverUp)('type and drop-table operations under a concurrent write load [server]', () => {
  for (const c of LOAD_CASES) {
    const rollback = !sqlParts(c.expand).some((p) => p.irreversible);
    it(`${c.title}: four writing sessions see no failed statement during forward${rollback ? ', rollback' : ''}${c.contract.length ? ' and contract' : ''}`, async () => {
      const { db, url } = await serverDb(FIXTURE);
      let table = c.table;
      const load = await startLoad(
        url,
        loadOn(() => table),
      );
      try {
        await warm(load);
        const phases: Record<string, { overlapping: number; finished: number }> = {};
        phases.forward = await load.around(() => runLikeFerry(db, c.expand, 'forward'));
        expect(await failingChecks(db, c.expand)).toEqual([]);
        if (rollback) {
          await warm(load);
          phases.rollback = await load.around(() => runLikeFerry(db, c.expand, 'rollback'));
          await warm(load);
          await runLikeFerry(db, c.expand, 'forward');
        }
        if (c.contract.length > 0) {
          // Old applications are gone once the migration contracts: the load moves to another table.
          table = 'app.parent';
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

  it('lock notes name the strongest lock each transactional statement takes, expand and contract', async () => {
    for (const c of CASES) {
      const { db } = await serverDb(FIXTURE);
      for (const part of sqlParts([...c.expand, ...c.contract])) {
        await db.transaction(async (tx) => {
          const named = await relationNames(tx);
          for (const s of part.forward) await tx.exec(s);
          const held = await locksHeld(tx, named);
          for (const note of part.locks) {
            const relation = note.relation.includes('.') ? note.relation : `public.${note.relation}`;
            const lock = held.find((l) => l.relation === relation || l.relation === `${relation} (dropped)`);
            expect(lock?.mode, `${c.title} ${part.name} on ${relation}`).toBe(note.mode);
          }
        });
      }
    }
  });
});
