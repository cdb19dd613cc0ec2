import { FerryError } from '../../errors.js';
import { jsonEqual } from '../equal.js';
import type { AdapterContext, VersionAdapter } from './types.js';

/**
 * The round-trip property of an adapter: a body of the old version converted up and back down is the body
 * it was (`v1 → v2 → v1` is the identity), so a handler written once against the new version loses nothing an
 * old client sent. For property tests (fast-check is passed in, never imported) and for plain sample lists.
 */

/** Which way round the trip goes: `old-new-old` (request then response; the default) or `new-old-new` (response then request). */
export type RoundTripDirection = 'old-new-old' | 'new-old-new';

/** Where a round trip is checked. */
export interface RoundTripOptions {
  /** The call the adapter is told about; default `POST /`. */
  ctx?: Partial<Pick<AdapterContext, 'method' | 'path'>>;
  /** Default `old-new-old`. */
  direction?: RoundTripDirection;
}

/** What a round trip gave: the value after both conversions, and whether it equals the start. */
export interface RoundTrip {
  start: unknown;
  middle: unknown;
  end: unknown;
  same: boolean;
}

/** Convert `value` through `adapter` both ways and compare (a missing `request` or `response` converts nothing). */
export function roundTrip(adapter: VersionAdapter, value: unknown, opts: RoundTripOptions = {}): RoundTrip {
  const base = { method: opts.ctx?.method ?? 'POST', path: opts.ctx?.path ?? '/' };
  const up: AdapterContext = { ...base, from: adapter.from, to: adapter.to };
  const down: AdapterContext = { ...base, from: adapter.to, to: adapter.from };
  const request = (v: unknown) => (adapter.request ? adapter.request(v, up) : v);
  const response = (v: unknown) => (adapter.response ? adapter.response(v, down) : v);
  // Adapters are plain functions and may keep a reference to their input: hand each a copy.
  const copy = (v: unknown) => (v === undefined ? v : structuredClone(v));
  const oldNewOld = (opts.direction ?? 'old-new-old') === 'old-new-old';
  const middle = oldNewOld ? request(copy(value)) : response(copy(value));
  const end = oldNewOld ? response(copy(middle)) : request(copy(middle));
  return { start: value, middle, end, same: jsonEqual(value, end) };
}

/** Throw a FerryError naming the first of `samples` that does not survive the round trip through `adapter`. */
export function assertRoundTrip(adapter: VersionAdapter, samples: Iterable<unknown>, opts: RoundTripOptions = {}): void {
  for (const sample of samples) {
    const r = roundTrip(adapter, sample, opts);
    if (!r.same) throw roundTripError(adapter, r, opts.direction ?? 'old-new-old');
  }
}

function roundTripError(adapter: VersionAdapter, r: RoundTrip, direction: RoundTripDirection): FerryError {
  const [a, b] = direction === 'old-new-old' ? [adapter.from, adapter.to] : [adapter.to, adapter.from];
  return new FerryError(
    'E_VERIFY',
    `adapter ${adapter.from} ↔ ${adapter.to} does not round-trip ${a} → ${b} → ${a}: ${JSON.stringify(r.start)} → ${JSON.stringify(r.middle)} → ${JSON.stringify(r.end)}`,
    'make the conversions inverse on this input, or narrow the generated inputs to the domain the adapter keeps (and document it)',
    r,
  );
}

/** The part of fast-check {@link roundTripProperty} uses: `fc.property` with one arbitrary. */
export interface PropertyMaker<Arbitrary, Property> {
  property(arbitrary: Arbitrary, predicate: (value: never) => boolean | undefined): Property;
}

/**
 * A fast-check property that `adapter` round-trips every value of `arbitrary` (`fc.assert(roundTripProperty(fc, adapter, arb))`).
 * Pass the fast-check module itself: ferry does not depend on it at run time.
 */
export function roundTripProperty<Arbitrary, Property>(
  fc: PropertyMaker<Arbitrary, Property>,
  adapter: VersionAdapter,
  arbitrary: Arbitrary,
  opts: RoundTripOptions = {},
): Property {
  const direction = opts.direction ?? 'old-new-old';
  return fc.property(arbitrary, ((value: unknown) => {
    const r = roundTrip(adapter, value, opts);
    if (!r.same) throw roundTripError(adapter, r, direction);
    return true;
  }) as (value: never) => boolean);
}
