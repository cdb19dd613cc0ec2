import { FerryError } from '../errors.js';

/**
 * A whole-number argument, written as plain digits only (no `3e0`, `0x3` or
 * blanks that `Number()` would take), within `min`–`max`; a usage error
 * naming `what` and an example otherwise.
 */
export function wholeNumber(what: string, text: string, range: { min: number; max?: number }, example: string): number {
  const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isInteger(n) && n >= range.min && (range.max === undefined || n <= range.max)) return n;
  const bounds = range.max === undefined ? `of at least ${range.min}` : `from ${range.min} to ${range.max}`;
  throw new FerryError('E_USAGE', `${what} must be a whole number ${bounds}, not "${text}"`, `e.g. ${example}`);
}
