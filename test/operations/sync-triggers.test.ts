import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parserReady } from '../../src/db/sql-script.js';
import { changeType } from '../../src/operations/change-type.js';
import { composeOperations } from '../../src/operations/compose.js';
import { mergeColumns } from '../../src/operations/merge-columns.js';
import { splitColumn } from '../../src/operations/split-column.js';
import type { Operation, SqlPart } from '../../src/operations/types.js';
import { createServerDatabase } from '../helpers/databases.js';

/**
 * The compiled sync triggers (src/operations/sync.ts) against the previous
 * generation (src/operations/sync-legacy.ts, each part's `previous`): the same
 * random writes on two tables, one with each, leave the same rows.
 */

type Spec = { op: Operation<unknown>; spec: Record<string, unknown> };
interface Case {
  title: string;
  /** Columns besides `id int PRIMARY KEY` and an unrelated `note text`. */
  columns: Record<string, string>;
  steps: Spec[];
  /** Values each written column takes. */
  values: Record<string, unknown[]>;
}

const NAMES = ['Ann Bee', 'Solo', '', null, 'a b c', ' lead'];
const PARTS = ['Ann', 'Bee', '', null, 'x y'];
const split = (table: string): Spec => ({
  op: splitColumn as Operation<unknown>,
  spec: {
    table,
    column: 'full_name',
    into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(r.full_name, ' ', 2)" } },
    merge: "first_name || ' ' || last_name",
  },
});
const retype = (table: string): Spec => ({
  op: changeType as Operation<unknown>,
  spec: { table, column: 'amount', type: 'bigint', using: 'amount::bigint * 100', reverse: '(amount / 100)::int' },
});

const CASES: ((table: string) => Case)[] = [
  (table) => ({
    title: 'split-column',
    columns: { full_name: 'text', first_name: 'text', last_name: 'text' },
    steps: [split(table)],
    values: { full_name: NAMES, first_name: PARTS, last_name: PARTS },
  }),
  (table) => ({
    title: 'split-column whose expression reads a new column (one SELECT … INTO)',
    columns: { full_name: 'text', first_name: 'text', last_name: 'text' },
    steps: [
      {
        op: splitColumn as Operation<unknown>,
        spec: {
          table,
          column: 'full_name',
          into: {
            first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" },
            last_name: { type: 'text', expr: "coalesce(first_name, '?') || '/' || full_name" },
          },
          merge: "first_name || ' ' || last_name",
        },
      },
    ],
    values: { full_name: NAMES, first_name: PARTS, last_name: PARTS },
  }),
  (table) => ({
    title: 'split-column with a subquery (its block stays in the subquery form, under the two new triggers)',
    columns: { full_name: 'text', first_name: 'text', last_name: 'text' },
    steps: [{ ...split(table), spec: { ...split(table).spec, merge: "(SELECT first_name || ' ' || last_name)" } }],
    values: { full_name: NAMES, first_name: PARTS, last_name: PARTS },
  }),
  (table) => ({
    title: 'merge-columns',
    columns: { given: 'text', family: 'text', display_name: 'text' },
    steps: [
      {
        op: mergeColumns as Operation<unknown>,
        spec: {
          table,
          columns: ['given', 'family'],
          into: { name: 'display_name', type: 'text', expr: "given || ' ' || family" },
          split: { given: "split_part(display_name, ' ', 1)", family: "split_part(display_name, ' ', 2)" },
        },
      },
    ],
    values: { given: PARTS, family: PARTS, display_name: NAMES },
  }),
  (table) => ({
    title: 'change-type',
    columns: { amount: 'int', amount__ferry_new: 'bigint' },
    steps: [retype(table)],
    values: { amount: [0, 7, -3, null, 2147483647], amount__ferry_new: [700, 701, null, -5, 300000000000] },
  }),
  (table) => ({
    title: 'split-column + change-type composed on one table',
    columns: { full_name: 'text', first_name: 'text', last_name: 'text', amount: 'int', amount__ferry_new: 'bigint' },
    steps: [split(table), retype(table)],
    values: { full_name: NAMES, first_name: PARTS, last_name: PARTS, amount: [0, 7, null], amount__ferry_new: [700, 701, null] },
  }),
];

/** The sync parts of a case on `table`, in the order `up` runs them. */
function syncParts(c: Case): SqlPart[] {
  const { steps } = composeOperations(c.steps.map((s, i) => ({ id: `s${i}`, op: s.op, spec: s.op.schema.parse(s.spec) })));
  return [...steps.values()].flatMap((s) => s.expand.filter((p): p is SqlPart => p.kind === 'sql' && p.name === 'sync-trigger'));
}

type Write = { insert: boolean; row: number; set: [string, number][] };

let db: Awaited<ReturnType<typeof createServerDatabase>>;
let client: pg.Client;
beforeAll(async () => {
  await parserReady();
  db = await createServerDatabase('ferry_sync');
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

async function create(table: string, c: Case): Promise<void> {
  const cols = Object.entries(c.columns).map(([n, t]) => `${n} ${t}`);
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text, ${cols.join(', ')})`);
}

/** Run `sql` on both tables; both must fail alike or succeed. */
async function both(sql: (table: string) => string, params: unknown[]): Promise<void> {
  const outcome = async (table: string) =>
    client.query(sql(table), params).then(
      () => 'ok',
      (e: { code?: string }) => e.code ?? 'error',
    );
  expect(await outcome('t_compiled')).toBe(await outcome('t_legacy'));
}

describe('compiled sync triggers', () => {
  for (const make of CASES) {
    it(`${make('t').title}: the same random writes leave the same rows as the previous generation's trigger`, async () => {
      const legacy = make('t_legacy');
      const compiled = make('t_compiled');
      const cols = Object.keys(compiled.values);
      await create('t_legacy', legacy);
      await create('t_compiled', compiled);
      for (const p of syncParts(legacy)) for (const s of p.previous?.forward ?? []) await client.query(s);
      for (const p of syncParts(compiled)) {
        if (!compiled.title.includes('subquery')) expect(p.forward.join('\n')).not.toContain('(SELECT NEW.*)');
        for (const s of p.forward) await client.query(s);
      }
      const write = fc.record({
        insert: fc.boolean(),
        row: fc.nat(5),
        set: fc.uniqueArray(fc.tuple(fc.constantFrom(...cols, 'note'), fc.nat(9)), { maxLength: 3, selector: ([c]) => c }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 12 }), async (writes: Write[]) => {
          await client.query('TRUNCATE t_legacy, t_compiled');
          let next = 1;
          for (const w of writes) {
            const set = w.set.map(([col, i]): [string, unknown] => [
              col,
              col === 'note' ? `n${i}` : (compiled.values[col] as unknown[])[i % (compiled.values[col] as unknown[]).length],
            ]);
            if (w.insert || next === 1) {
              const names = ['id', ...set.map(([col]) => col)];
              await both(
                (t) => `INSERT INTO ${t} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`,
                [next++, ...set.map(([, v]) => v)],
              );
            } else if (set.length > 0) {
              const assignments = set.map(([col], i) => `${col} = $${i + 2}`).join(', ');
              await both((t) => `UPDATE ${t} SET ${assignments} WHERE id = $1`, [(w.row % (next - 1)) + 1, ...set.map(([, v]) => v)]);
            }
          }
          const rows = async (t: string) => (await client.query(`SELECT * FROM ${t} ORDER BY id`)).rows;
          expect(await rows('t_compiled')).toEqual(await rows('t_legacy'));
        }),
        { numRuns: 40 },
      );
      await client.query('DROP TABLE t_legacy, t_compiled CASCADE');
      await client.query(
        'DROP FUNCTION IF EXISTS ferry_sync_t_legacy_full_name(), ferry_sync_t_compiled_full_name(), ferry_sync_t_legacy_amount(), ferry_sync_t_compiled_amount(), ferry_sync_t_legacy_display_name(), ferry_sync_t_compiled_display_name()',
      );
    });
  }
});
