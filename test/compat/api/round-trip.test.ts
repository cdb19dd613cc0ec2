import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertRoundTrip, roundTrip, roundTripProperty } from '../../../src/compat/api/round-trip.js';
import type { VersionAdapter } from '../../../src/compat/api/types.js';
import { jsonEqual } from '../../../src/compat/equal.js';
import { isFerryError } from '../../../src/errors.js';
import { usersAdapter } from './users-adapter.js';

/** A word: no spaces (it may be any other text, empty words included, so runs of spaces appear). */
const word = fc.string({ maxLength: 8 }).map((s) => s.replace(/ /g, '_'));
/** A v1 name inside the adapter's domain: words joined by spaces, neither starting nor ending with one. */
const v1Name = fc
  .array(word, { minLength: 1, maxLength: 5 })
  .map((ws) => ws.join(' '))
  .filter((n) => !n.startsWith(' ') && !n.endsWith(' '));
const extra = fc.dictionary(
  fc.string({ maxLength: 6 }).filter((k) => !['name', 'email', 'firstName', 'lastName', 'emailAddress', '__proto__'].includes(k)),
  fc.jsonValue(),
  { maxKeys: 3 },
);
/** v1 users: `name`, `email` and other fields the adapter passes through. */
const v1User = fc.record({ name: v1Name, email: fc.emailAddress(), extra }).map(({ name, email, extra }) => ({ ...extra, name, email }));
/** v2 users inside the other way's domain: a first name without spaces, a last name not starting with one. */
const v2User = fc.record({
  firstName: word.filter((w) => w !== ''),
  lastName: fc.string({ maxLength: 12 }).filter((s) => !s.startsWith(' ')),
  emailAddress: fc.emailAddress(),
});

/** The message of the error `run` throws, with fast-check's cause (the round trip's own error). */
function failure(run: () => void): string {
  try {
    run();
  } catch (err) {
    return `${(err as Error).message}\n${String(((err as Error).cause as Error | undefined)?.message)}`;
  }
  return 'no failure';
}

describe('adapter round trips', () => {
  it('v1 → v2 → v1 is the identity on generated v1 users (and lists of them)', () => {
    fc.assert(roundTripProperty(fc, usersAdapter, v1User), { numRuns: 500 });
    fc.assert(roundTripProperty(fc, usersAdapter, fc.array(v1User, { maxLength: 4 })), { numRuns: 200 });
  });

  it('v2 → v1 → v2 is the identity on its own domain', () => {
    fc.assert(roundTripProperty(fc, usersAdapter, v2User, { direction: 'new-old-new' }), { numRuns: 500 });
  });

  it('finds the inputs outside the domain: a name starting with a space, or a first name with one', () => {
    const leading = fc.record({ name: v1Name.map((n) => ` ${n}`), email: fc.emailAddress() });
    expect(failure(() => fc.assert(roundTripProperty(fc, usersAdapter, leading), { numRuns: 100 }))).toMatch(/does not round-trip v1 → v2 → v1/);
    const spaced = fc.record({ firstName: fc.constant('Mary Ann'), lastName: fc.constant('Smith'), emailAddress: fc.emailAddress() });
    expect(failure(() => fc.assert(roundTripProperty(fc, usersAdapter, spaced, { direction: 'new-old-new' }), { numRuns: 10 }))).toMatch(
      /"Mary Ann".* → \{"name":"Mary Ann Smith".* → \{"firstName":"Mary","lastName":"Ann Smith"/,
    );
  });

  it('checks plain samples without fast-check and names the first that fails', () => {
    assertRoundTrip(usersAdapter, [
      { name: 'Ada Lovelace', email: 'ada@example.com' },
      { name: 'Ada King Lovelace', email: 'ada@example.com', id: 7 },
      { name: 'Ada  Lovelace', email: 'a@example.com' },
      { name: 'Plato', email: 'p@example.com' },
      { name: '', email: 'e@example.com' },
    ]);
    let caught: unknown;
    try {
      assertRoundTrip(usersAdapter, [
        { name: 'Ada Lovelace', email: 'a@example.com' },
        { name: 'Ada ', email: 'a@example.com' },
      ]);
    } catch (err) {
      caught = err;
    }
    expect(isFerryError(caught, 'E_VERIFY')).toBe(true);
    expect((caught as Error).message).toContain('"Ada "');
    expect((caught as { details: { middle: unknown } }).details.middle).toEqual({ firstName: 'Ada', lastName: '', emailAddress: 'a@example.com' });
  });

  it('hands each conversion a copy, so an adapter that mutates its input cannot fake the identity', () => {
    const mutating: VersionAdapter = {
      from: 'v1',
      to: 'v2',
      request: (b) => {
        const o = b as Record<string, unknown>;
        o.count = Number(o.count) + 1;
        return o;
      },
      response: (b) => b,
    };
    expect(roundTrip(mutating, { count: 1 })).toMatchObject({ same: false, start: { count: 1 }, end: { count: 2 } });
  });

  it('compares JSON values by their defined keys in any order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });
});
