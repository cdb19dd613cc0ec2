import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ForeignMigration, HistoryRow, ToolReader } from '../types.js';
import { findHistoryTable, layoutError, listToolFolder, readToolBytes, readToolText, sha256Hex } from './tool-files.js';

/*
 * Prisma Migrate: one folder per migration, `<timestamp>_<name>/migration.sql`,
 * applied in folder-name order; no down. `_prisma_migrations` keeps one row
 * per attempt (a failed one, then a rolled-back mark, then a success), with
 * the SHA-256 of migration.sql as its checksum.
 */

const SCRIPT = 'migration.sql';
const FOLDER_NAME = /^\d+_(.+)$/;

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Prisma's migrations (its default folder: `prisma/migrations`). The version
 * is the folder name, as `migration_name` records it; `migration_lock.toml`
 * and other plain files beside the folders are not migrations.
 */
export const prismaReader: ToolReader = {
  tool: 'prisma',
  defaultDir: 'prisma/migrations',
  read(dir: string): ForeignMigration[] {
    const migrations: ForeignMigration[] = [];
    for (const folder of listToolFolder(dir)) {
      if (!isFolder(join(dir, folder))) continue;
      const script = join(dir, folder, SCRIPT);
      if (!listToolFolder(join(dir, folder)).includes(SCRIPT)) {
        throw layoutError(join(dir, folder), `has no ${SCRIPT}`, `put the migration's SQL in ${script}, or remove the folder`);
      }
      const up = readToolText(script);
      // Prisma hashes the file as it reads it: every byte, a byte-order mark included.
      const toolChecksum = sha256Hex(readToolBytes(script));
      const name = FOLDER_NAME.exec(folder)?.[1] ?? folder;
      migrations.push({ version: folder, name, files: [join(folder, SCRIPT)], up, transaction: true, toolChecksum });
    }
    return migrations;
  },
  async history(db) {
    const table = await findHistoryTable(db, '_prisma_migrations');
    if (!table) return undefined;
    const r = await db.query<{ migration_name: string; checksum: string; finished: boolean; rolled_back: boolean }>(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back
         FROM ${table.sql} ORDER BY started_at, id`,
    );
    const rows = r.rows.map(
      (row): HistoryRow => ({
        version: row.migration_name,
        status: row.rolled_back ? 'rolled-back' : row.finished ? 'applied' : 'failed',
        checksum: row.checksum,
      }),
    );
    return { table: table.name, rows };
  },
};
