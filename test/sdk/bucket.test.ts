import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, inRollout } from '../../src/bucket.js';
import { bucketFromPrefix, flagPrefixState } from '../../src/sdk/hash.js';
import { compileFlag } from '../../src/sdk/snapshot.js';

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }));

describe('SDK bucketing', () => {
  it('hashes the flag prefix once and still equals bucketOf for every key and unit, non-ASCII and lone surrogates included', () => {
    fc.assert(
      fc.property(text, text, (key, unit) => {
        expect(bucketFromPrefix(flagPrefixState(key), unit)).toBe(bucketOf(key, unit));
      }),
      { numRuns: 100_000 },
    );
  });

  it('a compiled flag decides exactly as enabled AND inRollout(bucketOf, percentage)', () => {
    const pct = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);
    fc.assert(
      fc.property(text, text, fc.boolean(), pct, (key, unit, enabled, percentage) => {
        const f = compileFlag({ key, enabled, percentage, version: 1, migrationId: null, updatedAt: null });
        expect(bucketFromPrefix(f.prefix, unit) < f.threshold).toBe(enabled && inRollout(bucketOf(key, unit), percentage));
      }),
      { numRuns: 20_000 },
    );
  });
});
