import { openConnection } from '../db/connect.js';
import type { Database } from '../db/database.js';
import { connectError } from '../db/server.js';
import { FerryError } from '../errors.js';
import { type Connection, type Project, resolveConnection } from '../project/config.js';

/** The databases a migration's checks read: its own, and other environments of the project that a check names. */
export interface CheckDatabases {
  /** The migration's own database (its state and results live here). */
  home: Database;
  /** The database of environment `env` (undefined, or the home environment: the home database). */
  of(env: string | undefined): Promise<Database>;
}

/** Open an environment's database; a failure to connect is E_CONNECT with the fix. */
export async function openEnvironment(conn: Connection, opts: { lockWaitMs: number; purpose: string }): Promise<Database> {
  try {
    return await openConnection(conn, opts);
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw connectError(err, conn.driver === 'server' ? conn.url : conn.dataDir);
  }
}

const sameDatabase = (a: Connection, b: Connection) =>
  a.driver === 'pglite' ? b.driver === 'pglite' && a.dataDir === b.dataDir : b.driver === 'server' && a.url === b.url;

/**
 * Databases of a project's environments, opened on first use and kept until
 * `close()`; an environment that resolves to the home database reuses it.
 */
export function projectDatabases(
  project: Project,
  home: { conn: Connection; db: Database },
  opts: { lockWaitMs: number; processEnv?: NodeJS.ProcessEnv },
): CheckDatabases & { close(): Promise<void> } {
  const open = new Map<string, Promise<Database>>();
  return {
    home: home.db,
    of(env) {
      if (env === undefined || env === home.conn.env) return Promise.resolve(home.db);
      let db = open.get(env);
      if (!db) {
        const conn = resolveConnection(project, env, opts.processEnv);
        db = sameDatabase(conn, home.conn) ? Promise.resolve(home.db) : openEnvironment(conn, { lockWaitMs: opts.lockWaitMs, purpose: 'verify' });
        open.set(env, db);
      }
      return db;
    },
    async close() {
      for (const p of open.values()) {
        const db = await p.catch(() => undefined);
        if (db && db !== home.db) await db.close();
      }
      open.clear();
    },
  };
}

/** Only the home database: for checks that name no other environment (library use and tests). */
export function homeOnly(db: Database): CheckDatabases {
  return {
    home: db,
    async of(env) {
      if (env === undefined) return db;
      throw new FerryError(
        'E_CONFIG',
        `a check reads environment "${env}", but no project environments were given`,
        'run it through the CLI, or pass projectDatabases(…)',
      );
    },
  };
}
