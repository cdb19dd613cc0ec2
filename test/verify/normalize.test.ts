import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { openPglite } from '../../src/db/pglite.js';
import { quoteLiteral } from '../../src/db/quote.js';
import { checksum } from '../../src/verify/index.js';
import { normalised, probeTypes, rowHash } from '../../src/verify/normalize.js';

/** The row hash of each row of a VALUES list, computed by the engine's normaliser from the catalog types. */
async function hashes(db: Database, types: string[], columns: string[], rows: unknown[][]): Promise<string[]> {
  const literal = (v: unknown, i: number) => `${v === null ? 'NULL' : quoteLiteral(String(v))}::${types[i]}`;
  const relation = `(VALUES ${rows.map((r) => `(${r.map(literal).join(', ')})`).join(', ')}) AS v(${columns.join(', ')})`;
  const probed = await probeTypes(db, relation, columns);
  const hash = rowHash(columns.map((c, i) => normalised(c, probed[i]!)));
  const out = await db.query<{ h: string }>(`SELECT (${hash})::text AS h FROM ${relation}`);
  return out.rows.map((r) => r.h);
}

describe('row normalisation and hashing', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openPglite();
  });
  afterAll(() => db.close());

  test('equal data hashes equal across representations; any changed value changes the hash', async () => {
    const text = fc.option(fc.string({ unit: 'grapheme', maxLength: 12 }), { nil: null });
    const row = fc.record({
      cents: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
      extraZeros: fc.integer({ min: 0, max: 4 }),
      micros: fc.integer({ min: 0, max: 2_000_000_000 }).map((s) => s * 1_000_003),
      offsetHours: fc.integer({ min: -11, max: 13 }),
      note: text,
      flag: fc.option(fc.boolean(), { nil: null }),
      n: fc.integer(),
      score: fc.double({ noNaN: true, noDefaultInfinity: true }),
    });
    await fc.assert(
      fc.asyncProperty(row, fc.integer({ min: 0, max: 6 }), async (r, change) => {
        const amount = (r.cents / 100).toFixed(2);
        const padded = r.extraZeros > 0 ? `${amount}${'0'.repeat(r.extraZeros)}` : amount;
        const instant = new Date(Date.UTC(2000, 0, 1) + Math.floor(r.micros / 1000));
        const micro = String(r.micros % 1000).padStart(3, '0');
        const utc = `${instant.toISOString().slice(0, 23)}${micro}+00`;
        const shifted = new Date(instant.getTime() + r.offsetHours * 3_600_000);
        const sign = r.offsetHours < 0 ? '-' : '+';
        const zoned = `${shifted.toISOString().slice(0, 23)}${micro}${sign}${String(Math.abs(r.offsetHours)).padStart(2, '0')}`;
        const json1 = JSON.stringify({ n: r.n, s: r.note });
        const json2 = `{ "s" : ${JSON.stringify(r.note)},  "n": ${r.n} }`;
        const base = [amount, utc, r.note, r.flag, json1, r.score];
        const same = [padded, zoned, r.note, r.flag, json2, r.score];
        const changed = [...base];
        switch (change) {
          case 0:
            changed[0] = (Number(amount) + 0.01).toFixed(2);
            break;
          case 1:
            changed[1] = `${instant.toISOString().slice(0, 23)}${micro === '999' ? '998' : String(Number(micro) + 1).padStart(3, '0')}+00`;
            break;
          case 2:
            changed[2] = r.note === null ? '' : r.note === '' ? null : `${r.note}x`;
            break;
          case 3:
            changed[3] = r.flag === null ? false : r.flag ? null : true;
            break;
          case 4:
            changed[4] = JSON.stringify({ n: r.n + 1, s: r.note });
            break;
          default:
            changed[5] = r.score === 0 ? 1 : r.score * 2;
        }
        const cols = ['amount', 'at', 'note', 'flag', 'doc', 'score'];
        const types = ['numeric', 'timestamptz', 'text', 'boolean', 'json', 'float8'];
        const [h1, h2, h3] = await hashes(db, types, cols, [base, same, changed]);
        expect(h2).toBe(h1);
        expect(h3).not.toBe(h1);
      }),
      { numRuns: 150 },
    );
  });

  test('1.50 equals 1.5, 1.5 differs from 1.51; NULL differs from the empty string; one instant in two zones is equal', async () => {
    await db.exec(`SET timezone = 'Europe/Paris';
      CREATE TABLE a (id int PRIMARY KEY, amount numeric, note text, at timestamptz);
      CREATE TABLE b (id int PRIMARY KEY, amount numeric(10,3), note text, at timestamptz);
      INSERT INTO a VALUES (1, 1.50, NULL, '2024-06-01 12:00:00+02'), (2, 1.5, '', '2024-06-01 12:00:00.5+00'), (3, 7, 'é', 'infinity');
      INSERT INTO b VALUES (1, 1.5, NULL, '2024-06-01 06:00:00-04'), (2, 1.51, NULL, '2024-06-01 21:00:00.5+09'), (3, 7.000, 'é', 'infinity');
      SET timezone = 'UTC'`);
    const r = await checksum(db, db, { source: { table: 'a' }, target: { table: 'b' }, key: ['id'], columns: ['amount', 'note', 'at'] });
    expect(r.differences).toEqual([
      {
        kind: 'changed',
        key: { id: '2' },
        columns: ['amount', 'note'],
        source: { amount: '1.5', note: '', at: '2024-06-01T12:00:00.500000' },
        target: { amount: '1.51', note: null, at: '2024-06-01T12:00:00.500000' },
      },
    ]);
  });
});
