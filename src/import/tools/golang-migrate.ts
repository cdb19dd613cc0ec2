import { join } from 'node:path';
import type { ForeignMigration, ToolReader } from '../types.js';
import { findHistoryTable, layoutError, listToolFolder, namedLike, readToolText } from './tool-files.js';

/*
 * golang-migrate: `<version>_<title>.up.sql` and `<version>_<title>.down.sql`.
 * Its `schema_migrations(version bigint, dirty boolean)` holds one row, the
 * current version: every migration at or below it is applied (`upTo`).
 */

const FILE_NAME = /^(\d+)_(.*)\.(up|down)\.sql$/;

interface Pair {
  title: string;
  up?: string;
  down?: string;
}

/**
 * The version as golang-migrate records it: the digits parsed as a number, so
 * `000001_init.up.sql` is version 1 (it keeps versions as uint64 in a bigint).
 */
function recordedVersion(digits: string): string {
  return BigInt(digits).toString();
}

/** golang-migrate's migrations in version order (its default folder: `migrations`). */
export const golangMigrateReader: ToolReader = {
  tool: 'golang-migrate',
  defaultDir: 'migrations',
  read(dir: string): ForeignMigration[] {
    const pairs = new Map<string, Pair>();
    for (const name of listToolFolder(dir)) {
      if (!name.endsWith('.sql')) continue;
      const m = namedLike(
        FILE_NAME,
        name,
        join(dir, name),
        'is not named `<version>_<title>.up.sql` or `<version>_<title>.down.sql`',
        'rename it the way golang-migrate expects, or move it out of the folder',
      );
      const [, digits, title, direction] = m as unknown as [string, string, string, 'up' | 'down'];
      const version = recordedVersion(digits);
      const pair = pairs.get(version) ?? { title };
      const first = pair.up ?? pair.down;
      if (first && pair.title !== title) {
        throw layoutError(
          join(dir, name),
          `has version ${version} like ${join(dir, first)} but another title`,
          'give the up and down files of a version the same title, and each migration its own version',
        );
      }
      if (pair[direction])
        throw layoutError(
          join(dir, name),
          `is a second ${direction} file for version ${version}, beside ${join(dir, pair[direction])}`,
          'give each migration its own version',
        );
      pair[direction] = name;
      pairs.set(version, pair);
    }
    const migrations: ForeignMigration[] = [];
    for (const [version, pair] of pairs) {
      if (!pair.up)
        throw layoutError(
          join(dir, pair.down as string),
          `is a down file without an up file for version ${version}`,
          'add the up file, or remove the down file',
        );
      const m: ForeignMigration = { version, name: pair.title, files: [pair.up], up: readToolText(join(dir, pair.up)), transaction: true };
      if (pair.down) {
        m.files.push(pair.down);
        m.down = readToolText(join(dir, pair.down));
      }
      migrations.push(m);
    }
    return migrations.sort((a, b) => (BigInt(a.version) < BigInt(b.version) ? -1 : 1));
  },
  async history(db) {
    const table = await findHistoryTable(db, 'schema_migrations');
    if (!table) return undefined;
    const r = await db.query<{ version: string; dirty: boolean }>(`SELECT version::text AS version, dirty FROM ${table.sql}`);
    const row = r.rows[0];
    if (!row) return { table: table.name, rows: [] };
    return { table: table.name, rows: [{ version: row.version, status: row.dirty ? 'dirty' : 'applied' }], upTo: row.version };
  },
};
