import { join } from 'node:path';
import { z } from 'zod';
import type { ForeignMigration, ToolReader } from '../types.js';
import { findHistoryTable, layoutError, listToolFolder, readToolBytes, readToolText, sha256Hex } from './tool-files.js';

/*
 * Drizzle Kit: `NNNN_tag.sql` files listed, in order, by `meta/_journal.json`.
 * drizzle-orm's migrator (src/migrator.ts, readMigrationFiles) reads each
 * file, turns CRLF into LF, hashes that text with SHA-256 (`hash`) and
 * records the journal's `when` as `created_at` in
 * `drizzle.__drizzle_migrations(id, hash, created_at)`; it decides what is
 * applied by created_at alone. No down.
 */

const JOURNAL = join('meta', '_journal.json');
const BREAKPOINT = '--> statement-breakpoint';

const Journal = z.object({
  entries: z.array(z.object({ idx: z.number().int(), when: z.number().int(), tag: z.string().min(1), breakpoints: z.boolean() }).loose()),
});

/** Drizzle's statement separators taken out of the SQL: a marker alone on its line goes with its line, one after a statement leaves the statement. */
export function withoutBreakpoints(sql: string): string {
  return sql.replace(/^[ \t]*--> statement-breakpoint[ \t]*(?:\r?\n|$)/gm, '').replaceAll(BREAKPOINT, '');
}

/** Drizzle's `hash` of a migration file: SHA-256 hex of its text with CRLF turned into LF. */
export function drizzleHash(bytes: Uint8Array): string {
  return sha256Hex(Buffer.from(bytes).toString('utf8').replace(/\r\n/g, '\n'));
}

function readJournal(dir: string): z.infer<typeof Journal> {
  const file = join(dir, JOURNAL);
  const text = readToolText(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw layoutError(file, `is not valid JSON: ${(err as Error).message}`, 'restore the journal drizzle-kit wrote (from version control)');
  }
  const parsed = Journal.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw layoutError(
      file,
      `is not a drizzle-kit journal: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      'restore the journal drizzle-kit wrote (from version control)',
    );
  }
  return parsed.data;
}

/** Drizzle Kit's migrations, in journal order (its default folder: `drizzle`); the version is the entry's `when`. */
export const drizzleReader: ToolReader = {
  tool: 'drizzle',
  defaultDir: 'drizzle',
  read(dir: string): ForeignMigration[] {
    const journal = readJournal(dir);
    const files = new Set(listToolFolder(dir).filter((name) => name.endsWith('.sql')));
    const seen = new Map<string, string>();
    const migrations: ForeignMigration[] = [];
    for (const entry of journal.entries) {
      const file = `${entry.tag}.sql`;
      const version = String(entry.when);
      if (!files.has(file)) {
        throw layoutError(
          join(dir, JOURNAL),
          `lists ${entry.tag}, but ${join(dir, file)} does not exist`,
          'restore the file from version control, or regenerate the migrations with drizzle-kit',
        );
      }
      const other = seen.get(version);
      if (other)
        throw layoutError(
          join(dir, JOURNAL),
          `gives ${entry.tag} the same \`when\` (${version}) as ${other}`,
          'give each journal entry its own `when`: drizzle records it as the migration’s created_at',
        );
      if (migrations.some((m) => m.files[0] === file)) throw layoutError(join(dir, JOURNAL), `lists ${entry.tag} twice`, 'remove the second entry');
      seen.set(version, entry.tag);
      files.delete(file);
      const up = withoutBreakpoints(readToolText(join(dir, file)));
      const name = /^\d+_(.+)$/.exec(entry.tag)?.[1] ?? entry.tag;
      migrations.push({ version, name, files: [file], up, transaction: true, toolChecksum: drizzleHash(readToolBytes(join(dir, file))) });
    }
    const stray = [...files][0];
    if (stray)
      throw layoutError(join(dir, stray), `is not in ${join(dir, JOURNAL)}, so drizzle never runs it`, 'add it with drizzle-kit, or move it out of the folder');
    return migrations;
  },
  async history(db) {
    const table = await findHistoryTable(db, 'drizzle.__drizzle_migrations');
    if (!table) return undefined;
    const r = await db.query<{ hash: string; created_at: string | null }>(`SELECT hash, created_at::text AS created_at FROM ${table.sql} ORDER BY id`);
    return { table: table.name, rows: r.rows.map((row) => ({ version: String(row.created_at), status: 'applied' as const, checksum: row.hash })) };
  },
};
