import { sqlState } from '../errors.js';

/** SQLSTATEs a batch retries (with backoff, then split). */
export { RETRYABLE_SQLSTATES as RETRYABLE } from '../errors.js';

/** Whether an error is a failure of the data itself (a cast, a constraint, a raised exception), not of the session. */
export function isDataError(err: unknown): boolean {
  const s = sqlState(err);
  return s !== undefined && /^(22|23|P0|38|39|2F|42804)/.test(s);
}

/** A row a batch could not transform: the key, the row (as JSON) and why. Nothing of its batch was written. */
export class DataFault extends Error {
  constructor(
    readonly key: string[],
    readonly row: string,
    message: string,
  ) {
    super(message);
  }
}

/** The claim on the range was taken over by another worker (after this one's lease expired). */
export class ClaimLost extends Error {}

/** Thrown inside a transaction only to roll it back. */
export class Rollback extends Error {}

/** JSON of a row for a message: bigints as text, at most `max` characters. */
export function rowJson(row: unknown, max = 500): string {
  const s = JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(row);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
