import { extname, join } from 'node:path';
import { loadOriginal } from '../runtime/original-module.js';
import type { ForeignMigration, HistoryRow, ToolReader } from '../types.js';
import { findHistoryTable, listToolFolder } from './tool-files.js';

/*
 * Knex: modules exporting `up(knex)` and `down(knex)` (and optionally
 * `config.transaction`), applied in file-name order; the files Knex loads are
 * those with its default extensions. History: `knex_migrations(id, name,
 * batch, migration_time)`, its name being the file name with extension; no
 * checksum. `knex_migrations_lock.is_locked = 1` means a Knex run holds the
 * lock: one is running, or one died holding it.
 */

/** Knex's DEFAULT_LOAD_EXTENSIONS (lib/migrations/common/MigrationsLoader.js). */
const LOAD_EXTENSIONS = new Set(['.co', '.coffee', '.eg', '.iced', '.js', '.cjs', '.litcoffee', '.ls', '.ts']);

/** The version of the pseudo history row that stands for Knex's held lock. */
export const KNEX_LOCK_ROW = 'knex_migrations_lock';

/** Knex's migrations (its default folder: `migrations`, which is ferry's too: pass --dir); the version is the file name. */
export const knexReader: ToolReader = {
  tool: 'knex',
  defaultDir: 'migrations',
  read(dir: string): ForeignMigration[] {
    // Knex sorts with lodash sortBy on the name: plain string order.
    return listToolFolder(dir)
      .filter((file) => LOAD_EXTENSIONS.has(extname(file)))
      .map((file) => ({
        version: file,
        name: /^\d*[_-]?(.*)$/.exec(file.slice(0, file.length - extname(file).length))?.[1] || file,
        files: [file],
        up: '',
        transaction: true,
        code: { module: join(dir, file), reversible: true },
      }));
  },
  async inspect(m) {
    if (!m.code) return m;
    const loaded = await loadOriginal(m.code.module);
    if (!loaded.ok) return { ...m, code: { ...m.code, reversible: false, opaque: loaded.reason } };
    const { up, down, config } = loaded.exports;
    if (typeof up !== 'function') return { ...m, code: { ...m.code, reversible: false, opaque: 'it exports no up function' } };
    // Knex's per-migration switch: `export const config = { transaction: false }`.
    const transaction = (config as { transaction?: unknown } | undefined)?.transaction !== false;
    return { ...m, transaction, code: { ...m.code, reversible: typeof down === 'function' } };
  },
  async history(db) {
    const table = await findHistoryTable(db, 'knex_migrations');
    if (!table) return undefined;
    const r = await db.query<{ name: string }>(`SELECT name FROM ${table.sql} ORDER BY id`);
    const rows: HistoryRow[] = r.rows.map((row) => ({ version: row.name, status: 'applied' }));
    const lock = await findHistoryTable(db, 'knex_migrations_lock');
    if (lock) {
      const held = await db.query<{ held: boolean }>(`SELECT EXISTS (SELECT FROM ${lock.sql} WHERE is_locked = 1) AS held`);
      if (held.rows[0]?.held) {
        rows.push({
          version: KNEX_LOCK_ROW,
          status: 'dirty',
          message: `${lock.name} is locked (is_locked = 1): a Knex migration is running, or one died holding its lock, and the database may hold part of it; let it finish, or check the schema and run \`knex migrate:unlock\`, then import`,
        });
      }
    }
    return { table: table.name, rows };
  },
};
