import fc from 'fast-check';
import { expect, it } from 'vitest';
import { resolvePlan } from '../../src/backfill/plan.js';
import { batchEnd } from '../../src/backfill/statements.js';
import { forEachDriver } from '../helpers/databases.js';
import { specOf, targetOf } from './fixtures.js';

/**
 * Key shapes a backfill walks: the single-column ones whose walk is a count and max(),
 * and those that keep the general walk (uuid has no max(); a composite key has no single max).
 */
const SHAPES = [
  { name: 'k_bigint', columns: 'id bigint PRIMARY KEY', fill: 'g * 7 - 300', key: ['id'] },
  { name: 'k_integer', columns: 'id integer PRIMARY KEY', fill: '(g * 13) % 1009 + g * 1009', key: ['id'] },
  { name: 'k_numeric', columns: 'id numeric(10,2) PRIMARY KEY', fill: 'g / 4.0 - 20', key: ['id'] },
  // Text orders by the column's collation in both ORDER BY and max(): mixed case, digits and punctuation.
  { name: 'k_text', columns: 'id text PRIMARY KEY', fill: "(ARRAY['a','B','b','_','Z','10','9'])[g % 7 + 1] || g", key: ['id'] },
  { name: 'k_varchar', columns: 'id varchar(20) PRIMARY KEY', fill: "'v' || (g * 37 % 997)::text || '-' || g", key: ['id'] },
  { name: 'k_ts', columns: 'id timestamptz PRIMARY KEY', fill: "timestamptz '2026-01-01 00:00:00+00' + g * interval '97 minutes'", key: ['id'] },
  { name: 'k_date', columns: 'id date PRIMARY KEY', fill: "date '2020-01-01' + g * 3", key: ['id'] },
  { name: 'k_uuid', columns: 'id uuid PRIMARY KEY', fill: 'md5(g::text)::uuid', key: ['id'] },
  { name: 'k_pair', columns: 'a int NOT NULL, b text NOT NULL, PRIMARY KEY (a, b)', fill: 'g % 5, g::text', key: ['a', 'b'] },
] as const;

const ROWS = 120;

forEachDriver('backfill batch end', (suite) => {
  it('finds the same batch end (keys walked, last key) as the key order does, for every key shape', async () => {
    const db = await (await suite.fresh()).open();
    try {
      for (const shape of SHAPES) {
        const cols = shape.key.join(', ');
        await db.exec(`CREATE TABLE ${shape.name} (${shape.columns}, v text);
          INSERT INTO ${shape.name} (${cols}) SELECT ${shape.fill} FROM generate_series(1, ${ROWS}) g`);
        const plan = await resolvePlan(db, targetOf(specOf({ table: shape.name, key: [...shape.key], set: { v: "'x'" }, where: 'v IS NULL' })));
        const keyText = `ARRAY[${shape.key.map((k) => `${k}::text`).join(', ')}]`;
        const { rows } = await db.query<{ k: string[] }>(`SELECT ${keyText} AS k FROM ${shape.name} ORDER BY ${cols}`);
        const keys = rows.map((r) => r.k);
        expect(keys).toHaveLength(ROWS);
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: -1, max: ROWS - 1 }),
            fc.option(fc.integer({ min: 0, max: ROWS - 1 })),
            fc.integer({ min: 1, max: ROWS + 5 }),
            async (from, to, limit) => {
              const upTo = to === null ? ROWS - 1 : to;
              const bounds = { after: from < 0 ? null : (keys[from] as string[]), upTo: to === null ? null : (keys[to] as string[]) };
              const end = batchEnd(plan, bounds, limit);
              const { rows: got } = await db.query<{ walked: number; last_key: string[] | null }>(end.text, end.params);
              const walked = Math.max(0, Math.min(limit, upTo - from));
              expect({ shape: shape.name, ...got[0] }).toEqual({ shape: shape.name, walked, last_key: walked ? keys[from + walked] : null });
            },
          ),
          { numRuns: 40 },
        );
      }
      // The cheap walk is taken where it holds, and only there.
      const single = await resolvePlan(db, targetOf(specOf({ table: 'k_bigint', set: { v: "'x'" }, where: 'v IS NULL' })));
      expect(batchEnd(single, { after: null, upTo: null }, 10).text).not.toContain('MATERIALIZED');
      for (const t of ['k_uuid', 'k_pair']) {
        const plan = await resolvePlan(db, targetOf(specOf({ table: t, set: { v: "'x'" }, where: 'v IS NULL' })));
        expect(batchEnd(plan, { after: null, upTo: null }, 10).text).toContain('MATERIALIZED');
      }
    } finally {
      await db.close();
    }
  }, 120_000);
});
