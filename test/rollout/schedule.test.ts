import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { manifestSchema } from '../../src/migration/manifest.js';
import { DEFAULT_STAGES, parseFlagValue, parseHold, parsePercentage, phasePath, stagesOf } from '../../src/rollout/index.js';

const t = { id: 'm', stages: DEFAULT_STAGES, hasBackfill: true };
const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return isFerryError(e) ? e.code : 'other';
  }
};

describe('rollout schedule and percentages', () => {
  it('parses percentages to two decimals and rejects the rest', () => {
    expect(['5', '12.5', '0.01', '5%', '100'].map((x) => parsePercentage(x))).toEqual([5, 12.5, 0.01, 5, 100]);
    for (const bad of ['-1', '100.001', 'abc', 'NaN', '1.234', '', '1e2', ' 5 5'])
      expect(
        code(() => parsePercentage(bad)),
        bad,
      ).toBe('E_USAGE');
    expect(parseFlagValue('false')).toEqual({ enabled: false, percentage: 0 });
    expect(parseFlagValue('true')).toEqual({ enabled: true, percentage: 100 });
  });

  it('parses holds down to seconds', () => {
    expect([parseHold('1s'), parseHold('15min'), parseHold('24h'), parseHold('1h30m'), parseHold('2d')]).toEqual([
      1000, 900_000, 86_400_000, 5_400_000, 172_800_000,
    ]);
    expect([parseHold('0s'), parseHold('1'), parseHold('500ms'), parseHold('h')]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('validates the manifest schedule: increasing, ending at 100, percents 0.01..100', () => {
    const base = { title: 'x', summary: 'x', type: 'system', strategy: 'incremental', flag: 'f', steps: [{ id: 'a' }] };
    const ok = (stages: unknown) => manifestSchema.safeParse({ ...base, rollout: { stages } }).success;
    expect(
      ok([
        { percent: 0.01, hold: '1s' },
        { percent: 100, hold: '1s' },
      ]),
    ).toBe(true);
    expect(
      ok([
        { percent: 50, hold: '1s' },
        { percent: 25, hold: '1s' },
        { percent: 100, hold: '1s' },
      ]),
    ).toBe(false);
    expect(
      ok([
        { percent: 5, hold: '1s' },
        { percent: 50, hold: '1s' },
      ]),
    ).toBe(false);
    expect(
      ok([
        { percent: 0, hold: '1s' },
        { percent: 100, hold: '1s' },
      ]),
    ).toBe(false);
    expect(
      ok([
        { percent: 5.555, hold: '1s' },
        { percent: 100, hold: '1s' },
      ]),
    ).toBe(false);
    expect(
      ok([
        { percent: 5, hold: 'soon' },
        { percent: 100, hold: '1s' },
      ]),
    ).toBe(false);
    expect(manifestSchema.safeParse({ ...base, flag: undefined, rollout: { stages: [{ percent: 100, hold: '1s' }] } }).success).toBe(false);
    expect(stagesOf(undefined).map((s) => s.percent)).toEqual([5, 25, 50, 75, 100]);
  });

  it('moves phases in order and refuses out-of-order requests', () => {
    expect(phasePath('backfilled', 5, t)).toEqual(['canary']);
    expect(phasePath('backfilled', 50, t)).toEqual(['canary', 'rolling']);
    expect(phasePath('expanded', 5, { ...t, hasBackfill: false })).toEqual(['canary']);
    expect(code(() => phasePath('expanded', 5, t))).toBe('E_GATE');
    expect(phasePath('canary', 25, t)).toEqual(['rolling']);
    expect(phasePath('rolling', 100, t)).toEqual([]);
    expect(phasePath('canary', 100, t)).toEqual(['rolling']);
    expect(phasePath('rolled-out', 100, t)).toEqual([]);
    expect(phasePath('paused', 5, t)).toEqual(['canary']);
    for (const from of ['planned', 'approved', 'backfilling', 'verified', 'rolled-back'])
      expect(
        code(() => phasePath(from, 5, t)),
        from,
      ).toBe('E_GATE');
    expect(code(() => phasePath('rolled-out', 50, t))).toBe('E_GATE');
  });
});
