/*
 * What ferry reads from another migration tool: its migration files and its
 * history table. One reader per tool (src/import/tools/), each pure over the
 * files it is given and one query for the history; the workflow
 * (src/workflow/import.ts) compares the two, refuses what it cannot import
 * faithfully, writes ferry migrations and records the applied ones.
 */

import type { Queryable } from '../db/database.js';

/** The tools `ferry import --from` reads. */
export const IMPORT_TOOLS = ['dbmate', 'golang-migrate', 'prisma', 'drizzle', 'flyway', 'node-pg-migrate', 'knex'] as const;
export type ImportTool = (typeof IMPORT_TOOLS)[number];

/** One migration as the other tool keeps it. */
export interface ForeignMigration {
  /**
   * The key the tool records in its history table for it: dbmate's and
   * golang-migrate's version, Prisma's migration_name (the folder), Drizzle's
   * journal `when` (its created_at), Flyway's version, node-pg-migrate's file
   * name without extension, Knex's file name.
   */
  version: string;
  /** Its name for humans, from the file or folder name (`add_users`). */
  name: string;
  /** The files it came from, relative to the tool's folder, forward first. */
  files: string[];
  /** The forward SQL, exactly as the tool runs it. */
  up: string;
  /** The rollback SQL, when the tool has one for it (dbmate's down block, golang-migrate's .down.sql, Flyway's U file). */
  down?: string;
  /** False when the tool runs it outside a transaction (dbmate `transaction:false`). */
  transaction: boolean;
  /** The checksum the tool records for it, computed from the file as the tool does; undefined when the tool records none. */
  toolChecksum?: string;
  /** A code migration (node-pg-migrate's and Knex's `.js` / `.ts` modules): `up` and `down` are then empty, the module runs instead. */
  code?: CodeMigration;
}

/** A migration the tool runs as a JavaScript or TypeScript module exporting `up` and `down`. */
export interface CodeMigration {
  /** The module's absolute path. */
  module: string;
  /** The module has a way back: a `down` the tool would run (node-pg-migrate infers one when `down` is left out). */
  reversible: boolean;
  /** Why ferry cannot run the module (it does not load, or exports no `up`): the migration is imported opaque. */
  opaque?: string;
}

/** One migration the tool's history table says it ran. */
export interface HistoryRow {
  /** The same key as {@link ForeignMigration.version}. */
  version: string;
  /**
   * `applied`: it counts; `dirty`: golang-migrate stopped inside it (or Knex's lock is held); `failed`:
   * Prisma's unfinished row or Flyway's success = false; `rolled-back`:
   * Prisma's rolled_back_at (it does not count, and is not a problem).
   */
  status: 'applied' | 'dirty' | 'failed' | 'rolled-back';
  /** The checksum the tool recorded, when it records one. */
  checksum?: string;
  /** For a dirty or failed row: the whole explanation and fix, when the tool's case needs its own words (Knex's held lock). */
  message?: string;
}

/** A tool's history as read from one database. */
export interface ToolHistory {
  /** The table read, qualified (`public.schema_migrations`), for messages. */
  table: string;
  rows: HistoryRow[];
  /**
   * golang-migrate keeps only its current version: every file at or below it
   * is applied. Readers that list rows one per migration leave this undefined.
   */
  upTo?: string;
}

/** One tool: where its migrations are, how to read them, and its history table. */
export interface ToolReader {
  tool: ImportTool;
  /** The folder the tool uses by default, relative to the project root. */
  defaultDir: string;
  /**
   * Read the tool's migrations from `dir`, in the order the tool applies them.
   * A layout ferry cannot read is a FerryError E_USAGE naming the file and what is wrong.
   */
  read(dir: string): ForeignMigration[];
  /** The tool's history in `db`, or undefined when its table is not there. */
  history(db: Queryable): Promise<ToolHistory | undefined>;
  /**
   * Tools with code migrations: load a migration's module to learn whether it
   * runs, rolls back and wants a transaction; the same migration, completed.
   * Runs the module's top-level code, never its `up` or `down` against a database.
   */
  inspect?(m: ForeignMigration): Promise<ForeignMigration>;
}
