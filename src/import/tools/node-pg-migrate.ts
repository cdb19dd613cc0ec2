import { extname, join } from 'node:path';
import { loadOriginal, loadPackageFrom, type OriginalExports } from '../runtime/original-module.js';
import type { ForeignMigration, ToolReader } from '../types.js';
import { findHistoryTable, layoutError, listToolFolder, readToolText } from './tool-files.js';

/*
 * node-pg-migrate: `<timestamp>_<name>.{js,cjs,mjs,ts,sql}` files, applied in
 * the order of their numeric prefix. A module exports `up(pgm)` and `down(pgm)`
 * (no `down`: `up` run in reverse; `down: false`: none); a `.sql` file holds an
 * `-- Up Migration` section and an optional `-- Down Migration` one. History:
 * `pgmigrations(id, name, run_on)`, one row per applied migration, its name
 * being the file name without extension; no checksum.
 */

const MODULE_EXTENSIONS = new Set(['.js', '.cjs', '.mjs', '.ts', '.cts', '.mts']);

/** node-pg-migrate's section markers (src/sqlMigration.ts). */
const sectionMarker = (direction: string) => new RegExp(`^\\s*--[\\s-]*${direction}\\s+migration`, 'im');

/** A `.sql` migration's up and down SQL, cut where node-pg-migrate cuts it (each section keeps its marker line, a comment). */
export function nodePgMigrateSqlSections(text: string): { up: string; down?: string } {
  const upAt = text.search(sectionMarker('up'));
  const downAt = text.search(sectionMarker('down'));
  const up = upAt >= 0 ? text.slice(upAt, downAt < upAt ? undefined : downAt) : text;
  if (downAt < 0) return { up };
  return { up, down: text.slice(downAt, upAt < downAt ? undefined : upAt) };
}

/** The numeric prefix node-pg-migrate orders by: a 17-digit UTC timestamp as milliseconds, any other digits as a number. */
function orderKey(file: string): number {
  const prefix = /^\d+/.exec(file)?.[0] ?? '';
  if (prefix.length === 17) {
    const [y, mo, d, h, mi, s, ms] = [0, 4, 6, 8, 10, 12, 14].map((at, i, all) => prefix.slice(at, all[i + 1] ?? 17));
    return Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
  }
  return Number(prefix);
}

/** node-pg-migrate's order: numeric prefix, then the names compared numerically, punctuation ignored. */
function byMigrationOrder(a: string, b: string): number {
  return orderKey(a) - orderKey(b) || a.localeCompare(b, undefined, { usage: 'sort', numeric: true, sensitivity: 'variant', ignorePunctuation: true });
}

/**
 * Whether `up` asks to run outside a transaction (`pgm.noTransaction()`), found by
 * calling it on a MigrationBuilder with no database: a migration that queries
 * the database while it builds stops there, and counts as transactional unless
 * it said otherwise first.
 */
async function wantsTransaction(file: string, up: (...args: unknown[]) => unknown): Promise<boolean> {
  const lib = await loadPackageFrom(file, 'node-pg-migrate');
  const Builder = lib?.MigrationBuilder as (new (...args: unknown[]) => { isUsingTransaction(): boolean }) | undefined;
  if (!Builder) return true;
  const refuse = async () => {
    throw new Error('no database while ferry imports');
  };
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const pgm = new Builder({ query: refuse, select: refuse }, {}, false, quiet);
  try {
    if (up.length === 2) await new Promise((resolve, reject) => Promise.resolve(up(pgm, resolve)).catch(reject));
    else await up(pgm);
  } catch {
    // Only the flag matters here.
  }
  return pgm.isUsingTransaction();
}

/** What a loaded module tells: whether it runs, rolls back and wants a transaction. */
async function inspectModule(m: ForeignMigration, exports: OriginalExports): Promise<ForeignMigration> {
  const code = m.code as NonNullable<ForeignMigration['code']>;
  const up = exports.up;
  if (typeof up !== 'function') return { ...m, code: { ...code, reversible: false, opaque: 'it exports no up function' } };
  const down = exports.down;
  const reversible = down === undefined || typeof down === 'function';
  const transaction = await wantsTransaction(code.module, up as (...args: unknown[]) => unknown);
  return { ...m, transaction, code: { ...code, reversible } };
}

/** node-pg-migrate's migrations (its default folder: `migrations`, which is ferry's too: pass --dir). */
export const nodePgMigrateReader: ToolReader = {
  tool: 'node-pg-migrate',
  defaultDir: 'migrations',
  read(dir: string): ForeignMigration[] {
    const migrations: ForeignMigration[] = [];
    const files = listToolFolder(dir).filter((f) => !f.startsWith('.'));
    for (const file of files) {
      const ext = extname(file);
      if (ext !== '.sql' && !MODULE_EXTENSIONS.has(ext))
        throw layoutError(
          join(dir, file),
          'is neither a migration module nor a .sql file, and node-pg-migrate would try to load it',
          'move it out of the folder',
        );
      if (!/^\d+/.test(file))
        throw layoutError(
          join(dir, file),
          'has no numeric prefix, which node-pg-migrate refuses',
          'rename it `<timestamp>_<name>` as `node-pg-migrate create` does',
        );
      const version = file.slice(0, file.length - ext.length);
      const other = migrations.find((x) => x.version === version);
      if (other) throw layoutError(join(dir, file), `has the same name as ${other.files[0]}: node-pg-migrate records both as ${version}`, 'rename one of them');
      const name = /^\d+[_-]?(.*)$/.exec(version)?.[1] || version;
      if (ext === '.sql') {
        migrations.push({ version, name, files: [file], transaction: true, ...nodePgMigrateSqlSections(readToolText(join(dir, file))) });
      } else {
        migrations.push({ version, name, files: [file], up: '', transaction: true, code: { module: join(dir, file), reversible: true } });
      }
    }
    return migrations.sort((a, b) => byMigrationOrder(a.files[0] as string, b.files[0] as string));
  },
  async inspect(m) {
    if (!m.code) return m;
    const loaded = await loadOriginal(m.code.module);
    if (!loaded.ok) return { ...m, code: { ...m.code, reversible: false, opaque: loaded.reason } };
    return inspectModule(m, loaded.exports);
  },
  async history(db) {
    const table = await findHistoryTable(db, 'pgmigrations');
    if (!table) return undefined;
    const r = await db.query<{ name: string }>(`SELECT name FROM ${table.sql} ORDER BY run_on, id`);
    return { table: table.name, rows: r.rows.map((row) => ({ version: row.name, status: 'applied' as const })) };
  },
};
