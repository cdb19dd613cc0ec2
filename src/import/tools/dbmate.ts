import { join } from 'node:path';
import type { ForeignMigration, ToolReader } from '../types.js';
import { findHistoryTable, layoutError, listToolFolder, namedLike, readToolText } from './tool-files.js';

/*
 * dbmate: `<version>_<name>.sql` files, each with a `-- migrate:up` block and
 * an optional `-- migrate:down` block; options such as `transaction:false`
 * follow the marker on its line. History: `schema_migrations(version)`, one
 * row per applied version, no checksum.
 */

// dbmate's own patterns (pkg/dbmate/migration.go); `\s` there is ASCII whitespace, newlines included.
const UP_MARKER = /^--[\t\n\f\r ]*migrate:up(?:[\t\n\f\r ]*$|[\t\n\f\r ]+[^\t\n\f\r ]+)/m;
const DOWN_MARKER = /^--[\t\n\f\r ]*migrate:down(?:[\t\n\f\r ]*$|[\t\n\f\r ]+[^\t\n\f\r ]+)$/m;
// dbmate matches `^(\d+).*\.sql$` and takes the digits as the version.
const FILE_NAME = /^(\d+)_?(.*)\.sql$/;

/** One dbmate file split into its blocks: the SQL under each marker (marker lines excluded) and the up block's options. */
export interface DbmateBlocks {
  up: string;
  /** Undefined when there is no down block, or it holds only whitespace and comments. */
  down?: string;
  /** False when the up marker says `transaction:false`. */
  transaction: boolean;
}

/** The `key:value` options on a marker line (`-- migrate:up transaction:false`). */
function markerOptions(line: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const pair of line
    .trim()
    .split(/[\t\n\f\r ]+/)
    .slice(1)) {
    const parts = pair.split(':');
    if (parts.length === 2) options.set(parts[0] as string, parts[1] as string);
  }
  return options;
}

/** The text after the marker line that starts at `at`, up to `end`; and that marker line. */
function block(text: string, at: number, end: number): { line: string; body: string } {
  const eol = text.indexOf('\n', at);
  if (eol === -1 || eol >= end) return { line: text.slice(at, end), body: '' };
  return { line: text.slice(at, eol), body: text.slice(eol + 1, end) };
}

/** Whether SQL text holds nothing but whitespace and `--` comments. */
function onlyComments(sql: string): boolean {
  return sql.split('\n').every((line) => /^\s*(--.*)?$/.test(line));
}

/**
 * Split a dbmate migration into its up and down blocks the way dbmate does;
 * a layout dbmate refuses (no up marker, down before up, statements before
 * the up marker) is E_USAGE naming `file`.
 */
export function parseDbmateBlocks(file: string, text: string): DbmateBlocks {
  const up = UP_MARKER.exec(text);
  const down = DOWN_MARKER.exec(text);
  const hint = 'write the file as dbmate expects: `-- migrate:up`, its SQL, then `-- migrate:down` and its SQL';
  if (!up) throw layoutError(file, 'has no `-- migrate:up` line', hint);
  if (down && down.index < up.index) throw layoutError(file, '`-- migrate:down` comes before `-- migrate:up`', hint);
  if (!onlyComments(text.slice(0, up.index))) throw layoutError(file, 'has statements before `-- migrate:up`, which dbmate refuses', hint);
  const upBlock = block(text, up.index, down ? down.index : text.length);
  const downBlock = down ? block(text, down.index, text.length) : undefined;
  const result: DbmateBlocks = { up: upBlock.body, transaction: markerOptions(upBlock.line).get('transaction') !== 'false' };
  if (downBlock && !onlyComments(downBlock.body)) result.down = downBlock.body;
  return result;
}

/** dbmate's migrations in the order it applies them: by file name (its default folder: `db/migrations`). */
export const dbmateReader: ToolReader = {
  tool: 'dbmate',
  defaultDir: 'db/migrations',
  read(dir: string): ForeignMigration[] {
    const byVersion = new Map<string, ForeignMigration>();
    for (const name of listToolFolder(dir)) {
      if (!name.endsWith('.sql')) continue;
      const m = namedLike(
        FILE_NAME,
        name,
        join(dir, name),
        'is not named `<version>_<name>.sql`, so dbmate skips it',
        'rename it with a leading version number, or move it out of the folder',
      );
      const version = m[1] as string;
      const other = byVersion.get(version);
      if (other) throw layoutError(join(dir, name), `has the same version ${version} as ${other.files[0]}`, 'give each migration its own version');
      const blocks = parseDbmateBlocks(join(dir, name), readToolText(join(dir, name)));
      byVersion.set(version, { version, name: m[2] || version, files: [name], ...blocks });
    }
    // dbmate applies in file-name order, which is the folder listing's order.
    return [...byVersion.values()];
  },
  async history(db) {
    const table = await findHistoryTable(db, 'schema_migrations');
    if (!table) return undefined;
    const r = await db.query<{ version: string }>(`SELECT version::text AS version FROM ${table.sql} ORDER BY version`);
    return { table: table.name, rows: r.rows.map((row) => ({ version: row.version, status: 'applied' as const })) };
  },
};
