import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countDataErrors, type DataErrorSource } from '../../src/verify/data-errors.js';

/** A keyed check result on `table` that reported every row it found. */
const keyed = (check: string, table: string, ids: readonly number[]): DataErrorSource => ({
  check,
  kind: 'diff',
  dataErrors: ids.length,
  differences: ids.map((id) => ({ kind: 'changed', key: { id: String(id) } })),
  figures: { table },
});

const idSets = fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 15 }), { minLength: 1, maxLength: 5 });

describe('countDataErrors', () => {
  it('counts the union of the keys of one table: at most the per-check sum, at least the largest check, the size of the union', () => {
    fc.assert(
      fc.property(idSets, (sets) => {
        const c = countDataErrors(sets.map((ids, i) => keyed(`c${i}`, 'people', ids)));
        const union = new Set(sets.flat());
        expect(c.total).toBe(union.size);
        expect(c.total).toBeLessThanOrEqual(c.perCheckSum);
        expect(c.total).toBeGreaterThanOrEqual(Math.max(...sets.map((s) => s.length)));
      }),
    );
  });

  it('identical checks count as one; the same keys in different tables count apart', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { maxLength: 30 }), fc.integer({ min: 1, max: 4 }), (ids, copies) => {
        const same = Array.from({ length: copies }, (_, i) => keyed(`c${i}`, 'people', ids));
        expect(countDataErrors(same).total).toBe(ids.length);
        expect(countDataErrors([keyed('a', 'people', ids), keyed('b', 'orders', ids)]).total).toBe(2 * ids.length);
      }),
    );
  });

  it('counts rows beyond the reported keys, failed assertions and count differences as their own errors (never fewer than found)', () => {
    fc.assert(
      fc.property(idSets, fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 5 }), fc.nat(10), (sets, extra, failed) => {
        const results: DataErrorSource[] = sets.map((ids, i) => ({ ...keyed(`c${i}`, 'people', ids), dataErrors: ids.length + (extra[i] ?? 0) }));
        results.push({ check: 'schema', kind: 'schema', dataErrors: failed, differences: Array.from({ length: failed }, () => ({ ok: false })), figures: {} });
        const c = countDataErrors(results);
        const union = new Set(sets.flat()).size;
        const unreported = sets.reduce((n, _, i) => n + (extra[i] ?? 0), 0);
        expect(c.total).toBe(union + unreported + failed);
        expect(c.total).toBeLessThanOrEqual(c.perCheckSum);
        expect(c.total).toBeGreaterThanOrEqual(Math.max(0, ...results.map((r) => r.dataErrors)));
      }),
    );
  });
});
