import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { PGlite, Results, Transaction } from '@electric-sql/pglite';
import { FerryError } from '../errors.js';
import type { Database, Queryable, QueryResult } from './database.js';
import { acquireFileLock, announceServing } from './file-lock.js';

/** Options for {@link openPglite}. */
export interface PgliteOptions {
  /** Data directory; omitted means a throwaway in-memory database. */
  dataDir?: string;
  /** How long to wait for another process that has the data directory open. */
  lockWaitMs?: number;
}

const ROW_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

function toResult(r: Results): QueryResult {
  const out: QueryResult = { rows: r.rows as Record<string, unknown>[], fields: r.fields.map((f) => f.name) };
  // PGlite reports 0 for DDL; like node-postgres, count rows only for statements that touch rows.
  const command = (r as { command?: string }).command;
  if (r.affectedRows !== undefined && command && ROW_COMMANDS.has(command)) out.affectedRows = r.affectedRows;
  return out;
}

function queryable(pg: PGlite | Transaction): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]) {
      return toResult(await pg.query(sql, params ? [...params] : undefined)) as QueryResult<R>;
    },
    async exec(sql: string) {
      return (await pg.exec(sql)).map(toResult);
    },
  };
}

const dataDirs = new WeakMap<Database, string>();

/** Open embedded PGlite, persisted in `dataDir` (or in memory), as a {@link Database}. */
export async function openPglite(opts: PgliteOptions = {}): Promise<Database> {
  let release = () => {};
  let pg: PGlite;
  const target = opts.dataDir ? `pglite:${opts.dataDir}` : 'pglite:memory';
  if (opts.dataDir) {
    const dir = resolve(opts.dataDir);
    mkdirSync(dirname(dir), { recursive: true });
    release = await acquireFileLock(`${dir}.lock`, opts.lockWaitMs ?? 30_000, `the local database ${opts.dataDir}`);
  }
  try {
    // Loaded here, not at the top: a command against a server never pays for the embedded engine.
    const { PGlite } = await import('@electric-sql/pglite');
    pg = new PGlite(opts.dataDir ? resolve(opts.dataDir) : undefined);
    await pg.waitReady;
  } catch (err) {
    release();
    throw new FerryError(
      'E_CONNECT',
      `cannot open the local database ${target}: ${err instanceof Error ? err.message : String(err)}`,
      'check that the directory is a PGlite data directory written by this version of ferry',
      undefined,
      { cause: err },
    );
  }
  const q = queryable(pg);
  // One PGlite instance is one session: advisory locks serialise runners inside this process.
  let chain: Promise<unknown> = Promise.resolve();
  const db: Database = {
    kind: 'pglite',
    target,
    ...q,
    transaction: (fn) => pg.transaction((tx) => fn(queryable(tx))),
    async withAdvisoryLock(_key, _waitMs, fn) {
      const run = chain.then(fn, fn);
      chain = run.catch(() => {});
      return run;
    },
    async listen(channel, onPayload) {
      const off = await pg.listen(channel, onPayload);
      return () => off();
    },
    async close() {
      try {
        await pg.close();
      } finally {
        release();
      }
    },
  };
  if (opts.dataDir) dataDirs.set(db, resolve(opts.dataDir));
  return db;
}

/** Mark an open, persisted PGlite database as served by this process at `url` (see `announceServing`); no-op for other databases. */
export function announcePgliteServing(db: Database, url: string): void {
  const dir = dataDirs.get(db);
  if (dir) announceServing(`${dir}.lock`, url);
}

/**
 * A throwaway copy of an open, persisted PGlite database: checkpointed, its
 * files copied to a temporary directory and opened there. `dispose` deletes it.
 */
export async function copyPglite(db: Database): Promise<{ db: Database; dispose: () => Promise<void> }> {
  const dir = dataDirs.get(db);
  if (!dir) throw new Error('copyPglite needs a database opened by openPglite with a dataDir');
  await db.query('CHECKPOINT');
  const tmp = mkdtempSync(join(tmpdir(), 'ferry-scratch-'));
  const copyDir = join(tmp, 'db');
  cpSync(dir, copyDir, { recursive: true });
  rmSync(join(copyDir, 'postmaster.pid'), { force: true });
  const copy = await openPglite({ dataDir: copyDir });
  return {
    db: copy,
    dispose: async () => {
      await copy.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
