import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Database, Queryable } from '../db/database.js';
import { copyIn, copyOut, findTable, resetSequences, type SavedColumn, savedColumns, tableChecksum, tableDdl } from '../db/table-copy.js';
import type { BackupRecord } from '../docs/state.js';
import { FerryError } from '../errors.js';
import { droppedRelations } from '../lint/context.js';
import { alterCommands, body, rangeVar, relationName } from '../lint/tree.js';
import type { Migration } from '../migration/loader.js';
import { appendEvent, ensureMigrationRecord, ensureState, stateTableExists } from '../state/store.js';
import { MIGRATION_LOCK_KEY } from './execute.js';
import { type RestoredValues, type RollbackCopyFile, restoreRollbackValues } from './rollback-copy.js';

const run = promisify(execFile);

/** What `ferry backup` saves for a migration: the tables its contract steps drop, or drop columns of. */
export function cleanupTargets(m: Migration): string[] {
  const out: string[] = [];
  const add = (t: string | undefined) => {
    if (t && !out.includes(t)) out.push(t);
  };
  for (const st of m.steps.filter((s) => s.phase === 'contract')) {
    for (const s of st.forward?.statements ?? []) {
      const n = body(s.tree, s.node);
      if (s.node === 'DropStmt' && n.removeType === 'OBJECT_TABLE') for (const rv of droppedRelations(n)) add(relationName(rv));
      if (s.node === 'AlterTableStmt' && alterCommands(n).some((c) => c.subtype === 'AT_DropColumn')) {
        const rv = rangeVar(n.relation);
        if (rv) add(relationName(rv));
      }
    }
  }
  return out;
}

/** The tables a backup of `m` saves ({@link cleanupTargets}); refused (E_GATE) when its cleanup drops nothing, so there is nothing to back up. */
export function backupTargets(m: Migration): string[] {
  const targets = cleanupTargets(m);
  if (targets.length === 0) {
    throw new FerryError('E_GATE', `migration ${m.id} drops no table or column at cleanup, so there is nothing to back up`, 'its contract steps drop nothing');
  }
  return targets;
}

/** One table in a backup's `backup.json`. */
interface SavedTable {
  table: string;
  schema: string;
  name: string;
  qualified: string;
  file: string;
  columns: SavedColumn[];
  rows: number;
  md5: string;
}

/** A backup's `backup.json`: whole tables, or (`kind: 'rollback-copy'`) the values `down` saved before dropping them. */
type BackupFile =
  | {
      id: string;
      migrationId: string;
      method: 'pg_dump' | 'copy';
      kind?: undefined;
      createdAt: string;
      tables: SavedTable[];
    }
  | RollbackCopyFile;

/** The connection pg_dump needs; absent for PGlite. */
export interface DumpAccess {
  url: string;
  password?: string;
}

async function pgDumpAvailable(): Promise<boolean> {
  try {
    await run('pg_dump', ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function pgDump(access: DumpAccess, tables: string[], snapshot: string): Promise<string> {
  const env = access.password === undefined ? process.env : { ...process.env, PGPASSWORD: access.password };
  try {
    const args = [
      '--no-owner',
      '--no-privileges',
      '--inserts',
      '--rows-per-insert=1000',
      `--snapshot=${snapshot}`,
      ...tables.map((t) => `--table=${t}`),
      access.url,
    ];
    const { stdout } = await run('pg_dump', args, { maxBuffer: 1 << 30, env });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new FerryError('E_CONNECT', `pg_dump failed: ${e.stderr?.trim() || e.message}`, 'check that this user may read the tables');
  }
}

/** Every backup of a migration listed in schema ferry, oldest first. */
export async function listBackups(db: Queryable, migrationId?: string): Promise<BackupRecord[]> {
  if (!(await stateTableExists(db, 'backups'))) return [];
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, migration_id, method, location, objects::text AS objects, bytes::text AS bytes, created_by,
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
       FROM ferry.backups WHERE $1::text IS NULL OR migration_id = $1 ORDER BY created_at, id`,
    [migrationId ?? null],
  );
  return rows.map((r) => {
    const objects: BackupRecord['objects'] = JSON.parse(r.objects as string);
    return {
      id: r.id as string,
      migrationId: r.migration_id as string,
      method: r.method as 'pg_dump' | 'copy',
      location: r.location as string,
      objects,
      ...((objects as { purpose?: string }[]).some((o) => o.purpose === 'rollback') ? { purpose: 'rollback' as const } : {}),
      bytes: Number(r.bytes),
      createdBy: r.created_by as string,
      createdAt: r.created_at as string,
    };
  });
}

/** Options of {@link takeBackup}. */
export interface TakeBackupOptions {
  /** The folder the backup's own folder is created in. */
  dir: string;
  actor: string;
  /** pg_dump's way in to a server; absent for PGlite (ferry's COPY-based format is used). */
  access?: DumpAccess;
  now?: Date;
}

/** A backup taken: its record in `ferry.backups`, and the tables skipped because they are gone. */
export type TakenBackup = BackupRecord & { skipped: string[] };

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * Save the tables `m`'s cleanup will drop (or drop columns of) into `dir`: with
 * pg_dump when `access` is given and pg_dump is installed, else in ferry's
 * COPY-based format; list it in `ferry.backups`. Tables already gone are skipped.
 */
export async function takeBackup(db: Database, m: Migration, opts: TakeBackupOptions): Promise<TakenBackup> {
  const targets = backupTargets(m);
  const now = opts.now ?? new Date();
  const id = `${stamp(now)}_${m.id.replace(/^\d+_/, '')}_${Math.random().toString(36).slice(2, 6)}`;
  const location = resolve(opts.dir, id);
  const method: 'pg_dump' | 'copy' = opts.access && (await pgDumpAvailable()) ? 'pg_dump' : 'copy';
  const tables: SavedTable[] = [];
  const skipped: string[] = [];
  mkdirSync(location, { recursive: true });
  // One snapshot for every table, shared with pg_dump: the checksums describe exactly the data saved.
  await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const snapshot = method === 'pg_dump' ? (await tx.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]?.s : undefined;
    for (const name of targets) {
      const t = await findTable(tx, name);
      if (!t) {
        skipped.push(name);
        continue;
      }
      const columns = await savedColumns(tx, t);
      const sum = await tableChecksum(tx, t.qualified, columns);
      const file = `${t.schema}.${t.name}`;
      if (method === 'copy') {
        writeFileSync(join(location, `${file}.ddl.sql`), await tableDdl(tx, t));
        writeFileSync(join(location, `${file}.copy`), await copyOut(tx, t.qualified, columns));
      }
      tables.push({ table: name, schema: t.schema, name: t.name, qualified: t.qualified, file, columns, ...sum });
    }
    if (snapshot && opts.access && tables.length) {
      writeFileSync(
        join(location, 'dump.sql'),
        await pgDump(
          opts.access,
          tables.map((t) => t.qualified),
          snapshot,
        ),
      );
    }
  });
  if (tables.length === 0) {
    throw new FerryError('E_GATE', `none of the tables ${m.id} cleans up exists any more (${skipped.join(', ')})`, 'there is nothing left to back up');
  }
  const file: BackupFile = { id, migrationId: m.id, method, createdAt: now.toISOString(), tables };
  writeFileSync(join(location, 'backup.json'), `${JSON.stringify(file, null, 2)}\n`);
  const bytes = ['backup.json', 'dump.sql', ...tables.flatMap((t) => [`${t.file}.ddl.sql`, `${t.file}.copy`])]
    .map((f) => join(location, f))
    .filter(existsSync)
    .reduce((n, f) => n + statSync(f).size, 0);
  const objects = tables.map((t) => ({ table: t.table, rows: t.rows, md5: t.md5, columns: t.columns.map((c) => c.name) }));
  await db.transaction(async (tx) => {
    await ensureMigrationRecord(tx, m.id, m.manifest.title, m.checksum);
    await tx.query(
      'INSERT INTO ferry.backups (id, migration_id, method, location, objects, bytes, created_by, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)',
      [id, m.id, method, location, JSON.stringify(objects), bytes, opts.actor, now.toISOString()],
    );
    await appendEvent(tx, {
      migrationId: m.id,
      actor: opts.actor,
      kind: 'backup',
      reason: `backup ${id} (${method}): ${objects.map((o) => `${o.table} ${o.rows} rows`).join(', ')}`,
      details: { id, method, location, objects },
    });
  });
  return { id, migrationId: m.id, method, location, objects, bytes, createdBy: opts.actor, createdAt: now.toISOString(), skipped };
}

/** Read a backup by id (listed in schema ferry) or by the path of its folder. */
export async function readBackup(db: Queryable, ref: string): Promise<{ file: BackupFile; location: string }> {
  const listed = (await listBackups(db)).find((b) => b.id === ref);
  const location = listed?.location ?? resolve(ref);
  const json = join(location, 'backup.json');
  if (!existsSync(json)) {
    const known = (await listBackups(db)).map((b) => b.id);
    throw new FerryError(
      'E_NOT_FOUND',
      listed ? `backup ${ref} is listed, but its files are gone from ${location}` : `no backup "${ref}"`,
      known.length ? `backups in this database: ${known.join(', ')}` : 'take one with `ferry backup <id>`',
    );
  }
  return { file: JSON.parse(readFileSync(json, 'utf8')) as BackupFile, location };
}

/** A pg_dump script our drivers can run: psql meta-commands removed; triggers left out (their functions may be gone), and named. */
function runnableDump(text: string): { sql: string; triggers: string[] } {
  const triggers: string[] = [];
  const sql = text
    .split('\n')
    .filter((l) => {
      if (l.startsWith('\\')) return false;
      if (l.startsWith('CREATE TRIGGER ')) {
        triggers.push(l);
        return false;
      }
      return true;
    })
    .join('\n');
  return { sql, triggers };
}

/** What a restore did, table by table (or, for values `down` saved, column by column), and the triggers it did not recreate. */
export interface RestoreReport {
  backupId: string;
  migrationId: string;
  tables: { table: string; rows: number; md5: string; replaced: boolean }[];
  /** For a rollback copy: the values put back per column or table. */
  values?: RestoredValues[];
  triggersNotRestored: string[];
}

/**
 * Recreate the tables of a backup and load their data, in one transaction;
 * refused when a table exists unless `replace` (then it is dropped first). Each
 * table's row count and checksum must equal the backup's, or nothing is kept.
 * A rollback copy (values `down` saved) is put back into the re-added columns instead.
 */
export async function restoreBackup(db: Database, ref: string, opts: { actor: string; replace: boolean }): Promise<RestoreReport> {
  const { file, location } = await readBackup(db, ref);
  if (file.kind === 'rollback-copy') {
    const values = await restoreRollbackValues(db, file, location, opts.actor);
    return { backupId: file.id, migrationId: file.migrationId, tables: [], values, triggersNotRestored: [] };
  }
  const existing: string[] = [];
  for (const t of file.tables) if (await findTable(db, t)) existing.push(t.qualified);
  if (existing.length && !opts.replace) {
    throw new FerryError(
      'E_GATE',
      `cannot restore backup ${file.id}: ${existing.join(', ')} ${existing.length === 1 ? 'exists' : 'exist'}`,
      `restore --replace drops ${existing.length === 1 ? 'it' : 'them'} and recreates the backed-up copy (rows written since the backup are lost)`,
    );
  }
  const dump = file.method === 'pg_dump' ? runnableDump(readFileSync(join(location, 'dump.sql'), 'utf8')) : undefined;
  const report: RestoreReport = { backupId: file.id, migrationId: file.migrationId, tables: [], triggersNotRestored: dump?.triggers ?? [] };
  await ensureState(db);
  await db.transaction(async (tx) => {
    const path = (await tx.query<{ p: string }>(`SELECT current_setting('search_path') AS p`)).rows[0]?.p ?? 'public';
    for (const q of existing) await tx.query(`DROP TABLE ${q}`);
    if (dump) {
      await tx.exec(dump.sql);
      await tx.query(`SELECT set_config('search_path', $1, false)`, [path]);
    }
    for (const t of file.tables) {
      if (!dump) {
        await tx.exec(readFileSync(join(location, `${t.file}.ddl.sql`), 'utf8'));
        await copyIn(tx, t.qualified, t.columns, readFileSync(join(location, `${t.file}.copy`), 'utf8'));
        const ref2 = await findTable(tx, t);
        if (ref2) await resetSequences(tx, ref2);
      }
      const sum = await tableChecksum(tx, t.qualified, t.columns);
      if (sum.rows !== t.rows || sum.md5 !== t.md5) {
        throw new FerryError(
          'E_VERIFY',
          `restore of ${t.table} from backup ${file.id} does not match it: ${sum.rows} rows (md5 ${sum.md5.slice(0, 12)}), the backup has ${t.rows} (md5 ${t.md5.slice(0, 12)})`,
          'nothing was changed; check the backup files, or restore by hand',
        );
      }
      report.tables.push({ table: t.table, rows: sum.rows, md5: sum.md5, replaced: existing.includes(t.qualified) });
    }
    await tx.query(`INSERT INTO ferry.migrations (id, phase, title) VALUES ($1, 'planned', $1) ON CONFLICT (id) DO NOTHING`, [file.migrationId]);
    await appendEvent(tx, {
      migrationId: file.migrationId,
      actor: opts.actor,
      kind: 'restore',
      reason: `restored backup ${file.id}: ${report.tables.map((t) => `${t.table} ${t.rows} rows${t.replaced ? ' (replaced)' : ''}`).join(', ')}`,
      details: report,
    });
  });
  return report;
}

/** `ferry backup`: {@link takeBackup} under the migration lock. */
export async function backup(db: Database, m: Migration, opts: TakeBackupOptions & { lockWaitMs: number }): Promise<TakenBackup> {
  const { lockWaitMs, ...take } = opts;
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, lockWaitMs, () => takeBackup(db, m, take));
}

/** `ferry restore`: {@link restoreBackup} (a backup id, or the path of its folder) under the migration lock. */
export async function restore(db: Database, ref: string, opts: { actor: string; replace: boolean; lockWaitMs: number }): Promise<RestoreReport> {
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, () => restoreBackup(db, ref, { actor: opts.actor, replace: opts.replace }));
}
