/**
 * The shape of a schema snapshot: what src/db/catalog.ts reads and src/db/catalog-diff.ts compares.
 * Types only, so both import it one way (catalog.ts re-exports them).
 */

/** One column of a table; compared by name, so its position (attnum) is deliberately absent. */
export interface ColumnSnapshot {
  /** `format_type` of the column, e.g. `character varying(100)`. */
  type: string;
  notNull: boolean;
  /** Default expression, or the generation expression of a generated column. */
  default: string | null;
  identity: 'always' | 'by default' | null;
  generated: 'stored' | 'virtual' | null;
  /** Collation, only when it differs from the type's default. */
  collation: string | null;
}

/** An ordinary or partitioned table and its columns (keyed by column name). */
export interface TableSnapshot {
  kind: 'table' | 'partitioned table';
  unlogged: boolean;
  rowSecurity: boolean;
  /** `pg_get_partkeydef` of a partitioned table. */
  partitionKey: string | null;
  /** `parent FOR VALUES …` when the table is a partition. */
  partitionOf: string | null;
  columns: Record<string, ColumnSnapshot>;
}

/** An index as PostgreSQL would recreate it, and whether it is usable (a failed CONCURRENTLY build leaves it invalid). */
export interface IndexSnapshot {
  table: string;
  definition: string;
  valid: boolean;
}

/** A table constraint; `definition` already ends in `NOT VALID` while it is unvalidated. */
export interface ConstraintSnapshot {
  table: string;
  type: 'check' | 'foreign key' | 'primary key' | 'unique' | 'exclusion' | 'trigger' | 'not null';
  definition: string;
  validated: boolean;
}

/** A view or materialized view and its query. */
export interface ViewSnapshot {
  materialized: boolean;
  definition: string;
}

/** A function or procedure, identified by its body's md5 rather than the body itself. */
export interface FunctionSnapshot {
  kind: 'function' | 'procedure' | 'window function';
  returns: string | null;
  language: string;
  /** md5 of `pg_get_functiondef`. */
  md5: string;
}

/** A user trigger (internal constraint triggers are left out). */
export interface TriggerSnapshot {
  table: string;
  definition: string;
  enabled: 'origin' | 'disabled' | 'replica' | 'always';
}

/** A sequence's parameters (never its current value, which is data) and the column owning it. */
export interface SequenceSnapshot {
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  ownedBy: string | null;
}

/** An installed extension. */
export interface ExtensionSnapshot {
  version: string;
  schema: string;
}

/**
 * A normalised, deterministic description of a database's user schema. Keys are
 * plain schema-qualified names (`public.users`, `public.users.users_pkey` for
 * per-table objects, `public.f(a integer)` for routines), inserted in sorted order
 * so the JSON form is stable.
 */
export interface SchemaSnapshot {
  schemas: string[];
  extensions: Record<string, ExtensionSnapshot>;
  /** Enum types and their labels in sort order. */
  enums: Record<string, string[]>;
  sequences: Record<string, SequenceSnapshot>;
  tables: Record<string, TableSnapshot>;
  indexes: Record<string, IndexSnapshot>;
  constraints: Record<string, ConstraintSnapshot>;
  views: Record<string, ViewSnapshot>;
  functions: Record<string, FunctionSnapshot>;
  triggers: Record<string, TriggerSnapshot>;
}
