import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextBatchSize } from '../../src/backfill/batch-size.js';

const limitsArb = fc
  .record({ min: fc.integer({ min: 1, max: 5000 }), span: fc.integer({ min: 0, max: 100_000 }), targetMs: fc.integer({ min: 1, max: 5000 }) })
  .map(({ min, span, targetMs }) => ({ min, max: min + span, targetMs }));

describe('adaptive batch size', () => {
  it('stays within [min, max] whatever the batch measured', () => {
    fc.assert(
      fc.property(
        limitsArb,
        fc.integer({ min: 1, max: 200_000 }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.boolean(),
        (limits, current, elapsedMs, walked, throttled) => {
          const n = nextBatchSize(current, { walked, elapsedMs, throttled }, limits);
          expect(Number.isInteger(n)).toBe(true);
          expect(n).toBeGreaterThanOrEqual(limits.min);
          expect(n).toBeLessThanOrEqual(limits.max);
        },
      ),
    );
  });

  it('grows when a full batch was faster than the target, shrinks when slower, never past the target under a linear cost', () => {
    fc.assert(
      fc.property(
        limitsArb,
        fc.double({ min: 0.001, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.integer({ min: 1, max: 100_000 }),
        (limits, msPerRow, overheadMs, start) => {
          const cost = (n: number) => overheadMs + msPerRow * n;
          let n = Math.min(limits.max, Math.max(limits.min, start));
          for (let i = 0; i < 30; i++) {
            const d = cost(n);
            const next = nextBatchSize(n, { walked: n, elapsedMs: d, throttled: false }, limits);
            if (d < limits.targetMs) expect(next).toBeGreaterThanOrEqual(n);
            if (d > limits.targetMs) expect(next).toBeLessThanOrEqual(n);
            // Moves toward the target without crossing it (up to one row of rounding), unless a bound stops it.
            const before = Math.abs(d - limits.targetMs);
            const after = Math.abs(cost(next) - limits.targetMs);
            expect(after).toBeLessThanOrEqual(before + msPerRow + 1e-9);
            n = next;
          }
          // After 30 batches it is at a bound or within a few rows of the target duration.
          const atBound = n === limits.min || n === limits.max;
          expect(atBound || Math.abs(cost(n) - limits.targetMs) <= Math.max(limits.targetMs * 0.05, msPerRow * 2)).toBe(true);
        },
      ),
    );
  });

  it('halves when a health signal is over its threshold, and keeps the size after a short batch at the end of a range', () => {
    fc.assert(
      fc.property(limitsArb, fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1e5, noNaN: true }), (limits, current, elapsedMs) => {
        const n = Math.min(limits.max, Math.max(limits.min, current));
        const throttled = nextBatchSize(n, { walked: n, elapsedMs, throttled: true }, limits);
        expect(throttled).toBe(Math.max(limits.min, Math.round(n / 2)));
        if (n > 1) expect(nextBatchSize(n, { walked: n - 1, elapsedMs, throttled: false }, limits)).toBe(n);
      }),
    );
  });
});
