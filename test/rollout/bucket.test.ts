import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, inRollout } from '../../src/bucket.js';
import { ensureState } from '../../src/state/store.js';
import { forEachDriver } from '../helpers/databases.js';

const someChars = fc.constantFrom('a', 'é', 'ß', '中', '😀', '\u{10ffff}', ':', ' ', '"', '\\', ',', '{');
/** Strings without NUL (PostgreSQL text cannot hold it) over all of Unicode: ASCII, non-ASCII, astral characters. */
const text = fc
  .string({ unit: fc.oneof(someChars, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 24 })
  .map((s) => s.replaceAll('\0', ''));
/** The same plus lone surrogates, which no database text holds (drivers send them as U+FFFD). */
const jsText = fc.string({
  unit: fc.oneof(
    someChars,
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 24,
});

/** FNV-1a over UTF-8 as TextEncoder writes it: the reference bucketOf must match. */
function reference(key: string, unit: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(`${key}:${unit}`)) h = Math.imul(h ^ b, 16777619);
  h >>>= 0;
  return ((h ^ (h >>> 16)) >>> 0) % 10_000;
}

describe('sticky bucketing', () => {
  it('is monotonic: a unit in at p is in at every q ≥ p', () => {
    fc.assert(
      fc.property(text, text, fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (key, unit, a, b) => {
        const [p, q] = a <= b ? [a / 100, b / 100] : [b / 100, a / 100];
        const bucket = bucketOf(key, unit);
        expect(bucket).toBeGreaterThanOrEqual(0);
        expect(bucket).toBeLessThan(10_000);
        if (inRollout(bucket, p)) expect(inRollout(bucket, q)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('hashes the UTF-8 bytes TextEncoder writes, lone surrogates included', () => {
    fc.assert(
      fc.property(jsText, jsText, (key, unit) => {
        expect(bucketOf(key, unit)).toBe(reference(key, unit));
      }),
      { numRuns: 50_000 },
    );
  });

  it.each([1, 5, 25, 50])('lets in %i percent of 100,000 random units, within ±0.5 points', (pct) => {
    const units = fc.sample(fc.uuid(), { numRuns: 100_000, seed: pct });
    const share = (units.filter((u) => inRollout(bucketOf('users.split-name', u), pct)).length / units.length) * 100;
    expect(Math.abs(share - pct)).toBeLessThanOrEqual(0.5);
  });
});

forEachDriver('ferry.bucket in SQL', (suite) => {
  it('equals bucketOf on 100,000 random keys and units, non-ASCII and astral included', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    try {
      await ensureState(db);
      const keys = fc.sample(text, { numRuns: 100_000, seed: 42 });
      const units = fc.sample(text, { numRuns: 100_000, seed: 7 });
      expect(keys.some((k) => /[\u{10000}-\u{10ffff}]/u.test(k))).toBe(true);
      const CHUNK = 10_000;
      let compared = 0;
      for (let i = 0; i < keys.length; i += CHUNK) {
        const k = keys.slice(i, i + CHUNK);
        const u = units.slice(i, i + CHUNK);
        const { rows } = await db.query<{ b: number }>(
          'SELECT ferry.bucket(k, u) AS b FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(k, u, n) ORDER BY n',
          [k, u],
        );
        const mismatches = rows
          .map((r, j) => ({ key: k[j] as string, unit: u[j] as string, sql: r.b, ts: bucketOf(k[j] as string, u[j] as string) }))
          .filter((m) => m.sql !== m.ts);
        expect(mismatches.slice(0, 5)).toEqual([]);
        compared += rows.length;
      }
      expect(compared).toBe(100_000);
    } finally {
      await db.close();
    }
  }, 300_000);
});
