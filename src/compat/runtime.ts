import type { Queryable } from '../db/database.js';
import type { Flags } from '../sdk/flags.js';

/**
 * What every part of `ferry/compat` shares: the application's flags client (answers and metrics), the
 * clock, the logger, and the rows each part keeps for ferry's state, flushed through one session.
 */
export interface CompatRuntime {
  readonly flags: Flags;
  /** Differing values kept in memory per flag, and written per flag per flush, at most. */
  readonly mismatchSamples?: number;
  /** The clock; a test or a demo sets it. */
  now(): Date;
  /** Deprecation warnings and other notes for the application's log; never throws into the caller. */
  log(message: string, details: Record<string, unknown>): void;
  /** Keep `part`'s rows for the next flush. */
  register(part: FlushPart): void;
}

/** Rows one part keeps in memory until they are written to ferry's state (mismatch samples, consumer counts). */
export interface FlushPart {
  /** Write what is kept through `db`; resolves false (never rejects) when something had to be kept for the next flush. */
  flush(db: Queryable): Promise<boolean>;
  /** Whether anything waits to be written. */
  pending(): boolean;
}
