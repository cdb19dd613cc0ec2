import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WAVES, planWaves, reverseWaves } from '../../src/fleet/waves.js';
import type { WaveConfig } from '../../src/project/config.js';

const ids = fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 0, maxLength: 120 });
const wave: fc.Arbitrary<WaveConfig> = fc.oneof(
  fc.record({ count: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ percent: fc.double({ min: 0.5, max: 100, noNaN: true }) }),
);
const fleet = ids.chain((all) =>
  fc.record({
    all: fc.constant(all),
    canaries: all.length ? fc.uniqueArray(fc.constantFrom(...all), { maxLength: Math.min(5, all.length) }) : fc.constant<string[]>([]),
    waves: fc.array(wave, { minLength: 1, maxLength: 8 }),
  }),
);

describe('fleet waves', () => {
  it('puts every database in exactly one non-empty wave, canaries first in their order', () => {
    fc.assert(
      fc.property(fleet, ({ all, canaries, waves }) => {
        const plan = planWaves(all, canaries, waves);
        const flat = plan.flat();
        expect([...flat].sort()).toEqual([...all].sort());
        expect(plan.every((w) => w.length > 0)).toBe(true);
        expect(flat.slice(0, canaries.length)).toEqual(canaries);
      }),
    );
  });

  it('ends each percent wave with at least that share of the fleet done, and a count wave adds at most its count', () => {
    fc.assert(
      fc.property(fleet, ({ all, canaries, waves }) => {
        const plan = planWaves(all, canaries, waves);
        const ends = plan.map((_, i) => plan.slice(0, i + 1).flat().length);
        // Replay the config: each configured wave's end is one of the plan's ends (or the whole fleet).
        let end = 0;
        for (const w of waves) {
          const next = Math.min(all.length, 'count' in w ? end + w.count : Math.max(end, Math.ceil((w.percent * all.length) / 100)));
          if ('percent' in w) expect(next).toBeGreaterThanOrEqual(Math.min(all.length, Math.ceil((w.percent * all.length) / 100)));
          if (next > end) expect(ends).toContain(next);
          end = next;
        }
        expect(ends.at(-1) ?? 0).toBe(all.length);
      }),
    );
  });

  it('reverses for down: the last wave first, each reversed, so the canaries come last', () => {
    fc.assert(
      fc.property(fleet, ({ all, canaries, waves }) => {
        const plan = planWaves(all, canaries, waves);
        const back = reverseWaves(plan);
        expect(back.flat()).toEqual([...plan.flat()].reverse());
        expect(reverseWaves(back)).toEqual(plan);
        if (canaries.length) expect(back.flat().slice(-canaries.length)).toEqual([...canaries].reverse());
      }),
    );
  });

  it('cuts 50 databases by the default waves into 1, 2, 10, 12 and 25', () => {
    const all = Array.from({ length: 50 }, (_, i) => `db${i}`);
    expect(planWaves(all, ['db7'], DEFAULT_WAVES).map((w) => w.length)).toEqual([1, 2, 10, 12, 25]);
    expect(planWaves(all, ['db7'], DEFAULT_WAVES)[0]).toEqual(['db7']);
  });
});
