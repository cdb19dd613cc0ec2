import type { z } from 'zod';
import type { LockMode } from '../db/catalog-locks.js';

/** A table-level lock an operation's statement takes, in PostgreSQL's own mode names (`AccessExclusiveLock` …). */
export interface LockNote {
  /** The table (or index) locked, as the user named it: `users` or `app.users`. */
  relation: string;
  mode: LockMode;
  /** How long it is held, in words: "catalog only, milliseconds", "for the whole index build" … */
  held: string;
}

/**
 * One piece of an operation that runs as one ferry step: SQL statements with
 * their exact undo and a check that they took effect. Parts run in order on
 * `up` and are undone in reverse order on `down`.
 */
export interface SqlPart {
  kind: 'sql';
  /** Short name, unique within the operation (`add-columns`, `sync-triggers` …); the step id becomes `<op step id>.<name>`. */
  name: string;
  /** One line for humans: what this part does. */
  description: string;
  /** False for statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY …); such a part holds exactly one forward statement. */
  transaction: boolean;
  /** The statements `up` runs, each a complete SQL statement without a trailing semicolon. */
  forward: string[];
  /** The statements that undo `forward` exactly; empty when there is nothing to undo (e.g. a VALIDATE). Contract parts are never undone. */
  rollback: string[];
  /** Queries that each return one row whose first column is true when the part's effect is there. */
  verify: string[];
  /** For non-transactional parts: run before retrying after a crash or failure (e.g. drop an INVALID index). */
  cleanup?: string[];
  /** The locks the forward statements take, for the plan and the linter's view. */
  locks: LockNote[];
}

/**
 * A part that fills existing rows with the backfill engine (keyset batches,
 * checkpointed): the fields of a manifest backfill step without id and kind.
 */
export interface BackfillPart {
  kind: 'backfill';
  name: string;
  description: string;
  backfill: {
    table: string;
    key?: string[];
    set: Record<string, string>;
    where: string;
    rollback?: Record<string, string>;
  };
}

/** One ordered piece of an operation. */
export type OpPart = SqlPart | BackfillPart;

/**
 * One kind of schema change, done without downtime. `expand` is what `ferry up`
 * runs (for expand/contract operations: the new shape beside the old, kept in
 * sync); `contract` removes the old shape once the migration is verified and
 * is the point of no return. Both are pure: spec in, SQL out, nothing touched.
 */
export interface Operation<S> {
  /** The `op` value in a manifest step, e.g. `split-column`. */
  readonly name: string;
  /** The operation's fields in a manifest step (besides id, kind, op, description). */
  readonly schema: z.ZodType<S>;
  /** Lint rules whose risk this operation's own SQL takes care of (its contract dropping the old column …); shown as handled, never raised. */
  readonly handles?: readonly string[];
  /** One line describing what a given spec does. */
  describe(spec: S): string;
  /** The parts `up` runs, in order. */
  expand(spec: S): OpPart[];
  /** The parts that remove the old shape after verification, in order; `[]` when there is nothing to contract. */
  contract(spec: S): OpPart[];
}
