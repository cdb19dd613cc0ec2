import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonEqual } from '../../src/compat/equal.js';

/** JSON text with object keys sorted: two JSON values are equal exactly when these agree. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

describe('jsonEqual: the default comparison of shadow reads', () => {
  it('agrees with comparing canonical JSON text, on any two JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(jsonEqual(a, b)).toBe(canonical(a) === canonical(b));
      }),
    );
  });

  it('a value equals its copy, with keys in another order; one changed leaf makes it differ', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }), (o) => {
        const reordered = Object.fromEntries(Object.entries(structuredClone(o)).reverse());
        expect(jsonEqual(o, reordered)).toBe(true);
        const [k] = Object.keys(o);
        expect(jsonEqual(o, { ...reordered, [k as string]: { changed: o[k as string] ?? null } })).toBe(false);
      }),
    );
  });

  it('reads dates by time, maps and sets by content, undefined keys as absent, and survives cycles', () => {
    expect(jsonEqual(new Date(5), new Date(5))).toBe(true);
    expect(jsonEqual(new Date(5), new Date(6))).toBe(false);
    expect(jsonEqual(new Date(5), '1970-01-01T00:00:00.005Z')).toBe(false);
    expect(jsonEqual(new Map([['a', { x: 1 }]]), new Map([['a', { x: 1 }]]))).toBe(true);
    expect(jsonEqual(new Map([['a', 1]]), new Map([['b', 1]]))).toBe(false);
    expect(jsonEqual(new Set([{ a: 1 }, 2]), new Set([2, { a: 1 }]))).toBe(true);
    expect(jsonEqual(new Set([1, 2]), new Set([1, 3]))).toBe(false);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual(Number.NaN, Number.NaN)).toBe(true);
    expect(jsonEqual([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(jsonEqual(null, undefined)).toBe(false);
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    const b: Record<string, unknown> = { n: 1 };
    b.self = b;
    expect(jsonEqual(a, b)).toBe(true);
  });
});
