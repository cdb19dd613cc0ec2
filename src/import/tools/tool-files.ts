import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Queryable } from '../../db/database.js';
import { quoteQualified } from '../../db/quote.js';
import { FerryError } from '../../errors.js';
import { fileErrorReason, readFolder, readTextFile, UnreadableFile } from '../../project/text-file.js';

/*
 * What every tool reader needs: its files read with errors that name them, and
 * its history table found by name before it is read.
 */

/** A migration layout ferry cannot read: E_USAGE naming the file and what is wrong. */
export function layoutError(file: string, problem: string, hint: string): FerryError {
  return new FerryError('E_USAGE', `${file}: ${problem}`, hint);
}

/** `name` (a file of the tool's folder, at `file`) matched by the tool's naming `pattern`; a name it does not match is {@link layoutError}. */
export function namedLike(pattern: RegExp, name: string, file: string, problem: string, hint: string): RegExpExecArray {
  const m = pattern.exec(name);
  if (!m) throw layoutError(file, problem, hint);
  return m;
}

function unreadable(err: unknown): never {
  if (err instanceof UnreadableFile)
    throw new FerryError('E_USAGE', err.message, 'make it a readable UTF-8 file, or pass --dir with the tool’s migration folder');
  throw err;
}

/** The names in the tool's folder `dir`; a folder that cannot be listed is E_USAGE naming it. */
export function listToolFolder(dir: string): string[] {
  try {
    return readFolder(dir).sort(byCodePoint);
  } catch (err) {
    return unreadable(err);
  }
}

/** A tool's file as UTF-8 text (byte-order mark dropped); unreadable is E_USAGE naming it. */
export function readToolText(file: string): string {
  try {
    return readTextFile(file);
  } catch (err) {
    return unreadable(err);
  }
}

/** A tool's file as the bytes on disk, for checksums the tool computes over bytes; it must also be UTF-8 (checked by {@link readToolText}). */
export function readToolBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    return unreadable(new UnreadableFile(file, fileErrorReason(file, err)));
  }
}

/** SHA-256 of `data` as lowercase hex, the form Prisma, Drizzle and dbmate record. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Order strings by UTF-16 code units, independent of the locale. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A history table found in the database: its name for messages and its quoted form for SQL. */
export interface FoundTable {
  /** `schema.table`, for messages. */
  name: string;
  /** The quoted, schema-qualified name to put in SQL. */
  sql: string;
}

/**
 * Find the tool's history table by the name the tool uses (`schema_migrations`
 * resolves through search_path, `drizzle.__drizzle_migrations` is qualified);
 * undefined when it does not exist. Reads the catalog only.
 */
export async function findHistoryTable(db: Queryable, name: string): Promise<FoundTable | undefined> {
  const r = await db.query<{ schema: string; table: string }>(
    `SELECT n.nspname AS schema, c.relname AS table
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = pg_catalog.to_regclass($1)`,
    [name],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  return { name: `${row.schema}.${row.table}`, sql: quoteQualified(row.schema, row.table) };
}
