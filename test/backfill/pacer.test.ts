import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describePacing, initialPacing, nextPacing, type PacerLimits, type Pacing, pauseAfter } from '../../src/backfill/pacer.js';

const LIMITS: PacerLimits = { budget: 0.1, minDutyCycle: 0.05, targetBatchMs: 200 };
const loaded = (impact: number | null) => ({ loaded: true, impact });

/** Run the pacer over a sequence of windows. */
const walk = (windows: { loaded: boolean; impact: number | null }[], limits = LIMITS): Pacing[] => {
  const out: Pacing[] = [];
  let p = initialPacing(limits);
  for (const w of windows) {
    p = nextPacing(p, w, limits);
    out.push(p);
  }
  return out;
};

describe('the backfill pacer', () => {
  it('runs at full speed and never pauses without concurrent load, or with an unlimited budget', () => {
    const idle = walk([
      { loaded: false, impact: null },
      { loaded: false, impact: null },
    ]);
    expect(idle.map((p) => [p.state, p.dutyCycle])).toEqual([
      ['full', 1],
      ['full', 1],
    ]);
    expect(pauseAfter(200, idle[1] as Pacing, 0)).toBe(0);
    const unlimited = walk([loaded(5), loaded(5)], { ...LIMITS, budget: null });
    expect(unlimited.every((p) => p.state === 'full' && p.dutyCycle === 1)).toBe(true);
  });

  it('starts cautiously when load appears, halves over budget, adds a step under it, and comes back to full speed when the load stops', () => {
    const seq = walk([loaded(null), loaded(0.5), loaded(0.5), loaded(0.02), loaded(0.02), { loaded: false, impact: null }]);
    expect(seq.map((p) => p.state)).toEqual(['paced', 'paced', 'paced', 'paced', 'paced', 'full']);
    expect(seq.map((p) => Number(p.dutyCycle.toFixed(4)))).toEqual([0.25, 0.125, 0.0625, 0.1625, 0.2625, 1]);
    // Batches shrink with the duty cycle (a quarter of target × duty, at least 5 ms), so each burst the application feels is short.
    expect(seq[1]?.batchMs).toBe(6);
    expect(seq[2]?.batchMs).toBe(5);
    expect(seq[5]?.batchMs).toBe(200);
  });

  it('keeps running at its minimum and says the budget cannot be met', () => {
    const seq = walk(Array.from({ length: 8 }, () => loaded(3)));
    const last = seq.at(-1) as Pacing;
    expect(last).toMatchObject({ state: 'minimum', dutyCycle: 0.05, impact: 3 });
    expect(last.reason).toMatch(/budget cannot be met/);
    expect(describePacing(last)).toBe('at minimum duty 5 %: budget +10 % not met, impact +300 %, still running');
    expect(pauseAfter(20, last, 0)).toBeCloseTo(380);
  });

  it('keeps the duty cycle within [floor, 1], decreases over budget and increases under it, whatever it measures', () => {
    const window = fc.record({ loaded: fc.boolean(), impact: fc.option(fc.double({ min: -1, max: 50, noNaN: true }), { nil: null }) });
    const limits = fc.record({
      budget: fc.option(fc.double({ min: 0.001, max: 5, noNaN: true }), { nil: null }),
      minDutyCycle: fc.double({ min: 0.001, max: 1, noNaN: true }),
      targetBatchMs: fc.integer({ min: 1, max: 5000 }),
    });
    fc.assert(
      fc.property(limits, fc.array(window, { maxLength: 40 }), (l, windows) => {
        let p = initialPacing(l);
        for (const w of windows) {
          const next = nextPacing(p, w, l);
          expect(next.dutyCycle).toBeGreaterThanOrEqual(Math.min(l.minDutyCycle, 0.9) - 1e-12);
          expect(next.dutyCycle).toBeLessThanOrEqual(1);
          expect(next.batchMs).toBeGreaterThan(0);
          expect(next.batchMs).toBeLessThanOrEqual(l.targetBatchMs);
          if (l.budget === null || !w.loaded) expect(next).toMatchObject({ state: 'full', dutyCycle: 1 });
          else if (w.impact !== null && p.state !== 'full') {
            if (w.impact > l.budget) expect(next.dutyCycle).toBeLessThanOrEqual(p.dutyCycle);
            else expect(next.dutyCycle).toBeGreaterThanOrEqual(p.dutyCycle);
          }
          if (next.state === 'minimum') expect(next.dutyCycle).toBe(Math.min(l.minDutyCycle, 0.9));
          expect(pauseAfter(100, next, 0)).toBeGreaterThanOrEqual(0);
          p = next;
        }
      }),
    );
  });

  it('never pauses less than the manifest sleepRatio asks', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 10_000, noNaN: true }), (ratio, ms) => {
        expect(pauseAfter(ms, initialPacing(LIMITS), ratio)).toBeCloseTo(ratio * ms);
      }),
    );
  });
});
