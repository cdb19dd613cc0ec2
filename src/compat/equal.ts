/**
 * Deep equality of two values as JSON sees them, the default comparison of shadow reads and migration checks.
 *
 * - Primitives by value; `NaN` equals `NaN`, `0` equals `-0` (JSON writes both the same way).
 * - Plain objects and class instances by their own enumerable keys, in any order; a key whose value is
 *   `undefined` counts as absent (JSON drops it). Prototypes are ignored.
 * - Arrays element by element, in order.
 * - A `Date` by its time (an invalid date equals an invalid date), never equal to a string.
 * - A `Map` by its keys (looked up as `Map` does) and deep-equal values; a `Set` by deep-equal members in any order.
 * - Cycles do not loop: a pair already being compared higher up counts as equal.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return equal(a, b, []);
}

function equal(a: unknown, b: unknown, stack: [object, object][]): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (stack.some(([x, y]) => x === a && y === b)) return true;
  if (a instanceof Date || b instanceof Date) {
    if (!(a instanceof Date && b instanceof Date)) return false;
    const [x, y] = [a.getTime(), b.getTime()];
    return x === y || (Number.isNaN(x) && Number.isNaN(y));
  }
  stack.push([a, b]);
  try {
    if (Array.isArray(a) || Array.isArray(b)) {
      if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
      return a.every((v, i) => equal(v, b[i], stack));
    }
    if (a instanceof Map || b instanceof Map) {
      if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
      for (const [k, v] of a) if (!b.has(k) || !equal(v, b.get(k), stack)) return false;
      return true;
    }
    if (a instanceof Set || b instanceof Set) {
      if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
      const rest = [...b];
      for (const v of a) {
        const i = rest.findIndex((w) => equal(v, w, stack));
        if (i < 0) return false;
        rest.splice(i, 1);
      }
      return true;
    }
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined);
    const kx = keys(x);
    if (kx.length !== keys(y).length) return false;
    return kx.every((k) => Object.hasOwn(y, k) && equal(x[k], y[k], stack));
  } finally {
    stack.pop();
  }
}
