import { hostname } from 'node:os';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openServer } from './server.js';

/**
 * Where a database is: a PGlite data folder or a server URL (with its password, when it is not in the URL).
 * src/project resolves an environment of ferry.config.json to one of these (its `Connection` adds the environment's name and policy).
 */
export type DatabaseTarget = { driver: 'pglite'; dataDir: string } | { driver: 'server'; url: string; password?: string };

/** Open the database at `conn`, usually a resolved environment. */
export async function openConnection(conn: DatabaseTarget, opts: { lockWaitMs: number; purpose?: string }): Promise<Database> {
  if (conn.driver === 'pglite') return openPglite({ dataDir: conn.dataDir, lockWaitMs: opts.lockWaitMs });
  const applicationName = `ferry ${opts.purpose ?? ''} ${hostname()} pid ${process.pid}`.replace(/\s+/g, ' ').slice(0, 63);
  return openServer({ url: conn.url, applicationName, ...(conn.password === undefined ? {} : { password: conn.password }) });
}
