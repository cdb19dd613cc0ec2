import type { z } from 'zod';
import type { LockMode } from '../db/catalog-locks.js';
import type { TableRef } from './names.js';
import type { VirtualSchema } from './virtual-schema.js';

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
  /**
   * The forward statements cannot be undone (`ALTER TYPE … ADD VALUE`): `rollback` is empty, and once the
   * part is applied, `down` stops before it, as before any irreversible step (a point of no return).
   */
  irreversible?: boolean;
  /** For non-transactional parts: run before retrying after a crash or failure (e.g. drop an INVALID index). */
  cleanup?: string[];
  /** The locks the forward statements take, for the plan and the linter's view. */
  locks: LockNote[];
  /** What the part is to the migration-level composition of several operations on one table (src/operations/compose.ts). */
  compose?: ComposeRole;
  /** Lint rules its SQL handles besides its own operation's: a composed contract makes every composed operation's changes. */
  handles?: string[];
  /**
   * The same part as an earlier ferry generated it from the same spec, when
   * this one generates other SQL (the sync triggers): a step recorded with it
   * was not edited (src/migration/op-compile.ts).
   */
  previous?: { forward: string[]; rollback: string[]; verify: string[] };
}

/**
 * The role of a part that several operations on one table would each want:
 * the compat views, the sync trigger, or the contract that drops the old
 * shape. Composition replaces such parts by one per table.
 */
export type ComposeRole =
  | {
      role: 'views';
      /** Checks besides "the views exist" (e.g. no row left to backfill). */
      verify: string[];
      /** Statements the part's rollback runs after dropping the views. */
      rollback: string[];
    }
  | { role: 'sync'; sync: SyncTrigger }
  | {
      role: 'reshape';
      /** The statements that change the table's columns, without the drops of views and sync trigger around them. */
      statements: string[];
    };

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
 * Values that rolling back one expand part drops and the old shape cannot
 * regenerate: a column's values, or a whole table's rows when `column` is
 * absent. `down` counts the rows matching `where`, saves them, and refuses
 * without `--accept-data-loss` when there are any.
 */
export interface RollbackLoss {
  /** The table, as the manifest (or the SQL) names it: `users` or `app.users`. */
  table: string;
  /** The column dropped; absent when the whole table is dropped. */
  column?: string;
  /** SQL predicate over the table's rows (identifiers quoted): the rows holding values that would be lost; `true` for every row. */
  where: string;
}

/**
 * What an operation does to the columns of its table, in the column names of
 * its own spec. Composition (src/operations/compose.ts) uses it to give several
 * operations on one table one pair of views, one sync trigger and one contract.
 */
export interface ColumnEffect {
  /** The table, as the manifest names it. */
  table: string;
  /** Whether the operation publishes the old and the new shape as views (else it only adds columns). */
  views: boolean;
  /** The `compat` schema names it asks for. */
  compat?: { old?: string | undefined; new?: string | undefined } | undefined;
  /** Existing columns the new shape no longer shows (the old side of drop, split, merge). */
  hides: string[];
  /** Existing columns the new shape shows with another type, each through a shadow column until contract. */
  retypes: { column: string; shadow: string; type: string }[];
  /** An existing column the new shape shows under another name. */
  rename?: { from: string; to: string };
  /** Columns added to the table, part of the new shape only. */
  adds: string[];
}

/** How composition renames a spec into stored names: columns renamed by earlier steps, and expressions that may read them under their new names. */
export interface StoredNames {
  /** The stored name of a column the spec names as the new shape has it so far. */
  column(name: string): string;
  /** An expression of the spec, made to read renamed columns under their new names too. */
  expression(sql: string): string;
}

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
  /** What it does to its table's columns, for operations that add, hide, rename or retype columns (see {@link ColumnEffect}). */
  columns?(spec: S): ColumnEffect;
  /** The same spec naming columns as stored, when earlier steps of the migration renamed some (see {@link StoredNames}). */
  stored?(spec: S, names: StoredNames): S;
  /** Problems with running it on `schema` (missing table or column, a new name already taken …), each a sentence naming the object. */
  check?(spec: S, schema: VirtualSchema): string[];
  /** Record its effect in `schema`, so later steps are checked against the database as it will be. */
  apply?(spec: S, schema: VirtualSchema): void;
  /**
   * What rolling back its expand part `part` drops that the old shape cannot regenerate (see {@link RollbackLoss});
   * absent or `[]` when its rollback drops nothing the old shape lacks (a column a sync trigger keeps derived from the old one).
   */
  rollbackLoss?(spec: S, part: string): RollbackLoss[];
}

/** A two-way sync between the old and the new columns of one operation, kept by a BEFORE trigger while both shapes are live. */
export interface SyncTrigger {
  t: TableRef;
  /** What makes the trigger unique on its table (the column being changed). */
  key: string;
  /** The columns of the old shape. */
  oldColumns: string[];
  /** Each new column, its type, and the expression computing it from the old shape. */
  forward: { column: string; type: string; expr: string }[];
  /** Each old column and the expression computing it from the new shape. */
  backward: { column: string; expr: string }[];
  /** The only names `backward` expressions read (read name → stored column); default every column of the row under its own name. */
  backwardColumns?: Record<string, string>;
}
