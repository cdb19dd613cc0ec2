import { describe, expect, it } from 'vitest';
import { diffSchemas, snapshotSchema } from '../../src/db/catalog.js';
import type { Database } from '../../src/db/database.js';
import { sqlState } from '../../src/errors.js';
import { addColumn } from '../../src/operations/add-column.js';
import { addIndex } from '../../src/operations/add-index.js';
import { changeType } from '../../src/operations/change-type.js';
import { composeOperations } from '../../src/operations/compose.js';
import { createTable } from '../../src/operations/create-table.js';
import { dropColumn } from '../../src/operations/drop-column.js';
import type { Operation, OpPart, SqlPart } from '../../src/operations/types.js';
import { ensureState } from '../../src/state/store.js';
import { forEachDriver, serverAvailable } from '../helpers/databases.js';
import { type LoadStatement, runLikeFerry, serverDb, startLoad, warm } from '../helpers/op-load.js';
import { applyParts, failingChecks, revertParts } from '../helpers/operations.js';

/** A table whose name needs quoting, in a schema of its own, with 2,000 rows. */
const FIXTURE = `
CREATE SCHEMA app;
CREATE TABLE app."Items" (id bigserial PRIMARY KEY, email text, tag text, doc jsonb, n int NOT NULL DEFAULT 0, at timestamp);
INSERT INTO app."Items" (email, tag, doc, n, at)
  SELECT 'e' || g, 't' || (g % 10), jsonb_build_object('g', g), g % 50, timestamp '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 2000) g;`;
const T = 'app.Items';

/** Parse as a manifest would, then compile. */
function compile<S>(op: Operation<S>, spec: unknown): { expand: OpPart[]; contract: OpPart[] } {
  const parsed = op.schema.parse(spec);
  return { expand: op.expand(parsed), contract: op.contract(parsed) };
}
const onlySql = (parts: OpPart[]) => parts.filter((p): p is SqlPart => p.kind === 'sql');
const first = async (db: Database, sql: string): Promise<unknown> => {
  const { rows } = await db.query<Record<string, unknown>>(sql);
  return rows[0] ? Object.values(rows[0])[0] : undefined;
};
const indexDef = (db: Database, name: string) => first(db, `SELECT pg_get_indexdef(to_regclass(${`'app."${name}"'`}))`);
const defaultOf = (db: Database, column: string) =>
  first(
    db,
    `SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE d.adrelid = 'app."Items"'::regclass AND a.attname = '${column}'`,
  );

/** Each new index option, and the definition pg_get_indexdef shows for it. */
const INDEXES: { spec: Record<string, unknown>; def: string }[] = [
  {
    spec: {
      name: 'items opts',
      columns: [{ name: 'email', opclass: 'text_pattern_ops', order: 'desc', nulls: 'last' }, 'n'],
      include: ['tag'],
      with: { fillfactor: 70 },
    },
    def: 'CREATE INDEX "items opts" ON app."Items" USING btree (email text_pattern_ops DESC NULLS LAST, n) INCLUDE (tag) WITH (fillfactor=\'70\')',
  },
  {
    spec: { name: 'items_email_nnd', columns: ['email'], unique: true, nullsNotDistinct: true },
    def: 'CREATE UNIQUE INDEX items_email_nnd ON app."Items" USING btree (email) NULLS NOT DISTINCT',
  },
  {
    spec: { name: 'items_doc', using: 'gin', columns: [{ name: 'doc', opclass: 'pg_catalog.jsonb_path_ops' }], with: { fastupdate: 'off' } },
    def: 'CREATE INDEX items_doc ON app."Items" USING gin (doc jsonb_path_ops) WITH (fastupdate=off)',
  },
  {
    spec: { name: 'items_at', using: 'brin', columns: ['at'], with: { pages_per_range: 16, autosummarize: true } },
    def: "CREATE INDEX items_at ON app.\"Items\" USING brin (at) WITH (pages_per_range='16', autosummarize='true')",
  },
];

describe('option specs', () => {
  it('plain add-index specs generate the SQL ferry generated before the options (same step checksums)', () => {
    const [hash] = onlySql(compile(addIndex, { table: 'app.parent', name: 'parent_id_hash', columns: ['id'], using: 'hash' }).expand);
    expect(hash?.forward).toEqual(['CREATE INDEX CONCURRENTLY "parent_id_hash" ON "app"."parent" USING hash ("id")']);
    expect(hash?.rollback).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "app"."parent_id_hash"']);
    expect(hash?.verify).toEqual([
      `SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('"app"."parent_id_hash"') AND indrelid = to_regclass('"app"."parent"') AND indisvalid)`,
    ]);
    const [partial] = onlySql(compile(addIndex, { table: 'Order Items', name: 'items by email', expression: 'lower(email)', where: 'n >= 0' }).expand);
    expect(partial?.forward).toEqual(['CREATE INDEX CONCURRENTLY "items by email" ON "public"."Order Items" ((lower(email))) WHERE (n >= 0)']);
    const [unique] = onlySql(compile(addIndex, { table: 'app.x', name: 'x idx', columns: ['a"b', 'c'], unique: true }).expand);
    expect(unique?.forward).toEqual(['CREATE UNIQUE INDEX CONCURRENTLY "x idx" ON "app"."x" ("a""b", "c")']);
    // A column given as an object with only its name is the same column.
    const [named] = onlySql(compile(addIndex, { table: 'app.x', name: 'x idx', columns: [{ name: 'a"b' }, 'c'], unique: true }).expand);
    expect(named?.forward).toEqual(unique?.forward);
    const [table] = onlySql(compile(createTable, { table: 'app.audit', columns: [{ name: 'item_id', type: 'bigint', primaryKey: true }] }).expand);
    expect(table?.forward).toEqual(['CREATE TABLE "app"."audit" (\n  "item_id" bigint NOT NULL,\n  PRIMARY KEY ("item_id")\n)']);
    const column = onlySql(compile(addColumn, { table: 'users', column: 'status', type: 'text', default: "'new'" }).expand);
    expect(column.map((p) => p.forward)).toEqual([[`ALTER TABLE "public"."users" ADD COLUMN "status" text DEFAULT ('new')`]]);
  });

  it('storage parameters and operator classes are quoted, never pasted', () => {
    const [part] = onlySql(
      compile(addIndex, { table: T, name: 'i', columns: [{ name: 'doc', opclass: 'pg_catalog.jsonb_path_ops' }], using: 'gin', with: { fastupdate: 'off' } })
        .expand,
    );
    expect(part?.forward).toEqual([
      `CREATE INDEX CONCURRENTLY "i" ON "app"."Items" USING gin ("doc" "pg_catalog"."jsonb_path_ops") WITH ("fastupdate" = 'off')`,
    ]);
  });

  it('rejects unsafe or meaningless options before any SQL is made', () => {
    const base = { table: T, name: 'i', columns: ['email'] };
    const bad: unknown[] = [
      { ...base, with: { 'fillfactor = 1); DROP TABLE x; --': 1 } },
      { ...base, with: { fillfactor: "70'); DROP TABLE x; --" } },
      { ...base, with: { fillfactor: Number.POSITIVE_INFINITY } },
      { ...base, columns: [{ name: 'email', opclass: 'a.b.c' }] },
      { ...base, columns: [{ name: 'email', order: 'sideways' }] },
      { ...base, columns: [{ name: 'email', order: 'desc' }], using: 'gin' },
      { ...base, include: ['tag'], using: 'gin' },
      { ...base, nullsNotDistinct: true },
      { ...base, columns: [{ name: 'email', extra: 1 }] },
    ];
    for (const spec of bad) expect(addIndex.schema.safeParse(spec).success, JSON.stringify(spec)).toBe(false);
    expect(createTable.schema.safeParse({ table: 't', columns: [{ name: 'a', type: 'int', check: '' }] }).success).toBe(false);
    expect(addColumn.schema.safeParse({ table: 't', column: 'a', type: 'int', comment: '' }).success).toBe(false);
  });
});

forEachDriver('operation options', (suite) => {
  const open = async () => {
    const db = await (await suite.fresh()).open();
    await db.exec(FIXTURE);
    return db;
  };

  /** Forward, its checks pass, `inspect` sees the change; rollback restores the schema exactly and every check fails again. */
  async function roundTrip(db: Database, parts: OpPart[], inspect: () => Promise<void>): Promise<void> {
    const before = await snapshotSchema(db);
    await applyParts(db, parts);
    expect(await failingChecks(db, parts)).toEqual([]);
    await inspect();
    await revertParts(db, parts);
    expect(diffSchemas(before, await snapshotSchema(db))).toEqual([]);
  }

  for (const c of INDEXES) {
    it(`add-index ${JSON.stringify(c.spec)}: pg_get_indexdef shows the options; rollback restores the schema exactly`, async () => {
      const db = await open();
      try {
        const { expand } = compile(addIndex, { table: T, ...c.spec });
        await roundTrip(db, expand, async () => expect(await indexDef(db, String(c.spec.name))).toBe(c.def));
        expect(await failingChecks(db, expand)).toHaveLength(1);
      } finally {
        await db.close();
      }
    });
  }

  it('create-table with a table comment and per-column comment, unique and check', async () => {
    const db = await open();
    try {
      const { expand } = compile(createTable, {
        table: 'app.tags',
        comment: "tags of items; it's 'quoted'",
        columns: [
          { name: 'id', type: 'bigint', primaryKey: true, comment: 'the id' },
          { name: 'label', type: 'text', nullable: false, unique: true, check: "label <> ''", comment: 'shown; "as is"' },
          { name: 'weight', type: 'int', default: '1', check: 'weight > 0' },
        ],
      });
      await roundTrip(db, expand, async () => {
        expect(await first(db, `SELECT obj_description('app.tags'::regclass, 'pg_class')`)).toBe("tags of items; it's 'quoted'");
        expect(await first(db, `SELECT col_description('app.tags'::regclass, 1)`)).toBe('the id');
        expect(await first(db, `SELECT col_description('app.tags'::regclass, 2)`)).toBe('shown; "as is"');
        const { rows } = await db.query<{ conname: string; def: string }>(
          `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'app.tags'::regclass AND contype <> 'n' ORDER BY conname`,
        );
        expect(rows).toEqual([
          { conname: 'tags_label_check', def: "CHECK ((label <> ''::text))" },
          { conname: 'tags_label_key', def: 'UNIQUE (label)' },
          { conname: 'tags_pkey', def: 'PRIMARY KEY (id)' },
          { conname: 'tags_weight_check', def: 'CHECK ((weight > 0))' },
        ]);
        await expect(db.exec(`INSERT INTO app.tags (id, label, weight) VALUES (1, 'a', 0)`)).rejects.toSatisfy((e) => sqlState(e) === '23514');
      });
    } finally {
      await db.close();
    }
  });

  it('add-column with check and comment: the CHECK is added NOT VALID, then validated in a part of its own', async () => {
    const db = await open();
    try {
      const { expand } = compile(addColumn, {
        table: T,
        column: 'score',
        type: 'int',
        default: '0',
        check: 'score >= 0 AND score <= n + 1000',
        comment: "points; it's",
      });
      expect(expand.map((p) => p.name)).toEqual(['add-column', 'add-check', 'validate-check']);
      const validated = () => first(db, `SELECT convalidated FROM pg_constraint WHERE conrelid = 'app."Items"'::regclass AND conname = 'Items_score_check'`);
      const before = await snapshotSchema(db);
      await applyParts(db, expand.slice(0, 2));
      expect(await validated()).toBe(false);
      // Enforced for new writes already.
      await expect(db.exec(`INSERT INTO app."Items" (email, score) VALUES ('x', -1)`)).rejects.toSatisfy((e) => sqlState(e) === '23514');
      await applyParts(db, expand.slice(2));
      expect(await validated()).toBe(true);
      expect(await failingChecks(db, expand)).toEqual([]);
      expect(
        await first(
          db,
          `SELECT col_description('app."Items"'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'app."Items"'::regclass AND attname = 'score'))`,
        ),
      ).toBe("points; it's");
      const lock = onlySql(expand).find((p) => p.name === 'validate-check')?.locks[0]?.mode;
      expect(lock).toBe('ShareUpdateExclusiveLock');
      await revertParts(db, expand);
      expect(diffSchemas(before, await snapshotSchema(db))).toEqual([]);
      expect(await failingChecks(db, expand)).toHaveLength(3);
    } finally {
      await db.close();
    }
  });

  it('add-column check on rows that break it: validation fails and rollback restores the schema exactly', async () => {
    const db = await open();
    try {
      const { expand } = compile(addColumn, { table: T, column: 'score', type: 'int', default: '5', check: 'score < n' });
      const before = await snapshotSchema(db);
      await applyParts(db, expand.slice(0, 2));
      await expect(applyParts(db, expand.slice(2))).rejects.toSatisfy((e) => sqlState(e) === '23514');
      await revertParts(db, expand.slice(0, 2));
      expect(diffSchemas(before, await snapshotSchema(db))).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("change-type: after contract the default reads as the user wrote it, not as a cast of the old column's", async () => {
    const db = await open();
    try {
      await ensureState(db);
      await db.exec(`ALTER TABLE app."Items" ADD COLUMN code text NOT NULL DEFAULT '0', ADD COLUMN qty int DEFAULT 0, ALTER COLUMN at SET DEFAULT now(),
        ADD COLUMN flag boolean DEFAULT true, ADD COLUMN label varchar(20) DEFAULT 'it''s'`);
      const changes = [
        { column: 'code', type: 'integer', using: 'code::integer', reverse: 'code::text', shown: '0' },
        { column: 'qty', type: 'bigint', using: 'qty::bigint', reverse: 'qty::int', shown: '0' },
        { column: 'at', type: 'timestamptz', using: 'at::timestamptz', reverse: 'at::timestamp', shown: 'now()' },
        { column: 'label', type: 'text', using: 'label::text', reverse: 'label::varchar(20)', shown: "'it''s'::text" },
        // No literal, no assignment cast from boolean: an explicit cast, still a working default.
        { column: 'flag', type: 'integer', using: 'flag::integer', reverse: 'flag <> 0', shown: '(true)::integer' },
      ];
      for (const { shown, ...c } of changes) {
        const { expand, contract } = compile(changeType, { table: T, ...c });
        await applyParts(db, expand);
        await applyParts(db, contract);
        expect(await failingChecks(db, contract)).toEqual([]);
        expect(await defaultOf(db, c.column), c.column).toBe(shown);
      }
      await db.exec(`INSERT INTO app."Items" (email) VALUES ('defaults')`);
      const { rows } = await db.query(`SELECT code, qty::text AS qty, flag, label, at IS NOT NULL AS at FROM app."Items" WHERE email = 'defaults'`);
      expect(rows).toEqual([{ code: 0, qty: '0', flag: 1, label: "it's", at: true }]);
      expect(await first(db, `SELECT attnotnull FROM pg_attribute WHERE attrelid = 'app."Items"'::regclass AND attname = 'code'`)).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('change-type composed with a later operation on the table, which swaps the columns: the default reads as written too', async () => {
    const db = await open();
    try {
      await ensureState(db);
      await db.exec(`ALTER TABLE app."Items" ADD COLUMN code text NOT NULL DEFAULT '0'`);
      const steps = [
        {
          id: 'retype',
          op: changeType as Operation<unknown>,
          spec: changeType.schema.parse({ table: T, column: 'code', type: 'integer', using: 'code::integer', reverse: 'code::text' }),
        },
        { id: 'drop', op: dropColumn as Operation<unknown>, spec: dropColumn.schema.parse({ table: T, column: 'tag' }) },
      ];
      const { steps: composed, problems } = composeOperations(steps);
      expect(problems).toEqual([]);
      const retype = composed.get('retype');
      const drop = composed.get('drop');
      if (!retype || !drop) throw new Error('not composed');
      // The retype's own contract no longer swaps: the drop's composed contract does, after the retype's plain-default part.
      expect(retype.contract.map((p) => p.name)).toEqual(['not-null-check', 'not-null-validate', 'plain-default']);
      await applyParts(db, [...retype.expand, ...drop.expand]);
      await applyParts(db, [...retype.contract, ...drop.contract]);
      expect(await failingChecks(db, [...retype.contract, ...drop.contract])).toEqual([]);
      expect(await defaultOf(db, 'code')).toBe('0');
      await db.exec(`INSERT INTO app."Items" (email) VALUES ('defaults')`);
      expect(await first(db, `SELECT code FROM app."Items" WHERE email = 'defaults'`)).toBe(0);
    } finally {
      await db.close();
    }
  });
});

const serverUp = await serverAvailable();

describe.runIf(serverUp)('operation options under a concurrent write load [server]', () => {
  it('add-column with a check: four writing sessions see no failed statement during forward and rollback', async () => {
    const { db, url } = await serverDb(FIXTURE);
    const load: LoadStatement = (i, k) => {
      const id = 1 + ((i * 7 + k * 13) % 2000);
      if (i % 3 === 0) return { sql: `INSERT INTO app."Items" (email, n) VALUES ($1, $2)`, params: [`load-${k}-${i}`, i % 50] };
      if (i % 3 === 1) return { sql: `UPDATE app."Items" SET n = n + 1 WHERE id = $1`, params: [id] };
      return { sql: `SELECT email FROM app."Items" WHERE id = $1`, params: [id] };
    };
    const { expand } = compile(addColumn, { table: T, column: 'score', type: 'int', default: '0', check: 'score >= 0', comment: 'points' });
    const writers = await startLoad(url, load);
    try {
      await warm(writers);
      const forward = await writers.around(() => runLikeFerry(db, expand, 'forward'));
      expect(await failingChecks(db, expand)).toEqual([]);
      await warm(writers);
      const rollback = await writers.around(() => runLikeFerry(db, expand, 'rollback'));
      await warm(writers);
      await writers.stop();
      expect(writers.failures).toEqual([]);
      expect(forward.overlapping).toBeGreaterThan(0);
      expect(rollback.overlapping).toBeGreaterThan(0);
    } finally {
      await writers.stop();
    }
  });
});
