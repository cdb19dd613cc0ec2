import { afterAll, describe, expect, it } from 'vitest';
import { diffSchemas, snapshotSchema } from '../../src/db/catalog.js';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { sqlState } from '../../src/errors.js';
import { addColumn } from '../../src/operations/add-column.js';
import { changeType } from '../../src/operations/change-type.js';
import { dropColumn } from '../../src/operations/drop-column.js';
import { mergeColumns } from '../../src/operations/merge-columns.js';
import { renameColumn } from '../../src/operations/rename-column.js';
import { splitColumn } from '../../src/operations/split-column.js';
import type { Operation, OpPart } from '../../src/operations/types.js';
import { ensureState } from '../../src/state/store.js';
import { createServerDatabase, forEachDriver, serverAvailable } from '../helpers/databases.js';
import { applyParts, failingChecks, revertParts } from '../helpers/operations.js';

type Values = Record<string, unknown>;

/** One operation under test, with two equivalent ways to write the same data: through the old shape and through the new one. */
interface Case {
  title: string;
  op: Operation<unknown>;
  spec: unknown;
  /** `users` or `app.users`. */
  table: string;
  /** Whether the operation publishes v1/v2 views (the shapes are then reached through search_path). */
  views: boolean;
  /** Equivalent values as written/read through the old shape and the new shape, two pairs (insert, then update). */
  old: [Values, Values];
  new: [Values, Values];
  /** Columns of the table once contracted: name → [type, NOT NULL]. */
  after: Record<string, [string, boolean]>;
  /** True after contract when the original rows (id ≤ ROWS) kept their data in the new shape. */
  kept: string;
}

const ROWS = 3000;
/** The seeded rows the sync test leaves alone. */
const ORIGINAL = `id <= ${ROWS} AND id NOT IN (17, 18)`;
const BASE: Record<string, [string, boolean]> = {
  id: ['bigint', true],
  full_name: ['text', true],
  given: ['text', false],
  family: ['text', false],
  email: ['text', true],
  amount: ['integer', true],
};
const without = (...cols: string[]) => Object.fromEntries(Object.entries(BASE).filter(([c]) => !cols.includes(c)));
const FIXED: Values = { full_name: 'Ann Bee', email: 'ann@example.org', amount: 3 };

const CASES: Case[] = [
  {
    title: 'add-column (NOT NULL, constant default)',
    op: addColumn as Operation<unknown>,
    spec: { table: 'users', column: 'status', type: 'text', default: "'new'", notNull: true },
    table: 'users',
    views: false,
    old: [{}, {}],
    new: [{ status: 'active' }, { status: 'gone' }],
    after: { ...BASE, status: ['text', true] },
    kept: `SELECT bool_and(status = 'new') FROM users WHERE ${ORIGINAL}`,
  },
  {
    title: 'add-column (NOT NULL, volatile default through a backfill)',
    op: addColumn as Operation<unknown>,
    spec: { table: 'users', column: 'token', type: 'uuid', default: 'gen_random_uuid()', notNull: true },
    table: 'users',
    views: false,
    old: [{}, {}],
    new: [{ token: '00000000-0000-4000-8000-000000000001' }, { token: '00000000-0000-4000-8000-000000000002' }],
    after: { ...BASE, token: ['uuid', true] },
    kept: `SELECT count(DISTINCT token) = count(*) FROM users WHERE ${ORIGINAL}`,
  },
  {
    title: 'drop-column',
    op: dropColumn as Operation<unknown>,
    spec: { table: 'users', column: 'email' },
    table: 'users',
    views: true,
    old: [{ email: 'old@example.org' }, { email: 'older@example.org' }],
    new: [{}, {}],
    after: without('email'),
    kept: `SELECT bool_and(full_name = 'First' || id || ' Last' || id) FROM users WHERE ${ORIGINAL}`,
  },
  {
    title: 'rename-column (schema-qualified table)',
    op: renameColumn as Operation<unknown>,
    spec: { table: 'app.users', from: 'email', to: 'contact' },
    table: 'app.users',
    views: true,
    old: [{ email: 'a@example.org' }, { email: 'b@example.org' }],
    new: [{ contact: 'a@example.org' }, { contact: 'b@example.org' }],
    after: { ...without('email'), contact: ['text', true] },
    kept: `SELECT bool_and(contact = 'u' || id || '@example.org') FROM app.users WHERE ${ORIGINAL}`,
  },
  {
    title: 'split-column',
    op: splitColumn as Operation<unknown>,
    spec: {
      table: 'users',
      column: 'full_name',
      into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
      merge: "first_name || ' ' || last_name",
    },
    table: 'users',
    views: true,
    old: [{ full_name: 'Grace Hopper' }, { full_name: 'Alan Turing' }],
    new: [
      { first_name: 'Grace', last_name: 'Hopper' },
      { first_name: 'Alan', last_name: 'Turing' },
    ],
    after: { ...without('full_name'), first_name: ['text', false], last_name: ['text', false] },
    kept: `SELECT bool_and(first_name = 'First' || id AND last_name = 'Last' || id) FROM users WHERE ${ORIGINAL}`,
  },
  {
    title: 'merge-columns',
    op: mergeColumns as Operation<unknown>,
    spec: {
      table: 'users',
      columns: ['given', 'family'],
      into: { name: 'display_name', type: 'text', expr: "given || ' ' || family" },
      split: { given: "split_part(display_name, ' ', 1)", family: "split_part(display_name, ' ', 2)" },
    },
    table: 'users',
    views: true,
    old: [
      { given: 'Ada', family: 'Lovelace' },
      { given: 'Edsger', family: 'Dijkstra' },
    ],
    new: [{ display_name: 'Ada Lovelace' }, { display_name: 'Edsger Dijkstra' }],
    after: { ...without('given', 'family'), display_name: ['text', false] },
    kept: `SELECT bool_and(display_name = 'G' || id || ' F' || id) FROM users WHERE ${ORIGINAL}`,
  },
  {
    title: 'change-type (schema-qualified table, NOT NULL with a default)',
    op: changeType as Operation<unknown>,
    spec: { table: 'app.users', column: 'amount', type: 'bigint', using: 'amount::bigint * 100', reverse: '(amount / 100)::int' },
    table: 'app.users',
    views: true,
    old: [{ amount: 7 }, { amount: 9 }],
    new: [{ amount: '700' }, { amount: '900' }],
    after: { ...BASE, amount: ['bigint', true] },
    kept: `SELECT bool_and(amount = id * 100) FROM app.users WHERE ${ORIGINAL}`,
  },
];

const specOf = (c: Case) => c.op.schema.parse(c.spec);
const expandOf = (c: Case): OpPart[] => c.op.expand(specOf(c));
const contractOf = (c: Case): OpPart[] => c.op.contract(specOf(c));
/** search_path reaching a shape: the compat view schema first, then the table's own. */
function shapePath(c: Case, shape: 'old' | 'new'): string {
  const schema = c.table.includes('.') ? 'app' : 'public';
  if (!c.views) return schema;
  const prefix = shape === 'old' ? 'ferry_v1' : 'ferry_v2';
  return `${schema === 'public' ? `${prefix}_users` : `${prefix}_app_users`}, ${schema}`;
}

async function seed(db: Database, c: Case): Promise<void> {
  await ensureState(db);
  if (c.table.includes('.')) await db.exec('CREATE SCHEMA app');
  await db.exec(`CREATE TABLE ${c.table} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, full_name text NOT NULL, given text, family text,
      email text NOT NULL, amount int NOT NULL DEFAULT 0);
    INSERT INTO ${c.table} (full_name, given, family, email, amount)
      SELECT 'First' || i || ' Last' || i, 'G' || i, 'F' || i, 'u' || i || '@example.org', i FROM generate_series(1, ${ROWS}) i`);
  await db.exec(`ANALYZE ${c.table}`);
}

async function checksum(db: Database, table: string): Promise<string> {
  const { rows } = await db.query<{ h: string }>(`SELECT md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM ${table} t`);
  return rows[0]?.h ?? '';
}

async function value(db: Database, sql: string): Promise<unknown> {
  const { rows } = await db.query<Record<string, unknown>>(sql);
  return rows[0] ? Object.values(rows[0])[0] : undefined;
}

/** Insert through a shape: the fixed columns that shape has, plus `v`; returns the new id. */
function insertSql(c: Case, shape: 'old' | 'new', v: Values): { sql: string; params: unknown[] } {
  const other = Object.keys({ ...c.old[0], ...c.new[0] });
  const row = { ...Object.fromEntries(Object.entries(FIXED).filter(([k]) => !other.includes(k))), ...v };
  if (shape === 'new' && c.op === dropColumn) delete row.email;
  const cols = Object.keys(row);
  return {
    sql: `INSERT INTO users (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    params: Object.values(row),
  };
}

/** Update row `id` through a shape, setting `v` (or, when the shape has no column of the operation, another column). */
function updateSql(v: Values, id: number): { sql: string; params: unknown[] } {
  const set = Object.keys(v).length ? v : { given: 'Updated' };
  const cols = Object.keys(set);
  return { sql: `UPDATE users SET ${cols.map((k, i) => `${k} = $${i + 1}`).join(', ')} WHERE id = $${cols.length + 1}`, params: [...Object.values(set), id] };
}

/** Values as text: the drivers differ in how they return bigint. */
const text = (v: Values): Values => Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));

async function read(db: Database, id: unknown, cols: string[]): Promise<Values> {
  const { rows } = await db.query<Values>(`SELECT ${cols.join(', ')} FROM users WHERE id = $1`, [id]);
  return text(rows[0] ?? {});
}

async function inShape<T>(db: Database, c: Case, shape: 'old' | 'new', fn: () => Promise<T>): Promise<T> {
  await db.exec(`SET search_path = ${shapePath(c, shape)}`);
  try {
    return await fn();
  } finally {
    await db.exec('RESET search_path');
  }
}

forEachDriver('column operations', (suite) => {
  for (const c of CASES) {
    it(`${c.title}: expand passes its checks, rollback restores the schema and the data exactly`, async () => {
      const db = await (await suite.fresh()).open();
      try {
        await seed(db, c);
        const before = await snapshotSchema(db);
        const data = await checksum(db, c.table);
        const parts = expandOf(c);
        await applyParts(db, parts);
        expect(await failingChecks(db, parts)).toEqual([]);
        expect(await checksum(db, c.table)).not.toBe('');
        await revertParts(db, parts);
        expect(diffSchemas(before, await snapshotSchema(db))).toEqual([]);
        expect(await checksum(db, c.table)).toBe(data);
      } finally {
        await db.close();
      }
    });

    it(`${c.title}: during expand each shape sees the other's writes; contract leaves exactly the new shape`, async () => {
      const db = await (await suite.fresh()).open();
      try {
        await seed(db, c);
        const before = await snapshotSchema(db);
        await applyParts(db, expandOf(c));
        if (c.views) {
          const oldCols = Object.keys(c.old[0]);
          const newCols = Object.keys(c.new[0]);
          // INSERT old → new, INSERT new → old.
          const a = await inShape(
            db,
            c,
            'old',
            async () => (await db.query<{ id: string }>(insertSql(c, 'old', c.old[0]).sql, insertSql(c, 'old', c.old[0]).params)).rows[0]?.id,
          );
          if (newCols.length) expect(await inShape(db, c, 'new', () => read(db, a, newCols))).toEqual(text(c.new[0]));
          const b = await inShape(
            db,
            c,
            'new',
            async () => (await db.query<{ id: string }>(insertSql(c, 'new', c.new[0]).sql, insertSql(c, 'new', c.new[0]).params)).rows[0]?.id,
          );
          if (oldCols.length && c.op !== dropColumn) expect(await inShape(db, c, 'old', () => read(db, b, oldCols))).toEqual(text(c.old[0]));
          // UPDATE old → new (also on an original row), UPDATE new → old.
          for (const id of [Number(a), 17]) {
            const u = updateSql(c.old[1], id);
            await inShape(db, c, 'old', () => db.query(u.sql, u.params));
            if (newCols.length) expect(await inShape(db, c, 'new', () => read(db, id, newCols))).toEqual(text(c.new[1]));
          }
          for (const id of [Number(b), 18]) {
            const u = updateSql(c.new[1], id);
            await inShape(db, c, 'new', () => db.query(u.sql, u.params));
            if (oldCols.length && c.op !== dropColumn) expect(await inShape(db, c, 'old', () => read(db, id, oldCols))).toEqual(text(c.old[1]));
          }
        }
        const contract = contractOf(c);
        await applyParts(db, contract);
        expect(await failingChecks(db, contract)).toEqual([]);
        const after = await snapshotSchema(db);
        const key = c.table.includes('.') ? c.table : `public.${c.table}`;
        const columns = Object.fromEntries(Object.entries(after.tables[key]?.columns ?? {}).map(([n, col]) => [n, [col.type, col.notNull]]));
        expect(columns).toEqual(c.after);
        expect(after.views).toEqual({});
        expect(after.triggers).toEqual({});
        expect(after.functions).toEqual({});
        expect(after.schemas).toEqual(before.schemas);
        expect(Object.keys(after.constraints).filter((k) => k.includes('ferry'))).toEqual([]);
        expect(await value(db, c.kept)).toBe(true);
      } finally {
        await db.close();
      }
    });
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Four sessions writing through the shape `shapeOf(worker)` says, until stopped; counts statements and failures. */
function writeLoad(url: string, c: Case, shapeOf: (worker: number) => 'old' | 'new') {
  const stats = { statements: 0, errors: [] as string[] };
  let running = true;
  const workers = [0, 1, 2, 3].map(async (w) => {
    const db = await openServer({ url, applicationName: `load ${w}` });
    let path = '';
    try {
      for (let i = 0; running; i++) {
        const shape = shapeOf(w);
        const pair = shape === 'old' ? c.old : c.new;
        try {
          if (shapePath(c, shape) !== path) {
            path = shapePath(c, shape);
            await db.exec(`SET search_path = ${path}`);
          }
          const s = i % 2 === 0 ? insertSql(c, shape, pair[0]) : updateSql(pair[1], 1 + ((i * 37 + w * 101) % ROWS));
          await db.query(s.sql, s.params);
          stats.statements++;
        } catch (err) {
          stats.errors.push(`${shape}: ${(err as Error).message} [${sqlState(err) ?? '?'}]`);
        }
        await sleep(3);
      }
    } finally {
      await db.close();
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

const serverUp = await serverAvailable();
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const d of drops.splice(0)) await d().catch(() => {});
});

describe.runIf(serverUp)('column operations under a concurrent write load [server]', () => {
  async function fresh(c: Case): Promise<{ url: string; db: Database }> {
    const created = await createServerDatabase();
    drops.push(created.drop);
    const db = await openServer({ url: created.url, applicationName: 'ferry op' });
    await seed(db, c);
    return { url: created.url, db };
  }

  for (const c of CASES) {
    it(`${c.title}: writers through the old, then the new shape see no error during expand and contract`, async () => {
      const { url, db } = await fresh(c);
      let phase: 'old' | 'mixed' | 'new' = 'old';
      const load = writeLoad(url, c, (w) => (phase === 'old' ? 'old' : phase === 'new' ? 'new' : w % 2 === 0 ? 'old' : 'new'));
      try {
        await sleep(100);
        const atStart = load.stats.statements;
        const parts = expandOf(c);
        await applyParts(db, parts);
        expect(await failingChecks(db, parts)).toEqual([]);
        phase = 'mixed';
        await sleep(200);
        phase = 'new';
        await sleep(100);
        await applyParts(db, contractOf(c));
        await sleep(100);
        expect(load.stats.statements).toBeGreaterThan(atStart);
      } finally {
        await load.stop();
        await db.close();
      }
      expect(load.stats.errors).toEqual([]);
    });

    it(`${c.title}: writers through the old shape see no error during expand and rollback`, async () => {
      const { url, db } = await fresh(c);
      const load = writeLoad(url, c, () => 'old');
      try {
        await sleep(100);
        const atStart = load.stats.statements;
        const parts = expandOf(c);
        await applyParts(db, parts);
        await sleep(100);
        await revertParts(db, parts);
        await sleep(100);
        expect(load.stats.statements).toBeGreaterThan(atStart);
      } finally {
        await load.stop();
        await db.close();
      }
      expect(load.stats.errors).toEqual([]);
    });
  }
});
