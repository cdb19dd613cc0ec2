import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Database, Queryable } from '../db/database.js';
import { quoteIdent } from '../db/quote.js';
import { findTable, resetSequences, type SavedColumn, savedColumns, type TableRef } from '../db/table-copy.js';
import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { type AppliedStep, appendEvent, ensureMigrationRecord, ensureState } from '../state/store.js';
import { type LossCount, lossName, lossTarget, stepRollbackLoss } from './data-loss.js';

/** Rows per UPDATE or INSERT when values are put back. */
const RESTORE_BATCH = 1000;

/**
 * One set of values `down --accept-data-loss` saved before dropping them: the
 * key of each row and the values of the dropped column (or every column of a
 * dropped table), one JSON array of text per line in `file`.
 */
export interface SavedValues {
  purpose: 'rollback';
  stepId: string;
  /** When that step was applied: a rerun of an interrupted `down` refreshes the copy only while it is the same application. */
  appliedAt: string;
  /** As the step names it. */
  table: string;
  schema: string;
  name: string;
  /** The dropped column; absent when the whole table was dropped. */
  column?: string;
  /** How rows are found again: their primary key, or (without one) every other column compared as text. */
  keyedBy: 'primary-key' | 'all-columns';
  key: SavedColumn[];
  values: SavedColumn[];
  /** Key and value column names, as every backup lists them. */
  columns: string[];
  file: string;
  rows: number;
  /** md5 of the file: restore refuses a file that changed. */
  md5: string;
}

/** A rollback copy's `backup.json`. */
export interface RollbackCopyFile {
  id: string;
  migrationId: string;
  method: 'copy';
  kind: 'rollback-copy';
  createdAt: string;
  tables: [];
  values: SavedValues[];
}

/** Where `down` saved the values it dropped. */
export interface SavedCopy {
  id: string;
  location: string;
  objects: SavedValues[];
  /** True when it refreshed the copy of an interrupted `down` instead of taking a new one. */
  resumed: boolean;
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
const md5 = (text: string) => createHash('md5').update(text).digest('hex');
const same = (o: SavedValues, stepId: string, table: string, column: string | undefined) => o.stepId === stepId && o.table === table && o.column === column;

/** Write a file so a crash leaves the old one or the new one, never half of it. */
function writeWhole(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** The primary key columns of a table, in key order; empty without one. */
async function primaryKey(db: Queryable, t: TableRef): Promise<SavedColumn[]> {
  const { rows } = await db.query<SavedColumn>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [t.oid],
  );
  return rows;
}

/** The latest rollback copy of `migrationId`, if any. */
async function latestCopy(db: Queryable, migrationId: string): Promise<{ id: string; location: string; objects: SavedValues[] } | undefined> {
  const { rows } = await db.query<{ id: string; location: string; objects: string }>(
    `SELECT id, location, objects::text AS objects FROM ferry.backups
      WHERE migration_id = $1 AND objects @> '[{"purpose": "rollback"}]'::jsonb ORDER BY created_at DESC, id DESC LIMIT 1`,
    [migrationId],
  );
  const r = rows[0];
  return r ? { id: r.id, location: r.location, objects: JSON.parse(r.objects) as SavedValues[] } : undefined;
}

/**
 * Before `down` drops them, save the values it would lose (`losses`, counted by
 * `countRollbackLoss`) into a backup `ferry restore` can put back, listed in
 * `ferry.backups` before anything is dropped. A rerun after a crash between the
 * save and the drop refreshes the same copy (the steps are still applied as
 * when it was taken), so it holds every value once.
 */
export async function saveRollbackValues(
  db: Database,
  m: Migration,
  steps: readonly { step: Step; applied: AppliedStep | undefined }[],
  losses: readonly LossCount[],
  opts: { dir: string; actor: string },
): Promise<SavedCopy> {
  await ensureState(db);
  const wanted = steps.flatMap(({ step, applied }) =>
    stepRollbackLoss(step)
      .filter((l) => losses.some((c) => c.stepId === step.id && c.table === l.table && c.column === l.column))
      .map((loss) => ({ step, loss, appliedAt: applied?.appliedAt.toISOString() ?? '' })),
  );
  const previous = await latestCopy(db, m.id);
  const resumable =
    previous !== undefined &&
    wanted.some((w) => previous.objects.some((o) => same(o, w.step.id, w.loss.table, w.loss.column))) &&
    wanted.every((w) => previous.objects.every((o) => !same(o, w.step.id, w.loss.table, w.loss.column) || o.appliedAt === w.appliedAt));
  const now = new Date();
  const id = resumable ? previous.id : `${stamp(now)}_${m.id.replace(/^\d+_/, '')}_rollback_${Math.random().toString(36).slice(2, 6)}`;
  const location = resumable ? previous.location : resolve(opts.dir, id);
  mkdirSync(location, { recursive: true });
  const fresh: SavedValues[] = [];
  // One snapshot for every saved table; plain reads, no lock beyond what any SELECT takes.
  await db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    for (const w of wanted) {
      const t = await lossTarget(tx, w.loss);
      if (!t) continue;
      const pk = await primaryKey(tx, t);
      const all = await savedColumns(tx, t);
      const key = pk.length > 0 ? pk : all.filter((c) => c.name !== w.loss.column);
      const values = w.loss.column === undefined ? all.filter((c) => !key.some((k) => k.name === c.name)) : all.filter((c) => c.name === w.loss.column);
      const list = [...key, ...values].map((c) => `${quoteIdent(c.name)}::text`).join(', ');
      const order = key.map((c) => quoteIdent(c.name)).join(', ');
      // Names come from the catalog, quoted; the predicate is the operation's own SQL.
      const { rows } = await tx.query<Record<string, string | null>>(
        `SELECT json_build_array(${list})::text AS line FROM ${t.qualified} WHERE ${w.loss.where}${order ? ` ORDER BY ${order}` : ''}`,
      );
      const text = rows.map((r) => `${r.line}\n`).join('');
      const file = `${t.schema}.${t.name}${w.loss.column === undefined ? '' : `.${w.loss.column}`}.jsonl`;
      writeWhole(join(location, file), text);
      fresh.push({
        purpose: 'rollback',
        stepId: w.step.id,
        appliedAt: w.appliedAt,
        table: w.loss.table,
        schema: t.schema,
        name: t.name,
        ...(w.loss.column === undefined ? {} : { column: w.loss.column }),
        keyedBy: pk.length > 0 ? 'primary-key' : 'all-columns',
        key,
        values,
        columns: [...key, ...values].map((c) => c.name),
        file,
        rows: rows.length,
        md5: md5(text),
      });
    }
  });
  // Values saved by the interrupted run whose columns are already dropped stay in the copy.
  const kept = resumable ? previous.objects.filter((o) => !fresh.some((f) => same(f, o.stepId, o.table, o.column))) : [];
  const objects = [...kept, ...fresh];
  const file: RollbackCopyFile = { id, migrationId: m.id, method: 'copy', kind: 'rollback-copy', createdAt: now.toISOString(), tables: [], values: objects };
  writeWhole(join(location, 'backup.json'), `${JSON.stringify(file, null, 2)}\n`);
  const bytes = ['backup.json', ...objects.map((o) => o.file)]
    .map((f) => join(location, f))
    .filter(existsSync)
    .reduce((n, f) => n + statSync(f).size, 0);
  await db.transaction(async (tx) => {
    await ensureMigrationRecord(tx, m.id, m.manifest.title, m.checksum);
    await tx.query(
      `INSERT INTO ferry.backups (id, migration_id, method, location, objects, bytes, created_by) VALUES ($1, $2, 'copy', $3, $4::jsonb, $5, $6)
       ON CONFLICT (id) DO UPDATE SET objects = excluded.objects, bytes = excluded.bytes`,
      [id, m.id, location, JSON.stringify(objects), bytes, opts.actor],
    );
    await appendEvent(tx, {
      migrationId: m.id,
      actor: opts.actor,
      kind: 'backup',
      reason: `${resumable ? 'refreshed' : 'saved'} the values down drops in ${id}: ${fresh.map((o) => `${lossName(o)} ${o.rows} rows`).join(', ')}`,
      details: { id, method: 'copy', location, objects: fresh, resumed: resumable },
    });
  });
  return { id, location, objects, resumed: resumable };
}

/** What putting saved values back did, per column or table. */
export interface RestoredValues {
  table: string;
  column?: string;
  saved: number;
  /** Rows updated (a column) or inserted (a table). */
  restored: number;
  /** Saved rows whose key is no longer in the table (a column), or already there (a table). */
  notRestored: number;
}

const keyMatch = (o: SavedValues, alias: string) =>
  o.key
    .map((c, i) =>
      o.keyedBy === 'primary-key'
        ? `${alias}.${quoteIdent(c.name)} = (r->>${i})::${c.type}`
        : `${alias}.${quoteIdent(c.name)}::text IS NOT DISTINCT FROM (r->>${i})`,
    )
    .join(' AND ');

/** Refuse, before changing anything, when a column or table of the copy is absent; `ferry up` re-adds it. */
async function targetsOf(db: Queryable, file: RollbackCopyFile): Promise<TableRef[]> {
  const out: TableRef[] = [];
  for (const o of file.values) {
    const t = await findTable(db, { schema: o.schema, name: o.name });
    const present = t ? new Set((await savedColumns(db, t)).map((c) => c.name)) : new Set<string>();
    const absent = t ? o.columns.filter((c) => !present.has(c)) : [];
    if (!t || absent.length > 0) {
      throw new FerryError(
        'E_GATE',
        `cannot restore ${file.id}: ${t ? `column${absent.length === 1 ? '' : 's'} ${absent.join(', ')} of ${o.schema}.${o.name} ${absent.length === 1 ? 'does' : 'do'} not exist` : `table ${o.schema}.${o.name} does not exist`}; nothing was changed`,
        `re-add it first with \`ferry up ${file.migrationId}\`, then run \`ferry restore ${file.id}\` again`,
      );
    }
    out.push(t);
  }
  return out;
}

/**
 * Put the values of a rollback copy back once `ferry up` has re-added their
 * column or table: UPDATE by key (a column) or INSERT the rows not there yet (a
 * table), in batches, each committed; running it again changes nothing more.
 */
export async function restoreRollbackValues(db: Database, file: RollbackCopyFile, location: string, actor: string): Promise<RestoredValues[]> {
  const tables = await targetsOf(db, file);
  const texts = file.values.map((o) => {
    const text = readFileSync(join(location, o.file), 'utf8');
    if (md5(text) !== o.md5) {
      throw new FerryError(
        'E_VERIFY',
        `${o.file} of backup ${file.id} changed since it was saved (md5 differs)`,
        'nothing was changed; restore the file or put the values back by hand',
      );
    }
    return text;
  });
  const out: RestoredValues[] = [];
  for (const [i, o] of file.values.entries()) {
    const t = tables[i] as TableRef;
    const lines = (texts[i] as string).split('\n').filter((l) => l.length > 0);
    let restored = 0;
    const cast = (c: SavedColumn, k: number) => `(r->>${k})::${c.type}`;
    for (let b = 0; b < lines.length; b += RESTORE_BATCH) {
      const batch = `[${lines.slice(b, b + RESTORE_BATCH).join(',')}]`;
      const n = o.key.length;
      const sql =
        o.column === undefined
          ? `WITH done AS (INSERT INTO ${t.qualified} (${o.columns.map(quoteIdent).join(', ')}) OVERRIDING SYSTEM VALUE
               SELECT ${[...o.key, ...o.values].map(cast).join(', ')} FROM json_array_elements($1::json) r
                WHERE NOT EXISTS (SELECT 1 FROM ${t.qualified} ferry_t WHERE ${keyMatch(o, 'ferry_t')}) RETURNING 1)
             SELECT count(*)::int AS n FROM done`
          : `WITH done AS (UPDATE ${t.qualified} ferry_t SET ${quoteIdent(o.column)} = ${cast(o.values[0] as SavedColumn, n)}
               FROM json_array_elements($1::json) r WHERE ${keyMatch(o, 'ferry_t')} RETURNING 1)
             SELECT count(*)::int AS n FROM done`;
      const { rows } = await db.query<{ n: number }>(sql, [batch]);
      restored += Number(rows[0]?.n ?? 0);
    }
    if (o.column === undefined) await resetSequences(db, t);
    out.push({ table: o.table, ...(o.column === undefined ? {} : { column: o.column }), saved: o.rows, restored, notRestored: o.rows - restored });
  }
  await ensureState(db);
  await db.transaction(async (tx) => {
    await tx.query(`INSERT INTO ferry.migrations (id, phase, title) VALUES ($1, 'planned', $1) ON CONFLICT (id) DO NOTHING`, [file.migrationId]);
    await appendEvent(tx, {
      migrationId: file.migrationId,
      actor,
      kind: 'restore',
      reason: `restored the values saved in ${file.id}: ${out.map((r) => `${lossName(r)} ${r.restored} of ${r.saved} rows`).join(', ')}`,
      details: { backupId: file.id, values: out },
    });
  });
  return out;
}
