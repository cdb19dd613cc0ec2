/**
 * Stable error codes. Every user-facing failure is a {@link FerryError} with one
 * of these; the CLI maps each to an exit status in one table ({@link EXIT_CODES}).
 */
export type FerryErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG'
  | 'E_MANIFEST'
  | 'E_NOT_FOUND'
  | 'E_CONNECT'
  | 'E_LOCKED'
  | 'E_DRIFT'
  | 'E_GATE'
  | 'E_POINT_OF_NO_RETURN'
  | 'E_STEP'
  | 'E_VERIFY'
  | 'E_REHEARSE'
  | 'E_BACKFILL'
  | 'E_LINT'
  | 'E_HEALTH_YELLOW'
  | 'E_HEALTH_RED'
  | 'E_HEALTH_NO_DATA'
  | 'E_DATA_LOSS'
  | 'E_FLEET'
  | 'E_INTERNAL';

/** The exit status of each error code: the one table scripts can rely on (README, "Exit codes"); the API's problem documents carry it too. */
export const EXIT_CODES: Readonly<Record<FerryErrorCode, number>> = {
  E_INTERNAL: 1,
  E_USAGE: 2,
  E_CONFIG: 3,
  E_MANIFEST: 4,
  E_NOT_FOUND: 5,
  E_CONNECT: 6,
  E_LOCKED: 7,
  E_DRIFT: 8,
  E_GATE: 9,
  E_POINT_OF_NO_RETURN: 10,
  E_STEP: 11,
  E_VERIFY: 12,
  E_REHEARSE: 13,
  E_BACKFILL: 14,
  E_LINT: 15,
  E_HEALTH_YELLOW: 16,
  E_HEALTH_RED: 17,
  E_HEALTH_NO_DATA: 18,
  E_DATA_LOSS: 19,
  /** A fleet run stopped (failures beyond its budget) or finished with failed databases: each is named with its error. */
  E_FLEET: 20,
};

/** An error meant for a human: what went wrong (`message`) and how to fix it (`hint`). */
export class FerryError extends Error {
  override readonly name = 'FerryError';
  constructor(
    readonly code: FerryErrorCode,
    message: string,
    readonly hint?: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** True when `err` is a {@link FerryError}, optionally with the given code. */
export function isFerryError(err: unknown, code?: FerryErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

/** PostgreSQL's SQLSTATE of a driver error, when it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** SQLSTATEs worth retrying with backoff: lock_timeout (55P03), deadlock (40P01), serialization failure (40001). */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['55P03', '40P01', '40001']);
