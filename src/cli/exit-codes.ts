import type { FerryErrorCode } from '../errors.js';

/** The exit status of each error code: the one table scripts can rely on (README, "Exit codes"). */
export const EXIT_CODES: Record<FerryErrorCode, number> = {
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
};
